#include "quic/retry_integrity.h"

#include <gtest/gtest.h>

#include <array>
#include <string_view>
#include <thread>
#include <vector>

#include "quic/version.h"
#include "support/hex.h"

namespace dquic {
namespace {

using test::Bytes;
using test::bytes;
using test::hex;

const Bytes kDcid = hex("8394c8f03e515708");  // RFC 9001 / RFC 9369 Appendix A

struct RetryVector {
  std::uint32_t version;
  const char* packet;  // RFC 9001 A.4 / RFC 9369 A.4, tag last
};
constexpr RetryVector kRetryVectors[] = {
    {kVersion1, "ff000000010008f067a5502a4262b574 6f6b656e04a265ba2eff4d829058fb3f 0f2496ba"},
    {kVersion2, "cf6b3343cf0008f067a5502a4262b574 6f6b656ec8646ce8bfe33952d9555436 65dcc7b6"},
};

TEST(RetryIntegrity, ComputeAndVerify) {
  for (const RetryVector& v : kRetryVectors) {
    SCOPED_TRACE(::testing::Message() << "version 0x" << std::hex << v.version);
    const Bytes packet = hex(v.packet);
    const ByteSpan body = ByteSpan(packet).first(packet.size() - kRetryIntegrityTagLength);
    const ByteSpan want = ByteSpan(packet).last(kRetryIntegrityTagLength);

    std::array<std::uint8_t, kRetryIntegrityTagLength> tag{};
    ASSERT_TRUE(compute_retry_integrity_tag(v.version, kDcid, body, tag));
    EXPECT_EQ(Bytes(tag.begin(), tag.end()), bytes(want));
    EXPECT_TRUE(verify_retry_integrity_tag(v.version, kDcid, packet));
    // Again: the per-thread context must restart cleanly.
    ASSERT_TRUE(compute_retry_integrity_tag(v.version, kDcid, body, tag));
    EXPECT_EQ(Bytes(tag.begin(), tag.end()), bytes(want));
  }
  // RFC 9001 A.4's expected tag, spelled out.
  std::array<std::uint8_t, kRetryIntegrityTagLength> tag{};
  const Bytes v1 = hex(kRetryVectors[0].packet);
  ASSERT_TRUE(
      compute_retry_integrity_tag(kVersion1, kDcid, ByteSpan(v1).first(v1.size() - 16), tag));
  EXPECT_EQ(Bytes(tag.begin(), tag.end()), hex("04a265ba2eff4d829058fb3f0f2496ba"));
}

TEST(RetryIntegrity, RejectsTampering) {
  for (const RetryVector& v : kRetryVectors) {
    SCOPED_TRACE(::testing::Message() << "version 0x" << std::hex << v.version);
    const Bytes packet = hex(v.packet);
    // Every single-bit flip, in the header, the token or the tag, fails.
    for (std::size_t i = 0; i < packet.size(); ++i) {
      Bytes bad = packet;
      bad[i] ^= 0x01;
      EXPECT_FALSE(verify_retry_integrity_tag(v.version, kDcid, bad)) << "byte " << i;
    }
    // The wrong original DCID (e.g. an attacker's Retry for another Initial).
    Bytes other_dcid = kDcid;
    other_dcid[7] ^= 0x80;
    EXPECT_FALSE(verify_retry_integrity_tag(v.version, other_dcid, packet));
    EXPECT_FALSE(verify_retry_integrity_tag(v.version, ByteSpan(kDcid).first(7), packet));
    // Truncated.
    EXPECT_FALSE(verify_retry_integrity_tag(v.version, kDcid, ByteSpan(packet).first(15)));
    EXPECT_FALSE(
        verify_retry_integrity_tag(v.version, kDcid, ByteSpan(packet).first(packet.size() - 1)));
    // An ODCID longer than 20 bytes cannot exist in v1/v2.
    EXPECT_FALSE(verify_retry_integrity_tag(v.version, Bytes(21, 0), packet));
  }
  // The v1 tag under the v2 key and vice versa.
  EXPECT_FALSE(verify_retry_integrity_tag(kVersion2, kDcid, hex(kRetryVectors[0].packet)));
  EXPECT_FALSE(verify_retry_integrity_tag(kVersion1, kDcid, hex(kRetryVectors[1].packet)));
}

// The cached per-thread AEAD contexts are independent across threads.
TEST(RetryIntegrity, ManyThreads) {
  std::vector<std::thread> threads;
  std::array<bool, 4> ok{};
  for (std::size_t t = 0; t < ok.size(); ++t) {
    threads.emplace_back([t, &ok] {
      bool all = true;
      for (int i = 0; i < 200; ++i) {
        const RetryVector& v = kRetryVectors[(t + static_cast<std::size_t>(i)) % 2];
        all = all && verify_retry_integrity_tag(v.version, kDcid, hex(v.packet));
      }
      ok[t] = all;
    });
  }
  for (std::thread& th : threads)
    th.join();
  for (bool b : ok)
    EXPECT_TRUE(b);
}

TEST(RetryIntegrity, UnknownVersionRejected) {
  const Bytes packet = hex(kRetryVectors[0].packet);
  for (std::uint32_t version : {kVersionNegotiation, 0x1a2a3a4au, 0x00000002u}) {
    std::array<std::uint8_t, kRetryIntegrityTagLength> tag{};
    EXPECT_FALSE(compute_retry_integrity_tag(version, kDcid, packet, tag));
    EXPECT_FALSE(verify_retry_integrity_tag(version, kDcid, packet));
  }
}

}  // namespace
}  // namespace dquic
