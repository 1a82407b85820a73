// HTTP/3 connections end to end (RFC 9114): a client and a server
// Http3Connection over a ConnectedPair (tests/sim/connected_pair.h), and a
// raw QUIC client that breaks the rules to reach the server's errors.
#include "h3/h3_connection.h"

#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "h3/qpack_encoder.h"
#include "tests/sim/connected_pair.h"

namespace dquic {
namespace {

using test::Bytes;
using test::ConnectedPair;

rte_mempool* h3_pool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create(
      "h3conn_test", 16383, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, static_cast<int>(rte_socket_id()));
  return pool;
}

Bytes pattern(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i)
    b[i] = static_cast<std::uint8_t>(seed + i * 7 + (i >> 9));
  return b;
}

struct Message {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> fields, trailers;
  Bytes body;
  bool ended = false;
  std::uint64_t error = 0;
  std::string path, method;
};

// Server: answers /size/N with N bytes (plus trailers for /trailers/N),
// pumping the body as the transport takes it.
class TestServer final : public Http3Handler {
 public:
  Http3Connection* h3 = nullptr;
  bool respond_at_once = true;
  std::map<std::uint64_t, Message> requests;
  struct Out {
    Bytes body;
    std::size_t sent = 0;
    bool trailers = false;
    bool done = false;
  };
  std::map<std::uint64_t, Out> outs;

  void on_request(std::uint64_t s, const H3RequestHead& head,
                  std::span<const QpackField> fields) override {
    Message& m = requests[s];
    m.path = std::string(head.path);
    m.method = std::string(head.method);
    for (const QpackField& f : fields)
      m.fields.emplace_back(std::string(f.name), std::string(f.value));
  }
  void on_body(std::uint64_t s, ByteSpan d) override {
    requests[s].body.insert(requests[s].body.end(), d.begin(), d.end());
  }
  void on_trailers(std::uint64_t s, std::span<const QpackField> fields) override {
    for (const QpackField& f : fields)
      requests[s].trailers.emplace_back(std::string(f.name), std::string(f.value));
  }
  void on_message_end(std::uint64_t s) override {
    requests[s].ended = true;
    if (respond_at_once) respond(s);
  }
  void on_stream_error(std::uint64_t s, std::uint64_t e) override { requests[s].error = e; }
  void on_writable(std::uint64_t s) override { pump(s); }

  void respond(std::uint64_t s) {
    const std::string& path = requests[s].path;
    Out& o = outs[s];
    std::size_t n = 0;
    if (path.rfind("/size/", 0) == 0) n = std::stoul(path.substr(6));
    if (path.rfind("/trailers/", 0) == 0) {
      n = std::stoul(path.substr(10));
      o.trailers = true;
    }
    if (path == "/echo") {
      o.body = requests[s].body;
    } else {
      o.body = pattern(n, static_cast<std::uint8_t>(n));
    }
    const std::string len = std::to_string(o.body.size());
    const QpackField fields[] = {{"content-length", len}, {"server", "dquic"}};
    ASSERT_TRUE(h3->send_response_headers(s, 200, fields));
    if (requests[s].method == "HEAD") {
      o.done = true;
      ASSERT_TRUE(h3->finish(s));  // §4.1 / RFC 9110 §9.3.2: no content
      return;
    }
    pump(s);
  }
  void pump(std::uint64_t s) {
    auto it = outs.find(s);
    if (it == outs.end() || it->second.done) return;
    Out& o = it->second;
    while (o.sent < o.body.size()) {
      const std::int64_t n =
          h3->send_body(s, ByteSpan(o.body.data() + o.sent, o.body.size() - o.sent));
      ASSERT_GE(n, 0);
      if (n == 0) return;  // on_writable() resumes
      o.sent += static_cast<std::size_t>(n);
    }
    o.done = true;
    if (o.trailers) {
      const std::string sum = std::to_string(o.body.size());
      const QpackField t[] = {{"x-checksum", sum}};
      ASSERT_TRUE(h3->send_trailers(s, t));
    } else {
      ASSERT_TRUE(h3->finish(s));
    }
  }
};

class TestClient final : public Http3Handler {
 public:
  std::map<std::uint64_t, Message> responses;
  std::vector<std::uint64_t> goaways;
  void on_response_headers(std::uint64_t s, const H3ResponseHead& head,
                           std::span<const QpackField> fields) override {
    responses[s].status = head.status;
    for (const QpackField& f : fields)
      responses[s].fields.emplace_back(std::string(f.name), std::string(f.value));
  }
  void on_body(std::uint64_t s, ByteSpan d) override {
    responses[s].body.insert(responses[s].body.end(), d.begin(), d.end());
  }
  void on_trailers(std::uint64_t s, std::span<const QpackField> fields) override {
    for (const QpackField& f : fields)
      responses[s].trailers.emplace_back(std::string(f.name), std::string(f.value));
  }
  void on_message_end(std::uint64_t s) override { responses[s].ended = true; }
  void on_stream_error(std::uint64_t s, std::uint64_t e) override { responses[s].error = e; }
  void on_goaway(std::uint64_t id) override { goaways.push_back(id); }
};

// A raw QUIC peer: records resets and what arrives.
class RawPeer final : public ConnectionHandler {
 public:
  std::map<std::uint64_t, std::uint64_t> resets, stops;
  void on_stream_reset(std::uint64_t id, std::uint64_t e) override { resets[id] = e; }
  void on_stop_sending(std::uint64_t id, std::uint64_t e) override { stops[id] = e; }
};

Bytes control_with_settings() {
  Bytes b(64);
  Writer w(b);
  w.write_varint(kH3StreamControl);
  H3Settings s;
  (void)write_settings_frame(s, w);
  b.resize(w.written());
  return b;
}

