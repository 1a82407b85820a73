#include "quic/packet_header.h"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>
#include <vector>

#include "quic/connection_id.h"
#include "quic/packet_header_encode.h"
#include "support/hex.h"

namespace dquic {
namespace {

using test::Bytes;
using test::bytes;
using test::hex;

// Builds a spec field by field (designated initializers that skip fields
// trip g++ 12's -Wmissing-field-initializers).
template <typename Spec, typename F>
Spec make(F set) {
  Spec s;
  set(s);
  return s;
}

ByteSpan span(const Bytes& b) {
  return {b.data(), b.size()};
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes filler(std::size_t n, std::uint8_t v = 0xa5) {
  return Bytes(n, v);
}

bool eq(ByteSpan a, const Bytes& b) {
  return same_bytes(a, span(b));
}

PacketDropReason parse(const Bytes& d, PacketHeader* h, std::size_t short_dcid_len = 8) {
  return parse_packet_header(span(d), 0, short_dcid_len, h);
}

const Bytes kA2Dcid = hex("8394c8f03e515708");
const Bytes kServerCid = hex("f067a5502a4262b5");

// RFC 9001 Appendix A.2: protected client Initial header; the payload bytes
// after it only need to be there, not to decrypt.
Bytes rfc9001_client_initial() {
  Bytes d = hex("c000000001088394c8f03e5157080000449e7b9aec34");
  d.resize(1200, 0x5a);
  return d;
}

// ---------------------------------------------------------------------------
// Published vectors

TEST(PacketHeader, Rfc9001ClientInitial) {
  const Bytes d = rfc9001_client_initial();
  PacketHeader h;
  ASSERT_EQ(parse(d, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.type, PacketType::kInitial);
  EXPECT_TRUE(h.is_long_header());
  EXPECT_EQ(h.version, kVersion1);
  EXPECT_EQ(h.first_byte, 0xc0);
  EXPECT_TRUE(eq(h.dcid, kA2Dcid));
  EXPECT_TRUE(h.scid.empty());
  EXPECT_TRUE(h.token.empty());
  EXPECT_EQ(h.length, 0x49eu);
  EXPECT_EQ(h.length, 1182u);
  EXPECT_EQ(h.first_byte_offset, 0u);
  EXPECT_EQ(h.pn_offset, 18u);
  EXPECT_EQ(h.sample_offset(), 22u);
  EXPECT_EQ(h.packet_end, 1200u);
  EXPECT_EQ(h.packet_size(), 1200u);
  EXPECT_TRUE(h.has_packet_number());

  // Unprotected first byte of the same packet (0xc3): 4-byte packet number.
  const auto u = decode_unprotected_first_byte(0xc3);
  EXPECT_EQ(u.pn_length, 4u);
  EXPECT_EQ(0xc3 & reserved_bits_mask(true), 0);
}

TEST(PacketHeader, Rfc9001ServerInitial) {
  // RFC 9001 Appendix A.3, the whole protected packet.
  const Bytes d =
      hex("cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a"
          "5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3"
          "dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84"
          "022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4"
          "2158407dd074ee");
  PacketHeader h;
  ASSERT_EQ(parse(d, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.type, PacketType::kInitial);
  EXPECT_TRUE(h.dcid.empty());
  EXPECT_TRUE(eq(h.scid, kServerCid));
  EXPECT_EQ(h.length, 0x75u);
  EXPECT_EQ(h.pn_offset, 18u);
  EXPECT_EQ(h.packet_end, d.size());
  EXPECT_EQ(d.size(), 18u + 0x75u);
}

TEST(PacketHeader, Rfc9369ClientInitialV2) {
  // RFC 9369 Appendix A.2 unprotected header: Initial is type 0b01 in v2.
  Bytes d = hex("d36b3343cf088394c8f03e5157080000449e00000002");
  d.resize(1200, 0);
  PacketHeader h;
  ASSERT_EQ(parse(d, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.type, PacketType::kInitial);
  EXPECT_EQ(h.version, kVersion2);
  EXPECT_EQ(h.pn_offset, 18u);
  EXPECT_EQ(h.length, 1182u);
  EXPECT_EQ(decode_unprotected_first_byte(h.first_byte).pn_length, 4u);
}

TEST(PacketHeader, Rfc9001Retry) {
  const Bytes d = hex("ff000000010008f067a5502a4262b574 6f6b656e04a265ba2eff4d829058fb3f 0f2496ba");
  PacketHeader h;
  ASSERT_EQ(parse(d, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.type, PacketType::kRetry);
  EXPECT_EQ(h.version, kVersion1);
  EXPECT_TRUE(h.dcid.empty());
  EXPECT_TRUE(eq(h.scid, kServerCid));
  EXPECT_TRUE(eq(h.token, hex("746f6b656e")));  // "token"
  EXPECT_TRUE(eq(h.retry_integrity_tag, hex("04a265ba2eff4d829058fb3f0f2496ba")));
  EXPECT_EQ(h.packet_end, d.size());
  EXPECT_FALSE(h.has_packet_number());

  // Re-encoding the parsed fields reproduces the packet exactly.
  std::array<std::uint8_t, 64> buf{};
  Writer w(buf);
  std::size_t tag_offset = 0;
  ASSERT_TRUE(encode_retry(w, make<RetrySpec>([&](RetrySpec& s) {
                             s.version = h.version;
                             s.dcid = h.dcid;
                             s.scid = h.scid;
                             s.token = h.token;
                             s.integrity_tag = h.retry_integrity_tag;
                             s.unused_bits = static_cast<std::uint8_t>(h.first_byte & 0x0f);
                           }),
                           &tag_offset));
  EXPECT_TRUE(same_bytes({buf.data(), w.written()}, span(d)));
  EXPECT_EQ(tag_offset, d.size() - 16);
}

TEST(PacketHeader, Rfc9369RetryV2) {
  const Bytes d = hex("cf6b3343cf0008f067a5502a4262b574 6f6b656ec8646ce8bfe33952d9555436 65dcc7b6");
  PacketHeader h;
  ASSERT_EQ(parse(d, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.type, PacketType::kRetry);  // type 0b00 in v2
  EXPECT_EQ(h.version, kVersion2);
  EXPECT_TRUE(eq(h.token, hex("746f6b656e")));
  EXPECT_TRUE(eq(h.retry_integrity_tag, hex("c8646ce8bfe33952d955543665dcc7b6")));

  std::array<std::uint8_t, 64> buf{};
  Writer w(buf);
  ASSERT_TRUE(encode_retry(w, make<RetrySpec>([&](RetrySpec& s) {
                             s.version = kVersion2;
                             s.scid = span(kServerCid);
                             s.token = h.token;
                             s.integrity_tag = h.retry_integrity_tag;
                             s.unused_bits = 0x0f;
                           }),
                           nullptr));
  EXPECT_TRUE(same_bytes({buf.data(), w.written()}, span(d)));
}

TEST(PacketHeader, Rfc9001ShortHeader) {
  // RFC 9001 Appendix A.5: empty DCID, the smallest possible packet (21 bytes).
  const Bytes d = hex("4cfe4189655e5cd55c41f69080575d7999c25a5bfb");
  PacketHeader h;
  ASSERT_EQ(parse(d, &h, 0), PacketDropReason::kNone);
  EXPECT_EQ(h.type, PacketType::kOneRtt);
  EXPECT_FALSE(h.is_long_header());
  EXPECT_TRUE(h.dcid.empty());
  EXPECT_EQ(h.pn_offset, 1u);
  EXPECT_EQ(h.sample_offset(), 5u);
  EXPECT_EQ(h.packet_end, 21u);
  EXPECT_FALSE(h.spin_bit);
  // One byte fewer cannot hold the sample.
  const Bytes shorter(d.begin(), d.end() - 1);
  EXPECT_EQ(parse(shorter, &h, 0), PacketDropReason::kTooShortForSample);
  // Its unprotected header 4200bff4: 3-byte packet number, key phase 0.
  const auto u = decode_unprotected_first_byte(0x42);
  EXPECT_EQ(u.pn_length, 3u);
  EXPECT_FALSE(u.key_phase);
  EXPECT_TRUE(decode_unprotected_first_byte(0x44).key_phase);
  EXPECT_EQ(hp_first_byte_mask(false), 0x1f);
  EXPECT_EQ(hp_first_byte_mask(true), 0x0f);
}

TEST(PacketHeader, VersionNegotiation) {
  const Bytes d = hex("80 00000000 04 01020304 02 0a0b 00000001 6b3343cf 1a2a3a4a");
  PacketHeader h;
  ASSERT_EQ(parse(d, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.type, PacketType::kVersionNegotiation);
  EXPECT_EQ(h.version, kVersionNegotiation);
  EXPECT_TRUE(eq(h.dcid, hex("01020304")));
  EXPECT_TRUE(eq(h.scid, hex("0a0b")));
  EXPECT_EQ(h.packet_end, d.size());
  EXPECT_FALSE(h.has_packet_number());
  const VersionList versions = h.versions();
  ASSERT_EQ(versions.size(), 3u);
  std::vector<std::uint32_t> seen;
  for (std::uint32_t v : versions)
    seen.push_back(v);
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{kVersion1, kVersion2, 0x1a2a3a4a}));
  EXPECT_TRUE(versions.contains(kVersion2));
  EXPECT_FALSE(versions.contains(0x12345678));
  EXPECT_TRUE(is_reserved_version(0x1a2a3a4a));
}

TEST(PacketHeader, VersionNegotiationIgnoresFixedBitAndLongCids) {
  // RFC 9000 §17.2.1: the fixed bit is unused and the CIDs echo a client of any
  // version, so 255-byte CIDs are fine.
  const Bytes d =
      concat({hex("80 00000000 ff"), filler(255, 1), hex("ff"), filler(255, 2), hex("00000001")});
  PacketHeader h;
  ASSERT_EQ(parse(d, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.dcid.size(), 255u);
  EXPECT_EQ(h.scid.size(), 255u);
  EXPECT_EQ(h.versions().size(), 1u);
}

// ---------------------------------------------------------------------------
// Invariants (RFC 8999)

TEST(InvariantHeader, UnknownVersionLongCids) {
  const Bytes d = concat({hex("c1 ff00abcd 21"), filler(33, 7), hex("ff"), filler(255, 8)});
  InvariantHeader ih;
  ASSERT_EQ(parse_invariant_header(span(d), 8, &ih), PacketDropReason::kNone);
  EXPECT_TRUE(ih.long_header);
  EXPECT_EQ(ih.version, 0xff00abcdu);
  EXPECT_EQ(ih.dcid.size(), 33u);
  EXPECT_EQ(ih.scid.size(), 255u);
  EXPECT_FALSE(is_supported_version(ih.version));

  // The full parser refuses it but still reports the invariant fields.
  PacketHeader h;
  ASSERT_EQ(parse(d, &h), PacketDropReason::kUnknownVersion);
  EXPECT_EQ(h.version, 0xff00abcdu);
  EXPECT_EQ(h.dcid.size(), 33u);
  EXPECT_EQ(h.scid.size(), 255u);
}

TEST(InvariantHeader, ShortHeaderUsesKnownDcidLength) {
  const Bytes d = concat({hex("40"), hex("0102030405"), filler(30)});
  InvariantHeader ih;
  ASSERT_EQ(parse_invariant_header(span(d), 5, &ih), PacketDropReason::kNone);
  EXPECT_FALSE(ih.long_header);
  EXPECT_TRUE(eq(ih.dcid, hex("0102030405")));
  EXPECT_TRUE(ih.scid.empty());
  // Fixed bit 0 is not an invariant concern.
  Bytes zero = d;
  zero[0] = 0x00;
  EXPECT_EQ(parse_invariant_header(span(zero), 5, &ih), PacketDropReason::kNone);
}

TEST(InvariantHeader, TruncationAtEveryOffset) {
  const Bytes d = concat({hex("c0 00000001 08"), kA2Dcid, hex("08"), kServerCid});
  InvariantHeader ih;
  ASSERT_EQ(parse_invariant_header(span(d), 0, &ih), PacketDropReason::kNone);
  for (std::size_t n = 0; n < d.size(); ++n) {
    EXPECT_EQ(parse_invariant_header({d.data(), n}, 0, &ih), PacketDropReason::kTruncated) << n;
  }
  const Bytes s = concat({hex("41"), kA2Dcid});
  for (std::size_t n = 0; n < s.size(); ++n) {
    EXPECT_EQ(parse_invariant_header({s.data(), n}, 8, &ih), PacketDropReason::kTruncated) << n;
  }
}

// ---------------------------------------------------------------------------
// Round trips through the encoders

struct LongCase {
  std::uint32_t version;
  PacketType type;
};

class LongRoundTrip : public ::testing::TestWithParam<LongCase> {};

TEST_P(LongRoundTrip, EncodeParseReencode) {
  const std::uint32_t version = GetParam().version;
  const PacketType type = GetParam().type;
  const Bytes token = hex("000102030405060708090a0b");
  for (std::size_t pn_length = 1; pn_length <= 4; ++pn_length) {
    for (std::size_t width : {1u, 2u, 4u, 8u}) {
      SCOPED_TRACE(testing::Message() << "pn_length=" << pn_length << " width=" << width);
      std::array<std::uint8_t, 256> buf{};
      Writer w(buf);
      w.fill(0xee, 3);  // the encoder must not assume it starts at 0
      const std::size_t payload = 40;
      LongHeaderSpec spec = make<LongHeaderSpec>([&](LongHeaderSpec& s) {
        s.type = type;
        s.version = version;
        s.dcid = span(kA2Dcid);
        s.scid = span(kServerCid);
        s.token = type == PacketType::kInitial ? span(token) : ByteSpan{};
        s.length_width = width;
        s.length = pn_length + payload;
        s.packet_number = 0x1122334455667788u;
        s.pn_length = pn_length;
      });
      LongHeaderLayout layout;
      ASSERT_TRUE(encode_long_header(w, spec, &layout));
      EXPECT_EQ(layout.length_width, width);
      EXPECT_EQ(layout.header_end, layout.pn_offset + pn_length);
      w.fill(0x33, payload);
      ASSERT_TRUE(w.ok());
      const Bytes d(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(w.written()));

      PacketHeader h;
      ASSERT_EQ(parse_packet_header(span(d), 3, 0, &h), PacketDropReason::kNone);
      EXPECT_EQ(h.type, type);
      EXPECT_EQ(h.version, version);
      EXPECT_TRUE(eq(h.dcid, kA2Dcid));
      EXPECT_TRUE(eq(h.scid, kServerCid));
      EXPECT_TRUE(type == PacketType::kInitial ? eq(h.token, token) : h.token.empty());
      EXPECT_EQ(h.length, pn_length + payload);
      EXPECT_EQ(h.first_byte_offset, 3u);
      EXPECT_EQ(h.pn_offset, layout.pn_offset);
      EXPECT_EQ(h.packet_end, d.size());
      EXPECT_EQ(decode_unprotected_first_byte(h.first_byte).pn_length, pn_length);
      EXPECT_EQ(h.first_byte & reserved_bits_mask(true), 0);
      // The truncated packet number is the low bytes, big-endian.
      for (std::size_t i = 0; i < pn_length; ++i) {
        EXPECT_EQ(d[h.pn_offset + i],
                  static_cast<std::uint8_t>(0x1122334455667788u >> (8 * (pn_length - 1 - i))));
      }
      // Re-encoding the parsed fields gives the same bytes.
      std::array<std::uint8_t, 256> again{};
      Writer w2(again);
      w2.fill(0xee, 3);
      LongHeaderSpec back = spec;
      back.type = h.type;
      back.version = h.version;
      back.dcid = h.dcid;
      back.scid = h.scid;
      back.token = h.token;
      back.length = h.length;
      ASSERT_TRUE(encode_long_header(w2, back, nullptr));
      w2.fill(0x33, payload);
      EXPECT_TRUE(same_bytes({again.data(), w2.written()}, span(d)));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllLongTypes, LongRoundTrip,
                         ::testing::Values(LongCase{kVersion1, PacketType::kInitial},
                                           LongCase{kVersion1, PacketType::kZeroRtt},
                                           LongCase{kVersion1, PacketType::kHandshake},
                                           LongCase{kVersion2, PacketType::kInitial},
                                           LongCase{kVersion2, PacketType::kZeroRtt},
                                           LongCase{kVersion2, PacketType::kHandshake}));

TEST(PacketHeaderEncode, LongTypeBitsPerVersion) {
  // RFC 9000 Table 5 and RFC 9369 §3.2.
  EXPECT_EQ(long_type_bits(kVersion1, PacketType::kInitial), 0);
  EXPECT_EQ(long_type_bits(kVersion1, PacketType::kZeroRtt), 1);
  EXPECT_EQ(long_type_bits(kVersion1, PacketType::kHandshake), 2);
  EXPECT_EQ(long_type_bits(kVersion1, PacketType::kRetry), 3);
  EXPECT_EQ(long_type_bits(kVersion2, PacketType::kInitial), 1);
  EXPECT_EQ(long_type_bits(kVersion2, PacketType::kZeroRtt), 2);
  EXPECT_EQ(long_type_bits(kVersion2, PacketType::kHandshake), 3);
  EXPECT_EQ(long_type_bits(kVersion2, PacketType::kRetry), 0);
  for (std::uint32_t v : {kVersion1, kVersion2}) {
    for (std::uint8_t bits = 0; bits < 4; ++bits) {
      EXPECT_EQ(long_type_bits(v, long_packet_type(v, bits)), bits);
    }
  }
}

TEST(PacketHeaderEncode, PatchLength) {
  std::array<std::uint8_t, 128> buf{};
  Writer w(buf);
  LongHeaderLayout layout;
  ASSERT_TRUE(encode_long_header(w, make<LongHeaderSpec>([&](LongHeaderSpec& s) {
                                   s.type = PacketType::kHandshake;
                                   s.dcid = span(kA2Dcid);
                                   s.length_width = 2;
                                   s.packet_number = 7;
                                   s.pn_length = 2;
                                 }),
                                 &layout));
  w.fill(0, 60);
  const std::uint64_t length = w.written() - layout.pn_offset;
  ASSERT_TRUE(patch_long_header_length(buf, layout, length));
  PacketHeader h;
  ASSERT_EQ(parse_packet_header({buf.data(), w.written()}, 0, 0, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.length, length);
  EXPECT_EQ(h.packet_end, w.written());
  // Too big for 2 bytes, and a field outside the buffer.
  EXPECT_FALSE(patch_long_header_length(buf, layout, 16384));
  LongHeaderLayout outside = layout;
  outside.length_offset = buf.size() - 1;
  EXPECT_FALSE(patch_long_header_length(buf, outside, 1));
  // 4-byte width takes larger values.
  LongHeaderLayout wide = layout;
  wide.length_width = 4;
  EXPECT_TRUE(patch_long_header_length(buf, wide, (1u << 30) - 1));
  EXPECT_FALSE(patch_long_header_length(buf, wide, 1u << 30));
}

TEST(PacketHeaderEncode, ShortHeaderRoundTrip) {
  for (bool spin : {false, true}) {
    for (bool kp : {false, true}) {
      for (std::size_t pn_length = 1; pn_length <= 4; ++pn_length) {
        for (std::size_t dcid_len : {0u, 8u, 20u}) {
          std::array<std::uint8_t, 128> buf{};
          Writer w(buf);
          const Bytes dcid = filler(dcid_len, 0x42);
          std::size_t pn_offset = 0;
          ASSERT_TRUE(encode_short_header(w, make<ShortHeaderSpec>([&](ShortHeaderSpec& s) {
                                            s.dcid = span(dcid);
                                            s.spin_bit = spin;
                                            s.key_phase = kp;
                                            s.packet_number = 0xabcdef01;
                                            s.pn_length = pn_length;
                                          }),
                                          &pn_offset));
          EXPECT_EQ(pn_offset, 1 + dcid_len);
          w.fill(0, 20);
          PacketHeader h;
          ASSERT_EQ(parse_packet_header({buf.data(), w.written()}, 0, dcid_len, &h),
                    PacketDropReason::kNone);
          EXPECT_EQ(h.type, PacketType::kOneRtt);
          EXPECT_TRUE(eq(h.dcid, dcid));
          EXPECT_EQ(h.spin_bit, spin);
          EXPECT_EQ(h.pn_offset, pn_offset);
          EXPECT_EQ(h.packet_end, w.written());
          const auto u = decode_unprotected_first_byte(h.first_byte);
          EXPECT_EQ(u.pn_length, pn_length);
          EXPECT_EQ(u.key_phase, kp);
          EXPECT_EQ(h.first_byte & reserved_bits_mask(false), 0);
          EXPECT_EQ(buf[pn_offset + pn_length - 1], 0x01);
        }
      }
    }
  }
}

TEST(PacketHeaderEncode, RetryRoundTripWithTagWrittenLater) {
  for (std::uint32_t version : {kVersion1, kVersion2}) {
    std::array<std::uint8_t, 128> buf{};
    Writer w(buf);
    const Bytes token = hex("deadbeef");
    std::size_t tag_offset = 0;
    ASSERT_TRUE(encode_retry(w, make<RetrySpec>([&](RetrySpec& s) {
                               s.version = version;
                               s.dcid = span(kA2Dcid);
                               s.scid = span(kServerCid);
                               s.token = span(token);
                             }),
                             &tag_offset));
    EXPECT_EQ(tag_offset + 16, w.written());
    for (std::size_t i = 0; i < 16; ++i) {
      EXPECT_EQ(buf[tag_offset + i], 0);
      buf[tag_offset + i] = static_cast<std::uint8_t>(i);
    }
    PacketHeader h;
    ASSERT_EQ(parse_packet_header({buf.data(), w.written()}, 0, 0, &h), PacketDropReason::kNone);
    EXPECT_EQ(h.type, PacketType::kRetry);
    EXPECT_EQ(h.version, version);
    EXPECT_TRUE(eq(h.dcid, kA2Dcid));
    EXPECT_TRUE(eq(h.scid, kServerCid));
    EXPECT_TRUE(eq(h.token, token));
    EXPECT_EQ(h.retry_integrity_tag.data(), buf.data() + tag_offset);
    EXPECT_EQ(h.retry_integrity_tag[15], 15);
  }
}

TEST(PacketHeaderEncode, VersionNegotiationRoundTrip) {
  std::array<std::uint8_t, 128> buf{};
  Writer w(buf);
  const std::array<std::uint32_t, 3> versions{kVersion2, kVersion1, 0x0a0a0a0a};
  ASSERT_TRUE(encode_version_negotiation(w, 0x13, span(kA2Dcid), span(kServerCid), versions));
  EXPECT_EQ(buf[0], 0x80 | 0x40 | 0x13);  // fixed-bit lookalike always set
  PacketHeader h;
  ASSERT_EQ(parse_packet_header({buf.data(), w.written()}, 0, 0, &h), PacketDropReason::kNone);
  EXPECT_EQ(h.type, PacketType::kVersionNegotiation);
  EXPECT_TRUE(eq(h.dcid, kA2Dcid));
  EXPECT_TRUE(eq(h.scid, kServerCid));
  std::vector<std::uint32_t> seen;
  for (std::uint32_t v : h.versions())
    seen.push_back(v);
  EXPECT_EQ(seen, std::vector<std::uint32_t>(versions.begin(), versions.end()));
}

TEST(PacketHeaderEncode, FailuresRewindAndRejectBadFields) {
  const Bytes cid21 = filler(21);
  const Bytes token = hex("01");
  for (std::size_t cap = 0; cap < 40; ++cap) {
    std::array<std::uint8_t, 64> buf{};
    Writer w({buf.data(), cap});
    w.fill(0x77, cap >= 2 ? 2 : 0);
    const std::size_t mark = w.written();
    const bool ok = encode_long_header(w, make<LongHeaderSpec>([&](LongHeaderSpec& s) {
                                         s.type = PacketType::kInitial;
                                         s.dcid = span(kA2Dcid);
                                         s.scid = span(kServerCid);
                                       }),
                                       nullptr);
    if (!ok) {
      EXPECT_EQ(w.written(), mark);
      EXPECT_TRUE(w.ok());
    }
    EXPECT_EQ(ok, cap >= mark + 1 + 4 + 9 + 9 + 1 + 2 + 4) << cap;
  }
  std::array<std::uint8_t, 512> buf{};
  Writer w(buf);
  // Invalid arguments write nothing.
  EXPECT_FALSE(encode_long_header(
      w, make<LongHeaderSpec>([&](LongHeaderSpec& s) { s.type = PacketType::kRetry; }), nullptr));
  EXPECT_FALSE(encode_long_header(
      w, make<LongHeaderSpec>([&](LongHeaderSpec& s) { s.type = PacketType::kOneRtt; }), nullptr));
  EXPECT_FALSE(encode_long_header(
      w, make<LongHeaderSpec>([&](LongHeaderSpec& s) { s.version = 0x0a0a0a0a; }), nullptr));
  EXPECT_FALSE(encode_long_header(
      w, make<LongHeaderSpec>([&](LongHeaderSpec& s) { s.dcid = span(cid21); }), nullptr));
  EXPECT_FALSE(encode_long_header(
      w, make<LongHeaderSpec>([&](LongHeaderSpec& s) { s.scid = span(cid21); }), nullptr));
  EXPECT_FALSE(encode_long_header(
      w, make<LongHeaderSpec>([&](LongHeaderSpec& s) { s.pn_length = 0; }), nullptr));
  EXPECT_FALSE(encode_long_header(
      w, make<LongHeaderSpec>([&](LongHeaderSpec& s) { s.pn_length = 5; }), nullptr));
  EXPECT_FALSE(encode_long_header(
      w, make<LongHeaderSpec>([&](LongHeaderSpec& s) { s.length_width = 3; }), nullptr));
  EXPECT_FALSE(encode_long_header(w, make<LongHeaderSpec>([&](LongHeaderSpec& s) {
                                    s.length_width = 1;
                                    s.length = 64;
                                  }),
                                  nullptr));
  EXPECT_FALSE(encode_long_header(w, make<LongHeaderSpec>([&](LongHeaderSpec& s) {
                                    s.type = PacketType::kHandshake;
                                    s.token = span(token);
                                  }),
                                  nullptr));
  EXPECT_FALSE(encode_short_header(
      w, make<ShortHeaderSpec>([&](ShortHeaderSpec& s) { s.dcid = span(cid21); }), nullptr));
  EXPECT_FALSE(encode_short_header(
      w, make<ShortHeaderSpec>([&](ShortHeaderSpec& s) { s.pn_length = 0; }), nullptr));
  EXPECT_FALSE(encode_retry(w, make<RetrySpec>([&](RetrySpec& s) { s.token = {}; }), nullptr));
  EXPECT_FALSE(encode_retry(w, make<RetrySpec>([&](RetrySpec& s) {
                              s.scid = span(cid21);
                              s.token = span(token);
                            }),
                            nullptr));
  EXPECT_FALSE(encode_retry(w, make<RetrySpec>([&](RetrySpec& s) {
                              s.token = span(token);
                              s.integrity_tag = span(token);
                            }),
                            nullptr));
  EXPECT_FALSE(encode_retry(w, make<RetrySpec>([&](RetrySpec& s) {
                              s.version = 0x12345678;
                              s.token = span(token);
                            }),
                            nullptr));
  const std::uint32_t v1 = kVersion1;
  const Bytes cid256 = filler(256);
  EXPECT_FALSE(encode_version_negotiation(w, 0, {}, {}, {}));
  EXPECT_FALSE(encode_version_negotiation(w, 0, span(cid256), {}, {&v1, 1}));
  EXPECT_EQ(w.written(), 0u);
  EXPECT_TRUE(w.ok());

  // Too small a buffer rewinds every encoder.
  std::array<std::uint8_t, 10> small{};
  Writer tiny(small);
  tiny.write_u8(1);
  EXPECT_FALSE(encode_short_header(tiny, make<ShortHeaderSpec>([&](ShortHeaderSpec& s) {
                                     s.dcid = span(kA2Dcid);
                                     s.pn_length = 4;
                                   }),
                                   nullptr));
  EXPECT_FALSE(
      encode_retry(tiny, make<RetrySpec>([&](RetrySpec& s) { s.token = span(token); }), nullptr));
  EXPECT_FALSE(encode_version_negotiation(tiny, 0, span(kA2Dcid), {}, {&v1, 1}));
  EXPECT_EQ(tiny.written(), 1u);
  EXPECT_TRUE(tiny.ok());
}

// ---------------------------------------------------------------------------
// Coalesced datagrams (RFC 9000 §12.2)

Bytes long_packet(PacketType type, std::uint32_t version, const Bytes& dcid, std::size_t payload,
                  std::uint64_t pn = 0) {
  std::array<std::uint8_t, 2048> buf{};
  Writer w(buf);
  LongHeaderLayout layout;
  EXPECT_TRUE(encode_long_header(w, make<LongHeaderSpec>([&](LongHeaderSpec& s) {
                                   s.type = type;
                                   s.version = version;
                                   s.dcid = span(dcid);
                                   s.scid = span(kServerCid);
                                   s.length = 2 + payload;
                                   s.packet_number = pn;
                                   s.pn_length = 2;
                                 }),
                                 &layout));
  w.fill(0xcc, payload);
  return Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(w.written()));
}

Bytes short_packet(const Bytes& dcid, std::size_t payload) {
  std::array<std::uint8_t, 2048> buf{};
  Writer w(buf);
  EXPECT_TRUE(encode_short_header(w, make<ShortHeaderSpec>([&](ShortHeaderSpec& s) {
                                    s.dcid = span(dcid);
                                    s.pn_length = 1;
                                  }),
                                  nullptr));
  w.fill(0xdd, payload);
  return Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(w.written()));
}

TEST(CoalescedPackets, InitialHandshakeOneRtt) {
  const Bytes a = long_packet(PacketType::kInitial, kVersion1, kA2Dcid, 100);
  const Bytes b = long_packet(PacketType::kHandshake, kVersion1, kA2Dcid, 50);
  const Bytes c = short_packet(kA2Dcid, 30);
  const Bytes d = concat({a, b, c});
  CoalescedPackets it(span(d), kA2Dcid.size());
  PacketHeader h;
  std::vector<PacketType> types;
  std::vector<std::size_t> starts;
  while (it.next(&h)) {
    types.push_back(h.type);
    starts.push_back(h.first_byte_offset);
    EXPECT_TRUE(same_bytes(h.dcid, it.first_dcid()));
  }
  EXPECT_EQ(it.stop_reason(), PacketDropReason::kNone);
  EXPECT_EQ(it.count(), 3u);
  EXPECT_EQ(it.offset(), d.size());
  EXPECT_EQ(types, (std::vector<PacketType>{PacketType::kInitial, PacketType::kHandshake,
                                            PacketType::kOneRtt}));
  EXPECT_EQ(starts, (std::vector<std::size_t>{0, a.size(), a.size() + b.size()}));
  EXPECT_FALSE(it.next(&h));  // stays finished
}

TEST(CoalescedPackets, V2AndShortHeaderTakesTheRest) {
  const Bytes a = long_packet(PacketType::kZeroRtt, kVersion2, kA2Dcid, 30);
  // A long-header-looking packet after a short header is part of the 1-RTT packet.
  const Bytes d = concat({a, short_packet(kA2Dcid, 30), a});
  CoalescedPackets it(span(d), kA2Dcid.size());
  PacketHeader h;
  ASSERT_TRUE(it.next(&h));
  EXPECT_EQ(h.type, PacketType::kZeroRtt);
  ASSERT_TRUE(it.next(&h));
  EXPECT_EQ(h.type, PacketType::kOneRtt);
  EXPECT_EQ(h.packet_end, d.size());
  EXPECT_FALSE(it.next(&h));
  EXPECT_EQ(it.stop_reason(), PacketDropReason::kNone);
}

TEST(CoalescedPackets, DifferentDcidIsExposed) {
  const Bytes other = hex("0000000000000001");
  const Bytes d = concat({long_packet(PacketType::kInitial, kVersion1, kA2Dcid, 30),
                          long_packet(PacketType::kHandshake, kVersion1, other, 30)});
  CoalescedPackets it(span(d), 8);
  PacketHeader h;
  ASSERT_TRUE(it.next(&h));
  ASSERT_TRUE(it.next(&h));
  EXPECT_FALSE(same_bytes(h.dcid, it.first_dcid()));  // caller ignores it (§12.2 SHOULD)
  EXPECT_TRUE(eq(it.first_dcid(), kA2Dcid));
}

TEST(CoalescedPackets, LengthOverrunEndsIteration) {
  const Bytes a = long_packet(PacketType::kInitial, kVersion1, kA2Dcid, 40);
  Bytes b = long_packet(PacketType::kHandshake, kVersion1, kA2Dcid, 40);
  b.pop_back();  // Length now claims one byte too many
  const Bytes d = concat({a, b});
  CoalescedPackets it(span(d), 8);
  PacketHeader h;
  ASSERT_TRUE(it.next(&h));
  EXPECT_FALSE(it.next(&h));
  EXPECT_EQ(it.stop_reason(), PacketDropReason::kLengthExceedsDatagram);
  EXPECT_EQ(it.offset(), a.size());
  EXPECT_EQ(it.count(), 1u);
}

TEST(CoalescedPackets, TrailingZerosAreDropped) {
  // Zero bytes after the last long-header packet read as a short header with
  // the fixed bit clear: the walk ends there, earlier packets stand.
  const Bytes d =
      concat({long_packet(PacketType::kInitial, kVersion1, kA2Dcid, 40), filler(50, 0)});
  CoalescedPackets it(span(d), 8);
  PacketHeader h;
  ASSERT_TRUE(it.next(&h));
  EXPECT_FALSE(it.next(&h));
  EXPECT_EQ(it.stop_reason(), PacketDropReason::kFixedBitZero);
}

TEST(CoalescedPackets, EmptyDatagram) {
  CoalescedPackets it(ByteSpan{}, 8);
  PacketHeader h;
  EXPECT_FALSE(it.next(&h));
  EXPECT_EQ(it.stop_reason(), PacketDropReason::kNone);
  EXPECT_EQ(it.count(), 0u);
}

// ---------------------------------------------------------------------------
// Drop reasons

TEST(PacketDrop, ReasonNamesAreDistinct) {
  std::set<std::string_view> names;
  for (int r = 0; r <= static_cast<int>(PacketDropReason::kVersionListNotMultipleOf4); ++r) {
    names.insert(packet_drop_reason_name(static_cast<PacketDropReason>(r)));
  }
  EXPECT_EQ(names.size(),
            static_cast<std::size_t>(PacketDropReason::kVersionListNotMultipleOf4) + 1);
}

TEST(PacketDrop, FixedBitZero) {
  Bytes d = rfc9001_client_initial();
  d[0] &= ~0x40;
  PacketHeader h;
  EXPECT_EQ(parse(d, &h), PacketDropReason::kFixedBitZero);
  Bytes s = concat({hex("00"), kA2Dcid, filler(30)});
  EXPECT_EQ(parse(s, &h), PacketDropReason::kFixedBitZero);
  Bytes retry = hex("bf000000010008f067a5502a4262b574 6f6b656e04a265ba2eff4d829058fb3f 0f2496ba");
  EXPECT_EQ(parse(retry, &h), PacketDropReason::kFixedBitZero);
}

TEST(PacketDrop, ConnectionIdTooLong) {
  PacketHeader h;
  // 21-byte DCID and SCID in v1 and v2.
  for (const char* ver : {"00000001", "6b3343cf"}) {
    const Bytes dcid21 =
        concat({hex("c0"), hex(ver), hex("15"), filler(21), hex("00 00 40 20"), filler(40)});
    EXPECT_EQ(parse(dcid21, &h), PacketDropReason::kConnectionIdTooLong);
    const Bytes scid21 =
        concat({hex("c0"), hex(ver), hex("00 15"), filler(21), hex("00 40 20"), filler(40)});
    EXPECT_EQ(parse(scid21, &h), PacketDropReason::kConnectionIdTooLong);
    const Bytes ok20 = concat({hex("c0"), hex(ver), hex("14"), filler(20), hex("14"), filler(20),
                               hex("00 40 20"), filler(40)});
    EXPECT_EQ(parse(ok20, &h), PacketDropReason::kNone);
  }
  // The short-header length comes from the caller; > 20 is refused.
  const Bytes s = concat({hex("40"), filler(60)});
  EXPECT_EQ(parse(s, &h, 21), PacketDropReason::kConnectionIdTooLong);
  EXPECT_EQ(parse(s, &h, 20), PacketDropReason::kNone);
}

TEST(PacketDrop, LengthExceedsDatagram) {
  Bytes d = rfc9001_client_initial();
  d.pop_back();
  PacketHeader h;
  EXPECT_EQ(parse(d, &h), PacketDropReason::kLengthExceedsDatagram);
  // A huge 8-byte Length does not wrap anything.
  const Bytes huge = hex("e0 00000001 00 00 ff ffffffff ffffffff 00000000");
  EXPECT_EQ(parse(huge, &h), PacketDropReason::kLengthExceedsDatagram);
}

TEST(PacketDrop, TooShortForSample) {
  PacketHeader h;
  // Handshake with Length 19: one byte short of pn_offset + 4 + 16.
  const Bytes d19 = concat({hex("e0 00000001 00 00 13"), filler(19)});
  EXPECT_EQ(parse(d19, &h), PacketDropReason::kTooShortForSample);
  const Bytes d20 = concat({hex("e0 00000001 00 00 14"), filler(20)});
  EXPECT_EQ(parse(d20, &h), PacketDropReason::kNone);
  // Length 0.
  const Bytes d0 = hex("e0 00000001 00 00 00");
  EXPECT_EQ(parse(d0, &h), PacketDropReason::kTooShortForSample);
}

TEST(PacketDrop, UnknownVersion) {
  PacketHeader h;
  const Bytes d = concat({hex("c0 0a1a2a3a 00 00 00 40 20"), filler(40)});
  EXPECT_EQ(parse(d, &h), PacketDropReason::kUnknownVersion);
  EXPECT_EQ(h.version, 0x0a1a2a3au);
}

TEST(PacketDrop, RetryTooShortAndEmptyToken) {
  PacketHeader h;
  const Bytes base = hex("f0 00000001 00 08 f067a5502a4262b5");
  for (std::size_t n = 0; n < 16; ++n) {
    EXPECT_EQ(parse(concat({base, filler(n)}), &h), PacketDropReason::kRetryTooShort) << n;
  }
  EXPECT_EQ(parse(concat({base, filler(16)}), &h), PacketDropReason::kRetryTokenEmpty);
  EXPECT_EQ(parse(concat({base, filler(17)}), &h), PacketDropReason::kNone);
  EXPECT_EQ(h.token.size(), 1u);
}

TEST(PacketDrop, VersionList) {
  PacketHeader h;
  const Bytes base = hex("80 00000000 00 00");
  EXPECT_EQ(parse(base, &h), PacketDropReason::kVersionListEmpty);
  for (std::size_t n : {1u, 2u, 3u, 5u, 7u}) {
    EXPECT_EQ(parse(concat({base, filler(n)}), &h), PacketDropReason::kVersionListNotMultipleOf4)
        << n;
  }
  EXPECT_EQ(parse(concat({base, filler(8)}), &h), PacketDropReason::kNone);
}

TEST(PacketDrop, TruncatedVarints) {
  PacketHeader h;
  // Initial whose Token Length is a 2-byte varint with one byte present.
  EXPECT_EQ(parse(hex("c0 00000001 00 00 40"), &h), PacketDropReason::kTruncated);
  // Token Length larger than the datagram.
  EXPECT_EQ(parse(hex("c0 00000001 00 00 05 0102"), &h), PacketDropReason::kTruncated);
  // Length an 8-byte varint with 3 bytes present.
  EXPECT_EQ(parse(hex("e0 00000001 00 00 c0 0000"), &h), PacketDropReason::kTruncated);
  // Offset past the end.
  const Bytes d = rfc9001_client_initial();
  EXPECT_EQ(parse_packet_header(span(d), d.size(), 8, &h), PacketDropReason::kTruncated);
  EXPECT_EQ(parse_packet_header(span(d), d.size() + 5, 8, &h), PacketDropReason::kTruncated);
}

// Every prefix that ends inside the header reports truncation; none crashes.
TEST(PacketDrop, TruncationAtEveryHeaderOffset) {
  const Bytes token = filler(70, 0x11);  // needs a 2-byte Token Length
  std::array<std::uint8_t, 512> buf{};
  Writer w(buf);
  ASSERT_TRUE(encode_long_header(w, make<LongHeaderSpec>([&](LongHeaderSpec& s) {
                                   s.type = PacketType::kInitial;
                                   s.version = kVersion2;
                                   s.dcid = span(kA2Dcid);
                                   s.scid = span(kServerCid);
                                   s.token = span(token);
                                   s.length_width = 4;
                                   s.length = 100;
                                   s.pn_length = 4;
                                 }),
                                 nullptr));
  w.fill(0, 96);
  const Bytes initial(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(w.written()));
  const Bytes handshake = long_packet(PacketType::kHandshake, kVersion1, kA2Dcid, 40);
  const Bytes retry =
      hex("ff000000010008f067a5502a4262b574 6f6b656e04a265ba2eff4d829058fb3f 0f2496ba");
  const Bytes vn = hex("80 00000000 04 01020304 02 0a0b 00000001");
  const Bytes one_rtt = short_packet(kA2Dcid, 30);

  struct Case {
    const Bytes* d;
    std::size_t header_end;  // first prefix length that is not "truncated"
  };
  PacketHeader h;
  ASSERT_EQ(parse(initial, &h), PacketDropReason::kNone);
  const std::size_t initial_pn = h.pn_offset;
  ASSERT_EQ(parse(handshake, &h), PacketDropReason::kNone);
  const std::size_t handshake_pn = h.pn_offset;
  const Case cases[] = {
      {&initial, initial_pn},       {&handshake, handshake_pn}, {&retry, 1 + 4 + 1 + 0 + 1 + 8},
      {&vn, 1 + 4 + 1 + 4 + 1 + 2}, {&one_rtt, 1 + 8},
  };
  for (const Case& c : cases) {
    const Bytes& d = *c.d;
    for (std::size_t n = 0; n < d.size(); ++n) {
      const Bytes prefix(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(n));
      const PacketDropReason r = parse(prefix, &h);
      if (n < c.header_end) {
        EXPECT_EQ(r, PacketDropReason::kTruncated) << "n=" << n << " of " << d.size();
      } else {
        EXPECT_NE(r, PacketDropReason::kTruncated) << "n=" << n;
      }
    }
    EXPECT_EQ(parse(d, &h), PacketDropReason::kNone);
  }
}

}  // namespace
}  // namespace dquic
