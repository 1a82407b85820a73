#include "runtime/eal_args.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <cstdio>

#include "runtime/runtime_options.h"
#include "runtime/stop_signal.h"

namespace dquic {

EalArgs split_eal_args(std::span<char* const> argv) {
  EalArgs out;
  bool app = false;
  for (char* const a : argv) {
    if (a == nullptr) break;
    if (!app && std::string_view(a) == "--") {
      app = true;
      continue;
    }
    (app ? out.app : out.eal).emplace_back(a);
  }
  return out;
}

EalInitResult init_eal(int argc, char** argv) {
  EalInitResult res;
  EalArgs split = split_eal_args(std::span<char* const>(argv, argc > 0 ? argc : 0));
  res.app = std::move(split.app);
  // rte_eal_init may permute its argv: give it copies it can keep (the EAL
  // remembers some pointers, e.g. the program name, for the process's life).
  static std::vector<std::string> storage;
  static std::vector<char*> eal_argv;
  storage = std::move(split.eal);
  eal_argv.clear();
  for (std::string& s : storage)
    eal_argv.push_back(s.data());
  eal_argv.push_back(nullptr);
  const int n = static_cast<int>(eal_argv.size()) - 1;
  if (rte_eal_init(n, eal_argv.data()) < 0) {
    res.exit_code = kUsageExitCode;
    res.error = "EAL initialisation failed: ";
    res.error += rte_strerror(rte_errno);
  }
  return res;
}

int run_under_eal(const char* program, int argc, char** argv,
                  const std::function<int(const std::vector<std::string>& app)>& run) {
  const EalInitResult eal = init_eal(argc, argv);
  if (eal.exit_code != 0) {
    std::fprintf(stderr, "%s: %s\n", program, eal.error.c_str());
    return eal.exit_code;
  }
  int code = kRunFailedExitCode;
  if (!install_stop_signals()) {
    std::fprintf(stderr, "%s: cannot install the SIGINT/SIGTERM handlers\n", program);
  } else {
    code = run(eal.app);
    restore_stop_signals();
  }
  cleanup_eal();
  return code;
}

void cleanup_eal() {
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  (void)rmdir(runtime_dir.c_str());
}

}  // namespace dquic
