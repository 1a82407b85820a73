// The congestion controller interface (RFC 9002 §7, Appendix B): the
// connection owns one, the loss detector feeds it. NewReno and CUBIC
// implement it; BBR can plug in later. The controller owns bytes in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "quic/timestamp.h"

namespace dquic {

class RttEstimator;

// The parts of an acknowledged or lost packet a controller needs.
struct CcPacket {
  std::uint64_t packet_number = 0;
  Time time_sent = 0;
  std::uint32_t bytes = 0;
  bool app_limited = false;
};

enum class CongestionAlgorithm : std::uint8_t { kNewReno, kCubic };

struct CongestionConfig {
  std::uint32_t max_datagram_size = 1200;  // RFC 9002 §7.2: starts at the path minimum
  // RFC 9002 §7.2: min(10 * max_datagram_size, max(14720, 2 * max_datagram_size)).
  std::uint32_t initial_window_packets = 10;
  std::uint32_t minimum_window_packets = 2;  // RFC 9002 §7.2: kMinimumWindow
};

class CongestionController {
 public:
  virtual ~CongestionController() = default;

  virtual void on_packet_sent(Time now, std::uint32_t bytes, bool app_limited) = 0;
  // Packets newly acknowledged by one ACK frame, in any order.
  virtual void on_packets_acked(std::span<const CcPacket> acked, Time now,
                                const RttEstimator& rtt) = 0;
  // Packets declared lost by one ACK or timeout; `persistent` when RFC 9002
  // §7.6 persistent congestion was established over them.
  virtual void on_packets_lost(std::span<const CcPacket> lost, Time now, bool persistent) = 0;
  // RFC 9002 §7.1: an ECN-CE count increase for packets up to one sent at
  // `sent_time` of the largest newly acknowledged.
  virtual void on_ecn_ce(Time sent_time, Time now) = 0;
  // Packets removed from flight without ack or loss (keys discarded, RFC
  // 9002 §6.4).
  virtual void on_packets_discarded(std::uint64_t bytes) = 0;
  // The path's datagram size grew (PMTU discovery) or is set at start.
  virtual void set_max_datagram_size(std::uint32_t bytes) = 0;

  virtual std::uint64_t congestion_window() const = 0;
  virtual std::uint64_t bytes_in_flight() const = 0;
  virtual bool in_slow_start() const = 0;
  virtual bool in_recovery(Time sent_time) const = 0;
  virtual const char* name() const = 0;

  // Bytes that may be sent now (0 when the window is full).
  std::uint64_t available() const {
    const std::uint64_t w = congestion_window(), f = bytes_in_flight();
    return f >= w ? 0 : w - f;
  }
};

std::unique_ptr<CongestionController> make_congestion_controller(CongestionAlgorithm a,
                                                                 const CongestionConfig& config);

}  // namespace dquic
