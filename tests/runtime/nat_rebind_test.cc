// The test-only NAT rebinding (runtime/nat_rebind.h): once due, our source
// port or address moves on the datagrams we send and received frames get
// what our stack knows back, or the peer's source address changes on what
// we receive and our datagrams to it go to its real address; checksums stay
// valid, anything not UDP is left alone; and its --impair keys. Runs under
// dpdk_test_main.cc.
#include "runtime/nat_rebind.h"

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/impairment.h"
#include "runtime/udp_frame.h"

namespace dquic {
namespace {

rte_mempool* g_pool = nullptr;

IpAddress address(IpFamily family, std::uint8_t last) {
  IpAddress a;
  a.family = family;
  if (family == IpFamily::kIpv4) {
    a.bytes[0] = 198;
    a.bytes[1] = 18;
  } else {
    a.bytes[0] = 0xfd;
    a.bytes[1] = 0x00;
    a.bytes[3] = 0x18;
  }
  a.bytes[family == IpFamily::kIpv4 ? 3 : 15] = last;
  return a;
}

// Us 198.18.0.2 / fd00:18::2, the peer .1, the NAT's new address .12.
constexpr std::uint8_t kUs = 2, kPeer = 1, kNew = 12;

UdpFrameSpec spec_of(IpFamily family, std::uint8_t src, std::uint16_t src_port, std::uint8_t dst,
                     std::uint16_t dst_port) {
  UdpFrameSpec spec;
  spec.src = address(family, src);
  spec.dst = address(family, dst);
  spec.src_port = src_port;
  spec.dst_port = dst_port;
  return spec;
}

class NatRebindTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_pool = rte_pktmbuf_pool_create("nat_rebind_test", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     static_cast<int>(rte_socket_id()));
    ASSERT_NE(g_pool, nullptr) << rte_strerror(rte_errno);
  }
  static void TearDownTestSuite() {
    rte_mempool_free(g_pool);
    g_pool = nullptr;
  }
  void TearDown() override { EXPECT_EQ(rte_mempool_in_use_count(g_pool), 0u) << "mbuf leak"; }

  // A frame as the spec says with a 100-byte payload and software checksums.
  static rte_mbuf* frame(const UdpFrameSpec& spec) {
    rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
    EXPECT_NE(m, nullptr);
    char* p = rte_pktmbuf_append(m, 100);
    for (int i = 0; i < 100; ++i)
      p[i] = static_cast<char>(i * 13);
    std::uint16_t id = 0;
    EXPECT_TRUE(build_udp_frame(m, spec, &id));
    return m;
  }
  // What the peer sends to us: from `src` to `dst`.
  static rte_mbuf* from_peer(IpFamily family, std::uint8_t src, std::uint16_t src_port,
                             std::uint8_t dst, std::uint16_t dst_port) {
    return frame(spec_of(family, src, src_port, dst, dst_port));
  }
  static std::vector<std::uint8_t> bytes(const rte_mbuf* m) {
    const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
    return {p, p + rte_pktmbuf_data_len(m)};
  }
  // Parses (checksums verified) and frees.
  static ParsedUdpFrame parse_and_free(rte_mbuf* m) {
    ParsedUdpFrame f;
    EXPECT_EQ(parse_udp_frame(m, &f), UdpDropReason::kNone) << "the checksums must verify";
    rte_pktmbuf_free(m);
    return f;
  }
};

TEST_F(NatRebindTest, LocalPortMovesOnceDueAndComesBack) {
  NatRebind r(RebindKind::kLocalPort, 500 * kMillisecond, 0);
  ASSERT_TRUE(r.enabled());
  UdpFrameSpec s = spec_of(IpFamily::kIpv4, kUs, 50000, kPeer, 4433);
  // The first datagram anchors the schedule; not due yet.
  EXPECT_FALSE(r.on_send(&s, 0));
  EXPECT_FALSE(r.on_send(&s, 499 * kMillisecond));
  EXPECT_EQ(s.src_port, 50000);
  EXPECT_TRUE(r.on_send(&s, 500 * kMillisecond));
  EXPECT_EQ(s.src_port, 50000 + NatRebind::kPortShift);
  EXPECT_EQ(s.src, address(IpFamily::kIpv4, kUs));
  EXPECT_EQ(r.rewritten_tx(), 1u);
  // The peer answers the port it saw.
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    rte_mbuf* in = from_peer(family, kPeer, 4433, kUs, 50000 + NatRebind::kPortShift);
    ASSERT_TRUE(r.on_receive(in, kSecond));
    const ParsedUdpFrame f = parse_and_free(in);
    EXPECT_EQ(f.dst_port, 50000);
    EXPECT_EQ(f.src_port, 4433);
  }
  // The old binding still delivers (the peer has not seen the new port
  // yet), and a port never moved is nobody's business.
  for (std::uint16_t port : {std::uint16_t{50000}, std::uint16_t{60001}}) {
    rte_mbuf* in = from_peer(IpFamily::kIpv4, kPeer, 4433, kUs, port);
    const std::vector<std::uint8_t> before = bytes(in);
    EXPECT_FALSE(r.on_receive(in, kSecond));
    EXPECT_EQ(bytes(in), before);
    rte_pktmbuf_free(in);
  }
  EXPECT_EQ(r.rewritten_rx(), 2u);
}

