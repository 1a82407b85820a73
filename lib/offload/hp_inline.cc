#include "offload/hp_inline.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "offload/chacha20_mask.h"
#include "offload/evp_ptr.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <wmmintrin.h>
#define DQUIC_HP_AESNI 1
#else
#define DQUIC_HP_AESNI 0
#endif

namespace dquic::offload {
namespace {

constexpr std::size_t kAesBlock = 16;
constexpr int kAes128Rounds = 10;
constexpr int kAes256Rounds = 14;
constexpr std::size_t kMaxRoundKeys = kAes256Rounds + 1;
// Blocks in flight per AES-NI pass: aesenc has a latency of ~4 cycles and a
// throughput of 1-2 per cycle, so 8 independent blocks keep the unit busy.
constexpr std::size_t kLanes = 8;
// Blocks per EVP_EncryptUpdate in the fallback: a fixed stack buffer.
constexpr std::size_t kEvpBatch = 64;

class InlineHpKey final : public HpKey {
 public:
  ~InlineHpKey() override {
    OPENSSL_cleanse(round_keys.data(), sizeof(round_keys));
    OPENSSL_cleanse(chacha_key.data(), sizeof(chacha_key));
  }

  AeadAlgorithm aead = AeadAlgorithm::kAes128Gcm;
  bool aesni = false;  // round_keys in use, else ctx
  int rounds = 0;
  alignas(16) std::array<std::uint8_t, kMaxRoundKeys * kAesBlock> round_keys{};
  ChachaKey chacha_key{};  // ChaCha20 suites (RFC 9001 §5.4.4)
  // AES-ECB through EVP when AES-NI is not used, keyed once.
  CtxPtr ctx;
};

#if DQUIC_HP_AESNI

// FIPS 197 §5.2 key expansion, the AES-NI way: aeskeygenassist computes
// SubWord(RotWord(w)) ^ Rcon (or SubWord(w) for AES-256's odd steps) and the
// shifts fold in the running xor of the previous round key's words.
__attribute__((target("aes,sse4.1"))) inline __m128i expand_step(__m128i prev, __m128i assist) {
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
  return _mm_xor_si128(prev, assist);
}

// The round constant must be an immediate, hence a template parameter.
template <int Rcon>
__attribute__((target("aes,sse4.1"))) inline __m128i expand128(__m128i prev) {
  return expand_step(prev, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(prev, Rcon), 0xff));
}

__attribute__((target("aes,sse4.1"))) void expand_aes128(const std::uint8_t* key, __m128i* rk) {
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  rk[1] = expand128<0x01>(rk[0]);
  rk[2] = expand128<0x02>(rk[1]);
  rk[3] = expand128<0x04>(rk[2]);
  rk[4] = expand128<0x08>(rk[3]);
  rk[5] = expand128<0x10>(rk[4]);
  rk[6] = expand128<0x20>(rk[5]);
  rk[7] = expand128<0x40>(rk[6]);
  rk[8] = expand128<0x80>(rk[7]);
  rk[9] = expand128<0x1b>(rk[8]);
  rk[10] = expand128<0x36>(rk[9]);
}

// AES-256: even round keys use RotWord+SubWord+Rcon of the previous key's
// last word (assist word 3); odd ones SubWord only (assist word 2, Rcon 0).
template <int Rcon>
__attribute__((target("aes,sse4.1"))) inline void expand256_pair(__m128i* rk, int i) {
  rk[i] =
      expand_step(rk[i - 2], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[i - 1], Rcon), 0xff));
  if (i + 1 <= kAes256Rounds) {
    rk[i + 1] =
        expand_step(rk[i - 1], _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[i], 0x00), 0xaa));
  }
}

__attribute__((target("aes,sse4.1"))) void expand_aes256(const std::uint8_t* key, __m128i* rk) {
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  rk[1] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + kAesBlock));
  expand256_pair<0x01>(rk, 2);
  expand256_pair<0x02>(rk, 4);
  expand256_pair<0x04>(rk, 6);
  expand256_pair<0x08>(rk, 8);
  expand256_pair<0x10>(rk, 10);
  expand256_pair<0x20>(rk, 12);
  expand256_pair<0x40>(rk, 14);
}

// RFC 9001 §5.4.3: mask = AES-ECB(hp_key, sample)[0..4]. Eight samples go
// through each round together so the aesenc latency is hidden; a short tail
// runs as a padded full pass (cheaper than serial single blocks).
template <int Rounds>
__attribute__((target("aes,sse4.1"))) void aesni_masks(const __m128i* rk, const HpSample* samples,
                                                       HpMask* masks, std::size_t n) {
  for (std::size_t base = 0; base < n; base += kLanes) {
    const std::size_t lanes = std::min(kLanes, n - base);
    __m128i b[kLanes];
    if (lanes == kLanes) {
      for (std::size_t j = 0; j < kLanes; ++j) {
        b[j] = _mm_xor_si128(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(samples[base + j].data())), rk[0]);
      }
    } else {
      for (std::size_t j = 0; j < kLanes; ++j) {
        b[j] = j < lanes ? _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(
                                             samples[base + j].data())),
                                         rk[0])
                         : rk[0];
      }
    }
    for (int r = 1; r < Rounds; ++r) {
      const __m128i k = rk[r];
      for (std::size_t j = 0; j < kLanes; ++j)
        b[j] = _mm_aesenc_si128(b[j], k);
    }
    for (std::size_t j = 0; j < kLanes; ++j)
      b[j] = _mm_aesenclast_si128(b[j], rk[Rounds]);
    for (std::size_t j = 0; j < lanes; ++j) {
      const auto w = static_cast<std::uint32_t>(_mm_cvtsi128_si32(b[j]));
      std::memcpy(masks[base + j].data(), &w, 4);  // little-endian: bytes 0..3 in order
      masks[base + j][4] = static_cast<std::uint8_t>(_mm_extract_epi8(b[j], 4));
    }
  }
}

