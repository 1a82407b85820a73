// ECN codepoints as carried in the IP header (RFC 3168 §5) and the counts an
// ACK frame reports (RFC 9000 §13.4).
#pragma once

#include <cstdint>

namespace dquic {

enum class Ecn : std::uint8_t { kNotEct = 0, kEct1 = 1, kEct0 = 2, kCe = 3 };

}  // namespace dquic
