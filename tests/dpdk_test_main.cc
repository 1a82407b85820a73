// GoogleTest main for tests that need DPDK memory: starts the EAL once, in
// process memory, with no hugepages, no PCI scan and no shared config, so the
// tests run unprivileged-friendly in CI and never touch a real device.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  // --in-memory is refused together with --no-huge by DPDK 22.11; --no-shconf
  // gives the same isolation between concurrent test processes.
  std::vector<std::string> args = {argv[0],
                                   "--no-huge",
                                   "--no-shconf",
                                   "--no-pci",
                                   "-m",
                                   "512",
                                   "--no-telemetry",
                                   "--log-level",
                                   "error",
                                   "--file-prefix",
                                   "dquic-test-" + std::to_string(getpid())};
#ifdef DQUIC_TEST_VDEVS
  // Comma-separated virtual devices this test binary needs (crypto PMDs).
  const std::string vdevs = DQUIC_TEST_VDEVS;
  for (std::size_t pos = 0; pos < vdevs.size();) {
    std::size_t end = vdevs.find(',', pos);
    if (end == std::string::npos) end = vdevs.size();
    if (end > pos) {
      args.push_back("--vdev");
      args.push_back(vdevs.substr(pos, end - pos));
    }
    pos = end + 1;
  }
#endif
  std::vector<char*> eal_argv;
  for (auto& a : args)
    eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  // After the EAL: parameterized suites enumerate devices when gtest starts.
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  // The EAL leaves its (empty) runtime directory behind even with
  // --no-shconf: remove it, or every test run adds one.
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  (void)rmdir(runtime_dir.c_str());
  return rc;
}
