// The dataplane's start-up and shutdown (runtime/dataplane.h) on net_null:
// its own main() starts the EAL through init_eal (the `app [EAL] -- [app]`
// split) with two lcores where the machine has them, so the worker runs on a
// worker lcore through rte_eal_remote_launch; SIGTERM raised at the process
// must stop it through the stop flag, the summary must be printed and every
// mbuf must be back in its pool before the pool is freed.
#include "runtime/dataplane.h"

#include <gtest/gtest.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "drivers/eth_port.h"
#include "offload/backends.h"
#include "quic/cid_generator.h"
#include "runtime/eal_args.h"
#include "runtime/stop_signal.h"
#include "runtime/worker_shutdown.h"

namespace dquic {
namespace {

unsigned count_mempools() {
  unsigned n = 0;
  rte_mempool_walk([](rte_mempool*, void* arg) { ++*static_cast<unsigned*>(arg); }, &n);
  return n;
}

class DataplaneTest : public ::testing::Test {
 protected:
  // Each worker gets its own generator (the same shape everywhere).
  DataplaneConfig config(std::vector<std::string> args) {
    DataplaneConfig c;
    const RuntimeOptionsResult r = parse_runtime_options(args);
    EXPECT_EQ(r.exit_code, 0) << r.error;
    c.options = r.options;
    c.log = log_file_;
    c.configure_worker = [this](const WorkerPlacement& where, WorkerConfig& wc, std::string* why) {
      RandomCidGeneratorSettings s;
      s.cid_length = 8;
      s.worker_count = where.count;
      auto random = [this](std::span<std::uint8_t> out) {
        for (auto& b : out)
          b = static_cast<std::uint8_t>(rng_());
      };
      generators_.push_back(RandomCidGenerator::create(s, random));
      if (generators_.back() == nullptr) {
        *why = "no generator";
        return false;
      }
      wc.endpoint.cid_generator = generators_.back().get();
      wc.endpoint.connection.random = random;
      ++configured_;
      return true;
    };
    return c;
  }
  void SetUp() override {
    log_file_ = std::tmpfile();
    ASSERT_NE(log_file_, nullptr);
  }
  void TearDown() override {
    if (log_file_ != nullptr) std::fclose(log_file_);
  }
  std::string log_text() {
    std::fflush(log_file_);
    std::rewind(log_file_);
    std::string s;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof(buf), log_file_)) > 0)
      s.append(buf, n);
    return s;
  }

  std::FILE* log_file_ = nullptr;
  std::mt19937_64 rng_{7};
  std::vector<std::unique_ptr<ConnectionIdGenerator>> generators_;
  int configured_ = 0;
};

// Failures before the port is touched (net_null0 is needed by the next test):
// one line naming the option, nothing left allocated.
TEST_F(DataplaneTest, RejectsBadSetupAndReleasesEverything) {
  const unsigned pools = count_mempools();
  std::string err;
  EXPECT_EQ(Dataplane::create(config({"--address", "10.0.0.1", "--port", "9"}), &err), nullptr);
  EXPECT_EQ(err.rfind("--port: no port 9", 0), 0u) << err;

  EXPECT_EQ(Dataplane::create(config({}), &err), nullptr);
  EXPECT_EQ(err, "--address: the dataplane needs at least one --address or --address6");

  const unsigned lcores = rte_lcore_count();
  const std::string too_many = std::to_string(lcores + 1);
  EXPECT_EQ(Dataplane::create(config({"--address", "10.0.0.1", "--workers", too_many}), &err),
            nullptr);
  EXPECT_EQ(err.rfind("--workers: " + too_many + " workers but only", 0), 0u) << err;

  DataplaneConfig no_callback = config({"--address", "10.0.0.1"});
  no_callback.configure_worker = nullptr;
  EXPECT_EQ(Dataplane::create(std::move(no_callback), &err), nullptr);
  EXPECT_EQ(err, "dataplane: no worker configuration callback");

  EXPECT_EQ(count_mempools(), pools);
  EXPECT_TRUE(drivers::find_port("net_null0").has_value());
  EXPECT_EQ(configured_, 0);
}

