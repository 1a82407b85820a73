// The send side of the test-only blackhole (runtime/impairment.h Blackhole,
// --impair blackhole=ON/PERIOD): FrameSender frees the batches it flushes
// inside a window and counts them, and sends everything else; the time is
// passed in, so the windows are exact. Frames go out on a ring port pair
// (tests/support/ring_port_pair.h) and are counted on the peer's ring. Also
// the counter names and the exit summary line. And the other send-side test
// impairment, drop_sent (the numbered datagrams never leave). Runs under
// dpdk_test_main.cc.
#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/control_frames.h"
#include "runtime/frame_sender.h"
#include "runtime/impairment.h"
#include "runtime/neighbor_table.h"
#include "runtime/route.h"
#include "runtime/worker_counters.h"
#include "tests/support/ring_port_pair.h"

namespace dquic {
namespace {

constexpr MacAddress kOurMac = {0x02, 0, 0, 0, 0, 0x01};
constexpr MacAddress kPeerMac = {0x02, 0, 0, 0, 0, 0x02};

IpAddress ipv4(std::uint8_t d) {
  IpAddress ip;
  ip.family = IpFamily::kIpv4;
  ip.bytes[0] = 10;
  ip.bytes[3] = d;
  return ip;
}

rte_mempool* pool() {
  // No per-lcore cache: the in-use count is exact.
  static rte_mempool* p = rte_pktmbuf_pool_create(
      "blackhole_test", 2047, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
  return p;
}

// A sender on port A of a ring pair, the peer (10.0.0.2) already resolved.
class BlackholeSendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(pool(), nullptr) << rte_strerror(rte_errno);
    baseline_ = rte_mempool_in_use_count(pool());
    ports_ = std::make_unique<test::RingPortPair>("bh", 1, pool());
    ASSERT_TRUE(ports_->ok()) << ports_->error();
    ASSERT_TRUE(route_.add_address(ipv4(1), 24));
    NeighborConfig nc;
    nc.reachable_time_ns = 3600ull * 1'000'000'000;  // never stale during the test
    neighbors_ = std::make_unique<NeighborTable>(nc);
    NeighborUpdate how;
    how.create = true;
    how.solicited = true;
    neighbors_->update(ipv4(2), &kPeerMac, how, 0);
    ControlPlaneConfig cp;
    cp.mac = kOurMac;
    control_ = std::make_unique<ControlPlane>(cp, route_, *neighbors_);
  }
  void TearDown() override {
    sender_.reset();
    ports_.reset();  // frees what is left in the rings
    EXPECT_EQ(rte_mempool_in_use_count(pool()), baseline_) << "mbuf leak";
  }

  void make_sender(Blackhole* blackhole, std::uint64_t drop_first = 0,
                   std::uint64_t drop_last = 0) {
    FrameSenderConfig fs;
    fs.drop_sent_first = drop_first;
    fs.drop_sent_last = drop_last;
    fs.port_id = ports_->a();
    fs.mac = kOurMac;
    fs.pool = pool();
    fs.tx_burst = 4;
    fs.blackhole = blackhole;
    sender_ = std::make_unique<FrameSender>(fs, route_, *neighbors_, *control_, counters_, loop_);
  }

  rte_mbuf* datagram() {
    rte_mbuf* m = rte_pktmbuf_alloc(pool());
    if (m == nullptr) return nullptr;
    auto* d = static_cast<std::uint8_t*>(static_cast<void*>(rte_pktmbuf_append(m, 100)));
    if (d != nullptr) std::memset(d, 0x5a, 100);
    return m;
  }

  // `count` datagrams to the peer at `now`, then flushed.
  void send(std::size_t count, Time now) {
    const NetworkPath path{PeerAddress::ipv4({10, 0, 0, 1}, 4433),
                           PeerAddress::ipv4({10, 0, 0, 2}, 50000)};
    for (std::size_t i = 0; i < count; ++i) {
      rte_mbuf* m = datagram();
      ASSERT_NE(m, nullptr);
      sender_->send_datagram(m, path, Ecn::kNotEct, now);
    }
    sender_->flush();
  }

  // Frames that reached the peer's receive ring.
  unsigned on_the_wire() const { return rte_ring_count(ports_->to_b(0)); }

