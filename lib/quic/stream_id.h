// Stream IDs (RFC 9000 §2.1) and the checks a received frame's stream ID must
// pass before the stream layer looks the stream up (§19.4, §19.5, §19.8,
// §19.10, §19.13, §4.6).
#pragma once

#include <cstdint>

#include "quic/error.h"
#include "quic/frame.h"
#include "quic/role.h"

namespace dquic {

enum class StreamDirection : std::uint8_t { kBidirectional, kUnidirectional };

// RFC 9000 §2.1: bit 0 is the initiator, bit 1 the direction.
inline constexpr std::uint64_t kStreamInitiatorBit = 0x1;
inline constexpr std::uint64_t kStreamDirectionBit = 0x2;

constexpr EndpointRole stream_initiator(std::uint64_t id) {
  return (id & kStreamInitiatorBit) ? EndpointRole::kServer : EndpointRole::kClient;
}

constexpr StreamDirection stream_direction(std::uint64_t id) {
  return (id & kStreamDirectionBit) ? StreamDirection::kUnidirectional
                                    : StreamDirection::kBidirectional;
}

constexpr bool is_bidirectional(std::uint64_t id) {
  return (id & kStreamDirectionBit) == 0;
}

// The stream's position among streams of its type: the n-th stream a side
// opens in one direction has index n, counted from 0.
constexpr std::uint64_t stream_index(std::uint64_t id) {
  return id >> 2;
}

// Inverse of stream_index(). The caller keeps index below kMaxStreamCount so
// the ID fits a varint (§4.6).
constexpr std::uint64_t make_stream_id(EndpointRole initiator, StreamDirection dir,
                                       std::uint64_t index) {
  return (index << 2) | (dir == StreamDirection::kUnidirectional ? kStreamDirectionBit : 0) |
         (initiator == EndpointRole::kServer ? kStreamInitiatorBit : 0);
}

// Opened by `self` rather than by the peer.
constexpr bool is_local(std::uint64_t id, EndpointRole self) {
  return stream_initiator(id) == self;
}

// RFC 9000 §2.1: a unidirectional stream carries data from its initiator only.
constexpr bool can_send(std::uint64_t id, EndpointRole self) {
  return is_bidirectional(id) || is_local(id, self);
}
constexpr bool can_receive(std::uint64_t id, EndpointRole self) {
  return is_bidirectional(id) || !is_local(id, self);
}

// What check_peer_frame() needs to know about the streams of the direction of
// the ID being checked.
struct StreamCounts {
  std::uint64_t local_opened = 0;  // streams we have opened (next local index)
  std::uint64_t peer_limit = 0;    // max_streams we have advertised to the peer
};

// Checks the stream ID of a frame received from the peer by an endpoint whose
// role is `self`. `counts` is for the direction of `id`. kNoError means the ID
// names a stream that exists or that the peer may open; the caller then finds
// or creates it (and the lower-numbered ones, §3.2). Frame types that carry no
// stream ID are the caller's mistake: kInternalError.
constexpr TransportError check_peer_frame(FrameType type, std::uint64_t id, EndpointRole self,
                                          StreamCounts counts) {
  const bool is_stream = type >= FrameType::kStream && type <= FrameType::kStreamMax;
  switch (type) {
    case FrameType::kResetStream:        // §19.4: not on a send-only stream
    case FrameType::kStreamDataBlocked:  // §19.13: not on a send-only stream
      if (!can_receive(id, self)) return TransportError::kStreamStateError;
      break;
    case FrameType::kStopSending:    // §19.5: not on a receive-only stream
    case FrameType::kMaxStreamData:  // §19.10: not on a receive-only stream
      if (!can_send(id, self)) return TransportError::kStreamStateError;
      break;
    default:
      if (!is_stream) return TransportError::kInternalError;
      // §19.8: not on a send-only stream.
      if (!can_receive(id, self)) return TransportError::kStreamStateError;
      break;
  }
  const std::uint64_t index = stream_index(id);
  if (is_local(id, self)) {
    // §19.5, §19.8, §19.10: a locally initiated stream that has not yet been
    // created. RESET_STREAM and STREAM_DATA_BLOCKED can name only local
    // bidirectional streams, which the peer cannot know of either (§20.1).
    return index < counts.local_opened ? TransportError::kNoError
                                       : TransportError::kStreamStateError;
  }
  // §4.6: beyond the limit we advertised.
  return index < counts.peer_limit ? TransportError::kNoError : TransportError::kStreamLimitError;
}

}  // namespace dquic