// Encodes a static-only HEADERS frame.
Bytes headers_frame(std::span<const QpackField> fields, std::uint64_t stream = 0) {
  QpackEncoderConfig ec;
  ec.max_table_capacity = 0;
  QpackEncoder enc(ec);
  Bytes section(4096), unused(64);
  Writer sw(section), ew(unused);
  EXPECT_EQ(enc.encode(stream, fields, sw, ew), QpackStatus::kOk);
  Bytes out(section.size() + 16);
  Writer w(out);
  write_frame_header(w, h3_type(H3FrameType::kHeaders), sw.written());
  w.write_bytes(ByteSpan(section.data(), sw.written()));
  out.resize(w.written());
  return out;
}

void h3_transport(ConnectionConfig& c) {
  c.transport.initial_max_data = 4 << 20;
  c.transport.initial_max_stream_data_bidi_local = 1 << 20;
  c.transport.initial_max_stream_data_bidi_remote = 1 << 20;
  c.transport.initial_max_stream_data_uni = 64 << 10;
  c.transport.initial_max_streams_bidi = 16;
  c.transport.initial_max_streams_uni = 8;
  c.max_stream_window = 1 << 20;
  c.max_connection_window = 4 << 20;
  c.max_stream_send_buffer = 256 << 10;  // the 1 MB body goes through on_writable
}

class H3ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(h3_pool(), nullptr);
    baseline_ = rte_mempool_in_use_count(h3_pool());
    tls_.server.alpn = {"h3"};
    tls_.client.alpn = {"h3"};
  }
  void TearDown() override {
    pair_.reset();
    client_h3_.reset();
    server_h3_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(h3_pool()), baseline_) << "mbufs leaked";
  }
  Http3Config config(EndpointRole role) {
    Http3Config c;
    c.role = role;
    c.clock = [this] { return pair_ ? pair_->now : 0; };
    return c;
  }
  // Both sides HTTP/3, or a raw client (`raw`), or a raw server.
  void connect_raw_server() {
    client_h3_ = std::make_unique<Http3Connection>(config(EndpointRole::kClient), &client_);
    pair_ = std::make_unique<ConnectedPair>(h3_pool(), h3_transport, h3_transport, client_h3_.get(),
                                            &raw_, &tls_);
    client_h3_->attach(pair_->client().conn.get());
    ASSERT_TRUE(pair_->handshake());
    const Bytes ctl = control_with_settings();
    const std::optional<std::uint64_t> c = server().open_stream(false);
    ASSERT_TRUE(c);
    ASSERT_EQ(server().write(*c, ByteSpan(ctl.data(), ctl.size()), false),
              static_cast<std::int64_t>(ctl.size()));
    server_control_ = *c;
    run();
    ASSERT_TRUE(client_h3_->ready());
    ASSERT_TRUE(client_h3_->settings_received());
  }
  void server_write(std::uint64_t id, const Bytes& b, bool fin) {
    ASSERT_EQ(server().write(id, ByteSpan(b.data(), b.size()), fin),
              static_cast<std::int64_t>(b.size()));
  }
  std::uint64_t client_close_code() {
    const auto& ci = client().close_info();
    return ci ? ci->error_code : 0;
  }
  void connect(bool raw = false) {
    Http3Config sc = config(EndpointRole::kServer);
    if (server_config_) server_config_(sc);
    server_h3_ = std::make_unique<Http3Connection>(sc, &server_);
    server_.h3 = server_h3_.get();
    ConnectionHandler* client_handler = &raw_;
    if (!raw) {
      client_h3_ = std::make_unique<Http3Connection>(config(EndpointRole::kClient), &client_);
      client_handler = client_h3_.get();
    }
    pair_ = std::make_unique<ConnectedPair>(h3_pool(), h3_transport, h3_transport, client_handler,
                                            server_h3_.get(), &tls_);
    if (client_h3_) client_h3_->attach(pair_->client().conn.get());
    std::vector<rte_mbuf*> first;
    ASSERT_TRUE(pair_->start(&first));
    server_h3_->attach(pair_->server().conn.get());
    ASSERT_TRUE(pair_->complete(std::move(first)));
    run();
    EXPECT_TRUE(server_h3_->ready());
    if (client_h3_) {
      EXPECT_TRUE(client_h3_->ready());
      EXPECT_TRUE(client_h3_->settings_received());
      EXPECT_TRUE(server_h3_->settings_received());
    }
  }
  void run(Duration d = 200 * kMillisecond) { pair_->run_until(pair_->now + d); }
  Connection& client() { return *pair_->client().conn; }
  Connection& server() { return *pair_->server().conn; }

  std::optional<std::uint64_t> get(const std::string& path) {
    const QpackField f[] = {{":method", "GET"},
                            {":scheme", "https"},
                            {":authority", "example.com"},
                            {":path", path},
                            {"user-agent", "dquic-test"}};
    return client_h3_->send_request(f, {}, true);
  }
  // Raw client: writes `bytes` on a new stream (bidi or uni).
  std::uint64_t raw_stream(bool bidi, const Bytes& bytes, bool fin) {
    std::optional<std::uint64_t> id = client().open_stream(bidi);
    EXPECT_TRUE(id);
    EXPECT_EQ(client().write(*id, ByteSpan(bytes.data(), bytes.size()), fin),
              static_cast<std::int64_t>(bytes.size()));
    return *id;
  }
  std::uint64_t server_close_code() {
    const auto& ci = server().close_info();
    return ci ? ci->error_code : 0;
  }

  unsigned baseline_ = 0;
  std::uint64_t server_control_ = 0;
  std::function<void(Http3Config&)> server_config_;
  test::PairTls tls_;
  TestServer server_;
  TestClient client_;
  RawPeer raw_;
  std::unique_ptr<Http3Connection> server_h3_, client_h3_;
  std::unique_ptr<ConnectedPair> pair_;
};

const QpackField kGet[] = {
    {":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/size/5"}};

// ---------------------------------------------------------------- requests

