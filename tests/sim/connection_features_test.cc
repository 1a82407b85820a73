// Connection features between two real connections (tests/sim/connected_pair.h):
// DATAGRAM frames (RFC 9221), keep-alive and the handshake timeout (RFC 9000
// §10.1), STREAMS_BLOCKED (§4.6, §19.14), the peer's connection IDs and
// RETIRE_CONNECTION_ID (§5.1, §19.15-16), and the app-limited rule of
// RFC 9002 §7.8.
#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "quic/packet_header.h"
#include "quic/packet_header_encode.h"
#include "quic/retry_integrity.h"
#include "tests/sim/connected_pair.h"

namespace dquic {
namespace {

using test::Bytes;
using test::ConnectedPair;

rte_mempool* feature_pool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create(
      "cfeat_test", 4095, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM, static_cast<int>(rte_socket_id()));
  return pool;
}

class Recorder final : public ConnectionHandler {
 public:
  void on_datagram(ByteSpan data) override { datagrams.emplace_back(data.begin(), data.end()); }
  void on_streams_available(bool bidi) override { (bidi ? bidi_available : uni_available)++; }
  std::vector<Bytes> datagrams;
  int bidi_available = 0, uni_available = 0;
};

// Counts the frames of each kind a connection sent, with their `offset`
// field (the limit of a *_BLOCKED frame, the sequence of a RETIRE).
class SentFrames final : public ConnectionObserver {
 public:
  void on_packet_sent(const SentPacket& p, Time) override {
    ++packets;
    for (std::size_t i = 0; i < p.frame_count; ++i)
      frames.push_back(p.frames[i]);
  }
  std::vector<std::uint64_t> offsets(SentFrame::Kind k) const {
    std::vector<std::uint64_t> out;
    for (const SentFrame& f : frames)
      if (f.kind == k) out.push_back(f.offset);
    return out;
  }
  std::vector<SentFrame> frames;
  std::uint64_t packets = 0;
};

class ConnectionFeaturesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(feature_pool(), nullptr);
    baseline_ = rte_mempool_in_use_count(feature_pool());
  }
  void TearDown() override {
    pair_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(feature_pool()), baseline_) << "mbufs leaked";
  }
  void connect(test::ConfigTweak client = {}, test::ConfigTweak server = {}) {
    auto c = [this, client](ConnectionConfig& cfg) {
      cfg.observer = &client_sent_;
      if (client) client(cfg);
    };
    pair_ = std::make_unique<ConnectedPair>(feature_pool(), c, server, &client_app_, &server_app_);
    ASSERT_TRUE(pair_->handshake());
  }
  Connection& client() { return *pair_->client().conn; }
  Connection& server() { return *pair_->server().conn; }

  unsigned baseline_ = 0;
  Recorder client_app_, server_app_;
  SentFrames client_sent_;
  std::unique_ptr<ConnectedPair> pair_;
};

ByteSpan span(const Bytes& b) {
  return {b.data(), b.size()};
}

Bytes pattern(std::size_t n, std::uint8_t seed) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i)
    b[i] = static_cast<std::uint8_t>(seed + i * 7);
  return b;
}

// ---------------------------------------------------------------- DATAGRAM

void allow_datagrams(ConnectionConfig& c) {
  c.transport.max_datagram_frame_size = 65535;
}

// RFC 9221 §5: both directions, in order, content intact.
TEST_F(ConnectionFeaturesTest, DatagramsFlowBothWays) {
  connect(allow_datagrams, allow_datagrams);
  const Bytes a = pattern(5, 1), b = pattern(900, 2), c = pattern(1, 3);
  ASSERT_TRUE(client().send_datagram(span(a)));
  ASSERT_TRUE(client().send_datagram(span(b)));
  ASSERT_TRUE(server().send_datagram(span(c)));
  pair_->run_until(pair_->now + 50 * kMillisecond);
  ASSERT_EQ(server_app_.datagrams.size(), 2u);
  EXPECT_EQ(server_app_.datagrams[0], a);
  EXPECT_EQ(server_app_.datagrams[1], b);
  ASSERT_EQ(client_app_.datagrams.size(), 1u);
  EXPECT_EQ(client_app_.datagrams[0], c);
  EXPECT_EQ(client_sent_.offsets(SentFrame::Kind::kDatagram).size(), 2u);
}

// The send queue is bounded; once drained it takes datagrams again.
TEST_F(ConnectionFeaturesTest, DatagramQueueIsBoundedAndDrains) {
  connect(allow_datagrams, allow_datagrams);
  std::size_t queued = 0;
  while (queued < 1000 &&
         client().send_datagram(span(pattern(100, static_cast<std::uint8_t>(queued)))))
    ++queued;
  EXPECT_GT(queued, 0u);
  EXPECT_LT(queued, 1000u);  // bounded
  pair_->run_until(pair_->now + 100 * kMillisecond);
  ASSERT_EQ(server_app_.datagrams.size(), queued);
  for (std::size_t i = 0; i < queued; ++i)
    EXPECT_EQ(server_app_.datagrams[i], pattern(100, static_cast<std::uint8_t>(i)));
  EXPECT_TRUE(client().send_datagram(span(pattern(100, 0))));
}

// RFC 9221 §3: only if the peer advertised max_datagram_frame_size.
TEST_F(ConnectionFeaturesTest, DatagramNotSentUnlessThePeerAllowsIt) {
  connect(allow_datagrams, {});  // the server does not allow them
  EXPECT_FALSE(client().send_datagram(span(pattern(10, 0))));
  EXPECT_TRUE(server().send_datagram(span(pattern(10, 0))));
}

// RFC 9221 §3: the frame (type, length, data) must fit the peer's limit.
TEST_F(ConnectionFeaturesTest, DatagramLargerThanThePeerAllowsIsRefused) {
  connect({}, [](ConnectionConfig& c) { c.transport.max_datagram_frame_size = 103; });
  EXPECT_TRUE(client().send_datagram(span(pattern(100, 0))));  // 1 + 2 + 100 bytes
  EXPECT_FALSE(client().send_datagram(span(pattern(101, 0))));
}

