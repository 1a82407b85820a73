#include "quic/key_schedule.h"

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

#include "quic/version.h"
#include "support/hex.h"

namespace dquic {
namespace {

using test::Bytes;
using test::bytes;
using test::hex;

Bytes key_of(const PacketKeys& k) {
  return Bytes(k.key.begin(), k.key.begin() + k.key_length());
}
Bytes iv_of(const PacketKeys& k) {
  return Bytes(k.iv.begin(), k.iv.end());
}
Bytes hp_of(const PacketKeys& k) {
  return Bytes(k.hp_key.begin(), k.hp_key.begin() + k.key_length());
}

Secret secret(HashAlgorithm h, std::string_view hex_bytes) {
  Secret s;
  EXPECT_TRUE(Secret::from(h, hex(hex_bytes), &s));
  return s;
}

constexpr std::uint32_t kUnknownVersion = 0xff00001d;  // draft-29
const Bytes kDcid = hex("8394c8f03e515708");           // RFC 9001 / RFC 9369 Appendix A

struct InitialVectors {
  std::uint32_t version;
  const char* client_secret;
  const char* client_key;
  const char* client_iv;
  const char* client_hp;
  const char* server_secret;
  const char* server_key;
  const char* server_iv;
  const char* server_hp;
};

// RFC 9001 Appendix A.1 and RFC 9369 Appendix A.1.
constexpr InitialVectors kInitialVectors[] = {
    {kVersion1, "c00cf151ca5be075ed0ebfb5c80323c4 2d6b7db67881289af4008f1f6c357aea",
     "1f369613dd76d5467730efcbe3b1a22d", "fa044b2f42a3fd3b46fb255c",
     "9f50449e04a0e810283a1e9933adedd2",
     "3c199828fd139efd216c155ad844cc81 fb82fa8d7446fa7d78be803acdda951b",
     "cf3a5331653c364c88f0f379b6067e37", "0ac1493ca1905853b0bba03e",
     "c206b8d9b9f0f37644430b490eeaa314"},
    {kVersion2, "14ec9d6eb9fd7af83bf5a668bc17a7e2 83766aade7ecd0891f70f9ff7f4bf47b",
     "8b1a0bc121284290a29e0971b5cd045d", "91f73e2351d8fa91660e909f",
     "45b95e15235d6f45a6b19cbcb0294ba9",
     "0263db1782731bf4588e7e4d93b74639 07cb8cd8200b5da55a8bd488eafc37c1",
     "82db637861d55e1d011f19ea71d5d2a7", "dd13c276499c0249d3310652",
     "edf6d05c83121201b436e16877593c3a"},
};

TEST(KeySchedule, InitialSecretsAndKeys) {
  for (const InitialVectors& v : kInitialVectors) {
    SCOPED_TRACE(::testing::Message() << "version 0x" << std::hex << v.version);
    InitialSecrets s;
    ASSERT_TRUE(derive_initial_secrets(v.version, kDcid, &s));
    EXPECT_EQ(s.client.hash, HashAlgorithm::kSha256);
    EXPECT_EQ(bytes(s.client.span()), hex(v.client_secret));
    EXPECT_EQ(bytes(s.server.span()), hex(v.server_secret));

    PacketKeys c;
    ASSERT_TRUE(derive_packet_keys(v.version, kInitialAead, s.client, &c));
    EXPECT_EQ(c.aead, AeadAlgorithm::kAes128Gcm);
    EXPECT_EQ(key_of(c), hex(v.client_key));
    EXPECT_EQ(iv_of(c), hex(v.client_iv));
    EXPECT_EQ(hp_of(c), hex(v.client_hp));

    PacketKeys sk;
    ASSERT_TRUE(derive_packet_keys(v.version, kInitialAead, s.server, &sk));
    EXPECT_EQ(key_of(sk), hex(v.server_key));
    EXPECT_EQ(iv_of(sk), hex(v.server_iv));
    EXPECT_EQ(hp_of(sk), hex(v.server_hp));
  }
}

// The Initial secret with an empty CID (a Retry with an empty SCID) still
// derives, and differs from a non-empty one.
TEST(KeySchedule, InitialSecretsEmptyCid) {
  InitialSecrets a, b;
  ASSERT_TRUE(derive_initial_secrets(kVersion1, {}, &a));
  ASSERT_TRUE(derive_initial_secrets(kVersion1, kDcid, &b));
  EXPECT_NE(bytes(a.client.span()), bytes(b.client.span()));
  EXPECT_FALSE(derive_initial_secrets(kVersion1, Bytes(21, 1), &a));  // > 20 bytes
}

struct ChachaVectors {
  std::uint32_t version;
  const char* key;
  const char* iv;
  const char* hp;
  const char* ku;
};

// RFC 9001 Appendix A.5 and RFC 9369 Appendix A.5.
constexpr ChachaVectors kChachaVectors[] = {
    {kVersion1, "c6d98ff3441c3fe1b2182094f69caa2e d4b716b65488960a7a984979fb23e1c8",
     "e0459b3474bdd0e44a41c144",
     "25a282b9e82f06f21f488917a4fc8f1b 73573685608597d0efcb076b0ab7a7a4",
     "1223504755036d556342ee9361d25342 1a826c9ecdf3c7148684b36b714881f9"},
    {kVersion2, "3bfcddd72bcf02541d7fa0dd1f5f9eee a817e09a6963a0e6c7df0f9a1bab90f2",
     "a6b5bc6ab7dafce30ffff5dd",
     "d659760d2ba434a226fd37b35c69e2da 8211d10c4f12538787d65645d5d1b8e2",
     "c69374c49e3d2a9466fa689e49d476db 5d0dfbc87d32ceeaa6343fd0ae4c7d88"},
};
constexpr const char* kChachaSecret =
    "9ac312a7f877468ebe69422748ad00a1 5443f18203a07d6060f688f30f21632b";

TEST(KeySchedule, ChachaKeysAndKeyUpdate) {
  const Secret s = secret(HashAlgorithm::kSha256, kChachaSecret);
  for (const ChachaVectors& v : kChachaVectors) {
    SCOPED_TRACE(::testing::Message() << "version 0x" << std::hex << v.version);
    PacketKeys k;
    ASSERT_TRUE(derive_packet_keys(v.version, AeadAlgorithm::kChacha20Poly1305, s, &k));
    EXPECT_EQ(k.key_length(), 32u);
    EXPECT_EQ(key_of(k), hex(v.key));
    EXPECT_EQ(iv_of(k), hex(v.iv));
    EXPECT_EQ(hp_of(k), hex(v.hp));
    // RFC 9001 A.5: the nonce for packet number 654360564.
    if (v.version == kVersion1) {
      const auto nonce = packet_nonce(k.iv, 654360564);
      EXPECT_EQ(Bytes(nonce.begin(), nonce.end()), hex("e0459b3474bdd0e46d417eb0"));
    }

    Secret next;
    ASSERT_TRUE(derive_next_secret(v.version, s, &next));
    EXPECT_EQ(bytes(next.span()), hex(v.ku));

    // One key update: key and iv come from the ku secret, hp stays.
    Secret updated_secret;
    PacketKeys updated;
    ASSERT_TRUE(derive_updated_keys(v.version, s, k, &updated_secret, &updated));
    EXPECT_EQ(bytes(updated_secret.span()), hex(v.ku));
    PacketKeys from_next;
    ASSERT_TRUE(derive_packet_keys(v.version, AeadAlgorithm::kChacha20Poly1305, next, &from_next));
    EXPECT_EQ(updated.aead, AeadAlgorithm::kChacha20Poly1305);
    EXPECT_EQ(key_of(updated), key_of(from_next));
    EXPECT_EQ(iv_of(updated), iv_of(from_next));
    EXPECT_EQ(hp_of(updated), hex(v.hp));
    EXPECT_NE(hp_of(updated), hp_of(from_next));
  }
}

// The AES-256-GCM suite uses SHA-384: 48-byte secrets, 32-byte keys.
TEST(KeySchedule, Aes256GcmUsesSha384) {
  EXPECT_EQ(aead_hash(AeadAlgorithm::kAes128Gcm), HashAlgorithm::kSha256);
  EXPECT_EQ(aead_hash(AeadAlgorithm::kChacha20Poly1305), HashAlgorithm::kSha256);
  EXPECT_EQ(aead_hash(AeadAlgorithm::kAes256Gcm), HashAlgorithm::kSha384);

  Secret s;
  ASSERT_TRUE(Secret::from(HashAlgorithm::kSha384, Bytes(48, 0x5a), &s));
  PacketKeys k;
  ASSERT_TRUE(derive_packet_keys(kVersion1, AeadAlgorithm::kAes256Gcm, s, &k));
  EXPECT_EQ(k.key_length(), 32u);

  // Cross-check against HKDF-Expand-Label directly.
  std::array<std::uint8_t, 32> key;
  ASSERT_TRUE(hkdf_expand_label(HashAlgorithm::kSha384, s.span(), "quic key", {}, key));
  EXPECT_EQ(key_of(k), Bytes(key.begin(), key.end()));

  Secret next;
  ASSERT_TRUE(derive_next_secret(kVersion1, s, &next));
  EXPECT_EQ(next.hash, HashAlgorithm::kSha384);
  EXPECT_EQ(next.length, 48);

  // A secret of the wrong hash for the AEAD is refused.
  const Secret s256 = secret(HashAlgorithm::kSha256, kChachaSecret);
  EXPECT_FALSE(derive_packet_keys(kVersion1, AeadAlgorithm::kAes256Gcm, s256, &k));
  EXPECT_FALSE(derive_packet_keys(kVersion1, AeadAlgorithm::kAes128Gcm, s, &k));
  PacketKeys k256;
  ASSERT_TRUE(derive_packet_keys(kVersion1, AeadAlgorithm::kAes128Gcm, s256, &k256));
  Secret ns;
  PacketKeys nk;
  EXPECT_FALSE(derive_updated_keys(kVersion1, s, k256, &ns, &nk));
}

// RFC 9001 §5.8 / RFC 9369 §3.3.3: the Retry key and nonce are the
// "quic key" / "quic iv" expansions of a fixed secret.
TEST(KeySchedule, RetryKeyDerivation) {
  struct {
    std::uint32_t version;
    const char* secret;
    const char* key;
    const char* nonce;
  } const cases[] = {
      {kVersion1, "d9c9943e6101fd200021506bcc02814c 73030f25c79d71ce876eca876e6fca8e",
       "be0c690b9f66575a1d766b54e368c84e", "461599d35d632bf2239825bb"},
      {kVersion2, "c4dd2484d681aefa4ff4d69c2c202999 84a765a5d3c31982f38fc74162155e9f",
       "8fb4b01b56ac48e260fbcbcead7ccc92", "d86969bc2d7c6d9990efb04a"},
  };
  for (const auto& c : cases) {
    PacketKeys k;
    ASSERT_TRUE(derive_packet_keys(c.version, AeadAlgorithm::kAes128Gcm,
                                   secret(HashAlgorithm::kSha256, c.secret), &k));
    EXPECT_EQ(key_of(k), hex(c.key));
    EXPECT_EQ(iv_of(k), hex(c.nonce));
  }
}

TEST(KeySchedule, UnknownVersionRejected) {
  const std::uint32_t bad[] = {kVersionNegotiation, kUnknownVersion, 0x1a2a3a4a, 0x00000002};
  const Secret s = secret(HashAlgorithm::kSha256, kChachaSecret);
  for (std::uint32_t version : bad) {
    SCOPED_TRACE(::testing::Message() << "version 0x" << std::hex << version);
    InitialSecrets is;
    EXPECT_FALSE(derive_initial_secrets(version, kDcid, &is));
    PacketKeys k;
    EXPECT_FALSE(derive_packet_keys(version, AeadAlgorithm::kAes128Gcm, s, &k));
    Secret next;
    EXPECT_FALSE(derive_next_secret(version, s, &next));
    PacketKeys nk;
    EXPECT_FALSE(derive_updated_keys(version, s, k, &next, &nk));
  }
}

// Failures leave outputs untouched; an empty (default) secret is refused.
TEST(KeySchedule, FailureLeavesOutput) {
  PacketKeys k;
  k.key.fill(0x77);
  const Secret empty;
  EXPECT_FALSE(derive_packet_keys(kVersion1, AeadAlgorithm::kAes128Gcm, empty, &k));
  EXPECT_EQ(k.key[0], 0x77);
  Secret next;
  EXPECT_FALSE(derive_next_secret(kVersion1, empty, &next));
}

}  // namespace
}  // namespace dquic
