// Which frames may appear where, and how they count (RFC 9000 §12.4 Table 3,
// RFC 9221 §4-5 for DATAGRAM). Stream-direction checks (e.g. STREAM on a
// receive-only stream, §19.8) need stream state and belong to the stream layer;
// DATAGRAM negotiation (RFC 9221 §3) belongs to the connection.
#pragma once

#include <cstdint>

#include "quic/error.h"
#include "quic/frame.h"
#include "quic/packet_type.h"
#include "quic/role.h"

namespace dquic {

// False for types this codec does not know.
bool is_known_frame_type(FrameType t);
// Table 3 "Pkts" column. Violations are PROTOCOL_VIOLATION (§12.4).
bool frame_allowed_in(FrameType t, PacketType p);
// Not marked N: a packet with such a frame is ack-eliciting (§13.2).
bool is_ack_eliciting(FrameType t);
// Marked P: may appear in packets that probe a new path (§9.1).
bool is_probing(FrameType t);
// Not marked C: a packet with such a frame counts toward bytes in flight.
bool is_congestion_controlled(FrameType t);
// Marked F: data counted against flow control (§4).
bool is_flow_controlled(FrameType t);

// Checks a decoded frame against the packet that carried it and the role of
// the endpoint that received it. kNoError if acceptable.
TransportError check_frame(FrameType t, PacketType p, EndpointRole receiver);
TransportError check_frame(const Frame& f, PacketType p, EndpointRole receiver);

}  // namespace dquic
