#include "quic/loss_detector.h"

#include <algorithm>
#include <limits>

namespace dquic {

namespace {

// Far enough below kNever that adding it to any plausible time cannot overflow.
constexpr Duration kDurationCap = kNever / 4;

// d * 2^count, saturating (RFC 9002 §6.2.1 backoff).
Duration backoff(Duration d, int count) {
  for (int i = 0; i < count; ++i) {
    if (d >= kDurationCap / 2) return kDurationCap;
    d *= 2;
  }
  return d;
}

Time add(Time t, Duration d) {
  if (t == kNever || d >= kNever - t) return kNever;
  return t + d;
}

std::size_t round_up_pow2(std::size_t n) {
  std::size_t c = 1;
  while (c < n)
    c <<= 1;
  return c;
}

template <class R>
CcPacket cc_packet(const R& p) {
  return {p.packet_number, p.time_sent, p.sent_bytes, p.app_limited};
}

// Frame slots per record the frame ring starts with: bulk transfer carries
// one or two frames per packet.
constexpr std::size_t kFramesPerRecord = 2;

}  // namespace

void LossDetector::Ring::reset(std::size_t capacity) {
  const std::size_t cap = round_up_pow2(std::max<std::size_t>(capacity, 2));
  buf_ = std::make_unique_for_overwrite<Record[]>(cap);
  mask_ = cap - 1;
  head_ = size_ = 0;
}

void LossDetector::Ring::release() {
  buf_.reset();
  mask_ = 0;
  head_ = size_ = 0;
}

void LossDetector::Ring::grow() {
  const std::size_t cap = std::max<std::size_t>(capacity() * 2, 2);
  auto bigger = std::make_unique_for_overwrite<Record[]>(cap);
  for (std::size_t i = 0; i < size_; ++i)
    bigger[i] = (*this)[i];
  buf_ = std::move(bigger);
  mask_ = cap - 1;
  head_ = 0;
}

// Two records per cache line: the next ACK's first few packets.
void LossDetector::Ring::prefetch_front() const {
  for (std::size_t i = 0; i < size_ && i < 6; i += 2)
    __builtin_prefetch(&(*this)[i]);
}

std::size_t LossDetector::Ring::lower_bound(std::uint64_t pn) const {
  if (size_ == 0) return 0;
  const std::uint64_t front = (*this)[0].packet_number;
  if (pn <= front) return 0;
  // Packet numbers increase by at least one per record, so record i has a
  // number >= front + i: the answer is at most pn - front, and exactly that
  // when the record there holds pn (always, unless numbers were skipped).
  std::size_t lo = 1, hi = size_;
  if (pn - front < size_) {
    const std::size_t i = static_cast<std::size_t>(pn - front);
    if ((*this)[i].packet_number == pn) return i;
    hi = i;
  } else if ((*this)[size_ - 1].packet_number < pn) {
    return size_;
  }
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if ((*this)[mid].packet_number < pn) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void LossDetector::FrameRing::reset(std::size_t capacity) {
  const std::size_t cap =
      round_up_pow2(std::clamp<std::size_t>(capacity, SentPacket::kMaxFrames, kMaxFrameCapacity));
  buf_ = std::make_unique_for_overwrite<Slot[]>(cap);
  mask_ = static_cast<std::uint32_t>(cap - 1);
  head_ = tail_ = 0;
}

void LossDetector::FrameRing::prefetch_front() const {
  for (std::uint32_t i = 0; i < size() && i < 6; i += 2)
    __builtin_prefetch(&at(head_ + i));
}

void LossDetector::FrameRing::release() {
  buf_.reset();
  mask_ = 0;
  head_ = tail_;
}

bool LossDetector::FrameRing::reserve(std::size_t n) {
  if (size() + n <= capacity()) return true;
  std::size_t cap = std::max(capacity(), round_up_pow2(SentPacket::kMaxFrames));
  while (cap < size() + n && cap < kMaxFrameCapacity)
    cap *= 2;
  if (cap < size() + n) return false;
  // Same positions, new mask: records keep pointing at their frames.
  auto bigger = std::make_unique_for_overwrite<Slot[]>(cap);
  const auto mask = static_cast<std::uint32_t>(cap - 1);
  for (std::uint32_t pos = head_; pos != tail_; ++pos)
    bigger[pos & mask] = buf_[pos & mask_];
  buf_ = std::move(bigger);
  mask_ = mask;
  return true;
}

void LossDetector::fill(const Space& s, const Record& r, SentPacket& out,
                        std::uint8_t& filled) const {
  out.packet_number = r.packet_number;
  out.time_sent = r.time_sent;
  out.sent_bytes = r.sent_bytes;
  out.ack_eliciting = r.ack_eliciting;
  out.in_flight = r.in_flight;
  out.is_pmtu_probe = r.is_pmtu_probe;
  out.space = s.id;
  out.app_limited = r.app_limited;
  out.frame_count = r.frame_count;
  for (std::uint8_t i = 0; i < r.frame_count; ++i) {
    const FrameRing::Slot& f = s.frames.at(r.first_frame + i);
    out.frames[i] = SentFrame{f.kind, f.fin, f.stream_id, f.offset, f.length};
  }
  for (std::uint8_t i = r.frame_count; i < filled; ++i)
    out.frames[i] = SentFrame{};
  filled = r.frame_count;
}

LossDetector::LossDetector(const LossDetectorConfig& config, RttEstimator& rtt,
                           CongestionController& cc, LossListener& listener)
    : config_(config), rtt_(rtt), cc_(&cc), listener_(listener) {
  config_.max_capacity = std::max<std::size_t>(config_.max_capacity, 2);
  config_.pto_probes = std::clamp(config_.pto_probes, 1, 2);
  spaces_[index(PacketSpace::kInitial)].sent.reset(config_.handshake_capacity);
  spaces_[index(PacketSpace::kHandshake)].sent.reset(config_.handshake_capacity);
  spaces_[index(PacketSpace::kApplication)].sent.reset(config_.initial_capacity);
  std::size_t most = 0;
  for (std::size_t i = 0; i < kPacketSpaceCount; ++i) {
    Space& s = spaces_[i];
    s.id = static_cast<PacketSpace>(i);
    s.frames.reset(s.sent.capacity() * kFramesPerRecord);
    most = std::max(most, s.sent.capacity());
  }
  reserve_scratch(most);
  // A resumed connection may hand over an estimator that already has samples.
  if (rtt_.has_sample()) first_rtt_sample_ = std::numeric_limits<Time>::min();
}

void LossDetector::reserve_scratch(std::size_t n) {
  acked_scratch_.reserve(n);
  lost_scratch_.reserve(n);
}

bool LossDetector::on_packet_sent(const SentPacket& p, Time now, Ecn ecn) {
  Space& s = space(p.space);
  if (s.has_sent && p.packet_number <= s.largest_sent) return false;
  if (s.sent.size() == s.sent.capacity()) {
    if (s.sent.capacity() < config_.max_capacity) {
      s.sent.grow();
      reserve_scratch(s.sent.capacity());
    } else {
      evict_oldest(s);
    }
  }
  // Only the frames in use are copied (SentPacket::add keeps frame_count
  // within kMaxFrames; a larger one is not a packet the connection built).
  const std::size_t frames = std::min<std::size_t>(p.frame_count, SentPacket::kMaxFrames);
  while (!s.frames.reserve(frames))
    evict_oldest(s);  // only past 2^31 frames
  Record& e = s.sent.push_back();
  e.packet_number = p.packet_number;
  e.time_sent = now;
  e.sent_bytes = p.sent_bytes;
  e.first_frame = s.frames.tail();
  e.frame_count = static_cast<std::uint8_t>(frames);
  e.ack_eliciting = p.ack_eliciting;
  e.in_flight = p.in_flight;
  e.is_pmtu_probe = p.is_pmtu_probe;
  e.app_limited = p.app_limited;
  e.state = State::kOutstanding;
  e.ecn = ecn;
  s.frames.push(p.frames.data(), frames);
  s.sent.prefetch_ahead();
  s.frames.prefetch_ahead();
  s.has_sent = true;
  s.largest_sent = p.packet_number;
  ++s.outstanding;
  if (ecn == Ecn::kEct0) ++s.ect0_sent;
  if (ecn == Ecn::kEct1) ++s.ect1_sent;
  // RFC 9002 §A.5.
  if (p.in_flight) {
    s.in_flight_bytes += p.sent_bytes;
    if (p.ack_eliciting) {
      ++s.ack_eliciting_in_flight;
      s.ack_eliciting_bytes += p.sent_bytes;
      s.last_ack_eliciting = now;
    }
    cc_->on_packet_sent(now, p.sent_bytes, p.app_limited);
    armed_at_ = now;
  }
  return true;
}

// The ring is full at max_capacity: the oldest record (outstanding, as the
// front always is) is given up as lost. It leaves flight without a
// congestion response: this is our bound, not a network signal.
void LossDetector::evict_oldest(Space& s) {
  Record& e = s.sent[0];
  e.state = State::kLost;
  const std::uint64_t bytes = e.in_flight && counts_for_cc(s, e) ? e.sent_bytes : 0;
  forget(s, e);
  listener_.on_packet_lost(view(s, e));
  if (bytes != 0) cc_->on_packets_discarded(bytes);
  trim(s);
}

void LossDetector::forget(Space& s, const Record& e) {
  --s.outstanding;
  if (!e.in_flight) return;
  s.in_flight_bytes -= e.sent_bytes;
  if (!counts_for_cc(s, e)) old_path_bytes_ -= e.sent_bytes;
  if (e.ack_eliciting) {
    --s.ack_eliciting_in_flight;
    s.ack_eliciting_bytes -= e.sent_bytes;
  }
}

void LossDetector::pop_front(Space& s) {
  const Record& e = s.sent[0];
  s.frames.pop_to(e.first_frame + e.frame_count);
  s.sent.pop_front();
}

void LossDetector::trim(Space& s) {
  while (s.sent.size() != 0 && s.sent[0].state != State::kOutstanding)
    pop_front(s);
}

// RFC 9000 §13.1: acknowledging a packet never sent. Beyond the largest sent
// is always detected; below it, every packet number from the oldest record up
// has a record unless it was skipped, so a shortfall in a range's record count
// is detected too. Numbers below the oldest record cannot be checked.
bool LossDetector::ack_is_valid(const Space& s, const AckFrame& ack) const {
  if (!s.has_sent || ack.largest_acknowledged > s.largest_sent) return false;
  if (s.sent.size() == 0) return true;
  const std::uint64_t oldest = s.sent[0].packet_number;
  for (const AckRange& r : ack) {
    if (r.largest < oldest) break;  // ranges come largest first
    const std::uint64_t lo = std::max(r.smallest, oldest);
    const std::size_t first = s.sent.lower_bound(lo);
    const std::size_t end = s.sent.lower_bound(r.largest + 1);
    if (end - first != r.largest - lo + 1) return false;
  }
  return true;
}

AckOutcome LossDetector::on_ack_received(PacketSpace sp, const AckFrame& ack, Duration ack_delay,
                                         Time now) {
  AckOutcome out;
  Space& s = space(sp);
  if (!ack_is_valid(s, ack)) {
    out.error = TransportError::kProtocolViolation;
    return out;
  }
  // RFC 9002 §A.7 PeerCompletedAddressValidation: "has received Handshake ACK".
  if (sp == PacketSpace::kHandshake) handshake_ack_received_ = true;
  const bool largest_increased = !s.largest_acked || ack.largest_acknowledged > *s.largest_acked;
  if (largest_increased) s.largest_acked = ack.largest_acknowledged;

  // DetectAndRemoveAckedPackets.
  acked_scratch_.clear();
  std::uint64_t largest_newly = 0;
  Time largest_newly_sent = 0;
  std::uint64_t newly_ect0 = 0, newly_ect1 = 0, newly_marked_path = 0;
  const std::uint64_t oldest = s.sent.size() != 0 ? s.sent[0].packet_number : 0;
  for (const AckRange& r : ack) {
    if (s.sent.size() == 0 || r.largest < oldest) break;
    for (std::size_t i = s.sent.lower_bound(r.smallest); i < s.sent.size(); ++i) {
      Record& e = s.sent[i];
      if (e.packet_number > r.largest) break;
      if (e.state != State::kOutstanding) continue;
      e.state = State::kAcked;
      forget(s, e);
      if (out.acked == 0 || e.packet_number > largest_newly) {
        largest_newly = e.packet_number;
        largest_newly_sent = e.time_sent;
      }
      ++out.acked;
      if (e.ack_eliciting) out.ack_eliciting_acked = true;
      if (e.ecn == Ecn::kEct0) ++newly_ect0;
      if (e.ecn == Ecn::kEct1) ++newly_ect1;
      if (counts_for_ecn(s, e)) ++newly_marked_path;
      if (e.in_flight && counts_for_cc(s, e)) acked_scratch_.push_back(cc_packet(e));
      listener_.on_packet_acked(view(s, e));
    }
  }
  if (out.acked == 0) return out;
  out.newly_acked = true;

  // RFC 9002 §5.1: sample only when the largest acknowledged is newly
  // acknowledged and something ack-eliciting was.
  // RFC 9000 §9.4: packets sent before a path change give the new path no
  // RTT sample.
  if (largest_newly == ack.largest_acknowledged && out.ack_eliciting_acked &&
      (sp != PacketSpace::kApplication || largest_newly >= cc_first_pn_)) {
    if (!rtt_.has_sample()) first_rtt_sample_ = now;
    rtt_.update(std::max<Duration>(now - largest_newly_sent, 0), ack_delay,
                state_.handshake_confirmed);
    out.rtt_sampled = true;
  }
  // RFC 9000 §13.4.2.1: ACKs that do not raise the largest acknowledged may be
  // reordered and are not validated or used.
  if (largest_increased)
    process_ecn(s, ack, newly_ect0, newly_ect1, newly_marked_path, largest_newly_sent, now);

  out.lost = detect_lost(s, now);
  if (!acked_scratch_.empty()) cc_->on_packets_acked(acked_scratch_, now, rtt_);

  // RFC 9002 §6.2.1: a client unsure that the server validated its address
  // keeps the backoff.
  if (peer_completed_address_validation()) pto_count_ = 0;
  armed_at_ = now;
  trim(s);
  // The next ACK starts at the oldest outstanding record, whose record and
  // frames were last touched a flight ago: start loading them now.
  s.sent.prefetch_front();
  s.frames.prefetch_front();
  return out;
}

void LossDetector::process_ecn(Space& s, const AckFrame& ack, std::uint64_t newly_ect0,
                               std::uint64_t newly_ect1, std::uint64_t newly_marked_path,
                               Time largest_sent_time, Time now) {
  bool& failed = ecn_feedback_.failed;
  if (failed) return;
  // RFC 9000 §13.4.2.1: marked packets acknowledged without counts.
  if (!ack.has_ecn) {
    if (newly_ect0 + newly_ect1 != 0) failed = true;
    return;
  }
  const EcnCounts& c = ack.ecn;
  const EcnCounts& last = s.ecn_acked;
  // Counts are cumulative; more than we marked means remarking on the path.
  if (c.ect0 < last.ect0 || c.ect1 < last.ect1 || c.ce < last.ce || c.ect0 > s.ect0_sent ||
      c.ect1 > s.ect1_sent || c.ce > s.ect0_sent + s.ect1_sent) {
    failed = true;
    return;
  }
  const std::uint64_t inc0 = c.ect0 - last.ect0, inc1 = c.ect1 - last.ect1, inc_ce = c.ce - last.ce;
  // CE remarked to ECT, or marks cleared, on newly acknowledged packets.
  if (inc0 + inc_ce < newly_ect0 || inc1 + inc_ce < newly_ect1) {
    failed = true;
    return;
  }
  s.ecn_acked = c;
  // RFC 9000 §13.4.2.1, A.4: validated counts covering marked packets.
  ecn_feedback_.acked += newly_marked_path;
  ecn_ce_reported_ += inc_ce;
  // RFC 9002 §7.1, §B.7.
  if (inc_ce != 0) cc_->on_ecn_ce(largest_sent_time, now);
}

void LossDetector::restart_ecn_validation() {
  const Space& s = space(PacketSpace::kApplication);
  ecn_feedback_ = {};
  ecn_first_pn_ = s.has_sent ? s.largest_sent + 1 : 0;
}

// RFC 9002 §A.10 DetectAndRemoveLostPackets, with the persistent congestion
// test of §7.6.2 / §B.8 over the packets it declares lost. Only records up to
// the largest acknowledged are visited; after trim() those start within
// kPacketThreshold of the previous largest acknowledged, so the walk is
// amortized constant per packet.
std::size_t LossDetector::detect_lost(Space& s, Time now) {
  s.loss_time = kNever;
  if (!s.largest_acked) return 0;
  const std::uint64_t largest = *s.largest_acked;
  const Duration rtt = std::max(rtt_.latest_rtt(), rtt_.smoothed_rtt());
  const Duration loss_delay =
      std::max(rtt * kTimeThresholdNumerator / kTimeThresholdDenominator, kGranularity);
  const Time lost_send_time = now - loss_delay;
  const Duration pc_duration = persistent_congestion_duration();

  lost_scratch_.clear();
  std::size_t lost = 0;
  std::uint64_t probe_bytes = 0;
  // §7.6.2: ack-eliciting losses sent after the first RTT sample with no
  // acknowledged packet between them; the run restarts at an acknowledged one.
  const bool sampled = rtt_.has_sample();
  Time run_start = kNever;
  bool persistent = false;
  for (std::size_t i = 0; i < s.sent.size(); ++i) {
    Record& e = s.sent[i];
    const Record& p = e;
    if (p.packet_number > largest) break;
    if (e.state == State::kAcked) {
      run_start = kNever;
      continue;
    }
    if (e.state != State::kOutstanding) continue;
    if (p.time_sent <= lost_send_time || largest >= p.packet_number + kPacketThreshold) {
      e.state = State::kLost;
      forget(s, e);
      ++lost;
      if (counts_for_ecn(s, p)) ++ecn_feedback_.lost;  // RFC 9000 §13.4.2
      if (p.in_flight && !counts_for_cc(s, p)) {
        // RFC 9000 §9.4: sent on an old path, no signal for the new one.
      } else if (p.in_flight && p.is_pmtu_probe) {
        // RFC 9000 §14.4: a lost PMTU probe is no congestion signal.
        probe_bytes += p.sent_bytes;
      } else if (p.in_flight) {
        lost_scratch_.push_back(cc_packet(p));
        if (p.ack_eliciting && sampled && p.time_sent > first_rtt_sample_) {
          if (run_start == kNever) {
            run_start = p.time_sent;
          } else if (p.time_sent - run_start > pc_duration) {
            persistent = true;
          }
        }
      }
      listener_.on_packet_lost(view(s, p));
    } else {
      s.loss_time = std::min(s.loss_time, p.time_sent + loss_delay);
    }
  }
  if (probe_bytes != 0) cc_->on_packets_discarded(probe_bytes);
  if (!lost_scratch_.empty()) {
    cc_->on_packets_lost(lost_scratch_, now, persistent);
    // RFC 9002 §5.2: min_rtt restarts from the latest sample.
    if (persistent) rtt_.on_persistent_congestion();
  }
  return lost;
}

Time LossDetector::timer() const {
  // RFC 9002 §A.8 SetLossDetectionTimer.
  const auto [loss_time, loss_space] = loss_time_and_space();
  (void)loss_space;
  if (loss_time != kNever) return loss_time;
  // §6.2.2.1: a server that cannot send does not arm the PTO.
  if (state_.amplification_blocked) return kNever;
  if (!any_ack_eliciting_in_flight() && peer_completed_address_validation()) return kNever;
  return pto_time_and_space().first;
}

LossDetector::Timeout LossDetector::on_timeout(Time now) {
  Timeout out;
  const Time t = timer();
  if (t == kNever || now < t) return out;
  // RFC 9002 §A.9 OnLossDetectionTimeout.
  const auto [loss_time, loss_space] = loss_time_and_space();
  if (loss_time != kNever) {
    Space& s = space(loss_space);
    out.lost = detect_lost(s, now);
    out.losses = true;
    armed_at_ = now;
    trim(s);
    return out;
  }
  if (!pto_armable_in_flight()) {
    // §6.2.2.1 anti-deadlock: a Handshake packet proves address ownership,
    // a padded Initial earns amplification credit.
    out.probe_space = state_.have_handshake_keys ? PacketSpace::kHandshake : PacketSpace::kInitial;
    out.probes = 1;
  } else {
    out.probe_space = pto_time_and_space().second;
    out.probes = config_.pto_probes;
  }
  ++pto_count_;
  armed_at_ = now;
  return out;
}

std::pair<Time, PacketSpace> LossDetector::loss_time_and_space() const {
  Time t = kNever;
  PacketSpace sp = PacketSpace::kInitial;
  for (std::size_t i = 0; i < kPacketSpaceCount; ++i) {
    if (spaces_[i].loss_time < t) {
      t = spaces_[i].loss_time;
      sp = static_cast<PacketSpace>(i);
    }
  }
  return {t, sp};
}

bool LossDetector::any_ack_eliciting_in_flight() const {
  for (const Space& s : spaces_) {
    if (s.ack_eliciting_in_flight != 0) return true;
  }
  return false;
}

// Spaces whose PTO can be armed: the application space only once the
// handshake is confirmed (RFC 9002 §6.2.1).
bool LossDetector::pto_armable_in_flight() const {
  return spaces_[index(PacketSpace::kInitial)].ack_eliciting_in_flight != 0 ||
         spaces_[index(PacketSpace::kHandshake)].ack_eliciting_in_flight != 0 ||
         (state_.handshake_confirmed &&
          spaces_[index(PacketSpace::kApplication)].ack_eliciting_in_flight != 0);
}

// RFC 9002 §A.8 GetPtoTimeAndSpace. One deviation: the anti-deadlock PTO also
// applies when only 0-RTT packets are in flight, whose PTO cannot be armed
// before confirmation; the pseudocode would leave a client with no timer
// while an amplification-blocked server waits for it.
std::pair<Time, PacketSpace> LossDetector::pto_time_and_space() const {
  Duration duration = backoff(rtt_.pto_base(), pto_count_);
  if (!pto_armable_in_flight()) {
    if (peer_completed_address_validation()) return {kNever, PacketSpace::kInitial};
    return {add(armed_at_, duration),
            state_.have_handshake_keys ? PacketSpace::kHandshake : PacketSpace::kInitial};
  }
  Time best = kNever;
  PacketSpace best_space = PacketSpace::kInitial;
  for (std::size_t i = 0; i < kPacketSpaceCount; ++i) {
    const Space& s = spaces_[i];
    if (s.ack_eliciting_in_flight == 0) continue;
    if (static_cast<PacketSpace>(i) == PacketSpace::kApplication) {
      if (!state_.handshake_confirmed) break;
      duration = std::min(duration + backoff(rtt_.max_ack_delay(), pto_count_), kDurationCap);
    }
    const Time t = add(s.last_ack_eliciting, duration);
    if (t < best) {
      best = t;
      best_space = static_cast<PacketSpace>(i);
    }
  }
  return {best, best_space};
}

Duration LossDetector::pto(PacketSpace sp) const {
  Duration d = rtt_.pto_base();
  if (sp == PacketSpace::kApplication && state_.handshake_confirmed) d += rtt_.max_ack_delay();
  return backoff(d, pto_count_);
}

Duration LossDetector::persistent_congestion_duration() const {
  // §7.6.1: max_ack_delay counts whatever the space.
  return (rtt_.pto_base() + rtt_.max_ack_delay()) * kPersistentCongestionThreshold;
}

void LossDetector::discard_space(PacketSpace sp, Time now) {
  // RFC 9002 §A.11 OnPacketNumberSpaceDiscarded.
  Space& s = space(sp);
  const std::uint64_t bytes = s.in_flight_bytes - drop_old_path_bytes(s);
  s.sent.release();  // nothing is sent in it again: its memory goes too
  s.frames.release();
  s.outstanding = s.ack_eliciting_in_flight = 0;
  s.ack_eliciting_bytes = s.in_flight_bytes = 0;
  s.last_ack_eliciting = kNever;
  s.loss_time = kNever;
  if (bytes != 0) cc_->on_packets_discarded(bytes);
  pto_count_ = 0;
  armed_at_ = now;
}

// Reports every outstanding packet lost for retransmission and takes them out
// of flight without a congestion response (RFC 9002 §6.4).
void LossDetector::abandon(Space& s) {
  const std::uint64_t bytes = s.in_flight_bytes - drop_old_path_bytes(s);
  for (std::size_t i = 0; i < s.sent.size(); ++i) {
    Record& e = s.sent[i];
    if (e.state != State::kOutstanding) continue;
    e.state = State::kLost;
    listener_.on_packet_lost(view(s, e));
  }
  s.sent.clear();
  s.frames.clear();
  s.outstanding = s.ack_eliciting_in_flight = 0;
  s.ack_eliciting_bytes = s.in_flight_bytes = 0;
  s.last_ack_eliciting = kNever;
  s.loss_time = kNever;
  if (bytes != 0) cc_->on_packets_discarded(bytes);
}

void LossDetector::on_zero_rtt_rejected(Time now) {
  abandon(space(PacketSpace::kApplication));
  armed_at_ = now;
}

std::uint64_t LossDetector::drop_old_path_bytes(const Space& s) {
  if (s.id != PacketSpace::kApplication) return 0;
  const std::uint64_t old = old_path_bytes_;
  old_path_bytes_ = 0;
  return old;
}

void LossDetector::on_path_change(CongestionController& cc, Time now) {
  // RFC 9000 §9.4: what is in flight was sent on the old path; it is still
  // acknowledged, declared lost and retransmitted, but feeds neither `cc`
  // nor the estimator, which restarts from kInitialRtt (RFC 9002 §B.3).
  const Space& s = space(PacketSpace::kApplication);
  cc_ = &cc;
  cc_first_pn_ = s.has_sent ? s.largest_sent + 1 : 0;
  old_path_bytes_ = s.in_flight_bytes;
  rtt_.reset(config_.initial_rtt);
  first_rtt_sample_ = kNever;
  pto_count_ = 0;
  armed_at_ = now;
}

void LossDetector::on_retry(Time now) {
  abandon(space(PacketSpace::kInitial));
  abandon(space(PacketSpace::kApplication));
  pto_count_ = 0;
  rtt_.reset(config_.initial_rtt);
  first_rtt_sample_ = kNever;
  armed_at_ = now;
}

void LossDetector::set_state(const RecoveryState& state, Time now) {
  const bool changed = state.handshake_confirmed != state_.handshake_confirmed ||
                       state.have_handshake_keys != state_.have_handshake_keys ||
                       state.amplification_blocked != state_.amplification_blocked;
  state_ = state;
  // SetLossDetectionTimer on a change of an armed timer only, so that
  // repeating the same state does not push back an anti-deadlock PTO.
  if (changed && armed_at_ != kNever) armed_at_ = now;
}

}  // namespace dquic
