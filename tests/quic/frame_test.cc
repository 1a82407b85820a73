#include "quic/frame.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <deque>
#include <vector>

#include "quic/buffer.h"

namespace dquic {
namespace {

using Bytes = std::vector<std::uint8_t>;

constexpr std::uint64_t kBoundaries[] = {
    0, 1, 63, 64, 16383, 16384, (1u << 30) - 1, 1u << 30, kVarintMax - 1, kVarintMax};

ByteSpan span_of(const Bytes& b) {
  return {b.data(), b.size()};
}
ByteSpan span_of(const char* s) {
  return {reinterpret_cast<const std::uint8_t*>(s), std::strlen(s)};
}

Bytes encode(const Frame& f) {
  Bytes out(4096 + 70000);
  Writer w(out);
  EXPECT_TRUE(encode_frame(f, w));
  out.resize(w.written());
  return out;
}

TransportError decode_one(const Bytes& b, Frame* f, std::size_t* consumed = nullptr) {
  Reader r(span_of(b));
  const TransportError e = decode_frame(r, f);
  if (consumed) *consumed = b.size() - r.remaining();
  return e;
}

// Encodes, checks the size helper agrees, decodes back and compares.
void expect_round_trip(const Frame& f) {
  const Bytes b = encode(f);
  EXPECT_EQ(b.size(), encoded_size(f));
  Frame back;
  std::size_t used = 0;
  ASSERT_EQ(decode_one(b, &back, &used), TransportError::kNoError);
  EXPECT_EQ(used, b.size());
  EXPECT_TRUE(back == f) << "frame index " << f.index();
}

// Keeps ACK range bytes alive for the AckFrames built from them.
std::deque<Bytes> g_ack_storage;

AckFrame make_ack(const std::vector<AckRange>& ranges, std::uint64_t delay,
                  const EcnCounts* ecn = nullptr) {
  Bytes& buf = g_ack_storage.emplace_back(16 + ranges.size() * 20);
  Writer w(buf);
  EXPECT_TRUE(encode_ack(ranges, delay, ecn, w));
  buf.resize(w.written());
  Frame f;
  Reader r(span_of(buf));
  EXPECT_EQ(decode_frame(r, &f), TransportError::kNoError);
  EXPECT_TRUE(r.empty());
  return std::get<AckFrame>(f);
}

std::vector<AckRange> ranges_of(const AckFrame& a) {
  return {a.begin(), a.end()};
}

const Bytes kData = {'h', 'e', 'l', 'l', 'o'};
const StatelessResetToken kToken = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
const Bytes kCid = {0xaa, 0xbb, 0xcc, 0xdd};
const PathData kPath = {9, 8, 7, 6, 5, 4, 3, 2};

// One representative of every frame type; frames that run to the end of the
// packet (STREAM without LEN, DATAGRAM 0x30) are listed in rest_of_packet_samples().
std::vector<Frame> samples() {
  const EcnCounts ecn{1, 2, 300};
  return {
      PaddingFrame{1},
      PingFrame{},
      make_ack({{90, 100}, {10, 20}, {0, 0}}, 25),
      make_ack({{90, 100}, {10, 20}}, 25, &ecn),
      ResetStreamFrame{4, 77, 1000},
      StopSendingFrame{8, 16384},
      CryptoFrame{300, span_of(kData)},
      NewTokenFrame{span_of(kData)},
      StreamFrame{4, 1000, span_of(kData), true, true},
      StreamFrame{4, 0, span_of(kData), false, true},
      MaxDataFrame{1u << 20},
      MaxStreamDataFrame{4, 65536},
      MaxStreamsFrame{true, 100},
      MaxStreamsFrame{false, kMaxStreamCount},
      DataBlockedFrame{5000},
      StreamDataBlockedFrame{12, 99},
      StreamsBlockedFrame{true, 7},
      StreamsBlockedFrame{false, 70},
      NewConnectionIdFrame{5, 2, span_of(kCid), kToken},
      RetireConnectionIdFrame{3},
      PathChallengeFrame{kPath},
      PathResponseFrame{kPath},
      ConnectionCloseFrame{false, 0x0a, 0x08, span_of("bad frame")},
      ConnectionCloseFrame{true, 0x100, 0, span_of("app")},
      HandshakeDoneFrame{},
      DatagramFrame{span_of(kData), true},
  };
}

std::vector<Frame> rest_of_packet_samples() {
  return {
      StreamFrame{4, 1000, span_of(kData), true, false},
      StreamFrame{4, 0, span_of(kData), false, false},
      DatagramFrame{span_of(kData), false},
  };
}

TEST(Frame, RoundTripsEveryFrameType) {
  for (const Frame& f : samples())
    expect_round_trip(f);
  for (const Frame& f : rest_of_packet_samples())
    expect_round_trip(f);
}

TEST(Frame, RoundTripsVarintBoundariesInEveryIntegerField) {
  for (std::uint64_t v : kBoundaries) {
    SCOPED_TRACE(v);
    expect_round_trip(ResetStreamFrame{v, v, v});
    expect_round_trip(StopSendingFrame{v, v});
    expect_round_trip(CryptoFrame{v, {}});
    expect_round_trip(StreamFrame{v, v, {}, false, true});
    expect_round_trip(StreamFrame{v, v, {}, true, false});
    expect_round_trip(MaxDataFrame{v});
    expect_round_trip(MaxStreamDataFrame{v, v});
    expect_round_trip(DataBlockedFrame{v});
    expect_round_trip(StreamDataBlockedFrame{v, v});
    expect_round_trip(NewConnectionIdFrame{v, v, span_of(kCid), kToken});
    expect_round_trip(RetireConnectionIdFrame{v});
    expect_round_trip(ConnectionCloseFrame{false, v, v, {}});
    expect_round_trip(ConnectionCloseFrame{true, v, 0, {}});
    if (v <= kMaxStreamCount) {
      expect_round_trip(MaxStreamsFrame{true, v});
      expect_round_trip(StreamsBlockedFrame{false, v});
    }
    expect_round_trip(make_ack({{0, v}}, v));
    const EcnCounts ecn{v, v, v};
    expect_round_trip(make_ack({{v, v}}, 0, &ecn));
  }
}

TEST(Frame, RoundTripsLengthBoundaries) {
  for (std::size_t n : {0, 1, 63, 64, 16383, 16384, 65535}) {
    SCOPED_TRACE(n);
    const Bytes data(n, 0x5a);
    expect_round_trip(CryptoFrame{0, span_of(data)});
    expect_round_trip(StreamFrame{0, 0, span_of(data), true, true});
    expect_round_trip(DatagramFrame{span_of(data), true});
    expect_round_trip(DatagramFrame{span_of(data), false});
    expect_round_trip(ConnectionCloseFrame{false, 0, 0, span_of(data)});
    if (n > 0) expect_round_trip(NewTokenFrame{span_of(data)});
  }
  for (std::size_t n = 1; n <= kMaxConnectionIdLength; ++n) {
    const Bytes cid(n, 0x11);
    expect_round_trip(NewConnectionIdFrame{1, 0, span_of(cid), kToken});
  }
}

TEST(Frame, StreamTypeBitsFollowTheFields) {
  for (std::uint8_t flags = 0; flags < 8; ++flags) {
    SCOPED_TRACE(int{flags});
    StreamFrame s{5, (flags & kStreamFlagOff) ? 77u : 0u, span_of(kData),
                  (flags & kStreamFlagFin) != 0, (flags & kStreamFlagLen) != 0};
    EXPECT_EQ(static_cast<std::uint64_t>(frame_type(s)), 0x08u | flags);
    const Bytes b = encode(s);
    EXPECT_EQ(b[0], 0x08 | flags);
    expect_round_trip(s);
  }
}

TEST(Frame, StreamWithOffsetFlagAndZeroOffsetDecodes) {
  const Bytes b = {0x0e, 0x04, 0x00, 0x01, 0x61};  // OFF|LEN, offset 0
  Frame f;
  ASSERT_EQ(decode_one(b, &f), TransportError::kNoError);
  const auto& s = std::get<StreamFrame>(f);
  EXPECT_EQ(s.offset, 0u);
  EXPECT_EQ(s.data.size(), 1u);
  EXPECT_EQ(encode(f).size(), 4u);  // re-encoded without the Offset field
}

TEST(Frame, ByteExactEncodings) {
  EXPECT_EQ(encode(PingFrame{}), (Bytes{0x01}));
  EXPECT_EQ(encode(HandshakeDoneFrame{}), (Bytes{0x1e}));
  // RFC 9000 Appendix A.1: 494878333 as a 4-byte varint.
  EXPECT_EQ(encode(MaxDataFrame{494878333}), (Bytes{0x10, 0x9d, 0x7f, 0x3e, 0x7d}));
  const Bytes hi = {'h', 'i'};
  EXPECT_EQ(encode(StreamFrame{4, 0, span_of(hi), true, true}),
            (Bytes{0x0b, 0x04, 0x02, 'h', 'i'}));
  EXPECT_EQ(encode(StreamFrame{4, 64, span_of(hi), false, false}),
            (Bytes{0x0c, 0x04, 0x40, 0x40, 'h', 'i'}));
  EXPECT_EQ(encode(CryptoFrame{0, span_of(hi)}), (Bytes{0x06, 0x00, 0x02, 'h', 'i'}));
  EXPECT_EQ(encode(DatagramFrame{span_of(hi), true}), (Bytes{0x31, 0x02, 'h', 'i'}));
  EXPECT_EQ(encode(DatagramFrame{span_of(hi), false}), (Bytes{0x30, 'h', 'i'}));
  EXPECT_EQ(encode(ConnectionCloseFrame{false, 0x0a, 0x08, span_of("x")}),
            (Bytes{0x1c, 0x0a, 0x08, 0x01, 'x'}));
  EXPECT_EQ(encode(ConnectionCloseFrame{true, 0x0a, 0x08, {}}), (Bytes{0x1d, 0x0a, 0x00}));
  EXPECT_EQ(encode(MaxStreamsFrame{false, 3}), (Bytes{0x13, 0x03}));
  EXPECT_EQ(encode(StreamsBlockedFrame{true, 3}), (Bytes{0x16, 0x03}));
  Bytes ncid = {0x18, 0x01, 0x00, 0x04, 0xaa, 0xbb, 0xcc, 0xdd};
  ncid.insert(ncid.end(), kToken.begin(), kToken.end());
  EXPECT_EQ(encode(NewConnectionIdFrame{1, 0, span_of(kCid), kToken}), ncid);
  EXPECT_EQ(encode(PaddingFrame{3}), (Bytes{0, 0, 0}));

  // ACK of 10..8 and 5..2: first range 2, gap 8-5-2 = 1, length 3 (§19.3.1).
  std::array<std::uint8_t, 32> buf{};
  Writer w(buf);
  const AckRange ranges[] = {{8, 10}, {2, 5}};
  ASSERT_TRUE(encode_ack(ranges, 3, nullptr, w));
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + w.written()),
            (Bytes{0x02, 0x0a, 0x03, 0x01, 0x02, 0x01, 0x03}));
  Writer w2(buf);
  const EcnCounts ecn{1, 2, 3};
  ASSERT_TRUE(encode_ack(ranges, 3, &ecn, w2));
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + w2.written()),
            (Bytes{0x03, 0x0a, 0x03, 0x01, 0x02, 0x01, 0x03, 0x01, 0x02, 0x03}));
}

