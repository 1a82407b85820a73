// The poll loop (runtime/worker.h) end to end inside one process: client and
// server Workers on two ring ports whose rings are cross-connected
// (rte_eth_from_rings: what one port transmits on queue q the other receives
// on queue q; `--vdev net_ring` devargs only make ports that loop back to
// themselves or share one ring set in the same direction). The test thread
// drives every worker's poll_once() in turn, bounded by iterations and time.
#include "runtime/worker.h"

#include <gtest/gtest.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "drivers/eth_port.h"
#include "offload/aead_evp.h"
#include "offload/hp_inline.h"
#include "offload/test_backends.h"
#include "quic/cid_generator.h"
#include "quic/stateless_reset.h"
#include "tests/support/ring_port_pair.h"
#include "tests/support/test_certs.h"

namespace dquic {
namespace {

constexpr char kAlpn[] = "wt";
constexpr std::uint16_t kServerPort = 4433;
constexpr std::uint16_t kClientPort = 50000;
constexpr MacAddress kServerMac = {0x02, 0, 0, 0, 0, 0x01};
constexpr MacAddress kClientMac = {0x02, 0, 0, 0, 0, 0x02};

IpAddress ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  ip.family = IpFamily::kIpv4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}
const IpAddress kServerIp = ipv4(10, 0, 0, 1);
const IpAddress kClientIp = ipv4(10, 0, 0, 2);

PeerAddress peer(const IpAddress& ip, std::uint16_t port) {
  return PeerAddress::ipv4({ip.bytes[0], ip.bytes[1], ip.bytes[2], ip.bytes[3]}, port);
}

rte_mempool* test_pool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create(
      "worker_test", 16383, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, static_cast<int>(rte_socket_id()));
  return pool;
}

std::uint8_t pattern(std::size_t stream, std::uint64_t offset) {
  return static_cast<std::uint8_t>(offset * 7 + stream * 13 + (offset >> 9));
}

// ------------------------------------------------------------ ports

using test::RingPortPair;

// ------------------------------------------------------------ applications

const test::TestTlsPair& tls() {
  static const auto* t = new test::TestTlsPair(kAlpn);
  return *t;
}

// Writes every stream back, then FIN.
class EchoHandler final : public ConnectionHandler {
 public:
  explicit EchoHandler(std::uint16_t worker) : worker_(worker) {}
  void attach(Connection* c) { c_ = c; }
  void on_stream_readable(std::uint64_t id) override {
    Stream& s = streams_[id];
    std::array<std::uint8_t, 16384> buf;
    for (;;) {
      bool fin = false;
      const std::int64_t n = c_->read(id, buf, &fin);
      if (n > 0) s.pending.insert(s.pending.end(), buf.begin(), buf.begin() + n);
      if (fin) s.fin_read = true;
      if (n <= 0 || fin) break;
    }
    pump(id, s);
  }
  void on_stream_writable(std::uint64_t id) override {
    auto it = streams_.find(id);
    if (it != streams_.end()) pump(id, it->second);
  }
  std::uint16_t worker() const { return worker_; }
  Connection* connection() const { return c_; }

 private:
  struct Stream {
    std::vector<std::uint8_t> pending;
    std::size_t sent = 0;
    bool fin_read = false;
    bool fin_sent = false;
  };
  void pump(std::uint64_t id, Stream& s) {
    while (s.sent < s.pending.size()) {
      const std::int64_t w =
          c_->write(id, ByteSpan(s.pending.data() + s.sent, s.pending.size() - s.sent), false);
      if (w <= 0) break;
      s.sent += static_cast<std::size_t>(w);
    }
    if (s.fin_read && !s.fin_sent && s.sent == s.pending.size() && c_->write(id, {}, true) >= 0)
      s.fin_sent = true;
  }
  std::uint16_t worker_;
  Connection* c_ = nullptr;
  std::map<std::uint64_t, Stream> streams_;
};

class EchoServerApp final : public WorkerApp {
 public:
  bool on_incoming(Worker& w, const IncomingConnection&, ConnectionConfig& c) override {
    handlers.push_back(std::make_unique<EchoHandler>(w.id()));
    c.handler = handlers.back().get();
    return true;
  }
  void on_accepted(Worker&, Connection& c) override { handlers.back()->attach(&c); }
  void on_closed(Worker&, Connection&) override { ++closed; }
  std::vector<std::unique_ptr<EchoHandler>> handlers;
  int closed = 0;
};

// Sends `streams` x `bytes` of the pattern and checks the echo byte by byte.
class ClientHandler final : public ConnectionHandler {
 public:
  ClientHandler(std::size_t streams, std::size_t bytes) : bytes_(bytes), streams_(streams) {}
  void attach(Connection* c) { c_ = c; }
  void on_handshake_complete() override {
    for (Stream& s : streams_) {
      const std::optional<std::uint64_t> id = c_->open_stream(true);
      if (!id) continue;
      s.id = *id;
      s.open = true;
      pump(s);
    }
  }
  void on_stream_writable(std::uint64_t id) override {
    if (Stream* s = find(id)) pump(*s);
  }
  void on_stream_readable(std::uint64_t id) override {
    Stream* s = find(id);
    if (s == nullptr) return;
    std::array<std::uint8_t, 16384> buf;
    for (;;) {
      bool fin = false;
      const std::int64_t n = c_->read(id, buf, &fin);
      for (std::int64_t i = 0; i < n; ++i) {
        if (buf[static_cast<std::size_t>(i)] != pattern(index(*s), s->received)) ++mismatches;
        ++s->received;
      }
      if (fin) {
        s->fin_read = true;
        if (s->received == bytes_) ++complete;
      }
      if (n <= 0 || fin) break;
    }
  }
  bool done() const { return complete == streams_.size(); }
  std::size_t complete = 0;
  std::uint64_t mismatches = 0;

