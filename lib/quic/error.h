// QUIC transport error codes (RFC 9000 §20.1).
#pragma once

#include <cstdint>
#include <string_view>

namespace dquic {

enum class TransportError : std::uint64_t {
  kNoError = 0x00,
  kInternalError = 0x01,
  kConnectionRefused = 0x02,
  kFlowControlError = 0x03,
  kStreamLimitError = 0x04,
  kStreamStateError = 0x05,
  kFinalSizeError = 0x06,
  kFrameEncodingError = 0x07,
  kTransportParameterError = 0x08,
  kConnectionIdLimitError = 0x09,
  kProtocolViolation = 0x0a,
  kInvalidToken = 0x0b,
  kApplicationError = 0x0c,
  kCryptoBufferExceeded = 0x0d,
  kKeyUpdateError = 0x0e,
  kAeadLimitReached = 0x0f,
  kNoViablePath = 0x10,
  kVersionNegotiationError = 0x11,  // RFC 9368 §10.2
};

// RFC 9000 §20.1: CRYPTO_ERROR is 0x0100-0x01ff, carrying the TLS alert.
inline constexpr std::uint64_t kCryptoErrorBase = 0x100;

constexpr std::uint64_t crypto_error(std::uint8_t tls_alert) {
  return kCryptoErrorBase + tls_alert;
}

// The name RFC 9000 uses, e.g. "FRAME_ENCODING_ERROR"; "UNKNOWN" otherwise.
std::string_view transport_error_name(TransportError e);

}  // namespace dquic
