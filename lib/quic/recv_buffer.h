// Receive-side reassembly of STREAM and CRYPTO data (RFC 9000 §2.2, §4,
// §19.6, §19.8) that keeps the bytes in the packets they arrived in.
//
// Storage has two layers that never hold the same byte:
//  - Reference records: {offset, length, data, segment}. Each holds one
//    reference (rte_mbuf_refcnt_update) on the mbuf *segment* whose data area
//    contains the bytes, released with rte_pktmbuf_free_seg. The segment, not
//    the packet head: rte_pktmbuf_free on a head walks and decrements the
//    whole chain, so a reference on the head alone would not keep a tail
//    segment alive, and pinning one segment pins the least memory.
//  - Copy blocks: when a piece is small (< min_reference_bytes, so pinning a
//    whole packet for it would be wasteful), the reference records are all in
//    use, or the range already has a block, the piece is copied into a block:
//    an mbuf from copy_pool covering the aligned stream range [k*B, (k+1)*B),
//    with a presence bitmap in front of the data. A block costs one index slot
//    however fragmented its contents are, which is what bounds memory against
//    a peer sending tiny out-of-order fragments (one record per fragment would
//    cost max_span / 2 records). A block is freed once nothing unread is left
//    in it.
//
// Worst case per buffer (heap: the records at construction and the block
// index at the first copied fragment, once; the rest comes from mempools,
// whose exhaustion insert() reports):
//   max_segments pinned packet segments (one mbuf each)
//   + (max_span / B + 2) copy-block mbufs
//   + max_segments * sizeof(Record) + (max_span / B + 2) * 24 bytes of index,
// where B = block_size(), 1792 for the default 2176-byte data room. With the
// defaults (2.3 KiB per mbuf) that is about 290 KiB pinned + 1.3 * max_span
// (330 KiB) of blocks + 8 KiB. Bytes at or beyond read_offset + max_span are
// refused; max_span is at least the receive window flow control advertises
// (RFC 9000 §4.1), so a peer cannot grow any of these.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace dquic {

struct RecvBufferConfig {
  // Reference records (= packet segments pinned at most).
  std::size_t max_segments = 128;
  // Pieces shorter than this are copied rather than pinning a packet.
  std::size_t min_reference_bytes = 64;
  // Data must end at or before read_offset + max_span: the stream receive
  // window, or the CRYPTO buffer size (RFC 9000 §7.5: at least 4096).
  std::uint64_t max_span = 256 * 1024;
  // Source of copy blocks; nullptr disables copying (every piece is then
  // referenced and kTooFragmented reports when records run out).
  rte_mempool* copy_pool = nullptr;
};

enum class RecvInsertResult : std::uint8_t {
  kOk,
  // Bytes at or beyond read_offset + max_span (or past 2^62 - 1): the peer
  // exceeded the window. FLOW_CONTROL_ERROR for streams, CRYPTO_BUFFER_EXCEEDED
  // for CRYPTO (RFC 9000 §4.1, §7.5).
  kBeyondLimit,
  // Out of reference records with copying disabled (kTooFragmented), or the
  // copy pool is empty (kNoMemory). Nothing was stored, so the connection may
  // discard the packet without acknowledging it (the peer retransmits, RFC
  // 9000 §13.3) or close with INTERNAL_ERROR.
  kTooFragmented,
  kNoMemory,
  // data is not inside owner's data area: a caller bug.
  kInvalidArgument,
};

// Contiguous bytes available to the application, pointing into packet memory.
struct RecvSegment {
  const std::uint8_t* data = nullptr;
  std::size_t length = 0;
};

class RecvBuffer {
 public:
  // Index and records are allocated here, once.
  explicit RecvBuffer(const RecvBufferConfig& config);
  ~RecvBuffer();
  RecvBuffer(const RecvBuffer&) = delete;
  RecvBuffer& operator=(const RecvBuffer&) = delete;

  // Records [offset, offset + len) of a frame whose bytes lie in the data area
  // of one segment of packet `owner`. Bytes already received or already read
  // are dropped (RFC 9000 §2.2: data at a given offset does not change); only
  // new bytes are stored. The caller keeps and later frees its own reference
  // to `owner`. All-or-nothing: on any error nothing was stored.
  RecvInsertResult insert(std::uint64_t offset, const std::uint8_t* data, std::size_t len,
                          rte_mbuf* owner);

