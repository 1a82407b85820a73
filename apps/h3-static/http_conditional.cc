#include "apps/h3-static/http_conditional.h"

#include <cstdio>

#include "apps/h3-static/http_date.h"

namespace dquic::h3static {
namespace {

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3)
bool is_etagc(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

// Parses one entity-tag at the start of `s`; returns its length or 0.
std::size_t entity_tag_length(std::string_view s) {
  std::size_t i = 0;
  if (s.substr(0, 2) == "W/") i = 2;
  if (i >= s.size() || s[i] != '"') return 0;
  for (++i; i < s.size(); ++i) {
    if (s[i] == '"') return i + 1;
    if (!is_etagc(static_cast<unsigned char>(s[i]))) return 0;
  }
  return 0;
}

std::string_view opaque(std::string_view tag) {
  return tag.substr(0, 2) == "W/" ? tag.substr(2) : tag;
}

}  // namespace

EntityTag make_etag(const FileInfo& info) {
  EntityTag t;
  const int n = std::snprintf(
      t.text, sizeof t.text, "\"%llx-%llx-%llx\"", static_cast<unsigned long long>(info.inode),
      static_cast<unsigned long long>(info.size), static_cast<unsigned long long>(info.mtime_ns));
  t.length = static_cast<std::uint8_t>(n > 0 && n < static_cast<int>(sizeof t.text) ? n : 0);
  return t;
}

bool etag_strong_equal(std::string_view a, std::string_view b) {
  return a.substr(0, 2) != "W/" && b.substr(0, 2) != "W/" && a == b;
}

bool etag_weak_equal(std::string_view a, std::string_view b) {
  return opaque(a) == opaque(b);
}

ListMatch if_none_match(std::string_view field, std::string_view etag) {
  std::size_t i = 0;
  while (i < field.size() && is_ows(field[i]))
    ++i;
  std::size_t end = field.size();
  while (end > i && is_ows(field[end - 1]))
    --end;
  field = field.substr(i, end - i);
  if (field == "*") return ListMatch::kMatch;
  // #entity-tag (RFC 9110 §5.6.1): empty members are allowed and ignored;
  // at least one tag must be present.
  bool any = false, match = false;
  i = 0;
  while (i < field.size()) {
    if (is_ows(field[i]) || field[i] == ',') {
      ++i;
      continue;
    }
    const std::size_t n = entity_tag_length(field.substr(i));
    if (n == 0) return ListMatch::kInvalid;
    // RFC 9110 §13.1.2: weak comparison for If-None-Match.
    if (etag_weak_equal(field.substr(i, n), etag)) match = true;
    any = true;
    i += n;
    // A member ends at a comma or the end.
    while (i < field.size() && is_ows(field[i]))
      ++i;
    if (i < field.size() && field[i] != ',') return ListMatch::kInvalid;
  }
  if (!any) return ListMatch::kInvalid;
  return match ? ListMatch::kMatch : ListMatch::kNoMatch;
}

std::int64_t last_modified_seconds(const FileInfo& info, std::int64_t now) {
  std::int64_t s = info.mtime_ns / 1000000000;
  if (info.mtime_ns < 0 && info.mtime_ns % 1000000000 != 0) --s;  // floor
  return s > now ? now : s;
}

Condition evaluate_conditions(std::optional<std::string_view> if_none_match_field,
                              std::optional<std::string_view> if_modified_since_field,
                              std::string_view etag, std::int64_t last_modified, std::int64_t now) {
  // Step 3: If-None-Match; false (some tag matches) -> 304 for GET/HEAD.
  if (if_none_match_field) {
    const ListMatch m = if_none_match(*if_none_match_field, etag);
    if (m == ListMatch::kMatch) return Condition::kNotModified;
    // RFC 9110 §13.1.3: If-Modified-Since is ignored when If-None-Match is
    // present. A syntactically invalid If-None-Match is treated as absent.
    if (m == ListMatch::kNoMatch) return Condition::kProceed;
  }
  // Step 4: If-Modified-Since, ignored unless a valid HTTP-date.
  if (if_modified_since_field) {
    const std::optional<std::int64_t> date = parse_http_date(*if_modified_since_field, now);
    if (date && last_modified <= *date) return Condition::kNotModified;
  }
  return Condition::kProceed;
}

}  // namespace dquic::h3static
