// qlog end to end (runtime/qlog_recorder.h, runtime/qlog_writer.h): client
// and server Workers on two cross-connected ring ports (as in
// worker_test.cc), each with a recorder, one writer thread; the files are
// checked by tests/runtime/qlog_check.py against main-schema-14's required
// fields and the event ordering rules. Also: a full ring drops and counts.
#include <gtest/gtest.h>
#include <rte_dev.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "drivers/eth_port.h"
#include "offload/aead_evp.h"
#include "offload/hp_inline.h"
#include "offload/protector.h"
#include "quic/cid_generator.h"
#include "quic/connection.h"
#include "quic/stateless_reset.h"
#include "runtime/dataplane.h"
#include "runtime/qlog_recorder.h"
#include "runtime/qlog_writer.h"
#include "runtime/worker.h"
#include "tests/support/ring_port_pair.h"
#include "tests/support/test_certs.h"

#ifndef DQUIC_QLOG_CHECKER
#error "DQUIC_QLOG_CHECKER: the path of tests/runtime/qlog_check.py"
#endif

namespace dquic {
namespace {

constexpr char kAlpn[] = "ql";
constexpr std::uint16_t kServerPort = 4433;
constexpr std::uint16_t kClientPort = 50000;
constexpr MacAddress kServerMac = {0x02, 0, 0, 0, 0, 0x11};
constexpr MacAddress kClientMac = {0x02, 0, 0, 0, 0, 0x12};

IpAddress ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  ip.family = IpFamily::kIpv4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}
const IpAddress kServerIp = ipv4(10, 0, 1, 1);
const IpAddress kClientIp = ipv4(10, 0, 1, 2);

PeerAddress peer(const IpAddress& ip, std::uint16_t port) {
  return PeerAddress::ipv4({ip.bytes[0], ip.bytes[1], ip.bytes[2], ip.bytes[3]}, port);
}

rte_mempool* test_pool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create(
      "qlog_test", 16383, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, static_cast<int>(rte_socket_id()));
  return pool;
}

using test::RingPortPair;

const test::TestTlsPair& tls() {
  static const auto* t = new test::TestTlsPair(kAlpn);
  return *t;
}

// Echoes every stream back, then FIN.
class EchoHandler final : public ConnectionHandler {
 public:
  void attach(Connection* c) { c_ = c; }
  void on_stream_readable(std::uint64_t id) override {
    Pending& p = pending_[id];
    std::array<std::uint8_t, 16384> buf;
    for (;;) {
      bool fin = false;
      const std::int64_t n = c_->read(id, buf, &fin);
      if (n > 0) p.bytes.insert(p.bytes.end(), buf.begin(), buf.begin() + n);
      if (fin) p.fin = true;
      if (n <= 0 || fin) break;
    }
    pump(id, p);
  }
  void on_stream_writable(std::uint64_t id) override {
    auto it = pending_.find(id);
    if (it != pending_.end()) pump(id, it->second);
  }

 private:
  struct Pending {
    std::vector<std::uint8_t> bytes;
    std::size_t sent = 0;
    bool fin = false;
    bool fin_sent = false;
  };
  void pump(std::uint64_t id, Pending& p) {
    while (p.sent < p.bytes.size()) {
      const std::int64_t w =
          c_->write(id, ByteSpan(p.bytes.data() + p.sent, p.bytes.size() - p.sent), false);
      if (w <= 0) break;
      p.sent += static_cast<std::size_t>(w);
    }
    if (p.fin && !p.fin_sent && p.sent == p.bytes.size() && c_->write(id, {}, true) >= 0)
      p.fin_sent = true;
  }
  Connection* c_ = nullptr;
  std::map<std::uint64_t, Pending> pending_;
};

class EchoServerApp final : public WorkerApp {
 public:
  bool on_incoming(Worker&, const IncomingConnection& in, ConnectionConfig& c) override {
    odcid = in.original_dcid;
    handlers.push_back(std::make_unique<EchoHandler>());
    c.handler = handlers.back().get();
    return true;
  }
  void on_accepted(Worker&, Connection& c) override { handlers.back()->attach(&c); }
  ConnectionId odcid;
  std::vector<std::unique_ptr<EchoHandler>> handlers;
};

