#include "quic/send_buffer.h"

#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "quic/mbuf_segment.h"

namespace dquic {
namespace {

// First range whose last >= v.
const Interval* first_ending_at_or_after(const RangeSet& set, std::uint64_t v) {
  const auto r = set.ranges();
  return std::lower_bound(r.data(), r.data() + r.size(), v,
                          [](const Interval& i, std::uint64_t x) { return i.last < x; });
}

bool overlaps(const RangeSet& set, std::uint64_t first, std::uint64_t last) {
  const Interval* it = first_ending_at_or_after(set, first);
  return it != set.ranges().data() + set.size() && it->first <= last;
}

// Overlapping or adjacent: inserting [first, last] would not add a range.
bool touches(const RangeSet& set, std::uint64_t first, std::uint64_t last) {
  return overlaps(set, first == 0 ? 0 : first - 1, last + 1);
}

}  // namespace

SendBuffer::SendBuffer(const SendBufferConfig& config)
    : config_(config),
      capacity_(std::max<std::size_t>(config.max_chunks, 1)),
      chunks_(std::make_unique_for_overwrite<Chunk[]>(capacity_)),
      acked_(config.max_acked_ranges),
      lost_(config.max_lost_ranges),
      scratch_(config.max_lost_ranges) {}

SendBuffer::~SendBuffer() {
  while (count_ > 0)
    release_front();
}

bool SendBuffer::push(const Chunk& c) {
  if (count_ == capacity_) return false;
  at(count_) = c;
  ++count_;
  end_ += c.length;
  return true;
}

bool SendBuffer::append(const std::uint8_t* data, std::size_t len, rte_mbuf* owner) {
  if (closed_ || fin_set_ || count_ == capacity_) return false;
  if (len > UINT32_MAX || len > kMaxStreamOffset - end_) return false;
  if (len == 0) return true;
  if (owner == nullptr || data == nullptr) return false;
  rte_mbuf* segment = find_segment(owner, data, len);
  if (segment == nullptr) return false;
  rte_mbuf_refcnt_update(segment, 1);
  Chunk c{};
  c.offset = end_;
  c.data = data;
  c.length = static_cast<std::uint32_t>(len);
  c.segment = segment;
  return push(c);
}

bool SendBuffer::append_external(const std::uint8_t* data, std::size_t len, ReleaseFn release,
                                 void* ctx) {
  if (release == nullptr || closed_ || fin_set_ || count_ == capacity_) return false;
  if (len > UINT32_MAX || len > kMaxStreamOffset - end_) return false;
  if (len == 0) {
    release(ctx, data, 0);  // nothing to keep: "exactly once" holds
    return true;
  }
  if (data == nullptr) return false;
  Chunk c{};
  c.offset = end_;
  c.data = data;
  c.length = static_cast<std::uint32_t>(len);
  c.release = release;
  c.ctx = ctx;
  return push(c);
}

std::size_t SendBuffer::append_copy(std::span<const std::uint8_t> bytes) {
  if (closed_ || fin_set_ || config_.copy_pool == nullptr) return 0;
  const std::size_t want =
      static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), kMaxStreamOffset - end_));
  std::size_t done = 0;
  while (done < want) {
    // Small writes share an mbuf: fill the last copied chunk first. Bytes
    // already in it do not move, so pointers handed to a sealer stay valid.
    if (count_ > 0 && at(count_ - 1).copied) {
      Chunk& last = at(count_ - 1);
      const std::size_t room = rte_pktmbuf_tailroom(last.segment);
      if (room > 0) {
        const std::size_t take = std::min(room, want - done);
        char* dst = rte_pktmbuf_append(last.segment, static_cast<std::uint16_t>(take));
        std::memcpy(dst, bytes.data() + done, take);
        last.length += static_cast<std::uint32_t>(take);
        end_ += take;
        done += take;
        continue;
      }
    }
    if (count_ == capacity_) break;
    rte_mbuf* m = rte_pktmbuf_alloc(config_.copy_pool);
    if (m == nullptr) break;
    if (rte_pktmbuf_tailroom(m) == 0) {  // a pool with no data room
      rte_pktmbuf_free(m);
      break;
    }
    Chunk c{};
    c.offset = end_;
    c.data = rte_pktmbuf_mtod(m, const std::uint8_t*);
    c.copied = true;
    c.segment = m;
    push(c);
  }
  return done;
}

bool SendBuffer::finish() {
  if (closed_ || fin_set_) return false;
  fin_set_ = true;
  return true;
}

std::size_t SendBuffer::buffered_bytes() const {
  return count_ == 0 ? 0 : static_cast<std::size_t>(end_ - at(0).offset);
}

