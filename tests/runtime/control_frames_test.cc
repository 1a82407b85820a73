// Control plane of the receive path: ARP, ICMPv4 echo, ICMPv6 echo and
// Neighbor Discovery on mbufs. Frames are written byte by byte from the
// known layouts (RFC 826, 791, 792, 8200, 4443, 4861); replies are compared
// byte for byte with independently built expected frames, checksums are
// recomputed here with a plain RFC 1071 sum, and every rejection path is
// checked against its counter. Runs under dpdk_test_main.cc.
#include "runtime/control_frames.h"

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstring>
#include <memory>
#include <vector>

#include "runtime/arp.h"
#include "runtime/neighbor_discovery.h"

namespace dquic {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct MbufDeleter {
  void operator()(rte_mbuf* m) const { rte_pktmbuf_free(m); }
};
using MbufPtr = std::unique_ptr<rte_mbuf, MbufDeleter>;

// ---- byte-level frame construction ----

void put8(Bytes& b, std::uint8_t v) {
  b.push_back(v);
}
void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put(Bytes& b, const std::uint8_t* p, std::size_t n) {
  b.insert(b.end(), p, p + n);
}
template <std::size_t N>
void put(Bytes& b, const std::array<std::uint8_t, N>& a) {
  put(b, a.data(), N);
}
void put(Bytes& b, const Bytes& more) {
  b.insert(b.end(), more.begin(), more.end());
}
std::uint16_t get16(const Bytes& b, std::size_t off) {
  return static_cast<std::uint16_t>((b[off] << 8) | b[off + 1]);
}

// RFC 1071 over big-endian 16-bit words, independent of the DPDK routines.
std::uint16_t inet_sum(const Bytes& data, std::uint32_t initial = 0) {
  std::uint32_t sum = initial;
  for (std::size_t i = 0; i + 1 < data.size(); i += 2)
    sum += static_cast<std::uint32_t>((data[i] << 8) | data[i + 1]);
  if (data.size() % 2) sum += static_cast<std::uint32_t>(data.back() << 8);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}
std::uint16_t inet_checksum(const Bytes& data, std::uint32_t initial = 0) {
  return static_cast<std::uint16_t>(~inet_sum(data, initial));
}
Bytes v6_pseudo(const std::array<std::uint8_t, 16>& src, const std::array<std::uint8_t, 16>& dst,
                std::size_t len) {
  Bytes ph;
  put(ph, src);
  put(ph, dst);
  put16(ph, 0);
  put16(ph, static_cast<std::uint16_t>(len));
  put16(ph, 0);
  put16(ph, 58);
  return ph;
}
std::uint16_t icmpv6_checksum(const std::array<std::uint8_t, 16>& src,
                              const std::array<std::uint8_t, 16>& dst, const Bytes& msg) {
  Bytes all = v6_pseudo(src, dst, msg.size());
  put(all, msg);
  return inet_checksum(all);
}

using V4 = std::array<std::uint8_t, 4>;
using V6 = std::array<std::uint8_t, 16>;

const MacAddress kOurMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x10};
const MacAddress kPeerMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x20};
const MacAddress kOtherMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x30};
const V4 kOurV4 = {198, 18, 0, 10};
const V4 kOurV4b = {198, 19, 0, 10};
const V4 kPeerV4 = {198, 18, 0, 20};
const V6 kOurV6 = {0xfd, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
const V6 kOurLinkLocal = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
const V6 kPeerV6 = {0xfd, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0x20};
const V6 kAllNodes = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
const V6 kUnspecified = {};

V6 solicited_node(const V6& a) {
  return {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, a[13], a[14], a[15]};
}

IpAddress ip4(const V4& a) {
  IpAddress ip;
  ip.family = IpFamily::kIpv4;
  std::memcpy(ip.bytes.data(), a.data(), 4);
  return ip;
}
IpAddress ip6(const V6& a) {
  IpAddress ip;
  ip.family = IpFamily::kIpv6;
  ip.bytes = a;
  return ip;
}

struct Tag {
  std::uint16_t tpid;
  std::uint16_t tci;
};

Bytes eth(const MacAddress& dst, const MacAddress& src, std::uint16_t type,
          const std::vector<Tag>& tags = {}) {
  Bytes b;
  put(b, dst);
  put(b, src);
  for (const Tag& t : tags) {
    put16(b, t.tpid);
    put16(b, t.tci);
  }
  put16(b, type);
  return b;
}

Bytes arp(std::uint16_t op, const MacAddress& sha, const V4& spa, const MacAddress& tha,
          const V4& tpa) {
  Bytes b;
  put16(b, 1);
  put16(b, 0x0800);
  put8(b, 6);
  put8(b, 4);
  put16(b, op);
  put(b, sha);
  put(b, spa);
  put(b, tha);
  put(b, tpa);
  return b;
}

Bytes pad60(Bytes b) {
  if (b.size() < 60) b.resize(60, 0);
  return b;
}

Bytes ipv4(const V4& src, const V4& dst, std::size_t payload_len, std::uint8_t ttl = 64,
           std::uint16_t frag = 0x4000, std::uint8_t proto = 1, const Bytes& options = {}) {
  Bytes b;
  put8(b, static_cast<std::uint8_t>(0x40 | ((20 + options.size()) / 4)));
  put8(b, 0x00);
  put16(b, static_cast<std::uint16_t>(20 + options.size() + payload_len));
  put16(b, 0x1234);
  put16(b, frag);
  put8(b, ttl);
  put8(b, proto);
  put16(b, 0);
  put(b, src);
  put(b, dst);
  put(b, options);
  const std::uint16_t c = inet_checksum(b);
  b[10] = static_cast<std::uint8_t>(c >> 8);
  b[11] = static_cast<std::uint8_t>(c);
  return b;
}

Bytes echo_payload(std::size_t n) {
  Bytes p(n);
  for (std::size_t i = 0; i < n; ++i)
    p[i] = static_cast<std::uint8_t>(i * 13 + 1);
  return p;
}

// ICMP (v4) message with its checksum set.
Bytes icmp(std::uint8_t type, std::uint8_t code, const Bytes& rest) {
  Bytes b = {type, code, 0, 0};
  put(b, rest);
  const std::uint16_t c = inet_checksum(b);
  b[2] = static_cast<std::uint8_t>(c >> 8);
  b[3] = static_cast<std::uint8_t>(c);
  return b;
}
Bytes echo_body(const Bytes& data) {
  Bytes r = {0xbe, 0xef, 0x00, 0x07};  // identifier, sequence
  put(r, data);
  return r;
}

Bytes ipv6(const V6& src, const V6& dst, std::size_t payload_len, std::uint8_t next = 58,
           std::uint8_t hop = 255) {
  Bytes b = {0x60, 0x00, 0x00, 0x00};
  put16(b, static_cast<std::uint16_t>(payload_len));
  put8(b, next);
  put8(b, hop);
  put(b, src);
  put(b, dst);
  return b;
}

// ICMPv6 message with its checksum over the pseudo-header set.
Bytes icmp6(const V6& src, const V6& dst, std::uint8_t type, std::uint8_t code, const Bytes& rest) {
  Bytes b = {type, code, 0, 0};
  put(b, rest);
  const std::uint16_t c = icmpv6_checksum(src, dst, b);
  b[2] = static_cast<std::uint8_t>(c >> 8);
  b[3] = static_cast<std::uint8_t>(c);
  return b;
}
Bytes lla_option(std::uint8_t type, const MacAddress& m) {
  Bytes b = {type, 1};
  put(b, m);
  return b;
}
Bytes ns_body(const V6& target, const Bytes& options) {
  Bytes b = {0, 0, 0, 0};
  put(b, target);
  put(b, options);
  return b;
}
Bytes na_body(std::uint8_t flags, const V6& target, const Bytes& options) {
  Bytes b = {flags, 0, 0, 0};
  put(b, target);
  put(b, options);
  return b;
}

// A whole IPv6/ICMPv6 frame.
Bytes frame6(const MacAddress& dmac, const MacAddress& smac, const V6& src, const V6& dst,
             std::uint8_t type, std::uint8_t code, const Bytes& rest, std::uint8_t hop = 255,
             const std::vector<Tag>& tags = {}) {
  Bytes f = eth(dmac, smac, 0x86dd, tags);
  const Bytes msg = icmp6(src, dst, type, code, rest);
  put(f, ipv6(src, dst, msg.size(), 58, hop));
  put(f, msg);
  return f;
}
Bytes frame4(const MacAddress& dmac, const MacAddress& smac, const V4& src, const V4& dst,
             const Bytes& icmp_msg, const std::vector<Tag>& tags = {}) {
  Bytes f = eth(dmac, smac, 0x0800, tags);
  put(f, ipv4(src, dst, icmp_msg.size()));
  put(f, icmp_msg);
  return f;
}

class ControlFramesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pool_ = rte_pktmbuf_pool_create("control_frames_test", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    static_cast<int>(rte_socket_id()));
    ASSERT_NE(pool_, nullptr) << rte_strerror(rte_errno);
  }
  static void TearDownTestSuite() {
    rte_mempool_free(pool_);
    pool_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(route_.add_address(ip4(kOurV4), 24));
    ASSERT_TRUE(route_.add_address(ip4(kOurV4b), 24));
    ASSERT_TRUE(route_.add_address(ip6(kOurV6), 64));
    ASSERT_TRUE(route_.add_address(ip6(kOurLinkLocal), 64));
    ControlPlaneConfig cfg;
    cfg.mac = kOurMac;
    cp_ = std::make_unique<ControlPlane>(cfg, route_, table_);
  }

  MbufPtr mbuf(const Bytes& bytes) {
    MbufPtr m(rte_pktmbuf_alloc(pool_));
    EXPECT_NE(m, nullptr);
    auto* d = reinterpret_cast<std::uint8_t*>(
        rte_pktmbuf_append(m.get(), static_cast<std::uint16_t>(bytes.size())));
    EXPECT_NE(d, nullptr);
    if (!bytes.empty()) std::memcpy(d, bytes.data(), bytes.size());
    return m;
  }
  // The same bytes split over two segments at `split`.
  MbufPtr chained(const Bytes& bytes, std::size_t split) {
    MbufPtr head = mbuf(Bytes(bytes.begin(), bytes.begin() + static_cast<long>(split)));
    MbufPtr tail = mbuf(Bytes(bytes.begin() + static_cast<long>(split), bytes.end()));
    EXPECT_EQ(rte_pktmbuf_chain(head.get(), tail.release()), 0);
    return head;
  }
  static Bytes bytes_of(const rte_mbuf* m) {
    Bytes v(rte_pktmbuf_pkt_len(m));
    const void* p = rte_pktmbuf_read(m, 0, static_cast<std::uint32_t>(v.size()), v.data());
    if (p != v.data()) std::memcpy(v.data(), p, v.size());
    return v;
  }

  // Runs `frame` through the control plane; returns the bytes after.
  Bytes run(const Bytes& frame, ControlResult* result, std::uint64_t now = kNow) {
    MbufPtr m = mbuf(frame);
    *result = cp_->process(m.get(), now);
    return bytes_of(m.get());
  }
  Bytes expect_reply(const Bytes& frame, std::uint64_t now = kNow) {
    ControlResult r;
    Bytes out = run(frame, &r, now);
    EXPECT_EQ(r.action, ControlAction::kReply) << to_string(r.reason);
    return out;
  }
  void expect_drop(const Bytes& frame, ControlDropReason reason) {
    const std::uint64_t before = cp_->counters().dropped(reason);
    const std::uint64_t total = cp_->counters().total_drops();
    ControlResult r;
    const Bytes out = run(frame, &r);
    EXPECT_EQ(r.action, ControlAction::kDrop);
    EXPECT_EQ(r.reason, reason) << "got " << to_string(r.reason) << " want " << to_string(reason);
    EXPECT_EQ(cp_->counters().dropped(reason), before + 1);
    EXPECT_EQ(cp_->counters().total_drops(), total + 1);
  }

  static constexpr std::uint64_t kNow = 1'000'000'000'000;
  static inline rte_mempool* pool_ = nullptr;
  Route route_;
  NeighborTable table_{NeighborConfig{}};
  std::unique_ptr<ControlPlane> cp_;
};

