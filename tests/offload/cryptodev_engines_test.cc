// The rte_cryptodev engines (offload/cryptodev_aead.h, cryptodev_hp.h) and
// backend selection (offload/backends.h) on the software crypto PMDs created
// as vdevs: capability probing, RFC 9001 Appendix A vectors, cross-checks
// against OpenSSL, round trips, tampering, gather, session exhaustion.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "drivers/crypto_device.h"
#include "offload/backends.h"
#include "offload/cryptodev_aead.h"
#include "offload/cryptodev_hp.h"
#include "support/hex.h"

namespace dquic::offload {
namespace {

using test::Bytes;
using test::bytes;
using test::hex;

constexpr AeadAlgorithm kAllAeads[] = {AeadAlgorithm::kAes128Gcm, AeadAlgorithm::kAes256Gcm,
                                       AeadAlgorithm::kChacha20Poly1305};

struct PoolDeleter {
  void operator()(rte_mempool* mp) const { rte_mempool_free(mp); }
};
using Pool = std::unique_ptr<rte_mempool, PoolDeleter>;

Pool packet_pool() {
  static int serial = 0;
  const std::string name = "cdev_test_" + std::to_string(serial++);
  return Pool(rte_pktmbuf_pool_create(name.c_str(), 511, 0, 0, RTE_PKTMBUF_HEADROOM + 2048,
                                      static_cast<int>(rte_socket_id())));
}

// All vdevs started with one queue pair; closed (and free to restart) at scope end.
class Devices {
 public:
  explicit Devices(std::uint32_t sessions = 512) {
    for (const drivers::CryptoDeviceInfo& info : drivers::probe_crypto_devices()) {
      drivers::CryptoDevice d;
      std::string err;
      EXPECT_TRUE(drivers::start_crypto_device(info.dev_id, 1, sessions, info.socket, &d, &err))
          << err;
      started_.push_back(d);
    }
  }
  ~Devices() {
    for (drivers::CryptoDevice& d : started_)
      drivers::close_crypto_device(&d);
  }
  const std::vector<drivers::CryptoDevice>& all() const { return started_; }
  const drivers::CryptoDevice* find(const std::string& name) const {
    for (const drivers::CryptoDevice& d : started_)
      if (d.info.name == name) return &d;
    return nullptr;
  }

 private:
  std::vector<drivers::CryptoDevice> started_;
};

struct EngineCase {
  std::string label;
  std::unique_ptr<CryptodevAeadEngine> engine;
  drivers::CryptoDeviceInfo info;
};

// Every device x mode the device offers.
std::vector<EngineCase> all_engines(const Devices& devices) {
  std::vector<EngineCase> out;
  for (const drivers::CryptoDevice& d : devices.all()) {
    for (CryptodevMode mode : {CryptodevMode::kAsync, CryptodevMode::kCpuCrypto}) {
      auto e = make_cryptodev_aead_engine(d, 0, mode);
      if (mode == CryptodevMode::kAsync) {
        EXPECT_NE(e, nullptr) << d.info.name;
      } else if (!d.info.cpu_crypto()) {
        EXPECT_EQ(e, nullptr) << d.info.name << ": CPU crypto without FF_SYM_CPU_CRYPTO";
      }
      if (e != nullptr) out.push_back({e->name(), std::move(e), d.info});
    }
  }
  return out;
}

PacketKeys random_keys(AeadAlgorithm a, std::mt19937& rng) {
  PacketKeys k;
  k.aead = a;
  for (auto& b : k.key)
    b = static_cast<std::uint8_t>(rng());
  for (auto& b : k.iv)
    b = static_cast<std::uint8_t>(rng());
  for (auto& b : k.hp_key)
    b = static_cast<std::uint8_t>(rng());
  return k;
}

// A packet: header (the AAD) at offset 0, payload, room for the tag.
rte_mbuf* make_packet(rte_mempool* pool, const Bytes& header, const Bytes& payload) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  const auto len = static_cast<std::uint16_t>(header.size() + payload.size() + kAeadTagLength);
  auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, len));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::copy(header.begin(), header.end(), p);
  std::copy(payload.begin(), payload.end(), p + header.size());
  std::memset(p + header.size() + payload.size(), 0, kAeadTagLength);
  return m;
}

AeadOp make_op(rte_mbuf* m, std::size_t header_length, std::size_t payload_length,
               const PacketKeys& keys, std::uint64_t pn) {
  AeadOp op;
  op.m = m;
  op.aad_offset = 0;
  op.aad_length = static_cast<std::uint32_t>(header_length);
  op.payload_offset = static_cast<std::uint32_t>(header_length);
  op.payload_length = static_cast<std::uint32_t>(payload_length);
  op.nonce = packet_nonce(keys.iv, pn);
  return op;
}

