// RTT estimation (RFC 9002 §5).
#pragma once

#include <algorithm>

#include "quic/timestamp.h"

namespace dquic {

// RFC 9002 §6.2.2: the initial RTT before any sample.
inline constexpr Duration kInitialRtt = 333 * kMillisecond;
// RFC 9002 §6.1.2: timer granularity.
inline constexpr Duration kGranularity = 1 * kMillisecond;

class RttEstimator {
 public:
  explicit RttEstimator(Duration initial_rtt = kInitialRtt) { reset(initial_rtt); }

  // RFC 9002 §5.3. `ack_delay` is the peer's reported delay, already decoded
  // with its ack_delay_exponent; it is ignored for Initial/Handshake packets
  // (pass 0) and capped by max_ack_delay once the handshake is confirmed.
  void update(Duration latest_rtt, Duration ack_delay, bool handshake_confirmed) {
    latest_rtt_ = latest_rtt;
    if (!has_sample_) {
      // RFC 9002 §5.3: the first sample sets every estimate.
      has_sample_ = true;
      min_rtt_ = latest_rtt;
      smoothed_rtt_ = latest_rtt;
      rttvar_ = latest_rtt / 2;
      return;
    }
    min_rtt_ = std::min(min_rtt_, latest_rtt);  // §5.2: without ack delay
    if (handshake_confirmed) ack_delay = std::min(ack_delay, max_ack_delay_);
    Duration adjusted = latest_rtt;
    if (latest_rtt >= min_rtt_ + ack_delay) adjusted = latest_rtt - ack_delay;
    const Duration diff =
        smoothed_rtt_ > adjusted ? smoothed_rtt_ - adjusted : adjusted - smoothed_rtt_;
    rttvar_ = (3 * rttvar_ + diff) / 4;
    smoothed_rtt_ = (7 * smoothed_rtt_ + adjusted) / 8;
  }

  // RFC 9002 §6.2.1 without the ack-delay and backoff terms: smoothed_rtt +
  // max(4 * rttvar, kGranularity).
  Duration pto_base() const { return smoothed_rtt_ + std::max(4 * rttvar_, kGranularity); }

  // RFC 9002 §5.2 / §7.6.1: reset after persistent congestion.
  void reset(Duration initial_rtt) {
    has_sample_ = false;
    latest_rtt_ = 0;
    min_rtt_ = 0;
    smoothed_rtt_ = initial_rtt;
    rttvar_ = initial_rtt / 2;
  }
  void on_persistent_congestion() {
    // RFC 9002 §5.2: min_rtt may be reset to the latest RTT.
    min_rtt_ = latest_rtt_;
  }

  void set_max_ack_delay(Duration d) { max_ack_delay_ = d; }
  Duration max_ack_delay() const { return max_ack_delay_; }
  bool has_sample() const { return has_sample_; }
  Duration latest_rtt() const { return latest_rtt_; }
  Duration min_rtt() const { return min_rtt_; }
  Duration smoothed_rtt() const { return smoothed_rtt_; }
  Duration rttvar() const { return rttvar_; }

 private:
  bool has_sample_ = false;
  Duration latest_rtt_ = 0;
  Duration min_rtt_ = 0;
  Duration smoothed_rtt_ = kInitialRtt;
  Duration rttvar_ = kInitialRtt / 2;
  Duration max_ack_delay_ = 25 * kMillisecond;  // RFC 9000 §18.2 default
};

}  // namespace dquic
