#include "quic/address_token.h"

#include <gtest/gtest.h>
#include <openssl/crypto.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <vector>

#include "quic/version.h"
#include "support/hex.h"

namespace dquic {
namespace {

using test::Bytes;
using test::hex;

// Counts OpenSSL's heap allocations so a test can show seal/open make none.
// OpenSSL accepts new allocators only before its first allocation, hence a
// static initialiser; if something beat it to it, that test is skipped.
std::atomic<long> g_openssl_allocs{0};
void* count_malloc(std::size_t n, const char*, int) {
  g_openssl_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* count_realloc(void* p, std::size_t n, const char*, int) {
  g_openssl_allocs.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void count_free(void* p, const char*, int) {
  std::free(p);
}
const bool g_counting = CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) == 1;

const Bytes kSecret128 = hex("000102030405060708090a0b0c0d0e0f");
const Bytes kSecret256 = hex("101112131415161718191a1b1c1d1e1f 202122232425262728292a2b2c2d2e2f");
const Bytes kSecretOther = hex("f0e0d0c0b0a090807060504030201000");

const AddressTokenKey kKey1{1, kSecret128};
const AddressTokenKey kKey2{2, kSecret256};
const AddressTokenKey kKey3{3, kSecretOther};

constexpr std::int64_t kNow = 1'700'000'000'000;  // ms since the epoch

const PeerAddress kClient4 = PeerAddress::ipv4({192, 0, 2, 7}, 50123);
const PeerAddress kClient6 =
    PeerAddress::ipv6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34}, 443);

ConnectionId cid(const char* h) {
  ConnectionId c;
  EXPECT_TRUE(ConnectionId::from(hex(h), &c));
  return c;
}

const ConnectionId kOdcid = cid("8394c8f03e515708");
const ConnectionId kRetryScid = cid("f067a5502a4262b5");

struct Token {
  std::array<std::uint8_t, kMaxTokenLength> buf{};
  std::size_t size = 0;
  ByteSpan span() const { return {buf.data(), size}; }
  Bytes bytes() const { return Bytes(buf.begin(), buf.begin() + size); }
};

Token retry_token(AddressTokenCodec& c, const PeerAddress& a = kClient4,
                  std::uint32_t version = kVersion1, std::int64_t now = kNow,
                  const ConnectionId& odcid = kOdcid, const ConnectionId& rscid = kRetryScid) {
  Token t;
  t.size = c.seal_retry(a, version, odcid, rscid, now, t.buf);
  EXPECT_NE(t.size, 0u);
  return t;
}

Token new_token(AddressTokenCodec& c, const PeerAddress& a = kClient4,
                std::uint32_t version = kVersion1, std::int64_t now = kNow) {
  Token t;
  t.size = c.seal_new_token(a, version, now, t.buf);
  EXPECT_NE(t.size, 0u);
  return t;
}

TEST(PeerAddress, FactoriesKeepOneForm) {
  const PeerAddress v4 = PeerAddress::ipv4({10, 1, 2, 3}, 7);
  EXPECT_EQ(v4.family, PeerAddress::Family::kIpv4);
  EXPECT_EQ(v4.address[0], 10);
  EXPECT_EQ(v4.address[3], 3);
  EXPECT_EQ(v4.address[4], 0);
  // ::ffff:10.1.2.3 is the same client.
  const PeerAddress mapped =
      PeerAddress::ipv6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3}, 7);
  EXPECT_EQ(mapped, v4);
  // 0a01:0203:: is not.
  const PeerAddress v6 = PeerAddress::ipv6({10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 7);
  EXPECT_EQ(v6.family, PeerAddress::Family::kIpv6);
  EXPECT_FALSE(v6.same_ip(v4));
  EXPECT_TRUE(v4.same_ip(PeerAddress::ipv4({10, 1, 2, 3}, 8)));
}