 private:
  struct Stream {
    std::uint64_t id = 0;
    bool open = false;
    std::size_t sent = 0;
    bool fin_sent = false;
    std::uint64_t received = 0;
    bool fin_read = false;
  };
  std::size_t index(const Stream& s) const {
    return static_cast<std::size_t>(&s - streams_.data());
  }
  Stream* find(std::uint64_t id) {
    for (Stream& s : streams_)
      if (s.open && s.id == id) return &s;
    return nullptr;
  }
  void pump(Stream& s) {
    std::array<std::uint8_t, 16384> buf;
    while (s.sent < bytes_) {
      const std::size_t n = std::min(buf.size(), bytes_ - s.sent);
      for (std::size_t i = 0; i < n; ++i)
        buf[i] = pattern(index(s), s.sent + i);
      const std::int64_t w = c_->write(s.id, ByteSpan(buf.data(), n), false);
      if (w <= 0) return;
      s.sent += static_cast<std::size_t>(w);
    }
    if (!s.fin_sent && c_->write(s.id, {}, true) >= 0) s.fin_sent = true;
  }

  std::size_t bytes_;
  std::vector<Stream> streams_;
  Connection* c_ = nullptr;
};

// ------------------------------------------------------------ fixture

// A backend pairing of offload/test_backends.h by name, or no crypto.
using Crypto = std::string;
const Crypto kInlineCrypto = "inline";
const Crypto kNoCrypto = "none";

struct Side {
  std::unique_ptr<offload::AeadEngine> aead;
  std::unique_ptr<offload::HpEngine> hp;
  std::unique_ptr<offload::Protector> protector;
  std::unique_ptr<offload::TestBackends> backends;  // a device pairing
  std::unique_ptr<Worker> worker;
};

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(test_pool(), nullptr);
    baseline_ = rte_mempool_in_use_count(test_pool());
    std::array<std::uint8_t, 32> key{};
    random(key);
    resets_ = std::make_unique<StatelessResetTokenGenerator>(ByteSpan(key.data(), key.size()));
    // From the seeded generator, not make_steering_key's CSPRNG: which
    // worker an Initial hashes to must repeat from run to run (a random key
    // put all 12 connections of TwoWorkersPerPort... on one worker once).
    steering_key_ = SteeringKey{rng_(), rng_()};
  }
  void TearDown() override {
    sides_.clear();  // workers (and their connections) before the protectors
    ports_.clear();
    EXPECT_EQ(rte_mempool_in_use_count(test_pool()), baseline_) << "mbufs leaked";
  }

  void random(std::span<std::uint8_t> out) {
    for (auto& b : out)
      b = static_cast<std::uint8_t>(rng_());
  }
  CidRandomSource random_source() {
    return [this](std::span<std::uint8_t> out) { random(out); };
  }

  RingPortPair& ports(const std::string& tag, std::uint16_t queues) {
    ports_.push_back(std::make_unique<RingPortPair>(tag, queues, test_pool()));
    return *ports_.back();
  }

  std::unique_ptr<ConnectionIdGenerator> generator(std::uint16_t workers) {
    RandomCidGeneratorSettings s;
    s.cid_length = 8;
    s.worker_count = workers;
    return RandomCidGenerator::create(s, random_source());
  }

  ConnectionConfig connection_config(EndpointRole role) {
    ConnectionConfig c;
    c.role = role;
    c.tls_client = &tls().client;
    c.tls_server = &tls().server;
    c.wall_clock_ms_at_zero = test::kTestNow * 1000;
    c.max_datagram_size = 1350;
    c.random = random_source();
    TransportParameters& tp = c.transport;
    tp.max_idle_timeout = idle_timeout_ms_;
    tp.initial_max_data = 4 << 20;
    tp.initial_max_stream_data_bidi_local = 1 << 20;
    tp.initial_max_stream_data_bidi_remote = 1 << 20;
    tp.initial_max_stream_data_uni = 1 << 20;
    tp.initial_max_streams_bidi = 16;
    tp.initial_max_streams_uni = 4;
    return c;
  }

  // One worker; `server` listens on kServerPort, a client endpoint accepts
  // no connections.
  Worker* add_worker(bool server, const Crypto& crypto, std::uint16_t port, std::uint16_t queue,
                     std::uint16_t id, std::uint16_t count, ConnectionIdGenerator* gen,
                     RedirectRings* rings, WorkerApp* app,
                     std::optional<ImpairmentConfig> impairment = std::nullopt) {
    sides_.push_back(std::make_unique<Side>());
    Side& s = *sides_.back();
    if (crypto == kInlineCrypto) {
      s.aead = offload::make_evp_aead_engine();
      s.hp = offload::make_inline_hp_engine();
      s.protector =
          std::make_unique<offload::Protector>(s.aead.get(), s.hp.get(), s.aead.get(), s.hp.get());
    } else if (crypto != kNoCrypto) {
      s.backends = offload::make_test_backends(crypto);
      EXPECT_NE(s.backends, nullptr) << crypto;
      // Gather on every backend, not only where it is the default (inline),
      // so that the device engines' gather paths run end to end too.
      if (s.backends) s.backends->protector().set_gather_preferred(true);
    }
    WorkerConfig wc;
    wc.port_id = port;
    wc.rx_queue = queue;
    wc.tx_queue = queue;
    wc.worker = id;
    wc.worker_count = count;
    wc.pool = test_pool();
    wc.mac = server ? kServerMac : kClientMac;
    EXPECT_TRUE(wc.route.add_address(server ? kServerIp : kClientIp, 24));
    if (server) wc.udp_ports = {kServerPort};
    wc.endpoint.connection =
        connection_config(server ? EndpointRole::kServer : EndpointRole::kClient);
    wc.endpoint.cid_generator = gen;
    wc.endpoint.reset_tokens = resets_.get();
    wc.endpoint.retry_policy = RetryPolicy::kNever;
    wc.endpoint.accept_connections = server;
    wc.protector = s.backends ? &s.backends->protector() : s.protector.get();
    wc.redirect = rings;
    wc.steering_key = steering_key_;
    wc.app = app;
    wc.impairment = impairment;
    s.worker = std::make_unique<Worker>(std::move(wc));
    std::string why;
    EXPECT_TRUE(s.worker->init(&why)) << why;
    return s.worker.get();
  }

  Connection* connect(Worker& client, ClientHandler& handler) {
    ConnectionConfig c = connection_config(EndpointRole::kClient);
    c.handler = &handler;
    Connection* conn =
        client.connect(c, NetworkPath{peer(kClientIp, kClientPort), peer(kServerIp, kServerPort)});
    if (conn != nullptr) handler.attach(conn);
    return conn;
  }

  // Polls every worker in turn until `done`, at most `max_iterations`
  // rounds or `limit` of wall time. Returns the rounds run.
  template <class Done>
  std::size_t drive(const std::vector<Worker*>& workers, Done done,
                    std::size_t max_iterations = 2'000'000,
                    std::chrono::seconds limit = std::chrono::seconds(30)) {
    const auto start = std::chrono::steady_clock::now();
    std::size_t i = 0;
    for (; i < max_iterations && !done(); ++i) {
      for (Worker* w : workers)
        w->poll_once();
      if ((i & 1023) == 0 && std::chrono::steady_clock::now() - start > limit) break;
    }
    return i;
  }

  std::uint64_t idle_timeout_ms_ = 30000;
  std::mt19937_64 rng_{20240601};
  std::unique_ptr<StatelessResetTokenGenerator> resets_;
  SteeringKey steering_key_;
  std::vector<std::unique_ptr<RingPortPair>> ports_;
  std::vector<std::unique_ptr<Side>> sides_;
  unsigned baseline_ = 0;
};

