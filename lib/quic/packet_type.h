// QUIC packet types as the codec and the frame rules see them (RFC 9000 §17).
#pragma once

#include <cstdint>

namespace dquic {

enum class PacketType : std::uint8_t {
  kInitial,
  kZeroRtt,
  kHandshake,
  kRetry,
  kOneRtt,  // short header
  kVersionNegotiation,
};

}  // namespace dquic
