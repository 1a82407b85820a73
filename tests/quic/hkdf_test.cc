#include "quic/hkdf.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <string>
#include <vector>

#include "support/hex.h"

namespace dquic {
namespace {

using test::Bytes;
using test::bytes;
using test::hex;

Bytes range(std::uint8_t first, std::size_t n) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i)
    b[i] = static_cast<std::uint8_t>(first + i);
  return b;
}

struct Rfc5869Case {
  const char* name;
  Bytes ikm;
  Bytes salt;
  Bytes info;
  Bytes prk;
  Bytes okm;
};

// RFC 5869 Appendix A.1-A.3 (the SHA-256 cases).
std::vector<Rfc5869Case> rfc5869_cases() {
  return {
      {"A.1", Bytes(22, 0x0b), hex("000102030405060708090a0b0c"), hex("f0f1f2f3f4f5f6f7f8f9"),
       hex("077709362c2e32df0ddc3f0dc47bba63 90b6c73bb50f9c3122ec844ad7c2b3e5"),
       hex("3cb25f25faacd57a90434f64d0362f2a 2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
           "34007208d5b887185865")},
      {"A.2", range(0x00, 80), range(0x60, 80), range(0xb0, 80),
       hex("06a6b88c5853361a06104c9ceb35b45c ef760014904671014a193f40c15fc244"),
       hex("b11e398dc80327a1c8e7f78c596a4934 4f012eda2d4efad8a050cc4c19afa97c"
           "59045a99cac7827271cb41c65e590e09 da3275600c2f09b8367793a9aca3db71"
           "cc30c58179ec3e87c14c01d5c1f3434f 1d87")},
      {"A.3", Bytes(22, 0x0b), Bytes{}, Bytes{},
       hex("19ef24a32c717b167f33a91d6f648bdf 96596776afdb6377ac434c1c293ccb04"),
       hex("8da4e775a563c18f715f802a063c5a31 b8a11f5c5ee1879ec3454e5f3c738d2d"
           "9d201395faa4b61a96c8")},
  };
}

TEST(Hkdf, Rfc5869ExtractAndExpand) {
  for (const Rfc5869Case& c : rfc5869_cases()) {
    SCOPED_TRACE(c.name);
    Secret prk;
    ASSERT_TRUE(hkdf_extract(HashAlgorithm::kSha256, c.salt, c.ikm, &prk));
    EXPECT_EQ(prk.hash, HashAlgorithm::kSha256);
    EXPECT_EQ(bytes(prk.span()), c.prk);

    Bytes okm(c.okm.size());
    ASSERT_TRUE(hkdf_expand(HashAlgorithm::kSha256, prk.span(), c.info, okm));
    EXPECT_EQ(okm, c.okm);
  }
}

// An empty IKM is legal (a Retry may hand the client an empty CID to derive
// Initial keys from): the PRK is plain HMAC(salt, "").
TEST(Hkdf, ExtractEmptyIkm) {
  const Bytes salt = hex("000102030405060708090a0b0c");
  Secret prk;
  ASSERT_TRUE(hkdf_extract(HashAlgorithm::kSha256, salt, {}, &prk));
  std::array<std::uint8_t, 32> mac{};
  std::size_t mac_len = 0;
  ASSERT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, salt.data(), salt.size(),
                      nullptr, 0, mac.data(), mac.size(), &mac_len),
            nullptr);
  EXPECT_EQ(bytes(prk.span()), Bytes(mac.begin(), mac.begin() + mac_len));
}

TEST(Hkdf, Sha384Lengths) {
  Secret prk;
  ASSERT_TRUE(hkdf_extract(HashAlgorithm::kSha384, {}, Bytes(48, 0), &prk));
  EXPECT_EQ(prk.hash, HashAlgorithm::kSha384);
  EXPECT_EQ(prk.length, 48);
  std::array<std::uint8_t, 48> out{};
  ASSERT_TRUE(hkdf_expand_label(HashAlgorithm::kSha384, prk.span(), "derived", {}, out));
  // A SHA-256 PRK is too short for SHA-384 (RFC 5869 §2.3).
  EXPECT_FALSE(hkdf_expand(HashAlgorithm::kSha384, ByteSpan(out).first(32), {}, out));
}

TEST(Hkdf, ExpandLimits) {
  const Bytes prk(32, 0x11);
  std::vector<std::uint8_t> out(255 * 32 + 1);
  EXPECT_FALSE(hkdf_expand(HashAlgorithm::kSha256, prk, {}, out));  // L > 255 * HashLen
  EXPECT_TRUE(hkdf_expand(HashAlgorithm::kSha256, prk, {}, std::span(out).first(255 * 32)));
  EXPECT_FALSE(hkdf_expand(HashAlgorithm::kSha256, prk, {}, std::span(out).first(0)));
  EXPECT_FALSE(
      hkdf_expand(HashAlgorithm::kSha256, ByteSpan(prk).first(31), {}, std::span(out).first(32)));
}