std::uint64_t total_udp_drops(const WorkerCounters& c) {
  std::uint64_t n = 0;
  for (std::uint64_t v : c.udp_drops)
    n += v;
  return n;
}

// ------------------------------------------------------------ 1: transfer

// Impairment on what each worker receives (runtime/impairment.h): loss,
// duplicates, reordering, delay with jitter and, with packet protection only,
// corruption (without an AEAD nothing could notice the damage: RFC 9001 §5.3
// is what rejects it). Different seeds per direction; fixed, so a failure
// reproduces with the same packet sequence.
ImpairmentConfig transfer_impairment(const Crypto& crypto, std::uint64_t seed) {
  ImpairmentConfig c;
  c.drop_ppm = 30'000;       // 3%
  c.duplicate_ppm = 20'000;  // 2%
  c.reorder_ppm = 20'000;    // 2%
  c.reorder_gap = 3;
  c.reorder_delay = 2 * kMillisecond;
  c.delay = 100 * kMicrosecond;
  c.jitter = 200 * kMicrosecond;
  c.corrupt_ppm = crypto != kNoCrypto ? 5'000 : 0;  // 0.5%
  c.seed = seed;
  return c;
}

// Every AEAD/HP pairing this machine has (inline and, per software crypto
// PMD, CPU crypto, async, async with device header protection), and none.
std::vector<Crypto> transfer_backends() {
  std::vector<Crypto> v = offload::test_backend_names();
  v.push_back(kNoCrypto);
  return v;
}

// The crypto devices outlive every test; closed before the EAL goes away.
class CloseDevices : public ::testing::Environment {
 public:
  void TearDown() override { offload::close_test_devices(); }
};
const auto* const kCloseDevices = ::testing::AddGlobalTestEnvironment(new CloseDevices);

// (crypto backend, impaired)
class WorkerTransferTest : public WorkerTest,
                           public ::testing::WithParamInterface<std::tuple<Crypto, bool>> {
 protected:
  const Crypto& crypto() const { return std::get<0>(GetParam()); }
  bool impaired() const { return std::get<1>(GetParam()); }
  std::optional<ImpairmentConfig> impairment(std::uint64_t seed) const {
    if (!impaired()) return std::nullopt;
    return transfer_impairment(crypto(), seed);
  }
};

