// quic-perf: the benchmark program (docs/QUIC-PERF.md, issue 8).
//
//   quic-perf [EAL options] -- loopback|server|client [options]
//
// Options are parsed (perf_options.h) before the EAL starts, so a bad one
// costs no EAL start-up and always exits 2 with one line. loopback builds a
// net_ring port pair (rte_eth_from_rings) and runs two Dataplanes at once:
// the client's on the first half of the lcores (the main lcore first, so
// `-l 0,1` is one lcore per side) and the server's on the second half.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "offload/backends.h"
#include "pattern_source.h"
#include "perf_apps.h"
#include "perf_options.h"
#include "perf_report.h"
#include "quic/cid_generator.h"
#include "quic/self_signed_cert.h"
#include "quic/stateless_reset.h"
#include "quic/tls_credentials.h"
#include "runtime/client_program.h"
#include "runtime/dataplane.h"
#include "runtime/eal_args.h"
#include "runtime/keylog_file.h"
#include "runtime/program_util.h"
#include "runtime/steering.h"
#include "runtime/stop_signal.h"
#include "runtime/worker_counters.h"

namespace dquic::perf {
namespace {

constexpr char kProgram[] = "quic-perf";
constexpr int kRunFailed = kRunFailedExitCode;
// 16 MiB unacknowledged per worker (32 KiB pattern chunks; the mbuf's
// reference count is 16 bits). A stream also stops taking chunks at its
// max_stream_send_buffer (write_mbuf returns 0 and the next pump resumes).
constexpr std::uint32_t kPatternBudgetChunks = 512;
constexpr std::size_t kMaxConnectionsPerWorker = 4096;
constexpr std::uint16_t kClientPortBase = 50000;
constexpr unsigned kLoopbackRingSize = 4096;
constexpr std::uint64_t kSmallRequestBytes = 1 << 20;
constexpr std::uint64_t kSmallStreamWindow = 1 << 20;

IpAddress ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  ip.family = IpFamily::kIpv4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

const char* suite_name(CipherSuite s) {
  switch (s) {
    case CipherSuite::kAes128GcmSha256:
      return "TLS_AES_128_GCM_SHA256";
    case CipherSuite::kAes256GcmSha384:
      return "TLS_AES_256_GCM_SHA384";
    case CipherSuite::kChacha20Poly1305Sha256:
      return "TLS_CHACHA20_POLY1305_SHA256";
  }
  return "?";
}

// Part i of n of `total` (the first ones get the remainder).
std::uint64_t share(std::uint64_t total, std::uint64_t i, std::uint64_t n) {
  if (n == 0 || i >= n) return 0;
  return total / n + (i < total % n ? 1 : 0);
}

// Everything the Dataplanes' workers point to: declared before them, so it
// outlives their shutdown.
struct RunContext {
  PerfOptions opts;
  RuntimeOptions runtime;
  std::FILE* log = stdout;
  std::unique_ptr<ServerCredentials> credentials;
  std::unique_ptr<CertificateVerifier> verifier;
  TlsServerConfig tls_server;
  TlsClientConfig tls_client;
  std::unique_ptr<StatelessResetTokenGenerator> resets;
  std::unique_ptr<KeylogFile> keylog;  // --keylog or $SSLKEYLOGFILE
  PerfRunControl control;
  std::vector<std::unique_ptr<ConnectionIdGenerator>> generators;
  std::vector<std::unique_ptr<PatternSource>> patterns;
  std::vector<std::unique_ptr<PerfServerApp>> server_apps;
  std::vector<std::unique_ptr<PerfClientApp>> client_apps;
  std::vector<unsigned> client_lcores, server_lcores;
  // Loopback: net_ring ports have no MAC address of their own (all zero,
  // which ARP refuses as a source): the workers get these instead.
  std::optional<MacAddress> client_mac, server_mac;
  ~RunContext() {}
};

ConnectionConfig connection_config(const RunContext& rc, EndpointRole role) {
  const PerfOptions& o = rc.opts;
  ConnectionConfig c;
  c.role = role;
  c.tls_client = &rc.tls_client;
  c.tls_server = &rc.tls_server;
  c.congestion = o.cc;
  c.max_datagram_size = o.datagram_size;
  c.handshake_timeout = static_cast<Duration>(o.handshake_timeout_ms) * kMillisecond;
  c.ecn = rc.runtime.ecn;
  c.wall_clock_ms_at_zero = unix_ms_now();
  c.random = fill_random;
  TransportParameters& tp = c.transport;
  tp.max_idle_timeout = 30000;
  tp.initial_max_data = 16 << 20;
  tp.initial_max_stream_data_bidi_local = 4 << 20;
  tp.initial_max_stream_data_bidi_remote = 4 << 20;
  tp.initial_max_stream_data_uni = 0;
  // The server's stream table (PerfServerContext::max_streams) matches.
  tp.initial_max_streams_bidi = std::max<std::uint64_t>(256, 2ull * o.streams);
  tp.initial_max_streams_uni = 0;  // the unidirectional variant is not implemented
  // Small requests need no large window, and a smaller one bounds what a
  // stream's RecvBuffer allocates for its reassembly index should data
  // arrive out of order (sized for the largest window: ~225 KB at 16 MiB).
  if (o.scenario != Scenario::kBulk || o.download + o.upload <= kSmallRequestBytes) {
    c.max_stream_window = kSmallStreamWindow;
    tp.initial_max_stream_data_bidi_local = kSmallStreamWindow;
    tp.initial_max_stream_data_bidi_remote = kSmallStreamWindow;
  }
  return c;
}

bool setup_tls(RunContext& rc, bool loopback, std::string* err, int* exit_code) {
  const PerfOptions& o = rc.opts;
  *exit_code = kUsageExitCode;
  std::vector<CipherSuite> suites(kDefaultCipherSuites.begin(), kDefaultCipherSuites.end());
  if (o.cipher) suites = {*o.cipher};
  rc.tls_server.alpn = {kPerfAlpn};
  rc.tls_server.cipher_suites = suites;
  rc.tls_client.alpn = {kPerfAlpn};
  rc.tls_client.cipher_suites = suites;
  std::string keylog_error;
  rc.keylog = KeylogFile::open(o.keylog, &keylog_error);
  if (!keylog_error.empty()) {
    *err = keylog_error;
    return false;
  }
  if (rc.keylog != nullptr) {
    rc.tls_client.keylog = rc.keylog->sink();
    if (o.mode == Mode::kServer) rc.tls_server.keylog = rc.keylog->sink();
  }
  if (loopback) {
    // An ephemeral identity that only this run's client trusts.
    PemIdentity id;
    if (!make_self_signed_p256("IP:198.18.0.1,DNS:perf.test", unix_ms_now() / 1000, 86400, &id,
                               err)) {
      *exit_code = kRunFailed;
      return false;
    }
    rc.credentials = ServerCredentials::load_pem(id.certificate_pem, id.key_pem, err);
    TrustOptions t;
    t.ca_pem = id.certificate_pem;
    rc.verifier = CertificateVerifier::create(t, err);
    rc.tls_client.server_name = "198.18.0.1";
    if (rc.credentials == nullptr || rc.verifier == nullptr) {
      *exit_code = kRunFailed;
      return false;
    }
  }
  if (o.mode == Mode::kServer) {
    rc.credentials = ServerCredentials::load(o.cert, o.key, err);
    if (rc.credentials == nullptr) {
      *err = "--cert/--key: " + *err;
      return false;
    }
  }
  if (o.mode == Mode::kClient) {
    const ClientTrustOptions t{o.ca, o.insecure || o.insecure_no_verify, o.server_name};
    rc.verifier = make_client_verifier(t, err);
    if (rc.verifier == nullptr) return false;
    rc.tls_client.server_name = client_server_name(t, *o.server);
  }
  rc.tls_server.credentials = rc.credentials.get();
  rc.tls_client.verifier = rc.verifier.get();
  // Explicit, and only from the flag (tls_client.h).
  if (o.insecure_no_verify)
    rc.tls_client.server_authentication = ServerAuthentication::kInsecureNoneForLoadGeneration;
  std::array<std::uint8_t, 32> key;
  fill_random(key);
  rc.resets = std::make_unique<StatelessResetTokenGenerator>(ByteSpan(key.data(), key.size()));
  if (!rc.resets->ok()) {
    *err = "stateless reset key: OpenSSL failure";
    *exit_code = kRunFailed;
    return false;
  }
  return true;
}

// The common part of a worker's configuration (both sides).
bool configure_common(RunContext& rc, const WorkerPlacement& where, WorkerConfig& wc,
                      EndpointRole role, PatternSource** pattern, std::string* why) {
  RandomCidGeneratorSettings s;
  s.cid_length = 8;
  s.worker_count = where.count;
  rc.generators.push_back(RandomCidGenerator::create(s, fill_random));
  if (rc.generators.back() == nullptr) {
    *why = "no connection ID generator";
    return false;
  }
  rc.patterns.push_back(PatternSource::create(where.socket, kPatternBudgetChunks, why));
  if (rc.patterns.back() == nullptr) return false;
  *pattern = rc.patterns.back().get();
  wc.endpoint.connection = connection_config(rc, role);
  wc.endpoint.cid_generator = rc.generators.back().get();
  wc.endpoint.reset_tokens = rc.resets.get();
  // A benchmark of handshakes measures full handshakes, not Retry round trips.
  wc.endpoint.retry_policy = RetryPolicy::kNever;
  wc.endpoint.accept_connections = role == EndpointRole::kServer;
  wc.endpoint.max_connections = kMaxConnectionsPerWorker;
  return true;
}

PerfClientPlan client_plan(const RunContext& rc) {
  const PerfOptions& o = rc.opts;
  PerfClientPlan p;
  p.scenario = o.scenario;
  p.spec.download = o.download;
  p.spec.upload = o.upload;
  p.spec.concurrent = o.streams;
  p.spec.verify = o.verify;
  // Bulk: one request per stream, or back to back until --duration.
  p.spec.requests = o.scenario == Scenario::kBulk && o.duration_s == 0 ? o.streams : 0;
  p.duration = static_cast<Duration>(o.duration_s * 1e9);
  p.out = rc.log;
  return p;
}

// The client side's Dataplane config: each worker gets its share of the
// connections and of the total.
DataplaneConfig client_dataplane(RunContext& rc, RuntimeOptions opts, const IpAddress& local,
                                 const PeerAddress& server) {
  DataplaneConfig dc;
  dc.options = std::move(opts);
  dc.log = rc.log;
  dc.configure_worker = [&rc, local, server](const WorkerPlacement& where, WorkerConfig& wc,
                                             std::string* why) {
    PatternSource* pattern = nullptr;
    if (!configure_common(rc, where, wc, EndpointRole::kClient, &pattern, why)) return false;
    if (rc.client_mac) wc.mac = *rc.client_mac;
    // Replies may arrive on any worker's queue (RSS; in loopback the queue
    // of the server worker that owns the connection) and are steered by CID
    // after the port check: every worker listens on every client port.
    wc.udp_ports.clear();
    for (std::uint16_t i = 0; i < where.count; ++i)
      wc.udp_ports.push_back(static_cast<std::uint16_t>(kClientPortBase + i));
    PerfClientPlan plan = client_plan(rc);
    const std::uint64_t active = std::min<std::uint64_t>(rc.opts.conns, where.count);
    plan.connections = static_cast<std::uint32_t>(share(rc.opts.conns, where.index, where.count));
    plan.total = share(rc.opts.requests, where.index, active);
    plan.connection = connection_config(rc, EndpointRole::kClient);
    plan.path.local =
        peer_address_of(local, static_cast<std::uint16_t>(kClientPortBase + where.index));
    plan.path.peer = server;
    plan.progress = rc.opts.progress && where.index == 0;
    rc.client_apps.push_back(std::make_unique<PerfClientApp>(plan, pattern, &rc.control));
    wc.app = rc.client_apps.back().get();
    return true;
  };
  return dc;
}

DataplaneConfig server_dataplane(RunContext& rc, RuntimeOptions opts) {
  DataplaneConfig dc;
  dc.options = std::move(opts);
  dc.log = rc.log;
  dc.configure_worker = [&rc](const WorkerPlacement& where, WorkerConfig& wc, std::string* why) {
    PatternSource* pattern = nullptr;
    if (!configure_common(rc, where, wc, EndpointRole::kServer, &pattern, why)) return false;
    if (rc.server_mac) wc.mac = *rc.server_mac;
    const std::size_t streams = std::max<std::size_t>(256, 2ull * rc.opts.streams);
    rc.server_apps.push_back(
        std::make_unique<PerfServerApp>(pattern, streams, kMaxConnectionsPerWorker));
    wc.app = rc.server_apps.back().get();
    return true;
  };
  return dc;
}

std::vector<const WorkerCounters*> counter_blocks(Dataplane& d) {
  std::vector<const WorkerCounters*> v;
  for (std::uint16_t i = 0; i < d.worker_count(); ++i)
    v.push_back(&d.worker(i).counters());
  return v;
}

std::string crypto_text(const RunContext& rc, const Dataplane& d) {
  if (rc.opts.no_encryption) return "none (no-encryption diagnostic)";
  return d.backends() != nullptr ? d.backends()->describe() : "unknown";
}

// Collects the client apps' results; false with *err when the run failed.
bool collect(RunContext& rc, Dataplane& client, Dataplane* server, PerfResult* r,
             std::string* err) {
  const PerfOptions& o = rc.opts;
  r->scenario = scenario_name(o.scenario);
  r->mode = o.mode == Mode::kLoopback ? "loopback" : "client";
  r->conns = o.conns;
  r->streams = o.streams;
  r->download_per_request = o.download;
  r->upload_per_request = o.upload;
  r->no_encryption = o.no_encryption;
  r->congestion = o.cc == CongestionAlgorithm::kCubic ? "cubic" : "newreno";
  r->cipher_suite = suite_name(o.cipher.value_or(kDefaultCipherSuites[0]));
  r->crypto_backend = crypto_text(rc, client);
  r->client_lcores = rc.client_lcores;
  r->server_lcores = rc.server_lcores;
  std::uint64_t start = ~std::uint64_t{0}, end = 0;
  bool all_finished = true;
  for (const auto& a : rc.client_apps) {
    if (!a->error().empty() && err->empty()) *err = a->error();
    all_finished = all_finished && a->finished();
    const PerfClientStats& s = a->stats();
    r->bytes_down += s.bytes_received;
    if (server == nullptr) r->bytes_up += s.bytes_uploaded;
    r->requests_completed += s.requests_completed;
    r->requests_failed += s.requests_failed;
    r->mismatches += s.mismatches;
    r->latency.merge(s.latency);
    r->handshakes += a->handshakes();
    r->client.add(a->totals());
    if (a->start_tsc() != 0) start = std::min(start, a->start_tsc());
    end = std::max(end, a->end_tsc());
  }
  if (server != nullptr) {
    ConnectionTotals t;
    for (const auto& a : rc.server_apps) {
      t.add(a->totals());
      r->bytes_up += a->stats().bytes_uploaded;
    }
    r->server = t;
  }
  const double hz = static_cast<double>(rte_get_tsc_hz());
  r->seconds = end > start ? static_cast<double>(end - start) / hz : 0;
  r->requests_measured = o.scenario != Scenario::kBulk;
  r->handshakes_measured = o.scenario == Scenario::kHandshakes;
  if (o.scenario != Scenario::kHandshakes) r->handshakes = r->client.handshakes;
  // Per side, from the workers' cycle accounting: a busy-polling lcore
  // spends every cycle, so elapsed time would give both sides the same
  // figure; busy cycles show which side is the bottleneck and what each
  // costs. Counted over the whole run (handshake and close included).
  auto side_cycles = [&](Dataplane& d) -> std::optional<PerfResult::SideCycles> {
    const WorkerCounters c = sum(counter_blocks(d));
    WorkerLoopCounters l;
    for (std::uint16_t i = 0; i < d.worker_count(); ++i) {
      const WorkerLoopCounters w = snapshot(d.worker(i).loop_counters());
      l.cycles_receive += w.cycles_receive;
      l.cycles_timers += w.cycles_timers;
      l.cycles_app += w.cycles_app;
      l.cycles_send += w.cycles_send;
      l.cycles_idle += w.cycles_idle;
    }
    const std::uint64_t packets = std::max(c.tx_packets, c.rx_packets);
    const double busy = static_cast<double>(busy_cycles(l));
    if (packets == 0 || busy <= 0) return std::nullopt;
    PerfResult::SideCycles s;
    s.per_packet = busy / static_cast<double>(packets);
    if (c.rx_packets != 0)
      s.receive_per_rx_packet = static_cast<double>(l.cycles_receive) / c.rx_packets;
    if (c.tx_packets != 0) s.send_per_tx_packet = static_cast<double>(l.cycles_send) / c.tx_packets;
    s.busy_share = busy / (busy + static_cast<double>(l.cycles_idle));
    if (o.scenario == Scenario::kHandshakes && c.handshakes_completed != 0)
      s.per_handshake = busy / static_cast<double>(c.handshakes_completed);
    return s;
  };
  r->tsc_hz = hz;
  r->client_cycles = side_cycles(client);
  if (server != nullptr) r->server_cycles = side_cycles(*server);
  r->client_verifies_certificate = !o.insecure && !o.insecure_no_verify;
  r->client_verifies_signature = !o.insecure_no_verify;
  if (!err->empty()) return false;
  if (stop_requested().load()) {
    *err = "interrupted";
    return false;
  }
  if (!all_finished) {
    *err = "the run did not finish within --max-seconds";
    return false;
  }
  if (r->mismatches != 0) {
    *err = std::to_string(r->mismatches) + " response bytes did not match the pattern";
    return false;
  }
  if (o.scenario == Scenario::kBulk && o.duration_s == 0) {
    const std::uint64_t want = static_cast<std::uint64_t>(o.conns) * o.streams;
    if (r->requests_completed != want || r->requests_failed != 0) {
      *err = "incomplete: " + std::to_string(r->requests_completed) + " of " +
             std::to_string(want) + " requests completed, " + std::to_string(r->requests_failed) +
             " failed";
      return false;
    }
  }
  return true;
}

int report(RunContext& rc, const PerfResult& r) {
  std::fputs(result_table(r).c_str(), rc.log);
  std::fflush(rc.log);
  if (!rc.opts.json) return 0;
  const std::string j = result_json(r) + "\n";
  if (rc.opts.json_path.empty() || rc.opts.json_path == "-") {
    std::fputs(j.c_str(), stdout);
    std::fflush(stdout);
    return 0;
  }
  std::FILE* f = std::fopen(rc.opts.json_path.c_str(), "w");
  if (f == nullptr || std::fputs(j.c_str(), f) < 0 || std::fclose(f) != 0) {
    std::fprintf(stderr, "%s: --json: cannot write %s: %s\n", kProgram, rc.opts.json_path.c_str(),
                 std::strerror(errno));
    return kRunFailed;
  }
  return 0;
}

Duration run_bound(const PerfOptions& o) {
  if (o.max_seconds > 0) return static_cast<Duration>(o.max_seconds * 1e9);
  if (o.duration_s > 0) return static_cast<Duration>((o.duration_s + 30) * 1e9);
  return 600 * kSecond;
}

// ---------------------------------------------------------------- loopback

// Two ring ports cross-connected: what one transmits on queue q the other
// receives on queue q (librte_net_ring's rte_eth_from_rings).
struct RingPair {
  std::vector<rte_ring*> to_client, to_server;
  int client_port = -1, server_port = -1;
  bool make(std::uint16_t queues, std::string* err) {
    const int socket = static_cast<int>(rte_socket_id());
    for (std::uint16_t q = 0; q < queues; ++q) {
      to_client.push_back(rte_ring_create(("perf_rc" + std::to_string(q)).c_str(),
                                          kLoopbackRingSize, socket,
                                          RING_F_SP_ENQ | RING_F_SC_DEQ));
      to_server.push_back(rte_ring_create(("perf_rs" + std::to_string(q)).c_str(),
                                          kLoopbackRingSize, socket,
                                          RING_F_SP_ENQ | RING_F_SC_DEQ));
      if (to_client.back() == nullptr || to_server.back() == nullptr) {
        *err = "loopback: cannot create the rings (memory: EAL -m)";
        return false;
      }
    }
    client_port = rte_eth_from_rings("net_ring_pc", to_client.data(), queues, to_server.data(),
                                     queues, static_cast<unsigned>(socket));
    server_port = rte_eth_from_rings("net_ring_ps", to_server.data(), queues, to_client.data(),
                                     queues, static_cast<unsigned>(socket));
    if (client_port < 0 || server_port < 0) {
      *err = std::string("loopback: rte_eth_from_rings failed: ") + rte_strerror(rte_errno);
      return false;
    }
    return true;
  }
  ~RingPair() {
    // The Dataplanes closed the ports; what is left in the rings goes back.
    for (auto* rings : {&to_client, &to_server})
      for (rte_ring* r : *rings) {
        if (r == nullptr) continue;
        void* m = nullptr;
        while (rte_ring_dequeue(r, &m) == 0)
          rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(r);
      }
  }
};

int run_loopback(RunContext& rc) {
  std::vector<unsigned> lcores = {rte_get_main_lcore()};
  unsigned lc = 0;
  RTE_LCORE_FOREACH_WORKER(lc) {
    lcores.push_back(lc);
  }
  std::size_t per_side = lcores.size() / 2;
  if (rc.runtime.workers != 0) per_side = std::min<std::size_t>(per_side, rc.runtime.workers);
  if (per_side == 0) {
    std::fprintf(stderr, "%s: loopback needs two lcores, one per side (EAL -l 0,1)\n", kProgram);
    return kUsageExitCode;
  }
  rc.client_lcores.assign(lcores.begin(), lcores.begin() + static_cast<long>(per_side));
  rc.server_lcores.assign(lcores.begin() + static_cast<long>(per_side),
                          lcores.begin() + static_cast<long>(2 * per_side));

  std::string err;
  int code = 0;
  if (!setup_tls(rc, true, &err, &code)) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return code;
  }
  if (rc.opts.insecure_no_verify)
    std::fprintf(rc.log,
                 "WARNING: --insecure-no-verify: load generator, the client does NOT "
                 "authenticate the server\n");
  RingPair rings;
  if (!rings.make(static_cast<std::uint16_t>(per_side), &err)) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return kRunFailed;
  }
  std::unique_ptr<offload::ProtectionBackends> backends;
  if (!rc.opts.no_encryption) {
    offload::ProtectionOptions po;
    po.aead = rc.runtime.aead;
    po.hp = rc.runtime.hp;
    po.device = rc.runtime.crypto_device;
    backends =
        offload::ProtectionBackends::create(po, static_cast<std::uint16_t>(2 * per_side), &err);
    if (backends == nullptr) {
      std::fprintf(stderr, "%s: --aead/--hp/--crypto-device: %s\n", kProgram, err.c_str());
      return kUsageExitCode;
    }
    std::fprintf(rc.log, "crypto: %s\n", backends->describe().c_str());
  } else {
    std::fprintf(rc.log, "*** NO ENCRYPTION: diagnostic mode, packets are NOT protected ***\n");
  }
  const IpAddress server_ip = ipv4(198, 18, 0, 1);
  const IpAddress client_ip = ipv4(198, 18, 0, 2);
  rc.server_mac = MacAddress{0x02, 0, 0, 0, 0, 0x01};  // locally administered
  rc.client_mac = MacAddress{0x02, 0, 0, 0, 0, 0x02};

