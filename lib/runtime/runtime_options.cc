#include "runtime/runtime_options.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace dquic {

bool parse_uint(std::string_view s, std::uint64_t lo, std::uint64_t hi, std::uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool parse_u32(std::string_view s, std::uint32_t lo, std::uint32_t hi, std::uint32_t* out) {
  std::uint64_t v = 0;
  if (!parse_uint(s, lo, hi, &v)) return false;
  *out = static_cast<std::uint32_t>(v);
  return true;
}

namespace {

bool parse_ip(std::string_view text, IpFamily family, IpAddress* out) {
  // inet_pton needs a NUL-terminated string; addresses are short.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress ip;
  ip.family = family;
  if (inet_pton(family == IpFamily::kIpv4 ? AF_INET : AF_INET6, buf, ip.bytes.data()) != 1)
    return false;
  *out = ip;
  return true;
}

std::string quoted(std::string_view v) {
  std::string s = "'";
  s.append(v);
  s += '\'';
  return s;
}

// Options that take a value, and the flags.
constexpr const char* kValued[] = {
    "--port", "--address", "--address6",       "--gateway", "--udp-port", "--workers",
    "--aead", "--hp",      "--crypto-device",  "--impair",  "--mbufs",    "--drain-ms",
    "--qlog", "--pcap",    "--stats-interval", "--ecn",
};

bool is_valued(std::string_view name) {
  for (const char* v : kValued)
    if (name == v) return true;
  return false;
}

}  // namespace

bool parse_ip_address(std::string_view text, IpAddress* out) {
  return parse_ip(text, IpFamily::kIpv4, out) || parse_ip(text, IpFamily::kIpv6, out);
}

bool parse_interface_address(std::string_view text, IpFamily family, InterfaceAddress* out) {
  const bool v4 = family == IpFamily::kIpv4;
  if (!v4 && family != IpFamily::kIpv6) return false;
  const std::size_t slash = text.find('/');
  InterfaceAddress a;
  if (!parse_ip(text.substr(0, slash), family, &a.address)) return false;
  a.prefix_len = v4 ? kDefaultPrefixV4 : kDefaultPrefixV6;
  if (slash != std::string_view::npos) {
    std::uint64_t len = 0;
    if (!parse_uint(text.substr(slash + 1), 0, v4 ? 32 : 128, &len)) return false;
    a.prefix_len = static_cast<std::uint8_t>(len);
  }
  *out = a;
  return true;
}

std::string RuntimeOptions::qlog_directory() const {
  if (!qlog_dir.empty()) return qlog_dir;
  const char* env = std::getenv("QLOGDIR");
  return env != nullptr ? std::string(env) : std::string();
}

Route RuntimeOptions::route() const {
  Route r;
  for (const InterfaceAddress& a : addresses)
    r.add_address(a.address, a.prefix_len);
  if (gateway_v4) r.set_gateway(*gateway_v4);
  if (gateway_v6) r.set_gateway(*gateway_v6);
  return r;
}

RuntimeOptionsResult parse_runtime_options(std::span<const std::string> args) {
  RuntimeOptionsResult res;
  RuntimeOptions& o = res.options;
  auto fail = [&res](std::string_view option, std::string_view what) {
    res.exit_code = kUsageExitCode;
    res.error.assign(option);
    res.error += ": ";
    res.error.append(what);
    return res;
  };

  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      continue;
    }
    // --name=value or --name value.
    std::string_view name = arg;
    std::string_view value;
    bool inline_value = false;
    if (arg.starts_with("--")) {
      const std::size_t eq = arg.find('=');
      if (eq != std::string_view::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        inline_value = true;
      }
    }
    if (!is_valued(name)) {
      res.rest.emplace_back(arg);
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) return fail(name, "missing value");
      value = args[++i];
    }

    std::uint64_t n = 0;
    if (name == "--port") {
      if (!parse_uint(value, 0, UINT16_MAX, &n))
        return fail(name, quoted(value) + " is not a port id (0..65535)");
      o.port = static_cast<std::uint16_t>(n);
    } else if (name == "--address" || name == "--address6") {
      const bool v4 = name == "--address";
      InterfaceAddress a;
      if (!parse_interface_address(value, v4 ? IpFamily::kIpv4 : IpFamily::kIpv6, &a))
        return fail(name, quoted(value) + (v4 ? " is not IPv4[/0..32]" : " is not IPv6[/0..128]"));
      for (const InterfaceAddress& e : o.addresses)
        if (e.address == a.address) return fail(name, quoted(value) + " is given twice");
      if (o.addresses.size() >= Route::kMaxAddresses)
        return fail(name, "more than " + std::to_string(Route::kMaxAddresses) + " addresses");
      o.addresses.push_back(a);
    } else if (name == "--gateway") {
      IpAddress g;
      if (!parse_ip_address(value, &g))
        return fail(name, quoted(value) + " is not an IPv4 or IPv6 address");
      auto& slot = g.family == IpFamily::kIpv4 ? o.gateway_v4 : o.gateway_v6;
      if (slot) return fail(name, "a second gateway of the same family");
      slot = g;
    } else if (name == "--udp-port") {
      if (!parse_uint(value, 1, UINT16_MAX, &n))
        return fail(name, quoted(value) + " is not a UDP port (1..65535)");
      o.udp_port = static_cast<std::uint16_t>(n);
    } else if (name == "--workers") {
      if (!parse_uint(value, 1, kMaxWorkers, &n))
        return fail(name, quoted(value) + " is not a worker count (1.." +
                              std::to_string(kMaxWorkers) + ")");
      o.workers = static_cast<std::uint16_t>(n);
    } else if (name == "--aead") {
      if (value != "auto" && value != "inline" && value != "cryptodev" && value != "cpu")
        return fail(name, quoted(value) + " is not one of auto, inline, cryptodev, cpu");
      o.aead.assign(value);
    } else if (name == "--hp") {
      if (value != "auto" && value != "inline" && value != "cryptodev")
        return fail(name, quoted(value) + " is not one of auto, inline, cryptodev");
      o.hp.assign(value);
    } else if (name == "--crypto-device") {
      if (value.empty()) return fail(name, "empty device name");
      o.crypto_device.assign(value);
    } else if (name == "--impair") {
      ImpairmentConfig c = o.impairment.value_or(ImpairmentConfig{});
      std::string why;
      if (!parse_impairment(value, &c, &why)) return fail(name, why);
      o.impairment = c;
    } else if (name == "--mbufs") {
      if (!parse_uint(value, kMinMbufs, kMaxMbufs, &n))
        return fail(name, quoted(value) + " is not a pool size (" + std::to_string(kMinMbufs) +
                              ".." + std::to_string(kMaxMbufs) + ")");
      o.mbufs = static_cast<std::uint32_t>(n);
    } else if (name == "--drain-ms") {
      if (!parse_uint(value, 0, kMaxDrainMs, &n))
        return fail(
            name, quoted(value) + " is not a time in ms (0.." + std::to_string(kMaxDrainMs) + ")");
      o.drain_ms = static_cast<std::uint32_t>(n);
    } else if (name == "--qlog") {
      if (value.empty()) return fail(name, "empty directory name");
      o.qlog_dir.assign(value);
    } else if (name == "--pcap") {
      if (value.empty()) return fail(name, "empty file name");
      o.pcap_file.assign(value);
    } else if (name == "--ecn") {
      if (value != "on" && value != "off") return fail(name, quoted(value) + " is not on or off");
      o.ecn = value == "on";
    } else if (name == "--stats-interval") {
      if (!parse_uint(value, 1, kMaxStatsIntervalS, &n))
        return fail(name, quoted(value) + " is not a time in seconds (1.." +
                              std::to_string(kMaxStatsIntervalS) + ")");
      o.stats_interval_s = static_cast<std::uint32_t>(n);
    }
  }

  // Gateways must be on-link (RFC 4861 §5.2), i.e. inside one of our prefixes
  // (or IPv6 link-local): checked once every address is known.
  Route r;
  for (const InterfaceAddress& a : o.addresses)
    r.add_address(a.address, a.prefix_len);
  for (const auto* g : {&o.gateway_v4, &o.gateway_v6}) {
    if (!*g) continue;
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop((*g)->family == IpFamily::kIpv4 ? AF_INET : AF_INET6, (*g)->bytes.data(), text,
              sizeof(text));
    if (r.is_local(**g)) return fail("--gateway", quoted(text) + " is one of our addresses");
    if (!r.set_gateway(**g))
      return fail("--gateway", quoted(text) + " is not inside any --address/--address6 prefix");
  }
  return res;
}

