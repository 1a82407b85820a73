// Packet number truncation and recovery (RFC 9000 §17.1, Appendix A.2/A.3).
#pragma once

#include <cstddef>
#include <cstdint>

namespace dquic {

inline constexpr std::uint64_t kMaxPacketNumber = (std::uint64_t{1} << 62) - 1;
// "No packet yet" in a number space; chosen so that largest + 1 == 0.
inline constexpr std::uint64_t kNoPacketNumber = ~std::uint64_t{0};

// Bytes (1..4) needed to send `full_pn` so the peer recovers it, given the
// largest packet number it has acknowledged (kNoPacketNumber if none).
// RFC 9000 §17.1 / A.2: the range must exceed twice the unacknowledged span.
std::size_t packet_number_length(std::uint64_t full_pn, std::uint64_t largest_acked);

// Recovers the full packet number from `truncated` of `len` bytes (1..4), given
// the largest packet number received in the space (kNoPacketNumber if none).
// RFC 9000 Appendix A.3.
std::uint64_t decode_packet_number(std::uint64_t largest_received, std::uint64_t truncated,
                                   std::size_t len);

}  // namespace dquic