// ---- classification ----

TEST_F(ControlFramesTest, Classifies) {
  auto kind = [&](const Bytes& f) { return classify_control_frame(mbuf(f).get()); };
  Bytes a = eth(kBroadcastMac, kPeerMac, 0x0806);
  put(a, arp(1, kPeerMac, kPeerV4, {}, kOurV4));
  EXPECT_EQ(kind(a), ControlFrameKind::kArp);
  EXPECT_EQ(kind(frame4(kOurMac, kPeerMac, kPeerV4, kOurV4, icmp(8, 0, echo_body({})))),
            ControlFrameKind::kIcmpv4);
  EXPECT_EQ(kind(frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 128, 0, echo_body({}))),
            ControlFrameKind::kIcmpv6);
  Bytes tagged = eth(kBroadcastMac, kPeerMac, 0x0806, {{0x88a8, 5}, {0x8100, 6}});
  put(tagged, arp(1, kPeerMac, kPeerV4, {}, kOurV4));
  EXPECT_EQ(kind(tagged), ControlFrameKind::kArp);
  Bytes udp = eth(kOurMac, kPeerMac, 0x0800);
  put(udp, ipv4(kPeerV4, kOurV4, 8, 64, 0x4000, 17));
  put(udp, Bytes(8, 0));
  EXPECT_EQ(kind(udp), ControlFrameKind::kOther);
  EXPECT_EQ(kind(eth(kOurMac, kPeerMac, 0x88cc)), ControlFrameKind::kOther);  // LLDP
  EXPECT_EQ(kind(Bytes(10, 0)), ControlFrameKind::kOther);
  EXPECT_STREQ(to_string(ControlFrameKind::kIcmpv6), "icmpv6");
}

