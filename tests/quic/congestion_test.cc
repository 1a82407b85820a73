#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "quic/congestion_controller.h"
#include "quic/cubic.h"
#include "quic/new_reno.h"
#include "quic/rtt_estimator.h"

namespace dquic {
namespace {

constexpr std::uint32_t kMds = 1200;

CcPacket packet(std::uint64_t pn, Time sent, std::uint32_t bytes = kMds, bool app_limited = false) {
  return CcPacket{pn, sent, bytes, app_limited};
}

// Drives a controller with synthetic packets on a fixed-RTT path.
class Driver {
 public:
  Driver(CongestionController& cc, Duration rtt) : cc_(cc), rtt_d_(rtt) {
    rtt_.update(rtt, 0, false);
  }

  // Sends `n` full-size packets at `now`.
  std::vector<CcPacket> send(Time now, std::size_t n, bool app_limited = false) {
    std::vector<CcPacket> sent;
    for (std::size_t i = 0; i < n; ++i) {
      sent.push_back(packet(pn_++, now, kMds, app_limited));
      cc_.on_packet_sent(now, kMds, app_limited);
    }
    return sent;
  }
  // One ACK frame per packet.
  void ack_each(const std::vector<CcPacket>& packets, Time now) {
    for (const CcPacket& p : packets)
      cc_.on_packets_acked({&p, 1}, now, rtt_);
  }
  void ack_all(const std::vector<CcPacket>& packets, Time now) {
    cc_.on_packets_acked(packets, now, rtt_);
  }
  // Sends a window of packets at `now` and acknowledges each one RTT later;
  // returns the time of the acknowledgments.
  Time round(Time now, bool app_limited = false) {
    const auto sent = send(now, cc_.congestion_window() / kMds, app_limited);
    ack_each(sent, now + rtt_d_);
    return now + rtt_d_;
  }
  // Grows the window in slow start to exactly `bytes` (a multiple of kMds).
  void slow_start_to(std::uint64_t bytes, Time now) {
    while (cc_.congestion_window() < bytes) {
      const auto sent = send(now, 1);
      ack_all(sent, now);
    }
    ASSERT_EQ(cc_.congestion_window(), bytes);
  }
  // Loses one packet sent at `sent`, declared at `now`.
  void lose(Time sent, Time now, bool persistent = false) {
    const auto p = send(sent, 1);
    cc_.on_packets_lost(p, now, persistent);
  }
  const RttEstimator& rtt() const { return rtt_; }

