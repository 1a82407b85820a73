// QUIC versions this codec knows (RFC 9000 §15, RFC 9369).
#pragma once

#include <cstdint>

namespace dquic {

inline constexpr std::uint32_t kVersionNegotiation = 0;  // RFC 8999 §6
inline constexpr std::uint32_t kVersion1 = 0x00000001;   // RFC 9000
inline constexpr std::uint32_t kVersion2 = 0x6b3343cf;   // RFC 9369

// RFC 9000 §15: versions 0x?a?a?a?a are reserved to exercise negotiation.
constexpr bool is_reserved_version(std::uint32_t v) {
  return (v & 0x0f0f0f0f) == 0x0a0a0a0a;
}

}  // namespace dquic