// RFC 9001 §4.6: a resumed client's request in 0-RTT reaches the server
// before its handshake completes; the server must still be able to answer
// (its control and QPACK streams open then, not only at completion).
TEST_F(H3ConnectionTest, ServerAnswersRequestReceivedInZeroRtt) {
  tls_.enable_resumption(/*early_data=*/true);
  connect();
  ASSERT_FALSE(tls_.sessions.empty());
  const TlsSession session = tls_.sessions.back();
  ASSERT_TRUE(session.allows_early_data);
  pair_.reset();
  client_h3_.reset();
  server_h3_.reset();
  server_.requests.clear();
  server_.outs.clear();

  server_h3_ = std::make_unique<Http3Connection>(config(EndpointRole::kServer), &server_);
  server_.h3 = server_h3_.get();
  auto resume = [&session](ConnectionConfig& c) {
    h3_transport(c);
    c.resume = &session;
    c.early_data = true;
  };
  pair_ = std::make_unique<ConnectedPair>(h3_pool(), resume, h3_transport, &raw_, server_h3_.get(),
                                          &tls_);
  pair_->now = 10 * kSecond;  // after the ticket was issued
  std::vector<rte_mbuf*> first;
  ASSERT_TRUE(pair_->start(&first));
  server_h3_->attach(pair_->server().conn.get());
  ASSERT_TRUE(client().early_data_offered());
  const std::uint64_t id = raw_stream(true, headers_frame(kGet), true);
  std::vector<rte_mbuf*> early = pair_->send_all(pair_->client());  // 0-RTT
  ASSERT_FALSE(early.empty());
  first.insert(first.end(), early.begin(), early.end());
  ASSERT_TRUE(pair_->complete(std::move(first)));
  run();
  EXPECT_TRUE(server().early_data_accepted());
  EXPECT_GT(server().stats().zero_rtt_packets_received, 0u);
  ASSERT_TRUE(server_.requests.count(id));
  EXPECT_EQ(server_.requests[id].path, "/size/5");
  EXPECT_TRUE(server_.outs[id].done);  // headers, body and FIN were accepted
  EXPECT_TRUE(raw_.resets.empty());
  std::array<std::uint8_t, 256> buf{};
  bool fin = false;
  const std::int64_t n = client().read(id, buf, &fin);
  EXPECT_GT(n, 5);  // HEADERS and a 5-byte DATA frame
  EXPECT_TRUE(fin);
  EXPECT_TRUE(server_h3_->ready());
  EXPECT_EQ(server_h3_->stats().stream_errors, 0u);
}

// RFC 9001 §4.6.1, RFC 9114 §6.2: an HTTP/3 client attached to a connection
// that offers 0-RTT opens its control and QPACK streams at once, so that its
// request leaves in 0-RTT with them, and the response follows.
TEST_F(H3ConnectionTest, ClientSendsRequestInZeroRtt) {
  tls_.enable_resumption(/*early_data=*/true);
  connect();
  ASSERT_FALSE(tls_.sessions.empty());
  const TlsSession session = tls_.sessions.back();
  pair_.reset();
  client_h3_.reset();
  server_h3_.reset();
  server_.requests.clear();
  server_.outs.clear();
  client_.responses.clear();

  server_h3_ = std::make_unique<Http3Connection>(config(EndpointRole::kServer), &server_);
  server_.h3 = server_h3_.get();
  client_h3_ = std::make_unique<Http3Connection>(config(EndpointRole::kClient), &client_);
  auto resume = [&session](ConnectionConfig& c) {
    h3_transport(c);
    c.resume = &session;
    c.early_data = true;
  };
  pair_ = std::make_unique<ConnectedPair>(h3_pool(), resume, h3_transport, client_h3_.get(),
                                          server_h3_.get(), &tls_);
  pair_->now = 10 * kSecond;  // after the ticket was issued
  std::vector<rte_mbuf*> first;
  ASSERT_TRUE(pair_->start(&first));
  ASSERT_TRUE(client().early_data_offered());
  client_h3_->attach(&client());
  EXPECT_TRUE(client_h3_->ready());  // before the handshake completed
  server_h3_->attach(pair_->server().conn.get());
  const std::optional<std::uint64_t> id = get("/size/5");
  ASSERT_TRUE(id);
  std::vector<rte_mbuf*> early = pair_->send_all(pair_->client());  // 0-RTT
  ASSERT_FALSE(early.empty());
  EXPECT_GT(client().stats().zero_rtt_packets_sent, 0u);
  first.insert(first.end(), early.begin(), early.end());
  ASSERT_TRUE(pair_->complete(std::move(first)));
  run();
  EXPECT_TRUE(client().early_data_accepted());
  ASSERT_TRUE(server_.requests.count(*id));
  EXPECT_EQ(server_.requests[*id].path, "/size/5");
  const Message& m = client_.responses[*id];
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.body.size(), 5u);
  EXPECT_TRUE(m.ended);
  EXPECT_TRUE(server_h3_->settings_received());  // the client's, sent in 0-RTT
}

TEST_F(H3ConnectionTest, GetBodiesOfEverySize) {
  connect();
  for (std::size_t n : {std::size_t{0}, std::size_t{1024}, std::size_t{1} << 20}) {
    const auto id = get("/size/" + std::to_string(n));
    ASSERT_TRUE(id) << n;
    run(5 * kSecond);
    const Message& m = client_.responses[*id];
    EXPECT_EQ(m.status, 200) << n;
    EXPECT_TRUE(m.ended) << n;
    EXPECT_EQ(m.error, 0u);
    EXPECT_EQ(m.body, pattern(n, static_cast<std::uint8_t>(n))) << n;  // byte-exact
    EXPECT_TRUE(server_.requests[*id].ended);
  }
  EXPECT_EQ(server_h3_->stats().requests, 3u);
  EXPECT_FALSE(server_h3_->closed());
  EXPECT_FALSE(client_h3_->closed());
  EXPECT_EQ(server_h3_->stats().stream_errors, 0u);
  run(kSecond);
  EXPECT_EQ(client_h3_->active_streams(), 0u);
  EXPECT_EQ(server_h3_->active_streams(), 0u);
}

