// HPACK/QPACK Huffman string coding (RFC 7541 §5.2 and Appendix B; used
// unchanged by RFC 9204 §4.1.2). Table-driven, never allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "quic/buffer.h"

namespace dquic {

enum class HuffmanResult : std::uint8_t {
  kOk,
  kInvalid,  // EOS symbol, or padding longer than 7 bits or not all ones
  kNoRoom,   // `out` is too small for the decoded string
};

// Bytes the Huffman coding of `in` takes, padding included.
std::size_t huffman_encoded_size(ByteSpan in);

// Appends the Huffman coding of `in`, padded with the most significant bits
// of EOS (ones) to a byte boundary (RFC 7541 §5.2).
void huffman_encode(ByteSpan in, Writer& w);

// Decodes `in` into `out`; *out_len is the decoded length on kOk.
HuffmanResult huffman_decode(ByteSpan in, std::span<std::uint8_t> out, std::size_t* out_len);

// Upper bound of the decoded length: the shortest code is 5 bits.
constexpr std::size_t huffman_max_decoded_size(std::size_t encoded) {
  return encoded * 8 / 5;
}

}  // namespace dquic