TEST_F(ControlFramesTest, NonControlFramesPassUntouched) {
  Bytes udp = eth(kOurMac, kPeerMac, 0x0800);
  put(udp, ipv4(kPeerV4, kOurV4, 8, 64, 0x4000, 17));
  put(udp, Bytes(8, 0x5a));
  for (const Bytes& f : {udp, eth(kOurMac, kPeerMac, 0x88cc), Bytes(8, 1)}) {
    ControlResult r;
    EXPECT_EQ(run(f, &r), f);
    EXPECT_EQ(r, ControlResult{});
  }
  EXPECT_EQ(cp_->counters().total_drops(), 0u);
}

// ---- ARP ----

TEST_F(ControlFramesTest, ArpRequestForOurAddressIsAnsweredInPlace) {
  Bytes f = eth(kBroadcastMac, kPeerMac, 0x0806);
  put(f, arp(1, kPeerMac, kPeerV4, {}, kOurV4));
  f = pad60(f);
  const Bytes out = expect_reply(f);
  Bytes want = eth(kPeerMac, kOurMac, 0x0806);
  put(want, arp(2, kOurMac, kOurV4, kPeerMac, kPeerV4));
  want = pad60(want);
  EXPECT_EQ(out, want);
  EXPECT_EQ(cp_->counters().arp_replies_sent, 1u);
  // RFC 826: the requester is learned (STALE: not confirmed by us asking).
  const NeighborEntry* e = table_.find(ip4(kPeerV4));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->mac, kPeerMac);
  EXPECT_EQ(e->state, NeighborState::kStale);
  EXPECT_EQ(cp_->counters().neighbor_updates, 1u);
}

TEST_F(ControlFramesTest, ArpAnswersEveryLocalAddressAndKeepsVlanTags) {
  for (const std::vector<Tag>& tags : {std::vector<Tag>{}, std::vector<Tag>{{0x8100, 0x2064}},
                                       std::vector<Tag>{{0x88a8, 0x0123}, {0x8100, 0xe456}}}) {
    Bytes f = eth(kBroadcastMac, kPeerMac, 0x0806, tags);
    put(f, arp(1, kPeerMac, kPeerV4, {}, kOurV4b));
    const Bytes out = expect_reply(f);
    Bytes want = eth(kPeerMac, kOurMac, 0x0806, tags);
    put(want, arp(2, kOurMac, kOurV4b, kPeerMac, kPeerV4));
    EXPECT_EQ(out, want) << tags.size() << " tags";
  }
}

TEST_F(ControlFramesTest, ArpProbeIsAnsweredButNotLearned) {
  Bytes f = eth(kBroadcastMac, kPeerMac, 0x0806);
  put(f, arp(1, kPeerMac, {0, 0, 0, 0}, {}, kOurV4));  // RFC 5227 probe
  const Bytes out = expect_reply(f);
  Bytes want = eth(kPeerMac, kOurMac, 0x0806);
  put(want, arp(2, kOurMac, kOurV4, kPeerMac, {0, 0, 0, 0}));
  EXPECT_EQ(out, want);
  EXPECT_EQ(table_.size(), 0u);
}

TEST_F(ControlFramesTest, ArpReplyCompletesResolution) {
  MacAddress m{};
  ASSERT_EQ(table_.resolve(ip4(kPeerV4), kNow, &m), NeighborAction::kSolicit);
  Bytes f = eth(kOurMac, kPeerMac, 0x0806);
  put(f, arp(2, kPeerMac, kPeerV4, kOurMac, kOurV4));
  ControlResult r;
  EXPECT_EQ(run(f, &r, kNow + 5), f);
  EXPECT_EQ(r.action, ControlAction::kConsumed);
  EXPECT_EQ(table_.find(ip4(kPeerV4))->state, NeighborState::kReachable);
  EXPECT_EQ(table_.resolve(ip4(kPeerV4), kNow + 6, &m), NeighborAction::kSend);
  EXPECT_EQ(m, kPeerMac);
}

TEST_F(ControlFramesTest, GratuitousArpUpdatesOnlyExistingEntries) {
  Bytes f = eth(kBroadcastMac, kOtherMac, 0x0806);
  put(f, arp(1, kOtherMac, kPeerV4, {}, kPeerV4));
  ControlResult r;
  run(f, &r);
  EXPECT_EQ(r.action, ControlAction::kConsumed);
  EXPECT_EQ(table_.find(ip4(kPeerV4)), nullptr);  // not created
  ASSERT_EQ(table_.update(ip4(kPeerV4), &kPeerMac, NeighborUpdate{true, true, true}, kNow),
            NeighborUpdateResult::kCreated);
  // Reply form too (both are used for announcements).
  Bytes g = eth(kBroadcastMac, kOtherMac, 0x0806);
  put(g, arp(2, kOtherMac, kPeerV4, kBroadcastMac, kPeerV4));
  run(g, &r, kNow + 1);
  EXPECT_EQ(r.action, ControlAction::kConsumed);
  EXPECT_EQ(table_.find(ip4(kPeerV4))->mac, kOtherMac);
  EXPECT_EQ(table_.find(ip4(kPeerV4))->state, NeighborState::kStale);
  EXPECT_EQ(cp_->counters().arp_gratuitous, 2u);
}

TEST_F(ControlFramesTest, ArpRequestForAnotherHostRefreshesButIsNotAnswered) {
  ASSERT_EQ(table_.update(ip4(kPeerV4), &kPeerMac, NeighborUpdate{true, true, true}, kNow),
            NeighborUpdateResult::kCreated);
  Bytes f = eth(kBroadcastMac, kOtherMac, 0x0806);
  put(f, arp(1, kOtherMac, kPeerV4, {}, {198, 18, 0, 99}));
  expect_drop(f, ControlDropReason::kNotForUs);
  EXPECT_EQ(table_.find(ip4(kPeerV4))->mac, kOtherMac);  // RFC 826 merge
  EXPECT_EQ(table_.find(ip4({198, 18, 0, 99})), nullptr);
}

TEST_F(ControlFramesTest, ArpRejections) {
  auto frame = [](const Bytes& body, const MacAddress& dmac = kBroadcastMac,
                  const MacAddress& smac = kPeerMac) {
    Bytes f = eth(dmac, smac, 0x0806);
    put(f, body);
    return f;
  };
  const Bytes good = arp(1, kPeerMac, kPeerV4, {}, kOurV4);
  for (std::size_t field : {0u, 2u, 4u, 5u}) {  // htype, ptype, hlen, plen
    Bytes b = good;
    b[field < 4 ? field + 1 : field] ^= 0x01;
    SCOPED_TRACE(field);
    expect_drop(frame(b), ControlDropReason::kBadArpHeader);
  }
  Bytes op3 = good;
  op3[7] = 3;
  expect_drop(frame(op3), ControlDropReason::kBadArpOperation);
  expect_drop(frame(arp(1, {0x01, 0, 0x5e, 0, 0, 1}, kPeerV4, {}, kOurV4)),
              ControlDropReason::kBadSourceAddress);
  expect_drop(frame(arp(1, {}, kPeerV4, {}, kOurV4)), ControlDropReason::kBadSourceAddress);
  expect_drop(frame(arp(1, kPeerMac, kOurV4b, {}, kOurV4)), ControlDropReason::kAddressConflict);
  expect_drop(frame(arp(2, kPeerMac, kPeerV4, kOurMac, kOurV4), kOurMac),
              ControlDropReason::kUnsolicitedAdvertisement);
  expect_drop(frame(arp(2, kPeerMac, kPeerV4, kOtherMac, {198, 18, 0, 99}), kOurMac),
              ControlDropReason::kNotForUs);
  expect_drop(frame(good, kOtherMac), ControlDropReason::kNotForUs);  // promiscuous
  expect_drop(frame(good, kBroadcastMac, {0x03, 0, 0, 0, 0, 1}),
              ControlDropReason::kBadSourceAddress);
  Bytes cut = frame(good);
  cut.resize(cut.size() - 1);
  expect_drop(cut, ControlDropReason::kTooShort);
  EXPECT_EQ(table_.size(), 0u);  // nothing learned from any of them
  EXPECT_EQ(cp_->counters().arp_replies_sent, 0u);
}

