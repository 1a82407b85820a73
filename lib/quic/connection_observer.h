// Protocol events a connection reports (packets, frames, losses, metrics,
// state, keys, paths), for the qlog recorder (runtime/qlog_recorder.h) and
// tests. Calls are guarded by a null check: with no observer installed they
// cost one predictable branch. Calls come from the connection's thread,
// with the `now` the connection was given (never earlier than an earlier
// call's).
#pragma once

#include <cstdint>
#include <span>

#include "quic/connection_id.h"
#include "quic/connection_path.h"
#include "quic/frame.h"
#include "quic/packet_space.h"
#include "quic/role.h"
#include "quic/sent_packet.h"
#include "quic/timestamp.h"
#include "quic/transport_params.h"

namespace dquic {

enum class ConnectionState : std::uint8_t;

// RFC 9002 §B.2's states (NewReno terms; CUBIC has the same three).
enum class CongestionPhase : std::uint8_t { kSlowStart, kCongestionAvoidance, kRecovery };

struct RecoveryMetrics {
  Duration smoothed_rtt = 0;
  Duration min_rtt = 0;
  Duration latest_rtt = 0;
  Duration rttvar = 0;
  std::uint64_t congestion_window = 0;
  std::uint64_t bytes_in_flight = 0;
  std::uint64_t pacing_rate = 0;  // bytes/s
  int pto_count = 0;
  CongestionPhase phase = CongestionPhase::kSlowStart;
};

// What connection_started reports (the handshake's identifiers and path).
struct ConnectionStartInfo {
  EndpointRole role = EndpointRole::kClient;
  std::uint32_t version = 0;
  ConnectionId original_dcid;  // the DCID of the client's first Initial
  ConnectionId local_cid;
  ConnectionId peer_cid;  // client: the original DCID until the server's SCID is known
  NetworkPath path;
};

// RFC 9000 §8.2, §9: path validation and migration steps.
enum class PathEvent : std::uint8_t {
  kProbingStarted,     // PATH_CHALLENGE to send on a path
  kProbingSuccessful,  // validated
  kProbingAbandoned,   // validation failed
  kMigrated,           // the active path changed
};

class ConnectionObserver {
 public:
  virtual ~ConnectionObserver() = default;
  // First call, from start(), before anything else is reported.
  virtual void on_connection_started(const ConnectionStartInfo& /*info*/, Time /*now*/) {}
  // Our transport parameters (local) at start(), the peer's once decoded.
  virtual void on_parameters_set(bool /*local*/, const TransportParameters& /*tp*/, Time /*now*/) {}
  // `p.frames` lists what the packet carried (retransmittable content and
  // ACK/PING/PADDING markers).
  virtual void on_packet_sent(const SentPacket& /*p*/, Time /*now*/) {}
  virtual void on_packet_received(PacketSpace /*s*/, std::uint64_t /*pn*/, std::size_t /*bytes*/,
                                  Time /*now*/) {}
  // Each frame of the packet last reported by on_packet_received, as
  // decoded, before it is acted on (the events it causes follow).
  virtual void on_frame_received(const Frame& /*f*/, Time /*now*/) {}
  // Newly acknowledged (RFC 9002 §A.7), one call per packet.
  virtual void on_packet_acked(const SentPacket& /*p*/, Time /*now*/) {}
  virtual void on_packet_lost(const SentPacket& /*p*/, Time /*now*/) {}
  virtual void on_packet_dropped(std::size_t /*bytes*/, const char* /*reason*/, Time /*now*/) {}
  virtual void on_metrics(const RecoveryMetrics& /*m*/, Time /*now*/) {}
  virtual void on_state_changed(ConnectionState /*from*/, ConnectionState /*to*/, Time /*now*/) {}
  virtual void on_keys_installed(PacketSpace /*s*/, bool /*write*/, Time /*now*/) {}
  virtual void on_keys_discarded(PacketSpace /*s*/, Time /*now*/) {}
  // RFC 9001 §6: 1-RTT keys of one direction moved to `phase` (the count
  // of updates; the header bit is its low bit). `local`: we initiated it.
  virtual void on_key_update(bool /*write*/, bool /*local*/, std::uint64_t /*phase*/,
                             Time /*now*/) {}
  virtual void on_path_event(PathEvent /*e*/, const NetworkPath& /*path*/, Time /*now*/) {}
  // HTTP/3 (h3/h3_connection.h) reports its frames through the observer of
  // the connection it runs on: `created` by us, else parsed; `length` is
  // the frame payload's.
  virtual void on_http3_frame(bool /*created*/, std::uint64_t /*stream_id*/,
                              std::uint64_t /*frame_type*/, std::uint64_t /*length*/,
                              Time /*now*/) {}
};

}  // namespace dquic
