// Connection IDs (RFC 9000 §5.1). Decoders hand out views (ByteSpan) into the
// packet; ConnectionId is the owned, fixed-size form for state kept longer.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "quic/buffer.h"

namespace dquic {

// RFC 9000 §17.2: QUIC v1 connection IDs are at most 20 bytes.
inline constexpr std::size_t kMaxConnectionIdLength = 20;

struct ConnectionId {
  std::uint8_t length = 0;
  std::array<std::uint8_t, kMaxConnectionIdLength> bytes{};

  // Returns false (and leaves *out unchanged) if `b` is longer than 20 bytes.
  [[nodiscard]] static bool from(ByteSpan b, ConnectionId* out) {
    if (b.size() > kMaxConnectionIdLength) return false;
    out->length = static_cast<std::uint8_t>(b.size());
    std::copy(b.begin(), b.end(), out->bytes.begin());
    return true;
  }
  ByteSpan span() const { return {bytes.data(), length}; }
  bool empty() const { return length == 0; }

  friend bool operator==(const ConnectionId& a, const ConnectionId& b) {
    return a.length == b.length &&
           std::equal(a.bytes.begin(), a.bytes.begin() + a.length, b.bytes.begin());
  }
};

inline bool same_bytes(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace dquic
