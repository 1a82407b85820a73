// ECN validation of one network path (RFC 9000 §13.4.2, Appendix A.4): which
// codepoint our datagrams carry, from what the peer's ACK frames report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "quic/ecn.h"
#include "quic/timestamp.h"

namespace dquic {

// RFC 9000 §13.4.2: "the first ten outgoing packets on a path, or for a
// period of three PTOs" (whichever ends first here).
inline constexpr std::uint64_t kEcnTestingPackets = 10;
inline constexpr int kEcnTestingPtos = 3;

// RFC 9000 §A.4, plus kDisabled: marking turned off by configuration.
enum class EcnState : std::uint8_t { kTesting, kUnknown, kCapable, kFailed, kDisabled };

std::string_view ecn_state_name(EcnState s);

// What loss detection learnt about the packets we marked since ECN validation
// last restarted (LossDetector::restart_ecn_validation).
struct EcnFeedback {
  // Marked packets newly acknowledged by ACK frames whose counts validated
  // (RFC 9000 §13.4.2.1).
  std::uint64_t acked = 0;
  // Marked packets declared lost (RFC 9002 §6).
  std::uint64_t lost = 0;
  // Some ACK frame's counts failed validation (RFC 9000 §13.4.2.1).
  bool failed = false;
};

// The A.4 state machine for the path we send on. Trivial to run per datagram:
// no allocation, a few compares.
class EcnValidator {
 public:
  explicit EcnValidator(bool enabled = true) : enabled_(enabled) { restart(); }

  // A new path (RFC 9000 §13.4.2: validation is per path): testing again.
  // Feedback must restart with it.
  void restart() {
    state_ = enabled_ ? EcnState::kTesting : EcnState::kDisabled;
    marked_ = 0;
  }

  // The codepoint of a datagram sent at `now`: ECT(0) while testing or
  // capable (A.4: "ECT(0) by default").
  Ecn codepoint(Time now) {
    // A.4: the testing period also ends with time, so that a path that
    // drops marked packets is not tested at the PTO's ever slower pace.
    if (state_ == EcnState::kTesting && marked_ != 0 && now >= testing_end_)
      state_ = EcnState::kUnknown;
    return state_ == EcnState::kTesting || state_ == EcnState::kCapable ? Ecn::kEct0 : Ecn::kNotEct;
  }

  // `packets` packets that loss detection records went out at `now` with
  // `ecn`. The first marked ones start a testing period of `period`
  // (kEcnTestingPtos PTOs).
  void on_sent(Ecn ecn, std::size_t packets, Time now, Duration period) {
    if (ecn == Ecn::kNotEct || packets == 0) return;
    if (marked_ == 0) testing_end_ = now + period;
    marked_ += packets;
    // A.4: the testing period ends after kEcnTestingPackets.
    if (state_ == EcnState::kTesting && marked_ >= kEcnTestingPackets) state_ = EcnState::kUnknown;
  }

  // Applies loss detection's feedback since restart(). Returns true when the
  // state changed.
  bool on_feedback(const EcnFeedback& f);

  EcnState state() const { return state_; }
  // Packets marked since restart().
  std::uint64_t marked() const { return marked_; }

 private:
  bool enabled_;
  EcnState state_ = EcnState::kTesting;
  std::uint64_t marked_ = 0;
  Time testing_end_ = kNever;
};

}  // namespace dquic