TEST_F(H3ConnectionTest, ParallelRequestsAndDynamicTable) {
  connect();
  std::vector<std::pair<std::uint64_t, std::size_t>> ids;
  for (std::size_t i = 0; i < 10; ++i) {
    const std::size_t n = 1000 * i + 7;
    const auto id = get("/size/" + std::to_string(n));
    ASSERT_TRUE(id);
    ids.emplace_back(*id, n);
  }
  run(5 * kSecond);
  for (auto [id, n] : ids) {
    const Message& m = client_.responses[id];
    EXPECT_TRUE(m.ended) << id;
    EXPECT_EQ(m.body, pattern(n, static_cast<std::uint8_t>(n))) << id;
    // QPACK round trip of a field the encoder puts in its dynamic table.
    bool has_server = false;
    for (auto& [k, v] : m.fields)
      has_server |= k == "server" && v == "dquic";
    EXPECT_TRUE(has_server);
  }
  EXPECT_EQ(server_.requests.size(), 10u);
  for (auto& [id, m] : server_.requests) {
    bool ua = false;
    for (auto& [k, v] : m.fields)
      ua |= k == "user-agent" && v == "dquic-test";
    EXPECT_TRUE(ua);
  }
}

TEST_F(H3ConnectionTest, TrailersAndRequestBody) {
  connect();
  const auto t = get("/trailers/3000");
  ASSERT_TRUE(t);
  const Bytes upload = pattern(5000, 3);
  const QpackField post[] = {{":method", "POST"},
                             {":scheme", "https"},
                             {":authority", "example.com"},
                             {":path", "/echo"},
                             {"content-length", "5000"}};
  const auto e = client_h3_->send_request(post, ByteSpan(upload.data(), upload.size()), true);
  ASSERT_TRUE(e);
  run(2 * kSecond);
  const Message& m = client_.responses[*t];
  EXPECT_TRUE(m.ended);
  EXPECT_EQ(m.body, pattern(3000, static_cast<std::uint8_t>(3000)));
  ASSERT_EQ(m.trailers.size(), 1u);
  EXPECT_EQ(m.trailers[0].first, "x-checksum");
  EXPECT_EQ(m.trailers[0].second, "3000");
  EXPECT_EQ(server_.requests[*e].body, upload);
  EXPECT_TRUE(client_.responses[*e].ended);
  EXPECT_EQ(client_.responses[*e].body, upload);
}

TEST_F(H3ConnectionTest, HeadResponseHasLengthButNoContent) {
  connect();
  const QpackField head[] = {{":method", "HEAD"},
                             {":scheme", "https"},
                             {":authority", "example.com"},
                             {":path", "/size/4096"}};
  const auto id = client_h3_->send_request(head, {}, true);
  ASSERT_TRUE(id);
  run();
  const Message& m = client_.responses[*id];
  EXPECT_EQ(m.status, 200);
  EXPECT_TRUE(m.ended);
  EXPECT_EQ(m.error, 0u);
  EXPECT_TRUE(m.body.empty());
  bool length = false;
  for (auto& [k, v] : m.fields)
    length |= k == "content-length" && v == "4096";
  EXPECT_TRUE(length);
}

TEST_F(H3ConnectionTest, InvalidRequestsAreRefusedLocally) {
  connect();
  const QpackField upper[] = {
      {":method", "GET"}, {":scheme", "https"}, {":authority", "a"}, {":path", "/"}, {"X-Up", "1"}};
  EXPECT_FALSE(client_h3_->send_request(upper, {}, true));
  EXPECT_FALSE(server_h3_->send_request(kGet, {}, true));  // servers do not request
}

// ---------------------------------------------------------------- stream errors

TEST_F(H3ConnectionTest, MalformedRequestIsMessageError) {
  connect(/*raw=*/true);
  raw_stream(false, control_with_settings(), false);
  const QpackField bad[] = {{":method", "GET"},
                            {":scheme", "https"},
                            {":authority", "a"},
                            {":path", "/"},
                            {"connection", "close"}};
  const std::uint64_t id = raw_stream(true, headers_frame(bad), true);
  run();
  // §4.1.2: a stream error, the connection lives on.
  EXPECT_EQ(raw_.resets[id], h3_code(H3Error::kMessageError));
  EXPECT_FALSE(server_h3_->closed());
  // Not handed to the application as a request; reported as a stream error.
  EXPECT_TRUE(server_.requests[id].path.empty());
  EXPECT_EQ(server_.requests[id].error, h3_code(H3Error::kMessageError));
  EXPECT_EQ(server_h3_->stats().stream_errors, 1u);
  // A good request on the same connection still works.
  const std::uint64_t ok = raw_stream(true, headers_frame(kGet), true);
  run();
  EXPECT_TRUE(server_.requests[ok].ended);
  EXPECT_EQ(raw_.resets.count(ok), 0u);
}

TEST_F(H3ConnectionTest, ContentLengthMismatchIsMessageError) {
  connect(true);
  raw_stream(false, control_with_settings(), false);
  const QpackField post[] = {{":method", "POST"},
                             {":scheme", "https"},
                             {":authority", "a"},
                             {":path", "/"},
                             {"content-length", "10"}};
  Bytes req = headers_frame(post);
  const Bytes data = {0x00, 0x04, 1, 2, 3, 4};  // 4 of 10 bytes, then FIN
  req.insert(req.end(), data.begin(), data.end());
  const std::uint64_t id = raw_stream(true, req, true);
  run();
  EXPECT_EQ(raw_.resets[id], h3_code(H3Error::kMessageError));
  EXPECT_FALSE(server_.requests[id].ended);
}

// ---------------------------------------------------------------- connection errors

TEST_F(H3ConnectionTest, DataBeforeHeadersIsFrameUnexpected) {
  connect(true);
  raw_stream(false, control_with_settings(), false);
  raw_stream(true, Bytes{0x00, 0x01, 0xaa}, true);
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kFrameUnexpected));
}

