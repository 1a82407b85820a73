// Loss detection and probe timeout for the three packet number spaces
// (RFC 9002 §6, Appendix A). Sans-IO: every call that can arm the timer takes
// `now`; the connection reads timer() and calls on_timeout() when it expires.
//
// Storage: per space, a ring of sent-packet records in packet-number order.
// Acknowledged and lost records are marked and popped lazily from the front,
// so every packet number between the oldest outstanding record and the
// largest sent one still has a record (or was never sent). A record is 32
// bytes; the frames live in a second ring per space, in the same order, so a
// packet costs 32 bytes per frame it carries rather than SentPacket's 12
// slots. Rings start small (an idle connection holds little, quic-perf
// issue 8) and grow by doubling up to a configured maximum: amortized,
// never per packet in steady state. A discarded space's rings are freed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "quic/congestion_controller.h"
#include "quic/ecn.h"
#include "quic/ecn_validation.h"
#include "quic/error.h"
#include "quic/frame.h"
#include "quic/packet_space.h"
#include "quic/role.h"
#include "quic/rtt_estimator.h"
#include "quic/sent_packet.h"
#include "quic/timestamp.h"

namespace dquic {

// RFC 9002 §6.1.1.
inline constexpr std::uint64_t kPacketThreshold = 3;
// RFC 9002 §6.1.2: kTimeThreshold = 9/8, as a fraction.
inline constexpr Duration kTimeThresholdNumerator = 9;
inline constexpr Duration kTimeThresholdDenominator = 8;
// RFC 9002 §7.6.1.
inline constexpr Duration kPersistentCongestionThreshold = 3;

struct LossDetectorConfig {
  EndpointRole role = EndpointRole::kClient;
  // Used by on_retry() to reset the RTT estimator (RFC 9002 §6.3).
  Duration initial_rtt = kInitialRtt;
  // Sent-packet records for the application space, allocated at construction:
  // enough for a request/response exchange; bulk transfer grows the ring in
  // a few doublings.
  std::size_t initial_capacity = 16;
  // Initial and Handshake carry a few flights only: a small ring each keeps a
  // connection's footprint down.
  std::size_t handshake_capacity = 16;
  // Rings double up to this many records per space. At the limit the oldest
  // record is given up (see on_packet_sent); the congestion window keeps
  // in-flight packets far below it.
  std::size_t max_capacity = std::size_t{1} << 16;
  // RFC 9002 §6.2.4: a PTO may send up to two ack-eliciting datagrams.
  int pto_probes = 2;
};

// Implemented by the connection. Callbacks run inside LossDetector calls and
// must not call back into the LossDetector.
class LossListener {
 public:
  virtual ~LossListener() = default;
  // The packet's frames were delivered: release buffers, note ACK-of-ACK.
  virtual void on_packet_acked(const SentPacket& p) = 0;
  // Queue the frames' content for retransmission (RFC 9000 §13.3).
  virtual void on_packet_lost(const SentPacket& p) = 0;
};

// What the connection tells loss detection about the handshake (RFC 9002
// §A.8). Peer address validation (PeerCompletedAddressValidation) is derived:
// always for a server; for a client once the handshake is confirmed or an ACK
// arrived in the Handshake space.
struct RecoveryState {
  bool handshake_confirmed = false;    // RFC 9001 §4.1.2
  bool have_handshake_keys = false;    // Handshake keys or later: anti-deadlock probe space
  bool amplification_blocked = false;  // server at the RFC 9000 §8.1 limit
};

struct AckOutcome {
  bool newly_acked = false;
  bool ack_eliciting_acked = false;
  bool rtt_sampled = false;  // RFC 9002 §5.1: the estimator took a sample
  std::size_t acked = 0;
  std::size_t lost = 0;
  std::optional<TransportError> error;
};

class LossDetector {
 public:
  struct Timeout {
    bool losses = false;  // time-threshold losses were declared
    std::size_t lost = 0;
    std::optional<PacketSpace> probe_space;  // PTO: send `probes` ack-eliciting packets here
    int probes = 0;
  };

  LossDetector(const LossDetectorConfig& config, RttEstimator& rtt, CongestionController& cc,
               LossListener& listener);

  // RFC 9002 §A.5. Packet numbers must increase strictly per space; a packet
  // that does not is not recorded and false is returned. The record's
  // time_sent is `now`. `ecn` is the codepoint the packet was sent with, for
  // ECN validation (RFC 9000 §13.4.2.1).
  bool on_packet_sent(const SentPacket& p, Time now, Ecn ecn = Ecn::kNotEct);

