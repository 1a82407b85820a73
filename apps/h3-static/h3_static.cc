// h3-static: serves a directory over HTTP/3 on the DPDK dataplane
// (docs/H3-STATIC.md, issue 9).
//
//   h3-static [EAL options] -- --root DIR --addr IP/PREFIX [options]
//
// Options are parsed and files checked before the EAL starts: a bad one is
// one line on stderr and exit 2. The shared runtime options
// (runtime/runtime_options.h) apply, with issue 9's spellings mapped onto
// them: --addr/--addr6 are --address/--address6, --port is the UDP port
// (--udp-port) and the DPDK port id is --dpdk-port.
#include <rte_eal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apps/h3-static/access_log.h"
#include "apps/h3-static/file_resolver.h"
#include "apps/h3-static/h3_static_app.h"
#include "quic/address_token.h"
#include "quic/cid_generator.h"
#include "quic/self_signed_cert.h"
#include "quic/stateless_reset.h"
#include "quic/tls_credentials.h"
#include "quic/tls_server.h"
#include "quic/tls_ticket.h"
#include "runtime/dataplane.h"
#include "runtime/eal_args.h"
#include "runtime/keylog_file.h"
#include "runtime/program_util.h"
#include "runtime/runtime_options.h"
#include "runtime/steering.h"
#include "runtime/stop_signal.h"

