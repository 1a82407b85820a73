// Network paths between two real connections (tests/sim/connected_pair.h):
// path validation and its padding (RFC 9000 §8.2), the anti-amplification
// limit on a new path (§9.3.1), spurious and reordered migrations (§9.3,
// §9.3.2-9.3.3), what a client and a server refuse (§9, §9.6), and the
// client falling back when its new path is a black hole (§9.2).
#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include "quic/cid_generator.h"
#include "quic/stateless_reset.h"
#include "tests/sim/connected_pair.h"

namespace dquic {
namespace {

using test::ConnectedPair;
using test::PairSide;

const PeerAddress kClient = PeerAddress::ipv4({198, 18, 0, 2}, 50000);
const PeerAddress kClientRebound = PeerAddress::ipv4({198, 18, 0, 2}, 60000);
const PeerAddress kClientNew = PeerAddress::ipv4({198, 18, 0, 3}, 50001);
const PeerAddress kAttacker = PeerAddress::ipv4({198, 18, 7, 7}, 4444);
const PeerAddress kServer = PeerAddress::ipv4({198, 18, 1, 1}, 443);

rte_mempool* paths_pool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create(
      "cpath_test", 4095, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, static_cast<int>(rte_socket_id()));
  return pool;
}

void free_all(std::vector<rte_mbuf*>& ms) {
  for (rte_mbuf* m : ms)
    rte_pktmbuf_free(m);
  ms.clear();
}

class ConnectionPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(paths_pool(), nullptr);
    baseline_ = rte_mempool_in_use_count(paths_pool());
    for (int side = 0; side < 2; ++side) {
      RandomCidGeneratorSettings gs;
      gs.cid_length = 8;
      std::uint8_t next = static_cast<std::uint8_t>(0x40 + 0x60 * side);
      generators_[side] =
          RandomCidGenerator::create(gs, [next](std::span<std::uint8_t> out) mutable {
            for (auto& b : out)
              b = next++;
          });
      ASSERT_NE(generators_[side], nullptr);
    }
    const std::array<std::uint8_t, 32> key{9, 8, 7};
    tokens_ = std::make_unique<StatelessResetTokenGenerator>(ByteSpan(key.data(), key.size()));
  }
  void TearDown() override {
    pair_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(paths_pool()), baseline_) << "mbufs leaked";
  }

  // Both ends issue spare CIDs; the client starts on kClient -> kServer.
  void make_pair(test::ConfigTweak client = {}, test::ConfigTweak server = {},
                 bool server_generator = true) {
    auto c = [this, client](ConnectionConfig& cfg) {
      cfg.path = NetworkPath{kClient, kServer};
      cfg.cid_generator = generators_[0].get();
      cfg.reset_tokens = tokens_.get();
      if (client) client(cfg);
    };
    auto s = [this, server, server_generator](ConnectionConfig& cfg) {
      if (server_generator) cfg.cid_generator = generators_[1].get();
      cfg.reset_tokens = tokens_.get();
      if (server) server(cfg);
    };
    pair_ = std::make_unique<ConnectedPair>(paths_pool(), c, s);
    pair_->track_paths();
  }
  void connect(test::ConfigTweak client_tweak = {}, test::ConfigTweak server_tweak = {},
               bool server_generator = true) {
    make_pair(std::move(client_tweak), std::move(server_tweak), server_generator);
    ASSERT_TRUE(pair_->handshake());
    pair_->run_until(pair_->now + 50 * kMillisecond);  // NEW_CONNECTION_ID both ways
    ASSERT_EQ(server().path(), (NetworkPath{kServer, kClient}));
  }
  Connection& client() { return *pair_->client().conn; }
  Connection& server() { return *pair_->server().conn; }

  // The client writes `n` bytes on a new stream; returns its id.
  std::uint64_t client_writes(std::size_t n) {
    const std::optional<std::uint64_t> id = client().open_stream(true);
    EXPECT_TRUE(id.has_value());
    const std::vector<std::uint8_t> data(n, 0x5a);
    EXPECT_EQ(client().write(*id, data, false), static_cast<std::int64_t>(n));
    return *id;
  }
  // Reads what arrived on `id` at `c`.
  std::size_t drain(Connection& c, std::uint64_t id) {
    std::array<std::uint8_t, 4096> buf;
    std::size_t total = 0;
    bool fin = false;
    for (;;) {
      const std::int64_t n = c.read(id, buf, &fin);
      if (n <= 0) break;
      total += static_cast<std::size_t>(n);
    }
    return total;
  }

  std::array<std::unique_ptr<RandomCidGenerator>, 2> generators_;
  std::unique_ptr<StatelessResetTokenGenerator> tokens_;
  std::unique_ptr<ConnectedPair> pair_;
  unsigned baseline_ = 0;
};

