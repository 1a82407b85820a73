// The transport errors a Connection raises on what a peer sends (RFC 9000
// §20.1): a client and a server complete a handshake in no-crypto mode
// (runtime/connection_io.h), then one side is handed a crafted 1-RTT packet
// and must enter the closing state with the code the RFC requires. Also the
// CONNECTION_CLOSE it then sends, and the draining period of the receiver of
// one (RFC 9000 §10.2).
#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <array>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "quic/frame.h"
#include "quic/packet_header.h"
#include "quic/packet_number.h"
#include "quic/stream_id.h"
#include "tests/sim/connected_pair.h"

namespace dquic {
namespace {

constexpr std::uint16_t kDataRoom = 2048;

using test::Bytes;
constexpr std::uint64_t kStreamWindow = test::kPairStreamWindow;
constexpr std::uint64_t kConnectionWindow = test::kPairConnectionWindow;
constexpr std::uint64_t kMaxBidi = test::kPairMaxBidi;
constexpr std::uint64_t kMaxUni = test::kPairMaxUni;

rte_mempool* err_pool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create(
      "cerr_test", 2047, 0, 0, kDataRoom + RTE_PKTMBUF_HEADROOM, static_cast<int>(rte_socket_id()));
  return pool;
}

Bytes encode(std::initializer_list<Frame> frames) {
  return test::encode_frames(frames);
}

StreamFrame stream(std::uint64_t id, std::uint64_t offset, const Bytes& data, bool fin) {
  StreamFrame f;
  f.stream_id = id;
  f.offset = offset;
  f.data = ByteSpan(data.data(), data.size());
  f.fin = fin;
  return f;
}

// AssertionResult streams each value separately: std::hex would not carry over.
std::string hex(std::uint64_t v) {
  std::ostringstream o;
  o << "0x" << std::hex << v;
  return o.str();
}

::testing::AssertionResult closed_with(const Connection& c, TransportError e,
                                       std::optional<std::uint64_t> frame_type = std::nullopt) {
  if (c.state() != ConnectionState::kClosing)
    return ::testing::AssertionFailure()
           << "state " << static_cast<int>(c.state()) << ", want kClosing";
  const std::optional<CloseInfo>& ci = c.close_info();
  if (!ci) return ::testing::AssertionFailure() << "no close_info";
  if (!ci->local || ci->application)
    return ::testing::AssertionFailure() << "not a local transport close";
  if (ci->error_code != static_cast<std::uint64_t>(e))
    return ::testing::AssertionFailure()
           << "error_code " << hex(ci->error_code) << ", want "
           << hex(static_cast<std::uint64_t>(e)) << " (" << transport_error_name(e) << ")";
  if (frame_type && ci->frame_type != *frame_type)
    return ::testing::AssertionFailure()
           << "frame_type " << hex(ci->frame_type) << ", want " << hex(*frame_type);
  return ::testing::AssertionSuccess();
}

constexpr std::uint64_t ft(FrameType t) {
  return static_cast<std::uint64_t>(t);
}

class ConnectionErrorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(err_pool(), nullptr);
    baseline_ = rte_mempool_in_use_count(err_pool());
    pair_ = std::make_unique<test::ConnectedPair>(err_pool());
    ASSERT_TRUE(pair_->handshake());
    now_ = pair_->now;
  }

  void TearDown() override {
    pair_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(err_pool()), baseline_) << "mbufs leaked";
  }

  void inject(test::PairSide& to, const Bytes& payload, bool reserved_bits_set = false) {
    pair_->now = now_;
    pair_->inject(to, payload, reserved_bits_set);
  }

  test::PairSide& server() { return pair_->server(); }
  test::PairSide& client() { return pair_->client(); }

  unsigned baseline_ = 0;
  Time now_ = 0;
  std::unique_ptr<test::ConnectedPair> pair_;
};

// The handshake left both sides usable: the baseline every test starts from.
TEST_F(ConnectionErrorsTest, ValidStreamDataIsAccepted) {
  const Bytes data{'h', 'i'};
  inject(server(), encode({stream(0, 0, data, true)}));
  EXPECT_EQ(server().conn->state(), ConnectionState::kConnected);
  std::array<std::uint8_t, 8> out{};
  bool fin = false;
  EXPECT_EQ(server().conn->read(0, out, &fin), 2);
  EXPECT_TRUE(fin);
}

