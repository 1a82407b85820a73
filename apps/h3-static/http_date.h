// HTTP-date (RFC 9110 §5.6.7): IMF-fixdate is what we send (Last-Modified,
// Date); the two obsolete forms (rfc850-date, asctime-date) are accepted in
// requests, as the RFC requires of recipients.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dquic::h3static {

// Seconds since the Unix epoch. `now` (seconds) is needed only for the
// two-digit year of rfc850-date: a year more than 50 years in the future is
// the most recent past year with the same last two digits (RFC 9110 §5.6.7).
// Case-sensitive and exact (no surrounding whitespace: the HTTP layer strips
// OWS from field values); nullopt for anything else, including impossible
// dates (Feb 30, hour 24).
std::optional<std::int64_t> parse_http_date(std::string_view text, std::int64_t now);

// "Sun, 06 Nov 1994 08:49:37 GMT": always 29 characters.
struct HttpDate {
  char text[30] = {};
  std::string_view view() const { return {text, 29}; }
};
HttpDate format_http_date(std::int64_t unix_seconds);

}  // namespace dquic::h3static