bool cpu_has_aesni() {
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
}

#else

bool cpu_has_aesni() {
  return false;
}

#endif  // DQUIC_HP_AESNI

// Fallback AES-ECB: ECB over concatenated samples is AES of each, so a whole
// batch is one EVP call (OpenSSL pipelines it internally with AES-NI/VAES
// when present).
bool evp_ecb_masks(EVP_CIPHER_CTX* ctx, std::span<const HpSample> samples,
                   std::span<HpMask> masks) {
  static_assert(sizeof(HpSample) == kAesBlock, "samples must be contiguous AES blocks");
  std::array<std::uint8_t, kEvpBatch * kAesBlock> out;
  for (std::size_t base = 0; base < samples.size(); base += kEvpBatch) {
    const std::size_t n = std::min(kEvpBatch, samples.size() - base);
    int outl = 0;
    if (EVP_EncryptUpdate(ctx, out.data(), &outl, samples[base].data(),
                          static_cast<int>(n * kAesBlock)) != 1 ||
        outl != static_cast<int>(n * kAesBlock)) {
      return false;
    }
    for (std::size_t j = 0; j < n; ++j)
      std::memcpy(masks[base + j].data(), out.data() + j * kAesBlock, kHpMaskLength);
  }
  return true;
}

class InlineHpEngine final : public HpEngine {
 public:
  explicit InlineHpEngine(bool use_aesni) : aesni_(use_aesni && cpu_has_aesni()) {
    // Fetched once, not per key or per mask.
    aes128_ecb_.reset(EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr));
    aes256_ecb_.reset(EVP_CIPHER_fetch(nullptr, "AES-256-ECB", nullptr));
  }

  const char* name() const override { return aesni_ ? "inline-aesni" : "inline-evp"; }

  bool supports(AeadAlgorithm a) const override {
    switch (a) {
      case AeadAlgorithm::kAes128Gcm:
        return aesni_ || aes128_ecb_ != nullptr;
      case AeadAlgorithm::kAes256Gcm:
        return aesni_ || aes256_ecb_ != nullptr;
      case AeadAlgorithm::kChacha20Poly1305:
        return true;  // chacha20_mask.h, no EVP needed
    }
    return false;
  }

  HpKey* create_key(const PacketKeys& keys) override {
    if (!supports(keys.aead)) return nullptr;
    std::unique_ptr<InlineHpKey> k(new (std::nothrow) InlineHpKey);
    if (k == nullptr) return nullptr;
    k->aead = keys.aead;
    if (keys.aead == AeadAlgorithm::kChacha20Poly1305) {
      k->chacha_key = chacha20_key_words(keys.hp_key.data());
      return k.release();
    }
#if DQUIC_HP_AESNI
    if (aesni_) {
      k->aesni = true;
      auto* rk = reinterpret_cast<__m128i*>(k->round_keys.data());
      if (keys.aead == AeadAlgorithm::kAes128Gcm) {
        k->rounds = kAes128Rounds;
        expand_aes128(keys.hp_key.data(), rk);
      } else {
        k->rounds = kAes256Rounds;
        expand_aes256(keys.hp_key.data(), rk);
      }
      return k.release();
    }
#endif
    const EVP_CIPHER* cipher =
        keys.aead == AeadAlgorithm::kAes128Gcm ? aes128_ecb_.get() : aes256_ecb_.get();
    k->ctx.reset(EVP_CIPHER_CTX_new());
    if (k->ctx == nullptr ||
        EVP_EncryptInit_ex2(k->ctx.get(), cipher, keys.hp_key.data(), nullptr, nullptr) != 1) {
      return nullptr;
    }
    // Samples are whole blocks: no padding, and EVP_EncryptUpdate then emits
    // every block at once instead of holding the last one back.
    EVP_CIPHER_CTX_set_padding(k->ctx.get(), 0);
    return k.release();
  }

  void destroy_key(HpKey* key) override {
    delete static_cast<InlineHpKey*>(key);
  }

  bool masks(HpKey* key, std::span<const HpSample> samples, std::span<HpMask> masks) override {
    if (masks.size() < samples.size()) return false;
    auto* k = static_cast<InlineHpKey*>(key);
    if (samples.empty()) return true;
#if DQUIC_HP_AESNI
    if (k->aesni) {
      const auto* rk = reinterpret_cast<const __m128i*>(k->round_keys.data());
      if (k->rounds == kAes128Rounds) {
        aesni_masks<kAes128Rounds>(rk, samples.data(), masks.data(), samples.size());
      } else {
        aesni_masks<kAes256Rounds>(rk, samples.data(), masks.data(), samples.size());
      }
      return true;
    }
#endif
    if (k->aead == AeadAlgorithm::kChacha20Poly1305) {
      chacha20_masks(k->chacha_key, samples, masks);
      return true;
    }
    return evp_ecb_masks(k->ctx.get(), samples, masks);
  }

 private:
  bool aesni_;
  CipherPtr aes128_ecb_;
  CipherPtr aes256_ecb_;
};

}  // namespace

std::unique_ptr<HpEngine> make_inline_hp_engine(bool use_aesni) {
  return std::unique_ptr<HpEngine>(new (std::nothrow) InlineHpEngine(use_aesni));
}

}  // namespace dquic::offload