// RFC 9000 §12.4: a packet containing no frames is a PROTOCOL_VIOLATION.
TEST_F(ConnectionErrorsTest, EmptyPayloadIsProtocolViolation) {
  inject(server(), {});
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kProtocolViolation));
}

// RFC 9000 §12.4: a frame that cannot be decoded is FRAME_ENCODING_ERROR.
TEST_F(ConnectionErrorsTest, TruncatedStreamFrameIsFrameEncodingError) {
  // STREAM with LEN: stream 0, length 10, but only two data bytes follow.
  inject(server(), {0x0a, 0x00, 0x0a, 'a', 'b'});
  // RFC 9000 §19.19: the close names the frame type that failed.
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFrameEncodingError, 0x0a));
}

TEST_F(ConnectionErrorsTest, TruncatedVarintIsFrameEncodingError) {
  // MAX_DATA whose 4-byte varint has one byte.
  inject(server(), {0x10, 0x80});
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFrameEncodingError, 0x10));
}

// RFC 9000 §12.4: an unknown frame type is FRAME_ENCODING_ERROR.
TEST_F(ConnectionErrorsTest, UnknownFrameTypeIsFrameEncodingError) {
  inject(server(), {0x01, 0x21});
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFrameEncodingError, 0x21));
}

// RFC 9000 §12.4: a frame type not in its shortest encoding MAY be a
// PROTOCOL_VIOLATION; this stack treats it so.
TEST_F(ConnectionErrorsTest, FrameTypeNotShortestIsProtocolViolation) {
  inject(server(), {0x40, 0x01});  // PING as a two-byte varint
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kProtocolViolation, 0x01));
}

// RFC 9000 §19.20: a server receiving HANDSHAKE_DONE.
TEST_F(ConnectionErrorsTest, HandshakeDoneToServerIsProtocolViolation) {
  inject(server(), encode({HandshakeDoneFrame{}}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kProtocolViolation,
                          ft(FrameType::kHandshakeDone)));
}

// The client may receive HANDSHAKE_DONE again (a retransmission) and NEW_TOKEN.
TEST_F(ConnectionErrorsTest, HandshakeDoneAndNewTokenToClientAreAccepted) {
  const Bytes token{1, 2, 3, 4};
  NewTokenFrame nt;
  nt.token = ByteSpan(token.data(), token.size());
  inject(client(), encode({HandshakeDoneFrame{}, nt}));
  EXPECT_EQ(client().conn->state(), ConnectionState::kConnected);
  EXPECT_FALSE(client().conn->close_info().has_value());
}

// RFC 9000 §19.7: a server receiving NEW_TOKEN.
TEST_F(ConnectionErrorsTest, NewTokenToServerIsProtocolViolation) {
  const Bytes token{1, 2, 3, 4};
  NewTokenFrame nt;
  nt.token = ByteSpan(token.data(), token.size());
  inject(server(), encode({nt}));
  EXPECT_TRUE(
      closed_with(*server().conn, TransportError::kProtocolViolation, ft(FrameType::kNewToken)));
}

// RFC 9000 §4.6, §19.8: a stream ID beyond the advertised MAX_STREAMS.
TEST_F(ConnectionErrorsTest, BidiStreamBeyondMaxStreamsIsStreamLimitError) {
  const Bytes data{'x'};
  // Client-initiated bidi streams 0, 4, 8, 12 are allowed; 16 is the fifth.
  inject(server(), encode({stream(kMaxBidi * 4, 0, data, false)}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kStreamLimitError));
}

TEST_F(ConnectionErrorsTest, LastAllowedBidiStreamIsAccepted) {
  const Bytes data{'x'};
  inject(server(), encode({stream((kMaxBidi - 1) * 4, 0, data, false)}));
  EXPECT_EQ(server().conn->state(), ConnectionState::kConnected);
  EXPECT_EQ(server().conn->stream_count(), kMaxBidi);  // lower streams opened too (§3.2)
}

TEST_F(ConnectionErrorsTest, UniStreamBeyondMaxStreamsIsStreamLimitError) {
  const Bytes data{'x'};
  // Client-initiated uni streams 2 and 6 are allowed; 10 is the third.
  inject(server(), encode({stream(kMaxUni * 4 + 2, 0, data, false)}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kStreamLimitError));
}