// RFC 9000 §9.1, §8.2: a probe from a new client address is answered on
// that path, expanded to 1200 bytes, with the server's own challenge; the
// server does not move for a probing packet. Once the client has its
// answer it moves, and the server follows its first non-probing packet.
TEST_F(ConnectionPathsTest, ProbeThenMigrate) {
  connect();
  ASSERT_TRUE(client().migrate(NetworkPath{kClientNew, kServer}, pair_->now, true));
  EXPECT_EQ(client().path().local, kClient);  // not yet: probing first
  std::vector<rte_mbuf*> probe = pair_->send_all(pair_->client());
  ASSERT_EQ(probe.size(), 1u);
  ASSERT_NE(pair_->sent_path(probe[0]), nullptr);
  EXPECT_EQ(*pair_->sent_path(probe[0]), (NetworkPath{kClientNew, kServer}));
  EXPECT_GE(rte_pktmbuf_pkt_len(probe[0]), 1200u);  // §8.2.1
  pair_->deliver(pair_->server(), probe);
  EXPECT_EQ(server().path().peer, kClient);  // §9.1: a probe moves nothing

  std::vector<rte_mbuf*> answer = pair_->send_all(pair_->server());
  ASSERT_FALSE(answer.empty());
  EXPECT_EQ(*pair_->sent_path(answer[0]), (NetworkPath{kServer, kClientNew}));
  EXPECT_GE(rte_pktmbuf_pkt_len(answer[0]), 1200u);  // §8.2.2
  pair_->deliver(pair_->client(), answer);
  EXPECT_EQ(client().path().local, kClientNew);  // validated: moved
  EXPECT_EQ(client().stats().paths_validated, 1u);

  const std::uint64_t id = client_writes(3000);
  pair_->run_until(pair_->now + 200 * kMillisecond);
  EXPECT_EQ(server().path().peer, kClientNew);
  EXPECT_EQ(server().stats().migrations, 1u);
  EXPECT_EQ(drain(server(), id), 3000u);
  EXPECT_EQ(client().stats().congestion_resets, 1u);  // another IP (§9.4)
}

// RFC 9000 §9.3.1, §8.1: before the new address answers a challenge, the
// server sends it at most three times what it received from it, however
// much it has to send.
TEST_F(ConnectionPathsTest, AmplificationLimitOnAnUnvalidatedPath) {
  connect();
  const std::optional<std::uint64_t> sid = server().open_stream(true);
  ASSERT_TRUE(sid.has_value());
  const std::vector<std::uint8_t> big(60000, 0x33);
  ASSERT_GT(server().write(*sid, big, false), 0);
  client_writes(100);
  std::vector<rte_mbuf*> from_client = pair_->send_all(pair_->client());
  ASSERT_FALSE(from_client.empty());
  std::uint64_t received = 0;
  for (rte_mbuf* m : from_client) {
    received += rte_pktmbuf_pkt_len(m);
    pair_->deliver_on(pair_->server(), m, NetworkPath{kServer, kClientRebound});
  }
  from_client.clear();
  EXPECT_EQ(server().path().peer, kClientRebound);  // a non-probing packet: moved
  // The new address never answers; the server's timers run for seconds.
  std::uint64_t sent_there = 0;
  for (int i = 0; i < 200; ++i) {
    if (server().next_timeout() <= pair_->now) server().on_timeout(pair_->now);
    std::vector<rte_mbuf*> out = pair_->send_all(pair_->server());
    for (rte_mbuf* m : out)
      if (pair_->sent_path(m)->peer == kClientRebound) sent_there += rte_pktmbuf_pkt_len(m);
    free_all(out);
    pair_->now += 20 * kMillisecond;
  }
  EXPECT_GT(sent_there, 0u);
  EXPECT_LE(sent_there, 3 * received);
  std::printf("new path: received %llu bytes, sent %llu before validation failed (x%.2f)\n",
              static_cast<unsigned long long>(received),
              static_cast<unsigned long long>(sent_there),
              static_cast<double>(sent_there) / static_cast<double>(received));
  // §9.3.2: validation failed and there was a validated path to go back to.
  EXPECT_EQ(server().path().peer, kClient);
  EXPECT_GE(server().stats().path_validations_failed, 1u);
  EXPECT_EQ(server().state(), ConnectionState::kConnected);
}