// The whole life: set up on net_null0, run on a worker lcore (or the main
// lcore when the EAL has no other), SIGTERM at the process, clean stop.
TEST_F(DataplaneTest, RunsUntilSigtermThenTearsDown) {
  const std::optional<std::uint16_t> port = drivers::find_port("net_null0");
  ASSERT_TRUE(port.has_value());
  const unsigned pools = count_mempools();

  std::string err;
  DataplaneConfig c = config({"--port", std::to_string(*port), "--address", "10.0.0.1/24",
                              "--udp-port", "4433", "--workers", "1", "--drain-ms", "50"});
  // Random CIDs carry the worker at byte 0: rules are tried (net_null has
  // no rte_flow, so the fallback must be reported).
  FlowSteeringSpec spec;
  spec.udp_port = 4433;
  c.flow_steering = spec;
  std::unique_ptr<Dataplane> d = Dataplane::create(std::move(c), &err);
  ASSERT_NE(d, nullptr) << err;
  EXPECT_EQ(configured_, 1);
  ASSERT_EQ(d->worker_count(), 1);
  EXPECT_FALSE(d->flow_rules_installed());
  EXPECT_EQ(count_mempools(), pools + 1);
  EXPECT_TRUE(d->port().started());
  EXPECT_EQ(d->port().offloads().queues, 1);
  if (rte_lcore_count() > 1) {
    EXPECT_NE(d->placement(0).lcore, rte_get_main_lcore()) << "a worker lcore was available";
  }

  // The start-up lines: pool, port, steering fallback, crypto choice once.
  const std::string startup = log_text();
  EXPECT_NE(startup.find("mempool: socket"), std::string::npos) << startup;
  EXPECT_NE(startup.find("port: "), std::string::npos) << startup;
  EXPECT_NE(startup.find("steering: rte_flow CID rules refused"), std::string::npos) << startup;
  EXPECT_NE(startup.find("RSS + software redirect"), std::string::npos) << startup;
  std::size_t crypto_lines = 0;
  for (std::size_t at = startup.find("crypto: aead="); at != std::string::npos;
       at = startup.find("crypto: aead=", at + 1))
    ++crypto_lines;
  EXPECT_EQ(crypto_lines, 1u) << startup;
  EXPECT_NE(startup.find("workers: 1 on lcores"), std::string::npos) << startup;

  ASSERT_TRUE(install_stop_signals());
  // Process-directed SIGTERM from another thread after a short run: any
  // thread may take it (the handler only sets the flag).
  std::thread killer([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    kill(getpid(), SIGTERM);
  });
  const auto start = std::chrono::steady_clock::now();
  d->run(stop_requested(), 60 * kSecond);  // the bound is a safety net only
  const auto elapsed = std::chrono::steady_clock::now() - start;
  killer.join();
  EXPECT_TRUE(stop_requested().load());
  EXPECT_EQ(stop_signal_number(), SIGTERM);
  // Stopped by the signal, not by the 60 s bound (generous for a loaded CI).
  EXPECT_LT(elapsed, std::chrono::seconds(20));
  EXPECT_GT(d->iterations(0), 0u);
  // net_null hands out zero-filled frames: the worker received (and dropped)
  // them, so the summary has counters to print.
  EXPECT_GT(d->worker(0).counters().rx_packets, 0u);
  EXPECT_EQ(open_connections(d->worker(0)), 0u);

  const DataplaneTeardown& t = d->shutdown();
  EXPECT_EQ(t.summary.rfind("summary: 1 workers, ", 0), 0u) << t.summary;
  EXPECT_NE(t.summary.find("worker 0 rx packets="), std::string::npos) << t.summary;
  EXPECT_NE(t.summary.find("total rx packets="), std::string::npos) << t.summary;
  EXPECT_EQ(t.connections_left, 0u);
  EXPECT_EQ(t.mbufs_in_use_at_free, 0u) << "mbufs leaked";
  EXPECT_NE(log_text().find(t.summary), std::string::npos) << "summary printed";
  // Everything released: the pool is gone and the vdev port closed.
  EXPECT_EQ(count_mempools(), pools);
  EXPECT_FALSE(drivers::find_port("net_null0").has_value());
  // Idempotent.
  EXPECT_EQ(&d->shutdown(), &t);
  d.reset();
  restore_stop_signals();
  stop_requested().store(false);
}