TEST_F(NatRebindTest, ByCountOfReceivedFrames) {
  NatRebind r(RebindKind::kLocalPort, 0, 3);
  ASSERT_TRUE(r.enabled());
  UdpFrameSpec s = spec_of(IpFamily::kIpv4, kUs, 50000, kPeer, 4433);
  EXPECT_FALSE(r.on_send(&s, 10 * kSecond));  // time does not matter
  for (int i = 0; i < 3; ++i) {
    rte_mbuf* in = from_peer(IpFamily::kIpv4, kPeer, 4433, kUs, 50000);
    (void)r.on_receive(in, 0);
    rte_pktmbuf_free(in);
  }
  EXPECT_TRUE(r.on_send(&s, 0));  // the third frame made it due
  EXPECT_EQ(s.src_port, 50000 + NatRebind::kPortShift);
}

TEST_F(NatRebindTest, LocalAddressMovesAndReceivedFramesComeBackValid) {
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    SCOPED_TRACE(family == IpFamily::kIpv4 ? "IPv4" : "IPv6");
    NatRebind r(RebindKind::kLocalAddress, kMillisecond, 0, address(family, kNew));
    UdpFrameSpec s = spec_of(family, kUs, 50000, kPeer, 4433);
    EXPECT_FALSE(r.on_send(&s, 0));
    // Not due: a frame to the new address is no one's yet.
    rte_mbuf* early = from_peer(family, kPeer, 4433, kNew, 50000);
    EXPECT_FALSE(r.on_receive(early, 0));
    rte_pktmbuf_free(early);

    ASSERT_TRUE(r.on_send(&s, kSecond));
    EXPECT_EQ(s.src, address(family, kNew));
    EXPECT_EQ(s.src_port, 50000);  // the address alone moves
    EXPECT_EQ(s.dst, address(family, kPeer));
    // The peer answers the address it saw; our stack sees its own.
    rte_mbuf* in = from_peer(family, kPeer, 4433, kNew, 50000);
    ASSERT_TRUE(r.on_receive(in, kSecond));
    ParsedUdpFrame f = parse_and_free(in);
    EXPECT_EQ(f.dst, address(family, kUs));
    EXPECT_EQ(f.src, address(family, kPeer));
    EXPECT_EQ(f.dst_port, 50000);
    // The old address still delivers, untouched.
    rte_mbuf* old = from_peer(family, kPeer, 4433, kUs, 50000);
    const std::vector<std::uint8_t> before = bytes(old);
    EXPECT_FALSE(r.on_receive(old, kSecond));
    EXPECT_EQ(bytes(old), before);
    rte_pktmbuf_free(old);
    // A datagram of the other family is left alone.
    const IpFamily other = family == IpFamily::kIpv4 ? IpFamily::kIpv6 : IpFamily::kIpv4;
    UdpFrameSpec o = spec_of(other, kUs, 50000, kPeer, 4433);
    EXPECT_FALSE(r.on_send(&o, kSecond));
    EXPECT_EQ(o.src, address(other, kUs));
  }
}

TEST_F(NatRebindTest, PeerAddressChangesAsWeSeeItAndRepliesReachItsRealOne) {
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    SCOPED_TRACE(family == IpFamily::kIpv4 ? "IPv4" : "IPv6");
    NatRebind r(RebindKind::kPeerAddress, 0, 2, address(family, kNew));
    // The first frame names the peer behind the NAT; not due yet.
    rte_mbuf* first = from_peer(family, kPeer, 50000, kUs, 443);
    const std::vector<std::uint8_t> before = bytes(first);
    EXPECT_FALSE(r.on_receive(first, 0));
    EXPECT_EQ(bytes(first), before);
    rte_pktmbuf_free(first);
    UdpFrameSpec s = spec_of(family, kUs, 443, kNew, 50000);
    EXPECT_FALSE(r.on_send(&s, 0));

    rte_mbuf* in = from_peer(family, kPeer, 50000, kUs, 443);
    ASSERT_TRUE(r.on_receive(in, 0));
    ParsedUdpFrame f = parse_and_free(in);
    EXPECT_EQ(f.src, address(family, kNew));
    EXPECT_EQ(f.src_port, 50000);  // the address alone moves
    EXPECT_EQ(f.dst, address(family, kUs));
    // Another host is not behind this NAT.
    rte_mbuf* other = from_peer(family, 77, 50000, kUs, 443);
    EXPECT_FALSE(r.on_receive(other, 0));
    EXPECT_EQ(parse_and_free(other).src, address(family, 77));

    // What we send to the address we now see goes to the real one; what we
    // send to the old one (probing the old path) goes as it is.
    ASSERT_TRUE(r.on_send(&s, 0));
    EXPECT_EQ(s.dst, address(family, kPeer));
    EXPECT_EQ(s.src, address(family, kUs));
    UdpFrameSpec to_old = spec_of(family, kUs, 443, kPeer, 50000);
    EXPECT_FALSE(r.on_send(&to_old, 0));
    EXPECT_EQ(to_old.dst, address(family, kPeer));
    EXPECT_EQ(r.rewritten_rx(), 1u);
    EXPECT_EQ(r.rewritten_tx(), 1u);
  }
}

