// Packet number spaces (RFC 9000 §12.3) and the encryption levels that use
// them (0-RTT and 1-RTT share the application space).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dquic {

enum class PacketSpace : std::uint8_t { kInitial = 0, kHandshake = 1, kApplication = 2 };
inline constexpr std::size_t kPacketSpaceCount = 3;

inline constexpr std::size_t index(PacketSpace s) {
  return static_cast<std::size_t>(s);
}

}  // namespace dquic