  RuntimeOptions so = rc.runtime;
  so.port = static_cast<std::uint16_t>(rings.server_port);
  so.addresses = {{server_ip, 24}};
  so.workers = static_cast<std::uint16_t>(per_side);
  DataplaneConfig sdc = server_dataplane(rc, so);
  sdc.lcores = rc.server_lcores;
  sdc.backends = backends.get();
  sdc.first_lane = static_cast<std::uint16_t>(per_side);
  sdc.no_encryption = rc.opts.no_encryption;
  std::unique_ptr<Dataplane> server = Dataplane::create(std::move(sdc), &err);
  if (server == nullptr) {
    std::fprintf(stderr, "%s: server: %s\n", kProgram, err.c_str());
    return kUsageExitCode;
  }
  RuntimeOptions co = rc.runtime;
  co.port = static_cast<std::uint16_t>(rings.client_port);
  co.addresses = {{client_ip, 24}};
  co.workers = static_cast<std::uint16_t>(per_side);
  co.pcap_file.clear();  // --pcap: the server's capture has both directions of the pair
  DataplaneConfig cdc =
      client_dataplane(rc, co, client_ip, peer_address_of(server_ip, rc.runtime.udp_port));
  cdc.lcores = rc.client_lcores;
  cdc.backends = backends.get();
  cdc.first_lane = 0;
  cdc.telemetry = false;  // the server's workers have the process's registry
  cdc.no_encryption = rc.opts.no_encryption;
  std::unique_ptr<Dataplane> client = Dataplane::create(std::move(cdc), &err);
  if (client == nullptr) {
    std::fprintf(stderr, "%s: client: %s\n", kProgram, err.c_str());
    return kUsageExitCode;
  }
  rc.client_apps.front()->watch(counter_blocks(*client), counter_blocks(*server),
                                &rc.server_apps.front()->sample());
  rc.control.running.store(static_cast<unsigned>(rc.client_apps.size()));

