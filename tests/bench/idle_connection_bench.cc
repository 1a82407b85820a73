// Heap held per idle connection, per side (quic-perf issue 8 target:
// <= 16 KiB): n client/server Connection pairs joined in memory
// (tests/sim/connected_pair.h), handshakes done, optionally one small
// request/response, then idle. Figures are glibc mallinfo2() deltas over n
// connections (tests/quic/idle_memory.h), with a breakdown of the parts
// that can be measured alone: the loss detector's rings and the TLS engines
// after a handshake, measured the same way, and sizeof where exact.
//
// Usage: idle_connection_bench [n]   (default 1000)
#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "quic/congestion_controller.h"
#include "quic/connection.h"
#include "quic/loss_detector.h"
#include "quic/stream.h"
#include "quic/tls_client.h"
#include "quic/tls_server.h"
#include "quic/transport_params.h"
#include "tests/quic/idle_memory.h"

namespace dquic {
namespace {

constexpr double kKiB = 1024.0;

struct NullListener final : LossListener {
  void on_packet_acked(const SentPacket&) override {}
  void on_packet_lost(const SentPacket&) override {}
};

// A LossDetector as Connection::start() makes one, with the Initial and
// Handshake spaces discarded as at idle.
double loss_detector_bytes(std::size_t n) {
  RttEstimator rtt(kInitialRtt);
  auto cc = make_congestion_controller(CongestionAlgorithm::kCubic, CongestionConfig{});
  NullListener listener;
  std::vector<std::unique_ptr<LossDetector>> v;
  v.reserve(n);
  const std::int64_t before = test::heap_in_use();
  for (std::size_t i = 0; i < n; ++i) {
    LossDetectorConfig c;
    v.push_back(std::make_unique<LossDetector>(c, rtt, *cc, listener));
    v.back()->discard_space(PacketSpace::kInitial, 0);
    v.back()->discard_space(PacketSpace::kHandshake, 0);
  }
  return static_cast<double>(test::heap_in_use() - before) / static_cast<double>(n);
}

// Queues what an engine sends; the pump delivers it to the other engine.
struct QueueSink final : TlsSink {
  void on_handshake_data(EncryptionLevel level, ByteSpan data) override {
    out.emplace_back(level, std::vector<std::uint8_t>(data.begin(), data.end()));
  }
  void on_secret(EncryptionLevel, KeyDirection, AeadAlgorithm, const Secret&) override {}
  void on_handshake_complete() override {}
  std::vector<std::pair<EncryptionLevel, std::vector<std::uint8_t>>> out;
};

std::vector<std::uint8_t> encoded_params(EndpointRole role) {
  TransportParameters p;
  ConnectionId cid;
  const std::uint8_t id[4] = {1, 2, 3, 4};
  (void)ConnectionId::from(ByteSpan(id, 4), &cid);
  p.initial_source_connection_id = cid;
  if (role == EndpointRole::kServer) p.original_destination_connection_id = cid;
  std::vector<std::uint8_t> buf(512);
  Writer w(buf);
  (void)encode_transport_parameters(p, role, w);
  buf.resize(w.written());
  return buf;
}

// Heap of TLS engines that completed a handshake with each other and
// released their handshake state, per engine and sizeof included: measured
// while destroying them.
std::pair<double, double> tls_engine_bytes(std::size_t n) {
  test::PairTls tls;
  const std::vector<std::uint8_t> cp = encoded_params(EndpointRole::kClient);
  const std::vector<std::uint8_t> sp = encoded_params(EndpointRole::kServer);
  QueueSink cs, ss;
  std::vector<std::unique_ptr<TlsClient>> clients;
  std::vector<std::unique_ptr<TlsServer>> servers;
  const std::int64_t now_ms = test::kTestNow * 1000;
  for (std::size_t i = 0; i < n; ++i) {
    clients.push_back(std::make_unique<TlsClient>(tls.client, cp, &cs));
    servers.push_back(std::make_unique<TlsServer>(tls.server, sp, &ss));
    (void)clients.back()->start();
    for (int round = 0; round < 8 && (!cs.out.empty() || !ss.out.empty()); ++round) {
      auto to_server = std::move(cs.out);
      cs.out.clear();
      for (auto& [level, bytes] : to_server)
        (void)servers.back()->receive(level, bytes, now_ms);
      auto to_client = std::move(ss.out);
      ss.out.clear();
      for (auto& [level, bytes] : to_client)
        (void)clients.back()->receive(level, bytes, now_ms);
    }
    if (!clients.back()->handshake_complete() || !servers.back()->handshake_complete())
      std::fprintf(stderr, "TLS handshake %zu did not complete\n", i);
    // As the connection does once the handshake is confirmed.
    clients.back()->release_handshake_state();
    servers.back()->release_handshake_state();
  }
  const double d = static_cast<double>(n);
  std::int64_t h = test::heap_in_use();
  clients.clear();
  const double client = static_cast<double>(h - test::heap_in_use()) / d;
  h = test::heap_in_use();
  servers.clear();
  return {client, static_cast<double>(h - test::heap_in_use()) / d};
}

void report(const char* mode, const test::IdleMemory& m) {
  std::printf("%-28s n=%zu  client %8.0f B (%5.2f KiB)  server %8.0f B (%5.2f KiB)\n", mode,
              m.connections, m.client_bytes, m.client_bytes / kKiB, m.server_bytes,
              m.server_bytes / kKiB);
  std::printf("%-28s mbufs held per connection: client %.2f server %.2f; rte_malloc held: %lld B\n",
              "", m.client_mbufs, m.server_mbufs, static_cast<long long>(m.rte_malloc_bytes));
}

}  // namespace
}  // namespace dquic

