// The simulator's virtual clock: time moves only when the event loop moves it,
// never backwards, and nothing reads a real clock.
#pragma once

#include "quic/timestamp.h"

namespace dquic {

class SimClock {
 public:
  explicit SimClock(Time start = 0) : now_(start) {}

  Time now() const { return now_; }

  // Moves to `t`; an earlier `t` is refused (returns false, time unchanged),
  // so an event loop bug cannot make time run backwards.
  bool advance_to(Time t) {
    if (t < now_) return false;
    now_ = t;
    return true;
  }
  // Refuses a negative step, and a step past kNever (saturates there).
  bool advance_by(Duration d) {
    if (d < 0) return false;
    now_ = (now_ > 0 && d > kNever - now_) ? kNever : now_ + d;
    return true;
  }

 private:
  Time now_;
};

}  // namespace dquic
