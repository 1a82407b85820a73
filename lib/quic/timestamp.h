// Time in the protocol core: the caller passes `now` in; nothing here reads
// a clock. Nanoseconds since an arbitrary epoch (the runtime's TSC converted,
// the simulator's virtual clock).
#pragma once

#include <cstdint>
#include <limits>

namespace dquic {

using Time = std::int64_t;      // ns
using Duration = std::int64_t;  // ns

inline constexpr Time kNever = std::numeric_limits<Time>::max();
inline constexpr Duration kMicrosecond = 1000;
inline constexpr Duration kMillisecond = 1000 * kMicrosecond;
inline constexpr Duration kSecond = 1000 * kMillisecond;

}  // namespace dquic