TEST_F(ControlFramesTest, WritesArpRequests) {
  MbufPtr m = mbuf({});
  ASSERT_TRUE(write_arp_request(m.get(), kOurMac, ip4(kOurV4), ip4(kPeerV4)));
  Bytes want = eth(kBroadcastMac, kOurMac, 0x0806);
  put(want, arp(1, kOurMac, kOurV4, {}, kPeerV4));
  EXPECT_EQ(bytes_of(m.get()), pad60(want));

  VlanTags tags;
  tags.count = 1;
  tags.tci[0] = 0x0064;  // TPID 0 means 0x8100
  MbufPtr u = mbuf({});
  ASSERT_TRUE(write_arp_request(u.get(), kOurMac, ip4(kOurV4), ip4(kPeerV4), tags, &kPeerMac));
  Bytes want_u = eth(kPeerMac, kOurMac, 0x0806, {{0x8100, 0x0064}});
  put(want_u, arp(1, kOurMac, kOurV4, {}, kPeerV4));
  EXPECT_EQ(bytes_of(u.get()), pad60(want_u));

  EXPECT_FALSE(write_arp_request(m.get(), kOurMac, ip4(kOurV4), ip4(kPeerV4)));  // not empty
  MbufPtr e = mbuf({});
  EXPECT_FALSE(write_arp_request(e.get(), kOurMac, ip6(kOurV6), ip4(kPeerV4)));
  EXPECT_FALSE(write_arp_request(e.get(), kOurMac, ip4(kOurV4), ip6(kPeerV6)));
  EXPECT_EQ(rte_pktmbuf_pkt_len(e.get()), 0u);
}

// Our request, answered by a second control plane playing the peer, then
// the peer's reply consumed by ours: the next hop resolves.
TEST_F(ControlFramesTest, ArpRoundTripBetweenTwoControlPlanes) {
  Route peer_route;
  ASSERT_TRUE(peer_route.add_address(ip4(kPeerV4), 24));
  NeighborTable peer_table;
  ControlPlaneConfig pc;
  pc.mac = kPeerMac;
  ControlPlane peer(pc, peer_route, peer_table);

  MacAddress m{};
  ASSERT_EQ(table_.resolve(ip4(kPeerV4), kNow, &m), NeighborAction::kSolicit);
  MbufPtr req = mbuf({});
  ASSERT_TRUE(cp_->write_solicitation(req.get(), ip4(kPeerV4)));
  EXPECT_EQ(peer.process(req.get(), kNow).action, ControlAction::kReply);
  EXPECT_EQ(peer_table.find(ip4(kOurV4))->mac, kOurMac);
  EXPECT_EQ(cp_->process(req.get(), kNow + 1).action, ControlAction::kConsumed);
  EXPECT_EQ(table_.resolve(ip4(kPeerV4), kNow + 2, &m), NeighborAction::kSend);
  EXPECT_EQ(m, kPeerMac);
}

TEST_F(ControlFramesTest, SolicitationSourceFollowsThePrefix) {
  MbufPtr m = mbuf({});
  ASSERT_TRUE(cp_->write_solicitation(m.get(), ip4({198, 19, 0, 99})));
  const Bytes b = bytes_of(m.get());
  EXPECT_EQ((V4{b[28], b[29], b[30], b[31]}), kOurV4b);
  Route empty;
  NeighborTable t;
  ControlPlane none(ControlPlaneConfig{}, empty, t);
  MbufPtr n = mbuf({});
  EXPECT_FALSE(none.write_solicitation(n.get(), ip4(kPeerV4)));
}

// ---- ICMPv4 echo ----

Bytes expected_echo_reply4(const Bytes& data, const std::vector<Tag>& tags = {}) {
  const Bytes msg = icmp(0, 0, echo_body(data));
  Bytes want = eth(kPeerMac, kOurMac, 0x0800, tags);
  put(want, ipv4(kOurV4, kPeerV4, msg.size()));
  put(want, msg);
  return want;
}

TEST_F(ControlFramesTest, IcmpEchoRequestIsAnsweredInPlace) {
  const Bytes data = echo_payload(56);
  Bytes f = eth(kOurMac, kPeerMac, 0x0800);
  const Bytes msg = icmp(8, 0, echo_body(data));
  put(f, ipv4(kPeerV4, kOurV4, msg.size(), 17));  // TTL 17: the reply resets it
  put(f, msg);
  const Bytes out = expect_reply(f);
  EXPECT_EQ(out, expected_echo_reply4(data));
  // Independent checks of both checksums over the reply itself.
  EXPECT_EQ(inet_sum(Bytes(out.begin() + 14, out.begin() + 34)), 0xffff);
  EXPECT_EQ(inet_sum(Bytes(out.begin() + 34, out.end())), 0xffff);
  EXPECT_EQ(out[22], 64);  // TTL
  EXPECT_EQ(out[34], 0);   // echo reply
  EXPECT_EQ(cp_->counters().icmp_echo_replies_sent, 1u);
}

TEST_F(ControlFramesTest, IcmpEchoPaddingTrimmedAndVlanKept) {
  const std::vector<Tag> tags = {{0x8100, 0x0fff}};
  Bytes f = frame4(kOurMac, kPeerMac, kPeerV4, kOurV4, icmp(8, 0, echo_body({})), tags);
  ASSERT_LT(f.size(), 60u);
  const Bytes out = expect_reply(pad60(f));
  EXPECT_EQ(out, expected_echo_reply4({}, tags));  // padding gone
}

TEST_F(ControlFramesTest, IcmpEchoAcrossSegments) {
  const Bytes data = echo_payload(301);  // odd length, split at an odd offset
  const Bytes f = frame4(kOurMac, kPeerMac, kPeerV4, kOurV4, icmp(8, 0, echo_body(data)));
  MbufPtr m = chained(f, 14 + 20 + 8 + 77);
  ASSERT_EQ(m->nb_segs, 2);
  const ControlResult r = cp_->process(m.get(), kNow);
  EXPECT_EQ(r.action, ControlAction::kReply) << to_string(r.reason);
  EXPECT_EQ(bytes_of(m.get()), expected_echo_reply4(data));
}

