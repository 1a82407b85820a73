#include "quic/new_reno.h"

#include <algorithm>

namespace dquic {

NewReno::NewReno(const CongestionConfig& config)
    : config_(config), mds_(std::max<std::uint32_t>(config.max_datagram_size, 1)) {
  cwnd_ = initial_window();
}

std::uint64_t NewReno::minimum_window() const {
  // RFC 9002 §7.2: kMinimumWindow, two datagrams by default.
  return std::uint64_t{std::max<std::uint32_t>(config_.minimum_window_packets, 1)} * mds_;
}

std::uint64_t NewReno::initial_window() const {
  // RFC 9002 §7.2: min(10 * mds, max(14720, 2 * mds)), with the configured
  // packet count in place of 10.
  const std::uint64_t mds = mds_;
  const std::uint64_t iw = std::min(std::uint64_t{config_.initial_window_packets} * mds,
                                    std::max(kInitialWindowCapBytes, 2 * mds));
  return std::max(iw, minimum_window());
}

void NewReno::on_packet_sent(Time now, std::uint32_t bytes, bool app_limited) {
  last_now_ = std::max(last_now_, now);
  bytes_in_flight_ += bytes;
  on_send_activity(now, app_limited);
}

void NewReno::remove_from_flight(std::uint64_t bytes, Time now) {
  if (bytes == 0 || bytes_in_flight_ == 0) return;
  // Never underflow: a packet reported twice (or after its keys were
  // discarded) must not wrap the count.
  bytes_in_flight_ -= std::min(bytes, bytes_in_flight_);
  if (bytes_in_flight_ == 0) on_idle(now);
}

void NewReno::on_packets_acked(std::span<const CcPacket> acked, Time now, const RttEstimator& rtt) {
  last_now_ = std::max(last_now_, now);
  std::uint64_t removed = 0;
  std::uint64_t growth = 0;
  for (const CcPacket& p : acked) {
    removed += p.bytes;
    // RFC 9002 §7.8: an application-limited sender does not grow the
    // window; the sender marks the packets it sent while app-limited.
    if (p.app_limited) continue;
    // RFC 9002 §7.3.2: no growth for packets sent before recovery began.
    if (in_recovery(p.time_sent)) continue;
    growth += p.bytes;
  }
  remove_from_flight(removed, now);
  if (growth == 0) return;
  if (cwnd_ < ssthresh_) {
    // RFC 9002 §7.3.1: slow start grows by the bytes acknowledged. Bytes
    // beyond ssthresh go to congestion avoidance (RFC 5681 §3.1 style).
    const std::uint64_t slow = std::min(growth, ssthresh_ - cwnd_);
    cwnd_ += slow;
    growth -= slow;
    if (growth == 0) return;
  }
  congestion_avoidance(growth, now, rtt);
}

void NewReno::congestion_avoidance(std::uint64_t bytes, Time /*now*/, const RttEstimator& /*rtt*/) {
  // RFC 9002 §7.3.3: one max_datagram_size per congestion window acknowledged.
  avoidance_acked_ += bytes;
  while (avoidance_acked_ >= cwnd_) {
    avoidance_acked_ -= cwnd_;
    cwnd_ += mds_;
  }
}

void NewReno::on_packets_lost(std::span<const CcPacket> lost, Time now, bool persistent) {
  last_now_ = std::max(last_now_, now);
  std::uint64_t removed = 0;
  bool any = false;
  Time latest_sent = std::numeric_limits<Time>::min();
  for (const CcPacket& p : lost) {
    removed += p.bytes;
    any = true;
    latest_sent = std::max(latest_sent, p.time_sent);
  }
  remove_from_flight(removed, now);
  // RFC 9002 §B.8: one congestion event for the newest lost packet.
  if (any) on_congestion_event(latest_sent, now);
  if (persistent) {
    // RFC 9002 §7.6.2: collapse to the minimum window and leave recovery,
    // so that the next loss reduces again.
    cwnd_ = minimum_window();
    avoidance_acked_ = 0;
    has_recovery_start_ = false;
    on_persistent_congestion();
  }
}

void NewReno::on_ecn_ce(Time sent_time, Time now) {
  // RFC 9002 §7.1 / §B.7: an increase in ECN-CE is a congestion event.
  last_now_ = std::max(last_now_, now);
  on_congestion_event(sent_time, now);
}

void NewReno::on_congestion_event(Time sent_time, Time now) {
  // RFC 9002 §7.3.2: one reduction per round trip: losses of packets sent
  // before recovery started belong to the same event.
  if (in_recovery(sent_time)) return;
  has_recovery_start_ = true;
  // A caller clock behind the packet's send time must not let this packet
  // start a second recovery later.
  recovery_start_ = std::max(now, sent_time);
  avoidance_acked_ = 0;
  reduce_window(now);
}

void NewReno::reduce_window(Time /*now*/) {
  // RFC 9002 §B.6.
  ssthresh_ = cwnd_ * kLossReductionPercent / 100;
  cwnd_ = std::max(ssthresh_, minimum_window());
}

void NewReno::on_packets_discarded(std::uint64_t bytes) {
  // RFC 9002 §6.4: no congestion signal, just out of flight.
  remove_from_flight(bytes, last_now_);
}

void NewReno::set_max_datagram_size(std::uint32_t bytes) {
  const std::uint64_t old_initial = initial_window();
  const std::uint32_t old_mds = mds_;
  mds_ = std::max<std::uint32_t>(bytes, 1);
  // RFC 9002 §7.2: recompute the initial window with the new size; a
  // smaller size (to complete the handshake) resets the window to it.
  if (mds_ < old_mds || cwnd_ == old_initial) cwnd_ = initial_window();
  cwnd_ = std::max(cwnd_, minimum_window());
}

}  // namespace dquic
