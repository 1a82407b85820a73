// The lcore timer wheel against a reference model (a multimap of deadlines):
// random schedule / cancel / reschedule with an advancing clock, every timer
// fires exactly once, in the first poll whose `now` reaches its deadline
// rounded up to a tick, never early; cascades, overflow, ordering within a
// tick, batches, callbacks that cancel or re-arm, handle and wheel lifetime.
#include "runtime/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

namespace dquic {
namespace {

// Owner recovered from the handle, as a connection would (here by
// derivation; a connection may as well embed the handle as a member).
struct Owner : TimerHandle {
  explicit Owner(int i = 0) : id(i) {}
  int id;
  TimerHandle& timer = *this;
};

Owner* owner_of(TimerHandle* h) {
  return static_cast<Owner*>(h);
}

std::vector<int> poll_all(TimerWheel& w, Time now, std::size_t batch = 64) {
  std::vector<int> fired;
  std::vector<TimerHandle*> out(batch);
  for (;;) {
    const std::size_t n = w.poll(now, out);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_FALSE(out[i]->scheduled());
      EXPECT_EQ(out[i]->deadline(), kNever);
      fired.push_back(owner_of(out[i])->id);
    }
    if (n < batch) break;
  }
  return fired;
}

TEST(TimerWheel, FiresAtDeadlineNotBefore) {
  TimerWheel w({.tick = kMicrosecond, .levels = 3});
  Owner a(1);
  w.schedule(a.timer, 10 * kMicrosecond);
  EXPECT_TRUE(a.timer.scheduled());
  EXPECT_EQ(a.timer.deadline(), 10 * kMicrosecond);
  EXPECT_EQ(w.size(), 1u);
  EXPECT_TRUE(poll_all(w, 10 * kMicrosecond - 1).empty());
  EXPECT_EQ(poll_all(w, 10 * kMicrosecond), std::vector<int>{1});
  EXPECT_FALSE(a.timer.scheduled());
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.next_event(), kNever);
}

TEST(TimerWheel, LatenessBoundedByOneTick) {
  // A deadline inside a tick fires at the tick's end: late by < one tick.
  TimerWheel w({.tick = kMicrosecond, .levels = 3});
  Owner a(1);
  w.schedule(a.timer, 10 * kMicrosecond + 1);
  EXPECT_EQ(w.max_lateness(), kMicrosecond - 1);
  EXPECT_TRUE(poll_all(w, 10 * kMicrosecond + 1).empty());
  EXPECT_TRUE(poll_all(w, 11 * kMicrosecond - 1).empty());
  EXPECT_EQ(poll_all(w, 11 * kMicrosecond), std::vector<int>{1});
}

TEST(TimerWheel, PastDeadlineFiresOnNextPoll) {
  TimerWheel w({}, 5 * kMillisecond);
  Owner a(1), b(2);
  w.schedule(a.timer, 1 * kMillisecond);  // before the wheel's start
  EXPECT_TRUE(poll_all(w, 6 * kMillisecond).size() == 1);
  w.schedule(b.timer, 6 * kMillisecond);  // exactly the last `now`
  EXPECT_EQ(w.next_event(), 6 * kMillisecond);
  EXPECT_EQ(poll_all(w, 6 * kMillisecond), std::vector<int>{2});
}

TEST(TimerWheel, NeverCancels) {
  TimerWheel w;
  Owner a(1);
  w.schedule(a.timer, kNever);
  EXPECT_FALSE(a.timer.scheduled());
  EXPECT_TRUE(w.empty());
  w.schedule(a.timer, kMillisecond);
  w.schedule(a.timer, kNever);
  EXPECT_FALSE(a.timer.scheduled());
  EXPECT_EQ(a.timer.deadline(), kNever);
  EXPECT_TRUE(w.empty());
  w.cancel(a.timer);  // idempotent
  EXPECT_TRUE(poll_all(w, kSecond).empty());
}

TEST(TimerWheel, RescheduleMovesEarlierAndLater) {
  TimerWheel w;
  Owner a(1);
  w.schedule(a.timer, 50 * kMillisecond);
  w.schedule(a.timer, 20 * kMicrosecond);
  EXPECT_EQ(w.size(), 1u);
  EXPECT_TRUE(poll_all(w, 19 * kMicrosecond).empty());
  w.schedule(a.timer, 2 * kSecond);
  EXPECT_TRUE(poll_all(w, kSecond).empty());
  EXPECT_EQ(poll_all(w, 2 * kSecond), std::vector<int>{1});
}