namespace dquic::h3static {
namespace {

constexpr char kProgram[] = "h3-static";
constexpr std::size_t kMaxConnectionsPerWorker = 1024;
// RFC 9114 §5.2: 0x100 H3_NO_ERROR in the CONNECTION_CLOSE of the shutdown.
constexpr std::uint64_t kH3NoError = 0x100;
// Self-signed certificate: at most 14 days (issue 9), counted from an hour
// before now (self_signed_cert.h).
constexpr std::int64_t kSelfSignedLifetimeS = 14 * 86400 - 3600;

struct Options {
  std::string root;
  std::string cert, key, write_cert;
  std::string access_log, keylog;
  bool alt_svc = false;
  bool allow_hidden = false;
  bool early_data = false;
  bool zero_copy = true;
  RetryPolicy retry = RetryPolicy::kAutomatic;
  std::uint32_t shutdown_wait_ms = 5000;
  std::uint32_t datagram_size = 1200;
  std::uint32_t handshake_timeout_ms = 10'000;  // a handshake not done by then is dropped
  std::uint32_t idle_timeout_ms = 30'000;       // our max_idle_timeout transport parameter
  // RFC 9000 §9.6: one of our --addr addresses and a port the workers also
  // listen on; clients may move there after the handshake.
  std::optional<IpAddress> preferred_ip;
  std::uint16_t preferred_port = 0;
  RuntimeOptions runtime;
};

std::string help_text() {
  std::string h = R"(usage: h3-static [EAL options] -- --root DIR --addr IP/PREFIX [options]

Serves DIR over HTTP/3 (ALPN h3) on UDP port --port of the DPDK port.

  --root DIR             directory to serve (index.html for directories; no listings)
  --addr IPv4/PREFIX     our address (= --address), repeatable
  --addr6 IPv6/PREFIX    our IPv6 address (= --address6), repeatable
  --gateway IP           default gateway
  --port N               UDP port (= --udp-port; default 443)
  --dpdk-port N          DPDK port id (the shared options' --port; default 0)
  --cert F --key F       certificate chain and key (PEM); without them a
                         self-signed ECDSA P-256 certificate for the first
                         address (SAN IP, valid 14 days) is generated
  --write-cert F         write the generated certificate (PEM) to F (clients pin it)
  --alt-svc              send alt-svc: h3=":PORT"; ma=86400
  --access-log F         one line per request to F ("-": stdout)
  --keylog F             append TLS secrets (NSS key log format) to F, created
                         0600 (default: $SSLKEYLOGFILE if set)
  --retry MODE           auto|always|never: Retry for address validation
                         (default auto: only under load)
  --allow-hidden         serve names starting with '.'
  --early-data           accept 0-RTT requests from resumed clients. Early data
                         can be replayed (RFC 8446 §8); h3-static serves only
                         GET and HEAD, safe methods whose replay changes
                         nothing (RFC 9114 §10.9, RFC 8470 §2.1), and each
                         worker rejects a ClientHello it already accepted 0-RTT
                         for. Without it session tickets still let clients
                         resume, but say no early data
  --shutdown-wait-ms N   on SIGINT/SIGTERM, wait for in-flight requests after
                         GOAWAY at most N ms (default 5000)
  --max-datagram N       our UDP payload size, 1200..1472 (default 1200)
  --handshake-timeout-ms N
                         drop a connection whose handshake is not done N ms
                         after its first Initial (100..600000, default 10000)
  --idle-timeout-ms N    our max_idle_timeout (RFC 9000 §10.1), 1000..600000
                         (default 30000)
  --preferred-address IP:PORT
                         advertise a preferred address (RFC 9000 §9.6): IP is
                         one of --addr/--addr6 ([IPv6]:PORT), PORT is served
                         too; a client may migrate there after the handshake
  --zero-copy on|off     on (default): file bytes go from the page cache to
                         the cipher, which reads them where they are mapped
                         and writes the ciphertext into the packet; never
                         copied (runs under 256 bytes in a packet are copied
                         with their frame header: cheaper). The AEAD is then inline (OpenSSL) or a
                         software crypto device used async; CPU crypto
                         (--aead cpu) cannot write out of place in DPDK 22.11
                         and hardware cannot read unregistered file pages.
                         off: bytes are copied into the packet and sealed in
                         place, which lets --aead auto pick CPU crypto (fewer
                         cycles per packet with crypto_aesni_gcm; see
                         docs/PERFORMANCE.md)
  --help                 this text

Session tickets (resumption, RFC 8446 §4.6.1) are always issued, valid 24 h,
sealed with a key drawn at start-up: they do not survive a restart and are
not shared between processes (a client then makes a full handshake).

)";
  h += runtime_options_help(kProgram);
  h += "(In h3-static the shared --port is spelled --dpdk-port; --port is the UDP port.)\n";
  return h;
}

// 0: parsed; 1: --help; kUsageExitCode with *err.
int parse_options(const std::vector<std::string>& app, Options* o, std::string* err) {
  // Issue 9's names for the shared options.
  RuntimeOptionsResult r = parse_program_runtime_options(app);
  if (r.exit_code != 0) {
    *err = r.error;
    return kUsageExitCode;
  }
  if (r.options.help) return 1;
  o->runtime = r.options;
  const std::vector<std::string>& rest = r.rest;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    std::string name = rest[i], value;
    bool has_value = false;
    if (const std::size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto need = [&](std::string* out) {
      if (!has_value) {
        if (i + 1 >= rest.size()) {
          *err = name + ": needs a value";
          return false;
        }
        value = rest[++i];
      }
      *out = value;
      return true;
    };
    std::string v;
    if (name == "--help" || name == "-h") return 1;
    if (name == "--alt-svc" || name == "--allow-hidden" || name == "--early-data") {
      if (has_value) {
        *err = name + ": takes no value";
        return kUsageExitCode;
      }
      (name == "--alt-svc"        ? o->alt_svc
       : name == "--allow-hidden" ? o->allow_hidden
                                  : o->early_data) = true;
      continue;
    }
    if (name == "--root" || name == "--cert" || name == "--key" || name == "--write-cert" ||
        name == "--access-log" || name == "--keylog") {
      if (!need(&v)) return kUsageExitCode;
      if (v.empty()) {
        *err = name + ": empty";
        return kUsageExitCode;
      }
      std::string* dst = name == "--root"         ? &o->root
                         : name == "--cert"       ? &o->cert
                         : name == "--key"        ? &o->key
                         : name == "--write-cert" ? &o->write_cert
                         : name == "--access-log" ? &o->access_log
                                                  : &o->keylog;
      *dst = v;
    } else if (name == "--retry") {
      if (!need(&v)) return kUsageExitCode;
      if (v == "auto")
        o->retry = RetryPolicy::kAutomatic;
      else if (v == "always")
        o->retry = RetryPolicy::kAlways;
      else if (v == "never")
        o->retry = RetryPolicy::kNever;
      else {
        *err = "--retry: expected auto, always or never, got \"" + v + "\"";
        return kUsageExitCode;
      }
    } else if (name == "--zero-copy") {
      if (!need(&v)) return kUsageExitCode;
      if (v != "on" && v != "off") {
        *err = "--zero-copy: expected on or off, got \"" + v + "\"";
        return kUsageExitCode;
      }
      o->zero_copy = v == "on";
    } else if (name == "--shutdown-wait-ms") {
      if (!need(&v)) return kUsageExitCode;
      if (!parse_u32(v, 0, 600'000, &o->shutdown_wait_ms)) {
        *err = "--shutdown-wait-ms: expected 0..600000, got \"" + v + "\"";
        return kUsageExitCode;
      }
    } else if (name == "--handshake-timeout-ms" || name == "--idle-timeout-ms") {
      if (!need(&v)) return kUsageExitCode;
      const bool hs = name == "--handshake-timeout-ms";
      if (!parse_u32(v, hs ? 100 : 1000, 600'000,
                     hs ? &o->handshake_timeout_ms : &o->idle_timeout_ms)) {
        *err = name + (hs ? ": expected 100..600000" : ": expected 1000..600000") + ", got \"" + v +
               "\"";
        return kUsageExitCode;
      }
    } else if (name == "--max-datagram") {
      if (!need(&v)) return kUsageExitCode;
      // 1472: a 1500-byte MTU less the IPv4 and UDP headers.
      if (!parse_u32(v, 1200, 1472, &o->datagram_size)) {
        *err = "--max-datagram: expected 1200..1472, got \"" + v + "\"";
        return kUsageExitCode;
      }
    } else if (name == "--preferred-address") {
      if (!need(&v)) return kUsageExitCode;
      // IPv4:PORT or [IPv6]:PORT.
      const std::size_t colon = v.rfind(':');
      std::string host = colon == std::string::npos ? "" : v.substr(0, colon);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
      std::uint32_t port = 0;
      IpAddress ip;
      if (colon == std::string::npos || !parse_ip_address(host, &ip) ||
          !parse_u32(v.substr(colon + 1), 1, 65535, &port) ||
          (ip.family == IpFamily::kIpv6 && v.front() != '[')) {
        *err = "--preferred-address: expected IPv4:PORT or [IPv6]:PORT, got \"" + v + "\"";
        return kUsageExitCode;
      }
      o->preferred_ip = ip;
      o->preferred_port = static_cast<std::uint16_t>(port);
    } else {
      *err = "unknown option \"" + rest[i] + "\" (see --help)";
      return kUsageExitCode;
    }
  }
  if (o->root.empty()) {
    *err = "--root: required";
    return kUsageExitCode;
  }
  if (o->runtime.addresses.empty()) {
    *err = "--addr: at least one address is required";
    return kUsageExitCode;
  }
  if (o->cert.empty() != o->key.empty()) {
    *err = o->cert.empty() ? "--key: needs --cert" : "--cert: needs --key";
    return kUsageExitCode;
  }
  if (o->preferred_ip) {
    bool ours = false;
    for (const InterfaceAddress& a : o->runtime.addresses)
      ours = ours || a.address == *o->preferred_ip;
    if (!ours) {
      *err = "--preferred-address: not one of the --addr/--addr6 addresses";
      return kUsageExitCode;
    }
  }
  if (!o->cert.empty() && !o->write_cert.empty()) {
    *err = "--write-cert: only with a generated certificate (no --cert/--key)";
    return kUsageExitCode;
  }
  return 0;
}

// Everything the workers point to: outlives the Dataplane's shutdown.
struct ServerContext {
  Options opts;
  FileResolver resolver;
  std::unique_ptr<ServerCredentials> credentials;
  // Shared read-only by every worker's TlsServerConfig: rotated once, here,
  // before the workers start (seal/open keep no state).
  TicketKeys ticket_keys;
  TlsServerConfig tls;  // the template; each worker gets a copy
  std::vector<std::unique_ptr<StrikeRegister>> anti_replay;  // one per worker
  std::vector<std::unique_ptr<TlsServerConfig>> worker_tls;
  std::unique_ptr<StatelessResetTokenGenerator> resets;
  std::array<std::uint8_t, 32> token_secret{};
  std::vector<std::unique_ptr<AddressTokenCodec>> token_codecs;  // one per worker (EVP state)
  std::vector<std::unique_ptr<ConnectionIdGenerator>> generators;
  std::vector<std::unique_ptr<H3StaticApp>> apps;
  ShutdownControl shutdown;
  std::FILE* access_file = nullptr;
  std::unique_ptr<AccessLog> access_log;
  std::unique_ptr<KeylogFile> keylog;  // --keylog or $SSLKEYLOGFILE
  ~ServerContext() {
    if (access_file != nullptr && access_file != stdout) std::fclose(access_file);
  }
};

// Opens files and makes the TLS identity (before the EAL: errors exit 2).
bool prepare(ServerContext& sc, std::string* err) {
  const Options& o = sc.opts;
  if (!sc.resolver.open(o.root.c_str())) {
    *err = "--root: cannot open directory " + o.root + ": " + std::strerror(errno);
    return false;
  }
  if (!o.cert.empty()) {
    for (const std::string* f : {&o.cert, &o.key})
      if (access(f->c_str(), R_OK) != 0) {
        *err = std::string(f == &o.cert ? "--cert" : "--key") + ": cannot read " + *f + ": " +
               std::strerror(errno);
        return false;
      }
    sc.credentials = ServerCredentials::load(o.cert, o.key, err);
    if (sc.credentials == nullptr) {
      *err = "--cert/--key: " + *err;
      return false;
    }
  } else {
    std::string san;
    for (const InterfaceAddress& a : o.runtime.addresses)
      san.append(san.empty() ? "IP:" : ",IP:").append(ip_text(a.address));
    PemIdentity id;
    if (!make_self_signed_p256(san, unix_ms_now() / 1000, kSelfSignedLifetimeS, &id, err)) {
      *err = "self-signed certificate: " + *err;
      return false;
    }
    sc.credentials = ServerCredentials::load_pem(id.certificate_pem, id.key_pem, err);
    if (sc.credentials == nullptr) {
      *err = "self-signed certificate: " + *err;
      return false;
    }
    if (!o.write_cert.empty()) {
      std::FILE* f = std::fopen(o.write_cert.c_str(), "w");
      if (f == nullptr) {
        *err = "--write-cert: cannot create " + o.write_cert + ": " + std::strerror(errno);
        return false;
      }
      const bool ok = std::fwrite(id.certificate_pem.data(), 1, id.certificate_pem.size(), f) ==
                      id.certificate_pem.size();
      if (std::fclose(f) != 0 || !ok) {
        *err = "--write-cert: cannot write " + o.write_cert;
        return false;
      }
    }
  }
  if (!o.access_log.empty()) {
    sc.access_file = o.access_log == "-" ? stdout : std::fopen(o.access_log.c_str(), "a");
    if (sc.access_file == nullptr) {
      *err = "--access-log: cannot open " + o.access_log + ": " + std::strerror(errno);
      return false;
    }
    if (sc.access_file != stdout) std::setvbuf(sc.access_file, nullptr, _IOLBF, 0);
  }
  sc.access_log = std::make_unique<AccessLog>(sc.access_file);
  std::string keylog_error;
  sc.keylog = KeylogFile::open(o.keylog, &keylog_error);
  if (!keylog_error.empty()) {
    *err = keylog_error;
    return false;
  }
  if (sc.keylog != nullptr) sc.tls.keylog = sc.keylog->sink();
  sc.tls.alpn = {kH3Alpn};
  sc.tls.credentials = sc.credentials.get();
  // RFC 8446 §4.6.1, RFC 9001 §4.6: tickets for resumption, always. The key
  // lives and dies with the process (never written anywhere).
  if (!sc.ticket_keys.rotate()) {
    *err = "session ticket key: OpenSSL failure";
    return false;
  }
  sc.tls.ticket_keys = &sc.ticket_keys;
  sc.tls.ticket_lifetime_s = 86400;
  // RFC 9001 §4.6.1: tickets allow 0-RTT only with --early-data. The
  // transport parameters a 0-RTT client remembers are checked by TlsServer
  // against ours (RFC 9000 §7.4.1); ours are fixed (connection_config), so a
  // ticket of this process never finds them reduced.
  sc.tls.enable_early_data = o.early_data;
  std::array<std::uint8_t, 32> key;
  fill_random(key);
  sc.resets = std::make_unique<StatelessResetTokenGenerator>(ByteSpan(key.data(), key.size()));
  fill_random(sc.token_secret);
  if (!sc.resets->ok()) {
    *err = "stateless reset key: OpenSSL failure";
    return false;
  }
  return true;
}

ConnectionConfig connection_config(const ServerContext& sc, const TlsServerConfig* tls) {
  ConnectionConfig c;
  c.role = EndpointRole::kServer;
  c.tls_server = tls;
  c.max_datagram_size = sc.opts.datagram_size;
  c.handshake_timeout = static_cast<Duration>(sc.opts.handshake_timeout_ms) * kMillisecond;
  c.ecn = sc.opts.runtime.ecn;
  c.wall_clock_ms_at_zero = unix_ms_now();
  c.random = fill_random;
  c.max_stream_window = 1 << 20;
  TransportParameters& tp = c.transport;
  tp.max_idle_timeout = sc.opts.idle_timeout_ms;
  tp.initial_max_data = 16 << 20;
  tp.initial_max_stream_data_bidi_local = 1 << 20;
  tp.initial_max_stream_data_bidi_remote = 256 << 10;  // request bodies: ignored
  // RFC 9114 §6.2: the client's control and QPACK streams (and grease).
  tp.initial_max_stream_data_uni = 64 << 10;
  tp.initial_max_streams_bidi = 128;
  tp.initial_max_streams_uni = 8;
  if (sc.opts.preferred_ip) {
    // RFC 9000 §18.2: the connection fills in the CID (sequence 1) and its
    // stateless reset token; an absent family stays all zeros.
    PreferredAddress pa;
    const IpAddress& ip = *sc.opts.preferred_ip;
    if (ip.family == IpFamily::kIpv4) {
      std::copy_n(ip.bytes.begin(), 4, pa.ipv4_address.begin());
      pa.ipv4_port = sc.opts.preferred_port;
    } else {
      std::copy_n(ip.bytes.begin(), 16, pa.ipv6_address.begin());
      pa.ipv6_port = sc.opts.preferred_port;
    }
    tp.preferred_address = pa;
  }
  return c;
}

DataplaneConfig server_dataplane(ServerContext& sc) {
  DataplaneConfig dc;
  dc.options = sc.opts.runtime;
  dc.close_error_code = kH3NoError;
  dc.zero_copy = sc.opts.zero_copy;
  dc.configure_worker = [&sc](const WorkerPlacement& where, WorkerConfig& wc, std::string* why) {
    RandomCidGeneratorSettings s;
    s.cid_length = 8;
    s.worker_count = where.count;
    sc.generators.push_back(RandomCidGenerator::create(s, fill_random));
    if (sc.generators.back() == nullptr) {
      *why = "no connection ID generator";
      return false;
    }
    const AddressTokenKey tk{1, ByteSpan(sc.token_secret.data(), sc.token_secret.size())};
    sc.token_codecs.push_back(std::make_unique<AddressTokenCodec>(tk));
    if (!sc.token_codecs.back()->ok()) {
      *why = "address token key: OpenSSL failure";
      return false;
    }
    // RFC 8446 §8.2: a strike register per worker (it is not thread-safe).
    // A replayed 0-RTT flight must keep its original DCID (the 0-RTT
    // packets authenticate their header) and Initials and 0-RTT are steered
    // by a hash of that DCID (runtime/steering.h), so a replay reaches the
    // worker that accepted the original and is refused there.
    sc.worker_tls.push_back(std::make_unique<TlsServerConfig>(sc.tls));
    if (sc.opts.early_data) {
      sc.anti_replay.push_back(std::make_unique<StrikeRegister>());
      sc.worker_tls.back()->anti_replay = sc.anti_replay.back().get();
    }
    wc.endpoint.connection = connection_config(sc, sc.worker_tls.back().get());
    if (sc.opts.preferred_ip && sc.opts.preferred_port != sc.opts.runtime.udp_port)
      wc.udp_ports.push_back(sc.opts.preferred_port);
    wc.endpoint.cid_generator = sc.generators.back().get();
    wc.endpoint.reset_tokens = sc.resets.get();
    wc.endpoint.address_tokens = sc.token_codecs.back().get();
    wc.endpoint.retry_policy = sc.opts.retry;
    wc.endpoint.accept_connections = true;
    wc.endpoint.max_connections = kMaxConnectionsPerWorker;
    H3StaticSettings hs;
    hs.statics.resolver = &sc.resolver;
    hs.statics.path_options.allow_hidden = sc.opts.allow_hidden;
    hs.statics.alt_svc_port = sc.opts.alt_svc ? sc.opts.runtime.udp_port : 0;
    hs.access_log = sc.access_file != nullptr ? sc.access_log.get() : nullptr;
    hs.pool = wc.pool;
    hs.max_connections = kMaxConnectionsPerWorker;
    hs.shutdown = &sc.shutdown;
    sc.apps.push_back(std::make_unique<H3StaticApp>(hs));
    wc.app = sc.apps.back().get();
    return true;
  };
  return dc;
}

int run(ServerContext& sc) {
  std::string err;
  DataplaneConfig dc = server_dataplane(sc);
  RandomCidGeneratorSettings s;
  s.cid_length = 8;
  dc.flow_steering = flow_steering_spec(s, sc.opts.runtime.udp_port, &err);
  err.clear();
  std::unique_ptr<Dataplane> d = Dataplane::create(std::move(dc), &err);
  if (d == nullptr) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return kUsageExitCode;
  }
  sc.shutdown.requested = &stop_requested();
  sc.shutdown.wait = static_cast<Duration>(sc.opts.shutdown_wait_ms) * kMillisecond;
  sc.shutdown.remaining.store(d->worker_count());
  std::string addrs;
  for (const InterfaceAddress& a : sc.opts.runtime.addresses)
    addrs.append(" ").append(ip_text(a.address));
  std::printf("h3-static: serving %s over HTTP/3 on%s UDP port %u; SIGINT or SIGTERM stops\n",
              sc.opts.root.c_str(), addrs.c_str(), sc.opts.runtime.udp_port);
  std::fflush(stdout);
  d->run(sc.shutdown.stop, 365 * 24 * 3600 * kSecond);
  H3StaticStats t;
  for (const auto& a : sc.apps) {
    const H3StaticStats& x = a->stats();
    t.connections += x.connections;
    t.requests += x.requests;
    t.responses_finished += x.responses_finished;
    t.responses_aborted += x.responses_aborted;
    t.body_bytes += x.body_bytes;
    t.refused += x.refused;
    t.resumed += x.resumed;
    t.early_data_accepted += x.early_data_accepted;
    t.requests_early += x.requests_early;
    t.migrated += x.migrated;
  }
  d->shutdown();
  std::printf("h3-static: %" PRIu64 " connections (%" PRIu64 " refused, %" PRIu64
              " resumed, %" PRIu64 " with 0-RTT accepted), %" PRIu64 " requests (%" PRIu64
              " in 0-RTT), %" PRIu64 " responses completed, %" PRIu64 " aborted, %" PRIu64
              " body bytes\n",
              t.connections, t.refused, t.resumed, t.early_data_accepted, t.requests,
              t.requests_early, t.responses_finished, t.responses_aborted, t.body_bytes);
  if (t.migrated != 0) std::printf("h3-static: %" PRIu64 " connections changed path\n", t.migrated);
  return 0;
}

int h3_static_main(int argc, char** argv) {
  const EalArgs split =
      split_eal_args(std::span<char* const>(argv, static_cast<std::size_t>(argc)));
  auto sc = std::make_unique<ServerContext>();
  std::string err;
  const int parsed = parse_options(split.app, &sc->opts, &err);
  if (parsed == 1) {
    std::fputs(help_text().c_str(), stdout);
    return 0;
  }
  if (parsed != 0) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return parsed;
  }
  if (!prepare(*sc, &err)) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return kUsageExitCode;
  }
  return run_under_eal(kProgram, argc, argv, [&](const std::vector<std::string>&) {
    const int code = run(*sc);
    sc.reset();  // its DPDK objects go before the EAL does
    return code;
  });
}

}  // namespace
}  // namespace dquic::h3static

int main(int argc, char** argv) {
  return dquic::h3static::h3_static_main(argc, argv);
}
