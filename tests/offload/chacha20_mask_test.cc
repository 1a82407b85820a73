#include "offload/chacha20_mask.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <vector>

#include "support/hex.h"

namespace dquic::offload {
namespace {

using test::hex;

// The reference: OpenSSL's ChaCha20, whose 16-byte IV is counter || nonce,
// i.e. the sample as it stands (RFC 9001 §5.4.4).
HpMask evp_mask(const std::uint8_t* key, const HpSample& sample) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "ChaCha20", nullptr);
  HpMask m{};
  int outl = 0;
  const std::uint8_t zeros[kHpMaskLength] = {};
  EXPECT_EQ(EVP_EncryptInit_ex2(ctx, c, key, sample.data(), nullptr), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, m.data(), &outl, zeros, kHpMaskLength), 1);
  EVP_CIPHER_free(c);
  EVP_CIPHER_CTX_free(ctx);
  return m;
}

TEST(Chacha20Mask, Rfc9001AppendixA5) {
  const auto key = hex("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4");
  const auto sample = hex("5e5cd55c41f69080575d7999c25a5bfb");
  HpSample s;
  std::copy(sample.begin(), sample.end(), s.begin());
  HpMask vec{}, scalar{};
  chacha20_masks(chacha20_key_words(key.data()), {&s, 1}, {&vec, 1});
  chacha20_masks_scalar(chacha20_key_words(key.data()), {&s, 1}, {&scalar, 1});
  const auto want = hex("aefefe7d03");
  EXPECT_TRUE(std::equal(want.begin(), want.end(), vec.begin()));
  EXPECT_EQ(vec, scalar);
}

// Every batch size around the 8-lane width, random keys and samples
// (including counters near 2^32), against OpenSSL.
TEST(Chacha20Mask, MatchesOpenSslForEveryBatchSize) {
  std::mt19937_64 rng(5);
  for (std::size_t n = 0; n <= 41; ++n) {
    std::uint8_t key[32];
    for (auto& b : key)
      b = static_cast<std::uint8_t>(rng());
    std::vector<HpSample> samples(n);
    for (auto& s : samples) {
      for (auto& b : s)
        b = static_cast<std::uint8_t>(rng());
      if (rng() % 4 == 0) std::fill(s.begin(), s.begin() + 4, 0xff);
    }
    std::vector<HpMask> vec(n), scalar(n);
    const ChachaKey k = chacha20_key_words(key);
    chacha20_masks(k, samples, vec);
    chacha20_masks_scalar(k, samples, scalar);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(vec[i], evp_mask(key, samples[i])) << "n=" << n << " i=" << i;
      EXPECT_EQ(scalar[i], vec[i]);
    }
  }
}

}  // namespace
}  // namespace dquic::offload
