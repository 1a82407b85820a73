// Steering by connection ID: owner_worker over every header kind with real
// CID generators, the NIC flow-rule path (refused cleanly on the software
// PMDs), and the software redirect rings between threads. Starts the EAL
// through dpdk_test_main.cc.
#include "runtime/steering.h"

#include <gtest/gtest.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "drivers/eth_port.h"
#include "quic/packet_header.h"
#include "quic/version.h"
#include "runtime/udp_frame.h"

namespace dquic {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr SteeringKey kKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
constexpr std::array<std::uint8_t, kQuicLbKeyLength> kLbKey = {
    0x8f, 0x95, 0xf0, 0x92, 0x45, 0x76, 0x5f, 0x80,
    0x25, 0x69, 0x34, 0xe5, 0x0c, 0x66, 0x20, 0x7f};  // draft-21 Appendix B key

// Deterministic "random" source; the generators only need bytes.
struct TestRandom {
  explicit TestRandom(std::uint64_t seed) : rng(seed) {}
  CidRandomSource source() {
    return [this](std::span<std::uint8_t> b) {
      for (std::uint8_t& v : b)
        v = static_cast<std::uint8_t>(rng());
    };
  }
  std::mt19937_64 rng;
};

Bytes random_bytes(std::mt19937_64& rng, std::size_t n) {
  Bytes b(n);
  for (std::uint8_t& v : b)
    v = static_cast<std::uint8_t>(rng());
  return b;
}

// --- Packets -----------------------------------------------------------------

// Packets are built in a buffer sized up front (no vector::insert: g++ 12
// at -O3 reports a false -Warray-bounds on growing inserts).
class PacketBuilder {
 public:
  explicit PacketBuilder(std::size_t size) : p_(size, 0) {}
  PacketBuilder& u8(std::uint8_t v) {
    p_.at(at_++) = v;
    return *this;
  }
  PacketBuilder& u32(std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8)
      u8(static_cast<std::uint8_t>(v >> s));
    return *this;
  }
  PacketBuilder& bytes(ByteSpan b) {
    for (std::uint8_t v : b)
      u8(v);
    return *this;
  }
  Bytes fill(std::uint8_t v) {
    while (at_ < p_.size())
      u8(v);
    return std::move(p_);
  }

 private:
  Bytes p_;
  std::size_t at_ = 0;
};

// RFC 9000 §17.3.1: 0b01 + spin/reserved/key-phase/pn bits, DCID, then bytes.
Bytes short_packet(ByteSpan dcid, std::size_t tail = 40) {
  return PacketBuilder(1 + dcid.size() + tail).u8(0x43).bytes(dcid).fill(0xaa);
}

// RFC 9000 §17.2 / RFC 9369 §3.2: a long header of `type` in `version`.
Bytes long_packet(std::uint32_t version, PacketType type, ByteSpan dcid, ByteSpan scid,
                  std::size_t tail = 40) {
  std::uint8_t first = 0xc0;
  if (version == kVersion1 || version == kVersion2)
    first |= static_cast<std::uint8_t>(long_type_bits(version, type) << 4);
  return PacketBuilder(7 + dcid.size() + scid.size() + tail)
      .u8(first)
      .u32(version)
      .u8(static_cast<std::uint8_t>(dcid.size()))
      .bytes(dcid)
      .u8(static_cast<std::uint8_t>(scid.size()))
      .bytes(scid)
      .fill(0x55);
}

// RFC 9000 §17.2.1: version 0 (only the form bit of the first byte is
// fixed), CIDs echoed, a list of versions.
Bytes version_negotiation(ByteSpan dcid, ByteSpan scid) {
  return PacketBuilder(7 + dcid.size() + scid.size() + 8)
      .u8(0x80 | 0x2a)
      .u32(0)
      .u8(static_cast<std::uint8_t>(dcid.size()))
      .bytes(dcid)
      .u8(static_cast<std::uint8_t>(scid.size()))
      .bytes(scid)
      .u32(kVersion1)
      .u32(kVersion2)
      .fill(0);
}

// --- Generators ----------------------------------------------------------------

enum class GenKind { kQuicLbEncrypted, kQuicLbPlaintext, kRandom, kRandomUnroutable, kTwoByte };

const char* name_of(GenKind k) {
  switch (k) {
    case GenKind::kQuicLbEncrypted:
      return "quic-lb encrypted";
    case GenKind::kQuicLbPlaintext:
      return "quic-lb plaintext";
    case GenKind::kRandom:
      return "random";
    case GenKind::kRandomUnroutable:
      return "random unroutable";
    case GenKind::kTwoByte:
      return "quic-lb encrypted, 2-byte worker";
  }
  return "?";
}

