// The Endpoint (quic/endpoint.h): client and server endpoints joined by a
// tiny zero-delay network of addressed datagrams, in no-crypto mode
// (protector == nullptr) unless a test needs real packet protection (the
// stateless CONNECTION_CLOSE is sealed with Initial keys), plus
// hand-crafted datagrams for every rule of RFC 9000 §5.2, §6.1, §7.2, §8.1,
// §10.2.3, §10.3, §14.1 and §21.5.6 it applies.
#include "quic/endpoint.h"

#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "offload/aead_evp.h"
#include "offload/hp_inline.h"
#include "offload/protector_key_store.h"
#include "quic/packet_header_encode.h"
#include "quic/retry_integrity.h"
#include "quic/version_negotiation.h"
#include "runtime/connection_io.h"
#include "tests/sim/connected_pair.h"

namespace dquic {
namespace {

using test::Bytes;
using Kind = EndpointDecision::Kind;
using Response = EndpointDecision::Response;

rte_mempool* endpoint_pool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create(
      "endpoint_test", 8191, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, static_cast<int>(rte_socket_id()));
  return pool;
}

ByteSpan span(const Bytes& b) {
  return {b.data(), b.size()};
}

Bytes bytes_of(ByteSpan s) {
  return Bytes(s.begin(), s.end());
}

PeerAddress addr(std::uint32_t host, std::uint16_t port) {
  return PeerAddress::ipv4({10, static_cast<std::uint8_t>(host >> 16),
                            static_cast<std::uint8_t>(host >> 8), static_cast<std::uint8_t>(host)},
                           port);
}

const PeerAddress kServer = addr(1, 443);
// The token clock of both sides: PairSide's wall clock at now == 0.
constexpr std::int64_t kWallMs = test::kTestNow * 1000;

struct Rng {
  std::mt19937_64 g{12345};
  void fill(std::span<std::uint8_t> out) {
    for (auto& b : out)
      b = static_cast<std::uint8_t>(g());
  }
  Bytes bytes(std::size_t n) {
    Bytes b(n);
    fill(b);
    return b;
  }
};

class App final : public ConnectionHandler {
 public:
  void on_handshake_complete() override { ++handshakes; }
  void on_closed() override { ++closed; }
  void on_new_token(ByteSpan t) override { tokens.emplace_back(t.begin(), t.end()); }
  int handshakes = 0, closed = 0;
  std::vector<std::vector<std::uint8_t>> tokens;
};

// Records every CID the endpoint's generator hands out.
class RecordingGenerator final : public ConnectionIdGenerator {
 public:
  explicit RecordingGenerator(std::unique_ptr<ConnectionIdGenerator> inner)
      : inner_(std::move(inner)) {}
  bool generate(std::uint16_t worker, ConnectionId* out) override {
    if (!inner_->generate(worker, out)) return false;
    issued.push_back(*out);
    return true;
  }
  std::optional<std::uint16_t> worker_of(ByteSpan dcid) const override {
    return inner_->worker_of(dcid);
  }
  std::size_t cid_length() const override { return inner_->cid_length(); }
  std::vector<ConnectionId> issued;

 private:
  std::unique_ptr<ConnectionIdGenerator> inner_;
};

// ------------------------------------------------------------ crafting

// A long-header packet of `type` padded with zeros to `total` bytes.
Bytes craft_long(PacketType type, const Bytes& dcid, const Bytes& scid, const Bytes& token,
                 std::size_t total, std::uint32_t version = kVersion1) {
  Bytes out(total + 128);
  Writer w(out);
  LongHeaderSpec h;
  h.type = type;
  h.version = version;
  h.dcid = span(dcid);
  h.scid = span(scid);
  h.token = span(token);
  LongHeaderLayout l;
  EXPECT_TRUE(encode_long_header(w, h, &l));
  const std::size_t end = std::max(total, l.header_end + 20);
  w.fill(0, end - l.header_end);
  EXPECT_TRUE(patch_long_header_length(out, l, end - l.pn_offset));
  out.resize(end);
  return out;
}

Bytes craft_initial(const Bytes& dcid, const Bytes& scid, std::size_t total = 1200,
                    const Bytes& token = {}) {
  return craft_long(PacketType::kInitial, dcid, scid, token, total);
}

// A long header of a version we do not speak (RFC 8999 §5.1).
Bytes craft_unknown_version(std::uint32_t version, const Bytes& dcid, const Bytes& scid,
                            std::size_t total) {
  Bytes out(total);
  Writer w(out);
  w.write_u8(0xc0);
  w.write_u32(version);
  w.write_u8(static_cast<std::uint8_t>(dcid.size()));
  w.write_bytes(span(dcid));
  w.write_u8(static_cast<std::uint8_t>(scid.size()));
  w.write_bytes(span(scid));
  w.fill(0, total - w.written());
  EXPECT_TRUE(w.ok());
  return out;
}

Bytes craft_short(const Bytes& dcid, std::size_t total) {
  Bytes out(total, 0x5a);
  out[0] = 0x40;
  std::copy(dcid.begin(), dcid.end(), out.begin() + 1);
  return out;
}

Bytes cid_bytes(const ConnectionId& c) {
  return bytes_of(c.span());
}

// A stateless CONNECTION_CLOSE answering the client Initial with these
// CIDs (RFC 9000 §5.2.2, §8.1.2): an Initial of that version with the CIDs
// swapped, no token, far below 3x the 1200 bytes that triggered it. (Its
// protection and frame are checked in tests/quic/initial_close_test.cc and
// by the real clients below.)
::testing::AssertionResult is_initial_close(const EndpointDecision& d, ByteSpan response,
                                            const Bytes& client_dcid, const Bytes& client_scid,
                                            EndpointDrop why, std::uint32_t version = kVersion1) {
  if (d.kind != EndpointDecision::Kind::kRespond ||
      d.response != EndpointDecision::Response::kConnectionClose)
    return ::testing::AssertionFailure()
           << "kind " << static_cast<int>(d.kind) << " drop " << to_string(d.drop);
  if (d.drop != why) return ::testing::AssertionFailure() << "drop " << to_string(d.drop);
  PacketHeader h;
  if (parse_packet_header(response.first(d.response_length), 0, 8, &h) != PacketDropReason::kNone)
    return ::testing::AssertionFailure() << "does not parse";
  if (h.type != PacketType::kInitial || h.version != version || !h.token.empty() ||
      !same_bytes(h.dcid, client_scid) || !same_bytes(h.scid, client_dcid) ||
      h.packet_end != d.response_length || d.response_length > 3 * kMinInitialDatagramSize)
    return ::testing::AssertionFailure() << "not the expected Initial";
  return ::testing::AssertionSuccess();
}

// ------------------------------------------------------------ fixture

class EndpointTest : public ::testing::Test {
 protected:
  struct Host {
    PeerAddress address;
    std::unique_ptr<Endpoint> ep;
    std::map<Response, int> responses;  // replies this host sent
    std::map<Kind, int> decisions;
  };

  void SetUp() override {
    ASSERT_NE(endpoint_pool(), nullptr);
    baseline_ = rte_mempool_in_use_count(endpoint_pool());
  }
  void TearDown() override {
    in_flight_.clear();
    hosts_.clear();
    EXPECT_EQ(rte_mempool_in_use_count(endpoint_pool()), baseline_) << "mbufs leaked";
  }

  ConnectionConfig base_config(EndpointRole role, ConnectionHandler* handler) {
    ConnectionConfig c;
    c.role = role;
    c.tls_client = &tls_.client;
    c.tls_server = &tls_.server;
    c.wall_clock_ms_at_zero = kWallMs;
    c.keys = crypto_keys_ ? static_cast<KeyStore*>(crypto_keys_.get()) : &keys_;
    c.copy_pool = endpoint_pool();
    c.handler = handler;
    c.random = [this](std::span<std::uint8_t> out) { rng_.fill(out); };
    c.transport.max_idle_timeout = 30000;
    c.transport.initial_max_data = test::kPairConnectionWindow;
    c.transport.initial_max_stream_data_bidi_local = test::kPairStreamWindow;
    c.transport.initial_max_stream_data_bidi_remote = test::kPairStreamWindow;
    c.transport.initial_max_stream_data_uni = test::kPairStreamWindow;
    c.transport.initial_max_streams_bidi = test::kPairMaxBidi;
    c.transport.initial_max_streams_uni = test::kPairMaxUni;
    return c;
  }

