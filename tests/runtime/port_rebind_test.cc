// The test-only NAT rebinding (runtime/port_rebind.h): the source port of
// frames we send moves once due, a received frame to the moved port gets
// its original back, checksums stay valid (software) or untouched (offload),
// anything not UDP is left alone; and its --impair key. Runs under
// dpdk_test_main.cc.
#include "runtime/port_rebind.h"

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

class PortRebindTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    g_pool = rte_pktmbuf_pool_create("port_rebind_test", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     static_cast<int>(rte_socket_id()));
    ASSERT_NE(g_pool, nullptr) << rte_strerror(rte_errno);
  }
  static void TearDownTestSuite() {
    rte_mempool_free(g_pool);
    g_pool = nullptr;
  }
  void TearDown() override { EXPECT_EQ(rte_mempool_in_use_count(g_pool), 0u) << "mbuf leak"; }

  // A UDP frame from src_port to dst_port with a 100-byte payload.
  static rte_mbuf* frame(IpFamily family, std::uint16_t src_port, std::uint16_t dst_port,
                         bool offload = false) {
    rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
    EXPECT_NE(m, nullptr);
    char* p = rte_pktmbuf_append(m, 100);
    for (int i = 0; i < 100; ++i)
      p[i] = static_cast<char>(i * 13);
    UdpFrameSpec spec;
    spec.src.family = spec.dst.family = family;
    spec.src.bytes[0] = 198;
    spec.src.bytes[3] = 2;
    spec.dst.bytes[0] = 198;
    spec.dst.bytes[3] = 1;
    spec.src_port = src_port;
    spec.dst_port = dst_port;
    spec.checksum_offload = offload;
    std::uint16_t id = 0;
    EXPECT_TRUE(build_udp_frame(m, spec, &id));
    return m;
  }
  static std::vector<std::uint8_t> bytes(const rte_mbuf* m) {
    const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
    return {p, p + rte_pktmbuf_data_len(m)};
  }
};

TEST_F(PortRebindTest, SendMovesTheSourcePortOnceDue) {
  PortRebind r(500 * kMillisecond);
  ASSERT_TRUE(r.enabled());
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    SCOPED_TRACE(family == IpFamily::kIpv4 ? "IPv4" : "IPv6");
    rte_mbuf* m = frame(family, 50000, 4433);
    const std::vector<std::uint8_t> before = bytes(m);
    // The first frame anchors the schedule; not due yet.
    EXPECT_FALSE(r.on_send(m, family == IpFamily::kIpv4 ? 0 : 499 * kMillisecond));
    EXPECT_EQ(bytes(m), before);
    EXPECT_TRUE(r.on_send(m, 500 * kMillisecond));
    ParsedUdpFrame f;
    ASSERT_EQ(parse_udp_frame(m, &f), UdpDropReason::kNone) << "the checksum must verify";
    EXPECT_EQ(f.src_port, static_cast<std::uint16_t>(50000 + PortRebind::kPortShift));
    EXPECT_EQ(f.dst_port, 4433);
    rte_pktmbuf_free(m);
  }
}

TEST_F(PortRebindTest, ReceiveGivesTheOriginalPortBack) {
  PortRebind r(kMillisecond);
  rte_mbuf* out = frame(IpFamily::kIpv4, 50000, 4433);
  EXPECT_FALSE(r.on_send(out, 0));  // anchors
  ASSERT_TRUE(r.on_send(out, kSecond));
  ParsedUdpFrame sent;
  ASSERT_EQ(parse_udp_frame(out, &sent), UdpDropReason::kNone);
  rte_pktmbuf_free(out);
  // The peer answers the port it saw.
  for (IpFamily family : {IpFamily::kIpv4, IpFamily::kIpv6}) {
    rte_mbuf* in = frame(family, 4433, sent.src_port);
    ASSERT_TRUE(r.on_receive(in, kSecond));
    ParsedUdpFrame f;
    ASSERT_EQ(parse_udp_frame(in, &f), UdpDropReason::kNone) << "the checksum must verify";
    EXPECT_EQ(f.dst_port, 50000);
    EXPECT_EQ(f.src_port, 4433);
    rte_pktmbuf_free(in);
  }
  // The old binding still delivers (the peer has not seen the new port yet),
  // and a port never moved is nobody's business.
  for (std::uint16_t port : {std::uint16_t{50000}, std::uint16_t{60001}}) {
    rte_mbuf* in = frame(IpFamily::kIpv4, 4433, port);
    const std::vector<std::uint8_t> before = bytes(in);
    EXPECT_FALSE(r.on_receive(in, kSecond));
    EXPECT_EQ(bytes(in), before);
    rte_pktmbuf_free(in);
  }
}

