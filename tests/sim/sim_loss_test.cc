// Bulk transfer under heavy random loss on a low-RTT path (quic-perf issue
// 8): with 5% of the datagrams lost in each direction, the transfer must run
// near the loss-limited window (Mathis et al.: 1.22 / sqrt(p) datagrams per
// RTT, which CUBIC's Reno-friendly region matches, RFC 9438 §4.3) rather than
// wait in probe timeouts. A lost ACK of a whole flight leaves nothing in
// flight to trigger packet- or time-threshold detection (RFC 9002 §6.1), so
// the PTO (RFC 9002 §6.2.1, which adds the peer's max_ack_delay) decides
// how long the sender sits idle. Virtual time: deterministic per seed.
// No-crypto mode: the cipher is not under test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <optional>

#include "tests/sim/sim_harness.h"

namespace dquic {
namespace {

constexpr std::uint64_t kRate = 10'000'000'000;  // 10 Gbit/s: never the limit here
constexpr Duration kDelay = 25 * kMicrosecond;   // 50 us RTT
constexpr std::uint32_t kDatagram = 1472;
constexpr std::uint64_t kBytes = 20'000'000;

rte_mempool* loss_pool() {
  static rte_mempool* pool = create_sim_pool("sim_loss", 32767);
  return pool;
}

SimConfig lossy_bulk(double loss, CongestionAlgorithm cc, std::uint64_t seed,
                     std::optional<std::uint64_t> max_ack_delay_ms) {
  SimConfig c;
  c.seed = seed;
  // Both directions lose, as quic-perf's --impair drop does on each
  // receiver: data and ACKs alike.
  c.client_to_server = SimPathConfig::lossy(kRate, kDelay, loss);
  c.server_to_client = SimPathConfig::lossy(kRate, kDelay, loss);
  c.crypto = SimCrypto::kNone;
  c.congestion = cc;
  c.max_datagram_size = kDatagram;
  c.max_ack_delay_ms = max_ack_delay_ms;
  // Neither flow control nor the application is the limit.
  c.stream_window = 16 << 20;
  c.connection_window = 32 << 20;
  c.max_stream_send_buffer = 64 << 20;
  SimFlowConfig f;
  f.streams = 1;
  f.bytes_per_stream = kBytes;
  f.workload = SimWorkload::kUpload;  // the client is the bulk sender
  c.flows = {f};
  c.time_limit = 60 * kSecond;
  c.step_limit = 20'000'000;
  return c;
}

// The time the transfer takes at the Mathis rate, 1.22 / sqrt(p) full
// datagrams per RTT.
Duration mathis_time(double loss) {
  const double window = 1.22 / std::sqrt(loss) * kDatagram;  // bytes per RTT
  const double rtts = static_cast<double>(kBytes) / window;
  return static_cast<Duration>(rtts * static_cast<double>(2 * kDelay));
}

const char* cc_name(CongestionAlgorithm a) {
  return a == CongestionAlgorithm::kCubic ? "cubic" : "newreno";
}

class SimLoss : public ::testing::TestWithParam<CongestionAlgorithm> {};

// Runs `c` and returns the transfer time: from the client's handshake
// confirmation to the last byte's arrival (a lost Initial costs a 1 s PTO
// with RFC 9002's initial RTT, which is not under test here).
struct Transfer {
  SimResult result;
  Duration time = 0;
};
Transfer run_transfer(const SimConfig& c, rte_mempool* pool) {
  SimHarness h(c, pool);
  Time confirmed = kNever;
  h.set_step_hook([&](const SimHarness& s) {
    const Connection* cl = s.client(0);
    if (confirmed == kNever && cl != nullptr && cl->handshake_confirmed()) confirmed = s.now();
  });
  Transfer t;
  t.result = h.run();
  if (t.result.completed && confirmed != kNever) t.time = t.result.flows[0].done_time - confirmed;
  return t;
}

// Both ends advertise the default max_ack_delay, so the sender's PTO is
// about 2 ms: the tail losses that only a PTO recovers cost little, and the
// transfer takes less than twice the Mathis time (RFC 9000's 25 ms
// max_ack_delay makes each PTO cost 500 RTTs: 2.1x for CUBIC, 4.9x for
// NewReno with seed 3).
TEST_P(SimLoss, FivePercentLossCompletesNearTheLossLimitedRate) {
  rte_mempool* pool = loss_pool();
  ASSERT_NE(pool, nullptr);
  const Duration bound = 2 * mathis_time(0.05);
  for (const std::uint64_t seed : {3u, 7u, 11u}) {
    const Transfer t = run_transfer(lossy_bulk(0.05, GetParam(), seed, std::nullopt), pool);
    ASSERT_TRUE(t.result.completed) << t.result.failure;
    const SimFlowResult& f = t.result.flows[0];
    std::printf("%s seed %llu: %.1f ms (Mathis %.1f ms), sender PTOs %llu, lost %llu of %llu\n",
                cc_name(GetParam()), static_cast<unsigned long long>(seed),
                static_cast<double>(t.time) / kMillisecond,
                static_cast<double>(mathis_time(0.05)) / kMillisecond,
                static_cast<unsigned long long>(f.client.stats.pto_count),
                static_cast<unsigned long long>(f.client.stats.packets_lost),
                static_cast<unsigned long long>(f.client.stats.packets_sent));
    ASSERT_GT(t.result.client_to_server.dropped_loss, 0u) << "precondition: the path loses";
    ASSERT_GT(t.result.server_to_client.dropped_loss, 0u) << "precondition: ACKs are lost too";
    EXPECT_GT(t.time, 0);
    EXPECT_LT(t.time, bound) << "seed " << seed;
  }
}

// The same transfer with RFC 9000's 25 ms max_ack_delay configured on both
// ends (the explicit option) is slower: PTO waits, not the window, dominate.
TEST_P(SimLoss, TwentyFiveMsMaxAckDelayIsTheOptionAndCostsPtoTime) {
  rte_mempool* pool = loss_pool();
  ASSERT_NE(pool, nullptr);
  const Transfer fast = run_transfer(lossy_bulk(0.05, GetParam(), 3, std::nullopt), pool);
  const Transfer slow = run_transfer(lossy_bulk(0.05, GetParam(), 3, kDefaultMaxAckDelayMs), pool);
  ASSERT_TRUE(fast.result.completed) << fast.result.failure;
  ASSERT_TRUE(slow.result.completed) << slow.result.failure;
  std::printf("%s: %.1f ms with %llu ms max_ack_delay, %.1f ms with 25 ms\n", cc_name(GetParam()),
              static_cast<double>(fast.time) / kMillisecond,
              static_cast<unsigned long long>(kDefaultLocalMaxAckDelayMs),
              static_cast<double>(slow.time) / kMillisecond);
  EXPECT_GT(slow.result.flows[0].client.stats.pto_count, 0u);
  EXPECT_LT(fast.time, slow.time);
}

// What each end advertises and what its peer's PTO then uses (RFC 9000
// §18.2, RFC 9002 §6.2.1): the default unless the configuration says 25 ms.
TEST(SimLossConfig, AdvertisedMaxAckDelayReachesThePeersPto) {
  rte_mempool* pool = loss_pool();
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(ConnectionConfig{}.transport.max_ack_delay, kDefaultLocalMaxAckDelayMs);
  for (const std::optional<std::uint64_t> ms :
       {std::optional<std::uint64_t>{}, std::optional<std::uint64_t>{kDefaultMaxAckDelayMs}}) {
    SimConfig c = lossy_bulk(0.0, CongestionAlgorithm::kCubic, 1, ms);
    c.flows[0].bytes_per_stream = 100'000;
    SimHarness h(c, pool);
    std::uint64_t client_sees = 0, server_sees = 0;
    Duration client_rtt_mad = 0;
    h.set_step_hook([&](const SimHarness& s) {
      const Connection* cl = s.client(0);
      const Connection* sv = s.server(0);
      if (cl == nullptr || sv == nullptr || !cl->handshake_confirmed()) return;
      client_sees = cl->peer_transport().max_ack_delay;
      server_sees = sv->peer_transport().max_ack_delay;
      client_rtt_mad = cl->rtt().max_ack_delay();
    });
    const SimResult r = h.run();
    ASSERT_TRUE(r.completed) << r.failure;
    const std::uint64_t want = ms.value_or(kDefaultLocalMaxAckDelayMs);
    EXPECT_EQ(client_sees, want);
    EXPECT_EQ(server_sees, want);
    EXPECT_EQ(client_rtt_mad, static_cast<Duration>(want) * kMillisecond);
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, SimLoss,
                         ::testing::Values(CongestionAlgorithm::kCubic,
                                           CongestionAlgorithm::kNewReno),
                         [](const ::testing::TestParamInfo<CongestionAlgorithm>& i) {
                           return std::string(cc_name(i.param));
                         });

}  // namespace
}  // namespace dquic