TEST_F(H3ConnectionTest, MissingSettingsIsConnectionError) {
  connect(true);
  Bytes ctl = {0x00};  // control stream, then GOAWAY instead of SETTINGS
  ctl.insert(ctl.end(), {0x07, 0x01, 0x00});
  raw_stream(false, ctl, false);
  run();
  EXPECT_TRUE(server_h3_->closed());
  EXPECT_EQ(server_h3_->error(), h3_code(H3Error::kMissingSettings));
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kMissingSettings));
  ASSERT_TRUE(client().close_info());
  EXPECT_FALSE(client().close_info()->local);
  EXPECT_EQ(client().close_info()->error_code, h3_code(H3Error::kMissingSettings));
}

TEST_F(H3ConnectionTest, DuplicateControlStreamIsStreamCreationError) {
  connect(true);
  raw_stream(false, control_with_settings(), false);
  run();
  EXPECT_FALSE(server_h3_->closed());
  raw_stream(false, control_with_settings(), false);
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kStreamCreationError));
}

TEST_F(H3ConnectionTest, ClosingControlStreamIsClosedCriticalStream) {
  connect(true);
  raw_stream(false, control_with_settings(), true);  // FIN
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kClosedCriticalStream));
}

TEST_F(H3ConnectionTest, SecondSettingsIsFrameUnexpected) {
  connect(true);
  Bytes ctl = control_with_settings();
  const Bytes again = {0x04, 0x00};
  ctl.insert(ctl.end(), again.begin(), again.end());
  raw_stream(false, ctl, false);
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kFrameUnexpected));
}

TEST_F(H3ConnectionTest, Http2SettingIsSettingsError) {
  connect(true);
  const Bytes ctl = {0x00, 0x04, 0x02, 0x02, 0x01};  // SETTINGS_ENABLE_PUSH (HTTP/2)
  raw_stream(false, ctl, false);
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kSettingsError));
}

TEST_F(H3ConnectionTest, PushStreamFromClientIsStreamCreationError) {
  connect(true);
  raw_stream(false, Bytes{0x01, 0x00}, false);
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kStreamCreationError));
}

TEST_F(H3ConnectionTest, UnknownStreamTypeIsStoppedAndIgnored) {
  connect(true);
  raw_stream(false, control_with_settings(), false);
  // A grease stream type (§6.2.3) with some bytes.
  const std::uint64_t id = raw_stream(false, Bytes{0x21, 1, 2, 3}, false);
  const std::uint64_t req = raw_stream(true, headers_frame(kGet), true);
  run();
  EXPECT_EQ(raw_.stops[id], h3_code(H3Error::kStreamCreationError));
  EXPECT_FALSE(server_h3_->closed());
  EXPECT_TRUE(server_.requests[req].ended);  // the connection goes on
}

TEST_F(H3ConnectionTest, IgnoredControlFramesAndMaxPushId) {
  connect(true);
  Bytes ctl = control_with_settings();
  // grease frame, PRIORITY_UPDATE (0xf0700, 4-byte varint), MAX_PUSH_ID 5.
  const Bytes more = {0x21, 0x02, 9, 9, 0x80, 0x0f, 0x07, 0x00, 0x02, 0x00, 0x00, 0x0d, 0x01, 0x05};
  ctl.insert(ctl.end(), more.begin(), more.end());
  const std::uint64_t c = raw_stream(false, ctl, false);
  run();
  EXPECT_FALSE(server_h3_->closed());
  EXPECT_GE(server_h3_->stats().ignored_frames, 2u);
  // MAX_PUSH_ID must not go down (§7.2.7).
  const Bytes lower = {0x0d, 0x01, 0x04};
  EXPECT_EQ(client().write(c, ByteSpan(lower.data(), lower.size()), false), 3);
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kIdError));
}

TEST_F(H3ConnectionTest, BlockedStreamResumesWhenInsertsArrive) {
  connect(true);
  raw_stream(false, control_with_settings(), false);
  // An encoder for the server's advertised table: the request references
  // an entry whose insert we hold back (RFC 9204 §2.1.2).
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 4096;
  ec.peer_blocked_streams = 16;
  QpackEncoder enc(ec);
  const QpackField f[] = {{":method", "GET"},
                          {":scheme", "https"},
                          {":authority", "example.com"},
                          {":path", "/size/100"},
                          {"x-custom-field", "a custom value"}};
  Bytes section(512), instr(512);
  Writer sw(section), iw(instr);
  const std::uint64_t id = 0;  // the raw client's first bidi stream
  ASSERT_EQ(enc.encode(id, f, sw, iw), QpackStatus::kOk);
  ASSERT_GT(iw.written(), 0u);
  Bytes req(sw.written() + 16);
  Writer rw(req);
  write_frame_header(rw, h3_type(H3FrameType::kHeaders), sw.written());
  rw.write_bytes(ByteSpan(section.data(), sw.written()));
  req.resize(rw.written());
  ASSERT_EQ(raw_stream(true, req, true), id);
  run();
  EXPECT_EQ(server_h3_->stats().blocked_sections, 1u);
  EXPECT_EQ(server_.requests.count(id), 0u);
  Bytes enc_stream = {kH3StreamQpackEncoder};
  enc_stream.insert(enc_stream.end(), instr.begin(), instr.begin() + iw.written());
  raw_stream(false, enc_stream, false);
  run();
  ASSERT_EQ(server_.requests.count(id), 1u);
  EXPECT_TRUE(server_.requests[id].ended);
  bool custom = false;
  for (auto& [k, v] : server_.requests[id].fields)
    custom |= k == "x-custom-field" && v == "a custom value";
  EXPECT_TRUE(custom);
  EXPECT_FALSE(server_h3_->closed());
}

