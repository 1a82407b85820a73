#include "quic/frame_rules.h"

#include <gtest/gtest.h>

#include <string>

namespace dquic {
namespace {

// RFC 9000 §12.4 Table 3, transcribed as printed: "Pkts" (I, H, 0, 1 or '_';
// lower-case "ih" for CONNECTION_CLOSE) and "Spec" (N, C, P, F). DATAGRAM is
// from RFC 9221 §4-5: 0-RTT/1-RTT, ack-eliciting, congestion controlled.
struct Row {
  std::uint64_t first, last;
  const char* pkts;
  const char* spec;
};

constexpr Row kTable3[] = {
    {0x00, 0x00, "IH01", "NP"},  // PADDING
    {0x01, 0x01, "IH01", ""},    // PING
    {0x02, 0x03, "IH_1", "NC"},  // ACK
    {0x04, 0x04, "__01", ""},    // RESET_STREAM
    {0x05, 0x05, "__01", ""},    // STOP_SENDING
    {0x06, 0x06, "IH_1", ""},    // CRYPTO
    {0x07, 0x07, "___1", ""},    // NEW_TOKEN
    {0x08, 0x0f, "__01", "F"},   // STREAM
    {0x10, 0x10, "__01", ""},    // MAX_DATA
    {0x11, 0x11, "__01", ""},    // MAX_STREAM_DATA
    {0x12, 0x13, "__01", ""},    // MAX_STREAMS
    {0x14, 0x14, "__01", ""},    // DATA_BLOCKED
    {0x15, 0x15, "__01", ""},    // STREAM_DATA_BLOCKED
    {0x16, 0x17, "__01", ""},    // STREAMS_BLOCKED
    {0x18, 0x18, "__01", "P"},   // NEW_CONNECTION_ID
    {0x19, 0x19, "__01", ""},    // RETIRE_CONNECTION_ID
    {0x1a, 0x1a, "__01", "P"},   // PATH_CHALLENGE
    {0x1b, 0x1b, "___1", "P"},   // PATH_RESPONSE
    {0x1c, 0x1d, "ih01", "N"},   // CONNECTION_CLOSE
    {0x1e, 0x1e, "___1", ""},    // HANDSHAKE_DONE
    {0x30, 0x31, "__01", ""},    // DATAGRAM (RFC 9221)
};

bool has(const char* s, char c) {
  return std::string(s).find(c) != std::string::npos;
}

// What the row says about one frame type in one packet type.
bool table_allows(const Row& row, std::uint64_t type, PacketType p) {
  const std::string pkts = row.pkts;
  switch (p) {
    case PacketType::kInitial:
    case PacketType::kHandshake: {
      const char c = pkts[p == PacketType::kInitial ? 0 : 1];
      if (c == 'I' || c == 'H') return true;
      // "ih": only CONNECTION_CLOSE of type 0x1c.
      return (c == 'i' || c == 'h') && type == 0x1c;
    }
    case PacketType::kZeroRtt:
      return pkts[2] == '0';
    case PacketType::kOneRtt:
      return pkts[3] == '1';
    case PacketType::kRetry:
    case PacketType::kVersionNegotiation:
      return false;
  }
  return false;
}

constexpr PacketType kPacketTypes[] = {PacketType::kInitial,   PacketType::kZeroRtt,
                                       PacketType::kHandshake, PacketType::kRetry,
                                       PacketType::kOneRtt,    PacketType::kVersionNegotiation};

TEST(FrameRules, Table3RowByRow) {
  for (const Row& row : kTable3) {
    for (std::uint64_t t = row.first; t <= row.last; ++t) {
      SCOPED_TRACE(::testing::Message() << "type 0x" << std::hex << t);
      const auto ft = static_cast<FrameType>(t);
      EXPECT_TRUE(is_known_frame_type(ft));
      for (PacketType p : kPacketTypes) {
        EXPECT_EQ(frame_allowed_in(ft, p), table_allows(row, t, p)) << static_cast<int>(p);
      }
      EXPECT_EQ(is_ack_eliciting(ft), !has(row.spec, 'N'));
      EXPECT_EQ(is_congestion_controlled(ft), !has(row.spec, 'C'));
      EXPECT_EQ(is_probing(ft), has(row.spec, 'P'));
      EXPECT_EQ(is_flow_controlled(ft), has(row.spec, 'F'));
    }
  }
}

TEST(FrameRules, SpotChecks) {
  EXPECT_TRUE(frame_allowed_in(FrameType::kConnectionClose, PacketType::kInitial));
  EXPECT_TRUE(frame_allowed_in(FrameType::kConnectionClose, PacketType::kHandshake));
  EXPECT_FALSE(frame_allowed_in(FrameType::kConnectionCloseApp, PacketType::kInitial));
  EXPECT_FALSE(frame_allowed_in(FrameType::kConnectionCloseApp, PacketType::kHandshake));
  EXPECT_TRUE(frame_allowed_in(FrameType::kConnectionCloseApp, PacketType::kZeroRtt));
  EXPECT_FALSE(frame_allowed_in(FrameType::kAck, PacketType::kZeroRtt));
  EXPECT_FALSE(frame_allowed_in(FrameType::kCrypto, PacketType::kZeroRtt));
  EXPECT_FALSE(frame_allowed_in(FrameType::kPathResponse, PacketType::kZeroRtt));
  EXPECT_FALSE(frame_allowed_in(FrameType::kStream, PacketType::kInitial));
  EXPECT_TRUE(frame_allowed_in(static_cast<FrameType>(0x0f), PacketType::kOneRtt));
  EXPECT_FALSE(frame_allowed_in(FrameType::kDatagram, PacketType::kHandshake));
  EXPECT_TRUE(frame_allowed_in(FrameType::kDatagramLen, PacketType::kZeroRtt));
  EXPECT_TRUE(is_ack_eliciting(FrameType::kDatagram));
  EXPECT_TRUE(is_congestion_controlled(FrameType::kDatagram));
  EXPECT_FALSE(is_flow_controlled(FrameType::kDatagram));
  EXPECT_FALSE(is_ack_eliciting(FrameType::kPadding));
  EXPECT_TRUE(is_congestion_controlled(FrameType::kPadding));
}

TEST(FrameRules, UnknownTypesAreNowhere) {
  for (std::uint64_t t :
       {std::uint64_t{0x1f}, std::uint64_t{0x20}, std::uint64_t{0x2f}, std::uint64_t{0x32},
        std::uint64_t{0x40}, std::uint64_t{0x4000}, kVarintMax}) {
    const auto ft = static_cast<FrameType>(t);
    EXPECT_FALSE(is_known_frame_type(ft));
    for (PacketType p : kPacketTypes)
      EXPECT_FALSE(frame_allowed_in(ft, p));
    EXPECT_FALSE(is_ack_eliciting(ft));
    EXPECT_FALSE(is_probing(ft));
    EXPECT_EQ(check_frame(ft, PacketType::kOneRtt, EndpointRole::kClient),
              TransportError::kFrameEncodingError);
  }
}

TEST(FrameRules, CheckFrameMatchesTheTable) {
  for (const Row& row : kTable3) {
    for (std::uint64_t t = row.first; t <= row.last; ++t) {
      const auto ft = static_cast<FrameType>(t);
      for (PacketType p : kPacketTypes) {
        const TransportError want =
            table_allows(row, t, p) ? TransportError::kNoError : TransportError::kProtocolViolation;
        EXPECT_EQ(check_frame(ft, p, EndpointRole::kClient), want) << t;
      }
    }
  }
}

TEST(FrameRules, ServerRejectsServerOnlyFrames) {
  // §19.7, §19.20
  EXPECT_EQ(check_frame(FrameType::kNewToken, PacketType::kOneRtt, EndpointRole::kServer),
            TransportError::kProtocolViolation);
  EXPECT_EQ(check_frame(FrameType::kHandshakeDone, PacketType::kOneRtt, EndpointRole::kServer),
            TransportError::kProtocolViolation);
  EXPECT_EQ(check_frame(FrameType::kNewToken, PacketType::kOneRtt, EndpointRole::kClient),
            TransportError::kNoError);
  EXPECT_EQ(check_frame(FrameType::kHandshakeDone, PacketType::kOneRtt, EndpointRole::kClient),
            TransportError::kNoError);
  EXPECT_EQ(check_frame(FrameType::kPing, PacketType::kOneRtt, EndpointRole::kServer),
            TransportError::kNoError);
}

TEST(FrameRules, CheckDecodedFrames) {
  EXPECT_EQ(check_frame(Frame{HandshakeDoneFrame{}}, PacketType::kOneRtt, EndpointRole::kServer),
            TransportError::kProtocolViolation);
  EXPECT_EQ(check_frame(Frame{ConnectionCloseFrame{true, 0, 0, {}}}, PacketType::kInitial,
                        EndpointRole::kServer),
            TransportError::kProtocolViolation);
  EXPECT_EQ(check_frame(Frame{ConnectionCloseFrame{false, 0, 0, {}}}, PacketType::kInitial,
                        EndpointRole::kServer),
            TransportError::kNoError);
  EXPECT_EQ(check_frame(Frame{StreamFrame{0, 5, {}, true, false}}, PacketType::kHandshake,
                        EndpointRole::kClient),
            TransportError::kProtocolViolation);
  EXPECT_EQ(check_frame(Frame{StreamFrame{0, 5, {}, true, false}}, PacketType::kZeroRtt,
                        EndpointRole::kServer),
            TransportError::kNoError);
  EXPECT_EQ(check_frame(Frame{DatagramFrame{}}, PacketType::kInitial, EndpointRole::kServer),
            TransportError::kProtocolViolation);
  EXPECT_EQ(check_frame(Frame{PaddingFrame{}}, PacketType::kRetry, EndpointRole::kClient),
            TransportError::kProtocolViolation);
}

}  // namespace
}  // namespace dquic
