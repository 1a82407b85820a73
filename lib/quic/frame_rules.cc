#include "quic/frame_rules.h"

#include <iterator>

namespace dquic {

namespace {

// Packet-type bits of the Table 3 "Pkts" column.
constexpr std::uint8_t kI = 1, kH = 2, k0 = 4, k1 = 8;
// "Spec" column bits.
constexpr std::uint8_t kN = 1, kC = 2, kP = 4, kF = 8;

struct Rule {
  bool known;
  std::uint8_t pkts;
  std::uint8_t spec;
};

// RFC 9000 §12.4 Table 3, indexed by frame type 0x00-0x1e.
constexpr Rule kRules[] = {
    {true, kI | kH | k0 | k1, kN | kP},  // 0x00 PADDING
    {true, kI | kH | k0 | k1, 0},        // 0x01 PING
    {true, kI | kH | k1, kN | kC},       // 0x02 ACK
    {true, kI | kH | k1, kN | kC},       // 0x03 ACK (ECN)
    {true, k0 | k1, 0},                  // 0x04 RESET_STREAM
    {true, k0 | k1, 0},                  // 0x05 STOP_SENDING
    {true, kI | kH | k1, 0},             // 0x06 CRYPTO
    {true, k1, 0},                       // 0x07 NEW_TOKEN
    {true, k0 | k1, kF},                 // 0x08-0x0f STREAM
    {true, k0 | k1, kF},
    {true, k0 | k1, kF},
    {true, k0 | k1, kF},
    {true, k0 | k1, kF},
    {true, k0 | k1, kF},
    {true, k0 | k1, kF},
    {true, k0 | k1, kF},
    {true, k0 | k1, 0},             // 0x10 MAX_DATA
    {true, k0 | k1, 0},             // 0x11 MAX_STREAM_DATA
    {true, k0 | k1, 0},             // 0x12 MAX_STREAMS (bidi)
    {true, k0 | k1, 0},             // 0x13 MAX_STREAMS (uni)
    {true, k0 | k1, 0},             // 0x14 DATA_BLOCKED
    {true, k0 | k1, 0},             // 0x15 STREAM_DATA_BLOCKED
    {true, k0 | k1, 0},             // 0x16 STREAMS_BLOCKED (bidi)
    {true, k0 | k1, 0},             // 0x17 STREAMS_BLOCKED (uni)
    {true, k0 | k1, kP},            // 0x18 NEW_CONNECTION_ID
    {true, k0 | k1, 0},             // 0x19 RETIRE_CONNECTION_ID
    {true, k0 | k1, kP},            // 0x1a PATH_CHALLENGE
    {true, k1, kP},                 // 0x1b PATH_RESPONSE
    {true, kI | kH | k0 | k1, kN},  // 0x1c CONNECTION_CLOSE (transport): "ih01"
    {true, k0 | k1, kN},            // 0x1d CONNECTION_CLOSE (application): "ih" admits only 0x1c
    {true, k1, 0},                  // 0x1e HANDSHAKE_DONE
};
static_assert(std::size(kRules) == 0x1f);

// RFC 9221 §5: DATAGRAM needs 0-RTT or 1-RTT keys, is ack-eliciting and
// congestion controlled but not flow controlled.
constexpr Rule kDatagramRule = {true, k0 | k1, 0};
constexpr Rule kUnknown = {false, 0, 0};

constexpr Rule rule(FrameType t) {
  const auto v = static_cast<std::uint64_t>(t);
  if (v < std::size(kRules)) return kRules[v];
  if (t == FrameType::kDatagram || t == FrameType::kDatagramLen) return kDatagramRule;
  return kUnknown;
}

constexpr std::uint8_t packet_bit(PacketType p) {
  switch (p) {
    case PacketType::kInitial:
      return kI;
    case PacketType::kHandshake:
      return kH;
    case PacketType::kZeroRtt:
      return k0;
    case PacketType::kOneRtt:
      return k1;
    case PacketType::kRetry:  // carry no frames
    case PacketType::kVersionNegotiation:
      return 0;
  }
  return 0;
}

}  // namespace

bool is_known_frame_type(FrameType t) {
  return rule(t).known;
}
bool frame_allowed_in(FrameType t, PacketType p) {
  return (rule(t).pkts & packet_bit(p)) != 0;
}
bool is_ack_eliciting(FrameType t) {
  return rule(t).known && !(rule(t).spec & kN);
}
bool is_probing(FrameType t) {
  return (rule(t).spec & kP) != 0;
}
bool is_congestion_controlled(FrameType t) {
  return rule(t).known && !(rule(t).spec & kC);
}
bool is_flow_controlled(FrameType t) {
  return (rule(t).spec & kF) != 0;
}

TransportError check_frame(FrameType t, PacketType p, EndpointRole receiver) {
  if (!is_known_frame_type(t)) return TransportError::kFrameEncodingError;  // §12.4
  if (!frame_allowed_in(t, p)) return TransportError::kProtocolViolation;   // §12.4
  // §19.7, §19.20: only servers send NEW_TOKEN and HANDSHAKE_DONE.
  if (receiver == EndpointRole::kServer &&
      (t == FrameType::kNewToken || t == FrameType::kHandshakeDone)) {
    return TransportError::kProtocolViolation;
  }
  return TransportError::kNoError;
}

TransportError check_frame(const Frame& f, PacketType p, EndpointRole receiver) {
  return check_frame(frame_type(f), p, receiver);
}

}  // namespace dquic
