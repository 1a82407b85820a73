// Stream IDs (stream_id.h) and the stream state machines (stream_state.h).
#include "quic/stream_state.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <iterator>
#include <vector>

#include "quic/frame.h"
#include "quic/stream_id.h"
#include "quic/varint.h"

namespace dquic {
namespace {

constexpr TransportError kOk = TransportError::kNoError;
constexpr TransportError kIllegal = TransportError::kInternalError;
constexpr EndpointRole kClient = EndpointRole::kClient;
constexpr EndpointRole kServer = EndpointRole::kServer;
constexpr StreamDirection kBidi = StreamDirection::kBidirectional;
constexpr StreamDirection kUni = StreamDirection::kUnidirectional;

// --- Stream IDs (RFC 9000 §2.1, Table 1)

TEST(StreamIdTest, TypeBits) {
  EXPECT_EQ(stream_initiator(0), kClient);
  EXPECT_EQ(stream_direction(0), kBidi);
  EXPECT_EQ(stream_initiator(1), kServer);
  EXPECT_EQ(stream_direction(1), kBidi);
  EXPECT_EQ(stream_initiator(2), kClient);
  EXPECT_EQ(stream_direction(2), kUni);
  EXPECT_EQ(stream_initiator(3), kServer);
  EXPECT_EQ(stream_direction(3), kUni);
  EXPECT_TRUE(is_bidirectional(4));
  EXPECT_FALSE(is_bidirectional(6));
}

TEST(StreamIdTest, IndexAndIdRoundTrip) {
  // §19.11: a server with a unidirectional limit of 3 may open 3, 7 and 11.
  EXPECT_EQ(make_stream_id(kServer, kUni, 0), 3u);
  EXPECT_EQ(make_stream_id(kServer, kUni, 1), 7u);
  EXPECT_EQ(make_stream_id(kServer, kUni, 2), 11u);
  EXPECT_EQ(make_stream_id(kClient, kBidi, 5), 20u);
  EXPECT_EQ(make_stream_id(kServer, kBidi, 5), 21u);
  EXPECT_EQ(make_stream_id(kClient, kUni, 5), 22u);
  EXPECT_EQ(stream_index(11), 2u);
  EXPECT_EQ(stream_index(20), 5u);
  for (std::uint64_t id : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{2}, std::uint64_t{3},
                           std::uint64_t{1234}, kVarintMax}) {
    EXPECT_EQ(make_stream_id(stream_initiator(id), stream_direction(id), stream_index(id)), id);
  }
  // The last index of a type, kMaxStreamCount - 1, still fits a varint.
  EXPECT_EQ(make_stream_id(kServer, kUni, kMaxStreamCount - 1), kVarintMax);
}

TEST(StreamIdTest, LocalAndDirectionForBothRoles) {
  struct Row {
    std::uint64_t id;
    EndpointRole self;
    bool local, send, receive;
  };
  const Row rows[] = {
      {0, kClient, true, true, true},   {1, kClient, false, true, true},
      {2, kClient, true, true, false},  {3, kClient, false, false, true},
      {0, kServer, false, true, true},  {1, kServer, true, true, true},
      {2, kServer, false, false, true}, {3, kServer, true, true, false},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(testing::Message() << "id " << r.id << " server " << (r.self == kServer));
    EXPECT_EQ(is_local(r.id, r.self), r.local);
    EXPECT_EQ(can_send(r.id, r.self), r.send);
    EXPECT_EQ(can_receive(r.id, r.self), r.receive);
    // Higher-numbered streams of the same type behave the same.
    EXPECT_EQ(is_local(r.id + 400, r.self), r.local);
    EXPECT_EQ(can_send(r.id + 400, r.self), r.send);
    EXPECT_EQ(can_receive(r.id + 400, r.self), r.receive);
  }
}

TEST(StreamIdTest, UsableInConstantExpressions) {
  static_assert(stream_index(make_stream_id(kClient, kUni, 7)) == 7);
  static_assert(check_peer_frame(FrameType::kStream, 1, kClient, {0, 1}) == kOk);
}

// --- check_peer_frame

// Frames naming the receiving part (STREAM, RESET_STREAM,
// STREAM_DATA_BLOCKED) and frames naming the sending part (STOP_SENDING,
// MAX_STREAM_DATA).
const FrameType kToReceiver[] = {FrameType::kStream, FrameType::kResetStream,
                                 FrameType::kStreamDataBlocked};
const FrameType kToSender[] = {FrameType::kStopSending, FrameType::kMaxStreamData};

enum class Expect { kOkIfOpened, kOkUnderLimit, kStateError };

struct PeerFrameRow {
  EndpointRole self;
  std::uint64_t type_bits;  // the stream ID's low two bits
  bool to_receiver;
  Expect expect;
};

// RFC 9000 §19.4, §19.5, §19.8, §19.10, §19.13, §4.6, spelled out per role.
const PeerFrameRow kPeerFrameRows[] = {
    // Client: 0 local bidi, 1 peer bidi, 2 local uni (send-only), 3 peer uni (receive-only).
    {kClient, 0, true, Expect::kOkIfOpened},
    {kClient, 1, true, Expect::kOkUnderLimit},
    {kClient, 2, true, Expect::kStateError},
    {kClient, 3, true, Expect::kOkUnderLimit},
    {kClient, 0, false, Expect::kOkIfOpened},
    {kClient, 1, false, Expect::kOkUnderLimit},
    {kClient, 2, false, Expect::kOkIfOpened},
    {kClient, 3, false, Expect::kStateError},
    // Server: 0 peer bidi, 1 local bidi, 2 peer uni (receive-only), 3 local uni (send-only).
    {kServer, 0, true, Expect::kOkUnderLimit},
    {kServer, 1, true, Expect::kOkIfOpened},
    {kServer, 2, true, Expect::kOkUnderLimit},
    {kServer, 3, true, Expect::kStateError},
    {kServer, 0, false, Expect::kOkUnderLimit},
    {kServer, 1, false, Expect::kOkIfOpened},
    {kServer, 2, false, Expect::kStateError},
    {kServer, 3, false, Expect::kOkIfOpened},
};

TEST(CheckPeerFrameTest, EveryRoleStreamTypeAndFrame) {
  const StreamCounts counts{.local_opened = 2, .peer_limit = 3};
  for (const PeerFrameRow& r : kPeerFrameRows) {
    std::vector<FrameType> types;
    if (r.to_receiver) {
      types.assign(std::begin(kToReceiver), std::end(kToReceiver));
    } else {
      types.assign(std::begin(kToSender), std::end(kToSender));
    }
    for (FrameType t : types) {
      SCOPED_TRACE(testing::Message() << "server " << (r.self == kServer) << " type bits "
                                      << r.type_bits << " frame " << static_cast<std::uint64_t>(t));
      const auto id = [&](std::uint64_t index) { return index << 2 | r.type_bits; };
      switch (r.expect) {
        case Expect::kOkIfOpened:
          EXPECT_EQ(check_peer_frame(t, id(0), r.self, counts), kOk);
          EXPECT_EQ(check_peer_frame(t, id(1), r.self, counts), kOk);
          // Locally initiated but not yet created.
          EXPECT_EQ(check_peer_frame(t, id(2), r.self, counts), TransportError::kStreamStateError);
          EXPECT_EQ(check_peer_frame(t, id(1000), r.self, counts),
                    TransportError::kStreamStateError);
          break;
        case Expect::kOkUnderLimit:
          EXPECT_EQ(check_peer_frame(t, id(0), r.self, counts), kOk);
          EXPECT_EQ(check_peer_frame(t, id(2), r.self, counts), kOk);  // the last allowed
          EXPECT_EQ(check_peer_frame(t, id(3), r.self, counts), TransportError::kStreamLimitError);
          EXPECT_EQ(check_peer_frame(t, id(1000), r.self, counts),
                    TransportError::kStreamLimitError);
          break;
        case Expect::kStateError:
          // Wrong direction, whether or not the stream exists.
          EXPECT_EQ(check_peer_frame(t, id(0), r.self, counts), TransportError::kStreamStateError);
          EXPECT_EQ(check_peer_frame(t, id(2), r.self, counts), TransportError::kStreamStateError);
          EXPECT_EQ(check_peer_frame(t, id(1000), r.self, counts),
                    TransportError::kStreamStateError);
          break;
      }
    }
  }
}

TEST(CheckPeerFrameTest, EveryStreamFrameTypeVariantIsStream) {
  // 0x08-0x0f all carry the OFF/LEN/FIN flags in the type.
  const StreamCounts counts{.local_opened = 0, .peer_limit = 1};
  for (std::uint64_t v = 0x08; v <= 0x0f; ++v) {
    const auto t = static_cast<FrameType>(v);
    EXPECT_EQ(check_peer_frame(t, 1, kClient, counts), kOk);
    EXPECT_EQ(check_peer_frame(t, 5, kClient, counts), TransportError::kStreamLimitError);
    EXPECT_EQ(check_peer_frame(t, 2, kClient, counts), TransportError::kStreamStateError);
    EXPECT_EQ(check_peer_frame(t, 0, kClient, counts), TransportError::kStreamStateError);
  }
}

TEST(CheckPeerFrameTest, ZeroLimitsRejectEveryStream) {
  const StreamCounts none{};
  EXPECT_EQ(check_peer_frame(FrameType::kStream, 0, kServer, none),
            TransportError::kStreamLimitError);
  EXPECT_EQ(check_peer_frame(FrameType::kMaxStreamData, 1, kServer, none),
            TransportError::kStreamStateError);
}

TEST(CheckPeerFrameTest, LargestStreamId) {
  // kVarintMax is server-initiated unidirectional with index 2^60 - 1.
  const StreamCounts all{.local_opened = kMaxStreamCount, .peer_limit = kMaxStreamCount};
  EXPECT_EQ(check_peer_frame(FrameType::kStream, kVarintMax, kClient, all), kOk);
  EXPECT_EQ(check_peer_frame(FrameType::kStopSending, kVarintMax, kServer, all), kOk);
  const StreamCounts one_short{.local_opened = kMaxStreamCount - 1,
                               .peer_limit = kMaxStreamCount - 1};
  EXPECT_EQ(check_peer_frame(FrameType::kStream, kVarintMax, kClient, one_short),
            TransportError::kStreamLimitError);
  EXPECT_EQ(check_peer_frame(FrameType::kStopSending, kVarintMax, kServer, one_short),
            TransportError::kStreamStateError);
}

TEST(CheckPeerFrameTest, FramesWithoutStreamIdAreCallerMistakes) {
  const StreamCounts counts{.local_opened = 10, .peer_limit = 10};
  for (FrameType t :
       {FrameType::kMaxData, FrameType::kPadding, FrameType::kCrypto, FrameType::kMaxStreamsBidi,
        FrameType::kStreamsBlockedUni, FrameType::kDatagram}) {
    EXPECT_EQ(check_peer_frame(t, 0, kServer, counts), TransportError::kInternalError);
  }
}

// --- Sending part (RFC 9000 §3.1)

enum class SendEvent { kData, kFin, kAllAcked, kReset, kResetAcked };

TransportError apply(SendingPart& p, SendEvent e) {
  switch (e) {
    case SendEvent::kData:
      return p.on_data_sent();
    case SendEvent::kFin:
      return p.on_fin_sent();
    case SendEvent::kAllAcked:
      return p.on_all_data_acked();
    case SendEvent::kReset:
      return p.on_reset_sent();
    case SendEvent::kResetAcked:
      return p.on_reset_acked();
  }
  return kIllegal;
}

// A sending part driven into `s` by legal events only.
SendingPart sending_in(SendState s) {
  SendingPart p;
  std::vector<SendEvent> path;
  switch (s) {
    case SendState::kReady:
      break;
    case SendState::kSend:
      path = {SendEvent::kData};
      break;
    case SendState::kDataSent:
      path = {SendEvent::kData, SendEvent::kFin};
      break;
    case SendState::kDataRecvd:
      path = {SendEvent::kData, SendEvent::kFin, SendEvent::kAllAcked};
      break;
    case SendState::kResetSent:
      path = {SendEvent::kData, SendEvent::kReset};
      break;
    case SendState::kResetRecvd:
      path = {SendEvent::kData, SendEvent::kReset, SendEvent::kResetAcked};
      break;
  }
  for (SendEvent e : path)
    EXPECT_EQ(apply(p, e), kOk);
  EXPECT_EQ(p.state(), s);
  return p;
}

struct SendRow {
  SendState from;
  SendEvent event;
  TransportError result;
  SendState to;
};

// Every state x event. Illegal events leave the state unchanged.
const SendRow kSendTable[] = {
    {SendState::kReady, SendEvent::kData, kOk, SendState::kSend},
    {SendState::kReady, SendEvent::kFin, kOk, SendState::kDataSent},
    {SendState::kReady, SendEvent::kAllAcked, kIllegal, SendState::kReady},
    {SendState::kReady, SendEvent::kReset, kOk, SendState::kResetSent},  // reset as first frame
    {SendState::kReady, SendEvent::kResetAcked, kIllegal, SendState::kReady},

    {SendState::kSend, SendEvent::kData, kOk, SendState::kSend},
    {SendState::kSend, SendEvent::kFin, kOk, SendState::kDataSent},
    {SendState::kSend, SendEvent::kAllAcked, kIllegal, SendState::kSend},
    {SendState::kSend, SendEvent::kReset, kOk, SendState::kResetSent},
    {SendState::kSend, SendEvent::kResetAcked, kIllegal, SendState::kSend},

    {SendState::kDataSent, SendEvent::kData, kOk, SendState::kDataSent},  // retransmission
    {SendState::kDataSent, SendEvent::kFin, kOk, SendState::kDataSent},   // retransmission
    {SendState::kDataSent, SendEvent::kAllAcked, kOk, SendState::kDataRecvd},
    {SendState::kDataSent, SendEvent::kReset, kOk, SendState::kResetSent},
    {SendState::kDataSent, SendEvent::kResetAcked, kIllegal, SendState::kDataSent},

    {SendState::kDataRecvd, SendEvent::kData, kIllegal, SendState::kDataRecvd},
    {SendState::kDataRecvd, SendEvent::kFin, kIllegal, SendState::kDataRecvd},
    {SendState::kDataRecvd, SendEvent::kAllAcked, kOk, SendState::kDataRecvd},
    {SendState::kDataRecvd, SendEvent::kReset, kIllegal, SendState::kDataRecvd},
    {SendState::kDataRecvd, SendEvent::kResetAcked, kIllegal, SendState::kDataRecvd},

    {SendState::kResetSent, SendEvent::kData, kIllegal, SendState::kResetSent},
    {SendState::kResetSent, SendEvent::kFin, kIllegal, SendState::kResetSent},
    {SendState::kResetSent, SendEvent::kAllAcked, kOk, SendState::kResetSent},  // late acks
    {SendState::kResetSent, SendEvent::kReset, kOk, SendState::kResetSent},     // retransmission
    {SendState::kResetSent, SendEvent::kResetAcked, kOk, SendState::kResetRecvd},

    {SendState::kResetRecvd, SendEvent::kData, kIllegal, SendState::kResetRecvd},
    {SendState::kResetRecvd, SendEvent::kFin, kIllegal, SendState::kResetRecvd},
    {SendState::kResetRecvd, SendEvent::kAllAcked, kOk, SendState::kResetRecvd},
    {SendState::kResetRecvd, SendEvent::kReset, kIllegal, SendState::kResetRecvd},
    {SendState::kResetRecvd, SendEvent::kResetAcked, kOk, SendState::kResetRecvd},
};

TEST(SendingPartTest, EveryStateAndEvent) {
  ASSERT_EQ(std::size(kSendTable), 30u);
  for (const SendRow& r : kSendTable) {
    SCOPED_TRACE(testing::Message()
                 << "from " << static_cast<int>(r.from) << " event " << static_cast<int>(r.event));
    SendingPart p = sending_in(r.from);
    EXPECT_EQ(apply(p, r.event), r.result);
    EXPECT_EQ(p.state(), r.to);
  }
}

TEST(SendingPartTest, StartsReady) {
  SendingPart p;
  EXPECT_EQ(p.state(), SendState::kReady);
  EXPECT_FALSE(p.is_terminal());
}

TEST(SendingPartTest, QueriesPerState) {
  struct Row {
    SendState s;
    bool terminal, can_send, wants_credit, reset_on_stop;
  };
  const Row rows[] = {
      {SendState::kReady, false, true, true, true},
      {SendState::kSend, false, true, true, true},
      {SendState::kDataSent, false, false, false, true},
      {SendState::kDataRecvd, true, false, false, false},
      {SendState::kResetSent, false, false, false, false},
      {SendState::kResetRecvd, true, false, false, false},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(static_cast<int>(r.s));
    const SendingPart p = sending_in(r.s);
    EXPECT_EQ(p.is_terminal(), r.terminal);
    EXPECT_EQ(p.can_send_data(), r.can_send);
    EXPECT_EQ(p.wants_max_stream_data(), r.wants_credit);
    EXPECT_EQ(p.should_reset_on_stop_sending(), r.reset_on_stop);
  }
}

// --- Receiving part (RFC 9000 §3.2)

enum class RecvEvent { kFin, kReset, kAllData, kDataRead, kResetRead };

TransportError apply(ReceivingPart& p, RecvEvent e) {
  switch (e) {
    case RecvEvent::kFin:
      p.on_fin_received();
      return kOk;
    case RecvEvent::kReset:
      p.on_reset_received();
      return kOk;
    case RecvEvent::kAllData:
      return p.on_all_data_received();
    case RecvEvent::kDataRead:
      return p.on_data_read();
    case RecvEvent::kResetRead:
      return p.on_reset_read();
  }
  return kIllegal;
}

ReceivingPart receiving_in(RecvState s) {
  ReceivingPart p;
  std::vector<RecvEvent> path;
  switch (s) {
    case RecvState::kRecv:
      break;
    case RecvState::kSizeKnown:
      path = {RecvEvent::kFin};
      break;
    case RecvState::kDataRecvd:
      path = {RecvEvent::kFin, RecvEvent::kAllData};
      break;
    case RecvState::kDataRead:
      path = {RecvEvent::kFin, RecvEvent::kAllData, RecvEvent::kDataRead};
      break;
    case RecvState::kResetRecvd:
      path = {RecvEvent::kReset};
      break;
    case RecvState::kResetRead:
      path = {RecvEvent::kReset, RecvEvent::kResetRead};
      break;
  }
  for (RecvEvent e : path)
    EXPECT_EQ(apply(p, e), kOk);
  EXPECT_EQ(p.state(), s);
  return p;
}

struct RecvRow {
  RecvState from;
  RecvEvent event;
  TransportError result;
  RecvState to;
};

const RecvRow kRecvTable[] = {
    {RecvState::kRecv, RecvEvent::kFin, kOk, RecvState::kSizeKnown},
    {RecvState::kRecv, RecvEvent::kReset, kOk, RecvState::kResetRecvd},
    {RecvState::kRecv, RecvEvent::kAllData, kIllegal, RecvState::kRecv},  // size unknown
    {RecvState::kRecv, RecvEvent::kDataRead, kIllegal, RecvState::kRecv},
    {RecvState::kRecv, RecvEvent::kResetRead, kIllegal, RecvState::kRecv},

    {RecvState::kSizeKnown, RecvEvent::kFin, kOk, RecvState::kSizeKnown},
    {RecvState::kSizeKnown, RecvEvent::kReset, kOk, RecvState::kResetRecvd},
    {RecvState::kSizeKnown, RecvEvent::kAllData, kOk, RecvState::kDataRecvd},
    {RecvState::kSizeKnown, RecvEvent::kDataRead, kIllegal, RecvState::kSizeKnown},
    {RecvState::kSizeKnown, RecvEvent::kResetRead, kIllegal, RecvState::kSizeKnown},

    {RecvState::kDataRecvd, RecvEvent::kFin, kOk, RecvState::kDataRecvd},
    {RecvState::kDataRecvd, RecvEvent::kReset, kOk, RecvState::kDataRecvd},  // suppressed
    {RecvState::kDataRecvd, RecvEvent::kAllData, kOk, RecvState::kDataRecvd},
    {RecvState::kDataRecvd, RecvEvent::kDataRead, kOk, RecvState::kDataRead},
    {RecvState::kDataRecvd, RecvEvent::kResetRead, kIllegal, RecvState::kDataRecvd},

    {RecvState::kDataRead, RecvEvent::kFin, kOk, RecvState::kDataRead},
    {RecvState::kDataRead, RecvEvent::kReset, kOk, RecvState::kDataRead},
    {RecvState::kDataRead, RecvEvent::kAllData, kOk, RecvState::kDataRead},
    {RecvState::kDataRead, RecvEvent::kDataRead, kOk, RecvState::kDataRead},
    {RecvState::kDataRead, RecvEvent::kResetRead, kIllegal, RecvState::kDataRead},

    {RecvState::kResetRecvd, RecvEvent::kFin, kOk, RecvState::kResetRecvd},
    {RecvState::kResetRecvd, RecvEvent::kReset, kOk, RecvState::kResetRecvd},
    {RecvState::kResetRecvd, RecvEvent::kAllData, kOk, RecvState::kResetRecvd},  // reset stands
    {RecvState::kResetRecvd, RecvEvent::kDataRead, kIllegal, RecvState::kResetRecvd},
    {RecvState::kResetRecvd, RecvEvent::kResetRead, kOk, RecvState::kResetRead},

    {RecvState::kResetRead, RecvEvent::kFin, kOk, RecvState::kResetRead},
    {RecvState::kResetRead, RecvEvent::kReset, kOk, RecvState::kResetRead},
    {RecvState::kResetRead, RecvEvent::kAllData, kOk, RecvState::kResetRead},
    {RecvState::kResetRead, RecvEvent::kDataRead, kIllegal, RecvState::kResetRead},
    {RecvState::kResetRead, RecvEvent::kResetRead, kOk, RecvState::kResetRead},
};

TEST(ReceivingPartTest, EveryStateAndEvent) {
  ASSERT_EQ(std::size(kRecvTable), 30u);
  for (const RecvRow& r : kRecvTable) {
    SCOPED_TRACE(testing::Message()
                 << "from " << static_cast<int>(r.from) << " event " << static_cast<int>(r.event));
    ReceivingPart p = receiving_in(r.from);
    EXPECT_EQ(apply(p, r.event), r.result);
    EXPECT_EQ(p.state(), r.to);
  }
}

TEST(ReceivingPartTest, StartsInRecv) {
  ReceivingPart p;
  EXPECT_EQ(p.state(), RecvState::kRecv);
  EXPECT_FALSE(p.is_terminal());
}

TEST(ReceivingPartTest, QueriesPerState) {
  struct Row {
    RecvState s;
    bool terminal, wants_credit, stop_sending;
  };
  const Row rows[] = {
      {RecvState::kRecv, false, true, true},         {RecvState::kSizeKnown, false, false, true},
      {RecvState::kDataRecvd, false, false, false},  {RecvState::kDataRead, true, false, false},
      {RecvState::kResetRecvd, false, false, false}, {RecvState::kResetRead, true, false, false},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(static_cast<int>(r.s));
    const ReceivingPart p = receiving_in(r.s);
    EXPECT_EQ(p.is_terminal(), r.terminal);
    EXPECT_EQ(p.wants_max_stream_data(), r.wants_credit);
    EXPECT_EQ(p.can_send_stop_sending(), r.stop_sending);
  }
}

// --- Both parts

TEST(StreamStateTest, PartsFollowDirectionAndRole) {
  const StreamState client_bidi(0, kClient);
  EXPECT_TRUE(client_bidi.has_sending_part());
  EXPECT_TRUE(client_bidi.has_receiving_part());
  const StreamState local_uni(2, kClient);
  EXPECT_TRUE(local_uni.has_sending_part());
  EXPECT_FALSE(local_uni.has_receiving_part());
  const StreamState peer_uni(2, kServer);
  EXPECT_FALSE(peer_uni.has_sending_part());
  EXPECT_TRUE(peer_uni.has_receiving_part());
  const StreamState server_uni(3, kServer);
  EXPECT_TRUE(server_uni.has_sending_part());
  EXPECT_FALSE(server_uni.has_receiving_part());
}

TEST(StreamStateTest, BidirectionalClosesWhenBothPartsTerminal) {
  StreamState s(4, kServer);
  EXPECT_FALSE(s.is_terminal());
  ASSERT_EQ(s.sending().on_fin_sent(), kOk);
  ASSERT_EQ(s.sending().on_all_data_acked(), kOk);
  EXPECT_FALSE(s.is_terminal());  // receiving part still open
  s.receiving().on_reset_received();
  EXPECT_FALSE(s.is_terminal());  // the application has not seen the reset
  ASSERT_EQ(s.receiving().on_reset_read(), kOk);
  EXPECT_TRUE(s.is_terminal());
}

TEST(StreamStateTest, BidirectionalReceiveSideAloneDoesNotClose) {
  StreamState s(0, kClient);
  s.receiving().on_fin_received();
  ASSERT_EQ(s.receiving().on_all_data_received(), kOk);
  ASSERT_EQ(s.receiving().on_data_read(), kOk);
  EXPECT_FALSE(s.is_terminal());
  ASSERT_EQ(s.sending().on_reset_sent(), kOk);
  EXPECT_FALSE(s.is_terminal());
  ASSERT_EQ(s.sending().on_reset_acked(), kOk);
  EXPECT_TRUE(s.is_terminal());
}

TEST(StreamStateTest, UnidirectionalClosesWithItsOnlyPart) {
  StreamState send_only(3, kServer);
  ASSERT_EQ(send_only.sending().on_fin_sent(), kOk);
  EXPECT_FALSE(send_only.is_terminal());
  ASSERT_EQ(send_only.sending().on_all_data_acked(), kOk);
  EXPECT_TRUE(send_only.is_terminal());

  StreamState recv_only(3, kClient);
  recv_only.receiving().on_fin_received();
  ASSERT_EQ(recv_only.receiving().on_all_data_received(), kOk);
  EXPECT_FALSE(recv_only.is_terminal());
  ASSERT_EQ(recv_only.receiving().on_data_read(), kOk);
  EXPECT_TRUE(recv_only.is_terminal());
}

}  // namespace
}  // namespace dquic