// RFC 9000 §19.8: STREAM for a locally initiated stream not yet created.
// RFC 9000 §19.13: STREAM_DATA_BLOCKED on a send-only stream.
TEST_F(ConnectionErrorsTest, StreamDataBlockedOnSendOnlyStreamIsStreamStateError) {
  const std::optional<std::uint64_t> id = server().conn->open_stream(false);
  ASSERT_TRUE(id.has_value());
  inject(server(), encode({StreamDataBlockedFrame{*id, 0}}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kStreamStateError));
}

// RFC 9000 §17.3.1: nonzero reserved bits after header protection removal.
TEST_F(ConnectionErrorsTest, ReservedBitsAreProtocolViolation) {
  inject(server(), encode({PingFrame{}}), /*reserved_bits_set=*/true);
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kProtocolViolation));
}

TEST_F(ConnectionErrorsTest, StreamOnUnopenedLocalStreamIsStreamStateError) {
  const Bytes data{'x'};
  inject(server(), encode({stream(1, 0, data, false)}));  // server-initiated bidi 0
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kStreamStateError));
}

// RFC 9000 §19.8: STREAM on a send-only stream.
TEST_F(ConnectionErrorsTest, StreamOnOurUniStreamIsStreamStateError) {
  const std::optional<std::uint64_t> id = server().conn->open_stream(false);
  ASSERT_TRUE(id.has_value());
  ASSERT_EQ(*id, 3u);
  const Bytes data{'x'};
  inject(server(), encode({stream(*id, 0, data, false)}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kStreamStateError));
}

// RFC 9000 §19.10: MAX_STREAM_DATA for a receive-only stream.
TEST_F(ConnectionErrorsTest, MaxStreamDataOnReceiveOnlyStreamIsStreamStateError) {
  const Bytes data{'x'};
  inject(server(), encode({stream(2, 0, data, false)}));  // the client's uni stream
  ASSERT_EQ(server().conn->state(), ConnectionState::kConnected);
  inject(server(), encode({MaxStreamDataFrame{2, 100000}}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kStreamStateError,
                          ft(FrameType::kMaxStreamData)));
}

// RFC 9000 §19.10: MAX_STREAM_DATA for a locally initiated stream not yet created.
TEST_F(ConnectionErrorsTest, MaxStreamDataOnUnopenedLocalStreamIsStreamStateError) {
  inject(server(), encode({MaxStreamDataFrame{5, 100000}}));  // server bidi 1
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kStreamStateError,
                          ft(FrameType::kMaxStreamData)));
}

// RFC 9000 §19.4: RESET_STREAM for a send-only stream.
TEST_F(ConnectionErrorsTest, ResetStreamOnSendOnlyStreamIsStreamStateError) {
  const std::optional<std::uint64_t> id = server().conn->open_stream(false);
  ASSERT_TRUE(id.has_value());
  inject(server(), encode({ResetStreamFrame{*id, 7, 0}}));
  EXPECT_TRUE(
      closed_with(*server().conn, TransportError::kStreamStateError, ft(FrameType::kResetStream)));
}

// RFC 9000 §19.5: STOP_SENDING for a receive-only stream.
TEST_F(ConnectionErrorsTest, StopSendingOnReceiveOnlyStreamIsStreamStateError) {
  const Bytes data{'x'};
  inject(server(), encode({stream(2, 0, data, false)}));
  ASSERT_EQ(server().conn->state(), ConnectionState::kConnected);
  inject(server(), encode({StopSendingFrame{2, 7}}));
  EXPECT_TRUE(
      closed_with(*server().conn, TransportError::kStreamStateError, ft(FrameType::kStopSending)));
}

// RFC 9000 §4.6: any stream frame naming a stream beyond the limit.
TEST_F(ConnectionErrorsTest, ResetStreamBeyondMaxStreamsIsStreamLimitError) {
  inject(server(), encode({ResetStreamFrame{kMaxBidi * 4, 7, 0}}));
  EXPECT_TRUE(
      closed_with(*server().conn, TransportError::kStreamLimitError, ft(FrameType::kResetStream)));
}

// RFC 9000 §19.5: STOP_SENDING for a locally initiated stream not yet created.
TEST_F(ConnectionErrorsTest, StopSendingOnUnopenedLocalStreamIsStreamStateError) {
  inject(server(), encode({StopSendingFrame{1, 7}}));
  EXPECT_TRUE(
      closed_with(*server().conn, TransportError::kStreamStateError, ft(FrameType::kStopSending)));
}