TEST_F(ControlFramesTest, StrippedVlanIsRequestedBackOnTransmit) {
  const Bytes f = frame4(kOurMac, kPeerMac, kPeerV4, kOurV4, icmp(8, 0, echo_body({1, 2, 3})));
  MbufPtr m = mbuf(f);
  m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED | RTE_MBUF_F_TX_UDP_CKSUM;
  m->vlan_tci = 0x2064;
  ASSERT_EQ(cp_->process(m.get(), kNow).action, ControlAction::kReply);
  EXPECT_NE(m->ol_flags & RTE_MBUF_F_TX_VLAN, 0u);
  EXPECT_EQ(m->ol_flags & (RTE_MBUF_F_TX_QINQ | RTE_MBUF_F_TX_UDP_CKSUM), 0u);
  EXPECT_EQ(m->vlan_tci, 0x2064);

  MbufPtr q = mbuf(f);
  q->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED | RTE_MBUF_F_RX_QINQ |
                 RTE_MBUF_F_RX_QINQ_STRIPPED;
  q->vlan_tci = 0x0064;
  q->vlan_tci_outer = 0x00c8;
  ASSERT_EQ(cp_->process(q.get(), kNow).action, ControlAction::kReply);
  EXPECT_NE(q->ol_flags & RTE_MBUF_F_TX_QINQ, 0u);
  EXPECT_EQ(q->vlan_tci_outer, 0x00c8);

  MbufPtr plain = mbuf(f);
  ASSERT_EQ(cp_->process(plain.get(), kNow).action, ControlAction::kReply);
  EXPECT_EQ(plain->ol_flags & (RTE_MBUF_F_TX_VLAN | RTE_MBUF_F_TX_QINQ), 0u);
}

TEST_F(ControlFramesTest, IcmpRejections) {
  const Bytes req = icmp(8, 0, echo_body(echo_payload(8)));
  const Bytes good = frame4(kOurMac, kPeerMac, kPeerV4, kOurV4, req);
  {
    Bytes b = good;
    b[14 + 10] ^= 1;  // IP header checksum
    expect_drop(b, ControlDropReason::kBadIpChecksum);
  }
  {
    MbufPtr m = mbuf(good);
    m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_BAD;
    EXPECT_EQ(cp_->process(m.get(), kNow), control_drop(ControlDropReason::kBadIpChecksum));
  }
  {
    Bytes b = good;
    b.back() ^= 1;  // ICMP checksum no longer matches
    expect_drop(b, ControlDropReason::kBadIcmpChecksum);
  }
  {
    Bytes b = eth(kOurMac, kPeerMac, 0x0800);
    put(b, ipv4(kPeerV4, kOurV4, req.size(), 64, 0x2000));  // MF
    put(b, req);
    expect_drop(b, ControlDropReason::kFragment);
  }
  {
    Bytes b = eth(kOurMac, kPeerMac, 0x0800);
    put(b, ipv4(kPeerV4, kOurV4, req.size(), 64, 0x4000, 1, {0x01, 0x01, 0x01, 0x00}));
    put(b, req);
    expect_drop(b, ControlDropReason::kIpOptions);
  }
  expect_drop(frame4(kOurMac, kPeerMac, kPeerV4, {198, 18, 0, 99}, req),
              ControlDropReason::kNotForUs);
  expect_drop(frame4(kBroadcastMac, kPeerMac, kPeerV4, kOurV4, req), ControlDropReason::kNotForUs);
  expect_drop(frame4(kOtherMac, kPeerMac, kPeerV4, kOurV4, req), ControlDropReason::kNotForUs);
  expect_drop(frame4(kOurMac, kPeerMac, {224, 0, 0, 1}, kOurV4, req),
              ControlDropReason::kBadSourceAddress);
  expect_drop(frame4(kOurMac, kPeerMac, {255, 255, 255, 255}, kOurV4, req),
              ControlDropReason::kBadSourceAddress);
  expect_drop(frame4(kOurMac, kPeerMac, kPeerV4, kOurV4, icmp(0, 0, echo_body({}))),
              ControlDropReason::kIcmpIgnored);  // echo reply
  expect_drop(frame4(kOurMac, kPeerMac, kPeerV4, kOurV4, icmp(3, 4, Bytes(24, 0))),
              ControlDropReason::kIcmpIgnored);  // destination unreachable
  expect_drop(frame4(kOurMac, kPeerMac, kPeerV4, kOurV4, icmp(8, 1, echo_body({}))),
              ControlDropReason::kBadIcmpCode);
  expect_drop(frame4(kOurMac, kPeerMac, kPeerV4, kOurV4, icmp(8, 0, {})),
              ControlDropReason::kBadIcmpLength);  // 4 bytes: no identifier/sequence
  expect_drop(frame4(kOurMac, kPeerMac, kPeerV4, kOurV4, Bytes{8, 0, 0xf7}),
              ControlDropReason::kBadIcmpLength);
  {
    Bytes b = good;
    b[14 + 3] += 1;  // total length beyond the frame
    b[14 + 10] = b[14 + 11] = 0;
    const std::uint16_t c = inet_checksum(Bytes(b.begin() + 14, b.begin() + 34));
    b[24] = static_cast<std::uint8_t>(c >> 8);
    b[25] = static_cast<std::uint8_t>(c);
    expect_drop(b, ControlDropReason::kBadIpLength);
  }
  {
    Bytes b = good;
    b[14] = 0x44;  // IHL 4
    expect_drop(b, ControlDropReason::kBadIpHeaderLength);
  }
  {
    Bytes b = good;
    b[14] = 0x65;  // version 6 under ethertype IPv4
    expect_drop(b, ControlDropReason::kBadIpVersion);
  }
  {
    Bytes b = good;
    b.resize(14 + 19);
    b[14 + 9] = 1;
    // Too short for an IPv4 header: not classified as ICMP at all.
    ControlResult r;
    run(b, &r);
    EXPECT_EQ(r.action, ControlAction::kPass);
  }
  EXPECT_EQ(cp_->counters().icmp_echo_replies_sent, 0u);
}

// ---- ICMPv6 echo ----

Bytes expected_echo_reply6(const Bytes& data, const std::vector<Tag>& tags = {}) {
  Bytes want = eth(kPeerMac, kOurMac, 0x86dd, tags);
  const Bytes msg = icmp6(kOurV6, kPeerV6, 129, 0, echo_body(data));
  put(want, ipv6(kOurV6, kPeerV6, msg.size(), 58, 64));
  put(want, msg);
  return want;
}

TEST_F(ControlFramesTest, Icmpv6EchoRequestIsAnsweredInPlace) {
  const Bytes data = echo_payload(57);
  const Bytes f = frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 128, 0, echo_body(data), 3);
  const Bytes out = expect_reply(f);
  EXPECT_EQ(out, expected_echo_reply6(data));
  // The checksum verifies over the pseudo-header with the swapped addresses.
  Bytes all = v6_pseudo(kOurV6, kPeerV6, out.size() - 54);
  put(all, Bytes(out.begin() + 54, out.end()));
  EXPECT_EQ(inet_sum(all), 0xffff);
  EXPECT_EQ(out[54], 129);
  EXPECT_EQ(cp_->counters().icmpv6_echo_replies_sent, 1u);
}

