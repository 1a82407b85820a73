// Finding the mbuf segment that holds a byte range, for the stream buffers
// that keep data by reference (one refcount on that segment, RFC 9000 §2.2
// data kept until read or acknowledged).
#pragma once

#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>

#include "quic/varint.h"

namespace dquic {

// RFC 9000 §19.8: offset + length of stream data cannot exceed 2^62 - 1.
inline constexpr std::uint64_t kMaxStreamOffset = kVarintMax;

// The segment of the chain whose data area holds [data, data + len), if any.
inline rte_mbuf* find_segment(rte_mbuf* m, const std::uint8_t* data, std::size_t len) {
  const auto p = reinterpret_cast<std::uintptr_t>(data);
  for (; m != nullptr; m = m->next) {
    const auto begin = rte_pktmbuf_mtod(m, std::uintptr_t);
    if (p >= begin && p - begin <= m->data_len && len <= m->data_len - (p - begin)) return m;
  }
  return nullptr;
}

}  // namespace dquic
