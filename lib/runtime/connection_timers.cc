#include "runtime/connection_timers.h"

#include <algorithm>

namespace dquic {

namespace {

TimerWheelConfig wheel_config(Duration tick) {
  TimerWheelConfig c;
  c.tick = tick;
  // 256^3 ticks of 1 us cover ~16.8 s at full resolution; later deadlines
  // (idle timeouts of minutes) wait in the overflow list until then.
  c.levels = 3;
  return c;
}

}  // namespace

ConnectionTimers::ConnectionTimers(std::size_t slots, Time start, Duration tick)
    : wheel_(wheel_config(tick), start), handles_(new TimerHandle[slots]), slots_(slots) {}

void ConnectionTimers::schedule(std::uint32_t slot, Time deadline) {
  TimerHandle& h = handles_[slot];
  if (h.deadline() == deadline) return;
  wheel_.schedule(h, deadline);
}

std::size_t ConnectionTimers::pop_due(Time now, std::span<std::uint32_t> out) {
  std::size_t total = 0;
  while (total < out.size()) {
    const std::size_t want = std::min(scratch_.size(), out.size() - total);
    const std::size_t n = wheel_.poll(now, {scratch_.data(), want});
    for (std::size_t i = 0; i < n; ++i)
      out[total + i] = static_cast<std::uint32_t>(scratch_[i] - handles_.get());
    total += n;
    if (n < want) break;
  }
  return total;
}

}  // namespace dquic
