#include "apps/h3-static/http_date.h"

#include <gtest/gtest.h>

namespace dquic::h3static {
namespace {

// RFC 9110 §5.6.7's example instant: Sun, 06 Nov 1994 08:49:37 GMT.
constexpr std::int64_t kExample = 784111777;
constexpr std::int64_t kNow2026 = 1796256000;  // 2026-12-03T00:00:00Z

TEST(HttpDate, ThreeFormatsOfTheRfcExample) {
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", kNow2026), kExample);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", kNow2026), kExample);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994", kNow2026), kExample);
  EXPECT_EQ(parse_http_date("Sun Nov 16 08:49:37 1994", kNow2026), kExample + 10 * 86400);
  // date3 also allows 2DIGIT: a leading zero instead of the space.
  EXPECT_EQ(parse_http_date("Sun Nov 06 08:49:37 1994", kNow2026), kExample);
}

TEST(HttpDate, KnownInstants) {
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT", 0), 0);
  EXPECT_EQ(parse_http_date("Thu, 03 Dec 2026 00:00:00 GMT", 0), kNow2026);
  EXPECT_EQ(parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT", 0), 951825600);
  EXPECT_EQ(parse_http_date("Tue, 19 Jan 2038 03:14:08 GMT", 0), 2147483648LL);
  // Leap second accepted (RFC 9110 §5.6.7: second 00-60).
  EXPECT_EQ(parse_http_date("Wed, 31 Dec 2008 23:59:60 GMT", 0), 1230768000);
}

TEST(HttpDate, Rfc850TwoDigitYear) {
  // More than 50 years ahead of now means last century (RFC 9110 §5.6.7).
  EXPECT_EQ(parse_http_date("Thursday, 03-Dec-26 00:00:00 GMT", kNow2026), kNow2026);
  EXPECT_EQ(parse_http_date("Friday, 01-Jan-99 00:00:00 GMT", kNow2026), 915148800);
  EXPECT_EQ(parse_http_date("Saturday, 01-Jan-00 00:00:00 GMT", kNow2026), 946684800);
  // 2076 is 50 years ahead, not more: stays in this century.
  EXPECT_EQ(parse_http_date("Wednesday, 01-Jan-76 00:00:00 GMT", kNow2026), 3345062400LL);
  EXPECT_EQ(parse_http_date("Saturday, 01-Jan-77 00:00:00 GMT", kNow2026), 220924800);
  // The same text read in 1994 is in 1976.
  EXPECT_EQ(parse_http_date("Thursday, 01-Jan-76 00:00:00 GMT", kExample), 189302400);
}

TEST(HttpDate, InvalidRejected) {
  const char* bad[] = {
      "",
      "Sun, 06 Nov 1994 08:49:37",         // no GMT
      "Sun, 06 Nov 1994 08:49:37 UTC",     // not GMT
      "Sun, 06 Nov 1994 08:49:37 gmt",     // case-sensitive
      "sun, 06 Nov 1994 08:49:37 GMT",     // case-sensitive
      "Sun, 06 nov 1994 08:49:37 GMT",     // case-sensitive
      "Sun, 6 Nov 1994 08:49:37 GMT",      // day is 2DIGIT
      "Sun, 06 Nov 94 08:49:37 GMT",       // year is 4DIGIT
      "Sun, 06 Nov 1994 8:49:37 GMT",      // hour is 2DIGIT
      " Sun, 06 Nov 1994 08:49:37 GMT",    // leading space
      "Sun, 06 Nov 1994 08:49:37 GMT ",    // trailing space
      "Sun, 06 Nov 1994 08:49:37 GMTx",    // trailing junk
      "Sun,  06 Nov 1994 08:49:37 GMT",    // double space
      "Sun 06 Nov 1994 08:49:37 GMT",      // no comma
      "Xyz, 06 Nov 1994 08:49:37 GMT",     // day name
      "Sun, 06 Foo 1994 08:49:37 GMT",     // month name
      "Sun, 31 Nov 1994 08:49:37 GMT",     // Nov has 30 days
      "Sun, 29 Feb 1900 08:49:37 GMT",     // 1900 not a leap year
      "Sun, 00 Nov 1994 08:49:37 GMT",     // day 0
      "Sun, 06 Nov 1994 24:00:00 GMT",     // hour 24
      "Sun, 06 Nov 1994 08:60:00 GMT",     // minute 60
      "Sun, 06 Nov 1994 08:49:61 GMT",     // second 61
      "Sun, 06 Nov 1994 08-49-37 GMT",     // separators
      "Sunday, 06-Nov-1994 08:49:37 GMT",  // rfc850 year is 2DIGIT
      "Sun, 06-Nov-94 08:49:37 GMT",       // rfc850 wants the long day name
      "Sunday, 06 Nov 1994 08:49:37 GMT",  // long name in IMF-fixdate
      "Sunday, 06-Nov-94 08:49:37",        // rfc850 without GMT
      "Sun Nov 6 08:49:37 1994",           // asctime day is SP DIGIT
      "Sun Nov  6 08:49:37 94",            // asctime year 4DIGIT
      "Sun Nov  6 08:49:37 1994 GMT",      // asctime has no zone
      "1994-11-06T08:49:37Z",              // ISO 8601
      "784111777",                         // epoch seconds
  };
  for (const char* s : bad)
    EXPECT_FALSE(parse_http_date(s, kNow2026).has_value()) << s;
}

TEST(HttpDate, Format) {
  EXPECT_EQ(format_http_date(kExample).view(), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(format_http_date(0).view(), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(format_http_date(kNow2026).view(), "Thu, 03 Dec 2026 00:00:00 GMT");
  EXPECT_EQ(format_http_date(951825600).view(), "Tue, 29 Feb 2000 12:00:00 GMT");
  EXPECT_EQ(format_http_date(-1).view(), "Wed, 31 Dec 1969 23:59:59 GMT");
  EXPECT_EQ(format_http_date(4102444799LL).view(), "Thu, 31 Dec 2099 23:59:59 GMT");
}

TEST(HttpDate, RoundTrip) {
  for (std::int64_t t = 0; t < 4102444800LL; t += 86400 * 37 + 3671) {
    const HttpDate d = format_http_date(t);
    EXPECT_EQ(parse_http_date(d.view(), kNow2026), t) << d.view();
  }
}

}  // namespace
}  // namespace dquic::h3static