Bytes bytes_of(rte_mbuf* m, std::size_t offset, std::size_t length) {
  const auto* p = rte_pktmbuf_mtod_offset(m, const std::uint8_t*, offset);
  return Bytes(p, p + length);
}

Bytes random_bytes(std::size_t n, std::mt19937& rng) {
  Bytes b(n);
  for (auto& x : b)
    x = static_cast<std::uint8_t>(rng());
  return b;
}

// One-shot OpenSSL seal: ciphertext || tag.
Bytes evp_seal(const PacketKeys& k, const std::array<std::uint8_t, kAeadNonceLength>& nonce,
               const Bytes& aad, const Bytes& plaintext) {
  const EVP_CIPHER* c = k.aead == AeadAlgorithm::kAes128Gcm   ? EVP_aes_128_gcm()
                        : k.aead == AeadAlgorithm::kAes256Gcm ? EVP_aes_256_gcm()
                                                              : EVP_chacha20_poly1305();
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  Bytes out(plaintext.size() + kAeadTagLength);
  int len = 0;
  EVP_EncryptInit_ex(ctx, c, nullptr, k.key.data(), nonce.data());
  EVP_EncryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size()));
  if (!plaintext.empty())
    EVP_EncryptUpdate(ctx, out.data(), &len, plaintext.data(), static_cast<int>(plaintext.size()));
  EVP_EncryptFinal_ex(ctx, out.data() + plaintext.size(), &len);
  EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kAeadTagLength, out.data() + plaintext.size());
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

TEST(CryptoDeviceProbe, FindsTheVdevsWithTheirCapabilities) {
  const auto devices = drivers::probe_crypto_devices();
  ASSERT_EQ(devices.size(), 4u);
  const auto* gcm = drivers::find_crypto_device(devices, "crypto_aesni_gcm0");
  const auto* mb = drivers::find_crypto_device(devices, "crypto_aesni_mb0");
  const auto* chacha = drivers::find_crypto_device(devices, "crypto_chacha20_poly1305_0");
  const auto* ossl = drivers::find_crypto_device(devices, "crypto_openssl0");
  ASSERT_NE(gcm, nullptr);
  ASSERT_NE(mb, nullptr);
  ASSERT_NE(chacha, nullptr);
  ASSERT_NE(ossl, nullptr);
  EXPECT_EQ(drivers::find_crypto_device(devices, "nope"), nullptr);

  for (const auto& d : devices) {
    SCOPED_TRACE(d.name);
    EXPECT_GE(d.max_queue_pairs, 1);
    EXPECT_EQ(d.max_sessions, 0u);  // the guide: none caps sessions
    EXPECT_TRUE(d.oop_sgl_in_lb_out());
    EXPECT_FALSE(d.hw_accelerated());
  }
  // AEADs as QUIC needs them (key, 12-byte IV, 16-byte tag, header-sized AAD).
  EXPECT_TRUE(cryptodev_supports_aead(*gcm, AeadAlgorithm::kAes128Gcm));
  EXPECT_TRUE(cryptodev_supports_aead(*gcm, AeadAlgorithm::kAes256Gcm));
  EXPECT_FALSE(cryptodev_supports_aead(*gcm, AeadAlgorithm::kChacha20Poly1305));
  EXPECT_TRUE(cryptodev_supports_aead(*mb, AeadAlgorithm::kAes128Gcm));
  EXPECT_TRUE(cryptodev_supports_aead(*mb, AeadAlgorithm::kChacha20Poly1305));
  EXPECT_TRUE(cryptodev_supports_aead(*chacha, AeadAlgorithm::kChacha20Poly1305));
  EXPECT_FALSE(cryptodev_supports_aead(*chacha, AeadAlgorithm::kAes128Gcm));
  EXPECT_TRUE(cryptodev_supports_aead(*ossl, AeadAlgorithm::kAes256Gcm));
  EXPECT_FALSE(cryptodev_supports_aead(*ossl, AeadAlgorithm::kChacha20Poly1305));
  // Header-protection ciphers: ECB on aesni_mb, only CTR on openssl.
  EXPECT_TRUE(mb->aes_ecb.present);
  EXPECT_TRUE(mb->aes_ecb.key.allows(16) && mb->aes_ecb.key.allows(32));
  EXPECT_FALSE(ossl->aes_ecb.present);
  EXPECT_TRUE(ossl->aes_ctr.present && ossl->aes_ctr.iv.allows(16));
  EXPECT_FALSE(gcm->aes_ecb.present || gcm->aes_ctr.present);
  // Feature flags the engines rely on.
  EXPECT_TRUE(gcm->cpu_crypto() && mb->cpu_crypto() && chacha->cpu_crypto());
  EXPECT_FALSE(ossl->cpu_crypto());
  EXPECT_TRUE(gcm->in_place_sgl() && mb->in_place_sgl() && chacha->in_place_sgl());
  EXPECT_TRUE(mb->oop_sgl_in_sgl_out());
}