TEST(Frame, AckRangesIterateLargestFirst) {
  const std::vector<AckRange> in = {{90, 100}, {50, 60}, {48, 48}, {0, 46}};
  const AckFrame a = make_ack(in, 7);
  EXPECT_EQ(a.range_count, 3u);
  EXPECT_EQ(a.range_total(), 4u);
  EXPECT_EQ(ranges_of(a), in);
  EXPECT_EQ(a.smallest_acknowledged(), 0u);
  EXPECT_EQ(a.largest_acknowledged, 100u);
  EXPECT_EQ(a.ack_delay, 7u);
  EXPECT_FALSE(a.has_ecn);
}

TEST(Frame, AckWithManyRangesRoundTrips) {
  std::vector<AckRange> in;
  std::uint64_t pn = 1'000'000;
  for (int i = 0; i < 2000; ++i) {
    const std::uint64_t len = static_cast<std::uint64_t>(i % 70);
    in.push_back({pn - len, pn});
    pn -= len + 2 + static_cast<std::uint64_t>(i % 100);
  }
  const AckFrame a = make_ack(in, 1);
  EXPECT_EQ(ranges_of(a), in);
  expect_round_trip(a);
  EXPECT_EQ(ack_frame_size(in, 1, nullptr), encoded_size(a));
}

