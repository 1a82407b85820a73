#include "quic/stateless_reset.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "quic/source_port_filter.h"
#include "support/hex.h"

namespace dquic {
namespace {

using test::Bytes;
using test::hex;

const Bytes kKey = hex("000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f");
const Bytes kOtherKey = hex("ff0102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f");

StatelessResetToken token_of(StatelessResetTokenGenerator& g, const Bytes& cid) {
  StatelessResetToken t{};
  EXPECT_TRUE(g.token_for(cid, &t));
  return t;
}

Bytes sequence(std::size_t n, std::uint8_t start = 0) {
  Bytes b(n);
  for (std::size_t i = 0; i < n; ++i)
    b[i] = static_cast<std::uint8_t>(start + i);
  return b;
}

// ---- Token derivation (RFC 9000 §10.3.2) -----------------------------------

TEST(StatelessResetToken, KnownAnswer) {
  // RFC 4231 §4.2 test case 1: HMAC-SHA-256(0x0b * 20, "Hi There"), whose
  // first 16 bytes are the token for the 8-byte CID "Hi There".
  StatelessResetTokenGenerator g(Bytes(20, 0x0b));
  ASSERT_TRUE(g.ok());
  const StatelessResetToken t = token_of(g, Bytes{'H', 'i', ' ', 'T', 'h', 'e', 'r', 'e'});
  EXPECT_EQ(Bytes(t.begin(), t.end()), hex("b0344c61d8db38535ca8afceaf0bf12b"));
}

TEST(StatelessResetToken, MatchesOneShotHmacForEveryCidLength) {
  StatelessResetTokenGenerator g(kKey);
  ASSERT_TRUE(g.ok());
  for (std::size_t len = 1; len <= kMaxConnectionIdLength; ++len) {
    const Bytes cid = sequence(len, static_cast<std::uint8_t>(len * 7));
    std::array<std::uint8_t, 32> want{};
    unsigned int want_len = 0;
    ASSERT_NE(HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()), cid.data(), cid.size(),
                   want.data(), &want_len),
              nullptr);
    const StatelessResetToken t = token_of(g, cid);
    EXPECT_TRUE(std::equal(t.begin(), t.end(), want.begin())) << len;
  }
}

TEST(StatelessResetToken, DeterministicPerKeyAndCid) {
  StatelessResetTokenGenerator a(kKey);
  StatelessResetTokenGenerator b(kKey);  // another instance sharing the key
  StatelessResetTokenGenerator other(kOtherKey);
  const Bytes cid1 = hex("8394c8f03e515708");
  const Bytes cid2 = hex("8394c8f03e515709");
  const StatelessResetToken t1 = token_of(a, cid1);
  EXPECT_EQ(token_of(a, cid1), t1);
  EXPECT_EQ(token_of(b, cid1), t1);
  EXPECT_NE(token_of(a, cid2), t1);
  EXPECT_NE(token_of(other, cid1), t1);
  // A CID and its prefix are different inputs.
  EXPECT_NE(token_of(a, Bytes(cid1.begin(), cid1.end() - 1)), t1);
}

TEST(StatelessResetToken, Rejections) {
  StatelessResetTokenGenerator g(kKey);
  StatelessResetToken t{};
  EXPECT_FALSE(g.token_for({}, &t));  // §10.3.2: no zero-length CID
  EXPECT_FALSE(g.token_for(Bytes(kMaxConnectionIdLength + 1, 1), &t));
  EXPECT_TRUE(g.token_for(Bytes(kMaxConnectionIdLength, 1), &t));

  StatelessResetTokenGenerator short_key(Bytes(StatelessResetTokenGenerator::kMinKeyLength - 1, 1));
  EXPECT_FALSE(short_key.ok());
  EXPECT_FALSE(short_key.token_for(hex("01020304"), &t));
  EXPECT_TRUE(
      StatelessResetTokenGenerator(Bytes(StatelessResetTokenGenerator::kMinKeyLength, 1)).ok());
}

TEST(StatelessResetToken, Movable) {
  StatelessResetTokenGenerator a(kKey);
  const StatelessResetToken want = token_of(a, hex("0102"));
  StatelessResetTokenGenerator b(std::move(a));
  EXPECT_FALSE(a.ok());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(token_of(b, hex("0102")), want);
  StatelessResetTokenGenerator c(kOtherKey);
  c = std::move(b);
  EXPECT_EQ(token_of(c, hex("0102")), want);
}

// ---- Packet (RFC 9000 §10.3, §10.3.3) --------------------------------------

const StatelessResetToken kToken = {0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
                                    0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf};

