// Connection migration over the simulator (RFC 9000 §9): NAT rebinding and
// client migration in the middle of a transfer, the server's preferred
// address, each completing byte-exact, on clean and impaired paths.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/sim/sim_harness.h"

namespace dquic {
namespace {

constexpr std::uint64_t kRate = 10'000'000;  // 10 Mbit/s
constexpr Duration kDelay = 10 * kMillisecond;
// The transfer (3 x 200 KB echoed) lasts well past this: the path changes
// in its middle, once the handshake is long confirmed.
constexpr Time kEventAt = 250 * kMillisecond;

const PeerAddress kClient = PeerAddress::ipv4({198, 18, 0, 2}, 50000);
const PeerAddress kClientMigrated = PeerAddress::ipv4({198, 18, 0, 3}, 50001);
const PeerAddress kServer = PeerAddress::ipv4({198, 18, 1, 1}, 443);
const PeerAddress kServerPreferred = PeerAddress::ipv4({198, 18, 1, 2}, 4433);

rte_mempool* pool() {
  static rte_mempool* p = create_sim_pool("sim_migration", 8191);
  return p;
}

// DQUIC_SIM_SEEDS overrides the default count (the ASan run sets it low).
std::uint64_t seeds(std::uint64_t fallback) {
  const char* env = std::getenv("DQUIC_SIM_SEEDS");
  const long long n = env != nullptr ? std::atoll(env) : 0;
  return n > 0 ? static_cast<std::uint64_t>(n) : fallback;
}

SimConfig transfer(std::uint64_t seed, const SimPathConfig& path) {
  SimConfig c;
  c.seed = seed;
  c.client_to_server = path;
  c.server_to_client = path;
  SimFlowConfig f;
  f.streams = 3;
  f.bytes_per_stream = 200'000;
  f.workload = SimWorkload::kEcho;
  c.flows = {f};
  c.time_limit = 120 * kSecond;
  c.step_limit = 2'000'000;
  return c;
}

::testing::AssertionResult completed(const SimResult& r) {
  if (!r.completed) return ::testing::AssertionFailure() << r.failure;
  if (r.mbufs_leaked != 0 || r.keys_leaked != 0)
    return ::testing::AssertionFailure() << "leaks: " << r.mbufs_leaked << " " << r.keys_leaked;
  return ::testing::AssertionSuccess();
}

// RFC 9000 §9.3, §9.5: the NAT gives the client a new port mid-transfer;
// the server follows the highest-numbered non-probing packet to it,
// validates it, and keeps its congestion state (only the port changed,
// §9.4). The server's datagrams to the old port are lost meanwhile.
TEST(SimMigration, NatRebindingPortMidTransfer) {
  SimConfig c = transfer(1, SimPathConfig::clean(kRate, kDelay));
  c.nat_rebind_at = kEventAt;
  SimHarness h(c, pool());
  const SimResult r = h.run();
  ASSERT_TRUE(completed(r));
  const SimFlowResult& f = r.flows[0];
  EXPECT_GT(f.done_time, kEventAt);  // the change happened mid-transfer
  const ConnectionStats& s = f.server.stats;
  EXPECT_EQ(s.migrations, 1u);
  EXPECT_GE(s.paths_validated, 1u);
  EXPECT_EQ(s.congestion_resets, 0u);
  PeerAddress rebound = kClient;
  rebound.port = static_cast<std::uint16_t>(kClient.port + 10000);
  EXPECT_EQ(f.server.path.peer, rebound);
  EXPECT_EQ(f.server.path.local, kServer);
  // The client never moved: its own path is the one it started on.
  EXPECT_EQ(f.client.path.local, kClient);
  EXPECT_EQ(f.client.stats.migrations, 0u);
}

// A new IP as well: §9.4's congestion and RTT reset applies.
TEST(SimMigration, NatRebindingNewIpResetsCongestion) {
  SimConfig c = transfer(2, SimPathConfig::clean(kRate, kDelay));
  c.nat_rebind_at = kEventAt;
  c.nat_rebind_new_ip = true;
  SimHarness h(c, pool());
  const SimResult r = h.run();
  ASSERT_TRUE(completed(r));
  const SimFlowResult& f = r.flows[0];
  EXPECT_GT(f.done_time, kEventAt);
  EXPECT_EQ(f.server.stats.migrations, 1u);
  EXPECT_EQ(f.server.stats.congestion_resets, 1u);
  EXPECT_EQ(f.server.path.peer.address[3], 99);
}

// RFC 9000 §9.2: the client moves to a new local address mid-transfer with
// a connection ID it never used (§9.5); the server follows.
TEST(SimMigration, ClientMigrationMidTransfer) {
  for (bool validate_first : {false, true}) {
    SCOPED_TRACE(validate_first ? "probe first" : "immediate");
    SimConfig c = transfer(3, SimPathConfig::clean(kRate, kDelay));
    c.client_migrate_at = kEventAt;
    c.migrate_validate_first = validate_first;
    SimHarness h(c, pool());
    const SimResult r = h.run();
    ASSERT_TRUE(completed(r));
    const SimFlowResult& f = r.flows[0];
    EXPECT_GT(f.done_time, kEventAt);
    EXPECT_EQ(f.client.stats.migrations, 1u);
    EXPECT_GE(f.client.stats.paths_validated, 1u);
    EXPECT_EQ(f.client.path.local, kClientMigrated);
    EXPECT_EQ(f.server.stats.migrations, 1u);
    EXPECT_EQ(f.server.path.peer, kClientMigrated);
    // A new IP on the client's side: both reset congestion state (§9.4).
    EXPECT_EQ(f.client.stats.congestion_resets, 1u);
    EXPECT_EQ(f.server.stats.congestion_resets, 1u);
  }
}

// RFC 9000 §9.6: the client validates the server's preferred address after
// the handshake and moves there; the server answers from it.
TEST(SimMigration, PreferredAddress) {
  SimConfig c = transfer(4, SimPathConfig::clean(kRate, kDelay));
  c.preferred_address = true;
  SimHarness h(c, pool());
  const SimResult r = h.run();
  ASSERT_TRUE(completed(r));
  const SimFlowResult& f = r.flows[0];
  ASSERT_TRUE(f.server.exists);
  EXPECT_EQ(f.client.path.peer, kServerPreferred);
  EXPECT_EQ(f.server.path.local, kServerPreferred);
  EXPECT_EQ(f.server.path.peer, kClient);
  EXPECT_EQ(f.client.stats.migrations, 1u);
  EXPECT_EQ(f.server.stats.migrations, 1u);
}

// The same over lossy, reordering paths, many seeds: every run completes
// byte-exact, nothing leaks, whatever packets of the old path arrive late.
TEST(SimMigration, ImpairedPathsManySeeds) {
  SimPathConfig lossy = SimPathConfig::lossy(kRate, kDelay, 0.02);
  lossy.reorder = 0.03;
  lossy.reorder_delay = 5 * kMillisecond;
  lossy.duplicate = 0.01;
  const std::uint64_t n = seeds(200);
  std::uint64_t failures = 0;
  for (std::uint64_t seed = 1; seed <= n; ++seed) {
    SimConfig c = transfer(seed, lossy);
    c.flows[0].bytes_per_stream = 60'000;
    // While the client still uploads: a client that has gone silent when
    // its NAT rebinds cannot be reached until it sends again.
    constexpr Time kUploading = 100 * kMillisecond;
    switch (seed % 4) {
      case 0:
        c.nat_rebind_at = kUploading;
        break;
      case 1:
        c.nat_rebind_at = kUploading;
        c.nat_rebind_new_ip = true;
        break;
      case 2:
        c.client_migrate_at = kUploading;
        break;
      default:
        c.preferred_address = true;
        break;
    }
    SimHarness h(c, pool());
    const SimResult r = h.run();
    if (!completed(r) && ++failures <= 3) ADD_FAILURE() << "seed " << seed << ": " << r.failure;
  }
  EXPECT_EQ(failures, 0u);
}

}  // namespace
}  // namespace dquic
