// ECN between two real connections (tests/sim/connected_pair.h) over a link
// that carries each datagram's codepoint, or bleaches, remarks, CE-marks or
// drops marked datagrams: marking and ECN validation (RFC 9000 §13.4,
// §13.4.2, Appendix A.4) and the congestion response to CE (RFC 9002 §7.1,
// §B.7).
#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <functional>
#include <memory>
#include <vector>

#include "quic/cid_generator.h"
#include "quic/stateless_reset.h"
#include "runtime/connection_io.h"
#include "tests/sim/connected_pair.h"

namespace dquic {
namespace {

using test::ConnectedPair;
using test::PairSide;

const PeerAddress kClient = PeerAddress::ipv4({198, 18, 0, 2}, 50000);
const PeerAddress kClientNew = PeerAddress::ipv4({198, 18, 0, 3}, 50001);
const PeerAddress kServer = PeerAddress::ipv4({198, 18, 1, 1}, 443);

rte_mempool* ecn_pool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create(
      "cecn_test", 4095, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, static_cast<int>(rte_socket_id()));
  return pool;
}

// A datagram in flight with the codepoint and path it was sent with.
struct Sent {
  rte_mbuf* m = nullptr;
  Ecn ecn = Ecn::kNotEct;
  NetworkPath path;  // as sent
};

// The congestion windows the client reported, in order.
class CwndLog final : public ConnectionObserver {
 public:
  void on_metrics(const RecoveryMetrics& m, Time) override { cwnd.push_back(m.congestion_window); }
  // How many times the window went down from index `from` on.
  int reductions(std::size_t from = 0) const {
    int n = 0;
    for (std::size_t i = std::max<std::size_t>(from, 1); i < cwnd.size(); ++i)
      if (cwnd[i] < cwnd[i - 1]) ++n;
    return n;
  }
  std::vector<std::uint64_t> cwnd;
};

class ConnectionEcnTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(ecn_pool(), nullptr);
    baseline_ = rte_mempool_in_use_count(ecn_pool());
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
    const std::array<std::uint8_t, 32> key{4, 5, 6};
    tokens_ = std::make_unique<StatelessResetTokenGenerator>(ByteSpan(key.data(), key.size()));
  }
  void TearDown() override {
    pair_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(ecn_pool()), baseline_) << "mbufs leaked";
  }

  void make_pair(test::ConfigTweak client_tweak = {}, test::ConfigTweak server_tweak = {}) {
    auto c = [this, client = std::move(client_tweak)](ConnectionConfig& cfg) {
      cfg.path = NetworkPath{kClient, kServer};
      cfg.cid_generator = generators_[0].get();
      cfg.reset_tokens = tokens_.get();
      cfg.congestion = CongestionAlgorithm::kNewReno;
      cfg.observer = &cwnd_;
      if (client) client(cfg);
    };
    auto s = [this, server = std::move(server_tweak)](ConnectionConfig& cfg) {
      cfg.cid_generator = generators_[1].get();
      cfg.reset_tokens = tokens_.get();
      cfg.congestion = CongestionAlgorithm::kNewReno;
      if (server) server(cfg);
    };
    pair_ = std::make_unique<ConnectedPair>(ecn_pool(), c, s);
  }
  ::testing::AssertionResult connect(test::ConfigTweak client_tweak = {},
                                     test::ConfigTweak server_tweak = {}) {
    make_pair(std::move(client_tweak), std::move(server_tweak));
    std::vector<rte_mbuf*> first;
    if (auto r = pair_->start(&first); !r) return r;
    if (first.size() != 1) return ::testing::AssertionFailure() << "first flight";
    // ConnectedPair::start() does not report the codepoint: the client's
    // first datagram is marked iff it counted one marked packet.
    std::vector<Sent> d{{first[0], client().stats().ecn_ect0_sent != 0 ? Ecn::kEct0 : Ecn::kNotEct,
                         client().path()}};
    deliver(pair_->server(), d, true);
    for (int step = 0; step < 1000; ++step) {
      if (client().handshake_confirmed() && server().handshake_confirmed()) break;
      if (!run_step()) pair_->now = std::max(pair_->now, next_timeout());
    }
    if (!client().handshake_confirmed() || !server().handshake_confirmed())
      return ::testing::AssertionFailure() << "handshake not confirmed";
    run_until(pair_->now + 50 * kMillisecond);  // NEW_CONNECTION_ID both ways
    return ::testing::AssertionSuccess();
  }

  Connection& client() { return *pair_->client().conn; }
  Connection& server() { return *pair_->server().conn; }

  std::vector<Sent> send(PairSide& s) {
    std::array<rte_mbuf*, 16> out{};
    std::array<Ecn, 16> ecn{};
    std::array<NetworkPath, 16> paths{};
    std::vector<Sent> all;
    for (int round = 0; round < 64; ++round) {
      const std::size_t n =
          send_datagrams(*s.conn, nullptr, ecn_pool(), pair_->now, out, ecn, paths);
      for (std::size_t i = 0; i < n; ++i)
        all.push_back({out[i], ecn[i], paths[i]});
      if (n < out.size()) break;
    }
    return all;
  }

  // Hands `ds` to `to` as the link treats them, and frees them.
  void deliver(PairSide& to, std::vector<Sent>& ds, bool to_server) {
    for (Sent& d : ds) {
      ++sent_[to_server][static_cast<std::size_t>(d.ecn)];
      if (drop && drop(d, to_server)) {
        rte_pktmbuf_free(d.m);
        continue;
      }
      const Ecn seen = rewrite ? rewrite(d.ecn, to_server) : d.ecn;
      ++seen_[to_server][static_cast<std::size_t>(seen)];
      receive_datagram(*to.conn, nullptr, d.m, seen, pair_->now,
                       NetworkPath{d.path.peer, d.path.local});
      rte_pktmbuf_free(d.m);
    }
    ds.clear();
  }

  // One round: timers, then both sides' datagrams cross at once. False
  // when nothing moved.
  bool run_step() {
    for (PairSide* s : {&pair_->client(), &pair_->server()})
      if (s->conn->next_timeout() <= pair_->now) s->conn->on_timeout(pair_->now);
    std::vector<Sent> c = send(pair_->client());
    std::vector<Sent> s = send(pair_->server());
    const bool moved = !c.empty() || !s.empty();
    deliver(pair_->server(), c, true);
    deliver(pair_->client(), s, false);
    return moved;
  }
  Time next_timeout() { return std::min(client().next_timeout(), server().next_timeout()); }

  void run_until(Time until) {
    for (int step = 0; step < 100000; ++step) {
      if (run_step()) continue;
      const Time next = next_timeout();
      if (next > until) break;
      pair_->now = std::max(pair_->now, next);
    }
    pair_->now = std::max(pair_->now, until);
  }

  // The client sends `n` bytes on a new stream (FIN), the link runs for
  // `d`, and the server reads them; returns the bytes the server read.
  std::size_t transfer(std::size_t n, Duration d = 200 * kMillisecond) {
    const std::optional<std::uint64_t> id = client().open_stream(true);
    EXPECT_TRUE(id.has_value());
    if (!id) return 0;
    const std::vector<std::uint8_t> data(n, 0x5a);
    EXPECT_EQ(client().write(*id, data, true), static_cast<std::int64_t>(n));
    run_until(pair_->now + d);
    return drain(*id);
  }
  std::size_t drain(std::uint64_t id) {
    std::array<std::uint8_t, 4096> buf;
    std::size_t total = 0;
    bool fin = false;
    for (int i = 0; i < 1000; ++i) {
      const std::int64_t n = server().read(id, buf, &fin);
      if (n <= 0) break;
      total += static_cast<std::size_t>(n);
    }
    run_until(pair_->now + 50 * kMillisecond);  // flow control credit back
    return total;
  }

  // [to_server][codepoint]: datagrams sent with, and seen by the receiver with.
  std::uint64_t sent(bool to_server, Ecn e) const {
    return sent_[to_server][static_cast<std::size_t>(e)];
  }
  std::uint64_t seen(bool to_server, Ecn e) const {
    return seen_[to_server][static_cast<std::size_t>(e)];
  }

  std::function<Ecn(Ecn sent, bool to_server)> rewrite;  // what the receiver sees
  std::function<bool(const Sent& d, bool to_server)> drop;
  CwndLog cwnd_;
  std::array<std::unique_ptr<RandomCidGenerator>, 2> generators_;
  std::unique_ptr<StatelessResetTokenGenerator> tokens_;
  std::unique_ptr<ConnectedPair> pair_;
  std::array<std::array<std::uint64_t, 4>, 2> sent_{};
  std::array<std::array<std::uint64_t, 4>, 2> seen_{};
  unsigned baseline_ = 0;
};