TEST_F(PortRebindTest, OffloadedChecksumIsLeftToTheNic) {
  PortRebind r(kMillisecond);
  rte_mbuf* m = frame(IpFamily::kIpv4, 50000, 4433, /*offload=*/true);
  ASSERT_EQ(m->ol_flags & RTE_MBUF_F_TX_L4_MASK, RTE_MBUF_F_TX_UDP_CKSUM);
  const std::vector<std::uint8_t> before = bytes(m);
  (void)r.on_send(m, 0);
  ASSERT_TRUE(r.on_send(m, kSecond));
  const std::vector<std::uint8_t> after = bytes(m);
  std::vector<std::size_t> changed;
  for (std::size_t i = 0; i < before.size(); ++i)
    if (before[i] != after[i]) changed.push_back(i);
  // Only the two source port bytes: the pseudo-header sum has no ports.
  const std::size_t udp = m->l2_len + m->l3_len;
  EXPECT_EQ(changed, (std::vector<std::size_t>{udp, udp + 1}));
  rte_pktmbuf_free(m);
}

TEST_F(PortRebindTest, NotUdpIsLeftAlone) {
  PortRebind r(kMillisecond);
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  ASSERT_NE(m, nullptr);
  auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, 60));
  std::memset(p, 0, 60);
  p[12] = 0x08;
  p[13] = 0x06;  // ARP
  (void)r.on_receive(m, 0);
  const std::vector<std::uint8_t> before = bytes(m);
  EXPECT_FALSE(r.on_receive(m, kSecond));
  EXPECT_FALSE(r.on_send(m, kSecond));
  EXPECT_EQ(bytes(m), before);
  rte_pktmbuf_free(m);
  // Off: never rewrites.
  PortRebind off;
  EXPECT_FALSE(off.enabled());
  rte_mbuf* u = frame(IpFamily::kIpv4, 50000, 4433);
  EXPECT_FALSE(off.on_send(u, 10 * kSecond));
  rte_pktmbuf_free(u);
}

TEST_F(PortRebindTest, ByCountOfReceivedFrames) {
  PortRebind r(0, 3);
  ASSERT_TRUE(r.enabled());
  rte_mbuf* out = frame(IpFamily::kIpv4, 50000, 4433);
  EXPECT_FALSE(r.on_send(out, 10 * kSecond));  // time does not matter
  for (int i = 0; i < 3; ++i) {
    rte_mbuf* in = frame(IpFamily::kIpv4, 4433, 50000);
    (void)r.on_receive(in, 0);
    rte_pktmbuf_free(in);
  }
  EXPECT_TRUE(r.on_send(out, 0));  // the third frame made it due
  ParsedUdpFrame f;
  ASSERT_EQ(parse_udp_frame(out, &f), UdpDropReason::kNone);
  EXPECT_EQ(f.src_port, static_cast<std::uint16_t>(50000 + PortRebind::kPortShift));
  rte_pktmbuf_free(out);
}

TEST(PortRebindParse, Key) {
  ImpairmentConfig c;
  std::string error;
  ASSERT_TRUE(parse_impairment("rebind_port=500ms", &c, &error)) << error;
  EXPECT_EQ(c.rebind_port_after, 500 * kMillisecond);
  EXPECT_TRUE(c.valid());
  EXPECT_EQ(c.drop_ppm, 0u);
  EXPECT_FALSE(c.blackhole());
  ASSERT_TRUE(parse_impairment("rebind_port=2000frames", &c, &error)) << error;
  EXPECT_EQ(c.rebind_port_frames, 2000u);
  EXPECT_EQ(c.rebind_port_after, 0);
  EXPECT_TRUE(c.valid());
  for (const char* bad : {"rebind_port=0ms", "rebind_port=5", "rebind_port=fast",
                          "rebind_port=0frames", "rebind_port=frames", "rebind_port=-3frames"}) {
    ImpairmentConfig d;
    EXPECT_FALSE(parse_impairment(bad, &d, &error)) << bad;
    EXPECT_NE(error.find("rebind_port"), std::string::npos) << error;
    EXPECT_EQ(d.rebind_port_after, 0);
    EXPECT_EQ(d.rebind_port_frames, 0u);
  }
}

}  // namespace
}  // namespace dquic
