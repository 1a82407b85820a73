#include "quic/pacer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace dquic {
namespace {

constexpr std::uint32_t kMds = 1200;

// Sends full datagrams as soon as the pacer allows, over [start, end).
// Returns the bytes sent.
std::uint64_t send_paced(Pacer& p, Time start, Time end, std::uint32_t bytes = kMds) {
  std::uint64_t sent = 0;
  Time t = start;
  // Bounded, so that a broken pacer fails the test instead of hanging it.
  for (int i = 0; i < 10'000'000; ++i) {
    t = p.next_send_time(t);
    if (t >= end) break;
    p.on_sent(t, bytes);
    sent += bytes;
  }
  return sent;
}

// Datagrams allowed at exactly `now`.
int burst_at(Pacer& p, Time now, std::uint32_t bytes = kMds) {
  int n = 0;
  while (p.next_send_time(now) == now && n < 1'000'000) {
    p.on_sent(now, bytes);
    ++n;
  }
  return n;
}

TEST(PacerTest, UnpacedUntilFirstUpdate) {
  Pacer p;
  EXPECT_EQ(p.rate_bytes_per_second(), 0u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(p.next_send_time(5), 5);
    p.on_sent(5, kMds);
  }
}

TEST(PacerTest, RateFormula) {
  Pacer p;
  // RFC 9002 §7.7: N * cwnd / smoothed_rtt, N = 1.25 in congestion avoidance.
  p.update(120000, 100 * kMillisecond, false, kMds);
  EXPECT_EQ(p.rate_bytes_per_second(), 1'500'000u);
  // N = 2 in slow start.
  p.update(120000, 100 * kMillisecond, true, kMds);
  EXPECT_EQ(p.rate_bytes_per_second(), 2'400'000u);
  // Configured ratios.
  Pacer q(PacerConfig{.burst_packets = 10, .slow_start_percent = 300, .avoidance_percent = 100});
  q.update(120000, 100 * kMillisecond, true, kMds);
  EXPECT_EQ(q.rate_bytes_per_second(), 3'600'000u);
  q.update(120000, 100 * kMillisecond, false, kMds);
  EXPECT_EQ(q.rate_bytes_per_second(), 1'200'000u);
  // Truncated, not rounded: 1.25 * 1000 / 3 ms = 416666.67 bytes/s.
  p.update(1000, 3 * kMillisecond, false, kMds);
  EXPECT_EQ(p.rate_bytes_per_second(), 416666u);
}

TEST(PacerTest, ZeroRatioDisablesPacing) {
  Pacer p(PacerConfig{.burst_packets = 10, .slow_start_percent = 0, .avoidance_percent = 125});
  p.update(12000, 100 * kMillisecond, true, kMds);
  EXPECT_EQ(p.rate_bytes_per_second(), 0u);
  EXPECT_EQ(burst_at(p, 0), 1'000'000);  // never held back
}

TEST(PacerTest, BurstLimitAtStartAndAfterIdle) {
  Pacer p;
  p.update(120000, 100 * kMillisecond, false, kMds);
  EXPECT_EQ(p.burst_bytes(), 10u * kMds);
  EXPECT_EQ(burst_at(p, 0), 10);
  // The 11th datagram waits for mds / rate = 1200 / 1.5 MB/s = 800 us.
  EXPECT_EQ(p.next_send_time(0), 800 * kMicrosecond);
  // An hour idle still allows only one burst.
  EXPECT_EQ(burst_at(p, 3600 * kSecond), 10);
  EXPECT_GT(p.next_send_time(3600 * kSecond), 3600 * kSecond);
  // Smaller datagrams: no more bytes than the burst.
  EXPECT_EQ(burst_at(p, 7200 * kSecond, 600), 19);  // sends while >= one mds of tokens is left
}

TEST(PacerTest, ConfiguredBurstSize) {
  Pacer p(PacerConfig{.burst_packets = 3});
  p.update(120000, 100 * kMillisecond, false, kMds);
  EXPECT_EQ(burst_at(p, 0), 3);
  EXPECT_EQ(burst_at(p, 10 * kSecond), 3);
  Pacer one(PacerConfig{.burst_packets = 0});  // clamped to one datagram
  one.update(120000, 100 * kMillisecond, false, kMds);
  EXPECT_EQ(burst_at(one, 0), 1);
  Pacer huge(PacerConfig{.burst_packets = std::numeric_limits<std::uint32_t>::max()});
  huge.update(120000, 100 * kMillisecond, false, 65535);
  EXPECT_EQ(huge.burst_bytes(), std::uint64_t{Pacer::kMaxBurstPackets} * 65535);
}

TEST(PacerTest, PartialRefillAfterShortGap) {
  Pacer p;
  p.update(120000, 100 * kMillisecond, false, kMds);  // 800 us per datagram
  burst_at(p, 0);
  // 4 ms later: five datagrams' worth of tokens.
  EXPECT_EQ(burst_at(p, 4 * kMillisecond), 5);
  EXPECT_EQ(p.next_send_time(4 * kMillisecond), 4 * kMillisecond + 800 * kMicrosecond);
}

TEST(PacerTest, MaxDatagramSizeChangeResizesTheBucket) {
  Pacer p;
  p.update(120000, 100 * kMillisecond, false, 1500);
  EXPECT_EQ(burst_at(p, 0, 1500), 10);
  p.update(120000, 100 * kMillisecond, false, 1200);
  EXPECT_EQ(p.burst_bytes(), 12000u);
  EXPECT_EQ(burst_at(p, 3600 * kSecond, 1200), 10);
  p.update(120000, 100 * kMillisecond, false, 1'000'000);  // clamped
  EXPECT_EQ(p.max_datagram_size(), Pacer::kMaxDatagramSize);
}

struct RateCase {
  const char* name;
  std::uint64_t cwnd;
  Duration srtt;
  bool slow_start;
  Duration duration;  // long enough for many datagrams
  std::uint64_t expected_rate;
};

class PacerRate : public ::testing::TestWithParam<RateCase> {};

INSTANTIATE_TEST_SUITE_P(
    Rates, PacerRate,
    ::testing::Values(
        // 1.5 MB/s (12 Mbit/s).
        RateCase{"wan", 120000, 100 * kMillisecond, false, 1 * kSecond, 1'500'000},
        // 125 Gbit/s: 12500-byte window over 1 us, slow-start-free.
        RateCase{"dc_100g", 12500, 1 * kMicrosecond, false, 10 * kMillisecond, 15'625'000'000},
        // 1 Kbit/s: 125 bytes/s; one datagram every 9.6 s.
        RateCase{"1kbit", 125, 1250 * kMillisecond, false, 10'000 * kSecond, 125},
        // Slow start at 2x.
        RateCase{"slow_start", 60000, 20 * kMillisecond, true, 1 * kSecond, 6'000'000}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_P(PacerRate, LongRunRateMatchesWithinOnePercent) {
  const RateCase& c = GetParam();
  Pacer p;
  p.update(c.cwnd, c.srtt, c.slow_start, kMds);
  ASSERT_EQ(p.rate_bytes_per_second(), c.expected_rate);
  const Time start = 1000 * kSecond;
  burst_at(p, start);  // spend the initial burst
  const std::uint64_t sent = send_paced(p, start, start + c.duration);
  const double expected =
      static_cast<double>(c.expected_rate) * static_cast<double>(c.duration) / kSecond;
  EXPECT_NEAR(static_cast<double>(sent), expected, 0.01 * expected);
  // And never ahead of the rate by more than one datagram.
  EXPECT_LE(static_cast<double>(sent), expected + kMds);
}

TEST_P(PacerRate, IntervalsAreExactOnAverage) {
  // After the burst, datagrams leave every mds / rate seconds; rounding up
  // to whole ns does not accumulate.
  const RateCase& c = GetParam();
  Pacer p;
  p.update(c.cwnd, c.srtt, c.slow_start, kMds);
  burst_at(p, 0);
  Time t = 0;
  const int n = 1000;
  for (int i = 0; i < n; ++i) {
    t = p.next_send_time(t);
    p.on_sent(t, kMds);
  }
  const double ideal = static_cast<double>(n) * kMds * kSecond / c.expected_rate;
  EXPECT_NEAR(static_cast<double>(t), ideal, ideal / n + 1);
}

TEST(PacerTest, ExtremeInputsDoNotOverflow) {
  Pacer p;
  // Largest window over the smallest RTT: capped rate.
  p.update(std::numeric_limits<std::uint64_t>::max(), 1, true, kMds);
  EXPECT_EQ(p.rate_bytes_per_second(), Pacer::kMaxRate);
  EXPECT_EQ(burst_at(p, 0), 10);
  EXPECT_EQ(p.next_send_time(0), 1);  // 1200 bytes at 10^15 B/s: 1.2 ps, rounded up to 1 ns
  EXPECT_EQ(burst_at(p, std::numeric_limits<Time>::max() / 2), 10);
  // Zero and negative RTT are treated as 1 ns; zero window as 1 byte/s.
  p.update(1000, 0, false, kMds);
  EXPECT_EQ(p.rate_bytes_per_second(), 1'250'000'000'000u);
  p.update(1000, -5, false, kMds);
  EXPECT_EQ(p.rate_bytes_per_second(), 1'250'000'000'000u);
  p.update(0, kSecond, false, kMds);
  EXPECT_EQ(p.rate_bytes_per_second(), 1u);
  // At 1 byte/s a datagram takes 1200 s; a far-future `now` saturates.
  const Time late = std::numeric_limits<Time>::max() - 10;
  burst_at(p, late);
  EXPECT_EQ(p.next_send_time(late), kNever);
  // Years of debt-free idleness at 1 byte/s refill exactly to the burst.
  Pacer slow;
  slow.update(0, kSecond, false, kMds);
  EXPECT_EQ(burst_at(slow, 0), 10);
  EXPECT_EQ(slow.next_send_time(0), 1200 * kSecond);
  EXPECT_EQ(burst_at(slow, kSecond * 3600 * 24 * 365 * 100), 10);
}

TEST(PacerTest, DebtIsBoundedByOneBurst) {
  Pacer p;
  p.update(120000, 100 * kMillisecond, false, kMds);  // 800 us per datagram
  // A caller that ignores the pacer for 1000 datagrams.
  for (int i = 0; i < 1000; ++i)
    p.on_sent(0, kMds);
  // Wait at most: one burst of debt plus one datagram.
  EXPECT_EQ(p.next_send_time(0), 11 * 800 * kMicrosecond);
  // An oversized datagram is charged in full (within the bound).
  Pacer q;
  q.update(120000, 100 * kMillisecond, false, kMds);
  q.on_sent(0, 5 * kMds);
  EXPECT_EQ(burst_at(q, 0), 5);  // 10 - 5 datagrams of tokens left
}

TEST(PacerTest, TimeGoingBackwardsIsHarmless) {
  Pacer p;
  p.update(120000, 100 * kMillisecond, false, kMds);
  burst_at(p, 10 * kSecond);
  // Asking with an earlier `now` does not allow an early datagram.
  EXPECT_EQ(p.next_send_time(5 * kSecond), 10 * kSecond + 800 * kMicrosecond);
  p.on_sent(5 * kSecond, kMds);  // charged, accrual still from 10 s
  EXPECT_EQ(p.next_send_time(10 * kSecond), 10 * kSecond + 1600 * kMicrosecond);
}

TEST(PacerTest, RateChangeTakesEffect) {
  Pacer p;
  p.update(120000, 100 * kMillisecond, false, kMds);
  burst_at(p, 0);
  EXPECT_EQ(p.next_send_time(0), 800 * kMicrosecond);
  p.update(240000, 100 * kMillisecond, false, kMds);  // twice the rate
  EXPECT_EQ(p.next_send_time(0), 400 * kMicrosecond);
  p.update(240000, 100 * kMillisecond, true, kMds);  // slow start: 2.0 instead of 1.25
  EXPECT_EQ(p.next_send_time(0), 250 * kMicrosecond);
}

}  // namespace
}  // namespace dquic