// RFC 9000 §13.4.2, A.4: a path that carries the marks. Both ends mark from
// their first packet, the peer's ACKs carry counts that validate, and both
// reach "capable" and keep marking every packet; data flows.
TEST_F(ConnectionEcnTest, CleanPathBecomesCapable) {
  ASSERT_TRUE(connect());
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(transfer(3000), 3000u);
  for (Connection* c : {&client(), &server()}) {
    const ConnectionStats& st = c->stats();
    EXPECT_EQ(st.ecn_state, EcnState::kCapable) << ecn_state_name(st.ecn_state);
    // Validated during the handshake: every packet marked.
    EXPECT_EQ(st.ecn_ect0_sent, st.packets_sent);
    EXPECT_EQ(st.ecn_ce_reported, 0u);
  }
  EXPECT_GT(client().stats().ecn_ect0_sent, kEcnTestingPackets);
  EXPECT_EQ(sent(true, Ecn::kNotEct) + sent(false, Ecn::kNotEct), 0u);
  EXPECT_GT(seen(true, Ecn::kEct0), kEcnTestingPackets);
  EXPECT_GT(seen(false, Ecn::kEct0), 0u);
  EXPECT_EQ(seen(true, Ecn::kEct1) + seen(true, Ecn::kCe), 0u);
}