  std::unique_ptr<ConnectionIdGenerator> random_generator(std::uint8_t length = 8,
                                                          std::uint16_t workers = 1) {
    RandomCidGeneratorSettings s;
    s.cid_length = length;
    s.worker_count = workers;
    auto g = RandomCidGenerator::create(s, [this](std::span<std::uint8_t> out) { rng_.fill(out); });
    EXPECT_NE(g, nullptr);
    return g;
  }

  // The server endpoint's configuration; tests adjust it before server().
  EndpointConfig server_config() {
    EndpointConfig ec;
    ec.connection = base_config(EndpointRole::kServer, nullptr);
    server_generator_ = std::make_unique<RecordingGenerator>(random_generator());
    ec.cid_generator = server_generator_.get();
    ec.reset_tokens = &resets_;
    ec.address_tokens = &tokens_;
    ec.retry_policy = RetryPolicy::kNever;
    ec.on_new_connection = [this](const IncomingConnection& in, ConnectionConfig& c) {
      incoming_.push_back(in);
      c.handler = &server_app_;
      return true;
    };
    return ec;
  }

  Host& server(EndpointConfig ec) {
    hosts_.push_back(std::make_unique<Host>());
    Host& h = *hosts_.back();
    h.address = kServer;
    h.ep = std::make_unique<Endpoint>(std::move(ec));
    EXPECT_TRUE(h.ep->ok());
    server_ = &h;
    return h;
  }
  Host& server() { return server(server_config()); }

  Host& client_host(const PeerAddress& a, std::vector<std::uint32_t> versions = {kVersion1}) {
    EndpointConfig ec;
    ec.versions = std::move(versions);
    ec.connection = base_config(EndpointRole::kClient, nullptr);
    client_generators_.push_back(random_generator());
    ec.cid_generator = client_generators_.back().get();
    ec.accept_connections = false;
    ec.reset_tokens = &resets_;
    hosts_.push_back(std::make_unique<Host>());
    Host& h = *hosts_.back();
    h.address = a;
    h.ep = std::make_unique<Endpoint>(std::move(ec));
    EXPECT_TRUE(h.ep->ok());
    return h;
  }

  Connection* connect(Host& client) {
    return client.ep->connect(base_config(EndpointRole::kClient, &client_app_), kServer, now_);
  }

  // A datagram arriving at the server endpoint directly, not from a host.
  EndpointDecision inject(const Bytes& d, const PeerAddress& from) {
    return server_->ep->on_datagram(span(d), from, now_, response_);
  }
  Bytes response(const EndpointDecision& d) const {
    return Bytes(response_.begin(),
                 response_.begin() + static_cast<std::ptrdiff_t>(d.response_length));
  }

  // Real packet protection for every connection created from now on (call
  // before the hosts): one Protector, as one runtime lcore has.
  void use_crypto() {
    aead_ = offload::make_evp_aead_engine();
    hp_ = offload::make_inline_hp_engine();
    protector_ =
        std::make_unique<offload::Protector>(aead_.get(), hp_.get(), aead_.get(), hp_.get());
    crypto_keys_ = std::make_unique<offload::ProtectorKeyStore>(protector_.get());
  }

  void feed(Connection& c, ByteSpan d, Time now) {
    rte_mbuf* m = rte_pktmbuf_alloc(endpoint_pool());
    ASSERT_NE(m, nullptr);
    char* at = rte_pktmbuf_append(m, static_cast<std::uint16_t>(d.size()));
    ASSERT_NE(at, nullptr);
    std::memcpy(at, d.data(), d.size());
    receive_datagram(c, protector_.get(), m, Ecn::kNotEct, now);
    rte_pktmbuf_free(m);
  }

  Host* host_at(const PeerAddress& a) {
    for (auto& h : hosts_)
      if (h->address == a) return h.get();
    return nullptr;
  }

  // One datagram arriving at its host, handled as a runtime would.
  void arrive(const PeerAddress& from, const PeerAddress& to, const Bytes& d) {
    Host* h = host_at(to);
    if (h == nullptr) return;
    std::array<std::uint8_t, Endpoint::kMaxResponseSize> resp{};
    const EndpointDecision dec = h->ep->on_datagram(span(d), from, now_, resp);
    ++h->decisions[dec.kind];
    switch (dec.kind) {
      case Kind::kDeliver:
        feed(*dec.connection, span(d), now_);
        break;
      case Kind::kNewConnection: {
        feed(*dec.connection, span(d), now_);
        BufferedDatagram b;
        while (h->ep->take_buffered(*dec.connection, &b))
          feed(*dec.connection, b.data, now_);
        break;
      }
      case Kind::kRespond:
        ++h->responses[dec.response];
        next_flight_.push_back({to, from, Bytes(resp.begin(), resp.begin() + dec.response_length)});
        break;
      default:
        break;
    }
  }

  // Timers, sends and deliveries of every host once. True if a datagram moved.
  bool step() {
    std::array<rte_mbuf*, 16> out{};
    for (auto& h : hosts_) {
      for (std::size_t i = 0; i < h->ep->connection_count(); ++i) {
        Connection& c = *h->ep->connection(i);
        if (c.next_timeout() <= now_) c.on_timeout(now_);
        for (;;) {
          const std::size_t n = send_datagrams(c, protector_.get(), endpoint_pool(), now_, out);
          for (std::size_t k = 0; k < n; ++k) {
            const ByteSpan d(rte_pktmbuf_mtod(out[k], const std::uint8_t*),
                             rte_pktmbuf_data_len(out[k]));
            in_flight_.push_back({h->address, h->ep->peer(i), bytes_of(d)});
            rte_pktmbuf_free(out[k]);
          }
          if (n < out.size()) break;
        }
      }
    }
    const bool moved = !in_flight_.empty();
    while (!in_flight_.empty()) {
      std::vector<Flight> batch;
      batch.swap(in_flight_);
      for (Flight& f : batch) {
        if (rewrite_) rewrite_(f);
        if (!drop_ || !drop_(f)) arrive(f.from, f.to, f.data);
      }
      // Stateless replies travel in the same step.
      in_flight_.swap(next_flight_);
    }
    return moved;
  }

  // Runs until `done` or `until`, advancing the clock to the next timer
  // whenever nothing moves.
  template <class Done>
  void run(Time until, Done done, int max_steps = 100000) {
    for (int s = 0; s < max_steps && !done(); ++s) {
      if (step()) continue;
      Time next = kNever;
      for (auto& h : hosts_)
        for (std::size_t i = 0; i < h->ep->connection_count(); ++i)
          next = std::min(next, h->ep->connection(i)->next_timeout());
      if (next > until) break;
      now_ = std::max(now_ + 1, next);
    }
  }
  void run_for(Duration d) {
    run(now_ + d, [] { return false; });
  }
  // Until every connection of every host has confirmed its handshake.
  bool run_until_confirmed(Duration limit = 2 * kSecond) {
    auto all = [this] {
      for (auto& h : hosts_)
        for (std::size_t i = 0; i < h->ep->connection_count(); ++i)
          if (!h->ep->connection(i)->handshake_confirmed()) return false;
      return true;
    };
    run(now_ + limit, all);
    if (!all()) {
      for (auto& h : hosts_) {
        std::fprintf(stderr, "host %u: conns %zu routes %zu decisions", h->address.address[3],
                     h->ep->connection_count(), h->ep->route_count());
        for (auto& [k, n] : h->decisions)
          std::fprintf(stderr, " %d:%d", static_cast<int>(k), n);
        for (std::size_t r = 0; r < static_cast<std::size_t>(EndpointDrop::kCount); ++r)
          if (h->ep->counters().dropped[r])
            std::fprintf(stderr, " drop %s:%llu", to_string(static_cast<EndpointDrop>(r)),
                         static_cast<unsigned long long>(h->ep->counters().dropped[r]));
        for (std::size_t i = 0; i < h->ep->connection_count(); ++i) {
          Connection* c = h->ep->connection(i);
          std::fprintf(stderr, " [state %d hc %d dropped %llu recv %llu%s]",
                       static_cast<int>(c->state()), c->handshake_complete(),
                       static_cast<unsigned long long>(c->stats().packets_dropped),
                       static_cast<unsigned long long>(c->stats().packets_received),
                       c->close_info() ? c->close_info()->reason.c_str() : "");
        }
        std::fprintf(stderr, "\n");
      }
    }
    return all();
  }

