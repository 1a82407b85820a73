#include "apps/h3-static/access_log.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace dquic::h3static {
namespace {

AccessLogEntry entry() {
  AccessLogEntry e;
  e.time_ns = 1796256000LL * 1000000000 + 123456789;  // 2026-12-03T00:00:00.123
  e.peer = PeerAddress::ipv4({198, 18, 0, 1}, 50123);
  e.method = "GET";
  e.path = "/index.html";
  e.status = 200;
  e.bytes = 1234;
  e.duration_ns = 512345;
  e.stream_id = 4;
  return e;
}

std::string line(const AccessLogEntry& e) {
  char buf[kAccessLogLineMax];
  const std::size_t n = format_access_log_line(e, buf);
  EXPECT_LT(n, kAccessLogLineMax);
  return std::string(buf, n);
}

TEST(AccessLog, Format) {
  EXPECT_EQ(line(entry()),
            "2026-12-03T00:00:00.123Z 198.18.0.1:50123 GET \"/index.html\" 200 1234 0.512ms "
            "stream=4\n");
}

TEST(AccessLog, Ipv6) {
  AccessLogEntry e = entry();
  e.peer = PeerAddress::ipv6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 443);
  e.duration_ns = 2500000000ULL;
  e.stream_id = 0;
  e.status = 404;
  e.bytes = 0;
  EXPECT_EQ(line(e),
            "2026-12-03T00:00:00.123Z [2001:db8::1]:443 GET \"/index.html\" 404 0 2500.000ms "
            "stream=0\n");
}

TEST(AccessLog, HostileBytesEscaped) {
  AccessLogEntry e = entry();
  e.path = std::string_view("/a\"b\\c\nd e\x1b[31m\xff\0", 17);
  e.method = "G\nT";
  const std::string l = line(e);
  EXPECT_EQ(l,
            "2026-12-03T00:00:00.123Z 198.18.0.1:50123 G\\x0aT "
            "\"/a\\x22b\\x5cc\\x0ad\\x20e\\x1b[31m\\xff\\x00\" 200 1234 0.512ms stream=4\n");
  EXPECT_EQ(l.find('\n'), l.size() - 1);  // one line
}

TEST(AccessLog, LongPathTruncatedButLineComplete) {
  AccessLogEntry e = entry();
  const std::string long_path(5000, '\x01');
  e.path = long_path;
  e.method = std::string_view("XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX");
  const std::string l = line(e);
  EXPECT_LT(l.size(), kAccessLogLineMax);
  EXPECT_NE(l.find("...\" 200 1234 0.512ms stream=4\n"), std::string::npos) << l;
  EXPECT_EQ(l.find('\n'), l.size() - 1);
}

TEST(AccessLog, WritesOneLinePerCallToTheStream) {
  char* buf = nullptr;
  std::size_t size = 0;
  std::FILE* f = open_memstream(&buf, &size);
  ASSERT_NE(f, nullptr);
  AccessLog log(f);
  log.write(entry());
  AccessLogEntry e = entry();
  e.path = "/b";
  log.write(e);
  ASSERT_EQ(std::fclose(f), 0);
  const std::string out(buf, size);
  std::free(buf);
  EXPECT_EQ(out, line(entry()) + line(e));
  AccessLog off(nullptr);
  off.write(entry());  // no stream: nothing happens
}

}  // namespace
}  // namespace dquic::h3static
