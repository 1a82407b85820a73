#include "runtime/program_util.h"

#include <openssl/rand.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace dquic {

void fill_random(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) std::abort();
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ip_text(const IpAddress& ip) {
  char buf[64] = {};
  if (ip.family == IpFamily::kIpv4) {
    std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", ip.bytes[0], ip.bytes[1], ip.bytes[2],
                  ip.bytes[3]);
    return buf;
  }
  std::string s;
  for (int i = 0; i < 16; i += 2) {
    std::snprintf(buf, sizeof(buf), "%s%x", i ? ":" : "", (ip.bytes[i] << 8) | ip.bytes[i + 1]);
    s += buf;
  }
  return s;
}

}  // namespace dquic
