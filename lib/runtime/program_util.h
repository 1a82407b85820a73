// Small things every program on the runtime needs at start-up (not on the
// packet path): OS randomness for keys and connection IDs, the wall clock for
// certificates and tickets, and addresses as text for messages.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "runtime/udp_frame.h"

namespace dquic {

// Fills `out` from OpenSSL's CSPRNG; aborts if it fails (no keys without it).
void fill_random(std::span<std::uint8_t> out);
// Milliseconds since the Unix epoch.
std::int64_t unix_ms_now();
// "198.18.0.2", or IPv6 as eight hex groups (not compressed).
std::string ip_text(const IpAddress& ip);

}  // namespace dquic