TEST_F(ControlFramesTest, Icmpv6EchoVlanMultiSegmentAndPadding) {
  const std::vector<Tag> tags = {{0x88a8, 7}, {0x8100, 8}};
  const Bytes data = echo_payload(200);
  const Bytes f = frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 128, 0, echo_body(data), 64, tags);
  MbufPtr m = chained(f, 22 + 40 + 8 + 33);
  ASSERT_EQ(cp_->process(m.get(), kNow).action, ControlAction::kReply);
  EXPECT_EQ(bytes_of(m.get()), expected_echo_reply6(data, tags));

  const Bytes small = frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 128, 0, echo_body({}), 64);
  EXPECT_EQ(expect_reply(pad60(small)), expected_echo_reply6({}));
}

TEST_F(ControlFramesTest, Icmpv6EchoDropsExtensionHeadersFromTheReply) {
  const Bytes msg = icmp6(kPeerV6, kOurV6, 128, 0, echo_body({9, 9}));
  Bytes f = eth(kOurMac, kPeerMac, 0x86dd);
  put(f, ipv6(kPeerV6, kOurV6, 8 + msg.size(), 0, 64));  // Hop-by-Hop first
  put(f, Bytes{58, 0, 1, 4, 0, 0, 0, 0});                // next 58, PadN
  put(f, msg);
  EXPECT_EQ(expect_reply(f), expected_echo_reply6({9, 9}));
}

TEST_F(ControlFramesTest, Icmpv6Rejections) {
  const Bytes body = echo_body({1, 2, 3, 4});
  {
    Bytes b = frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 128, 0, body);
    b.back() ^= 0x40;
    expect_drop(b, ControlDropReason::kBadIcmpChecksum);
  }
  expect_drop(frame6(kOurMac, kPeerMac, kPeerV6, kAllNodes, 128, 0, body),
              ControlDropReason::kNotForUs);
  expect_drop(frame6(kOurMac, kPeerMac, kPeerV6, kPeerV6, 128, 0, body),
              ControlDropReason::kNotForUs);
  expect_drop(frame6(ipv6_multicast_mac(kAllNodes.data()), kPeerMac, kPeerV6, kOurV6, 128, 0, body),
              ControlDropReason::kNotForUs);
  expect_drop(frame6(kOurMac, kPeerMac, kUnspecified, kOurV6, 128, 0, body),
              ControlDropReason::kBadSourceAddress);
  expect_drop(frame6(kOurMac, kPeerMac, kAllNodes, kOurV6, 128, 0, body),
              ControlDropReason::kBadSourceAddress);
  expect_drop(frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 128, 1, body),
              ControlDropReason::kBadIcmpCode);
  expect_drop(frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 128, 0, {}),
              ControlDropReason::kBadIcmpLength);
  expect_drop(frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 134, 0, Bytes(12, 0)),
              ControlDropReason::kIcmpIgnored);  // Router Advertisement
  expect_drop(frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 1, 0, Bytes(44, 0)),
              ControlDropReason::kIcmpIgnored);  // Destination Unreachable
  const Bytes msg = icmp6(kPeerV6, kOurV6, 128, 0, body);
  {
    Bytes b = eth(kOurMac, kPeerMac, 0x86dd);
    put(b, ipv6(kPeerV6, kOurV6, 24 + msg.size(), 43, 64));  // Routing header
    put(b, Bytes{58, 2, 0, 1, 0, 0, 0, 0});
    put(b, Bytes(16, 0));
    put(b, msg);
    expect_drop(b, ControlDropReason::kBadExtensionHeader);
  }
  {
    Bytes b = eth(kOurMac, kPeerMac, 0x86dd);
    put(b, ipv6(kPeerV6, kOurV6, 8 + msg.size(), 44, 64));  // Fragment header
    put(b, Bytes{58, 0, 0, 1, 0, 0, 0, 9});
    put(b, msg);
    expect_drop(b, ControlDropReason::kFragment);
  }
  {
    Bytes b = eth(kOurMac, kPeerMac, 0x86dd);
    put(b, ipv6(kPeerV6, kOurV6, 8 + msg.size(), 0, 64));  // HbH claims 16 bytes
    put(b, Bytes{58, 1, 0, 0, 0, 0, 0, 0});
    b[14 + 5] = 8;
    // A broken chain hides the upper layer: left to the UDP path to count.
    ControlResult r;
    EXPECT_EQ(run(b, &r), b);
    EXPECT_EQ(r.action, ControlAction::kPass);
  }
  {
    Bytes b = frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 128, 0, body);
    b[14 + 5] += 1;  // payload length beyond the frame
    expect_drop(b, ControlDropReason::kBadIpLength);
  }
  {
    Bytes b = frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 128, 0, body);
    b[14] = 0x40;  // version 4 under ethertype IPv6
    expect_drop(b, ControlDropReason::kBadIpVersion);
  }
  EXPECT_EQ(cp_->counters().icmpv6_echo_replies_sent, 0u);
}

// ---- Neighbor Discovery ----

Bytes expected_na(const MacAddress& dmac, const V6& src, const V6& dst, std::uint8_t flags,
                  const std::vector<Tag>& tags = {}) {
  Bytes want = eth(dmac, kOurMac, 0x86dd, tags);
  const Bytes msg = icmp6(src, dst, 136, 0, na_body(flags, src, lla_option(2, kOurMac)));
  put(want, ipv6(src, dst, msg.size(), 58, 255));
  put(want, msg);
  return want;
}

TEST_F(ControlFramesTest, MulticastSolicitationIsAnsweredAndSourceLearned) {
  const V6 group = solicited_node(kOurV6);
  // The option's MAC differs from the frame's source: the reply uses it.
  const Bytes f = frame6(ipv6_multicast_mac(group.data()), kOtherMac, kPeerV6, group, 135, 0,
                         ns_body(kOurV6, lla_option(1, kPeerMac)));
  const Bytes out = expect_reply(f);
  const Bytes want = expected_na(kPeerMac, kOurV6, kPeerV6, 0x60);  // Solicited | Override
  EXPECT_EQ(out, want);
  // Field by field on top of the byte comparison.
  EXPECT_EQ(get16(out, 14 + 4), 32);  // payload length
  EXPECT_EQ(out[14 + 7], 255);        // hop limit
  EXPECT_EQ(out[54], 136);
  EXPECT_EQ(out[58], 0x60);
  EXPECT_EQ(out[78], 2);  // target link-layer option
  EXPECT_EQ(out[79], 1);
  EXPECT_TRUE(std::equal(kOurMac.begin(), kOurMac.end(), out.begin() + 80));
  Bytes all = v6_pseudo(kOurV6, kPeerV6, 32);
  put(all, Bytes(out.begin() + 54, out.end()));
  EXPECT_EQ(inet_sum(all), 0xffff);

  const NeighborEntry* e = table_.find(ip6(kPeerV6));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->mac, kPeerMac);
  EXPECT_EQ(e->state, NeighborState::kStale);  // RFC 4861 §7.2.3
  EXPECT_EQ(cp_->counters().neighbor_advertisements_sent, 1u);
}