// Boundaries of each level (tick = 1 ns makes ticks and times equal).
TEST(TimerWheel, CascadesAcrossLevels) {
  const std::vector<Time> deadlines = {1,
                                       2,
                                       255,
                                       256,
                                       257,
                                       511,
                                       512,
                                       65535,
                                       65536,
                                       65537,
                                       65791,
                                       131072,
                                       16777215,
                                       16777216,
                                       16777217,
                                       33554431,
                                       1 << 25,
                                       (1 << 25) + 1,
                                       4294967295LL,
                                       4294967296LL,
                                       4294967297LL,
                                       1099511627776LL};
  for (int step : {1, 7, 300, 70000}) {
    TimerWheel w({.tick = 1, .levels = 3});
    std::vector<Owner> owners(deadlines.size());
    for (std::size_t i = 0; i < deadlines.size(); ++i) {
      owners[i].id = static_cast<int>(i);
      w.schedule(owners[i].timer, deadlines[i]);
    }
    Time now = 0, prev = 0;
    std::size_t fired = 0;
    while (fired < deadlines.size()) {
      // Exponential steps reach the far deadlines; each is checked against
      // the window (prev, now].
      prev = now;
      now = now < 1'000'000 ? now + step : now + now / 8;
      for (int id : poll_all(w, now)) {
        EXPECT_GT(deadlines[id], prev) << "late: " << deadlines[id];
        EXPECT_LE(deadlines[id], now) << "early: " << deadlines[id];
        ++fired;
      }
    }
    EXPECT_TRUE(w.empty());
  }
}

TEST(TimerWheel, FarFutureBeyondHorizon) {
  TimerWheel w({.tick = kMicrosecond, .levels = 2});  // horizon 65.5 ms
  EXPECT_EQ(w.horizon(), 65536 * kMicrosecond);
  std::vector<Owner> owners(5);
  const std::vector<Time> deadlines = {10 * 60 * kSecond, 3600 * kSecond, 100 * kMillisecond,
                                       kNever - 1, 66 * kMillisecond};
  for (std::size_t i = 0; i < owners.size(); ++i) {
    owners[i].id = static_cast<int>(i);
    w.schedule(owners[i].timer, deadlines[i]);
  }
  EXPECT_LE(w.next_event(), 66 * kMillisecond);
  EXPECT_EQ(poll_all(w, 66 * kMillisecond - 1), std::vector<int>{});
  EXPECT_EQ(poll_all(w, 66 * kMillisecond), std::vector<int>{4});
  EXPECT_EQ(poll_all(w, 100 * kMillisecond), std::vector<int>{2});
  EXPECT_EQ(poll_all(w, 10 * 60 * kSecond - 1), std::vector<int>{});
  EXPECT_EQ(poll_all(w, 10 * 60 * kSecond), std::vector<int>{0});
  // A big jump at once.
  EXPECT_EQ(poll_all(w, 7200 * kSecond), std::vector<int>{1});
  // Decades away, reached in one jump (no walk over every revolution).
  Owner decades(5);
  w.schedule(decades.timer, 1'000'000'000'000'000'000LL);
  EXPECT_EQ(poll_all(w, 1'000'000'000'000'000'000LL - 1), std::vector<int>{});
  EXPECT_EQ(poll_all(w, 1'000'000'000'000'000'000LL), std::vector<int>{5});
  // kNever - 1 rounds up past the last representable time: it stays armed.
  EXPECT_EQ(poll_all(w, kNever - 1), std::vector<int>{});
  EXPECT_TRUE(owners[3].timer.scheduled());
  EXPECT_EQ(w.size(), 1u);
}

