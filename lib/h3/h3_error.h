// HTTP/3 error codes (RFC 9114 §8.1), carried in CONNECTION_CLOSE,
// RESET_STREAM and STOP_SENDING. The QPACK codes 0x200-0x202 are in
// h3/qpack_error.h.
#pragma once

#include <cstdint>

namespace dquic {

enum class H3Error : std::uint64_t {
  kNoError = 0x100,
  kGeneralProtocolError = 0x101,
  kInternalError = 0x102,
  kStreamCreationError = 0x103,
  kClosedCriticalStream = 0x104,
  kFrameUnexpected = 0x105,
  kFrameError = 0x106,
  kExcessiveLoad = 0x107,
  kIdError = 0x108,
  kSettingsError = 0x109,
  kMissingSettings = 0x10a,
  kRequestRejected = 0x10b,
  kRequestCancelled = 0x10c,
  kRequestIncomplete = 0x10d,
  kMessageError = 0x10e,
  kConnectError = 0x10f,
  kVersionFallback = 0x110,
};

constexpr std::uint64_t h3_code(H3Error e) {
  return static_cast<std::uint64_t>(e);
}

}  // namespace dquic
