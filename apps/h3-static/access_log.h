// One line per request, in a fixed format, to a stream the caller owns:
//
//   2026-12-03T10:35:51.123Z 198.18.0.1:50123 GET "/index.html" 200 1234 0.512ms stream=4
//
// The path is quoted with '"', '\' and bytes outside 0x21-0x7e written as
// \xHH (a request cannot forge a line or a terminal escape) and truncated to
// keep the line within one fixed buffer. Each line is one fwrite: lines
// from several workers sharing a FILE* do not interleave (stdio locks).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string_view>

#include "quic/peer_address.h"

namespace dquic::h3static {

struct AccessLogEntry {
  std::int64_t time_ns = 0;  // when the request arrived, Unix epoch (UTC)
  PeerAddress peer;
  std::string_view method;
  std::string_view path;
  int status = 0;
  std::uint64_t bytes = 0;        // body bytes sent
  std::uint64_t duration_ns = 0;  // request received to last byte acknowledged
  std::uint64_t stream_id = 0;
};

inline constexpr std::size_t kAccessLogLineMax = 1024;

// Formats into `out` (kAccessLogLineMax bytes), newline included; returns
// the length.
std::size_t format_access_log_line(const AccessLogEntry& e, char* out);

class AccessLog {
 public:
  // `out` may be nullptr: logging off.
  explicit AccessLog(std::FILE* out) : out_(out) {}
  void write(const AccessLogEntry& e);

 private:
  std::FILE* out_;
};

}  // namespace dquic::h3static