int main(int argc, char** argv) {
  std::size_t n = 1000;
  if (argc > 1) n = std::strtoul(argv[1], nullptr, 10);
  if (n == 0) n = 1;
  std::vector<std::string> args = {argv[0],
                                   "--no-huge",
                                   "--no-shconf",
                                   "--no-pci",
                                   "-m",
                                   "1024",
                                   "--no-telemetry",
                                   "--log-level",
                                   "error",
                                   "--file-prefix",
                                   "dquic-idle-" + std::to_string(getpid())};
  std::vector<char*> eal_argv;
  for (auto& a : args)
    eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  rte_mempool* pool = rte_pktmbuf_pool_create("idle_bench", 8191, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM,
                                              static_cast<int>(rte_socket_id()));
  if (pool == nullptr) {
    std::fprintf(stderr, "mempool: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  std::printf("heap per idle connection (glibc mallinfo2 uordblks deltas), target <= 16 KiB\n");
  int rc = 0;
  dquic::test::IdleMemory idle;
  for (bool request : {false, true}) {
    std::vector<std::unique_ptr<dquic::test::ConnectedPair>> pairs;
    const dquic::test::IdleMemory m =
        dquic::test::measure_idle_connections(pool, n, request, &pairs);
    if (m.connections != n) {
      std::fprintf(stderr, "only %zu of %zu pairs reached idle\n", m.connections, n);
      rc = 1;
    }
    dquic::report(request ? "after one request/response" : "handshake only", m);
    if (!request) idle = m;
  }
  const double conn = sizeof(dquic::Connection);
  const double loss = dquic::loss_detector_bytes(n);
  const auto [tc, ts] = dquic::tls_engine_bytes(std::min<std::size_t>(n, 200));
  std::printf("breakdown of the handshake-only figure (parts measured alone, same way):\n");
  std::printf("  %-44s %8.0f B\n", "sizeof(Connection)", conn);
  std::printf("  LossDetector, sizeof %zu incl. (Initial and\n", sizeof(dquic::LossDetector));
  std::printf("  %-44s %8.0f B\n", "    Handshake discarded)", loss);
  std::printf("  %-44s %8.0f B client, %6.0f B server\n", "TLS engine, sizeof included (released)",
              tc, ts);
  std::printf("  %-44s %8.0f B client, %6.0f B server\n",
              "rest (spaces, ACK ranges, CC, CIDs, config)", idle.client_bytes - conn - loss - tc,
              idle.server_bytes - conn - loss - ts);
  std::printf("  %-44s %8zu B (freed when the stream is)\n", "sizeof(Stream)",
              sizeof(dquic::Stream));
  rte_mempool_free(pool);
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  (void)rmdir(runtime_dir.c_str());
  return rc;
}