// RFC 9221 §5: a DATAGRAM frame never spans packets. The largest one
// accepted must arrive; anything that could never fit a packet is refused
// rather than left at the head of the queue forever.
TEST_F(ConnectionFeaturesTest, DatagramTooLargeForAPacketIsRefused) {
  connect(allow_datagrams, allow_datagrams);
  std::size_t largest = 0;
  for (std::size_t n = 1300; n >= 1000 && largest == 0; --n)
    if (client().send_datagram(span(pattern(n, 9)))) largest = n;
  ASSERT_GT(largest, 1100u);
  EXPECT_LT(largest, 1200u);
  pair_->run_until(pair_->now + 200 * kMillisecond);
  ASSERT_FALSE(server_app_.datagrams.empty());
  EXPECT_EQ(server_app_.datagrams.back(), pattern(largest, 9));
}

// ---------------------------------------------------------------- idle, keep-alive

void idle_1s(ConnectionConfig& c) {
  c.transport.max_idle_timeout = 1000;
}

// Control: without keep-alive an idle connection times out, silently.
TEST_F(ConnectionFeaturesTest, IdleConnectionTimesOut) {
  connect(idle_1s, idle_1s);
  pair_->run_until(pair_->now + 3 * kSecond);
  EXPECT_EQ(client().state(), ConnectionState::kClosed);
  EXPECT_EQ(server().state(), ConnectionState::kClosed);
  ASSERT_TRUE(client().close_info().has_value());
  EXPECT_EQ(client().close_info()->reason, "idle timeout");
}

// RFC 9000 §10.1.2: PINGs keep it open.
TEST_F(ConnectionFeaturesTest, KeepAliveKeepsAnIdleConnectionOpen) {
  connect(
      [](ConnectionConfig& c) {
        idle_1s(c);
        c.keep_alive = 300 * kMillisecond;
      },
      idle_1s);
  pair_->run_until(pair_->now + 10 * kSecond);
  EXPECT_EQ(client().state(), ConnectionState::kConnected);
  EXPECT_EQ(server().state(), ConnectionState::kConnected);
  const std::size_t pings = client_sent_.offsets(SentFrame::Kind::kPing).size();
  EXPECT_GE(pings, 25u);  // one per 300 ms of silence over 10 s
  EXPECT_LE(pings, 40u);
}

// A silent peer gets one PING per keep-alive period, not a PING every time
// the timer is checked; the idle timeout then ends the connection.
TEST_F(ConnectionFeaturesTest, KeepAliveToASilentPeerDoesNotStorm) {
  connect(
      [](ConnectionConfig& c) {
        idle_1s(c);
        c.keep_alive = 100 * kMillisecond;
      },
      idle_1s);
  const std::uint64_t before = client_sent_.packets;
  pair_->run_until(pair_->now + 3 * kSecond, /*to_server=*/false, /*to_client=*/false);
  EXPECT_EQ(client().state(), ConnectionState::kClosed);
  // Keep-alives (at most 10 in the 1 s idle period) plus PTO probes.
  EXPECT_LE(client_sent_.packets - before, 30u);
}

void no_idle_timeout(ConnectionConfig& c) {
  c.transport.max_idle_timeout = 0;
}

// With no idle timeout negotiated, a handshake that never completes still
// ends (ConnectionConfig::handshake_timeout).
TEST_F(ConnectionFeaturesTest, HandshakeTimesOutWithoutIdleTimeout) {
  pair_ = std::make_unique<ConnectedPair>(feature_pool(), [](ConnectionConfig& c) {
    no_idle_timeout(c);
    c.handshake_timeout = 2 * kSecond;
  });
  ASSERT_TRUE(client().start(0));
  pair_->run_until(1900 * kMillisecond);  // no server: the Initials go nowhere
  EXPECT_EQ(client().state(), ConnectionState::kHandshaking);
  pair_->run_until(2100 * kMillisecond);
  EXPECT_EQ(client().state(), ConnectionState::kClosed);
  ASSERT_TRUE(client().close_info().has_value());
  EXPECT_EQ(client().close_info()->reason, "handshake timeout");
}

// Control: with the handshake timeout off and no idle timeout, only the
// PTO backoff runs: the connection is still there much later.
TEST_F(ConnectionFeaturesTest, HandshakeTimeoutOffLeavesTheAttemptRunning) {
  pair_ = std::make_unique<ConnectedPair>(feature_pool(), [](ConnectionConfig& c) {
    no_idle_timeout(c);
    c.handshake_timeout = 0;
  });
  ASSERT_TRUE(client().start(0));
  pair_->run_until(60 * kSecond);
  EXPECT_EQ(client().state(), ConnectionState::kHandshaking);
}

// The default applies to a completed handshake not at all.
TEST_F(ConnectionFeaturesTest, HandshakeTimeoutDoesNotCloseAnEstablishedConnection) {
  connect(no_idle_timeout, no_idle_timeout);
  pair_->run_until(pair_->now + 30 * kSecond);
  EXPECT_EQ(client().state(), ConnectionState::kConnected);
  EXPECT_EQ(server().state(), ConnectionState::kConnected);
}

// ---------------------------------------------------------------- STREAMS_BLOCKED

