// Receive-side acknowledgement state of one packet number space: which packet
// numbers to acknowledge (RFC 9000 §13.2.3), when an ACK is owed (§13.2.1,
// §13.2.2), the ECN counts to report (§13.4.1), and writing the ACK frame
// (§19.3). Sans-IO: the caller passes the time in.
//
// Memory: the ranges (RangeSet) and the scratch array used to write a frame are
// allocated once at construction with capacity Config::max_ranges; nothing on
// the per-packet path allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "quic/buffer.h"
#include "quic/ecn.h"
#include "quic/frame.h"
#include "quic/range_set.h"
#include "quic/timestamp.h"

namespace dquic {

// RFC 9000 §18.2: max_ack_delay when the transport parameter is absent.
inline constexpr Duration kDefaultMaxAckDelay = 25 * kMillisecond;
// RFC 9000 §18.2: ack_delay_exponent values above 20 are invalid.
inline constexpr std::uint8_t kMaxAckDelayExponentValue = 20;  // RFC 9000 §18.2

class AckTracker {
 public:
  struct Config {
    // Bound on remembered ACK ranges (RFC 9000 §13.2.3); the oldest are
    // dropped beyond it. 0 is treated as 1.
    std::size_t max_ranges = 64;
    // Initial and Handshake spaces: acknowledge every ack-eliciting packet
    // immediately (RFC 9000 §13.2.1).
    bool immediate = false;
    // Our advertised max_ack_delay (RFC 9000 §18.2); see set_max_ack_delay().
    Duration max_ack_delay = kDefaultMaxAckDelay;
  };

  explicit AckTracker(const Config& c);

  // Call before processing a decrypted packet. True if `pn` was already
  // received (RFC 9000 §12.3: drop it), or lies where we no longer keep
  // state: at or below a pruned floor, or below every tracked range while the
  // range set is full (so it could not be recorded). Such packets are treated
  // as duplicates, which RFC 9000 §13.2.3 requires once a range is discarded.
  bool is_duplicate(std::uint64_t pn) const;

  // Call after `pn` was processed successfully; `ecn` is the IP ECN codepoint
  // it arrived with. A packet is_duplicate() rejects is ignored entirely.
  void on_packet_received(std::uint64_t pn, bool ack_eliciting, Ecn ecn, Time now);

  // Some packet (ack-eliciting or not) arrived since the last ACK was sent.
  bool ack_pending() const { return ack_pending_; }
  // Some ack-eliciting packet arrived since the last ACK was sent.
  bool ack_eliciting_pending() const { return ack_eliciting_count_ > 0; }
  // When the owed ACK must be sent; a value at or before `now` means now.
  // kNever while no ack-eliciting packet awaits acknowledgement:
  // non-ack-eliciting packets alone never owe one (RFC 9000 §13.2.1).
  Time ack_deadline() const;

  // Our advertised max_ack_delay; also moves a pending delayed deadline.
  void set_max_ack_delay(Duration d) { max_ack_delay_ = d > 0 ? d : 0; }
  Duration max_ack_delay() const { return max_ack_delay_; }

  // Writes an ACK frame (0x02, or 0x03 once any ECN count is nonzero) into
  // `w`, using at most `budget` bytes: the largest ranges first, as many as
  // fit (RFC 9000 §13.2.3). ACK Delay is the time since the largest packet was
  // received, in microseconds >> ack_delay_exponent (§19.3, §13.2.5).
  // Returns the Largest Acknowledged written, or nullopt (w untouched) when
  // there is nothing to acknowledge or not even one range fits.
  std::optional<std::uint64_t> write_ack(Writer& w, Time now, std::uint8_t ack_delay_exponent,
                                         std::size_t budget);

  // A packet carrying an ACK frame was built: nothing is owed any more.
  void on_ack_sent();

  // RFC 9000 §13.2.4: the peer acknowledged a packet of ours carrying an ACK
  // frame whose Largest Acknowledged was `largest`; stop reporting packet
  // numbers <= largest. Conservatively, every packet number <= largest is
  // treated as a duplicate afterwards, including ones never received: we no
  // longer know which those were (§13.2.3 minimum packet number).
  void on_ack_acked(std::uint64_t largest);

  // Largest packet number processed, kept across pruning for packet number
  // decoding (RFC 9000 §13.2.3, §17.1); nullopt before the first packet.
  std::optional<std::uint64_t> largest_received() const;
  // When largest_received() arrived; kNever before the first packet.
  Time largest_received_time() const { return largest_time_; }
  const EcnCounts& ecn_counts() const { return ecn_; }

  // Introspection for the connection and tests.
  const RangeSet& ranges() const { return ranges_; }
  // Packet numbers below this are treated as duplicates.
  std::uint64_t floor() const { return floor_; }

 private:
  void raise_floor(std::uint64_t v) {
    if (v > floor_) floor_ = v;
  }
  bool has_gap_below(std::uint64_t pn) const;

  RangeSet ranges_;
  std::vector<AckRange> scratch_;  // max_ranges entries, for write_ack
  bool immediate_config_;
  Duration max_ack_delay_;

  bool has_largest_ = false;
  std::uint64_t largest_ = 0;
  Time largest_time_ = kNever;
  bool has_largest_ack_eliciting_ = false;
  std::uint64_t largest_ack_eliciting_ = 0;
  std::uint64_t floor_ = 0;
  EcnCounts ecn_;

  // Since the last ACK sent.
  bool ack_pending_ = false;
  std::uint64_t ack_eliciting_count_ = 0;
  Time first_ack_eliciting_time_ = kNever;
  Time immediate_time_ = kNever;  // set when an ACK must go without delay
};

}  // namespace dquic
