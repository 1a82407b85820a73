// String literals (RFC 9204 §4.1.2, the RFC 7541 §5.2 format with an
// N-bit length prefix): an H (Huffman) flag just above the prefix.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "quic/buffer.h"

namespace dquic {

enum class QpackStringResult : std::uint8_t {
  kOk,
  kTruncated,  // more input needed
  kTooLong,    // longer than the caller's max_len (Huffman: surely longer)
  kInvalid,    // length overflow or bad Huffman code
  kNoRoom,     // the decoded Huffman string does not fit the scratch
};

// Reads a string literal whose H bit is bit `prefix_bits` of the first byte.
// A raw string is returned as a view into the input; a Huffman string is
// decoded into `scratch` and *scratch_used says how much of it. Consumes
// input only on kOk. A Huffman string that decodes to more than max_len
// bytes surfaces as kNoRoom when the scratch is max_len long.
QpackStringResult qpack_read_string(Reader& r, unsigned prefix_bits, std::size_t max_len,
                                    std::span<std::uint8_t> scratch, std::string_view* out,
                                    std::size_t* scratch_used);

// Whether the Huffman form of `s` is strictly shorter (we then use it).
bool qpack_prefer_huffman(std::string_view s);

// Bytes qpack_write_string takes.
std::size_t qpack_string_size(unsigned prefix_bits, std::string_view s, bool huffman);

// Writes `s` with `flags` above the H bit; Huffman-coded when `huffman`.
void qpack_write_string(Writer& w, std::uint8_t flags, unsigned prefix_bits, std::string_view s,
                        bool huffman);

}  // namespace dquic
