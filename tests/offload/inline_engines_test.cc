// The inline engines (offload/aead_evp.h, offload/hp_inline.h): RFC 9001
// Appendix A vectors, cross-checks against one-shot OpenSSL, round trips,
// tampering, gather seals, bounds, and no OpenSSL allocation per operation.
#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "offload/aead_evp.h"
#include "offload/hp_inline.h"
#include "support/hex.h"
#include "tests/offload/rfc9001_vectors.h"

namespace dquic::offload {
namespace {

// OpenSSL allocations, counted through CRYPTO_set_mem_functions, which only
// works before OpenSSL's first allocation: hence a static initializer.
std::atomic<std::uint64_t> g_openssl_allocs{0};

void* counting_malloc(std::size_t n, const char*, int) {
  g_openssl_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* counting_realloc(void* p, std::size_t n, const char*, int) {
  g_openssl_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void counting_free(void* p, const char*, int) {
  std::free(p);
}
const bool g_allocs_counted =
    CRYPTO_set_mem_functions(counting_malloc, counting_realloc, counting_free) == 1;

using test::Bytes;
using test::bytes;
using test::hex;

template <std::size_t N>
std::array<std::uint8_t, N> hex_array(const char* s) {
  const Bytes b = hex(s);
  std::array<std::uint8_t, N> a{};
  std::copy_n(b.begin(), std::min(N, b.size()), a.begin());
  return a;
}

PacketKeys make_keys(AeadAlgorithm a, const char* key, const char* iv, const char* hp) {
  PacketKeys k;
  k.aead = a;
  k.key = hex_array<kMaxAeadKeyLength>(key);
  k.iv = hex_array<kAeadNonceLength>(iv);
  k.hp_key = hex_array<kMaxAeadKeyLength>(hp);
  return k;
}

PacketKeys random_keys(AeadAlgorithm a, std::mt19937_64& rng) {
  PacketKeys k;
  k.aead = a;
  for (std::size_t i = 0; i < k.key_length(); ++i) {
    k.key[i] = static_cast<std::uint8_t>(rng());
    k.hp_key[i] = static_cast<std::uint8_t>(rng());
  }
  for (auto& b : k.iv)
    b = static_cast<std::uint8_t>(rng());
  return k;
}

Bytes random_bytes(std::size_t n, std::mt19937_64& rng) {
  Bytes b(n);
  for (auto& x : b)
    x = static_cast<std::uint8_t>(rng());
  return b;
}

constexpr AeadAlgorithm kAllAeads[] = {AeadAlgorithm::kAes128Gcm, AeadAlgorithm::kAes256Gcm,
                                       AeadAlgorithm::kChacha20Poly1305};

// Independent reference: a fresh one-shot EVP context per packet.
Bytes reference_seal(const PacketKeys& k, const std::array<std::uint8_t, kAeadNonceLength>& nonce,
                     const Bytes& aad, const Bytes& plaintext) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, aead_name(k.aead), nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Bytes out(plaintext.size() + kAeadTagLength);
  int outl = 0;
  bool ok = EVP_EncryptInit_ex2(ctx, cipher, k.key.data(), nonce.data(), nullptr) == 1;
  if (!aad.empty())
    ok = ok && EVP_EncryptUpdate(ctx, nullptr, &outl, aad.data(), int(aad.size())) == 1;
  if (!plaintext.empty())
    ok = ok &&
         EVP_EncryptUpdate(ctx, out.data(), &outl, plaintext.data(), int(plaintext.size())) == 1;
  ok = ok && EVP_EncryptFinal_ex(ctx, out.data() + plaintext.size(), &outl) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, int(kAeadTagLength),
                                 out.data() + plaintext.size()) == 1;
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);
  EXPECT_TRUE(ok);
  return out;
}

HpMask reference_aes_mask(const PacketKeys& k, const HpSample& sample) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(
      nullptr, k.aead == AeadAlgorithm::kAes128Gcm ? "AES-128-ECB" : "AES-256-ECB", nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  std::uint8_t block[32];
  int outl = 0;
  bool ok = EVP_EncryptInit_ex2(ctx, cipher, k.hp_key.data(), nullptr, nullptr) == 1;
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  ok = ok && EVP_EncryptUpdate(ctx, block, &outl, sample.data(), int(sample.size())) == 1;
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);
  EXPECT_TRUE(ok);
  EXPECT_EQ(outl, 16);
  HpMask m;
  std::copy_n(block, m.size(), m.begin());
  return m;
}

