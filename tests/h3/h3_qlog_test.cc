// Http3Connection's frames reach the transport's ConnectionObserver (the
// qlog recorder's http3:frame_created / frame_parsed): a GET over a
// ConnectedPair (tests/sim/connected_pair.h) with a recording observer on
// each side.
#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <memory>
#include <optional>
#include <vector>

#include "h3/h3_connection.h"
#include "tests/sim/connected_pair.h"

namespace dquic {
namespace {

using test::ConnectedPair;

rte_mempool* pool() {
  static rte_mempool* p = rte_pktmbuf_pool_create(
      "h3qlog_test", 8191, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, static_cast<int>(rte_socket_id()));
  return p;
}

struct H3Frame {
  bool created = false;
  std::uint64_t stream = 0, type = 0, length = 0;
};

class Recorder final : public ConnectionObserver {
 public:
  void on_http3_frame(bool created, std::uint64_t stream, std::uint64_t type, std::uint64_t length,
                      Time) override {
    frames.push_back({created, stream, type, length});
  }
  std::optional<H3Frame> find(bool created, std::uint64_t stream, std::uint64_t type) const {
    for (const H3Frame& f : frames)
      if (f.created == created && f.stream == stream && f.type == type) return f;
    return std::nullopt;
  }
  std::vector<H3Frame> frames;
};

class Server final : public Http3Handler {
 public:
  Http3Connection* h3 = nullptr;
  void on_message_end(std::uint64_t s) override {
    ASSERT_TRUE(h3->send_response_headers(s, 200, {}));
    const std::uint8_t body[5] = {1, 2, 3, 4, 5};
    ASSERT_EQ(h3->send_body(s, ByteSpan(body, sizeof body)), 5);
    ASSERT_TRUE(h3->finish(s));
  }
};

class Client final : public Http3Handler {
 public:
  void on_message_end(std::uint64_t) override { ended = true; }
  bool ended = false;
};

void transport(ConnectionConfig& c) {
  c.transport.initial_max_data = 1 << 20;
  c.transport.initial_max_stream_data_bidi_local = 256 << 10;
  c.transport.initial_max_stream_data_bidi_remote = 256 << 10;
  c.transport.initial_max_stream_data_uni = 64 << 10;
  c.transport.initial_max_streams_bidi = 16;
  c.transport.initial_max_streams_uni = 8;
}

TEST(H3QlogTest, FramesCreatedAndParsedReachTheObserver) {
  ASSERT_NE(pool(), nullptr);
  Recorder client_rec, server_rec;
  test::PairTls tls;
  tls.server.alpn = {"h3"};
  tls.client.alpn = {"h3"};
  std::unique_ptr<ConnectedPair> pair;
  auto clock = [&pair] { return pair ? pair->now : Time{0}; };
  Http3Config cc;
  cc.role = EndpointRole::kClient;
  cc.clock = clock;
  Http3Config sc;
  sc.role = EndpointRole::kServer;
  sc.clock = clock;
  Client client;
  Server server;
  Http3Connection client_h3(cc, &client);
  Http3Connection server_h3(sc, &server);
  server.h3 = &server_h3;
  pair = std::make_unique<ConnectedPair>(
      pool(),
      [&](ConnectionConfig& c) {
        transport(c);
        c.observer = &client_rec;
      },
      [&](ConnectionConfig& c) {
        transport(c);
        c.observer = &server_rec;
      },
      &client_h3, &server_h3, &tls);
  client_h3.attach(pair->client().conn.get());
  std::vector<rte_mbuf*> first;
  ASSERT_TRUE(pair->start(&first));
  server_h3.attach(pair->server().conn.get());
  ASSERT_TRUE(pair->complete(std::move(first)));
  pair->run_until(pair->now + 200 * kMillisecond);
  ASSERT_TRUE(client_h3.ready());

  const QpackField get[] = {
      {":method", "GET"}, {":scheme", "https"}, {":authority", "a.example"}, {":path", "/"}};
  const std::optional<std::uint64_t> id = client_h3.send_request(get, {}, true);
  ASSERT_TRUE(id);
  pair->run_until(pair->now + 200 * kMillisecond);
  EXPECT_TRUE(client.ended);

  // RFC 9114 §6.2.1: SETTINGS first on each control stream (client 2, server 3).
  const auto settings_c = client_rec.find(true, 2, 0x04);
  const auto settings_s = server_rec.find(true, 3, 0x04);
  ASSERT_TRUE(settings_c && settings_s);
  EXPECT_GT(settings_c->length, 0u);
  const auto parsed_settings_s = server_rec.find(false, 2, 0x04);
  ASSERT_TRUE(parsed_settings_s);
  EXPECT_EQ(parsed_settings_s->length, settings_c->length);
  EXPECT_TRUE(client_rec.find(false, 3, 0x04));
  // The request's HEADERS as sent and as parsed; the response's HEADERS and DATA.
  const auto req = client_rec.find(true, *id, 0x01);
  const auto req_parsed = server_rec.find(false, *id, 0x01);
  ASSERT_TRUE(req && req_parsed);
  EXPECT_GT(req->length, 0u);
  EXPECT_EQ(req_parsed->length, req->length);
  ASSERT_TRUE(server_rec.find(true, *id, 0x01));
  const auto data = server_rec.find(true, *id, 0x00);
  const auto data_parsed = client_rec.find(false, *id, 0x00);
  ASSERT_TRUE(data && data_parsed);
  EXPECT_EQ(data->length, 5u);
  EXPECT_EQ(data_parsed->length, 5u);
  pair.reset();
}

}  // namespace
}  // namespace dquic