  // Contiguous bytes from the read offset, in order, zero-copy. Fills at most
  // out.size() segments and returns how many; valid until consume() or reset().
  std::size_t peek(std::span<RecvSegment> out) const;
  // Releases n bytes from the read offset (clamped to readable()); returns
  // the number released. Packets and blocks whose bytes are all read are freed.
  std::size_t consume(std::size_t n);
  // Copying convenience: peek, copy into out, consume.
  std::size_t read(std::span<std::uint8_t> out);

  // The final size, from a STREAM frame with FIN or RESET_STREAM; the
  // final-size rules themselves (RFC 9000 §4.5) are checked by flow control.
  void set_final_size(std::uint64_t final_size);
  // All bytes up to the final size have been read (RFC 9000 §3.2 "Data Read").
  bool is_finished() const { return has_final_size_ && read_offset_ >= final_size_; }

  // Releases every packet and block and discards later data (RESET_STREAM,
  // STOP_SENDING by the app, connection close). Offsets keep their values.
  void reset();

  std::uint64_t read_offset() const { return read_offset_; }
  // Bytes readable now without a gap.
  std::size_t readable() const { return static_cast<std::size_t>(contiguous_end_ - read_offset_); }
  // Bytes held above the read offset, in both layers.
  std::size_t buffered_bytes() const { return stored_bytes_; }
  std::size_t segment_count() const { return records_.size(); }
  std::size_t block_count() const { return block_count_; }
  // B: stream bytes per copy block; 0 when copying is disabled.
  std::size_t block_size() const { return block_size_; }

 private:
  struct Record {
    std::uint64_t offset;
    std::size_t length;
    const std::uint8_t* data;
    rte_mbuf* segment;  // holds one reference of ours
    std::uint64_t end() const { return offset + length; }
  };
  struct BlockSlot {
    std::uint64_t index = 0;
    rte_mbuf* mbuf = nullptr;
    // rte_pktmbuf_mtod(mbuf), kept so that reaching the bitmap and data does
    // not load the mbuf header (a cache miss once the block is not new).
    std::uint8_t* base = nullptr;
  };
  // Insert state shared by the dry run (which checks resources) and the
  // commit, so both take the same decisions.
  struct Walk {
    bool commit = false;
    std::uint64_t offset = 0;  // of data[0]
    const std::uint8_t* data = nullptr;
    rte_mbuf* segment = nullptr;
    std::size_t records_free = 0;
    std::size_t new_blocks = 0;
    std::uint64_t last_planned_block = UINT64_MAX;
    std::size_t fresh_used = 0;  // commit: blocks taken from fresh_
    bool failed = false;
  };

  void walk_holes(Walk& w, std::uint64_t first, std::uint64_t end);
  std::size_t walk_hole(Walk& w, std::size_t at, std::uint64_t first, std::uint64_t end);
  std::size_t store_run(Walk& w, std::size_t at, std::uint64_t first, std::uint64_t end,
                        bool in_blocks);
  void copy_into_blocks(Walk& w, std::uint64_t first, std::uint64_t end);
  bool block_known(const Walk& w, std::uint64_t k) const;
  bool segment_at(std::uint64_t pos, RecvSegment* out) const;
  void advance_contiguous();
  void release_all();

  const BlockSlot* block(std::uint64_t k) const {
    if (block_count_ == 0) return nullptr;  // the common case: no division
    const BlockSlot& s = slots_[k % slots_.size()];
    return s.mbuf != nullptr && s.index == k ? &s : nullptr;
  }
  std::uint64_t* bitmap(const BlockSlot* b) const {
    return reinterpret_cast<std::uint64_t*>(b->base);
  }
  std::uint8_t* block_data(const BlockSlot* b) const { return b->base + block_size_ / 8; }

  RecvBufferConfig config_;
  std::size_t block_size_ = 0;
  std::vector<Record> records_;   // ascending, disjoint; capacity max_segments
  std::size_t index_slots_ = 0;   // slots_'s size once built
  std::vector<BlockSlot> slots_;  // block k lives in slot k % size (a window), built lazily
  std::vector<rte_mbuf*> fresh_;  // blocks allocated by one insert before it commits
  std::size_t block_count_ = 0;
  std::uint64_t read_offset_ = 0;
  std::uint64_t contiguous_end_ = 0;
  std::size_t stored_bytes_ = 0;
  std::uint64_t final_size_ = 0;
  bool has_final_size_ = false;
  bool reset_ = false;
};

}  // namespace dquic