TEST(Hkdf, SecretFrom) {
  Secret s;
  EXPECT_TRUE(Secret::from(HashAlgorithm::kSha256, Bytes(32, 1), &s));
  EXPECT_EQ(s.length, 32);
  EXPECT_FALSE(Secret::from(HashAlgorithm::kSha384, Bytes(32, 1), &s));
  EXPECT_TRUE(Secret::from(HashAlgorithm::kSha384, Bytes(48, 2), &s));
  EXPECT_EQ(s.hash, HashAlgorithm::kSha384);
  EXPECT_EQ(bytes(s.span()), Bytes(48, 2));
}

// RFC 9001 Appendix A.1 lists the encoded HkdfLabels.
TEST(HkdfLabel, Rfc9001Encodings) {
  std::array<std::uint8_t, kMaxHkdfLabelLength> buf;
  auto enc = [&](std::size_t len, std::string_view label) {
    const std::size_t n = encode_hkdf_label(len, label, {}, buf);
    return Bytes(buf.begin(), buf.begin() + n);
  };
  EXPECT_EQ(enc(32, "client in"), hex("00200f746c73313320636c69656e7420696e00"));
  EXPECT_EQ(enc(32, "server in"), hex("00200f746c7331332073657276657220696e00"));
  EXPECT_EQ(enc(16, "quic key"), hex("00100e746c7331332071756963206b657900"));
  EXPECT_EQ(enc(12, "quic iv"), hex("000c0d746c733133207175696320697600"));
  EXPECT_EQ(enc(16, "quic hp"), hex("00100d746c733133207175696320687000"));
  // RFC 9369 Appendix A.1.
  EXPECT_EQ(enc(16, "quicv2 key"), hex("001010746c73313320717569637632206b657900"));
  EXPECT_EQ(enc(12, "quicv2 iv"), hex("000c0f746c7331332071756963763220697600"));
  EXPECT_EQ(enc(16, "quicv2 hp"), hex("00100f746c7331332071756963763220687000"));
}

TEST(HkdfLabel, Limits) {
  std::array<std::uint8_t, kMaxHkdfLabelLength> buf;
  const std::string longest(255 - 6, 'x');  // "tls13 " + label fills 255
  const Bytes context(255, 0xcc);
  EXPECT_EQ(encode_hkdf_label(0xffff, longest, context, buf), kMaxHkdfLabelLength);
  EXPECT_EQ(encode_hkdf_label(0x10000, "key", {}, buf), 0u);
  EXPECT_EQ(encode_hkdf_label(16, longest + "x", {}, buf), 0u);
  EXPECT_EQ(encode_hkdf_label(16, "key", Bytes(256, 0), buf), 0u);
  EXPECT_EQ(encode_hkdf_label(16, "", {}, buf), 0u);  // label<7..255>
  EXPECT_EQ(encode_hkdf_label(16, "key", {}, std::span(buf).first(12)), 0u);
  EXPECT_EQ(encode_hkdf_label(16, "key", {}, std::span(buf).first(13)), 13u);
}

// RFC 8448 §3 (Simple 1-RTT Handshake), server side.
TEST(HkdfLabel, Rfc8448Trace) {
  // extract secret "early": salt 0, IKM 32 zero bytes.
  Secret early;
  ASSERT_TRUE(hkdf_extract(HashAlgorithm::kSha256, {}, Bytes(32, 0), &early));
  EXPECT_EQ(bytes(early.span()),
            hex("33ad0a1c607ec03b09e6cd9893680ce2 10adf300aa1f2660e1b22e10f170f92a"));

  // derive secret for handshake "tls13 derived": context = SHA-256("").
  const Bytes empty_hash = hex("e3b0c44298fc1c149afbf4c8996fb924 27ae41e4649b934ca495991b7852b855");
  std::array<std::uint8_t, kMaxHkdfLabelLength> info;
  const std::size_t n = encode_hkdf_label(32, "derived", empty_hash, info);
  EXPECT_EQ(Bytes(info.begin(), info.begin() + n),
            hex("00200d746c733133206465726976656420e3b0c44298fc1c149afbf4c8996fb924"
                "27ae41e4649b934ca495991b7852b855"));
  std::array<std::uint8_t, 32> derived;
  ASSERT_TRUE(
      hkdf_expand_label(HashAlgorithm::kSha256, early.span(), "derived", empty_hash, derived));
  EXPECT_EQ(Bytes(derived.begin(), derived.end()),
            hex("6f2615a108c702c5678f54fc9dbab697 16c076189c48250cebeac3576c3611ba"));

  // derive write traffic keys for handshake data (server handshake secret).
  const Bytes s_hs = hex("b67b7d690cc16c4e75e54213cb2d37b4 e9c912bcded9105d42befd59d391ad38");
  std::array<std::uint8_t, 16> key;
  std::array<std::uint8_t, 12> iv;
  ASSERT_TRUE(hkdf_expand_label(HashAlgorithm::kSha256, s_hs, "key", {}, key));
  ASSERT_TRUE(hkdf_expand_label(HashAlgorithm::kSha256, s_hs, "iv", {}, iv));
  EXPECT_EQ(Bytes(key.begin(), key.end()), hex("3fce516009c21727d0f2e4e86ee403bc"));
  EXPECT_EQ(Bytes(iv.begin(), iv.end()), hex("5d313eb2671276ee13000b30"));
}

}  // namespace
}  // namespace dquic