// RFC 9000 §4.1: data beyond the stream's flow-control limit.
TEST_F(ConnectionErrorsTest, DataBeyondStreamLimitIsFlowControlError) {
  const Bytes data{'x'};
  inject(server(), encode({stream(0, kStreamWindow - 1, data, false)}));  // the last byte allowed
  ASSERT_EQ(server().conn->state(), ConnectionState::kConnected);
  inject(server(), encode({stream(0, kStreamWindow, data, false)}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFlowControlError));
}

// RFC 9000 §4.1: the sum over streams beyond the connection's limit.
TEST_F(ConnectionErrorsTest, DataBeyondConnectionLimitIsFlowControlError) {
  const Bytes data{'x'};
  // 6000 + 6000 bytes of stream 0 and 4 (by highest offset): within 16384.
  inject(server(), encode({stream(0, 5999, data, false)}));
  inject(server(), encode({stream(4, 5999, data, false)}));
  ASSERT_EQ(server().conn->state(), ConnectionState::kConnected);
  // Stream 8 within its own window but 18000 > 16384 in total.
  inject(server(), encode({stream(8, 5999, data, false)}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFlowControlError));
}

// RFC 9000 §4.5: a RESET_STREAM final size beyond the flow-control limit.
TEST_F(ConnectionErrorsTest, ResetStreamBeyondStreamLimitIsFlowControlError) {
  inject(server(), encode({ResetStreamFrame{0, 7, kStreamWindow + 1}}));
  EXPECT_TRUE(
      closed_with(*server().conn, TransportError::kFlowControlError, ft(FrameType::kResetStream)));
}

// RFC 9000 §4.5: a FIN then another final size.
TEST_F(ConnectionErrorsTest, FinThenLargerFinalSizeIsFinalSizeError) {
  inject(server(), encode({stream(0, 0, Bytes{'a', 'b', 'c'}, true)}));
  ASSERT_EQ(server().conn->state(), ConnectionState::kConnected);
  inject(server(), encode({stream(0, 0, Bytes{'a', 'b', 'c', 'd'}, true)}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFinalSizeError));
}

TEST_F(ConnectionErrorsTest, FinThenSmallerFinalSizeIsFinalSizeError) {
  inject(server(), encode({stream(0, 0, Bytes{'a', 'b', 'c'}, true)}));
  ASSERT_EQ(server().conn->state(), ConnectionState::kConnected);
  inject(server(), encode({stream(0, 0, Bytes{'a', 'b'}, true)}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFinalSizeError));
}

// The same FIN again is a retransmission, not an error.
TEST_F(ConnectionErrorsTest, RepeatedFinIsAccepted) {
  inject(server(), encode({stream(0, 0, Bytes{'a', 'b', 'c'}, true)}));
  inject(server(), encode({stream(0, 0, Bytes{'a', 'b', 'c'}, true)}));
  EXPECT_EQ(server().conn->state(), ConnectionState::kConnected);
}

// RFC 9000 §4.5: data at or beyond the final size.
TEST_F(ConnectionErrorsTest, DataBeyondFinalSizeIsFinalSizeError) {
  inject(server(), encode({stream(0, 0, Bytes{'a', 'b', 'c'}, true)}));
  ASSERT_EQ(server().conn->state(), ConnectionState::kConnected);
  inject(server(), encode({stream(0, 3, Bytes{'d'}, false)}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFinalSizeError));
}

// RFC 9000 §4.5: a FIN below data already received.
TEST_F(ConnectionErrorsTest, FinBelowReceivedDataIsFinalSizeError) {
  inject(server(), encode({stream(0, 0, Bytes{'a', 'b', 'c', 'd'}, false)}));
  ASSERT_EQ(server().conn->state(), ConnectionState::kConnected);
  inject(server(), encode({stream(0, 0, Bytes{'a', 'b'}, true)}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFinalSizeError));
}

// RFC 9000 §4.5: RESET_STREAM with a final size below the data received.
TEST_F(ConnectionErrorsTest, ResetStreamBelowReceivedIsFinalSizeError) {
  inject(server(), encode({stream(0, 0, Bytes(10, 'z'), false)}));
  ASSERT_EQ(server().conn->state(), ConnectionState::kConnected);
  inject(server(), encode({ResetStreamFrame{0, 7, 5}}));
  EXPECT_TRUE(
      closed_with(*server().conn, TransportError::kFinalSizeError, ft(FrameType::kResetStream)));
}

