// Byte range requests (RFC 9110 §14): one range is served as 206; several
// ranges are answered with the whole representation (200), because
// multipart/byteranges is not supported (RFC 9110 §14.2 lets a server
// ignore Range). If-Range (§13.1.5) decides whether Range applies at all.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dquic::h3static {

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  std::uint64_t length() const { return last - first + 1; }
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

enum class RangeKind : std::uint8_t {
  kIgnore,         // invalid syntax, other unit, zero-length file: 200
  kSingle,         // one satisfiable range: 206
  kMultiple,       // more than one range, at least one satisfiable: 200
  kUnsatisfiable,  // no range satisfiable: 416 with "bytes */size"
};

struct RangeResult {
  RangeKind kind = RangeKind::kIgnore;
  ByteRange range;  // kSingle only, clamped to the file
};

// `field` is the Range field value; `size` the representation's length.
RangeResult parse_range(std::string_view field, std::uint64_t size);

// RFC 9110 §13.1.5: true when the If-Range validator matches, so Range is
// honoured: an entity-tag must be strongly equal to `etag`; an HTTP-date
// must equal `last_modified` exactly. Anything else (a weak tag, an invalid
// value) does not match and the whole representation is sent.
bool if_range_matches(std::string_view field, std::string_view etag, std::int64_t last_modified,
                      std::int64_t now);

// "bytes 0-499/1234" (206) or "bytes */1234" (416), in `out` (>= 70 bytes).
std::string_view format_content_range(const ByteRange* range, std::uint64_t size, char* out,
                                      std::size_t out_size);

}  // namespace dquic::h3static