// ConnectionConfig::ecn = false: nothing is marked; the peer still marks.
TEST_F(ConnectionEcnTest, DisabledNeverMarks) {
  ASSERT_TRUE(connect([](ConnectionConfig& c) { c.ecn = false; }));
  EXPECT_EQ(transfer(3000), 3000u);
  EXPECT_EQ(client().stats().ecn_state, EcnState::kDisabled);
  EXPECT_EQ(client().stats().ecn_ect0_sent, 0u);
  EXPECT_EQ(sent(true, Ecn::kEct0), 0u);
  EXPECT_GT(sent(true, Ecn::kNotEct), 0u);
  EXPECT_EQ(server().stats().ecn_state, EcnState::kCapable);
}

// RFC 9000 §13.4.2.1: a path that clears the marks toward the server. The
// server's ACKs then cannot count the marked packets: the client fails
// validation and stops marking; the other direction is unaffected.
TEST_F(ConnectionEcnTest, BleachingPathFails) {
  rewrite = [](Ecn e, bool to_server) { return to_server ? Ecn::kNotEct : e; };
  ASSERT_TRUE(connect());
  EXPECT_EQ(client().stats().ecn_state, EcnState::kFailed);
  const std::uint64_t marked = client().stats().ecn_ect0_sent;
  EXPECT_GT(marked, 0u);
  EXPECT_LE(marked, kEcnTestingPackets + 2);  // the testing period at most
  const std::uint64_t packets = client().stats().packets_sent;
  const std::uint64_t marked_datagrams = sent(true, Ecn::kEct0);
  EXPECT_EQ(transfer(3000), 3000u);
  EXPECT_GT(client().stats().packets_sent, packets);
  EXPECT_EQ(client().stats().ecn_ect0_sent, marked);  // marking stopped
  EXPECT_EQ(sent(true, Ecn::kEct0), marked_datagrams);
  EXPECT_EQ(client().stats().ecn_state, EcnState::kFailed);
  EXPECT_EQ(server().stats().ecn_state, EcnState::kCapable);
}

// RFC 9000 §13.4.2.1: remarking ECT(0) to ECT(1) makes the peer report an
// ECT(1) count above the ECT(1) packets we sent (none): failed.
TEST_F(ConnectionEcnTest, RemarkingPathFails) {
  rewrite = [](Ecn e, bool to_server) { return to_server && e == Ecn::kEct0 ? Ecn::kEct1 : e; };
  ASSERT_TRUE(connect());
  EXPECT_GT(seen(true, Ecn::kEct1), 0u);
  EXPECT_EQ(client().stats().ecn_state, EcnState::kFailed);
  const std::uint64_t marked = client().stats().ecn_ect0_sent;
  EXPECT_EQ(transfer(3000), 3000u);
  EXPECT_EQ(client().stats().ecn_ect0_sent, marked);
  EXPECT_EQ(server().stats().ecn_state, EcnState::kCapable);
}

