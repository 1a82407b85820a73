// ECN validation state machine (RFC 9000 §13.4.2, Appendix A.4).
#include "quic/ecn_validation.h"

namespace dquic {

std::string_view ecn_state_name(EcnState s) {
  switch (s) {
    case EcnState::kTesting:
      return "testing";
    case EcnState::kUnknown:
      return "unknown";
    case EcnState::kCapable:
      return "capable";
    case EcnState::kFailed:
      return "failed";
    case EcnState::kDisabled:
      return "disabled";
  }
  return "?";
}

bool EcnValidator::on_feedback(const EcnFeedback& f) {
  const EcnState before = state_;
  switch (state_) {
    case EcnState::kFailed:
    case EcnState::kDisabled:
      return false;
    case EcnState::kCapable:
      // RFC 9000 §13.4.2.2: "MUST disable ECN if validation later fails".
      if (f.failed) state_ = EcnState::kFailed;
      break;
    case EcnState::kTesting:
    case EcnState::kUnknown:
      if (f.failed) {
        state_ = EcnState::kFailed;  // A.4: "fails at any time"
      } else if (f.acked != 0) {
        // A.4: successful validation, with a marked packet acknowledged.
        state_ = EcnState::kCapable;
      } else if (state_ == EcnState::kUnknown && f.lost >= marked_) {
        // RFC 9000 §13.4.2, A.4: every marked packet was declared lost; the
        // marking may have caused it. (While testing, more marked packets
        // are still to go.)
        state_ = EcnState::kFailed;
      }
      break;
  }
  return state_ != before;
}

}  // namespace dquic
