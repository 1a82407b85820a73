#include "apps/h3-static/content_type.h"

#include <cstddef>

namespace dquic::h3static {
namespace {

struct Mapping {
  std::string_view extension;  // lowercase
  std::string_view type;
};

// javascript: RFC 9239 (text/javascript); mjs is the module form.
constexpr Mapping kTypes[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},  // RFC 8259 §11: no charset parameter
    {"txt", "text/plain; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"bmp", "image/bmp"},  // IANA media type registry (image/bmp)
    {"ico", "image/vnd.microsoft.icon"},
    {"wasm", "application/wasm"},
    {"woff", "font/woff"},    // RFC 8081
    {"woff2", "font/woff2"},  // RFC 8081
    {"pdf", "application/pdf"},
    {"xml", "application/xml"},  // RFC 7303: charset from the XML declaration
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
};

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_lower(std::string_view a, std::string_view lower_b) {
  if (a.size() != lower_b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower_b[i]) return false;
  return true;
}

}  // namespace

std::string_view content_type_for(std::string_view path) {
  const std::size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const std::size_t dot = name.rfind('.');
  // ".bashrc" has no extension: a leading dot names a hidden file.
  if (dot == std::string_view::npos || dot == 0) return kDefaultContentType;
  const std::string_view ext = name.substr(dot + 1);
  for (const Mapping& m : kTypes)
    if (equals_lower(ext, m.extension)) return m.type;
  return kDefaultContentType;
}

}  // namespace dquic::h3static