TEST_F(ControlFramesTest, UnicastSolicitationWithoutOptionGrowsIntoAdvertisement) {
  // A 24-byte NS (no option) to our link-local address: the NA needs 8 more
  // bytes, and goes to the frame's source MAC.
  const V6 peer_ll = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x20};
  const Bytes f =
      frame6(kOurMac, kPeerMac, peer_ll, kOurLinkLocal, 135, 0, ns_body(kOurLinkLocal, {}));
  ASSERT_EQ(f.size(), 14u + 40 + 24);
  EXPECT_EQ(expect_reply(f), expected_na(kPeerMac, kOurLinkLocal, peer_ll, 0x60));
  EXPECT_EQ(table_.find(ip6(peer_ll)), nullptr);  // nothing to learn from
}

TEST_F(ControlFramesTest, SolicitationWithExtraOptionsAndPaddingShrinks) {
  const V6 group = solicited_node(kOurV6);
  Bytes opts = lla_option(1, kPeerMac);
  put(opts, Bytes{14, 1, 1, 2, 3, 4, 5, 6});  // Nonce option (RFC 3971), skipped
  const Bytes f = frame6(ipv6_multicast_mac(group.data()), kPeerMac, kPeerV6, group, 135, 0,
                         ns_body(kOurV6, opts), 255, {{0x8100, 0x0064}});
  EXPECT_EQ(expect_reply(pad60(f)),
            expected_na(kPeerMac, kOurV6, kPeerV6, 0x60, {{0x8100, 0x0064}}));
}

TEST_F(ControlFramesTest, DuplicateAddressDetectionIsDefended) {
  const V6 group = solicited_node(kOurV6);
  const Bytes f = frame6(ipv6_multicast_mac(group.data()), kPeerMac, kUnspecified, group, 135, 0,
                         ns_body(kOurV6, {}));
  // RFC 4861 §7.2.4: to all-nodes, Solicited clear, Override set.
  EXPECT_EQ(expect_reply(f), expected_na({0x33, 0x33, 0, 0, 0, 1}, kOurV6, kAllNodes, 0x20));
  EXPECT_EQ(table_.size(), 0u);
}

TEST_F(ControlFramesTest, NeighborSolicitationRejections) {
  const V6 group = solicited_node(kOurV6);
  const MacAddress gmac = ipv6_multicast_mac(group.data());
  const Bytes opt = lla_option(1, kPeerMac);
  auto ns = [&](const Bytes& body, std::uint8_t hop = 255, std::uint8_t code = 0,
                const V6& src = kPeerV6, const V6& dst = solicited_node(kOurV6)) {
    return frame6(gmac, kPeerMac, src, dst, 135, code, body, hop);
  };
  expect_drop(ns(ns_body(kOurV6, opt), 254), ControlDropReason::kBadHopLimit);
  expect_drop(ns(ns_body(kOurV6, opt), 255, 1), ControlDropReason::kBadIcmpCode);
  expect_drop(ns(Bytes(16, 0)), ControlDropReason::kBadIcmpLength);  // 20 bytes
  {
    Bytes b = ns(ns_body(kOurV6, opt));
    b[b.size() - 9] ^= 1;  // inside the target address
    expect_drop(b, ControlDropReason::kBadIcmpChecksum);
  }
  expect_drop(ns(ns_body(kOurV6, {1, 0, 0, 0, 0, 0, 0, 0})), ControlDropReason::kBadNdOption);
  expect_drop(ns(ns_body(kOurV6, {1, 2, 0, 0, 0, 0, 0, 0})), ControlDropReason::kBadNdOption);
  expect_drop(ns(ns_body(kOurV6, {1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})),
              ControlDropReason::kBadNdOption);  // SLLAO of 16 bytes on Ethernet
  expect_drop(ns(ns_body(kOurV6, {14})), ControlDropReason::kBadNdOption);
  expect_drop(ns(ns_body(kAllNodes, opt), 255, 0, kPeerV6, kAllNodes),
              ControlDropReason::kBadNdTarget);
  expect_drop(ns(ns_body(kOurV6, opt), 255, 0, kUnspecified),
              ControlDropReason::kBadDadSolicitation);
  expect_drop(ns(ns_body(kOurV6, {}), 255, 0, kUnspecified, kOurV6),
              ControlDropReason::kBadDadSolicitation);
  const V6 other = {0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99};
  expect_drop(ns(ns_body(other, opt), 255, 0, kPeerV6, solicited_node(other)),
              ControlDropReason::kNotForUs);  // not our target
  expect_drop(ns(ns_body(kOurV6, opt), 255, 0, kPeerV6, solicited_node(other)),
              ControlDropReason::kNotForUs);  // another group
  expect_drop(frame6(kOtherMac, kPeerMac, kPeerV6, kOurV6, 135, 0, ns_body(kOurV6, opt)),
              ControlDropReason::kNotForUs);  // someone else's MAC
  expect_drop(ns(ns_body(kOurV6, lla_option(1, {0x01, 0, 0, 0, 0, 1}))),
              ControlDropReason::kBadSourceAddress);
  expect_drop(ns(ns_body(kOurV6, opt), 255, 0, kAllNodes), ControlDropReason::kBadSourceAddress);
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(cp_->counters().neighbor_advertisements_sent, 0u);
}

TEST_F(ControlFramesTest, SolicitationOutsideTheFirstSegmentOrWithoutRoom) {
  const V6 group = solicited_node(kOurV6);
  const Bytes f = frame6(ipv6_multicast_mac(group.data()), kPeerMac, kPeerV6, group, 135, 0,
                         ns_body(kOurV6, lla_option(1, kPeerMac)));
  MbufPtr m = chained(f, f.size() - 4);
  EXPECT_EQ(cp_->process(m.get(), kNow), control_drop(ControlDropReason::kNotInFirstSegment));

  const Bytes bare = frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 135, 0, ns_body(kOurV6, {}));
  MbufPtr full(rte_pktmbuf_alloc(pool_));
  ASSERT_NE(full, nullptr);
  // Place the frame so that it ends exactly at the end of the buffer.
  const std::uint16_t room = rte_pktmbuf_tailroom(full.get()) + rte_pktmbuf_headroom(full.get());
  full->data_off = static_cast<std::uint16_t>(room - bare.size());
  auto* d = reinterpret_cast<std::uint8_t*>(
      rte_pktmbuf_append(full.get(), static_cast<std::uint16_t>(bare.size())));
  ASSERT_NE(d, nullptr);
  std::memcpy(d, bare.data(), bare.size());
  ASSERT_EQ(rte_pktmbuf_tailroom(full.get()), 0);
  EXPECT_EQ(cp_->process(full.get(), kNow), control_drop(ControlDropReason::kNoTailroom));
  EXPECT_EQ(cp_->counters().dropped(ControlDropReason::kNoTailroom), 1u);
}

