// Byte strings for tests: RFC vectors are written as hex.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace dquic::test {

using Bytes = std::vector<std::uint8_t>;

// Hex digits to bytes; anything else (spaces between groups) is skipped.
inline Bytes hex(std::string_view s) {
  Bytes out;
  int hi = -1;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  return out;
}

inline Bytes bytes(std::span<const std::uint8_t> s) {
  return Bytes(s.begin(), s.end());
}

}  // namespace dquic::test
