// The answer to one GET or HEAD for a static file, independent of the
// HTTP version: status, header fields (lowercase names, as HTTP/3 sends
// them) and where the body comes from. The HTTP/3 layer encodes the fields
// and streams the body; nothing here allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "apps/h3-static/file_resolver.h"
#include "apps/h3-static/request_path.h"
#include "apps/h3-static/unique_fd.h"

namespace dquic::h3static {

struct StaticConfig {
  const FileResolver* resolver = nullptr;
  PathOptions path_options;
  // Advertise HTTP/3 on this UDP port (RFC 7838 Alt-Svc); 0: no header.
  std::uint16_t alt_svc_port = 0;
};

// The fields of the request that matter; nullopt when the field is absent.
// Repeated field lines must be joined with ", " by the caller (RFC 9110
// §5.3), which only list-valued fields (If-None-Match) may have.
struct StaticRequest {
  std::string_view method;
  std::string_view path;  // :path
  std::optional<std::string_view> if_none_match;
  std::optional<std::string_view> if_modified_since;
  std::optional<std::string_view> range;
  std::optional<std::string_view> if_range;
};

struct HeaderField {
  std::string_view name;  // static lowercase string
  char value[96];
  std::uint8_t value_length = 0;
  std::string_view value_view() const { return {value, value_length}; }
};

enum class BodyKind : std::uint8_t {
  kNone,  // HEAD, 304, or an empty file
  kFile,  // file_fd, [body_offset, body_offset + body_length)
  kText,  // text: a static error body
};

struct ResponsePlan {
  static constexpr std::size_t kMaxHeaders = 10;

  int status = 0;
  std::array<HeaderField, kMaxHeaders> headers;
  std::size_t header_count = 0;

  BodyKind body_kind = BodyKind::kNone;
  UniqueFd file_fd;  // the opened file for kFile (take it to map it)
  FileInfo file_info;
  std::uint64_t body_offset = 0;
  std::uint64_t body_length = 0;
  std::string_view text;

  // Why the request was refused, for logs and tests.
  PathError path_error = PathError::kOk;
  ResolveError resolve_error = ResolveError::kOk;

  // Value of the field `name`, or nullopt.
  std::optional<std::string_view> header(std::string_view name) const;
  // Appends a field (ignored beyond kMaxHeaders or 95 value bytes: the
  // values built here are all shorter).
  void add_header(std::string_view name, std::string_view value);
};

// `now` (Unix seconds) dates the response and bounds Last-Modified.
void plan_static_response(const StaticConfig& config, const StaticRequest& request,
                          std::int64_t now, ResponsePlan& out);

}  // namespace dquic::h3static