// Sends one stream of `bytes` and reads the echo.
class ClientHandler final : public ConnectionHandler {
 public:
  explicit ClientHandler(std::size_t bytes) : bytes_(bytes) {}
  void attach(Connection* c) { c_ = c; }
  void on_handshake_complete() override {
    id_ = c_->open_stream(true);
    pump();
  }
  void on_stream_writable(std::uint64_t) override { pump(); }
  void on_stream_readable(std::uint64_t id) override {
    std::array<std::uint8_t, 16384> buf;
    for (;;) {
      bool fin = false;
      const std::int64_t n = c_->read(id, buf, &fin);
      if (n > 0) received_ += static_cast<std::size_t>(n);
      if (fin) done_ = received_ == bytes_;
      if (n <= 0 || fin) break;
    }
  }
  bool done() const { return done_; }

 private:
  void pump() {
    if (!id_) return;
    std::array<std::uint8_t, 16384> buf{};
    while (sent_ < bytes_) {
      const std::size_t n = std::min(buf.size(), bytes_ - sent_);
      const std::int64_t w = c_->write(*id_, ByteSpan(buf.data(), n), false);
      if (w <= 0) return;
      sent_ += static_cast<std::size_t>(w);
    }
    if (!fin_sent_ && c_->write(*id_, {}, true) >= 0) fin_sent_ = true;
  }
  std::size_t bytes_;
  std::optional<std::uint64_t> id_;
  std::size_t sent_ = 0, received_ = 0;
  bool fin_sent_ = false, done_ = false;
  Connection* c_ = nullptr;
};