Bytes contents(const rte_mbuf* m) {
  const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
  return Bytes(p, p + rte_pktmbuf_data_len(m));
}

struct MbufDeleter {
  void operator()(rte_mbuf* m) const { rte_pktmbuf_free(m); }
};
using MbufPtr = std::unique_ptr<rte_mbuf, MbufDeleter>;
struct PoolDeleter {
  void operator()(rte_mempool* p) const { rte_mempool_free(p); }
};

struct AeadKeyDeleter {
  AeadEngine* engine;
  void operator()(AeadKey* k) const { engine->destroy_key(k); }
};
using AeadKeyPtr = std::unique_ptr<AeadKey, AeadKeyDeleter>;
struct HpKeyDeleter {
  HpEngine* engine;
  void operator()(HpKey* k) const { engine->destroy_key(k); }
};
using HpKeyPtr = std::unique_ptr<HpKey, HpKeyDeleter>;

class InlineEnginesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pool_.reset(rte_pktmbuf_pool_create("inline_engines", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                        rte_socket_id()));
    ASSERT_NE(pool_, nullptr);
  }
  static void TearDownTestSuite() { pool_.reset(); }

  void SetUp() override {
    aead_ = make_evp_aead_engine();
    ASSERT_NE(aead_, nullptr);
    hp_engines_.push_back(make_inline_hp_engine());
    hp_engines_.push_back(make_inline_hp_engine(/*use_aesni=*/false));
    for (const auto& e : hp_engines_)
      ASSERT_NE(e, nullptr);
  }

  // An mbuf whose first segment holds exactly `bytes`.
  static MbufPtr packet(const Bytes& bytes) {
    MbufPtr m(rte_pktmbuf_alloc(pool_.get()));
    EXPECT_NE(m, nullptr);
    if (m == nullptr) return m;
    char* p = rte_pktmbuf_append(m.get(), static_cast<std::uint16_t>(bytes.size()));
    EXPECT_NE(p, nullptr);
    if (p != nullptr && !bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
    return m;
  }

  AeadKeyPtr aead_key(const PacketKeys& k) {
    AeadKeyPtr key(aead_->create_key(k), AeadKeyDeleter{aead_.get()});
    EXPECT_NE(key, nullptr);
    return key;
  }
  static HpKeyPtr hp_key(HpEngine& e, const PacketKeys& k) {
    HpKeyPtr key(e.create_key(k), HpKeyDeleter{&e});
    EXPECT_NE(key, nullptr);
    return key;
  }
  static HpMask one_mask(HpEngine& e, HpKey* key, const HpSample& sample) {
    HpMask mask{};
    EXPECT_TRUE(e.masks(key, std::span(&sample, 1), std::span(&mask, 1)));
    return mask;
  }

  // RFC 9001 §5.3: AAD is the header, the payload follows it, the tag the payload.
  static AeadOp op_for(rte_mbuf* m, std::uint32_t header_length, std::uint32_t payload_length,
                       const std::array<std::uint8_t, kAeadNonceLength>& nonce) {
    AeadOp op;
    op.m = m;
    op.aad_offset = 0;
    op.aad_length = header_length;
    op.payload_offset = header_length;
    op.payload_length = payload_length;
    op.nonce = nonce;
    return op;
  }

  static inline std::unique_ptr<rte_mempool, PoolDeleter> pool_;
  std::unique_ptr<AeadEngine> aead_;
  std::vector<std::unique_ptr<HpEngine>> hp_engines_;
};

// ---------------------------------------------------------------------------
// Header protection

TEST_F(InlineEnginesTest, HpEnginesSupportAllSuites) {
  EXPECT_STREQ(hp_engines_[1]->name(), "inline-evp");
  for (const auto& e : hp_engines_) {
    for (AeadAlgorithm a : kAllAeads)
      EXPECT_TRUE(e->supports(a)) << e->name();
  }
}

