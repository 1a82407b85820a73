// The perf protocol pieces of quic-perf (apps/quic-perf/perf_server.h,
// perf_client.h, pattern_source.h, latency_histogram.h) over an in-process
// connection pair (tests/sim/connected_pair.h: no crypto, virtual clock):
// requests complete with the asked-for sizes and the pattern, uploads are
// drained, the send budget bounds what the streams hold, and the protocol's
// edge cases (short request, too many streams, unlimited response ended by
// STOP_SENDING) behave as draft-banks-quic-performance-01 §2.3 says.
#include "apps/quic-perf/perf_protocol.h"

#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <array>
#include <memory>
#include <vector>

#include "apps/quic-perf/latency_histogram.h"
#include "apps/quic-perf/pattern_source.h"
#include "apps/quic-perf/perf_client.h"
#include "apps/quic-perf/perf_server.h"
#include "tests/sim/connected_pair.h"

namespace dquic::perf {
namespace {

rte_mempool* test_pool() {
  static rte_mempool* pool =
      rte_pktmbuf_pool_create("perf_test", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  return pool;
}

TEST(PerfProtocol, RequestSizeIsBigEndian64) {
  std::array<std::uint8_t, kRequestHeaderSize> b{};
  encode_request_size(0x0102030405060708ull, b);
  EXPECT_EQ(b, (std::array<std::uint8_t, 8>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(decode_request_size(b), 0x0102030405060708ull);
  encode_request_size(kUnlimitedResponse, b);
  EXPECT_EQ(b, (std::array<std::uint8_t, 8>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
  encode_request_size(0, b);
  EXPECT_EQ(decode_request_size(b), 0u);
}

TEST(LatencyHistogram, PercentilesWithinBucketPrecision) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(50), 0u);
  for (std::uint64_t v = 1; v <= 100000; ++v)
    h.record(v * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100000000u);
  auto near = [](std::uint64_t got, double want) {
    return got >= want * 0.99 && got <= want * 1.035;
  };
  EXPECT_TRUE(near(h.percentile(50), 50e6)) << h.percentile(50);
  EXPECT_TRUE(near(h.percentile(90), 90e6)) << h.percentile(90);
  EXPECT_TRUE(near(h.percentile(99), 99e6)) << h.percentile(99);
  EXPECT_TRUE(near(h.percentile(99.9), 99.9e6)) << h.percentile(99.9);
  EXPECT_EQ(h.percentile(100), 100000000u);
  LatencyHistogram small;
  for (std::uint64_t v = 0; v < 64; ++v)
    small.record(v);  // exact below 64
  EXPECT_EQ(small.percentile(50), 31u);
  small.merge(h);
  EXPECT_EQ(small.count(), 100064u);
  EXPECT_EQ(small.min(), 0u);
}

class PerfPairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(test_pool(), nullptr);
    baseline_ = rte_mempool_in_use_count(test_pool());
    std::string err;
    server_pattern_ = PatternSource::create(SOCKET_ID_ANY, 64, &err);
    client_pattern_ = PatternSource::create(SOCKET_ID_ANY, 64, &err);
    ASSERT_NE(server_pattern_, nullptr) << err;
    ASSERT_NE(client_pattern_, nullptr) << err;
    sctx_.pattern = server_pattern_.get();
    sctx_.scratch = scratch_s_;
    cctx_.pattern = client_pattern_.get();
    cctx_.scratch = scratch_c_;
  }
  void TearDown() override {
    pair_.reset();  // connections release their pattern references first
    EXPECT_EQ(server_pattern_->chunks_held(), 0u);
    EXPECT_EQ(client_pattern_->chunks_held(), 0u);
    server_pattern_.reset();
    client_pattern_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(test_pool()), baseline_) << "mbufs leaked";
  }

  // Larger windows than the pair's defaults so transfers take few steps.
  // The client handler is the client connection's from the start; it is
  // attached (and may start) once the handshake is done.
  void connect(const PerfRequestSpec& spec = {}, std::uint64_t window = 1 << 20) {
    server_ = std::make_unique<PerfServerConnection>(&sctx_);
    client_ = std::make_unique<PerfClientConnection>(spec, &cctx_);
    auto tweak = [window](ConnectionConfig& c) {
      c.transport.initial_max_data = 4 * window;
      c.transport.initial_max_stream_data_bidi_local = window;
      c.transport.initial_max_stream_data_bidi_remote = window;
      c.max_stream_window = window;
      c.max_connection_window = 4 * window;
    };
    pair_ = std::make_unique<test::ConnectedPair>(test_pool(), tweak, tweak, client_.get(),
                                                  server_.get());
    cctx_.now = [this] { return pair_->now; };
    ASSERT_TRUE(pair_->handshake());
    server_->attach(pair_->server().conn.get());
    client_->attach(pair_->client().conn.get());
  }
  // Like the worker app's on_poll: handlers waiting for budget get pumped.
  template <class H>
  static void pump_waiting(std::vector<H*>& list) {
    std::vector<H*> now;
    now.swap(list);
    for (H* h : now) {
      h->clear_waiting();
      h->pump();
    }
  }
  template <class Done>
  void drive(Done done, int max_rounds = 20000) {
    for (int i = 0; i < max_rounds && !done(); ++i) {
      pair_->run_until(pair_->now + kMillisecond);
      EXPECT_LE(server_pattern_->chunks_held(), server_pattern_->budget_chunks());
      EXPECT_LE(client_pattern_->chunks_held(), client_pattern_->budget_chunks());
      pump_waiting(sctx_.waiting);
      pump_waiting(cctx_.waiting);
    }
  }

  unsigned baseline_ = 0;
  std::array<std::uint8_t, 16384> scratch_s_{}, scratch_c_{};
  std::unique_ptr<PatternSource> server_pattern_, client_pattern_;
  PerfServerContext sctx_;
  PerfClientContext cctx_;
  std::unique_ptr<PerfServerConnection> server_;
  std::unique_ptr<PerfClientConnection> client_;
  std::unique_ptr<test::ConnectedPair> pair_;
};

TEST_F(PerfPairTest, DownloadRequestsCompleteWithPatternAndLatency) {
  PerfRequestSpec spec;
  spec.download = 300000;  // not a multiple of the chunk
  spec.concurrent = 3;
  spec.requests = 7;
  spec.verify = true;
  connect(spec);
  PerfClientConnection* c = client_.get();
  c->start();
  EXPECT_EQ(c->in_flight(), 3u);
  drive([&] { return c->done(); });
  ASSERT_TRUE(c->done());
  EXPECT_EQ(c->completed(), 7u);
  EXPECT_EQ(c->failed(), 0u);
  EXPECT_EQ(cctx_.stats.bytes_received, 7u * 300000);
  EXPECT_EQ(cctx_.stats.mismatches, 0u);
  EXPECT_EQ(cctx_.stats.latency.count(), 7u);
  EXPECT_GT(cctx_.stats.latency.min(), 0u);
  EXPECT_EQ(sctx_.stats.responses_completed, 7u);
  EXPECT_EQ(sctx_.stats.bytes_queued, 7u * 300000);
  EXPECT_EQ(sctx_.stats.invalid + sctx_.stats.rejected, 0u);
  // The stream table is released as streams close.
  pair_->run_until(pair_->now + 100 * kMillisecond);
  EXPECT_EQ(server_->tracked_streams(), 0u);
}

TEST_F(PerfPairTest, UploadIsDrainedAndZeroResponseIsJustFin) {
  PerfRequestSpec spec;
  spec.upload = 200000;
  spec.download = 0;
  spec.concurrent = 2;
  spec.requests = 4;
  connect(spec);
  PerfClientConnection* c = client_.get();
  c->start();
  drive([&] { return c->done(); });
  ASSERT_TRUE(c->done());
  EXPECT_EQ(c->completed(), 4u);
  EXPECT_EQ(cctx_.stats.bytes_uploaded, 4u * 200000);
  EXPECT_EQ(sctx_.stats.bytes_uploaded, 4u * 200000);
  EXPECT_EQ(cctx_.stats.bytes_received, 0u);
  EXPECT_EQ(sctx_.stats.responses_completed, 4u);
}

TEST_F(PerfPairTest, BudgetBoundsChunksHeldAndTransferStillCompletes) {
  std::string err;
  server_pattern_ = PatternSource::create(SOCKET_ID_ANY, 2, &err);
  ASSERT_NE(server_pattern_, nullptr) << err;
  sctx_.pattern = server_pattern_.get();
  PerfRequestSpec spec;
  spec.download = 1 << 20;
  spec.concurrent = 2;
  spec.requests = 2;
  connect(spec);
  PerfClientConnection* c = client_.get();
  c->start();
  EXPECT_LE(server_pattern_->chunks_held(), 2u);
  drive([&] { return c->done(); });
  ASSERT_TRUE(c->done());
  EXPECT_EQ(c->completed(), 2u);
  EXPECT_EQ(cctx_.stats.bytes_received, 2u << 20);
}

TEST_F(PerfPairTest, RequestShorterThanEightBytesIsIgnoredAndClosed) {
  connect();
  Connection& cc = *pair_->client().conn;
  const std::optional<std::uint64_t> id = cc.open_stream(true);
  ASSERT_TRUE(id.has_value());
  const std::uint8_t three[3] = {0, 0, 1};
  ASSERT_EQ(cc.write(*id, ByteSpan(three, 3), true), 3);
  pair_->run_until(pair_->now + 50 * kMillisecond);
  EXPECT_EQ(sctx_.stats.invalid, 1u);
  EXPECT_EQ(sctx_.stats.responses_completed, 0u);
  std::array<std::uint8_t, 16> buf;
  bool fin = false;
  EXPECT_EQ(cc.read(*id, buf, &fin), 0);
  EXPECT_TRUE(fin);  // the server closed its side with nothing
}

TEST_F(PerfPairTest, StreamsBeyondTheTableAreRejected) {
  sctx_.max_streams = 1;
  PerfRequestSpec spec;
  spec.download = 1000;
  spec.concurrent = 2;
  spec.requests = 2;
  connect(spec);
  PerfClientConnection* c = client_.get();
  c->start();
  drive([&] { return c->done(); });
  ASSERT_TRUE(c->done());
  EXPECT_EQ(c->completed(), 1u);
  EXPECT_EQ(c->failed(), 1u);
  EXPECT_EQ(sctx_.stats.rejected, 1u);
}

TEST_F(PerfPairTest, UnlimitedResponseEndsWithStopSending) {
  connect();
  Connection& cc = *pair_->client().conn;
  const std::optional<std::uint64_t> id = cc.open_stream(true);
  ASSERT_TRUE(id.has_value());
  std::array<std::uint8_t, kRequestHeaderSize> h;
  encode_request_size(kUnlimitedResponse, h);
  ASSERT_EQ(cc.write(*id, ByteSpan(h.data(), h.size()), true), 8);
  std::uint64_t received = 0;
  std::array<std::uint8_t, 16384> buf;
  for (int i = 0; i < 200 && received < (4u << 20); ++i) {
    pair_->run_until(pair_->now + kMillisecond);
    pump_waiting(sctx_.waiting);
    bool fin = false;
    std::int64_t n = 0;
    while ((n = cc.read(*id, buf, &fin)) > 0)
      received += static_cast<std::uint64_t>(n);
    ASSERT_FALSE(fin);
  }
  EXPECT_GE(received, 4u << 20);
  ASSERT_TRUE(cc.stop_sending(*id, kErrorNone));
  for (int i = 0; i < 100; ++i) {
    pair_->run_until(pair_->now + kMillisecond);
    pump_waiting(sctx_.waiting);
  }
  EXPECT_EQ(sctx_.stats.stopped, 1u);
  EXPECT_EQ(sctx_.stats.responses_completed, 0u);
  EXPECT_EQ(server_pattern_->chunks_held(), 0u);  // the reset released every chunk
}

}  // namespace
}  // namespace dquic::perf
