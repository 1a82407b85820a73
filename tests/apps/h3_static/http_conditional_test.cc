#include "apps/h3-static/http_conditional.h"

#include <gtest/gtest.h>

namespace dquic::h3static {
namespace {

constexpr std::int64_t kNow = 1796256000;  // Thu, 03 Dec 2026 00:00:00 GMT

FileInfo info(std::uint64_t inode, std::uint64_t size, std::int64_t mtime_ns) {
  FileInfo i;
  i.inode = inode;
  i.size = size;
  i.mtime_ns = mtime_ns;
  i.device = 7;
  return i;
}

TEST(ETag, StrongFromInodeSizeMtime) {
  const EntityTag t = make_etag(info(0x1a2b, 1024, 0x17f3c0d2e1a4b000));
  EXPECT_EQ(t.view(), "\"1a2b-400-17f3c0d2e1a4b000\"");
  // Any of the three changes the tag, including a nanosecond of mtime.
  EXPECT_NE(make_etag(info(0x1a2c, 1024, 0x17f3c0d2e1a4b000)).view(), t.view());
  EXPECT_NE(make_etag(info(0x1a2b, 1025, 0x17f3c0d2e1a4b000)).view(), t.view());
  EXPECT_NE(make_etag(info(0x1a2b, 1024, 0x17f3c0d2e1a4b001)).view(), t.view());
  const EntityTag max = make_etag(info(UINT64_MAX, UINT64_MAX, INT64_MAX));
  EXPECT_EQ(max.view(), "\"ffffffffffffffff-ffffffffffffffff-7fffffffffffffff\"");
}

TEST(ETag, Comparison) {
  // RFC 9110 §8.8.3.2 table.
  EXPECT_FALSE(etag_strong_equal("W/\"1\"", "W/\"1\""));
  EXPECT_TRUE(etag_weak_equal("W/\"1\"", "W/\"1\""));
  EXPECT_FALSE(etag_strong_equal("W/\"1\"", "W/\"2\""));
  EXPECT_FALSE(etag_weak_equal("W/\"1\"", "W/\"2\""));
  EXPECT_FALSE(etag_strong_equal("W/\"1\"", "\"1\""));
  EXPECT_TRUE(etag_weak_equal("W/\"1\"", "\"1\""));
  EXPECT_TRUE(etag_strong_equal("\"1\"", "\"1\""));
  EXPECT_TRUE(etag_weak_equal("\"1\"", "\"1\""));
}

TEST(IfNoneMatch, Lists) {
  const std::string_view tag = "\"abc\"";
  EXPECT_EQ(if_none_match("\"abc\"", tag), ListMatch::kMatch);
  EXPECT_EQ(if_none_match("W/\"abc\"", tag), ListMatch::kMatch);  // weak comparison
  EXPECT_EQ(if_none_match("\"x\", \"abc\"", tag), ListMatch::kMatch);
  EXPECT_EQ(if_none_match("\"x\",W/\"abc\" , \"y\"", tag), ListMatch::kMatch);
  EXPECT_EQ(if_none_match(" , \"x\" ,, \"abc\",", tag), ListMatch::kMatch);  // empty members
  EXPECT_EQ(if_none_match("\"x\", \"y\"", tag), ListMatch::kNoMatch);
  EXPECT_EQ(if_none_match("\"ABC\"", tag), ListMatch::kNoMatch);  // case-sensitive
  EXPECT_EQ(if_none_match("\"\"", tag), ListMatch::kNoMatch);
  EXPECT_EQ(if_none_match("*", tag), ListMatch::kMatch);
  EXPECT_EQ(if_none_match("  *  ", tag), ListMatch::kMatch);
}

TEST(IfNoneMatch, InvalidSyntax) {
  const std::string_view tag = "\"abc\"";
  for (const char* f : {"", " ", ",", "abc", "\"abc", "\"abc\"x", "\"abc\" \"x\"", "w/\"abc\"",
                        "W/abc", "*, \"abc\"", "\"a\"b\"", "\"a\x7f\""})
    EXPECT_EQ(if_none_match(f, tag), ListMatch::kInvalid) << f;
}

TEST(LastModified, SecondsAndFuture) {
  EXPECT_EQ(last_modified_seconds(info(1, 1, 1000000000LL * 100 + 999999999), kNow), 100);
  EXPECT_EQ(last_modified_seconds(info(1, 1, (kNow + 3600) * 1000000000LL), kNow), kNow);
  EXPECT_EQ(last_modified_seconds(info(1, 1, -1), kNow), -1);
}

class Conditions : public ::testing::Test {
 protected:
  static constexpr std::string_view kTag = "\"1-2-3\"";
  static constexpr std::int64_t kLm = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  Condition eval(std::optional<std::string_view> inm, std::optional<std::string_view> ims) {
    return evaluate_conditions(inm, ims, kTag, kLm, kNow);
  }
};

TEST_F(Conditions, NoConditions) {
  EXPECT_EQ(eval({}, {}), Condition::kProceed);
}

TEST_F(Conditions, IfNoneMatch) {
  EXPECT_EQ(eval("\"1-2-3\"", {}), Condition::kNotModified);
  EXPECT_EQ(eval("W/\"1-2-3\"", {}), Condition::kNotModified);
  EXPECT_EQ(eval("*", {}), Condition::kNotModified);
  EXPECT_EQ(eval("\"other\"", {}), Condition::kProceed);
}

TEST_F(Conditions, IfModifiedSince) {
  EXPECT_EQ(eval({}, "Sun, 06 Nov 1994 08:49:37 GMT"), Condition::kNotModified);  // equal
  EXPECT_EQ(eval({}, "Sun, 06 Nov 1994 08:49:38 GMT"), Condition::kNotModified);  // later
  EXPECT_EQ(eval({}, "Sun, 06 Nov 1994 08:49:36 GMT"), Condition::kProceed);      // earlier
  EXPECT_EQ(eval({}, "Sunday, 06-Nov-94 08:49:37 GMT"), Condition::kNotModified);
  EXPECT_EQ(eval({}, "Sun Nov  6 08:49:37 1994"), Condition::kNotModified);
  // RFC 9110 §13.1.3: an invalid date is ignored.
  EXPECT_EQ(eval({}, "yesterday"), Condition::kProceed);
  EXPECT_EQ(eval({}, ""), Condition::kProceed);
}

TEST_F(Conditions, IfNoneMatchTakesPrecedence) {
  // RFC 9110 §13.1.3 / §13.2.2: If-Modified-Since ignored with If-None-Match.
  EXPECT_EQ(eval("\"other\"", "Sun, 06 Nov 1994 08:49:37 GMT"), Condition::kProceed);
  EXPECT_EQ(eval("\"1-2-3\"", "Sun, 06 Nov 1994 08:49:36 GMT"), Condition::kNotModified);
  // An invalid If-None-Match is treated as absent.
  EXPECT_EQ(eval("garbage", "Sun, 06 Nov 1994 08:49:37 GMT"), Condition::kNotModified);
  EXPECT_EQ(eval("garbage", {}), Condition::kProceed);
}

}  // namespace
}  // namespace dquic::h3static
