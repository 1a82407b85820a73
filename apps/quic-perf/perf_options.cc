#include "perf_options.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace dquic::perf {
namespace {

bool parse_u64(std::string_view t, std::uint64_t* out) {
  if (t.empty()) return false;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), *out);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

bool parse_seconds(std::string_view t, double* out) {
  if (t.empty()) return false;
  const std::string s(t);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(v) || v <= 0 || v > 86400) return false;
  *out = v;
  return true;
}

// The spellings onto the shared parser's (see the header).
std::vector<std::string> translate(std::span<const std::string> args) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    bool inline_value = false;
    if (const std::size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      inline_value = true;
    }
    auto emit = [&](const std::string& name) {
      if (inline_value) {
        out.push_back(name + "=" + value);
      } else {
        out.push_back(name);
        if (i + 1 < args.size()) out.push_back(args[++i]);
      }
    };
    if (a == "--addr") {
      const std::string& v = inline_value ? value : (i + 1 < args.size() ? args[i + 1] : value);
      emit(v.find(':') != std::string::npos ? "--address6" : "--address");
    } else if (a == "--port") {
      emit("--udp-port");
    } else if (a == "--dpdk-port") {
      emit("--port");
    } else {
      out.push_back(args[i]);
    }
  }
  return out;
}

std::string shared_help(std::string_view program) {
  return "shared options:\n" + runtime_options_help(program);
}

}  // namespace

bool parse_bytes(std::string_view text, std::uint64_t* out) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
    ++digits;
  std::uint64_t v = 0;
  if (!parse_u64(text.substr(0, digits), &v)) return false;
  const std::string_view suffix = text.substr(digits);
  std::uint64_t mult = 1;
  if (suffix.empty()) {
    mult = 1;
  } else if (suffix == "K" || suffix == "k") {
    mult = 1000;
  } else if (suffix == "M") {
    mult = 1000 * 1000;
  } else if (suffix == "G") {
    mult = 1000ull * 1000 * 1000;
  } else if (suffix == "T") {
    mult = 1000ull * 1000 * 1000 * 1000;
  } else if (suffix == "Ki") {
    mult = 1ull << 10;
  } else if (suffix == "Mi") {
    mult = 1ull << 20;
  } else if (suffix == "Gi") {
    mult = 1ull << 30;
  } else if (suffix == "Ti") {
    mult = 1ull << 40;
  } else {
    return false;
  }
  if (v > std::numeric_limits<std::uint64_t>::max() / mult) return false;
  *out = v * mult;
  return true;
}

