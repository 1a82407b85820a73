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
  ::testing::InitGoogleTest(&argc, argv);
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
  std::vector<char*> eal_argv;
  for (auto& a : args)
    eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  return rc;
}