// A flag already set: the workers stop at once and still drain and tear
// down (a fresh net_null vdev: the previous test closed net_null0).
TEST_F(DataplaneTest, StopFlagAlreadySet) {
  ASSERT_EQ(rte_dev_probe("net_null1"), 0);
  const std::optional<std::uint16_t> port = drivers::find_port("net_null1");
  ASSERT_TRUE(port.has_value());
  std::string err;
  std::unique_ptr<Dataplane> d = Dataplane::create(
      config({"--port", std::to_string(*port), "--address6", "fd00::1", "--drain-ms", "0"}), &err);
  ASSERT_NE(d, nullptr) << err;
  EXPECT_NE(log_text().find("no rte_flow CID rules requested"), std::string::npos);
  std::atomic<bool> stop{true};
  d->run(stop, 60 * kSecond);
  EXPECT_EQ(d->iterations(0), 0u);
  const DataplaneTeardown& t = d->shutdown();
  EXPECT_EQ(t.mbufs_in_use_at_free, 0u);
  EXPECT_EQ(t.summary.rfind("summary: ", 0), 0u);
}

// A crypto choice the machine cannot satisfy fails after the port started:
// the port is closed again and the pool freed.
TEST_F(DataplaneTest, CryptoChoiceUnsatisfiable) {
  ASSERT_EQ(rte_dev_probe("net_null2"), 0);
  const std::optional<std::uint16_t> port = drivers::find_port("net_null2");
  ASSERT_TRUE(port.has_value());
  const unsigned pools = count_mempools();
  std::string err;
  EXPECT_EQ(Dataplane::create(config({"--port", std::to_string(*port), "--address", "10.0.0.1",
                                      "--aead", "cryptodev"}),
                              &err),
            nullptr);
  EXPECT_EQ(err.rfind("--aead/--hp/--crypto-device: ", 0), 0u) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);
  EXPECT_EQ(count_mempools(), pools);
  EXPECT_EQ(configured_, 0);
}