  const Duration bound = run_bound(rc.opts);
  std::atomic<bool> server_stop{false};
  server->launch(server_stop, bound + 10 * kSecond);
  client->run(rc.control.stop, bound);  // on the main lcore (and the other client lcores)
  // The server's connections drain after the client's CONNECTION_CLOSE
  // (RFC 9000 §10.2.2): give them up to a second so their stats are final.
  for (int i = 0; i < 100 && !stop_requested().load(); ++i) {
    if (sum(counter_blocks(*server)).connections_active == 0) break;
    rte_delay_us_sleep(10000);
  }
  server_stop.store(true);
  server->wait();
  for (auto& a : rc.server_apps)
    a->collect_open();

  PerfResult r;
  const bool ok = collect(rc, *client, server.get(), &r, &err);
  client->shutdown();
  server->shutdown();
  if (!ok) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return kRunFailed;
  }
  return report(rc, r);
}

// ------------------------------------------------------------------ server

int run_server(RunContext& rc) {
  std::string err;
  int code = 0;
  if (!setup_tls(rc, false, &err, &code)) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return code;
  }
  DataplaneConfig dc = server_dataplane(rc, rc.runtime);
  RandomCidGeneratorSettings s;
  s.cid_length = 8;
  std::string why;
  dc.flow_steering = flow_steering_spec(s, rc.runtime.udp_port, &why);
  std::unique_ptr<Dataplane> d = Dataplane::create(std::move(dc), &err);
  if (d == nullptr) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return kUsageExitCode;
  }
  for (std::uint16_t i = 0; i < d->worker_count(); ++i)
    rc.server_lcores.push_back(d->placement(i).lcore);
  std::fprintf(rc.log, "quic-perf server: ALPN perf on UDP port %u; SIGINT or SIGTERM stops\n",
               rc.runtime.udp_port);
  std::fflush(rc.log);
  d->run(stop_requested(), 365 * 24 * 3600 * kSecond);
  PerfServerStats st;
  ConnectionTotals t;
  for (const auto& a : rc.server_apps) {
    const PerfServerStats& x = a->stats();
    st.streams += x.streams;
    st.responses_completed += x.responses_completed;
    st.bytes_uploaded += x.bytes_uploaded;
    st.bytes_queued += x.bytes_queued;
    st.invalid += x.invalid;
    st.rejected += x.rejected;
    t.add(a->totals());
  }
  d->shutdown();
  std::fprintf(rc.log,
               "quic-perf server: %" PRIu64 " connections, %" PRIu64 " streams, %" PRIu64
               " responses, %" PRIu64 " bytes sent, %" PRIu64 " bytes received, %" PRIu64
               " invalid, %" PRIu64 " rejected, packets sent %" PRIu64 " lost %" PRIu64 "\n",
               t.connections, st.streams, st.responses_completed, st.bytes_queued,
               st.bytes_uploaded, st.invalid, st.rejected, t.packets_sent, t.packets_lost);
  return 0;
}