std::string hex(ByteSpan b) {
  std::string s;
  char d[3];
  for (std::uint8_t c : b) {
    std::snprintf(d, sizeof d, "%02x", c);
    s += d;
  }
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs the checker; its exit status (0: every check passed).
int run_checker(const std::string& args) {
  const std::string cmd = std::string("python3 ") + DQUIC_QLOG_CHECKER + " " + args;
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

struct Side {
  std::unique_ptr<offload::AeadEngine> aead;
  std::unique_ptr<offload::HpEngine> hp;
  std::unique_ptr<offload::Protector> protector;
  std::unique_ptr<QlogRecorder> qlog;
  std::unique_ptr<ConnectionIdGenerator> gen;
  std::unique_ptr<Worker> worker;
};

class QlogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(test_pool(), nullptr);
    baseline_ = rte_mempool_in_use_count(test_pool());
    std::array<std::uint8_t, 32> key{};
    random(key);
    resets_ = std::make_unique<StatelessResetTokenGenerator>(ByteSpan(key.data(), key.size()));
    char tmpl[] = "/tmp/dquic_qlog_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    writer_.reset();
    server_.reset();
    client_.reset();
    ports_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(test_pool()), baseline_) << "mbufs leaked";
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void random(std::span<std::uint8_t> out) {
    for (auto& b : out)
      b = static_cast<std::uint8_t>(rng_());
  }

  ConnectionConfig connection_config(EndpointRole role) {
    ConnectionConfig c;
    c.role = role;
    c.tls_client = &tls().client;
    c.tls_server = &tls().server;
    c.wall_clock_ms_at_zero = test::kTestNow * 1000;
    c.max_datagram_size = 1350;
    c.random = [this](std::span<std::uint8_t> out) { random(out); };
    TransportParameters& tp = c.transport;
    tp.max_idle_timeout = 3000;
    tp.initial_max_data = 4 << 20;
    tp.initial_max_stream_data_bidi_local = 1 << 20;
    tp.initial_max_stream_data_bidi_remote = 1 << 20;
    tp.initial_max_stream_data_uni = 1 << 20;
    tp.initial_max_streams_bidi = 16;
    tp.initial_max_streams_uni = 4;
    return c;
  }

  std::unique_ptr<Side> make_side(bool server, std::uint16_t port, WorkerApp* app,
                                  std::optional<ImpairmentConfig> impairment) {
    auto s = std::make_unique<Side>();
    s->aead = offload::make_evp_aead_engine();
    s->hp = offload::make_inline_hp_engine();
    s->protector = std::make_unique<offload::Protector>(s->aead.get(), s->hp.get(), s->aead.get(),
                                                        s->hp.get());
    s->qlog = std::make_unique<QlogRecorder>();
    RandomCidGeneratorSettings gs;
    gs.cid_length = 8;
    gs.worker_count = 1;
    s->gen = RandomCidGenerator::create(gs, [this](std::span<std::uint8_t> out) { random(out); });
    WorkerConfig wc;
    wc.port_id = port;
    wc.pool = test_pool();
    wc.mac = server ? kServerMac : kClientMac;
    EXPECT_TRUE(wc.route.add_address(server ? kServerIp : kClientIp, 24));
    if (server) wc.udp_ports = {kServerPort};
    wc.endpoint.connection =
        connection_config(server ? EndpointRole::kServer : EndpointRole::kClient);
    wc.endpoint.cid_generator = s->gen.get();
    wc.endpoint.reset_tokens = resets_.get();
    wc.endpoint.retry_policy = RetryPolicy::kNever;
    wc.endpoint.accept_connections = server;
    wc.protector = s->protector.get();
    wc.app = app;
    wc.impairment = impairment;
    wc.qlog = s->qlog.get();
    s->worker = std::make_unique<Worker>(std::move(wc));
    std::string why;
    EXPECT_TRUE(s->worker->init(&why)) << why;
    s->qlog->set_time_origin(s->worker->now());
    return s;
  }

  // A client-server echo of `bytes`, closed by the client, both traced.
  void run_connection(std::size_t bytes, std::optional<ImpairmentConfig> client_impair,
                      std::optional<ImpairmentConfig> server_impair) {
    ports_ = std::make_unique<RingPortPair>("q", 1, test_pool());
    ASSERT_TRUE(ports_->ok()) << ports_->error();
    server_ = make_side(true, ports_->b(), &app_, server_impair);
    client_ = make_side(false, ports_->a(), nullptr, client_impair);
    ASSERT_FALSE(HasFailure());
    writer_ = std::make_unique<QlogWriter>(
        dir_, std::vector<QlogRecorder*>{client_->qlog.get(), server_->qlog.get()});
    writer_->start();  // drains while the workers run, as in a Dataplane

    ClientHandler handler(bytes);
    ConnectionConfig c = connection_config(EndpointRole::kClient);
    c.handler = &handler;
    Connection* conn = client_->worker->connect(
        c, NetworkPath{peer(kClientIp, kClientPort), peer(kServerIp, kServerPort)});
    ASSERT_NE(conn, nullptr);
    handler.attach(conn);
    Worker& cw = *client_->worker;
    Worker& sw = *server_->worker;
    drive([&] { return handler.done(); });
    ASSERT_TRUE(handler.done());
    conn->close(0, "done", cw.now());
    cw.wake(*conn);
    drive([&] {
      return cw.counters().connections_closed == 1 && sw.counters().connections_closed == 1;
    });
    EXPECT_EQ(cw.counters().connections_closed, 1u);
    EXPECT_EQ(sw.counters().connections_closed, 1u);
    writer_->stop();
    const std::string base = dir_ + "/" + hex(app_.odcid.span());
    client_file_ = base + "_client.sqlog";
    server_file_ = base + "_server.sqlog";
  }

  template <class Done>
  void drive(Done done) {
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < 50'000'000 && !done(); ++i) {
      client_->worker->poll_once();
      server_->worker->poll_once();
      if ((i & 1023) == 0 && std::chrono::steady_clock::now() - start > std::chrono::seconds(30))
        break;
    }
  }

  std::mt19937_64 rng_{20261203};
  std::unique_ptr<StatelessResetTokenGenerator> resets_;
  std::string dir_;
  EchoServerApp app_;
  std::unique_ptr<RingPortPair> ports_;
  std::unique_ptr<Side> server_, client_;
  std::unique_ptr<QlogWriter> writer_;
  std::string client_file_, server_file_;
  unsigned baseline_ = 0;
};

