// The protection pipeline end to end: RFC 9001 Appendix A packets byte-exact,
// and seal/open properties, through every backend pairing on this machine.
#include "offload/protector.h"

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "offload/rfc9001_vectors.h"
#include "offload/test_backends.h"

namespace dquic::offload {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes hex(const char* s) {
  Bytes out;
  for (std::size_t i = 0; s[i] && s[i + 1]; i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoul(std::string(s + i, 2), nullptr, 16)));
  }
  return out;
}

PacketKeys make_keys(AeadAlgorithm a, const char* key, const char* iv, const char* hp) {
  PacketKeys k;
  k.aead = a;
  const Bytes kb = hex(key), ib = hex(iv), hb = hex(hp);
  std::copy(kb.begin(), kb.end(), k.key.begin());
  std::copy(ib.begin(), ib.end(), k.iv.begin());
  std::copy(hb.begin(), hb.end(), k.hp_key.begin());
  return k;
}

// RFC 9001 A.1 and A.5.
PacketKeys client_initial_keys() {
  return make_keys(AeadAlgorithm::kAes128Gcm, "1f369613dd76d5467730efcbe3b1a22d",
                   "fa044b2f42a3fd3b46fb255c", "9f50449e04a0e810283a1e9933adedd2");
}
PacketKeys server_initial_keys() {
  return make_keys(AeadAlgorithm::kAes128Gcm, "cf3a5331653c364c88f0f379b6067e37",
                   "0ac1493ca1905853b0bba03e", "c206b8d9b9f0f37644430b490eeaa314");
}
PacketKeys chacha_keys() {
  return make_keys(AeadAlgorithm::kChacha20Poly1305,
                   "c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8",
                   "e0459b3474bdd0e44a41c144",
                   "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4");
}

struct PoolDeleter {
  void operator()(rte_mempool* mp) const { rte_mempool_free(mp); }
};

class ProtectorTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    pool_.reset(rte_pktmbuf_pool_create("protector_test", 2047, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM,
                                        static_cast<int>(rte_socket_id())));
    ASSERT_NE(pool_, nullptr) << rte_strerror(rte_errno);
  }
  static void TearDownTestSuite() { pool_.reset(); }

  void SetUp() override {
    backends_ = make_test_backends(GetParam());
    ASSERT_NE(backends_, nullptr) << GetParam();
    protector_ = &backends_->protector();
  }
  void TearDown() override {
    for (rte_mbuf* m : mbufs_)
      rte_pktmbuf_free(m);
    EXPECT_EQ(rte_mempool_avail_count(pool_.get()), 2047u);
  }

  rte_mbuf* packet(const Bytes& bytes) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_.get());
    EXPECT_NE(m, nullptr);
    auto* p = reinterpret_cast<std::uint8_t*>(
        rte_pktmbuf_append(m, static_cast<std::uint16_t>(bytes.size())));
    EXPECT_NE(p, nullptr);
    std::memcpy(p, bytes.data(), bytes.size());
    mbufs_.push_back(m);
    return m;
  }
  static Bytes contents(const rte_mbuf* m) {
    const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
    return Bytes(p, p + rte_pktmbuf_data_len(m));
  }

  static inline std::unique_ptr<rte_mempool, PoolDeleter> pool_;
  std::unique_ptr<TestBackends> backends_;
  Protector* protector_ = nullptr;
  std::vector<rte_mbuf*> mbufs_;
};

// RFC 9001 A.2: the client Initial, 1162 bytes of CRYPTO + PADDING.
Bytes a2_unprotected() {
  Bytes b(22 + 1162 + kAeadTagLength, 0);
  std::copy(std::begin(test::kA2UnprotectedHeader), std::end(test::kA2UnprotectedHeader),
            b.begin());
  std::copy(std::begin(test::kA2CryptoFrame), std::end(test::kA2CryptoFrame), b.begin() + 22);
  return b;
}