// RFC 9001 A.2 (client Initial) and A.3 (server Initial): AES-128-ECB masks.
TEST_F(InlineEnginesTest, HpRfc9001InitialMasks) {
  const PacketKeys client =
      make_keys(AeadAlgorithm::kAes128Gcm, "", "", "9f50449e04a0e810283a1e9933adedd2");
  const PacketKeys server =
      make_keys(AeadAlgorithm::kAes128Gcm, "", "", "c206b8d9b9f0f37644430b490eeaa314");
  for (const auto& e : hp_engines_) {
    SCOPED_TRACE(e->name());
    auto ck = hp_key(*e, client);
    EXPECT_EQ(one_mask(*e, ck.get(), hex_array<16>("d1b1c98dd7689fb8ec11d242b123dc9b")),
              hex_array<5>("437b9aec36"));
    auto sk = hp_key(*e, server);
    EXPECT_EQ(one_mask(*e, sk.get(), hex_array<16>("2cd0991cd25b0aac406a5816b6394100")),
              hex_array<5>("2ec0d8356a"));
  }
}

// RFC 9001 A.5: ChaCha20 header protection (§5.4.4).
TEST_F(InlineEnginesTest, HpRfc9001ChaCha20Mask) {
  const PacketKeys k =
      make_keys(AeadAlgorithm::kChacha20Poly1305, "", "",
                "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4");
  for (const auto& e : hp_engines_) {
    SCOPED_TRACE(e->name());
    auto key = hp_key(*e, k);
    EXPECT_EQ(one_mask(*e, key.get(), hex_array<16>("5e5cd55c41f69080575d7999c25a5bfb")),
              hex_array<5>("aefefe7d03"));
  }
}

// AES-128/256 key expansion and rounds against OpenSSL for random keys.
TEST_F(InlineEnginesTest, HpAesMatchesOpenSslForRandomKeys) {
  std::mt19937_64 rng(9001);
  for (AeadAlgorithm a : {AeadAlgorithm::kAes128Gcm, AeadAlgorithm::kAes256Gcm}) {
    for (int trial = 0; trial < 40; ++trial) {
      const PacketKeys k = random_keys(a, rng);
      std::vector<HpSample> samples(17);
      for (auto& s : samples)
        for (auto& b : s)
          b = static_cast<std::uint8_t>(rng());
      for (const auto& e : hp_engines_) {
        SCOPED_TRACE(std::string(e->name()) + " trial " + std::to_string(trial));
        auto key = hp_key(*e, k);
        std::vector<HpMask> masks(samples.size());
        ASSERT_TRUE(e->masks(key.get(), samples, masks));
        for (std::size_t i = 0; i < samples.size(); ++i)
          EXPECT_EQ(masks[i], reference_aes_mask(k, samples[i])) << "sample " << i;
      }
    }
  }
}

// Batches (interleaved lanes and padded tails) equal one mask at a time.
TEST_F(InlineEnginesTest, HpBatchesEqualOneAtATime) {
  std::mt19937_64 rng(42);
  for (AeadAlgorithm a : kAllAeads) {
    const PacketKeys k = random_keys(a, rng);
    for (std::size_t n : {1, 7, 8, 9, 16, 33, 100}) {
      std::vector<HpSample> samples(n);
      for (auto& s : samples)
        for (auto& b : s)
          b = static_cast<std::uint8_t>(rng());
      for (const auto& e : hp_engines_) {
        SCOPED_TRACE(std::string(e->name()) + " n=" + std::to_string(n));
        auto key = hp_key(*e, k);
        std::vector<HpMask> batch(n);
        ASSERT_TRUE(e->masks(key.get(), samples, batch));
        for (std::size_t i = 0; i < n; ++i)
          EXPECT_EQ(batch[i], one_mask(*e, key.get(), samples[i])) << "sample " << i;
      }
    }
  }
}

