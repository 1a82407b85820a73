#include "quic/varint.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "quic/buffer.h"

namespace dquic {
namespace {

std::vector<std::uint8_t> hex(std::initializer_list<std::uint8_t> b) {
  return b;
}

// RFC 9000 Appendix A.1 examples.
TEST(Varint, Rfc9000AppendixA1Examples) {
  struct Case {
    std::vector<std::uint8_t> bytes;
    std::uint64_t value;
  } cases[] = {
      {hex({0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c}), 151288809941952652ull},
      {hex({0x9d, 0x7f, 0x3e, 0x7d}), 494878333},
      {hex({0x7b, 0xbd}), 15293},
      {hex({0x25}), 37},
      {hex({0x40, 0x25}), 37},  // non-minimal two-byte form
  };
  for (const auto& c : cases) {
    std::uint64_t v = 0;
    EXPECT_EQ(varint_read(c.bytes.data(), c.bytes.size(), &v), c.bytes.size());
    EXPECT_EQ(v, c.value);
  }
  // The shortest encoding of each value reproduces the RFC bytes (except the
  // deliberately non-minimal 0x4025).
  for (const auto& c : cases) {
    if (c.bytes.size() == 2 && c.value == 37) continue;
    std::array<std::uint8_t, 8> out{};
    ASSERT_EQ(varint_size(c.value), c.bytes.size());
    varint_write(out.data(), c.value, c.bytes.size());
    EXPECT_TRUE(std::equal(c.bytes.begin(), c.bytes.end(), out.begin()));
  }
}

TEST(Varint, SizeBoundaries) {
  EXPECT_EQ(varint_size(0), 1u);
  EXPECT_EQ(varint_size(63), 1u);
  EXPECT_EQ(varint_size(64), 2u);
  EXPECT_EQ(varint_size(16383), 2u);
  EXPECT_EQ(varint_size(16384), 4u);
  EXPECT_EQ(varint_size(1073741823), 4u);
  EXPECT_EQ(varint_size(1073741824), 8u);
  EXPECT_EQ(varint_size(kVarintMax), 8u);
  EXPECT_EQ(varint_size(kVarintMax + 1), 0u);
}

TEST(Varint, RoundTripEveryLengthAndRequestedLength) {
  const std::uint64_t values[] = {0, 1, 63, 64, 16383, 16384, 1073741823, 1073741824, kVarintMax};
  for (std::uint64_t v : values) {
    for (std::size_t len : {1u, 2u, 4u, 8u}) {
      std::array<std::uint8_t, 8> buf{};
      Writer w(buf);
      w.write_varint(v, len);
      if (!varint_fits(v, len)) {
        EXPECT_FALSE(w.ok()) << v << " in " << len;
        continue;
      }
      ASSERT_TRUE(w.ok());
      ASSERT_EQ(w.written(), len);
      Reader r(ByteSpan(buf.data(), len));
      std::uint64_t got = 0;
      ASSERT_TRUE(r.read_varint(&got));
      EXPECT_EQ(got, v);
      EXPECT_TRUE(r.empty());
    }
  }
}

TEST(Varint, RejectsTruncation) {
  const std::uint8_t eight[] = {0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c};
  for (std::size_t avail = 0; avail < sizeof(eight); ++avail) {
    std::uint64_t v = 0;
    EXPECT_EQ(varint_read(eight, avail, &v), 0u) << avail;
    Reader r(ByteSpan(eight, avail));
    EXPECT_FALSE(r.read_varint(&v));
    EXPECT_EQ(r.remaining(), avail);  // a failed read consumes nothing
  }
}

TEST(Varint, WriterRejectsOverflowAndTooLargeValues) {
  std::array<std::uint8_t, 3> buf{};
  Writer w(buf);
  w.write_varint(16384);  // needs 4 bytes
  EXPECT_FALSE(w.ok());
  Writer w2(buf);
  w2.write_varint(kVarintMax + 1);
  EXPECT_FALSE(w2.ok());
  w2.rewind(0);
  w2.write_varint(37);
  EXPECT_TRUE(w2.ok());
  EXPECT_EQ(w2.written(), 1u);
}

}  // namespace
}  // namespace dquic
