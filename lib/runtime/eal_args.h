// DPDK's command-line convention, `app [EAL options] -- [app options]`:
// everything before the first `--` goes to rte_eal_init unchanged, the rest
// is the program's. Start-up only.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace dquic {

struct EalArgs {
  std::vector<std::string> eal;  // argv[0] and the EAL options
  std::vector<std::string> app;  // after `--` (empty without one)
};

// Splits argv at the first `--` (pure; argv[0] stays with the EAL part).
EalArgs split_eal_args(std::span<char* const> argv);

struct EalInitResult {
  int exit_code = 0;             // 0, or kUsageExitCode when rte_eal_init failed
  std::string error;             // one line when it failed
  std::vector<std::string> app;  // the program's arguments
};

// Calls rte_eal_init with the EAL part of argv. A failure is one line
// ("EAL initialisation failed: <rte_strerror>") and exit code 2 for the
// caller; the EAL cannot be initialised again in this process afterwards.
EalInitResult init_eal(int argc, char** argv);

}  // namespace dquic