  // RFC 9002 §A.7 for one ACK frame received in `space`. `ack_delay` is
  // decoded (ns). Acknowledging a packet number never sent is
  // PROTOCOL_VIOLATION (RFC 9000 §13.1); then nothing changed.
  AckOutcome on_ack_received(PacketSpace space, const AckFrame& ack, Duration ack_delay, Time now);

  // RFC 9002 §A.8 SetLossDetectionTimer: the earliest loss time, else the
  // PTO; kNever when not armed. After unblocking a server (RFC 9002 §A.6),
  // call set_state() and then on_timeout() if timer() <= now.
  Time timer() const;

  // RFC 9002 §A.9. Does nothing before timer().
  Timeout on_timeout(Time now);

  // RFC 9002 §6.4 / §A.11: keys for `space` are gone. Its packets leave
  // bytes in flight without loss or ack; loss time and PTO backoff reset.
  void discard_space(PacketSpace space, Time now);

  // RFC 9002 §6.4 / RFC 9001 §4.6.2: the server rejected 0-RTT. Every
  // application-space packet sent so far (a client cannot have sent 1-RTT
  // packets before it learns this) is reported lost for retransmission and
  // leaves bytes in flight without a congestion response.
  void on_zero_rtt_rejected(Time now);

  // RFC 9002 §6.3: a client got a Retry. Initial and 0-RTT packets are
  // reported lost for retransmission without congestion response, PTO
  // backoff and timers reset, the RTT estimator reset to initial_rtt.
  // (Resetting the congestion controller is the connection's.)
  void on_retry(Time now);

  // RFC 9000 §9.4: the connection moved to a new path with `cc`, a fresh
  // controller that must outlive this object's use of it. Packets sent
  // before feed no congestion or RTT state from now on; the RTT estimator
  // and the PTO backoff reset.
  void on_path_change(CongestionController& cc, Time now);

  void set_state(const RecoveryState& state, Time now);
  const RecoveryState& state() const { return state_; }

  // RFC 9002 §A.7 PeerCompletedAddressValidation.
  bool peer_completed_address_validation() const {
    return config_.role == EndpointRole::kServer || state_.handshake_confirmed ||
           handshake_ack_received_;
  }

  // RFC 9002 §6.2.1: the PTO period for `space`, with backoff and, for the
  // application space once the handshake is confirmed, max_ack_delay.
  Duration pto(PacketSpace space) const;
  // RFC 9002 §7.6.1.
  Duration persistent_congestion_duration() const;
  int pto_count() const { return pto_count_; }

  std::uint64_t bytes_in_flight_ack_eliciting(PacketSpace s) const {
    return spaces_[index(s)].ack_eliciting_bytes;
  }
  std::size_t ack_eliciting_in_flight(PacketSpace s) const {
    return spaces_[index(s)].ack_eliciting_in_flight;
  }
  // Records neither acknowledged nor lost.
  std::size_t outstanding(PacketSpace s) const { return spaces_[index(s)].outstanding; }
  std::optional<std::uint64_t> largest_acked(PacketSpace s) const {
    return spaces_[index(s)].largest_acked;
  }
  Time loss_time(PacketSpace s) const { return spaces_[index(s)].loss_time; }
  // kNever when none was sent since the space was (re)set.
  Time time_of_last_ack_eliciting(PacketSpace s) const {
    return spaces_[index(s)].last_ack_eliciting;
  }
  // RFC 9000 §13.4.2.2: validation failed; stop marking packets ECT.
  bool ecn_failed() const { return ecn_feedback_.failed; }
  // RFC 9000 §13.4.2, A.4: what the ACKs said about packets marked since the
  // last restart_ecn_validation() (application packets sent before it do not
  // count; the others' spaces are over by the time a path changes).
  const EcnFeedback& ecn_feedback() const { return ecn_feedback_; }
  // A new path starts ECN testing (RFC 9000 §13.4.2: validation is per
  // path). The counts stay per space (§13.4.1): the baseline carries on.
  void restart_ecn_validation();
  // ECN-CE increases the peer reported in ACKs whose counts validated
  // (RFC 9002 §7.1), over the connection.
  std::uint64_t ecn_ce_reported() const { return ecn_ce_reported_; }
  // Records a space can hold now without growing.
  std::size_t capacity(PacketSpace s) const { return spaces_[index(s)].sent.capacity(); }