  struct Flight {
    PeerAddress from, to;
    Bytes data;
  };

  test::PairTls tls_;
  test::NullKeyStore keys_;
  // use_crypto(); declared before the hosts, whose connections hold keys.
  std::unique_ptr<offload::AeadEngine> aead_;
  std::unique_ptr<offload::HpEngine> hp_;
  std::unique_ptr<offload::Protector> protector_;
  std::unique_ptr<offload::ProtectorKeyStore> crypto_keys_;
  Rng rng_;
  std::array<std::uint8_t, 32> reset_key_{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  StatelessResetTokenGenerator resets_{reset_key_};
  std::array<std::uint8_t, 16> token_key_{9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 5, 6, 7, 8};
  AddressTokenCodec tokens_{AddressTokenKey{1, token_key_}};
  App server_app_, client_app_;
  std::vector<IncomingConnection> incoming_;
  std::unique_ptr<RecordingGenerator> server_generator_;
  std::vector<std::unique_ptr<ConnectionIdGenerator>> client_generators_;
  std::vector<std::unique_ptr<Host>> hosts_;
  Host* server_ = nullptr;
  std::vector<Flight> in_flight_, next_flight_;
  std::function<bool(const Flight&)> drop_;
  std::function<void(Flight&)> rewrite_;  // before drop_
  std::array<std::uint8_t, Endpoint::kMaxResponseSize> response_{};
  Time now_ = 0;
  unsigned baseline_ = 0;
};

// ------------------------------------------------------------ handshakes

// RFC 9000 §5.2, §7: a client Initial creates the server connection; every
// later datagram of both sides routes by DCID.
TEST_F(EndpointTest, HandshakeThroughEndpoints) {
  Host& s = server();
  Host& c = client_host(addr(100, 50000));
  Connection* cc = connect(c);
  ASSERT_NE(cc, nullptr);
  ASSERT_TRUE(run_until_confirmed());
  ASSERT_EQ(s.ep->connection_count(), 1u);
  Connection& sc = *s.ep->connection(0);
  EXPECT_EQ(s.ep->peer(0), c.address);
  EXPECT_EQ(sc.peer_cid(), cc->local_cid());
  EXPECT_EQ(cc->peer_cid(), sc.local_cid());
  EXPECT_EQ(s.ep->counters().connections_accepted, 1u);
  EXPECT_EQ(s.decisions[Kind::kNewConnection], 1);
  EXPECT_GT(s.decisions[Kind::kDeliver], 0);
  EXPECT_EQ(c.ep->counters().connections_opened, 1u);
  EXPECT_EQ(server_app_.handshakes, 1);
  EXPECT_EQ(client_app_.handshakes, 1);
  ASSERT_EQ(incoming_.size(), 1u);
  EXPECT_EQ(incoming_[0].from, c.address);
  EXPECT_FALSE(incoming_[0].address_validated);
  s.ep->collect(now_);
  EXPECT_EQ(s.ep->half_open_count(), 0u);
  EXPECT_EQ(s.responses.size(), 0u) << "no stateless reply in a clean handshake";
}

// Every CID the server connection was given, by the endpoint or by its own
// NEW_CONNECTION_ID issuing (through the LocalCidListener), routes to it.
TEST_F(EndpointTest, IssuedCidsRouteToTheirConnection) {
  Host& s = server();
  Host& c = client_host(addr(100, 50000));
  ASSERT_NE(connect(c), nullptr);
  ASSERT_TRUE(run_until_confirmed());
  run_for(50 * kMillisecond);
  ASSERT_EQ(s.ep->connection_count(), 1u);
  Connection* sc = s.ep->connection(0);
  // The handshake's CID and at least one NEW_CONNECTION_ID (the client's
  // active_connection_id_limit is 2 by default).
  ASSERT_GE(server_generator_->issued.size(), 2u);
  // The handshake's DCID (the client's) and our CIDs.
  EXPECT_EQ(s.ep->route_count(), 1 + server_generator_->issued.size());
  for (const ConnectionId& cid : server_generator_->issued) {
    const EndpointDecision d = inject(craft_short(cid_bytes(cid), 60), c.address);
    ASSERT_EQ(d.kind, Kind::kDeliver);
    EXPECT_EQ(d.connection, sc);
  }
}

// Fifty clients behind five addresses: each stream's bytes reach the server
// connection of the client that sent them.
TEST_F(EndpointTest, FiftyClientsAreDemultiplexedByCid) {
  Host& s = server();
  std::vector<Connection*> clients;
  for (std::uint32_t h = 0; h < 5; ++h) {
    Host& c = client_host(addr(200 + h, 40000));
    for (int i = 0; i < 10; ++i) {
      clients.push_back(connect(c));
      ASSERT_NE(clients.back(), nullptr);
    }
  }
  ASSERT_TRUE(run_until_confirmed(5 * kSecond));
  ASSERT_EQ(s.ep->connection_count(), 50u);
  for (std::size_t k = 0; k < clients.size(); ++k) {
    const std::optional<std::uint64_t> id = clients[k]->open_stream(true);
    ASSERT_TRUE(id.has_value());
    const std::string msg = "client-" + std::to_string(k);
    ASSERT_EQ(
        clients[k]->write(
            *id, ByteSpan(reinterpret_cast<const std::uint8_t*>(msg.data()), msg.size()), true),
        static_cast<std::int64_t>(msg.size()));
  }
  run_for(100 * kMillisecond);
  std::set<std::size_t> seen;
  for (std::size_t i = 0; i < s.ep->connection_count(); ++i) {
    Connection& sc = *s.ep->connection(i);
    std::array<std::uint8_t, 64> buf{};
    bool fin = false;
    const std::int64_t n = sc.read(0, buf, &fin);
    ASSERT_GT(n, 0);
    const std::string got(reinterpret_cast<const char*>(buf.data()), static_cast<std::size_t>(n));
    ASSERT_EQ(got.rfind("client-", 0), 0u) << got;
    const std::size_t k = std::stoul(got.substr(7));
    ASSERT_LT(k, clients.size());
    EXPECT_EQ(sc.peer_cid(), clients[k]->local_cid()) << "stream of client " << k;
    EXPECT_EQ(s.ep->peer(i), addr(200 + static_cast<std::uint32_t>(k / 10), 40000));
    seen.insert(k);
  }
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_EQ(s.ep->counters().connections_accepted, 50u);
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kUnknownConnection), 0u);
}

// ------------------------------------------------------------ drops

// RFC 9000 §14.1: a client Initial in a datagram under 1200 bytes never
// creates state; §7.2: nor one whose DCID is under 8 bytes.
TEST_F(EndpointTest, SmallInitialAndShortDcidAreDropped) {
  Host& s = server();
  const PeerAddress from = addr(300, 50000);
  EndpointDecision d = inject(craft_initial(rng_.bytes(8), rng_.bytes(8), 1199), from);
  EXPECT_EQ(d.kind, Kind::kDrop);
  EXPECT_EQ(d.drop, EndpointDrop::kInitialTooSmall);
  d = inject(craft_initial(rng_.bytes(7), rng_.bytes(8), 1200), from);
  EXPECT_EQ(d.drop, EndpointDrop::kInitialDcidTooShort);
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kInitialTooSmall), 1u);
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kInitialDcidTooShort), 1u);
  EXPECT_EQ(s.ep->connection_count(), 0u);
  EXPECT_EQ(s.ep->route_count(), 0u);
  // The boundary: exactly 1200 bytes and 8 bytes of DCID is accepted.
  d = inject(craft_initial(rng_.bytes(8), rng_.bytes(0), 1200), from);
  EXPECT_EQ(d.kind, Kind::kNewConnection);
  // A client-only endpoint takes no Initial.
  Host& c = client_host(addr(301, 50000));
  std::array<std::uint8_t, Endpoint::kMaxResponseSize> r{};
  const Bytes init = craft_initial(rng_.bytes(8), rng_.bytes(8));
  d = c.ep->on_datagram(span(init), kServer, now_, r);
  EXPECT_EQ(d.drop, EndpointDrop::kNotAccepting);
  // Garbage that does not parse.
  d = inject(Bytes{0xc0, 0, 0}, from);
  EXPECT_EQ(d.drop, EndpointDrop::kMalformed);
}