// The events every connection produces, whatever the loss.
const char kRequired[] =
    "--require quic:connection_started --require quic:parameters_set "
    "--require quic:packet_sent --require quic:packet_received --require quic:packets_acked "
    "--require quic:recovery_metrics_updated --require quic:congestion_state_updated "
    "--require quic:key_updated --require quic:key_discarded "
    "--require quic:connection_state_updated --closed";

TEST_F(QlogTest, ConnectionTracesFollowTheSchema) {
  run_connection(200 * 1024, std::nullopt, std::nullopt);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(writer_->files_opened(), 2u);
  EXPECT_EQ(writer_->open_failures(), 0u);
  EXPECT_EQ(client_->qlog->dropped(), 0u);
  EXPECT_EQ(server_->qlog->dropped(), 0u);
  EXPECT_EQ(client_->qlog->connections(), 1u);
  EXPECT_EQ(server_->qlog->connections(), 1u);
  ASSERT_TRUE(std::filesystem::exists(client_file_)) << client_file_;
  ASSERT_TRUE(std::filesystem::exists(server_file_)) << server_file_;
  EXPECT_EQ(run_checker(client_file_ + " --vantage client " + kRequired), 0);
  EXPECT_EQ(run_checker(server_file_ + " --vantage server " + kRequired), 0);

  // What the checker does not look into: both sides' parameters, the
  // stream's frames both ways, the 1-RTT keys, the ODCID as group_id.
  for (const std::string& f : {client_file_, server_file_}) {
    SCOPED_TRACE(f);
    const std::string s = read_file(f);
    EXPECT_EQ(s.rfind('\x1e', 0), 0u);
    EXPECT_NE(s.find("\"group_id\":\"" + hex(app_.odcid.span()) + "\""), std::string::npos);
    EXPECT_NE(s.find("\"initiator\":\"local\""), std::string::npos);
    EXPECT_NE(s.find("\"initiator\":\"remote\""), std::string::npos);
    EXPECT_NE(s.find("\"frame_type\":\"stream\",\"stream_id\":0"), std::string::npos);
    EXPECT_NE(s.find("\"frame_type\":\"ack\",\"ack_delay\""), std::string::npos);  // received
    EXPECT_NE(s.find("_1rtt_secret\""), std::string::npos);
    EXPECT_NE(s.find("\"new\":\"handshake_complete\""), std::string::npos);
    EXPECT_EQ(s.find("loglevel:warning"), std::string::npos);  // nothing dropped
  }
}

TEST_F(QlogTest, ImpairedDropsShowAsPacketLost) {
  // Drops only (no reordering): what loss detection declares lost was, with
  // few exceptions (spurious time-threshold losses), really dropped.
  ImpairmentConfig drop;
  drop.drop_ppm = 50'000;  // 5%
  drop.seed = 3;
  ImpairmentConfig drop2 = drop;
  drop2.seed = 5;
  run_connection(300 * 1024, drop, drop2);
  ASSERT_FALSE(HasFailure());
  EXPECT_GT(server_->worker->counters().impair_dropped, 0u);
  EXPECT_GT(client_->worker->counters().impair_dropped, 0u);
  EXPECT_EQ(client_->qlog->dropped() + server_->qlog->dropped(), 0u);
  // Each side lost packets the other side's qlog never saw arrive.
  EXPECT_EQ(run_checker(client_file_ + " --vantage client --require quic:packet_lost --closed" +
                        " --peer " + server_file_ + " --min-lost-unreceived 1"),
            0);
  EXPECT_EQ(run_checker(server_file_ + " --vantage server --require quic:packet_lost --closed" +
                        " --peer " + client_file_ + " --min-lost-unreceived 1"),
            0);
}

