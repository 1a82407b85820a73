// Content-Type of a served file from its extension (RFC 9110 §8.3). Text
// types carry charset=utf-8 so browsers do not sniff; anything unknown is
// application/octet-stream (RFC 9110 §8.3: a generic type rather than a guess).
#pragma once

#include <string_view>

namespace dquic::h3static {

inline constexpr std::string_view kDefaultContentType = "application/octet-stream";

// `path` is the file's path or name; the extension after the last '.' of its
// last segment is compared case-insensitively. Returns a static string.
std::string_view content_type_for(std::string_view path);

}  // namespace dquic::h3static