  std::unique_ptr<test::RingPortPair> ports_;
  Route route_;
  std::unique_ptr<NeighborTable> neighbors_;
  std::unique_ptr<ControlPlane> control_;
  WorkerCounters counters_;
  WorkerLoopCounters loop_;
  std::unique_ptr<FrameSender> sender_;
  unsigned baseline_ = 0;
};

ImpairmentConfig schedule(Duration on, Duration period, Duration start) {
  ImpairmentConfig c;
  c.blackhole_on = on;
  c.blackhole_period = period;
  c.blackhole_start = start;
  return c;
}

TEST_F(BlackholeSendTest, BatchesInsideWindowsAreFreedAndCounted) {
  // 10 ms dark every 100 ms, from 5 ms after the first frame.
  Blackhole blackhole(schedule(10 * kMillisecond, 100 * kMillisecond, 5 * kMillisecond));
  make_sender(&blackhole);
  const Time t0 = 3 * kSecond;
  send(1, t0);  // the first frame anchors the schedule and goes out
  EXPECT_EQ(blackhole.origin(), t0);
  EXPECT_EQ(on_the_wire(), 1u);
  EXPECT_EQ(counters_.tx_packets, 1u);
  EXPECT_EQ(counters_.impair_blackholed_tx, 0u);

  send(3, t0 + 5 * kMillisecond - 1);  // just before the window
  EXPECT_EQ(on_the_wire(), 4u);
  send(3, t0 + 5 * kMillisecond);  // its first ns
  EXPECT_EQ(on_the_wire(), 4u);
  EXPECT_EQ(counters_.impair_blackholed_tx, 3u);
  // More than a burst (tx_burst 4): the flushes send_frame makes on its own
  // are dark too.
  send(9, t0 + 15 * kMillisecond - 1);
  EXPECT_EQ(on_the_wire(), 4u);
  EXPECT_EQ(counters_.impair_blackholed_tx, 12u);
  EXPECT_EQ(counters_.tx_packets, 4u);
  EXPECT_EQ(counters_.tx_dropped, 0u);  // not the NIC's drops

  send(2, t0 + 15 * kMillisecond);  // light again
  EXPECT_EQ(on_the_wire(), 6u);
  send(2, t0 + 105 * kMillisecond + 1);  // the next period's window
  EXPECT_EQ(on_the_wire(), 6u);
  EXPECT_EQ(counters_.impair_blackholed_tx, 14u);
  send(1, t0 + 115 * kMillisecond);
  EXPECT_EQ(on_the_wire(), 7u);
  EXPECT_EQ(counters_.tx_packets, 7u);
  EXPECT_EQ(sender_->queued(), 0u);
}

TEST_F(BlackholeSendTest, FramesQueuedWithoutATimeUseTheLastOneGiven) {
  // A control-plane reply (send_frame) carries no time: set_now() gives the
  // iteration's.
  Blackhole blackhole(schedule(kMillisecond, 10 * kMillisecond, 0));
  make_sender(&blackhole);
  sender_->set_now(kSecond);
  rte_mbuf* m = datagram();
  ASSERT_NE(m, nullptr);
  sender_->send_frame(m);
  sender_->flush();  // the first frame, at 1 s: dark from the start
  EXPECT_EQ(counters_.impair_blackholed_tx, 1u);
  EXPECT_EQ(on_the_wire(), 0u);
  sender_->set_now(kSecond + 2 * kMillisecond);
  m = datagram();
  ASSERT_NE(m, nullptr);
  sender_->send_frame(m);
  sender_->flush();
  EXPECT_EQ(on_the_wire(), 1u);
  sender_->set_now(0);  // never moves back
  m = datagram();
  ASSERT_NE(m, nullptr);
  sender_->send_frame(m);
  sender_->flush();
  EXPECT_EQ(on_the_wire(), 2u);
  EXPECT_EQ(counters_.impair_blackholed_tx, 1u);
}

TEST_F(BlackholeSendTest, WithoutABlackholeEverythingIsSent) {
  make_sender(nullptr);
  for (Time t = 0; t < 10 * kSecond; t += 500 * kMillisecond)
    send(2, t);
  EXPECT_EQ(on_the_wire(), 40u);
  EXPECT_EQ(counters_.impair_blackholed_tx, 0u);
  EXPECT_EQ(counters_.tx_packets, 40u);
}

TEST_F(BlackholeSendTest, DropSentFreesTheNumberedDatagramsOnly) {
  make_sender(nullptr, 2, 7);
  send(1, 0);  // 1: sent
  EXPECT_EQ(on_the_wire(), 1u);
  send(6, kMillisecond);  // 2..7: dropped
  EXPECT_EQ(on_the_wire(), 1u);
  EXPECT_EQ(counters_.impair_dropped_sent, 6u);
  send(3, 2 * kMillisecond);  // 8..10: sent
  EXPECT_EQ(on_the_wire(), 4u);
  EXPECT_EQ(counters_.impair_dropped_sent, 6u);
  EXPECT_EQ(counters_.tx_packets, 4u);
}

TEST(BlackholeCounters, NamesAndSummaryLine) {
  bool rx = false, tx = false;
  for (const WorkerCounterField& f : worker_counter_fields()) {
    if (std::string_view(f.key) == "impair_blackholed_rx")
      rx = f.member == &WorkerCounters::impair_blackholed_rx;
    if (std::string_view(f.key) == "impair_blackholed_tx")
      tx = f.member == &WorkerCounters::impair_blackholed_tx;
  }
  EXPECT_TRUE(rx);
  EXPECT_TRUE(tx);

  WorkerCounters c;
  std::string out;
  format_counters(c, "total ", &out);
  EXPECT_EQ(out, "");  // nothing without a blackhole
  c.impair_blackholed_rx = 3;
  c.impair_blackholed_tx = 4;
  format_counters(c, "total ", &out);
  EXPECT_EQ(out, "total impair_blackholed rx=3 tx=4\n");
  c.impair_dropped = 1;
  out.clear();
  format_counters(c, "total ", &out);
  EXPECT_EQ(out,
            "total impair dropped=1 queue_full=0 duplicated=0 corrupted=0 delayed=0 reordered=0 "
            "copy_failures=0 dropped_sent=0\n"
            "total impair_blackholed rx=3 tx=4\n");
  // Summed over workers like every counter.
  const WorkerCounters* blocks[] = {&c, &c};
  EXPECT_EQ(sum(blocks).impair_blackholed_tx, 8u);
}

}  // namespace
}  // namespace dquic