// RFC 9000 §5.2.2, §6.1: an unknown version in a datagram of 1200 bytes or
// more gets Version Negotiation listing ours; smaller ones and Version
// Negotiation packets themselves get nothing.
TEST_F(EndpointTest, UnknownVersionGetsVersionNegotiation) {
  EndpointConfig ec = server_config();
  ec.versions = {kVersion2, kVersion1};
  Host& s = server(std::move(ec));
  const Bytes dcid = rng_.bytes(12), scid = rng_.bytes(5);
  const PeerAddress from = addr(400, 50000);
  EndpointDecision d = inject(craft_unknown_version(0x51303530, dcid, scid, 1200), from);
  ASSERT_EQ(d.kind, Kind::kRespond);
  EXPECT_EQ(d.response, Response::kVersionNegotiation);
  const Bytes vn = response(d);
  PacketHeader h;
  ASSERT_EQ(parse_packet_header(span(vn), 0, 0, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.type, PacketType::kVersionNegotiation);
  EXPECT_TRUE(same_bytes(h.dcid, span(scid)));  // RFC 8999 §6: echoed, swapped
  EXPECT_TRUE(same_bytes(h.scid, span(dcid)));
  std::vector<std::uint32_t> versions;
  for (std::uint32_t v : h.versions())
    versions.push_back(v);
  ASSERT_EQ(versions.size(), 3u);  // ours and one greased (RFC 9000 §6.3)
  EXPECT_EQ(versions[0], kVersion2);
  EXPECT_EQ(versions[1], kVersion1);
  EXPECT_TRUE(is_reserved_version(versions[2]));
  EXPECT_EQ(s.ep->counters().version_negotiation_sent, 1u);

  d = inject(craft_unknown_version(0x51303530, dcid, scid, 1199), from);
  EXPECT_EQ(d.drop, EndpointDrop::kUnsupportedVersion);
  // Never answer a Version Negotiation (§6.1), even a large one.
  d = inject(craft_unknown_version(kVersionNegotiation, dcid, scid, 1200), from);
  EXPECT_EQ(d.drop, EndpointDrop::kVersionNegotiation);
  // A version the codec knows but this endpoint does not accept.
  EndpointConfig only_v1 = server_config();
  Host& s1 = server(std::move(only_v1));
  const Bytes v2 = craft_long(PacketType::kInitial, dcid, scid, {}, 1200, kVersion2);
  d = s1.ep->on_datagram(span(v2), from, now_, response_);
  ASSERT_EQ(d.kind, Kind::kRespond);
  EXPECT_EQ(d.response, Response::kVersionNegotiation);
  EXPECT_EQ(s.ep->connection_count() + s1.ep->connection_count(), 0u);
  // The caller's buffer is too small for the reply.
  std::array<std::uint8_t, 16> tiny{};
  const Bytes unk = craft_unknown_version(0x51303530, dcid, scid, 1200);
  d = s.ep->on_datagram(span(unk), from, now_, tiny);
  EXPECT_EQ(d.drop, EndpointDrop::kResponseBufferTooSmall);
}

// RFC 9000 §21.5.6: nothing from a reflection-prone port is answered or
// creates state.
TEST_F(EndpointTest, ReflectionPortsAreDropped) {
  Host& s = server();
  const std::uint16_t ports[] = {0, 53, 123, 1900, 11211};
  for (std::uint16_t port : ports) {
    EndpointDecision d = inject(craft_initial(rng_.bytes(8), rng_.bytes(8)), addr(500, port));
    EXPECT_EQ(d.drop, EndpointDrop::kReflectionPort) << port;
    d = inject(craft_unknown_version(0x51303530, rng_.bytes(8), {}, 1200), addr(500, port));
    EXPECT_EQ(d.drop, EndpointDrop::kReflectionPort) << port;
    d = inject(craft_short(rng_.bytes(8), 100), addr(500, port));
    EXPECT_EQ(d.drop, EndpointDrop::kReflectionPort) << port;
  }
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kReflectionPort), 15u);
  EXPECT_EQ(s.ep->connection_count(), 0u);
  EXPECT_EQ(inject(craft_initial(rng_.bytes(8), rng_.bytes(8)), addr(500, 1024)).kind,
            Kind::kNewConnection);
}

// Beyond max_connections new Initials are refused with
// CONNECTION_CLOSE(CONNECTION_REFUSED) (RFC 9000 §5.2.2), as many as the
// close limiter allows; memory stays bounded.
TEST_F(EndpointTest, ConnectionLimit) {
  EndpointConfig ec = server_config();
  ec.max_connections = 8;
  ec.initial_closes_per_second = 1;
  ec.initial_close_burst = 10;
  Host& s = server(std::move(ec));
  int closes = 0;
  for (std::uint32_t i = 0; i < 20; ++i) {
    const Bytes dcid = rng_.bytes(8), scid = rng_.bytes(8);
    const EndpointDecision d = inject(craft_initial(dcid, scid), addr(600 + i, 50000));
    if (i < 8) {
      EXPECT_EQ(d.kind, Kind::kNewConnection);
    } else if (i < 18) {
      EXPECT_TRUE(is_initial_close(d, response_, dcid, scid, EndpointDrop::kConnectionLimit));
      ++closes;
    } else {
      EXPECT_EQ(d.kind, Kind::kDrop);  // limited
      EXPECT_EQ(d.drop, EndpointDrop::kConnectionLimit);
    }
  }
  EXPECT_EQ(closes, 10);
  EXPECT_EQ(s.ep->connection_count(), 8u);
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kConnectionLimit), 12u);
  EXPECT_EQ(s.ep->counters().connection_close_sent, 10u);
  EXPECT_EQ(s.ep->counters().connection_close_limited, 2u);
  EXPECT_EQ(s.ep->route_count(), 16u);  // each: the client's DCID and ours
  EXPECT_EQ(s.ep->half_open_count(), 8u);
}

// The hook refuses a connection, which gets CONNECTION_REFUSED; it also
// sees the client's address.
TEST_F(EndpointTest, HookCanRefuse) {
  EndpointConfig ec = server_config();
  ec.on_new_connection = [](const IncomingConnection& in, ConnectionConfig&) {
    return in.from.port != 60000;
  };
  Host& s = server(std::move(ec));
  const Bytes dcid = rng_.bytes(8), scid = rng_.bytes(8);
  EndpointDecision d = inject(craft_initial(dcid, scid), addr(700, 60000));
  EXPECT_TRUE(is_initial_close(d, response_, dcid, scid, EndpointDrop::kRejected));
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kRejected), 1u);
  EXPECT_EQ(inject(craft_initial(rng_.bytes(8), rng_.bytes(8)), addr(700, 60001)).kind,
            Kind::kNewConnection);
  EXPECT_EQ(s.ep->connection_count(), 1u);
  EXPECT_EQ(s.ep->counters().connection_close_sent, 1u);
  // A v2 client gets its close in v2 (a new server: the first one's
  // generator goes with server_config()).
  s.ep.reset();
  EndpointConfig both = server_config();
  both.versions = {kVersion1, kVersion2};
  both.on_new_connection = [](const IncomingConnection&, ConnectionConfig&) { return false; };
  server(std::move(both));
  d = inject(craft_long(PacketType::kInitial, dcid, scid, {}, 1200, kVersion2), addr(700, 60000));
  EXPECT_TRUE(is_initial_close(d, response_, dcid, scid, EndpointDrop::kRejected, kVersion2));
}