QuicLbCidGeneratorSettings quic_lb_settings(GenKind kind, std::uint16_t workers) {
  QuicLbCidGeneratorSettings s;
  s.config_rotation = 1;
  const std::uint8_t host[] = {0xc0, 0xff, 0xee};
  EXPECT_TRUE(QuicLbServerId::from(ByteSpan(host, 3), &s.host_id));
  s.worker_id_length = kind == GenKind::kTwoByte ? 2 : 1;
  s.worker_count = workers;
  s.nonce_length = 6;
  if (kind != GenKind::kQuicLbPlaintext) s.key = kLbKey;
  return s;
}

RandomCidGeneratorSettings random_settings(GenKind kind, std::uint16_t workers) {
  RandomCidGeneratorSettings s;
  s.cid_length = 10;
  s.worker_count = workers;
  s.quic_lb_unroutable = kind == GenKind::kRandomUnroutable;
  return s;
}

std::unique_ptr<ConnectionIdGenerator> make_generator(GenKind kind, std::uint16_t workers,
                                                      TestRandom* random) {
  if (kind == GenKind::kRandom || kind == GenKind::kRandomUnroutable)
    return RandomCidGenerator::create(random_settings(kind, workers), random->source());
  return QuicLbCidGenerator::create(quic_lb_settings(kind, workers), random->source());
}

constexpr GenKind kAllKinds[] = {GenKind::kQuicLbEncrypted, GenKind::kQuicLbPlaintext,
                                 GenKind::kRandom, GenKind::kRandomUnroutable, GenKind::kTwoByte};

// --- SipHash -------------------------------------------------------------------