// RFC 9000 §4.6: blocked by the peer's stream limit, we say so once per
// limit value; when the peer raises it the application hears of it.
TEST_F(ConnectionFeaturesTest, StreamsBlockedIsSentOncePerLimit) {
  connect();
  std::vector<std::uint64_t> ids;
  while (std::optional<std::uint64_t> id = client().open_stream(true))
    ids.push_back(*id);
  ASSERT_EQ(ids.size(), test::kPairMaxBidi);
  EXPECT_FALSE(client().open_stream(true).has_value());  // asked twice
  pair_->run_until(pair_->now + 50 * kMillisecond);
  EXPECT_EQ(client_sent_.offsets(SentFrame::Kind::kStreamsBlockedBidi),
            std::vector<std::uint64_t>{test::kPairMaxBidi});
  EXPECT_TRUE(client_sent_.offsets(SentFrame::Kind::kStreamsBlockedUni).empty());

  // Finish every stream both ways: the server gives the credit back with
  // MAX_STREAMS.
  for (std::uint64_t id : ids)
    ASSERT_EQ(client().write(id, {}, true), 0);
  pair_->run_until(pair_->now + 50 * kMillisecond);
  for (std::uint64_t id : ids) {
    std::array<std::uint8_t, 4> buf{};
    bool fin = false;
    (void)server().read(id, buf, &fin);
    EXPECT_TRUE(fin);
    ASSERT_EQ(server().write(id, {}, true), 0);
  }
  pair_->run_until(pair_->now + 100 * kMillisecond);
  EXPECT_GE(client_app_.bidi_available, 1);
  std::optional<std::uint64_t> more = client().open_stream(true);
  ASSERT_TRUE(more.has_value());
  EXPECT_EQ(client_sent_.offsets(SentFrame::Kind::kStreamsBlockedBidi).size(), 1u);
}

// An application that never asks for more streams than allowed never
// sends STREAMS_BLOCKED.
TEST_F(ConnectionFeaturesTest, StreamsBlockedNotSentWithoutAFailedOpen) {
  connect();
  for (std::uint64_t i = 0; i < test::kPairMaxUni; ++i)
    ASSERT_TRUE(client().open_stream(false).has_value());
  pair_->run_until(pair_->now + 50 * kMillisecond);
  EXPECT_TRUE(client_sent_.offsets(SentFrame::Kind::kStreamsBlockedUni).empty());
}

// ---------------------------------------------------------------- connection IDs

NewConnectionIdFrame ncid(std::uint64_t seq, std::uint64_t retire_prior_to,
                          std::vector<std::uint8_t>& storage, std::uint8_t fill) {
  storage.assign(8, fill);
  NewConnectionIdFrame f;
  f.sequence_number = seq;
  f.retire_prior_to = retire_prior_to;
  f.connection_id = ByteSpan(storage.data(), storage.size());
  f.stateless_reset_token.fill(fill);
  return f;
}

// RFC 9000 §5.1.2, §19.15: Retire Prior To moves us to the new CID and we
// send RETIRE_CONNECTION_ID for the old one, which the peer accepts.
TEST_F(ConnectionFeaturesTest, RetirePriorToSwitchesCidAndRetiresTheOld) {
  connect();
  std::vector<std::uint8_t> cid;
  pair_->inject(pair_->client(), test::encode_frames({ncid(1, 1, cid, 0x51)}));
  ASSERT_EQ(client().state(), ConnectionState::kConnected);
  EXPECT_TRUE(same_bytes(client().peer_cid().span(), ByteSpan(cid.data(), cid.size())));
  pair_->run_until(pair_->now + 10 * kMillisecond);
  // The server cannot read it: the injected CID is not one it owns, so only
  // the client's side is checked.
  EXPECT_EQ(client_sent_.offsets(SentFrame::Kind::kRetireConnectionId),
            std::vector<std::uint64_t>{0});
  EXPECT_EQ(client().state(), ConnectionState::kConnected);
}

// A repeated frame is not an error (§19.15), and a spare CID does not change
// the CID in use.
TEST_F(ConnectionFeaturesTest, RepeatedNewConnectionIdIsAccepted) {
  connect();
  const ConnectionId before = client().peer_cid();
  std::vector<std::uint8_t> cid;
  const Bytes frame = test::encode_frames({ncid(1, 0, cid, 0x52)});
  pair_->inject(pair_->client(), frame);
  pair_->inject(pair_->client(), frame);
  EXPECT_EQ(client().state(), ConnectionState::kConnected);
  EXPECT_EQ(client().peer_cid(), before);
}

// ---------------------------------------------------------------- app-limited

// RFC 9002 §7.8: a sender that never fills its window must not grow it.
TEST_F(ConnectionFeaturesTest, AppLimitedSenderDoesNotGrowTheWindow) {
  connect();
  const std::uint64_t initial = client().congestion().congestion_window();
  const std::optional<std::uint64_t> id = client().open_stream(false);
  ASSERT_TRUE(id.has_value());
  const Bytes chunk = pattern(500, 4);
  for (int i = 0; i < 20; ++i) {  // 10 KB over 1 s: below the stream window
    ASSERT_EQ(client().write(*id, span(chunk), false), 500);
    pair_->run_until(pair_->now + 50 * kMillisecond);
  }
  EXPECT_EQ(client().congestion().congestion_window(), initial);
}

// Control for the test above: a sender with more to send than the window
// grows it.
TEST_F(ConnectionFeaturesTest, WindowLimitedSenderGrowsTheWindow) {
  auto big = [](ConnectionConfig& c) {
    c.transport.initial_max_data = 1 << 22;
    c.transport.initial_max_stream_data_uni = 1 << 22;
    c.max_stream_window = c.max_connection_window = 1 << 22;
  };
  connect(big, big);
  const std::uint64_t initial = client().congestion().congestion_window();
  const std::optional<std::uint64_t> id = client().open_stream(false);
  ASSERT_TRUE(id.has_value());
  const Bytes data = pattern(200000, 5);
  ASSERT_EQ(client().write(*id, span(data), true), 200000);
  pair_->run_until(pair_->now + 200 * kMillisecond);
  EXPECT_GT(client().congestion().congestion_window(), initial);
}

// ---------------------------------------------------------------- amplification