// RFC 9000 §5.2.2 end to end: a real client refused at max_connections
// reads the server's CONNECTION_REFUSED and ends with it, while the
// admitted client is untouched.
TEST_F(EndpointTest, RefusedClientSeesConnectionRefused) {
  use_crypto();
  EndpointConfig ec = server_config();
  ec.max_connections = 1;
  Host& s = server(std::move(ec));
  Host& c1 = client_host(addr(710, 50000));
  Connection* first = connect(c1);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(run_until_confirmed());
  Host& c2 = client_host(addr(711, 50000));
  Connection* second = connect(c2);
  ASSERT_NE(second, nullptr);
  run(now_ + kSecond, [&] { return second->state() == ConnectionState::kDraining; });
  ASSERT_TRUE(second->close_info().has_value()) << "state " << static_cast<int>(second->state());
  const CloseInfo& ci = *second->close_info();
  EXPECT_FALSE(ci.local) << "closed by the peer";
  EXPECT_FALSE(ci.application);
  EXPECT_EQ(ci.error_code, static_cast<std::uint64_t>(TransportError::kConnectionRefused));
  EXPECT_EQ(ci.frame_type, 0u);
  EXPECT_EQ(ci.reason, "server full");
  EXPECT_FALSE(second->handshake_complete());
  EXPECT_EQ(s.responses[Response::kConnectionClose], 1);
  EXPECT_EQ(s.ep->counters().connection_close_sent, 1u);
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kConnectionLimit), 1u);
  EXPECT_EQ(s.ep->connection_count(), 1u);
  EXPECT_TRUE(first->handshake_confirmed());
  EXPECT_FALSE(first->close_info().has_value());
  // §10.2.2: the refused client drains silently, then closes.
  run_for(10 * kSecond);
  EXPECT_TRUE(second->is_closed());
  EXPECT_EQ(s.responses[Response::kConnectionClose], 1) << "nothing more from the client";
}

// A flood of Initials the server refuses gets at most the close limiter's
// burst plus its refill in replies; the rest are dropped as before, and the
// Stateless Reset budget is not spent by them.
TEST_F(EndpointTest, InitialCloseLimiterBoundsAFlood) {
  EndpointConfig ec = server_config();
  ec.max_connections = 0;  // refuse everything
  ec.initial_closes_per_second = 20;
  ec.initial_close_burst = 5;
  ec.resets_per_second = 1;
  ec.reset_burst = 1;
  Host& s = server(std::move(ec));
  auto flood = [&](int n) {
    int closes = 0;
    for (int i = 0; i < n; ++i) {
      const EndpointDecision d =
          inject(craft_initial(rng_.bytes(8), rng_.bytes(8)), addr(720 + i, 50000));
      EXPECT_EQ(d.drop, EndpointDrop::kConnectionLimit);
      closes += d.kind == Kind::kRespond && d.response == Response::kConnectionClose;
    }
    return closes;
  };
  EXPECT_EQ(flood(1000), 5);  // the burst
  now_ += 100 * kMillisecond;
  EXPECT_EQ(flood(1000), 2);  // 20/s for 0.1 s
  now_ += 10 * kSecond;
  EXPECT_EQ(flood(1000), 5);  // refilled to the burst, no more
  EXPECT_EQ(s.ep->counters().connection_close_sent, 12u);
  EXPECT_EQ(s.ep->counters().connection_close_limited, 3000u - 12u);
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kConnectionLimit), 3000u);
  EXPECT_EQ(s.ep->connection_count(), 0u);
  // The reset bucket is its own.
  EXPECT_EQ(inject(craft_short(rng_.bytes(8), 100), addr(730, 50000)).response,
            Response::kStatelessReset);
  // Burst 0: never answered.
  s.ep.reset();  // before server_config() replaces its generator
  EndpointConfig silent = server_config();
  silent.max_connections = 0;
  silent.initial_close_burst = 0;
  Host& s0 = server(std::move(silent));
  EXPECT_EQ(flood(10), 0);
  EXPECT_EQ(s0.ep->counters().connection_close_limited, 10u);
}

// ------------------------------------------------------------ Retry

// RFC 9000 §5.2.2: Version Negotiation has a token bucket of its own.
TEST_F(EndpointTest, VersionNegotiationLimiterBoundsAFlood) {
  EndpointConfig ec = server_config();
  ec.version_negotiations_per_second = 50;
  ec.version_negotiation_burst = 4;
  Host& s = server(std::move(ec));
  auto flood = [&](int n) {
    int sent = 0;
    for (int i = 0; i < n; ++i) {
      const EndpointDecision d =
          inject(craft_unknown_version(0x51303530, rng_.bytes(8), rng_.bytes(8), 1200),
                 addr(740 + i % 100, 50000));
      if (d.kind == Kind::kRespond) {
        EXPECT_EQ(d.response, Response::kVersionNegotiation);
        ++sent;
      } else {
        EXPECT_EQ(d.drop, EndpointDrop::kVersionNegotiationLimited);
      }
    }
    return sent;
  };
  EXPECT_EQ(flood(500), 4);  // the burst
  now_ += 100 * kMillisecond;
  EXPECT_EQ(flood(500), 4);  // 0.1 s at 50/s is 5 tokens; the bucket holds 4
  now_ += 20 * kMillisecond;
  EXPECT_EQ(flood(500), 1);
  EXPECT_EQ(s.ep->counters().version_negotiation_sent, 9u);
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kVersionNegotiationLimited), 1500u - 9u);
}

// RFC 9000 §8.1.2: under kAlways the first Initial gets a Retry whose
// token brings the client back validated; the connection completes and
// carries both CIDs in its transport parameters (§7.3).
TEST_F(EndpointTest, RetryAlwaysThenHandshake) {
  EndpointConfig ec = server_config();
  ec.retry_policy = RetryPolicy::kAlways;
  Host& s = server(std::move(ec));
  Host& c = client_host(addr(800, 50000));
  ASSERT_NE(connect(c), nullptr);
  ASSERT_TRUE(run_until_confirmed()) << "needs Connection::on_retry and Retry routing in "
                                        "connection_io";
  EXPECT_EQ(s.responses[Response::kRetry], 1);
  EXPECT_EQ(s.ep->counters().retry_sent, 1u);
  EXPECT_EQ(s.ep->counters().retry_tokens_accepted, 1u);
  ASSERT_EQ(s.ep->connection_count(), 1u);
  EXPECT_TRUE(s.ep->connection(0)->address_validated());
  ASSERT_EQ(incoming_.size(), 1u);
  EXPECT_TRUE(incoming_[0].address_validated);
}