TEST(TimerWheel, SameTickFiresInSchedulingOrder) {
  TimerWheel w({.tick = kMicrosecond, .levels = 3});
  std::vector<Owner> owners(6);
  for (std::size_t i = 0; i < owners.size(); ++i)
    owners[i].id = static_cast<int>(i);
  // All in the tick ending at 70 ms (a level-2 slot from here); varying ns
  // within the tick, and some added after cascades.
  const Time t = 70 * kMillisecond;
  w.schedule(owners[3].timer, t - 5);
  w.schedule(owners[0].timer, t);
  w.schedule(owners[1].timer, t - 100);
  EXPECT_TRUE(poll_all(w, 69 * kMillisecond).empty());
  w.schedule(owners[4].timer, t - 900);  // lands in a lower level now
  w.schedule(owners[2].timer, t - 1);
  w.schedule(owners[3].timer, t - 3);  // re-armed: moves to the back
  EXPECT_TRUE(poll_all(w, t - kMicrosecond).empty());
  w.schedule(owners[5].timer, t - 2);
  EXPECT_EQ(poll_all(w, t), (std::vector<int>{0, 1, 4, 2, 3, 5}));
}

TEST(TimerWheel, BatchedPoll) {
  TimerWheel w;
  std::vector<Owner> owners(1000);
  for (std::size_t i = 0; i < owners.size(); ++i) {
    owners[i].id = static_cast<int>(i);
    w.schedule(owners[i].timer, static_cast<Time>(i % 10) * kMicrosecond + kMillisecond);
  }
  std::array<TimerHandle*, 16> out{};
  std::vector<int> fired;
  std::size_t n;
  do {
    n = w.poll(2 * kMillisecond, out);
    EXPECT_LE(n, out.size());
    for (std::size_t i = 0; i < n; ++i)
      fired.push_back(owner_of(out[i])->id);
  } while (n == out.size());
  ASSERT_EQ(fired.size(), owners.size());
  // Tick order, scheduling order within a tick.
  for (std::size_t i = 1; i < fired.size(); ++i) {
    const int a = fired[i - 1], b = fired[i];
    EXPECT_TRUE(a % 10 < b % 10 || (a % 10 == b % 10 && a < b)) << a << " then " << b;
  }
}

TEST(TimerWheel, ExpireCallbackCancelsAndRearms) {
  TimerWheel w;
  std::vector<Owner> owners(4);
  for (std::size_t i = 0; i < owners.size(); ++i) {
    owners[i].id = static_cast<int>(i);
    w.schedule(owners[i].timer, 100 * kMicrosecond);
  }
  std::vector<int> fired;
  const std::size_t n = w.expire(100 * kMicrosecond, [&](TimerHandle& h) {
    Owner* o = owner_of(&h);
    fired.push_back(o->id);
    EXPECT_FALSE(h.scheduled());
    if (o->id == 0) w.cancel(owners[2].timer);                        // due, not fired yet
    if (o->id == 1) w.schedule(h, 300 * kMicrosecond);                // re-arm itself later
    if (o->id == 3) w.schedule(owners[0].timer, 200 * kMicrosecond);  // re-arm a fired one
  });
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(fired, (std::vector<int>{0, 1, 3}));
  EXPECT_FALSE(owners[2].timer.scheduled());
  EXPECT_EQ(w.size(), 2u);
  fired.clear();
  w.expire(1 * kMillisecond, [&](TimerHandle& h) { fired.push_back(owner_of(&h)->id); });
  EXPECT_EQ(fired, (std::vector<int>{0, 1}));
}

TEST(TimerWheel, ExpireLimitBoundsRearmInThePast) {
  TimerWheel w;
  Owner a(1);
  w.schedule(a.timer, kMicrosecond);
  // Re-arming at `now` fires again in the same call; the limit stops it.
  const std::size_t n = w.expire(
      kMillisecond, [&](TimerHandle& h) { w.schedule(h, kMillisecond); }, 5);
  EXPECT_EQ(n, 5u);
  EXPECT_TRUE(a.timer.scheduled());
}

TEST(TimerWheel, ExpireCallbackDestroysAnotherOwner) {
  TimerWheel w;
  auto victim = std::make_unique<Owner>();
  victim->id = 2;
  Owner killer(1);
  w.schedule(killer.timer, kMicrosecond);
  w.schedule(victim->timer, kMicrosecond);
  std::vector<int> fired;
  w.expire(kMillisecond, [&](TimerHandle& h) {
    fired.push_back(owner_of(&h)->id);
    victim.reset();  // its destructor unlinks the due handle
  });
  EXPECT_EQ(fired, std::vector<int>{1});
  EXPECT_TRUE(w.empty());
}

