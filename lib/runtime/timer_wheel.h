// Per-worker (lcore) timers for connections: loss/PTO, ACK delay, idle,
// pacing, path validation. A hierarchical timing wheel (Varghese & Lauck,
// "Hashed and Hierarchical Timing Wheels", 1987) over intrusive handles:
// schedule, cancel and reschedule are O(1) and allocation-free, so a
// connection can re-arm its timer on every packet. No locks: one wheel per
// worker, used by that worker only.
//
// Layout: `levels` wheels of 256 slots; level k slots are tick * 256^k wide
// (tick = 1 us, 3 levels: 256 us / 65.5 ms / 16.8 s per revolution). A timer
// is placed at the level given by the highest byte in which its expiry tick
// differs from the wheel's current tick; when the current tick enters a
// higher-level slot, that slot's timers cascade down. Timers beyond the top
// level wait in an overflow list, re-examined at the start of the top-level
// revolution holding the earliest of them.
//
// Firing rule (the bound the runtime relies on): a timer with deadline d
// fires in the first poll()/expire() whose `now` >= start + ceil((d - start)
// / tick) * tick, i.e. never before d, and at most tick - 1 ns after the
// first `now` >= d that the caller passes (max_lateness()). A deadline
// already reached when scheduled fires at the next poll. Timers due at the
// same tick fire in the order they were (last) scheduled; within a tick the
// ns deadlines are not sorted. (A deadline less than one tick before kNever
// rounds past the last representable time and never fires.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>

#include "quic/timestamp.h"

namespace dquic {

class TimerWheel;

namespace timer_detail {
// Node of a circular doubly-linked list: each slot has a sentinel, so unlink
// needs no branch on list ends.
struct Link {
  Link* next = nullptr;
  Link* prev = nullptr;
};
}  // namespace timer_detail

// Embedded in the state of whatever owns the timer (a connection); recover the
// owner from the handle passed back by the wheel. Neither copyable nor
// movable: the wheel links to it. Destroying a scheduled handle cancels it.
class TimerHandle : private timer_detail::Link {
 public:
  TimerHandle() = default;
  ~TimerHandle();
  TimerHandle(const TimerHandle&) = delete;
  TimerHandle& operator=(const TimerHandle&) = delete;

  bool scheduled() const { return wheel_ != nullptr; }
  // kNever when not scheduled (never armed, cancelled, or fired).
  Time deadline() const { return deadline_; }

 private:
  friend class TimerWheel;
  TimerWheel* wheel_ = nullptr;
  Time deadline_ = kNever;
  std::uint64_t tick_ = 0;  // expiry tick, relative to the wheel's start
  std::uint32_t list_ = 0;  // which list holds it (TimerWheel::list_index)
};

struct TimerWheelConfig {
  // Lowest-level granularity and the lateness bound (a power of two in ns
  // is a little cheaper: shifts instead of divisions).
  Duration tick = kMicrosecond;
  // 256 slots each; the horizon beyond which timers wait in the overflow list
  // is tick * 256^levels (1 us and 3 levels: 16.8 s).
  unsigned levels = 3;

  static constexpr unsigned kMaxLevels = 7;
  bool valid() const { return tick > 0 && levels >= 1 && levels <= kMaxLevels; }
};

class TimerWheel {
 public:
  static constexpr std::size_t kSlots = 256;

  // Allocates all slots; nothing is allocated afterwards. `start` is the
  // current time: every `now` passed later must be >= start and must not
  // decrease. `config` must be valid().
  explicit TimerWheel(const TimerWheelConfig& config = {}, Time start = 0);
  // Unschedules every handle still linked (they stay valid, unscheduled).
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Arms `h` for `deadline`, first unlinking it from wherever it was (this
  // wheel or another one). kNever cancels.
  void schedule(TimerHandle& h, Time deadline);
  // No-op when `h` is not scheduled.
  void cancel(TimerHandle& h);

  // Stores up to out.size() due timers in `out`, unscheduled, and returns
  // their count; fewer than out.size() means nothing else is due at `now`.
  // The caller may then re-arm or destroy them; note that handling out[0] may
  // destroy the owner of out[1] (use expire() when that can happen).
  std::size_t poll(Time now, std::span<TimerHandle*> out);

  // Calls on_fire(TimerHandle&) for each due timer, one at a time, at most
  // `limit` times; returns how many fired. The handle is unscheduled when the
  // callback runs; the callback may schedule, cancel or destroy any handle.
  // A handle re-armed at or before `now` from the callback fires again in the
  // same call: `limit` bounds that.
  template <class OnFire>
  std::size_t expire(Time now, OnFire&& on_fire,
                     std::size_t limit = std::numeric_limits<std::size_t>::max()) {
    const std::uint64_t target = floor_tick(now);
    std::size_t n = 0;
    while (n < limit) {
      TimerHandle* h = pop_due(target);
      if (h == nullptr) break;
      ++n;
      on_fire(*h);
    }
    return n;
  }

  // A lower bound on the earliest deadline's firing time: exact when that
  // timer sits in the bottom level, otherwise the time of the next cascade
  // (a worker may sleep until then). kNever when nothing is scheduled.
  Time next_event() const;

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Duration tick() const { return tick_; }
  unsigned levels() const { return levels_; }
  // Timers further than this from the current tick wait in the overflow list.
  Duration horizon() const;
  Duration max_lateness() const { return tick_ - 1; }

 private:
  using Link = timer_detail::Link;

  // Lists: level * kSlots + slot, then the ready list, then overflow.
  std::uint32_t ready_list() const { return levels_ * kSlots; }
  std::uint32_t overflow_list() const { return levels_ * kSlots + 1; }

  std::uint64_t floor_tick(Time t) const;
  std::uint64_t ceil_tick(Time t) const;
  Time tick_time(std::uint64_t tick) const;

  void link(TimerHandle& h);  // by h.tick_, relative to cur_
  void append(std::uint32_t list, TimerHandle& h);
  void unlink(TimerHandle& h);
  TimerHandle* pop_due(std::uint64_t target);
  // Moves the wheel towards `target` until a timer is ready or it gets there.
  void advance(std::uint64_t target);
  // The next tick at which a slot needs processing, and which one.
  bool next_slot(std::uint64_t* tick, unsigned* level, unsigned* slot) const;
  int next_occupied(unsigned level, unsigned from) const;
  void cascade(std::uint32_t list);

  Duration tick_;
  int tick_shift_;  // log2(tick) when a power of two, else -1
  unsigned levels_;
  Time start_;
  std::uint64_t cur_ = 0;  // every tick <= cur_ has been processed
  std::size_t size_ = 0;
  std::uint64_t overflow_min_ = ~std::uint64_t{0};  // lower bound of overflow ticks
  std::unique_ptr<Link[]> lists_;
  // Per level, one bit per non-empty slot.
  std::unique_ptr<std::uint64_t[]> occupied_;
};

inline TimerHandle::~TimerHandle() {
  if (wheel_ != nullptr) wheel_->cancel(*this);
}

}  // namespace dquic
