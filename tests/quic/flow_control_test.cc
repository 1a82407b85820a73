#include "quic/flow_control.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>

#include "quic/frame.h"
#include "quic/varint.h"

namespace dquic {
namespace {

constexpr TransportError kOk = TransportError::kNoError;
constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

// --- SendCredit

TEST(SendCreditTest, StartsWithInitialLimit) {
  SendCredit c(1000);
  EXPECT_EQ(c.limit(), 1000u);
  EXPECT_EQ(c.used(), 0u);
  EXPECT_EQ(c.available(), 1000u);
}

TEST(SendCreditTest, ConsumeUpToExactLimit) {
  SendCredit c(1000);
  EXPECT_TRUE(c.consume(400));
  EXPECT_EQ(c.available(), 600u);
  EXPECT_TRUE(c.consume(600));
  EXPECT_EQ(c.used(), 1000u);
  EXPECT_EQ(c.available(), 0u);
}

TEST(SendCreditTest, ConsumeBeyondLimitIsRefusedAndNotCounted) {
  SendCredit c(1000);
  EXPECT_TRUE(c.consume(999));
  EXPECT_FALSE(c.consume(2));
  EXPECT_EQ(c.used(), 999u);
  EXPECT_TRUE(c.consume(1));
  EXPECT_FALSE(c.consume(1));  // limit + 1
  EXPECT_EQ(c.used(), 1000u);
  EXPECT_FALSE(c.consume(kU64Max));
  EXPECT_EQ(c.used(), 1000u);
}

TEST(SendCreditTest, LimitOnlyIncreases) {
  // RFC 9000 §4.1: MAX_DATA / MAX_STREAM_DATA that do not increase are ignored.
  SendCredit c(1000);
  EXPECT_TRUE(c.consume(1000));
  EXPECT_FALSE(c.update_limit(1000));
  EXPECT_FALSE(c.update_limit(500));
  EXPECT_EQ(c.limit(), 1000u);
  EXPECT_EQ(c.available(), 0u);
  EXPECT_TRUE(c.update_limit(1500));
  EXPECT_EQ(c.limit(), 1500u);
  EXPECT_EQ(c.available(), 500u);
}

TEST(SendCreditTest, LargestVarintLimit) {
  SendCredit c(0);
  EXPECT_TRUE(c.update_limit(kVarintMax));
  EXPECT_TRUE(c.consume(kVarintMax - 1));
  EXPECT_EQ(c.available(), 1u);
  EXPECT_FALSE(c.consume(2));
  EXPECT_TRUE(c.consume(1));
  EXPECT_EQ(c.available(), 0u);
}

TEST(SendCreditTest, BlockedOnlyWithPendingDataAtTheLimit) {
  SendCredit c(100);
  EXPECT_FALSE(c.should_send_blocked(true));  // credit left
  EXPECT_TRUE(c.consume(100));
  EXPECT_FALSE(c.should_send_blocked(false));  // nothing to send
  EXPECT_TRUE(c.should_send_blocked(true));
}

TEST(SendCreditTest, BlockedSentOncePerLimit) {
  SendCredit c(100);
  EXPECT_TRUE(c.consume(100));
  ASSERT_TRUE(c.should_send_blocked(true));
  c.on_blocked_sent();
  EXPECT_FALSE(c.should_send_blocked(true));
  ASSERT_TRUE(c.update_limit(200));
  EXPECT_FALSE(c.should_send_blocked(true));  // credit again
  EXPECT_TRUE(c.consume(100));
  EXPECT_TRUE(c.should_send_blocked(true));  // blocked at a new limit
  c.on_blocked_sent();
  EXPECT_FALSE(c.should_send_blocked(true));
}

TEST(SendCreditTest, LostBlockedFrameResentOnlyIfStillBlockedAtThatLimit) {
  // RFC 9000 §13.3.
  SendCredit c(100);
  EXPECT_TRUE(c.consume(100));
  c.on_blocked_sent();
  c.on_blocked_lost(100);
  EXPECT_TRUE(c.should_send_blocked(true));
  c.on_blocked_sent();
  ASSERT_TRUE(c.update_limit(200));
  EXPECT_TRUE(c.consume(100));
  c.on_blocked_sent();
  c.on_blocked_lost(100);  // the frame for the old limit: stale
  EXPECT_FALSE(c.should_send_blocked(true));
}

// --- ReceiveWindow

TEST(ReceiveWindowTest, StartsAtInitialWindow) {
  ReceiveWindow w(1000, 8000);
  EXPECT_EQ(w.limit(), 1000u);
  EXPECT_EQ(w.window(), 1000u);
  EXPECT_EQ(w.max_window(), 8000u);
  EXPECT_EQ(w.highest_received(), 0u);
  EXPECT_EQ(w.consumed(), 0u);
  EXPECT_FALSE(w.should_update());
}

TEST(ReceiveWindowTest, MaxWindowBelowInitialIsRaised) {
  ReceiveWindow w(1000, 10);
  EXPECT_EQ(w.max_window(), 1000u);
}

TEST(ReceiveWindowTest, WindowsAboveVarintMaxAreCapped) {
  ReceiveWindow w(kU64Max, kU64Max);
  EXPECT_EQ(w.limit(), kVarintMax);
  EXPECT_EQ(w.max_window(), kVarintMax);
}

TEST(ReceiveWindowTest, DataUpToExactLimitAccepted) {
  ReceiveWindow w(1000, 1000);
  EXPECT_EQ(w.on_data(0), kOk);
  EXPECT_EQ(w.on_data(1000), kOk);
  EXPECT_EQ(w.highest_received(), 1000u);
}

TEST(ReceiveWindowTest, DataPastLimitIsFlowControlError) {
  // RFC 9000 §4.1.
  ReceiveWindow w(1000, 1000);
  EXPECT_EQ(w.on_data(500), kOk);
  EXPECT_EQ(w.on_data(1001), TransportError::kFlowControlError);
  EXPECT_EQ(w.highest_received(), 500u);
  EXPECT_EQ(w.on_data(kU64Max), TransportError::kFlowControlError);
}

TEST(ReceiveWindowTest, OutOfOrderDataKeepsHighestOffset) {
  ReceiveWindow w(1000, 1000);
  EXPECT_EQ(w.on_data(800), kOk);
  EXPECT_EQ(w.on_data(300), kOk);
  EXPECT_EQ(w.highest_received(), 800u);
}

TEST(ReceiveWindowTest, LargestVarintLimit) {
  ReceiveWindow w(kVarintMax, kVarintMax);
  EXPECT_EQ(w.on_data(kVarintMax), kOk);
  EXPECT_EQ(w.on_data(kVarintMax + 1), TransportError::kFlowControlError);
  ASSERT_TRUE(w.on_consumed(kVarintMax));
  // Nothing larger can be advertised.
  EXPECT_FALSE(w.should_update());
  EXPECT_EQ(w.advance_limit(0, kMillisecond), kVarintMax);
}

TEST(ReceiveWindowTest, LimitNearVarintMaxIsCapped) {
  ReceiveWindow w(kVarintMax - 10, kVarintMax);
  EXPECT_EQ(w.on_data(kVarintMax - 10), kOk);
  ASSERT_TRUE(w.on_consumed(kVarintMax - 10));
  EXPECT_TRUE(w.should_update());
  EXPECT_EQ(w.advance_limit(0, kMillisecond), kVarintMax);
  EXPECT_EQ(w.on_data(kVarintMax), kOk);
  EXPECT_EQ(w.on_data(kVarintMax + 1), TransportError::kFlowControlError);
}

TEST(ReceiveWindowTest, ConnectionLevelCountsAddedBytes) {
  ReceiveWindow w(1000, 1000);
  EXPECT_EQ(w.on_data_added(600), kOk);
  EXPECT_EQ(w.on_data_added(400), kOk);  // exactly the limit
  EXPECT_EQ(w.highest_received(), 1000u);
  EXPECT_EQ(w.on_data_added(0), kOk);
  EXPECT_EQ(w.on_data_added(1), TransportError::kFlowControlError);
  EXPECT_EQ(w.highest_received(), 1000u);
}

TEST(ReceiveWindowTest, ConnectionLevelHugeAdditionDoesNotWrap) {
  ReceiveWindow w(1000, 1000);
  EXPECT_EQ(w.on_data_added(10), kOk);
  EXPECT_EQ(w.on_data_added(kU64Max - 5), TransportError::kFlowControlError);
  EXPECT_EQ(w.highest_received(), 10u);
}

TEST(ReceiveWindowTest, ConsumeOnlyWhatWasReceived) {
  ReceiveWindow w(1000, 1000);
  EXPECT_EQ(w.on_data(300), kOk);
  EXPECT_TRUE(w.on_consumed(200));
  EXPECT_FALSE(w.on_consumed(101));
  EXPECT_EQ(w.consumed(), 200u);
  EXPECT_TRUE(w.on_consumed(100));
  EXPECT_EQ(w.consumed(), 300u);
}

TEST(ReceiveWindowTest, UpdateWhenConsumptionCrossesHalfTheWindow) {
  ReceiveWindow w(1000, 1000);
  ASSERT_EQ(w.on_data(1000), kOk);
  ASSERT_TRUE(w.on_consumed(500));
  EXPECT_FALSE(w.should_update());  // credit left 500 == window / 2
  ASSERT_TRUE(w.on_consumed(1));
  EXPECT_TRUE(w.should_update());                           // 499 < 500
  EXPECT_EQ(w.advance_limit(0, 10 * kMillisecond), 1501u);  // consumed + window
  EXPECT_EQ(w.limit(), 1501u);
  EXPECT_EQ(w.window(), 1000u);  // first update: nothing to compare with
  EXPECT_FALSE(w.should_update());
}

TEST(ReceiveWindowTest, UnreadDataDoesNotTriggerUpdate) {
  // Received but not consumed: the buffer is still full, no new credit.
  ReceiveWindow w(1000, 1000);
  ASSERT_EQ(w.on_data(1000), kOk);
  EXPECT_FALSE(w.should_update());
}

TEST(ReceiveWindowTest, ZeroWindowNeverUpdates) {
  ReceiveWindow w(0, 0);
  EXPECT_FALSE(w.should_update());
  EXPECT_EQ(w.on_data(1), TransportError::kFlowControlError);
}

TEST(ReceiveWindowTest, FastUpdatesDoubleTheWindow) {
  const Duration srtt = 10 * kMillisecond;
  ReceiveWindow w(1000, 16000);
  ASSERT_EQ(w.on_data(1000), kOk);
  ASSERT_TRUE(w.on_consumed(1000));
  EXPECT_EQ(w.advance_limit(0, srtt), 2000u);
  EXPECT_EQ(w.window(), 1000u);
  // The next update follows within 2 * srtt: the window is below the BDP.
  ASSERT_EQ(w.on_data(2000), kOk);
  ASSERT_TRUE(w.on_consumed(1000));
  ASSERT_TRUE(w.should_update());
  EXPECT_EQ(w.advance_limit(2 * srtt - 1, srtt), 4000u);  // 2000 + 2 * 1000
  EXPECT_EQ(w.window(), 2000u);
}

TEST(ReceiveWindowTest, SlowUpdatesKeepTheWindow) {
  const Duration srtt = 10 * kMillisecond;
  ReceiveWindow w(1000, 16000);
  ASSERT_EQ(w.on_data(1000), kOk);
  ASSERT_TRUE(w.on_consumed(1000));
  w.advance_limit(0, srtt);
  ASSERT_EQ(w.on_data(2000), kOk);
  ASSERT_TRUE(w.on_consumed(1000));
  EXPECT_EQ(w.advance_limit(2 * srtt, srtt), 3000u);  // exactly 2 * srtt: no growth
  EXPECT_EQ(w.window(), 1000u);
}

TEST(ReceiveWindowTest, AutoTuningStopsAtMaxWindow) {
  const Duration srtt = 10 * kMillisecond;
  ReceiveWindow w(1000, 5000);
  Time now = 0;
  std::uint64_t offset = 0;
  for (int i = 0; i < 8; ++i) {
    offset += w.window();
    ASSERT_EQ(w.on_data(offset), kOk);
    ASSERT_TRUE(w.on_consumed(offset - w.consumed()));
    w.advance_limit(now, srtt);
    now += srtt;
  }
  // 1000 -> 2000 -> 4000 -> 5000 (not 8000), then stays.
  EXPECT_EQ(w.window(), 5000u);
  EXPECT_EQ(w.limit(), offset + 5000);
}

TEST(ReceiveWindowTest, EnsureWindowGrowsUpToMaxOnly) {
  ReceiveWindow w(1000, 4000);
  w.ensure_window(1500);
  EXPECT_EQ(w.window(), 1500u);
  w.ensure_window(500);  // never shrinks
  EXPECT_EQ(w.window(), 1500u);
  w.ensure_window(10000);
  EXPECT_EQ(w.window(), 4000u);
  ASSERT_EQ(w.on_data(1000), kOk);
  ASSERT_TRUE(w.on_consumed(1000));
  EXPECT_EQ(w.advance_limit(0, kMillisecond), 5000u);
}

// --- FinalSize

TEST(FinalSizeTest, UnknownUntilFin) {
  FinalSize f;
  EXPECT_FALSE(f.known());
  EXPECT_EQ(f.on_stream_frame(500, false), kOk);
  EXPECT_FALSE(f.known());
  EXPECT_EQ(f.highest_received(), 500u);
  EXPECT_EQ(f.on_stream_frame(800, true), kOk);
  ASSERT_TRUE(f.known());
  EXPECT_EQ(f.value(), 800u);
}

TEST(FinalSizeTest, RepeatedFinWithSameSizeIsFine) {
  FinalSize f;
  EXPECT_EQ(f.on_stream_frame(800, true), kOk);
  EXPECT_EQ(f.on_stream_frame(800, true), kOk);
  EXPECT_EQ(f.on_reset_stream(800), kOk);
  EXPECT_EQ(f.value(), 800u);
}

TEST(FinalSizeTest, KnownFinalSizeCannotChange) {
  // RFC 9000 §4.5.
  FinalSize f;
  EXPECT_EQ(f.on_stream_frame(800, true), kOk);
  EXPECT_EQ(f.on_stream_frame(799, true), TransportError::kFinalSizeError);
  EXPECT_EQ(f.on_stream_frame(801, true), TransportError::kFinalSizeError);
  EXPECT_EQ(f.on_reset_stream(700), TransportError::kFinalSizeError);
  EXPECT_EQ(f.on_reset_stream(900), TransportError::kFinalSizeError);
  EXPECT_EQ(f.value(), 800u);
}

TEST(FinalSizeTest, DataBeyondFinalSizeIsError) {
  FinalSize f;
  EXPECT_EQ(f.on_stream_frame(800, true), kOk);
  EXPECT_EQ(f.on_stream_frame(800, false), kOk);  // ends exactly at the final size
  EXPECT_EQ(f.on_stream_frame(300, false), kOk);  // retransmission below it
  EXPECT_EQ(f.on_stream_frame(801, false), TransportError::kFinalSizeError);
  EXPECT_EQ(f.highest_received(), 800u);
}

TEST(FinalSizeTest, DataBeyondResetFinalSizeIsError) {
  FinalSize f;
  EXPECT_EQ(f.on_reset_stream(100), kOk);
  EXPECT_EQ(f.on_stream_frame(100, false), kOk);
  EXPECT_EQ(f.on_stream_frame(101, false), TransportError::kFinalSizeError);
}

TEST(FinalSizeTest, FinalSizeBelowReceivedDataIsError) {
  FinalSize f;
  EXPECT_EQ(f.on_stream_frame(1000, false), kOk);
  EXPECT_EQ(f.on_stream_frame(999, true), TransportError::kFinalSizeError);
  EXPECT_FALSE(f.known());
  EXPECT_EQ(f.on_reset_stream(999), TransportError::kFinalSizeError);
  EXPECT_FALSE(f.known());
  EXPECT_EQ(f.on_reset_stream(1000), kOk);  // equal to the highest offset
  EXPECT_EQ(f.value(), 1000u);
}

TEST(FinalSizeTest, ZeroFinalSize) {
  FinalSize f;
  EXPECT_EQ(f.on_stream_frame(0, true), kOk);
  EXPECT_EQ(f.value(), 0u);
  EXPECT_EQ(f.on_stream_frame(0, false), kOk);
  EXPECT_EQ(f.on_stream_frame(1, false), TransportError::kFinalSizeError);
}

TEST(FinalSizeTest, LargestVarintFinalSize) {
  FinalSize f;
  EXPECT_EQ(f.on_stream_frame(kVarintMax, true), kOk);
  EXPECT_EQ(f.on_stream_frame(kVarintMax, false), kOk);
  EXPECT_EQ(f.on_reset_stream(kVarintMax - 1), TransportError::kFinalSizeError);
}

// --- on_stream_data / on_reset_stream: both levels together

struct StreamRx {
  FinalSize final_size;
  ReceiveWindow stream{1000, 1000};
};

TEST(StreamDataTest, ConnectionCountsGrowthOfHighestOffsetOnly) {
  ReceiveWindow conn(5000, 5000);
  StreamRx a;
  StreamRx b;
  EXPECT_EQ(on_stream_data(a.final_size, a.stream, conn, 600, false), kOk);
  EXPECT_EQ(conn.highest_received(), 600u);
  EXPECT_EQ(on_stream_data(a.final_size, a.stream, conn, 300, false), kOk);  // lower
  EXPECT_EQ(on_stream_data(a.final_size, a.stream, conn, 600, false), kOk);  // repeat
  EXPECT_EQ(conn.highest_received(), 600u);
  EXPECT_EQ(on_stream_data(b.final_size, b.stream, conn, 200, false), kOk);
  EXPECT_EQ(on_stream_data(a.final_size, a.stream, conn, 700, true), kOk);
  EXPECT_EQ(conn.highest_received(), 900u);
}

TEST(StreamDataTest, StreamLimitExceededIsFlowControlError) {
  ReceiveWindow conn(5000, 5000);
  StreamRx a;
  EXPECT_EQ(on_stream_data(a.final_size, a.stream, conn, 1000, false), kOk);
  EXPECT_EQ(on_stream_data(a.final_size, a.stream, conn, 1001, false),
            TransportError::kFlowControlError);
}

TEST(StreamDataTest, ConnectionLimitExceededIsFlowControlError) {
  ReceiveWindow conn(1500, 1500);
  StreamRx a;
  StreamRx b;
  EXPECT_EQ(on_stream_data(a.final_size, a.stream, conn, 1000, false), kOk);
  EXPECT_EQ(on_stream_data(b.final_size, b.stream, conn, 500, false), kOk);  // exactly 1500
  EXPECT_EQ(on_stream_data(b.final_size, b.stream, conn, 501, false),
            TransportError::kFlowControlError);
}

TEST(StreamDataTest, ResetFinalSizeCountsTowardConnection) {
  // RFC 9000 §4.5: the final size accounts for every byte the sender sent,
  // received or not.
  ReceiveWindow conn(5000, 5000);
  StreamRx a;
  EXPECT_EQ(on_stream_data(a.final_size, a.stream, conn, 100, false), kOk);
  EXPECT_EQ(on_reset_stream(a.final_size, a.stream, conn, 700), kOk);
  EXPECT_EQ(conn.highest_received(), 700u);
  EXPECT_EQ(a.stream.highest_received(), 700u);
  EXPECT_EQ(a.final_size.value(), 700u);
  // A repeated RESET_STREAM adds nothing.
  EXPECT_EQ(on_reset_stream(a.final_size, a.stream, conn, 700), kOk);
  EXPECT_EQ(conn.highest_received(), 700u);
}

TEST(StreamDataTest, ResetBeyondStreamLimitIsFlowControlError) {
  ReceiveWindow conn(5000, 5000);
  StreamRx a;
  EXPECT_EQ(on_reset_stream(a.final_size, a.stream, conn, 1001), TransportError::kFlowControlError);
}

TEST(StreamDataTest, ResetBeyondConnectionLimitIsFlowControlError) {
  ReceiveWindow conn(1500, 1500);
  StreamRx a;
  StreamRx b;
  EXPECT_EQ(on_stream_data(a.final_size, a.stream, conn, 1000, false), kOk);
  EXPECT_EQ(on_reset_stream(b.final_size, b.stream, conn, 501), TransportError::kFlowControlError);
}

TEST(StreamDataTest, FinalSizeErrorsPassThrough) {
  ReceiveWindow conn(5000, 5000);
  StreamRx a;
  EXPECT_EQ(on_stream_data(a.final_size, a.stream, conn, 500, true), kOk);
  EXPECT_EQ(on_reset_stream(a.final_size, a.stream, conn, 400), TransportError::kFinalSizeError);
  EXPECT_EQ(on_stream_data(a.final_size, a.stream, conn, 501, false),
            TransportError::kFinalSizeError);
  EXPECT_EQ(conn.highest_received(), 500u);
}

// --- StreamLimits: peer-initiated streams

TEST(StreamLimitsTest, PeerStreamsUpToAdvertisedLimit) {
  StreamLimits s(3, 0);
  EXPECT_EQ(s.advertised_max(), 3u);
  EXPECT_EQ(s.on_peer_stream(0), kOk);
  EXPECT_EQ(s.on_peer_stream(2), kOk);  // the highest allowed index
  EXPECT_EQ(s.peer_opened(), 3u);
  EXPECT_EQ(s.on_peer_stream(3), TransportError::kStreamLimitError);  // §4.6
  EXPECT_EQ(s.peer_opened(), 3u);
}

TEST(StreamLimitsTest, PeerStreamOpensLowerIndicesAndNeverShrinks) {
  StreamLimits s(10, 0);
  EXPECT_EQ(s.on_peer_stream(4), kOk);
  EXPECT_EQ(s.peer_opened(), 5u);  // §3.2: 0-3 are implicitly opened
  EXPECT_EQ(s.on_peer_stream(1), kOk);
  EXPECT_EQ(s.peer_opened(), 5u);
}

TEST(StreamLimitsTest, ZeroLimitRejectsFirstStream) {
  StreamLimits s(0, 0);
  EXPECT_EQ(s.on_peer_stream(0), TransportError::kStreamLimitError);
  EXPECT_FALSE(s.should_send_max_streams());
}

TEST(StreamLimitsTest, CloseOnlyOpenedStreams) {
  StreamLimits s(10, 0);
  EXPECT_FALSE(s.on_peer_stream_closed());
  ASSERT_EQ(s.on_peer_stream(1), kOk);
  EXPECT_TRUE(s.on_peer_stream_closed());
  EXPECT_TRUE(s.on_peer_stream_closed());
  EXPECT_FALSE(s.on_peer_stream_closed());
  EXPECT_EQ(s.peer_closed(), 2u);
}

TEST(StreamLimitsTest, MaxStreamsOnceHalfTheCreditIsUsed) {
  StreamLimits s(10, 0);
  ASSERT_EQ(s.on_peer_stream(3), kOk);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(s.on_peer_stream_closed());
  EXPECT_FALSE(s.should_send_max_streams());  // 6 of 10 left
  ASSERT_EQ(s.on_peer_stream(4), kOk);
  EXPECT_TRUE(s.should_send_max_streams());  // 5 left: half used
  EXPECT_EQ(s.advance_max_streams(), 13u);   // 3 closed + 10
  EXPECT_EQ(s.advertised_max(), 13u);
  EXPECT_FALSE(s.should_send_max_streams());
  EXPECT_EQ(s.on_peer_stream(12), kOk);
  EXPECT_EQ(s.on_peer_stream(13), TransportError::kStreamLimitError);
}

TEST(StreamLimitsTest, NoMaxStreamsWhileStreamsStayOpen) {
  StreamLimits s(4, 0);
  ASSERT_EQ(s.on_peer_stream(3), kOk);        // all credit used
  EXPECT_FALSE(s.should_send_max_streams());  // nothing closed
  ASSERT_TRUE(s.on_peer_stream_closed());
  EXPECT_TRUE(s.should_send_max_streams());
  EXPECT_EQ(s.advance_max_streams(), 5u);
}

TEST(StreamLimitsTest, WindowOfOneIsRefreshed) {
  StreamLimits s(1, 0);
  ASSERT_EQ(s.on_peer_stream(0), kOk);
  ASSERT_TRUE(s.on_peer_stream_closed());
  EXPECT_TRUE(s.should_send_max_streams());
  EXPECT_EQ(s.advance_max_streams(), 2u);
}

TEST(StreamLimitsTest, AdvertisedLimitCappedAt2To60) {
  StreamLimits s(kU64Max, 0);
  EXPECT_EQ(s.advertised_max(), kMaxStreamCount);
  EXPECT_EQ(s.on_peer_stream(kMaxStreamCount - 1), kOk);
  EXPECT_EQ(s.on_peer_stream(kMaxStreamCount), TransportError::kStreamLimitError);
  ASSERT_TRUE(s.on_peer_stream_closed());
  EXPECT_FALSE(s.should_send_max_streams());  // 2^60 + 1 cannot be sent
  EXPECT_EQ(s.advance_max_streams(), kMaxStreamCount);
}

TEST(StreamLimitsTest, StreamsBlockedFromPeerValidated) {
  // RFC 9000 §19.14.
  EXPECT_EQ(StreamLimits::on_streams_blocked(0), kOk);
  EXPECT_EQ(StreamLimits::on_streams_blocked(kMaxStreamCount), kOk);
  EXPECT_EQ(StreamLimits::on_streams_blocked(kMaxStreamCount + 1),
            TransportError::kFrameEncodingError);
}

// --- StreamLimits: locally initiated streams

TEST(StreamLimitsTest, OpenLocalUpToPeerLimit) {
  StreamLimits s(0, 2);
  EXPECT_EQ(s.open_local(), std::optional<std::uint64_t>(0));
  EXPECT_EQ(s.open_local(), std::optional<std::uint64_t>(1));
  EXPECT_EQ(s.open_local(), std::nullopt);
  EXPECT_EQ(s.local_opened(), 2u);
}

TEST(StreamLimitsTest, NoLocalStreamsBeforePeerLimitKnown) {
  StreamLimits s(10, 0);
  EXPECT_EQ(s.open_local(), std::nullopt);
  EXPECT_TRUE(s.should_send_streams_blocked(true));
  EXPECT_EQ(s.on_max_streams(1), kOk);  // from the transport parameters
  EXPECT_EQ(s.open_local(), std::optional<std::uint64_t>(0));
}

TEST(StreamLimitsTest, MaxStreamsRaisesAndDecreaseIgnored) {
  StreamLimits s(0, 5);
  EXPECT_EQ(s.on_max_streams(8), kOk);
  EXPECT_EQ(s.peer_max(), 8u);
  EXPECT_EQ(s.on_max_streams(6), kOk);  // §4.6: ignored
  EXPECT_EQ(s.peer_max(), 8u);
  EXPECT_EQ(s.on_max_streams(kMaxStreamCount), kOk);
  EXPECT_EQ(s.peer_max(), kMaxStreamCount);
}

TEST(StreamLimitsTest, MaxStreamsAbove2To60IsFrameEncodingError) {
  // RFC 9000 §19.11.
  StreamLimits s(0, 5);
  EXPECT_EQ(s.on_max_streams(kMaxStreamCount + 1), TransportError::kFrameEncodingError);
  EXPECT_EQ(s.on_max_streams(kU64Max), TransportError::kFrameEncodingError);
  EXPECT_EQ(s.peer_max(), 5u);
}

TEST(StreamLimitsTest, InitialPeerLimitCappedAt2To60) {
  StreamLimits s(0, kU64Max);
  EXPECT_EQ(s.peer_max(), kMaxStreamCount);
}

TEST(StreamLimitsTest, StreamsBlockedOncePerLimit) {
  StreamLimits s(0, 1);
  EXPECT_FALSE(s.should_send_streams_blocked(true));  // one stream available
  ASSERT_TRUE(s.open_local());
  EXPECT_FALSE(s.should_send_streams_blocked(false));
  ASSERT_TRUE(s.should_send_streams_blocked(true));
  s.on_streams_blocked_sent();
  EXPECT_FALSE(s.should_send_streams_blocked(true));
  ASSERT_EQ(s.on_max_streams(2), kOk);
  EXPECT_FALSE(s.should_send_streams_blocked(true));
  ASSERT_TRUE(s.open_local());
  EXPECT_TRUE(s.should_send_streams_blocked(true));
}

TEST(StreamLimitsTest, LostStreamsBlockedResentOnlyAtSameLimit) {
  StreamLimits s(0, 1);
  ASSERT_TRUE(s.open_local());
  s.on_streams_blocked_sent();
  s.on_streams_blocked_lost(1);
  EXPECT_TRUE(s.should_send_streams_blocked(true));
  s.on_streams_blocked_sent();
  ASSERT_EQ(s.on_max_streams(2), kOk);
  ASSERT_TRUE(s.open_local());
  s.on_streams_blocked_sent();
  s.on_streams_blocked_lost(1);  // stale
  EXPECT_FALSE(s.should_send_streams_blocked(true));
}

}  // namespace
}  // namespace dquic