TEST(AddressToken, SizesAreBounded) {
  EXPECT_EQ(kNewTokenLength, 59u);
  EXPECT_EQ(kMaxTokenLength, 103u);
  AddressTokenCodec c(kKey1);
  ASSERT_TRUE(c.ok());
  const ConnectionId max_cid = cid("000102030405060708090a0b0c0d0e0f10111213");
  EXPECT_EQ(retry_token(c, kClient6, kVersion1, kNow, max_cid, max_cid).size, kMaxTokenLength);
  EXPECT_EQ(retry_token(c, kClient4, kVersion1, kNow, ConnectionId{}, ConnectionId{}).size,
            kAddressTokenOverhead + kNewTokenPlaintextLength + 4);
  EXPECT_EQ(new_token(c, kClient6).size, kNewTokenLength);
}

TEST(AddressToken, RetryRoundTrip) {
  for (const AddressTokenKey& key : {kKey1, kKey2}) {  // AES-128-GCM, AES-256-GCM
    for (const PeerAddress& client : {kClient4, kClient6}) {
      for (std::uint32_t version : {kVersion1, kVersion2}) {
        AddressTokenCodec c(key);
        ASSERT_TRUE(c.ok());
        const Token t = retry_token(c, client, version);
        EXPECT_EQ(t.size, kAddressTokenOverhead + kNewTokenPlaintextLength + 2 + 1 + 8 + 1 + 8);
        EXPECT_EQ(peek_token_kind(t.span()), TokenKind::kRetry);
        EXPECT_EQ(t.buf[0], 1);       // Kind
        EXPECT_EQ(t.buf[1], key.id);  // Key Id

        TokenInfo info;
        ASSERT_EQ(c.open(t.span(), client, version, kNow + 5, &info), TokenCheck::kOk);
        EXPECT_EQ(info.kind, TokenKind::kRetry);
        EXPECT_EQ(info.version, version);
        EXPECT_EQ(info.issued_ms, kNow);
        EXPECT_EQ(info.address, client);
        EXPECT_EQ(info.original_dcid, kOdcid);
        EXPECT_EQ(info.retry_scid, kRetryScid);
      }
    }
  }
}

TEST(AddressToken, NewTokenRoundTrip) {
  AddressTokenCodec c(kKey2);
  ASSERT_TRUE(c.ok());
  for (const PeerAddress& client : {kClient4, kClient6}) {
    const Token t = new_token(c, client, kVersion2);
    EXPECT_EQ(t.size, kNewTokenLength);
    EXPECT_EQ(peek_token_kind(t.span()), TokenKind::kNewToken);
    TokenInfo info;
    ASSERT_EQ(c.open(t.span(), client, kVersion2, kNow + 1000, &info), TokenCheck::kOk);
    EXPECT_EQ(info.kind, TokenKind::kNewToken);
    EXPECT_EQ(info.version, kVersion2);
    EXPECT_EQ(info.issued_ms, kNow);
    EXPECT_TRUE(info.address.same_ip(client));
    EXPECT_EQ(info.address.port, 0);  // never stored (§8.1.3)
    EXPECT_TRUE(info.original_dcid.empty());
    EXPECT_TRUE(info.retry_scid.empty());
  }
}

TEST(AddressToken, EveryTokenIsUnique) {
  // RFC 9000 §8.1.3: NEW_TOKEN tokens unique across clients; random nonces
  // make even identical inputs seal differently.
  AddressTokenCodec c(kKey1);
  const Bytes a = new_token(c).bytes();
  const Bytes b = new_token(c).bytes();
  EXPECT_NE(a, b);
  EXPECT_NE(Bytes(a.begin() + 2, a.begin() + 14), Bytes(b.begin() + 2, b.begin() + 14));
  // Nothing of the address shows in the clear.
  const Bytes r = retry_token(c).bytes();
  for (std::size_t i = 0; i + 4 <= r.size(); ++i) {
    EXPECT_FALSE(r[i] == 192 && r[i + 1] == 0 && r[i + 2] == 2 && r[i + 3] == 7) << i;
  }
}