TEST_P(ProtectorTest, Rfc9001ClientInitialSealIsByteExact) {
  KeyHandle* key = protector_->install(client_initial_keys());
  ASSERT_NE(key, nullptr);
  SealJob job;
  job.m = packet(a2_unprotected());
  job.header_length = 22;
  job.pn_offset = 18;
  job.pn_length = 4;
  job.payload_length = 1162;
  job.packet_number = 2;
  job.key = key;
  protector_->seal_burst({&job, 1});
  ASSERT_TRUE(job.ok);
  EXPECT_EQ(contents(job.m),
            Bytes(std::begin(test::kA2ProtectedPacket), std::end(test::kA2ProtectedPacket)));
  protector_->release(key);
}

TEST_P(ProtectorTest, Rfc9001ClientInitialOpens) {
  KeyHandle* key = protector_->install(client_initial_keys());
  ASSERT_NE(key, nullptr);
  OpenJob job;
  job.m = packet(Bytes(std::begin(test::kA2ProtectedPacket), std::end(test::kA2ProtectedPacket)));
  job.pn_offset = 18;
  job.packet_length = 1200;
  job.long_header = true;
  job.key = key;
  protector_->open_burst({&job, 1});
  ASSERT_EQ(job.status, OpenStatus::kOk);
  EXPECT_EQ(job.packet_number, 2u);
  EXPECT_EQ(job.pn_length, 4);
  EXPECT_EQ(job.first_byte, 0xc3);
  EXPECT_EQ(job.header_length, 22);
  EXPECT_EQ(job.payload_length, 1162);
  const Bytes expected = a2_unprotected();
  const Bytes got = contents(job.m);
  EXPECT_TRUE(std::equal(expected.begin(), expected.begin() + 22 + 1162, got.begin()));
  protector_->release(key);
}

TEST_P(ProtectorTest, Rfc9001ServerInitialBothWays) {
  KeyHandle* key = protector_->install(server_initial_keys());
  ASSERT_NE(key, nullptr);
  constexpr std::size_t kHdr = sizeof(test::kA3UnprotectedHeader);
  Bytes plain(kHdr + sizeof(test::kA3Payload) + kAeadTagLength, 0);
  std::copy(std::begin(test::kA3UnprotectedHeader), std::end(test::kA3UnprotectedHeader),
            plain.begin());
  std::copy(std::begin(test::kA3Payload), std::end(test::kA3Payload), plain.begin() + kHdr);
  const Bytes prot(std::begin(test::kA3ProtectedPacket), std::end(test::kA3ProtectedPacket));

  SealJob s;
  s.m = packet(plain);
  s.header_length = sizeof(test::kA3UnprotectedHeader);
  s.pn_offset = static_cast<std::uint16_t>(s.header_length - 2);
  s.pn_length = 2;
  s.payload_length = sizeof(test::kA3Payload);
  s.packet_number = 1;
  s.key = key;
  protector_->seal_burst({&s, 1});
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(contents(s.m), prot);

  OpenJob o;
  o.m = packet(prot);
  o.pn_offset = s.pn_offset;
  o.packet_length = static_cast<std::uint16_t>(prot.size());
  o.long_header = true;
  o.largest_received = 0;
  o.key = key;
  protector_->open_burst({&o, 1});
  ASSERT_EQ(o.status, OpenStatus::kOk);
  EXPECT_EQ(o.packet_number, 1u);
  const Bytes opened = contents(o.m);  // the tag stays as received
  EXPECT_TRUE(std::equal(plain.begin(), plain.end() - kAeadTagLength, opened.begin()));
  protector_->release(key);
}

