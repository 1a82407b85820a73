// CUBIC congestion control (RFC 9438), in bytes. Slow start, the recovery
// period, persistent congestion and ECN-CE come from NewReno (RFC 9438
// §4.10 keeps standard slow start; HyStart++ is not implemented). CUBIC
// replaces the congestion-avoidance increase (§4.2-4.5) and the
// multiplicative decrease with fast convergence (§4.6-4.7). Spurious-loss
// undo (§4.9) is not implemented. No allocation after construction.
#pragma once

#include <cstdint>

#include "quic/new_reno.h"

namespace dquic {

class Cubic final : public NewReno {
 public:
  static constexpr double kC = 0.4;          // RFC 9438 §5.1, segments / s^3
  static constexpr double kBetaCubic = 0.7;  // RFC 9438 §4.6
  // RFC 9438 §4.3: alpha_cubic = 3 * (1 - beta_cubic) / (1 + beta_cubic).
  static constexpr double kAlphaCubic = 3.0 * (1.0 - kBetaCubic) / (1.0 + kBetaCubic);

  explicit Cubic(const CongestionConfig& config) : NewReno(config) {}

  const char* name() const override { return "cubic"; }

  // State for tests and observers. Windows in bytes, K in seconds.
  double w_max() const { return w_max_; }  // 0 until the first congestion event
  double k_seconds() const { return k_; }
  double w_est() const { return w_est_; }
  double cwnd_prior() const { return cwnd_prior_; }
  bool epoch_started() const { return epoch_started_; }
  Time epoch_start() const { return epoch_start_; }
  std::uint64_t cwnd_epoch() const { return cwnd_epoch_; }
  // RFC 9438 §4.1 Eq. 1 in bytes, `t` seconds since the epoch started.
  double w_cubic(double t) const;

 private:
  void congestion_avoidance(std::uint64_t bytes, Time now, const RttEstimator& rtt) override;
  void reduce_window(Time now) override;
  void on_persistent_congestion() override;
  void on_send_activity(Time now, bool app_limited) override;
  void on_idle(Time now) override;

  void start_epoch(Time now);
  void pause(Time now);

  double w_max_ = 0;       // bytes; 0 = unknown (no loss yet, or after persistent congestion)
  double cwnd_prior_ = 0;  // bytes: cwnd when ssthresh was last set (§4.6)
  double k_ = 0;           // seconds (§4.2 Eq. 2)
  double c_bytes_ = 0;     // C in bytes / s^3 for this epoch's max_datagram_size
  double w_est_ = 0;       // bytes (§4.3)
  double alpha_ = kAlphaCubic;
  double increment_ = 0;  // fraction of a byte of window not yet applied
  bool epoch_started_ = false;
  Time epoch_start_ = 0;
  std::uint64_t cwnd_epoch_ = 0;
  // RFC 9438 §5.8: while app-limited or idle, the epoch's clock stops.
  bool paused_ = false;
  Time paused_since_ = 0;
};

}  // namespace dquic