std::optional<SendRange> SendBuffer::next_to_send(std::size_t max_len) {
  if (closed_) return std::nullopt;
  if (max_len > 0) {
    // RFC 9000 §13.3: lost data goes out again in new frames, lowest first.
    while (!lost_.empty()) {
      const Interval r = lost_.ranges().front();
      std::uint64_t lo = std::max(r.first, acked_prefix_);
      // Skip bytes acknowledged since (a late ACK of the original packet, or
      // bytes a widened lost range took along).
      const Interval* a = first_ending_at_or_after(acked_, lo);
      const Interval* a_end = acked_.ranges().data() + acked_.size();
      if (a != a_end && a->first <= lo) {
        lo = a->last + 1;
        ++a;
      }
      if (lo > r.last) {
        lost_.remove_up_to(r.last);
        continue;
      }
      if (lo > r.first) lost_.remove_up_to(lo - 1);
      std::uint64_t hi = r.last;
      if (a != a_end && a->first <= hi) hi = a->first - 1;
      hi = std::min<std::uint64_t>(hi, lo + max_len - 1);
      const std::uint64_t stop = hi + 1;
      return SendRange{lo, static_cast<std::size_t>(stop - lo), fin_pending() && stop == end_};
    }
    if (next_new_ < end_) {
      const std::size_t len =
          static_cast<std::size_t>(std::min<std::uint64_t>(max_len, end_ - next_new_));
      return SendRange{next_new_, len, fin_pending() && next_new_ + len == end_};
    }
  }
  // RFC 9000 §19.8: a STREAM frame with no data and the FIN bit.
  if (fin_pending() && next_new_ == end_) return SendRange{end_, 0, true};
  return std::nullopt;
}