TEST(TimerWheel, HandleDestroyedWhileScheduled) {
  TimerWheel w;
  Owner keep(1);
  w.schedule(keep.timer, 5 * kMillisecond);
  {
    Owner gone_low(2), gone_high(3), gone_overflow(4);
    w.schedule(gone_low.timer, 5 * kMillisecond);  // same slot as `keep`
    w.schedule(gone_high.timer, 10 * kSecond);
    w.schedule(gone_overflow.timer, 3600 * kSecond);
    EXPECT_EQ(w.size(), 4u);
  }
  EXPECT_EQ(w.size(), 1u);
  EXPECT_EQ(poll_all(w, 7200 * kSecond), std::vector<int>{1});
}

TEST(TimerWheel, WheelDestroyedFirstUnschedulesHandles) {
  Owner a(1), b(2);
  {
    TimerWheel w;
    w.schedule(a.timer, kMillisecond);
    w.schedule(b.timer, kMicrosecond);
    EXPECT_EQ(poll_all(w, kMicrosecond), std::vector<int>{2});
    w.schedule(b.timer, 0);  // in the ready list when the wheel goes
  }
  EXPECT_FALSE(a.timer.scheduled());
  EXPECT_FALSE(b.timer.scheduled());
  EXPECT_EQ(a.timer.deadline(), kNever);
}

TEST(TimerWheel, MovesBetweenWheels) {
  TimerWheel w1, w2;
  Owner a(1);
  w1.schedule(a.timer, kMillisecond);
  w2.schedule(a.timer, 2 * kMillisecond);
  EXPECT_TRUE(w1.empty());
  EXPECT_EQ(w2.size(), 1u);
  w1.cancel(a.timer);  // cancels on the wheel that holds it
  EXPECT_TRUE(w2.empty());
}

TEST(TimerWheel, NextEventIsALowerBound) {
  TimerWheel w({.tick = kMicrosecond, .levels = 3});
  Owner a(1);
  w.schedule(a.timer, 100 * kMicrosecond + 1);
  EXPECT_EQ(w.next_event(), 101 * kMicrosecond);  // bottom level: exact
  w.schedule(a.timer, 5 * kMillisecond + 1);
  EXPECT_LE(w.next_event(), 5 * kMillisecond + kMicrosecond);
  EXPECT_GT(w.next_event(), 0);
}

// The random workload against the reference model.
struct ModelParams {
  Duration tick;
  unsigned levels;
  std::size_t ops;
  std::size_t batch;
};

class TimerWheelModel : public ::testing::TestWithParam<ModelParams> {};