TEST_P(WorkerTransferTest, HandshakeAndEchoOverRingPorts) {
  // A lost CONNECTION_CLOSE is recovered by the idle timeout (RFC 9000
  // §10.1, §10.2): keep it well inside the close phase's bound.
  if (impaired()) idle_timeout_ms_ = 3000;
  RingPortPair& p = ports("t", 1);
  ASSERT_TRUE(p.ok()) << p.error();
  auto client_gen = generator(1);
  auto server_gen = generator(1);
  EchoServerApp server_app;
  Worker* server = add_worker(true, crypto(), p.b(), 0, 0, 1, server_gen.get(), nullptr,
                              &server_app, impairment(11));
  Worker* client = add_worker(false, crypto(), p.a(), 0, 0, 1, client_gen.get(), nullptr, nullptr,
                              impairment(7));
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(client->impairment() != nullptr, impaired());
  EXPECT_EQ(server->impairment() != nullptr, impaired());

  constexpr std::size_t kStreams = 3;
  constexpr std::size_t kBytes = 200 * 1024;
  ClientHandler handler(kStreams, kBytes);
  Connection* conn = connect(*client, handler);
  ASSERT_NE(conn, nullptr);

  // Impaired, progress waits on delays and loss timers, i.e. wall time: the
  // 30 s bound decides, not the rounds (2M idle rounds ran out once on a
  // loaded machine with the slowest backend).
  const std::size_t rounds = drive(
      {client, server}, [&] { return handler.done(); }, 200'000'000);
  ASSERT_TRUE(handler.done()) << "after " << rounds << " rounds: " << handler.complete
                              << " streams complete, client state "
                              << static_cast<int>(conn->state());
  EXPECT_EQ(handler.mismatches, 0u);
  ASSERT_EQ(server_app.handlers.size(), 1u);

  const WorkerCounters& cc = client->counters();
  const WorkerCounters& sc = server->counters();
  EXPECT_EQ(cc.handshakes_completed, 1u);
  EXPECT_EQ(sc.handshakes_completed, 1u);
  EXPECT_EQ(cc.connections_opened, 1u);
  EXPECT_EQ(sc.connections_opened, 1u);
  EXPECT_GT(sc.rx_bytes, kStreams * kBytes);
  EXPECT_GT(cc.rx_bytes, kStreams * kBytes);
  // rx counts what the NIC handed over, before any impairment: nothing is
  // lost on the rings. (Impaired, the server may still have ACKs or
  // retransmissions in flight when the client is done.)
  if (!impaired()) {
    EXPECT_EQ(cc.tx_packets, sc.rx_packets);
    EXPECT_EQ(sc.tx_packets, cc.rx_packets);
  } else {
    EXPECT_LE(sc.rx_packets, cc.tx_packets);
    EXPECT_LE(cc.rx_packets, sc.tx_packets);
  }
  // Cycle accounting: every poll is busy or idle; a busy one moved a frame
  // (a held frame released by the impairment stage may make a second one).
  for (const Worker* w : {client, server}) {
    const WorkerLoopCounters& lc = w->loop_counters();
    const WorkerCounters& wc = w->counters();
    EXPECT_GE(lc.polls_busy + lc.polls_idle, rounds);
    EXPECT_GT(lc.polls_busy, 0u);
    EXPECT_LE(lc.polls_busy, wc.rx_packets * (impaired() ? 2 : 1) + wc.tx_packets);
    EXPECT_GT(lc.cycles_receive, 0u);
    EXPECT_GT(lc.cycles_send, 0u);
    EXPECT_EQ(busy_cycles(lc),
              lc.cycles_receive + lc.cycles_timers + lc.cycles_app + lc.cycles_send);
  }
  // Corruption keeps the UDP checksum right: the damage reaches QUIC.
  EXPECT_EQ(total_udp_drops(cc) + total_udp_drops(sc), 0u);
  if (!impaired()) {
    EXPECT_EQ(cc.total_drops() + sc.total_drops(), 0u);
  }
  const std::uint64_t corrupted = cc.impair_corrupted + sc.impair_corrupted;
  // Zero-copy send: with a sealer, most stream bytes were sealed from the
  // stream's own mbufs rather than copied into the packets first.
  if (crypto() != kNoCrypto) {
    EXPECT_GT(conn->stats().stream_bytes_gathered, kStreams * kBytes / 2);
  } else {
    EXPECT_EQ(conn->stats().stream_bytes_gathered, 0u);
  }
  if (crypto() != kNoCrypto) {
    EXPECT_GT(cc.crypto_completed, 0u);
    EXPECT_GT(sc.crypto_completed, 0u);
    if (!impaired()) {
      EXPECT_EQ(cc.crypto_failed + sc.crypto_failed, 0u);
    }
  } else {
    EXPECT_EQ(cc.crypto_completed + sc.crypto_completed, 0u);
  }
  if (impaired()) {
    // The stage really acted, in both directions, and said so.
    for (const WorkerCounters* c : {&cc, &sc}) {
      SCOPED_TRACE(c == &cc ? "client" : "server");
      EXPECT_GT(c->impair_dropped, 0u);
      EXPECT_GT(c->impair_duplicated, 0u);
      EXPECT_GT(c->impair_reordered, 0u);
      EXPECT_GT(c->impair_delayed, 0u);
      EXPECT_EQ(c->impair_copy_failures, 0u);
      EXPECT_EQ(c->impair_queue_full, 0u);
    }
    for (const Worker* w : {client, server}) {
      const ImpairmentCounters& ic = w->impairment()->counters();
      EXPECT_EQ(ic.received, w->counters().rx_packets);
      EXPECT_EQ(ic.dropped, w->counters().impair_dropped);
    }
    if (crypto() != kNoCrypto) {
      // Each damaged datagram fails to open (RFC 9001 §5.3: the AEAD, or
      // header protection giving a wrong packet number) or is dropped by
      // the endpoint (a damaged DCID names no connection).
      EXPECT_GT(corrupted, 0u);
      EXPECT_GT(cc.crypto_failed + sc.crypto_failed + cc.total_drops() + sc.total_drops(), 0u);
    } else {
      EXPECT_EQ(corrupted, 0u);
    }
  } else {
    // The client resolved the server's MAC with one ARP request, parking its
    // first Initial meanwhile; the server learned the client's MAC from that
    // request (unconfirmed: RFC 4861 §7.3.3 has it probe once, unicast) and
    // never had to park anything. (Loss may cost another request.)
    EXPECT_EQ(client->loop_counters().solicitations_sent, 1u);
    EXPECT_EQ(client->loop_counters().held, 1u);
    EXPECT_EQ(client->loop_counters().released, 1u);
    EXPECT_LE(server->loop_counters().solicitations_sent, 1u);
    EXPECT_EQ(server->loop_counters().held, 0u);
    for (const WorkerCounters* c : {&cc, &sc})
      for (const WorkerCounterField& f : worker_counter_fields())
        if (std::string_view(f.group).starts_with("impair")) {
          EXPECT_EQ(c->*f.member, 0u) << f.key;
        }
  }
  EXPECT_GE(server->control().counters().arp_replies_sent, 1u);

  // Close: both ends reach kClosed and are collected.
  conn->close(0, "done", client->now());
  client->wake(*conn);
  drive(
      {client, server},
      [&] {
        return client->counters().connections_closed == 1 &&
               server->counters().connections_closed == 1;
      },
      200'000'000, std::chrono::seconds(20));
  EXPECT_EQ(client->counters().connections_closed, 1u);
  EXPECT_EQ(server->counters().connections_closed, 1u);
  EXPECT_EQ(server_app.closed, 1);
  EXPECT_EQ(client->endpoint().connection_count(), 0u);
  EXPECT_EQ(server->endpoint().connection_count(), 0u);
  EXPECT_EQ(client->timers_scheduled() + server->timers_scheduled(), 0u);
  std::printf(
      "[ info ] %s crypto%s: %zu rounds, client tx %llu rx %llu packets, server tx %llu rx %llu; "
      "impaired dropped %llu duplicated %llu reordered %llu delayed %llu corrupted %llu; "
      "crypto failed %llu, drops %llu\n",
      crypto().c_str(), impaired() ? ", impaired" : "", rounds,
      static_cast<unsigned long long>(cc.tx_packets),
      static_cast<unsigned long long>(cc.rx_packets),
      static_cast<unsigned long long>(sc.tx_packets),
      static_cast<unsigned long long>(sc.rx_packets),
      static_cast<unsigned long long>(cc.impair_dropped + sc.impair_dropped),
      static_cast<unsigned long long>(cc.impair_duplicated + sc.impair_duplicated),
      static_cast<unsigned long long>(cc.impair_reordered + sc.impair_reordered),
      static_cast<unsigned long long>(cc.impair_delayed + sc.impair_delayed),
      static_cast<unsigned long long>(corrupted),
      static_cast<unsigned long long>(cc.crypto_failed + sc.crypto_failed),
      static_cast<unsigned long long>(cc.total_drops() + sc.total_drops()));
}

