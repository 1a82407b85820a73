#include "h3/qpack_dynamic_table.h"

#include <cstring>

namespace dquic {

QpackDynamicTable::QpackDynamicTable(std::uint64_t max_capacity)
    : max_capacity_(max_capacity),
      bytes_cap_(static_cast<std::size_t>(2 * max_capacity)),
      // One spare slot: insert() appends before it evicts.
      slot_cap_(static_cast<std::size_t>(max_capacity / kQpackEntryOverhead + 1)) {
  bytes_ = std::make_unique<std::uint8_t[]>(bytes_cap_ > 0 ? bytes_cap_ : 1);
  slots_ = std::make_unique<Slot[]>(slot_cap_);
}

std::size_t QpackDynamicTable::evictions_for(std::uint64_t target,
                                             std::uint64_t evictable_before) const {
  std::uint64_t size = size_;
  std::size_t n = 0;
  while (size > target) {
    const std::uint64_t abs = first_index() + n;
    if (abs >= evictable_before) return SIZE_MAX;
    const Slot& s = slot(abs);
    size -= qpack_entry_size(s.name_len, s.value_len);
    ++n;
  }
  return n;
}

void QpackDynamicTable::evict(std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const Slot& s = slot(first_index());
    size_ -= qpack_entry_size(s.name_len, s.value_len);
    head_ = s.offset + s.name_len + s.value_len;
    --count_;
  }
  if (count_ == 0) head_ = tail_ = 0;
}

bool QpackDynamicTable::can_insert(std::size_t name_len, std::size_t value_len,
                                   std::uint64_t evictable_before) const {
  const std::uint64_t need = qpack_entry_size(name_len, value_len);
  if (need > capacity_) return false;
  return evictions_for(capacity_ - need, evictable_before) != SIZE_MAX;
}

bool QpackDynamicTable::set_capacity(std::uint64_t capacity, std::uint64_t evictable_before) {
  if (capacity > max_capacity_) return false;
  const std::size_t n = evictions_for(capacity, evictable_before);
  if (n == SIZE_MAX) return false;
  evict(n);
  capacity_ = capacity;
  return true;
}

bool QpackDynamicTable::insert(std::string_view name, std::string_view value,
                               std::uint64_t evictable_before) {
  const std::uint64_t need = qpack_entry_size(name.size(), value.size());
  if (need > capacity_) return false;
  const std::size_t n = evictions_for(capacity_ - need, evictable_before);
  if (n == SIZE_MAX) return false;

  const std::size_t len = name.size() + value.size();
  // Live bytes <= capacity and len < capacity, so after moving the live
  // entries to the front the new one fits in 2 * max_capacity.
  if (tail_ + len > bytes_cap_) {
    const std::size_t shift = head_;
    std::uint8_t* base = bytes_.get();
    // A source inside the table moves with the entries.
    auto inside = [&](std::string_view s) {
      return s.data() >= reinterpret_cast<const char*>(base + head_) &&
             s.data() < reinterpret_cast<const char*>(base + tail_);
    };
    if (inside(name)) name = {name.data() - shift, name.size()};
    if (inside(value)) value = {value.data() - shift, value.size()};
    std::memmove(base, base + head_, tail_ - head_);
    for (std::size_t i = 0; i < count_; ++i)
      slots_[static_cast<std::size_t>((first_index() + i) % slot_cap_)].offset -= shift;
    tail_ -= head_;
    head_ = 0;
  }
  // Copy first, evict after: the source may be an entry this evicts (§3.2.2).
  std::uint8_t* dst = bytes_.get() + tail_;
  if (!name.empty()) std::memcpy(dst, name.data(), name.size());
  if (!value.empty()) std::memcpy(dst + name.size(), value.data(), value.size());
  slots_[static_cast<std::size_t>(insert_count_ % slot_cap_)] = {
      tail_, static_cast<std::uint32_t>(name.size()), static_cast<std::uint32_t>(value.size())};
  tail_ += len;
  ++insert_count_;
  ++count_;
  size_ += need;
  evict(n);
  return true;
}

bool QpackDynamicTable::get(std::uint64_t absolute, QpackField* out) const {
  if (absolute < first_index() || absolute >= insert_count_) return false;
  const Slot& s = slot(absolute);
  const char* p = reinterpret_cast<const char*>(bytes_.get() + s.offset);
  out->name = {p, s.name_len};
  out->value = {p + s.name_len, s.value_len};
  out->never_index = false;
  return true;
}

QpackDynamicTable::Match QpackDynamicTable::find(std::string_view name, std::string_view value,
                                                 std::uint64_t below) const {
  Match m;
  const std::uint64_t lo = first_index();
  for (std::uint64_t abs = below < insert_count_ ? below : insert_count_; abs > lo;) {
    --abs;
    QpackField f;
    get(abs, &f);
    if (f.name != name) continue;
    if (f.value == value) return {true, true, abs};
    if (!m.found) m = {true, false, abs};
  }
  return m;
}

}  // namespace dquic