TEST(Frame, AckDecodeNeverCopiesRanges) {
  const Bytes b = {0x02, 0x0a, 0x03, 0x01, 0x02, 0x01, 0x03};
  Frame f;
  ASSERT_EQ(decode_one(b, &f), TransportError::kNoError);
  const auto& a = std::get<AckFrame>(f);
  EXPECT_EQ(a.ranges.data(), b.data() + 5);
  EXPECT_EQ(a.ranges.size(), 2u);
}

TEST(Frame, AckEqualityComparesValuesNotEncodings) {
  const Bytes shortest = {0x02, 0x0a, 0x03, 0x01, 0x02, 0x01, 0x03};
  const Bytes padded = {0x02, 0x0a, 0x03, 0x01, 0x02, 0x40, 0x01, 0x80, 0x00, 0x00, 0x03};
  Frame a, b;
  ASSERT_EQ(decode_one(shortest, &a), TransportError::kNoError);
  ASSERT_EQ(decode_one(padded, &b), TransportError::kNoError);
  EXPECT_TRUE(a == b);
  EXPECT_EQ(encode(b), shortest);
}

TEST(Frame, DecodeViewsPointIntoThePacket) {
  const Bytes b = {0x0b, 0x04, 0x02, 'h', 'i'};
  Frame f;
  ASSERT_EQ(decode_one(b, &f), TransportError::kNoError);
  EXPECT_EQ(std::get<StreamFrame>(f).data.data(), b.data() + 3);
}

