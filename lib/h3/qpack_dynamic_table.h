// The QPACK dynamic table (RFC 9204 §3.2), shared by encoder and decoder:
// FIFO entries addressed by absolute index (§3.2.4), sized name + value + 32
// (§3.2.1), evicted oldest first when an insert or a capacity change needs
// room (§3.2.2). Storage is allocated once, in the constructor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string_view>

#include "h3/qpack_field.h"

namespace dquic {

inline constexpr std::uint64_t kQpackEvictAny = std::numeric_limits<std::uint64_t>::max();

class QpackDynamicTable {
 public:
  // `max_capacity` bounds every later capacity: the decoder passes what it
  // advertised in SETTINGS_QPACK_MAX_TABLE_CAPACITY, the encoder the smaller of
  // the peer's value and its own limit (RFC 9204 §3.2.3).
  explicit QpackDynamicTable(std::uint64_t max_capacity);
  QpackDynamicTable(const QpackDynamicTable&) = delete;
  QpackDynamicTable& operator=(const QpackDynamicTable&) = delete;

  std::uint64_t max_capacity() const { return max_capacity_; }
  std::uint64_t capacity() const { return capacity_; }
  std::uint64_t size() const { return size_; }
  // Total inserts so far: the absolute index the next entry gets (§3.2.4).
  std::uint64_t insert_count() const { return insert_count_; }
  // Absolute index of the oldest entry present (== insert_count() if empty).
  std::uint64_t first_index() const { return insert_count_ - count_; }
  std::size_t entry_count() const { return count_; }
  // RFC 9204 §4.5.1.1: MaxEntries = floor(MaxTableCapacity / 32).
  std::uint64_t max_entries() const { return max_capacity_ / kQpackEntryOverhead; }

  // `evictable_before`: entries with absolute index >= it must not be evicted
  // (the encoder's unacknowledged or referenced entries, §2.1.1).
  bool can_insert(std::size_t name_len, std::size_t value_len,
                  std::uint64_t evictable_before = kQpackEvictAny) const;
  // §4.3.1 / §3.2.2: false (and no change) if above max_capacity() or if the
  // eviction it needs reaches an entry at or above `evictable_before`.
  bool set_capacity(std::uint64_t capacity, std::uint64_t evictable_before = kQpackEvictAny);
  // Evicts as needed, then appends. `name` / `value` may view an entry of this
  // table, even one this insert evicts (§3.2.2). False (and no change) if the
  // entry is larger than capacity() or would evict an unevictable entry.
  bool insert(std::string_view name, std::string_view value,
              std::uint64_t evictable_before = kQpackEvictAny);

  // The entry at `absolute`, false if evicted or not inserted yet. The views
  // stay valid until the next insert() or set_capacity().
  bool get(std::uint64_t absolute, QpackField* out) const;

  struct Match {
    bool found = false;
    bool value_matches = false;
    std::uint64_t absolute = 0;
  };
  // Newest entry with this name and value, else newest with this name;
  // only entries with absolute index below `below` are considered.
  Match find(std::string_view name, std::string_view value,
             std::uint64_t below = kQpackEvictAny) const;

 private:
  struct Slot {
    std::size_t offset;  // into bytes_
    std::uint32_t name_len;
    std::uint32_t value_len;
  };
  const Slot& slot(std::uint64_t absolute) const {
    return slots_[static_cast<std::size_t>(absolute % slot_cap_)];
  }
  // Entries evicted (oldest first) to get size() <= target; SIZE_MAX if that
  // reaches `evictable_before`.
  std::size_t evictions_for(std::uint64_t target, std::uint64_t evictable_before) const;
  void evict(std::size_t n);

  std::uint64_t max_capacity_;
  std::uint64_t capacity_ = 0;  // RFC 9204 §3.2.3: starts at zero
  std::uint64_t size_ = 0;
  std::uint64_t insert_count_ = 0;
  std::size_t count_ = 0;
  // Entry bytes, contiguous from head_ to tail_; twice max_capacity so an
  // append never waits for eviction and compaction (one memmove) is rare.
  std::unique_ptr<std::uint8_t[]> bytes_;
  std::size_t bytes_cap_;
  std::size_t head_ = 0;
  std::size_t tail_ = 0;
  std::unique_ptr<Slot[]> slots_;
  std::size_t slot_cap_;
};

}  // namespace dquic