  // Visits outstanding packets of `space`, oldest first (e.g. to pick PTO
  // probe content, RFC 9002 §6.2.4). `f` must not call back into this object;
  // if it returns bool, false stops the walk.
  template <class F>
  void for_each_outstanding(PacketSpace sp, F&& f) const {
    const Space& s = spaces_[index(sp)];
    SentPacket p;
    std::uint8_t filled = 0;
    for (std::size_t i = 0; i < s.sent.size(); ++i) {
      if (s.sent[i].state != State::kOutstanding) continue;
      fill(s, s.sent[i], p, filled);
      if constexpr (std::is_same_v<decltype(f(static_cast<const SentPacket&>(p))), bool>) {
        if (!f(static_cast<const SentPacket&>(p))) return;
      } else {
        f(static_cast<const SentPacket&>(p));
      }
    }
  }

 private:
  enum class State : std::uint8_t { kOutstanding, kAcked, kLost };
  // A SentPacket without its frames (those are in Space::frames from
  // first_frame on) and without its space (the ring's). Trivial, like
  // FrameRing::Slot, so that growing a ring does not write it twice:
  // on_packet_sent sets every field.
  struct Record {
    std::uint64_t packet_number;
    Time time_sent;
    std::uint32_t sent_bytes;
    std::uint32_t first_frame;  // FrameRing position, wraps
    std::uint8_t frame_count;
    bool ack_eliciting;
    bool in_flight;
    bool is_pmtu_probe;
    bool app_limited;
    State state;
    Ecn ecn;
  };
  static_assert(sizeof(Record) == 32);

  // Ring of records, capacity a power of two (0 once released).
  class Ring {
   public:
    void reset(std::size_t capacity);
    // Frees the storage: capacity() is 0 and the next push needs grow().
    void release();
    std::size_t size() const { return size_; }
    std::size_t capacity() const { return buf_ ? mask_ + 1 : 0; }
    Record& operator[](std::size_t i) { return buf_[(head_ + i) & mask_]; }
    const Record& operator[](std::size_t i) const { return buf_[(head_ + i) & mask_]; }
    Record& push_back() {
      Record& e = buf_[(head_ + size_) & mask_];
      ++size_;
      return e;
    }
    void pop_front() {
      head_ = (head_ + 1) & mask_;
      --size_;
    }
    void clear() { head_ = size_ = 0; }
    // Doubles the capacity, keeping order (allocates: amortized).
    void grow();
    // Index of the first record whose packet number is >= pn. O(1) while
    // packet numbers have no gaps, else a binary search.
    std::size_t lower_bound(std::uint64_t pn) const;
    // Starts loading the first few records into the cache.
    void prefetch_front() const;
    // Starts loading, for writing, the slot a few push_back() calls ahead:
    // the ring wrapped around since it was last used, so it is out of cache.
    void prefetch_ahead() const { __builtin_prefetch(&buf_[(head_ + size_ + 4) & mask_], 1); }

   private:
    std::unique_ptr<Record[]> buf_;  // written only by push_back and grow
    std::size_t head_ = 0;
    std::size_t size_ = 0;
    std::size_t mask_ = 0;
  };

  // The frames of a space's records, oldest first, addressed by a wrapping
  // 32-bit position (capacity a power of two, at most kMaxFrameCapacity).
  class FrameRing {
   public:
    static constexpr std::size_t kMaxFrameCapacity = std::size_t{1} << 31;
    // SentFrame without default member initializers.
    struct Slot {
      SentFrame::Kind kind;
      bool fin;
      std::uint64_t stream_id;
      std::uint64_t offset;
      std::uint64_t length;
    };
    void reset(std::size_t capacity);
    // Frees the storage (positions carry on): capacity() is 0 until reserve().
    void release();
    std::size_t size() const { return static_cast<std::uint32_t>(tail_ - head_); }
    std::size_t capacity() const { return buf_ ? std::size_t{mask_} + 1 : 0; }
    std::uint32_t tail() const { return tail_; }
    const Slot& at(std::uint32_t pos) const { return buf_[pos & mask_]; }
    // Needs size() + n <= capacity().
    void push(const SentFrame* f, std::size_t n) {
      for (std::size_t i = 0; i < n; ++i)
        buf_[(tail_ + i) & mask_] =
            Slot{f[i].kind, f[i].fin, f[i].stream_id, f[i].offset, f[i].length};
      tail_ += static_cast<std::uint32_t>(n);
    }
    // Starts loading the oldest few frames into the cache.
    void prefetch_front() const;
    // As Ring::prefetch_ahead.
    void prefetch_ahead() const { __builtin_prefetch(&buf_[(tail_ + 8) & mask_], 1); }
    // Drops every frame before `pos`.
    void pop_to(std::uint32_t pos) { head_ = pos; }
    void clear() { head_ = tail_; }
    // Grows by doubling to hold `n` more frames, keeping positions
    // (allocates: amortized). False at kMaxFrameCapacity.
    bool reserve(std::size_t n);

