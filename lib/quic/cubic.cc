#include "quic/cubic.h"

#include <algorithm>
#include <cmath>

#include "quic/rtt_estimator.h"

namespace dquic {
namespace {

constexpr double kNsPerSecond = 1e9;

// Fractions of kBetaCubic in integers, so that the reduced window is exact.
constexpr std::uint64_t kBetaNumerator = 7;
constexpr std::uint64_t kBetaDenominator = 10;
static_assert(static_cast<double>(kBetaNumerator) / kBetaDenominator == Cubic::kBetaCubic);

}  // namespace

double Cubic::w_cubic(double t) const {
  const double d = t - k_;
  return c_bytes_ * d * d * d + w_max_;
}

void Cubic::reduce_window(Time /*now*/) {
  const std::uint64_t cwnd = cwnd_;
  cwnd_prior_ = static_cast<double>(cwnd);
  // RFC 9438 §4.7: fast convergence. A loss below the previous W_max means
  // another flow took bandwidth: release some by plateauing lower.
  if (w_max_ > 0 && cwnd_prior_ < w_max_) {
    w_max_ = cwnd_prior_ * (1.0 + kBetaCubic) / 2.0;
  } else {
    w_max_ = cwnd_prior_;
  }
  // RFC 9438 §4.6: ssthresh = cwnd * beta_cubic (the RFC allows cwnd in
  // place of flight size), cwnd = max(ssthresh, minimum window).
  const std::uint64_t ssthresh = cwnd * kBetaNumerator / kBetaDenominator;
  set_window(std::max(ssthresh, minimum_window()), ssthresh);
  // The next congestion-avoidance ACK starts a new epoch (and computes K).
  epoch_started_ = false;
  paused_ = false;
  increment_ = 0;
}

void Cubic::on_persistent_congestion() {
  // RFC 9438 §4.8: after a timeout, the first congestion-avoidance stage
  // uses K = 0 and W_max = the window when it starts.
  w_max_ = 0;
  epoch_started_ = false;
  paused_ = false;
  increment_ = 0;
}

void Cubic::start_epoch(Time now) {
  epoch_started_ = true;
  epoch_start_ = now;
  paused_ = false;
  increment_ = 0;
  cwnd_epoch_ = cwnd_;
  c_bytes_ = kC * max_datagram_size();
  const double epoch = static_cast<double>(cwnd_epoch_);
  if (w_max_ <= epoch) {
    // RFC 9438 §4.10 (no loss yet) and §4.8 (after persistent congestion):
    // K = 0, W_max = cwnd at the start of congestion avoidance. Also when a
    // minimum-window clamp left cwnd above W_max (as Linux does).
    w_max_ = epoch;
    k_ = 0;
  } else {
    // RFC 9438 §4.2 Eq. 2, once per epoch: K = cbrt((W_max - cwnd_epoch) / C).
    k_ = std::cbrt((w_max_ - epoch) / c_bytes_);
  }
  // RFC 9438 §4.3: W_est starts at cwnd_epoch; alpha_cubic until it reaches
  // cwnd_prior, then Reno's 1.
  w_est_ = epoch;
  alpha_ = w_est_ >= cwnd_prior_ ? 1.0 : kAlphaCubic;
}

void Cubic::congestion_avoidance(std::uint64_t bytes, Time now, const RttEstimator& rtt) {
  if (!epoch_started_) start_epoch(now);
  // RFC 9438 §5.8: the clock stands still while app-limited or idle.
  const Time clock = paused_ ? paused_since_ : now;
  const double t = static_cast<double>(std::max<Time>(clock - epoch_start_, 0)) / kNsPerSecond;
  const double rtt_s = static_cast<double>(rtt.smoothed_rtt()) / kNsPerSecond;
  const double cwnd = static_cast<double>(cwnd_);
  const double acked = static_cast<double>(bytes);

  // RFC 9438 §4.3 Eq. 4: W_est += alpha_cubic * segments_acked / cwnd.
  w_est_ += alpha_ * max_datagram_size() * acked / cwnd;
  if (w_est_ >= cwnd_prior_) alpha_ = 1.0;

  if (w_cubic(t) < w_est_) {
    // RFC 9438 §4.3: Reno-friendly region, cwnd = W_est (an ACK never
    // shrinks the window).
    if (w_est_ > cwnd) cwnd_ = static_cast<std::uint64_t>(w_est_);
    increment_ = 0;
    return;
  }
  // RFC 9438 §4.4-4.5: concave and convex regions. target = W_cubic(t+RTT)
  // bounded to [cwnd, 1.5 cwnd]; cwnd grows by (target - cwnd) / cwnd per
  // segment acknowledged (§4.2), here for `bytes` at once.
  const double target = std::clamp(w_cubic(t + rtt_s), cwnd, 1.5 * cwnd);
  increment_ += (target - cwnd) * acked / cwnd;
  if (increment_ >= 1.0) {
    const double whole = std::floor(increment_);
    cwnd_ += static_cast<std::uint64_t>(whole);
    increment_ -= whole;
  }
}

void Cubic::pause(Time now) {
  if (epoch_started_ && !paused_) {
    paused_ = true;
    paused_since_ = now;
  }
}

void Cubic::on_idle(Time now) {
  pause(now);
}

void Cubic::on_send_activity(Time now, bool app_limited) {
  // RFC 9438 §5.8: the window is not growing for lack of data, so W_cubic's
  // t must not advance either; shift the epoch by the pause when sending
  // resumes with enough data.
  if (app_limited) {
    pause(now);
    return;
  }
  if (paused_) {
    if (now > paused_since_) epoch_start_ += now - paused_since_;
    paused_ = false;
  }
}

}  // namespace dquic
