// What the sender remembers about a packet until it is acknowledged or
// declared lost (RFC 9002 §A.1.1): enough to account bytes in flight, to
// sample RTT, and to retransmit the *content* of lost frames in new packets
// (RFC 9000 §13.3), never the packet itself.
#pragma once

#include <array>
#include <cstdint>

#include "quic/packet_space.h"
#include "quic/timestamp.h"

namespace dquic {

// One frame's worth of retransmittable information. STREAM and CRYPTO keep
// their byte range (the bytes stay in the send buffer until acknowledged);
// control frames keep what is needed to send an up-to-date copy.
struct SentFrame {
  enum class Kind : std::uint8_t {
    kStream,             // stream_id, offset, length, fin
    kCrypto,             // offset, length (the space is the packet's)
    kAck,                // offset = largest acknowledged in that ACK (RFC 9000 §13.2.4)
    kResetStream,        // stream_id
    kStopSending,        // stream_id
    kMaxData,            //
    kMaxStreamData,      // stream_id
    kMaxStreamsBidi,     //
    kMaxStreamsUni,      //
    kDataBlocked,        //
    kStreamDataBlocked,  // stream_id
    kStreamsBlockedBidi,
    kStreamsBlockedUni,
    kNewConnectionId,     // offset = sequence number
    kRetireConnectionId,  // offset = sequence number
    kHandshakeDone,
    kNewToken,
    kPing,
    kDatagram,  // not retransmitted (RFC 9221 §5.2)
  };
  Kind kind = Kind::kPing;
  bool fin = false;
  std::uint64_t stream_id = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct SentPacket {
  static constexpr std::size_t kMaxFrames = 12;

  std::uint64_t packet_number = 0;
  Time time_sent = 0;
  std::uint32_t sent_bytes = 0;  // UDP payload bytes this packet took
  bool ack_eliciting = false;
  bool in_flight = false;  // counts toward bytes in flight (RFC 9002 §2)
  bool is_pmtu_probe = false;
  PacketSpace space = PacketSpace::kInitial;
  // Delivery-rate bookkeeping for app-limited detection (RFC 9002 §7.8)
  // and bandwidth estimates.
  bool app_limited = false;
  std::uint8_t frame_count = 0;
  std::array<SentFrame, kMaxFrames> frames{};

  bool add(const SentFrame& f) {
    if (frame_count == kMaxFrames) return false;
    frames[frame_count++] = f;
    return true;
  }
};

}  // namespace dquic
