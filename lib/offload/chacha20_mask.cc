#include "offload/chacha20_mask.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#define DQUIC_CHACHA_AVX2 1
#else
#define DQUIC_CHACHA_AVX2 0
#endif

namespace dquic::offload {
namespace {

// RFC 8439 §2.3: "expand 32-byte k".
constexpr std::uint32_t kSigma[4] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
constexpr int kDoubleRounds = 10;

std::uint32_t load_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
         std::uint32_t{p[3]} << 24;
}

void store_mask(std::uint32_t w0, std::uint32_t w1, HpMask* m) {
  (*m)[0] = static_cast<std::uint8_t>(w0);
  (*m)[1] = static_cast<std::uint8_t>(w0 >> 8);
  (*m)[2] = static_cast<std::uint8_t>(w0 >> 16);
  (*m)[3] = static_cast<std::uint8_t>(w0 >> 24);
  (*m)[4] = static_cast<std::uint8_t>(w1);
}

constexpr std::uint32_t rotl(std::uint32_t v, int n) {
  return (v << n) | (v >> (32 - n));
}

// RFC 8439 §2.1.
inline void quarter_round(std::uint32_t* x, int a, int b, int c, int d) {
  x[a] += x[b];
  x[d] = rotl(x[d] ^ x[a], 16);
  x[c] += x[d];
  x[b] = rotl(x[b] ^ x[c], 12);
  x[a] += x[b];
  x[d] = rotl(x[d] ^ x[a], 8);
  x[c] += x[d];
  x[b] = rotl(x[b] ^ x[c], 7);
}

#if DQUIC_CHACHA_AVX2
#define DQUIC_AVX2 __attribute__((target("avx2")))

DQUIC_AVX2 inline __m256i rotl16(__m256i v) {
  const __m256i k = _mm256_setr_epi8(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0,
                                     1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
  return _mm256_shuffle_epi8(v, k);
}
DQUIC_AVX2 inline __m256i rotl8(__m256i v) {
  const __m256i k = _mm256_setr_epi8(3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14, 3, 0, 1,
                                     2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
  return _mm256_shuffle_epi8(v, k);
}
template <int N>
DQUIC_AVX2 inline __m256i rotl_shift(__m256i v) {
  return _mm256_or_si256(_mm256_slli_epi32(v, N), _mm256_srli_epi32(v, 32 - N));
}

DQUIC_AVX2 inline void quarter_round8(__m256i* x, int a, int b, int c, int d) {
  x[a] = _mm256_add_epi32(x[a], x[b]);
  x[d] = rotl16(_mm256_xor_si256(x[d], x[a]));
  x[c] = _mm256_add_epi32(x[c], x[d]);
  x[b] = rotl_shift<12>(_mm256_xor_si256(x[b], x[c]));
  x[a] = _mm256_add_epi32(x[a], x[b]);
  x[d] = rotl8(_mm256_xor_si256(x[d], x[a]));
  x[c] = _mm256_add_epi32(x[c], x[d]);
  x[b] = rotl_shift<7>(_mm256_xor_si256(x[b], x[c]));
}

// Eight samples per pass, one per 32-bit lane; only output words 0 and 1
// are needed for a 5-byte mask.
DQUIC_AVX2 void masks_avx2(const ChachaKey& key, const HpSample* samples, HpMask* masks,
                           std::size_t n) {
  for (std::size_t base = 0; base < n; base += 8) {
    const std::size_t lanes = n - base < 8 ? n - base : 8;
    alignas(32) std::uint32_t in[4][8] = {};
    for (std::size_t l = 0; l < lanes; ++l) {
      for (int w = 0; w < 4; ++w)
        in[w][l] = load_le32(samples[base + l].data() + 4 * w);
    }
    __m256i x[16];
    for (int i = 0; i < 4; ++i)
      x[i] = _mm256_set1_epi32(static_cast<int>(kSigma[i]));
    for (int i = 0; i < 8; ++i)
      x[4 + i] = _mm256_set1_epi32(static_cast<int>(key[i]));
    for (int i = 0; i < 4; ++i)
      x[12 + i] = _mm256_load_si256(reinterpret_cast<const __m256i*>(in[i]));
    for (int r = 0; r < kDoubleRounds; ++r) {
      quarter_round8(x, 0, 4, 8, 12);
      quarter_round8(x, 1, 5, 9, 13);
      quarter_round8(x, 2, 6, 10, 14);
      quarter_round8(x, 3, 7, 11, 15);
      quarter_round8(x, 0, 5, 10, 15);
      quarter_round8(x, 1, 6, 11, 12);
      quarter_round8(x, 2, 7, 8, 13);
      quarter_round8(x, 3, 4, 9, 14);
    }
    alignas(32) std::uint32_t w0[8], w1[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(w0),
                       _mm256_add_epi32(x[0], _mm256_set1_epi32(static_cast<int>(kSigma[0]))));
    _mm256_store_si256(reinterpret_cast<__m256i*>(w1),
                       _mm256_add_epi32(x[1], _mm256_set1_epi32(static_cast<int>(kSigma[1]))));
    for (std::size_t l = 0; l < lanes; ++l)
      store_mask(w0[l], w1[l], &masks[base + l]);
  }
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2");
  return has;
}
#endif

}  // namespace

ChachaKey chacha20_key_words(const std::uint8_t* key) {
  ChachaKey k;
  for (int i = 0; i < 8; ++i)
    k[static_cast<std::size_t>(i)] = load_le32(key + 4 * i);
  return k;
}

void chacha20_masks_scalar(const ChachaKey& key, std::span<const HpSample> samples,
                           std::span<HpMask> masks) {
  for (std::size_t i = 0; i < samples.size(); ++i) {
    std::uint32_t x[16];
    std::memcpy(x, kSigma, sizeof(kSigma));
    std::memcpy(x + 4, key.data(), 32);
    for (int w = 0; w < 4; ++w)
      x[12 + w] = load_le32(samples[i].data() + 4 * w);
    for (int r = 0; r < kDoubleRounds; ++r) {
      quarter_round(x, 0, 4, 8, 12);
      quarter_round(x, 1, 5, 9, 13);
      quarter_round(x, 2, 6, 10, 14);
      quarter_round(x, 3, 7, 11, 15);
      quarter_round(x, 0, 5, 10, 15);
      quarter_round(x, 1, 6, 11, 12);
      quarter_round(x, 2, 7, 8, 13);
      quarter_round(x, 3, 4, 9, 14);
    }
    store_mask(x[0] + kSigma[0], x[1] + kSigma[1], &masks[i]);
  }
}

void chacha20_masks(const ChachaKey& key, std::span<const HpSample> samples,
                    std::span<HpMask> masks) {
#if DQUIC_CHACHA_AVX2
  if (cpu_has_avx2()) {
    masks_avx2(key, samples.data(), masks.data(), samples.size());
    return;
  }
#endif
  chacha20_masks_scalar(key, samples, masks);
}

}  // namespace dquic::offload