// RFC 9001 A.5: ChaCha20-Poly1305, short header, 3-byte packet number.
TEST_P(ProtectorTest, Rfc9001ChaChaShortHeaderBothWays) {
  KeyHandle* key = protector_->install(chacha_keys());
  ASSERT_NE(key, nullptr);
  Bytes plain = hex("4200bff401");
  plain.resize(plain.size() + kAeadTagLength, 0);
  SealJob s;
  s.m = packet(plain);
  s.header_length = 4;
  s.pn_offset = 1;
  s.pn_length = 3;
  s.payload_length = 1;
  s.packet_number = 654360564;
  s.key = key;
  protector_->seal_burst({&s, 1});
  ASSERT_TRUE(s.ok);
  EXPECT_EQ(contents(s.m), hex("4cfe4189655e5cd55c41f69080575d7999c25a5bfb"));

  OpenJob o;
  o.m = packet(hex("4cfe4189655e5cd55c41f69080575d7999c25a5bfb"));
  o.pn_offset = 1;
  o.packet_length = 21;
  o.largest_received = 654360560;
  o.key = key;
  protector_->open_burst({&o, 1});
  ASSERT_EQ(o.status, OpenStatus::kOk);
  EXPECT_EQ(o.packet_number, 654360564u);
  EXPECT_EQ(o.payload_length, 1);
  EXPECT_EQ(contents(o.m)[4], 0x01);
  protector_->release(key);
}

// A random packet: long or short header, random pn length, payload at least
// large enough for the header-protection sample.
struct RandomPacket {
  Bytes plain;  // header + payload + zeroed tag space
  std::uint16_t header_length, pn_offset, payload_length;
  std::uint8_t pn_length;
  std::uint64_t pn;
  bool long_header;
  int key_index;
};

RandomPacket random_packet(std::mt19937_64& rng, int keys) {
  RandomPacket p;
  p.long_header = rng() & 1;
  p.pn_length = static_cast<std::uint8_t>(1 + rng() % 4);
  p.pn = rng() % (1u << 30);
  const std::size_t dcid = rng() % 21;
  p.pn_offset = static_cast<std::uint16_t>(p.long_header ? 7 + dcid + 1 + 2 : 1 + dcid);
  p.header_length = static_cast<std::uint16_t>(p.pn_offset + p.pn_length);
  p.payload_length = static_cast<std::uint16_t>(4 - p.pn_length + 16 + rng() % 1300);
  p.plain.resize(p.header_length + p.payload_length + kAeadTagLength);
  for (auto& b : p.plain)
    b = static_cast<std::uint8_t>(rng());
  p.plain[0] = static_cast<std::uint8_t>((p.long_header ? 0xc0 : 0x40) | (p.pn_length - 1));
  for (std::size_t i = 0; i < p.pn_length; ++i) {
    p.plain[p.pn_offset + i] = static_cast<std::uint8_t>(p.pn >> (8 * (p.pn_length - 1 - i)));
  }
  std::fill(p.plain.end() - kAeadTagLength, p.plain.end(), 0);
  p.key_index = static_cast<int>(rng() % keys);
  return p;
}

TEST_P(ProtectorTest, OpenOfSealIsIdentityAcrossMixedBursts) {
  std::vector<KeyHandle*> keys = {protector_->install(client_initial_keys()),
                                  protector_->install(server_initial_keys()),
                                  protector_->install(chacha_keys())};
  PacketKeys aes256 = client_initial_keys();
  aes256.aead = AeadAlgorithm::kAes256Gcm;
  for (std::size_t i = 16; i < 32; ++i)
    aes256.key[i] = aes256.hp_key[i] = static_cast<std::uint8_t>(i);
  keys.push_back(protector_->install(aes256));
  for (KeyHandle* k : keys)
    ASSERT_NE(k, nullptr);

  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; ++round) {
    const std::size_t n = 1 + rng() % 80;  // spans more than one internal chunk
    std::vector<RandomPacket> pkts;
    std::vector<SealJob> seals(n);
    for (std::size_t i = 0; i < n; ++i) {
      pkts.push_back(random_packet(rng, static_cast<int>(keys.size())));
      const RandomPacket& p = pkts.back();
      SealJob& s = seals[i];
      s.m = packet(p.plain);
      s.header_length = p.header_length;
      s.pn_offset = p.pn_offset;
      s.pn_length = p.pn_length;
      s.payload_length = p.payload_length;
      s.packet_number = p.pn;
      s.key = keys[p.key_index];
    }
    protector_->seal_burst(seals);
    std::vector<OpenJob> opens(n);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(seals[i].ok) << i;
      OpenJob& o = opens[i];
      o.m = seals[i].m;
      o.pn_offset = pkts[i].pn_offset;
      o.packet_length = static_cast<std::uint16_t>(pkts[i].plain.size());
      o.long_header = pkts[i].long_header;
      o.largest_received = pkts[i].pn == 0 ? kNoPacketNumber : pkts[i].pn - 1;
      o.key = keys[pkts[i].key_index];
    }
    protector_->open_burst(opens);
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(opens[i].status, OpenStatus::kOk) << i;
      EXPECT_EQ(opens[i].packet_number, pkts[i].pn);
      const Bytes got = contents(opens[i].m);
      const std::size_t body = pkts[i].header_length + pkts[i].payload_length;
      EXPECT_TRUE(std::equal(got.begin(), got.begin() + body, pkts[i].plain.begin())) << i;
    }
  }
  for (KeyHandle* k : keys)
    protector_->release(k);
}

