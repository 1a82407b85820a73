// --stats-interval's line (runtime/stats_printer.h): its numbers from
// counter deltas, and the printer thread's start and stop. No EAL.
#include "runtime/stats_printer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace dquic {
namespace {

TEST(StatsLineTest, RatesFromDeltas) {
  WorkerCounters before, after;
  before.rx_packets = 1000;
  after.rx_packets = 1000 + 2'400'000;  // over 2 s: 1.2 Mpps
  before.tx_packets = 10;
  after.tx_packets = 10 + 6'800;   // 3.4 Kpps
  after.rx_bytes = 2'500'000'000;  // 20 Gbit over 2 s
  after.tx_bytes = 125'000'000;    // 1 Gbit over 2 s
  after.connections_active = 12;
  before.handshakes_completed = 5;
  after.handshakes_completed = 8;
  before.udp_drops[1] = 4;
  after.udp_drops[1] = 10;
  after.tx_dropped = 1;
  EXPECT_EQ(format_stats_line("port=0", before, after, 2.0, 5.0),
            "stats: port=0 t=5s conns=12 rx=1.20Mpps tx=3.4Kpps rx_gbps=10.000 tx_gbps=0.500 "
            "drops=7 handshakes=3");
}

TEST(StatsLineTest, NoLabelIdleAndCountersThatWentBack) {
  WorkerCounters before, after;
  before.rx_packets = 50;  // e.g. blocks replaced: no negative rates
  after.tx_packets = 3;
  EXPECT_EQ(format_stats_line("", before, after, 1.0, 60.0),
            "stats: t=60s conns=0 rx=0pps tx=3pps rx_gbps=0.000 tx_gbps=0.000 drops=0 "
            "handshakes=0");
  // A zero interval is taken as 1 s rather than dividing by zero.
  EXPECT_EQ(format_stats_line("x", before, after, 0.0, 0.0),
            "stats: x t=0s conns=0 rx=0pps tx=3pps rx_gbps=0.000 tx_gbps=0.000 drops=0 "
            "handshakes=0");
}

// The printer's output file, read back.
struct TempFile {
  std::array<char, 64> name{};
  std::FILE* f = nullptr;
  TempFile() {
    std::snprintf(name.data(), name.size(), "/tmp/dquic_stats_XXXXXX");
    const int fd = mkstemp(name.data());
    if (fd >= 0) f = fdopen(fd, "w+");
  }
  ~TempFile() {
    if (f != nullptr) std::fclose(f);
    unlink(name.data());
  }
  std::string text() {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    std::array<char, 4096> buf;
    for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;)
      s.append(buf.data(), n);
    return s;
  }
};

TEST(StatsPrinterTest, PrintsLinesUntilStopped) {
  TempFile out;
  ASSERT_NE(out.f, nullptr);
  WorkerCounters a, b;
  a.connections_active = 2;
  b.connections_active = 3;
  StatsPrinter p({&a, &b, nullptr}, 1, out.f, "port=7");
  p.start();
  // Bounded: the first line is due after 1 s.
  for (int i = 0; i < 100 && p.lines() == 0; ++i)
    usleep(100'000);
  p.stop();
  ASSERT_GE(p.lines(), 1u);
  const std::uint64_t lines = p.lines();
  const std::string text = out.text();
  EXPECT_EQ(text.rfind("stats: port=7 t=", 0), 0u) << text;
  EXPECT_NE(text.find(" conns=5 "), std::string::npos) << text;
  std::size_t newlines = 0;
  for (char c : text)
    newlines += c == '\n';
  EXPECT_EQ(newlines, lines);
  p.stop();  // idempotent
  EXPECT_EQ(p.lines(), lines);
}

TEST(StatsPrinterTest, TheRunsStopFlagEndsIt) {
  TempFile out;
  ASSERT_NE(out.f, nullptr);
  WorkerCounters a;
  StatsPrinter p({&a}, 3600, out.f, "");
  std::atomic<bool> stop{true};
  p.start(&stop);
  p.stop();  // joins a thread that has seen the flag (or the stop)
  EXPECT_EQ(p.lines(), 0u);
  EXPECT_EQ(out.text(), "");
}

TEST(StatsPrinterTest, NoOutputNoThread) {
  WorkerCounters a;
  StatsPrinter p({&a}, 1, nullptr, "");
  p.start();
  p.stop();
  EXPECT_EQ(p.lines(), 0u);
}

}  // namespace
}  // namespace dquic
