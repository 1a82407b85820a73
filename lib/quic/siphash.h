// SipHash-c-d (Aumasson & Bernstein, "SipHash: a fast short-input PRF"):
// keyed hashes of attacker-chosen bytes, such as client-chosen connection
// IDs in a route table or in steering, where an unkeyed hash would let a
// client aim at one bucket or worker.
#pragma once

#include <cstddef>
#include <cstdint>

#include "quic/buffer.h"

namespace dquic {

namespace siphash_detail {

inline std::uint64_t rotl(std::uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

struct State {
  std::uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = rotl(v1, 13) ^ v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16) ^ v2;
    v0 += v3;
    v3 = rotl(v3, 21) ^ v0;
    v2 += v1;
    v1 = rotl(v1, 17) ^ v2;
    v2 = rotl(v2, 32);
  }
};

}  // namespace siphash_detail

// SipHash with C compression and D finalization rounds of `in` under the
// 128-bit key (k0, k1), both little-endian words as in the paper.
template <int C, int D>
std::uint64_t siphash(std::uint64_t k0, std::uint64_t k1, ByteSpan in) {
  siphash_detail::State s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                          k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
  auto absorb = [&s](std::uint64_t m) {
    s.v3 ^= m;
    for (int r = 0; r < C; ++r)
      s.round();
    s.v0 ^= m;
  };
  std::size_t i = 0;
  for (; i + 8 <= in.size(); i += 8) {
    std::uint64_t m = 0;
    for (std::size_t b = 0; b < 8; ++b)
      m |= std::uint64_t{in[i + b]} << (8 * b);
    absorb(m);
  }
  std::uint64_t last = std::uint64_t{in.size() & 0xff} << 56;
  for (std::size_t b = 0; i + b < in.size(); ++b)
    last |= std::uint64_t{in[i + b]} << (8 * b);
  absorb(last);
  s.v2 ^= 0xff;
  for (int r = 0; r < D; ++r)
    s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

// SipHash-1-3 (as Rust's HashMap uses): fast, for hash tables.
inline std::uint64_t siphash13(std::uint64_t k0, std::uint64_t k1, ByteSpan in) {
  return siphash<1, 3>(k0, k1, in);
}
// SipHash-2-4: the paper's recommended variant.
inline std::uint64_t siphash24(std::uint64_t k0, std::uint64_t k1, ByteSpan in) {
  return siphash<2, 4>(k0, k1, in);
}

}  // namespace dquic
