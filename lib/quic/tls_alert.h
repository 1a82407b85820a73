// TLS 1.3 alert descriptions (RFC 8446 §6) and their QUIC error codes. QUIC
// never sends TLS alert records: an alert becomes a CONNECTION_CLOSE with
// CRYPTO_ERROR 0x100 + description (RFC 9001 §4.8).
#pragma once

#include <cstdint>
#include <string_view>

#include "quic/error.h"

namespace dquic {

// RFC 8446 §6 (AlertDescription) plus no_application_protocol (RFC 7301 §3.2).
// Only the fatal alerts a QUIC handshake can raise: close_notify and
// user_canceled have no use in QUIC (RFC 9001 §4.8).
enum class TlsAlert : std::uint8_t {
  kUnexpectedMessage = 10,
  kBadRecordMac = 20,
  kHandshakeFailure = 40,
  kBadCertificate = 42,
  kUnsupportedCertificate = 43,
  kCertificateRevoked = 44,
  kCertificateExpired = 45,
  kCertificateUnknown = 46,
  kIllegalParameter = 47,
  kUnknownCa = 48,
  kAccessDenied = 49,
  kDecodeError = 50,
  kDecryptError = 51,
  kProtocolVersion = 70,
  kInsufficientSecurity = 71,
  kInternalError = 80,
  kInappropriateFallback = 86,
  kMissingExtension = 109,
  kUnsupportedExtension = 110,
  kUnrecognizedName = 112,
  kBadCertificateStatusResponse = 113,
  kUnknownPskIdentity = 115,
  kCertificateRequired = 116,
  kNoApplicationProtocol = 120,
};

// RFC 9001 §4.8: the CRYPTO_ERROR code that carries `a` in CONNECTION_CLOSE.
constexpr std::uint64_t tls_alert_error_code(TlsAlert a) {
  return crypto_error(static_cast<std::uint8_t>(a));
}

// The RFC's name, e.g. "decode_error"; "unknown" for other values.
constexpr std::string_view tls_alert_name(TlsAlert a) {
  switch (a) {
    case TlsAlert::kUnexpectedMessage:
      return "unexpected_message";
    case TlsAlert::kBadRecordMac:
      return "bad_record_mac";
    case TlsAlert::kHandshakeFailure:
      return "handshake_failure";
    case TlsAlert::kBadCertificate:
      return "bad_certificate";
    case TlsAlert::kUnsupportedCertificate:
      return "unsupported_certificate";
    case TlsAlert::kCertificateRevoked:
      return "certificate_revoked";
    case TlsAlert::kCertificateExpired:
      return "certificate_expired";
    case TlsAlert::kCertificateUnknown:
      return "certificate_unknown";
    case TlsAlert::kIllegalParameter:
      return "illegal_parameter";
    case TlsAlert::kUnknownCa:
      return "unknown_ca";
    case TlsAlert::kAccessDenied:
      return "access_denied";
    case TlsAlert::kDecodeError:
      return "decode_error";
    case TlsAlert::kDecryptError:
      return "decrypt_error";
    case TlsAlert::kProtocolVersion:
      return "protocol_version";
    case TlsAlert::kInsufficientSecurity:
      return "insufficient_security";
    case TlsAlert::kInternalError:
      return "internal_error";
    case TlsAlert::kInappropriateFallback:
      return "inappropriate_fallback";
    case TlsAlert::kMissingExtension:
      return "missing_extension";
    case TlsAlert::kUnsupportedExtension:
      return "unsupported_extension";
    case TlsAlert::kUnrecognizedName:
      return "unrecognized_name";
    case TlsAlert::kBadCertificateStatusResponse:
      return "bad_certificate_status_response";
    case TlsAlert::kUnknownPskIdentity:
      return "unknown_psk_identity";
    case TlsAlert::kCertificateRequired:
      return "certificate_required";
    case TlsAlert::kNoApplicationProtocol:
      return "no_application_protocol";
  }
  return "unknown";
}

}  // namespace dquic
