// QPACK outcomes and the HTTP/3 error codes they map to (RFC 9204 §6).
#pragma once

#include <cstdint>

namespace dquic {

enum class QpackStatus : std::uint8_t {
  kOk,
  // Field section: Required Insert Count not reached yet; retry when the
  // encoder stream has delivered more inserts (RFC 9204 §2.1.2).
  kBlocked,
  // Caller-provided output did not fit; nothing about the peer is wrong.
  kBufferTooSmall,
  // Field section larger than our SETTINGS_MAX_FIELD_SECTION_SIZE
  // (RFC 9114 §4.2.2): a stream-level problem (e.g. answer 431), not QPACK's.
  kFieldSectionTooLarge,
  // Connection errors (RFC 9204 §6).
  kDecompressionFailed,
  kEncoderStreamError,
  kDecoderStreamError,
};

inline constexpr std::uint64_t kQpackDecompressionFailed = 0x200;
inline constexpr std::uint64_t kQpackEncoderStreamError = 0x201;
inline constexpr std::uint64_t kQpackDecoderStreamError = 0x202;

// The HTTP/3 application error code for a connection error status; 0 for the
// statuses that are not connection errors.
constexpr std::uint64_t qpack_error_code(QpackStatus s) {
  switch (s) {
    case QpackStatus::kDecompressionFailed:
      return kQpackDecompressionFailed;
    case QpackStatus::kEncoderStreamError:
      return kQpackEncoderStreamError;
    case QpackStatus::kDecoderStreamError:
      return kQpackDecoderStreamError;
    default:
      return 0;
  }
}

constexpr bool qpack_is_connection_error(QpackStatus s) {
  return qpack_error_code(s) != 0;
}

}  // namespace dquic
