// The worker's connection deadlines (runtime/connection_timers.h) on the
// timer wheel: the firing rule (never early, less than a tick late),
// rescheduling and cancelling, the bound on pop_due, and many reschedules
// against a reference.
#include "runtime/connection_timers.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

namespace dquic {
namespace {

constexpr Duration kUs = kMicrosecond;

std::vector<std::uint32_t> pop_all(ConnectionTimers& t, Time now) {
  std::vector<std::uint32_t> out;
  std::array<std::uint32_t, 4> buf{};
  for (;;) {
    const std::size_t n = t.pop_due(now, buf);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    if (n < buf.size()) return out;
  }
}

TEST(ConnectionTimers, FiresInDeadlineOrderAndNeverEarly) {
  ConnectionTimers t(8);
  t.schedule(3, 300 * kUs);
  t.schedule(1, 100 * kUs);
  t.schedule(2, 200 * kUs);
  EXPECT_EQ(t.next_deadline(), 100 * kUs);
  EXPECT_TRUE(pop_all(t, 100 * kUs - 1).empty());
  EXPECT_EQ(pop_all(t, 200 * kUs), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(t.deadline(1), kNever);  // fired: unscheduled
  EXPECT_EQ(t.scheduled(), 1u);
  EXPECT_EQ(pop_all(t, 1000 * kUs), (std::vector<std::uint32_t>{3}));
  EXPECT_EQ(t.next_deadline(), kNever);
  EXPECT_EQ(t.scheduled(), 0u);
}

// A deadline between ticks fires at the next tick: less than one tick late.
TEST(ConnectionTimers, LateByLessThanOneTick) {
  ConnectionTimers t(2);
  EXPECT_EQ(t.max_lateness(), kUs - 1);
  t.schedule(0, 5 * kUs + 1);
  EXPECT_TRUE(pop_all(t, 5 * kUs + 1).empty());
  EXPECT_TRUE(pop_all(t, 6 * kUs - 1).empty());
  EXPECT_EQ(pop_all(t, 6 * kUs), (std::vector<std::uint32_t>{0}));
}

TEST(ConnectionTimers, RescheduleAndCancelLeaveNoStaleFiring) {
  ConnectionTimers t(4);
  t.schedule(0, 100 * kUs);
  t.schedule(0, 500 * kUs);  // later
  t.schedule(1, 100 * kUs);
  t.cancel(1);
  t.schedule(2, 400 * kUs);
  t.schedule(2, 50 * kUs);  // earlier
  EXPECT_EQ(t.next_deadline(), 50 * kUs);
  EXPECT_EQ(pop_all(t, 450 * kUs), (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(pop_all(t, 500 * kUs), (std::vector<std::uint32_t>{0}));
  // The same deadline again is a no-op (no second firing).
  t.schedule(3, 700 * kUs);
  t.schedule(3, 700 * kUs);
  EXPECT_EQ(pop_all(t, 800 * kUs), (std::vector<std::uint32_t>{3}));
  EXPECT_TRUE(pop_all(t, 10000 * kUs).empty());
  EXPECT_EQ(t.scheduled(), 0u);
}

TEST(ConnectionTimers, PopDueStopsAtTheSpanAndKeepsTheRest) {
  ConnectionTimers t(200);
  for (std::uint32_t s = 0; s < 150; ++s)
    t.schedule(s, (10 + s) * kUs);
  std::array<std::uint32_t, 3> buf{};
  EXPECT_EQ(t.pop_due(1000 * kUs, buf), 3u);
  EXPECT_EQ(buf[0], 0u);
  EXPECT_EQ(buf[2], 2u);
  EXPECT_EQ(t.scheduled(), 147u);
  // More than the internal batch (64) at once.
  std::array<std::uint32_t, 100> big{};
  EXPECT_EQ(t.pop_due(1000 * kUs, big), 100u);
  EXPECT_EQ(big[0], 3u);
  EXPECT_EQ(big[99], 102u);
  EXPECT_EQ(t.scheduled(), 47u);
}

// Re-arming on every packet: the live set stays exact, and everything fires
// once, in deadline order at tick granularity, never early.
TEST(ConnectionTimers, ManyReschedulesAgainstAReference) {
  constexpr std::size_t kSlots = 32;
  ConnectionTimers t(kSlots);
  std::mt19937_64 rng(7);
  std::array<Time, kSlots> expected{};
  expected.fill(kNever);
  for (int i = 0; i < 100000; ++i) {
    const auto s = static_cast<std::uint32_t>(rng() % kSlots);
    const Time d = (rng() % 8 == 0) ? kNever : static_cast<Time>(1000 + rng() % 100'000'000);
    t.schedule(s, d);
    expected[s] = d;
  }
  std::size_t live = 0;
  for (std::uint32_t s = 0; s < kSlots; ++s) {
    EXPECT_EQ(t.deadline(s), expected[s]);
    live += expected[s] != kNever;
  }
  EXPECT_EQ(t.scheduled(), live);
  std::size_t fired = 0;
  std::array<std::uint32_t, 8> buf{};
  for (Time now = 0; now <= 200'000'000; now += 50 * kUs) {
    const std::size_t n = t.pop_due(now, buf);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_LE(expected[buf[i]], now);
      EXPECT_GT(expected[buf[i]] + 50 * kUs + kUs, now);  // at the first poll past it
      ++fired;
    }
    ASSERT_LT(n, buf.size());
  }
  EXPECT_EQ(fired, live);
}

}  // namespace
}  // namespace dquic