TEST_F(InlineEnginesTest, HpEmptyBatchAndShortOutput) {
  for (const auto& e : hp_engines_) {
    auto key = hp_key(*e, make_keys(AeadAlgorithm::kAes128Gcm, "", "", "00"));
    EXPECT_TRUE(e->masks(key.get(), {}, {}));
    std::vector<HpSample> samples(3);
    std::vector<HpMask> masks(2);
    EXPECT_FALSE(e->masks(key.get(), samples, masks)) << e->name();
  }
}

// ---------------------------------------------------------------------------
// AEAD: RFC 9001 Appendix A

TEST_F(InlineEnginesTest, AeadEngineCapabilities) {
  EXPECT_TRUE(aead_->supports_gather());
  for (AeadAlgorithm a : kAllAeads)
    EXPECT_TRUE(aead_->supports(a));
}

// RFC 9001 A.5: ChaCha20-Poly1305, short header 4200bff4, PING payload.
TEST_F(InlineEnginesTest, AeadRfc9001ChaCha20ShortHeader) {
  const PacketKeys k = make_keys(AeadAlgorithm::kChacha20Poly1305,
                                 "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8",
                                 "e0459b3474bdd0e44a41c144", "");
  const auto nonce = packet_nonce(k.iv, 654360564);
  ASSERT_EQ(nonce, hex_array<12>("e0459b3474bdd0e46d417eb0"));
  auto key = aead_key(k);

  Bytes plain = hex("4200bff401");
  plain.resize(plain.size() + kAeadTagLength);
  MbufPtr m = packet(plain);
  AeadOp op = op_for(m.get(), 4, 1, nonce);
  aead_->seal(key.get(), std::span(&op, 1));
  ASSERT_TRUE(op.ok);
  EXPECT_EQ(contents(m.get()), hex("4200bff4655e5cd55c41f69080575d7999c25a5bfb"));

  op.ok = false;
  aead_->open(key.get(), std::span(&op, 1));
  ASSERT_TRUE(op.ok);
  EXPECT_EQ(rte_pktmbuf_mtod_offset(m.get(), const std::uint8_t*, 4)[0], 0x01);
}

struct InitialVector {
  const char* name;
  PacketKeys keys;
  std::uint64_t packet_number;
  Bytes header;  // unprotected
  Bytes payload;
  Bytes protected_packet;  // header protection only changes the header
};

std::vector<InitialVector> initial_vectors() {
  Bytes a2_payload(std::begin(test::kA2CryptoFrame), std::end(test::kA2CryptoFrame));
  a2_payload.resize(1162);  // RFC 9001 A.2: PADDING frames up to 1162 bytes
  return {
      {"A.2 client Initial",
       make_keys(AeadAlgorithm::kAes128Gcm, "1f369613dd76d5467730efcbe3b1a22d",
                 "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2"),
       2, Bytes(std::begin(test::kA2UnprotectedHeader), std::end(test::kA2UnprotectedHeader)),
       a2_payload, Bytes(std::begin(test::kA2ProtectedPacket), std::end(test::kA2ProtectedPacket))},
      {"A.3 server Initial",
       make_keys(AeadAlgorithm::kAes128Gcm, "cf3a5331653c364c88f0f379b6067e37",
                 "0ac1493ca1905853b0bba03e", "c206b8d9b9f0f37644430b490eeaa314"),
       1, Bytes(std::begin(test::kA3UnprotectedHeader), std::end(test::kA3UnprotectedHeader)),
       Bytes(std::begin(test::kA3Payload), std::end(test::kA3Payload)),
       Bytes(std::begin(test::kA3ProtectedPacket), std::end(test::kA3ProtectedPacket))},
  };
}

