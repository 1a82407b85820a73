#include "quic/pacer.h"

#include <algorithm>

namespace dquic {
namespace {

constexpr std::int64_t kNanoPerUnit = 1'000'000'000;  // nano-bytes per byte, ns per second

}  // namespace

Pacer::Pacer(const PacerConfig& config)
    : config_(config),
      burst_packets_(std::clamp<std::uint32_t>(config.burst_packets, 1, kMaxBurstPackets)) {
  capacity_ = static_cast<std::int64_t>(burst_packets_) * mds_ * kNanoPerUnit;
  tokens_ = capacity_;
}

void Pacer::update(std::uint64_t cwnd, Duration srtt, bool slow_start,
                   std::uint32_t max_datagram_size) {
  mds_ = std::clamp<std::uint32_t>(max_datagram_size, 1, kMaxDatagramSize);
  // At most 2^14 * 65535 * 10^9 < 2^60 nano-bytes.
  capacity_ = static_cast<std::int64_t>(burst_packets_) * mds_ * kNanoPerUnit;
  tokens_ = has_last_ ? std::clamp(tokens_, -capacity_, capacity_) : capacity_;

  const std::uint64_t percent = slow_start ? config_.slow_start_percent : config_.avoidance_percent;
  if (percent == 0) {
    rate_ = 0;  // a zero ratio disables pacing
    return;
  }
  // RFC 9002 §7.7: rate = N * cwnd / smoothed_rtt, in bytes per second:
  // cwnd * percent / 100 * 10^9 / srtt_ns. The product needs up to 120 bits
  // (100 Gbit/s over 1 us, or a huge window over a tiny RTT).
  const std::uint64_t rtt = srtt > 0 ? static_cast<std::uint64_t>(srtt) : 1;
  const unsigned __int128 rate = static_cast<unsigned __int128>(cwnd) * percent *
                                 static_cast<std::uint64_t>(kNanoPerUnit / 100) / rtt;
  rate_ = rate > kMaxRate ? kMaxRate : std::max<std::uint64_t>(static_cast<std::uint64_t>(rate), 1);
}

std::int64_t Pacer::tokens_at(Time now) const {
  if (!has_last_ || rate_ == 0) return capacity_;
  const std::int64_t deficit = capacity_ - tokens_;  // <= 2 * capacity_ < 2^61
  if (deficit <= 0) return capacity_;
  if (now <= last_) return tokens_;
  const std::uint64_t elapsed = static_cast<std::uint64_t>(now - last_);
  // Time to refill completely; comparing first keeps elapsed * rate_ below
  // the deficit, so an idle hour at 100 Gbit/s cannot overflow.
  const std::uint64_t fill = (static_cast<std::uint64_t>(deficit) + rate_ - 1) / rate_;
  if (elapsed >= fill) return capacity_;
  return tokens_ + static_cast<std::int64_t>(elapsed * rate_);
}

void Pacer::on_sent(Time now, std::uint32_t bytes) {
  if (rate_ == 0) return;
  tokens_ = tokens_at(now);
  if (!has_last_ || now > last_) last_ = now;
  has_last_ = true;
  // Debt is allowed (a datagram may be larger than the tokens left, or sent
  // unpaced) so the long-run rate stays exact, but bounded by one burst so
  // that a burst of unpaced sends cannot stall the sender for long.
  const std::int64_t cost = static_cast<std::int64_t>(bytes) * kNanoPerUnit;  // < 2^63
  tokens_ = std::max(tokens_ - cost, -capacity_);
}

Time Pacer::next_send_time(Time now) const {
  if (rate_ == 0) return now;
  const std::int64_t need = static_cast<std::int64_t>(mds_) * kNanoPerUnit;
  const std::int64_t tokens = tokens_at(now);
  if (tokens >= need) return now;
  // Round up so that the tokens are there when the caller comes back; the
  // surplus of that rounding carries over, so no rate is lost.
  const std::uint64_t missing = static_cast<std::uint64_t>(need - tokens);
  const std::uint64_t wait = (missing + rate_ - 1) / rate_;
  const Time base = has_last_ ? std::max(now, last_) : now;
  if (wait >= static_cast<std::uint64_t>(kNever - base)) return kNever;
  return base + static_cast<Time>(wait);
}

}  // namespace dquic