TEST(StatelessResetPacket, SizeRules) {
  const Bytes random = sequence(64, 0xc3);  // allows resets up to 80 bytes
  std::array<std::uint8_t, 1500> out{};
  for (std::size_t trigger = 0; trigger <= 1500; ++trigger) {
    SCOPED_TRACE(trigger);
    const std::size_t n = build_stateless_reset(kToken, trigger, random, out);
    if (trigger <= kMinStatelessResetSize) {
      // §10.3.3: a reply would not be smaller than the trigger yet >= 21.
      EXPECT_EQ(n, 0u);
      continue;
    }
    EXPECT_LT(n, trigger);                 // §10.3.3: never as large as the trigger
    EXPECT_GE(n, kMinStatelessResetSize);  // §10.3
    EXPECT_LT(n, 3 * trigger);             // §10.3: no amplification
    if (trigger <= kStatelessResetSmallTrigger) {
      EXPECT_EQ(n, trigger - 1);  // §10.3 SHOULD
    }
    EXPECT_EQ(n, std::min<std::size_t>(trigger - 1, 80));
  }
  EXPECT_EQ(build_stateless_reset(kToken, 22, random, out), 21u);
}

TEST(StatelessResetPacket, Layout) {
  const Bytes random = sequence(40, 0xff);  // first byte 0xff: both fixed bits must be forced
  std::array<std::uint8_t, 100> out{};
  const std::size_t n = build_stateless_reset(kToken, 1200, random, out);
  ASSERT_EQ(n, 56u);
  EXPECT_EQ(out[0] & 0xc0, 0x40);              // §10.3: Fixed Bits = 01 (short header form)
  EXPECT_EQ(out[0] & 0x3f, random[0] & 0x3f);  // the rest unpredictable
  EXPECT_TRUE(std::equal(out.begin() + 1, out.begin() + 40, random.begin() + 1));
  EXPECT_TRUE(std::equal(kToken.begin(), kToken.end(), out.begin() + 40));  // token last

  const Bytes zeros(40, 0);
  ASSERT_EQ(build_stateless_reset(kToken, 1200, zeros, out), 56u);
  EXPECT_EQ(out[0], 0x40);
}

TEST(StatelessResetPacket, BoundedByBufferAndRandomness) {
  const Bytes random = sequence(64);
  std::array<std::uint8_t, 1500> out{};
  EXPECT_EQ(build_stateless_reset(kToken, 1200, random, std::span(out).first(30)), 30u);
  EXPECT_EQ(build_stateless_reset(kToken, 1200, random, std::span(out).first(21)), 21u);
  EXPECT_EQ(build_stateless_reset(kToken, 1200, random, std::span(out).first(20)), 0u);
  EXPECT_EQ(build_stateless_reset(kToken, 1200, ByteSpan(random).first(5), out), 21u);
  EXPECT_EQ(build_stateless_reset(kToken, 1200, ByteSpan(random).first(4), out), 0u);
  EXPECT_EQ(build_stateless_reset(kToken, 1200, {}, out), 0u);
}

TEST(StatelessResetPacket, LoopShrinksToSilence) {
  // §10.3.3: two endpoints answering each other's resets stop.
  const Bytes random = sequence(1500);
  std::array<std::uint8_t, 1500> out{};
  std::size_t size = 1500;
  int rounds = 0;
  while (std::size_t n = build_stateless_reset(kToken, size, random, out)) {
    ASSERT_LT(n, size);
    size = n;
    ++rounds;
  }
  EXPECT_EQ(size, kMinStatelessResetSize);
  EXPECT_EQ(rounds, 1500 - 21);
}

// ---- Detection (RFC 9000 §10.3.1) ------------------------------------------

TEST(StatelessResetDetect, MatchesTrailingToken) {
  StatelessResetTokenGenerator g(kKey);
  const StatelessResetToken mine = token_of(g, hex("0102030405060708"));
  const StatelessResetToken other = token_of(g, hex("1112131415161718"));
  std::array<std::uint8_t, 64> out{};
  const std::size_t n = build_stateless_reset(mine, 100, sequence(48), out);
  const ByteSpan reset(out.data(), n);

  const std::array<StatelessResetToken, 2> both = {other, mine};
  const std::array<StatelessResetToken, 1> only_other = {other};
  EXPECT_TRUE(is_stateless_reset(reset, both));
  EXPECT_TRUE(is_stateless_reset(reset, std::span(both).last(1)));
  EXPECT_FALSE(is_stateless_reset(reset, only_other));
  EXPECT_FALSE(is_stateless_reset(reset, {}));

  // Any change in the last 16 bytes breaks the match; before them, nothing does.
  for (std::size_t i = 0; i < n; ++i) {
    Bytes bad(reset.begin(), reset.end());
    bad[i] ^= 0x01;
    EXPECT_EQ(is_stateless_reset(bad, both), i < n - kStatelessResetTokenLength) << i;
  }
}