// RFC 9000 §8.1: before the client's address is validated the server sends at
// most three times what it received, PTO probes included, however long it
// waits for the client.
TEST_F(ConnectionFeaturesTest, ServerSendsAtMostThreeTimesWhatItReceived) {
  pair_ = std::make_unique<ConnectedPair>(feature_pool());
  std::vector<rte_mbuf*> first;
  ASSERT_TRUE(pair_->start(&first));
  pair_->deliver(pair_->server(), first);
  pair_->run_until(pair_->now + 9 * kSecond, /*to_server=*/false, /*to_client=*/false);
  const ConnectionStats& st = server().stats();
  EXPECT_EQ(st.bytes_received, 1200u);
  EXPECT_GT(st.bytes_sent, 2400u);  // it used most of its credit
  EXPECT_LE(st.bytes_sent, 3 * st.bytes_received);
  EXPECT_FALSE(server().address_validated());
  EXPECT_EQ(server().state(), ConnectionState::kHandshaking);
}

// More datagrams from the client (its own PTO probes here, all lost on the
// way back) earn more credit, never more than 3x in total.
TEST_F(ConnectionFeaturesTest, ServerCreditGrowsWithWhatItReceives) {
  pair_ = std::make_unique<ConnectedPair>(feature_pool());
  std::vector<rte_mbuf*> first;
  ASSERT_TRUE(pair_->start(&first));
  pair_->deliver(pair_->server(), first);
  pair_->run_until(pair_->now + 9 * kSecond, /*to_server=*/true, /*to_client=*/false);
  const ConnectionStats& st = server().stats();
  EXPECT_GT(st.bytes_received, 1200u);
  EXPECT_GT(st.bytes_sent, 3600u);
  EXPECT_LE(st.bytes_sent, 3 * st.bytes_received);
}

// Control: an address the endpoint validated (a token) has no limit.
TEST_F(ConnectionFeaturesTest, ValidatedAddressHasNoAmplificationLimit) {
  pair_ = std::make_unique<ConnectedPair>(feature_pool(), test::ConfigTweak{},
                                          [](ConnectionConfig& c) { c.address_validated = true; });
  std::vector<rte_mbuf*> first;
  ASSERT_TRUE(pair_->start(&first));
  pair_->deliver(pair_->server(), first);
  pair_->run_until(pair_->now + 9 * kSecond, /*to_server=*/false, /*to_client=*/false);
  EXPECT_GT(server().stats().bytes_sent, 3u * 1200u);
}

// RFC 9000 §8.1: the client's Handshake packet validates its address.
TEST_F(ConnectionFeaturesTest, HandshakeValidatesTheClientAddress) {
  connect();
  EXPECT_TRUE(server().address_validated());
  EXPECT_TRUE(client().address_validated());
}

// ---------------------------------------------------------------- Retry

// A server's Retry (RFC 9000 §17.2.5) in answer to the client Initial `first`.
rte_mbuf* make_retry(rte_mempool* pool, rte_mbuf* first, const ConnectionId& retry_scid,
                     const Bytes& token, bool corrupt_tag) {
  InvariantHeader inv;
  const ByteSpan dg(rte_pktmbuf_mtod(first, const std::uint8_t*), rte_pktmbuf_data_len(first));
  EXPECT_EQ(parse_invariant_header(dg, 0, &inv), PacketDropReason::kNone);
  std::array<std::uint8_t, 256> buf{};
  Writer w(buf);
  RetrySpec r;
  r.dcid = inv.scid;
  r.scid = retry_scid.span();
  r.token = ByteSpan(token.data(), token.size());
  std::size_t tag_offset = 0;
  EXPECT_TRUE(encode_retry(w, r, &tag_offset));
  std::array<std::uint8_t, kRetryIntegrityTagLength> tag{};
  EXPECT_TRUE(
      compute_retry_integrity_tag(kVersion1, inv.dcid, ByteSpan(buf.data(), tag_offset), tag));
  std::copy(tag.begin(), tag.end(), buf.begin() + static_cast<std::ptrdiff_t>(tag_offset));
  if (corrupt_tag) buf[tag_offset] ^= 1;
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  char* at = rte_pktmbuf_append(m, static_cast<std::uint16_t>(w.written()));
  std::memcpy(at, buf.data(), w.written());
  return m;
}

class RetryTest : public ConnectionFeaturesTest {
 protected:
  // The client's first Initial, a Retry back, and the client's new Initial.
  void retry(bool corrupt_tag = false) {
    pair_ = std::make_unique<ConnectedPair>(feature_pool());
    std::vector<rte_mbuf*> first;
    ASSERT_TRUE(pair_->start(&first));
    ASSERT_EQ(first.size(), 1u);
    InvariantHeader inv;
    const ByteSpan dg(rte_pktmbuf_mtod(first[0], const std::uint8_t*),
                      rte_pktmbuf_data_len(first[0]));
    ASSERT_EQ(parse_invariant_header(dg, 0, &inv), PacketDropReason::kNone);
    ASSERT_TRUE(ConnectionId::from(inv.dcid, &original_dcid_));
    ASSERT_TRUE(ConnectionId::from(inv.scid, &client_cid_));
    retry_scid_.length = 8;
    retry_scid_.bytes.fill(0x77);
    std::vector<rte_mbuf*> r{
        make_retry(feature_pool(), first[0], retry_scid_, token_, corrupt_tag)};
    for (rte_mbuf* m : first)
      rte_pktmbuf_free(m);
    pair_->now += 10 * kMillisecond;
    pair_->deliver(pair_->client(), r);
    pair_->now += kPtoWait;  // the client's PTO resends its Initial
    if (client().next_timeout() <= pair_->now) client().on_timeout(pair_->now);
    second_ = pair_->send_all(pair_->client());
    ASSERT_FALSE(second_.empty());
    PacketHeader h;
    const ByteSpan d2(rte_pktmbuf_mtod(second_[0], const std::uint8_t*),
                      rte_pktmbuf_data_len(second_[0]));
    ASSERT_EQ(parse_packet_header(d2, 0, 0, &h), PacketDropReason::kNone);
    ASSERT_EQ(h.type, PacketType::kInitial);
    second_dcid_ = Bytes(h.dcid.begin(), h.dcid.end());
    second_token_ = Bytes(h.token.begin(), h.token.end());
    EXPECT_EQ(rte_pktmbuf_data_len(second_[0]), 1200u);
  }
  void TearDown() override {
    for (rte_mbuf* m : second_)
      rte_pktmbuf_free(m);
    ConnectionFeaturesTest::TearDown();
  }
  Connection::ServerIds server_ids(bool with_retry_scid) const {
    Connection::ServerIds ids;
    ids.original_dcid = original_dcid_;
    ids.peer_cid = client_cid_;
    ids.local_cid.length = 8;
    ids.local_cid.bytes.fill(0xab);
    if (with_retry_scid) ids.retry_scid = retry_scid_;
    return ids;
  }

