// Variable-length integer encoding (RFC 9000 §16).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dquic {

inline constexpr std::uint64_t kVarintMax = (std::uint64_t{1} << 62) - 1;

// Bytes the shortest encoding of `v` takes (1, 2, 4 or 8); 0 if v > kVarintMax.
constexpr std::size_t varint_size(std::uint64_t v) {
  if (v < (1u << 6)) return 1;
  if (v < (1u << 14)) return 2;
  if (v < (1u << 30)) return 4;
  if (v <= kVarintMax) return 8;
  return 0;
}

// Length of an encoded varint from its first byte (the two-bit prefix).
constexpr std::size_t varint_length_from_prefix(std::uint8_t first) {
  return std::size_t{1} << (first >> 6);
}

// Writes `v` in exactly `len` bytes (1, 2, 4 or 8). The caller guarantees room and
// that `v` fits: use varint_size() or check with varint_fits().
void varint_write(std::uint8_t* out, std::uint64_t v, std::size_t len);

constexpr bool varint_fits(std::uint64_t v, std::size_t len) {
  switch (len) {
    case 1:
      return v < (1u << 6);
    case 2:
      return v < (1u << 14);
    case 4:
      return v < (1u << 30);
    case 8:
      return v <= kVarintMax;
    default:
      return false;
  }
}

// Decodes one varint from [in, in+avail). Returns bytes consumed, or 0 when the
// input is truncated. Non-minimal encodings are accepted (RFC 9000 §16 allows them).
std::size_t varint_read(const std::uint8_t* in, std::size_t avail, std::uint64_t* v);

}  // namespace dquic