// RFC 9001 A.2, A.3: AES-128-GCM. The expected ciphertext and tag are the
// protected packet after its header.
TEST_F(InlineEnginesTest, AeadRfc9001Initials) {
  for (const InitialVector& v : initial_vectors()) {
    SCOPED_TRACE(v.name);
    ASSERT_EQ(v.header.size() + v.payload.size() + kAeadTagLength, v.protected_packet.size());
    const Bytes expected(v.protected_packet.begin() + std::ptrdiff_t(v.header.size()),
                         v.protected_packet.end());
    auto key = aead_key(v.keys);
    const auto nonce = packet_nonce(v.keys.iv, v.packet_number);
    const auto hl = static_cast<std::uint32_t>(v.header.size());
    const auto pl = static_cast<std::uint32_t>(v.payload.size());

    Bytes plain = v.header;
    plain.insert(plain.end(), v.payload.begin(), v.payload.end());
    plain.resize(plain.size() + kAeadTagLength);
    MbufPtr m = packet(plain);
    AeadOp op = op_for(m.get(), hl, pl, nonce);
    aead_->seal(key.get(), std::span(&op, 1));
    ASSERT_TRUE(op.ok);
    const Bytes sealed = contents(m.get());
    EXPECT_TRUE(std::equal(v.header.begin(), v.header.end(), sealed.begin()));
    EXPECT_EQ(Bytes(sealed.begin() + hl, sealed.end()), expected);

    // Receive side: the header as recovered after header protection removal.
    Bytes received = v.header;
    received.insert(received.end(), expected.begin(), expected.end());
    MbufPtr r = packet(received);
    AeadOp ro = op_for(r.get(), hl, pl, nonce);
    aead_->open(key.get(), std::span(&ro, 1));
    ASSERT_TRUE(ro.ok);
    const Bytes opened = contents(r.get());
    EXPECT_EQ(Bytes(opened.begin() + hl, opened.begin() + hl + pl), v.payload);
  }
}

// ---------------------------------------------------------------------------
// AEAD properties

struct SealedBurst {
  std::vector<MbufPtr> mbufs;
  std::vector<AeadOp> ops;
  std::vector<Bytes> plaintexts;  // whole packet before sealing
};

// A burst of random packets at random offsets inside their mbufs (a leading
// and trailing region the engine must not touch), sealed and checked
// against the one-shot reference.
SealedBurst seal_random_burst(AeadEngine& engine, AeadKey* key, const PacketKeys& k, std::size_t n,
                              std::mt19937_64& rng, rte_mempool* pool) {
  SealedBurst b;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t lead = rng() % 9;
    const std::size_t aad = rng() % 4 == 0 ? 0 : 1 + rng() % 60;
    const std::size_t payload = rng() % 8 == 0 ? rng() % 3 : rng() % 1401;
    const std::size_t tail = rng() % 5;
    Bytes bytes = random_bytes(lead + aad + payload + kAeadTagLength + tail, rng);
    MbufPtr m(rte_pktmbuf_alloc(pool));
    EXPECT_NE(m, nullptr);
    if (m == nullptr) return b;
    std::memcpy(rte_pktmbuf_append(m.get(), std::uint16_t(bytes.size())), bytes.data(),
                bytes.size());
    AeadOp op;
    op.m = m.get();
    op.aad_offset = std::uint32_t(lead);
    op.aad_length = std::uint32_t(aad);
    op.payload_offset = std::uint32_t(lead + aad);
    op.payload_length = std::uint32_t(payload);
    op.nonce = packet_nonce(k.iv, rng() >> 2);
    b.mbufs.push_back(std::move(m));
    b.ops.push_back(op);
    b.plaintexts.push_back(std::move(bytes));
  }
  engine.seal(key, b.ops);
  for (std::size_t i = 0; i < n; ++i) {
    const AeadOp& op = b.ops[i];
    EXPECT_TRUE(op.ok) << i;
    const Bytes& pt = b.plaintexts[i];
    const Bytes aad(pt.begin() + op.aad_offset, pt.begin() + op.aad_offset + op.aad_length);
    const Bytes msg(pt.begin() + op.payload_offset,
                    pt.begin() + op.payload_offset + op.payload_length);
    Bytes expected = pt;
    const Bytes ct = reference_seal(k, op.nonce, aad, msg);
    std::copy(ct.begin(), ct.end(), expected.begin() + op.payload_offset);
    EXPECT_EQ(contents(b.mbufs[i].get()), expected) << i;
  }
  return b;
}

