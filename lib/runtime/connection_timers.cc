#include "runtime/connection_timers.h"

#include <algorithm>

namespace dquic {
namespace {

// std::*_heap build a max-heap: "later" compares less, so the top is the
// earliest deadline.
struct Later {
  template <class E>
  bool operator()(const E& a, const E& b) const {
    return a.deadline > b.deadline;
  }
};

}  // namespace

ConnectionTimers::ConnectionTimers(std::size_t slots)
    : deadlines_(slots, kNever), generations_(slots, 0) {
  // Live entries never exceed `slots`: compacting at 4x keeps the amortized
  // cost of a reschedule O(log n) and the vector at its reserved size.
  capacity_ = 4 * slots + 64;
  heap_.reserve(capacity_);
}

void ConnectionTimers::schedule(std::uint32_t slot, Time deadline) {
  if (deadlines_[slot] == deadline) return;
  if (deadlines_[slot] != kNever) --live_;
  ++generations_[slot];
  deadlines_[slot] = deadline;
  if (deadline == kNever) return;
  ++live_;
  if (heap_.size() == capacity_) compact();
  heap_.push_back({deadline, slot, generations_[slot]});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

void ConnectionTimers::pop_top() {
  std::pop_heap(heap_.begin(), heap_.end(), Later{});
  heap_.pop_back();
}

void ConnectionTimers::compact() {
  std::erase_if(heap_, [this](const Entry& e) { return !live(e); });
  std::make_heap(heap_.begin(), heap_.end(), Later{});
}

std::size_t ConnectionTimers::pop_due(Time now, std::span<std::uint32_t> out) {
  std::size_t n = 0;
  while (n < out.size() && !heap_.empty() && heap_.front().deadline <= now) {
    const Entry e = heap_.front();
    pop_top();
    if (!live(e)) continue;
    deadlines_[e.slot] = kNever;
    ++generations_[e.slot];
    --live_;
    out[n++] = e.slot;
  }
  return n;
}

Time ConnectionTimers::next_deadline() {
  while (!heap_.empty() && !live(heap_.front()))
    pop_top();
  return heap_.empty() ? kNever : heap_.front().deadline;
}

}  // namespace dquic