std::string runtime_options_help(std::string_view program) {
  std::string h;
  h += "usage: ";
  h.append(program);
  h += " [EAL options] -- [options]\n";
  h += R"(
EAL options (before --) go to DPDK unchanged: e.g. -l 0-3, -a 0000:03:00.0,
--vdev net_null0, --socket-mem. See the DPDK EAL parameters guide.

Options shared by the dquic programs (after --):
  --port N              DPDK port id (default 0)
  --address IPv4[/len]  an interface address, repeatable (default /24)
  --address6 IPv6[/len] an IPv6 interface address, repeatable (default /64)
  --gateway IP          default gateway, one per family, inside an address prefix
  --udp-port N          UDP port (default 443)
  --workers N           worker lcores (default: one per available worker lcore;
                        the main lcore runs a worker only when no other is given)
  --aead MODE           auto|inline|cryptodev|cpu (default auto)
  --hp MODE             header protection: auto|inline|cryptodev (default auto)
  --crypto-device NAME  the cryptodev to use (default: the first capable one)
  --impair SPEC         test impairment of what every worker receives, e.g.
                        drop=1%,delay=5ms,seed=7 (never for real traffic);
                        blackhole=2s/5s drops everything received and sent
                        for 2 s of every 5 s, from blackhole_start=DUR
                        (default 100ms) after the first packet;
                        drop_sent=2-7 drops the 2nd to 7th datagram we send;
                        a NAT rebinding, WHEN = DUR after the first packet
                        or Nframes (after N received): rebind_port=WHEN
                        moves the UDP port the peer sees by 10000;
                        rebind_addr=WHEN,rebind_to=IP gives us the address
                        IP as the peer sees it (answered in ARP/ND);
                        peer_rebind_addr=WHEN,rebind_to=IP shows us the
                        peer at IP
  --mbufs N             mbufs per NUMA socket (default: computed from the
                        descriptors, queues and workers)
  --drain-ms N          on SIGINT/SIGTERM, time to send CONNECTION_CLOSE (default 200)
  --ecn on|off          mark our datagrams ECT(0), validated per path (RFC 9000
                        §13.4; default on); off: never marked (the peer's
                        marks are still counted and reported)
  --qlog DIR            a qlog (JSON-SEQ) file per connection in DIR, named by its
                        original destination CID (default: $QLOGDIR when set)
  --pcap FILE           write every frame received and sent to FILE (pcap)
  --stats-interval N    print a one-line summary every N seconds (1..3600)
  --help                this text
)";
  return h;
}