// ------------------------------------------------------------------ client

int run_client(RunContext& rc) {
  std::string err;
  int code = 0;
  if (!setup_tls(rc, false, &err, &code)) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return code;
  }
  if (rc.opts.insecure)
    std::fprintf(rc.log, "WARNING: --insecure: the server's certificate is NOT verified\n");
  if (rc.opts.insecure_no_verify)
    std::fprintf(rc.log,
                 "WARNING: --insecure-no-verify: load generator, the server is NOT "
                 "authenticated (no chain, name or CertificateVerify check)\n");
  const IpAddress server_ip = *rc.opts.server;
  const InterfaceAddress* local = local_address_for(rc.runtime, server_ip.family);
  if (local == nullptr) {
    std::fprintf(stderr, "%s: --addr: no address of the --server's family\n", kProgram);
    return kUsageExitCode;
  }
  DataplaneConfig dc = client_dataplane(rc, rc.runtime, local->address,
                                        peer_address_of(server_ip, rc.runtime.udp_port));
  dc.main_lcore_runs_worker = true;  // -l 0 is enough for one client worker
  std::unique_ptr<Dataplane> d = Dataplane::create(std::move(dc), &err);
  if (d == nullptr) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return kUsageExitCode;
  }
  for (std::uint16_t i = 0; i < d->worker_count(); ++i)
    rc.client_lcores.push_back(d->placement(i).lcore);
  rc.client_apps.front()->watch(counter_blocks(*d), {}, nullptr);
  rc.control.running.store(static_cast<unsigned>(rc.client_apps.size()));
  d->run(rc.control.stop, run_bound(rc.opts));
  PerfResult r;
  const bool ok = collect(rc, *d, nullptr, &r, &err);
  d->shutdown();
  if (!ok) {
    std::fprintf(stderr, "%s: %s\n", kProgram, err.c_str());
    return kRunFailed;
  }
  return report(rc, r);
}