// RFC 9002 §7.1, §B.7: CE reported by the peer is a congestion event, at
// most one per round trip (packets sent before the reduction do not start
// another); ECN stays capable.
TEST_F(ConnectionEcnTest, CeReducesTheWindowOncePerRoundTrip) {
  ASSERT_TRUE(connect());
  EXPECT_EQ(transfer(3000), 3000u);
  ASSERT_EQ(client().stats().ecn_state, EcnState::kCapable);
  const int before = cwnd_.reductions();
  // One flight of several datagrams, each CE-marked by the link and
  // acknowledged by an ACK of its own.
  auto ce_flight = [this](std::size_t bytes) {
    const std::optional<std::uint64_t> id = client().open_stream(true);
    EXPECT_TRUE(id.has_value());
    const std::vector<std::uint8_t> data(bytes, 0x33);
    EXPECT_EQ(client().write(*id, data, true), static_cast<std::int64_t>(bytes));
    std::vector<Sent> flight = send(pair_->client());
    EXPECT_GE(flight.size(), 3u);
    rewrite = [](Ecn e, bool to_server) { return to_server && e == Ecn::kEct0 ? Ecn::kCe : e; };
    for (Sent& d : flight) {
      std::vector<Sent> one{d};
      deliver(pair_->server(), one, true);
      std::vector<Sent> acks = send(pair_->server());
      deliver(pair_->client(), acks, false);
      pair_->now += kMillisecond;
    }
    rewrite = nullptr;
    return flight.size();
  };
  const std::size_t n1 = ce_flight(5000);
  EXPECT_GE(client().stats().ecn_ce_reported, 2u);  // several CE reports...
  EXPECT_EQ(cwnd_.reductions(), before + 1);        // ...one reduction
  EXPECT_EQ(client().stats().ecn_state, EcnState::kCapable);
  run_until(pair_->now + 200 * kMillisecond);
  // A flight sent after the reduction: a new round trip, a new reduction.
  const std::uint64_t ce = client().stats().ecn_ce_reported;
  ce_flight(5000);
  EXPECT_GT(client().stats().ecn_ce_reported, ce);
  EXPECT_EQ(cwnd_.reductions(), before + 2);
  EXPECT_EQ(client().stats().ecn_state, EcnState::kCapable);
  EXPECT_LE(client().stats().ecn_ce_reported, client().stats().ecn_ect0_sent);
  EXPECT_GE(n1, 3u);
  run_until(pair_->now + 200 * kMillisecond);
  EXPECT_EQ(client().state(), ConnectionState::kConnected);
}

// RFC 9000 §13.4.2: validation is per path. After migrating, the client
// tests the new path from the start (once path validation passed, §8.2);
// a clean one becomes capable again.
TEST_F(ConnectionEcnTest, MigrationRestartsTesting) {
  ASSERT_TRUE(connect());
  ASSERT_EQ(client().stats().ecn_state, EcnState::kCapable);
  ASSERT_TRUE(client().migrate(NetworkPath{kClientNew, kServer}, pair_->now));
  std::vector<Sent> d = send(pair_->client());
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(d[0].path.local, kClientNew);
  EXPECT_EQ(d[0].ecn, Ecn::kNotEct);  // PATH_CHALLENGE: unmarked while validating
  EXPECT_EQ(client().stats().ecn_state, EcnState::kTesting);
  deliver(pair_->server(), d, true);
  const std::uint64_t marked = client().stats().ecn_ect0_sent;
  EXPECT_EQ(transfer(3000), 3000u);
  EXPECT_EQ(client().path().local, kClientNew);
  EXPECT_GT(client().stats().ecn_ect0_sent, marked);
  EXPECT_EQ(client().stats().ecn_state, EcnState::kCapable);
  EXPECT_EQ(client().stats().migrations, 1u);
}

// RFC 9000 §13.4.2, A.4: a new path that drops every marked datagram. The
// testing packets are all declared lost, validation fails, and the
// connection carries on unmarked on that path.
TEST_F(ConnectionEcnTest, NewPathDroppingMarkedPacketsFails) {
  ASSERT_TRUE(connect());
  ASSERT_EQ(client().stats().ecn_state, EcnState::kCapable);
  drop = [](const Sent& d, bool to_server) {
    return to_server && d.ecn != Ecn::kNotEct && d.path.local == kClientNew;
  };
  ASSERT_TRUE(client().migrate(NetworkPath{kClientNew, kServer}, pair_->now));
  EXPECT_EQ(transfer(3000, 5 * kSecond), 3000u);
  EXPECT_EQ(client().path().local, kClientNew);
  EXPECT_EQ(client().stats().ecn_state, EcnState::kFailed);
  EXPECT_EQ(client().state(), ConnectionState::kConnected);
}

}  // namespace
}  // namespace dquic