// RFC 9000 §8.2.1: a challenge that the amplification limit kept below
// 1200 bytes validates the address but not the path MTU; a second one
// follows in an expanded datagram once the limit is gone.
TEST_F(ConnectionPathsTest, SmallChallengeIsFollowedByAnExpandedOne) {
  connect();
  // A NAT rebinding: the client's datagrams arrive from a new port, replies
  // to it reach the client; the old port is gone.
  pair_->nat = [](NetworkPath& v, bool to_server) {
    if (to_server) {
      v.peer = kClientRebound;
      return true;
    }
    if (v.peer != kClientRebound) return false;
    v.peer = kClient;
    return true;
  };
  client_writes(10);
  std::vector<std::uint32_t> sizes;  // of the server's datagrams to the new port
  for (int i = 0; i < 100; ++i) {
    for (PairSide* side : {&pair_->client(), &pair_->server()})
      if (side->conn->next_timeout() <= pair_->now) side->conn->on_timeout(pair_->now);
    std::vector<rte_mbuf*> c = pair_->send_all(pair_->client());
    std::vector<rte_mbuf*> s = pair_->send_all(pair_->server());
    for (rte_mbuf* m : s)
      if (pair_->sent_path(m)->peer == kClientRebound) sizes.push_back(rte_pktmbuf_pkt_len(m));
    pair_->deliver(pair_->server(), c);
    pair_->deliver(pair_->client(), s);
    pair_->now += 5 * kMillisecond;
  }
  ASSERT_FALSE(sizes.empty());
  EXPECT_LT(sizes[0], 1200u);  // within 3x of the client's small datagram
  EXPECT_NE(std::find_if(sizes.begin(), sizes.end(), [](std::uint32_t n) { return n >= 1200; }),
            sizes.end());
  EXPECT_EQ(server().path().peer, kClientRebound);
  EXPECT_EQ(server().stats().paths_validated, 1u);
  EXPECT_GE(server().stats().path_challenges_sent, 2u);
  EXPECT_EQ(server().stats().path_validations_failed, 0u);
}

// RFC 9000 §9.3.3: an attacker's copy of a client packet from its own
// address arrives first and moves the server; the genuine client's next
// packet on the old path moves it back, and the attacker's path fails
// validation. The connection carries on.
TEST_F(ConnectionPathsTest, ForwardedCopyIsUndone) {
  connect();
  const std::uint64_t id = client_writes(500);
  std::vector<rte_mbuf*> d = pair_->send_all(pair_->client());
  ASSERT_EQ(d.size(), 1u);
  rte_mbuf* copy = rte_pktmbuf_copy(d[0], paths_pool(), 0, UINT32_MAX);
  ASSERT_NE(copy, nullptr);
  pair_->deliver_on(pair_->server(), copy, NetworkPath{kServer, kAttacker});
  EXPECT_EQ(server().path().peer, kAttacker);
  pair_->deliver(pair_->server(), d);  // the genuine one: a duplicate
  // Attacker traffic goes nowhere from now on; the client talks normally.
  pair_->nat = [](NetworkPath& server_view, bool) { return server_view.peer != kAttacker; };
  client_writes(500);
  pair_->run_until(pair_->now + 5 * kSecond);
  EXPECT_EQ(server().path().peer, kClient);
  EXPECT_GE(server().stats().migrations, 2u);
  EXPECT_GE(server().stats().path_validations_failed, 1u);
  EXPECT_EQ(server().state(), ConnectionState::kConnected);
  EXPECT_EQ(drain(server(), id), 500u);
}

// RFC 9000 §9.3: only the highest-numbered non-probing packet moves the
// server; an older one from the previous path, reordered, does not.
TEST_F(ConnectionPathsTest, ReorderedPacketFromTheOldPathDoesNotMoveBack) {
  connect();
  client_writes(200);
  std::vector<rte_mbuf*> old_path = pair_->send_all(pair_->client());
  ASSERT_FALSE(old_path.empty());
  ASSERT_TRUE(client().migrate(NetworkPath{kClientNew, kServer}, pair_->now));
  client_writes(200);
  std::vector<rte_mbuf*> new_path = pair_->send_all(pair_->client());
  ASSERT_FALSE(new_path.empty());
  EXPECT_EQ(pair_->sent_path(new_path[0])->local, kClientNew);
  pair_->deliver(pair_->server(), new_path);
  EXPECT_EQ(server().path().peer, kClientNew);
  pair_->deliver(pair_->server(), old_path);  // late
  EXPECT_EQ(server().path().peer, kClientNew);
  EXPECT_EQ(server().stats().migrations, 1u);
  pair_->run_until(pair_->now + 300 * kMillisecond);
  EXPECT_EQ(server().path().peer, kClientNew);
  EXPECT_GE(server().stats().paths_validated, 1u);
}