TEST(AddressToken, RetryBindsAddressAndPort) {
  AddressTokenCodec c(kKey1);
  const Token t = retry_token(c, kClient4);
  TokenInfo info;
  PeerAddress other_port = kClient4;
  other_port.port = 50124;
  EXPECT_EQ(c.open(t.span(), other_port, kVersion1, kNow, &info), TokenCheck::kAddressMismatch);
  EXPECT_EQ(info.kind, TokenKind::kRetry);  // filled: the token itself was authentic
  EXPECT_EQ(c.open(t.span(), PeerAddress::ipv4({192, 0, 2, 8}, 50123), kVersion1, kNow, &info),
            TokenCheck::kAddressMismatch);
  // Same leading bytes, other family.
  PeerAddress v6 = kClient4;
  v6.family = PeerAddress::Family::kIpv6;
  EXPECT_EQ(c.open(t.span(), v6, kVersion1, kNow, &info), TokenCheck::kAddressMismatch);
  EXPECT_EQ(c.open(t.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kOk);
}

TEST(AddressToken, NewTokenBindsAddressOnly) {
  AddressTokenCodec c(kKey1);
  const Token t = new_token(c, kClient6);
  TokenInfo info;
  PeerAddress other_port = kClient6;
  other_port.port = 61000;
  EXPECT_EQ(c.open(t.span(), other_port, kVersion1, kNow, &info), TokenCheck::kOk);
  PeerAddress other_ip = kClient6;
  other_ip.address[15] ^= 1;
  EXPECT_EQ(c.open(t.span(), other_ip, kVersion1, kNow, &info), TokenCheck::kAddressMismatch);
  EXPECT_EQ(c.open(t.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kAddressMismatch);
}

TEST(AddressToken, Expiry) {
  AddressTokenCodec c(kKey1);  // defaults: Retry 10 s, NEW_TOKEN 24 h, skew 1 s
  const Token r = retry_token(c);
  const Token n = new_token(c);
  TokenInfo info;
  EXPECT_EQ(c.open(r.span(), kClient4, kVersion1, kNow + 10'000, &info), TokenCheck::kOk);
  EXPECT_EQ(c.open(r.span(), kClient4, kVersion1, kNow + 10'001, &info), TokenCheck::kExpired);
  EXPECT_EQ(info.issued_ms, kNow);
  constexpr std::int64_t kDay = 24 * 3600 * 1000;
  EXPECT_EQ(c.open(n.span(), kClient4, kVersion1, kNow + kDay, &info), TokenCheck::kOk);
  EXPECT_EQ(c.open(n.span(), kClient4, kVersion1, kNow + kDay + 1, &info), TokenCheck::kExpired);
  // Issued "in the future": tolerated up to the clock skew.
  EXPECT_EQ(c.open(r.span(), kClient4, kVersion1, kNow - 1'000, &info), TokenCheck::kOk);
  EXPECT_EQ(c.open(r.span(), kClient4, kVersion1, kNow - 1'001, &info), TokenCheck::kExpired);
  // Extreme clocks do not overflow into acceptance.
  EXPECT_EQ(c.open(r.span(), kClient4, kVersion1, INT64_MIN, &info), TokenCheck::kExpired);
  EXPECT_EQ(c.open(r.span(), kClient4, kVersion1, INT64_MAX, &info), TokenCheck::kExpired);
  // Expiry is checked before the address.
  EXPECT_EQ(c.open(r.span(), kClient6, kVersion1, kNow + 10'001, &info), TokenCheck::kExpired);
}

TEST(AddressToken, ConfigurableLifetimes) {
  AddressTokenLifetimes l;
  l.retry_ms = 3'000;
  l.new_token_ms = 60'000;
  l.clock_skew_ms = 0;
  AddressTokenCodec c(kKey1, nullptr, l);
  const Token r = retry_token(c);
  const Token n = new_token(c);
  TokenInfo info;
  EXPECT_EQ(c.open(r.span(), kClient4, kVersion1, kNow + 3'000, &info), TokenCheck::kOk);
  EXPECT_EQ(c.open(r.span(), kClient4, kVersion1, kNow + 3'001, &info), TokenCheck::kExpired);
  EXPECT_EQ(c.open(r.span(), kClient4, kVersion1, kNow - 1, &info), TokenCheck::kExpired);
  EXPECT_EQ(c.open(n.span(), kClient4, kVersion1, kNow + 60'000, &info), TokenCheck::kOk);
  EXPECT_EQ(c.open(n.span(), kClient4, kVersion1, kNow + 60'001, &info), TokenCheck::kExpired);
}

TEST(AddressToken, VersionMustMatch) {
  // RFC 9369 §5: a token from a v1 connection is not accepted on v2.
  AddressTokenCodec c(kKey1);
  TokenInfo info;
  EXPECT_EQ(c.open(new_token(c, kClient4, kVersion1).span(), kClient4, kVersion2, kNow, &info),
            TokenCheck::kVersionMismatch);
  EXPECT_EQ(info.version, kVersion1);
  EXPECT_EQ(c.open(retry_token(c, kClient4, kVersion2).span(), kClient4, kVersion1, kNow, &info),
            TokenCheck::kVersionMismatch);
}

TEST(AddressToken, ExpectedKind) {
  AddressTokenCodec c(kKey1);
  const Token r = retry_token(c);
  const Token n = new_token(c);
  TokenInfo info;
  EXPECT_EQ(c.open(r.span(), kClient4, kVersion1, kNow, &info, TokenKind::kRetry), TokenCheck::kOk);
  EXPECT_EQ(c.open(r.span(), kClient4, kVersion1, kNow, &info, TokenKind::kNewToken),
            TokenCheck::kWrongKind);
  EXPECT_EQ(info.kind, TokenKind::kRetry);
  EXPECT_EQ(c.open(n.span(), kClient4, kVersion1, kNow, &info, TokenKind::kNewToken),
            TokenCheck::kOk);
  EXPECT_EQ(c.open(n.span(), kClient4, kVersion1, kNow, &info, TokenKind::kRetry),
            TokenCheck::kWrongKind);
}

TEST(AddressToken, AnyTamperingIsInvalid) {
  AddressTokenCodec c(kKey1, &kKey2);
  for (const Token& t : {retry_token(c), new_token(c)}) {
    for (std::size_t i = 0; i < t.size; ++i) {
      for (std::uint8_t bit = 1; bit != 0; bit = static_cast<std::uint8_t>(bit << 1)) {
        Bytes bad = t.bytes();
        bad[i] ^= bit;
        TokenInfo info;
        info.issued_ms = -1;
        ASSERT_EQ(c.open(bad, kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid)
            << "byte " << i << " bit " << int{bit};
        EXPECT_EQ(info.issued_ms, -1);  // untouched
      }
    }
  }
}

TEST(AddressToken, KindByteIsAuthenticated) {
  // Relabelling a Retry token as a NEW_TOKEN one (to dodge the port check or
  // the short lifetime) fails: the Kind is associated data.
  AddressTokenCodec c(kKey1);
  Bytes t = retry_token(c).bytes();
  t[0] = static_cast<std::uint8_t>(TokenKind::kNewToken);
  EXPECT_EQ(peek_token_kind(t), TokenKind::kNewToken);
  TokenInfo info;
  EXPECT_EQ(c.open(t, kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid);
  Bytes n = new_token(c).bytes();
  n[0] = static_cast<std::uint8_t>(TokenKind::kRetry);
  EXPECT_EQ(c.open(n, kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid);
}

TEST(AddressToken, TruncatedAndOversize) {
  AddressTokenCodec c(kKey1);
  const Token t = retry_token(c);
  TokenInfo info;
  for (std::size_t n = 0; n < t.size; ++n) {
    EXPECT_EQ(c.open(t.span().first(n), kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid)
        << n;
  }
  Bytes longer = t.bytes();
  longer.push_back(0);
  EXPECT_EQ(c.open(longer, kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid);
  Bytes huge(kMaxTokenLength + 1, 0);
  huge[0] = 1;
  huge[1] = kKey1.id;
  EXPECT_EQ(peek_token_kind(huge), std::nullopt);
  EXPECT_EQ(c.open(huge, kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid);
  // Garbage of a plausible size with a known kind and key id.
  Bytes junk(kNewTokenLength, 0x5a);
  junk[0] = 2;
  junk[1] = kKey1.id;
  EXPECT_EQ(c.open(junk, kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid);
  EXPECT_EQ(c.open({}, kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid);
}

TEST(AddressToken, SealNeedsRoom) {
  AddressTokenCodec c(kKey1);
  std::array<std::uint8_t, kMaxTokenLength> buf{};
  const std::size_t retry_len = c.seal_retry(kClient4, kVersion1, kOdcid, kRetryScid, kNow, buf);
  ASSERT_NE(retry_len, 0u);
  EXPECT_EQ(c.seal_retry(kClient4, kVersion1, kOdcid, kRetryScid, kNow,
                         std::span(buf).first(retry_len - 1)),
            0u);
  EXPECT_EQ(
      c.seal_retry(kClient4, kVersion1, kOdcid, kRetryScid, kNow, std::span(buf).first(retry_len)),
      retry_len);
  EXPECT_EQ(c.seal_new_token(kClient4, kVersion1, kNow, std::span(buf).first(kNewTokenLength - 1)),
            0u);
  EXPECT_EQ(c.seal_new_token(kClient4, kVersion1, kNow, std::span(buf).first(kNewTokenLength)),
            kNewTokenLength);
}

TEST(AddressToken, UnknownKeyOrOtherSecret) {
  AddressTokenCodec a(kKey1);
  AddressTokenCodec b(kKey3);                                   // another key id
  AddressTokenCodec same_id(AddressTokenKey{1, kSecretOther});  // same id, other secret
  const Token t = new_token(a);
  TokenInfo info;
  EXPECT_EQ(b.open(t.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid);
  EXPECT_EQ(same_id.open(t.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid);
  EXPECT_EQ(a.open(t.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kOk);
}

TEST(AddressToken, PreviousKeyStillOpens) {
  AddressTokenCodec old_codec(kKey1);
  const Token old_token = retry_token(old_codec);

  AddressTokenCodec c(kKey2, &kKey1);
  ASSERT_TRUE(c.ok());
  const Token fresh = retry_token(c);
  EXPECT_EQ(fresh.buf[1], kKey2.id);  // seals with the current key
  TokenInfo info;
  EXPECT_EQ(c.open(old_token.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kOk);
  EXPECT_EQ(c.open(fresh.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kOk);
  // The old codec does not know the new key.
  EXPECT_EQ(old_codec.open(fresh.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid);
}

TEST(AddressToken, Rotate) {
  AddressTokenCodec c(kKey1);
  const Token t1 = new_token(c);
  EXPECT_FALSE(c.rotate(kKey1));                            // same id as the current key
  EXPECT_FALSE(c.rotate(AddressTokenKey{9, hex("0011")}));  // unusable key
  ASSERT_TRUE(c.rotate(kKey2));
  const Token t2 = new_token(c);
  EXPECT_EQ(t2.buf[1], kKey2.id);
  TokenInfo info;
  EXPECT_EQ(c.open(t1.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kOk);
  ASSERT_TRUE(c.rotate(kKey3));
  EXPECT_EQ(new_token(c).buf[1], kKey3.id);
  EXPECT_EQ(c.open(t1.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid);  // dropped
  EXPECT_EQ(c.open(t2.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kOk);
}

TEST(AddressToken, BadConstructionIsUnusable) {
  const Bytes short_secret = hex("000102030405060708090a0b0c0d0e0f10111213");  // 20 bytes
  AddressTokenCodec bad_size(AddressTokenKey{1, short_secret});
  EXPECT_FALSE(bad_size.ok());
  AddressTokenCodec dup_id(kKey1, &kKey1);
  EXPECT_FALSE(dup_id.ok());
  const AddressTokenKey bad_previous{2, short_secret};
  AddressTokenCodec bad_prev(kKey1, &bad_previous);
  EXPECT_FALSE(bad_prev.ok());

  std::array<std::uint8_t, kMaxTokenLength> buf{};
  EXPECT_EQ(bad_size.seal_new_token(kClient4, kVersion1, kNow, buf), 0u);
  EXPECT_EQ(bad_size.seal_retry(kClient4, kVersion1, kOdcid, kRetryScid, kNow, buf), 0u);
  AddressTokenCodec good(kKey1);
  TokenInfo info;
  EXPECT_EQ(bad_size.open(new_token(good).span(), kClient4, kVersion1, kNow, &info),
            TokenCheck::kInvalid);
}

TEST(AddressToken, Movable) {
  AddressTokenCodec a(kKey1);
  const Token t = new_token(a);
  AddressTokenCodec b(std::move(a));
  EXPECT_FALSE(a.ok());  // NOLINT(bugprone-use-after-move): moved-from is empty
  ASSERT_TRUE(b.ok());
  TokenInfo info;
  EXPECT_EQ(b.open(t.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kOk);
  AddressTokenCodec c(kKey3);
  c = std::move(b);
  EXPECT_EQ(c.open(t.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kOk);
}

TEST(AddressToken, PeekKind) {
  EXPECT_EQ(peek_token_kind({}), std::nullopt);
  Bytes t(kNewTokenLength, 0);
  t[0] = 1;
  EXPECT_EQ(peek_token_kind(t), TokenKind::kRetry);
  t[0] = 2;
  EXPECT_EQ(peek_token_kind(t), TokenKind::kNewToken);
  t[0] = 3;
  EXPECT_EQ(peek_token_kind(t), std::nullopt);
  t[0] = 1;
  t.pop_back();
  EXPECT_EQ(peek_token_kind(t), std::nullopt);
}

TEST(AddressToken, SealAndOpenDoNotAllocate) {
  if (!g_counting) GTEST_SKIP() << "OpenSSL allocated before the counter was installed";
  const long at_start = g_openssl_allocs.load();
  AddressTokenCodec c(kKey1, &kKey2);
  ASSERT_TRUE(c.ok());
  EXPECT_GT(g_openssl_allocs.load(), at_start);  // the counter sees setup allocate
  TokenInfo info;
  // Warm up OpenSSL's per-thread RNG.
  ASSERT_EQ(c.open(retry_token(c).span(), kClient4, kVersion1, kNow, &info), TokenCheck::kOk);
  constexpr int kRounds = 200;
  const long before = g_openssl_allocs.load();
  for (int i = 0; i < kRounds; ++i) {
    const Token r = retry_token(c);
    const Token n = new_token(c, kClient6);
    ASSERT_EQ(c.open(r.span(), kClient4, kVersion1, kNow, &info), TokenCheck::kOk);
    ASSERT_EQ(c.open(n.span(), kClient6, kVersion1, kNow, &info), TokenCheck::kOk);
    Bytes bad = r.bytes();
    bad.back() ^= 1;
    ASSERT_EQ(c.open(bad, kClient4, kVersion1, kNow, &info), TokenCheck::kInvalid);
  }
  // An allocation per token would count in the hundreds; an occasional
  // reseed of the RNG may account for a few.
  EXPECT_LT(g_openssl_allocs.load() - before, 5);
}

}  // namespace
}  // namespace dquic
