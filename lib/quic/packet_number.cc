#include "quic/packet_number.h"

namespace dquic {

std::size_t packet_number_length(std::uint64_t full_pn, std::uint64_t largest_acked) {
  // With nothing acknowledged the whole range up to full_pn is unacknowledged.
  const std::uint64_t num_unacked = full_pn - largest_acked;  // wraps to full_pn + 1
  // Twice the span must fit: 2 * num_unacked < 2^(8*len).
  for (std::size_t len = 1; len < 4; ++len) {
    if (num_unacked < (std::uint64_t{1} << (8 * len - 1))) return len;
  }
  return 4;
}

std::uint64_t decode_packet_number(std::uint64_t largest_received, std::uint64_t truncated,
                                   std::size_t len) {
  const std::uint64_t expected = largest_received + 1;  // 0 when nothing received
  const std::uint64_t win = std::uint64_t{1} << (8 * len);
  const std::uint64_t hwin = win / 2;
  const std::uint64_t mask = win - 1;
  const std::uint64_t candidate = (expected & ~mask) | (truncated & mask);
  // Written without subtraction on the left side to avoid unsigned underflow.
  if (candidate + hwin <= expected && candidate < (std::uint64_t{1} << 62) - win) {
    return candidate + win;
  }
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}

}  // namespace dquic