// RFC 9000 §4.5: RESET_STREAM with another final size than the FIN gave.
TEST_F(ConnectionErrorsTest, ResetStreamAfterFinWithOtherSizeIsFinalSizeError) {
  inject(server(), encode({stream(0, 0, Bytes(10, 'z'), true)}));
  ASSERT_EQ(server().conn->state(), ConnectionState::kConnected);
  inject(server(), encode({ResetStreamFrame{0, 7, 11}}));
  EXPECT_TRUE(
      closed_with(*server().conn, TransportError::kFinalSizeError, ft(FrameType::kResetStream)));
}

// RFC 9000 §13.1: an ACK for a packet never sent SHOULD be a PROTOCOL_VIOLATION.
TEST_F(ConnectionErrorsTest, AckOfUnsentPacketIsProtocolViolation) {
  const std::array<AckRange, 1> r{AckRange{1000, 1000}};
  Bytes out(64);
  Writer w(out);
  ASSERT_TRUE(encode_ack(r, 0, nullptr, w));
  out.resize(w.written());
  inject(server(), out);
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kProtocolViolation, ft(FrameType::kAck)));
}

// RFC 9000 §19.11: MAX_STREAMS above 2^60 is FRAME_ENCODING_ERROR.
Bytes max_streams_raw(bool bidi, std::uint64_t count) {
  Bytes out(16);
  Writer w(out);
  w.write_u8(bidi ? 0x12 : 0x13);
  w.write_varint(count);
  out.resize(w.written());
  return out;
}

TEST_F(ConnectionErrorsTest, MaxStreamsBidiAbove2To60IsFrameEncodingError) {
  inject(server(), max_streams_raw(true, kMaxStreamCount + 1));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFrameEncodingError));
}

TEST_F(ConnectionErrorsTest, MaxStreamsUniAbove2To60IsFrameEncodingError) {
  inject(server(), max_streams_raw(false, kMaxStreamCount + 1));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFrameEncodingError));
}

// Exactly 2^60 is allowed.
TEST_F(ConnectionErrorsTest, MaxStreams2To60IsAccepted) {
  inject(server(), max_streams_raw(true, kMaxStreamCount));
  EXPECT_EQ(server().conn->state(), ConnectionState::kConnected);
}

// RFC 9000 §19.14: STREAMS_BLOCKED above 2^60 is FRAME_ENCODING_ERROR.
TEST_F(ConnectionErrorsTest, StreamsBlockedAbove2To60IsFrameEncodingError) {
  Bytes out(16);
  Writer w(out);
  w.write_u8(0x16);
  w.write_varint(kMaxStreamCount + 1);
  out.resize(w.written());
  inject(server(), out);
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFrameEncodingError));
}

// RFC 9000 §19.8: offset + length above 2^62 - 1 is FRAME_ENCODING_ERROR.
TEST_F(ConnectionErrorsTest, StreamEndBeyondVarintMaxIsFrameEncodingError) {
  Bytes out(32);
  Writer w(out);
  w.write_u8(0x0e);  // OFF | LEN
  w.write_varint(0);
  w.write_varint(kVarintMax);
  w.write_varint(2);
  w.write_u8('a');
  w.write_u8('b');
  out.resize(w.written());
  inject(server(), out);
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kFrameEncodingError));
}

// RFC 9000 §7.5: CRYPTO data beyond what we buffer.
TEST_F(ConnectionErrorsTest, CryptoBeyondBufferIsCryptoBufferExceeded) {
  const Bytes data{0x01};
  CryptoFrame c;
  c.offset = kMaxBufferedHandshakeBytes;
  c.data = ByteSpan(data.data(), data.size());
  inject(server(), encode({c}));
  EXPECT_TRUE(
      closed_with(*server().conn, TransportError::kCryptoBufferExceeded, ft(FrameType::kCrypto)));
}

// RFC 9221 §3: a DATAGRAM frame when we did not advertise max_datagram_frame_size.
TEST_F(ConnectionErrorsTest, DatagramNotNegotiatedIsProtocolViolation) {
  const Bytes data{1, 2, 3};
  DatagramFrame d;
  d.data = ByteSpan(data.data(), data.size());
  inject(server(), encode({d}));
  EXPECT_TRUE(
      closed_with(*server().conn, TransportError::kProtocolViolation, ft(FrameType::kDatagramLen)));
}