TEST_P(ProtectorTest, FlippedBitFailsOnlyThatPacket) {
  KeyHandle* key = protector_->install(client_initial_keys());
  ASSERT_NE(key, nullptr);
  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<RandomPacket> pkts;
    std::vector<SealJob> seals(8);
    for (auto& s : seals) {
      pkts.push_back(random_packet(rng, 1));
      const RandomPacket& p = pkts.back();
      s.m = packet(p.plain);
      s.header_length = p.header_length;
      s.pn_offset = p.pn_offset;
      s.pn_length = p.pn_length;
      s.payload_length = p.payload_length;
      s.packet_number = p.pn;
      s.key = key;
    }
    protector_->seal_burst(seals);
    const std::size_t victim = rng() % seals.size();
    auto* bytes = rte_pktmbuf_mtod(seals[victim].m, std::uint8_t*);
    const std::size_t len = pkts[victim].plain.size();
    // Anywhere except the unprotected-by-design bits (first byte's form and
    // fixed bits do not change what is authenticated once HP is removed, but
    // they do: the AAD covers the whole header, so every bit counts).
    const std::size_t at = rng() % len;
    bytes[at] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
    std::vector<OpenJob> opens(seals.size());
    for (std::size_t i = 0; i < opens.size(); ++i) {
      opens[i].m = seals[i].m;
      opens[i].pn_offset = pkts[i].pn_offset;
      opens[i].packet_length = static_cast<std::uint16_t>(pkts[i].plain.size());
      opens[i].long_header = pkts[i].long_header;
      opens[i].largest_received = pkts[i].pn - 1;
      opens[i].key = key;
    }
    protector_->open_burst(opens);
    for (std::size_t i = 0; i < opens.size(); ++i) {
      if (i == victim) {
        // A flip in the short header's key-phase bit is reported as a phase
        // change with no key; anything else fails authentication.
        EXPECT_TRUE(opens[i].status == OpenStatus::kAuthFailed ||
                    opens[i].status == OpenStatus::kNoKey)
            << "byte " << at;
      } else {
        EXPECT_EQ(opens[i].status, OpenStatus::kOk);
      }
    }
  }
  EXPECT_GT(protector_->counters().auth_failures, 0u);
  protector_->release(key);
}

