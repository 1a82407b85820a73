#include "quic/recv_buffer.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

#include "quic/mbuf_segment.h"

namespace dquic {
namespace {

// First bit index in [from, to) whose value is `value`, or `to`.
std::size_t find_bit(const std::uint64_t* words, std::size_t from, std::size_t to, bool value) {
  while (from < to) {
    std::uint64_t w = words[from / 64];
    if (!value) w = ~w;
    w &= ~std::uint64_t{0} << (from % 64);
    if (w != 0) return std::min(to, from / 64 * 64 + static_cast<std::size_t>(std::countr_zero(w)));
    from = from / 64 * 64 + 64;
  }
  return to;
}

void set_bits(std::uint64_t* words, std::size_t from, std::size_t to) {
  while (from < to) {
    const std::size_t bit = from % 64;
    const std::size_t n = std::min<std::size_t>(64 - bit, to - from);
    const std::uint64_t mask = n == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << n) - 1) << bit;
    words[from / 64] |= mask;
    from += n;
  }
}

}  // namespace

RecvBuffer::RecvBuffer(const RecvBufferConfig& config) : config_(config) {
  records_.reserve(config_.max_segments);
  if (config_.copy_pool != nullptr) {
    const std::size_t room = rte_pktmbuf_data_room_size(config_.copy_pool);
    const std::size_t usable = room > RTE_PKTMBUF_HEADROOM ? room - RTE_PKTMBUF_HEADROOM : 0;
    // B data bytes plus a B-bit bitmap must fit; B a multiple of 64 keeps
    // the bitmap whole 64-bit words and the data 8-byte aligned.
    block_size_ = usable * 8 / 9 / 64 * 64;
  }
  // Live blocks cover [read_offset, read_offset + max_span): at most
  // max_span / B + 2 of them, so a window of that many slots never collides.
  // The index is built on the stream's first copied fragment, not here: with
  // a 16 MiB window it is ~225 KB, and most streams never need it.
  if (block_size_ > 0) index_slots_ = config_.max_span / block_size_ + 2;
}

RecvBuffer::~RecvBuffer() {
  release_all();
}

RecvInsertResult RecvBuffer::insert(std::uint64_t offset, const std::uint8_t* data, std::size_t len,
                                    rte_mbuf* owner) {
  if (len == 0) return RecvInsertResult::kOk;
  if (owner == nullptr || data == nullptr) return RecvInsertResult::kInvalidArgument;
  rte_mbuf* segment = find_segment(owner, data, len);
  if (segment == nullptr) return RecvInsertResult::kInvalidArgument;
  if (offset > kMaxStreamOffset || len > kMaxStreamOffset - offset)
    return RecvInsertResult::kBeyondLimit;
  const std::uint64_t end = offset + len;
  if (end > read_offset_ && end - read_offset_ > config_.max_span)
    return RecvInsertResult::kBeyondLimit;
  // Already read (RFC 9000 §2.2: a retransmission) or the stream was reset.
  if (reset_ || end <= read_offset_) return RecvInsertResult::kOk;
  const std::uint64_t first = std::max(offset, read_offset_);

  // In-order data while no copy block is live: the walk below would store one
  // reference record after the last (no block is known, so nothing is
  // copied); decide that without its block lookups and divisions.
  const std::size_t new_len = static_cast<std::size_t>(end - first);
  if (block_count_ == 0 && (records_.empty() || records_.back().end() <= first) &&
      records_.size() < config_.max_segments &&
      (block_size_ == 0 || new_len >= config_.min_reference_bytes)) {
    rte_mbuf_refcnt_update(segment, 1);
    records_.push_back(Record{first, new_len, data + (first - offset), segment});
    stored_bytes_ += new_len;
    advance_contiguous();
    return RecvInsertResult::kOk;
  }

  // Dry run: decide every piece and count what it needs, so that running out
  // leaves the buffer untouched.
  Walk plan;
  plan.offset = offset;
  plan.data = data;
  plan.segment = segment;
  plan.records_free = config_.max_segments - records_.size();
  walk_holes(plan, first, end);
  if (plan.failed || plan.new_blocks > index_slots_) return RecvInsertResult::kTooFragmented;
  if (plan.new_blocks > 0 && slots_.empty()) {
    slots_.resize(index_slots_);  // once per stream (see the constructor)
    fresh_.resize(index_slots_);
  }
  if (plan.new_blocks > 0 && rte_pktmbuf_alloc_bulk(config_.copy_pool, fresh_.data(),
                                                    static_cast<unsigned>(plan.new_blocks)) != 0)
    return RecvInsertResult::kNoMemory;

  Walk commit = plan;
  commit.commit = true;
  commit.records_free = config_.max_segments - records_.size();
  commit.last_planned_block = UINT64_MAX;
  walk_holes(commit, first, end);
  assert(commit.fresh_used == plan.new_blocks);  // the same decisions as the dry run
  advance_contiguous();
  return RecvInsertResult::kOk;
}