TEST(CryptoDeviceStart, StartsRestartsAndRejectsBadQueuePairs) {
  const auto devices = drivers::probe_crypto_devices();
  ASSERT_FALSE(devices.empty());
  const auto& info = devices.front();
  drivers::CryptoDevice d;
  std::string err;
  EXPECT_FALSE(drivers::start_crypto_device(info.dev_id, info.max_queue_pairs + 1, 16, info.socket,
                                            &d, &err));
  EXPECT_NE(err.find("queue pairs"), std::string::npos) << err;
  EXPECT_FALSE(drivers::start_crypto_device(200, 1, 16, 0, &d, &err));
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(drivers::start_crypto_device(info.dev_id, 2, 64, info.socket, &d, &err)) << err;
    EXPECT_TRUE(d.started);
    EXPECT_EQ(d.queue_pairs, 2);
    EXPECT_EQ(d.sessions, 64u);
    EXPECT_NE(d.session_pool, nullptr);
    drivers::close_crypto_device(&d);
    EXPECT_EQ(d.session_pool, nullptr);
  }
}

// RFC 9001 A.5: ChaCha20-Poly1305 short header packet.
TEST(CryptodevAead, Rfc9001A5ChaCha20Poly1305) {
  Devices devices;
  Pool pool = packet_pool();
  ASSERT_NE(pool, nullptr);
  PacketKeys keys;
  keys.aead = AeadAlgorithm::kChacha20Poly1305;
  const Bytes key = hex("c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8");
  const Bytes iv = hex("e0459b3474bdd0e44a41c144");
  std::copy(key.begin(), key.end(), keys.key.begin());
  std::copy(iv.begin(), iv.end(), keys.iv.begin());
  const Bytes header = hex("4200bff4");
  const Bytes expected = hex("655e5cd55c41f69080575d7999c25a5bfb");
  int ran = 0;
  for (EngineCase& c : all_engines(devices)) {
    if (!c.engine->supports(keys.aead)) continue;
    SCOPED_TRACE(c.label);
    ++ran;
    AeadKey* k = c.engine->create_key(keys);
    ASSERT_NE(k, nullptr);
    rte_mbuf* m = make_packet(pool.get(), header, {0x01});
    ASSERT_NE(m, nullptr);
    AeadOp op = make_op(m, header.size(), 1, keys, 654360564);
    c.engine->seal(k, std::span<AeadOp>(&op, 1));
    EXPECT_TRUE(op.ok);
    EXPECT_EQ(bytes_of(m, header.size(), expected.size()), expected);
    EXPECT_EQ(bytes_of(m, 0, header.size()), header);  // the AAD is not touched
    op.ok = false;
    c.engine->open(k, std::span<AeadOp>(&op, 1));
    EXPECT_TRUE(op.ok);
    EXPECT_EQ(bytes_of(m, header.size(), 1), Bytes{0x01});
    rte_pktmbuf_free(m);
    c.engine->destroy_key(k);
  }
  EXPECT_EQ(ran, 3);  // aesni_mb async and CPU crypto, chacha20_poly1305 async
}