// open(seal(x)) == x for random sizes, all AEADs; ciphertexts match OpenSSL
// one-shot; bytes around AAD, payload and tag are untouched.
TEST_F(InlineEnginesTest, AeadRoundTripRandom) {
  std::mt19937_64 rng(1234);
  for (AeadAlgorithm a : kAllAeads) {
    SCOPED_TRACE(aead_name(a));
    for (int round = 0; round < 8; ++round) {
      const PacketKeys k = random_keys(a, rng);
      auto key = aead_key(k);
      SealedBurst b = seal_random_burst(*aead_, key.get(), k, 32, rng, pool_.get());
      ASSERT_EQ(b.ops.size(), 32u);
      aead_->open(key.get(), b.ops);
      for (std::size_t i = 0; i < b.ops.size(); ++i) {
        EXPECT_TRUE(b.ops[i].ok) << i;
        // Plaintext back in place; the tag bytes stay as sealed.
        Bytes got = contents(b.mbufs[i].get());
        const std::size_t tag_at = b.ops[i].payload_offset + b.ops[i].payload_length;
        std::copy_n(b.plaintexts[i].begin() + std::ptrdiff_t(tag_at), kAeadTagLength,
                    got.begin() + std::ptrdiff_t(tag_at));
        EXPECT_EQ(got, b.plaintexts[i]) << i;
      }
    }
  }
}

// A flipped bit in AAD, ciphertext or tag fails that op only; the others in
// the burst (before and after it) still open.
TEST_F(InlineEnginesTest, AeadTamperedOpFailsAlone) {
  std::mt19937_64 rng(77);
  for (AeadAlgorithm a : kAllAeads) {
    SCOPED_TRACE(aead_name(a));
    const PacketKeys k = random_keys(a, rng);
    auto key = aead_key(k);
    for (int region = 0; region < 3; ++region) {
      SealedBurst b = seal_random_burst(*aead_, key.get(), k, 12, rng, pool_.get());
      ASSERT_EQ(b.ops.size(), 12u);
      std::vector<bool> tampered(b.ops.size());
      for (std::size_t i = 0; i < b.ops.size(); i += 3) {
        const AeadOp& op = b.ops[i];
        std::uint32_t offset = 0;
        if (region == 0 && op.aad_length > 0) {
          offset = op.aad_offset + std::uint32_t(rng() % op.aad_length);
        } else if (region == 1 && op.payload_length > 0) {
          offset = op.payload_offset + std::uint32_t(rng() % op.payload_length);
        } else {
          offset = op.payload_offset + op.payload_length + std::uint32_t(rng() % kAeadTagLength);
        }
        *rte_pktmbuf_mtod_offset(op.m, std::uint8_t*, offset) ^=
            static_cast<std::uint8_t>(1u << (rng() % 8));
        tampered[i] = true;
      }
      for (auto& op : b.ops)
        op.ok = !op.ok;  // prove the engine writes ok either way
      aead_->open(key.get(), b.ops);
      for (std::size_t i = 0; i < b.ops.size(); ++i)
        EXPECT_EQ(b.ops[i].ok, !tampered[i]) << "region " << region << " op " << i;
    }
  }
}

// Splits `payload` into `parts` segments (some possibly empty).
std::vector<ByteSegment> split(const Bytes& payload, std::size_t parts, std::mt19937_64& rng) {
  std::vector<std::size_t> cuts = {0, payload.size()};
  for (std::size_t i = 1; i < parts; ++i)
    cuts.push_back(payload.empty() ? 0 : rng() % (payload.size() + 1));
  std::sort(cuts.begin(), cuts.end());
  std::vector<ByteSegment> segs;
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    ByteSegment s;
    s.data = payload.data() + cuts[i];
    s.length = std::uint32_t(cuts[i + 1] - cuts[i]);
    segs.push_back(s);
  }
  return segs;
}

