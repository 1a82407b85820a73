#include "apps/h3-static/http_range.h"

#include <gtest/gtest.h>

namespace dquic::h3static {
namespace {

constexpr std::int64_t kNow = 1796256000;

RangeResult single(std::uint64_t first, std::uint64_t last) {
  return {RangeKind::kSingle, {first, last}};
}

void expect(const RangeResult& got, const RangeResult& want, const char* field) {
  EXPECT_EQ(got.kind, want.kind) << field;
  if (want.kind == RangeKind::kSingle) {
    EXPECT_EQ(got.range, want.range) << field;
  }
}

TEST(Range, SingleRanges) {
  // RFC 9110 §14.1.2 examples on a 10000-byte representation.
  expect(parse_range("bytes=0-499", 10000), single(0, 499), "first 500");
  expect(parse_range("bytes=500-999", 10000), single(500, 999), "second 500");
  expect(parse_range("bytes=-500", 10000), single(9500, 9999), "final 500");
  expect(parse_range("bytes=9500-", 10000), single(9500, 9999), "from 9500");
  expect(parse_range("bytes=0-0", 10000), single(0, 0), "first byte");
  expect(parse_range("bytes=-1", 10000), single(9999, 9999), "last byte");
  expect(parse_range("bytes=0-", 10000), single(0, 9999), "all");
}

TEST(Range, ClampedToTheFile) {
  expect(parse_range("bytes=9000-20000", 10000), single(9000, 9999), "last past end");
  expect(parse_range("bytes=-20000", 10000), single(0, 9999), "suffix longer than file");
  expect(parse_range("bytes=0-99999999999999999999999", 10), single(0, 9), "huge last");
  expect(parse_range("bytes=9999-9999", 10000), single(9999, 9999), "last byte exactly");
}

TEST(Range, SyntaxVariants) {
  expect(parse_range("BYTES=0-1", 10), single(0, 1), "unit case-insensitive");
  expect(parse_range("Bytes=0-1", 10), single(0, 1), "unit case-insensitive");
  expect(parse_range("bytes= 0-1 ", 10), single(0, 1), "OWS");
  expect(parse_range("bytes=0-1,", 10), single(0, 1), "empty list members");
  expect(parse_range("bytes=,0-1", 10), single(0, 1), "empty list members");
}

TEST(Range, Unsatisfiable) {
  for (const char* f : {"bytes=10000-", "bytes=10000-20000", "bytes=-0", "bytes=20000-",
                        "bytes=99999999999999999999999-", "bytes=10000-10000, 20000-"}) {
    EXPECT_EQ(parse_range(f, 10000).kind, RangeKind::kUnsatisfiable) << f;
  }
  // Zero-length file: only a non-zero suffix is satisfiable (RFC 9110
  // §14.1.1), and there is nothing to put in a 206.
  EXPECT_EQ(parse_range("bytes=0-", 0).kind, RangeKind::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=0-0", 0).kind, RangeKind::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=-0", 0).kind, RangeKind::kUnsatisfiable);
  EXPECT_EQ(parse_range("bytes=-5", 0).kind, RangeKind::kIgnore);
}

TEST(Range, MultipleRangesServeWholeFile) {
  EXPECT_EQ(parse_range("bytes=0-1,5-6", 10).kind, RangeKind::kMultiple);
  EXPECT_EQ(parse_range("bytes=0-1, -2", 10).kind, RangeKind::kMultiple);
  // One of them satisfiable is enough to avoid 416.
  EXPECT_EQ(parse_range("bytes=0-1, 50-60", 10).kind, RangeKind::kMultiple);
}

TEST(Range, InvalidIgnored) {
  for (const char* f :
       {"", "bytes", "bytes=", "bytes=,", "items=0-1", "bytes 0-1", "bytes=a-b", "bytes=1",
        "bytes=-", "bytes=--1", "bytes=5-4", "bytes=0-1;x", "bytes=0-1 2-3", "bytes=0 -1",
        "bytes=+1-2", "bytes=0x10-20", "bytes=0-1,5-4", "bytesx=0-1", "=0-1"}) {
    EXPECT_EQ(parse_range(f, 10).kind, RangeKind::kIgnore) << f;
  }
}

TEST(ContentRange, Format) {
  char buf[72];
  const ByteRange r{0, 499};
  EXPECT_EQ(format_content_range(&r, 1234, buf, sizeof buf), "bytes 0-499/1234");
  EXPECT_EQ(format_content_range(nullptr, 1234, buf, sizeof buf), "bytes */1234");
  const ByteRange big{UINT64_MAX - 1, UINT64_MAX - 1};
  EXPECT_EQ(format_content_range(&big, UINT64_MAX, buf, sizeof buf),
            "bytes 18446744073709551614-18446744073709551614/18446744073709551615");
  EXPECT_TRUE(format_content_range(&r, 1234, buf, 5).empty());
}

TEST(IfRange, EntityTagStrongComparison) {
  const std::string_view tag = "\"1-2-3\"";
  const std::int64_t lm = 784111777;
  EXPECT_TRUE(if_range_matches("\"1-2-3\"", tag, lm, kNow));
  EXPECT_TRUE(if_range_matches(" \"1-2-3\" ", tag, lm, kNow));
  EXPECT_FALSE(if_range_matches("W/\"1-2-3\"", tag, lm, kNow));  // weak never matches
  EXPECT_FALSE(if_range_matches("\"1-2-4\"", tag, lm, kNow));
}

TEST(IfRange, DateExactMatch) {
  const std::string_view tag = "\"1-2-3\"";
  const std::int64_t lm = 784111777;
  EXPECT_TRUE(if_range_matches("Sun, 06 Nov 1994 08:49:37 GMT", tag, lm, kNow));
  EXPECT_TRUE(if_range_matches("Sunday, 06-Nov-94 08:49:37 GMT", tag, lm, kNow));
  // Later or earlier dates do not match (unlike If-Modified-Since).
  EXPECT_FALSE(if_range_matches("Sun, 06 Nov 1994 08:49:38 GMT", tag, lm, kNow));
  EXPECT_FALSE(if_range_matches("Sun, 06 Nov 1994 08:49:36 GMT", tag, lm, kNow));
  EXPECT_FALSE(if_range_matches("garbage", tag, lm, kNow));
  EXPECT_FALSE(if_range_matches("", tag, lm, kNow));
}

}  // namespace
}  // namespace dquic::h3static