TEST(Frame, PaddingRunsCoalesce) {
  Bytes b(1500, 0);
  b[1000] = 0x01;
  Reader r(span_of(b));
  Frame f;
  ASSERT_EQ(decode_frame(r, &f), TransportError::kNoError);
  EXPECT_EQ(std::get<PaddingFrame>(f).length, 1000u);
  ASSERT_EQ(decode_frame(r, &f), TransportError::kNoError);
  EXPECT_TRUE(std::holds_alternative<PingFrame>(f));
  ASSERT_EQ(decode_frame(r, &f), TransportError::kNoError);
  EXPECT_EQ(std::get<PaddingFrame>(f).length, 499u);
  EXPECT_TRUE(r.empty());
}

TEST(Frame, DecodesASequence) {
  Bytes pkt;
  std::vector<Frame> in = samples();
  in.push_back(rest_of_packet_samples()[0]);
  for (const Frame& f : in) {
    const Bytes b = encode(f);
    pkt.insert(pkt.end(), b.begin(), b.end());
  }
  Reader r(span_of(pkt));
  for (const Frame& want : in) {
    Frame got;
    ASSERT_EQ(decode_frame(r, &got), TransportError::kNoError);
    EXPECT_TRUE(got == want) << want.index();
  }
  EXPECT_TRUE(r.empty());
}

TEST(Frame, RestOfPacketFramesTakeEverything) {
  const Bytes s = {0x08, 0x04, 0x01, 0x01, 0x01};  // STREAM, no LEN: "01 01 01" is data
  Frame f;
  std::size_t used = 0;
  ASSERT_EQ(decode_one(s, &f, &used), TransportError::kNoError);
  EXPECT_EQ(used, s.size());
  EXPECT_EQ(std::get<StreamFrame>(f).data.size(), 3u);
  EXPECT_FALSE(std::get<StreamFrame>(f).has_length);

  const Bytes d = {0x30, 0x01, 0x02};
  ASSERT_EQ(decode_one(d, &f, &used), TransportError::kNoError);
  EXPECT_EQ(used, d.size());
  EXPECT_EQ(std::get<DatagramFrame>(f).data.size(), 2u);

  const Bytes empty_datagram = {0x30};
  ASSERT_EQ(decode_one(empty_datagram, &f), TransportError::kNoError);
  EXPECT_TRUE(std::get<DatagramFrame>(f).data.empty());
}

// --- rejection -------------------------------------------------------------

void expect_error(const Bytes& b, TransportError want) {
  Frame f;
  EXPECT_EQ(decode_one(b, &f), want) << ::testing::PrintToString(b);
}

TEST(Frame, TruncationAtEveryOffsetIsAFrameEncodingError) {
  for (const Frame& f : samples()) {
    if (std::holds_alternative<PaddingFrame>(f)) continue;  // a shorter run is still padding
    const Bytes b = encode(f);
    for (std::size_t n = 0; n < b.size(); ++n) {
      SCOPED_TRACE(::testing::Message() << "frame " << f.index() << " cut at " << n);
      expect_error(Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)),
                   TransportError::kFrameEncodingError);
    }
  }
}