// A gather seal from 1-4 segments writes exactly the bytes of an in-place
// seal, whatever was in the packet's payload area before.
TEST_F(InlineEnginesTest, AeadGatherSealMatchesInPlace) {
  std::mt19937_64 rng(5);
  for (AeadAlgorithm a : kAllAeads) {
    SCOPED_TRACE(aead_name(a));
    const PacketKeys k = random_keys(a, rng);
    auto key = aead_key(k);
    for (std::size_t parts = 1; parts <= 4; ++parts) {
      for (int trial = 0; trial < 10; ++trial) {
        const std::size_t hl = 1 + rng() % 40;
        const std::size_t pl = trial == 0 ? 0 : rng() % 1401;
        const Bytes header = random_bytes(hl, rng);
        // Each segment in its own heap buffer, as payload from elsewhere would be.
        const Bytes payload = random_bytes(pl, rng);
        std::vector<Bytes> buffers;
        std::vector<ByteSegment> segs = split(payload, parts, rng);
        for (auto& s : segs) {
          buffers.emplace_back(s.data, s.data + s.length);
          s.data = buffers.back().data();
        }
        const auto nonce = packet_nonce(k.iv, rng() >> 2);

        Bytes in_place = header;
        in_place.insert(in_place.end(), payload.begin(), payload.end());
        in_place.resize(in_place.size() + kAeadTagLength);
        MbufPtr m1 = packet(in_place);
        AeadOp op1 = op_for(m1.get(), std::uint32_t(hl), std::uint32_t(pl), nonce);
        aead_->seal(key.get(), std::span(&op1, 1));
        ASSERT_TRUE(op1.ok);

        Bytes garbage = header;
        const Bytes junk = random_bytes(pl + kAeadTagLength, rng);
        garbage.insert(garbage.end(), junk.begin(), junk.end());
        MbufPtr m2 = packet(garbage);
        AeadOp op2 = op_for(m2.get(), std::uint32_t(hl), std::uint32_t(pl), nonce);
        op2.gather = segs;
        aead_->seal(key.get(), std::span(&op2, 1));
        ASSERT_TRUE(op2.ok);
        EXPECT_EQ(contents(m2.get()), contents(m1.get())) << parts << " parts, " << pl;

        op2.gather = {};
        aead_->open(key.get(), std::span(&op2, 1));
        EXPECT_TRUE(op2.ok);
      }
    }
  }
}

TEST_F(InlineEnginesTest, AeadGatherLengthMismatchFails) {
  std::mt19937_64 rng(6);
  const PacketKeys k = random_keys(AeadAlgorithm::kAes128Gcm, rng);
  auto key = aead_key(k);
  const Bytes payload = random_bytes(100, rng);
  ByteSegment seg;
  seg.data = payload.data();
  seg.length = 99;
  MbufPtr m = packet(Bytes(10 + 100 + kAeadTagLength));
  AeadOp op = op_for(m.get(), 10, 100, {});
  op.gather = std::span(&seg, 1);
  op.ok = true;
  aead_->seal(key.get(), std::span(&op, 1));
  EXPECT_FALSE(op.ok);
}

// Ops that do not fit the first segment fail alone; nothing is written.
TEST_F(InlineEnginesTest, AeadOutOfBoundsOpsFailAlone) {
  std::mt19937_64 rng(7);
  for (AeadAlgorithm a : kAllAeads) {
    SCOPED_TRACE(aead_name(a));
    const PacketKeys k = random_keys(a, rng);
    auto key = aead_key(k);
    const Bytes bytes = random_bytes(20 + 100 + kAeadTagLength, rng);
    std::vector<MbufPtr> mbufs;
    std::vector<AeadOp> ops;
    for (int i = 0; i < 6; ++i) {
      mbufs.push_back(packet(bytes));
      ops.push_back(op_for(mbufs.back().get(), 20, 100, k.iv));
    }
    ops[1].payload_length = 101;  // tag would run past the data
    ops[2].aad_length = 200;
    ops[3].m = nullptr;
    ops[4].payload_offset = 0xffffffffu;  // must not wrap around
    for (auto& op : ops)
      op.ok = true;
    aead_->seal(key.get(), ops);
    EXPECT_TRUE(ops[0].ok);
    EXPECT_TRUE(ops[5].ok);
    for (int i = 1; i <= 4; ++i)
      EXPECT_FALSE(ops[std::size_t(i)].ok) << i;
    EXPECT_EQ(contents(mbufs[1].get()), bytes);
    EXPECT_EQ(contents(mbufs[2].get()), bytes);
    for (auto& op : ops)
      op.ok = true;
    aead_->open(key.get(), ops);
    EXPECT_TRUE(ops[0].ok);
    EXPECT_TRUE(ops[5].ok);
    for (int i = 1; i <= 4; ++i)
      EXPECT_FALSE(ops[std::size_t(i)].ok) << i;
  }
}