// Every frame type is allowed in 1-RTT (RFC 9000 §12.4 Table 3): PADDING
// alone and PING keep the connection open.
TEST_F(ConnectionErrorsTest, PaddingOnlyAndPingAreAccepted) {
  inject(server(), Bytes(40, 0x00));
  EXPECT_EQ(server().conn->state(), ConnectionState::kConnected);
  inject(server(), Bytes{0x01});
  EXPECT_EQ(server().conn->state(), ConnectionState::kConnected);
  EXPECT_FALSE(server().conn->close_info().has_value());
}

// Frames after the offending one are not processed (RFC 9000 §10.2: the
// endpoint stops on the error).
TEST_F(ConnectionErrorsTest, FramesAfterTheErrorAreNotProcessed) {
  const Bytes data{'x'};
  inject(server(), encode({HandshakeDoneFrame{}, stream(0, 0, data, false)}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kProtocolViolation));
  EXPECT_EQ(server().conn->stream_count(), 0u);
}

// RFC 9000 §10.2.2: a CONNECTION_CLOSE moves the receiver to draining: it
// sends nothing and closes after three PTOs.
TEST_F(ConnectionErrorsTest, ConnectionCloseReceivedDrainsThenCloses) {
  const Bytes reason{'b', 'y', 'e'};
  ConnectionCloseFrame cc;
  cc.error_code = static_cast<std::uint64_t>(TransportError::kFlowControlError);
  cc.frame_type = 0x08;
  cc.reason = ByteSpan(reason.data(), reason.size());
  // Data waiting to be sent must not be sent while draining.
  const std::optional<std::uint64_t> id = client().conn->open_stream(true);
  ASSERT_TRUE(id.has_value());
  ASSERT_EQ(client().conn->write(*id, ByteSpan(reason.data(), reason.size()), false), 3);
  const Time received_at = now_;
  inject(client(), encode({cc}));
  const Connection& c = *client().conn;
  ASSERT_EQ(c.state(), ConnectionState::kDraining);
  ASSERT_TRUE(c.close_info().has_value());
  EXPECT_FALSE(c.close_info()->local);
  EXPECT_FALSE(c.close_info()->application);
  EXPECT_EQ(c.close_info()->error_code, cc.error_code);
  EXPECT_EQ(c.close_info()->frame_type, 0x08u);
  EXPECT_EQ(c.close_info()->reason, "bye");

  // RFC 9000 §10.2: at least three times the current PTO (RFC 9002 §6.2.1).
  const RttEstimator& r = c.rtt();
  const Duration pto = r.smoothed_rtt() + std::max(4 * r.rttvar(), kGranularity) +
                       static_cast<Duration>(c.peer_transport().max_ack_delay) * kMillisecond;
  const Time deadline = c.next_timeout();
  ASSERT_NE(deadline, kNever);
  EXPECT_GE(deadline - received_at, 3 * pto);

  std::array<std::uint8_t, 1500> buf{};
  OutgoingDatagram out;
  EXPECT_FALSE(client().conn->write_datagram(buf, now_, &out));
  // Another packet from the peer does not provoke a reply either.
  inject(client(), Bytes{0x01});
  EXPECT_FALSE(client().conn->write_datagram(buf, now_ + kMillisecond, &out));
  client().conn->on_timeout(deadline - 1);
  EXPECT_EQ(c.state(), ConnectionState::kDraining);
  EXPECT_FALSE(client().conn->write_datagram(buf, deadline - 1, &out));
  client().conn->on_timeout(deadline);
  EXPECT_EQ(c.state(), ConnectionState::kClosed);
  EXPECT_FALSE(client().conn->write_datagram(buf, deadline, &out));
  EXPECT_EQ(c.next_timeout(), kNever);
}

// An application close (0x1d) is reported as such.
TEST_F(ConnectionErrorsTest, ApplicationCloseReceivedDrains) {
  ConnectionCloseFrame cc;
  cc.application = true;
  cc.error_code = 42;
  inject(server(), encode({cc}));
  ASSERT_EQ(server().conn->state(), ConnectionState::kDraining);
  ASSERT_TRUE(server().conn->close_info().has_value());
  EXPECT_TRUE(server().conn->close_info()->application);
  EXPECT_FALSE(server().conn->close_info()->local);
  EXPECT_EQ(server().conn->close_info()->error_code, 42u);
}

