// Hex helpers for the h3 tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dquic::test {

// "510b 2f69" -> bytes; spaces ignored.
inline std::vector<std::uint8_t> hex(std::string_view s) {
  std::vector<std::uint8_t> out;
  int hi = -1;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else
      continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

// Concatenation by append: g++ 12 -O3 warns (-Wrestrict) about
// operator+ chains on std::string.
template <typename... Parts>
std::string cat(const Parts&... parts) {
  std::string s;
  (s.append(std::string_view(parts)), ...);
  return s;
}

inline std::vector<std::uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

inline std::string to_hex(const std::uint8_t* p, std::size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

}  // namespace dquic::test