  static constexpr Duration kPtoWait = 2 * kSecond;
  const Bytes token_{'t', 'o', 'k', 'e', 'n'};
  ConnectionId original_dcid_, client_cid_, retry_scid_;
  std::vector<rte_mbuf*> second_;
  Bytes second_dcid_, second_token_;
};

// RFC 9000 §17.2.5.2-3, §7.3: the client moves to the Retry's SCID, sends
// its token in every Initial, derives new Initial keys, and checks the
// server's retry_source_connection_id.
TEST_F(RetryTest, RoundTripCompletesTheHandshake) {
  retry();
  EXPECT_EQ(second_dcid_, Bytes(retry_scid_.span().begin(), retry_scid_.span().end()));
  EXPECT_EQ(second_token_, token_);
  ASSERT_TRUE(pair_->create_server(server_ids(true)));
  ASSERT_TRUE(pair_->complete(std::move(second_)));
  second_.clear();
  ASSERT_TRUE(client().peer_transport().retry_source_connection_id.has_value());
  EXPECT_EQ(*client().peer_transport().retry_source_connection_id, retry_scid_);
  EXPECT_EQ(*client().peer_transport().original_destination_connection_id, original_dcid_);
}

// §7.3: a server that omits retry_source_connection_id after a Retry fails
// the client's check.
TEST_F(RetryTest, MissingRetrySourceCidIsTransportParameterError) {
  retry();
  ASSERT_TRUE(pair_->create_server(server_ids(false)));
  EXPECT_FALSE(pair_->complete(std::move(second_)));
  second_.clear();
  ASSERT_TRUE(client().close_info().has_value());
  EXPECT_EQ(client().close_info()->error_code,
            static_cast<std::uint64_t>(TransportError::kTransportParameterError));
}

// RFC 9001 §5.8: a Retry whose integrity tag does not verify is discarded.
TEST_F(RetryTest, BadIntegrityTagIsIgnored) {
  retry(/*corrupt_tag=*/true);
  EXPECT_EQ(second_dcid_, Bytes(original_dcid_.span().begin(), original_dcid_.span().end()));
  EXPECT_TRUE(second_token_.empty());
}

// §17.2.5.2: only one Retry is processed.
TEST_F(RetryTest, SecondRetryIsIgnored) {
  retry();
  ConnectionId other;
  other.length = 8;
  other.bytes.fill(0x99);
  std::vector<rte_mbuf*> r{make_retry(feature_pool(), second_[0], other, Bytes{'x'}, false)};
  pair_->deliver(pair_->client(), r);
  EXPECT_EQ(client().peer_cid(), retry_scid_);
}

// ---------------------------------------------------------------- issuing CIDs

class CidLog final : public LocalCidListener {
 public:
  void on_local_cid_issued(const ConnectionId& cid, std::uint64_t seq) override {
    issued.emplace_back(seq, cid);
  }
  void on_local_cid_retired(const ConnectionId& cid, std::uint64_t seq) override {
    retired.emplace_back(seq, cid);
  }
  std::vector<std::pair<std::uint64_t, ConnectionId>> issued, retired;
};

class IssueCidTest : public ConnectionFeaturesTest {
 protected:
  void connect_with_generator(std::uint64_t client_limit) {
    RandomCidGeneratorSettings gs;
    gs.cid_length = 8;
    gs.worker_count = 4;
    std::uint8_t next = 0x10;
    generator_ = RandomCidGenerator::create(gs, [next](std::span<std::uint8_t> out) mutable {
      for (auto& b : out)
        b = next++;
    });
    ASSERT_NE(generator_, nullptr);
    const std::array<std::uint8_t, 32> key{1, 2, 3};
    tokens_ = std::make_unique<StatelessResetTokenGenerator>(ByteSpan(key.data(), key.size()));
    connect([client_limit](
                ConnectionConfig& c) { c.transport.active_connection_id_limit = client_limit; },
            [this](ConnectionConfig& c) {
              c.cid_generator = generator_.get();
              c.worker = 3;
              c.reset_tokens = tokens_.get();
              c.cid_listener = &log_;
            });
    pair_->run_until(pair_->now + 50 * kMillisecond);
  }
  std::unique_ptr<RandomCidGenerator> generator_;
  std::unique_ptr<StatelessResetTokenGenerator> tokens_;
  CidLog log_;
};

// RFC 9000 §5.1.1: the server keeps the client supplied with CIDs up to the
// client's active_connection_id_limit, each steering to the worker, and
// the client takes them without a CONNECTION_ID_LIMIT_ERROR.
TEST_F(IssueCidTest, IssuesUpToThePeersLimit) {
  connect_with_generator(4);
  EXPECT_EQ(server().local_cid_count(), 4u);
  ASSERT_EQ(log_.issued.size(), 3u);
  for (std::size_t i = 0; i < log_.issued.size(); ++i) {
    EXPECT_EQ(log_.issued[i].first, i + 1);
    EXPECT_EQ(generator_->worker_of(log_.issued[i].second.span()), std::optional<std::uint16_t>(3));
  }
  EXPECT_EQ(client().state(), ConnectionState::kConnected);
}