TEST_F(NatRebindTest, Ipv4WithoutUdpChecksumStaysWithout) {
  NatRebind r(RebindKind::kPeerAddress, 0, 1, address(IpFamily::kIpv4, kNew));
  rte_mbuf* in = from_peer(IpFamily::kIpv4, kPeer, 50000, kUs, 443);
  auto* p = rte_pktmbuf_mtod(in, std::uint8_t*);
  p[14 + 20 + 6] = 0;  // no UDP checksum (RFC 768)
  p[14 + 20 + 7] = 0;
  ASSERT_TRUE(r.on_receive(in, 0));
  EXPECT_EQ(p[14 + 20 + 6], 0);
  EXPECT_EQ(p[14 + 20 + 7], 0);
  EXPECT_EQ(parse_and_free(in).src, address(IpFamily::kIpv4, kNew));  // header checksum fixed
}

TEST_F(NatRebindTest, NotUdpIsLeftAloneAndOffNeverRewrites) {
  NatRebind r(RebindKind::kLocalPort, kMillisecond, 0);
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  ASSERT_NE(m, nullptr);
  auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, 60));
  std::memset(p, 0, 60);
  p[12] = 0x08;
  p[13] = 0x06;  // ARP
  (void)r.on_receive(m, 0);
  const std::vector<std::uint8_t> before = bytes(m);
  EXPECT_FALSE(r.on_receive(m, kSecond));
  EXPECT_EQ(bytes(m), before);
  rte_pktmbuf_free(m);
  NatRebind off;
  EXPECT_FALSE(off.enabled());
  UdpFrameSpec s = spec_of(IpFamily::kIpv4, kUs, 50000, kPeer, 4433);
  EXPECT_FALSE(off.on_send(&s, 10 * kSecond));
  EXPECT_EQ(s.src_port, 50000);
}

TEST(NatRebindParse, Keys) {
  ImpairmentConfig c;
  std::string error;
  ASSERT_TRUE(parse_impairment("rebind_port=500ms", &c, &error)) << error;
  EXPECT_EQ(c.rebind, RebindKind::kLocalPort);
  EXPECT_EQ(c.rebind_after, 500 * kMillisecond);
  EXPECT_TRUE(c.valid());
  EXPECT_EQ(c.drop_ppm, 0u);
  EXPECT_FALSE(c.blackhole());
  ASSERT_TRUE(parse_impairment("rebind_port=2000frames", &c, &error)) << error;
  EXPECT_EQ(c.rebind_frames, 2000u);
  EXPECT_EQ(c.rebind_after, 0);
  EXPECT_TRUE(c.valid());

  ImpairmentConfig a;
  ASSERT_TRUE(parse_impairment("rebind_addr=1s,rebind_to=198.18.0.12", &a, &error)) << error;
  EXPECT_EQ(a.rebind, RebindKind::kLocalAddress);
  EXPECT_EQ(a.rebind_to, address(IpFamily::kIpv4, kNew));
  EXPECT_TRUE(a.valid());
  ImpairmentConfig b;
  ASSERT_TRUE(parse_impairment("rebind_to=fd00:18::c,peer_rebind_addr=10frames", &b, &error))
      << error;
  EXPECT_EQ(b.rebind, RebindKind::kPeerAddress);
  EXPECT_EQ(b.rebind_frames, 10u);
  EXPECT_EQ(b.rebind_to, address(IpFamily::kIpv6, kNew));
  EXPECT_TRUE(b.valid());

  for (const char* bad :
       {"rebind_port=0ms", "rebind_port=5", "rebind_port=fast", "rebind_port=0frames",
        "rebind_port=frames", "rebind_port=-3frames", "rebind_addr=1s",
        "peer_rebind_addr=1s,rebind_to=198.18.0", "rebind_to=198.18.0.12",
        "rebind_port=1s,rebind_to=198.18.0.12", "rebind_port=1s,rebind_addr=1s,rebind_to=::1"}) {
    ImpairmentConfig d;
    EXPECT_FALSE(parse_impairment(bad, &d, &error)) << bad;
    EXPECT_NE(error.find("rebind"), std::string::npos) << error;
    EXPECT_EQ(d.rebind, RebindKind::kNone) << bad;
    EXPECT_EQ(d.rebind_after, 0);
    EXPECT_EQ(d.rebind_frames, 0u);
  }
  // valid() agrees with the parser on the address rule.
  ImpairmentConfig v;
  v.rebind = RebindKind::kPeerAddress;
  v.rebind_after = kSecond;
  EXPECT_FALSE(v.valid());
  v.rebind_to = address(IpFamily::kIpv4, kNew);
  EXPECT_TRUE(v.valid());
  v.rebind_after = 0;
  EXPECT_FALSE(v.valid());
}

}  // namespace
}  // namespace dquic
