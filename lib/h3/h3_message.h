// HTTP message rules on top of decoded field sections (RFC 9114 §4.1-4.4):
// pseudo-header fields, field name and value syntax, connection-specific
// fields, CONNECT, and content-length against the DATA received. A
// violation makes the message malformed: a stream error of type
// H3_MESSAGE_ERROR (§4.1.2). Sans-IO, no allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "h3/h3_error.h"
#include "h3/qpack_field.h"

namespace dquic {

// What a valid request header section says; views into the fields.
struct H3RequestHead {
  std::string_view method, scheme, authority, path;
  bool connect = false;  // §4.4: :method CONNECT, no :scheme / :path
  std::optional<std::uint64_t> content_length;
};

struct H3ResponseHead {
  std::uint16_t status = 0;
  std::optional<std::uint64_t> content_length;
  bool informational() const { return status >= 100 && status < 200; }
};

// kNoError or kMessageError. Extended CONNECT (:protocol, RFC 9220) is not
// supported: its pseudo-header is rejected like any unknown one.
H3Error validate_request(std::span<const QpackField> fields, H3RequestHead* out);
// 101 is rejected (§4.5: HTTP/3 has no Upgrade).
H3Error validate_response(std::span<const QpackField> fields, H3ResponseHead* out);
// Trailers carry no pseudo-header fields (§4.3).
H3Error validate_trailers(std::span<const QpackField> fields);

// Checks one field line's name and value (§4.2, §4.1.2 and RFC 9110 §5):
// lowercase token name, no NUL / CR / LF in the value, no leading or
// trailing whitespace, not a connection-specific field.
H3Error validate_regular_field(const QpackField& f);

// The sum of DATA payloads against content-length (§4.1.2, RFC 9110 §8.6).
class H3ContentLength {
 public:
  void expect(std::optional<std::uint64_t> length) { expected_ = length; }
  // kMessageError when the DATA so far exceeds the declared length.
  H3Error on_data(std::uint64_t n);
  // kMessageError when the message ended short of it.
  H3Error on_end() const;
  std::uint64_t received() const { return received_; }
  // HEAD responses and 204 / 304 carry content-length but no content.
  void ignore() { expected_.reset(); }

 private:
  std::optional<std::uint64_t> expected_;
  std::uint64_t received_ = 0;
};

}  // namespace dquic