RuntimeOptionsResult parse_program_runtime_options(std::span<const std::string> args) {
  // Program spelling -> shared spelling; the error prefixes map back.
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"--addr", "--address"},
      {"--addr6", "--address6"},
      {"--port", "--udp-port"},
      {"--dpdk-port", "--port"},
  };
  std::vector<std::string> mapped;
  mapped.reserve(args.size());
  for (const std::string& a : args) {
    const std::size_t eq = a.find('=');
    const std::string_view name = std::string_view(a).substr(0, eq);
    const std::string_view tail = eq == std::string::npos ? "" : std::string_view(a).substr(eq);
    std::string m = a;
    for (const auto& [ours, shared] : kNames)
      if (name == ours) {
        m = std::string(shared).append(tail);
        break;
      }
    mapped.push_back(std::move(m));
  }
  RuntimeOptionsResult r = parse_runtime_options(mapped);
  if (r.exit_code != 0) {
    // Longest shared names first: "--address6:" before "--address:", and
    // "--udp-port:" and "--port:" are distinct prefixes.
    static constexpr std::pair<std::string_view, std::string_view> kBack[] = {
        {"--udp-port:", "--port:"},
        {"--address6:", "--addr6:"},
        {"--address:", "--addr:"},
        {"--port:", "--dpdk-port:"},
    };
    for (const auto& [shared, ours] : kBack)
      if (r.error.starts_with(shared)) {
        r.error = std::string(ours).append(r.error.substr(shared.size()));
        break;
      }
  }
  return r;
}

}  // namespace dquic
