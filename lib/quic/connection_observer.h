// Protocol events a connection reports (packets, losses, metrics, state),
// for the qlog writer and tests. Calls are guarded by a null check: with no
// observer installed they cost one predictable branch.
#pragma once

#include <cstdint>
#include <span>

#include "quic/packet_space.h"
#include "quic/sent_packet.h"
#include "quic/timestamp.h"

namespace dquic {

enum class ConnectionState : std::uint8_t;

struct RecoveryMetrics {
  Duration smoothed_rtt = 0;
  Duration min_rtt = 0;
  Duration latest_rtt = 0;
  Duration rttvar = 0;
  std::uint64_t congestion_window = 0;
  std::uint64_t bytes_in_flight = 0;
  std::uint64_t pacing_rate = 0;  // bytes/s
  int pto_count = 0;
};

class ConnectionObserver {
 public:
  virtual ~ConnectionObserver() = default;
  // `p.frames` lists what the packet carried (retransmittable content and
  // ACK/PING/PADDING markers).
  virtual void on_packet_sent(const SentPacket& /*p*/, Time /*now*/) {}
  virtual void on_packet_received(PacketSpace /*s*/, std::uint64_t /*pn*/, std::size_t /*bytes*/,
                                  Time /*now*/) {}
  virtual void on_packet_lost(const SentPacket& /*p*/, Time /*now*/) {}
  virtual void on_packet_dropped(std::size_t /*bytes*/, const char* /*reason*/, Time /*now*/) {}
  virtual void on_metrics(const RecoveryMetrics& /*m*/, Time /*now*/) {}
  virtual void on_state_changed(ConnectionState /*from*/, ConnectionState /*to*/, Time /*now*/) {}
  virtual void on_keys_installed(PacketSpace /*s*/, bool /*write*/, Time /*now*/) {}
  virtual void on_keys_discarded(PacketSpace /*s*/, Time /*now*/) {}
};

}  // namespace dquic