int perf_main(int argc, char** argv) {
  const EalArgs split =
      split_eal_args(std::span<char* const>(argv, static_cast<std::size_t>(argc)));
  PerfOptionsResult parsed = parse_perf_options(split.app);
  if (parsed.help) {
    std::fputs(perf_help(kProgram).c_str(), stdout);
    return 0;
  }
  if (parsed.exit_code != 0) {
    std::fprintf(stderr, "%s: %s\n", kProgram, parsed.error.c_str());
    return parsed.exit_code;
  }
  // Files are checked before the EAL starts (exit 2, one line).
  for (const std::string* f : {&parsed.options.cert, &parsed.options.key, &parsed.options.ca}) {
    if (!f->empty() && access(f->c_str(), R_OK) != 0) {
      const char* name = f == &parsed.options.cert  ? "--cert"
                         : f == &parsed.options.key ? "--key"
                                                    : "--ca";
      std::fprintf(stderr, "%s: %s: cannot read %s: %s\n", kProgram, name, f->c_str(),
                   std::strerror(errno));
      return kUsageExitCode;
    }
  }
  return run_under_eal(kProgram, argc, argv, [&](const std::vector<std::string>&) {
    RunContext rc;
    rc.opts = parsed.options;
    rc.runtime = parsed.runtime;
    // JSON on stdout: everything else goes to stderr.
    const bool json_stdout =
        rc.opts.json && (rc.opts.json_path.empty() || rc.opts.json_path == "-");
    rc.log = json_stdout ? stderr : stdout;
    switch (rc.opts.mode) {
      case Mode::kLoopback:
        return run_loopback(rc);
      case Mode::kServer:
        return run_server(rc);
      case Mode::kClient:
        return run_client(rc);
    }
    return kRunFailed;
  });
}

}  // namespace
}  // namespace dquic::perf

int main(int argc, char** argv) {
  return dquic::perf::perf_main(argc, argv);
}
