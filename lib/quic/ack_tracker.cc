#include "quic/ack_tracker.h"

#include <algorithm>
#include <span>

namespace dquic {

AckTracker::AckTracker(const Config& c)
    : ranges_(c.max_ranges),
      // RangeSet raises a capacity of 0 to 1; size the scratch array to match.
      scratch_(ranges_.capacity()),
      immediate_config_(c.immediate),
      max_ack_delay_(c.max_ack_delay > 0 ? c.max_ack_delay : 0) {}

bool AckTracker::is_duplicate(std::uint64_t pn) const {
  if (pn < floor_) return true;  // pruned (§13.2.4) or evicted (§13.2.3)
  if (ranges_.empty()) return false;
  if (ranges_.contains(pn)) return true;  // RFC 9000 §12.3
  // A full set refuses a new lowest range, so the packet could not be
  // recorded and a copy of it would later be accepted again: refuse it now.
  const std::uint64_t lowest = ranges_.min();
  return ranges_.size() == ranges_.capacity() && lowest > 0 && pn < lowest - 1;
}

bool AckTracker::has_gap_below(std::uint64_t pn) const {
  // RFC 9000 §13.2.1: missing packets between the highest-numbered
  // ack-eliciting packet and `pn` (> it). The range holding pn starts right
  // after the last missing number, if any; numbers below the floor are no
  // longer known, so they do not count as missing.
  const auto rs = ranges_.ranges();
  const auto it = std::lower_bound(rs.begin(), rs.end(), pn,
                                   [](const Interval& r, std::uint64_t v) { return r.last < v; });
  if (it == rs.end() || it->first > pn) return false;  // not recorded
  return it->first > largest_ack_eliciting_ + 1 && it->first > floor_;
}

void AckTracker::on_packet_received(std::uint64_t pn, bool ack_eliciting, Ecn ecn, Time now) {
  // Contract: is_duplicate(pn) was false. Ignore a violation rather than
  // double-count ECN (§13.4.1 counts each packet once) or resurrect pruned state.
  if (is_duplicate(pn)) return;

  // RFC 9000 §13.4.1.
  switch (ecn) {
    case Ecn::kEct0:
      ++ecn_.ect0;
      break;
    case Ecn::kEct1:
      ++ecn_.ect1;
      break;
    case Ecn::kCe:
      ++ecn_.ce;
      break;
    case Ecn::kNotEct:
      break;
  }

  if (!has_largest_ || pn > largest_) {
    has_largest_ = true;
    largest_ = pn;
    largest_time_ = now;
  }

  // RFC 9000 §13.2.3: beyond max_ranges the lowest range goes; keep a floor
  // so that packets in it are never accepted again.
  if (!ranges_.insert(pn, pn)) raise_floor(ranges_.min());
  ack_pending_ = true;

  bool now_owed = false;
  if (ack_eliciting) {
    if (has_largest_ack_eliciting_) {
      // RFC 9000 §13.2.1: reordering, or a new gap below this packet.
      if (pn < largest_ack_eliciting_ || has_gap_below(pn)) now_owed = true;
    }
    if (!has_largest_ack_eliciting_ || pn > largest_ack_eliciting_) {
      has_largest_ack_eliciting_ = true;
      largest_ack_eliciting_ = pn;
    }
    if (ack_eliciting_count_++ == 0) first_ack_eliciting_time_ = now;
    // RFC 9000 §13.2.1 (Initial/Handshake) and §13.2.2 (every second one).
    if (immediate_config_ || ack_eliciting_count_ >= 2) now_owed = true;
  }
  // RFC 9000 §13.2.1: CE is acknowledged immediately, but a non-ack-eliciting
  // packet never causes an ACK by itself: only hurry one already owed.
  if (ecn == Ecn::kCe && ack_eliciting_count_ > 0) now_owed = true;
  if (now_owed && immediate_time_ == kNever) immediate_time_ = now;
}

Time AckTracker::ack_deadline() const {
  if (ack_eliciting_count_ == 0) return kNever;
  // RFC 9000 §13.2.1: within max_ack_delay of the first unacknowledged
  // ack-eliciting packet.
  Time delayed = kNever;
  if (first_ack_eliciting_time_ <= kNever - max_ack_delay_) {
    delayed = first_ack_eliciting_time_ + max_ack_delay_;
  }
  return std::min(delayed, immediate_time_);
}

std::optional<std::uint64_t> AckTracker::write_ack(Writer& w, Time now,
                                                   std::uint8_t ack_delay_exponent,
                                                   std::size_t budget) {
  if (ranges_.empty() || !w.ok()) return std::nullopt;

  // Largest first (§19.3.1); ranges_ is ascending.
  const auto rs = ranges_.ranges();
  const std::size_t n = rs.size();
  for (std::size_t i = 0; i < n; ++i) {
    const Interval& r = rs[n - 1 - i];
    scratch_[i] = AckRange{r.first, r.last};
  }
  const std::span<const AckRange> all(scratch_.data(), n);

  // RFC 9000 §13.2.5, §19.3: microseconds since the largest packet arrived,
  // scaled down by our ack_delay_exponent.
  const Duration elapsed = now > largest_time_ ? now - largest_time_ : 0;
  const std::uint64_t ack_delay = static_cast<std::uint64_t>(elapsed / kMicrosecond) >>
                                  std::min(ack_delay_exponent, kMaxAckDelayExponentValue);

  const bool any_ecn = ecn_.ect0 != 0 || ecn_.ect1 != 0 || ecn_.ce != 0;
  const EcnCounts* ecn = any_ecn ? &ecn_ : nullptr;

  // RFC 9000 §13.2.3: when the frame does not fit, the oldest ranges go.
  const std::size_t room = std::min(budget, w.remaining());
  const std::size_t fit = ack_ranges_that_fit(all, ack_delay, ecn, room);
  if (fit == 0) return std::nullopt;
  if (!encode_ack(all.first(fit), ack_delay, ecn, w)) return std::nullopt;
  return all[0].largest;
}

void AckTracker::on_ack_sent() {
  ack_pending_ = false;
  ack_eliciting_count_ = 0;
  first_ack_eliciting_time_ = kNever;
  immediate_time_ = kNever;
}

void AckTracker::on_ack_acked(std::uint64_t largest) {
  if (!has_largest_) return;
  // We never sent a Largest Acknowledged above what we received; clamp so a
  // confused caller cannot make us refuse future packets.
  largest = std::min(largest, largest_);
  ranges_.remove_up_to(largest);
  // Packet numbers stay below 2^62 (RFC 9000 §17.1), so this cannot wrap.
  raise_floor(largest + 1);
}

std::optional<std::uint64_t> AckTracker::largest_received() const {
  if (!has_largest_) return std::nullopt;
  return largest_;
}

}  // namespace dquic
