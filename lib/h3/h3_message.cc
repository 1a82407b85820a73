#include "h3/h3_message.h"

namespace dquic {

namespace {

// RFC 9110 §5.6.2 tchar, lowercase only (RFC 9114 §4.2).
bool is_name_char(char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n)
    if (!is_name_char(c)) return false;
  return true;
}

// §4.1.2: NUL, CR, LF never; no leading or trailing SP / HTAB.
bool valid_value(std::string_view v) {
  for (char c : v)
    if (c == '\0' || c == '\r' || c == '\n') return false;
  if (!v.empty()) {
    const char a = v.front(), b = v.back();
    if (a == ' ' || a == '\t' || b == ' ' || b == '\t') return false;
  }
  return true;
}

// §4.2: connection-specific fields; te only as "trailers".
bool connection_specific(const QpackField& f) {
  const std::string_view n = f.name;
  if (n == "connection" || n == "keep-alive" || n == "proxy-connection" ||
      n == "transfer-encoding" || n == "upgrade")
    return true;
  return n == "te" && f.value != "trailers";
}

// RFC 9110 §8.6: 1*DIGIT; repeated fields must agree.
bool parse_content_length(std::string_view v, std::optional<std::uint64_t>* out) {
  if (v.empty() || v.size() > 19) return false;
  std::uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (out->has_value() && **out != n) return false;
  *out = n;
  return true;
}

// Walks the regular fields after the pseudo-header block; content-length
// and host are reported for the callers' checks.
H3Error check_regular(std::span<const QpackField> fields, std::size_t from,
                      std::optional<std::uint64_t>* content_length,
                      std::optional<std::string_view>* host) {
  for (std::size_t i = from; i < fields.size(); ++i) {
    const QpackField& f = fields[i];
    if (!f.name.empty() && f.name[0] == ':') return H3Error::kMessageError;  // §4.3: after
    if (validate_regular_field(f) != H3Error::kNoError) return H3Error::kMessageError;
    if (f.name == "content-length" && !parse_content_length(f.value, content_length))
      return H3Error::kMessageError;
    if (host != nullptr && f.name == "host") {
      if (host->has_value() && **host != f.value) return H3Error::kMessageError;
      *host = f.value;
    }
  }
  return H3Error::kNoError;
}

}  // namespace

H3Error validate_regular_field(const QpackField& f) {
  if (!valid_name(f.name) || !valid_value(f.value) || connection_specific(f))
    return H3Error::kMessageError;
  return H3Error::kNoError;
}

H3Error validate_request(std::span<const QpackField> fields, H3RequestHead* out) {
  H3RequestHead h;
  bool has_method = false, has_scheme = false, has_authority = false, has_path = false;
  std::size_t i = 0;
  for (; i < fields.size() && !fields[i].name.empty() && fields[i].name[0] == ':'; ++i) {
    const QpackField& f = fields[i];
    bool* seen = nullptr;
    std::string_view* slot = nullptr;
    if (f.name == ":method") {
      seen = &has_method, slot = &h.method;
    } else if (f.name == ":scheme") {
      seen = &has_scheme, slot = &h.scheme;
    } else if (f.name == ":authority") {
      seen = &has_authority, slot = &h.authority;
    } else if (f.name == ":path") {
      seen = &has_path, slot = &h.path;
    } else {
      return H3Error::kMessageError;  // §4.3: response or unknown pseudo-header
    }
    if (*seen || !valid_value(f.value)) return H3Error::kMessageError;  // §4.3: exactly once
    *seen = true;
    *slot = f.value;
  }
  if (!has_method || h.method.empty()) return H3Error::kMessageError;
  for (char c : h.method)
    if (c == ' ' || c == '\t' || static_cast<unsigned char>(c) < 0x21)
      return H3Error::kMessageError;
  std::optional<std::string_view> host;
  if (check_regular(fields, i, &h.content_length, &host) != H3Error::kNoError)
    return H3Error::kMessageError;
  if (h.method == "CONNECT") {
    // §4.4: :authority only; :scheme and :path omitted.
    if (has_scheme || has_path || !has_authority || h.authority.empty())
      return H3Error::kMessageError;
    h.connect = true;
  } else {
    // §4.3.1: :method, :scheme and a non-empty :path.
    if (!has_scheme || !has_path || h.path.empty() || h.scheme.empty())
      return H3Error::kMessageError;
    // RFC 9110 §4.2, §7.1: http(s) paths are origin-form ("/...") or "*"
    // for OPTIONS; other schemes may use other forms.
    const bool web = h.scheme == "http" || h.scheme == "https";
    if (web && h.path[0] != '/' && !(h.path == "*" && h.method == "OPTIONS"))
      return H3Error::kMessageError;
    // §4.3.1: http(s) need an authority, from :authority or Host; both
    // present: equal.
    if (h.scheme == "http" || h.scheme == "https") {
      if ((!has_authority || h.authority.empty()) && (!host || host->empty()))
        return H3Error::kMessageError;
      if (has_authority && host && *host != h.authority) return H3Error::kMessageError;
    }
  }
  if (out != nullptr) *out = h;
  return H3Error::kNoError;
}

H3Error validate_response(std::span<const QpackField> fields, H3ResponseHead* out) {
  H3ResponseHead h;
  bool has_status = false;
  std::size_t i = 0;
  for (; i < fields.size() && !fields[i].name.empty() && fields[i].name[0] == ':'; ++i) {
    const QpackField& f = fields[i];
    if (f.name != ":status" || has_status) return H3Error::kMessageError;  // §4.3.2
    has_status = true;
    if (f.value.size() != 3) return H3Error::kMessageError;
    unsigned v = 0;
    for (char c : f.value) {
      if (c < '0' || c > '9') return H3Error::kMessageError;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v < 100 || v > 599 || v == 101) return H3Error::kMessageError;
    h.status = static_cast<std::uint16_t>(v);
  }
  if (!has_status) return H3Error::kMessageError;
  if (check_regular(fields, i, &h.content_length, nullptr) != H3Error::kNoError)
    return H3Error::kMessageError;
  if (out != nullptr) *out = h;
  return H3Error::kNoError;
}

H3Error validate_trailers(std::span<const QpackField> fields) {
  std::optional<std::uint64_t> ignored;
  return check_regular(fields, 0, &ignored, nullptr);
}

H3Error H3ContentLength::on_data(std::uint64_t n) {
  received_ += n;
  if (expected_ && received_ > *expected_) return H3Error::kMessageError;
  return H3Error::kNoError;
}

H3Error H3ContentLength::on_end() const {
  if (expected_ && received_ != *expected_) return H3Error::kMessageError;
  return H3Error::kNoError;
}

}  // namespace dquic
