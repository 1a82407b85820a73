// The deadlines of one worker's connections (Connection::next_timeout), by
// connection slot, on the worker's timer wheel (runtime/timer_wheel.h): O(1)
// to re-arm, which the loop does after every receive and send of a
// connection, and O(1) per firing.
//
// A deadline fires in the first pop_due() whose `now` reaches it rounded up
// to the wheel's tick, never before and less than one tick late (1 us by
// default). Everything is allocated in the constructor. Not thread-safe:
// one per worker.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "quic/timestamp.h"
#include "runtime/timer_wheel.h"

namespace dquic {

class ConnectionTimers {
 public:
  // Slots 0..slots-1. `start`: the current time (every `now` passed later is
  // at least this and never decreases).
  explicit ConnectionTimers(std::size_t slots, Time start = 0, Duration tick = kMicrosecond);

  // Arms `slot` for `deadline`, replacing its previous deadline; kNever
  // cancels.
  void schedule(std::uint32_t slot, Time deadline);
  void cancel(std::uint32_t slot) { schedule(slot, kNever); }
  Time deadline(std::uint32_t slot) const { return handles_[slot].deadline(); }

  // Stores up to out.size() slots that are due at `now` in `out`, in tick
  // order, unscheduled; returns their count. Fewer than out.size() means
  // nothing else is due.
  std::size_t pop_due(Time now, std::span<std::uint32_t> out);
  // A lower bound on the next firing (exact within the wheel's bottom
  // level); kNever when nothing is armed.
  Time next_deadline() const { return wheel_.next_event(); }

  std::size_t scheduled() const { return wheel_.size(); }
  std::size_t slots() const { return slots_; }
  Duration max_lateness() const { return wheel_.max_lateness(); }

 private:
  TimerWheel wheel_;
  std::unique_ptr<TimerHandle[]> handles_;  // not movable: one array, never resized
  std::size_t slots_;
  std::array<TimerHandle*, 64> scratch_{};
};

}  // namespace dquic
