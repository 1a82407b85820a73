// The request target of a GET/HEAD as a path relative to the served root:
// query and fragment stripped, percent-decoded (RFC 3986 §2.1), "." and empty
// segments dropped, and every form of traversal refused rather than resolved
// (a ".." is never "normalised away": a request that tries is refused).
// Protocol-independent: the HTTP/3 layer hands over the :path value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dquic::h3static {

enum class PathError : std::uint8_t {
  kOk = 0,
  kNotOriginForm,    // does not start with '/' ("*", absolute-form): 400
  kTooLong,          // decoded path longer than kMaxRequestPath: 414
  kMalformedEscape,  // '%' not followed by two hex digits: 400
  kNul,              // %00: 400
  kControlChar,      // raw or decoded control character, raw space: 400
  kBackslash,        // raw '\' or %5c: 400 (Windows-style separator)
  kEncodedSlash,     // %2f inside a segment: 404 (would change the segmentation)
  kDotDot,           // ".." segment, raw or decoded (%2e%2e, .%2e): 404
  kHidden,           // segment starting with '.' while hidden files are off: 404
};

// The status a server answers a refused path with.
int path_error_status(PathError e);
std::string_view path_error_name(PathError e);

// Decoded, relative to the root ("" is the root itself), segments separated
// by a single '/', no leading or trailing '/'. Fixed storage: no allocation.
inline constexpr std::size_t kMaxRequestPath = 1024;

struct NormalizedPath {
  char bytes[kMaxRequestPath];
  std::size_t length = 0;
  // The request ended in '/' (a directory was asked for explicitly).
  bool trailing_slash = false;
  std::string_view view() const { return {bytes, length}; }
};

struct PathOptions {
  // Serve files and directories whose name starts with '.' (".git",
  // ".env"). Off by default: they are rarely meant to be published.
  bool allow_hidden = false;
};

// `target` is the :path pseudo-header value as received.
PathError normalize_request_path(std::string_view target, const PathOptions& options,
                                 NormalizedPath& out);

}  // namespace dquic::h3static
