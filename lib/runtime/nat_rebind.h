// Test-only NAT rebinding in our own datapath (the QUIC Interop Runner's
// rebind-port and rebind-addr cases; the kernels here have no NAT). Once due
// (a time after the first frame either way, or a count of received frames)
// one of the two ends of the conversation appears to move, as when a NAT
// between them rebinds (RFC 9000 §9.3), and neither our stack nor the peer
// is told:
//   kLocalPort     we are behind the NAT: the peer sees our UDP source port
//                  moved by kPortShift;
//   kLocalAddress  we are behind the NAT: the peer sees our address become
//                  `to`, which we answer ARP / Neighbor Solicitations for (the
//                  worker adds it to its Route), as a NAT owns its public one;
//   kPeerAddress   the peer is behind the NAT: we see its address become `to`
//                  (the first UDP source we ever received, of `to`'s family).
// Datagrams we send are rewritten before their next hop is chosen (on the
// UdpFrameSpec: nothing to fix up); frames we receive are rewritten in
// place before anything of ours sees them, their IPv4 header and UDP
// checksums updated (RFC 1624). The old binding still delivers, as while a
// NAT's old mapping has not expired: a receiver that only answers what it
// receives (ACKs) would otherwise never show the peer where it went. One per
// worker, both directions on its thread: no locks, no allocation.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "quic/timestamp.h"
#include "runtime/udp_frame.h"

namespace dquic {

// RFC 1624 eq. 3: an Internet checksum with one 16-bit word changed.
std::uint16_t internet_checksum_update(std::uint16_t hc, std::uint16_t old_word,
                                       std::uint16_t new_word);

enum class RebindKind : std::uint8_t { kNone, kLocalPort, kLocalAddress, kPeerAddress };

class NatRebind {
 public:
  static constexpr std::uint16_t kPortShift = 10000;

  NatRebind() = default;  // off
  // Due `after` past the first frame either way, or once `after_frames`
  // frames were received (whichever is set; 0: not by that). `to` is the
  // address that appears (kLocalAddress, kPeerAddress).
  NatRebind(RebindKind kind, Duration after, std::uint64_t after_frames, const IpAddress& to = {})
      : kind_(kind), after_(after), after_frames_(after_frames), to_(to) {}

  bool enabled() const { return kind_ != RebindKind::kNone && (after_ > 0 || after_frames_ > 0); }
  RebindKind kind() const { return kind_; }
  const IpAddress& to() const { return to_; }

  // Send side, before the next hop is chosen: our source port or address
  // moves, or a datagram for the peer's apparent address `to` goes to the
  // peer's real one. True if *spec changed.
  bool on_send(UdpFrameSpec* spec, Time now);
  // Receive side: the destination our stack knows comes back (local kinds),
  // or the peer's source becomes `to` (kPeerAddress). True if rewritten.
  bool on_receive(rte_mbuf* m, Time now);

  // Datagrams / frames changed so far: the evidence that it happened.
  std::uint64_t rewritten_tx() const { return rewritten_tx_; }
  std::uint64_t rewritten_rx() const { return rewritten_rx_; }

 private:
  bool active(Time now);
  static constexpr std::size_t kMaxPorts = 16;
  RebindKind kind_ = RebindKind::kNone;
  Duration after_ = 0;
  std::uint64_t after_frames_ = 0;
  IpAddress to_;
  std::uint64_t received_ = 0;
  Time origin_ = kNever;
  std::array<std::uint16_t, kMaxPorts> moved_{};  // kLocalPort: original ports moved so far
  std::size_t moved_count_ = 0;
  IpAddress local_;  // kLocalAddress: the address `to` stands for
  IpAddress peer_;   // kPeerAddress: the peer's real address
  std::uint64_t rewritten_tx_ = 0;
  std::uint64_t rewritten_rx_ = 0;
};

}  // namespace dquic