TEST(SipHash, ReferenceVectors) {
  // Aumasson and Bernstein, SipHash reference implementation vectors.h:
  // key 00..0f, message 00..(n-1).
  const SteeringKey key{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  Bytes msg(64);
  for (std::size_t i = 0; i < msg.size(); ++i)
    msg[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(siphash24(key, ByteSpan(msg.data(), 0)), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(siphash24(key, ByteSpan(msg.data(), 15)), 0xa129ca6149be45e5ULL);  // the paper's
  // Every length hashes differently, and the key matters.
  std::vector<std::uint64_t> seen;
  for (std::size_t n = 0; n <= 64; ++n)
    seen.push_back(siphash24(key, ByteSpan(msg.data(), n)));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end());
  EXPECT_NE(siphash24(key, ByteSpan(msg.data(), 15)), siphash24(kKey, ByteSpan(msg.data(), 15)));
}

TEST(SipHash, MakeSteeringKeyIsRandom) {
  SteeringKey a, b;
  ASSERT_TRUE(make_steering_key(&a));
  ASSERT_TRUE(make_steering_key(&b));
  EXPECT_FALSE(a.k0 == b.k0 && a.k1 == b.k1);
  EXPECT_FALSE(a.k0 == 0 && a.k1 == 0);
}

// --- owner_worker ----------------------------------------------------------------

// CIDs generated for worker w route to w in every header that carries one of
// our CIDs as DCID, whichever worker received the packet.
TEST(OwnerWorker, OurCidsRouteToTheirWorker) {
  std::mt19937_64 rng(7);
  for (GenKind kind : kAllKinds) {
    for (std::uint16_t workers = 1; workers <= 8; ++workers) {
      SCOPED_TRACE(std::string(name_of(kind)) + ", workers " + std::to_string(workers));
      TestRandom random(workers);
      auto gen = make_generator(kind, workers, &random);
      ASSERT_TRUE(gen);
      for (std::uint16_t w = 0; w < workers; ++w) {
        for (int i = 0; i < 8; ++i) {
          ConnectionId cid;
          ASSERT_TRUE(gen->generate(w, &cid));
          const Bytes peer = random_bytes(rng, 8);
          const std::uint16_t self = static_cast<std::uint16_t>(rng() % workers);
          // 1-RTT.
          EXPECT_EQ(owner_worker(short_packet(cid.span()), *gen, workers, kKey, self), w);
          // Client Initial after our first Initial or a Retry, Handshake, and
          // 0-RTT after the switch (RFC 9000 §7.2), both versions.
          for (std::uint32_t v : {kVersion1, kVersion2}) {
            for (PacketType t : {PacketType::kInitial, PacketType::kZeroRtt, PacketType::kHandshake,
                                 PacketType::kRetry}) {
              EXPECT_EQ(
                  owner_worker(long_packet(v, t, cid.span(), peer), *gen, workers, kKey, self), w)
                  << "version " << v << " type " << static_cast<int>(t);
            }
          }
          // Our client's connection: the server answers with our SCID as
          // DCID, also in Version Negotiation.
          EXPECT_EQ(owner_worker(version_negotiation(cid.span(), peer), *gen, workers, kKey, self),
                    w);
          // An unknown version still carries the DCID (RFC 8999 §5.1).
          EXPECT_EQ(owner_worker(long_packet(0x1a2a3a4a, PacketType::kInitial, cid.span(), peer),
                                 *gen, workers, kKey, self),
                    w);
        }
      }
    }
  }
}

// Client-chosen Initial DCIDs spread over the workers by the keyed hash,
// the same way on every worker, and the 0-RTT and retransmitted Initials of
// one attempt follow the first one.
TEST(OwnerWorker, ClientInitialsSpreadByKeyedHash) {
  for (std::uint16_t workers = 1; workers <= 8; ++workers) {
    SCOPED_TRACE("workers " + std::to_string(workers));
    TestRandom random(100 + workers);
    // Encrypted QUIC-LB with a 3-byte host id: a random DCID decodes as ours
    // with probability 2^-24, so these are all "not ours".
    auto gen = make_generator(GenKind::kQuicLbEncrypted, workers, &random);
    ASSERT_TRUE(gen);
    std::mt19937_64 rng(workers);
    constexpr int kN = 4000;
    std::vector<int> per_worker(workers, 0);
    int key_changed = 0;
    for (int i = 0; i < kN; ++i) {
      const Bytes dcid = random_bytes(rng, 8 + rng() % 13);  // RFC 9000 §7.2: >= 8 bytes
      const Bytes scid = random_bytes(rng, rng() % 21);
      ASSERT_FALSE(gen->worker_of(dcid).has_value());
      const std::uint16_t owner = owner_worker(
          long_packet(kVersion1, PacketType::kInitial, dcid, scid, 1200), *gen, workers, kKey, 0);
      ASSERT_LT(owner, workers);
      EXPECT_EQ(owner, siphash24(kKey, dcid) % workers);
      ++per_worker[owner];
      for (std::uint16_t self = 0; self < workers; ++self) {
        // Same DCID: retransmitted Initial (other SCID length is impossible,
        // but other bytes after the header are), 0-RTT, the v2 Initial of a
        // compatible version negotiation, all from any receiving worker.
        EXPECT_EQ(owner_worker(long_packet(kVersion1, PacketType::kInitial, dcid, scid, 1300), *gen,
                               workers, kKey, self),
                  owner);
        EXPECT_EQ(owner_worker(long_packet(kVersion1, PacketType::kZeroRtt, dcid, scid), *gen,
                               workers, kKey, self),
                  owner);
        EXPECT_EQ(owner_worker(long_packet(kVersion2, PacketType::kInitial, dcid, scid), *gen,
                               workers, kKey, self),
                  owner);
      }
      const SteeringKey other{kKey.k0 ^ 1, kKey.k1};
      if (owner_worker(long_packet(kVersion1, PacketType::kInitial, dcid, scid), *gen, workers,
                       other, 0) != owner)
        ++key_changed;
    }
    // Wide bounds: +-25% of an even share (4000 draws, <= 8 buckets).
    const double even = static_cast<double>(kN) / workers;
    for (std::uint16_t w = 0; w < workers; ++w) {
      EXPECT_GT(per_worker[w], even * 0.75) << "worker " << w;
      EXPECT_LT(per_worker[w], even * 1.25) << "worker " << w;
    }
    // Another key moves about (workers-1)/workers of them.
    if (workers == 1) {
      EXPECT_EQ(key_changed, 0);
    } else {
      EXPECT_GT(key_changed, kN / 4);
    }
  }
}

// A short header whose DCID is not ours gets one owner too (who answers with a
// stateless reset or drops it), the same from every worker.
TEST(OwnerWorker, ForeignShortHeaderHashesConsistently) {
  TestRandom random(5);
  auto gen = make_generator(GenKind::kQuicLbEncrypted, 6, &random);
  ASSERT_TRUE(gen);
  std::mt19937_64 rng(11);
  std::vector<int> per_worker(6, 0);
  for (int i = 0; i < 600; ++i) {
    const Bytes dcid = random_bytes(rng, gen->cid_length());
    ASSERT_FALSE(gen->worker_of(dcid).has_value());
    const std::uint16_t owner = owner_worker(short_packet(dcid), *gen, 6, kKey, 0);
    EXPECT_EQ(owner, siphash24(kKey, dcid) % 6);
    ++per_worker[owner];
    for (std::uint16_t self = 1; self < 6; ++self)
      EXPECT_EQ(owner_worker(short_packet(dcid, 3), *gen, 6, kKey, self), owner);
  }
  for (int n : per_worker)
    EXPECT_GT(n, 50);
}

// A generator configured for more workers than run: CIDs of the missing
// workers are not trusted, they hash into range.
TEST(OwnerWorker, WorkerBeyondRunningCountIsHashed) {
  TestRandom random(9);
  auto gen = make_generator(GenKind::kRandom, 8, &random);
  ASSERT_TRUE(gen);
  for (std::uint16_t w = 0; w < 8; ++w) {
    ConnectionId cid;
    ASSERT_TRUE(gen->generate(w, &cid));
    const std::uint16_t owner = owner_worker(short_packet(cid.span()), *gen, 4, kKey, 0);
    if (w < 4) {
      EXPECT_EQ(owner, w);
    } else {
      EXPECT_EQ(owner, siphash24(kKey, cid.span()) % 4);
    }
  }
}

TEST(OwnerWorker, UnparseableStaysOnTheReceivingWorker) {
  TestRandom random(3);
  auto gen = make_generator(GenKind::kQuicLbPlaintext, 8, &random);
  ASSERT_TRUE(gen);
  ConnectionId cid;
  ASSERT_TRUE(gen->generate(6, &cid));
  const Bytes scid(8, 0x11);
  for (std::uint16_t self = 0; self < 8; ++self) {
    SCOPED_TRACE(self);
    // Empty datagram.
    EXPECT_EQ(owner_worker({}, *gen, 8, kKey, self), self);
    // Short header cut inside the DCID.
    const Bytes s = short_packet(cid.span(), 0);
    EXPECT_EQ(owner_worker(ByteSpan(s).first(s.size() - 1), *gen, 8, kKey, self), self);
    EXPECT_EQ(owner_worker(ByteSpan(s), *gen, 8, kKey, self), 6);  // exactly long enough
    // Long header cut in the version, the DCID length, the DCID, the SCID.
    const Bytes l = long_packet(kVersion1, PacketType::kHandshake, cid.span(), scid, 0);
    for (std::size_t n : {std::size_t{1}, std::size_t{4}, std::size_t{5}, std::size_t{6},
                          std::size_t{6} + cid.length, std::size_t{7} + cid.length, l.size() - 1}) {
      EXPECT_EQ(owner_worker(ByteSpan(l).first(n), *gen, 8, kKey, self), self) << n;
    }
    EXPECT_EQ(owner_worker(ByteSpan(l), *gen, 8, kKey, self), 6);
    // A DCID length byte past the end.
    Bytes bad = l;
    bad[5] = 0xff;
    EXPECT_EQ(owner_worker(bad, *gen, 8, kKey, self), self);
  }
  // No workers, or a receiving worker out of range: nothing to steer to.
  const Bytes s = short_packet(cid.span());
  EXPECT_EQ(owner_worker(s, *gen, 0, kKey, 0), 0);
  EXPECT_EQ(owner_worker(s, *gen, 8, kKey, 9), 9);
}

// The steering view of a real UDP frame in an mbuf, single and chained.
TEST(OwnerWorker, FromAnMbufFrame) {
  rte_mempool* pool =
      rte_pktmbuf_pool_create("steer_frame", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr);
  TestRandom random(4);
  auto gen = make_generator(GenKind::kQuicLbEncrypted, 4, &random);
  ASSERT_TRUE(gen);
  ConnectionId cid;
  ASSERT_TRUE(gen->generate(3, &cid));
  const Bytes payload = short_packet(cid.span(), 100);

  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  ASSERT_NE(m, nullptr);
  char* data = rte_pktmbuf_append(m, static_cast<std::uint16_t>(payload.size()));
  ASSERT_NE(data, nullptr);
  std::memcpy(data, payload.data(), payload.size());
  UdpFrameSpec spec;
  spec.src.family = IpFamily::kIpv4;
  spec.src.bytes = {192, 0, 2, 1};
  spec.dst.family = IpFamily::kIpv4;
  spec.dst.bytes = {192, 0, 2, 2};
  spec.src_port = 50000;
  spec.dst_port = 443;
  std::uint16_t ip_id = 1;
  ASSERT_TRUE(build_udp_frame(m, spec, &ip_id));
  ParsedUdpFrame f;
  ASSERT_EQ(parse_udp_frame(m, &f), UdpDropReason::kNone);
  const ByteSpan view = first_segment_payload(m, f.payload_offset, f.payload_len);
  ASSERT_EQ(view.size(), payload.size());
  EXPECT_TRUE(same_bytes(view, payload));
  EXPECT_EQ(owner_worker(view, *gen, 4, kKey, 0), 3);

  // A second segment: the view stops at the first one's end.
  rte_mbuf* tail = rte_pktmbuf_alloc(pool);
  ASSERT_NE(tail, nullptr);
  ASSERT_NE(rte_pktmbuf_append(tail, 50), nullptr);
  ASSERT_EQ(rte_pktmbuf_chain(m, tail), 0);
  EXPECT_EQ(first_segment_payload(m, f.payload_offset, f.payload_len + 50).size(), payload.size());
  EXPECT_EQ(first_segment_payload(m, f.payload_offset, 10).size(), 10u);
  EXPECT_TRUE(first_segment_payload(m, m->data_len, 10).empty());
  rte_pktmbuf_free(m);
  EXPECT_EQ(rte_mempool_avail_count(pool), 63u);
  rte_mempool_free(pool);
}

// --- Flow steering spec ------------------------------------------------------

// The spec points at the bytes that really carry the worker in generated CIDs.
TEST(FlowSteeringSpec, MatchesGeneratedCidLayout) {
  for (GenKind kind : {GenKind::kQuicLbPlaintext, GenKind::kRandom, GenKind::kRandomUnroutable}) {
    SCOPED_TRACE(name_of(kind));
    TestRandom random(8);
    auto gen = make_generator(kind, 8, &random);
    ASSERT_TRUE(gen);
    std::string why;
    const std::optional<FlowSteeringSpec> spec =
        kind == GenKind::kQuicLbPlaintext
            ? flow_steering_spec(quic_lb_settings(kind, 8), 4433, &why)
            : flow_steering_spec(random_settings(kind, 8), 4433, &why);
    ASSERT_TRUE(spec) << why;
    EXPECT_EQ(spec->udp_port, 4433);
    EXPECT_EQ(spec->workers, 8);
    EXPECT_EQ(spec->cid_length, gen->cid_length());
    EXPECT_EQ(spec->worker_id_length, 1);
    for (std::uint16_t w = 0; w < 8; ++w) {
      for (int i = 0; i < 16; ++i) {
        ConnectionId cid;
        ASSERT_TRUE(gen->generate(w, &cid));
        // What the rule compares: short-header byte 1 + worker_offset.
        const Bytes p = short_packet(cid.span());
        EXPECT_EQ(p[1 + spec->worker_offset], w);
        EXPECT_EQ(p[0] & 0x80, 0);
      }
    }
  }
  QuicLbCidGeneratorSettings two = quic_lb_settings(GenKind::kQuicLbPlaintext, 300);
  two.worker_id_length = 2;
  std::string why;
  const std::optional<FlowSteeringSpec> spec = flow_steering_spec(two, 443, &why);
  ASSERT_TRUE(spec) << why;
  EXPECT_EQ(spec->worker_offset, 4);  // first octet + 3-byte host id
  EXPECT_EQ(spec->worker_id_length, 2);
  TestRandom random(2);
  auto gen = QuicLbCidGenerator::create(two, random.source());
  ASSERT_TRUE(gen);
  ConnectionId cid;
  ASSERT_TRUE(gen->generate(0x012b, &cid));
  EXPECT_EQ(cid.bytes[spec->worker_offset], 0x01);
  EXPECT_EQ(cid.bytes[spec->worker_offset + 1], 0x2b);
}

TEST(FlowSteeringSpec, EncryptedCidsHaveNoClearWorker) {
  std::string why;
  EXPECT_FALSE(flow_steering_spec(quic_lb_settings(GenKind::kQuicLbEncrypted, 4), 443, &why));
  EXPECT_NE(why.find("encrypted"), std::string::npos) << why;
}

// --- Flow rules on the software PMDs -------------------------------------------

class Vdev {
 public:
  explicit Vdev(std::string name) : name_(std::move(name)) {
    ok_ = rte_eal_hotplug_add("vdev", name_.c_str(), "") == 0;
  }
  ~Vdev() {
    if (ok_) rte_eal_hotplug_remove("vdev", name_.c_str());
  }
  Vdev(const Vdev&) = delete;
  Vdev& operator=(const Vdev&) = delete;
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool ok_ = false;
};

// net_ring and net_null have no rte_flow: the install is refused with a
// reason and nothing is left behind; the port keeps working (RSS + redirect).
TEST(CidFlowRules, SoftwarePmdsRefuseCleanly) {
  rte_mempool* pool =
      rte_pktmbuf_pool_create("steer_flow", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  ASSERT_NE(pool, nullptr);
  for (const char* name : {"net_ring_steer0", "net_null_steer0"}) {
    SCOPED_TRACE(name);
    Vdev vdev(name);
    ASSERT_TRUE(vdev.ok());
    const std::uint16_t port = drivers::find_port(vdev.name()).value();
    drivers::EthPort eth;
    drivers::EthPortConfig cfg;
    cfg.port_id = port;
    cfg.queues = 2;
    cfg.rx_descriptors = 128;
    cfg.tx_descriptors = 128;
    cfg.rx_pools.assign(2, pool);
    std::string err;
    ASSERT_TRUE(eth.start(cfg, &err)) << err;

    FlowSteeringSpec spec;
    spec.udp_port = 443;
    spec.workers = 2;
    spec.cid_length = 10;
    CidFlowRules rules;
    std::string why;
    EXPECT_FALSE(install_cid_flow_rules(port, spec, &rules, &why));
    std::printf("%s: %s\n", name, why.c_str());
    EXPECT_TRUE(rules.empty());
    EXPECT_NE(why.find("rte_flow_validate"), std::string::npos) << why;
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
    // The same verdict as the port's own probe.
    EXPECT_TRUE(eth.caps().flow_probed);
    EXPECT_FALSE(eth.caps().flow_udp_to_queue);
    EXPECT_EQ(rules.remove(), 0u);  // nothing to remove

    // Bad specs are refused before the device is asked.
    FlowSteeringSpec bad = spec;
    bad.workers = 3;  // only 2 queues configured
    why.clear();
    EXPECT_FALSE(install_cid_flow_rules(port, bad, &rules, &why));
    EXPECT_NE(why.find("rx queues configured"), std::string::npos) << why;
    bad = spec;
    bad.worker_offset = 10;  // 10 + 1 > 10-byte CID
    why.clear();
    EXPECT_FALSE(install_cid_flow_rules(port, bad, &rules, &why));
    EXPECT_NE(why.find("outside"), std::string::npos) << why;
    bad = spec;
    bad.worker_id_length = 3;
    why.clear();
    EXPECT_FALSE(install_cid_flow_rules(port, bad, &rules, &why));
    EXPECT_NE(why.find("worker id length"), std::string::npos) << why;
    bad = spec;
    bad.ipv4 = bad.ipv6 = false;
    why.clear();
    EXPECT_FALSE(install_cid_flow_rules(port, bad, &rules, &why));
    EXPECT_FALSE(why.empty());
    bad = spec;
    bad.workers = 0;
    why.clear();
    EXPECT_FALSE(install_cid_flow_rules(port, bad, &rules, &why));
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(rules.empty());
    eth.close();
  }
  std::string why;
  CidFlowRules rules;
  EXPECT_FALSE(install_cid_flow_rules(RTE_MAX_ETHPORTS - 1, FlowSteeringSpec{}, &rules, &why));
  EXPECT_NE(why.find("no such port"), std::string::npos) << why;
  EXPECT_FALSE(install_cid_flow_rules(0, FlowSteeringSpec{}, nullptr, &why));
  EXPECT_EQ(rte_mempool_avail_count(pool), 1023u);
  rte_mempool_free(pool);
}

// --- RedirectRings -------------------------------------------------------------

class MbufPool {
 public:
  MbufPool(const char* name, unsigned n) : n_(n) {
    pool_ = rte_pktmbuf_pool_create(name, n, 0, 0, 256 + RTE_PKTMBUF_HEADROOM, SOCKET_ID_ANY);
  }
  ~MbufPool() { rte_mempool_free(pool_); }
  MbufPool(const MbufPool&) = delete;
  MbufPool& operator=(const MbufPool&) = delete;
  rte_mempool* get() const { return pool_; }
  bool full() const { return rte_mempool_avail_count(pool_) == n_; }

 private:
  rte_mempool* pool_ = nullptr;
  unsigned n_;
};

TEST(RedirectRings, InitRejectsBadSetup) {
  std::string why;
  {
    RedirectRings r;
    EXPECT_FALSE(r.init(0, 16, "rd_bad0", SOCKET_ID_ANY, &why));
    EXPECT_NE(why.find("workers"), std::string::npos) << why;
    EXPECT_FALSE(r.init(2, 0, "rd_bad0", SOCKET_ID_ANY, &why));
    EXPECT_NE(why.find("capacity"), std::string::npos) << why;
    EXPECT_FALSE(r.init(2, (1u << 20) + 1, "rd_bad0", SOCKET_ID_ANY, &why));
    EXPECT_FALSE(r.init(2, 16, "a_ring_prefix_far_too_long_for_dpdk", SOCKET_ID_ANY, &why));
    EXPECT_NE(why.find("too long"), std::string::npos) << why;
    EXPECT_EQ(r.workers(), 0);
    ASSERT_TRUE(r.init(2, 16, "rd_bad0", SOCKET_ID_ANY, &why)) << why;
    EXPECT_FALSE(r.init(2, 16, "rd_bad1", SOCKET_ID_ANY, &why));  // already set up
    EXPECT_NE(why.find("already"), std::string::npos) << why;
    // The same names are taken while these rings live: nothing half-made.
    RedirectRings clash;
    EXPECT_FALSE(clash.init(3, 16, "rd_bad0", SOCKET_ID_ANY, &why));
    EXPECT_NE(why.find("rte_ring_create"), std::string::npos) << why;
    EXPECT_EQ(clash.workers(), 0);
  }
  // Released with their owner: the names are free again.
  RedirectRings again;
  EXPECT_TRUE(again.init(3, 16, "rd_bad0", SOCKET_ID_ANY, &why)) << why;
}

TEST(RedirectRings, RoundTripInOrderWithCounters) {
  MbufPool pool("rd_rt", 63);
  ASSERT_NE(pool.get(), nullptr);
  RedirectRings r;
  std::string why;
  ASSERT_TRUE(r.init(3, 32, "rd_rt", SOCKET_ID_ANY, &why)) << why;
  EXPECT_EQ(r.workers(), 3);
  EXPECT_EQ(r.capacity(), 32u);
  rte_mbuf* sent[10];
  for (int i = 0; i < 10; ++i) {
    sent[i] = rte_pktmbuf_alloc(pool.get());
    ASSERT_NE(sent[i], nullptr);
    sent[i]->hash.usr = static_cast<std::uint32_t>(i);
  }
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(r.forward(0, 2, sent[i]));
  EXPECT_EQ(r.forward_burst(1, 2, std::span<rte_mbuf* const>(sent + 4, 6)), 6u);
  EXPECT_EQ(r.pending(2), 10u);
  EXPECT_EQ(r.pending(0), 0u);
  rte_mbuf* got[16] = {};
  EXPECT_EQ(r.drain(0, got), 0u);
  EXPECT_EQ(r.drain(2, std::span<rte_mbuf*>(got, 7)), 7u);
  EXPECT_EQ(r.drain(2, std::span<rte_mbuf*>(got + 7, 9)), 3u);
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(got[i], sent[i]) << i;  // FIFO
  const RedirectCountersSnapshot c0 = r.counters(0), c1 = r.counters(1), c2 = r.counters(2);
  EXPECT_EQ(c0.redirected_out, 4u);
  EXPECT_EQ(c1.redirected_out, 6u);
  EXPECT_EQ(c2.redirected_out, 0u);
  EXPECT_EQ(c2.redirected_in, 10u);
  EXPECT_EQ(c0.redirected_in + c1.redirected_in, 0u);
  EXPECT_EQ(c0.ring_full + c1.ring_full + c2.ring_full, 0u);
  // Out of range: refused, not counted.
  EXPECT_FALSE(r.forward(0, 3, got[0]));
  EXPECT_FALSE(r.forward(3, 0, got[0]));
  EXPECT_EQ(r.drain(3, got), 0u);
  EXPECT_EQ(r.counters(0).ring_full, 0u);
  EXPECT_EQ(r.counters(3).redirected_out, 0u);
  for (int i = 0; i < 10; ++i)
    rte_pktmbuf_free(got[i]);
  EXPECT_TRUE(pool.full());
}

TEST(RedirectRings, FullRingRefusesAndCounts) {
  MbufPool pool("rd_full", 63);
  ASSERT_NE(pool.get(), nullptr);
  std::string why;
  {
    RedirectRings r;
    ASSERT_TRUE(r.init(2, 5, "rd_full", SOCKET_ID_ANY, &why)) << why;  // exact, not 8
    rte_mbuf* ms[12];
    ASSERT_EQ(rte_pktmbuf_alloc_bulk(pool.get(), ms, 12), 0);
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(r.forward(1, 0, ms[i])) << i;
    EXPECT_FALSE(r.forward(1, 0, ms[5]));  // full: the caller frees and counts a drop
    rte_pktmbuf_free(ms[5]);
    EXPECT_EQ(r.counters(1).ring_full, 1u);
    EXPECT_EQ(r.counters(1).redirected_out, 5u);
    EXPECT_EQ(r.pending(0), 5u);
    // A burst into a ring with room for 2 takes the first 2.
    rte_mbuf* two[2];
    EXPECT_EQ(r.drain(0, two), 2u);
    rte_pktmbuf_free_bulk(two, 2);
    EXPECT_EQ(r.forward_burst(1, 0, std::span<rte_mbuf* const>(ms + 6, 4)), 2u);
    rte_pktmbuf_free(ms[8]);
    rte_pktmbuf_free(ms[9]);
    EXPECT_EQ(r.counters(1).ring_full, 3u);
    EXPECT_EQ(r.counters(1).redirected_out, 7u);
    EXPECT_EQ(r.counters(0).redirected_in, 2u);
    // Leave 5 in the ring and 2 more in worker 1's: the rings free them.
    ASSERT_TRUE(r.forward(0, 1, ms[10]));
    ASSERT_TRUE(r.forward(0, 1, ms[11]));
    EXPECT_EQ(r.pending(0), 5u);
    EXPECT_FALSE(pool.full());
  }
  EXPECT_TRUE(pool.full());
}

// Three workers as threads, each with a share of the "received" packets in
// RSS order: each steers its packets by owner_worker, keeps its own, forwards
// the others, and drains its ring, until every worker has all of its own.
// Small rings force ring-full retries (a real worker would drop; here the
// producer drains its own ring and retries so the count stays exact).
TEST(RedirectRings, ThreadsDeliverEveryMbufOnceToItsOwner) {
  constexpr std::uint16_t kWorkers = 3;
  constexpr int kPerWorker = 3000;
  constexpr unsigned kTotal = kWorkers * kPerWorker;
  MbufPool pool("rd_threads", kTotal + 63);
  ASSERT_NE(pool.get(), nullptr);
  TestRandom random(77);
  auto gen = make_generator(GenKind::kQuicLbEncrypted, kWorkers, &random);
  ASSERT_TRUE(gen);
  RedirectRings rings;
  std::string why;
  ASSERT_TRUE(rings.init(kWorkers, 64, "rd_thr", SOCKET_ID_ANY, &why)) << why;

  // Packets: short headers with our CIDs, client Initials with random DCIDs.
  std::mt19937_64 rng(5);
  std::vector<std::vector<rte_mbuf*>> input(kWorkers);
  std::vector<std::uint16_t> owner_of(kTotal);
  std::array<int, kWorkers> expected{};
  for (unsigned id = 0; id < kTotal; ++id) {
    Bytes p;
    if (id % 4 == 3) {
      p = long_packet(kVersion1, PacketType::kInitial, random_bytes(rng, 8), random_bytes(rng, 8),
                      64);
    } else {
      ConnectionId cid;
      ASSERT_TRUE(gen->generate(static_cast<std::uint16_t>(rng() % kWorkers), &cid));
      p = short_packet(cid.span(), 32);
    }
    rte_mbuf* m = rte_pktmbuf_alloc(pool.get());
    ASSERT_NE(m, nullptr);
    char* d = rte_pktmbuf_append(m, static_cast<std::uint16_t>(p.size()));
    ASSERT_NE(d, nullptr);
    std::memcpy(d, p.data(), p.size());
    m->hash.usr = id;
    owner_of[id] = owner_worker(p, *gen, kWorkers, kKey, 0);
    ++expected[owner_of[id]];
    input[id % kWorkers].push_back(m);  // RSS knows nothing of CIDs
  }

  struct Result {
    std::vector<std::uint32_t> ids;  // every mbuf this worker ended up owning
    std::uint64_t forwarded = 0;
    std::uint64_t from_ring = 0;
    std::uint64_t full = 0;
    bool timed_out = false;
  };
  std::array<Result, kWorkers> results;
  std::atomic<int> ready{0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);

  auto worker_loop = [&](std::uint16_t self) {
    Result& res = results[self];
    res.ids.reserve(kTotal);
    ready.fetch_add(1);
    while (ready.load() < kWorkers) {
    }
    std::array<rte_mbuf*, 32> burst;
    auto drain_once = [&] {
      const std::size_t n = rings.drain(self, burst);
      res.from_ring += n;
      for (std::size_t i = 0; i < n; ++i)
        res.ids.push_back(burst[i]->hash.usr);
    };
    for (rte_mbuf* m : input[self]) {
      const ByteSpan payload(rte_pktmbuf_mtod(m, const std::uint8_t*), m->data_len);
      const std::uint16_t owner = owner_worker(payload, *gen, kWorkers, kKey, self);
      if (owner == self) {
        res.ids.push_back(m->hash.usr);
        continue;
      }
      while (!rings.forward(self, owner, m)) {
        ++res.full;
        drain_once();  // never wait on a full ring with our own ring full
        if (std::chrono::steady_clock::now() > deadline) {
          res.timed_out = true;
          return;
        }
      }
      ++res.forwarded;
      if (res.forwarded % 8 == 0) drain_once();
    }
    while (res.ids.size() < static_cast<std::size_t>(expected[self])) {
      drain_once();
      if (std::chrono::steady_clock::now() > deadline) {
        res.timed_out = true;
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::uint16_t w = 0; w < kWorkers; ++w)
    threads.emplace_back(worker_loop, w);
  for (std::thread& t : threads)
    t.join();

  std::vector<int> seen(kTotal, 0);
  std::uint64_t out_total = 0, in_total = 0;
  for (std::uint16_t w = 0; w < kWorkers; ++w) {
    SCOPED_TRACE(w);
    const Result& res = results[w];
    ASSERT_FALSE(res.timed_out);
    EXPECT_EQ(res.ids.size(), static_cast<std::size_t>(expected[w]));
    for (std::uint32_t id : res.ids) {
      ASSERT_LT(id, kTotal);
      ++seen[id];
      EXPECT_EQ(owner_of[id], w) << "mbuf " << id;
    }
    const RedirectCountersSnapshot c = rings.counters(w);
    EXPECT_EQ(c.redirected_out, res.forwarded);
    EXPECT_EQ(c.redirected_in, res.from_ring);
    EXPECT_EQ(c.ring_full, res.full);
    EXPECT_EQ(rings.pending(w), 0u);
    EXPECT_GT(c.redirected_out, 0u);
    out_total += c.redirected_out;
    in_total += c.redirected_in;
  }
  EXPECT_EQ(out_total, in_total);
  // RSS put about 1/3 of the packets on their owner already.
  EXPECT_GT(out_total, kTotal / 2);
  EXPECT_LT(out_total, kTotal);
  for (unsigned id = 0; id < kTotal; ++id)
    ASSERT_EQ(seen[id], 1) << "mbuf " << id;
  for (auto& in : input)
    for (rte_mbuf* m : in)
      rte_pktmbuf_free(m);
  EXPECT_TRUE(pool.full());
}

}  // namespace
}  // namespace dquic