// §18.2: the server's stateless_reset_token is the generator's for its CID.
TEST_F(IssueCidTest, HandshakeTokenComesFromTheGenerator) {
  connect_with_generator(2);
  StatelessResetToken want;
  ASSERT_TRUE(tokens_->token_for(server().local_cid().span(), &want));
  ASSERT_TRUE(client().peer_transport().stateless_reset_token.has_value());
  EXPECT_EQ(*client().peer_transport().stateless_reset_token, want);
}

// §19.16: a retired CID is announced and replaced.
TEST_F(IssueCidTest, RetiredCidIsReplaced) {
  connect_with_generator(2);
  ASSERT_EQ(log_.issued.size(), 1u);
  pair_->inject(pair_->server(), test::encode_frames({RetireConnectionIdFrame{1}}));
  EXPECT_EQ(server().state(), ConnectionState::kConnected);
  ASSERT_EQ(log_.retired.size(), 1u);
  EXPECT_EQ(log_.retired[0].first, 1u);
  EXPECT_EQ(log_.retired[0].second, log_.issued[0].second);
  ASSERT_EQ(log_.issued.size(), 2u);
  EXPECT_EQ(log_.issued[1].first, 2u);
  EXPECT_EQ(server().local_cid_count(), 2u);
  // A repeated RETIRE is not an error and retires nothing more.
  pair_->inject(pair_->server(), test::encode_frames({RetireConnectionIdFrame{1}}));
  EXPECT_EQ(server().state(), ConnectionState::kConnected);
  EXPECT_EQ(log_.retired.size(), 1u);
}

// §19.16: a sequence number not issued yet.
TEST_F(IssueCidTest, RetireBeyondIssuedIsProtocolViolation) {
  connect_with_generator(2);
  pair_->inject(pair_->server(), test::encode_frames({RetireConnectionIdFrame{2}}));
  EXPECT_EQ(server().state(), ConnectionState::kClosing);
  ASSERT_TRUE(server().close_info().has_value());
  EXPECT_EQ(server().close_info()->error_code,
            static_cast<std::uint64_t>(TransportError::kProtocolViolation));
}

// ---------------------------------------------------------------- PTO probes

// RFC 9002 §6.2.4: a sender with nothing new to send probes with data still
// unacknowledged. The tail of a stream is lost and so is every ACK after it,
// so the sender never learns of the loss: only probes carrying the tail
// complete the stream (bare PINGs would not, however many got through).
TEST_F(ConnectionFeaturesTest, PtoProbesResendUnacknowledgedStreamData) {
  connect();
  const std::optional<std::uint64_t> id = client().open_stream(false);
  ASSERT_TRUE(id.has_value());
  const Bytes data = pattern(3000, 9);
  ASSERT_EQ(client().write(*id, span(data), true), 3000);
  std::vector<rte_mbuf*> out = pair_->send_all(pair_->client());
  ASSERT_GE(out.size(), 2u);
  rte_pktmbuf_free(out.back());  // the tail, with the FIN
  out.pop_back();
  pair_->deliver(pair_->server(), out);
  std::array<std::uint8_t, 4000> buf{};
  bool fin = false;
  const auto head = server().read(*id, buf, &fin);
  ASSERT_GT(head, 0);
  ASSERT_LT(head, 3000);
  ASSERT_FALSE(fin);
  const std::uint64_t ptos = client().stats().pto_count;
  // Every datagram toward the client is lost: no ACK reaches it.
  pair_->run_until(pair_->now + 3 * kSecond, true, false);
  EXPECT_GT(client().stats().pto_count, ptos);
  EXPECT_EQ(client().stats().packets_lost, 0u);  // the loss was never detected
  const auto tail = server().read(*id, std::span<std::uint8_t>(buf).subspan(head), &fin);
  ASSERT_EQ(head + tail, 3000);
  EXPECT_TRUE(fin);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), buf.begin()));
}

// ---------------------------------------------------------------- key update

// RFC 9001 §6.1-6.2: we update our keys, the peer answers with its own
// update, and a further update waits for an acknowledgement in the new phase.
TEST_F(ConnectionFeaturesTest, KeyUpdateIsAnsweredByThePeer) {
  connect();
  const std::optional<std::uint64_t> id = client().open_stream(true);
  ASSERT_TRUE(id.has_value());
  ASSERT_EQ(client().write(*id, span(pattern(100, 1)), false), 100);
  pair_->run_until(pair_->now + 50 * kMillisecond);
  EXPECT_FALSE(client().key_phase());
  ASSERT_TRUE(client().initiate_key_update(pair_->now));
  EXPECT_TRUE(client().key_phase());
  // Not again before a packet of the new phase is acknowledged (§6.1).
  EXPECT_FALSE(client().initiate_key_update(pair_->now));
  ASSERT_EQ(client().write(*id, span(pattern(100, 2)), false), 100);
  pair_->run_until(pair_->now + 50 * kMillisecond);
  EXPECT_EQ(server().key_updates(), 1u);
  EXPECT_TRUE(server().key_phase());  // it answered
  EXPECT_EQ(client().key_updates(), 1u);
  EXPECT_EQ(client().state(), ConnectionState::kConnected);
  EXPECT_EQ(server().state(), ConnectionState::kConnected);
  // Data written in either phase arrived.
  std::array<std::uint8_t, 400> buf{};
  bool fin = false;
  EXPECT_EQ(server().read(*id, buf, &fin), 200);
  // Now a second update is allowed.
  EXPECT_TRUE(client().initiate_key_update(pair_->now));
  EXPECT_FALSE(client().key_phase());
}

// RFC 9001 §6.1: not before the handshake is confirmed.
TEST_F(ConnectionFeaturesTest, NoKeyUpdateBeforeTheHandshakeIsConfirmed) {
  pair_ = std::make_unique<ConnectedPair>(feature_pool());
  std::vector<rte_mbuf*> first;
  ASSERT_TRUE(pair_->start(&first));
  EXPECT_FALSE(client().initiate_key_update(pair_->now));
  for (rte_mbuf* m : first)
    rte_pktmbuf_free(m);
}

