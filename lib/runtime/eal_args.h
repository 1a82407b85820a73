// DPDK's command-line convention, `app [EAL options] -- [app options]`:
// everything before the first `--` goes to rte_eal_init unchanged, the rest
// is the program's. Start-up only.
#pragma once

#include <functional>
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

// A run that failed after start-up (the programs' exit code 1).
inline constexpr int kRunFailedExitCode = 1;

// The programs' run once their own options and files are checked:
// init_eal (its one line on stderr, prefixed "<program>: ", and its exit
// code on failure), the SIGINT/SIGTERM handlers (stop_signal.h) around
// `run`, then cleanup_eal(). `run` gets the program's arguments and must
// have released everything holding DPDK resources when it returns.
int run_under_eal(const char* program, int argc, char** argv,
                  const std::function<int(const std::vector<std::string>& app)>& run);

// rte_eal_cleanup and the runtime directory the EAL leaves behind (even
// with --no-shconf). Last thing before exit, after every Dataplane is gone.
void cleanup_eal();

}  // namespace dquic