INSTANTIATE_TEST_SUITE_P(Crypto, WorkerTransferTest,
                         ::testing::Combine(::testing::ValuesIn(transfer_backends()),
                                            ::testing::Bool()),
                         [](const auto& info) {
                           std::string name = std::get<0>(info.param);
                           if (std::get<1>(info.param)) name += "_impaired";
                           return name;
                         });

// Frames the stage still holds when the worker goes are freed with it (the
// fixture's TearDown checks the pool), and an unusable configuration is
// refused by init().
TEST_F(WorkerTest, ImpairmentHoldsFramesAndFreesThemWithTheWorker) {
  RingPortPair& p = ports("i", 1);
  ASSERT_TRUE(p.ok()) << p.error();
  auto client_gen = generator(1);
  auto server_gen = generator(1);
  EchoServerApp server_app;
  ImpairmentConfig slow;
  slow.delay = 3600 * kSecond;  // nothing the server receives is released
  slow.duplicate_ppm = ImpairmentConfig::kMillion;
  Worker* server =
      add_worker(true, kNoCrypto, p.b(), 0, 0, 1, server_gen.get(), nullptr, &server_app, slow);
  Worker* client = add_worker(false, kNoCrypto, p.a(), 0, 0, 1, client_gen.get(), nullptr, nullptr);
  ASSERT_FALSE(HasFailure());
  ClientHandler handler(1, 5000);
  ASSERT_NE(connect(*client, handler), nullptr);
  const unsigned before = rte_mempool_in_use_count(test_pool());
  for (int i = 0; i < 200; ++i) {
    client->poll_once();
    server->poll_once();
  }
  // The client's ARP requests (retried) arrive, each duplicated, and wait.
  const WorkerCounters& sc = server->counters();
  ASSERT_GT(sc.rx_packets, 0u);
  EXPECT_EQ(server->impairment()->held(), 2 * sc.rx_packets);
  EXPECT_EQ(sc.impair_delayed, 2 * sc.rx_packets);
  EXPECT_EQ(sc.impair_duplicated, sc.rx_packets);
  EXPECT_EQ(server->loop_counters().udp_datagrams, 0u);
  EXPECT_EQ(server->control().counters().arp_replies_sent, 0u);
  EXPECT_GE(rte_mempool_in_use_count(test_pool()), before + sc.rx_packets);
  EXPECT_FALSE(handler.done());
  sides_.clear();  // the held frames go back to the pool (checked in TearDown)

  ImpairmentConfig bad;
  bad.drop_ppm = ImpairmentConfig::kMillion + 1;
  WorkerConfig wc;
  wc.pool = test_pool();
  wc.port_id = p.a();
  EXPECT_TRUE(wc.route.add_address(kClientIp, 24));
  wc.endpoint.cid_generator = client_gen.get();
  wc.impairment = bad;
  Worker w(std::move(wc));
  std::string why;
  EXPECT_FALSE(w.init(&why));
  EXPECT_EQ(why, "invalid impairment configuration");
  EXPECT_EQ(w.impairment(), nullptr);
}

