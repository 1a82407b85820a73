// The bytes quic-perf sends, without a copy per write: one mbuf per worker
// holds a kPatternChunk-byte pattern (perf_protocol.h), and each write hands
// the connection a reference to it (Connection::write_mbuf; the stream keeps
// one reference per chunk until the peer acknowledges it). write_mbuf has no
// buffer limit of its own, so the references are the budget: the mbuf's
// reference count is how many chunks this worker's streams hold, and no more
// are appended past `budget_chunks` until acknowledgements release some. The
// worker's memory for unacknowledged data is therefore bounded, whatever the
// number of streams. Setup allocates; send() does not.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <string>

#include "quic/connection.h"

namespace dquic::perf {

class PatternSource {
 public:
  // A pool of one mbuf with room for the chunk on `socket`. budget_chunks
  // is capped below the 16-bit reference count.
  static std::unique_ptr<PatternSource> create(int socket, std::uint32_t budget_chunks,
                                               std::string* err);
  // Must run after every connection that wrote from it is destroyed.
  ~PatternSource();
  PatternSource(const PatternSource&) = delete;
  PatternSource& operator=(const PatternSource&) = delete;

  // Appends up to `*remaining` bytes to `stream` by reference, chunk by
  // chunk while the budget lasts, and FIN with the last byte when `fin`.
  // `*remaining` == 0 with `fin` sends only the FIN. Decrements *remaining.
  // Returns false when the stream refused (closed, reset): stop writing it.
  // *fin_sent tells whether the FIN went out.
  bool send(Connection& c, std::uint64_t stream, std::uint64_t* remaining, bool fin,
            bool* fin_sent);

  std::uint32_t chunks_held() const;  // by streams, now
  bool has_room() const { return chunks_held() < budget_; }
  std::uint32_t budget_chunks() const { return budget_; }

 private:
  PatternSource() = default;
  rte_mempool* pool_ = nullptr;
  rte_mbuf* m_ = nullptr;
  const std::uint8_t* data_ = nullptr;
  std::uint32_t budget_ = 0;
};

}  // namespace dquic::perf
