// h3-get: fetches PATHs from an HTTP/3 server over one connection from the
// runtime's Dataplane in the client role (docs/H3-GET.md).
//
//   h3-get [EAL options] -- --addr IP/PREFIX --server IP [--port 443]
//          [--gateway IP] [--ca FILE | --insecure-no-verify] [--sni NAME]
//          [--out DIR] [--resume | --zero-rtt] [--key-update] PATH...
//
// Options and files are checked before the EAL starts: a bad one costs no
// EAL start-up and exits 2 with one line. One worker (the main lcore runs
// it: -l 0 is enough) holds the one connection.
#include <rte_cycles.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "apps/h3-get/h3_get_app.h"
#include "apps/h3-get/h3_get_options.h"
#include "quic/cid_generator.h"
#include "quic/stateless_reset.h"
#include "runtime/client_program.h"
#include "runtime/dataplane.h"
#include "runtime/eal_args.h"
#include "runtime/keylog_file.h"
#include "runtime/program_util.h"
#include "runtime/stop_signal.h"

namespace dquic::h3get {
namespace {

constexpr char kProgram[] = "h3-get";
constexpr int kRunFailed = kRunFailedExitCode;
constexpr std::uint64_t kH3NoError = 0x100;
constexpr std::uint16_t kEphemeralBase = 49152;  // RFC 6335 §6: the dynamic ports

// Everything the Dataplane's worker points to: declared before it, so it
// outlives its shutdown.
struct GetContext {
  H3GetOptions opts;
  ClientTls tls;
  std::unique_ptr<StatelessResetTokenGenerator> resets;
  std::unique_ptr<ConnectionIdGenerator> generator;
  std::unique_ptr<H3GetApp> app;
  std::atomic<bool> stop{false};
  std::unique_ptr<KeylogFile> keylog;  // --keylog or $SSLKEYLOGFILE
  std::FILE* quiet = nullptr;          // the Dataplane's lines without --verbose
  ~GetContext() {
    if (quiet != nullptr) std::fclose(quiet);
  }
};

// Files are checked before the EAL starts (exit 2, one line).
bool check_files(const H3GetOptions& o, std::string* err) {
  if (!o.ca.empty() && access(o.ca.c_str(), R_OK) != 0) {
    *err = "--ca: cannot read " + o.ca + ": " + std::strerror(errno);
    return false;
  }
  if (!o.out_dir.empty() && access(o.out_dir.c_str(), W_OK | X_OK) != 0) {
    *err = "--out: cannot write to directory " + o.out_dir + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

ConnectionConfig connection_config(const GetContext& gc) {
  ConnectionConfig c;
  c.role = EndpointRole::kClient;
  c.tls_client = &gc.tls.config;
  c.max_datagram_size = 1200;  // RFC 9000 §14: no PMTU discovery yet
  c.handshake_timeout = static_cast<Duration>(gc.opts.handshake_timeout_ms) * kMillisecond;
  c.ecn = gc.opts.runtime.ecn;
  c.wall_clock_ms_at_zero = unix_ms_now();
  c.random = fill_random;
  // Not larger: a stream's RecvBuffer sizes its reassembly index for this
  // window when data first arrives out of order (~56 KB at 4 MiB, ~225 KB
  // at 16 MiB, zeroed): with many short requests that dominated the run.
  c.max_stream_window = 4 << 20;
  TransportParameters& tp = c.transport;
  tp.max_idle_timeout = gc.opts.idle_timeout_ms;
  tp.initial_max_data = 16 << 20;
  tp.initial_max_stream_data_bidi_local = 1 << 20;  // responses on our request streams
  tp.initial_max_stream_data_bidi_remote = 0;       // RFC 9114 §6.1: no server bidi streams
  // RFC 9114 §6.2: the server's control and QPACK streams (and grease).
  tp.initial_max_stream_data_uni = 64 << 10;
  tp.initial_max_streams_bidi = 0;
  tp.initial_max_streams_uni = 8;
  return c;
}

bool prepare(GetContext& gc, std::string* err) {
  const H3GetOptions& o = gc.opts;
  ClientTrustOptions t;
  t.ca = o.ca;
  t.insecure = o.insecure;
  t.server_name = o.sni;
  if (!setup_client_tls(t, o.server, &gc.tls, err)) return false;
  gc.tls.config.alpn = {kH3Alpn};
  std::string keylog_error;
  gc.keylog = KeylogFile::open(o.keylog, &keylog_error);
  if (!keylog_error.empty()) {
    *err = keylog_error;
    return false;
  }
  if (gc.keylog != nullptr) gc.tls.config.keylog = gc.keylog->sink();
  return true;
}

std::string authority(const H3GetOptions& o) {
  // RFC 9114 §4.3.1 / RFC 9110 §7.2: host[:port]; an IPv6 literal in brackets.
  std::string host = o.sni.empty() ? ip_text(o.server) : o.sni;
  if (o.sni.empty() && o.server.family == IpFamily::kIpv6) host = "[" + host + "]";
  if (o.runtime.udp_port != 443) host += ":" + std::to_string(o.runtime.udp_port);
  return host;
}

// --resume / --zero-rtt / --key-update evidence, and path changes (the
// server's preferred_address, RFC 9000 §9.6), name=value (docs/H3-GET.md;
// scripts grep these): one line per connection started, then the totals.
void print_connection_summaries(const std::vector<ConnectionSummary>& all) {
  ConnectionSummary t;
  std::uint64_t started = 0, resumed = 0;
  for (std::size_t k = 0; k < all.size(); ++k) {
    const ConnectionSummary& s = all[k];
    if (!s.started) continue;
    ++started;
    resumed += s.resumed ? 1 : 0;
    t.session_tickets += s.session_tickets;
    t.zero_rtt_packets_sent += s.zero_rtt_packets_sent;
    t.zero_rtt_offered = t.zero_rtt_offered || s.zero_rtt_offered;
    t.zero_rtt_accepted = t.zero_rtt_accepted || s.zero_rtt_accepted;
    t.key_updates_initiated += s.key_updates_initiated;
    t.key_updates += s.key_updates;
    t.migrations += s.migrations;
    std::printf("conn=%zu resumed=%d session_tickets=%" PRIu64
                " zero_rtt_offered=%d"
                " zero_rtt_packets_sent=%" PRIu64
                " zero_rtt_accepted=%s"
                " key_updates_initiated=%" PRIu64 " key_updates=%" PRIu64
                " key_phase=%d migrations=%" PRIu64 "\n",
                k + 1, s.resumed ? 1 : 0, s.session_tickets, s.zero_rtt_offered ? 1 : 0,
                s.zero_rtt_packets_sent, s.zero_rtt_accepted ? "yes" : "no",
                s.key_updates_initiated, s.key_updates, s.key_phase ? 1 : 0, s.migrations);
  }
  std::printf("quic: connections=%" PRIu64 " resumed=%" PRIu64 " session_tickets=%" PRIu64
              " zero_rtt_packets_sent=%" PRIu64
              " zero_rtt_accepted=%s"
              " key_updates_initiated=%" PRIu64 " key_updates=%" PRIu64 " migrations=%" PRIu64 "\n",
              started, resumed, t.session_tickets, t.zero_rtt_packets_sent,
              t.zero_rtt_accepted ? "yes" : "no", t.key_updates_initiated, t.key_updates,
              t.migrations);
}

int run(GetContext& gc) {
  const H3GetOptions& o = gc.opts;
  std::array<std::uint8_t, 32> key;
  fill_random(key);
  gc.resets = std::make_unique<StatelessResetTokenGenerator>(ByteSpan(key.data(), key.size()));
  if (!gc.resets->ok()) {
    std::fprintf(stderr, "%s: stateless reset key: OpenSSL failure\n", kProgram);
    return kRunFailed;
  }
  const InterfaceAddress* local = local_address_for(o.runtime, o.server.family);
  std::array<std::uint8_t, 2> r{};
  fill_random(r);
  const auto local_port = static_cast<std::uint16_t>(
      kEphemeralBase + ((r[0] << 8 | r[1]) % (65536 - kEphemeralBase - kMaxConnections)));

  H3GetPlan plan;
  plan.connection = connection_config(gc);
  plan.path.local = peer_address_of(local->address, local_port);
  plan.path.peer = peer_address_of(o.server, o.runtime.udp_port);
  plan.authority = authority(o);
  plan.paths = o.paths;
  plan.connections = o.connections;
  if (!o.out_dir.empty())
    for (const std::string& n : o.out_names)
      plan.out_files.push_back(o.out_dir + "/" + n);
  plan.stop = &gc.stop;
  plan.interrupt = &stop_requested();
  plan.resume = o.resume;
  plan.early_data = o.zero_rtt;
  plan.ticket_wait = static_cast<Duration>(o.ticket_wait_ms) * kMillisecond;
  plan.resume_delay = static_cast<Duration>(o.resume_delay_ms) * kMillisecond;
  plan.key_update = o.key_update;
  plan.notes = stderr;
  gc.app = std::make_unique<H3GetApp>(std::move(plan));

  RuntimeOptions ro = o.runtime;
  ro.workers = 1;  // one worker for every connection
  DataplaneConfig dc;
  dc.options = ro;
  dc.close_error_code = kH3NoError;
  dc.main_lcore_runs_worker = true;  // -l 0 is enough
  dc.telemetry = false;
  // stdout has the response lines only; stderr the one error line.
  if (!o.verbose) gc.quiet = std::fopen("/dev/null", "w");
  dc.log = gc.quiet != nullptr ? gc.quiet : stderr;
  dc.configure_worker = [&gc](const WorkerPlacement& where, WorkerConfig& wc, std::string* why) {
    RandomCidGeneratorSettings s;
    s.cid_length = 8;
    s.worker_count = where.count;
    gc.generator = RandomCidGenerator::create(s, fill_random);
    if (gc.generator == nullptr) {
      *why = "no connection ID generator";
      return false;
    }
    wc.endpoint.connection = connection_config(gc);
    wc.endpoint.cid_generator = gc.generator.get();
    wc.endpoint.reset_tokens = gc.resets.get();
    wc.endpoint.accept_connections = false;
    wc.endpoint.max_connections = gc.opts.connections + 1;
    wc.udp_ports.clear();  // connect() adds our port
    wc.app = gc.app.get();
    return true;
  };
  std::string err;
  std::unique_ptr<Dataplane> d = Dataplane::create(std::move(dc), &err);
  if (d == nullptr) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return kUsageExitCode;
  }
  if (o.insecure)
    std::fprintf(stderr,
                 "%s: WARNING: --insecure-no-verify: the server's certificate is NOT "
                 "verified\n",
                 kProgram);
  d->run(gc.stop, static_cast<Duration>(o.timeout_ms) * kMillisecond);
  d->shutdown();

  const H3GetApp& app = *gc.app;
  int code = 0;
  std::size_t failed = 0;
  std::string first_failure;
  for (std::size_t i = 0; i < o.paths.size(); ++i) {
    const RequestResult& res = app.results()[i];
    const double ms = static_cast<double>(res.time) / 1e6;
    std::string why;
    if (res.state == RequestState::kComplete) {
      if (res.status < 200 || res.status >= 300) why = "status " + std::to_string(res.status);
    } else if (res.state == RequestState::kFailed) {
      why = res.error;
    } else {
      why = res.state == RequestState::kSent ? "no complete response within --timeout-ms"
                                             : "not sent within --timeout-ms";
    }
    if (res.status != 0)
      std::printf("%u %" PRIu64 " bytes %.1f ms %s%s%s\n", res.status, res.bytes, ms,
                  o.paths[i].c_str(), why.empty() ? "" : ": ", why.c_str());
    else
      std::printf("--- %" PRIu64 " bytes %.1f ms %s: %s\n", res.bytes, ms, o.paths[i].c_str(),
                  why.c_str());
    if (!why.empty()) {
      ++failed;
      if (first_failure.empty()) first_failure = o.paths[i] + ": " + why;
    }
  }
  if (o.stats) {
    // First request sent to the last response ended, over the completed ones.
    Time first = 0, last = 0;
    std::uint64_t bytes = 0, done = 0;
    for (const RequestResult& r : app.results()) {
      if (r.state != RequestState::kComplete) continue;
      if (done == 0 || r.sent < first) first = r.sent;
      last = std::max(last, r.ended);
      bytes += r.bytes;
      ++done;
    }
    const double s = last > first ? static_cast<double>(last - first) / 1e9 : 0;
    std::printf("stats: %" PRIu64 " responses, %" PRIu64
                " body bytes in %.6f s: %.0f responses/s, %.3f Gbit/s\n",
                done, bytes, s, s > 0 ? static_cast<double>(done) / s : 0,
                s > 0 ? static_cast<double>(bytes) * 8 / s / 1e9 : 0);
  }
  const std::vector<ConnectionSummary> summaries = app.summaries();
  const bool moved = std::any_of(summaries.begin(), summaries.end(),
                                 [](const ConnectionSummary& s) { return s.migrations != 0; });
  if (o.resume || o.key_update || moved) print_connection_summaries(summaries);
  std::fflush(stdout);
  if (!app.connection_error().empty()) {
    std::fprintf(stderr, "%s: %s\n", kProgram, app.connection_error().c_str());
    code = kRunFailed;
  } else if (!app.finished()) {
    std::fprintf(stderr, "%s: the run did not finish within --timeout-ms %u\n", kProgram,
                 o.timeout_ms);
    code = kRunFailed;
  } else if (failed != 0) {
    std::fprintf(stderr, "%s: %zu of %zu responses failed; first: %s\n", kProgram, failed,
                 o.paths.size(), first_failure.c_str());
    code = kRunFailed;
  }
  return code;
}

int h3_get_main(int argc, char** argv) {
  const EalArgs split =
      split_eal_args(std::span<char* const>(argv, static_cast<std::size_t>(argc)));
  H3GetOptionsResult parsed = parse_h3_get_options(split.app);
  if (parsed.help) {
    std::fputs(h3_get_help().c_str(), stdout);
    return 0;
  }
  if (parsed.exit_code != 0) {
    std::fprintf(stderr, "%s: %s\n", kProgram, parsed.error.c_str());
    return parsed.exit_code;
  }
  auto gc = std::make_unique<GetContext>();
  gc->opts = parsed.options;
  std::string err;
  if (!check_files(gc->opts, &err) || !prepare(*gc, &err)) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return kUsageExitCode;
  }
  return run_under_eal(kProgram, argc, argv, [&](const std::vector<std::string>&) {
    const int code = run(*gc);
    gc.reset();  // its DPDK objects go before the EAL does
    return code;
  });
}

}  // namespace
}  // namespace dquic::h3get

int main(int argc, char** argv) {
  return dquic::h3get::h3_get_main(argc, argv);
}