TEST(StatelessResetDetect, SizeAndForm) {
  const std::array<StatelessResetToken, 1> tokens = {kToken};
  Bytes d(kMinStatelessResetSize - 1, 0x40);
  std::copy(kToken.begin(), kToken.end(), d.end() - 16);
  EXPECT_FALSE(is_stateless_reset(d, tokens));  // 20 bytes: too short to be one
  d.insert(d.begin(), 0x40);
  EXPECT_TRUE(is_stateless_reset(d, tokens));  // 21 bytes
  // §10.3: any packet ending in the token counts, a long header too.
  d[0] = 0xc0;
  EXPECT_TRUE(is_stateless_reset(d, tokens));
  // The token not at the end does not count.
  d.push_back(0);
  EXPECT_FALSE(is_stateless_reset(d, tokens));
  EXPECT_FALSE(is_stateless_reset({}, tokens));
}

// ---- Rate limit (RFC 9000 §10.3.3) -----------------------------------------

int allowed(StatelessResetLimiter& l, std::int64_t now, int tries) {
  int n = 0;
  for (int i = 0; i < tries; ++i)
    n += l.allow(now) ? 1 : 0;
  return n;
}

TEST(StatelessResetLimiter, BurstThenRate) {
  StatelessResetLimiter l(10, 3);  // 10 per second, burst 3
  EXPECT_EQ(allowed(l, 0, 10), 3);
  EXPECT_EQ(allowed(l, 99, 10), 0);  // 0.99 of a reset earned
  EXPECT_EQ(allowed(l, 100, 10), 1);
  EXPECT_EQ(allowed(l, 150, 10), 0);
  EXPECT_EQ(allowed(l, 300, 10), 2);
  // A long idle period refills only up to the burst.
  EXPECT_EQ(allowed(l, 60'000, 100), 3);
  // Over one second at most the rate, once the burst is spent.
  int total = 0;
  for (std::int64_t t = 60'000; t <= 61'000; ++t)
    total += allowed(l, t, 5);
  EXPECT_EQ(total, 10);
}

TEST(StatelessResetLimiter, ClockSteppingBackRefillsNothing) {
  StatelessResetLimiter l(1000, 1);
  EXPECT_TRUE(l.allow(10'000));
  EXPECT_FALSE(l.allow(5'000));
  EXPECT_FALSE(l.allow(10'000));
  EXPECT_TRUE(l.allow(10'001));
}

TEST(StatelessResetLimiter, Extremes) {
  StatelessResetLimiter none(100, 0);
  EXPECT_EQ(allowed(none, 0, 10), 0);
  EXPECT_EQ(allowed(none, 1'000'000, 10), 0);

  StatelessResetLimiter no_refill(0, 2);
  EXPECT_EQ(allowed(no_refill, 0, 10), 2);
  EXPECT_EQ(allowed(no_refill, INT64_MAX, 10), 0);

  // Huge rate, burst and jump: no overflow, still capped by the burst.
  StatelessResetLimiter big(UINT32_MAX, UINT32_MAX);
  EXPECT_EQ(allowed(big, INT64_MIN, 3), 3);
  EXPECT_EQ(allowed(big, INT64_MAX, 3), 3);

  StatelessResetLimiter fast(1'000'000, 5);
  EXPECT_EQ(allowed(fast, -5, 10), 5);
  EXPECT_EQ(allowed(fast, INT64_MAX, 10), 5);
}

// ---- Source port filter (RFC 9000 §21.5.6) ---------------------------------

static_assert(is_reflection_prone_source_port(0));
static_assert(is_reflection_prone_source_port(53));
static_assert(!is_reflection_prone_source_port(443));

TEST(SourcePortFilter, TableIsSortedAndBlocksItsPorts) {
  EXPECT_TRUE(
      std::is_sorted(kReflectionProneSourcePorts.begin(), kReflectionProneSourcePorts.end()));
  EXPECT_EQ(
      std::adjacent_find(kReflectionProneSourcePorts.begin(), kReflectionProneSourcePorts.end()),
      kReflectionProneSourcePorts.end());
  for (std::uint16_t p : kReflectionProneSourcePorts)
    EXPECT_TRUE(is_reflection_prone_source_port(p)) << p;
  for (std::uint16_t p : {0, 7, 17, 19, 53, 111, 123, 137, 138, 161, 389, 500, 1900, 5353, 11211})
    EXPECT_TRUE(is_reflection_prone_source_port(static_cast<std::uint16_t>(p))) << p;
}

TEST(SourcePortFilter, ClientPortsPass) {
  // Neighbours of blocked ports, QUIC's own ports, and the ephemeral ranges.
  for (std::uint16_t p :
       {1,    16,   18,   20,   52,   54,    122,   124,   162,   443,   501,   1024, 1899,
        1901, 4433, 5352, 5354, 8443, 11210, 11212, 32768, 49152, 54321, 60999, 65535}) {
    EXPECT_FALSE(is_reflection_prone_source_port(p)) << p;
  }
  int blocked = 0;
  for (std::uint32_t p = 0; p <= 65535; ++p)
    blocked += is_reflection_prone_source_port(static_cast<std::uint16_t>(p)) ? 1 : 0;
  EXPECT_EQ(blocked, static_cast<int>(kReflectionProneSourcePorts.size()));
}

}  // namespace
}  // namespace dquic