// RFC 9204 §2.1.2: one blocked stream more than SETTINGS_QPACK_BLOCKED_STREAMS
// is QPACK_DECOMPRESSION_FAILED.
TEST_F(H3ConnectionTest, TooManyBlockedStreamsIsDecompressionFailed) {
  server_config_ = [](Http3Config& c) { c.qpack_blocked_streams = 1; };
  connect(true);
  raw_stream(false, control_with_settings(), false);
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 4096;
  ec.peer_blocked_streams = 2;  // more than the server allows
  QpackEncoder enc(ec);
  Bytes instr(1024);
  Writer iw(instr);
  for (std::uint64_t id : {0u, 4u}) {
    const std::string v = "value-" + std::to_string(id);
    const QpackField f[] = {{":method", "GET"},
                            {":scheme", "https"},
                            {":authority", "example.com"},
                            {":path", "/"},
                            {"x-field", v}};
    Bytes section(512);
    Writer sw(section);
    ASSERT_EQ(enc.encode(id, f, sw, iw), QpackStatus::kOk);
    Bytes req(sw.written() + 16);
    Writer rw(req);
    write_frame_header(rw, h3_type(H3FrameType::kHeaders), sw.written());
    rw.write_bytes(ByteSpan(section.data(), sw.written()));
    req.resize(rw.written());
    ASSERT_EQ(raw_stream(true, req, true), id);
    run();
    if (id == 0) {
      EXPECT_FALSE(server_h3_->closed());
      EXPECT_EQ(server_h3_->stats().blocked_sections, 1u);
    }
  }
  EXPECT_EQ(server_close_code(), kQpackDecompressionFailed);
}

// ---------------------------------------------------------------- GOAWAY

TEST_F(H3ConnectionTest, GoawayLetsInFlightRequestsFinish) {
  connect();
  server_.respond_at_once = false;
  const auto a = get("/size/2000");
  const auto b = get("/size/70000");
  ASSERT_TRUE(a && b);
  run();
  ASSERT_TRUE(server_.requests[*a].ended && server_.requests[*b].ended);
  server_h3_->shutdown();
  EXPECT_EQ(server_h3_->goaway_sent(), *b + 4);  // §5.2: first id not processed
  run();
  ASSERT_EQ(client_.goaways.size(), 1u);
  EXPECT_EQ(client_.goaways[0], *b + 4);
  EXPECT_FALSE(get("/size/1"));  // no new requests after GOAWAY
  EXPECT_FALSE(server_h3_->closed());
  server_.respond(*a);
  server_.respond(*b);
  run(2 * kSecond);
  EXPECT_TRUE(client_.responses[*a].ended);
  EXPECT_EQ(client_.responses[*b].body, pattern(70000, static_cast<std::uint8_t>(70000)));
  EXPECT_TRUE(client_.responses[*b].ended);
  // Then the server closes with H3_NO_ERROR.
  EXPECT_TRUE(server_h3_->closed());
  ASSERT_TRUE(client().close_info());
  EXPECT_EQ(client().close_info()->error_code, h3_code(H3Error::kNoError));
  EXPECT_TRUE(client().close_info()->application);
}

TEST_F(H3ConnectionTest, ClientGoawayIdMustNotIncrease) {
  connect(true);
  Bytes ctl = control_with_settings();
  raw_stream(false, ctl, false);
  run();
  // The raw client plays a server-like GOAWAY toward... the server takes
  // push IDs here: 4 then 8 is an increase (§5.2).
  const std::uint64_t c = 2;  // the raw client's first uni stream
  const Bytes g1 = {0x07, 0x01, 0x04}, g2 = {0x07, 0x01, 0x08};
  EXPECT_EQ(client().write(c, ByteSpan(g1.data(), g1.size()), false), 3);
  run();
  EXPECT_FALSE(server_h3_->closed());
  EXPECT_EQ(server_h3_->goaway_received(), 4u);
  EXPECT_EQ(client().write(c, ByteSpan(g2.data(), g2.size()), false), 3);
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kIdError));
}

TEST_F(H3ConnectionTest, RequestsBeyondGoawayAreRejected) {
  connect(true);
  raw_stream(false, control_with_settings(), false);
  const std::uint64_t a = raw_stream(true, headers_frame(kGet), false);  // in flight
  run();
  ASSERT_TRUE(server_.requests.count(a));
  server_.respond_at_once = false;
  server_h3_->shutdown();
  EXPECT_EQ(server_h3_->goaway_sent(), a + 4);
  const std::uint64_t late = raw_stream(true, headers_frame(kGet), true);
  run();
  EXPECT_EQ(raw_.resets[late], h3_code(H3Error::kRequestRejected));  // §5.2
  EXPECT_FALSE(server_h3_->closed());                                // `a` still open
  EXPECT_EQ(server_h3_->active_streams(), 1u);
}

TEST_F(H3ConnectionTest, OversizedHeadersIsStreamError) {
  connect(true);
  raw_stream(false, control_with_settings(), false);
  Bytes big = {0x01, 0x80, 0x00, 0x4e, 0x20};  // HEADERS of 20000 bytes > 16384
  big.resize(big.size() + 100, 0);
  const std::uint64_t id = raw_stream(true, big, false);
  run();
  EXPECT_EQ(raw_.resets[id], h3_code(H3Error::kExcessiveLoad));
  EXPECT_FALSE(server_h3_->closed());
}

TEST_F(H3ConnectionTest, TruncatedFrameAtFinIsFrameError) {
  connect(true);
  raw_stream(false, control_with_settings(), false);
  Bytes req = headers_frame(kGet);
  const Bytes partial = {0x00, 0x0a, 1, 2};  // DATA of 10, 2 bytes, FIN
  req.insert(req.end(), partial.begin(), partial.end());
  raw_stream(true, req, true);
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kFrameError));  // §7.1
}

TEST_F(H3ConnectionTest, RequestWithoutHeadersIsIncomplete) {
  connect(true);
  raw_stream(false, control_with_settings(), false);
  const std::uint64_t id = raw_stream(true, Bytes{0x21, 0x00}, true);  // only a grease frame
  run();
  EXPECT_EQ(raw_.resets[id], h3_code(H3Error::kRequestIncomplete));
}

