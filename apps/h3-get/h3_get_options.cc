#include "apps/h3-get/h3_get_options.h"

#include <cstring>
#include <set>
#include <utility>

namespace dquic::h3get {
namespace {

constexpr std::size_t kMaxPaths = 1000;  // requests in one run (one stream each)
constexpr std::size_t kMaxPathLength = 8000;

// RFC 9114 §4.3.1: :path is an origin-form request target (RFC 9110
// §7.1): it starts with '/', and a field value has no CTL or space here.
bool valid_path(const std::string& p) {
  if (p.empty() || p[0] != '/' || p.size() > kMaxPathLength) return false;
  for (unsigned char c : p)
    if (c <= 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

std::string output_name(const std::string& path) {
  std::string p = path.substr(0, path.find_first_of("?#"));
  if (p.empty() || p.back() == '/') return "index.html";
  std::string name = p.substr(p.rfind('/') + 1);
  if (name == "." || name == "..") return "";
  return name;
}

H3GetOptionsResult parse_h3_get_options(std::span<const std::string> args) {
  H3GetOptionsResult res;
  auto fail = [&res](std::string why) {
    res.exit_code = kUsageExitCode;
    res.error = std::move(why);
    return res;
  };
  // Our spellings onto the shared parser's; everything after a lone "--"
  // is a PATH.
  std::vector<std::string> head;
  std::vector<std::string> positional_tail;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      positional_tail.assign(args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    head.push_back(args[i]);
  }
  RuntimeOptionsResult r = parse_program_runtime_options(head);
  if (r.exit_code != 0) return fail(r.error);
  if (r.options.help) {
    res.help = true;
    return res;
  }
  H3GetOptions& o = res.options;
  o.runtime = r.options;
  bool have_server = false;
  const std::vector<std::string>& rest = r.rest;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    std::string name = rest[i], value;
    if (!name.starts_with("--")) {
      o.paths.push_back(name);
      continue;
    }
    bool has_value = false;
    if (const std::size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto need = [&]() {
      if (has_value) return true;
      if (i + 1 >= rest.size()) return false;
      value = rest[++i];
      return true;
    };
    if (name == "--insecure-no-verify" || name == "--verbose" || name == "--stats" ||
        name == "--resume" || name == "--zero-rtt" || name == "--key-update") {
      if (has_value) return fail(name + ": takes no value");
      bool& flag = name == "--verbose"      ? o.verbose
                   : name == "--stats"      ? o.stats
                   : name == "--resume"     ? o.resume
                   : name == "--zero-rtt"   ? o.zero_rtt
                   : name == "--key-update" ? o.key_update
                                            : o.insecure;
      flag = true;
      continue;
    }
    if (name == "--server" || name == "--ca" || name == "--sni" || name == "--out" ||
        name == "--keylog" || name == "--timeout-ms" || name == "--handshake-timeout-ms" ||
        name == "--idle-timeout-ms" || name == "--conns" || name == "--ticket-wait-ms" ||
        name == "--resume-delay-ms") {
      if (!need()) return fail(name + ": missing value");
      if (value.empty()) return fail(name + ": empty");
    } else if (name == "--insecure") {
      return fail("--insecure: spelled --insecure-no-verify here (see --help)");
    } else if (name == "--early-data" || name == "--0rtt") {
      return fail(name + ": spelled --zero-rtt here (see --help)");
    } else if (name == "--method" || name == "--data" || name == "--header") {
      return fail(name + ": not supported (GET only; see --help)");
    } else {
      return fail("unknown option \"" + rest[i] + "\" (see --help)");
    }
    if (name == "--server") {
      if (!parse_ip_address(value, &o.server))
        return fail("--server: \"" + value + "\" is not an IPv4 or IPv6 address");
      have_server = true;
    } else if (name == "--ca") {
      o.ca = value;
    } else if (name == "--sni") {
      o.sni = value;
    } else if (name == "--out") {
      o.out_dir = value;
    } else if (name == "--keylog") {
      o.keylog = value;
    } else if (name == "--conns") {
      if (!parse_u32(value, 1, kMaxConnections, &o.connections))
        return fail("--conns: expected 1.." + std::to_string(kMaxConnections) + ", got \"" + value +
                    "\"");
    } else if (name == "--ticket-wait-ms") {
      if (!parse_u32(value, 0, 60'000, &o.ticket_wait_ms))
        return fail("--ticket-wait-ms: expected 0..60000, got \"" + value + "\"");
    } else if (name == "--resume-delay-ms") {
      if (!parse_u32(value, 0, 60'000, &o.resume_delay_ms))
        return fail("--resume-delay-ms: expected 0..60000, got \"" + value + "\"");
    } else if (name == "--idle-timeout-ms") {
      if (!parse_u32(value, 1000, 600'000, &o.idle_timeout_ms))
        return fail("--idle-timeout-ms: expected 1000..600000, got \"" + value + "\"");
    } else if (name == "--timeout-ms") {
      if (!parse_u32(value, 100, 3'600'000, &o.timeout_ms))
        return fail("--timeout-ms: expected 100..3600000, got \"" + value + "\"");
    } else {
      if (!parse_u32(value, 100, 600'000, &o.handshake_timeout_ms))
        return fail("--handshake-timeout-ms: expected 100..600000, got \"" + value + "\"");
    }
  }
  o.paths.insert(o.paths.end(), positional_tail.begin(), positional_tail.end());
  if (!have_server) return fail("--server: required");
  if (o.runtime.addresses.empty()) return fail("--addr: at least one address is required");
  bool family_ok = false;
  for (const InterfaceAddress& a : o.runtime.addresses)
    family_ok = family_ok || a.address.family == o.server.family;
  if (!family_ok) return fail("--server: none of our --addr addresses is of its family");
  if (o.insecure == !o.ca.empty())
    return fail(o.insecure ? "--ca: not with --insecure-no-verify"
                           : "--ca: required (or --insecure-no-verify)");
  if (o.paths.empty()) return fail("PATH: at least one is required");
  if (o.paths.size() > kMaxPaths)
    return fail("PATH: at most " + std::to_string(kMaxPaths) + " in one run");
  if (o.zero_rtt) o.resume = true;  // 0-RTT needs a session to resume
  if (o.resume) {
    const char* opt = o.zero_rtt ? "--zero-rtt" : "--resume";
    if (o.paths.size() < 2)
      return fail(std::string(opt) +
                  ": needs at least two PATHs (the first on the first connection, the rest "
                  "on the resumed one)");
    if (o.connections != 1) return fail(std::string(opt) + ": not with --conns");
  }
  std::set<std::string> names;
  for (const std::string& p : o.paths) {
    if (!valid_path(p))
      return fail("PATH: \"" + p + "\" is not an absolute path (starts with '/', no spaces)");
    std::string n = output_name(p);
    if (n.empty()) return fail("PATH: \"" + p + "\" has no file name to write");
    if (!o.out_dir.empty() && !names.insert(n).second)
      return fail("PATH: \"" + p + "\" would overwrite " + n + " of an earlier PATH");
    o.out_names.push_back(std::move(n));
  }
  return res;
}

std::string h3_get_help() {
  std::string h = R"(usage: h3-get [EAL options] -- --addr IP/PREFIX --server IP [options] PATH...

Fetches each PATH with GET over one HTTP/3 connection (ALPN h3; one
request stream each, all in parallel) and prints one line per response:
status, body bytes, time from request to end of response.

  --addr IPv4/PREFIX       our address (= --address), repeatable
  --addr6 IPv6/PREFIX      our IPv6 address (= --address6)
  --server IP              the server's address (required)
  --port N                 the server's UDP port (default 443)
  --gateway IP             default gateway (the server is off-link)
  --dpdk-port N            DPDK port id (the shared options' --port; default 0)
  --ca FILE                trust anchors (PEM) for the server's certificate
  --insecure-no-verify     do NOT verify the certificate (labs only; printed)
  --sni NAME               name to verify and send as SNI (default: the
                           --server address, checked against IP SANs)
  --out DIR                write each body to DIR/<last path segment>
                           (index.html for a path ending in '/'); without
                           it, only sizes are reported
  --keylog FILE            append TLS secrets (NSS key log format) to FILE,
                           created 0600 (default: $SSLKEYLOGFILE if set)
  --timeout-ms N           bound on the whole run (default 60000)
  --handshake-timeout-ms N bound on the handshake (default 10000)
  --idle-timeout-ms N      our max_idle_timeout (RFC 9000 §10.1; default 30000;
                           ours alone applies until the server's is known)
  --verbose                the dataplane's start-up lines and summary (stderr)
  --conns N                spread the PATHs over N connections (1..64, default 1;
                           path i on connection i mod N, each from its own port)
  --stats                  a last stdout line: responses, body bytes, seconds from
                           the first request to the last response end, responses/s
                           and Gbit/s of body (a load figure for one connection)
  --resume                 the first PATH on a first connection; once it ended and
                           a session ticket arrived (or --ticket-wait-ms passed),
                           that connection closes and the other PATHs go on a
                           second one offering the ticket (resumption: no
                           certificate); without a ticket it does a full handshake
                           (said on stderr). Not with --conns
  --zero-rtt               --resume, and the second connection sends its requests
                           in 0-RTT (sent again in 1-RTT if the server rejects it)
  --ticket-wait-ms N       --resume: how long to wait for the ticket after the first
                           response (0..60000, default 1000)
  --resume-delay-ms N      --resume: start the second connection N ms after the first
                           one closed (0..60000, default 0; e.g. to restart the
                           server in between and see its 0-RTT rejected)
  --key-update             each connection starts one key update (RFC 9001 §6) as
                           soon as its handshake is confirmed and the keys allow;
                           its close waits (at most 1 s after the last response)
                           for that and for the server's packets in the new phase
  --help                   this text

Exit status: 0 when every response is 2xx and complete; 1 on a handshake
failure or timeout, a connection error, a reset stream or a non-2xx
status; 2 on a bad option or an unreadable/unwritable file.

With --resume, --zero-rtt or --key-update, stdout ends with one line per
connection and a totals line (name=value fields):
  conn=K resumed=0|1 session_tickets=N zero_rtt_offered=0|1
    zero_rtt_packets_sent=N zero_rtt_accepted=yes|no key_updates_initiated=N
    key_updates=N key_phase=0|1 migrations=N
  quic: connections=N resumed=N session_tickets=N zero_rtt_packets_sent=N
    zero_rtt_accepted=yes|no key_updates_initiated=N key_updates=N migrations=N
(key_updates: how often the read keys moved on, i.e. the peer's packets in
a new key phase; key_phase: our write phase at the end; migrations: path
changes. The lines are also printed when a connection changed path.)

Supported: GET, HTTP/3 (RFC 9114) with QPACK, TLS 1.3 (AES-GCM, ChaCha20),
IPv4 and IPv6, a default gateway, session resumption and 0-RTT, key
updates, moving to the server's preferred_address. Not supported: other
methods, request bodies or extra headers, redirects, Alt-Svc discovery,
HTTP/1.1 or HTTP/2 fallback, active connection migration of our own.

)";
  h += runtime_options_help("h3-get");
  h +=
      "(In h3-get the shared --port is spelled --dpdk-port and --udp-port is the server's port.)\n";
  return h;
}

}  // namespace dquic::h3get
