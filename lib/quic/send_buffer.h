// Send-side stream (and CRYPTO) data: bytes the application handed over,
// kept by reference until the peer acknowledges them (RFC 9000 §2.2, §3.1,
// §13.3). The packet builder pulls ranges to send, lost ranges first, and
// gathers pointers to the bytes so the AEAD reads them straight from the
// application's memory (ARCHITECTURE-GUIDE hot path step 6).
//
// Chunks are kept in a ring whose capacity is fixed at construction; the
// application decides how much it buffers (append fails when full, and
// buffered_bytes() lets the connection apply a per-stream limit), so the peer
// cannot make this grow. append_copy copies into mbufs from a pool given at
// construction, filling the last copied mbuf before taking another.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "quic/range_set.h"

namespace dquic {

// Pointer and length of bytes to be sent, in the sender's memory, and their
// IO address when known (bytes in an mbuf segment, including one attached
// to an external buffer), for a crypto device that reads them in place.
struct DataSegment {
  const std::uint8_t* data = nullptr;
  std::uint32_t length = 0;
  rte_iova_t iova = RTE_BAD_IOVA;
};

// A range for one STREAM/CRYPTO frame; length 0 with fin is a FIN-only frame.
struct SendRange {
  std::uint64_t offset = 0;
  std::size_t length = 0;
  bool fin = false;
  friend bool operator==(const SendRange&, const SendRange&) = default;
};

// Called once, when every byte of an external chunk is acknowledged or the
// buffer is reset or destroyed.
using ReleaseFn = void (*)(void* ctx, const std::uint8_t* data, std::size_t length);

struct SendBufferConfig {
  std::size_t max_chunks = 64;
  // Acknowledged ranges above the fully-acknowledged prefix.
  std::size_t max_acked_ranges = 32;
  // Ranges waiting for retransmission.
  std::size_t max_lost_ranges = 32;
  // Storage for append_copy; nullptr makes append_copy accept nothing.
  rte_mempool* copy_pool = nullptr;
};

class SendBuffer {
 public:
  explicit SendBuffer(const SendBufferConfig& config);
  ~SendBuffer();
  SendBuffer(const SendBuffer&) = delete;
  SendBuffer& operator=(const SendBuffer&) = delete;

  // --- Application side. All return false (taking nothing) when the chunk
  // ring is full, after finish() or reset(), or past 2^62 - 1 bytes.

  // Bytes inside the data area of one segment of `owner`; takes one reference
  // on that segment. The caller keeps its own reference.
  bool append(const std::uint8_t* data, std::size_t len, rte_mbuf* owner);
  // Bytes in memory the application owns (a mapped file, a static body);
  // release(ctx, data, len) is called exactly once when they are not needed.
  bool append_external(const std::uint8_t* data, std::size_t len, ReleaseFn release, void* ctx);
  // Copies; returns how many bytes were accepted (fewer when the pool or the
  // ring runs out).
  std::size_t append_copy(std::span<const std::uint8_t> bytes);
  // No more data: the final size is the current write offset (RFC 9000 §4.5).
  bool finish();

  std::uint64_t write_offset() const { return end_; }
  // Bytes held (appended and not yet released); the connection's limit.
  std::size_t buffered_bytes() const;
  std::size_t unsent_bytes() const { return static_cast<std::size_t>(end_ - next_new_); }
  std::size_t free_chunks() const { return capacity_ - count_; }
  bool fin_set() const { return fin_set_; }

  // --- Packet builder side.

  // The next range to put in a frame, at most max_len bytes: data declared
  // lost first (RFC 9000 §13.3), then new data, then a FIN-only frame. Does
  // not change what counts as sent; call on_sent for what was really sent.
  std::optional<SendRange> next_to_send(std::size_t max_len);
  // Pointers to [offset, offset + len), one per chunk crossed. Returns the
  // number of segments, or nullopt when the range is not held or out is too
  // small.
  std::optional<std::size_t> gather(std::uint64_t offset, std::size_t len,
                                    std::span<DataSegment> out) const;
  bool copy_out(std::uint64_t offset, std::size_t len, std::uint8_t* dst) const;

  // Returns false (changing nothing) for a range that was never appended or
  // that skips unsent bytes, or a fin not at the final size.
  bool on_sent(std::uint64_t offset, std::size_t len, bool fin);
  void on_acked(std::uint64_t offset, std::size_t len, bool fin);
  void on_lost(std::uint64_t offset, std::size_t len, bool fin);

  // Every byte and the FIN acknowledged (RFC 9000 §3.1 "Data Recvd").
  bool all_acked() const { return fin_acked_ && acked_prefix_ == end_; }
  // Bytes below this are all acknowledged.
  std::uint64_t acked_prefix() const { return acked_prefix_; }
  bool has_lost() const { return !lost_.empty(); }
  // The FIN still has to be sent (first time or again after a loss).
  bool fin_pending() const { return fin_set_ && (!fin_sent_ || fin_lost_) && !fin_acked_; }

  // Releases every chunk (RESET_STREAM sent, connection closed); nothing is
  // sent or accepted afterwards.
  void reset();

 private:
  // Trivial, so that the ring's storage is not written (or even paged in)
  // until used; push() writes whole chunks (Chunk{} zeroes).
  struct Chunk {
    std::uint64_t offset;
    const std::uint8_t* data;
    std::uint32_t length;
    bool copied;        // segment is ours alone (append_copy)
    rte_mbuf* segment;  // one reference of ours, or nullptr
    ReleaseFn release;
    void* ctx;
  };

  bool push(const Chunk& c);
  // Slot of the i-th chunk from the front; a compare instead of a division
  // (capacity is max_chunks, not a power of two).
  std::size_t slot(std::size_t i) const {
    const std::size_t s = head_ + i;
    return s >= capacity_ ? s - capacity_ : s;
  }
  Chunk& at(std::size_t i) { return chunks_[slot(i)]; }
  const Chunk& at(std::size_t i) const { return chunks_[slot(i)]; }
  // Index of the chunk holding `offset` (at(0).offset <= offset < end_).
  std::size_t find_chunk(std::uint64_t offset) const;
  void release_front();
  void add_lost(std::uint64_t first, std::uint64_t last);
  void remove_lost(std::uint64_t first, std::uint64_t last);

  SendBufferConfig config_;
  std::size_t capacity_;             // max_chunks, at least 1
  std::unique_ptr<Chunk[]> chunks_;  // ring of capacity_ slots
  std::size_t head_ = 0;             // slot of the front chunk
  std::size_t count_ = 0;
  // Where the last gather/copy_out ended, as an index from the front: the
  // packet builder reads the stream in order, so the next lookup starts
  // there or in the chunk after it instead of a binary search.
  mutable std::size_t hint_ = 0;
  std::uint64_t end_ = 0;           // write offset
  std::uint64_t next_new_ = 0;      // bytes below were sent at least once
  std::uint64_t acked_prefix_ = 0;  // bytes below are acknowledged
  RangeSet acked_;                  // acknowledged, above acked_prefix_
  RangeSet lost_;                   // to retransmit, above acked_prefix_
  RangeSet scratch_;                // rebuilds lost_ without allocating
  bool fin_set_ = false;
  bool fin_sent_ = false;
  bool fin_lost_ = false;
  bool fin_acked_ = false;
  bool closed_ = false;
};

}  // namespace dquic