// The Retry itself: DCID = client SCID, a new SCID, a token, and a tag
// over the client's original DCID (RFC 9001 §5.8).
TEST_F(EndpointTest, RetryPacketIsWellFormed) {
  EndpointConfig ec = server_config();
  ec.retry_policy = RetryPolicy::kAlways;
  Host& s = server(std::move(ec));
  const Bytes odcid = rng_.bytes(8), scid = rng_.bytes(6);
  const PeerAddress from = addr(810, 50000);
  const EndpointDecision d = inject(craft_initial(odcid, scid), from);
  ASSERT_EQ(d.kind, Kind::kRespond);
  ASSERT_EQ(d.response, Response::kRetry);
  const Bytes retry = response(d);
  PacketHeader h;
  ASSERT_EQ(parse_packet_header(span(retry), 0, 8, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.type, PacketType::kRetry);
  EXPECT_TRUE(same_bytes(h.dcid, span(scid)));
  EXPECT_EQ(h.scid.size(), 8u);
  EXPECT_TRUE(verify_retry_integrity_tag(kVersion1, span(odcid), span(retry)));
  TokenInfo info;
  ASSERT_EQ(tokens_.open(h.token, from, kVersion1, kWallMs, &info), TokenCheck::kOk);
  EXPECT_EQ(info.kind, TokenKind::kRetry);
  EXPECT_TRUE(same_bytes(info.original_dcid.span(), span(odcid)));
  EXPECT_TRUE(same_bytes(info.retry_scid.span(), h.scid));
  EXPECT_EQ(s.ep->connection_count(), 0u) << "a Retry keeps no state";
  EXPECT_EQ(s.ep->route_count(), 0u);

  // The client comes back with the token to the Retry's SCID.
  const Bytes back = craft_initial(bytes_of(h.scid), scid, 1200, bytes_of(h.token));
  const EndpointDecision d2 = inject(back, from);
  ASSERT_EQ(d2.kind, Kind::kNewConnection);
  EXPECT_TRUE(d2.connection->address_validated());
  EXPECT_EQ(d2.connection->peer_cid(), [&] {
    ConnectionId c;
    (void)ConnectionId::from(span(scid), &c);
    return c;
  }());
  ASSERT_EQ(incoming_.size(), 1u);
  EXPECT_TRUE(same_bytes(incoming_[0].original_dcid.span(), span(odcid)));
  // Routed: the Retry SCID (the client's DCID now) and our new CID.
  EXPECT_EQ(inject(back, from).kind, Kind::kDeliver);
}

// RFC 9000 §8.1.2: forged, expired, misdirected Retry tokens end the
// attempt with CONNECTION_CLOSE(INVALID_TOKEN), never a second Retry.
TEST_F(EndpointTest, BadRetryTokensGetInvalidToken) {
  EndpointConfig ec = server_config();
  ec.retry_policy = RetryPolicy::kAlways;
  Host& s = server(std::move(ec));
  const PeerAddress from = addr(900, 50000);
  const Bytes odcid = rng_.bytes(8), scid = rng_.bytes(8), rscid = rng_.bytes(8);
  ConnectionId o, r;
  (void)ConnectionId::from(span(odcid), &o);
  (void)ConnectionId::from(span(rscid), &r);
  auto seal = [&](AddressTokenCodec& codec, const PeerAddress& a, std::int64_t ms) {
    Bytes t(kMaxTokenLength);
    t.resize(codec.seal_retry(a, kVersion1, o, r, ms, t));
    EXPECT_FALSE(t.empty());
    return t;
  };
  std::array<std::uint8_t, 16> other_key{7};
  AddressTokenCodec forger(AddressTokenKey{1, other_key});
  const std::vector<Bytes> bad = {
      seal(forger, from, kWallMs),               // another key: fails authentication
      seal(tokens_, from, kWallMs - 60'000),     // expired (10 s lifetime)
      seal(tokens_, addr(901, 50000), kWallMs),  // another client
      seal(tokens_, addr(900, 50001), kWallMs),  // another port (§8.1.4)
  };
  for (const Bytes& t : bad) {
    const EndpointDecision d = inject(craft_initial(rscid, scid, 1200, t), from);
    EXPECT_TRUE(is_initial_close(d, response_, rscid, scid, EndpointDrop::kInvalidRetryToken));
  }
  // Valid, but the Initial's DCID is not the Retry SCID it names (§7.3).
  const Bytes other = rng_.bytes(8);
  EndpointDecision d = inject(craft_initial(other, scid, 1200, seal(tokens_, from, kWallMs)), from);
  EXPECT_TRUE(is_initial_close(d, response_, other, scid, EndpointDrop::kInvalidRetryToken));
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kInvalidRetryToken), 5u);
  EXPECT_EQ(s.ep->counters().connection_close_sent, 5u);
  EXPECT_EQ(s.ep->counters().retry_sent, 0u);
  EXPECT_EQ(s.ep->connection_count(), 0u);
  // A response span too small for the close: dropped, both reasons counted.
  std::array<std::uint8_t, 32> tiny{};
  const Bytes forged = craft_initial(rscid, scid, 1200, bad[0]);
  d = s.ep->on_datagram(span(forged), from, now_, tiny);
  EXPECT_EQ(d.kind, Kind::kDrop);
  EXPECT_EQ(d.drop, EndpointDrop::kInvalidRetryToken);
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kResponseBufferTooSmall), 1u);
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kInvalidRetryToken), 6u);
  // The good one.
  EXPECT_EQ(inject(craft_initial(rscid, scid, 1200, seal(tokens_, from, kWallMs)), from).kind,
            Kind::kNewConnection);
}

// RFC 9000 §8.1.2 end to end: a real client follows a Retry whose token
// the server will not accept (rewritten on the way: forged with another
// key, or authentic but expired; the integrity tag recomputed so the
// client takes it). Its second Initial, to the Retry's SCID, gets
// CONNECTION_CLOSE(INVALID_TOKEN) sealed with the Initial keys of that
// SCID, which the client opens and ends with. In v1 and v2.
TEST_F(EndpointTest, ClientFollowingABadRetryGetsInvalidToken) {
  use_crypto();
  std::array<std::uint8_t, 16> other_key{7};
  AddressTokenCodec forger(AddressTokenKey{1, other_key});
  struct Case {
    const char* name;
    std::uint32_t version;
    AddressTokenCodec* codec;
    std::int64_t issued_ms;
  };
  const Case cases[] = {
      {"forged", kVersion1, &forger, kWallMs},
      {"expired", kVersion1, &tokens_, kWallMs - 60'000},
      {"forged v2", kVersion2, &forger, kWallMs},
      {"expired v2", kVersion2, &tokens_, kWallMs - 60'000},
  };
  std::uint32_t host = 740;
  for (const Case& k : cases) {
    SCOPED_TRACE(k.name);
    EndpointConfig ec = server_config();
    ec.retry_policy = RetryPolicy::kAlways;
    ec.versions = {kVersion1, kVersion2};
    Host& s = server(std::move(ec));
    Host& c = client_host(addr(host++, 50000), {k.version});
    int rewritten = 0;
    rewrite_ = [&](Flight& f) {
      PacketHeader h;
      if (parse_packet_header(span(f.data), 0, 8, &h) != PacketDropReason::kNone ||
          h.type != PacketType::kRetry)
        return;
      TokenInfo info;
      ASSERT_EQ(tokens_.open(h.token, f.to, h.version, kWallMs + now_ / kMillisecond, &info),
                TokenCheck::kOk);
      Bytes token(kMaxTokenLength);
      token.resize(k.codec->seal_retry(f.to, h.version, info.original_dcid, info.retry_scid,
                                       k.issued_ms, token));
      ASSERT_FALSE(token.empty());
      const Bytes dcid = bytes_of(h.dcid), scid = bytes_of(h.scid);
      Bytes retry(256);
      Writer w(retry);
      RetrySpec spec;
      spec.version = h.version;
      spec.dcid = span(dcid);
      spec.scid = span(scid);
      spec.token = span(token);
      std::size_t tag_at = 0;
      ASSERT_TRUE(encode_retry(w, spec, &tag_at));
      retry.resize(w.written());
      ASSERT_TRUE(compute_retry_integrity_tag(
          h.version, info.original_dcid.span(), ByteSpan(retry.data(), tag_at),
          std::span<std::uint8_t, kRetryIntegrityTagLength>(retry.data() + tag_at, 16)));
      f.data = retry;
      ++rewritten;
    };
    ConnectionConfig cfg = base_config(EndpointRole::kClient, &client_app_);
    cfg.version = k.version;
    Connection* cc = c.ep->connect(cfg, kServer, now_);
    ASSERT_NE(cc, nullptr);
    run(now_ + kSecond, [&] { return cc->state() == ConnectionState::kDraining; });
    rewrite_ = nullptr;
    EXPECT_EQ(rewritten, 1);
    EXPECT_EQ(s.responses[Response::kRetry], 1);
    EXPECT_EQ(s.responses[Response::kConnectionClose], 1);
    EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kInvalidRetryToken), 1u);
    EXPECT_EQ(s.ep->connection_count(), 0u);
    ASSERT_TRUE(cc->close_info().has_value()) << "state " << static_cast<int>(cc->state());
    const CloseInfo& ci = *cc->close_info();
    EXPECT_FALSE(ci.local) << "closed by the peer";
    EXPECT_FALSE(ci.application);
    EXPECT_EQ(ci.error_code, static_cast<std::uint64_t>(TransportError::kInvalidToken));
    EXPECT_EQ(ci.frame_type, 0u);
    EXPECT_EQ(ci.reason, "invalid retry token");
    EXPECT_EQ(cc->version(), k.version);
    EXPECT_EQ(cc->stats().packets_received, 1u) << "the close, opened";
    run_for(10 * kSecond);
    EXPECT_TRUE(cc->is_closed());
    // The next case gets new hosts (and the server a new generator).
    in_flight_.clear();
    next_flight_.clear();
    hosts_.clear();
    server_ = nullptr;
  }
}