TEST(CryptodevAead, MatchesOpenSslAndRoundTrips) {
  Devices devices;
  Pool pool = packet_pool();
  ASSERT_NE(pool, nullptr);
  std::mt19937 rng(9001);
  int ran = 0;
  for (EngineCase& c : all_engines(devices)) {
    for (AeadAlgorithm a : kAllAeads) {
      if (!c.engine->supports(a)) continue;
      SCOPED_TRACE(c.label + " " + aead_name(a));
      ++ran;
      const PacketKeys keys = random_keys(a, rng);
      AeadKey* k = c.engine->create_key(keys);
      ASSERT_NE(k, nullptr);
      for (std::size_t len : {1u, 15u, 16u, 17u, 100u, 1200u, 1400u}) {
        const Bytes header = random_bytes(1 + len % 40, rng);
        const Bytes plain = random_bytes(len, rng);
        rte_mbuf* m = make_packet(pool.get(), header, plain);
        ASSERT_NE(m, nullptr);
        AeadOp op = make_op(m, header.size(), plain.size(), keys, len * 31);
        c.engine->seal(k, std::span<AeadOp>(&op, 1));
        ASSERT_TRUE(op.ok);
        EXPECT_EQ(bytes_of(m, header.size(), len + kAeadTagLength),
                  evp_seal(keys, op.nonce, header, plain));
        c.engine->open(k, std::span<AeadOp>(&op, 1));
        EXPECT_TRUE(op.ok);
        EXPECT_EQ(bytes_of(m, header.size(), len), plain);
        rte_pktmbuf_free(m);
      }
      c.engine->destroy_key(k);
    }
  }
  // aesni_gcm 2 modes x 2, aesni_mb 2 x 3, chacha20_poly1305 async 1, openssl async 2.
  EXPECT_EQ(ran, 4 + 6 + 1 + 2);
}

// Bursts of 32 with mixed sizes (0..1400) and header lengths (so several
// sessions per key), and one flipped bit failing only its own op.
TEST(CryptodevAead, MixedBurstsAndTampering) {
  Devices devices;
  Pool pool = packet_pool();
  ASSERT_NE(pool, nullptr);
  std::mt19937 rng(42);
  constexpr std::size_t kBurst = 32;
  constexpr std::size_t kHeaderLengths[] = {4, 5, 21, 22, 47, 64};
  for (EngineCase& c : all_engines(devices)) {
    for (AeadAlgorithm a : kAllAeads) {
      if (!c.engine->supports(a)) continue;
      SCOPED_TRACE(c.label + " " + aead_name(a));
      const PacketKeys keys = random_keys(a, rng);
      AeadKey* k = c.engine->create_key(keys);
      ASSERT_NE(k, nullptr);
      for (int round = 0; round < 4; ++round) {
        std::vector<Bytes> plains;
        std::vector<rte_mbuf*> mbufs;
        std::vector<AeadOp> ops;
        for (std::size_t i = 0; i < kBurst; ++i) {
          const std::size_t len = i == 0 ? 0 : rng() % 1401;
          const Bytes header = random_bytes(kHeaderLengths[rng() % 6], rng);
          plains.push_back(random_bytes(len, rng));
          mbufs.push_back(make_packet(pool.get(), header, plains.back()));
          ASSERT_NE(mbufs.back(), nullptr);
          ops.push_back(make_op(mbufs.back(), header.size(), len, keys, round * 100 + i));
        }
        c.engine->seal(k, ops);
        for (std::size_t i = 0; i < kBurst; ++i)
          EXPECT_TRUE(ops[i].ok) << "seal " << i << " len " << ops[i].payload_length;
        const std::size_t bad = 1 + rng() % (kBurst - 1);
        // Flip a bit in the ciphertext, the AAD or the tag.
        const std::uint32_t where = round % 3 == 0 ? ops[bad].payload_offset
                                    : round % 3 == 1
                                        ? 0
                                        : ops[bad].payload_offset + ops[bad].payload_length;
        rte_pktmbuf_mtod_offset(mbufs[bad], std::uint8_t*, where)[0] ^= 0x10;
        c.engine->open(k, ops);
        for (std::size_t i = 0; i < kBurst; ++i) {
          if (i == bad) {
            EXPECT_FALSE(ops[i].ok);
            continue;
          }
          EXPECT_TRUE(ops[i].ok) << "open " << i;
          EXPECT_EQ(bytes_of(mbufs[i], ops[i].payload_offset, ops[i].payload_length), plains[i]);
        }
        for (rte_mbuf* m : mbufs)
          rte_pktmbuf_free(m);
      }
      c.engine->destroy_key(k);
      EXPECT_EQ(c.engine->counters().timeouts, 0u);
      EXPECT_EQ(c.engine->counters().session_failures, 0u);
    }
  }
}