// Visits the holes of the reference layer inside [first, end).
void RecvBuffer::walk_holes(Walk& w, std::uint64_t first, std::uint64_t end) {
  std::size_t i = static_cast<std::size_t>(
      std::lower_bound(records_.begin(), records_.end(), first,
                       [](const Record& r, std::uint64_t v) { return r.end() <= v; }) -
      records_.begin());
  std::uint64_t cur = first;
  // records_[i] is the first record that ends after cur.
  while (cur < end && !w.failed) {
    if (i < records_.size() && records_[i].offset <= cur) {
      cur = records_[i].end();
      ++i;
      continue;
    }
    const std::uint64_t hole_end = i < records_.size() ? std::min(end, records_[i].offset) : end;
    i = walk_hole(w, i, cur, hole_end);
    cur = hole_end;
  }
}

// Splits a hole into runs that fall in known blocks and runs that do not.
// Returns the record index after any records inserted at `at`.
std::size_t RecvBuffer::walk_hole(Walk& w, std::size_t at, std::uint64_t first, std::uint64_t end) {
  std::uint64_t cur = first;
  while (cur < end && !w.failed) {
    if (block_size_ == 0) return store_run(w, at, cur, end, false);
    std::uint64_t k = cur / block_size_;
    const bool in_blocks = block_known(w, k);
    std::uint64_t run_end = cur;
    while (run_end < end && block_known(w, k) == in_blocks) {
      run_end = std::min(end, (k + 1) * block_size_);
      ++k;
    }
    at = store_run(w, at, cur, run_end, in_blocks);
    cur = run_end;
  }
  return at;
}

std::size_t RecvBuffer::store_run(Walk& w, std::size_t at, std::uint64_t first, std::uint64_t end,
                                  bool in_blocks) {
  const std::size_t len = static_cast<std::size_t>(end - first);
  if (!in_blocks) {
    // A range with a block stays in it: fragments there are already copied.
    const bool can_copy = block_size_ > 0;
    if ((!can_copy || len >= config_.min_reference_bytes) && w.records_free > 0) {
      --w.records_free;
      if (w.commit) {
        rte_mbuf_refcnt_update(w.segment, 1);
        records_.insert(records_.begin() + static_cast<std::ptrdiff_t>(at),
                        Record{first, len, w.data + (first - w.offset), w.segment});
        stored_bytes_ += len;
        return at + 1;
      }
      return at;
    }
    if (!can_copy) {
      w.failed = true;
      return at;
    }
  }
  if (w.commit) {
    copy_into_blocks(w, first, end);
    return at;
  }
  for (std::uint64_t k = first / block_size_; k <= (end - 1) / block_size_; ++k) {
    if (!block_known(w, k)) {
      ++w.new_blocks;
      w.last_planned_block = k;
    }
  }
  return at;
}

void RecvBuffer::copy_into_blocks(Walk& w, std::uint64_t first, std::uint64_t end) {
  for (std::uint64_t pos = first; pos < end;) {
    const std::uint64_t k = pos / block_size_;
    const std::uint64_t base = k * block_size_;
    const std::uint64_t stop = std::min(end, base + block_size_);
    const BlockSlot* b = block(k);
    if (b == nullptr) {
      assert(w.fresh_used < w.new_blocks);
      rte_mbuf* m = fresh_[w.fresh_used++];
      BlockSlot& slot = slots_[k % slots_.size()];
      slot = BlockSlot{k, m, rte_pktmbuf_mtod(m, std::uint8_t*)};
      std::memset(bitmap(&slot), 0, block_size_ / 8);
      ++block_count_;
      w.last_planned_block = k;
      b = &slot;
    }
    std::uint64_t* bits = bitmap(b);
    std::uint8_t* dst = block_data(b);
    std::size_t from = static_cast<std::size_t>(pos - base);
    const std::size_t to = static_cast<std::size_t>(stop - base);
    // Only bytes not yet present: they may already sit in this block.
    while (from < to) {
      const std::size_t u = find_bit(bits, from, to, false);
      if (u == to) break;
      const std::size_t v = find_bit(bits, u, to, true);
      std::memcpy(dst + u, w.data + (base + u - w.offset), v - u);
      set_bits(bits, u, v);
      stored_bytes_ += v - u;
      from = v;
    }
    pos = stop;
  }
}

