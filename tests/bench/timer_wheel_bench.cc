// Per-worker timer wheel costs, medians of several runs: re-arming a
// connection's timer (what every sent or received packet does), and firing
// timers through poll(). 64k timers spread like a busy worker's connections.
#include <memory>
#include <random>
#include <vector>

#include "bench/bench.h"
#include "runtime/timer_wheel.h"

namespace dquic {
namespace {

constexpr int kReps = 9;
constexpr std::size_t kTimers = 65536;

struct Timers {
  explicit Timers(std::size_t n) : handles(new TimerHandle[n]) {}
  std::unique_ptr<TimerHandle[]> handles;
};

// Re-arm a random one of `timers` timers a little later than before (ACK
// delay / PTO moving forward), the clock advancing 100 ns per packet and the
// wheel polled every 1024 packets (so firings and cascades are included).
// With 64k timers the handles (3 MB) miss the cache, as a busy worker's would.
void bench_reschedule(const char* name, std::size_t timers, Duration spread) {
  TimerWheel w({.tick = kMicrosecond, .levels = 3});
  Timers t(timers);
  std::mt19937_64 rng(1);
  std::vector<std::uint32_t> ids(1 << 16);
  std::vector<Duration> offsets(1 << 16);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ids[i] = static_cast<std::uint32_t>(rng() % timers);
    offsets[i] = kMillisecond + static_cast<Duration>(rng() % static_cast<std::uint64_t>(spread));
  }
  for (std::size_t i = 0; i < timers; ++i)
    w.schedule(t.handles[i], offsets[i % offsets.size()]);
  Time now = 0;
  std::array<TimerHandle*, 64> out{};
  const auto r = bench::measure(20'000'000, kReps, [&](std::uint64_t ops) {
    for (std::uint64_t i = 0; i < ops; ++i) {
      const std::size_t k = i & (ids.size() - 1);
      w.schedule(t.handles[ids[k]], now + offsets[k]);
      now += 100;
      if ((i & 1023) == 0) {
        // Keep the wheel turning as the runtime would, once per loop.
        while (w.poll(now, out) == out.size()) {
        }
      }
    }
  });
  bench::keep(w.size());
  bench::report(name, r);
}

// Cost per fired timer: schedule a batch due within a few ticks, then poll it
// out in bursts of 32 (includes the schedule, reported separately above).
void bench_expiry() {
  TimerWheel w({.tick = kMicrosecond, .levels = 3});
  Timers t(kTimers);
  Time now = 0;
  std::array<TimerHandle*, 32> out{};
  std::mt19937_64 rng(2);
  std::vector<Duration> offsets(kTimers);
  for (auto& o : offsets)
    o = static_cast<Duration>(rng() % (50 * kMicrosecond));
  std::uint64_t fired = 0;
  const auto r = bench::measure(20'000'000, kReps, [&](std::uint64_t ops) {
    for (std::uint64_t done = 0; done < ops;) {
      const std::size_t n = std::min<std::uint64_t>(ops - done, kTimers);
      for (std::size_t i = 0; i < n; ++i)
        w.schedule(t.handles[i], now + offsets[i]);
      now += 100 * kMicrosecond;
      std::size_t got;
      while ((got = w.poll(now, out)) > 0)
        fired += got;
      done += n;
    }
  });
  bench::keep(fired);
  bench::report("schedule + expire (64k due in 50 us)", r);

  // Expiry alone: the schedules are timed separately and subtracted.
  const auto s = bench::measure(20'000'000, kReps, [&](std::uint64_t ops) {
    for (std::uint64_t done = 0; done < ops;) {
      const std::size_t n = std::min<std::uint64_t>(ops - done, kTimers);
      for (std::size_t i = 0; i < n; ++i)
        w.schedule(t.handles[i], now + offsets[i]);
      for (std::size_t i = 0; i < n; ++i)
        w.cancel(t.handles[i]);
      done += n;
    }
  });
  bench::report("schedule + cancel (same timers)", s);
  std::printf("%-40s %9.2f ns/op (difference of the two above)\n", "expire via poll, per timer",
              r.ns_per_op - s.ns_per_op);
}

}  // namespace
}  // namespace dquic

int main() {
  std::printf("dquic timer wheel (tick 1 us, 3 levels), median of %d runs\n", dquic::kReps);
  dquic::bench_reschedule("reschedule 1k timers, +1..2 ms", 1024, dquic::kMillisecond);
  dquic::bench_reschedule("reschedule 64k timers, +1..2 ms", 65536, dquic::kMillisecond);
  dquic::bench_reschedule("reschedule 64k timers, +1 ms..30 s", 65536, 30 * dquic::kSecond);
  dquic::bench_expiry();
  return 0;
}