// RFC 9000 §8.1.3: a valid NEW_TOKEN token validates the address, so no
// Retry even under kAlways; an invalid one is as if absent.
TEST_F(EndpointTest, NewTokenValidatesAddress) {
  EndpointConfig ec = server_config();
  ec.retry_policy = RetryPolicy::kAlways;
  Host& s = server(std::move(ec));
  const PeerAddress from = addr(1000, 50000);
  Bytes t(kNewTokenLength);
  ASSERT_EQ(tokens_.seal_new_token(from, kVersion1, kWallMs - 3600 * 1000, t), kNewTokenLength);
  // A NEW_TOKEN token leaves the port out: the client comes from another.
  const PeerAddress later = addr(1000, 50123);
  EndpointDecision d = inject(craft_initial(rng_.bytes(8), rng_.bytes(8), 1200, t), later);
  ASSERT_EQ(d.kind, Kind::kNewConnection);
  EXPECT_TRUE(d.connection->address_validated());
  EXPECT_EQ(s.ep->counters().new_tokens_accepted, 1u);
  // The same token from another IP is invalid: a Retry instead.
  d = inject(craft_initial(rng_.bytes(8), rng_.bytes(8), 1200, t), addr(1001, 50000));
  ASSERT_EQ(d.kind, Kind::kRespond);
  EXPECT_EQ(d.response, Response::kRetry);
  // So is a token of unknown form (another server's, say).
  d = inject(craft_initial(rng_.bytes(8), rng_.bytes(8), 1200, Bytes(40, 0x77)), from);
  EXPECT_EQ(d.response, Response::kRetry);
  EXPECT_EQ(s.ep->counters().new_tokens_ignored, 2u);
  EXPECT_EQ(s.ep->connection_count(), 1u);
}

// RFC 9000 §8.1.3 end to end: the server's NEW_TOKEN reaches the client,
// whose next connection presents it and skips the Retry.
TEST_F(EndpointTest, NewTokenFromTheServerSkipsTheNextRetry) {
  EndpointConfig ec = server_config();
  ec.retry_policy = RetryPolicy::kAlways;
  Host& s = server(std::move(ec));
  Host& c = client_host(addr(1010, 50000));
  ASSERT_NE(connect(c), nullptr);
  ASSERT_TRUE(run_until_confirmed());
  run_for(50 * kMillisecond);
  EXPECT_EQ(s.ep->counters().retry_sent, 1u);
  ASSERT_EQ(client_app_.tokens.size(), 1u);
  ConnectionConfig cfg = base_config(EndpointRole::kClient, &client_app_);
  cfg.initial_token = client_app_.tokens[0];
  ASSERT_NE(c.ep->connect(cfg, kServer, now_), nullptr);
  ASSERT_TRUE(run_until_confirmed());
  EXPECT_EQ(s.ep->counters().retry_sent, 1u);  // no second Retry
  EXPECT_EQ(s.ep->counters().new_tokens_accepted, 1u);
  EXPECT_EQ(s.ep->connection_count(), 2u);
}

// Automatic Retry: a flood of spoofed Initials from many addresses creates
// state only up to the half-open threshold, then gets Retries (which the
// spoofers never answer), while a real client still gets through.
TEST_F(EndpointTest, AutomaticRetryUnderFlood) {
  EndpointConfig ec = server_config();
  ec.retry_policy = RetryPolicy::kAutomatic;
  ec.retry_half_open_threshold = 4;
  ec.retry_rate_threshold = 0;
  ec.max_connections = 8;
  Host& s = server(std::move(ec));
  EXPECT_FALSE(s.ep->retry_engaged(now_));
  int retries = 0;
  for (std::uint32_t i = 0; i < 200; ++i) {
    const EndpointDecision d =
        inject(craft_initial(rng_.bytes(8), rng_.bytes(8)), addr(2000 + i, 40000 + i));
    retries += d.kind == Kind::kRespond && d.response == Response::kRetry;
  }
  EXPECT_EQ(s.ep->connection_count(), 4u);
  EXPECT_EQ(retries, 196);
  EXPECT_TRUE(s.ep->retry_engaged(now_));
  EXPECT_EQ(s.ep->half_open_count(), 4u);

  Host& c = client_host(addr(3000, 50000));
  Connection* cc = connect(c);
  ASSERT_NE(cc, nullptr);
  auto legit = [&] {
    for (std::size_t i = 0; i < s.ep->connection_count(); ++i)
      if (s.ep->connection(i)->handshake_confirmed()) return true;
    return false;
  };
  run(now_ + 2 * kSecond, legit);
  ASSERT_TRUE(legit()) << "needs Connection::on_retry and Retry routing in connection_io";
  EXPECT_TRUE(cc->handshake_complete());
  EXPECT_LE(s.ep->connection_count(), 8u);
  EXPECT_EQ(s.responses[Response::kRetry], 1);
  EXPECT_EQ(s.ep->counters().retry_tokens_accepted, 1u);
  // The spoofed connections time out (handshake_timeout) and are collected.
  run_for(11 * kSecond);
  s.ep->collect(now_);
  EXPECT_EQ(s.ep->connection_count(), 1u);
  EXPECT_EQ(s.ep->half_open_count(), 0u);
  // The client's DCID (the Retry SCID), ours, and those issued since.
  EXPECT_GE(s.ep->route_count(), 2u);
  EXPECT_LE(s.ep->route_count(), 2u + 4u);
  EXPECT_FALSE(s.ep->retry_engaged(now_));
}

// Automatic Retry also engages on the handshake rate: N new connections
// within a second, and disengages a second later.
TEST_F(EndpointTest, AutomaticRetryOnHandshakeRate) {
  EndpointConfig ec = server_config();
  ec.retry_policy = RetryPolicy::kAutomatic;
  ec.retry_half_open_threshold = 1000;
  ec.retry_rate_threshold = 3;
  Host& s = server(std::move(ec));
  auto initial = [&](std::uint32_t i) {
    return inject(craft_initial(rng_.bytes(8), rng_.bytes(8)), addr(4000 + i, 50000));
  };
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(initial(i).kind, Kind::kNewConnection);
    now_ += 100 * kMillisecond;
  }
  EXPECT_EQ(initial(3).response, Response::kRetry);
  now_ += 750 * kMillisecond;  // 1.05 s after the first
  EXPECT_EQ(initial(4).kind, Kind::kNewConnection);
  EXPECT_EQ(initial(5).response, Response::kRetry);  // 3 within the last second again
  EXPECT_EQ(s.ep->connection_count(), 4u);
}

// ------------------------------------------------------------ Stateless Reset

// RFC 9000 §10.3: an unknown short-header CID gets a reset smaller than
// the trigger, ending in the CID's token; small triggers get none; the
// limiter bounds them (§10.3.3).
TEST_F(EndpointTest, StatelessResetForUnknownCid) {
  EndpointConfig ec = server_config();
  ec.resets_per_second = 1;
  ec.reset_burst = 3;
  Host& s = server(std::move(ec));
  const PeerAddress from = addr(5000, 50000);
  const Bytes dcid = rng_.bytes(8);
  StatelessResetToken token;
  ASSERT_TRUE(resets_.token_for(span(dcid), &token));

  EndpointDecision d = inject(craft_short(dcid, 21), from);
  EXPECT_EQ(d.drop, EndpointDrop::kTooSmallForReset);
  d = inject(craft_short(dcid, 30), from);
  ASSERT_EQ(d.kind, Kind::kRespond);
  EXPECT_EQ(d.response, Response::kStatelessReset);
  EXPECT_EQ(d.response_length, 29u);
  Bytes reset = response(d);
  EXPECT_TRUE(is_stateless_reset(span(reset), std::span<const StatelessResetToken>(&token, 1)));
  EXPECT_EQ(reset[0] & 0xc0, 0x40);  // reads as a short header

  d = inject(craft_short(dcid, 1200), from);
  ASSERT_EQ(d.kind, Kind::kRespond);
  EXPECT_GE(d.response_length, 41u);  // §10.3.3: hard to tell from a packet
  EXPECT_LT(d.response_length, 1200u);
  reset = response(d);
  EXPECT_TRUE(std::equal(token.begin(), token.end(), reset.end() - 16));

  d = inject(craft_short(dcid, 100), from);
  EXPECT_EQ(d.response, Response::kStatelessReset);
  d = inject(craft_short(dcid, 100), from);
  EXPECT_EQ(d.drop, EndpointDrop::kResetRateLimited);
  now_ += kSecond;
  EXPECT_EQ(inject(craft_short(dcid, 100), from).response, Response::kStatelessReset);
  EXPECT_EQ(s.ep->counters().stateless_reset_sent, 4u);
  EXPECT_EQ(s.ep->counters().drops(EndpointDrop::kResetRateLimited), 1u);
  // A long header for no connection gets nothing (§5.2.2, §10.3).
  d = inject(craft_long(PacketType::kHandshake, dcid, rng_.bytes(8), {}, 200), from);
  EXPECT_EQ(d.drop, EndpointDrop::kUnknownConnection);
  EXPECT_EQ(s.ep->connection_count(), 0u);
}

