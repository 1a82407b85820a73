#include "h3/qpack_string.h"

#include <cstdint>

#include "h3/huffman.h"
#include "h3/qpack_prefixed_int.h"

namespace dquic {
namespace {

ByteSpan bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

QpackStringResult qpack_read_string(Reader& r, unsigned prefix_bits, std::size_t max_len,
                                    std::span<std::uint8_t> scratch, std::string_view* out,
                                    std::size_t* scratch_used) {
  Reader c = r;
  std::uint8_t first;
  if (!c.peek_u8(&first)) return QpackStringResult::kTruncated;
  const bool huffman = (first >> prefix_bits) & 1;
  std::uint64_t len;
  switch (qpack_read_int(c, prefix_bits, &len)) {
    case PrefixedIntResult::kOk:
      break;
    case PrefixedIntResult::kTruncated:
      return QpackStringResult::kTruncated;
    case PrefixedIntResult::kOverflow:
      return QpackStringResult::kInvalid;
  }
  // A Huffman code is at most 30 bits, so more than 4 * max_len + 1 encoded
  // bytes cannot decode to max_len or fewer: reject before buffering them.
  const std::uint64_t limit =
      !huffman ? max_len : (max_len < SIZE_MAX / 8 ? std::uint64_t{max_len} * 4 + 1 : SIZE_MAX);
  if (len > limit) return QpackStringResult::kTooLong;
  ByteSpan raw;
  if (!c.read_bytes(static_cast<std::size_t>(len), &raw)) return QpackStringResult::kTruncated;
  if (huffman) {
    std::size_t n = 0;
    switch (huffman_decode(raw, scratch, &n)) {
      case HuffmanResult::kOk:
        break;
      case HuffmanResult::kInvalid:
        return QpackStringResult::kInvalid;
      case HuffmanResult::kNoRoom:
        return QpackStringResult::kNoRoom;
    }
    *out = {reinterpret_cast<const char*>(scratch.data()), n};
    *scratch_used = n;
  } else {
    *out = {reinterpret_cast<const char*>(raw.data()), raw.size()};
    *scratch_used = 0;
  }
  r = c;
  return QpackStringResult::kOk;
}

bool qpack_prefer_huffman(std::string_view s) {
  return huffman_encoded_size(bytes_of(s)) < s.size();
}

std::size_t qpack_string_size(unsigned prefix_bits, std::string_view s, bool huffman) {
  const std::size_t len = huffman ? huffman_encoded_size(bytes_of(s)) : s.size();
  return qpack_int_size(prefix_bits, len) + len;
}

void qpack_write_string(Writer& w, std::uint8_t flags, unsigned prefix_bits, std::string_view s,
                        bool huffman) {
  if (huffman) {
    qpack_write_int(w, static_cast<std::uint8_t>(flags | (1u << prefix_bits)), prefix_bits,
                    huffman_encoded_size(bytes_of(s)));
    huffman_encode(bytes_of(s), w);
  } else {
    qpack_write_int(w, flags, prefix_bits, s.size());
    w.write_bytes(bytes_of(s));
  }
}

}  // namespace dquic
