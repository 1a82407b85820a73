// The worker's connection deadlines (runtime/connection_timers.h): order,
// rescheduling and cancelling with lazy deletion, the firing rule, and the
// compaction that keeps the heap within its reserved capacity.
#include "runtime/connection_timers.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

namespace dquic {
namespace {

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
  t.schedule(3, 300);
  t.schedule(1, 100);
  t.schedule(2, 200);
  EXPECT_EQ(t.next_deadline(), 100);
  EXPECT_TRUE(pop_all(t, 99).empty());
  EXPECT_EQ(pop_all(t, 200), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(t.deadline(1), kNever);  // fired: unscheduled
  EXPECT_EQ(t.scheduled(), 1u);
  EXPECT_EQ(pop_all(t, 1000), (std::vector<std::uint32_t>{3}));
  EXPECT_EQ(t.next_deadline(), kNever);
  EXPECT_EQ(t.scheduled(), 0u);
}

TEST(ConnectionTimers, RescheduleAndCancelLeaveNoStaleFiring) {
  ConnectionTimers t(4);
  t.schedule(0, 100);
  t.schedule(0, 500);  // later: the entry at 100 is stale
  t.schedule(1, 100);
  t.cancel(1);
  t.schedule(2, 400);
  t.schedule(2, 50);  // earlier
  EXPECT_EQ(t.next_deadline(), 50);
  EXPECT_EQ(pop_all(t, 450), (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(t.next_deadline(), 500);
  EXPECT_EQ(pop_all(t, 500), (std::vector<std::uint32_t>{0}));
  // The same deadline again is a no-op (no second firing).
  t.schedule(3, 700);
  t.schedule(3, 700);
  EXPECT_EQ(pop_all(t, 800), (std::vector<std::uint32_t>{3}));
  EXPECT_TRUE(pop_all(t, 10000).empty());
}

TEST(ConnectionTimers, PopDueStopsAtTheSpanAndKeepsTheRest) {
  ConnectionTimers t(16);
  for (std::uint32_t s = 0; s < 10; ++s)
    t.schedule(s, 10 + s);
  std::array<std::uint32_t, 3> buf{};
  EXPECT_EQ(t.pop_due(100, buf), 3u);
  EXPECT_EQ(buf[0], 0u);
  EXPECT_EQ(buf[2], 2u);
  EXPECT_EQ(t.scheduled(), 7u);
  EXPECT_EQ(t.next_deadline(), 13);
}

// Rescheduling on every packet must not grow the heap past its capacity:
// stale entries are compacted away, and the live set stays exact.
TEST(ConnectionTimers, ManyReschedulesStayWithinCapacity) {
  constexpr std::size_t kSlots = 32;
  ConnectionTimers t(kSlots);
  std::mt19937_64 rng(7);
  std::array<Time, kSlots> expected{};
  expected.fill(kNever);
  for (int i = 0; i < 100000; ++i) {
    const auto s = static_cast<std::uint32_t>(rng() % kSlots);
    const Time d = (rng() % 8 == 0) ? kNever : static_cast<Time>(1000 + rng() % 100000);
    t.schedule(s, d);
    expected[s] = d;
    ASSERT_LE(t.entries(), t.capacity());
  }
  std::size_t live = 0;
  for (std::uint32_t s = 0; s < kSlots; ++s) {
    EXPECT_EQ(t.deadline(s), expected[s]);
    live += expected[s] != kNever;
  }
  EXPECT_EQ(t.scheduled(), live);
  // Everything fires once, in order.
  Time last = 0;
  std::size_t fired = 0;
  std::array<std::uint32_t, 1> one{};
  while (t.pop_due(kNever - 1, one) == 1) {
    EXPECT_GE(expected[one[0]], last);
    last = expected[one[0]];
    ++fired;
  }
  EXPECT_EQ(fired, live);
}

}  // namespace
}  // namespace dquic
