// N-bit prefix integers (RFC 7541 §5.1, used unmodified by RFC 9204 §4.1.1).
#pragma once

#include <cstddef>
#include <cstdint>

#include "quic/buffer.h"

namespace dquic {

// RFC 9204 §4.1.1: decoders must handle 62-bit values; larger ones are
// rejected rather than wrapped.
inline constexpr std::uint64_t kQpackIntMax = (std::uint64_t{1} << 62) - 1;

enum class PrefixedIntResult : std::uint8_t { kOk, kTruncated, kOverflow };

// Reads an integer whose prefix is the low `prefix_bits` (1..8) bits of the
// next byte; the bits above the prefix are the caller's (flags). Consumes
// input only on kOk.
PrefixedIntResult qpack_read_int(Reader& r, unsigned prefix_bits, std::uint64_t* v);

// Bytes qpack_write_int takes for `v`.
std::size_t qpack_int_size(unsigned prefix_bits, std::uint64_t v);

// Writes `v` with `flags` in the bits above the prefix of the first byte.
void qpack_write_int(Writer& w, std::uint8_t flags, unsigned prefix_bits, std::uint64_t v);

}  // namespace dquic
