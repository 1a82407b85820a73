// Seeded PRNG for simulations and the test-only impairment stage:
// xoshiro256** seeded through splitmix64 (Blackman & Vigna). Fast, small,
// and the same on every platform, so a seed reproduces a run exactly. Not
// for cryptography.
#pragma once

#include <cstdint>

namespace dquic {

class SeededRng {
 public:
  // One independent stream per (seed, stream): the simulator and the
  // impairment stage give each direction and each impairment its own
  // stream, so that enabling one impairment does not shift the random
  // choices of another.
  explicit SeededRng(std::uint64_t seed, std::uint64_t stream = 0) {
    std::uint64_t x = derive(seed, stream);
    for (auto& word : s_)
      word = splitmix64(&x);
  }

  // A seed for a sub-stream, mixed so that nearby seeds and streams are unrelated.
  static std::uint64_t derive(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t x = seed ^ 0x6a09e667f3bcc909ull;
    std::uint64_t y = stream + 0x3c6ef372fe94f82bull;
    return splitmix64(&x) ^ rotl(splitmix64(&y), 29);
  }

  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  // Uniform in [0, bound); 0 when bound is 0. Lemire's multiply-and-reject,
  // unbiased.
  std::uint64_t below(std::uint64_t bound) {
    if (bound == 0) return 0;
    unsigned __int128 m = static_cast<unsigned __int128>(next_u64()) * bound;
    auto low = static_cast<std::uint64_t>(m);
    if (low < bound) {
      const std::uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next_u64()) * bound;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  // Uniform in [lo, hi], inclusive; lo when hi < lo.
  std::int64_t uniform_int(std::int64_t lo, std::int64_t hi) {
    if (hi <= lo) return lo;
    const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
    const std::uint64_t r = span == UINT64_MAX ? next_u64() : below(span + 1);
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + r);
  }

  // True with probability p. p <= 0 and p >= 1 draw nothing, so a disabled
  // impairment costs no random numbers.
  bool bernoulli(double p) {
    if (p <= 0.0) return false;
    if (p >= 1.0) return true;
    return uniform() < p;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t* x) {
    std::uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  std::uint64_t s_[4];
};

}  // namespace dquic