TEST_F(H3ConnectionTest, ControlFramesOnRequestStreamAreUnexpected) {
  for (const Bytes& f : {Bytes{0x04, 0x00}, Bytes{0x07, 0x01, 0x00}, Bytes{0x0d, 0x01, 0x00},
                         Bytes{0x03, 0x01, 0x00}, Bytes{0x05, 0x01, 0x00}, Bytes{0x02, 0x00}}) {
    connect(true);
    raw_stream(false, control_with_settings(), false);
    Bytes req = headers_frame(kGet);
    req.insert(req.end(), f.begin(), f.end());
    raw_stream(true, req, false);
    run();
    EXPECT_EQ(server_close_code(), h3_code(H3Error::kFrameUnexpected)) << int(f[0]);
    pair_.reset();
    server_h3_.reset();
  }
}

TEST_F(H3ConnectionTest, PlacementIsCheckedBeforeSize) {
  connect(true);
  Bytes ctl = control_with_settings();
  ctl.insert(ctl.end(), {0x01, 0x80, 0x01, 0x00, 0x00});  // HEADERS of 64 KB on the control stream
  raw_stream(false, ctl, false);
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kFrameUnexpected));
}

TEST_F(H3ConnectionTest, OversizedSettingsIsExcessiveLoad) {
  connect(true);
  raw_stream(false, Bytes{0x00, 0x04, 0x48, 0x00}, false);  // SETTINGS of 2048 bytes
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kExcessiveLoad));
}

TEST_F(H3ConnectionTest, CancelPushIsIdError) {
  connect(true);
  Bytes ctl = control_with_settings();
  ctl.insert(ctl.end(), {0x03, 0x01, 0x00});
  raw_stream(false, ctl, false);
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kIdError));  // §7.2.3: never promised
}

TEST_F(H3ConnectionTest, BadEncoderStreamIsQpackError) {
  connect(true);
  raw_stream(false, control_with_settings(), false);
  // Insert with Name Reference to static index 127 (there are 99).
  raw_stream(false, Bytes{kH3StreamQpackEncoder, 0xff, 0x40, 0x01, 'a'}, false);
  run();
  EXPECT_EQ(server_close_code(), kQpackEncoderStreamError);
}

TEST_F(H3ConnectionTest, DuplicateEncoderStreamIsStreamCreationError) {
  connect(true);
  raw_stream(false, Bytes{kH3StreamQpackEncoder}, false);
  raw_stream(false, Bytes{kH3StreamQpackEncoder}, false);
  run();
  EXPECT_EQ(server_close_code(), h3_code(H3Error::kStreamCreationError));
}

TEST_F(H3ConnectionTest, PeerResetIsReported) {
  connect(true);
  raw_stream(false, control_with_settings(), false);
  const std::uint64_t id = raw_stream(true, headers_frame(kGet), false);
  run();
  ASSERT_TRUE(server_.requests.count(id));
  EXPECT_TRUE(client().reset_stream(id, h3_code(H3Error::kRequestCancelled)));
  run();
  EXPECT_EQ(server_.requests[id].error, h3_code(H3Error::kRequestCancelled));
  EXPECT_FALSE(server_h3_->closed());
}

// Zero-copy content: the DATA payload goes by reference to an mbuf.
class MbufServer final : public Http3Handler {
 public:
  Http3Connection* h3 = nullptr;
  rte_mempool* pool = nullptr;
  Bytes body;
  void on_message_end(std::uint64_t s) override {
    const std::string len = std::to_string(body.size());
    const QpackField f[] = {{"content-length", len}};
    ASSERT_TRUE(h3->send_response_headers(s, 200, f));
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    ASSERT_NE(m, nullptr);
    char* at = rte_pktmbuf_append(m, static_cast<std::uint16_t>(body.size()));
    ASSERT_NE(at, nullptr);
    std::memcpy(at, body.data(), body.size());
    EXPECT_TRUE(h3->send_body_mbuf(s, m, reinterpret_cast<const std::uint8_t*>(at), body.size()));
    rte_pktmbuf_free(m);  // the stack holds its own reference
    EXPECT_TRUE(h3->finish(s));
  }
};

TEST_F(H3ConnectionTest, ZeroCopyBody) {
  MbufServer app;
  app.pool = h3_pool();
  app.body = pattern(1500, 42);
  server_h3_ = std::make_unique<Http3Connection>(config(EndpointRole::kServer), &app);
  app.h3 = server_h3_.get();
  client_h3_ = std::make_unique<Http3Connection>(config(EndpointRole::kClient), &client_);
  pair_ = std::make_unique<ConnectedPair>(h3_pool(), h3_transport, h3_transport, client_h3_.get(),
                                          server_h3_.get(), &tls_);
  client_h3_->attach(pair_->client().conn.get());
  std::vector<rte_mbuf*> first;
  ASSERT_TRUE(pair_->start(&first));
  server_h3_->attach(pair_->server().conn.get());
  ASSERT_TRUE(pair_->complete(std::move(first)));
  run();
  const auto id = get("/x");
  ASSERT_TRUE(id);
  run(kSecond);
  EXPECT_TRUE(client_.responses[*id].ended);
  EXPECT_EQ(client_.responses[*id].body, app.body);
}

// ---------------------------------------------------------------- client side

TEST_F(H3ConnectionTest, ClientSkipsInterimResponses) {
  connect_raw_server();
  const auto id = get("/");
  ASSERT_TRUE(id);
  run();
  const QpackField early[] = {{":status", "103"}, {"link", "</a.css>; rel=preload"}};
  const QpackField final_head[] = {{":status", "200"}, {"content-length", "3"}};
  Bytes resp = headers_frame(early, *id);
  const Bytes h = headers_frame(final_head, *id);
  resp.insert(resp.end(), h.begin(), h.end());
  resp.insert(resp.end(), {0x00, 0x03, 'a', 'b', 'c'});
  server_write(*id, resp, true);
  run();
  const Message& m = client_.responses[*id];
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.body, (Bytes{'a', 'b', 'c'}));
  EXPECT_TRUE(m.ended);
}