// Without a writer draining, a small ring fills: events are dropped and
// counted, and the first event recorded after room returns says how many.
TEST(QlogRecorderTest, FullRingDropsAndCounts) {
  char tmpl[] = "/tmp/dquic_qlog_ring_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    QlogRecorder rec(64);
    ASSERT_EQ(rec.ring().capacity(), 64u);
    rec.set_time_origin(0);
    ConnectionObserver* o = rec.open();
    ConnectionStartInfo info;
    info.role = EndpointRole::kServer;
    std::array<std::uint8_t, 4> id = {0xde, 0xad, 0xbe, 0xef};
    ASSERT_TRUE(ConnectionId::from(id, &info.original_dcid));
    o->on_connection_started(info, 1000);  // 4 records
    for (std::uint64_t pn = 0; pn < 100; ++pn)
      o->on_packet_received(PacketSpace::kApplication, pn, 1200, 2000 + pn);
    EXPECT_EQ(rec.dropped(), 100u - 60u);
    QlogWriter w(dir, {&rec});
    w.drain();  // room again
    o->on_packet_received(PacketSpace::kApplication, 100, 1200, 5000);
    o->on_state_changed(ConnectionState::kConnected, ConnectionState::kClosed, 6000);
    w.drain();
    EXPECT_EQ(w.files_opened(), 1u);
    EXPECT_EQ(rec.dropped(), 40u);
    w.stop();
    const std::string s = read_file(dir + "/deadbeef_server.sqlog");
    EXPECT_NE(s.find("\"name\":\"loglevel:warning\",\"data\":{\"code\":40"), std::string::npos);
    EXPECT_NE(s.find("\"packet_number\":59"), std::string::npos);
    EXPECT_EQ(s.find("\"packet_number\":60"), std::string::npos);
    EXPECT_NE(s.find("\"packet_number\":100"), std::string::npos);
    EXPECT_EQ(run_checker(dir + "/deadbeef_server.sqlog --vantage server --closed"), 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// Events a plain transfer does not produce, through the writer: HTTP/3
// frames, 1-RTT key updates, path validation and migration, a lost packet
// with its frames.
TEST(QlogRecorderTest, WriterFormatsEveryEventKind) {
  char tmpl[] = "/tmp/dquic_qlog_kinds_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  {
    QlogRecorder rec;
    rec.set_time_origin(0);
    ConnectionObserver* o = rec.open();
    ConnectionStartInfo info;
    info.role = EndpointRole::kClient;
    std::array<std::uint8_t, 2> id = {0x01, 0x02};
    ASSERT_TRUE(ConnectionId::from(id, &info.original_dcid));
    o->on_connection_started(info, 0);
    SentPacket p;
    p.packet_number = 7;
    p.space = PacketSpace::kApplication;
    p.sent_bytes = 1200;
    SentFrame f;
    f.kind = SentFrame::Kind::kStream;
    f.stream_id = 4;
    f.offset = 100;
    f.length = 1000;
    f.fin = true;
    ASSERT_TRUE(p.add(f));
    o->on_packet_sent(p, kMillisecond);
    o->on_http3_frame(true, 0, 0x01, 42, 2 * kMillisecond);
    o->on_http3_frame(false, 3, 0x21, 5, 2 * kMillisecond);
    o->on_key_update(true, true, 1, 3 * kMillisecond);
    NetworkPath path;
    path.local = PeerAddress::ipv4({10, 0, 0, 2}, 5000);
    path.peer = PeerAddress::ipv4({10, 0, 0, 1}, 443);
    o->on_path_event(PathEvent::kProbingStarted, path, 4 * kMillisecond);
    o->on_path_event(PathEvent::kMigrated, path, 5 * kMillisecond);
    o->on_packet_lost(p, 6 * kMillisecond);
    o->on_state_changed(ConnectionState::kConnected, ConnectionState::kClosed, 7 * kMillisecond);
    QlogWriter w(dir, {&rec});
    w.stop();
    EXPECT_EQ(rec.dropped(), 0u);
    const std::string file = dir + "/0102_client.sqlog";
    const std::string s = read_file(file);
    for (const char* want :
         {"\"name\":\"http3:frame_created\",\"data\":{\"stream_id\":0,\"frame\":{\"frame_type\":"
          "\"headers\",\"headers\":[],\"raw\":{\"payload_length\":42}}}",
          "\"name\":\"http3:frame_parsed\",\"data\":{\"stream_id\":3,\"frame\":{\"frame_type\":"
          "\"reserved\",\"frame_type_bytes\":33",
          "{\"key_type\":\"client_1rtt_secret\",\"key_phase\":1,\"trigger\":\"local_update\"}",
          "{\"new\":\"probing_started\",\"tuple_local\":{\"ip_v4\":\"10.0.0.2\",\"port_v4\":5000}",
          "\"new\":\"migration_complete\"",
          "\"name\":\"quic:packet_lost\",\"data\":{\"header\":{\"packet_type\":\"1RTT\","
          "\"packet_number\":7},\"frames\":[{\"frame_type\":\"stream\",\"stream_id\":4,"
          "\"offset\":100,\"fin\":true,\"raw\":{\"payload_length\":1000}}]}",
          "\"time\":7.000,\"name\":\"quic:connection_state_updated\""})
      EXPECT_NE(s.find(want), std::string::npos) << want;
    EXPECT_EQ(run_checker(file + " --vantage client --closed --require quic:packet_lost"), 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// The Dataplane (--qlog / $QLOGDIR): the directory is checked at create(),
// the writer runs, and the exit summary reports the qlog counts.
TEST(QlogDataplaneTest, DirectoryCheckedAndSummaryReported) {
  std::mt19937_64 rng{11};
  std::vector<std::unique_ptr<ConnectionIdGenerator>> gens;
  std::FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  auto config = [&](std::vector<std::string> args) {
    DataplaneConfig c;
    const RuntimeOptionsResult r = parse_runtime_options(args);
    EXPECT_EQ(r.exit_code, 0) << r.error;
    c.options = r.options;
    c.log = log;
    c.configure_worker = [&](const WorkerPlacement& where, WorkerConfig& wc, std::string* why) {
      RandomCidGeneratorSettings gs;
      gs.cid_length = 8;
      gs.worker_count = where.count;
      auto random = [&rng](std::span<std::uint8_t> out) {
        for (auto& b : out)
          b = static_cast<std::uint8_t>(rng());
      };
      gens.push_back(RandomCidGenerator::create(gs, random));
      if (gens.back() == nullptr) return *why = "no generator", false;
      wc.endpoint.cid_generator = gens.back().get();
      wc.endpoint.connection.random = random;
      return true;
    };
    return c;
  };
  ASSERT_EQ(rte_dev_probe("net_null_qlog0"), 0);
  ASSERT_EQ(rte_dev_probe("net_null_qlog1"), 0);
  const std::optional<std::uint16_t> bad_port = drivers::find_port("net_null_qlog0");
  const std::optional<std::uint16_t> port = drivers::find_port("net_null_qlog1");
  ASSERT_TRUE(bad_port && port);

  std::string err;
  EXPECT_EQ(Dataplane::create(config({"--port", std::to_string(*bad_port), "--address", "10.0.0.1",
                                      "--workers", "1", "--qlog", "/nonexistent/qlog"}),
                              &err),
            nullptr);
  EXPECT_EQ(err, "--qlog: '/nonexistent/qlog' is not a writable directory");

  char tmpl[] = "/tmp/dquic_qlog_dp_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  ASSERT_EQ(setenv("QLOGDIR", dir.c_str(), 1), 0);  // no --qlog: $QLOGDIR
  std::unique_ptr<Dataplane> d =
      Dataplane::create(config({"--port", std::to_string(*port), "--address", "10.0.0.1",
                                "--workers", "1", "--drain-ms", "0"}),
                        &err);
  unsetenv("QLOGDIR");
  ASSERT_NE(d, nullptr) << err;
  std::atomic<bool> stop{true};
  d->run(stop, kSecond);
  const DataplaneTeardown& t = d->shutdown();
  EXPECT_NE(t.summary.find("qlog: 0 connections, 0 events dropped"), std::string::npos)
      << t.summary;
  EXPECT_EQ(t.qlog_dropped, 0u);
  std::fflush(log);
  std::rewind(log);
  std::string text(1 << 16, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), log));
  EXPECT_NE(text.find("qlog: a JSON-SEQ file per connection in " + dir), std::string::npos) << text;
  d.reset();
  std::fclose(log);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace dquic
