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

#include "offload/aead_evp.h"
#include "offload/hp_inline.h"
#include "offload/key_phases.h"
#include "offload/rfc9001_vectors.h"
#include "offload/test_backends.h"
#include "quic/key_schedule.h"
#include "quic/version.h"
#include "support/hex.h"

namespace dquic::offload {
namespace {

using test::Bytes;
using test::bytes;
using test::hex;

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

// Zero-copy policy (worker_tx_bench): the inline engine gathers for less
// than a copy; the device engines' per-op mbuf chain costs more than the
// copy on the software PMDs, and the CPU-crypto ones cannot gather.
TEST_P(ProtectorTest, GatherIsPreferredWhereItCostsLessThanACopy) {
  EXPECT_EQ(protector_->gather_preferred(), GetParam() == "inline");
  protector_->set_gather_preferred(true);
  EXPECT_TRUE(protector_->gather_preferred());
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
  with.next_phase = phase1;
  std::array<OpenJob, 2> jobs = {without, with};
  protector_->open_burst(jobs);
  EXPECT_EQ(jobs[0].status, OpenStatus::kNoKey);
  ASSERT_EQ(jobs[1].status, OpenStatus::kOk);
  EXPECT_TRUE(jobs[1].key_phase);
  EXPECT_EQ(jobs[1].used_key, phase1);
  EXPECT_EQ(jobs[1].packet_number, 7u);
  protector_->release(phase0);
  protector_->release(phase1);
}

// RFC 9001 §6.5: with the phase bit of the previous phase, a packet number
// below the current phase's first one opens with the previous keys; one
// above it is the peer's next update.
TEST_P(ProtectorTest, OldPhasePacketsPickPreviousOrNextByPacketNumber) {
  PacketKeys k0 = client_initial_keys();
  PacketKeys k1 = server_initial_keys();
  PacketKeys k2 = chacha_keys();
  k2.aead = AeadAlgorithm::kAes128Gcm;
  k1.hp_key = k2.hp_key = k0.hp_key;  // the HP key survives updates
  KeyHandle* previous = protector_->install(k0, false);
  KeyHandle* current = protector_->install(k1, true);
  KeyHandle* next = protector_->install(k2, false);
  ASSERT_TRUE(previous && current && next);

  auto seal_short = [&](KeyHandle* key, bool phase, std::uint64_t pn) {
    Bytes plain(48, 0x33);
    plain[0] = static_cast<std::uint8_t>(0x40 | (phase ? 0x04 : 0) | 0x01);
    plain[1] = static_cast<std::uint8_t>(pn >> 8);
    plain[2] = static_cast<std::uint8_t>(pn);
    SealJob s;
    s.m = packet(plain);
    s.header_length = 3;
    s.pn_offset = 1;
    s.pn_length = 2;
    s.payload_length = static_cast<std::uint16_t>(plain.size() - 3 - kAeadTagLength);
    s.packet_number = pn;
    s.key = key;
    protector_->seal_burst({&s, 1});
    EXPECT_TRUE(s.ok);
    return s.m;
  };
  std::array<OpenJob, 3> jobs;
  const std::uint64_t pns[3] = {50, 150, 120};
  rte_mbuf* ms[3] = {seal_short(previous, false, 50), seal_short(next, false, 150),
                     seal_short(current, true, 120)};
  for (int i = 0; i < 3; ++i) {
    jobs[i].m = ms[i];
    jobs[i].pn_offset = 1;
    jobs[i].packet_length = 48;
    jobs[i].largest_received = 130;
    jobs[i].key = current;
    jobs[i].next_phase = next;
    jobs[i].previous_phase = previous;
    jobs[i].phase_start = 100;
  }
  protector_->open_burst(jobs);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(jobs[i].status, OpenStatus::kOk) << i;
    EXPECT_EQ(jobs[i].packet_number, pns[i]);
  }
  EXPECT_EQ(jobs[0].used_key, previous);
  EXPECT_EQ(jobs[1].used_key, next);
  EXPECT_EQ(jobs[2].used_key, current);
  for (KeyHandle* k : {previous, current, next})
    protector_->release(k);
}

// A key update end to end (RFC 9001 §6): sender and receiver derive the
// same phases from one secret; the receiver opens the first packet of the
// new phase with the key it installed ahead, and a late packet of the old
// phase with the previous key until it discards it.
TEST_P(ProtectorTest, KeyUpdateAcrossPhases) {
  for (AeadAlgorithm aead :
       {AeadAlgorithm::kAes128Gcm, AeadAlgorithm::kAes256Gcm, AeadAlgorithm::kChacha20Poly1305}) {
    Secret secret;
    const Bytes raw(hash_length(aead_hash(aead)), 0x42);
    ASSERT_TRUE(Secret::from(aead_hash(aead), raw, &secret));
    KeyPhases tx(*protector_, kVersion1), rx(*protector_, kVersion1);
    ASSERT_TRUE(tx.start(aead, secret));
    ASSERT_TRUE(rx.start(aead, secret));

    auto seal = [&](std::uint64_t pn) {
      Bytes plain(60, static_cast<std::uint8_t>(pn));
      plain[0] = static_cast<std::uint8_t>(0x40 | (tx.phase() ? 0x04 : 0) | 0x01);
      plain[1] = static_cast<std::uint8_t>(pn >> 8);
      plain[2] = static_cast<std::uint8_t>(pn);
      SealJob s;
      s.m = packet(plain);
      s.header_length = 3;
      s.pn_offset = 1;
      s.pn_length = 2;
      s.payload_length = static_cast<std::uint16_t>(plain.size() - 3 - kAeadTagLength);
      s.packet_number = pn;
      s.key = tx.current();
      protector_->seal_burst({&s, 1});
      EXPECT_TRUE(s.ok);
      return s.m;
    };
    auto open = [&](rte_mbuf* m, std::uint64_t largest, std::uint64_t phase_start) {
      OpenJob o;
      o.m = m;
      o.pn_offset = 1;
      o.packet_length = 60;
      o.largest_received = largest;
      o.key = rx.current();
      o.next_phase = rx.next();
      o.previous_phase = rx.previous();
      o.phase_start = phase_start;
      protector_->open_burst({&o, 1});
      return o;
    };

    rte_mbuf* late = seal(10);  // phase 0, delivered late
    OpenJob o = open(seal(11), 9, 0);
    ASSERT_EQ(o.status, OpenStatus::kOk);
    EXPECT_EQ(o.used_key, rx.current());

    ASSERT_TRUE(tx.advance());  // the sender updates
    EXPECT_TRUE(tx.phase());
    o = open(seal(12), 11, 0);
    ASSERT_EQ(o.status, OpenStatus::kOk);
    EXPECT_TRUE(o.key_phase);
    EXPECT_EQ(o.used_key, rx.next());  // opened with the key installed ahead

    ASSERT_TRUE(rx.advance());  // the receiver follows; phase 1 starts at 12
    o = open(late, 12, 12);
    ASSERT_EQ(o.status, OpenStatus::kOk);
    EXPECT_EQ(o.used_key, rx.previous());
    EXPECT_EQ(o.packet_number, 10u);

    rte_mbuf* late2 = packet(contents(seal(13)));  // phase 1: opens with current
    o = open(late2, 12, 12);
    EXPECT_EQ(o.status, OpenStatus::kOk);

    // Two more updates on both sides stay in step.
    for (std::uint64_t pn = 14; pn < 16; ++pn) {
      ASSERT_TRUE(tx.advance());
      o = open(seal(pn), pn - 1, pn - 1);
      ASSERT_EQ(o.status, OpenStatus::kOk) << pn;
      EXPECT_EQ(o.used_key, rx.next());
      ASSERT_TRUE(rx.advance());
    }
    EXPECT_EQ(tx.updates(), 3u);
    rx.discard_previous();
    EXPECT_EQ(rx.previous(), nullptr);
  }
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

// RFC 9001 A.4 through the AEAD engine: the Retry integrity tag is
// AES-128-GCM over the pseudo-packet as AAD with an empty plaintext, using
// the fixed key and nonce of §5.8.
TEST_P(ProtectorTest, Rfc9001RetryIntegrityTagThroughTheEngine) {
  PacketKeys k = make_keys(AeadAlgorithm::kAes128Gcm, "be0c690b9f66575a1d766b54e368c84e",
                           "461599d35d632bf2239825bb", "00000000000000000000000000000000");
  AeadEngine& engine = backends_->aead();
  if (!engine.supports(AeadAlgorithm::kAes128Gcm)) {
    // Only the ChaCha20-Poly1305 device lacks AES-GCM; the pipeline puts
    // such keys on the inline engine (KeysTheDeviceRefuses... below).
    EXPECT_EQ(GetParam(), "crypto_chacha20_poly1305_0_async");
    return;
  }
  AeadKey* key = engine.create_key(k);
  ASSERT_NE(key, nullptr);
  // ODCID length, ODCID, then the Retry packet without its tag.
  Bytes pseudo = hex("088394c8f03e515708ff000000010008f067a5502a4262b5746f6b656e");
  pseudo.resize(pseudo.size() + kAeadTagLength, 0);
  AeadOp op;
  op.m = packet(pseudo);
  op.aad_length = static_cast<std::uint32_t>(pseudo.size() - kAeadTagLength);
  op.payload_offset = op.aad_length;
  op.payload_length = 0;
  std::copy(k.iv.begin(), k.iv.end(), op.nonce.begin());
  engine.seal(key, {&op, 1});
  ASSERT_TRUE(op.ok);
  const Bytes out = contents(op.m);
  EXPECT_EQ(Bytes(out.end() - kAeadTagLength, out.end()), hex("04a265ba2eff4d829058fb3f0f2496ba"));
  engine.destroy_key(key);
}

TEST_P(ProtectorTest, CountsOperationsPerBackend) {
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
  const ProtectorCounters& c = protector_->counters();
  // A device without AES-GCM (the ChaCha20 PMD) leaves this key inline.
  const bool device_aead =
      GetParam() != "inline" && backends_->aead().supports(AeadAlgorithm::kAes128Gcm);
  const bool device_hp = GetParam().ends_with("_devhp");
  EXPECT_EQ(c.aead_device_ops, device_aead ? 1u : 0u);
  EXPECT_EQ(c.aead_inline_ops, device_aead ? 0u : 1u);
  EXPECT_EQ(c.hp_device_ops, device_hp ? 1u : 0u);
  EXPECT_EQ(c.hp_inline_ops, device_hp ? 0u : 1u);
  EXPECT_EQ(c.sealed, 1u);
  EXPECT_EQ(c.keys_installed, 1u);
  protector_->release(key);
  EXPECT_EQ(c.keys_released, 1u);
}

// Every backend turns the same packets into the same bytes.
TEST(ProtectorBackends, AllBackendsProduceIdenticalCiphertext) {
  rte_mempool* pool = rte_pktmbuf_pool_create(
      "identical_ct", 1023, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, static_cast<int>(rte_socket_id()));
  ASSERT_NE(pool, nullptr);
  std::mt19937_64 rng(99);
  std::vector<RandomPacket> pkts;
  for (int i = 0; i < 40; ++i)
    pkts.push_back(random_packet(rng, 3));
  const PacketKeys keys[3] = {client_initial_keys(), chacha_keys(), [] {
                                PacketKeys k = server_initial_keys();
                                k.aead = AeadAlgorithm::kAes256Gcm;
                                return k;
                              }()};
  std::vector<Bytes> reference;
  for (const std::string& name : test_backend_names()) {
    auto b = make_test_backends(name);
    ASSERT_NE(b, nullptr) << name;
    KeyHandle* handles[3];
    for (int i = 0; i < 3; ++i)
      handles[i] = b->protector().install(keys[i]);
    std::vector<SealJob> jobs(pkts.size());
    for (std::size_t i = 0; i < pkts.size(); ++i) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool);
      ASSERT_NE(m, nullptr);
      std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(pkts[i].plain.size())),
                  pkts[i].plain.data(), pkts[i].plain.size());
      jobs[i].m = m;
      jobs[i].header_length = pkts[i].header_length;
      jobs[i].pn_offset = pkts[i].pn_offset;
      jobs[i].pn_length = pkts[i].pn_length;
      jobs[i].payload_length = pkts[i].payload_length;
      jobs[i].packet_number = pkts[i].pn;
      jobs[i].key = handles[pkts[i].key_index];
    }
    b->protector().seal_burst(jobs);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      EXPECT_TRUE(jobs[i].ok) << name << " " << i;
      const auto* p = rte_pktmbuf_mtod(jobs[i].m, const std::uint8_t*);
      const Bytes got(p, p + rte_pktmbuf_data_len(jobs[i].m));
      if (reference.size() <= i) {
        reference.push_back(got);
      } else {
        EXPECT_EQ(got, reference[i]) << name << " packet " << i;
      }
      rte_pktmbuf_free(jobs[i].m);
    }
    for (KeyHandle* h : handles)
      b->protector().release(h);
  }
  rte_mempool_free(pool);
}