TEST(Frame, TruncatedRestOfPacketFramesFailOnlyInTheirHeader) {
  for (const Frame& f : rest_of_packet_samples()) {
    const Bytes b = encode(f);
    const std::size_t header = b.size() - kData.size();
    for (std::size_t n = 0; n < b.size(); ++n) {
      Frame got;
      const TransportError e =
          decode_one(Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)), &got);
      EXPECT_EQ(e, n < header ? TransportError::kFrameEncodingError : TransportError::kNoError)
          << f.index() << " cut at " << n;
    }
  }
}

TEST(Frame, EmptyInputIsAnError) {
  expect_error({}, TransportError::kFrameEncodingError);
}

TEST(Frame, UnknownTypesAreFrameEncodingErrors) {
  for (std::uint8_t t : {0x1f, 0x20, 0x21, 0x2f, 0x32, 0x3f}) {
    expect_error({t, 0, 0, 0}, TransportError::kFrameEncodingError);
  }
  expect_error({0x40, 0x40}, TransportError::kFrameEncodingError);  // 0x40 minimally encoded
  expect_error({0x80, 0x01, 0x00, 0x00}, TransportError::kFrameEncodingError);
  expect_error({0x40}, TransportError::kFrameEncodingError);  // truncated type
}

TEST(Frame, NonMinimalTypeIsAProtocolViolation) {
  expect_error({0x40, 0x01}, TransportError::kProtocolViolation);              // PING
  expect_error({0x40, 0x00}, TransportError::kProtocolViolation);              // PADDING
  expect_error({0x80, 0x00, 0x00, 0x1e}, TransportError::kProtocolViolation);  // HANDSHAKE_DONE
  expect_error({0xc0, 0, 0, 0, 0, 0, 0, 0x10, 0x00}, TransportError::kProtocolViolation);
  expect_error({0x40, 0x0b, 0x04, 0x00}, TransportError::kProtocolViolation);  // STREAM
}

TEST(Frame, NonMinimalFieldsAreAccepted) {
  // §16 allows longer varints in fields; only the frame type must be minimal.
  Frame f;
  ASSERT_EQ(decode_one({0x10, 0x40, 0x05}, &f), TransportError::kNoError);
  EXPECT_EQ(std::get<MaxDataFrame>(f).maximum_data, 5u);
}

