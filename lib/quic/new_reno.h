// NewReno congestion control (RFC 9002 §7, Appendix B). It also carries the
// machinery RFC 9002 gives every controller: bytes in flight, slow start,
// the recovery period, persistent congestion and ECN-CE. CUBIC (cubic.h)
// derives from it and replaces only the congestion-avoidance increase and
// the multiplicative decrease, as RFC 9438 §4 does. No allocation after
// construction.
#pragma once

#include <cstdint>
#include <limits>
#include <span>

#include "quic/congestion_controller.h"
#include "quic/timestamp.h"

namespace dquic {

class NewReno : public CongestionController {
 public:
  // RFC 9002 §7.3.2: kLossReductionFactor.
  static constexpr std::uint32_t kLossReductionPercent = 50;
  // RFC 9002 §7.2: the initial window is capped at max(14720, 2 * mds).
  static constexpr std::uint64_t kInitialWindowCapBytes = 14720;

  explicit NewReno(const CongestionConfig& config);

  // Callers pass only in-flight packets (RFC 9002 §2): CcPacket carries no
  // in_flight flag, and ACK-only packets must not be counted.
  void on_packet_sent(Time now, std::uint32_t bytes, bool app_limited) final;
  void on_packets_acked(std::span<const CcPacket> acked, Time now, const RttEstimator& rtt) final;
  void on_packets_lost(std::span<const CcPacket> lost, Time now, bool persistent) final;
  void on_ecn_ce(Time sent_time, Time now) final;
  void on_packets_discarded(std::uint64_t bytes) final;
  void set_max_datagram_size(std::uint32_t bytes) final;

  std::uint64_t congestion_window() const final { return cwnd_; }
  std::uint64_t bytes_in_flight() const final { return bytes_in_flight_; }
  bool in_slow_start() const final { return cwnd_ < ssthresh_; }
  bool in_recovery(Time sent_time) const final {
    // RFC 9002 §B.5 InCongestionRecovery.
    return has_recovery_start_ && sent_time <= recovery_start_;
  }
  const char* name() const override { return "newreno"; }

  std::uint64_t ssthresh() const { return ssthresh_; }  // UINT64_MAX until the first reduction
  std::uint32_t max_datagram_size() const { return mds_; }
  std::uint64_t minimum_window() const;
  std::uint64_t initial_window() const;

 protected:
  // RFC 9002 §7.3.3: grow by `bytes` newly acknowledged in congestion
  // avoidance (after the recovery and app-limited filters).
  virtual void congestion_avoidance(std::uint64_t bytes, Time now, const RttEstimator& rtt);
  // RFC 9002 §7.3.2 / §B.6: the window reduction on entering recovery.
  virtual void reduce_window(Time now);
  // RFC 9002 §7.6.2: the window has just collapsed to the minimum.
  virtual void on_persistent_congestion() {}
  // A packet was sent (app-limited or not), and bytes in flight fell to
  // zero at `now`: CUBIC keeps app-limited and idle time out of its clock
  // (RFC 9438 §5.8).
  virtual void on_send_activity(Time /*now*/, bool /*app_limited*/) {}
  virtual void on_idle(Time /*now*/) {}

  void set_window(std::uint64_t cwnd, std::uint64_t ssthresh) {
    cwnd_ = cwnd;
    ssthresh_ = ssthresh;
  }

  std::uint64_t cwnd_ = 0;
  std::uint64_t ssthresh_ = std::numeric_limits<std::uint64_t>::max();

 private:
  void on_congestion_event(Time sent_time, Time now);  // RFC 9002 §B.6
  void remove_from_flight(std::uint64_t bytes, Time now);

  CongestionConfig config_;
  std::uint32_t mds_ = 1200;
  std::uint64_t bytes_in_flight_ = 0;
  // Bytes acknowledged in congestion avoidance not yet turned into window:
  // one max_datagram_size per window acknowledged (RFC 9002 §7.3.3), kept
  // exact instead of truncating mds * bytes / cwnd on every ACK.
  std::uint64_t avoidance_acked_ = 0;
  bool has_recovery_start_ = false;
  Time recovery_start_ = 0;
  Time last_now_ = 0;  // latest time seen, for on_packets_discarded (no `now`)
};

}  // namespace dquic