// RFC 9000 §10.2.1, §19.19: the closing side sends CONNECTION_CLOSE (0x1c)
// with the code and the frame type, once, and again in answer to a packet;
// the peer then drains with that code.
TEST_F(ConnectionErrorsTest, ClosingSideSendsConnectionCloseWithTheCode) {
  const Bytes data{'x'};
  inject(server(), encode({stream(kMaxBidi * 4, 0, data, false)}));
  ASSERT_TRUE(closed_with(*server().conn, TransportError::kStreamLimitError));

  auto sent_close = [&](Time at) -> std::optional<std::pair<ConnectionCloseFrame, Bytes>> {
    std::array<std::uint8_t, 1500> buf{};
    OutgoingDatagram out;
    if (!server().conn->write_datagram(buf, at, &out)) return std::nullopt;
    for (std::size_t i = 0; i < out.packet_count; ++i) {
      const OutgoingPacket& p = out.packets[i];
      if ((buf[p.offset] & 0x80) != 0) continue;  // a long header: not 1-RTT
      const std::size_t start = p.offset + p.header_length;
      Bytes payload(buf.begin() + static_cast<std::ptrdiff_t>(start),
                    buf.begin() + static_cast<std::ptrdiff_t>(start + p.payload_length));
      Reader rd(ByteSpan(payload.data(), payload.size()));
      std::optional<ConnectionCloseFrame> found;
      while (!rd.empty()) {
        Frame f;
        EXPECT_EQ(decode_frame(rd, &f), TransportError::kNoError);
        if (auto* c = std::get_if<ConnectionCloseFrame>(&f)) found = *c;
        // RFC 9000 §10.2.1: only CONNECTION_CLOSE (and PADDING) while closing.
        EXPECT_TRUE(std::holds_alternative<ConnectionCloseFrame>(f) ||
                    std::holds_alternative<PaddingFrame>(f));
        if (::testing::Test::HasFailure()) break;
      }
      if (found) return std::make_pair(*found, payload);
    }
    return std::nullopt;
  };

  const auto first = sent_close(now_);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(first->first.application);
  EXPECT_EQ(first->first.error_code, static_cast<std::uint64_t>(TransportError::kStreamLimitError));
  EXPECT_EQ(first->first.frame_type & ~std::uint64_t{7}, ft(FrameType::kStream));
  // Once per trigger.
  EXPECT_FALSE(sent_close(now_).has_value());
  // A packet arriving while closing is answered with the close again.
  inject(server(), Bytes{0x01});
  EXPECT_EQ(server().conn->state(), ConnectionState::kClosing);
  const auto again = sent_close(now_);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->first.error_code, first->first.error_code);

  // The client, given that packet, drains with the server's code.
  inject(client(), first->second);
  ASSERT_EQ(client().conn->state(), ConnectionState::kDraining);
  ASSERT_TRUE(client().conn->close_info().has_value());
  EXPECT_FALSE(client().conn->close_info()->local);
  EXPECT_EQ(client().conn->close_info()->error_code,
            static_cast<std::uint64_t>(TransportError::kStreamLimitError));

  // The closing side closes after its three PTOs, sending nothing more.
  const Time deadline = server().conn->next_timeout();
  ASSERT_NE(deadline, kNever);
  EXPECT_GT(deadline, now_);
  server().conn->on_timeout(deadline);
  EXPECT_EQ(server().conn->state(), ConnectionState::kClosed);
  EXPECT_FALSE(sent_close(deadline).has_value());
}

// ---------------------------------------------------------------- connection IDs

NewConnectionIdFrame new_cid(std::uint64_t seq, std::uint64_t retire_prior_to, std::uint8_t fill,
                             Bytes& storage, std::uint8_t token_fill = 0) {
  storage.assign(8, fill);
  NewConnectionIdFrame f;
  f.sequence_number = seq;
  f.retire_prior_to = retire_prior_to;
  f.connection_id = ByteSpan(storage.data(), storage.size());
  f.stateless_reset_token.fill(token_fill == 0 ? fill : token_fill);
  return f;
}

// RFC 9000 §5.1.1: more active CIDs than our active_connection_id_limit (2).
TEST_F(ConnectionErrorsTest, NewConnectionIdBeyondLimitIsConnectionIdLimitError) {
  Bytes a, b;
  inject(client(), encode({new_cid(1, 0, 0x31, a)}));
  ASSERT_EQ(client().conn->state(), ConnectionState::kConnected);
  inject(client(), encode({new_cid(2, 0, 0x32, b)}));
  EXPECT_TRUE(closed_with(*client().conn, TransportError::kConnectionIdLimitError,
                          ft(FrameType::kNewConnectionId)));
}

