#include "h3/qpack_prefixed_int.h"

namespace dquic {

PrefixedIntResult qpack_read_int(Reader& r, unsigned prefix_bits, std::uint64_t* v) {
  Reader c = r;
  std::uint8_t b;
  if (!c.read_u8(&b)) return PrefixedIntResult::kTruncated;
  const std::uint64_t prefix_max = (std::uint64_t{1} << prefix_bits) - 1;
  std::uint64_t value = b & prefix_max;
  if (value == prefix_max) {
    // RFC 7541 §5.1: continuation bytes carry 7 bits each, least significant
    // group first, while the top bit is set.
    unsigned shift = 0;
    do {
      if (!c.read_u8(&b)) return PrefixedIntResult::kTruncated;
      // Nine continuation bytes already cover 63 bits: more (even zero
      // padding) can only be an attempt to make us loop or wrap.
      if (shift > 56) return PrefixedIntResult::kOverflow;
      const std::uint64_t chunk = b & 0x7f;
      if (chunk > ((kQpackIntMax - value) >> shift)) return PrefixedIntResult::kOverflow;
      value += chunk << shift;
      shift += 7;
    } while (b & 0x80);
  }
  *v = value;
  r = c;
  return PrefixedIntResult::kOk;
}

std::size_t qpack_int_size(unsigned prefix_bits, std::uint64_t v) {
  const std::uint64_t prefix_max = (std::uint64_t{1} << prefix_bits) - 1;
  if (v < prefix_max) return 1;
  v -= prefix_max;
  std::size_t n = 2;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void qpack_write_int(Writer& w, std::uint8_t flags, unsigned prefix_bits, std::uint64_t v) {
  const std::uint64_t prefix_max = (std::uint64_t{1} << prefix_bits) - 1;
  if (v < prefix_max) {
    w.write_u8(static_cast<std::uint8_t>(flags | v));
    return;
  }
  w.write_u8(static_cast<std::uint8_t>(flags | prefix_max));
  v -= prefix_max;
  while (v >= 0x80) {
    w.write_u8(static_cast<std::uint8_t>(0x80 | (v & 0x7f)));
    v >>= 7;
  }
  w.write_u8(static_cast<std::uint8_t>(v));
}

}  // namespace dquic