TEST_P(TimerWheelModel, MatchesReference) {
  const ModelParams p = GetParam();
  constexpr std::size_t kTimers = 4096;
  const Time start = 123456789;
  TimerWheel w({.tick = p.tick, .levels = p.levels}, start);
  std::vector<Owner> owners(kTimers);
  for (std::size_t i = 0; i < kTimers; ++i)
    owners[i].id = static_cast<int>(i);

  std::multimap<Time, int> model;
  std::vector<std::multimap<Time, int>::iterator> where(kTimers, model.end());
  // The time a deadline is due at tick granularity.
  const auto rounded = [&](Time d) {
    if (d <= start) return start;
    return start + ((d - start - 1) / p.tick + 1) * p.tick;
  };
  const auto model_cancel = [&](int id) {
    if (where[id] != model.end()) model.erase(where[id]);
    where[id] = model.end();
  };

  std::mt19937_64 rng(p.tick * 31 + p.levels);
  Time now = start;
  Duration max_late = 0;
  std::uint64_t fired_total = 0, scheduled_total = 0;
  std::vector<TimerHandle*> out(p.batch);

  const auto draw_deadline = [&]() -> Time {
    const unsigned c = rng() % 100;
    if (c < 15) return now + static_cast<Duration>(rng() % (10 * kMicrosecond));
    if (c < 55) return now + 10 * kMicrosecond + static_cast<Duration>(rng() % kMillisecond);
    if (c < 80) return now + kMillisecond + static_cast<Duration>(rng() % (100 * kMillisecond));
    if (c < 90) return now + 100 * kMillisecond + static_cast<Duration>(rng() % (30 * kSecond));
    if (c < 95) return now + 30 * kSecond + static_cast<Duration>(rng() % (600 * kSecond));
    return now - static_cast<Duration>(rng() % kMillisecond);  // already due
  };

  for (std::size_t op = 0; op < p.ops;) {
    // Advance the clock: mostly small steps, sometimes long idle periods.
    const unsigned c = rng() % 1000;
    Duration step = static_cast<Duration>(rng() % (20 * kMicrosecond));
    if (c < 50) step = static_cast<Duration>(rng() % (10 * kMillisecond));
    if (c == 0) step = static_cast<Duration>(rng() % (100 * kSecond));
    now += step;

    for (;;) {
      const std::size_t n = w.poll(now, out);
      for (std::size_t i = 0; i < n; ++i) {
        const int id = owner_of(out[i])->id;
        ASSERT_NE(where[id], model.end()) << "fired twice or never scheduled: " << id;
        const Time d = where[id]->first;
        ASSERT_LE(d, now) << "early";
        ASSERT_LE(rounded(d), now);
        ASSERT_LT(rounded(d) - std::max(d, start), p.tick);
        model_cancel(id);
        ++fired_total;
      }
      if (n < out.size()) break;
    }
    // Everything due has fired: the first poll reaching a rounded deadline
    // fires it, so lateness is the caller's step plus less than one tick.
    if (!model.empty()) {
      ASSERT_GT(rounded(model.begin()->first), now) << "missed a due timer";
      ASSERT_LE(w.next_event(), rounded(model.begin()->first));
    } else {
      ASSERT_EQ(w.next_event(), kNever);
    }
    ASSERT_EQ(w.size(), model.size());

    // A burst of operations, as packets of many connections would cause.
    const unsigned burst = 1 + static_cast<unsigned>(rng() % 8);
    for (unsigned b = 0; b < burst; ++b, ++op) {
      const int id = static_cast<int>(rng() % kTimers);
      const unsigned kind = rng() % 100;
      if (kind < 70) {
        const Time d = draw_deadline();
        w.schedule(owners[id].timer, d);
        model_cancel(id);
        where[id] = model.emplace(d, id);
        ++scheduled_total;
        max_late = std::max(max_late, rounded(d) - std::max(d, start));
      } else if (kind < 90) {
        w.cancel(owners[id].timer);
        model_cancel(id);
      } else {
        w.schedule(owners[id].timer, kNever);
        model_cancel(id);
      }
      ASSERT_EQ(owners[id].timer.scheduled(), where[id] != model.end());
      ASSERT_EQ(owners[id].timer.deadline(), where[id] != model.end() ? where[id]->first : kNever);
    }
  }
  // Run everything out.
  now += 3600 * kSecond;
  while (!model.empty()) {
    const std::size_t n = w.poll(now, out);
    ASSERT_GT(n, 0u);
    for (std::size_t i = 0; i < n; ++i) {
      const int id = owner_of(out[i])->id;
      ASSERT_NE(where[id], model.end());
      ASSERT_LE(where[id]->first, now);
      model_cancel(id);
      ++fired_total;
    }
  }
  EXPECT_TRUE(w.empty());
  EXPECT_LT(max_late, p.tick);
  EXPECT_GT(fired_total, scheduled_total / 10);  // the workload does fire timers
}

INSTANTIATE_TEST_SUITE_P(
    Configs, TimerWheelModel,
    ::testing::Values(ModelParams{1000, 3, 2'000'000, 64},        // 1 us, divisions
                      ModelParams{1024, 3, 2'000'000, 5},         // power of two, small batches
                      ModelParams{64, 2, 500'000, 16},            // horizon 4 ms: overflow busy
                      ModelParams{kMicrosecond, 1, 200'000, 64},  // one level
                      ModelParams{1, 4, 500'000, 32}),            // 1 ns ticks, 4 levels
    [](const ::testing::TestParamInfo<ModelParams>& info) {
      return "tick" + std::to_string(info.param.tick) + "_levels" +
             std::to_string(info.param.levels);
    });

}  // namespace
}  // namespace dquic