bool RecvBuffer::block_known(const Walk& w, std::uint64_t k) const {
  return block(k) != nullptr || k == w.last_planned_block;
}

bool RecvBuffer::segment_at(std::uint64_t pos, RecvSegment* out) const {
  auto it = std::upper_bound(records_.begin(), records_.end(), pos,
                             [](std::uint64_t v, const Record& r) { return v < r.offset; });
  if (it != records_.begin()) {
    --it;
    if (it->end() > pos) {
      *out = RecvSegment{it->data + (pos - it->offset), static_cast<std::size_t>(it->end() - pos)};
      return true;
    }
  }
  if (block_size_ == 0) return false;
  const std::uint64_t k = pos / block_size_;
  const BlockSlot* b = block(k);
  if (b == nullptr) return false;
  const std::size_t from = static_cast<std::size_t>(pos - k * block_size_);
  const std::size_t to = find_bit(bitmap(b), from, block_size_, false);
  if (to == from) return false;
  *out = RecvSegment{block_data(b) + from, to - from};
  return true;
}

void RecvBuffer::advance_contiguous() {
  RecvSegment s;
  while (segment_at(contiguous_end_, &s))
    contiguous_end_ += s.length;
}

std::size_t RecvBuffer::peek(std::span<RecvSegment> out) const {
  std::size_t n = 0;
  std::uint64_t pos = read_offset_;
  RecvSegment s;
  while (n < out.size() && pos < contiguous_end_ && segment_at(pos, &s)) {
    out[n++] = s;
    pos += s.length;
  }
  return n;
}

std::size_t RecvBuffer::consume(std::size_t n) {
  n = std::min(n, readable());
  if (n == 0) return 0;
  const std::uint64_t new_read = read_offset_ + n;
  std::size_t done = 0;
  while (done < records_.size() && records_[done].end() <= new_read)
    rte_pktmbuf_free_seg(records_[done++].segment);
  records_.erase(records_.begin(), records_.begin() + static_cast<std::ptrdiff_t>(done));
  if (!records_.empty() && records_.front().offset < new_read) {
    Record& r = records_.front();
    const std::size_t cut = static_cast<std::size_t>(new_read - r.offset);
    r.offset += cut;
    r.data += cut;
    r.length -= cut;
  }
  if (block_size_ > 0 && block_count_ > 0) {
    // A block is done once its whole range is below the read offset.
    for (std::uint64_t k = read_offset_ / block_size_; k < new_read / block_size_; ++k) {
      if (const BlockSlot* b = block(k)) {
        rte_pktmbuf_free(b->mbuf);
        slots_[k % slots_.size()].mbuf = nullptr;
        --block_count_;
      }
    }
    // The block holding the new read offset goes too if nothing unread is
    // left in it, so a buffer holding no bytes holds no memory.
    const std::uint64_t k = new_read / block_size_;
    const BlockSlot* b = block(k);
    const std::size_t from = static_cast<std::size_t>(new_read - k * block_size_);
    if (b != nullptr && find_bit(bitmap(b), from, block_size_, true) == block_size_) {
      rte_pktmbuf_free(b->mbuf);
      slots_[k % slots_.size()].mbuf = nullptr;
      --block_count_;
    }
  }
  stored_bytes_ -= n;
  read_offset_ = new_read;
  return n;
}

std::size_t RecvBuffer::read(std::span<std::uint8_t> out) {
  std::size_t copied = 0;
  std::uint64_t pos = read_offset_;
  RecvSegment s;
  while (copied < out.size() && pos < contiguous_end_ && segment_at(pos, &s)) {
    const std::size_t take = std::min(s.length, out.size() - copied);
    std::memcpy(out.data() + copied, s.data, take);
    copied += take;
    pos += take;
  }
  return consume(copied);
}

void RecvBuffer::set_final_size(std::uint64_t final_size) {
  final_size_ = final_size;
  has_final_size_ = true;
}

void RecvBuffer::reset() {
  release_all();
  reset_ = true;
}

void RecvBuffer::release_all() {
  for (const Record& r : records_)
    rte_pktmbuf_free_seg(r.segment);
  records_.clear();
  for (BlockSlot& s : slots_) {
    if (s.mbuf != nullptr) rte_pktmbuf_free(s.mbuf);
    s.mbuf = nullptr;
  }
  block_count_ = 0;
  stored_bytes_ = 0;
  contiguous_end_ = read_offset_;
}

}  // namespace dquic