Bytes with_varint8(Bytes head, std::uint64_t v, Bytes tail = {}) {
  std::array<std::uint8_t, 8> b;
  varint_write(b.data(), v, 8);
  head.insert(head.end(), b.begin(), b.end());
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

TEST(Frame, StreamOffsetPlusLengthMustNotExceedVarintMax) {
  // §19.8
  expect_error(with_varint8({0x0e, 0x00}, kVarintMax, {0x01, 'x'}),
               TransportError::kFrameEncodingError);
  expect_error(with_varint8({0x0c, 0x00}, kVarintMax, {'x'}), TransportError::kFrameEncodingError);
  expect_error(with_varint8({0x0e, 0x00}, kVarintMax - 1, {0x02, 'x', 'y'}),
               TransportError::kFrameEncodingError);
  expect_error(with_varint8({0x0e, 0x00}, kVarintMax - 1, {0x01, 'x'}), TransportError::kNoError);
  expect_error(with_varint8({0x0e, 0x00}, kVarintMax, {0x00}), TransportError::kNoError);
  const Bytes x = {'x'};
  Bytes buf(32);
  Writer w(buf);
  EXPECT_FALSE(encode_frame(StreamFrame{0, kVarintMax, span_of(x), false, true}, w));
  EXPECT_EQ(w.written(), 0u);
}

TEST(Frame, CryptoOffsetPlusLengthMustNotExceedVarintMax) {
  // §19.6: this codec reports FRAME_ENCODING_ERROR.
  expect_error(with_varint8({0x06}, kVarintMax, {0x01, 'x'}), TransportError::kFrameEncodingError);
  expect_error(with_varint8({0x06}, kVarintMax, {0x00}), TransportError::kNoError);
}

TEST(Frame, StreamCountsAbove2To60AreRejected) {
  // §19.11, §19.14
  for (std::uint8_t t : {0x12, 0x13, 0x16, 0x17}) {
    expect_error(with_varint8({t}, kMaxStreamCount), TransportError::kNoError);
    expect_error(with_varint8({t}, kMaxStreamCount + 1), TransportError::kFrameEncodingError);
    expect_error(with_varint8({t}, kVarintMax), TransportError::kFrameEncodingError);
  }
  Bytes buf(32);
  Writer w(buf);
  EXPECT_FALSE(encode_frame(MaxStreamsFrame{true, kMaxStreamCount + 1}, w));
  EXPECT_FALSE(encode_frame(StreamsBlockedFrame{false, kMaxStreamCount + 1}, w));
  EXPECT_EQ(w.written(), 0u);
}

Bytes ncid_bytes(std::uint8_t seq, std::uint8_t retire, std::uint8_t len) {
  // Built by push_back: g++ 12 warns falsely (-Warray-bounds) on vector::insert here.
  Bytes b = {0x18, seq, retire, len};
  for (int i = 0; i < len; ++i)
    b.push_back(0x77);
  for (std::uint8_t t : kToken)
    b.push_back(t);
  return b;
}

TEST(Frame, NewConnectionIdValidation) {
  // §19.15
  expect_error(ncid_bytes(1, 0, 0), TransportError::kFrameEncodingError);
  expect_error(ncid_bytes(1, 0, 21), TransportError::kFrameEncodingError);
  expect_error(ncid_bytes(1, 0, 255), TransportError::kFrameEncodingError);
  expect_error(ncid_bytes(1, 0, 1), TransportError::kNoError);
  expect_error(ncid_bytes(1, 0, 20), TransportError::kNoError);
  expect_error(ncid_bytes(3, 3, 8), TransportError::kNoError);
  expect_error(ncid_bytes(3, 4, 8), TransportError::kFrameEncodingError);
  Bytes buf(64);
  Writer w(buf);
  const Bytes long_cid(21, 1);
  EXPECT_FALSE(encode_frame(NewConnectionIdFrame{1, 0, {}, kToken}, w));
  EXPECT_FALSE(encode_frame(NewConnectionIdFrame{1, 0, span_of(long_cid), kToken}, w));
  EXPECT_FALSE(encode_frame(NewConnectionIdFrame{1, 2, span_of(kCid), kToken}, w));
  EXPECT_EQ(w.written(), 0u);
}

TEST(Frame, NewTokenMustNotBeEmpty) {
  // §19.7
  expect_error({0x07, 0x00}, TransportError::kFrameEncodingError);
  expect_error({0x07, 0x01, 0x55}, TransportError::kNoError);
  Bytes buf(8);
  Writer w(buf);
  EXPECT_FALSE(encode_frame(NewTokenFrame{}, w));
}

TEST(Frame, AckRangesBelowZeroAreRejected) {
  // §19.3.1: largest 5, first range 6 would reach -1.
  expect_error({0x02, 0x05, 0x00, 0x00, 0x06}, TransportError::kFrameEncodingError);
  expect_error({0x02, 0x05, 0x00, 0x00, 0x05}, TransportError::kNoError);
  // Range 5..5, then gap 3 reaches largest 0 and length 0 is fine...
  expect_error({0x02, 0x05, 0x00, 0x01, 0x00, 0x03, 0x00}, TransportError::kNoError);
  // ...but length 1 goes to -1, and gap 4 has largest -1.
  expect_error({0x02, 0x05, 0x00, 0x01, 0x00, 0x03, 0x01}, TransportError::kFrameEncodingError);
  expect_error({0x02, 0x05, 0x00, 0x01, 0x00, 0x04, 0x00}, TransportError::kFrameEncodingError);
  // Huge gap values do not wrap around.
  expect_error(with_varint8({0x02, 0x05, 0x00, 0x01, 0x00}, kVarintMax, {0x00}),
               TransportError::kFrameEncodingError);
}

TEST(Frame, AckRangeCountIsBoundedByTheBytesPresent) {
  // Largest 5, delay 0, a count of 2^62-1, first range 0 and two bytes left:
  // fails at once rather than looping.
  expect_error(with_varint8({0x02, 0x05, 0x00}, kVarintMax, {0x00, 0x00, 0x00}),
               TransportError::kFrameEncodingError);
  // Largest 64, count 2: three bytes cannot hold two pairs, four can.
  expect_error({0x02, 0x40, 0x40, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00},
               TransportError::kFrameEncodingError);
  expect_error({0x02, 0x40, 0x40, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00},
               TransportError::kNoError);
}

TEST(Frame, EncodeAckRejectsMalformedRanges) {
  Bytes buf(64);
  Writer w(buf);
  const std::vector<std::vector<AckRange>> bad = {
      {},
      {{5, 4}},            // smallest > largest
      {{5, 9}, {4, 4}},    // adjacent: no missing packet between
      {{5, 9}, {6, 7}},    // overlapping
      {{5, 9}, {10, 20}},  // ascending
      {{1, 9}, {0, 0}},    // gap would be negative
      {{0, kVarintMax + 1}},
  };
  for (const auto& r : bad) {
    EXPECT_FALSE(encode_ack(r, 0, nullptr, w));
    EXPECT_EQ(ack_frame_size(r, 0, nullptr), 0u);
  }
  EXPECT_EQ(w.written(), 0u);
  EXPECT_TRUE(w.ok());
  const std::vector<AckRange> good = {{5, 9}, {0, 3}};
  EXPECT_TRUE(encode_ack(good, 0, nullptr, w));
}

TEST(Frame, EncodeRewindsWhenTheBufferIsTooSmall) {
  std::vector<Frame> all = samples();
  for (const Frame& f : rest_of_packet_samples())
    all.push_back(f);
  for (const Frame& f : all) {
    const std::size_t need = encoded_size(f);
    ASSERT_GT(need, 0u);
    for (std::size_t room = 0; room < need; ++room) {
      Bytes buf(3 + room, 0xee);
      Writer w(buf);
      w.write_bytes(span_of("abc"));
      EXPECT_FALSE(encode_frame(f, w)) << f.index() << " room " << room;
      EXPECT_EQ(w.written(), 3u);
      EXPECT_TRUE(w.ok());
    }
    Bytes buf(need);
    Writer w(buf);
    EXPECT_TRUE(encode_frame(f, w));
    EXPECT_EQ(w.remaining(), 0u);
  }
}

TEST(Frame, EncodeIntoAFailedWriterKeepsTheFailure) {
  Bytes buf(1);
  Writer w(buf);
  w.write_u32(1);
  ASSERT_FALSE(w.ok());
  EXPECT_FALSE(encode_frame(PingFrame{}, w));
  EXPECT_FALSE(w.ok());
}

TEST(Frame, EncodeRejectsValuesAboveVarintMax) {
  Bytes buf(64);
  Writer w(buf);
  EXPECT_FALSE(encode_frame(MaxDataFrame{kVarintMax + 1}, w));
  EXPECT_EQ(encoded_size(MaxDataFrame{kVarintMax + 1}), 0u);
  EXPECT_EQ(w.written(), 0u);
}

TEST(Frame, EncodePadding) {
  Bytes buf(10, 0xff);
  Writer w(buf);
  EXPECT_TRUE(encode_padding(4, w));
  EXPECT_FALSE(encode_padding(7, w));
  EXPECT_EQ(w.written(), 4u);
  EXPECT_EQ(Bytes(buf.begin(), buf.begin() + 5), (Bytes{0, 0, 0, 0, 0xff}));
}

// --- size helpers ----------------------------------------------------------

TEST(Frame, StreamOverheadMatchesTheEncoding) {
  for (std::uint64_t id : {0ull, 64ull, 1ull << 40}) {
    for (std::uint64_t off : {0ull, 1ull, 16384ull}) {
      for (std::size_t len : {0, 63, 64, 300}) {
        for (bool has_len : {false, true}) {
          const Bytes data(len, 1);
          const StreamFrame s{id, off, span_of(data), false, has_len};
          EXPECT_EQ(stream_frame_overhead(id, off, len, has_len) + len, encoded_size(s));
        }
      }
    }
  }
  EXPECT_EQ(crypto_frame_overhead(0, 5) + 5, encoded_size(CryptoFrame{0, span_of(kData)}));
  EXPECT_EQ(datagram_frame_size(5, true), encoded_size(DatagramFrame{span_of(kData), true}));
  EXPECT_EQ(datagram_frame_size(5, false), encoded_size(DatagramFrame{span_of(kData), false}));
}

TEST(Frame, MaxStreamDataFillsTheBudgetExactly) {
  for (std::uint64_t id : {0ull, 100ull, 1ull << 35}) {
    for (std::uint64_t off : {0ull, 10ull, 1ull << 31}) {
      for (bool has_len : {false, true}) {
        for (std::size_t budget = 0; budget < 17000; ++budget) {
          const std::size_t n = max_stream_data(id, off, has_len, budget, 1u << 20);
          const std::size_t header = stream_frame_overhead(id, off, n, has_len);
          if (n == 0) {
            // Nothing fits: even one byte would overflow.
            ASSERT_GT(stream_frame_overhead(id, off, 1, has_len) + 1, budget);
            continue;
          }
          ASSERT_LE(header + n, budget);
          // One more byte would not fit.
          ASSERT_GT(stream_frame_overhead(id, off, n + 1, has_len) + n + 1, budget)
              << id << " " << off << " " << budget;
        }
      }
    }
  }
  EXPECT_EQ(max_stream_data(0, 0, true, 1200, 10), 10u);
  EXPECT_EQ(max_stream_data(0, kVarintMax - 3, true, 1200, 100), 3u);  // §19.8 limit
  EXPECT_EQ(max_stream_data(0, 0, true, 2, 100), 0u);
  EXPECT_EQ(max_stream_data(0, 0, true, 3, 100), 0u);
  EXPECT_EQ(max_stream_data(0, 0, true, 4, 100), 1u);
  EXPECT_EQ(max_stream_data(0, 0, false, 3, 100), 1u);
  // 1 (type) + 1 (id) + 2 (length 64..16383) + 64 data: 68 bytes hold 64.
  EXPECT_EQ(max_stream_data(0, 0, true, 68, 1000), 64u);
  EXPECT_EQ(max_stream_data(0, 0, true, 67, 1000), 63u);
  EXPECT_EQ(max_stream_data(0, 0, true, 66, 1000), 63u);
}

TEST(Frame, MaxCryptoDataFillsTheBudgetExactly) {
  for (std::uint64_t off : {0ull, 70ull, 1ull << 40}) {
    for (std::size_t budget = 0; budget < 17000; ++budget) {
      const std::size_t n = max_crypto_data(off, budget, 1u << 20);
      if (n == 0) {
        ASSERT_GT(crypto_frame_overhead(off, 1) + 1, budget);
        continue;
      }
      ASSERT_LE(crypto_frame_overhead(off, n) + n, budget);
      ASSERT_GT(crypto_frame_overhead(off, n + 1) + n + 1, budget);
    }
  }
}

TEST(Frame, AckRangesThatFitFillTheBudget) {
  std::vector<AckRange> in;
  std::uint64_t pn = 1u << 20;
  for (int i = 0; i < 300; ++i) {
    in.push_back({pn - 3, pn});
    pn -= 3 + 2 + static_cast<std::uint64_t>(i * 37 % 200);
  }
  const EcnCounts ecn{5, 6, 7};
  for (const EcnCounts* e : {static_cast<const EcnCounts*>(nullptr), &ecn}) {
    for (std::size_t budget = 0; budget < 1500; ++budget) {
      const std::size_t n = ack_ranges_that_fit(in, 1000, e, budget);
      const std::span<const AckRange> all(in);
      if (n == 0) {
        ASSERT_GT(ack_frame_size(all.first(1), 1000, e), budget);
        continue;
      }
      ASSERT_LE(ack_frame_size(all.first(n), 1000, e), budget);
      if (n < in.size()) {
        ASSERT_GT(ack_frame_size(all.first(n + 1), 1000, e), budget);
      }
    }
  }
  EXPECT_EQ(ack_ranges_that_fit(in, 0, nullptr, 100000), in.size());
  EXPECT_EQ(ack_ranges_that_fit({}, 0, nullptr, 100000), 0u);
}

TEST(Frame, FrameTypeOfEveryFrame) {
  EXPECT_EQ(frame_type(PaddingFrame{}), FrameType::kPadding);
  EXPECT_EQ(frame_type(make_ack({{1, 2}}, 0)), FrameType::kAck);
  const EcnCounts ecn{};
  EXPECT_EQ(frame_type(make_ack({{1, 2}}, 0, &ecn)), FrameType::kAckEcn);
  EXPECT_EQ(frame_type(MaxStreamsFrame{false, 1}), FrameType::kMaxStreamsUni);
  EXPECT_EQ(frame_type(StreamsBlockedFrame{true, 1}), FrameType::kStreamsBlockedBidi);
  EXPECT_EQ(frame_type(ConnectionCloseFrame{true, 0, 0, {}}), FrameType::kConnectionCloseApp);
  EXPECT_EQ(frame_type(DatagramFrame{{}, false}), FrameType::kDatagram);
  for (const Frame& f : samples()) {
    const Bytes b = encode(f);
    Reader r(span_of(b));
    std::uint64_t t;
    ASSERT_TRUE(r.read_varint(&t));
    EXPECT_EQ(static_cast<std::uint64_t>(frame_type(f)), t);
  }
}

}  // namespace
}  // namespace dquic