// Gather seals: the payload comes from three outside segments; the packet
// must match an in-place seal of the same bytes and the source stay intact.
// Out of place where the engine's start-up self-test allowed it, else the
// engine copies (and counts it).
TEST(CryptodevAead, GatherSealMatchesInPlace) {
  Devices devices;
  Pool pool = packet_pool();
  ASSERT_NE(pool, nullptr);
  std::mt19937 rng(7);
  for (EngineCase& c : all_engines(devices)) {
    const AeadAlgorithm a = c.engine->supports(AeadAlgorithm::kAes128Gcm)
                                ? AeadAlgorithm::kAes128Gcm
                                : AeadAlgorithm::kChacha20Poly1305;
    SCOPED_TRACE(c.label + (c.engine->supports_gather() ? " (out of place)" : " (copy)"));
    // Every software PMD here advertises OOP_SGL_IN_LB_OUT: the async path
    // must gather for real.
    if (c.engine->mode() == CryptodevMode::kAsync) {
      EXPECT_TRUE(c.engine->supports_gather());
    }
    const PacketKeys keys = random_keys(a, rng);
    AeadKey* k = c.engine->create_key(keys);
    ASSERT_NE(k, nullptr);
    const Bytes header = random_bytes(13, rng);
    const Bytes plain = random_bytes(1000, rng);
    const Bytes source = plain;
    // The software PMDs address memory by VA.
    auto va = [](const std::uint8_t* p) {
      return static_cast<rte_iova_t>(reinterpret_cast<std::uintptr_t>(p));
    };
    const ByteSegment segs[3] = {{source.data(), va(source.data()), 300},
                                 {source.data() + 300, va(source.data() + 300), 1},
                                 {source.data() + 301, va(source.data() + 301), 699}};
    rte_mbuf* ref = make_packet(pool.get(), header, plain);
    rte_mbuf* out = make_packet(pool.get(), header, Bytes(plain.size(), 0));
    ASSERT_NE(ref, nullptr);
    ASSERT_NE(out, nullptr);
    AeadOp ops[2] = {make_op(ref, header.size(), plain.size(), keys, 5),
                     make_op(out, header.size(), plain.size(), keys, 5)};
    ops[1].gather = segs;
    const std::uint64_t copies = c.engine->counters().gather_copies;
    c.engine->seal(k, ops);
    EXPECT_TRUE(ops[0].ok && ops[1].ok);
    EXPECT_EQ(c.engine->counters().gather_copies - copies, c.engine->supports_gather() ? 0u : 1u);
    EXPECT_EQ(bytes_of(out, 0, header.size() + plain.size() + kAeadTagLength),
              bytes_of(ref, 0, header.size() + plain.size() + kAeadTagLength));
    EXPECT_EQ(source, plain);
    // A gather that does not add up fails that op only.
    AeadOp short_op = make_op(out, header.size(), plain.size() + 1, keys, 6);
    short_op.gather = segs;
    c.engine->seal(k, std::span<AeadOp>(&short_op, 1));
    EXPECT_FALSE(short_op.ok);
    // A segment whose IO address is unknown (file pages never registered
    // with a device): these software PMDs read by virtual address, so it is
    // gathered all the same (a hardware device would get a copy instead).
    const ByteSegment unknown[2] = {{source.data(), va(source.data()), 500},
                                    {source.data() + 500, RTE_BAD_IOVA, 500}};
    AeadOp again = make_op(out, header.size(), plain.size(), keys, 5);
    again.gather = unknown;
    const std::uint64_t before = c.engine->counters().gather_copies;
    c.engine->seal(k, std::span<AeadOp>(&again, 1));
    EXPECT_TRUE(again.ok);
    EXPECT_FALSE(c.info.hw_accelerated());
    EXPECT_EQ(c.engine->counters().gather_copies - before, c.engine->supports_gather() ? 0u : 1u);
    EXPECT_EQ(c.engine->gather_copies(), c.engine->counters().gather_copies);
    EXPECT_EQ(bytes_of(out, 0, header.size() + plain.size() + kAeadTagLength),
              bytes_of(ref, 0, header.size() + plain.size() + kAeadTagLength));
    rte_pktmbuf_free(ref);
    rte_pktmbuf_free(out);
    c.engine->destroy_key(k);
  }
}