TEST_F(InlineEnginesTest, ManyKeysCreateAndDestroy) {
  std::mt19937_64 rng(8);
  std::vector<PacketKeys> keys;
  std::vector<AeadKeyPtr> aead_keys;
  std::vector<HpKeyPtr> hp_keys;
  for (int i = 0; i < 300; ++i) {
    keys.push_back(random_keys(kAllAeads[i % 3], rng));
    aead_keys.push_back(aead_key(keys.back()));
    for (const auto& e : hp_engines_)
      hp_keys.push_back(hp_key(*e, keys.back()));
  }
  // Keys are independent: early ones still work after many others were made.
  for (std::size_t i : {0, 1, 2, 299}) {
    SealedBurst b = seal_random_burst(*aead_, aead_keys[i].get(), keys[i], 4, rng, pool_.get());
    aead_->open(aead_keys[i].get(), b.ops);
    for (const auto& op : b.ops)
      EXPECT_TRUE(op.ok);
  }
}

// ---------------------------------------------------------------------------
// The per-packet paths allocate nothing (OpenSSL's allocator is counted).

TEST_F(InlineEnginesTest, NoAllocationPerOperation) {
  if (!g_allocs_counted) GTEST_SKIP() << "CRYPTO_set_mem_functions came too late";
  std::mt19937_64 rng(10);
  for (AeadAlgorithm a : kAllAeads) {
    SCOPED_TRACE(aead_name(a));
    const PacketKeys k = random_keys(a, rng);
    auto key = aead_key(k);
    SealedBurst b = seal_random_burst(*aead_, key.get(), k, 32, rng, pool_.get());
    ASSERT_EQ(b.ops.size(), 32u);
    // Gather seals too: point half the ops at an external source.
    const Bytes source = random_bytes(1400, rng);
    std::vector<std::array<ByteSegment, 2>> segs(b.ops.size());
    std::vector<HpSample> samples(32);
    std::vector<HpMask> masks(32);
    std::vector<HpKeyPtr> hp_keys;
    const std::uint64_t at_create = g_openssl_allocs.load();
    for (const auto& e : hp_engines_)
      hp_keys.push_back(hp_key(*e, k));
    // The counter sees OpenSSL's allocations (the EVP-only engine's AES
    // context; ChaCha20 header protection uses no OpenSSL object).
    if (a != AeadAlgorithm::kChacha20Poly1305) {
      EXPECT_GT(g_openssl_allocs.load(), at_create);
    }

    const std::uint64_t before = g_openssl_allocs.load();
    for (int round = 0; round < 20; ++round) {
      aead_->open(key.get(), b.ops);
      for (std::size_t i = 0; i < b.ops.size(); ++i) {
        ASSERT_TRUE(b.ops[i].ok);
        if (i % 2 == 1) {
          const std::uint32_t half = b.ops[i].payload_length / 2;
          segs[i][0] = ByteSegment{source.data(), RTE_BAD_IOVA, half};
          segs[i][1] =
              ByteSegment{source.data() + half, RTE_BAD_IOVA, b.ops[i].payload_length - half};
          b.ops[i].gather = segs[i];
        }
      }
      aead_->seal(key.get(), b.ops);
      for (auto& op : b.ops) {
        ASSERT_TRUE(op.ok);
        op.gather = {};
      }
      for (std::size_t j = 0; j < hp_engines_.size(); ++j)
        ASSERT_TRUE(hp_engines_[j]->masks(hp_keys[j].get(), samples, masks));
    }
    // A failing open (error paths must not allocate either).
    *rte_pktmbuf_mtod_offset(b.ops[0].m, std::uint8_t*,
                             b.ops[0].payload_offset + b.ops[0].payload_length) ^= 1;
    aead_->open(key.get(), std::span(b.ops.data(), 1));
    EXPECT_FALSE(b.ops[0].ok);
    EXPECT_EQ(g_openssl_allocs.load(), before);
  }
}

}  // namespace
}  // namespace dquic::offload