// RFC 9001 §6: an update every N packets during a transfer.
TEST_F(ConnectionFeaturesTest, KeyUpdateEveryNPackets) {
  auto big = [](ConnectionConfig& c) {
    c.transport.initial_max_data = 1 << 22;
    c.transport.initial_max_stream_data_uni = 1 << 22;
    c.max_stream_window = c.max_connection_window = 1 << 22;
    c.key_update_interval = 20;
  };
  connect(big, big);
  const std::optional<std::uint64_t> id = client().open_stream(false);
  ASSERT_TRUE(id.has_value());
  const Bytes data = pattern(200000, 5);
  ASSERT_EQ(client().write(*id, span(data), true), 200000);
  pair_->run_until(pair_->now + 500 * kMillisecond);
  Bytes got(data.size() + 1);
  bool fin = false;
  ASSERT_EQ(server().read(*id, std::span<std::uint8_t>(got.data(), got.size()), &fin), 200000);
  got.resize(200000);
  EXPECT_TRUE(fin);
  EXPECT_EQ(got, data);
  // ~170 packets from the client: an update every ~20, each waiting for an ACK.
  EXPECT_GE(server().key_updates(), 3u);
  EXPECT_EQ(server().key_updates(), client().key_updates());
}

// RFC 9001 §6.6: too many forged packets close with AEAD_LIMIT_REACHED.
TEST_F(ConnectionFeaturesTest, IntegrityLimitClosesTheConnection) {
  connect([](ConnectionConfig& c) { c.aead_integrity_limit = 3; });
  client().on_authentication_failure(pair_->now);
  client().on_authentication_failure(pair_->now);
  EXPECT_EQ(client().state(), ConnectionState::kConnected);
  client().on_authentication_failure(pair_->now);
  EXPECT_EQ(client().state(), ConnectionState::kClosing);
  ASSERT_TRUE(client().close_info().has_value());
  EXPECT_EQ(client().close_info()->error_code,
            static_cast<std::uint64_t>(TransportError::kAeadLimitReached));
}

// ---------------------------------------------------------------- 0-RTT

class ZeroRttTest : public ConnectionFeaturesTest {
 protected:
  // A first connection that leaves a session ticket with the client.
  void first_connection() {
    tls_.enable_resumption(/*early_data=*/true);
    pair_ = std::make_unique<ConnectedPair>(feature_pool(), test::ConfigTweak{},
                                            test::ConfigTweak{}, nullptr, nullptr, &tls_);
    ASSERT_TRUE(pair_->handshake());
    pair_->run_until(pair_->now + 50 * kMillisecond);  // NewSessionTicket
    ASSERT_FALSE(tls_.sessions.empty());
    pair_.reset();
  }
  // A second connection resuming it, with a request written before the
  // handshake, so it travels in 0-RTT.
  void resume_with_request() {
    pair_ = std::make_unique<ConnectedPair>(
        feature_pool(),
        [this](ConnectionConfig& c) {
          c.resume = &tls_.sessions.back();
          c.early_data = true;
        },
        test::ConfigTweak{}, &client_app_, &server_app_, &tls_);
    pair_->now = kSecond;  // after the ticket was issued
    std::vector<rte_mbuf*> first;
    ASSERT_TRUE(pair_->start(&first));
    ASSERT_TRUE(client().early_data_offered());
    const std::optional<std::uint64_t> id = client().open_stream(true);
    ASSERT_TRUE(id.has_value());
    id_ = *id;
    ASSERT_EQ(client().write(id_, span(request_), true),
              static_cast<std::int64_t>(request_.size()));
    std::vector<rte_mbuf*> early = pair_->send_all(pair_->client());
    first.insert(first.end(), early.begin(), early.end());
    ASSERT_TRUE(pair_->complete(std::move(first)));
    pair_->run_until(pair_->now + 50 * kMillisecond);
  }
  Bytes received() {
    Bytes got(request_.size() + 1);
    bool fin = false;
    const std::int64_t n =
        server().read(id_, std::span<std::uint8_t>(got.data(), got.size()), &fin);
    got.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    EXPECT_TRUE(fin);
    return got;
  }
  test::PairTls tls_;
  const Bytes request_ = pattern(700, 42);
  std::uint64_t id_ = 0;
};

// RFC 9001 §4.6.1: the request goes in 0-RTT packets, the server reads it
// with the early keys, and it is not sent again.
TEST_F(ZeroRttTest, AcceptedRequestArrivesIn0Rtt) {
  first_connection();
  resume_with_request();
  EXPECT_TRUE(client().early_data_accepted());
  EXPECT_GE(client().stats().zero_rtt_packets_sent, 1u);
  EXPECT_GE(server().stats().zero_rtt_packets_received, 1u);
  EXPECT_EQ(client().stats().stream_bytes_retransmitted, 0u);
  EXPECT_EQ(received(), request_);
}

// RFC 9001 §4.6.2: a server that does not take 0-RTT drops those packets;
// the client sends the data again in 1-RTT and it still arrives.
TEST_F(ZeroRttTest, RejectedRequestIsSentAgainIn1Rtt) {
  first_connection();
  tls_.server.enable_early_data = false;
  resume_with_request();
  EXPECT_FALSE(client().early_data_accepted());
  EXPECT_GE(client().stats().zero_rtt_packets_sent, 1u);
  EXPECT_EQ(server().stats().zero_rtt_packets_received, 0u);
  EXPECT_GE(client().stats().stream_bytes_retransmitted, request_.size());
  EXPECT_EQ(received(), request_);
}