// --impair blackhole= alone (the Interop Runner's "blackhole" case, 2 s of
// every 5 s, scaled down): every frame either way is dropped for 80 ms of
// every 300 ms, counted from each worker's first frame. The server's windows
// start 40 ms after the client's, so that for 40 ms one end is dark and the
// other not: what the light end sends then (what its congestion window
// allows, its PTO probes: RFC 9002 §6.2) meets the dark end's receive side,
// and the dark end's own sending its send side. The transfer runs into the
// windows and completes byte-exact after (each probe that lands in a window
// doubles the next PTO: the windows are short enough for that to stay
// small).
TEST_F(WorkerTest, BlackholeBothWaysAndTheTransferCompletesAfter) {
  RingPortPair& p = ports("bh", 1);
  ASSERT_TRUE(p.ok()) << p.error();
  auto client_gen = generator(1);
  auto server_gen = generator(1);
  EchoServerApp server_app;
  ImpairmentConfig client_bh;
  std::string why;
  ASSERT_TRUE(parse_impairment("blackhole=80ms/300ms,blackhole_start=5ms", &client_bh, &why))
      << why;
  ImpairmentConfig server_bh = client_bh;
  server_bh.blackhole_start = 45 * kMillisecond;
  Worker* server = add_worker(true, kInlineCrypto, p.b(), 0, 0, 1, server_gen.get(), nullptr,
                              &server_app, server_bh);
  Worker* client = add_worker(false, kInlineCrypto, p.a(), 0, 0, 1, client_gen.get(), nullptr,
                              nullptr, client_bh);
  ASSERT_FALSE(HasFailure());
  // A blackhole alone makes a stage, shared by both directions.
  ASSERT_NE(client->impairment(), nullptr);
  ASSERT_NE(server->impairment(), nullptr);
  EXPECT_TRUE(client->blackhole().enabled());
  EXPECT_EQ(&client->impairment()->blackhole(), &client->blackhole());

  constexpr std::size_t kStreams = 2;
  constexpr std::size_t kBytes = 1 << 20;
  ClientHandler handler(kStreams, kBytes);
  Connection* conn = connect(*client, handler);
  ASSERT_NE(conn, nullptr);
  const std::size_t rounds = drive(
      {client, server}, [&] { return handler.done(); }, 1'000'000'000, std::chrono::seconds(60));
  ASSERT_TRUE(handler.done()) << "after " << rounds << " rounds: " << handler.complete
                              << " streams complete, client state "
                              << static_cast<int>(conn->state());
  EXPECT_EQ(handler.mismatches, 0u);

  const WorkerCounters& cc = client->counters();
  const WorkerCounters& sc = server->counters();
  // The transfer outlasted the first window's start (its frames anchored
  // the schedules), and both directions dropped frames.
  ASSERT_NE(client->blackhole().origin(), kNever);
  EXPECT_GT(client->now() - client->blackhole().origin(), 5 * kMillisecond);
  EXPECT_GT(cc.impair_blackholed_tx + sc.impair_blackholed_tx, 0u);
  EXPECT_GT(cc.impair_blackholed_rx + sc.impair_blackholed_rx, 0u);
  for (const Worker* w : {client, server}) {
    SCOPED_TRACE(w == client ? "client" : "server");
    const WorkerCounters& c = w->counters();
    // Nothing but the blackhole: no random drops, nothing held.
    EXPECT_EQ(c.impair_dropped + c.impair_queue_full + c.impair_duplicated + c.impair_corrupted +
                  c.impair_delayed + c.impair_reordered + c.impair_copy_failures,
              0u);
    EXPECT_EQ(w->impairment()->held(), 0u);
    const ImpairmentCounters& ic = w->impairment()->counters();
    EXPECT_EQ(ic.received, c.rx_packets);
    EXPECT_EQ(ic.blackholed, c.impair_blackholed_rx);
    EXPECT_EQ(ic.emitted + ic.blackholed, ic.received);
  }
  // A frame dropped on the way out never reached the ring: each end
  // received at most what the other put on the wire.
  EXPECT_LE(sc.rx_packets, cc.tx_packets);
  EXPECT_LE(cc.rx_packets, sc.tx_packets);
  std::printf(
      "[ info ] blackhole: %zu rounds, %.0f ms; blackholed client rx %llu tx %llu, server rx %llu "
      "tx %llu; client tx %llu rx %llu, server tx %llu rx %llu\n",
      rounds, static_cast<double>(client->now() - client->blackhole().origin()) / 1e6,
      static_cast<unsigned long long>(cc.impair_blackholed_rx),
      static_cast<unsigned long long>(cc.impair_blackholed_tx),
      static_cast<unsigned long long>(sc.impair_blackholed_rx),
      static_cast<unsigned long long>(sc.impair_blackholed_tx),
      static_cast<unsigned long long>(cc.tx_packets),
      static_cast<unsigned long long>(cc.rx_packets),
      static_cast<unsigned long long>(sc.tx_packets),
      static_cast<unsigned long long>(sc.rx_packets));
}

// ------------------------------------------------------------ 2: ARP, ICMP

// An ICMPv4 echo request from 10.0.0.9 (a host that is not a worker) to the
// server, as a frame on the wire.
rte_mbuf* icmp_echo_request(const MacAddress& src_mac, std::uint16_t id, std::uint16_t seq) {
  rte_mbuf* m = rte_pktmbuf_alloc(test_pool());
  if (m == nullptr) return nullptr;
  constexpr std::uint16_t kPayload = 32;
  auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, 14 + 20 + 8 + kPayload));
  std::memcpy(p, kServerMac.data(), 6);
  std::memcpy(p + 6, src_mac.data(), 6);
  store_be16(p + 12, kEtherTypeIpv4);
  std::uint8_t* ip = p + 14;
  std::memset(ip, 0, 20);
  ip[0] = 0x45;
  store_be16(ip + 2, 20 + 8 + kPayload);
  store_be16(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = 1;  // ICMP
  const IpAddress src = ipv4(10, 0, 0, 9);
  std::memcpy(ip + 12, src.bytes.data(), 4);
  std::memcpy(ip + 16, kServerIp.bytes.data(), 4);
  const std::uint16_t ip_sum = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip));
  std::memcpy(ip + 10, &ip_sum, 2);
  std::uint8_t* icmp = ip + 20;
  std::memset(icmp, 0, 8);
  icmp[0] = 8;  // echo request
  store_be16(icmp + 4, id);
  store_be16(icmp + 6, seq);
  for (std::uint16_t i = 0; i < kPayload; ++i)
    icmp[8 + i] = static_cast<std::uint8_t>(i);
  const std::uint16_t icmp_sum = static_cast<std::uint16_t>(~rte_raw_cksum(icmp, 8 + kPayload));
  std::memcpy(icmp + 2, &icmp_sum, 2);
  return m;
}