// RFC 9001 A.2: header protection mask of the client Initial.
TEST(CryptodevHp, Rfc9001A2MaskByEcbAndByCtr) {
  Devices devices;
  PacketKeys keys;
  keys.aead = AeadAlgorithm::kAes128Gcm;
  const Bytes hp = hex("9f50449e04a0e810283a1e9933adedd2");
  std::copy(hp.begin(), hp.end(), keys.hp_key.begin());
  HpSample sample{};
  const Bytes s = hex("d1b1c98dd7689fb8ec11d242b123dc9b");
  std::copy(s.begin(), s.end(), sample.begin());
  const Bytes expected = hex("437b9aec36");

  struct Case {
    const char* device;
    bool ecb;
  };
  for (const Case& cs : {Case{"crypto_aesni_mb0", true}, Case{"crypto_openssl0", false}}) {
    SCOPED_TRACE(cs.device);
    const drivers::CryptoDevice* d = devices.find(cs.device);
    ASSERT_NE(d, nullptr);
    auto e = make_cryptodev_hp_engine(*d, 0);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->uses_ecb(AeadAlgorithm::kAes128Gcm), cs.ecb);
    EXPECT_TRUE(e->supports(AeadAlgorithm::kAes256Gcm));
    EXPECT_FALSE(e->supports(AeadAlgorithm::kChacha20Poly1305));
    HpKey* k = e->create_key(keys);
    ASSERT_NE(k, nullptr);
    // The vector's sample among others, in a burst longer than one device round.
    std::vector<HpSample> samples(150, sample);
    for (std::size_t i = 0; i < samples.size(); i += 2)
      samples[i][0] = static_cast<std::uint8_t>(i);
    std::vector<HpMask> masks(samples.size());
    ASSERT_TRUE(e->masks(k, samples, masks));
    for (std::size_t i = 1; i < samples.size(); i += 2)
      EXPECT_EQ(Bytes(masks[i].begin(), masks[i].end()), expected) << i;
    // Same masks as a one-shot OpenSSL AES-ECB.
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), nullptr, keys.hp_key.data(), nullptr);
    for (std::size_t i = 0; i < samples.size(); i += 2) {
      std::uint8_t block[32];
      int len = 0;
      EVP_EncryptUpdate(ctx, block, &len, samples[i].data(), 16);
      EXPECT_EQ(0, std::memcmp(block, masks[i].data(), kHpMaskLength)) << i;
    }
    EVP_CIPHER_CTX_free(ctx);
    e->destroy_key(k);
  }
  // aesni_gcm offers neither AES-ECB nor AES-CTR: no HP engine there.
  EXPECT_EQ(make_cryptodev_hp_engine(*devices.find("crypto_aesni_gcm0"), 0), nullptr);
}

// A tiny session pool: keys are refused once sessions run out (the pipeline
// then goes inline), ops of a key that cannot get a session fail cleanly,
// and everything comes back when keys are destroyed.
TEST(CryptodevAead, SessionExhaustionRefusesKeysWithoutCrashing) {
  Devices devices(8);
  Pool pool = packet_pool();
  ASSERT_NE(pool, nullptr);
  std::mt19937 rng(3);
  for (CryptodevMode mode : {CryptodevMode::kAsync, CryptodevMode::kCpuCrypto}) {
    const drivers::CryptoDevice* d = devices.find("crypto_aesni_mb0");
    ASSERT_NE(d, nullptr);
    auto e = make_cryptodev_aead_engine(*d, 0, mode);
    ASSERT_NE(e, nullptr);
    SCOPED_TRACE(e->name());
    const unsigned free_at_start = rte_mempool_avail_count(d->session_pool);
    std::vector<AeadKey*> keys;
    std::vector<PacketKeys> material;
    bool refused = false;
    bool failed_op = false;
    for (int i = 0; i < 32 && !refused; ++i) {
      material.push_back(random_keys(AeadAlgorithm::kAes128Gcm, rng));
      AeadKey* k = e->create_key(material.back());
      if (k == nullptr) {
        refused = true;
        break;
      }
      keys.push_back(k);
      // Each key uses sessions for two header shapes.
      for (std::size_t hl : {5u, 9u}) {
        rte_mbuf* m = make_packet(pool.get(), Bytes(hl, 0x41), Bytes(64, 0x42));
        ASSERT_NE(m, nullptr);
        AeadOp op = make_op(m, hl, 64, material.back(), 1);
        e->seal(k, std::span<AeadOp>(&op, 1));
        if (!op.ok) failed_op = true;
        rte_pktmbuf_free(m);
      }
    }
    EXPECT_TRUE(refused);
    (void)failed_op;  // may or may not happen depending on headroom: it must not crash
    for (AeadKey* k : keys)
      e->destroy_key(k);
    EXPECT_EQ(rte_mempool_avail_count(d->session_pool), free_at_start);
    // And keys are accepted again.
    AeadKey* k = e->create_key(material.front());
    EXPECT_NE(k, nullptr);
    e->destroy_key(k);
  }
  // The HP engine refuses a key when no session is left.
  const drivers::CryptoDevice* d = devices.find("crypto_aesni_mb0");
  auto hp = make_cryptodev_hp_engine(*d, 0);
  ASSERT_NE(hp, nullptr);
  std::vector<HpKey*> hp_keys;
  PacketKeys keys = random_keys(AeadAlgorithm::kAes128Gcm, rng);
  for (int i = 0; i < 32; ++i) {
    HpKey* k = hp->create_key(keys);
    if (k == nullptr) break;
    hp_keys.push_back(k);
  }
  EXPECT_LT(hp_keys.size(), 32u);
  EXPECT_GT(hp_keys.size(), 0u);
  for (HpKey* k : hp_keys)
    hp->destroy_key(k);
}

