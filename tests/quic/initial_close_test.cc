// The stateless Initial CONNECTION_CLOSE (quic/initial_close.h): the
// protection step against RFC 9001 / RFC 9369 Appendix A.3, and packets
// opened the way a client would, with an opener written here on plain EVP
// (header protection removed, AEAD opened with the server Initial keys the
// client derives from its own DCID).
#include "quic/initial_close.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "quic/frame.h"
#include "quic/key_schedule.h"
#include "quic/packet_header.h"
#include "quic/version.h"
#include "support/hex.h"

namespace dquic {
namespace {

using test::Bytes;
using test::hex;

ByteSpan span(const Bytes& b) {
  return {b.data(), b.size()};
}

const Bytes kDcid = hex("8394c8f03e515708");  // RFC 9001 / RFC 9369 Appendix A

PacketKeys server_initial_keys(std::uint32_t version, ByteSpan client_dcid) {
  InitialSecrets s;
  PacketKeys k;
  EXPECT_TRUE(derive_initial_secrets(version, client_dcid, &s));
  EXPECT_TRUE(derive_packet_keys(version, kInitialAead, s.server, &k));
  return k;
}

// ------------------------------------------------------------ the opener

// AES-128-ECB of one block: the header protection mask (RFC 9001 §5.4.3).
std::array<std::uint8_t, 16> aes_ecb(const PacketKeys& k, ByteSpan block) {
  std::array<std::uint8_t, 16> out{};
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  EXPECT_EQ(EVP_EncryptInit_ex(ctx, EVP_aes_128_ecb(), nullptr, k.hp_key.data(), nullptr), 1);
  EXPECT_EQ(EVP_CIPHER_CTX_set_padding(ctx, 0), 1);
  EXPECT_EQ(EVP_EncryptUpdate(ctx, out.data(), &n, block.data(), 16), 1);
  EXPECT_EQ(n, 16);
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

// AES-128-GCM open; false if the tag does not verify.
bool gcm_open(const PacketKeys& k, std::uint64_t pn, ByteSpan aad, ByteSpan sealed, Bytes* out) {
  if (sealed.size() < kAeadTagLength) return false;
  const std::size_t len = sealed.size() - kAeadTagLength;
  const auto nonce = packet_nonce(k.iv, pn);
  out->assign(len, 0);
  std::array<std::uint8_t, kAeadTagLength> tag;
  std::copy(sealed.begin() + static_cast<std::ptrdiff_t>(len), sealed.end(), tag.begin());
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  std::array<std::uint8_t, 16> fin{};
  const bool ok =
      EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx, nullptr, nullptr, k.key.data(), nonce.data()) == 1 &&
      EVP_DecryptUpdate(ctx, nullptr, &n, aad.data(), static_cast<int>(aad.size())) == 1 &&
      (len == 0 ||
       EVP_DecryptUpdate(ctx, out->data(), &n, sealed.data(), static_cast<int>(len)) == 1) &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx, fin.data(), &n) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

struct Opened {
  PacketHeader header;  // views into the caller's packet
  std::uint8_t first_byte = 0;
  std::uint64_t packet_number = 0;
  std::size_t pn_length = 0;
  Bytes payload;
};

// What a client does with a server Initial: parse the clear fields, remove
// header protection with the server's hp key, open the payload.
::testing::AssertionResult open_initial(const Bytes& packet, std::uint32_t version,
                                        ByteSpan client_dcid, Opened* o) {
  if (parse_packet_header(span(packet), 0, 0, &o->header) != PacketDropReason::kNone)
    return ::testing::AssertionFailure() << "header does not parse";
  const PacketHeader& h = o->header;
  if (h.type != PacketType::kInitial || h.version != version)
    return ::testing::AssertionFailure() << "not an Initial of this version";
  if (h.packet_end != packet.size())
    return ::testing::AssertionFailure() << "Length does not cover the datagram";
  const PacketKeys k = server_initial_keys(version, client_dcid);
  Bytes p = packet;
  const auto mask = aes_ecb(k, ByteSpan(p.data() + h.sample_offset(), 16));
  p[0] ^= mask[0] & 0x0f;  // RFC 9001 §5.4.1: long header
  o->first_byte = p[0];
  o->pn_length = static_cast<std::size_t>(p[0] & 0x03) + 1;
  o->packet_number = 0;
  for (std::size_t i = 0; i < o->pn_length; ++i) {
    p[h.pn_offset + i] ^= mask[1 + i];
    o->packet_number = (o->packet_number << 8) | p[h.pn_offset + i];
  }
  const std::size_t header_end = h.pn_offset + o->pn_length;
  if (!gcm_open(k, o->packet_number, ByteSpan(p.data(), header_end),
                ByteSpan(p.data() + header_end, p.size() - header_end), &o->payload))
    return ::testing::AssertionFailure() << "AEAD does not open";
  return ::testing::AssertionSuccess();
}

// ------------------------------------------------------------ Appendix A.3

struct ServerInitialVector {
  std::uint32_t version;
  const char* header;
  const char* packet;
};

// RFC 9001 Appendix A.3 and RFC 9369 Appendix A.3: the server Initial
// (packet number 1, 2 bytes), protected with keys from kDcid.
constexpr const char* kServerPayload =
    "02000000000600405a020000560303ee fce7f7b37ba1d1632e96677825ddf739"
    "88cfc79825df566dc5430b9a045a1200 130100002e00330024001d00209d3c94"
    "0d89690b84d08a60993c144eca684d10 81287c834d5311bcf32bb9da1a002b00"
    "020304";
constexpr ServerInitialVector kServerInitials[] = {
    {kVersion1, "c1000000010008f067a5502a4262b50040750001",
     "cf000000010008f067a5502a4262b500 4075c0d95a482cd0991cd25b0aac406a"
     "5816b6394100f37a1c69797554780bb3 8cc5a99f5ede4cf73c3ec2493a1839b3"
     "dbcba3f6ea46c5b7684df3548e7ddeb9 c3bf9c73cc3f3bded74b562bfb19fb84"
     "022f8ef4cdd93795d77d06edbb7aaf2f 58891850abbdca3d20398c276456cbc4"
     "2158407dd074ee"},
    {kVersion2, "d16b3343cf0008f067a5502a4262b50040750001",
     "dc6b3343cf0008f067a5502a4262b500 4075d92faaf16f05d8a4398c47089698"
     "baeea26b91eb761d9b89237bbf872630 17915358230035f7fd3945d88965cf17"
     "f9af6e16886c61bfc703106fbaf3cb4c fa52382dd16a393e42757507698075b2"
     "c984c707f0a0812d8cd5a6881eaf21ce da98f4bd23f6fe1a3e2c43edd9ce7ca8"
     "4bed8521e2e140"},
};

TEST(InitialClose, ProtectsAppendixA3ServerInitial) {
  for (const ServerInitialVector& v : kServerInitials) {
    SCOPED_TRACE(::testing::Message() << "version 0x" << std::hex << v.version);
    const Bytes header = hex(v.header);
    const Bytes payload = hex(kServerPayload);
    Bytes packet = header;
    packet.insert(packet.end(), payload.begin(), payload.end());
    packet.resize(packet.size() + kAeadTagLength);
    const std::size_t pn_offset = header.size() - 2;
    ASSERT_TRUE(
        protect_initial_packet(server_initial_keys(v.version, span(kDcid)), 1, pn_offset, packet));
    EXPECT_EQ(packet, hex(v.packet));
    // And the opener of this test reads it back.
    Opened o;
    ASSERT_TRUE(open_initial(packet, v.version, span(kDcid), &o));
    EXPECT_EQ(o.packet_number, 1u);
    EXPECT_EQ(o.payload, payload);
  }
}

TEST(InitialClose, ProtectRejectsBadArguments) {
  const PacketKeys k = server_initial_keys(kVersion1, span(kDcid));
  Bytes p = hex("c1000000010008f067a5502a4262b50040750001");
  // No room for the sample (pn_offset 18, sample to 18 + 4 + 16 = 38).
  p.resize(37);
  EXPECT_FALSE(protect_initial_packet(k, 1, 18, p));
  p.resize(38);
  EXPECT_TRUE(protect_initial_packet(k, 1, 18, p));
  // A short header is not an Initial.
  Bytes s(60, 0);
  s[0] = 0x41;
  EXPECT_FALSE(protect_initial_packet(k, 1, 9, s));
  // Another suite's keys.
  PacketKeys chacha = k;
  chacha.aead = AeadAlgorithm::kChacha20Poly1305;
  Bytes q(60, 0);
  q[0] = 0xc0;
  EXPECT_FALSE(protect_initial_packet(chacha, 0, 18, q));
  EXPECT_FALSE(protect_initial_packet(k, 0, 0, {}));
}

// ------------------------------------------------------------ the close

struct Case {
  std::uint32_t version;
  TransportError error;
  std::string_view reason;
};

TEST(InitialClose, ClientOpensTheClose) {
  const Bytes client_dcid = hex("0123456789abcdef0011");
  const Bytes client_scid = hex("a1a2a3a4a5");
  const Case cases[] = {
      {kVersion1, TransportError::kInvalidToken, "invalid token"},
      {kVersion1, TransportError::kConnectionRefused, "server busy"},
      {kVersion2, TransportError::kInvalidToken, "invalid token"},
      {kVersion2, TransportError::kConnectionRefused, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "version 0x" << std::hex << c.version << " error 0x"
                                      << static_cast<std::uint64_t>(c.error));
    InitialCloseSpec spec;
    spec.version = c.version;
    spec.client_dcid = span(client_dcid);
    spec.client_scid = span(client_scid);
    spec.error = c.error;
    spec.reason = c.reason;
    std::array<std::uint8_t, kMaxInitialCloseSize> out{};
    const std::size_t n = build_initial_close(spec, out);
    ASSERT_GT(n, 0u);
    const Bytes packet(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    // RFC 9000 §8.1: a datagram of 1200 bytes or more triggers it, so
    // this stays far within 3x; and it needs no padding.
    EXPECT_LE(n, 100u);

    Opened o;
    ASSERT_TRUE(open_initial(packet, c.version, span(client_dcid), &o));
    const PacketHeader& h = o.header;
    EXPECT_TRUE(same_bytes(h.dcid, span(client_scid)));
    EXPECT_TRUE(same_bytes(h.scid, span(client_dcid)));
    EXPECT_TRUE(h.token.empty());
    EXPECT_EQ(o.packet_number, 0u);
    EXPECT_EQ(o.first_byte & 0x0c, 0) << "reserved bits (RFC 9000 §17.2)";
    EXPECT_NE(packet[0] & 0x0f, o.first_byte & 0x0f) << "header protection left the bits clear";

    Reader r(span(o.payload));
    Frame f;
    ASSERT_EQ(decode_frame(r, &f), TransportError::kNoError);
    ASSERT_TRUE(std::holds_alternative<ConnectionCloseFrame>(f));
    EXPECT_EQ(frame_type(f), FrameType::kConnectionClose);  // 0x1c, transport
    const auto& cc = std::get<ConnectionCloseFrame>(f);
    EXPECT_FALSE(cc.application);
    EXPECT_EQ(cc.error_code, static_cast<std::uint64_t>(c.error));
    EXPECT_EQ(cc.frame_type, 0u);
    EXPECT_EQ(std::string(cc.reason.begin(), cc.reason.end()), std::string(c.reason));
    // Nothing but padding may follow (there is none).
    EXPECT_TRUE(r.empty());

    // Keys from any other DCID do not open it; nor the other version's.
    Opened wrong;
    EXPECT_FALSE(open_initial(packet, c.version, span(kDcid), &wrong));
    Bytes other = packet;  // the same bytes labelled with the other version
    const std::uint32_t v2 = c.version == kVersion1 ? kVersion2 : kVersion1;
    other[1] = static_cast<std::uint8_t>(v2 >> 24);
    other[2] = static_cast<std::uint8_t>(v2 >> 16);
    other[3] = static_cast<std::uint8_t>(v2 >> 8);
    other[4] = static_cast<std::uint8_t>(v2);
    EXPECT_FALSE(open_initial(other, v2, span(client_dcid), &wrong));
    // A flipped ciphertext bit fails the tag.
    Bytes flipped = packet;
    flipped[n - 20] ^= 1;
    EXPECT_FALSE(open_initial(flipped, c.version, span(client_dcid), &wrong));
  }
}

// RFC 9369 §3.2: the v2 Initial type bits (0b01) differ from v1's (0b00).
TEST(InitialClose, LongHeaderTypeBitsFollowTheVersion) {
  const Bytes dcid = hex("0001020304050607");
  for (std::uint32_t v : {kVersion1, kVersion2}) {
    InitialCloseSpec spec;
    spec.version = v;
    spec.client_dcid = span(dcid);
    std::array<std::uint8_t, kMaxInitialCloseSize> out{};
    const std::size_t n = build_initial_close(spec, out);
    ASSERT_GT(n, 0u);
    EXPECT_EQ(out[0] & 0xf0, v == kVersion1 ? 0xc0 : 0xd0);  // header protection spares these
    PacketHeader h;
    ASSERT_EQ(parse_packet_header(ByteSpan(out.data(), n), 0, 0, &h), PacketDropReason::kNone);
    EXPECT_EQ(h.type, PacketType::kInitial);
    EXPECT_TRUE(h.dcid.empty());  // a zero-length client SCID is echoed as such
  }
}

TEST(InitialClose, RejectsBadSpecsAndSmallBuffers) {
  const Bytes cid20(20, 7), cid21(21, 7), cid8(8, 1);
  const std::string reason64(kMaxInitialCloseReason, 'r');
  auto build = [](std::uint32_t v, const Bytes& dcid, const Bytes& scid, std::string_view reason,
                  std::span<std::uint8_t> out) {
    InitialCloseSpec spec;
    spec.version = v;
    spec.client_dcid = span(dcid);
    spec.client_scid = span(scid);
    spec.error = TransportError::kInvalidToken;
    spec.reason = reason;
    return build_initial_close(spec, out);
  };
  std::array<std::uint8_t, 512> big{};
  // The largest: both CIDs of 20 bytes and the longest reason fit the bound.
  const std::size_t largest = build(kVersion1, cid20, cid20, reason64, big);
  ASSERT_GT(largest, 0u);
  EXPECT_LE(largest, kMaxInitialCloseSize);
  Opened o;
  ASSERT_TRUE(open_initial(Bytes(big.begin(), big.begin() + static_cast<std::ptrdiff_t>(largest)),
                           kVersion1, span(cid20), &o));

  EXPECT_EQ(build(0xff00001d, cid8, cid8, "", big), 0u);  // draft-29: no keys for it
  EXPECT_EQ(build(kVersionNegotiation, cid8, cid8, "", big), 0u);
  EXPECT_EQ(build(kVersion1, {}, cid8, "", big), 0u);  // no DCID, no keys
  EXPECT_EQ(build(kVersion1, cid21, cid8, "", big), 0u);
  EXPECT_EQ(build(kVersion1, cid8, cid21, "", big), 0u);
  EXPECT_EQ(build(kVersion1, cid8, cid8, reason64 + "x", big), 0u);
  // Every buffer one byte short of the packet, down to nothing.
  const std::size_t n = build(kVersion2, cid8, cid8, "busy", big);
  ASSERT_GT(n, 0u);
  for (std::size_t size = 0; size < n; ++size) {
    std::vector<std::uint8_t> small(size);
    EXPECT_EQ(build(kVersion2, cid8, cid8, "busy", small), 0u) << size;
  }
  std::vector<std::uint8_t> exact(n);
  EXPECT_EQ(build(kVersion2, cid8, cid8, "busy", exact), n);
  EXPECT_TRUE(std::equal(exact.begin(), exact.end(), big.begin())) << "deterministic";
}

}  // namespace
}  // namespace dquic
