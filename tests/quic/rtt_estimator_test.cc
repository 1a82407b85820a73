#include "quic/rtt_estimator.h"

#include <gtest/gtest.h>

namespace dquic {
namespace {

constexpr Duration kMs = kMillisecond;

TEST(RttEstimatorTest, InitialState) {
  const RttEstimator r;
  EXPECT_FALSE(r.has_sample());
  EXPECT_EQ(r.smoothed_rtt(), 333 * kMs);
  EXPECT_EQ(r.rttvar(), 333 * kMs / 2);
  EXPECT_EQ(r.min_rtt(), 0);
  EXPECT_EQ(r.latest_rtt(), 0);
  EXPECT_EQ(r.max_ack_delay(), 25 * kMs);  // RFC 9000 §18.2 default
  // RFC 9002 §6.2.2: a handshake starts with a PTO of about one second.
  EXPECT_EQ(r.pto_base(), 333 * kMs + 4 * (333 * kMs / 2));
}

TEST(RttEstimatorTest, CustomInitialRtt) {
  const RttEstimator r(100 * kMs);
  EXPECT_EQ(r.smoothed_rtt(), 100 * kMs);
  EXPECT_EQ(r.rttvar(), 50 * kMs);
  EXPECT_EQ(r.pto_base(), 300 * kMs);
}

TEST(RttEstimatorTest, FirstSampleSetsEverythingAndIgnoresAckDelay) {
  RttEstimator r;
  r.update(100 * kMs, 40 * kMs, true);
  EXPECT_TRUE(r.has_sample());
  EXPECT_EQ(r.latest_rtt(), 100 * kMs);
  EXPECT_EQ(r.min_rtt(), 100 * kMs);
  EXPECT_EQ(r.smoothed_rtt(), 100 * kMs);
  EXPECT_EQ(r.rttvar(), 50 * kMs);
  EXPECT_EQ(r.pto_base(), 300 * kMs);
}

TEST(RttEstimatorTest, AckDelaySubtractedWhenPlausible) {
  RttEstimator r;
  r.update(100 * kMs, 0, false);
  // 150 >= min_rtt 100 + 30: adjusted 120.
  r.update(150 * kMs, 30 * kMs, false);
  EXPECT_EQ(r.latest_rtt(), 150 * kMs);
  EXPECT_EQ(r.smoothed_rtt(), (7 * 100 * kMs + 120 * kMs) / 8);  // 102.5 ms
  EXPECT_EQ(r.rttvar(), (3 * 50 * kMs + 20 * kMs) / 4);          // 42.5 ms
}

TEST(RttEstimatorTest, AckDelayNotSubtractedBelowMinRtt) {
  RttEstimator r;
  r.update(100 * kMs, 0, false);
  // 110 < 100 + 20: subtracting would go below min_rtt, so the raw sample is used.
  r.update(110 * kMs, 20 * kMs, false);
  EXPECT_EQ(r.smoothed_rtt(), (7 * 100 * kMs + 110 * kMs) / 8);
  EXPECT_EQ(r.rttvar(), (3 * 50 * kMs + 10 * kMs) / 4);
}

TEST(RttEstimatorTest, AckDelayExactlyAtMinRttBoundaryIsSubtracted) {
  RttEstimator r;
  r.update(100 * kMs, 0, false);
  r.update(130 * kMs, 30 * kMs, false);  // 130 >= 100 + 30
  EXPECT_EQ(r.smoothed_rtt(), 100 * kMs);
  EXPECT_EQ(r.rttvar(), 3 * 50 * kMs / 4);
}

TEST(RttEstimatorTest, AckDelayCappedByMaxAckDelayOnceConfirmed) {
  RttEstimator confirmed, unconfirmed;
  for (RttEstimator* r : {&confirmed, &unconfirmed})
    r->update(100 * kMs, 0, false);
  confirmed.update(200 * kMs, 80 * kMs, true);     // delay capped to 25 ms: 175
  unconfirmed.update(200 * kMs, 80 * kMs, false);  // full 80 ms: 120
  EXPECT_EQ(confirmed.smoothed_rtt(), (7 * 100 * kMs + 175 * kMs) / 8);
  EXPECT_EQ(unconfirmed.smoothed_rtt(), (7 * 100 * kMs + 120 * kMs) / 8);
}

TEST(RttEstimatorTest, MaxAckDelayFromTransportParameter) {
  RttEstimator r;
  r.set_max_ack_delay(10 * kMs);
  EXPECT_EQ(r.max_ack_delay(), 10 * kMs);
  r.update(100 * kMs, 0, true);
  r.update(200 * kMs, 80 * kMs, true);  // capped to 10 ms: 190
  EXPECT_EQ(r.smoothed_rtt(), (7 * 100 * kMs + 190 * kMs) / 8);
}

TEST(RttEstimatorTest, MinRttExcludesAckDelay) {
  RttEstimator r;
  r.update(100 * kMs, 0, false);
  // The raw 80 ms is the new minimum even though 50 ms of it was ack delay.
  r.update(80 * kMs, 50 * kMs, false);
  EXPECT_EQ(r.min_rtt(), 80 * kMs);
  // 80 < 80 + 50: no adjustment.
  EXPECT_EQ(r.smoothed_rtt(), (7 * 100 * kMs + 80 * kMs) / 8);
}

TEST(RttEstimatorTest, MinRttNeverIncreases) {
  RttEstimator r;
  r.update(100 * kMs, 0, false);
  r.update(300 * kMs, 0, false);
  EXPECT_EQ(r.min_rtt(), 100 * kMs);
  EXPECT_EQ(r.latest_rtt(), 300 * kMs);
}

TEST(RttEstimatorTest, SmoothedRttConvergesAndRttvarShrinks) {
  RttEstimator r;
  r.update(100 * kMs, 0, false);
  for (int i = 0; i < 200; ++i)
    r.update(40 * kMs, 0, false);
  EXPECT_LT(r.smoothed_rtt(), 41 * kMs);
  EXPECT_GE(r.smoothed_rtt(), 40 * kMs);
  EXPECT_LT(r.rttvar(), kMs);
}

TEST(RttEstimatorTest, PtoBaseHasGranularityFloor) {
  RttEstimator r;
  r.update(10 * kMs, 0, false);
  // rttvar = 5 ms, shrinking by 3/4 per identical sample: after 11 samples
  // 4 * rttvar < 1 ms.
  for (int i = 0; i < 11; ++i)
    r.update(10 * kMs, 0, false);
  ASSERT_LT(4 * r.rttvar(), kGranularity);
  EXPECT_EQ(r.smoothed_rtt(), 10 * kMs);
  EXPECT_EQ(r.pto_base(), 10 * kMs + kGranularity);
}

TEST(RttEstimatorTest, PtoBaseUsesFourRttvarAboveFloor) {
  RttEstimator r;
  r.update(10 * kMs, 0, false);
  EXPECT_EQ(r.pto_base(), 10 * kMs + 4 * 5 * kMs);
}

TEST(RttEstimatorTest, ZeroSample) {
  RttEstimator r;
  r.update(0, 0, false);
  EXPECT_EQ(r.smoothed_rtt(), 0);
  EXPECT_EQ(r.rttvar(), 0);
  EXPECT_EQ(r.pto_base(), kGranularity);
}

TEST(RttEstimatorTest, OnPersistentCongestionResetsMinRttToLatest) {
  RttEstimator r;
  r.update(50 * kMs, 0, false);
  r.update(200 * kMs, 0, false);
  EXPECT_EQ(r.min_rtt(), 50 * kMs);
  const Duration srtt = r.smoothed_rtt();
  r.on_persistent_congestion();
  EXPECT_EQ(r.min_rtt(), 200 * kMs);
  EXPECT_EQ(r.smoothed_rtt(), srtt);  // only min_rtt changes
  EXPECT_TRUE(r.has_sample());
}

TEST(RttEstimatorTest, ResetForgetsSamples) {
  RttEstimator r;
  r.set_max_ack_delay(5 * kMs);
  r.update(50 * kMs, 0, false);
  r.reset(200 * kMs);
  EXPECT_FALSE(r.has_sample());
  EXPECT_EQ(r.smoothed_rtt(), 200 * kMs);
  EXPECT_EQ(r.rttvar(), 100 * kMs);
  EXPECT_EQ(r.min_rtt(), 0);
  EXPECT_EQ(r.latest_rtt(), 0);
  EXPECT_EQ(r.max_ack_delay(), 5 * kMs);  // a peer's parameter, not a sample
  // The next sample is a first sample again.
  r.update(30 * kMs, 10 * kMs, true);
  EXPECT_EQ(r.smoothed_rtt(), 30 * kMs);
  EXPECT_EQ(r.min_rtt(), 30 * kMs);
}

}  // namespace
}  // namespace dquic