TEST_P(ProtectorTest, KeyPhaseBitSelectsTheKey) {
  // RFC 9001 §6: a key update changes key and IV but keeps the HP key.
  PacketKeys next = server_initial_keys();
  next.hp_key = client_initial_keys().hp_key;
  KeyHandle* phase0 = protector_->install(client_initial_keys(), false);
  KeyHandle* phase1 = protector_->install(next, true);
  ASSERT_NE(phase0, nullptr);
  ASSERT_NE(phase1, nullptr);
  // Sealed under phase 1 with the key-phase bit set (RFC 9001 §6).
  Bytes plain(40, 0x5a);
  plain[0] = 0x40 | 0x04 | 0x01;  // short header, key phase 1, 2-byte pn
  plain[1] = 0x00;
  plain[2] = 0x07;
  SealJob s;
  s.m = packet(plain);
  s.header_length = 3;
  s.pn_offset = 1;
  s.pn_length = 2;
  s.payload_length = static_cast<std::uint16_t>(plain.size() - 3 - kAeadTagLength);
  s.packet_number = 7;
  s.key = phase1;
  protector_->seal_burst({&s, 1});
  ASSERT_TRUE(s.ok);
  const Bytes sealed = contents(s.m);

  OpenJob without;
  without.m = packet(sealed);
  without.pn_offset = 1;
  without.packet_length = static_cast<std::uint16_t>(sealed.size());
  without.largest_received = 6;
  without.key = phase0;
  OpenJob with = without;
  with.m = packet(sealed);
  with.other_phase = phase1;
  std::array<OpenJob, 2> jobs = {without, with};
  protector_->open_burst(jobs);
  EXPECT_EQ(jobs[0].status, OpenStatus::kNoKey);
  ASSERT_EQ(jobs[1].status, OpenStatus::kOk);
  EXPECT_TRUE(jobs[1].key_phase);
  EXPECT_TRUE(jobs[1].used_other_phase);
  EXPECT_EQ(jobs[1].packet_number, 7u);
  protector_->release(phase0);
  protector_->release(phase1);
}

TEST_P(ProtectorTest, GatherSealEqualsInPlaceSeal) {
  KeyHandle* key = protector_->install(client_initial_keys());
  ASSERT_NE(key, nullptr);
  std::mt19937_64 rng(11);
  const RandomPacket p = random_packet(rng, 1);
  SealJob in_place;
  in_place.m = packet(p.plain);
  in_place.header_length = p.header_length;
  in_place.pn_offset = p.pn_offset;
  in_place.pn_length = p.pn_length;
  in_place.payload_length = p.payload_length;
  in_place.packet_number = p.pn;
  in_place.key = key;

  // The payload lives in another buffer, in three pieces.
  Bytes header_only = p.plain;
  std::fill(header_only.begin() + p.header_length, header_only.end(), 0);
  const std::uint8_t* src = p.plain.data() + p.header_length;
  const std::uint32_t a = p.payload_length / 3, b = p.payload_length / 3;
  const std::array<ByteSegment, 3> segs = {
      ByteSegment{src, RTE_BAD_IOVA, a}, ByteSegment{src + a, RTE_BAD_IOVA, b},
      ByteSegment{src + a + b, RTE_BAD_IOVA, p.payload_length - a - b}};
  SealJob gathered = in_place;
  gathered.m = packet(header_only);
  gathered.gather = segs;
  std::array<SealJob, 2> jobs = {in_place, gathered};
  protector_->seal_burst(jobs);
  ASSERT_TRUE(jobs[0].ok);
  ASSERT_TRUE(jobs[1].ok);
  EXPECT_EQ(contents(jobs[0].m), contents(jobs[1].m));
  protector_->release(key);
}

TEST_P(ProtectorTest, TooShortForSampleIsDroppedNotCrashed) {
  KeyHandle* key = protector_->install(client_initial_keys());
  ASSERT_NE(key, nullptr);
  OpenJob o;
  o.m = packet(Bytes(20, 0x41));
  o.pn_offset = 1;
  o.packet_length = 20;  // 1 + 4 + 16 = 21 needed
  o.key = key;
  protector_->open_burst({&o, 1});
  EXPECT_EQ(o.status, OpenStatus::kTooShort);

  SealJob s;
  s.m = packet(Bytes(3 + 1 + kAeadTagLength, 0));
  s.header_length = 3;
  s.pn_offset = 1;
  s.pn_length = 2;
  s.payload_length = 1;  // sample would run past the tag: the sender must pad
  s.key = key;
  protector_->seal_burst({&s, 1});
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(protector_->counters().seal_failures, 1u);
  protector_->release(key);
}

// The devices outlive every test; close them before the EAL goes away.
class CloseDevices : public ::testing::Environment {
 public:
  void TearDown() override { close_test_devices(); }
};
const auto* const kCloseDevices = ::testing::AddGlobalTestEnvironment(new CloseDevices);

INSTANTIATE_TEST_SUITE_P(Backends, ProtectorTest, ::testing::ValuesIn(test_backend_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace dquic::offload
