// The worker's clock: the TSC, read once per loop iteration and converted to
// the protocol core's nanoseconds (quic/timestamp.h). The conversion is a
// multiply and a shift by a factor fixed at construction: no division, no
// syscall. Relies on an invariant TSC (constant rate across P-states), as
// DPDK's own timers do.
#pragma once

#include <rte_cycles.h>

#include <cstdint>

#include "quic/timestamp.h"

namespace dquic {

class TscClock {
 public:
  // Time 0 is `epoch_tsc` (0: the TSC now). Workers that must agree on time
  // share one epoch; each connection only ever sees its own worker's clock.
  explicit TscClock(std::uint64_t epoch_tsc = 0)
      : epoch_(epoch_tsc != 0 ? epoch_tsc : rte_get_tsc_cycles()), hz_(rte_get_tsc_hz()) {
    // ns = ticks * 1e9 / hz, as ticks * mult >> 32.
    mult_ = hz_ == 0 ? 0 : static_cast<std::uint64_t>((kNsPerSecond << 32) / hz_);
  }

  Time now() const { return to_ns(rte_get_tsc_cycles()); }
  Time to_ns(std::uint64_t tsc) const {
    const std::uint64_t ticks = tsc - epoch_;
    return static_cast<Time>((static_cast<unsigned __int128>(ticks) * mult_) >> 32);
  }
  // TSC ticks in `d` (rounded down); for deadlines kept in ticks.
  std::uint64_t to_ticks(Duration d) const {
    return static_cast<std::uint64_t>(static_cast<unsigned __int128>(d) * hz_ / kNsPerSecond);
  }
  std::uint64_t epoch() const { return epoch_; }
  std::uint64_t hz() const { return hz_; }
  bool ok() const { return hz_ != 0; }

 private:
  static constexpr unsigned __int128 kNsPerSecond = 1'000'000'000;
  std::uint64_t epoch_;
  std::uint64_t hz_;
  std::uint64_t mult_ = 0;
};

}  // namespace dquic