// Without a session nothing is offered and no stream opens before the
// handshake.
TEST_F(ZeroRttTest, NoSessionNo0Rtt) {
  pair_ = std::make_unique<ConnectedPair>(feature_pool(),
                                          [](ConnectionConfig& c) { c.early_data = true; });
  std::vector<rte_mbuf*> first;
  ASSERT_TRUE(pair_->start(&first));
  EXPECT_FALSE(client().early_data_offered());
  EXPECT_FALSE(client().open_stream(true).has_value());
  for (rte_mbuf* m : first)
    rte_pktmbuf_free(m);
}

// ---------------------------------------------------------------- path validation

// The frames of the 1-RTT packets in a no-crypto datagram.
std::vector<Frame> one_rtt_frames(rte_mbuf* m, std::size_t dcid_length, Bytes* storage) {
  storage->assign(rte_pktmbuf_mtod(m, const std::uint8_t*),
                  rte_pktmbuf_mtod(m, const std::uint8_t*) + rte_pktmbuf_data_len(m));
  std::vector<Frame> out;
  PacketHeader h;
  if (parse_packet_header(span(*storage), 0, dcid_length, &h) != PacketDropReason::kNone ||
      h.type != PacketType::kOneRtt)
    return out;
  const UnprotectedFirstByte fb = decode_unprotected_first_byte((*storage)[0]);
  const std::size_t start = h.pn_offset + fb.pn_length;
  Reader r(span(*storage).subspan(start, h.packet_end - kAeadTagLength - start));
  while (!r.empty()) {
    Frame f;
    if (decode_frame(r, &f) != TransportError::kNoError) break;
    out.push_back(f);
  }
  return out;
}

// RFC 9000 §8.2.2: PATH_CHALLENGE is answered with PATH_RESPONSE carrying
// the same data, in a datagram expanded to 1200 bytes.
TEST_F(ConnectionFeaturesTest, PathChallengeIsAnswered) {
  connect();
  const PathData data{1, 2, 3, 4, 5, 6, 7, 8};
  pair_->inject(pair_->server(), test::encode_frames({PathChallengeFrame{data}}));
  std::vector<rte_mbuf*> out = pair_->send_all(pair_->server());
  bool answered = false;
  for (rte_mbuf* m : out) {
    Bytes storage;
    for (const Frame& f : one_rtt_frames(m, client().local_cid().length, &storage)) {
      if (auto* r = std::get_if<PathResponseFrame>(&f)) {
        EXPECT_EQ(r->data, data);
        EXPECT_GE(rte_pktmbuf_data_len(m), 1200u);
        answered = true;
      }
    }
    rte_pktmbuf_free(m);
  }
  EXPECT_TRUE(answered);
  // Once: nothing more to send for it.
  std::vector<rte_mbuf*> again = pair_->send_all(pair_->server());
  for (rte_mbuf* m : again) {
    Bytes storage;
    for (const Frame& f : one_rtt_frames(m, client().local_cid().length, &storage))
      EXPECT_FALSE(std::holds_alternative<PathResponseFrame>(f));
    rte_pktmbuf_free(m);
  }
}

// ---------------------------------------------------------------- versions

// Bytes written on a new stream arrive: the connection works end to end.
void exchange(ConnectedPair& pair) {
  Connection& c = *pair.client().conn;
  Connection& s = *pair.server().conn;
  const std::optional<std::uint64_t> id = c.open_stream(true);
  ASSERT_TRUE(id.has_value());
  const Bytes data = pattern(3000, 7);
  ASSERT_EQ(c.write(*id, span(data), true), 3000);
  pair.run_until(pair.now + 50 * kMillisecond);
  Bytes got(4000);
  bool fin = false;
  ASSERT_EQ(s.read(*id, std::span<std::uint8_t>(got.data(), got.size()), &fin), 3000);
  got.resize(3000);
  EXPECT_EQ(got, data);
}

// RFC 9368 §2.3, RFC 9369 §4: a v1 client that offers v2 is moved to v2 by
// a server that prefers it; both check the other's version_information.
TEST_F(ConnectionFeaturesTest, CompatibleNegotiationMovesV1ClientToV2) {
  connect(
      [](ConnectionConfig& c) {
        c.versions = {kVersion1, kVersion2};
      },
      [](ConnectionConfig& c) {
        c.versions = {kVersion2, kVersion1};
      });
  EXPECT_EQ(client().version(), kVersion2);
  EXPECT_EQ(server().version(), kVersion2);
  ASSERT_TRUE(client().peer_transport().version_information.has_value());
  EXPECT_EQ(client().peer_transport().version_information->chosen_version, kVersion2);
  ASSERT_TRUE(server().peer_transport().version_information.has_value());
  EXPECT_EQ(server().peer_transport().version_information->chosen_version, kVersion1);
  exchange(*pair_);
}

// A server that prefers v1 keeps it.
TEST_F(ConnectionFeaturesTest, ServerPreferringV1StaysOnV1) {
  connect(
      [](ConnectionConfig& c) {
        c.versions = {kVersion1, kVersion2};
      },
      [](ConnectionConfig& c) {
        c.versions = {kVersion1, kVersion2};
      });
  EXPECT_EQ(client().version(), kVersion1);
  EXPECT_EQ(server().version(), kVersion1);
  exchange(*pair_);
}

// A client that offers no other version is never moved.
TEST_F(ConnectionFeaturesTest, ClientWithoutVersionInformationStaysOnV1) {
  connect({}, [](ConnectionConfig& c) { c.versions = {kVersion2, kVersion1}; });
  EXPECT_EQ(client().version(), kVersion1);
  EXPECT_EQ(server().version(), kVersion1);
  exchange(*pair_);
}

// RFC 9369: v2 from the first packet.
TEST_F(ConnectionFeaturesTest, V2FromTheStart) {
  auto v2 = [](ConnectionConfig& c) {
    c.version = kVersion2;
    c.versions = {kVersion2, kVersion1};
  };
  connect(v2, v2);
  EXPECT_EQ(client().version(), kVersion2);
  EXPECT_EQ(server().version(), kVersion2);
  exchange(*pair_);
}

}  // namespace
}  // namespace dquic
