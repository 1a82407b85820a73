#include "quic/varint.h"

namespace dquic {

void varint_write(std::uint8_t* out, std::uint64_t v, std::size_t len) {
  // RFC 9000 §16: the two most significant bits of the first byte hold log2(len).
  static constexpr std::uint8_t kPrefix[9] = {0, 0x00, 0x40, 0, 0x80, 0, 0, 0, 0xc0};
  for (std::size_t i = len; i > 0; --i) {
    out[i - 1] = static_cast<std::uint8_t>(v);
    v >>= 8;
  }
  out[0] |= kPrefix[len];
}

std::size_t varint_read(const std::uint8_t* in, std::size_t avail, std::uint64_t* v) {
  if (avail == 0) return 0;
  const std::size_t len = varint_length_from_prefix(in[0]);
  if (len > avail) return 0;
  std::uint64_t r = in[0] & 0x3f;
  for (std::size_t i = 1; i < len; ++i)
    r = (r << 8) | in[i];
  *v = r;
  return len;
}

}  // namespace dquic