// An engine that takes no keys, as a device whose sessions ran out.
class FullEngine : public AeadEngine {
 public:
  const char* name() const override { return "full"; }
  bool supports(AeadAlgorithm) const override { return true; }
  bool supports_gather() const override { return false; }
  AeadKey* create_key(const PacketKeys&) override { return nullptr; }
  void destroy_key(AeadKey*) override {}
  void seal(AeadKey*, std::span<AeadOp>) override { ADD_FAILURE() << "no key was placed here"; }
  void open(AeadKey*, std::span<AeadOp>) override { ADD_FAILURE() << "no key was placed here"; }
};

TEST(ProtectorBackends, KeysTheDeviceRefusesFallBackInlineAndAreCounted) {
  FullEngine full;  // "chosen", but takes no keys
  std::unique_ptr<AeadEngine> evp = make_evp_aead_engine();
  std::unique_ptr<HpEngine> hp = make_inline_hp_engine();
  Protector p(&full, hp.get(), evp.get(), hp.get());
  KeyHandle* key = p.install(client_initial_keys());
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(p.counters().key_fallbacks, 1u);

  rte_mempool* pool = rte_pktmbuf_pool_create("fallback", 63, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM,
                                              static_cast<int>(rte_socket_id()));
  ASSERT_NE(pool, nullptr);
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  const Bytes plain = a2_unprotected();
  std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(plain.size())), plain.data(),
              plain.size());
  SealJob job;
  job.m = m;
  job.header_length = 22;
  job.pn_offset = 18;
  job.pn_length = 4;
  job.payload_length = 1162;
  job.packet_number = 2;
  job.key = key;
  p.seal_burst({&job, 1});
  ASSERT_TRUE(job.ok);
  const auto* out = rte_pktmbuf_mtod(m, const std::uint8_t*);
  EXPECT_TRUE(
      std::equal(std::begin(test::kA2ProtectedPacket), std::end(test::kA2ProtectedPacket), out));
  EXPECT_EQ(p.counters().aead_inline_ops, 1u);
  EXPECT_EQ(p.counters().aead_device_ops, 0u);
  p.release(key);
  rte_pktmbuf_free(m);
  rte_mempool_free(pool);
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