TEST_F(WorkerTest, ArpResolvesTheNextHopAndIcmpEchoIsAnswered) {
  RingPortPair& p = ports("a", 1);
  ASSERT_TRUE(p.ok()) << p.error();
  auto client_gen = generator(1);
  auto server_gen = generator(1);
  EchoServerApp server_app;
  Worker* server =
      add_worker(true, kNoCrypto, p.b(), 0, 0, 1, server_gen.get(), nullptr, &server_app);
  Worker* client = add_worker(false, kNoCrypto, p.a(), 0, 0, 1, client_gen.get(), nullptr, nullptr);
  ASSERT_FALSE(HasFailure());
  ClientHandler handler(1, 5000);
  ASSERT_NE(connect(*client, handler), nullptr);
  EXPECT_EQ(client->neighbors().find(kServerIp), nullptr);

  // The first Initial finds no MAC for 10.0.0.1: a broadcast ARP request
  // goes out and the Initial is parked.
  client->poll_once();
  EXPECT_EQ(client->loop_counters().solicitations_sent, 1u);
  EXPECT_EQ(client->loop_counters().held, 1u);
  EXPECT_EQ(client->loop_counters().released, 0u);
  ASSERT_NE(client->neighbors().find(kServerIp), nullptr);
  EXPECT_EQ(client->neighbors().find(kServerIp)->state, NeighborState::kIncomplete);
  EXPECT_EQ(rte_ring_count(p.to_b(0)), 1u);  // the request alone
  EXPECT_EQ(client->counters().tx_packets, 1u);

  // The server answers and learns the client's MAC from the request.
  server->poll_once();
  EXPECT_EQ(server->control().counters().arp_replies_sent, 1u);
  ASSERT_NE(server->neighbors().find(kClientIp), nullptr);
  EXPECT_EQ(server->neighbors().find(kClientIp)->mac, kClientMac);

  // The reply resolves the next hop and the parked Initial leaves.
  client->poll_once();
  ASSERT_NE(client->neighbors().find(kServerIp), nullptr);
  EXPECT_EQ(client->neighbors().find(kServerIp)->state, NeighborState::kReachable);
  EXPECT_EQ(client->neighbors().find(kServerIp)->mac, kServerMac);
  EXPECT_EQ(client->loop_counters().released, 1u);
  EXPECT_EQ(client->loop_counters().hold_dropped, 0u);

  drive({client, server}, [&] { return handler.done(); });
  ASSERT_TRUE(handler.done());
  EXPECT_EQ(client->loop_counters().solicitations_sent, 1u);  // resolved once for good

  // ICMP echo: injected on the server's RX ring, answered on its TX queue.
  const MacAddress pinger = {0x02, 0, 0, 0, 0, 0x09};
  rte_mbuf* req = icmp_echo_request(pinger, 0x1234, 7);
  ASSERT_NE(req, nullptr);
  ASSERT_EQ(rte_ring_enqueue(p.to_b(0), req), 0);
  server->poll_once();
  EXPECT_EQ(server->control().counters().icmp_echo_replies_sent, 1u);
  int replies = 0;
  void* obj = nullptr;
  while (rte_ring_dequeue(p.to_a(0), &obj) == 0) {
    auto* m = static_cast<rte_mbuf*>(obj);
    const auto* f = rte_pktmbuf_mtod(m, const std::uint8_t*);
    if (rte_pktmbuf_data_len(m) >= 14 + 20 + 8 && load_be16(f + 12) == kEtherTypeIpv4 &&
        f[14 + 9] == 1) {
      ++replies;
      EXPECT_EQ(std::memcmp(f, pinger.data(), 6), 0);  // back to the pinger
      EXPECT_EQ(std::memcmp(f + 6, kServerMac.data(), 6), 0);
      EXPECT_EQ(f[34], 0);  // echo reply
      EXPECT_EQ(load_be16(f + 34 + 4), 0x1234);
      EXPECT_EQ(load_be16(f + 34 + 6), 7);
      EXPECT_EQ(std::memcmp(f + 14 + 12, kServerIp.bytes.data(), 4), 0);
      EXPECT_EQ(f[14 + 16 + 3], 9);  // to 10.0.0.9
    }
    rte_pktmbuf_free(m);
  }
  EXPECT_EQ(replies, 1);
  sides_.clear();  // the connection still open, before its handler
}

// ------------------------------------------------------------ 3: redirect

