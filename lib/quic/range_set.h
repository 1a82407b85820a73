// A set of disjoint, non-adjacent closed integer ranges with a fixed capacity
// chosen at construction, so that a peer cannot make it grow: ACK ranges
// received (RFC 9000 §13.2.3 lets a receiver bound them), stream bytes
// received or acknowledged. Storage is allocated once and insert never
// allocates, or, for sets most connections leave (nearly) empty, it grows on
// demand up to the capacity (quic-perf issue 8: an idle connection holds
// little), and a set that stays at its size never allocates again.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace dquic {

// [first, last], inclusive.
struct Interval {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  friend bool operator==(const Interval&, const Interval&) = default;
};

class RangeSet {
 public:
  enum class Storage : std::uint8_t {
    kReserved,  // all of it at construction
    kOnDemand,  // amortized doubling as ranges are added
  };
  explicit RangeSet(std::size_t capacity, Storage storage = Storage::kReserved)
      : capacity_(capacity > 0 ? capacity : 1) {
    if (storage == Storage::kReserved) ranges_.reserve(capacity_);
  }

  // Adds [first, last] (first <= last). When the result would need more than
  // capacity ranges, the lowest range is dropped (evicted() counts them) and
  // false returned; that is the new range itself when it would be the lowest.
  bool insert(std::uint64_t first, std::uint64_t last) {
    // Ranges are kept ascending. Find the first range that could merge.
    auto it = std::lower_bound(
        ranges_.begin(), ranges_.end(), first,
        [](const Interval& r, std::uint64_t v) { return r.last != UINT64_MAX && r.last + 1 < v; });
    if (it == ranges_.end() || (last != UINT64_MAX && last + 1 < it->first)) {
      bool kept_all = true;
      if (ranges_.size() == capacity_) {
        // Full: drop the lowest range (or refuse a new lowest one by
        // dropping it right away).
        if (it == ranges_.begin()) {
          ++evicted_;
          return false;
        }
        // erase() invalidates `it`: recompute it (its range moved down one).
        const auto pos = it - ranges_.begin();
        ranges_.erase(ranges_.begin());
        it = ranges_.begin() + (pos - 1);
        ++evicted_;
        kept_all = false;
      }
      if (ranges_.size() == ranges_.capacity()) {
        // Storage::kOnDemand: grow within the capacity (`it` moves along).
        const auto pos = it - ranges_.begin();
        ranges_.reserve(std::min(capacity_, std::max<std::size_t>(4, 2 * ranges_.size())));
        it = ranges_.begin() + pos;
      }
      ranges_.insert(it, Interval{first, last});
      return kept_all;
    }
    // Merge [first, last] into *it and every following range it touches.
    it->first = std::min(it->first, first);
    auto end = it + 1;
    while (end != ranges_.end() && (last == UINT64_MAX || end->first <= last + 1)) {
      last = std::max(last, end->last);
      ++end;
    }
    it->last = std::max(it->last, last);
    ranges_.erase(it + 1, end);
    return true;
  }

  // Removes every value <= v (ACK of an ACK, RFC 9000 §13.2.4).
  void remove_up_to(std::uint64_t v) {
    auto it = ranges_.begin();
    while (it != ranges_.end() && it->last <= v)
      ++it;
    ranges_.erase(ranges_.begin(), it);
    if (!ranges_.empty() && ranges_.front().first <= v) ranges_.front().first = v + 1;
  }

  bool contains(std::uint64_t v) const {
    auto it = std::lower_bound(ranges_.begin(), ranges_.end(), v,
                               [](const Interval& r, std::uint64_t x) { return r.last < x; });
    return it != ranges_.end() && it->first <= v;
  }

  // Ascending.
  std::span<const Interval> ranges() const { return ranges_; }
  bool empty() const { return ranges_.empty(); }
  std::size_t size() const { return ranges_.size(); }
  std::size_t capacity() const { return capacity_; }
  std::uint64_t evicted() const { return evicted_; }
  // Largest value; the set must not be empty.
  std::uint64_t max() const { return ranges_.back().last; }
  std::uint64_t min() const { return ranges_.front().first; }
  void clear() { ranges_.clear(); }

 private:
  std::size_t capacity_;
  std::vector<Interval> ranges_;
  std::uint64_t evicted_ = 0;
};

}  // namespace dquic