TEST(Backends, AutoPolicyAndOverrides) {
  const auto devices = drivers::probe_crypto_devices();
  auto index_of = [&](const char* name) {
    for (std::size_t i = 0; i < devices.size(); ++i)
      if (devices[i].name == name) return static_cast<int>(i);
    return -1;
  };
  BackendChoice c;
  std::string err;
  auto choose = [&](const char* aead, const char* hp, const char* device, bool zero_copy = false) {
    ProtectionOptions o;
    o.aead = aead;
    o.hp = hp;
    o.device = device;
    o.zero_copy = zero_copy;
    err.clear();
    return choose_backends(o, devices, &c, &err);
  };
  // auto: CPU crypto on the first device with it and AES-GCM; HP inline.
  ASSERT_TRUE(choose("auto", "auto", "")) << err;
  EXPECT_EQ(c.aead, AeadBackend::kCpuCrypto);
  EXPECT_EQ(c.aead_device, index_of("crypto_aesni_gcm0"));
  EXPECT_EQ(c.hp, HpBackend::kInline);
  // Named device without CPU crypto: async on it.
  ASSERT_TRUE(choose("auto", "auto", "crypto_openssl0")) << err;
  EXPECT_EQ(c.aead, AeadBackend::kCryptodevAsync);
  EXPECT_EQ(c.aead_device, index_of("crypto_openssl0"));
  // Named device without AES-GCM: auto falls back inline.
  ASSERT_TRUE(choose("auto", "auto", "crypto_chacha20_poly1305_0")) << err;
  EXPECT_EQ(c.aead, AeadBackend::kInline);
  // Explicit choices.
  ASSERT_TRUE(choose("inline", "inline", "")) << err;
  EXPECT_EQ(c.aead, AeadBackend::kInline);
  EXPECT_EQ(c.aead_device, -1);
  ASSERT_TRUE(choose("cryptodev", "auto", "")) << err;
  EXPECT_EQ(c.aead, AeadBackend::kCryptodevAsync);
  EXPECT_EQ(c.aead_device, index_of("crypto_aesni_gcm0"));  // no HW device: first with AES-GCM
  ASSERT_TRUE(choose("cpu", "auto", "crypto_aesni_mb0")) << err;
  EXPECT_EQ(c.aead, AeadBackend::kCpuCrypto);
  EXPECT_EQ(c.aead_device, index_of("crypto_aesni_mb0"));
  ASSERT_TRUE(choose("cpu", "auto", "crypto_chacha20_poly1305_0")) << err;
  EXPECT_EQ(c.aead_device, index_of("crypto_chacha20_poly1305_0"));
  // HP on the device: the AEAD's device lacks ECB/CTR, so aesni_mb (ECB).
  ASSERT_TRUE(choose("auto", "cryptodev", "")) << err;
  EXPECT_EQ(c.hp, HpBackend::kCryptodev);
  EXPECT_EQ(c.hp_device, index_of("crypto_aesni_mb0"));
  ASSERT_TRUE(choose("cryptodev", "cryptodev", "crypto_openssl0")) << err;
  EXPECT_EQ(c.hp_device, index_of("crypto_openssl0"));  // AES-CTR
  // Zero-copy: only engines that read the gather list where it lies, i.e.
  // a software device async (CPU crypto cannot write out of place).
  ASSERT_TRUE(choose("auto", "auto", "", true)) << err;
  EXPECT_EQ(c.aead, AeadBackend::kCryptodevAsync);
  EXPECT_EQ(c.aead_device, index_of("crypto_aesni_gcm0"));
  ASSERT_TRUE(choose("cryptodev", "auto", "crypto_aesni_mb0", true)) << err;
  EXPECT_EQ(c.aead, AeadBackend::kCryptodevAsync);
  EXPECT_EQ(c.aead_device, index_of("crypto_aesni_mb0"));
  ASSERT_TRUE(choose("auto", "auto", "crypto_chacha20_poly1305_0", true)) << err;
  EXPECT_EQ(c.aead, AeadBackend::kInline);
  ASSERT_TRUE(choose("inline", "auto", "", true)) << err;
  EXPECT_EQ(c.aead, AeadBackend::kInline);
  EXPECT_FALSE(choose("cpu", "auto", "", true));
  EXPECT_NE(err.find("out of place"), std::string::npos) << err;
  EXPECT_FALSE(choose("cryptodev", "auto", "crypto_chacha20_poly1305_0", true));
  // What the machine cannot do is an error, never a silent downgrade.
  EXPECT_FALSE(choose("cpu", "auto", "crypto_openssl0"));
  EXPECT_NE(err.find("cpu"), std::string::npos) << err;
  EXPECT_FALSE(choose("auto", "cryptodev", "crypto_aesni_gcm0"));
  EXPECT_FALSE(choose("auto", "auto", "crypto_nonexistent0"));
  EXPECT_NE(err.find("not found"), std::string::npos) << err;
  EXPECT_FALSE(choose("gpu", "auto", ""));
  EXPECT_FALSE(choose("auto", "fast", ""));
  // Without any device, auto is inline and explicit device choices fail.
  const std::vector<drivers::CryptoDeviceInfo> none;
  ProtectionOptions o;
  ASSERT_TRUE(choose_backends(o, none, &c, &err));
  EXPECT_EQ(c.aead, AeadBackend::kInline);
  o.aead = "cryptodev";
  EXPECT_FALSE(choose_backends(o, none, &c, &err));
}

