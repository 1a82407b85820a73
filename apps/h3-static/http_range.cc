#include "apps/h3-static/http_range.h"

#include <cstdio>

#include "apps/h3-static/http_conditional.h"
#include "apps/h3-static/http_date.h"

namespace dquic::h3static {
namespace {

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// 1*DIGIT at s[i], saturating at UINT64_MAX (a position past any file).
bool number(std::string_view s, std::size_t& i, std::uint64_t& v) {
  if (i >= s.size() || !is_digit(s[i])) return false;
  v = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    const std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
  }
  return true;
}

bool unit_is_bytes(std::string_view u) {
  // RFC 9110 §14.1: range units are compared case-insensitively.
  if (u.size() != 5) return false;
  for (std::size_t i = 0; i < 5; ++i) {
    const char c = u[i] >= 'A' && u[i] <= 'Z' ? static_cast<char>(u[i] - 'A' + 'a') : u[i];
    if (c != "bytes"[i]) return false;
  }
  return true;
}

}  // namespace

RangeResult parse_range(std::string_view field, std::uint64_t size) {
  // ranges-specifier = range-unit "=" range-set (RFC 9110 §14.1.1)
  const std::size_t eq = field.find('=');
  if (eq == std::string_view::npos || !unit_is_bytes(field.substr(0, eq))) return {};
  const std::string_view set = field.substr(eq + 1);

  std::size_t count = 0, satisfiable = 0;
  ByteRange single;
  std::size_t i = 0;
  while (i < set.size()) {
    // range-set = 1#range-spec: empty members and OWS allowed.
    if (is_ows(set[i]) || set[i] == ',') {
      ++i;
      continue;
    }
    std::uint64_t first = 0, last = 0;
    bool ok;
    ByteRange r;
    if (set[i] == '-') {
      // suffix-range = "-" suffix-length
      ++i;
      if (!number(set, i, last)) return {};
      // §14.1.1: satisfiable when the suffix-length is non-zero.
      ok = last > 0;
      if (ok && size > 0) r = {last >= size ? 0 : size - last, size - 1};
    } else {
      // int-range = first-pos "-" [ last-pos ]
      if (!number(set, i, first)) return {};
      if (i >= set.size() || set[i] != '-') return {};
      ++i;
      const bool has_last = number(set, i, last);
      // §14.1.1: last-pos < first-pos makes the whole field invalid.
      if (has_last && last < first) return {};
      ok = first < size;
      if (ok) r = {first, has_last && last < size ? last : size - 1};
    }
    while (i < set.size() && is_ows(set[i]))
      ++i;
    if (i < set.size() && set[i] != ',') return {};
    ++count;
    if (ok) {
      ++satisfiable;
      single = r;
    }
  }
  if (count == 0) return {};
  if (satisfiable == 0) return {RangeKind::kUnsatisfiable, {}};
  // §14.1.1: for a zero-length representation only a non-zero suffix is
  // satisfiable; there are no bytes to put in a 206, so send the 200.
  if (size == 0) return {};
  if (count > 1) return {RangeKind::kMultiple, {}};
  return {RangeKind::kSingle, single};
}

bool if_range_matches(std::string_view field, std::string_view etag, std::int64_t last_modified,
                      std::int64_t now) {
  std::size_t b = 0, e = field.size();
  while (b < e && is_ows(field[b]))
    ++b;
  while (e > b && is_ows(field[e - 1]))
    --e;
  field = field.substr(b, e - b);
  // If-Range = entity-tag / HTTP-date
  if (!field.empty() && (field[0] == '"' || field.substr(0, 2) == "W/"))
    return etag_strong_equal(field, etag);
  const std::optional<std::int64_t> date = parse_http_date(field, now);
  return date && *date == last_modified;
}

std::string_view format_content_range(const ByteRange* range, std::uint64_t size, char* out,
                                      std::size_t out_size) {
  // RFC 9110 §14.4: "bytes first-last/complete-length" or "bytes */length".
  const int n = range != nullptr ? std::snprintf(out, out_size, "bytes %llu-%llu/%llu",
                                                 static_cast<unsigned long long>(range->first),
                                                 static_cast<unsigned long long>(range->last),
                                                 static_cast<unsigned long long>(size))
                                 : std::snprintf(out, out_size, "bytes */%llu",
                                                 static_cast<unsigned long long>(size));
  if (n < 0 || static_cast<std::size_t>(n) >= out_size) return {};
  return {out, static_cast<std::size_t>(n)};
}

}  // namespace dquic::h3static