   private:
    std::unique_ptr<Slot[]> buf_;  // written only by push and reserve
    std::uint32_t head_ = 0;
    std::uint32_t tail_ = 0;
    std::uint32_t mask_ = 0;
  };

  struct Space {
    PacketSpace id = PacketSpace::kInitial;
    Ring sent;
    FrameRing frames;
    bool has_sent = false;
    std::uint64_t largest_sent = 0;
    std::optional<std::uint64_t> largest_acked;
    Time loss_time = kNever;
    Time last_ack_eliciting = kNever;
    std::size_t outstanding = 0;
    std::size_t ack_eliciting_in_flight = 0;
    std::uint64_t ack_eliciting_bytes = 0;
    std::uint64_t in_flight_bytes = 0;
    // RFC 9000 §13.4.2.1: counts of the last validated ACK, packets sent marked.
    EcnCounts ecn_acked;
    std::uint64_t ect0_sent = 0;
    std::uint64_t ect1_sent = 0;
  };

  Space& space(PacketSpace s) { return spaces_[index(s)]; }
  // Rebuilds the SentPacket that was recorded as `r` into `out`. `filled` is
  // how many of out.frames hold data: slots past r.frame_count are reset to
  // SentFrame{}, so `out` matches the SentPacket the connection built.
  void fill(const Space& s, const Record& r, SentPacket& out, std::uint8_t& filled) const;
  // fill() into view_, for listener callbacks (which must not call back in).
  const SentPacket& view(const Space& s, const Record& r) {
    fill(s, r, view_, view_filled_);
    return view_;
  }
  bool ack_is_valid(const Space& s, const AckFrame& ack) const;
  void forget(Space& s, const Record& e);
  void pop_front(Space& s);
  void trim(Space& s);
  std::size_t detect_lost(Space& s, Time now);
  void process_ecn(Space& s, const AckFrame& ack, std::uint64_t newly_ect0,
                   std::uint64_t newly_ect1, std::uint64_t newly_marked_path,
                   Time largest_sent_time, Time now);
  void abandon(Space& s);
  void evict_oldest(Space& s);
  void reserve_scratch(std::size_t n);
  bool any_ack_eliciting_in_flight() const;
  bool pto_armable_in_flight() const;
  std::pair<Time, PacketSpace> loss_time_and_space() const;
  std::pair<Time, PacketSpace> pto_time_and_space() const;

  // Records of the application space below cc_first_pn_ were sent before
  // the last path change (on_path_change).
  bool counts_for_cc(const Space& s, const Record& e) const {
    return s.id != PacketSpace::kApplication || e.packet_number >= cc_first_pn_;
  }
  // Marked records that count for the ECN validation in progress.
  bool counts_for_ecn(const Space& s, const Record& e) const {
    return e.ecn != Ecn::kNotEct &&
           (s.id != PacketSpace::kApplication || e.packet_number >= ecn_first_pn_);
  }
  // The in-flight bytes of such records, for discard/abandon; zeroes them.
  std::uint64_t drop_old_path_bytes(const Space& s);

  LossDetectorConfig config_;
  RttEstimator& rtt_;
  CongestionController* cc_;
  std::uint64_t cc_first_pn_ = 0;
  std::uint64_t old_path_bytes_ = 0;
  LossListener& listener_;
  std::array<Space, kPacketSpaceCount> spaces_;
  RecoveryState state_;
  bool handshake_ack_received_ = false;
  EcnFeedback ecn_feedback_;
  std::uint64_t ecn_first_pn_ = 0;  // see counts_for_ecn
  std::uint64_t ecn_ce_reported_ = 0;
  int pto_count_ = 0;
  // When SetLossDetectionTimer last ran: the anti-deadlock PTO counts from
  // it (RFC 9002 §A.8 "now() + duration"). kNever: never armed.
  Time armed_at_ = kNever;
  // When the estimator took its first sample (RFC 9002 §A.3 first_rtt_sample).
  Time first_rtt_sample_ = kNever;
  // Batches for the congestion controller, sized with the rings so filling
  // them never allocates.
  std::vector<CcPacket> acked_scratch_;
  std::vector<CcPacket> lost_scratch_;
  // The packet handed to listener callbacks.
  SentPacket view_;
  std::uint8_t view_filled_ = 0;
};

}  // namespace dquic