PerfOptionsResult parse_perf_options(std::span<const std::string> args) {
  PerfOptionsResult r;
  auto fail = [&r](const std::string& line) {
    r.exit_code = kUsageExitCode;
    r.error = line;
    return r;
  };
  if (args.empty()) return fail("missing mode: loopback, server or client (see --help)");
  if (args[0] == "--help" || args[0] == "-h") {
    r.help = true;
    return r;
  }
  PerfOptions& o = r.options;
  if (args[0] == "loopback") {
    o.mode = Mode::kLoopback;
  } else if (args[0] == "server") {
    o.mode = Mode::kServer;
  } else if (args[0] == "client") {
    o.mode = Mode::kClient;
  } else {
    return fail("unknown mode '" + args[0] + "': loopback, server or client");
  }
  const std::vector<std::string> translated = translate(args.subspan(1));
  RuntimeOptionsResult common = parse_runtime_options(translated);
  if (common.exit_code != 0) return fail(common.error);
  r.runtime = common.options;
  if (r.runtime.help) {
    r.help = true;
    return r;
  }

  bool download_set = false, scenario_set = false;
  std::string implied_by;  // --requests or --handshakes chose the scenario
  Scenario implied = Scenario::kBulk;
  const std::vector<std::string>& rest = common.rest;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    std::string name = rest[i];
    std::optional<std::string> inline_value;
    if (const std::size_t eq = name.find('=');
        name.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto value = [&](std::string* v) {
      if (inline_value) {
        *v = *inline_value;
        return true;
      }
      if (i + 1 >= rest.size()) return false;
      *v = rest[++i];
      return true;
    };
    std::string v;
    auto need = [&]() -> bool { return value(&v); };
    const std::string missing = name + ": missing value";
    if (name == "--help" || name == "-h") {
      r.help = true;
      return r;
    } else if (name == "--download" || name == "--upload") {
      if (!need()) return fail(missing);
      std::uint64_t b = 0;
      if (!parse_bytes(v, &b))
        return fail(name + ": '" + v + "' is not a byte count (e.g. 20M, 1Gi)");
      (name == "--download" ? o.download : o.upload) = b;
      if (name == "--download") download_set = true;
    } else if (name == "--conns" || name == "--streams") {
      if (!need()) return fail(missing);
      std::uint32_t n = 0;
      if (!parse_u32(v, 1, 65536, &n)) return fail(name + ": '" + v + "' is not in 1..65536");
      (name == "--conns" ? o.conns : o.streams) = n;
    } else if (name == "--duration" || name == "--max-seconds") {
      if (!need()) return fail(missing);
      double s = 0;
      if (!parse_seconds(v, &s))
        return fail(name + ": '" + v + "' is not a number of seconds in (0, 86400]");
      (name == "--duration" ? o.duration_s : o.max_seconds) = s;
    } else if (name == "--scenario") {
      if (!need()) return fail(missing);
      if (v == "bulk") {
        o.scenario = Scenario::kBulk;
      } else if (v == "requests" || v == "rps") {
        o.scenario = Scenario::kRequests;
      } else if (v == "handshakes" || v == "hps") {
        o.scenario = Scenario::kHandshakes;
      } else {
        return fail("--scenario: '" + v + "' is not bulk, requests or handshakes");
      }
      if (!implied_by.empty() && o.scenario != implied)
        return fail("--scenario: " + v + " conflicts with " + implied_by);
      scenario_set = true;
    } else if (name == "--requests" || name == "--handshakes") {
      if (!need()) return fail(missing);
      if (!parse_u64(v, &o.requests) || o.requests == 0)
        return fail(name + ": '" + v + "' is not a positive count");
      const Scenario s = name == "--requests" ? Scenario::kRequests : Scenario::kHandshakes;
      if (scenario_set && o.scenario != s)
        return fail(name + ": conflicts with --scenario " + scenario_name(o.scenario));
      o.scenario = s;
      scenario_set = true;
      implied_by = name;
      implied = s;
    } else if (name == "--cc") {
      if (!need()) return fail(missing);
      if (v == "cubic") {
        o.cc = CongestionAlgorithm::kCubic;
      } else if (v == "newreno" || v == "reno") {
        o.cc = CongestionAlgorithm::kNewReno;
      } else {
        return fail("--cc: '" + v + "' is not cubic or newreno");
      }
    } else if (name == "--cipher") {
      if (!need()) return fail(missing);
      if (v == "aes128gcm" || v == "TLS_AES_128_GCM_SHA256") {
        o.cipher = CipherSuite::kAes128GcmSha256;
      } else if (v == "aes256gcm" || v == "TLS_AES_256_GCM_SHA384") {
        o.cipher = CipherSuite::kAes256GcmSha384;
      } else if (v == "chacha20" || v == "TLS_CHACHA20_POLY1305_SHA256") {
        o.cipher = CipherSuite::kChacha20Poly1305Sha256;
      } else {
        return fail("--cipher: '" + v + "' is not aes128gcm, aes256gcm or chacha20");
      }
    } else if (name == "--no-encryption-diagnostic") {
      o.no_encryption = true;
    } else if (name == "--verify") {
      o.verify = true;
    } else if (name == "--quiet") {
      o.progress = false;
    } else if (name == "--packet-size") {
      if (!need()) return fail(missing);
      if (!parse_u32(v, 1200, 1472, &o.datagram_size))
        return fail("--packet-size: '" + v + "' is not a UDP payload size in 1200..1472");
    } else if (name == "--handshake-timeout") {
      if (!need()) return fail(missing);
      if (!parse_u32(v, 1, 600000, &o.handshake_timeout_ms))
        return fail("--handshake-timeout: '" + v + "' is not milliseconds in 1..600000");
    } else if (name == "--json") {
      o.json = true;
      if (inline_value) {
        o.json_path = *inline_value;
      } else if (i + 1 < rest.size() && rest[i + 1].rfind("--", 0) != 0) {
        o.json_path = rest[++i];
      }
    } else if (name == "--cert" || name == "--key" || name == "--ca" || name == "--keylog" ||
               name == "--server-name") {
      if (!need()) return fail(missing);
      if (v.empty()) return fail(name + ": empty value");
      (name == "--cert"     ? o.cert
       : name == "--key"    ? o.key
       : name == "--ca"     ? o.ca
       : name == "--keylog" ? o.keylog
                            : o.server_name) = v;
    } else if (name == "--insecure") {
      o.insecure = true;
    } else if (name == "--insecure-no-verify") {
      o.insecure_no_verify = true;
    } else if (name == "--server") {
      if (!need()) return fail(missing);
      IpAddress ip;
      if (!parse_ip_address(v, &ip)) return fail("--server: '" + v + "' is not an IP address");
      o.server = ip;
    } else {
      return fail("unknown option '" + rest[i] + "' (see --help)");
    }
  }

  // Defaults per scenario (docs/QUIC-PERF.md).
  if (!download_set) {
    o.download = o.scenario == Scenario::kBulk       ? (o.upload == 0 ? 1'000'000'000ull : 0)
                 : o.scenario == Scenario::kRequests ? 64
                                                     : 0;
  }
  if (o.scenario != Scenario::kBulk && o.requests == 0 && o.duration_s == 0)
    o.requests = o.scenario == Scenario::kRequests ? 100'000 : 1'000;

  // Mode rules.
  if (o.mode == Mode::kServer) {
    if (o.cert.empty() || o.key.empty()) return fail("server: --cert and --key are required");
    if (r.runtime.addresses.empty()) return fail("server: --addr IP/PREFIX is required");
    if (o.insecure_no_verify)
      return fail("server: --insecure-no-verify is a client and loopback option");
  }
  if (o.mode == Mode::kClient) {
    if (!o.server) return fail("client: --server IP is required");
    if (r.runtime.addresses.empty()) return fail("client: --addr IP/PREFIX is required");
    if (o.insecure && o.insecure_no_verify)
      return fail("client: --insecure and --insecure-no-verify exclude each other");
    if (!o.ca.empty() && o.insecure_no_verify)
      return fail("client: --ca and --insecure-no-verify exclude each other");
    if (o.ca.empty() && !o.insecure && !o.insecure_no_verify)
      return fail(
          "client: give --ca FILE to verify the server, or --insecure or --insecure-no-verify");
    if (!o.ca.empty() && o.insecure) return fail("client: --ca and --insecure exclude each other");
  }
  if (o.mode != Mode::kLoopback && o.no_encryption)
    return fail("--no-encryption-diagnostic: loopback only (both ends must agree)");
  if (o.mode == Mode::kLoopback && o.insecure)
    return fail("loopback: --insecure is for client mode (loopback: --insecure-no-verify)");
  if (o.mode == Mode::kLoopback && (!o.cert.empty() || !o.ca.empty() || o.server))
    return fail(
        "loopback: makes its own certificate and addresses; --cert/--ca/--server are for "
        "server/client");
  return r;
}

std::string perf_help(std::string_view program) {
  std::string p(program);
  return "usage: " + p +
         " [EAL options] -- loopback|server|client [options]\n"
         "\n"
         "Benchmark of the dquic QUIC stack with the perf protocol\n"
         "(draft-banks-quic-performance, ALPN \"perf\"). See docs/QUIC-PERF.md.\n"
         "\n"
         "modes:\n"
         "  loopback   client and server in this process on a net_ring pair (no NIC,\n"
         "             no hugepages: EAL -l 0,1 --no-huge --no-shconf --no-pci -m 1024)\n"
         "  server     --addr IP/PREFIX [--port 443] --cert F --key F  (runs until SIGINT)\n"
         "  client     --addr IP/PREFIX --server IP [--port 443]\n"
         "             (--ca F | --insecure | --insecure-no-verify)\n"
         "\n"
         "scenario (client and loopback):\n"
         "  --scenario bulk|requests|handshakes   default bulk\n"
         "  --download BYTES    response size per request (bulk: 1G unless --upload;\n"
         "                      requests: 64; handshakes: 0). Suffixes K M G, Ki Mi Gi\n"
         "  --upload BYTES      request payload per request (default 0)\n"
         "  --conns N           connections open at once (default 1)\n"
         "  --streams N         requests in flight per connection (default 1)\n"
         "  --requests N        requests scenario: total requests (default 100000)\n"
         "  --handshakes N      handshakes scenario: total connections (default 1000)\n"
         "  --duration SEC      run for SEC seconds instead of a fixed amount\n"
         "  --max-seconds SEC   safety bound on the whole run\n"
         "  --verify            check response bytes (against a quic-perf server only)\n"
         "\n"
         "transport and crypto:\n"
         "  --cc cubic|newreno  congestion controller (default cubic)\n"
         "  --cipher aes128gcm|aes256gcm|chacha20   the only TLS suite offered\n"
         "  --packet-size N     UDP payload size 1200..1472 (default 1350)\n"
         "  --handshake-timeout MS   default 5000\n"
         "  --no-encryption-diagnostic   loopback only: NO packet protection. A\n"
         "                      diagnostic of the crypto cost, never a benchmark result\n"
         "  --keylog FILE       TLS key log (NSS format) for Wireshark, appended, created\n"
         "                      0600 (default: $SSLKEYLOGFILE if set)\n"
         "  --server-name NAME  client: the name to verify (default: --server)\n"
         "  --insecure          client: no chain or name check; CertificateVerify's\n"
         "                      signature is still checked with the leaf's key\n"
         "  --insecure-no-verify   client and loopback, LOAD GENERATOR ONLY: the server\n"
         "                      is not authenticated at all (no chain, name or\n"
         "                      CertificateVerify signature check; the server still\n"
         "                      signs). Cheapens the client so the server is measured;\n"
         "                      reported as \"client_verifies_certificate\": false\n"
         "\n"
         "output:\n"
         "  --json [FILE]       one JSON object to FILE (or stdout without FILE or with -)\n"
         "  --quiet             no progress line\n"
         "\n"
         "addresses: --addr is the shared --address (--address6 for IPv6); --port is the\n"
         "UDP port (the shared --udp-port); the DPDK port id is --dpdk-port.\n"
         "\n"
         "not implemented yet: unidirectional-stream and DATAGRAM variants of the\n"
         "protocol, multiple server\n"
         "addresses, 0-RTT/resumption in the handshakes scenario, the fairness, idle\n"
         "connection and voice/video scenarios of the draft.\n"
         "\n" +
         shared_help(program);
}

}  // namespace dquic::perf
