// The workers' top-connection snapshots (runtime/connection_snapshot.h):
// the top-N choice, the seqlock's publish and read (also against a writer
// publishing continuously, and one stopped mid-write), and the text forms
// telemetry and the logs use. No EAL.
#include "runtime/connection_snapshot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace dquic {

struct ConnectionSnapshotTestAccess {
  // What a writer preempted between its two sequence stores leaves behind.
  static void begin_write(ConnectionSnapshot& s) { s.sequence_.store(s.sequence_.load() + 1); }
  static void end_write(ConnectionSnapshot& s) { s.sequence_.store(s.sequence_.load() + 1); }
};

namespace {

TEST(TopConnectionsTest, KeepsTheLargestInOrder) {
  TopConnections top(4);
  const std::uint64_t keys[] = {5, 1, 9, 7, 3, 9, 2, 8, 0};
  for (std::uint32_t i = 0; i < std::size(keys); ++i)
    top.offer(keys[i], i);
  ASSERT_EQ(top.size(), 4u);
  // 9 (index 2), 9 (index 5: offered later, after the equal one), 8, 7.
  EXPECT_EQ(top.key(0), 9u);
  EXPECT_EQ(top.index(0), 2u);
  EXPECT_EQ(top.key(1), 9u);
  EXPECT_EQ(top.index(1), 5u);
  EXPECT_EQ(top.key(2), 8u);
  EXPECT_EQ(top.index(2), 7u);
  EXPECT_EQ(top.key(3), 7u);
  EXPECT_EQ(top.index(3), 3u);
}

TEST(TopConnectionsTest, FewerThanTheLimitAndEdgeLimits) {
  TopConnections top;  // kTopConnections
  top.offer(3, 0);
  top.offer(10, 1);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top.index(0), 1u);
  EXPECT_EQ(top.index(1), 0u);

  TopConnections none(0);
  none.offer(1, 0);
  EXPECT_EQ(none.size(), 0u);

  // A limit above the arrays is clamped to them.
  TopConnections big(1000);
  for (std::uint32_t i = 0; i < 100; ++i)
    big.offer(i, i);
  ASSERT_EQ(big.size(), kTopConnections);
  for (std::size_t i = 0; i < big.size(); ++i)
    EXPECT_EQ(big.key(i), 99 - i);
}

TEST(TopConnectionsTest, MatchesAFullSortOnManyKeys) {
  // A fixed pseudo-random sequence (no seed from the clock).
  std::vector<std::uint64_t> keys;
  std::uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 5000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    keys.push_back(x % 1000);  // many ties
  }
  TopConnections top;
  for (std::uint32_t i = 0; i < keys.size(); ++i)
    top.offer(keys[i], i);
  std::vector<std::uint32_t> order(keys.size());
  for (std::uint32_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return keys[a] > keys[b]; });
  ASSERT_EQ(top.size(), kTopConnections);
  for (std::size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(top.index(i), order[i]) << i;
    EXPECT_EQ(top.key(i), keys[order[i]]) << i;
  }
}

ConnectionSample make_sample(std::uint64_t g, std::size_t i) {
  ConnectionSample s;
  s.bytes_sent = g * 100 + i;
  s.bytes_received = g * 200 + i;
  s.smoothed_rtt_us = g + 1;
  s.min_rtt_us = g + 2;
  s.cwnd = g + 3;
  s.bytes_in_flight = g + 4;
  s.age_us = g + 5;
  s.peer =
      PeerAddress::ipv4({198, 18, 0, static_cast<std::uint8_t>(i)}, static_cast<std::uint16_t>(g));
  s.worker = static_cast<std::uint16_t>(g);
  s.state = ConnectionState::kConnected;
  s.has_rtt_sample = true;
  s.cid_length = 8;
  for (std::size_t k = 0; k < s.cid.size(); ++k)
    s.cid[k] = static_cast<std::uint8_t>(g + k);
  return s;
}

// Everything in `s` came from one make_sample(g, i).
bool consistent(const ConnectionSample& s, std::size_t i) {
  const std::uint64_t g = (s.bytes_sent - i) / 100;
  const ConnectionSample want = make_sample(g, i);
  return s.bytes_sent == want.bytes_sent && s.bytes_received == want.bytes_received &&
         s.smoothed_rtt_us == want.smoothed_rtt_us && s.min_rtt_us == want.min_rtt_us &&
         s.cwnd == want.cwnd && s.bytes_in_flight == want.bytes_in_flight &&
         s.age_us == want.age_us && s.peer == want.peer && s.worker == want.worker &&
         s.cid == want.cid;
}

TEST(ConnectionSnapshotTest, EmptyUntilPublished) {
  ConnectionSnapshot snap;
  ConnectionSampleList list;
  list.count = 99;
  ASSERT_TRUE(snap.read(&list));
  EXPECT_EQ(list.count, 0u);
  EXPECT_EQ(list.published_at, 0);
  EXPECT_EQ(snap.publications(), 0u);
}