// §5.1.1: the limit counts after retiring: a frame that retires one and adds
// one stays within it.
TEST_F(ConnectionErrorsTest, NewConnectionIdThatRetiresStaysWithinLimit) {
  Bytes a, b, c;
  inject(client(), encode({new_cid(1, 0, 0x31, a)}));
  inject(client(), encode({new_cid(2, 1, 0x32, b)}));
  inject(client(), encode({new_cid(3, 2, 0x33, c)}));
  EXPECT_EQ(client().conn->state(), ConnectionState::kConnected);
  EXPECT_TRUE(same_bytes(client().conn->peer_cid().span(), ByteSpan(b.data(), b.size())));
}

// §19.15: a sequence number reused for another CID.
TEST_F(ConnectionErrorsTest, SequenceReusedForAnotherCidIsProtocolViolation) {
  Bytes a, b;
  inject(client(), encode({new_cid(1, 0, 0x31, a)}));
  inject(client(), encode({new_cid(1, 0, 0x32, b)}));
  EXPECT_TRUE(closed_with(*client().conn, TransportError::kProtocolViolation,
                          ft(FrameType::kNewConnectionId)));
}

// §19.15: a CID repeated with another sequence number.
TEST_F(ConnectionErrorsTest, CidReusedWithAnotherSequenceIsProtocolViolation) {
  Bytes a, b;
  inject(client(), encode({new_cid(1, 0, 0x31, a)}));
  inject(client(), encode({new_cid(2, 0, 0x31, b)}));
  EXPECT_TRUE(closed_with(*client().conn, TransportError::kProtocolViolation));
}

// §19.15: a CID repeated with another stateless reset token.
TEST_F(ConnectionErrorsTest, CidRepeatedWithAnotherTokenIsProtocolViolation) {
  Bytes a, b;
  inject(client(), encode({new_cid(1, 0, 0x31, a)}));
  inject(client(), encode({new_cid(1, 0, 0x31, b, 0x77)}));
  EXPECT_TRUE(closed_with(*client().conn, TransportError::kProtocolViolation));
}

// §19.15: a sequence number below an earlier Retire Prior To is retired at
// once, not added (so it does not count toward the limit).
TEST_F(ConnectionErrorsTest, NewConnectionIdBelowRetirePriorToIsNotAdded) {
  Bytes a, b;
  inject(client(), encode({new_cid(3, 3, 0x33, a)}));
  inject(client(), encode({new_cid(2, 0, 0x32, b)}));
  EXPECT_EQ(client().conn->state(), ConnectionState::kConnected);
  EXPECT_TRUE(same_bytes(client().conn->peer_cid().span(), ByteSpan(a.data(), a.size())));
}

// §5.1.2: retirements the peer makes us owe are bounded; beyond the bound
// (nothing acknowledged here) it is CONNECTION_ID_LIMIT_ERROR.
TEST_F(ConnectionErrorsTest, TooManyRetirementsOwedIsConnectionIdLimitError) {
  std::vector<Bytes> cids(40);
  std::uint64_t seq = 1;
  for (; seq < cids.size() && client().conn->state() == ConnectionState::kConnected; ++seq)
    inject(client(), encode({new_cid(seq, seq, static_cast<std::uint8_t>(0x40 + seq), cids[seq])}));
  EXPECT_TRUE(closed_with(*client().conn, TransportError::kConnectionIdLimitError));
  EXPECT_GT(seq, 8u);  // not before twice the limit we advertise
}

// §19.16: a sequence number we never issued (only 0 is, so far).
TEST_F(ConnectionErrorsTest, RetireOfUnissuedSequenceIsProtocolViolation) {
  inject(server(), encode({RetireConnectionIdFrame{1}}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kProtocolViolation,
                          ft(FrameType::kRetireConnectionId)));
}

// §19.16: retiring the CID the packet itself was sent to.
TEST_F(ConnectionErrorsTest, RetireOfThePacketsOwnCidIsProtocolViolation) {
  inject(server(), encode({RetireConnectionIdFrame{0}}));
  EXPECT_TRUE(closed_with(*server().conn, TransportError::kProtocolViolation,
                          ft(FrameType::kRetireConnectionId)));
}

}  // namespace
}  // namespace dquic
