// Seed sweeps of complete connections over impaired paths: for every seed the
// handshake completes, every stream arrives byte-exact, both ends close
// cleanly, nothing deadlocks and every mbuf and key is returned.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include "tests/sim/sim_harness.h"

namespace dquic {
namespace {

constexpr std::uint64_t kRate = 10'000'000;  // 10 Mbit/s
constexpr Duration kDelay = 10 * kMillisecond;
// Failures printed per profile (DQUIC_SIM_REPORT overrides).
std::size_t max_reported() {
  const char* env = std::getenv("DQUIC_SIM_REPORT");
  return env != nullptr ? static_cast<std::size_t>(std::atoll(env)) : 5;
}

std::uint64_t seeds_per_profile() {
  const char* env = std::getenv("DQUIC_SIM_SEEDS");
  if (env != nullptr) {
    const long long n = std::atoll(env);
    if (n > 0) return static_cast<std::uint64_t>(n);
  }
  return 1000;
}

rte_mempool* sweep_pool() {
  static rte_mempool* pool = create_sim_pool("sim_sweep", 8191);
  return pool;
}

struct Profile {
  const char* name;
  SimPathConfig path;
  std::uint64_t key_update_interval = 0;  // RFC 9001 §6: both sides, in packets
};
void PrintTo(const Profile& p, std::ostream* os) {
  *os << p.name;
}

SimPathConfig reorder_duplicate() {
  SimPathConfig c = SimPathConfig::clean(kRate, kDelay);
  c.reorder = 0.05;
  c.reorder_delay = 5 * kMillisecond;
  c.reorder_jitter = 5 * kMillisecond;
  c.duplicate = 0.05;
  return c;
}

SimPathConfig corrupting() {
  SimPathConfig c = SimPathConfig::clean(kRate, kDelay);
  c.corrupt = 0.01;
  return c;
}

SimPathConfig key_update_path() {
  SimPathConfig c = reorder_duplicate();
  c.loss = 0.01;
  return c;
}

std::vector<Profile> profiles() {
  return {
      {"clean", SimPathConfig::clean(kRate, kDelay)},
      {"lossy", SimPathConfig::lossy(kRate, kDelay, 0.02)},
      // Mean burst 3 datagrams, entered after ~100 good ones on average.
      {"bursty", SimPathConfig::bursty(kRate, kDelay, 0.01, 1.0 / 3)},
      {"reorder_duplicate", reorder_duplicate()},
      {"corrupt", corrupting()},
      {"nasty", SimPathConfig::nasty(kRate, kDelay)},
      // Key updates every 8 packets under reordering, duplication and loss:
      // late packets of the previous phase, the peer's update racing ours.
      {"key_update", key_update_path(), 8},
  };
}

// Both workloads, alternating by seed: 3 streams of 20 KB each.
SimConfig sweep_config(const SimPathConfig& path, std::uint64_t seed) {
  SimConfig c;
  c.seed = seed;
  c.client_to_server = path;
  c.server_to_client = path;
  c.crypto = SimCrypto::kInline;  // corruption is only detected by the AEAD
  // Small stream windows so that MAX_STREAM_DATA updates are lost and
  // repaired too; the connection window is exercised on its own below.
  c.stream_window = 8 * 1024;
  c.connection_window = 1024 * 1024;
  SimFlowConfig f;
  f.streams = 3;
  f.bytes_per_stream = 20'000;
  f.workload = seed % 2 == 0 ? SimWorkload::kEcho : SimWorkload::kUpload;
  c.flows = {f};
  c.time_limit = 120 * kSecond;
  c.step_limit = 1'000'000;
  return c;
}

class SimSweep : public ::testing::TestWithParam<Profile> {};

TEST_P(SimSweep, EverySeedCompletesByteExactAndClosesCleanly) {
  rte_mempool* pool = sweep_pool();
  ASSERT_NE(pool, nullptr);
  const Profile& prof = GetParam();
  ASSERT_TRUE(prof.path.valid());
  const std::uint64_t seeds = seeds_per_profile();
  std::uint64_t completed = 0, deadlocks = 0, unclean = 0, incomplete = 0, leaks = 0;
  std::uint64_t idle_closed = 0;  // the server timed out: every CONNECTION_CLOSE was lost
  Time max_elapsed = 0;
  Time total_elapsed = 0;
  std::uint64_t lost = 0, pto = 0, dropped = 0, key_updates = 0, seeds_without_update = 0;
  std::vector<std::string> failures;
  for (std::uint64_t seed = 1; seed <= seeds; ++seed) {
    SimConfig config = sweep_config(prof.path, seed);
    config.key_update_interval = prof.key_update_interval;
    SimHarness h(config, pool);
    const SimResult r = h.run();
    if (r.completed) ++completed;
    if (r.deadlock) ++deadlocks;
    if (r.mbufs_leaked != 0 || r.keys_leaked != 0) ++leaks;
    for (const SimFlowResult& f : r.flows) {
      if (!f.data_complete) ++incomplete;
      if (!f.closed_cleanly) ++unclean;
      if (f.server_idle_closed) ++idle_closed;
      lost += f.client.stats.packets_lost + f.server.stats.packets_lost;
      pto += f.client.stats.pto_count + f.server.stats.pto_count;
      dropped += f.client.stats.packets_dropped + f.server.stats.packets_dropped;
      key_updates += f.client.key_updates + f.server.key_updates;
      if (f.client.key_updates == 0 || f.server.key_updates == 0) ++seeds_without_update;
    }
    max_elapsed = std::max(max_elapsed, r.elapsed);
    total_elapsed += r.elapsed;
    if (!r.completed && failures.size() < max_reported())
      failures.push_back(std::string(prof.name).append(": ").append(r.failure));
  }
  std::printf(
      "sweep %-18s seeds=%llu completed=%llu incomplete=%llu unclean=%llu deadlocks=%llu "
      "leaks=%llu server-idle-closed=%llu | virtual time avg %.3f s max %.3f s | lost=%llu "
      "pto=%llu dropped=%llu key-updates=%llu\n",
      prof.name, static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(completed),
      static_cast<unsigned long long>(incomplete), static_cast<unsigned long long>(unclean),
      static_cast<unsigned long long>(deadlocks), static_cast<unsigned long long>(leaks),
      static_cast<unsigned long long>(idle_closed),
      static_cast<double>(total_elapsed) / static_cast<double>(seeds) / kSecond,
      static_cast<double>(max_elapsed) / kSecond, static_cast<unsigned long long>(lost),
      static_cast<unsigned long long>(pto), static_cast<unsigned long long>(dropped),
      static_cast<unsigned long long>(key_updates));
  for (const std::string& f : failures)
    ADD_FAILURE() << f;
  EXPECT_EQ(completed, seeds);
  EXPECT_EQ(deadlocks, 0u);
  EXPECT_EQ(incomplete, 0u);
  EXPECT_EQ(unclean, 0u);
  EXPECT_EQ(leaks, 0u);
  // Every connection of the key-update profile moved its keys on both sides;
  // the others never did.
  if (prof.key_update_interval != 0) {
    EXPECT_EQ(seeds_without_update, 0u);
  } else {
    EXPECT_EQ(key_updates, 0u);
  }
  // Without loss the CONNECTION_CLOSE always arrives.
  if (prof.path.loss == 0 && prof.path.burst.p_good_to_bad == 0 && prof.path.corrupt == 0) {
    EXPECT_EQ(idle_closed, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Profiles, SimSweep, ::testing::ValuesIn(profiles()),
                         [](const ::testing::TestParamInfo<Profile>& i) {
                           return std::string(i.param.name);
                         });

// A run is a function of its configuration: the same seed twice gives the
// same trace, so any failure above reproduces from its seed alone.
TEST(SimHarnessTest, SameSeedSameRun) {
  rte_mempool* pool = sweep_pool();
  ASSERT_NE(pool, nullptr);
  const SimConfig c = sweep_config(SimPathConfig::nasty(kRate, kDelay), 7);
  const SimResult a = SimHarness(c, pool).run();
  const SimResult b = SimHarness(c, pool).run();
  ASSERT_TRUE(a.completed) << a.failure;
  EXPECT_EQ(a.elapsed, b.elapsed);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.client_to_server, b.client_to_server);
  EXPECT_EQ(a.server_to_client, b.server_to_client);
  ASSERT_EQ(a.flows.size(), 1u);
  EXPECT_EQ(a.flows[0].client.stats.packets_sent, b.flows[0].client.stats.packets_sent);
  EXPECT_EQ(a.flows[0].server.stats.packets_sent, b.flows[0].server.stats.packets_sent);
  // ... and another seed takes another path.
  const SimResult other = SimHarness(sweep_config(c.client_to_server, 8), pool).run();
  EXPECT_TRUE(other.completed) << other.failure;
  EXPECT_NE(a.client_to_server, other.client_to_server);
}

TEST(SimHarnessTest, NoCryptoModeCompletes) {
  rte_mempool* pool = sweep_pool();
  ASSERT_NE(pool, nullptr);
  SimConfig c = sweep_config(SimPathConfig::lossy(kRate, kDelay, 0.02), 3);
  c.crypto = SimCrypto::kNone;
  const SimResult r = SimHarness(c, pool).run();
  EXPECT_TRUE(r.completed) << r.failure;
  EXPECT_EQ(r.mbufs_leaked, 0);
  EXPECT_EQ(r.keys_leaked, 0);
  EXPECT_EQ(r.bytes_delivered, 3u * 20'000u * 1u);  // upload: the server reads, nothing comes back
}

// RFC 9368 §2.3, RFC 9369 with real packet protection: a v1 client offering
// v2 is moved to v2 (new Initial keys mid-handshake, v2 labels for the rest)
// and the transfer completes on a lossy path.
TEST(SimHarnessTest, CompatibleVersionNegotiationToV2) {
  rte_mempool* pool = sweep_pool();
  ASSERT_NE(pool, nullptr);
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    SimConfig c = sweep_config(SimPathConfig::lossy(kRate, kDelay, 0.02), seed);
    c.client_versions = {kVersion1, kVersion2};
    c.server_versions = {kVersion2, kVersion1};
    c.key_update_interval = 16;  // v2 key-update labels too
    const SimResult r = SimHarness(c, pool).run();
    ASSERT_TRUE(r.completed) << "seed " << seed << ": " << r.failure;
    ASSERT_EQ(r.flows.size(), 1u);
    EXPECT_EQ(r.flows[0].client.version, kVersion2);
    EXPECT_EQ(r.flows[0].server.version, kVersion2);
    EXPECT_EQ(r.mbufs_leaked, 0);
    EXPECT_EQ(r.keys_leaked, 0);
  }
}

TEST(SimHarnessTest, EchoDeliversBothWays) {
  rte_mempool* pool = sweep_pool();
  ASSERT_NE(pool, nullptr);
  const SimResult r = SimHarness(sweep_config(SimPathConfig::clean(kRate, kDelay), 2), pool).run();
  ASSERT_TRUE(r.completed) << r.failure;
  ASSERT_EQ(r.flows.size(), 1u);
  EXPECT_EQ(r.flows[0].server.app_bytes_read, 60'000u);
  EXPECT_EQ(r.flows[0].client.app_bytes_read, 60'000u);
  EXPECT_EQ(r.bytes_delivered, 120'000u);
  EXPECT_LT(r.flows[0].done_time, r.flows[0].closed_time);
}

// RFC 9000 §4.1: a stream blocked by the connection's limit resumes when
// MAX_DATA raises it (here the limit is half the data sent each way).
TEST(SimHarnessTest, ConnectionWindowSmallerThanTheTransfer) {
  rte_mempool* pool = sweep_pool();
  ASSERT_NE(pool, nullptr);
  for (const std::uint64_t seed : {1, 2}) {  // upload, echo
    SimConfig c = sweep_config(SimPathConfig::clean(kRate, kDelay), seed);
    c.connection_window = 32 * 1024;
    const SimResult r = SimHarness(c, pool).run();
    EXPECT_TRUE(r.completed) << r.failure;
  }
}

// A writer that filled its stream's send buffer is told when
// acknowledgments make room again (ConnectionHandler::on_stream_writable),
// with nothing else to wake it: a bulk upload with a window of ~2 MB.
TEST(SimHarnessTest, WriterBlockedOnTheSendBufferResumes) {
  rte_mempool* pool = sweep_pool();
  ASSERT_NE(pool, nullptr);
  SimConfig c = sweep_config(SimPathConfig::clean(100'000'000, 25 * kMillisecond), 1);
  c.crypto = SimCrypto::kNone;
  c.stream_window = 4 << 20;
  c.connection_window = 8 << 20;
  c.flows[0].streams = 1;
  c.flows[0].bytes_per_stream = 6'000'000;
  c.flows[0].workload = SimWorkload::kUpload;
  const SimResult r = SimHarness(c, pool).run();
  EXPECT_TRUE(r.completed) << r.failure;
}

// The harness reports what it cannot finish instead of passing or hanging.
TEST(SimHarnessTest, BlackHolePathFailsWithoutLeaks) {
  rte_mempool* pool = sweep_pool();
  ASSERT_NE(pool, nullptr);
  SimConfig c = sweep_config(SimPathConfig::lossy(kRate, kDelay, 1.0), 1);
  c.idle_timeout = 5 * kSecond;
  const SimResult r = SimHarness(c, pool).run();
  EXPECT_FALSE(r.completed);
  EXPECT_FALSE(r.failure.empty());
  EXPECT_FALSE(r.deadlock) << r.failure;
  ASSERT_EQ(r.flows.size(), 1u);
  EXPECT_FALSE(r.flows[0].data_complete);
  EXPECT_FALSE(r.flows[0].server.exists);                        // no Initial ever arrived
  EXPECT_EQ(r.flows[0].client.state, ConnectionState::kClosed);  // idle timeout
  EXPECT_EQ(r.client_to_server.delivered, 0u);
  EXPECT_EQ(r.mbufs_leaked, 0);
  EXPECT_EQ(r.keys_leaked, 0);
}

TEST(SimHarnessTest, TimeLimitIsReportedAsDeadlock) {
  rte_mempool* pool = sweep_pool();
  ASSERT_NE(pool, nullptr);
  SimConfig c = sweep_config(SimPathConfig::clean(kRate, kDelay), 1);
  c.time_limit = 5 * kMillisecond;  // less than one round trip
  const SimResult r = SimHarness(c, pool).run();
  EXPECT_FALSE(r.completed);
  EXPECT_TRUE(r.deadlock);
  EXPECT_NE(r.failure.find("time limit"), std::string::npos) << r.failure;
  EXPECT_EQ(r.mbufs_leaked, 0);
  EXPECT_EQ(r.keys_leaked, 0);
}

TEST(SimHarnessTest, StepLimitIsReportedAsDeadlock) {
  rte_mempool* pool = sweep_pool();
  ASSERT_NE(pool, nullptr);
  SimConfig c = sweep_config(SimPathConfig::clean(kRate, kDelay), 1);
  c.step_limit = 3;
  const SimResult r = SimHarness(c, pool).run();
  EXPECT_FALSE(r.completed);
  EXPECT_TRUE(r.deadlock);
  EXPECT_NE(r.failure.find("step limit"), std::string::npos) << r.failure;
  EXPECT_EQ(r.mbufs_leaked, 0);
}

TEST(SimHarnessTest, PatternDependsOnSeedStreamAndOffset) {
  std::vector<std::uint8_t> a(100), b(100), c(100), whole(200);
  fill_pattern(1, 0, 0, a);
  fill_pattern(2, 0, 0, b);
  fill_pattern(1, 4, 0, c);
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
  // Any split of a range gives the same bytes (unaligned offsets included).
  fill_pattern(1, 0, 0, whole);
  std::vector<std::uint8_t> tail(103);
  fill_pattern(1, 0, 97, tail);
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), whole.begin() + 97));
  EXPECT_TRUE(std::equal(a.begin(), a.end(), whole.begin()));
}

}  // namespace
}  // namespace dquic