// RFC 9204 §2.1.2: a response whose section waits for encoder inserts and
// whose FIN came with it. Our request was sent and acknowledged, so the
// transport closes the stream once the FIN is read; the waiting section
// must survive that and complete when the inserts arrive (found by the
// interop suite: ngtcp2 resent a lost response ahead of its inserts).
TEST_F(H3ConnectionTest, ClientBlockedResponseSurvivesStreamClose) {
  connect_raw_server();
  const auto id = get("/");
  ASSERT_TRUE(id);
  run();
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 4096;  // our client's advertised table
  ec.peer_blocked_streams = 16;
  QpackEncoder enc(ec);
  const QpackField f[] = {{":status", "200"}, {"x-custom-field", "a custom value"}};
  Bytes section(512), instr(512);
  Writer sw(section), iw(instr);
  ASSERT_EQ(enc.encode(*id, f, sw, iw), QpackStatus::kOk);
  ASSERT_GT(iw.written(), 0u);
  Bytes resp(sw.written() + 32);
  Writer rw(resp);
  write_frame_header(rw, h3_type(H3FrameType::kHeaders), sw.written());
  rw.write_bytes(ByteSpan(section.data(), sw.written()));
  resp.resize(rw.written());
  resp.insert(resp.end(), {0x00, 0x03, 'a', 'b', 'c'});
  server_write(*id, resp, true);
  run();
  EXPECT_EQ(client_h3_->stats().blocked_sections, 1u);
  EXPECT_FALSE(client_.responses[*id].ended);
  auto e = server().open_stream(false);
  ASSERT_TRUE(e);
  Bytes enc_stream = {kH3StreamQpackEncoder};
  enc_stream.insert(enc_stream.end(), instr.begin(), instr.begin() + iw.written());
  server_write(*e, enc_stream, false);
  run();
  const Message& m = client_.responses[*id];
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.body, (Bytes{'a', 'b', 'c'}));
  EXPECT_TRUE(m.ended);
  EXPECT_FALSE(client_h3_->closed());
  EXPECT_EQ(client_h3_->active_streams(), 0u);
}

TEST_F(H3ConnectionTest, ClientRejectsMalformedResponse) {
  connect_raw_server();
  const auto id = get("/");
  ASSERT_TRUE(id);
  run();
  const QpackField bad[] = {{":status", "200"}, {"Server", "x"}};
  server_write(*id, headers_frame(bad, *id), true);
  run();
  EXPECT_EQ(client_.responses[*id].error, h3_code(H3Error::kMessageError));
  EXPECT_FALSE(client_.responses[*id].ended);
  EXPECT_EQ(client_h3_->stats().stream_errors, 1u);
  EXPECT_FALSE(client_h3_->closed());
}

TEST_F(H3ConnectionTest, ClientConnectionErrors) {
  // A push stream: we never sent MAX_PUSH_ID (§4.6).
  connect_raw_server();
  auto p = server().open_stream(false);
  ASSERT_TRUE(p);
  server_write(*p, Bytes{kH3StreamPush, 0x00}, false);
  run();
  EXPECT_EQ(client_close_code(), h3_code(H3Error::kIdError));
  pair_.reset();
  client_h3_.reset();

  // GOAWAY naming a stream that is not client-initiated bidirectional (§5.2).
  connect_raw_server();
  server_write(server_control_, Bytes{0x07, 0x01, 0x02}, false);
  run();
  EXPECT_EQ(client_close_code(), h3_code(H3Error::kIdError));
  pair_.reset();
  client_h3_.reset();

  // A server-initiated bidirectional stream (§6.1).
  connect_raw_server();
  auto b = server().open_stream(true);
  ASSERT_TRUE(b);
  server_write(*b, Bytes{0x21, 0x00}, false);
  run();
  EXPECT_EQ(client_close_code(), h3_code(H3Error::kStreamCreationError));
  pair_.reset();
  client_h3_.reset();

  // MAX_PUSH_ID from a server (§7.2.7).
  connect_raw_server();
  server_write(server_control_, Bytes{0x0d, 0x01, 0x00}, false);
  run();
  EXPECT_EQ(client_close_code(), h3_code(H3Error::kFrameUnexpected));
  pair_.reset();
  client_h3_.reset();

  // PUSH_PROMISE on a request stream (§7.2.5: above any MAX_PUSH_ID).
  connect_raw_server();
  const auto id = get("/");
  ASSERT_TRUE(id);
  run();
  const QpackField ok[] = {{":status", "200"}};
  Bytes resp = headers_frame(ok, *id);
  resp.insert(resp.end(), {0x05, 0x02, 0x00, 0x00});
  server_write(*id, resp, false);
  run();
  EXPECT_EQ(client_close_code(), h3_code(H3Error::kIdError));
}

TEST_F(H3ConnectionTest, ClientGoawayRejectsLaterRequests) {
  connect_raw_server();
  const auto a = get("/a");
  const auto b = get("/b");
  ASSERT_TRUE(a && b);
  run();
  server_write(server_control_, Bytes{0x07, 0x01, static_cast<std::uint8_t>(*b)}, false);
  run();
  ASSERT_EQ(client_.goaways.size(), 1u);
  EXPECT_EQ(client_.goaways[0], *b);
  EXPECT_EQ(client_.responses[*b].error, h3_code(H3Error::kRequestRejected));  // retryable
  EXPECT_EQ(client_.responses[*a].error, 0u);
  EXPECT_FALSE(get("/c"));
  // A later GOAWAY may not raise the id.
  server_write(server_control_, Bytes{0x07, 0x01, static_cast<std::uint8_t>(*b + 4)}, false);
  run();
  EXPECT_EQ(client_close_code(), h3_code(H3Error::kIdError));
}

}  // namespace
}  // namespace dquic
