// Congestion control end to end in the simulator (RFC 9002 §7, RFC 9438):
// slow start ends, loss shrinks the window, a single bulk flow fills the
// bottleneck, two flows share it, and a stable path never needs a PTO.
// No-crypto mode: the cipher is not under test and costs most of the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "tests/sim/sim_harness.h"

namespace dquic {
namespace {

constexpr std::uint64_t kRate = 100'000'000;    // 100 Mbit/s
constexpr Duration kDelay = 25 * kMillisecond;  // 50 ms RTT
// Bandwidth-delay product: 625 000 bytes.
constexpr std::uint64_t kBdp = kRate / 8 * (2 * kDelay) / kSecond;

rte_mempool* congestion_pool() {
  // A window of a few BDPs in flight plus what receivers hold.
  static rte_mempool* pool = create_sim_pool("sim_cc", 32767);
  return pool;
}

SimConfig bulk_config(const SimPathConfig& c2s, std::uint64_t bytes, CongestionAlgorithm cc) {
  SimConfig c;
  c.seed = 42;
  c.client_to_server = c2s;
  c.server_to_client = SimPathConfig::clean(kRate, kDelay);
  c.crypto = SimCrypto::kNone;
  c.congestion = cc;
  c.stream_window = 4 * kBdp;  // flow control never the limit
  c.connection_window = 8 * kBdp;
  c.max_stream_send_buffer = 16 * kBdp;  // the sender is never application-limited
  SimFlowConfig f;
  f.streams = 1;
  f.bytes_per_stream = bytes;
  f.workload = SimWorkload::kUpload;
  c.flows = {f};
  c.time_limit = 120 * kSecond;
  c.step_limit = 20'000'000;
  return c;
}

const char* cc_name(CongestionAlgorithm a) {
  return a == CongestionAlgorithm::kCubic ? "cubic" : "newreno";
}

class SimCongestion : public ::testing::TestWithParam<CongestionAlgorithm> {};

// RFC 9002 §7.3.1: slow start ends at the first loss (the drop-tail queue
// overflows once the window passes BDP + queue), with a window of that order.
TEST_P(SimCongestion, SlowStartExitsNearThePathCapacity) {
  rte_mempool* pool = congestion_pool();
  ASSERT_NE(pool, nullptr);
  const SimConfig c = bulk_config(SimPathConfig::clean(kRate, kDelay), 20'000'000, GetParam());
  SimHarness h(c, pool);
  bool seen_slow_start = false;
  Time exit_time = kNever;
  std::uint64_t max_cwnd_in_slow_start = 0;
  std::uint64_t cwnd_after_exit = 0;
  h.set_step_hook([&](const SimHarness& s) {
    const Connection* cl = s.client(0);
    if (cl == nullptr || !cl->handshake_complete() || cl->is_closed()) return;
    const CongestionController& cc = cl->congestion();
    if (exit_time != kNever) return;
    if (cc.in_slow_start()) {
      seen_slow_start = true;
      max_cwnd_in_slow_start = std::max(max_cwnd_in_slow_start, cc.congestion_window());
    } else {
      exit_time = s.now();
      cwnd_after_exit = cc.congestion_window();
    }
  });
  const SimResult r = h.run();
  ASSERT_TRUE(r.completed) << r.failure;
  ASSERT_NE(exit_time, kNever) << "never left slow start";
  const std::uint64_t capacity = kBdp + c.client_to_server.queue_bytes;
  std::printf("%s: slow start exit at %.3f s, max cwnd %llu, after %llu (BDP+queue %llu)\n",
              cc_name(GetParam()), static_cast<double>(exit_time) / kSecond,
              static_cast<unsigned long long>(max_cwnd_in_slow_start),
              static_cast<unsigned long long>(cwnd_after_exit),
              static_cast<unsigned long long>(capacity));
  EXPECT_TRUE(seen_slow_start);
  // Doubling per RTT from 12 KB reaches BDP + queue in ~7 RTTs: well under 2 s.
  EXPECT_LT(exit_time, 2 * kSecond);
  // The window grew to the path's capacity (at least BDP/2) ...
  EXPECT_GE(max_cwnd_in_slow_start, kBdp / 2);
  // ... but not to many times what it can hold (one RTT of overshoot at most).
  EXPECT_LE(max_cwnd_in_slow_start, 3 * capacity);
  // And the exit reduced it (RFC 9002 §7.3.2; RFC 9438 §4.6).
  EXPECT_LT(cwnd_after_exit, max_cwnd_in_slow_start);
  EXPECT_GT(r.flows[0].client.stats.packets_lost, 0u);
}

// Every reduction of the window follows a loss (no ECN on this path), and a
// reduction is by the algorithm's factor: 0.5 (NewReno) or 0.7 (CUBIC).
TEST_P(SimCongestion, WindowShrinksOnLossByTheAlgorithmsFactor) {
  rte_mempool* pool = congestion_pool();
  ASSERT_NE(pool, nullptr);
  SimPathConfig lossy = SimPathConfig::lossy(kRate, kDelay, 0.002);
  lossy.queue_bytes = 4 * kBdp;  // losses are random, not from the queue
  const SimConfig c = bulk_config(lossy, 10'000'000, GetParam());
  SimHarness h(c, pool);
  std::uint64_t prev_cwnd = 0, prev_lost = 0;
  int reductions = 0, unexplained = 0, wrong_factor = 0;
  double min_ratio = 1.0, max_ratio = 0.0;
  h.set_step_hook([&](const SimHarness& s) {
    const Connection* cl = s.client(0);
    if (cl == nullptr || cl->is_closed()) return;
    const std::uint64_t cwnd = cl->congestion().congestion_window();
    const std::uint64_t lost = cl->stats().packets_lost;
    if (prev_cwnd != 0 && cwnd < prev_cwnd) {
      ++reductions;
      if (lost == prev_lost) ++unexplained;
      const double ratio = static_cast<double>(cwnd) / static_cast<double>(prev_cwnd);
      min_ratio = std::min(min_ratio, ratio);
      max_ratio = std::max(max_ratio, ratio);
      // One step may hold several ACKs; the minimum window bounds the rest.
      const double beta = GetParam() == CongestionAlgorithm::kCubic ? 0.7 : 0.5;
      if ((ratio < beta - 0.05 || ratio > beta + 0.05) && cwnd > 2 * c.max_datagram_size)
        ++wrong_factor;
    }
    prev_cwnd = cwnd;
    prev_lost = lost;
  });
  const SimResult r = h.run();
  ASSERT_TRUE(r.completed) << r.failure;
  std::printf("%s: %d reductions, ratio %.3f..%.3f, lost %llu\n", cc_name(GetParam()), reductions,
              min_ratio, max_ratio,
              static_cast<unsigned long long>(r.flows[0].client.stats.packets_lost));
  EXPECT_GT(r.flows[0].client.stats.packets_lost, 0u);
  EXPECT_GT(reductions, 0);
  EXPECT_EQ(unexplained, 0);
  EXPECT_EQ(wrong_factor, 0);
}

// A single bulk flow keeps a 100 Mbit/s x 50 ms bottleneck at least 90% busy
// once slow start is over (a BDP of queue: RFC 9438's 0.7 backoff never
// drains it).
TEST_P(SimCongestion, BulkThroughputWithinTenPercentOfTheBottleneck) {
  rte_mempool* pool = congestion_pool();
  ASSERT_NE(pool, nullptr);
  constexpr std::uint64_t kBytes = 40'000'000;
  const SimConfig c = bulk_config(SimPathConfig::clean(kRate, kDelay), kBytes, GetParam());
  SimHarness h(c, pool);
  Time t_start = kNever, t_end = kNever;
  std::uint64_t link_start = 0, link_end = 0;
  h.set_step_hook([&](const SimHarness& s) {
    const std::uint64_t delivered = s.bytes_delivered(0);
    const std::uint64_t link = s.path().a_to_b().stats().bytes_delivered;
    if (t_start == kNever && delivered >= kBytes / 5) {
      t_start = s.now();
      link_start = link;
    }
    if (t_end == kNever && delivered >= kBytes) {
      t_end = s.now();
      link_end = link;
    }
  });
  const SimResult r = h.run();
  ASSERT_TRUE(r.completed) << r.failure;
  ASSERT_NE(t_end, kNever);
  ASSERT_GT(t_end, t_start);
  const double seconds = static_cast<double>(t_end - t_start) / kSecond;
  const double link_bps = static_cast<double>(link_end - link_start) * 8 / seconds;
  const double goodput_bps = static_cast<double>(kBytes - kBytes / 5) * 8 / seconds;
  std::printf(
      "%s: link %.1f Mbit/s, goodput %.1f Mbit/s (bottleneck %.0f), lost %llu, total %.3f s\n",
      cc_name(GetParam()), link_bps / 1e6, goodput_bps / 1e6, kRate / 1e6,
      static_cast<unsigned long long>(r.flows[0].client.stats.packets_lost),
      static_cast<double>(r.elapsed) / kSecond);
  EXPECT_GE(link_bps, 0.9 * kRate);
  EXPECT_LE(link_bps, 1.001 * kRate);  // the link cannot carry more: a harness check
  // Stream bytes: at most headers and retransmissions lost on top.
  EXPECT_GE(goodput_bps, 0.85 * kRate);
}

// Two flows through one bottleneck, started 10 ms apart, get within a factor
// of 2 of each other from t = 1 s until the first one finishes.
TEST_P(SimCongestion, TwoFlowsShareTheBottleneck) {
  rte_mempool* pool = congestion_pool();
  ASSERT_NE(pool, nullptr);
  constexpr std::uint64_t kBytes = 30'000'000;
  SimConfig c = bulk_config(SimPathConfig::clean(kRate, kDelay), kBytes, GetParam());
  SimFlowConfig second = c.flows[0];
  second.start = 10 * kMillisecond;
  c.flows.push_back(second);
  SimHarness h(c, pool);
  std::uint64_t at_first_done[2] = {0, 0};
  std::uint64_t at_second_start[2] = {0, 0};
  bool sampled_start = false, sampled_end = false;
  h.set_step_hook([&](const SimHarness& s) {
    const std::uint64_t b0 = s.bytes_delivered(0), b1 = s.bytes_delivered(1);
    if (!sampled_start && s.now() >= 1 * kSecond) {  // both past slow start
      sampled_start = true;
      at_second_start[0] = b0;
      at_second_start[1] = b1;
    }
    if (sampled_start && !sampled_end && (b0 >= kBytes || b1 >= kBytes)) {
      sampled_end = true;
      at_first_done[0] = b0;
      at_first_done[1] = b1;
    }
  });
  const SimResult r = h.run();
  ASSERT_TRUE(r.completed) << r.failure;
  ASSERT_TRUE(sampled_end);
  const double a = static_cast<double>(at_first_done[0] - at_second_start[0]);
  const double b = static_cast<double>(at_first_done[1] - at_second_start[1]);
  std::printf("%s: shares %.1f MB / %.1f MB (ratio %.2f)\n", cc_name(GetParam()), a / 1e6, b / 1e6,
              std::max(a, b) / std::max(1.0, std::min(a, b)));
  ASSERT_GT(std::min(a, b), 0.0);
  EXPECT_LE(std::max(a, b) / std::min(a, b), 2.0);
}

// RFC 9002 §6.2: on a path with fixed delay and no loss, acknowledgments
// always come before the probe timeout: no PTO, no loss, on either side.
TEST_P(SimCongestion, NoSpuriousPtoOnAStablePath) {
  rte_mempool* pool = congestion_pool();
  ASSERT_NE(pool, nullptr);
  for (const bool bottleneck : {false, true}) {
    SimPathConfig p = SimPathConfig::clean(bottleneck ? kRate : 0, kDelay);
    p.queue_bytes = 64 * kBdp;  // the queue grows the RTT but never drops
    SimConfig c = bulk_config(p, 5'000'000, GetParam());
    c.flows[0].workload = SimWorkload::kEcho;
    c.flows[0].streams = 4;
    c.flows[0].bytes_per_stream = 1'000'000;
    c.server_to_client = p;
    const SimResult r = SimHarness(c, pool).run();
    ASSERT_TRUE(r.completed) << r.failure;
    ASSERT_EQ(r.client_to_server.dropped() + r.server_to_client.dropped(), 0u)
        << "precondition: no loss on the path";
    for (const SimFlowResult& f : r.flows) {
      EXPECT_EQ(f.client.stats.pto_count, 0u) << "bottleneck " << bottleneck;
      EXPECT_EQ(f.server.stats.pto_count, 0u) << "bottleneck " << bottleneck;
      EXPECT_EQ(f.client.stats.packets_lost, 0u) << "bottleneck " << bottleneck;
      EXPECT_EQ(f.server.stats.packets_lost, 0u) << "bottleneck " << bottleneck;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Algorithms, SimCongestion,
                         ::testing::Values(CongestionAlgorithm::kCubic,
                                           CongestionAlgorithm::kNewReno),
                         [](const ::testing::TestParamInfo<CongestionAlgorithm>& i) {
                           return std::string(cc_name(i.param));
                         });

}  // namespace
}  // namespace dquic