TEST(ConnectionSnapshotTest, PublishThenReadCopiesEverything) {
  ConnectionSnapshot snap;
  std::vector<ConnectionSample> in;
  for (std::size_t i = 0; i < 3; ++i)
    in.push_back(make_sample(7, i));
  in[1].state = ConnectionState::kDraining;
  in[2].peer = PeerAddress::ipv6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 443);
  snap.publish(in, 12345);
  ConnectionSampleList out;
  ASSERT_TRUE(snap.read(&out));
  ASSERT_EQ(out.count, 3u);
  EXPECT_EQ(out.published_at, 12345);
  EXPECT_EQ(snap.publications(), 1u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(out.items[i].bytes(), in[i].bytes());
    EXPECT_EQ(out.items[i].state, in[i].state);
    EXPECT_EQ(out.items[i].peer, in[i].peer);
    EXPECT_EQ(out.items[i].cid, in[i].cid);
    EXPECT_EQ(out.items[i].cwnd, in[i].cwnd);
  }
  // A shorter list replaces it entirely.
  snap.publish(std::span<const ConnectionSample>(in.data(), 1), 20000);
  ASSERT_TRUE(snap.read(&out));
  EXPECT_EQ(out.count, 1u);
  EXPECT_EQ(out.published_at, 20000);
}

TEST(ConnectionSnapshotTest, MoreThanTheCapacityIsCut) {
  ConnectionSnapshot snap;
  std::vector<ConnectionSample> in;
  for (std::size_t i = 0; i < kTopConnections + 5; ++i)
    in.push_back(make_sample(1, i));
  snap.publish(in, 1);
  ConnectionSampleList out;
  ASSERT_TRUE(snap.read(&out));
  EXPECT_EQ(out.count, kTopConnections);
  EXPECT_TRUE(consistent(out.items[kTopConnections - 1], kTopConnections - 1));
}

TEST(ConnectionSnapshotTest, AWriteInProgressIsNeverReturned) {
  ConnectionSnapshot snap;
  const std::vector<ConnectionSample> in = {make_sample(3, 0)};
  snap.publish(in, 5);
  ConnectionSnapshotTestAccess::begin_write(snap);
  ConnectionSampleList out;
  out.count = 77;
  EXPECT_FALSE(snap.read(&out, 5));
  EXPECT_EQ(out.count, 77u);  // untouched on failure
  ConnectionSnapshotTestAccess::end_write(snap);
  ASSERT_TRUE(snap.read(&out, 5));
  EXPECT_EQ(out.count, 1u);
}

TEST(ConnectionSnapshotTest, ReadsWhileTheWriterPublishesAreNeverTorn) {
  ConnectionSnapshot snap;
  std::atomic<bool> done{false};
  constexpr std::uint64_t kPublishes = 200'000;
  std::thread writer([&] {
    std::vector<ConnectionSample> s(kTopConnections);
    for (std::uint64_t g = 1; g <= kPublishes; ++g) {
      const std::size_t n = 1 + g % kTopConnections;
      for (std::size_t i = 0; i < n; ++i)
        s[i] = make_sample(g, i);
      snap.publish(std::span<const ConnectionSample>(s.data(), n), static_cast<Time>(g));
    }
    done.store(true);
  });
  std::uint64_t reads = 0, last_at = 0;
  while (!done.load()) {
    ConnectionSampleList out;
    if (!snap.read(&out)) continue;
    ++reads;
    const auto g = static_cast<std::uint64_t>(out.published_at);
    if (g == 0) continue;  // nothing yet
    ASSERT_EQ(out.count, 1 + g % kTopConnections) << g;
    for (std::size_t i = 0; i < out.count; ++i) {
      ASSERT_TRUE(consistent(out.items[i], i)) << "publish " << g << " entry " << i;
      ASSERT_EQ((out.items[i].bytes_sent - i) / 100, g) << "entry from another publish";
    }
    ASSERT_GE(g, last_at);  // never back in time
    last_at = g;
  }
  writer.join();
  ConnectionSampleList out;
  ASSERT_TRUE(snap.read(&out));
  EXPECT_EQ(static_cast<std::uint64_t>(out.published_at), kPublishes);
  EXPECT_EQ(snap.publications(), kPublishes);
  EXPECT_GT(reads, 0u);
}

TEST(ConnectionSnapshotTest, TextForms) {
  char buf[64];
  const std::uint8_t cid[] = {0x00, 0x1f, 0xa0, 0xff};
  EXPECT_EQ(format_cid_hex(cid, buf), 8u);
  EXPECT_STREQ(buf, "001fa0ff");
  EXPECT_EQ(format_cid_hex({}, buf), 0u);
  EXPECT_STREQ(buf, "");
  char small[6];
  EXPECT_EQ(format_cid_hex(cid, small), 4u);  // whole bytes only, NUL kept
  EXPECT_STREQ(small, "001f");

  EXPECT_GT(format_peer_address(PeerAddress::ipv4({198, 18, 0, 2}, 4433), buf), 0u);
  EXPECT_STREQ(buf, "198.18.0.2:4433");
  format_peer_address(
      PeerAddress::ipv6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 443), buf);
  EXPECT_STREQ(buf, "[2001:db8::1]:443");
  char tiny[5];
  EXPECT_EQ(format_peer_address(PeerAddress::ipv4({198, 18, 0, 2}, 4433), tiny), 4u);
  EXPECT_STREQ(tiny, "198.");

  EXPECT_STREQ(connection_state_name(ConnectionState::kHandshaking), "handshaking");
  EXPECT_STREQ(connection_state_name(ConnectionState::kConnected), "connected");
  EXPECT_STREQ(connection_state_name(ConnectionState::kClosing), "closing");
  EXPECT_STREQ(connection_state_name(ConnectionState::kDraining), "draining");
  EXPECT_STREQ(connection_state_name(ConnectionState::kClosed), "closed");
}

}  // namespace
}  // namespace dquic