// RFC 9000 §9, §9.6: a client takes nothing from a server address it did
// not probe.
TEST_F(ConnectionPathsTest, ClientDropsDatagramsFromUnknownServerAddresses) {
  connect();
  const std::optional<std::uint64_t> sid = server().open_stream(false);
  ASSERT_TRUE(sid.has_value());
  ASSERT_EQ(server().write(*sid, std::vector<std::uint8_t>(100, 1), true), 100);
  std::vector<rte_mbuf*> out = pair_->send_all(pair_->server());
  ASSERT_FALSE(out.empty());
  const std::uint64_t received = client().stats().packets_received;
  for (rte_mbuf* m : out)
    pair_->deliver_on(pair_->client(), m,
                      NetworkPath{kClient, PeerAddress::ipv4({198, 18, 1, 9}, 443)});
  out.clear();
  EXPECT_EQ(client().stats().packets_received, received);
  EXPECT_GE(client().stats().datagrams_unknown_path, 1u);
}

// RFC 9000 §9: the handshake relies on a stable address; a server takes no
// datagram from another address before it is confirmed.
TEST_F(ConnectionPathsTest, ServerIgnoresNewAddressesDuringTheHandshake) {
  make_pair();
  std::vector<rte_mbuf*> first;
  ASSERT_TRUE(pair_->start(&first));
  pair_->deliver(pair_->server(), first);
  std::vector<rte_mbuf*> back = pair_->send_all(pair_->server());
  pair_->deliver(pair_->client(), back);
  std::vector<rte_mbuf*> second = pair_->send_all(pair_->client());
  ASSERT_FALSE(second.empty());
  const std::uint64_t received = server().stats().packets_received;
  for (rte_mbuf* m : second)
    pair_->deliver_on(pair_->server(), m, NetworkPath{kServer, kClientRebound});
  second.clear();
  EXPECT_EQ(server().stats().packets_received, received);
  EXPECT_GE(server().stats().datagrams_unknown_path, 1u);
  EXPECT_FALSE(server().handshake_complete());
}

// RFC 9000 §9: migrate() is refused before the handshake is confirmed,
// against disable_active_migration, and (§9.5) without a spare CID.
TEST_F(ConnectionPathsTest, MigrateRefusals) {
  make_pair();
  std::vector<rte_mbuf*> first;
  ASSERT_TRUE(pair_->start(&first));
  EXPECT_FALSE(client().migrate(NetworkPath{kClientNew, kServer}, pair_->now));
  free_all(first);
  pair_.reset();

  connect({}, [](ConnectionConfig& c) { c.transport.disable_active_migration = true; });
  EXPECT_FALSE(client().migrate(NetworkPath{kClientNew, kServer}, pair_->now));
  pair_.reset();

  connect({}, {}, /*server_generator=*/false);  // the server issues no spare CID
  EXPECT_FALSE(client().migrate(NetworkPath{kClientNew, kServer}, pair_->now));
  pair_.reset();

  connect();
  EXPECT_FALSE(client().migrate(client().path(), pair_->now));  // already there
  EXPECT_TRUE(client().migrate(NetworkPath{kClientNew, kServer}, pair_->now));
}

// RFC 9000 §9.2, §8.2.4: the client's new path is a black hole; its
// validation fails after about three PTOs and the client goes back to the
// old path, where the data then flows.
TEST_F(ConnectionPathsTest, ClientFallsBackWhenTheNewPathFails) {
  connect();
  pair_->nat = [](NetworkPath& server_view, bool) { return server_view.peer != kClientNew; };
  ASSERT_TRUE(client().migrate(NetworkPath{kClientNew, kServer}, pair_->now));
  const std::uint64_t id = client_writes(2000);
  pair_->run_until(pair_->now + 10 * kSecond);
  EXPECT_EQ(client().path().local, kClient);
  EXPECT_EQ(client().stats().path_validations_failed, 1u);
  EXPECT_EQ(client().state(), ConnectionState::kConnected);
  EXPECT_EQ(drain(server(), id), 2000u);
  EXPECT_EQ(server().path().peer, kClient);
}

// RFC 9000 §9.6.1: a client configured not to follow preferred_address
// stays where it is; the preferred address's CID (sequence 1) is still a
// spare it may use for its own migration.
TEST_F(ConnectionPathsTest, PreferredAddressCanBeDeclined) {
  connect([](ConnectionConfig& c) { c.use_preferred_address = false; },
          [](ConnectionConfig& c) {
            PreferredAddress pa;
            pa.ipv4_address = {198, 18, 1, 2};
            pa.ipv4_port = 4433;
            c.transport.preferred_address = pa;
          });
  ASSERT_TRUE(client().peer_transport().preferred_address.has_value());
  EXPECT_EQ(client().peer_transport().preferred_address->connection_id.length, 8u);
  pair_->run_until(pair_->now + 500 * kMillisecond);
  EXPECT_EQ(client().path().peer, kServer);
  EXPECT_EQ(client().stats().migrations, 0u);
}

}  // namespace
}  // namespace dquic
