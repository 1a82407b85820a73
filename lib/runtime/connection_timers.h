// The deadlines of one worker's connections (Connection::next_timeout), by
// connection slot: the seam between the poll loop and its timer structure.
//
// Today a binary min-heap of (deadline, slot, generation) with lazy
// deletion: rescheduling pushes a new entry and bumps the slot's
// generation, so the old entry is skipped when it surfaces. The heap is
// compacted (stale entries dropped, O(n)) before it outgrows the capacity
// reserved at construction, so steady state never allocates; schedule and
// pop are O(log n). A timer wheel (O(1) per operation) can replace it behind
// the same four calls.
//
// A deadline fires in the first pop_due() whose `now` >= deadline, never
// before. Not thread-safe: one per worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "quic/timestamp.h"

namespace dquic {

class ConnectionTimers {
 public:
  // Slots 0..slots-1; allocates everything here.
  explicit ConnectionTimers(std::size_t slots);

  // Arms `slot` for `deadline`, replacing its previous deadline; kNever
  // cancels. The same deadline again is a no-op.
  void schedule(std::uint32_t slot, Time deadline);
  void cancel(std::uint32_t slot) { schedule(slot, kNever); }
  Time deadline(std::uint32_t slot) const { return deadlines_[slot]; }

  // Stores up to out.size() slots whose deadline is <= now in `out`,
  // earliest first, unscheduled; returns their count. Fewer than out.size()
  // means nothing else is due.
  std::size_t pop_due(Time now, std::span<std::uint32_t> out);
  // The earliest deadline, kNever when none (drops stale entries on top).
  Time next_deadline();

  std::size_t scheduled() const { return live_; }
  std::size_t slots() const { return deadlines_.size(); }
  // Heap entries, stale ones included (tests of the compaction bound).
  std::size_t entries() const { return heap_.size(); }
  std::size_t capacity() const { return capacity_; }

 private:
  struct Entry {
    Time deadline;
    std::uint32_t slot;
    std::uint32_t generation;
  };
  bool live(const Entry& e) const {
    return e.generation == generations_[e.slot] && deadlines_[e.slot] == e.deadline;
  }
  void pop_top();
  void compact();

  std::vector<Entry> heap_;
  std::vector<Time> deadlines_;
  std::vector<std::uint32_t> generations_;
  std::size_t live_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace dquic