// Two Dataplanes at once on disjoint lcore sets (what quic-perf loopback
// does): one launched on the second lcore, the other run on the main lcore;
// sharing one set of protection backends, without telemetry; and an lcore
// the EAL does not have is refused by name.
TEST_F(DataplaneTest, TwoDataplanesOnExplicitLcores) {
  ASSERT_EQ(rte_dev_probe("net_null3"), 0);
  ASSERT_EQ(rte_dev_probe("net_null4"), 0);
  const std::optional<std::uint16_t> p3 = drivers::find_port("net_null3");
  const std::optional<std::uint16_t> p4 = drivers::find_port("net_null4");
  ASSERT_TRUE(p3.has_value() && p4.has_value());
  const unsigned main_lcore = rte_get_main_lcore();
  std::string err;

  DataplaneConfig bad = config({"--port", std::to_string(*p3), "--address", "10.0.0.1"});
  bad.lcores = {RTE_MAX_LCORE - 1};
  EXPECT_EQ(Dataplane::create(std::move(bad), &err), nullptr);
  EXPECT_EQ(
      err, "lcores: lcore " + std::to_string(RTE_MAX_LCORE - 1) + " is not enabled (the EAL's -l)");

  unsigned other = main_lcore;
  unsigned lc = 0;
  RTE_LCORE_FOREACH_WORKER(lc) {
    other = lc;
    break;
  }
  offload::ProtectionOptions po;
  std::unique_ptr<offload::ProtectionBackends> shared =
      offload::ProtectionBackends::create(po, 2, &err);
  ASSERT_NE(shared, nullptr) << err;

  DataplaneConfig a =
      config({"--port", std::to_string(*p3), "--address", "10.0.0.1", "--drain-ms", "0"});
  a.lcores = {main_lcore};
  a.telemetry = false;
  a.backends = shared.get();
  a.first_lane = 0;
  std::unique_ptr<Dataplane> da = Dataplane::create(std::move(a), &err);
  ASSERT_NE(da, nullptr) << err;
  EXPECT_EQ(da->placement(0).lcore, main_lcore);
  EXPECT_EQ(da->backends(), shared.get());

  DataplaneConfig b =
      config({"--port", std::to_string(*p4), "--address", "10.0.0.2", "--drain-ms", "0"});
  b.lcores = {other};
  b.telemetry = false;
  b.no_encryption = other == main_lcore;  // one lcore: only check the label
  b.backends = shared.get();
  b.first_lane = 1;
  if (other == main_lcore) {
    std::unique_ptr<Dataplane> db = Dataplane::create(std::move(b), &err);
    ASSERT_NE(db, nullptr) << err;
    EXPECT_NE(log_text().find("crypto: NONE -- no-encryption diagnostic mode"), std::string::npos);
    GTEST_SKIP() << "one lcore: cannot run two dataplanes at once";
  }
  std::unique_ptr<Dataplane> db = Dataplane::create(std::move(b), &err);
  ASSERT_NE(db, nullptr) << err;
  EXPECT_EQ(db->placement(0).lcore, other);

  std::atomic<bool> stop_b{false};
  std::atomic<bool> stop_a{false};
  db->launch(stop_b, 60 * kSecond);
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop_a.store(true);
  });
  da->run(stop_a, 60 * kSecond);  // on the main lcore, while b runs on the other
  stopper.join();
  EXPECT_GT(da->iterations(0), 0u);
  stop_b.store(true);
  db->wait();
  EXPECT_GT(db->iterations(0), 0u);
  EXPECT_EQ(db->shutdown().mbufs_in_use_at_free, 0u);
  EXPECT_EQ(da->shutdown().mbufs_in_use_at_free, 0u);
}

}  // namespace
}  // namespace dquic

int main(int argc, char** argv) {
  // Two lcores when this process may run on CPUs 0 and 1 (the worker then
  // runs on a worker lcore), else the first CPU it may use.
  cpu_set_t set;
  CPU_ZERO(&set);
  std::string lcores = "0";
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int first = -1, second = -1;
    for (int i = 0; i < CPU_SETSIZE && second < 0; ++i)
      if (CPU_ISSET(i, &set)) (first < 0 ? first : second) = i;
    if (first >= 0) lcores = std::to_string(first);
    if (second >= 0) lcores += "," + std::to_string(second);
  }
  std::vector<std::string> args = {argv[0],
                                   "-l",
                                   lcores,
                                   "--no-huge",
                                   "--no-shconf",
                                   "-m",
                                   "1024",
                                   "--no-pci",
                                   "--vdev=net_null0",
                                   "--no-telemetry",
                                   "--log-level",
                                   "error",
                                   "--file-prefix",
                                   "dquic-dp-" + std::to_string(getpid()),
                                   "--"};
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);  // gtest's flags, after `--`
  std::vector<char*> full;
  for (auto& a : args)
    full.push_back(a.data());
  const int full_argc = static_cast<int>(full.size());
  full.push_back(nullptr);  // argv[argc] is null, as getopt and gtest expect
  dquic::EalInitResult eal = dquic::init_eal(full_argc, full.data());
  if (eal.exit_code != 0) {
    std::fprintf(stderr, "%s\n", eal.error.c_str());
    return eal.exit_code;
  }
  std::vector<char*> app = {argv[0]};
  for (auto& a : eal.app)
    app.push_back(a.data());
  int app_argc = static_cast<int>(app.size());
  app.push_back(nullptr);  // gtest moves argv[argc] down with the flags it takes
  ::testing::InitGoogleTest(&app_argc, app.data());
  const int rc = RUN_ALL_TESTS();
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  (void)rmdir(runtime_dir.c_str());  // the EAL leaves it behind
  return rc;
}