// Two server workers on the two queues of one port, two client workers on
// the two queues of the other: client worker q's datagrams arrive on server
// queue q whatever connection they belong to (as RSS would spread them,
// knowing nothing of CIDs), and server worker q's on client queue q.
// Steering hands each to the worker its DCID names, through RedirectRings.
TEST_F(WorkerTest, TwoWorkersPerPortRedirectEveryDatagramToItsOwner) {
  RingPortPair& p = ports("r", 2);
  ASSERT_TRUE(p.ok()) << p.error();
  RedirectRings client_rings, server_rings;
  std::string why;
  ASSERT_TRUE(client_rings.init(2, 1024, "wt_rc", static_cast<int>(rte_socket_id()), &why)) << why;
  ASSERT_TRUE(server_rings.init(2, 1024, "wt_rs", static_cast<int>(rte_socket_id()), &why)) << why;
  auto client_gen = generator(2);
  auto server_gen = generator(2);
  EchoServerApp app;
  std::array<Worker*, 2> servers{}, clients{};
  for (std::uint16_t q = 0; q < 2; ++q) {
    servers[q] =
        add_worker(true, kInlineCrypto, p.b(), q, q, 2, server_gen.get(), &server_rings, &app);
    clients[q] =
        add_worker(false, kInlineCrypto, p.a(), q, q, 2, client_gen.get(), &client_rings, nullptr);
  }
  ASSERT_FALSE(HasFailure());

  constexpr int kPerWorker = 6;
  std::vector<std::unique_ptr<ClientHandler>> handlers;
  std::vector<std::pair<Worker*, Connection*>> conns;
  for (Worker* c : clients)
    for (int i = 0; i < kPerWorker; ++i) {
      handlers.push_back(std::make_unique<ClientHandler>(1, 30000));
      Connection* conn = connect(*c, *handlers.back());
      ASSERT_NE(conn, nullptr);
      conns.emplace_back(c, conn);
    }
  const std::vector<Worker*> all = {clients[0], clients[1], servers[0], servers[1]};
  auto all_done = [&] {
    for (const auto& h : handlers)
      if (!h->done()) return false;
    return true;
  };
  drive(all, all_done);
  ASSERT_TRUE(all_done());
  for (const auto& h : handlers)
    EXPECT_EQ(h->mismatches, 0u);

  // Every server connection lives on the worker its CIDs name, and both
  // server workers own some.
  ASSERT_EQ(app.handlers.size(), handlers.size());
  for (const auto& h : app.handlers)
    EXPECT_EQ(server_gen->worker_of(h->connection()->local_cid().span()), h->worker());
  EXPECT_GT(servers[0]->counters().connections_opened, 0u);
  EXPECT_GT(servers[1]->counters().connections_opened, 0u);
  EXPECT_EQ(servers[0]->counters().connections_opened + servers[1]->counters().connections_opened,
            handlers.size());

  // Steering ran before the endpoint: each endpoint saw exactly the
  // datagrams it owns (arrived on its queue and kept, or redirected to it),
  // never had to forward one, and routed every one (no unknown CIDs).
  const std::array<RedirectRings*, 2> rings = {&client_rings, &server_rings};
  for (std::size_t side = 0; side < 2; ++side) {
    const std::array<Worker*, 2>& ws = side == 0 ? clients : servers;
    SCOPED_TRACE(side == 0 ? "clients" : "servers");
    for (std::uint16_t q = 0; q < 2; ++q) {
      const Worker& w = *ws[q];
      const WorkerCounters& c = w.counters();
      EXPECT_EQ(w.endpoint().counters().datagrams,
                w.loop_counters().udp_datagrams - c.redirects_out + c.redirects_in);
      EXPECT_EQ(w.endpoint().counters().forwarded, 0u);
      EXPECT_EQ(w.endpoint().counters().drops(EndpointDrop::kUnknownConnection), 0u);
      EXPECT_EQ(w.loop_counters().redirect_loops, 0u);
      EXPECT_EQ(c.redirects_ring_full, 0u);
      const RedirectCountersSnapshot rc = rings[side]->counters(q);
      EXPECT_EQ(rc.redirected_out, c.redirects_out);
      EXPECT_EQ(rc.redirected_in, c.redirects_in);
    }
    // What one worker handed over, the other took (or will, next round).
    EXPECT_EQ(ws[0]->counters().redirects_out,
              ws[1]->counters().redirects_in + rings[side]->pending(1));
    EXPECT_EQ(ws[1]->counters().redirects_out,
              ws[0]->counters().redirects_in + rings[side]->pending(0));
    EXPECT_GT(ws[0]->counters().redirects_out + ws[1]->counters().redirects_out, 0u);
  }
  std::printf("[ info ] redirects: servers %llu/%llu, clients %llu/%llu (out of worker 0/1)\n",
              static_cast<unsigned long long>(servers[0]->counters().redirects_out),
              static_cast<unsigned long long>(servers[1]->counters().redirects_out),
              static_cast<unsigned long long>(clients[0]->counters().redirects_out),
              static_cast<unsigned long long>(clients[1]->counters().redirects_out));

  for (auto& [w, c] : conns) {
    c->close(0, "done", w->now());
    w->wake(*c);
  }
  auto all_closed = [&] {
    for (Worker* w : all)
      if (w->endpoint().connection_count() != 0) return false;
    return true;
  };
  // Closing waits out 3 PTO (RFC 9000 §10.2) in real time: bounded by time.
  const std::size_t rounds = drive(all, all_closed, 200'000'000, std::chrono::seconds(20));
  EXPECT_TRUE(all_closed()) << rounds << " rounds";
  for (Worker* w : all)
    for (std::size_t i = 0; i < w->endpoint().connection_count(); ++i)
      ADD_FAILURE() << "worker " << w->id() << " connection state "
                    << static_cast<int>(w->endpoint().connection(i)->state());
  sides_.clear();  // before the rings they forward through
}

}  // namespace
}  // namespace dquic
