// Test-only NAT rebinding in our own datapath (the QUIC Interop Runner's
// rebind-port case; the kernels here have no NAT): from `after` past the first
// frame either way, every UDP frame we send leaves with its source port moved
// by kPortShift, and a received frame addressed to a moved port gets the
// original back before the stack sees it. The peer sees our port change in
// the middle of the connection (RFC 9000 §9.3) and our stack never knows, as
// behind a NAT that rebinds. Frames to the old port still come through, as
// while a NAT's old binding has not expired: a receiver that sends only in
// answer to what it receives (ACKs) would otherwise never show the peer its
// new port. One per worker, both directions on its thread: no locks, no
// allocation.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "quic/timestamp.h"

namespace dquic {

// RFC 1624 eq. 3: an Internet checksum with one 16-bit word changed.
std::uint16_t internet_checksum_update(std::uint16_t hc, std::uint16_t old_word,
                                       std::uint16_t new_word);

class PortRebind {
 public:
  static constexpr std::uint16_t kPortShift = 10000;

  PortRebind() = default;  // off
  // Due `after` past the first frame either way, or once `after_frames`
  // frames were received (whichever is set; 0: not by that).
  explicit PortRebind(Duration after, std::uint64_t after_frames = 0)
      : after_(after), after_frames_(after_frames) {}

  bool enabled() const { return after_ > 0 || after_frames_ > 0; }
  // Send side: moves the source port once the rebinding happened. True if
  // the frame was rewritten.
  bool on_send(rte_mbuf* m, Time now);
  // Receive side: gives a moved destination port its original value back.
  bool on_receive(rte_mbuf* m, Time now);

 private:
  bool active(Time now);
  static constexpr std::size_t kMaxPorts = 16;
  Duration after_ = 0;
  std::uint64_t after_frames_ = 0;
  std::uint64_t received_ = 0;
  Time origin_ = kNever;
  std::array<std::uint16_t, kMaxPorts> moved_{};  // original ports moved so far
  std::size_t moved_count_ = 0;
};

}  // namespace dquic