TEST(Backends, CreatesEnginesAndProtectorsPerLane) {
  std::string err;
  {
    ProtectionOptions o;
    auto b = ProtectionBackends::create(o, 2, &err);
    ASSERT_NE(b, nullptr) << err;
    const std::string d = b->describe();
    EXPECT_NE(d.find("aead=cpu on crypto_aesni_gcm0"), std::string::npos) << d;
    EXPECT_NE(d.find("hp=inline"), std::string::npos) << d;
    EXPECT_STREQ(b->aead_engine(0)->name(), "cryptodev-cpu:crypto_aesni_gcm0");
    EXPECT_NE(b->aead_engine(0), b->aead_engine(1));
    auto p0 = b->make_protector(0);
    auto p1 = b->make_protector(1);
    EXPECT_NE(p0, nullptr);
    EXPECT_NE(p1, nullptr);
    EXPECT_EQ(b->make_protector(2), nullptr);
  }
  {
    ProtectionOptions o;
    o.aead = "cryptodev";
    o.hp = "cryptodev";
    o.sessions = 128;
    auto b = ProtectionBackends::create(o, 1, &err);
    ASSERT_NE(b, nullptr) << err;
    EXPECT_STREQ(b->aead_engine(0)->name(), "cryptodev-async:crypto_aesni_gcm0");
    EXPECT_STREQ(b->hp_engine(0)->name(), "cryptodev-hp:crypto_aesni_mb0");
    EXPECT_NE(b->make_protector(0), nullptr);
  }
  {
    ProtectionOptions o;
    o.aead = "inline";
    auto b = ProtectionBackends::create(o, 1, &err);
    ASSERT_NE(b, nullptr) << err;
    EXPECT_NE(b->describe().find("aead=inline"), std::string::npos) << b->describe();
  }
  {
    ProtectionOptions o;
    o.zero_copy = true;
    auto b = ProtectionBackends::create(o, 1, &err);
    ASSERT_NE(b, nullptr) << err;
    const std::string d = b->describe();
    EXPECT_NE(d.find("cryptodev-async:crypto_aesni_gcm0, gather out-of-place"), std::string::npos)
        << d;
    EXPECT_NE(d.find("zero-copy"), std::string::npos) << d;
    auto p = b->make_protector(0);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(p->gather_preferred());  // the async engine alone would copy (cheaper)
    EXPECT_EQ(p->gather_copies(), 0u);
  }
  ProtectionOptions bad;
  bad.aead = "cpu";
  bad.device = "crypto_openssl0";
  EXPECT_EQ(ProtectionBackends::create(bad, 1, &err), nullptr);
  EXPECT_FALSE(err.empty());
  // Chosen by capability, refused by the engine's start-up self-test: the
  // 22.11 chacha20_poly1305 PMD advertises CPU crypto but does not do it.
  bad.device = "crypto_chacha20_poly1305_0";
  EXPECT_EQ(ProtectionBackends::create(bad, 1, &err), nullptr);
  EXPECT_NE(err.find("AEAD engine"), std::string::npos) << err;
  // More lanes than the device has queue pairs.
  ProtectionOptions many;
  EXPECT_EQ(ProtectionBackends::create(many, 1000, &err), nullptr);
  EXPECT_NE(err.find("queue pairs"), std::string::npos) << err;
}

}  // namespace
}  // namespace dquic::offload