 private:
  CongestionController& cc_;
  Duration rtt_d_;
  RttEstimator rtt_;
  std::uint64_t pn_ = 0;
};

// ---------------------------------------------------------------------------
// Behaviour RFC 9002 requires of both controllers.

struct Algo {
  CongestionAlgorithm algorithm;
  const char* name;
  std::uint64_t reduction_percent;  // of cwnd on a congestion event
};

class BothControllers : public ::testing::TestWithParam<Algo> {
 protected:
  std::unique_ptr<CongestionController> make(CongestionConfig config = {}) {
    return make_congestion_controller(GetParam().algorithm, config);
  }
  std::uint64_t reduced(std::uint64_t cwnd) const {
    return cwnd * GetParam().reduction_percent / 100;
  }
};

INSTANTIATE_TEST_SUITE_P(Algorithms, BothControllers,
                         ::testing::Values(Algo{CongestionAlgorithm::kNewReno, "newreno", 50},
                                           Algo{CongestionAlgorithm::kCubic, "cubic", 70}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST_P(BothControllers, FactoryMakesTheNamedAlgorithm) {
  auto cc = make();
  EXPECT_STREQ(cc->name(), GetParam().name);
  const bool is_cubic = dynamic_cast<Cubic*>(cc.get()) != nullptr;
  EXPECT_EQ(is_cubic, GetParam().algorithm == CongestionAlgorithm::kCubic);
  EXPECT_NE(dynamic_cast<NewReno*>(cc.get()), nullptr);
}

TEST_P(BothControllers, InitialWindowPerRfc9002) {
  // RFC 9002 §7.2: min(10 * mds, max(14720, 2 * mds)).
  EXPECT_EQ(make({.max_datagram_size = 1200})->congestion_window(), 12000u);
  EXPECT_EQ(make({.max_datagram_size = 1500})->congestion_window(), 14720u);
  EXPECT_EQ(make({.max_datagram_size = 9000})->congestion_window(), 18000u);
  EXPECT_EQ(make({.max_datagram_size = 1200, .initial_window_packets = 4})->congestion_window(),
            4800u);
  auto cc = make();
  EXPECT_TRUE(cc->in_slow_start());
  EXPECT_EQ(cc->bytes_in_flight(), 0u);
  EXPECT_FALSE(cc->in_recovery(0));
  EXPECT_EQ(cc->available(), 12000u);
}

TEST_P(BothControllers, SlowStartDoublesPerRoundTrip) {
  auto cc = make();
  Driver d(*cc, 100 * kMillisecond);
  Time now = 0;
  for (std::uint64_t expected : {24000u, 48000u, 96000u}) {
    now = d.round(now);
    EXPECT_EQ(cc->congestion_window(), expected);
    EXPECT_TRUE(cc->in_slow_start());
    EXPECT_EQ(cc->bytes_in_flight(), 0u);
  }
}

TEST_P(BothControllers, LossExitsSlowStartWithReduction) {
  auto cc = make();
  Driver d(*cc, 100 * kMillisecond);
  d.slow_start_to(24000, 0);
  d.lose(1 * kSecond, 2 * kSecond);
  EXPECT_EQ(cc->congestion_window(), reduced(24000));
  EXPECT_FALSE(cc->in_slow_start());
  EXPECT_TRUE(cc->in_recovery(1 * kSecond));
  EXPECT_TRUE(cc->in_recovery(2 * kSecond));  // sent_time <= recovery start
  EXPECT_FALSE(cc->in_recovery(2 * kSecond + 1));
  EXPECT_EQ(cc->bytes_in_flight(), 0u);
}

TEST_P(BothControllers, OneReductionPerRecoveryPeriod) {
  auto cc = make();
  Driver d(*cc, 100 * kMillisecond);
  d.slow_start_to(96000, 0);
  const auto before = d.send(1 * kSecond, 10);  // sent before recovery starts
  d.lose(1 * kSecond, 2 * kSecond);
  const std::uint64_t w = cc->congestion_window();
  ASSERT_EQ(w, reduced(96000));
  // More losses and CE marks from the same flight: no further reduction.
  cc->on_packets_lost({&before[0], 1}, 2 * kSecond + 5, false);
  cc->on_ecn_ce(1 * kSecond, 2 * kSecond + 6);
  EXPECT_EQ(cc->congestion_window(), w);
  // Acknowledgments of packets sent before recovery do not grow the window.
  d.ack_all({before.begin() + 1, before.end()}, 2 * kSecond + 7);
  EXPECT_EQ(cc->congestion_window(), w);
  EXPECT_EQ(cc->bytes_in_flight(), 0u);
  // A packet sent after recovery began starts a new period.
  d.lose(2 * kSecond + 8, 3 * kSecond);
  EXPECT_EQ(cc->congestion_window(), std::max(reduced(w), std::uint64_t{2 * kMds}));
  EXPECT_LT(cc->congestion_window(), w);
}

TEST_P(BothControllers, EcnCeIsACongestionEvent) {
  auto cc = make();
  Driver d(*cc, 100 * kMillisecond);
  d.slow_start_to(48000, 0);
  const auto flight = d.send(1 * kSecond, 5);
  cc->on_ecn_ce(1 * kSecond, 2 * kSecond);
  EXPECT_EQ(cc->congestion_window(), reduced(48000));
  EXPECT_EQ(cc->bytes_in_flight(), 5u * kMds);  // CE removes nothing from flight
  EXPECT_TRUE(cc->in_recovery(2 * kSecond));
  EXPECT_FALSE(cc->in_slow_start());
  cc->on_ecn_ce(2 * kSecond, 3 * kSecond);  // same recovery period
  EXPECT_EQ(cc->congestion_window(), reduced(48000));
  cc->on_ecn_ce(3 * kSecond, 4 * kSecond);  // a later packet: new period
  EXPECT_EQ(cc->congestion_window(), reduced(reduced(48000)));
}

TEST_P(BothControllers, PersistentCongestionCollapsesToMinimumWindow) {
  auto cc = make();
  Driver d(*cc, 100 * kMillisecond);
  d.slow_start_to(48000, 0);
  d.lose(1 * kSecond, 2 * kSecond, /*persistent=*/true);
  EXPECT_EQ(cc->congestion_window(), 2u * kMds);  // RFC 9002 §7.6.2 kMinimumWindow
  // Recovery ended: the next loss, even of an older packet, reduces again
  // (and the window stays at the minimum).
  EXPECT_FALSE(cc->in_recovery(1 * kSecond));
  // Slow start again up to ssthresh.
  EXPECT_TRUE(cc->in_slow_start());
  const auto p = d.send(3 * kSecond, 2);
  d.ack_all(p, 3 * kSecond + 100 * kMillisecond);
  EXPECT_EQ(cc->congestion_window(), 4u * kMds);
  d.lose(4 * kSecond, 5 * kSecond);
  EXPECT_EQ(cc->congestion_window(), std::max(reduced(4 * kMds), std::uint64_t{2 * kMds}));
}

TEST_P(BothControllers, MinimumWindowFollowsConfig) {
  auto cc = make({.max_datagram_size = 1200, .minimum_window_packets = 4});
  Driver d(*cc, 100 * kMillisecond);
  d.lose(0, 1, /*persistent=*/true);
  EXPECT_EQ(cc->congestion_window(), 4u * 1200);
  // Repeated losses never go below it.
  d.lose(2, 3);
  d.lose(4, 5);
  EXPECT_EQ(cc->congestion_window(), 4u * 1200);
}

TEST_P(BothControllers, AppLimitedAcksDoNotGrowTheWindow) {
  auto cc = make();
  Driver d(*cc, 100 * kMillisecond);
  // Slow start.
  auto limited = d.send(0, 4, /*app_limited=*/true);
  d.ack_all(limited, 100 * kMillisecond);
  EXPECT_EQ(cc->congestion_window(), 12000u);
  EXPECT_EQ(cc->bytes_in_flight(), 0u);
  // Only the packets that were not app-limited count in a mixed ACK.
  auto mixed = d.send(1 * kSecond, 2, true);
  auto full = d.send(1 * kSecond, 3, false);
  mixed.insert(mixed.end(), full.begin(), full.end());
  d.ack_all(mixed, 1 * kSecond + 100 * kMillisecond);
  EXPECT_EQ(cc->congestion_window(), 12000u + 3 * kMds);
  // Congestion avoidance.
  d.lose(2 * kSecond, 2 * kSecond);
  const std::uint64_t w = cc->congestion_window();
  for (int i = 0; i < 50; ++i) {
    limited = d.send(3 * kSecond + i * 100 * kMillisecond, w / kMds, true);
    d.ack_each(limited, 3 * kSecond + (i + 1) * 100 * kMillisecond);
  }
  EXPECT_EQ(cc->congestion_window(), w);
}

TEST_P(BothControllers, BytesInFlightAccountingNeverUnderflows) {
  auto cc = make();
  cc->on_packet_sent(0, 1000, false);
  cc->on_packet_sent(0, 500, false);
  cc->on_packet_sent(0, 200, false);
  EXPECT_EQ(cc->bytes_in_flight(), 1700u);
  EXPECT_EQ(cc->available(), cc->congestion_window() - 1700);
  const CcPacket a = packet(0, 0, 1000);
  RttEstimator rtt;
  cc->on_packets_acked({&a, 1}, 10, rtt);
  EXPECT_EQ(cc->bytes_in_flight(), 700u);
  const CcPacket l = packet(1, 0, 500);
  cc->on_packets_lost({&l, 1}, 11, false);
  EXPECT_EQ(cc->bytes_in_flight(), 200u);
  cc->on_packets_discarded(150);
  EXPECT_EQ(cc->bytes_in_flight(), 50u);
  // More removed than in flight: clamps at zero.
  cc->on_packets_discarded(1000);
  EXPECT_EQ(cc->bytes_in_flight(), 0u);
  cc->on_packets_acked({&a, 1}, 12, rtt);
  cc->on_packets_lost({&l, 1}, 13, false);
  EXPECT_EQ(cc->bytes_in_flight(), 0u);
  // A full window leaves nothing available; more than full too.
  const std::uint64_t w = cc->congestion_window();
  cc->on_packet_sent(20, static_cast<std::uint32_t>(w), false);
  EXPECT_EQ(cc->available(), 0u);
  cc->on_packet_sent(20, 1, false);
  EXPECT_EQ(cc->available(), 0u);
  EXPECT_EQ(cc->bytes_in_flight(), w + 1);
}

TEST_P(BothControllers, EmptyReportsChangeNothing) {
  auto cc = make();
  RttEstimator rtt;
  cc->on_packets_acked({}, 1, rtt);
  cc->on_packets_lost({}, 2, false);
  cc->on_packets_discarded(0);
  EXPECT_EQ(cc->congestion_window(), 12000u);
  EXPECT_TRUE(cc->in_slow_start());
  EXPECT_FALSE(cc->in_recovery(0));
}

TEST_P(BothControllers, MaxDatagramSizeChange) {
  auto cc = make();
  // Unchanged initial window: recomputed for the new size (RFC 9002 §7.2).
  cc->set_max_datagram_size(1500);
  EXPECT_EQ(cc->congestion_window(), 14720u);
  // A grown window is kept when the size grows.
  Driver d(*cc, 100 * kMillisecond);
  d.round(0);
  const std::uint64_t w = cc->congestion_window();
  ASSERT_GT(w, 14720u);
  cc->set_max_datagram_size(1400);  // smaller: back to the initial window
  EXPECT_EQ(cc->congestion_window(), 14000u);
  cc->set_max_datagram_size(1500);
  EXPECT_EQ(cc->congestion_window(), 14720u);  // still the initial window
  d.round(1 * kSecond);
  const std::uint64_t w2 = cc->congestion_window();
  cc->set_max_datagram_size(9000);
  EXPECT_EQ(cc->congestion_window(), std::max<std::uint64_t>(w2, 18000));
  // The minimum window follows the size.
  cc->on_packets_lost({}, 2 * kSecond, true);
  EXPECT_EQ(cc->congestion_window(), 18000u);
  cc->set_max_datagram_size(0);  // nonsense: clamped, no division by zero
  EXPECT_GT(cc->congestion_window(), 0u);
}

// ---------------------------------------------------------------------------
// NewReno specifics.

TEST(NewRenoTest, CongestionAvoidanceAddsOneDatagramPerWindow) {
  NewReno cc({});
  Driver d(cc, 100 * kMillisecond);
  d.slow_start_to(48000, 0);
  d.lose(1 * kSecond, 1 * kSecond);
  const std::uint64_t w = cc.congestion_window();
  ASSERT_EQ(w, 24000u);
  ASSERT_EQ(cc.ssthresh(), 24000u);
  // One window less one datagram: no growth yet.
  auto p = d.send(2 * kSecond, w / kMds);
  d.ack_each({p.begin(), p.end() - 1}, 2 * kSecond + 100 * kMillisecond);
  EXPECT_EQ(cc.congestion_window(), w);
  d.ack_each({p.end() - 1, p.end()}, 2 * kSecond + 100 * kMillisecond);
  EXPECT_EQ(cc.congestion_window(), w + kMds);
  // Two windows in one ACK frame: two datagrams, no truncation.
  const std::uint64_t w1 = cc.congestion_window();
  p = d.send(3 * kSecond, (2 * w1 + kMds) / kMds);
  d.ack_all(p, 3 * kSecond + 100 * kMillisecond);
  EXPECT_EQ(cc.congestion_window(), w1 + 2 * kMds);
  EXPECT_FALSE(cc.in_slow_start());
}

TEST(NewRenoTest, SlowStartStopsAtSsthreshAndCarriesTheRest) {
  NewReno cc({});
  Driver d(cc, 100 * kMillisecond);
  d.slow_start_to(48000, 0);
  d.lose(1 * kSecond, 1 * kSecond, /*persistent=*/true);
  ASSERT_EQ(cc.congestion_window(), 2400u);
  ASSERT_EQ(cc.ssthresh(), 24000u);
  // 21600 bytes bring slow start to ssthresh; the next 24000 are one window
  // in congestion avoidance: one datagram more, not 24000 more.
  const auto p = d.send(2 * kSecond, (21600 + 24000) / kMds);
  d.ack_all(p, 2 * kSecond + 100 * kMillisecond);
  EXPECT_EQ(cc.congestion_window(), 24000u + kMds);
}

TEST(NewRenoTest, ReductionHalvesExactly) {
  NewReno cc({});
  Driver d(cc, 100 * kMillisecond);
  d.slow_start_to(120000, 0);
  d.lose(1, 2);
  EXPECT_EQ(cc.ssthresh(), 60000u);
  EXPECT_EQ(cc.congestion_window(), 60000u);
}

// ---------------------------------------------------------------------------
// CUBIC specifics (RFC 9438).

// Brings a CUBIC controller to a loss at `w_max` bytes, declared at `now`.
void lose_at(Cubic& cc, Driver& d, std::uint64_t w_max, Time now) {
  ASSERT_TRUE(cc.in_slow_start());
  d.slow_start_to(w_max, 0);
  d.lose(now, now);
}

TEST(CubicTest, ReductionToBetaAndWmax) {
  Cubic cc({});
  Driver d(cc, 100 * kMillisecond);
  lose_at(cc, d, 120000, 1 * kSecond);
  EXPECT_EQ(cc.congestion_window(), 84000u);  // beta_cubic = 0.7 (§4.6)
  EXPECT_EQ(cc.ssthresh(), 84000u);
  EXPECT_DOUBLE_EQ(cc.w_max(), 120000.0);
  EXPECT_DOUBLE_EQ(cc.cwnd_prior(), 120000.0);
  EXPECT_FALSE(cc.epoch_started());
}

TEST(CubicTest, KMatchesRfc9438Formula) {
  // RFC 9438 §4.2 Eq. 2 with W_max = 100 segments, cwnd_epoch = 70:
  // K = cbrt((100 - 70) / 0.4) = cbrt(75) = 4.2171633265087... s.
  Cubic cc({});
  Driver d(cc, 100 * kMillisecond);
  lose_at(cc, d, 100 * kMds, 1 * kSecond);
  const auto p = d.send(2 * kSecond, 1);
  d.ack_all(p, 2 * kSecond + 100 * kMillisecond);
  ASSERT_TRUE(cc.epoch_started());
  EXPECT_EQ(cc.epoch_start(), 2 * kSecond + 100 * kMillisecond);
  EXPECT_EQ(cc.cwnd_epoch(), 70u * kMds);
  EXPECT_NEAR(cc.k_seconds(), 4.2171633265087, 1e-9);
  // Eq. 1 at t = 0 is cwnd_epoch and at t = K is W_max.
  EXPECT_NEAR(cc.w_cubic(0), 70.0 * kMds, 1e-6);
  EXPECT_NEAR(cc.w_cubic(cc.k_seconds()), 100.0 * kMds, 1e-6);
  // A second example: W_max = 1000 segments: K = cbrt(300 / 0.4) = 9.0856...
  Cubic big({});
  Driver d2(big, 100 * kMillisecond);
  lose_at(big, d2, 1000 * kMds, 1 * kSecond);
  const auto q = d2.send(2 * kSecond, 1);
  d2.ack_all(q, 2 * kSecond + 100 * kMillisecond);
  EXPECT_NEAR(big.k_seconds(), 9.0856029641607, 1e-9);
}

TEST(CubicTest, GrowthFollowsWCubicOverTime) {
  // 100 ms RTT, loss at 1000 segments: K = cbrt(300 / 0.4) = 9.09 s, and
  // Reno's estimate (0.53 segment per RTT) stays below the cubic curve.
  Cubic cc({});
  const Duration rtt = 100 * kMillisecond;
  Driver d(cc, rtt);
  lose_at(cc, d, 1000 * kMds, 1 * kSecond);
  Time now = d.round(1 * kSecond + 1);
  // In the first RTT of the epoch W_cubic(0) = cwnd_epoch < W_est: the
  // Reno-friendly region (§4.3) sets cwnd.
  EXPECT_NEAR(static_cast<double>(cc.congestion_window()), cc.w_est(), 1.0);
  bool passed_k = false;
  for (int i = 0; i < 150; ++i) {  // 15 s: concave, plateau at K, convex
    now = d.round(now);
    const double t = static_cast<double>(now - cc.epoch_start()) / kSecond;
    const double w = static_cast<double>(cc.congestion_window());
    // After a round, cwnd has nearly reached the target W_cubic(t + RTT)
    // it was chasing, and is never ahead of it.
    EXPECT_LE(w, cc.w_cubic(t + 0.1) + kMds) << "t=" << t;
    EXPECT_NEAR(w, cc.w_cubic(t), 0.02 * cc.w_cubic(t)) << "t=" << t;
    EXPECT_GT(cc.w_cubic(t), cc.w_est()) << "t=" << t;
    if (t > cc.k_seconds()) passed_k = true;
  }
  EXPECT_TRUE(passed_k);
  // At 15.1 s W_cubic = 1000 + 0.4 (15.1 - K)^3 segments, about 1087.
  EXPECT_GT(cc.congestion_window(), 1070u * kMds);
  EXPECT_LT(cc.congestion_window(), 1100u * kMds);
  EXPECT_DOUBLE_EQ(cc.w_max(), 1000.0 * kMds);
}

TEST(CubicTest, TargetIsWCubicOneRttAhead) {
  // RFC 9438 §4.2: one ACK of one segment at t = 1 s with a 100 ms RTT
  // grows cwnd by (W_cubic(1.1) - cwnd) / cwnd segments. W_max = 100
  // segments, cwnd_epoch = 70, computed here from Eq. 1 and 2 directly.
  Cubic cc({});
  Driver d(cc, 100 * kMillisecond);
  lose_at(cc, d, 100 * kMds, 1 * kSecond);
  const auto p = d.send(2 * kSecond, 2);
  d.ack_all({p.begin(), p.begin() + 1}, 3 * kSecond);  // epoch starts: t = 0
  ASSERT_EQ(cc.epoch_start(), 3 * kSecond);
  const double c = static_cast<double>(cc.congestion_window());
  d.ack_all({p.begin() + 1, p.end()}, 4 * kSecond);  // t = 1 s
  const double k = std::cbrt(75.0);
  const auto w = [&](double t) { return 0.4 * kMds * std::pow(t - k, 3) + 100.0 * kMds; };
  ASSERT_GT(w(1.0), cc.w_est());  // the cubic region, not Reno-friendly
  EXPECT_NEAR(static_cast<double>(cc.congestion_window()), c + (w(1.1) - c) * kMds / c, 1.0);
}

TEST(CubicTest, CwndIncreasePerAckIsBounded) {
  // Even far into the convex region, one ACK of one segment raises cwnd by
  // at most (1.5 cwnd - cwnd) / cwnd segments = half a segment.
  Cubic cc({});
  Driver d(cc, 100 * kMillisecond);
  lose_at(cc, d, 100 * kMds, 1 * kSecond);
  auto p = d.send(2 * kSecond, 1);
  d.ack_all(p, 2 * kSecond);  // epoch starts here
  p = d.send(2 * kSecond, 1);
  const std::uint64_t before = cc.congestion_window();
  d.ack_all(p, 1000 * kSecond);  // t huge: W_cubic enormous
  EXPECT_LE(cc.congestion_window() - before, kMds / 2);
  EXPECT_GE(cc.congestion_window() - before, kMds / 2 - 1);
}

TEST(CubicTest, RenoFriendlyRegionDominatesAtShortRtt) {
  // 1 ms RTT, loss at 20 segments: K = cbrt(6 / 0.4) = 2.47 s, so W_cubic
  // hardly moves in 0.2 s while Reno's estimate gains a segment per RTT.
  Cubic cc({});
  const Duration rtt = 1 * kMillisecond;
  Driver d(cc, rtt);
  lose_at(cc, d, 20 * kMds, 1 * kSecond);
  Time now = 1 * kSecond + 1;
  for (int i = 0; i < 200; ++i)
    now = d.round(now);
  const double t = static_cast<double>(now - cc.epoch_start()) / kSecond;
  const double w = static_cast<double>(cc.congestion_window());
  EXPECT_LT(cc.w_cubic(t), 16.0 * kMds);
  EXPECT_NEAR(w, cc.w_est(), kMds);
  // 14 segments + ~6 at alpha_cubic (to cwnd_prior = 20) + ~1 per later RTT.
  EXPECT_GT(w, 150.0 * kMds);
  EXPECT_LT(w, 215.0 * kMds);
}

TEST(CubicTest, RenoFriendlyAlphaSwitchesAtCwndPrior) {
  Cubic cc({});
  Driver d(cc, 1 * kMillisecond);
  lose_at(cc, d, 20 * kMds, 1 * kSecond);
  // 14 segments after the loss; W_est gains alpha_cubic = 0.529 per window.
  Time now = d.round(1 * kSecond + 1);
  EXPECT_NEAR(cc.w_est(), (14 + Cubic::kAlphaCubic) * kMds, 0.02 * kMds);
  for (int i = 0; i < 40; ++i)
    now = d.round(now);
  // Past cwnd_prior the increase is one segment per window.
  const double before = cc.w_est();
  d.round(now);
  EXPECT_GT(cc.w_est() - before, 0.9 * kMds);
}

TEST(CubicTest, FastConvergenceLowersWmax) {
  Cubic cc({});
  Driver d(cc, 100 * kMillisecond);
  lose_at(cc, d, 120000, 1 * kSecond);
  ASSERT_DOUBLE_EQ(cc.w_max(), 120000.0);
  // A loss below W_max: W_max = cwnd * (1 + beta) / 2 (§4.7).
  d.lose(2 * kSecond, 2 * kSecond);
  EXPECT_DOUBLE_EQ(cc.w_max(), 84000.0 * 0.85);
  EXPECT_DOUBLE_EQ(cc.cwnd_prior(), 84000.0);
  EXPECT_EQ(cc.congestion_window(), 58800u);
}

TEST(CubicTest, NoFastConvergenceAboveWmax) {
  Cubic cc({});
  Driver d(cc, 10 * kMillisecond);
  lose_at(cc, d, 24000, 1 * kSecond);
  Time now = 1 * kSecond + 1;
  // Grow past W_max = 24000, then lose: W_max becomes that cwnd.
  while (cc.congestion_window() <= 24000)
    now = d.round(now);
  const std::uint64_t w = cc.congestion_window();
  d.lose(now, now);
  EXPECT_DOUBLE_EQ(cc.w_max(), static_cast<double>(w));
  EXPECT_EQ(cc.congestion_window(), w * 7 / 10);
}

TEST(CubicTest, IdleTimeShiftsTheEpoch) {
  // Two identical flows; one goes idle 10 s. RFC 9438 §5.8: its W_cubic
  // clock must not count the idle time, so both grow the same.
  const Duration rtt = 100 * kMillisecond;
  Cubic busy({}), idle({});
  Driver db(busy, rtt), di(idle, rtt);
  lose_at(busy, db, 100 * kMds, 1 * kSecond);
  lose_at(idle, di, 100 * kMds, 1 * kSecond);
  Time t = 1 * kSecond + 1;
  for (int i = 0; i < 5; ++i) {
    db.round(t);
    t = di.round(t);
  }
  ASSERT_EQ(busy.epoch_start(), idle.epoch_start());
  ASSERT_EQ(idle.bytes_in_flight(), 0u);  // drained at t: idle from here
  db.round(t);
  di.round(t + 10 * kSecond);
  EXPECT_EQ(idle.epoch_start(), busy.epoch_start() + 10 * kSecond);
  EXPECT_EQ(idle.congestion_window(), busy.congestion_window());
  EXPECT_LT(busy.congestion_window(), 90u * kMds);  // still concave, far from 1.5x jumps
}

TEST(CubicTest, AppLimitedSendingStopsTheClock) {
  const Duration rtt = 100 * kMillisecond;
  Cubic cc({});
  Driver d(cc, rtt);
  lose_at(cc, d, 100 * kMds, 1 * kSecond);
  Time t = d.round(1 * kSecond + 1);
  const Time epoch = cc.epoch_start();
  // Keep something in flight so only the app-limited flag pauses the clock.
  const auto held = d.send(t, 1);
  const std::uint64_t w = cc.congestion_window();
  const double w_est = cc.w_est();
  for (int i = 0; i < 30; ++i)
    t = d.round(t, /*app_limited=*/true);
  EXPECT_EQ(cc.congestion_window(), w);
  EXPECT_DOUBLE_EQ(cc.w_est(), w_est);
  EXPECT_EQ(cc.epoch_start(), epoch);  // paused, not yet shifted
  d.send(t, 1, /*app_limited=*/false);
  EXPECT_EQ(cc.epoch_start(), epoch + (t - held[0].time_sent));
}

TEST(CubicTest, PersistentCongestionRestartsWithZeroK) {
  Cubic cc({});
  Driver d(cc, 100 * kMillisecond);
  lose_at(cc, d, 120000, 1 * kSecond);
  d.lose(2 * kSecond, 2 * kSecond, /*persistent=*/true);
  EXPECT_EQ(cc.congestion_window(), 2u * kMds);
  EXPECT_DOUBLE_EQ(cc.w_max(), 0.0);
  EXPECT_FALSE(cc.epoch_started());
  // Slow start back to ssthresh, then congestion avoidance with K = 0 and
  // W_max = cwnd at its start (§4.8).
  Time now = 3 * kSecond;
  while (cc.in_slow_start())
    now = d.round(now);
  now = d.round(now);
  ASSERT_TRUE(cc.epoch_started());
  EXPECT_DOUBLE_EQ(cc.k_seconds(), 0.0);
  EXPECT_DOUBLE_EQ(cc.w_max(), static_cast<double>(cc.cwnd_epoch()));
  EXPECT_GE(cc.congestion_window(), cc.cwnd_epoch());
}

TEST(CubicTest, MinimumWindowClampKeepsKNonNegative) {
  Cubic cc({});
  Driver d(cc, 100 * kMillisecond);
  d.lose(0, 0, /*persistent=*/true);  // cwnd = 2 segments
  d.lose(1, 1);                       // 0.7 * 2 segments, clamped to 2
  EXPECT_EQ(cc.congestion_window(), 2u * kMds);
  const auto p = d.send(2, 2);
  d.ack_all(p, 3);
  ASSERT_TRUE(cc.epoch_started());
  EXPECT_GE(cc.k_seconds(), 0.0);
  EXPECT_DOUBLE_EQ(cc.w_max(), 2.0 * kMds);
}

}  // namespace
}  // namespace dquic
