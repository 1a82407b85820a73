#include "apps/h3-static/http_date.h"

#include <cstddef>

namespace dquic::h3static {
namespace {

constexpr std::string_view kDays[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view kLongDays[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                           "Thursday", "Friday", "Saturday"};
constexpr std::string_view kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2);
}

bool is_leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kLen[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kLen[m - 1];
}

// A cursor that consumes exact pieces of the input.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}
  bool literal(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) return false;
    pos_ += lit.size();
    return true;
  }
  // Exactly n digits.
  bool digits(std::size_t n, int& value) {
    if (pos_ + n > s_.size()) return false;
    value = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s_[pos_ + i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    pos_ += n;
    return true;
  }
  // One of `names`; returns its index or -1.
  template <std::size_t N>
  int one_of(const std::string_view (&names)[N]) {
    for (std::size_t i = 0; i < N; ++i)
      if (literal(names[i])) return static_cast<int>(i);
    return -1;
  }
  bool done() const { return pos_ == s_.size(); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

// time-of-day = hour ":" minute ":" second (second 00-60: leap second).
bool time_of_day(Scanner& sc, int& h, int& mi, int& s) {
  return sc.digits(2, h) && sc.literal(":") && sc.digits(2, mi) && sc.literal(":") &&
         sc.digits(2, s) && h <= 23 && mi <= 59 && s <= 60;
}

std::optional<std::int64_t> to_unix(std::int64_t year, int month_index, int day, int h, int mi,
                                    int s) {
  if (month_index < 0 || day < 1) return std::nullopt;
  const unsigned m = static_cast<unsigned>(month_index + 1);
  if (static_cast<unsigned>(day) > days_in_month(year, m)) return std::nullopt;
  return days_from_civil(year, m, static_cast<unsigned>(day)) * 86400 + h * 3600 + mi * 60 + s;
}

std::int64_t year_of(std::int64_t unix_seconds) {
  std::int64_t days = unix_seconds / 86400;
  if (unix_seconds % 86400 < 0) --days;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  return y;
}

}  // namespace

std::optional<std::int64_t> parse_http_date(std::string_view text, std::int64_t now) {
  int day = 0, h = 0, mi = 0, s = 0, year = 0;
  // IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT
  {
    Scanner sc(text);
    int month = -1;
    if (sc.one_of(kDays) >= 0 && sc.literal(", ") && sc.digits(2, day) && sc.literal(" ") &&
        (month = sc.one_of(kMonths)) >= 0 && sc.literal(" ") && sc.digits(4, year) &&
        sc.literal(" ") && time_of_day(sc, h, mi, s) && sc.literal(" GMT") && sc.done())
      return to_unix(year, month, day, h, mi, s);
  }
  // rfc850-date = day-name-l "," SP date2 SP time-of-day SP GMT
  // date2 = day "-" month "-" 2DIGIT
  {
    Scanner sc(text);
    int month = -1;
    if (sc.one_of(kLongDays) >= 0 && sc.literal(", ") && sc.digits(2, day) && sc.literal("-") &&
        (month = sc.one_of(kMonths)) >= 0 && sc.literal("-") && sc.digits(2, year) &&
        sc.literal(" ") && time_of_day(sc, h, mi, s) && sc.literal(" GMT") && sc.done()) {
      // RFC 9110 §5.6.7: more than 50 years in the future means the past.
      const std::int64_t now_year = year_of(now);
      std::int64_t full = now_year - now_year % 100 + year;
      if (full > now_year + 50) full -= 100;
      return to_unix(full, month, day, h, mi, s);
    }
  }
  // asctime-date = day-name SP date3 SP time-of-day SP year
  // date3 = month SP ( 2DIGIT / ( SP DIGIT ) )
  {
    Scanner sc(text);
    int month = -1;
    if (sc.one_of(kDays) >= 0 && sc.literal(" ") && (month = sc.one_of(kMonths)) >= 0 &&
        sc.literal(" ") &&
        (sc.peek() == ' ' ? sc.literal(" ") && sc.digits(1, day) : sc.digits(2, day)) &&
        sc.literal(" ") && time_of_day(sc, h, mi, s) && sc.literal(" ") && sc.digits(4, year) &&
        sc.done())
      return to_unix(year, month, day, h, mi, s);
  }
  return std::nullopt;
}

HttpDate format_http_date(std::int64_t unix_seconds) {
  std::int64_t days = unix_seconds / 86400;
  std::int64_t rem = unix_seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  if (y < 0) y = 0;  // IMF-fixdate has four year digits; clamp nonsense
  if (y > 9999) y = 9999;
  const int wday = static_cast<int>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  const int h = static_cast<int>(rem / 3600), mi = static_cast<int>(rem / 60 % 60),
            s = static_cast<int>(rem % 60);
  HttpDate out;
  char* p = out.text;
  auto put = [&p](std::string_view v) {
    for (char c : v)
      *p++ = c;
  };
  auto put2 = [&p](int v) {
    *p++ = static_cast<char>('0' + v / 10);
    *p++ = static_cast<char>('0' + v % 10);
  };
  put(kDays[wday]);
  put(", ");
  put2(static_cast<int>(d));
  *p++ = ' ';
  put(kMonths[m - 1]);
  *p++ = ' ';
  put2(static_cast<int>(y / 100));
  put2(static_cast<int>(y % 100));
  *p++ = ' ';
  put2(h);
  *p++ = ':';
  put2(mi);
  *p++ = ':';
  put2(s);
  put(" GMT");
  *p = '\0';
  return out;
}

}  // namespace dquic::h3static
