// A token-bucket pacer (RFC 9002 §7.7), like Linux fq, quiche and ngtcp2:
// tokens accrue at rate = N * cwnd / smoothed_rtt up to a burst of
// `burst_packets` datagrams; a datagram may leave when a full datagram of
// tokens is available. Integer nanosecond arithmetic only; tokens are kept
// in nano-bytes so that no fraction is lost and the long-run rate is exact.
#pragma once

#include <cstdint>

#include "quic/timestamp.h"

namespace dquic {

struct PacerConfig {
  std::uint32_t burst_packets = 10;  // bucket size in max_datagram_size units (>= 1)
  // N in percent. RFC 9002 §7.7 suggests N = 1.25 so that the window is not
  // underused; Linux paces slow start at 2.0 (sk_pacing_ss_ratio = 200) so
  // that pacing does not slow window doubling.
  std::uint32_t slow_start_percent = 200;
  std::uint32_t avoidance_percent = 125;
};

class Pacer {
 public:
  // Bounds that keep nano-byte arithmetic inside 63 bits.
  static constexpr std::uint32_t kMaxBurstPackets = 1 << 14;
  static constexpr std::uint32_t kMaxDatagramSize = 65535;
  static constexpr std::uint64_t kMaxRate = 1'000'000'000'000'000;  // bytes/s (8 Pbit/s)

  Pacer() : Pacer(PacerConfig{}) {}
  explicit Pacer(const PacerConfig& config);

  // New window or RTT estimate. Until the first update the pacer does not
  // limit (rate 0 = unpaced). Tokens accrued since the last send are
  // counted at the new rate (no `now` here; the error is one ACK interval).
  void update(std::uint64_t cwnd, Duration srtt, bool slow_start, std::uint32_t max_datagram_size);
  // A datagram of `bytes` left at `now`.
  void on_sent(Time now, std::uint32_t bytes);
  // When the next max_datagram_size datagram may leave: `now` if it may.
  Time next_send_time(Time now) const;

  std::uint64_t rate_bytes_per_second() const { return rate_; }
  std::uint64_t burst_bytes() const { return std::uint64_t{burst_packets_} * mds_; }
  std::uint32_t max_datagram_size() const { return mds_; }
  const PacerConfig& config() const { return config_; }

 private:
  // Tokens (nano-bytes) available at `now`, capped at the bucket size.
  std::int64_t tokens_at(Time now) const;

  PacerConfig config_;
  std::uint32_t burst_packets_ = 10;
  std::uint32_t mds_ = 1200;
  std::uint64_t rate_ = 0;     // bytes per second; 0 = unpaced
  std::int64_t capacity_ = 0;  // nano-bytes
  std::int64_t tokens_ = 0;    // nano-bytes, in [-capacity_, capacity_]
  Time last_ = 0;              // when tokens_ was last brought up to date
  bool has_last_ = false;
};

}  // namespace dquic