// A DCID of another worker's shape is handed over rather than reset.
TEST_F(EndpointTest, OtherWorkersCidsAreForwarded) {
  EndpointConfig ec = server_config();
  auto two = random_generator(8, 2);
  ec.cid_generator = two.get();
  ec.worker = 0;
  Host& s = server(std::move(ec));
  Bytes dcid = rng_.bytes(8);
  dcid[0] = 1;  // RandomCidGenerator: the worker id in the first byte
  EndpointDecision d = inject(craft_short(dcid, 100), addr(5100, 50000));
  ASSERT_EQ(d.kind, Kind::kForward);
  EXPECT_EQ(d.worker, 1);
  dcid[0] = 0;
  d = inject(craft_short(dcid, 100), addr(5100, 50000));
  EXPECT_EQ(d.response, Response::kStatelessReset);
  EXPECT_EQ(s.ep->counters().forwarded, 1u);
  s.ep.reset();  // before `two`
}

// A server that lost its state resets the client (same reset key, new
// endpoint); the client endpoint recognises the reset by the token the
// server gave in its transport parameters (§10.3.1).
TEST_F(EndpointTest, ClientRecognisesResetAfterServerRestart) {
  Host& s = server();
  Host& c = client_host(addr(5200, 50000));
  Connection* cc = connect(c);
  ASSERT_NE(cc, nullptr);
  ASSERT_TRUE(run_until_confirmed());
  ASSERT_TRUE(cc->peer_transport().stateless_reset_token.has_value());
  s.ep.reset();  // the restart: state lost, same reset key
  s.ep = std::make_unique<Endpoint>(server_config());
  server_ = &s;
  const std::optional<std::uint64_t> id = cc->open_stream(true);
  ASSERT_TRUE(id.has_value());
  const Bytes data(200, 1);
  ASSERT_GT(cc->write(*id, span(data), false), 0);
  run_for(10 * kMillisecond);
  EXPECT_GE(s.responses[Response::kStatelessReset], 1);
  EXPECT_GE(c.decisions[Kind::kPeerReset], 1);
  EXPECT_GE(c.ep->counters().stateless_reset_received, 1u);
  // §10.3.1: the client drains, silently, and then closes.
  EXPECT_TRUE(cc->state() == ConnectionState::kDraining || cc->is_closed());
  ASSERT_TRUE(cc->close_info().has_value());
  EXPECT_EQ(cc->close_info()->reason, "stateless reset");
}

// ------------------------------------------------------------ 0-RTT buffer

// RFC 9000 §5.2.2: 0-RTT before its Initial is buffered (bounded per DCID
// and in total) and handed to the connection the Initial creates.
TEST_F(EndpointTest, ZeroRttBufferedUntilInitial) {
  EndpointConfig ec = server_config();
  ec.zero_rtt_slots = 6;
  ec.zero_rtt_per_dcid = 4;
  Host& s = server(std::move(ec));
  const PeerAddress from = addr(6000, 50000);
  const Bytes dcid = rng_.bytes(8), scid = rng_.bytes(8);
  std::vector<Bytes> zero;
  for (int i = 0; i < 5; ++i)
    zero.push_back(craft_long(PacketType::kZeroRtt, dcid, scid, {}, 100 + i));
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(inject(zero[i], from).kind, Kind::kBuffered);
  EXPECT_EQ(inject(zero[4], from).drop, EndpointDrop::kZeroRttNotBuffered);  // per DCID
  const Bytes other = rng_.bytes(8);
  EXPECT_EQ(inject(craft_long(PacketType::kZeroRtt, other, scid, {}, 90), from).kind,
            Kind::kBuffered);
  EXPECT_EQ(inject(craft_long(PacketType::kZeroRtt, other, scid, {}, 90), from).kind,
            Kind::kBuffered);
  EXPECT_EQ(inject(craft_long(PacketType::kZeroRtt, rng_.bytes(8), scid, {}, 90), from).drop,
            EndpointDrop::kZeroRttNotBuffered);  // all slots taken
  EXPECT_EQ(s.ep->buffered_count(), 6u);

  const EndpointDecision d = inject(craft_initial(dcid, scid), from);
  ASSERT_EQ(d.kind, Kind::kNewConnection);
  BufferedDatagram b;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(s.ep->take_buffered(*d.connection, &b));
    EXPECT_EQ(bytes_of(b.data), zero[i]) << "in arrival order";
    EXPECT_EQ(b.from, from);
  }
  EXPECT_FALSE(s.ep->take_buffered(*d.connection, &b));
  EXPECT_EQ(s.ep->buffered_count(), 2u);
  // Later 0-RTT for it routes directly.
  EXPECT_EQ(inject(zero[4], from).kind, Kind::kDeliver);
  // The others expire.
  now_ += 100 * kMillisecond;
  s.ep->collect(now_);
  EXPECT_EQ(s.ep->buffered_count(), 0u);
  EXPECT_EQ(s.ep->counters().zero_rtt_expired, 2u);
  EXPECT_EQ(s.ep->counters().zero_rtt_delivered, 4u);
}

// ------------------------------------------------------------ lifetime

// Closed connections are destroyed by collect(), with their routes, on
// both endpoints; mbufs return to the pool (TearDown).
TEST_F(EndpointTest, ClosedConnectionsAreCollected) {
  Host& s = server();
  Host& c = client_host(addr(7000, 50000));
  std::vector<Connection*> clients;
  for (int i = 0; i < 3; ++i)
    clients.push_back(connect(c));
  ASSERT_TRUE(run_until_confirmed());
  ASSERT_EQ(s.ep->connection_count(), 3u);
  EXPECT_GT(s.ep->route_count(), 3u);
  clients[1]->close(0, "bye", now_);
  run_for(2 * kSecond);
  s.ep->collect(now_);
  c.ep->collect(now_);
  EXPECT_EQ(s.ep->connection_count(), 2u);
  EXPECT_EQ(c.ep->connection_count(), 2u);
  EXPECT_EQ(s.ep->counters().connections_collected, 1u);
  for (Connection* cc : {clients[0], clients[2]})
    cc->close(0, "bye", now_);
  run_for(2 * kSecond);
  s.ep->collect(now_);
  c.ep->collect(now_);
  EXPECT_EQ(s.ep->connection_count(), 0u);
  EXPECT_EQ(c.ep->connection_count(), 0u);
  EXPECT_EQ(s.ep->route_count(), 0u);
  EXPECT_EQ(c.ep->route_count(), 0u);
  EXPECT_EQ(s.ep->half_open_count(), 0u);
  EXPECT_EQ(server_app_.closed, 3);
}

// connect() takes the client's handshake CID from the generator, whatever
// its length, so that it names this endpoint's worker (the server's replies
// steer back here); an endpoint without a generator is unusable.
TEST_F(EndpointTest, ConfigurationChecks) {
  EndpointConfig ec;
  ec.connection = base_config(EndpointRole::kClient, nullptr);
  auto twelve = random_generator(12, 4);
  ec.cid_generator = twelve.get();
  ec.worker = 3;
  ec.accept_connections = false;
  Endpoint e(ec);
  ASSERT_TRUE(e.ok());
  Connection* c = e.connect(base_config(EndpointRole::kClient, nullptr), kServer, 0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->local_cid().length, 12u);
  EXPECT_EQ(twelve->worker_of(c->local_cid().span()), std::optional<std::uint16_t>(3));
  EXPECT_EQ(e.connection_count(), 1u);
  EXPECT_EQ(e.route_count(), 1u);

  EndpointConfig bad;
  bad.connection = base_config(EndpointRole::kServer, nullptr);
  Endpoint none(bad);
  EXPECT_FALSE(none.ok());
  std::array<std::uint8_t, 64> r{};
  const Bytes init = craft_initial(rng_.bytes(8), rng_.bytes(8));
  EXPECT_EQ(none.on_datagram(span(init), addr(1, 50000), 0, r).drop, EndpointDrop::kSetupFailed);
  bad.cid_generator = twelve.get();
  bad.versions = {0x51303530};
  EXPECT_FALSE(Endpoint(bad).ok());
}

}  // namespace
}  // namespace dquic
