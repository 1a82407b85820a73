#include "apps/h3-static/access_log.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>

#include <cstring>

namespace dquic::h3static {
namespace {

// Appends with bounds; the line is cut rather than overflowing.
class LineWriter {
 public:
  LineWriter(char* buf, std::size_t cap) : buf_(buf), cap_(cap) {}
  void put(std::string_view s) {
    const std::size_t n = s.size() < room() ? s.size() : room();
    std::memcpy(buf_ + len_, s.data(), n);
    len_ += n;
  }
  void put(char c) {
    if (room() > 0) buf_[len_++] = c;
  }
  template <class... Args>
  void printf(const char* fmt, Args... args) {
    if (room() == 0) return;
    const int n = std::snprintf(buf_ + len_, room() + 1, fmt, args...);
    if (n > 0) len_ += static_cast<std::size_t>(n) < room() ? static_cast<std::size_t>(n) : room();
  }
  std::size_t room() const { return cap_ - len_; }
  std::size_t length() const { return len_; }

 private:
  char* buf_;
  std::size_t cap_;  // excluding a final NUL slot
  std::size_t len_ = 0;
};

// Output bytes for the escaped fields: with the fixed-width rest of the
// line they stay well inside kAccessLogLineMax, so status and the numbers
// after the path are never cut.
constexpr std::size_t kMaxLoggedPath = 640;
constexpr std::size_t kMaxLoggedMethod = 32;

void put_escaped(LineWriter& w, std::string_view s, std::size_t max_out) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t used = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const bool escape = c < 0x21 || c > 0x7e || c == '"' || c == '\\';
    const std::size_t n = escape ? 4 : 1;
    if (used + n > max_out) {
      w.put("...");
      return;
    }
    used += n;
    if (escape) {
      w.put("\\x");
      w.put(kHex[c >> 4]);
      w.put(kHex[c & 15]);
    } else {
      w.put(static_cast<char>(c));
    }
  }
}

}  // namespace

std::size_t format_access_log_line(const AccessLogEntry& e, char* out) {
  // One byte kept for the NUL snprintf writes, one for the newline.
  LineWriter w(out, kAccessLogLineMax - 2);
  std::int64_t secs = e.time_ns / 1000000000;
  std::int64_t ns = e.time_ns % 1000000000;
  if (ns < 0) {
    ns += 1000000000;
    --secs;
  }
  const time_t t = static_cast<time_t>(secs);
  struct tm tm;
  gmtime_r(&t, &tm);
  w.printf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
           tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ns / 1000000));

  char addr[INET6_ADDRSTRLEN];
  if (e.peer.family == PeerAddress::Family::kIpv6) {
    inet_ntop(AF_INET6, e.peer.address.data(), addr, sizeof addr);
    w.printf("[%s]:%u ", addr, static_cast<unsigned>(e.peer.port));
  } else {
    inet_ntop(AF_INET, e.peer.address.data(), addr, sizeof addr);
    w.printf("%s:%u ", addr, static_cast<unsigned>(e.peer.port));
  }
  put_escaped(w, e.method, kMaxLoggedMethod);
  w.put(" \"");
  put_escaped(w, e.path, kMaxLoggedPath);
  w.put("\" ");
  w.printf("%d %llu %llu.%03llums stream=%llu", e.status, static_cast<unsigned long long>(e.bytes),
           static_cast<unsigned long long>(e.duration_ns / 1000000),
           static_cast<unsigned long long>(e.duration_ns / 1000 % 1000),
           static_cast<unsigned long long>(e.stream_id));
  std::size_t n = w.length();
  out[n++] = '\n';
  out[n] = '\0';
  return n;
}

void AccessLog::write(const AccessLogEntry& e) {
  if (out_ == nullptr) return;
  char line[kAccessLogLineMax];
  const std::size_t n = format_access_log_line(e, line);
  std::fwrite(line, 1, n, out_);
}

}  // namespace dquic::h3static
