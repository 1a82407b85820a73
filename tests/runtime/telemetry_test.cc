// Worker counters (helpers, snapshot, sum, the exit summary) and their
// rte_telemetry commands, end to end over the telemetry v2 socket.
//
// This binary has its own main(): tests/dpdk_test_main.cc starts the EAL with
// --no-telemetry, and the point here is the socket. The EAL runs with the
// usual test flags (--no-huge --no-shconf --no-pci -m 1024) and telemetry on;
// on DPDK 22.11 --no-shconf still creates the runtime directory
// (/var/run/dpdk/<file-prefix> for root) and the socket dpdk_telemetry.v2 in
// it. The file prefix is unique per process; the directory is removed at the
// end if this process created it.
#include "runtime/telemetry.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_telemetry.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "offload/backends.h"
#include "offload/protector.h"
#include "runtime/connection_snapshot.h"
#include "runtime/worker_counters.h"
#include "runtime/worker_loop_counters.h"

namespace dquic {
namespace {

std::string g_file_prefix;
std::string g_runtime_dir;

// --- counters ---------------------------------------------------------------

TEST(WorkerCountersTest, LayoutIsOneBlockPerCacheLine) {
  EXPECT_EQ(alignof(WorkerCounters), 64u);
  EXPECT_EQ(sizeof(WorkerCounters) % 64, 0u);
  WorkerCounters two[2];
  const auto a = reinterpret_cast<std::uintptr_t>(&two[0]);
  const auto b = reinterpret_cast<std::uintptr_t>(&two[1]);
  EXPECT_EQ(a % 64, 0u);
  EXPECT_GE(b - a, sizeof(WorkerCounters));
}

TEST(WorkerCountersTest, UdpDropReasonCountIsTheEnumsEnd) {
  // The enum has no kCount: the value past kBadUdpChecksum must have no name.
  EXPECT_STREQ(to_string(static_cast<UdpDropReason>(kUdpDropReasonCount)), "unknown");
  EXPECT_STREQ(to_string(static_cast<UdpDropReason>(kUdpDropReasonCount - 1)), "bad_udp_checksum");
}

TEST(WorkerCountersTest, FieldTableNamesAreStable) {
  std::set<std::string> keys;
  for (const WorkerCounterField& f : worker_counter_fields()) {
    EXPECT_EQ(std::string(f.key), std::string(f.group) + "_" + f.name);
    EXPECT_TRUE(keys.insert(f.key).second) << f.key;
  }
  EXPECT_EQ(keys.size(), kWorkerCounterFieldCount);
  // Names users grep and scripts read: renaming one is a breaking change.
  for (const char* k : {"rx_packets",
                        "rx_bytes",
                        "tx_packets",
                        "tx_bytes",
                        "tx_dropped",
                        "redirects_out",
                        "redirects_in",
                        "redirects_ring_full",
                        "crypto_enqueued",
                        "crypto_completed",
                        "crypto_failed",
                        "connections_opened",
                        "connections_closed",
                        "connections_active",
                        "handshakes_completed",
                        "handshakes_failed",
                        "stateless_version_negotiation",
                        "stateless_retry",
                        "stateless_reset",
                        "stateless_close",
                        "impair_dropped",
                        "impair_queue_full",
                        "impair_duplicated",
                        "impair_corrupted",
                        "impair_delayed",
                        "impair_reordered",
                        "impair_copy_failures"})
    EXPECT_TRUE(keys.count(k)) << k;
}

TEST(WorkerLoopCountersTest, FieldTableNamesAreStableAndDistinct) {
  std::set<std::string> keys;
  for (const WorkerLoopCounterField& f : worker_loop_counter_fields()) {
    EXPECT_EQ(std::string(f.key), std::string(f.group) + "_" + f.name);
    EXPECT_TRUE(keys.insert(f.key).second) << f.key;
  }
  EXPECT_EQ(keys.size(), kWorkerLoopCounterFieldCount);
  for (const char* k : {"receive_udp_datagrams",
                        "receive_not_local",
                        "receive_not_listening",
                        "receive_multi_segment",
                        "receive_redirect_loops",
                        "receive_zero_rtt_no_mbuf",
                        "next_hop_solicitations_sent",
                        "next_hop_held",
                        "next_hop_released",
                        "next_hop_hold_dropped",
                        "next_hop_no_route",
                        "send_build_failed",
                        "send_no_mbuf",
                        "send_flush_deferred",
                        "cycles_receive",
                        "cycles_timers",
                        "cycles_app",
                        "cycles_send",
                        "cycles_idle",
                        "polls_busy",
                        "polls_idle"})
    EXPECT_TRUE(keys.count(k)) << k;
  // Telemetry puts both tables in one dict: no key may be in both.
  for (const WorkerCounterField& f : worker_counter_fields())
    EXPECT_FALSE(keys.count(f.key)) << f.key;
}

TEST(WorkerLoopCountersTest, EveryFieldMapsToItsOwnMember) {
  WorkerLoopCounters c;
  std::uint64_t v = 1;
  for (const WorkerLoopCounterField& f : worker_loop_counter_fields())
    c.*f.member = v++;
  EXPECT_EQ(c.udp_datagrams, 1u);
  EXPECT_EQ(c.zero_rtt_no_mbuf, 6u);
  EXPECT_EQ(c.solicitations_sent, 7u);
  EXPECT_EQ(c.held, 8u);
  EXPECT_EQ(c.no_route, 11u);
  EXPECT_EQ(c.build_failed, 12u);
  EXPECT_EQ(c.flush_deferred, 14u);
  EXPECT_EQ(c.cycles_receive, 15u);
  EXPECT_EQ(c.cycles_send, 18u);
  EXPECT_EQ(c.polls_idle, 21u);
}

// Worker w's loop field i holds (w + 1) * 10000 + i.
WorkerLoopCounters known_loop_block(std::uint64_t w) {
  WorkerLoopCounters c;
  std::uint64_t i = 0;
  for (const WorkerLoopCounterField& f : worker_loop_counter_fields())
    c.*f.member = (w + 1) * 10000 + i++;
  return c;
}

TEST(WorkerLoopCountersTest, SnapshotAndSum) {
  const WorkerLoopCounters a = known_loop_block(0);
  const WorkerLoopCounters b = known_loop_block(1);
  const WorkerLoopCounters s = snapshot(a);
  EXPECT_EQ(std::memcmp(&a, &s, sizeof(a)), 0);
  const std::array<const WorkerLoopCounters*, 3> blocks = {&a, nullptr, &b};
  const WorkerLoopCounters t = sum_loops(blocks);
  for (const WorkerLoopCounterField& f : worker_loop_counter_fields())
    EXPECT_EQ(t.*f.member, a.*f.member + b.*f.member) << f.key;
  EXPECT_EQ(sum_loops({}).udp_datagrams, 0u);
}

TEST(WorkerLoopCountersTest, FormatOneLinePerNonZeroGroup) {
  std::string out = "keep";
  format_loop_counters(WorkerLoopCounters{}, "total ", &out);
  EXPECT_EQ(out, "keep");
  WorkerLoopCounters c;
  c.udp_datagrams = 9;
  c.not_listening = 2;
  c.no_mbuf = 1;
  out.clear();
  format_loop_counters(c, "worker 1 ", &out);
  EXPECT_EQ(out,
            "worker 1 receive udp_datagrams=9 not_local=0 not_listening=2 multi_segment=0 "
            "redirect_loops=0 zero_rtt_no_mbuf=0\n"
            "worker 1 send build_failed=0 no_mbuf=1 flush_deferred=0\n");
  WorkerLoopCounters d;
  d.held = 3;
  d.released = 3;
  out.clear();
  format_loop_counters(d, {}, &out);
  EXPECT_EQ(out, "next_hop solicitations_sent=0 held=3 released=3 hold_dropped=0 no_route=0\n");
}

TEST(WorkerCountersTest, EveryFieldMapsToItsOwnMember) {
  // Each table entry writes a distinct member: set them to distinct values
  // and read them back by name.
  WorkerCounters c;
  std::uint64_t v = 1;
  for (const WorkerCounterField& f : worker_counter_fields())
    c.*f.member = v++;
  EXPECT_EQ(c.rx_packets, 1u);
  EXPECT_EQ(c.rx_bytes, 2u);
  EXPECT_EQ(c.tx_dropped, 5u);
  EXPECT_EQ(c.redirects_ring_full, 8u);
  EXPECT_EQ(c.connections_active, 14u);
  EXPECT_EQ(c.stateless_close, 20u);
  EXPECT_EQ(c.impair_dropped, 21u);
  EXPECT_EQ(c.impair_corrupted, 24u);
  EXPECT_EQ(c.impair_copy_failures, 27u);
}

TEST(WorkerCountersTest, Helpers) {
  WorkerCounters c;
  c.count_rx(100);
  c.count_rx(50);
  c.count_tx(1200);
  EXPECT_EQ(c.rx_packets, 2u);
  EXPECT_EQ(c.rx_bytes, 150u);
  EXPECT_EQ(c.tx_packets, 1u);
  EXPECT_EQ(c.tx_bytes, 1200u);

  c.count_drop(UdpDropReason::kBadUdpChecksum);
  c.count_drop(UdpDropReason::kBadUdpChecksum);
  c.count_drop(UdpDropReason::kNone);                             // not a drop: ignored
  c.count_drop(static_cast<UdpDropReason>(kUdpDropReasonCount));  // out of range: ignored
  c.count_drop(ControlDropReason::kNotForUs);
  c.count_drop(ControlDropReason::kCount);
  c.count_drop(EndpointDrop::kMalformed);
  c.count_drop(EndpointDrop::kCount);
  EXPECT_EQ(c.drops(UdpDropReason::kBadUdpChecksum), 2u);
  EXPECT_EQ(c.drops(UdpDropReason::kNone), 0u);
  EXPECT_EQ(c.drops(ControlDropReason::kNotForUs), 1u);
  EXPECT_EQ(c.drops(EndpointDrop::kMalformed), 1u);
  c.tx_dropped = 3;
  c.redirects_ring_full = 4;
  EXPECT_EQ(c.total_drops(), 2u + 1 + 1 + 3 + 4);
  c.impair_dropped = 5;  // the test's drops, not the stack's
  c.impair_queue_full = 6;
  EXPECT_EQ(c.total_drops(), 2u + 1 + 1 + 3 + 4);

  c.count_connection_opened();
  c.count_connection_opened();
  c.count_connection_closed();
  EXPECT_EQ(c.connections_opened, 2u);
  EXPECT_EQ(c.connections_closed, 1u);
  EXPECT_EQ(c.connections_active, 1u);
  c.count_connection_closed();
  c.count_connection_closed();  // more closes than opens: the gauge stays at 0
  EXPECT_EQ(c.connections_active, 0u);

  using R = EndpointDecision::Response;
  for (R r : {R::kNone, R::kVersionNegotiation, R::kRetry, R::kRetry, R::kStatelessReset,
              R::kConnectionClose, R::kConnectionClose, R::kConnectionClose})
    c.count_stateless(r);
  EXPECT_EQ(c.stateless_version_negotiation, 1u);
  EXPECT_EQ(c.stateless_retry, 2u);
  EXPECT_EQ(c.stateless_reset, 1u);
  EXPECT_EQ(c.stateless_close, 3u);
}

// Two workers with distinct, known values in every counter: worker w's field
// i holds (w + 1) * 1000 + i, its drop reason j of layer L holds
// (w + 1) * 100000 + L * 100 + j.
WorkerCounters known_block(std::uint64_t w) {
  WorkerCounters c;
  std::uint64_t i = 0;
  for (const WorkerCounterField& f : worker_counter_fields())
    c.*f.member = (w + 1) * 1000 + i++;
  for (std::size_t j = 1; j < c.udp_drops.size(); ++j)
    c.udp_drops[j] = (w + 1) * 100000 + 100 + j;
  for (std::size_t j = 1; j < c.control_drops.size(); ++j)
    c.control_drops[j] = (w + 1) * 100000 + 200 + j;
  for (std::size_t j = 0; j < c.endpoint_drops.size(); ++j)
    c.endpoint_drops[j] = (w + 1) * 100000 + 300 + j;
  return c;
}

TEST(WorkerCountersTest, SumAddsEveryCounterAndSkipsNull) {
  const WorkerCounters a = known_block(0);
  const WorkerCounters b = known_block(1);
  const std::array<const WorkerCounters*, 3> blocks = {&a, nullptr, &b};
  const WorkerCounters t = sum(blocks);
  for (const WorkerCounterField& f : worker_counter_fields())
    EXPECT_EQ(t.*f.member, a.*f.member + b.*f.member) << f.key;
  for (std::size_t j = 0; j < t.udp_drops.size(); ++j)
    EXPECT_EQ(t.udp_drops[j], a.udp_drops[j] + b.udp_drops[j]);
  for (std::size_t j = 0; j < t.control_drops.size(); ++j)
    EXPECT_EQ(t.control_drops[j], a.control_drops[j] + b.control_drops[j]);
  for (std::size_t j = 0; j < t.endpoint_drops.size(); ++j)
    EXPECT_EQ(t.endpoint_drops[j], a.endpoint_drops[j] + b.endpoint_drops[j]);
  EXPECT_EQ(t.total_drops(), a.total_drops() + b.total_drops());

  const WorkerCounters zero = sum({});
  EXPECT_EQ(zero.rx_packets, 0u);
  EXPECT_EQ(zero.total_drops(), 0u);
}

TEST(WorkerCountersTest, SnapshotCopiesEverything) {
  const WorkerCounters a = known_block(3);
  const WorkerCounters s = snapshot(a);
  EXPECT_EQ(std::memcmp(&a, &s, sizeof(a)), 0);
}

TEST(WorkerCountersTest, SnapshotWhileTheWorkerWrites) {
  // A reader never sees a counter go backwards or beyond what was written.
  // (Not a timing assertion: it holds for any interleaving.)
  WorkerCounters live;
  std::atomic<bool> done{false};
  constexpr std::uint64_t kIncrements = 2'000'000;
  std::thread worker([&] {
    for (std::uint64_t i = 0; i < kIncrements; ++i)
      live.count_rx(3);
    done.store(true, std::memory_order_release);
  });
  std::uint64_t last = 0;
  bool monotonic = true;
  for (int i = 0; i < 100000 && !done.load(std::memory_order_acquire); ++i) {
    const WorkerCounters s = snapshot(live);
    monotonic =
        monotonic && s.rx_packets >= last && s.rx_packets <= kIncrements && s.rx_bytes % 3 == 0;
    last = s.rx_packets;
  }
  worker.join();
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(snapshot(live).rx_packets, kIncrements);
  EXPECT_EQ(snapshot(live).rx_bytes, 3 * kIncrements);
}

TEST(WorkerCountersTest, FormatNothingWhenZero) {
  std::string out = "keep";
  format_counters(WorkerCounters{}, "total ", &out);
  EXPECT_EQ(out, "keep");
}

TEST(WorkerCountersTest, FormatOneLinePerNonZeroGroup) {
  WorkerCounters c;
  c.rx_packets = 10;
  c.rx_bytes = 12000;
  c.crypto_failed = 2;
  c.handshakes_completed = 4;
  c.stateless_retry = 1;
  c.count_drop(UdpDropReason::kTooShort);
  c.count_drop(UdpDropReason::kBadUdpChecksum);
  c.count_drop(UdpDropReason::kBadUdpChecksum);
  c.count_drop(EndpointDrop::kReflectionPort);
  c.count_drop(EndpointDrop::kZeroRttNotBuffered);
  std::string out;
  format_counters(c, "total ", &out);
  EXPECT_EQ(out,
            "total rx packets=10 bytes=12000\n"
            "total crypto enqueued=0 completed=0 failed=2\n"
            "total handshakes completed=4 failed=0\n"
            "total stateless version_negotiation=0 retry=1 reset=0 close=0\n"
            "total drop_udp too_short=1 bad_udp_checksum=2\n"
            "total drop_endpoint reflection_port=1 zero_rtt_not_buffered=1\n");

  WorkerCounters d;
  d.count_drop(ControlDropReason::kBadIcmpChecksum);
  d.tx_dropped = 5;
  d.redirects_in = 7;
  d.count_connection_opened();
  d.impair_dropped = 3;
  d.impair_corrupted = 1;
  std::string out2;
  format_counters(d, &out2);
  EXPECT_EQ(out2,
            "tx packets=0 bytes=0 dropped=5\n"
            "redirects out=0 in=7 ring_full=0\n"
            "connections opened=1 closed=0 active=1\n"
            "impair dropped=3 queue_full=0 duplicated=0 corrupted=1 delayed=0 reordered=0 "
            "copy_failures=0 dropped_sent=0\n"
            "drop_control bad_icmp_checksum=1\n");
}

TEST(WorkerCountersTest, SummaryPerWorkerThenTotal) {
  WorkerCounters a;
  WorkerCounters b;
  a.count_rx(100);
  b.count_rx(200);
  b.count_drop(UdpDropReason::kFragment);
  WorkerCounters idle;  // prints nothing of its own
  const std::array<const WorkerCounters*, 4> blocks = {&a, &idle, nullptr, &b};
  std::string out;
  format_summary(blocks, &out);
  EXPECT_EQ(out,
            "worker 0 rx packets=1 bytes=100\n"
            "worker 3 rx packets=1 bytes=200\n"
            "worker 3 drop_udp fragment=1\n"
            "total rx packets=2 bytes=300\n"
            "total drop_udp fragment=1\n");
}

TEST(WorkerCountersTest, SummaryWithLoopCounters) {
  WorkerCounters a;
  WorkerCounters b;
  a.count_rx(100);
  b.count_rx(200);
  WorkerLoopCounters la;
  WorkerLoopCounters lb;
  la.udp_datagrams = 1;
  lb.udp_datagrams = 1;
  lb.solicitations_sent = 2;
  // Worker 2 has no loop block; worker 1 has one but no counter block.
  const std::array<const WorkerCounters*, 3> blocks = {&a, nullptr, &b};
  const std::array<const WorkerLoopCounters*, 2> loops = {&la, &lb};
  std::string out;
  format_summary(blocks, loops, &out);
  EXPECT_EQ(out,
            "worker 0 rx packets=1 bytes=100\n"
            "worker 0 receive udp_datagrams=1 not_local=0 not_listening=0 multi_segment=0 "
            "redirect_loops=0 zero_rtt_no_mbuf=0\n"
            "worker 2 rx packets=1 bytes=200\n"
            "total rx packets=2 bytes=300\n"
            "total receive udp_datagrams=2 not_local=0 not_listening=0 multi_segment=0 "
            "redirect_loops=0 zero_rtt_no_mbuf=0\n"
            "total next_hop solicitations_sent=2 held=0 released=0 hold_dropped=0 no_route=0\n");
  // Without loop blocks: as the two-argument form.
  std::string plain, empty_loops;
  format_summary(blocks, &plain);
  format_summary(blocks, {}, &empty_loops);
  EXPECT_EQ(plain, empty_loops);
  EXPECT_EQ(plain,
            "worker 0 rx packets=1 bytes=100\n"
            "worker 2 rx packets=1 bytes=200\n"
            "total rx packets=2 bytes=300\n");
}

TEST(WorkerCountersTest, EveryCounterHasAUniqueTelemetryKey) {
  const WorkerCounters c = known_block(0);
  std::set<std::string> keys;
  std::size_t n = 0;
  std::uint64_t total = 0;
  for_each_counter(c, [&](const char* key, std::uint64_t v) {
    ++n;
    total += v;
    const std::string k = key;
    EXPECT_TRUE(keys.insert(k).second) << k;
    // rte_telemetry dict names: alphanumerics, '_' and '/', < RTE_TEL_MAX_STRING_LEN.
    EXPECT_LT(k.size(), static_cast<std::size_t>(RTE_TEL_MAX_STRING_LEN));
    EXPECT_EQ(k.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_"), std::string::npos) << k;
    // to_string's fallback for a value it does not name.
    EXPECT_FALSE(k.size() >= 8 && k.compare(k.size() - 8, 8, "_unknown") == 0) << k;
  });
  EXPECT_EQ(n, kWorkerCounterFieldCount + (kUdpDropReasonCount - 1) +
                   (kControlDropReasonCount - 1) + kEndpointDropCount);
  // The loop counters share the telemetry dict: their keys are new ones.
  const WorkerLoopCounters l = known_loop_block(0);
  std::size_t m = 0;
  for_each_loop_counter(l, [&](const char* key, std::uint64_t v) {
    ++m;
    const std::string k = key;
    EXPECT_TRUE(keys.insert(k).second) << k;
    EXPECT_LT(k.size(), static_cast<std::size_t>(RTE_TEL_MAX_STRING_LEN));
    EXPECT_EQ(k.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_"), std::string::npos) << k;
    EXPECT_EQ(v, l.*worker_loop_counter_fields()[m - 1].member);
  });
  EXPECT_EQ(m, kWorkerLoopCounterFieldCount);
  EXPECT_TRUE(keys.count("drop_udp_bad_udp_checksum"));
  EXPECT_TRUE(keys.count("drop_control_not_for_us"));
  EXPECT_TRUE(keys.count("drop_endpoint_zero_rtt_not_buffered"));
  EXPECT_FALSE(keys.count("drop_udp_none"));
  EXPECT_FALSE(keys.count("drop_control_none"));
  // Zeros are listed too; every counter was visited once.
  std::uint64_t expected = 0;
  for (const WorkerCounterField& f : worker_counter_fields())
    expected += c.*f.member;
  for (std::uint64_t d : c.udp_drops)
    expected += d;
  for (std::uint64_t d : c.control_drops)
    expected += d;
  for (std::uint64_t d : c.endpoint_drops)
    expected += d;
  EXPECT_EQ(total, expected);
}

// --- telemetry: the callbacks directly --------------------------------------

struct TelData {
  rte_tel_data* d = rte_tel_data_alloc();
  ~TelData() { rte_tel_data_free(d); }
};

TEST(TelemetryCallbacksTest, ErrorsWithoutRegistryAndOnBadIds) {
  telemetry_unregister();
  {
    TelData t;
    EXPECT_EQ(telemetry_stats_cmd(kTelemetryStatsCmd, nullptr, t.d), -ENOENT);
  }
  {
    TelData t;
    EXPECT_EQ(telemetry_workers_cmd(kTelemetryWorkersCmd, nullptr, t.d), -ENOENT);
  }
  {
    TelData t;
    EXPECT_EQ(telemetry_worker_cmd(kTelemetryWorkerCmd, "0", t.d), -ENOENT);
  }
  const WorkerCounters a = known_block(0);
  const std::array<const WorkerCounters*, 1> blocks = {&a};
  ASSERT_TRUE(telemetry_register(blocks));
  for (const char* bad :
       {"", "x", "-1", "+0", " 0", "0 ", "0x1", "1,2", "99999999999999999999999999"}) {
    TelData t;
    EXPECT_EQ(telemetry_worker_cmd(kTelemetryWorkerCmd, bad, t.d), -EINVAL) << bad;
  }
  {
    TelData t;
    EXPECT_EQ(telemetry_worker_cmd(kTelemetryWorkerCmd, nullptr, t.d), -EINVAL);
  }
  {
    TelData t;
    EXPECT_EQ(telemetry_worker_cmd(kTelemetryWorkerCmd, "1", t.d), -ENOENT);
  }
  {
    TelData t;
    EXPECT_EQ(telemetry_worker_cmd(kTelemetryWorkerCmd, "0", t.d), 0);
  }
  {
    TelData t;
    EXPECT_EQ(telemetry_stats_cmd(kTelemetryStatsCmd, nullptr, t.d), 0);
  }
  telemetry_unregister();
}

TEST(TelemetryCallbacksTest, TopAndCryptoErrors) {
  telemetry_unregister();
  {
    TelData t;
    EXPECT_EQ(telemetry_top_cmd(kTelemetryTopCmd, nullptr, t.d), -ENOENT);
  }
  {
    TelData t;
    EXPECT_EQ(telemetry_crypto_cmd(kTelemetryCryptoCmd, nullptr, t.d), -ENOENT);
  }
  const WorkerCounters a = known_block(0);
  const std::array<const WorkerCounters*, 1> blocks = {&a};
  ASSERT_TRUE(telemetry_register(blocks));
  for (const char* bad : {"0", "33", "-1", "x", " 1", "1 ", "1,2"}) {
    TelData t;
    EXPECT_EQ(telemetry_top_cmd(kTelemetryTopCmd, bad, t.d), -EINVAL) << bad;
  }
  for (const char* good : {"1", "32", "", static_cast<const char*>(nullptr)}) {
    TelData t;
    EXPECT_EQ(telemetry_top_cmd(kTelemetryTopCmd, good, t.d), 0) << (good ? good : "null");
  }
  {
    TelData t;
    EXPECT_EQ(telemetry_crypto_cmd(kTelemetryCryptoCmd, nullptr, t.d), 0);
  }
  telemetry_unregister();
}

// --- telemetry: end to end over the socket ----------------------------------

// The number after "key": in a flat JSON object, or nullopt.
std::optional<std::uint64_t> json_u64(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  const std::size_t pos = json.find(needle);
  if (pos == std::string::npos) return std::nullopt;
  const char* p = json.c_str() + pos + needle.size();
  if (*p < '0' || *p > '9') return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(p, &end, 10);
  if (errno != 0 || end == p) return std::nullopt;
  return v;
}

// A client of the v2 socket: SOCK_SEQPACKET, one message per request and
// reply, every call bounded by a 5 s timeout.
class TelemetryClient {
 public:
  ~TelemetryClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool connect_to(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd_ < 0) return false;
    timeval tv{};
    tv.tv_sec = 5;
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.size() >= sizeof(sun.sun_path)) return false;
    std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
    return connect(fd_, reinterpret_cast<sockaddr*>(&sun), sizeof(sun)) == 0;
  }
  // The next message; empty on timeout or error.
  std::string receive() {
    std::vector<char> buf(64 * 1024);
    const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
    return n > 0 ? std::string(buf.data(), static_cast<std::size_t>(n)) : std::string();
  }
  std::string request(const std::string& cmd) {
    if (send(fd_, cmd.data(), cmd.size(), 0) != static_cast<ssize_t>(cmd.size())) return {};
    return receive();
  }

 private:
  int fd_ = -1;
};

std::string socket_path() {
  return g_runtime_dir + "/dpdk_telemetry.v2";
}

class TelemetrySocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st {};
    // main() starts the EAL with telemetry on: the socket must be there.
    ASSERT_TRUE(stat(socket_path().c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
        << "no telemetry socket at " << socket_path();
    a_ = known_block(0);
    b_ = known_block(1);
    blocks_ = {&a_, &b_};
    la_ = known_loop_block(0);
    lb_ = known_loop_block(1);
    loops_ = {&la_, &lb_};
    ASSERT_TRUE(telemetry_register(blocks_, loops_));
    ASSERT_TRUE(client_.connect_to(socket_path())) << std::strerror(errno);
    info_ = client_.receive();
  }
  void TearDown() override { telemetry_unregister(); }

  WorkerCounters a_, b_;
  WorkerLoopCounters la_, lb_;
  std::array<const WorkerCounters*, 2> blocks_{};
  std::array<const WorkerLoopCounters*, 2> loops_{};
  TelemetryClient client_;
  std::string info_;
};

TEST_F(TelemetrySocketTest, InfoAndCommandList) {
  // The first message: {"version":"DPDK 22.11...","pid":N,"max_output_len":16384}.
  EXPECT_NE(info_.find("\"version\":\"DPDK"), std::string::npos) << info_;
  EXPECT_EQ(json_u64(info_, "pid"), static_cast<std::uint64_t>(getpid())) << info_;
  const std::string list = client_.request("/");
  for (const char* cmd : {kTelemetryStatsCmd, kTelemetryWorkersCmd, kTelemetryWorkerCmd,
                          kTelemetryTopCmd, kTelemetryCryptoCmd})
    EXPECT_NE(list.find(std::string("\"") + cmd + "\""), std::string::npos) << list;
}

TEST_F(TelemetrySocketTest, StatsAreTheTotals) {
  const std::string reply = client_.request(kTelemetryStatsCmd);
  ASSERT_EQ(reply.rfind("{\"/dquic/stats\":{", 0), 0u) << reply;
  EXPECT_EQ(json_u64(reply, "workers"), 2u);
  const WorkerCounters t = sum(blocks_);
  std::size_t checked = 0;
  for_each_counter(t, [&](const char* key, std::uint64_t v) {
    EXPECT_EQ(json_u64(reply, key), v) << key;
    ++checked;
  });
  EXPECT_EQ(checked, kWorkerCounterFieldCount + (kUdpDropReasonCount - 1) +
                         (kControlDropReasonCount - 1) + kEndpointDropCount);
  const WorkerLoopCounters lt = sum_loops(loops_);
  for_each_loop_counter(lt, [&](const char* key, std::uint64_t v) {
    EXPECT_EQ(json_u64(reply, key), v) << key;
    ++checked;
  });
  EXPECT_EQ(checked, kWorkerCounterFieldCount + (kUdpDropReasonCount - 1) +
                         (kControlDropReasonCount - 1) + kEndpointDropCount +
                         kWorkerLoopCounterFieldCount);
  // Loop field 0 (receive_udp_datagrams) is 10000 + 20000; field 13
  // (send_flush_deferred) 10013 + 20013.
  EXPECT_EQ(json_u64(reply, "receive_udp_datagrams"), 30000u);
  EXPECT_EQ(json_u64(reply, "send_flush_deferred"), 30026u);
  // Spot checks against hand-computed values: field 0 (rx_packets) is
  // 1000 + 2000; udp reason 1 is 100101 + 200101.
  EXPECT_EQ(json_u64(reply, "rx_packets"), 3000u);
  EXPECT_EQ(json_u64(reply, "drop_udp_too_short"), 300202u);
  EXPECT_EQ(json_u64(reply, "drops_total"), t.total_drops());
}

TEST_F(TelemetrySocketTest, OneWorkerAndTheList) {
  const std::string reply = client_.request("/dquic/worker,1");
  ASSERT_EQ(reply.rfind("{\"/dquic/worker\":{", 0), 0u) << reply;
  EXPECT_EQ(json_u64(reply, "worker"), 1u);
  EXPECT_EQ(json_u64(reply, "rx_packets"), 2000u);
  EXPECT_EQ(json_u64(reply, "stateless_close"), 2019u);
  EXPECT_EQ(json_u64(reply, "drop_endpoint_reflection_port"), 200300u);
  EXPECT_EQ(json_u64(reply, "drops_total"), b_.total_drops());
  EXPECT_EQ(json_u64(reply, "receive_udp_datagrams"), 20000u);
  EXPECT_EQ(json_u64(reply, "next_hop_held"), 20007u);
  EXPECT_EQ(json_u64(reply, "impair_dropped"), 2020u);

  const std::string zero = client_.request("/dquic/worker,0");
  EXPECT_EQ(json_u64(zero, "worker"), 0u) << zero;
  EXPECT_EQ(json_u64(zero, "rx_packets"), 1000u) << zero;

  EXPECT_EQ(client_.request(kTelemetryWorkersCmd), "{\"/dquic/workers\":[0,1]}");
}

TEST_F(TelemetrySocketTest, BadIdsAreErrors) {
  EXPECT_EQ(client_.request("/dquic/worker,2"), "{\"/dquic/worker\":null}");
  EXPECT_EQ(client_.request("/dquic/worker,abc"), "{\"/dquic/worker\":null}");
  EXPECT_EQ(client_.request("/dquic/worker"), "{\"/dquic/worker\":null}");
  // The connection still serves requests afterwards.
  EXPECT_EQ(json_u64(client_.request(kTelemetryStatsCmd), "workers"), 2u);
}

TEST_F(TelemetrySocketTest, UnregisteredIsAnError) {
  telemetry_unregister();
  EXPECT_EQ(client_.request(kTelemetryStatsCmd), "{\"/dquic/stats\":null}");
  EXPECT_EQ(client_.request(kTelemetryWorkersCmd), "{\"/dquic/workers\":null}");
  // Registering again (another set of blocks) serves the new ones; without
  // loop blocks their counters are present, as zeros.
  const std::array<const WorkerCounters*, 1> one = {&b_};
  ASSERT_TRUE(telemetry_register(one));
  const std::string reply = client_.request(kTelemetryStatsCmd);
  EXPECT_EQ(json_u64(reply, "workers"), 1u) << reply;
  EXPECT_EQ(json_u64(reply, "rx_packets"), 2000u) << reply;
  EXPECT_EQ(json_u64(reply, "receive_udp_datagrams"), 0u) << reply;
  const std::string worker = client_.request("/dquic/worker,0");
  EXPECT_EQ(json_u64(worker, "next_hop_held"), 0u) << worker;
  // More loop blocks than counter blocks: the extra ones are ignored.
  const std::array<const WorkerLoopCounters*, 2> two_loops = {&lb_, &la_};
  ASSERT_TRUE(telemetry_register(one, two_loops));
  const std::string stats = client_.request(kTelemetryStatsCmd);
  EXPECT_EQ(json_u64(stats, "receive_udp_datagrams"), 20000u) << stats;
}

TEST_F(TelemetrySocketTest, LiveWorkerIsReadWhileItCounts) {
  // Counts taken by the reply are whatever the worker had written: never
  // fewer than before the request, never more than after it.
  WorkerCounters live;
  const std::array<const WorkerCounters*, 1> one = {&live};
  ASSERT_TRUE(telemetry_register(one));
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> written{0};
  std::thread worker([&] {
    for (std::uint64_t i = 0; i < 50'000'000 && !stop.load(std::memory_order_relaxed); ++i) {
      live.count_rx(1);
      written.store(i + 1, std::memory_order_release);
    }
  });
  std::uint64_t previous = 0;
  for (int i = 0; i < 20; ++i) {
    const std::uint64_t before = written.load(std::memory_order_acquire);
    const auto got = json_u64(client_.request(kTelemetryStatsCmd), "rx_packets");
    const std::uint64_t after = written.load(std::memory_order_acquire);
    ASSERT_TRUE(got.has_value());
    EXPECT_GE(*got, before);
    // The worker may have counted the next packet and not yet published it.
    EXPECT_LE(*got, after + 1);
    EXPECT_GE(*got, previous);
    previous = *got;
  }
  stop = true;
  worker.join();
}

// The user-facing client: DPDK's usertools/dpdk-telemetry.py, when this
// machine has it (Debian's dpdk-dev puts it in /usr/bin). Non-interactive, it
// prints one JSON line per command read from stdin.
TEST_F(TelemetrySocketTest, DpdkTelemetryScriptReadsOurCommands) {
  const char* script = "/usr/bin/dpdk-telemetry.py";
  // dpdk-dev (scripts/deps.sh) installs it.
  ASSERT_EQ(access(script, X_OK), 0) << script << " not installed";
  // The script finds the socket from the file prefix as the EAL does
  // (RUNTIME_DIRECTORY, else /var/run for root, else XDG_RUNTIME_DIR or /tmp).
  const std::string cmd = std::string("printf '/dquic/stats\\n/dquic/worker,1\\n' | timeout 30 ") +
                          script + " -f " + g_file_prefix + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;)
    out.append(buf.data(), n);
  const int status = pclose(p);
  EXPECT_EQ(status, 0) << out;
  const std::size_t nl = out.find('\n');
  ASSERT_NE(nl, std::string::npos) << out;
  const std::string stats = out.substr(0, nl);
  const std::string worker = out.substr(nl + 1);
  // json.dumps puts a space after the colon.
  EXPECT_EQ(stats.rfind("{\"/dquic/stats\": {", 0), 0u) << out;
  EXPECT_NE(stats.find("\"rx_packets\": 3000,"), std::string::npos) << out;
  EXPECT_NE(stats.find("\"workers\": 2,"), std::string::npos) << out;
  EXPECT_EQ(worker.rfind("{\"/dquic/worker\": {\"worker\": 1,", 0), 0u) << out;
  EXPECT_NE(worker.find("\"rx_packets\": 2000,"), std::string::npos) << out;
  EXPECT_NE(worker.find("\"next_hop_held\": 20007,"), std::string::npos) << out;
}

// A connection as a worker would publish it: `bytes` split 1:3.
ConnectionSample sample(std::uint16_t worker, std::uint64_t bytes, std::uint8_t tag) {
  ConnectionSample c;
  c.bytes_sent = bytes / 4;
  c.bytes_received = bytes - bytes / 4;
  c.smoothed_rtt_us = 1000 + tag;
  c.min_rtt_us = 500 + tag;
  c.cwnd = 12000 + tag;
  c.bytes_in_flight = 3000 + tag;
  c.age_us = 7'000'000 + tag;
  c.peer = PeerAddress::ipv4({198, 18, 0, tag}, static_cast<std::uint16_t>(4000 + tag));
  c.worker = worker;
  c.state = ConnectionState::kConnected;
  c.has_rtt_sample = true;
  c.cid_length = 4;
  c.cid = {0xab, 0xcd, 0x00, tag};
  return c;
}

// Every value of `key` in `json`, in order.
std::vector<std::uint64_t> all_u64(const std::string& json, const std::string& key) {
  std::vector<std::uint64_t> v;
  const std::string needle = "\"" + key + "\":";
  for (std::size_t pos = json.find(needle); pos != std::string::npos;
       pos = json.find(needle, pos + 1)) {
    const auto x = json_u64(json.substr(pos), key);
    if (x) v.push_back(*x);
  }
  return v;
}

TEST_F(TelemetrySocketTest, TopMergesTheWorkersSnapshotsByBytes) {
  // Nothing published yet, or no snapshots registered: an empty list.
  EXPECT_EQ(client_.request(kTelemetryTopCmd), "{\"/dquic/top\":{}}");
  ConnectionSnapshot s0, s1;
  const std::array<const ConnectionSnapshot*, 2> snaps = {&s0, &s1};
  TelemetryExtras extras;
  extras.snapshots = snaps;
  ASSERT_TRUE(telemetry_register(blocks_, loops_, extras));
  EXPECT_EQ(client_.request(kTelemetryTopCmd), "{\"/dquic/top\":{}}");

  // Each worker's list is in its own order (largest first).
  const std::vector<ConnectionSample> w0 = {sample(0, 4000, 1), sample(0, 800, 2)};
  std::vector<ConnectionSample> w1;
  for (std::uint8_t i = 0; i < 12; ++i)
    w1.push_back(sample(1, 3000 - 100 * i, static_cast<std::uint8_t>(10 + i)));
  s0.publish(w0, 1);
  s1.publish(w1, 1);

  const std::string all = client_.request(kTelemetryTopCmd);
  ASSERT_EQ(all.rfind("{\"/dquic/top\":{\"0\":{", 0), 0u) << all;
  // The default 10, merged: 4000 (w0), 3000..2200 (w1).
  const std::vector<std::uint64_t> bytes = all_u64(all, "bytes");
  const std::vector<std::uint64_t> want = {4000, 3000, 2900, 2800, 2700,
                                           2600, 2500, 2400, 2300, 2200};
  EXPECT_EQ(bytes, want) << all;
  EXPECT_EQ(all_u64(all, "worker"), (std::vector<std::uint64_t>{0, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
  // The first entry, field by field.
  EXPECT_NE(all.find("\"0\":{\"cid\":\"abcd0001\",\"peer\":\"198.18.0.1:4001\",\"state\":"
                     "\"connected\",\"worker\":0,\"bytes\":4000,\"bytes_sent\":1000,"
                     "\"bytes_received\":3000,\"srtt_us\":1001,\"min_rtt_us\":501,"
                     "\"cwnd\":12001,\"bytes_in_flight\":3001,\"age_ms\":7000},\"1\":{"),
            std::string::npos)
      << all;

  const std::string two = client_.request("/dquic/top,2");
  EXPECT_EQ(all_u64(two, "bytes"), (std::vector<std::uint64_t>{4000, 3000})) << two;
  const std::string many = client_.request("/dquic/top,32");
  EXPECT_EQ(all_u64(many, "bytes").size(), w0.size() + w1.size()) << many;
  EXPECT_EQ(all_u64(many, "bytes").back(), 800u) << many;
  EXPECT_EQ(client_.request("/dquic/top,0"), "{\"/dquic/top\":null}");
  EXPECT_EQ(client_.request("/dquic/top,33"), "{\"/dquic/top\":null}");
  EXPECT_EQ(client_.request("/dquic/top,abc"), "{\"/dquic/top\":null}");

  // A newer publication replaces the worker's list.
  s1.publish({}, 2);
  EXPECT_EQ(all_u64(client_.request(kTelemetryTopCmd), "bytes"),
            (std::vector<std::uint64_t>{4000, 800}));
  // Unregistered: the snapshots are not read any more.
  telemetry_unregister();
  EXPECT_EQ(client_.request(kTelemetryTopCmd), "{\"/dquic/top\":null}");
}

TEST_F(TelemetrySocketTest, CryptoWithoutBackends) {
  const std::string reply = client_.request(kTelemetryCryptoCmd);
  ASSERT_EQ(reply.rfind("{\"/dquic/crypto\":{\"backend\":\"none\",\"workers\":2,", 0), 0u) << reply;
  EXPECT_EQ(json_u64(reply, "sealed"), 0u) << reply;
  EXPECT_EQ(reply.find("worker0"), std::string::npos) << reply;
}

TEST_F(TelemetrySocketTest, CryptoBackendsAndLanes) {
  offload::ProtectionOptions po;
  po.aead = "inline";
  po.hp = "inline";
  std::string err;
  std::unique_ptr<offload::ProtectionBackends> b = offload::ProtectionBackends::create(po, 3, &err);
  ASSERT_NE(b, nullptr) << err;
  // Workers 0 and 1 on lanes 1 and 2 (as a second Dataplane sharing them).
  std::unique_ptr<offload::Protector> p0 = b->make_protector(1);
  std::unique_ptr<offload::Protector> p1 = b->make_protector(2);
  ASSERT_NE(p0, nullptr);
  ASSERT_NE(p1, nullptr);
  const std::array<const offload::Protector*, 2> protectors = {p0.get(), p1.get()};
  TelemetryExtras extras;
  extras.protectors = protectors;
  extras.backends = b.get();
  extras.first_lane = 1;
  ASSERT_TRUE(telemetry_register(blocks_, loops_, extras));
  const std::string reply = client_.request(kTelemetryCryptoCmd);
  ASSERT_EQ(reply.rfind("{\"/dquic/crypto\":{\"backend\":\"" + b->describe() + "\",", 0), 0u)
      << reply;
  EXPECT_NE(reply.find("\"aead\":\"inline\",\"aead_device\":-1,\"hp\":\"inline\","
                       "\"hp_device\":-1,\"lanes\":3,\"workers\":2,\"sealed\":0,"),
            std::string::npos)
      << reply;
  const std::string engines = std::string("\"aead_engine\":\"") + b->aead_engine(1)->name() +
                              "\",\"hp_engine\":\"" + b->hp_engine(1)->name() + "\",";
  EXPECT_NE(reply.find("\"worker0\":{\"lane\":1," + engines), std::string::npos) << reply;
  EXPECT_NE(reply.find("\"worker1\":{\"lane\":2,"), std::string::npos) << reply;
  for (const char* k : {"seal_failures", "auth_failures", "open_failures", "gather_copies",
                        "aead_device_ops", "aead_inline_ops", "hp_device_ops", "hp_inline_ops",
                        "key_fallbacks", "keys_installed", "keys_released"})
    EXPECT_EQ(all_u64(reply, k).size(), 3u) << k << " in the totals and each worker: " << reply;
  telemetry_unregister();  // before the protectors and backends go
  p0.reset();
  p1.reset();
  b.reset();
}

// Removes `dir` and the files in it (the telemetry socket; --no-shconf
// leaves nothing else in 22.11, but be thorough). Not recursive.
void remove_runtime_dir(const std::string& dir) {
  if (DIR* d = opendir(dir.c_str())) {
    while (const dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") unlink((dir + "/" + name).c_str());
    }
    closedir(d);
  }
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace dquic

int main(int argc, char** argv) {
  using dquic::g_file_prefix;
  using dquic::g_runtime_dir;
  g_file_prefix = "dquic-telemetry-test-" + std::to_string(getpid());
  std::vector<std::string> args = {
      argv[0], "--no-huge",   "--no-shconf", "--no-pci",      "-m",
      "1024",  "--log-level", "error",       "--file-prefix", g_file_prefix};
  std::vector<char*> eal_argv;
  for (auto& a : args)
    eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  // The prefix is unique to this process, so the directory is ours.
  g_runtime_dir = rte_eal_get_runtime_dir();
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  dquic::telemetry_unregister();
  rte_eal_cleanup();
  // The telemetry thread keeps its listening socket until exit; its path can
  // go now (DPDK's own atexit unlink then finds nothing).
  dquic::remove_runtime_dir(g_runtime_dir);
  return rc;
}