std::size_t SendBuffer::find_chunk(std::uint64_t offset) const {
  // Chunks are contiguous: chunk i holds [at(i).offset, at(i + 1).offset).
  const auto holds = [&](std::size_t i) {
    return at(i).offset <= offset && (i + 1 == count_ || offset < at(i + 1).offset);
  };
  if (hint_ < count_) {
    if (holds(hint_)) return hint_;
    if (hint_ + 1 < count_ && holds(hint_ + 1)) return hint_ + 1;
  }
  std::size_t lo = 0, hi = count_;  // the answer is in [lo, hi)
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (at(mid).offset <= offset)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

std::optional<std::size_t> SendBuffer::gather(std::uint64_t offset, std::size_t len,
                                              std::span<DataSegment> out) const {
  if (len == 0) return 0;
  if (count_ == 0 || offset < at(0).offset || offset > end_ || len > end_ - offset)
    return std::nullopt;
  std::size_t i = find_chunk(offset);
  std::size_t n = 0;
  while (len > 0) {
    if (n == out.size()) return std::nullopt;
    const Chunk& c = at(i++);
    const std::size_t skip = static_cast<std::size_t>(offset - c.offset);
    const std::size_t take = std::min<std::size_t>(c.length - skip, len);
    rte_iova_t iova = RTE_BAD_IOVA;
    if (c.segment != nullptr && c.segment->buf_iova != RTE_BAD_IOVA)
      iova = c.segment->buf_iova +
             static_cast<rte_iova_t>(c.data + skip -
                                     static_cast<const std::uint8_t*>(c.segment->buf_addr));
    out[n++] = DataSegment{c.data + skip, static_cast<std::uint32_t>(take), iova};
    offset += take;
    len -= take;
  }
  hint_ = i - 1;
  return n;
}

bool SendBuffer::copy_out(std::uint64_t offset, std::size_t len, std::uint8_t* dst) const {
  if (len == 0) return true;
  if (count_ == 0 || offset < at(0).offset || offset > end_ || len > end_ - offset) return false;
  std::size_t i = find_chunk(offset);
  while (len > 0) {
    const Chunk& c = at(i++);
    const std::size_t skip = static_cast<std::size_t>(offset - c.offset);
    const std::size_t take = std::min<std::size_t>(c.length - skip, len);
    std::memcpy(dst, c.data + skip, take);
    dst += take;
    offset += take;
    len -= take;
  }
  hint_ = i - 1;
  return true;
}

bool SendBuffer::on_sent(std::uint64_t offset, std::size_t len, bool fin) {
  if (closed_ || offset > next_new_ || offset > end_ || len > end_ - offset) return false;
  const std::uint64_t stop = offset + len;
  if (fin && (!fin_set_ || stop != end_)) return false;
  next_new_ = std::max(next_new_, stop);
  if (len > 0) remove_lost(offset, stop - 1);
  if (fin) {
    fin_sent_ = true;
    fin_lost_ = false;
  }
  return true;
}

void SendBuffer::on_acked(std::uint64_t offset, std::size_t len, bool fin) {
  if (closed_) return;
  if (fin && fin_set_) {
    fin_acked_ = true;
    fin_lost_ = false;
  }
  const std::uint64_t first = std::max(offset, acked_prefix_);
  const std::uint64_t stop = std::min<std::uint64_t>(offset + len, next_new_);
  if (first >= stop) return;
  if (first == acked_prefix_) {
    acked_prefix_ = stop;
    while (!acked_.empty() && acked_.min() <= acked_prefix_) {
      acked_prefix_ = std::max(acked_prefix_, acked_.ranges().front().last + 1);
      acked_.remove_up_to(acked_prefix_ - 1);
    }
    lost_.remove_up_to(acked_prefix_ - 1);
    // Chunks go from the front only, once all their bytes are acknowledged.
    while (count_ > 0 && at(0).offset + at(0).length <= acked_prefix_)
      release_front();
    return;
  }
  if (acked_.size() < acked_.capacity() || touches(acked_, first, stop - 1)) {
    acked_.insert(first, stop - 1);
    remove_lost(first, stop - 1);
    return;
  }
  // No room for another disjoint range, and RangeSet would make room by
  // forgetting its lowest one: those bytes would never be acknowledged again
  // and the prefix would stall. Send these bytes again instead; the receiver
  // drops duplicates (RFC 9000 §2.2) and their next ACK gets another chance.
  add_lost(first, stop - 1);
}

void SendBuffer::on_lost(std::uint64_t offset, std::size_t len, bool fin) {
  if (closed_) return;
  if (fin && fin_sent_ && !fin_acked_) fin_lost_ = true;
  const std::uint64_t first = std::max(offset, acked_prefix_);
  const std::uint64_t stop = std::min<std::uint64_t>(offset + len, next_new_);
  if (first >= stop) return;
  // Already acknowledged through another packet: nothing to resend.
  const Interval* a = first_ending_at_or_after(acked_, first);
  if (a != acked_.ranges().data() + acked_.size() && a->first <= first && a->last >= stop - 1)
    return;
  add_lost(first, stop - 1);
}

void SendBuffer::add_lost(std::uint64_t first, std::uint64_t last) {
  if (lost_.size() < lost_.capacity() || touches(lost_, first, last)) {
    lost_.insert(first, last);
    return;
  }
  // Full: widen the nearest range to cover this one rather than let RangeSet
  // forget a range (that data would never be resent). The bytes in between
  // were sent, so at worst they go out twice.
  const auto r = lost_.ranges();
  const Interval* above = first_ending_at_or_after(lost_, first);
  const bool has_above = above != r.data() + r.size();
  const bool has_below = above != r.data();
  const std::uint64_t gap_above = has_above ? above->first - last : UINT64_MAX;
  const std::uint64_t gap_below = has_below ? first - (above - 1)->last : UINT64_MAX;
  if (gap_below <= gap_above)
    lost_.insert((above - 1)->first, last);
  else
    lost_.insert(first, above->last);
}

void SendBuffer::remove_lost(std::uint64_t first, std::uint64_t last) {
  if (!overlaps(lost_, first, last)) return;
  // The common case: retransmitting the lowest lost range from its start.
  if (first <= lost_.min()) {
    lost_.remove_up_to(last);
    return;
  }
  // Rebuild into scratch_. Cutting out the middle of a range adds one; with
  // no room for it the range stays whole (resent once more, harmless).
  const bool room = lost_.size() < lost_.capacity();
  scratch_.clear();
  for (const Interval& r : lost_.ranges()) {
    const bool left = r.first < first;
    const bool right = r.last > last;
    if (r.last < first || r.first > last || (left && right && !room)) {
      scratch_.insert(r.first, r.last);
      continue;
    }
    if (left) scratch_.insert(r.first, first - 1);
    if (right) scratch_.insert(last + 1, r.last);
  }
  std::swap(lost_, scratch_);
}

void SendBuffer::release_front() {
  const Chunk c = at(0);
  // Unlink first: a release callback may append again.
  head_ = slot(1);
  --count_;
  if (hint_ > 0) --hint_;
  // The next chunks and their mbufs were last touched when they were sent,
  // a flight ago, and are out of cache: start loading the next chunk's mbuf
  // header (the lines rte_pktmbuf_free_seg reads and writes) and the chunk
  // after it, so that neither load waits when the next ACK releases them.
  if (count_ > 1) {
    rte_prefetch0(&at(1).offset);  // a chunk may straddle two lines
    rte_prefetch0(&at(1).segment);
  }
  if (count_ > 0 && at(0).segment != nullptr) {
    rte_prefetch0(at(0).segment);
    rte_prefetch0(reinterpret_cast<const char*>(at(0).segment) + RTE_CACHE_LINE_SIZE);
  }
  if (c.segment != nullptr)
    rte_pktmbuf_free_seg(c.segment);
  else if (c.release != nullptr)
    c.release(c.ctx, c.data, c.length);
}

void SendBuffer::reset() {
  closed_ = true;
  while (count_ > 0)
    release_front();
  acked_.clear();
  lost_.clear();
}

}  // namespace dquic