TEST_F(ControlFramesTest, AdvertisementResolvesPendingEntry) {
  MacAddress m{};
  ASSERT_EQ(table_.resolve(ip6(kPeerV6), kNow, &m), NeighborAction::kSolicit);
  const Bytes f = frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 136, 0,
                         na_body(0x60, kPeerV6, lla_option(2, kPeerMac)));
  ControlResult r;
  EXPECT_EQ(run(f, &r, kNow + 1), f);
  EXPECT_EQ(r.action, ControlAction::kConsumed);
  EXPECT_EQ(table_.find(ip6(kPeerV6))->state, NeighborState::kReachable);
  EXPECT_EQ(table_.resolve(ip6(kPeerV6), kNow + 2, &m), NeighborAction::kSend);
  EXPECT_EQ(m, kPeerMac);
  // Unsolicited, Override, new MAC, to all-nodes: STALE with the new MAC.
  const Bytes moved = frame6({0x33, 0x33, 0, 0, 0, 1}, kOtherMac, kPeerV6, kAllNodes, 136, 0,
                             na_body(0x20, kPeerV6, lla_option(2, kOtherMac)));
  run(moved, &r, kNow + 3);
  EXPECT_EQ(r.action, ControlAction::kConsumed);
  EXPECT_EQ(table_.find(ip6(kPeerV6))->mac, kOtherMac);
  EXPECT_EQ(table_.find(ip6(kPeerV6))->state, NeighborState::kStale);
  EXPECT_EQ(cp_->counters().neighbor_updates, 2u);
}

TEST_F(ControlFramesTest, NeighborAdvertisementRejections) {
  const Bytes tl = lla_option(2, kPeerMac);
  auto na = [&](std::uint8_t flags, const V6& target, const Bytes& opts, std::uint8_t hop = 255,
                const V6& dst = kOurV6) {
    return frame6(kOurMac, kPeerMac, kPeerV6, dst, 136, 0, na_body(flags, target, opts), hop);
  };
  expect_drop(na(0x60, kPeerV6, tl), ControlDropReason::kUnsolicitedAdvertisement);
  EXPECT_EQ(table_.find(ip6(kPeerV6)), nullptr);
  MacAddress m{};
  ASSERT_EQ(table_.resolve(ip6(kPeerV6), kNow, &m), NeighborAction::kSolicit);
  expect_drop(na(0x40, kPeerV6, {}), ControlDropReason::kAdvertisementRejected);  // no TLLAO
  expect_drop(na(0x60, kPeerV6, tl, 64), ControlDropReason::kBadHopLimit);
  expect_drop(frame6(kOurMac, kPeerMac, kPeerV6, kOurV6, 136, 3, na_body(0x60, kPeerV6, tl)),
              ControlDropReason::kBadIcmpCode);
  expect_drop(na(0x60, kAllNodes, tl), ControlDropReason::kBadNdTarget);
  expect_drop(na(0x60, kPeerV6, {2, 0}), ControlDropReason::kBadNdOption);
  expect_drop(na(0x60, kPeerV6, tl, 255, kAllNodes), ControlDropReason::kSolicitedToMulticast);
  expect_drop(na(0x20, kOurV6, lla_option(2, kOtherMac)), ControlDropReason::kAddressConflict);
  expect_drop(na(0x60, kPeerV6, lla_option(2, {0x33, 0x33, 0, 0, 0, 1})),
              ControlDropReason::kBadSourceAddress);
  EXPECT_EQ(table_.find(ip6(kPeerV6))->state, NeighborState::kIncomplete);
  // Resolve it, then a different MAC without Override only marks it STALE.
  ASSERT_EQ(cp_->process(mbuf(na(0x60, kPeerV6, tl)).get(), kNow).action, ControlAction::kConsumed);
  ASSERT_EQ(table_.find(ip6(kPeerV6))->state, NeighborState::kReachable);
  expect_drop(na(0x40, kPeerV6, lla_option(2, kOtherMac)),
              ControlDropReason::kAdvertisementRejected);
  EXPECT_EQ(table_.find(ip6(kPeerV6))->mac, kPeerMac);
  EXPECT_EQ(table_.find(ip6(kPeerV6))->state, NeighborState::kStale);
}

TEST_F(ControlFramesTest, WritesNeighborSolicitations) {
  MbufPtr m = mbuf({});
  ASSERT_TRUE(write_neighbor_solicitation(m.get(), kOurMac, ip6(kOurV6), ip6(kPeerV6)));
  const V6 group = solicited_node(kPeerV6);
  EXPECT_EQ(group[13], 0x00);
  EXPECT_EQ(group[14], 0xab);
  EXPECT_EQ(bytes_of(m.get()), frame6({0x33, 0x33, 0xff, 0x00, 0xab, 0x20}, kOurMac, kOurV6, group,
                                      135, 0, ns_body(kPeerV6, lla_option(1, kOurMac))));

  // Unicast probe: to the target address and its cached MAC, QinQ tags.
  VlanTags tags;
  tags.count = 2;
  tags.tpid = {0x88a8, 0x8100};
  tags.tci = {0x0011, 0x0022};
  MbufPtr u = mbuf({});
  ASSERT_TRUE(
      write_neighbor_solicitation(u.get(), kOurMac, ip6(kOurV6), ip6(kPeerV6), tags, &kPeerMac));
  EXPECT_EQ(bytes_of(u.get()), frame6(kPeerMac, kOurMac, kOurV6, kPeerV6, 135, 0,
                                      ns_body(kPeerV6, lla_option(1, kOurMac)), 255,
                                      {{0x88a8, 0x0011}, {0x8100, 0x0022}}));
  EXPECT_FALSE(write_neighbor_solicitation(m.get(), kOurMac, ip6(kOurV6), ip6(kPeerV6)));
  MbufPtr e = mbuf({});
  EXPECT_FALSE(write_neighbor_solicitation(e.get(), kOurMac, ip4(kOurV4), ip6(kPeerV6)));
  EXPECT_EQ(rte_pktmbuf_pkt_len(e.get()), 0u);
}

TEST_F(ControlFramesTest, NeighborDiscoveryRoundTripBetweenTwoControlPlanes) {
  Route peer_route;
  ASSERT_TRUE(peer_route.add_address(ip6(kPeerV6), 64));
  NeighborTable peer_table;
  ControlPlaneConfig pc;
  pc.mac = kPeerMac;
  ControlPlane peer(pc, peer_route, peer_table);

  MacAddress m{};
  ASSERT_EQ(table_.resolve(ip6(kPeerV6), kNow, &m), NeighborAction::kSolicit);
  MbufPtr ns = mbuf({});
  ASSERT_TRUE(cp_->write_solicitation(ns.get(), ip6(kPeerV6)));
  EXPECT_EQ(peer.process(ns.get(), kNow).action, ControlAction::kReply);
  EXPECT_EQ(peer_table.find(ip6(kOurV6))->mac, kOurMac);
  EXPECT_EQ(cp_->process(ns.get(), kNow + 1).action, ControlAction::kConsumed);
  EXPECT_EQ(table_.resolve(ip6(kPeerV6), kNow + 2, &m), NeighborAction::kSend);
  EXPECT_EQ(m, kPeerMac);
}

TEST_F(ControlFramesTest, DropReasonsHaveNames) {
  for (std::size_t i = 0; i < static_cast<std::size_t>(ControlDropReason::kCount); ++i)
    EXPECT_STRNE(to_string(static_cast<ControlDropReason>(i)), "unknown") << i;
  EXPECT_STREQ(to_string(ControlDropReason::kCount), "unknown");
}

}  // namespace
}  // namespace dquic
