#include "quic/ack_tracker.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <variant>
#include <vector>

#include "quic/buffer.h"
#include "quic/frame.h"

namespace dquic {
namespace {

constexpr Time kT0 = 1000 * kSecond;  // arbitrary epoch offset

AckTracker make(std::size_t max_ranges = 64, bool immediate = false) {
  return AckTracker(AckTracker::Config{.max_ranges = max_ranges, .immediate = immediate});
}

void receive(AckTracker& t, std::uint64_t pn, Time now, bool ack_eliciting = true,
             Ecn ecn = Ecn::kNotEct) {
  ASSERT_FALSE(t.is_duplicate(pn)) << pn;
  t.on_packet_received(pn, ack_eliciting, ecn, now);
}

// One written ACK frame, decoded back.
struct Written {
  std::optional<std::uint64_t> largest;  // write_ack's result
  std::size_t size = 0;                  // bytes written
  std::uint8_t type = 0;
  AckFrame frame;
  std::vector<AckRange> ranges;  // largest first
};

Written write(AckTracker& t, Time now, std::uint8_t exponent = 3, std::size_t budget = 1500) {
  std::array<std::uint8_t, 1500> buf{};
  Writer w(buf);
  Written out;
  out.largest = t.write_ack(w, now, exponent, budget);
  out.size = w.written();
  if (!out.largest) return out;
  out.type = buf[0];
  Reader r(ByteSpan(buf.data(), out.size));
  Frame f;
  EXPECT_EQ(decode_frame(r, &f), TransportError::kNoError);
  EXPECT_TRUE(r.empty());
  const AckFrame* a = std::get_if<AckFrame>(&f);
  EXPECT_NE(a, nullptr);
  if (a == nullptr) return out;
  out.frame = *a;
  for (const AckRange& range : *a)
    out.ranges.push_back(range);
  out.frame.ranges = {};  // points into buf, which goes away
  return out;
}

void expect_ranges(const std::vector<AckRange>& got, std::initializer_list<AckRange> want) {
  ASSERT_EQ(got.size(), want.size());
  std::size_t i = 0;
  for (const AckRange& w : want) {
    EXPECT_EQ(got[i].largest, w.largest) << "range " << i;
    EXPECT_EQ(got[i].smallest, w.smallest) << "range " << i;
    ++i;
  }
}

TEST(AckTracker, NothingReceived) {
  AckTracker t = make();
  EXPECT_FALSE(t.ack_pending());
  EXPECT_FALSE(t.ack_eliciting_pending());
  EXPECT_EQ(t.ack_deadline(), kNever);
  EXPECT_FALSE(t.largest_received().has_value());
  EXPECT_EQ(t.largest_received_time(), kNever);
  EXPECT_FALSE(t.is_duplicate(0));
  EXPECT_EQ(t.ecn_counts(), EcnCounts{});
  const Written w = write(t, kT0);
  EXPECT_FALSE(w.largest.has_value());
  EXPECT_EQ(w.size, 0u);
}

TEST(AckTracker, FirstAckElicitingPacketIsDelayedByMaxAckDelay) {
  AckTracker t = make();
  receive(t, 0, kT0);
  EXPECT_TRUE(t.ack_pending());
  EXPECT_TRUE(t.ack_eliciting_pending());
  EXPECT_EQ(t.ack_deadline(), kT0 + kDefaultMaxAckDelay);  // RFC 9000 §18.2 default
  EXPECT_EQ(t.largest_received(), 0u);
  EXPECT_EQ(t.largest_received_time(), kT0);
}

TEST(AckTracker, InOrderEverySecondAckElicitingPacketIsImmediate) {
  AckTracker t = make();
  receive(t, 0, kT0);
  receive(t, 1, kT0 + kMillisecond);
  EXPECT_EQ(t.ack_deadline(), kT0 + kMillisecond);
  t.on_ack_sent();
  EXPECT_EQ(t.ack_deadline(), kNever);
  receive(t, 2, kT0 + 2 * kMillisecond);
  EXPECT_EQ(t.ack_deadline(), kT0 + 2 * kMillisecond + kDefaultMaxAckDelay);
  receive(t, 3, kT0 + 3 * kMillisecond);
  EXPECT_EQ(t.ack_deadline(), kT0 + 3 * kMillisecond);
  const Written w = write(t, kT0 + 3 * kMillisecond);
  ASSERT_EQ(w.largest, 3u);
  expect_ranges(w.ranges, {{0, 3}});
}

TEST(AckTracker, OverdueDelayedDeadlineIsNotPostponedByImmediateTrigger) {
  AckTracker t = make();
  receive(t, 0, kT0);
  // The connection missed the delayed deadline; the second packet makes the
  // ACK immediate, but the owed deadline stays the earlier one.
  receive(t, 1, kT0 + 100 * kMillisecond);
  EXPECT_EQ(t.ack_deadline(), kT0 + kDefaultMaxAckDelay);
}

TEST(AckTracker, DelayedDeadlineFollowsMaxAckDelay) {
  AckTracker t = make();
  t.set_max_ack_delay(5 * kMillisecond);
  EXPECT_EQ(t.max_ack_delay(), 5 * kMillisecond);
  receive(t, 0, kT0);
  EXPECT_EQ(t.ack_deadline(), kT0 + 5 * kMillisecond);
  t.set_max_ack_delay(40 * kMillisecond);  // moves the pending deadline
  EXPECT_EQ(t.ack_deadline(), kT0 + 40 * kMillisecond);
  t.on_ack_sent();
  EXPECT_EQ(t.ack_deadline(), kNever);
  receive(t, 1, kT0 + kSecond);
  EXPECT_EQ(t.ack_deadline(), kT0 + kSecond + 40 * kMillisecond);
}

TEST(AckTracker, ConfigMaxAckDelayAndNegativeClamp) {
  AckTracker t(AckTracker::Config{.max_ranges = 4, .max_ack_delay = 7 * kMillisecond});
  receive(t, 0, kT0);
  EXPECT_EQ(t.ack_deadline(), kT0 + 7 * kMillisecond);
  t.set_max_ack_delay(-kMillisecond);
  EXPECT_EQ(t.max_ack_delay(), 0);
  EXPECT_EQ(t.ack_deadline(), kT0);
}

TEST(AckTracker, NonAckElicitingPacketsNeverOweAnAck) {
  AckTracker t = make();
  receive(t, 0, kT0, false);
  receive(t, 1, kT0, false);
  receive(t, 5, kT0, false);  // a gap: still no ACK in response (RFC 9000 §13.2.1)
  receive(t, 3, kT0, false);  // reordered: still none
  EXPECT_TRUE(t.ack_pending());
  EXPECT_FALSE(t.ack_eliciting_pending());
  EXPECT_EQ(t.ack_deadline(), kNever);
  // They are still reported when an ACK goes out for other reasons.
  const Written w = write(t, kT0);
  ASSERT_EQ(w.largest, 5u);
  expect_ranges(w.ranges, {{5, 5}, {3, 3}, {0, 1}});
}

TEST(AckTracker, ReorderedPacketBelowLargestAckElicitingIsImmediate) {
  AckTracker t = make();
  receive(t, 0, kT0);
  receive(t, 2, kT0);
  t.on_ack_sent();
  receive(t, 1, kT0 + kMillisecond);  // below 2, which was ack-eliciting
  EXPECT_EQ(t.ack_deadline(), kT0 + kMillisecond);
}

TEST(AckTracker, NewGapAboveLargestAckElicitingIsImmediate) {
  AckTracker t = make();
  receive(t, 0, kT0);
  t.on_ack_sent();
  receive(t, 2, kT0 + kMillisecond);  // 1 is missing
  EXPECT_EQ(t.ack_deadline(), kT0 + kMillisecond);
}

TEST(AckTracker, GapFilledByNonAckElicitingPacketIsNotAGap) {
  AckTracker t = make();
  receive(t, 0, kT0);
  t.on_ack_sent();
  receive(t, 1, kT0, false);
  receive(t, 2, kT0 + kMillisecond);
  EXPECT_EQ(t.ack_deadline(), kT0 + kMillisecond + kDefaultMaxAckDelay);
}

TEST(AckTracker, NonAckElicitingPacketAboveLargestDoesNotHideAGap) {
  AckTracker t = make();
  receive(t, 0, kT0);
  t.on_ack_sent();
  receive(t, 4, kT0, false);
  receive(t, 3, kT0 + kMillisecond);  // 1 and 2 are missing below it
  EXPECT_EQ(t.ack_deadline(), kT0 + kMillisecond);
}

TEST(AckTracker, ReorderedNonAckElicitingPacketOwesNothing) {
  AckTracker t = make();
  receive(t, 5, kT0);
  t.on_ack_sent();
  receive(t, 3, kT0, false);
  EXPECT_EQ(t.ack_deadline(), kNever);
  EXPECT_TRUE(t.ack_pending());
}

TEST(AckTracker, ImmediateConfigAcksEveryAckElicitingPacket) {
  AckTracker t = make(64, true);
  receive(t, 0, kT0, false);
  EXPECT_EQ(t.ack_deadline(), kNever);  // still never for non-ack-eliciting
  receive(t, 1, kT0 + kMillisecond);
  EXPECT_EQ(t.ack_deadline(), kT0 + kMillisecond);
  t.on_ack_sent();
  receive(t, 2, kT0 + 2 * kMillisecond);
  EXPECT_EQ(t.ack_deadline(), kT0 + 2 * kMillisecond);
}

TEST(AckTracker, CongestionExperiencedIsImmediate) {
  AckTracker t = make();
  receive(t, 0, kT0, true, Ecn::kCe);
  EXPECT_EQ(t.ack_deadline(), kT0);
}

TEST(AckTracker, CongestionExperiencedOnNonAckElicitingOnlyHurriesAnOwedAck) {
  AckTracker t = make();
  receive(t, 0, kT0, false, Ecn::kCe);
  EXPECT_EQ(t.ack_deadline(), kNever);
  receive(t, 1, kT0 + kMillisecond);
  EXPECT_EQ(t.ack_deadline(), kT0 + kMillisecond + kDefaultMaxAckDelay);
  receive(t, 2, kT0 + 2 * kMillisecond, false, Ecn::kCe);
  EXPECT_EQ(t.ack_deadline(), kT0 + 2 * kMillisecond);
}

TEST(AckTracker, WithoutEcnWritesType0x02) {
  AckTracker t = make();
  receive(t, 0, kT0, true, Ecn::kNotEct);
  const Written w = write(t, kT0);
  ASSERT_TRUE(w.largest.has_value());
  EXPECT_EQ(w.type, 0x02);
  EXPECT_FALSE(w.frame.has_ecn);
}

TEST(AckTracker, EcnCountsAndType0x03) {
  AckTracker t = make();
  receive(t, 0, kT0, true, Ecn::kEct0);
  receive(t, 1, kT0, false, Ecn::kEct0);
  receive(t, 2, kT0, true, Ecn::kEct1);
  receive(t, 3, kT0, true, Ecn::kCe);
  receive(t, 4, kT0, true, Ecn::kNotEct);
  const EcnCounts want{.ect0 = 2, .ect1 = 1, .ce = 1};
  EXPECT_EQ(t.ecn_counts(), want);
  const Written w = write(t, kT0);
  ASSERT_EQ(w.largest, 4u);
  EXPECT_EQ(w.type, 0x03);
  EXPECT_TRUE(w.frame.has_ecn);
  EXPECT_EQ(w.frame.ecn, want);
  expect_ranges(w.ranges, {{0, 4}});
}

TEST(AckTracker, SingleEct1PacketSelectsEcnFrame) {
  AckTracker t = make();
  receive(t, 7, kT0, true, Ecn::kEct1);
  const Written w = write(t, kT0);
  ASSERT_TRUE(w.largest.has_value());
  EXPECT_EQ(w.type, 0x03);
  EXPECT_EQ(w.frame.ecn, (EcnCounts{.ect0 = 0, .ect1 = 1, .ce = 0}));
}

TEST(AckTracker, EcnCountsSurviveAckSentAndPruning) {
  // RFC 9000 §13.4.1: counts are cumulative for the space.
  AckTracker t = make();
  receive(t, 0, kT0, true, Ecn::kEct0);
  t.on_ack_sent();
  t.on_ack_acked(0);
  receive(t, 1, kT0, true, Ecn::kEct0);
  EXPECT_EQ(t.ecn_counts().ect0, 2u);
  const Written w = write(t, kT0);
  ASSERT_TRUE(w.largest.has_value());
  EXPECT_EQ(w.frame.ecn.ect0, 2u);
}

TEST(AckTracker, WrittenFrameDecodesToTheReceivedRanges) {
  AckTracker t = make();
  const std::uint64_t order[] = {9, 0, 20, 2, 5, 1, 6};
  Time now = kT0;
  for (std::uint64_t pn : order) {
    receive(t, pn, now);
    now += kMillisecond;
  }
  // 20 arrived third, at kT0 + 2 ms.
  EXPECT_EQ(t.largest_received(), 20u);
  EXPECT_EQ(t.largest_received_time(), kT0 + 2 * kMillisecond);
  const Time send = kT0 + 10 * kMillisecond;
  const Written w = write(t, send, 3);
  ASSERT_EQ(w.largest, 20u);
  EXPECT_EQ(w.frame.largest_acknowledged, 20u);
  expect_ranges(w.ranges, {{20, 20}, {9, 9}, {5, 6}, {0, 2}});
  // 8 ms in microseconds, >> 3.
  EXPECT_EQ(w.frame.ack_delay, 8000u >> 3);
}

TEST(AckTracker, AckDelayScaling) {
  AckTracker t = make();
  receive(t, 0, kT0);
  // Exponent 0: plain microseconds, sub-microsecond remainder dropped.
  EXPECT_EQ(write(t, kT0 + 1234567, 0).frame.ack_delay, 1234u);
  EXPECT_EQ(write(t, kT0 + 1234567, 3).frame.ack_delay, 1234u >> 3);
  EXPECT_EQ(write(t, kT0 + 10 * kSecond, 20).frame.ack_delay, 10'000'000u >> 20);
  // Invalid exponents (RFC 9000 §18.2 caps them at 20) are clamped, not UB.
  EXPECT_EQ(write(t, kT0 + 10 * kSecond, 255).frame.ack_delay, 10'000'000u >> 20);
  // A clock that went backwards reports no delay.
  EXPECT_EQ(write(t, kT0 - kMillisecond, 0).frame.ack_delay, 0u);
  EXPECT_EQ(write(t, kT0, 0).frame.ack_delay, 0u);
}

TEST(AckTracker, LargestTimeIgnoresReorderedLowerPackets) {
  AckTracker t = make();
  receive(t, 10, kT0);
  receive(t, 4, kT0 + 5 * kMillisecond);
  EXPECT_EQ(t.largest_received(), 10u);
  EXPECT_EQ(t.largest_received_time(), kT0);
  receive(t, 11, kT0 + 6 * kMillisecond);
  EXPECT_EQ(t.largest_received_time(), kT0 + 6 * kMillisecond);
}

// Receives 0, 2, 4, ..., 2 * (n - 1): n separate ranges.
void receive_every_other(AckTracker& t, std::uint64_t n) {
  for (std::uint64_t i = 0; i < n; ++i)
    t.on_packet_received(2 * i, true, Ecn::kNotEct, kT0);
}

TEST(AckTracker, BudgetLimitsRangesLargestFirst) {
  AckTracker t = make();
  receive_every_other(t, 21);  // 0..40, 21 ranges
  const Written full = write(t, kT0);
  ASSERT_EQ(full.largest, 40u);
  ASSERT_EQ(full.ranges.size(), 21u);

  // Each extra range costs 2 bytes here (gap 0 and length 0).
  const std::size_t budget = full.size - 10;
  const Written cut = write(t, kT0, 3, budget);
  ASSERT_EQ(cut.largest, 40u);
  EXPECT_LE(cut.size, budget);
  ASSERT_EQ(cut.ranges.size(), 16u);
  for (std::size_t i = 0; i < cut.ranges.size(); ++i)
    EXPECT_EQ(cut.ranges[i], full.ranges[i]);

  // Exactly the full size fits everything; one byte less drops a range.
  EXPECT_EQ(write(t, kT0, 3, full.size).ranges.size(), 21u);
  EXPECT_EQ(write(t, kT0, 3, full.size - 1).ranges.size(), 20u);
}

TEST(AckTracker, BudgetTooSmallForOneRangeWritesNothing) {
  AckTracker t = make();
  receive(t, 1000, kT0);
  const Written one = write(t, kT0 + kMillisecond);
  ASSERT_TRUE(one.largest.has_value());
  const Written none = write(t, kT0 + kMillisecond, 3, one.size - 1);
  EXPECT_FALSE(none.largest.has_value());
  EXPECT_EQ(none.size, 0u);
  EXPECT_FALSE(write(t, kT0, 3, 0).largest.has_value());
}

TEST(AckTracker, WriterSmallerThanBudgetIsRespected) {
  AckTracker t = make();
  receive_every_other(t, 10);
  std::array<std::uint8_t, 8> small{};
  Writer w(small);
  const auto largest = t.write_ack(w, kT0, 3, 1500);
  ASSERT_EQ(largest, 18u);
  EXPECT_LE(w.written(), small.size());
  Reader r(ByteSpan(small.data(), w.written()));
  Frame f;
  ASSERT_EQ(decode_frame(r, &f), TransportError::kNoError);
  const AckFrame& a = std::get<AckFrame>(f);
  EXPECT_EQ(a.largest_acknowledged, 18u);
  EXPECT_GE(a.range_total(), 1u);
  EXPECT_LT(a.range_total(), 10u);
}

TEST(AckTracker, WriteAckAppendsAfterExistingBytesAndLeavesFailedWriterAlone) {
  AckTracker t = make();
  receive(t, 3, kT0);
  std::array<std::uint8_t, 64> buf{};
  Writer w(buf);
  w.write_u8(0x01);  // a PING before it
  ASSERT_EQ(t.write_ack(w, kT0, 3, 63), 3u);
  EXPECT_EQ(buf[0], 0x01);
  EXPECT_EQ(buf[1], 0x02);

  std::array<std::uint8_t, 2> tiny{};
  Writer failed(tiny);
  failed.write_bytes(ByteSpan(buf.data(), 3));  // overflows: sticky failure
  ASSERT_FALSE(failed.ok());
  EXPECT_FALSE(t.write_ack(failed, kT0, 3, 100).has_value());
}

TEST(AckTracker, MaxRangesBoundsStateUnderEveryOtherPacket) {
  AckTracker t = make(8);
  receive_every_other(t, 101);  // 0..200, would be 101 ranges
  EXPECT_EQ(t.ranges().size(), 8u);
  EXPECT_EQ(t.ranges().min(), 186u);
  EXPECT_EQ(t.ranges().max(), 200u);
  EXPECT_EQ(t.largest_received(), 200u);
  // Dropped ranges, and the gaps among them, are now treated as duplicates
  // (RFC 9000 §13.2.3: a range may only go if its packets are refused).
  EXPECT_EQ(t.floor(), 186u);
  EXPECT_TRUE(t.is_duplicate(0));
  EXPECT_TRUE(t.is_duplicate(184));
  EXPECT_TRUE(t.is_duplicate(185));  // never received: conservative
  EXPECT_TRUE(t.is_duplicate(186));
  EXPECT_FALSE(t.is_duplicate(187));  // a gap still tracked
  EXPECT_FALSE(t.is_duplicate(202));

  const Written w = write(t, kT0);
  ASSERT_EQ(w.largest, 200u);
  ASSERT_EQ(w.ranges.size(), 8u);
  EXPECT_EQ(w.ranges.back(), (AckRange{186, 186}));

  // Filling a tracked gap merges two ranges without loss.
  receive(t, 199, kT0);
  EXPECT_EQ(t.ranges().size(), 7u);
  EXPECT_EQ(t.floor(), 186u);
  // A new top range evicts the lowest again and raises the floor.
  receive(t, 202, kT0);
  receive(t, 204, kT0);
  EXPECT_EQ(t.ranges().size(), 8u);
  EXPECT_EQ(t.ranges().min(), 188u);
  EXPECT_TRUE(t.is_duplicate(187));
}

TEST(AckTracker, FullSetRefusesPacketThatWouldBeANewLowestRange) {
  AckTracker t = make(3);
  receive(t, 10, kT0);
  receive(t, 20, kT0);
  receive(t, 30, kT0);
  EXPECT_EQ(t.floor(), 0u);
  EXPECT_TRUE(t.is_duplicate(5));    // could not be recorded
  EXPECT_TRUE(t.is_duplicate(8));    // one missing below 10: still a new range
  EXPECT_FALSE(t.is_duplicate(9));   // merges with [10, 10]
  EXPECT_FALSE(t.is_duplicate(15));  // evicts [10, 10] instead
  // A caller that ignores is_duplicate() changes nothing.
  t.on_ack_sent();
  t.on_packet_received(5, true, Ecn::kEct0, kT0);
  EXPECT_FALSE(t.ack_pending());
  EXPECT_EQ(t.ecn_counts(), EcnCounts{});
  EXPECT_FALSE(t.ranges().contains(5));
}

TEST(AckTracker, ZeroMaxRangesKeepsOne) {
  AckTracker t = make(0);
  receive(t, 1, kT0);
  receive(t, 3, kT0);
  EXPECT_EQ(t.ranges().size(), 1u);
  EXPECT_TRUE(t.is_duplicate(1));
  const Written w = write(t, kT0);
  ASSERT_EQ(w.largest, 3u);
  expect_ranges(w.ranges, {{3, 3}});
}

TEST(AckTracker, OnAckAckedStopsReportingOldRanges) {
  AckTracker t = make();
  for (std::uint64_t pn = 0; pn <= 9; ++pn)
    receive(t, pn, kT0);
  for (std::uint64_t pn = 12; pn <= 15; ++pn)
    receive(t, pn, kT0);
  t.on_ack_acked(9);
  EXPECT_EQ(t.floor(), 10u);
  Written w = write(t, kT0);
  ASSERT_EQ(w.largest, 15u);
  expect_ranges(w.ranges, {{12, 15}});
  EXPECT_TRUE(t.is_duplicate(9));
  EXPECT_TRUE(t.is_duplicate(3));
  EXPECT_FALSE(t.is_duplicate(10));  // above the acknowledged largest: still acceptable

  // Pruning inside a range trims it; missing packets at or below become duplicates.
  t.on_ack_acked(13);
  EXPECT_TRUE(t.is_duplicate(10));  // never received, but at or below 13: conservative
  EXPECT_TRUE(t.is_duplicate(11));
  w = write(t, kT0);
  expect_ranges(w.ranges, {{14, 15}});
  EXPECT_EQ(t.largest_received(), 15u);

  // An older ACK of ours being acknowledged late never lowers the floor.
  t.on_ack_acked(5);
  EXPECT_EQ(t.floor(), 14u);
  EXPECT_TRUE(t.is_duplicate(12));
}

TEST(AckTracker, OnAckAckedOfEverythingKeepsLargestForDecoding) {
  AckTracker t = make();
  receive(t, 0, kT0);
  receive(t, 1, kT0 + kMillisecond);
  t.on_ack_sent();
  t.on_ack_acked(1);
  EXPECT_TRUE(t.ranges().empty());
  EXPECT_EQ(t.largest_received(), 1u);  // RFC 9000 §13.2.3 / §17.1
  EXPECT_EQ(t.largest_received_time(), kT0 + kMillisecond);
  EXPECT_TRUE(t.is_duplicate(1));
  EXPECT_FALSE(write(t, kT0).largest.has_value());
  receive(t, 2, kT0 + 2 * kMillisecond);
  EXPECT_EQ(t.ack_deadline(), kT0 + 2 * kMillisecond + kDefaultMaxAckDelay);  // no gap: 1 pruned
  const Written w = write(t, kT0 + 2 * kMillisecond);
  ASSERT_EQ(w.largest, 2u);
  expect_ranges(w.ranges, {{2, 2}});
}

TEST(AckTracker, PrunedFloorDoesNotCountAsAGap) {
  AckTracker t = make();
  receive(t, 3, kT0);
  receive(t, 4, kT0, false);  // largest ack-eliciting stays 3
  t.on_ack_sent();
  t.on_ack_acked(4);
  receive(t, 5, kT0 + kMillisecond);  // 4 is known, just pruned
  EXPECT_EQ(t.ack_deadline(), kT0 + kMillisecond + kDefaultMaxAckDelay);
  t.on_ack_sent();
  receive(t, 7, kT0 + 2 * kMillisecond);  // 6 is missing
  EXPECT_EQ(t.ack_deadline(), kT0 + 2 * kMillisecond);
}

TEST(AckTracker, OnAckAckedIsClampedToLargestReceived) {
  AckTracker t = make();
  t.on_ack_acked(100);  // nothing received: ignored
  EXPECT_EQ(t.floor(), 0u);
  EXPECT_FALSE(t.is_duplicate(0));
  receive(t, 5, kT0);
  t.on_ack_acked(1000);  // more than we ever acknowledged
  EXPECT_EQ(t.floor(), 6u);
  EXPECT_FALSE(t.is_duplicate(6));
  EXPECT_TRUE(t.is_duplicate(5));
}

TEST(AckTracker, DuplicatesAreDetectedAndIgnored) {
  AckTracker t = make();
  receive(t, 0, kT0, true, Ecn::kEct0);
  receive(t, 2, kT0, true, Ecn::kEct0);
  EXPECT_TRUE(t.is_duplicate(0));
  EXPECT_TRUE(t.is_duplicate(2));
  EXPECT_FALSE(t.is_duplicate(1));
  EXPECT_FALSE(t.is_duplicate(3));
  t.on_ack_sent();
  // Contract breach (no is_duplicate check): neither counted nor owed.
  t.on_packet_received(2, true, Ecn::kEct0, kT0 + kMillisecond);
  EXPECT_EQ(t.ecn_counts().ect0, 2u);
  EXPECT_FALSE(t.ack_pending());
  EXPECT_EQ(t.ack_deadline(), kNever);
  EXPECT_EQ(t.largest_received_time(), kT0);
}

TEST(AckTracker, OnAckSentResetsOwedStateButKeepsRanges) {
  AckTracker t = make();
  receive(t, 0, kT0);
  receive(t, 1, kT0, false);
  t.on_ack_sent();
  EXPECT_FALSE(t.ack_pending());
  EXPECT_FALSE(t.ack_eliciting_pending());
  EXPECT_EQ(t.ack_deadline(), kNever);
  // Ranges are reported again until an ACK carrying them is acknowledged
  // (RFC 9000 §13.2.4).
  const Written w = write(t, kT0);
  ASSERT_EQ(w.largest, 1u);
  expect_ranges(w.ranges, {{0, 1}});
  // The every-second count restarts after an ACK.
  receive(t, 2, kT0 + kMillisecond);
  EXPECT_EQ(t.ack_deadline(), kT0 + kMillisecond + kDefaultMaxAckDelay);
}

TEST(AckTracker, LargePacketNumbers) {
  AckTracker t = make();
  const std::uint64_t top = (std::uint64_t{1} << 62) - 1;  // RFC 9000 §17.1 maximum
  receive(t, top - 2, kT0);
  receive(t, top, kT0);
  const Written w = write(t, kT0);
  ASSERT_EQ(w.largest, top);
  expect_ranges(w.ranges, {{top, top}, {top - 2, top - 2}});
  t.on_ack_acked(top);
  EXPECT_TRUE(t.is_duplicate(top));
  EXPECT_TRUE(t.ranges().empty());
}

}  // namespace
}  // namespace dquic
