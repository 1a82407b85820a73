#include "quic/packet_number.h"

#include <gtest/gtest.h>

#include <random>

namespace dquic {
namespace {

// RFC 9000 Appendix A.2 examples.
TEST(PacketNumber, EncodingLengthExamples) {
  EXPECT_EQ(packet_number_length(0xac5c02, 0xabe8b3), 2u);
  EXPECT_EQ(packet_number_length(0xace8fe, 0xabe8b3), 3u);
}

TEST(PacketNumber, EncodingLengthWithNothingAcked) {
  EXPECT_EQ(packet_number_length(0, kNoPacketNumber), 1u);
  EXPECT_EQ(packet_number_length(126, kNoPacketNumber), 1u);
  EXPECT_EQ(packet_number_length(127, kNoPacketNumber), 2u);  // 128 unacked needs > 256
  EXPECT_EQ(packet_number_length(1u << 30, kNoPacketNumber), 4u);
}

// RFC 9000 Appendix A.3 example.
TEST(PacketNumber, DecodingExample) {
  EXPECT_EQ(decode_packet_number(0xa82f30ea, 0x9b32, 2), 0xa82f9b32u);
}

TEST(PacketNumber, DecodingNothingReceivedYet) {
  EXPECT_EQ(decode_packet_number(kNoPacketNumber, 0, 1), 0u);
  EXPECT_EQ(decode_packet_number(kNoPacketNumber, 5, 4), 5u);
}

TEST(PacketNumber, DecodingWrapsBackwardAndForward) {
  // Truncated value just below the window start: the packet is a late one.
  EXPECT_EQ(decode_packet_number(0x1ff, 0xfe, 1), 0x1feu);
  // Crosses a 1-byte window boundary forward.
  EXPECT_EQ(decode_packet_number(0x1fe, 0x01, 1), 0x201u);
  // Never goes past 2^62 - 1.
  EXPECT_EQ(decode_packet_number(kMaxPacketNumber - 1, 0xff, 1), kMaxPacketNumber);
}

// Property: whatever length the sender picks for its largest-acked, the
// receiver recovers the number, as long as receiver state is within the span
// the sender assumed (largest received >= largest acked).
TEST(PacketNumber, EncodeDecodeProperty) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200000; ++i) {
    const std::uint64_t largest_acked = rng() % (std::uint64_t{1} << 40);
    const std::uint64_t gap = 1 + rng() % (1u << (rng() % 31));
    const std::uint64_t pn = largest_acked + gap;
    const std::size_t len = packet_number_length(pn, largest_acked);
    ASSERT_GE(len, 1u);
    ASSERT_LE(len, 4u);
    // The receiver has seen something between largest_acked and pn - 1.
    const std::uint64_t received = largest_acked + rng() % gap;
    const std::uint64_t truncated = pn & ((std::uint64_t{1} << (8 * len)) - 1);
    ASSERT_EQ(decode_packet_number(received, truncated, len), pn)
        << "pn=" << pn << " acked=" << largest_acked << " received=" << received << " len=" << len;
  }
}

}  // namespace
}  // namespace dquic
