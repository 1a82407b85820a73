#include "apps/h3-static/request_path.h"

namespace dquic::h3static {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 §2.1 percent-decoding of one segment (no '/' in `raw`) into
// `out`; refuses what could reach the file system as something else
// than a plain name component.
PathError decode_segment(std::string_view raw, char* out, std::size_t cap, std::size_t& len) {
  len = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(raw[i]);
    if (c == '\\') return PathError::kBackslash;
    if (c <= 0x20 || c == 0x7f) return c == 0 ? PathError::kNul : PathError::kControlChar;
    if (c == '%') {
      if (i + 2 >= raw.size()) return PathError::kMalformedEscape;
      const int hi = hex_value(raw[i + 1]);
      const int lo = hex_value(raw[i + 2]);
      if (hi < 0 || lo < 0) return PathError::kMalformedEscape;
      c = static_cast<unsigned char>(hi * 16 + lo);
      i += 2;
      if (c == 0) return PathError::kNul;
      if (c == '/') return PathError::kEncodedSlash;
      if (c == '\\') return PathError::kBackslash;
      if (c < 0x20 || c == 0x7f) return PathError::kControlChar;
    }
    if (len == cap) return PathError::kTooLong;
    out[len++] = static_cast<char>(c);
  }
  return PathError::kOk;
}

}  // namespace

int path_error_status(PathError e) {
  switch (e) {
    case PathError::kOk:
      return 200;
    case PathError::kTooLong:
      return 414;  // RFC 9110 §15.5.15
    case PathError::kEncodedSlash:
    case PathError::kDotDot:
    case PathError::kHidden:
      return 404;
    case PathError::kNotOriginForm:
    case PathError::kMalformedEscape:
    case PathError::kNul:
    case PathError::kControlChar:
    case PathError::kBackslash:
      break;
  }
  return 400;
}

std::string_view path_error_name(PathError e) {
  switch (e) {
    case PathError::kOk:
      return "ok";
    case PathError::kNotOriginForm:
      return "not-origin-form";
    case PathError::kTooLong:
      return "too-long";
    case PathError::kMalformedEscape:
      return "malformed-escape";
    case PathError::kNul:
      return "nul";
    case PathError::kControlChar:
      return "control-char";
    case PathError::kBackslash:
      return "backslash";
    case PathError::kEncodedSlash:
      return "encoded-slash";
    case PathError::kDotDot:
      return "dot-dot";
    case PathError::kHidden:
      return "hidden";
  }
  return "?";
}

PathError normalize_request_path(std::string_view target, const PathOptions& options,
                                 NormalizedPath& out) {
  out.length = 0;
  out.trailing_slash = false;
  // RFC 9110 §7.1: origin-form is absolute-path [ "?" query ]. A fragment
  // is never sent (RFC 9110 §7.1), but drop one rather than serve "a#b".
  const std::size_t end = target.find_first_of("?#");
  if (end != std::string_view::npos) target = target.substr(0, end);
  if (target.empty() || target[0] != '/') return PathError::kNotOriginForm;
  out.trailing_slash = target.size() > 1 && target.back() == '/';

  std::size_t pos = 1;
  while (pos <= target.size()) {
    std::size_t slash = target.find('/', pos);
    if (slash == std::string_view::npos) slash = target.size();
    const std::string_view raw = target.substr(pos, slash - pos);
    pos = slash + 1;
    if (raw.empty()) continue;  // "//": empty segments collapse

    // Segment is decoded after a separator slot is reserved.
    const std::size_t start = out.length == 0 ? 0 : out.length + 1;
    if (start > kMaxRequestPath) return PathError::kTooLong;
    std::size_t len = 0;
    const PathError e = decode_segment(raw, out.bytes + start, kMaxRequestPath - start, len);
    if (e != PathError::kOk) return e;
    const std::string_view seg(out.bytes + start, len);
    // RFC 3986 §5.2.4 would resolve dot-segments; a ".." that got as far
    // as the server is a traversal attempt (clients resolve it first), so
    // it is refused whether it was written raw or percent-encoded.
    if (seg == "..") return PathError::kDotDot;
    if (seg == ".") continue;  // "/./" is the same directory
    if (seg[0] == '.' && !options.allow_hidden) return PathError::kHidden;
    if (out.length != 0) out.bytes[out.length] = '/';
    out.length = start + len;
  }
  if (out.length == 0) out.trailing_slash = true;  // the root is a directory
  return PathError::kOk;
}

}  // namespace dquic::h3static
