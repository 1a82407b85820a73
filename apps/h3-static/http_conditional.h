// Validators and the conditional requests a static server answers
// (RFC 9110 §8.8, §13.1.2, §13.1.3, §13.2.2): a strong ETag made from the
// file's identity, If-None-Match with weak comparison, If-Modified-Since.
// If-Match and If-Unmodified-Since (412) are not implemented: they matter
// for state-changing methods, and only GET and HEAD are served.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "apps/h3-static/file_resolver.h"

namespace dquic::h3static {

// A quoted entity-tag, e.g. "\"1a2b-400-17f3c0d2e1a4b000\"".
struct EntityTag {
  char text[64] = {};
  std::uint8_t length = 0;
  std::string_view view() const { return {text, length}; }
};

// Strong (RFC 9110 §8.8.3): inode, size and modification time in
// nanoseconds change whenever the file's content is replaced, whether in
// place or by rename.
EntityTag make_etag(const FileInfo& info);

// RFC 9110 §8.8.3.2 comparison of two entity-tags as sent (with W/ and
// quotes). Strong: both strong and the opaque-tags equal. Weak: the
// opaque-tags equal, W/ ignored.
bool etag_strong_equal(std::string_view a, std::string_view b);
bool etag_weak_equal(std::string_view a, std::string_view b);

enum class ListMatch : std::uint8_t { kInvalid, kMatch, kNoMatch };

// If-None-Match = "*" / #entity-tag (RFC 9110 §13.1.2): kMatch when the
// field is "*" (the file exists) or one member weakly matches `etag`;
// kInvalid when the field is not that syntax (the caller ignores it).
ListMatch if_none_match(std::string_view field, std::string_view etag);

// Last-Modified, in seconds (RFC 9110 §8.8.2.1): the modification time,
// but never later than `now` (a file dated in the future would otherwise
// look unmodified to every later If-Modified-Since).
std::int64_t last_modified_seconds(const FileInfo& info, std::int64_t now);

enum class Condition : std::uint8_t { kProceed, kNotModified };

// RFC 9110 §13.2.2 steps 3 and 4 for GET and HEAD: If-None-Match when
// present and valid, otherwise If-Modified-Since when it is a valid
// HTTP-date. Absent fields are nullopt.
Condition evaluate_conditions(std::optional<std::string_view> if_none_match_field,
                              std::optional<std::string_view> if_modified_since_field,
                              std::string_view etag, std::int64_t last_modified, std::int64_t now);

}  // namespace dquic::h3static
