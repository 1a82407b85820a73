// Our rte_log types (runtime/log.h): registered before main(), default INFO,
// and set by the EAL's --log-level like DPDK's own. Its own main() starts
// the EAL with --log-level=dquic.quic:debug and --log-level=dquic.h3:warning
// (and nothing for dquic.runtime), as an operator would.
#include "runtime/log.h"

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace dquic {
namespace {

// The messages written while `f` runs, through a memory stream.
template <typename F>
std::string captured(F&& f) {
  char* buf = nullptr;
  std::size_t len = 0;
  std::FILE* mem = open_memstream(&buf, &len);
  if (mem == nullptr) return "open_memstream failed";
  std::FILE* old = rte_log_get_stream();
  rte_openlog_stream(mem);
  f();
  rte_openlog_stream(old);
  std::fclose(mem);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

TEST(LogTypesTest, RegisteredUnderTheirNames) {
  for (int t : {log_type_runtime, log_type_quic, log_type_h3}) {
    EXPECT_GE(t, 0);
    EXPECT_NE(t, static_cast<int>(RTE_LOGTYPE_EAL)) << "registration failed";
  }
  EXPECT_NE(log_type_runtime, log_type_quic);
  EXPECT_NE(log_type_quic, log_type_h3);
  // Registering an existing name gives its type back (and keeps its level).
  EXPECT_EQ(rte_log_register_type_and_pick_level(kLogTypeRuntime, RTE_LOG_EMERG), log_type_runtime);
  EXPECT_EQ(rte_log_register_type_and_pick_level(kLogTypeQuic, RTE_LOG_EMERG), log_type_quic);
  EXPECT_EQ(rte_log_register_type_and_pick_level(kLogTypeH3, RTE_LOG_EMERG), log_type_h3);
}

TEST(LogTypesTest, TheEalOptionSetTheLevels) {
  // Not on the command line: the default.
  EXPECT_EQ(rte_log_get_level(static_cast<std::uint32_t>(log_type_runtime)),
            static_cast<int>(RTE_LOG_INFO));
  EXPECT_EQ(rte_log_get_level(static_cast<std::uint32_t>(log_type_quic)),
            static_cast<int>(RTE_LOG_DEBUG));
  EXPECT_EQ(rte_log_get_level(static_cast<std::uint32_t>(log_type_h3)),
            static_cast<int>(RTE_LOG_WARNING));
  EXPECT_FALSE(log_enabled(log_type_runtime, RTE_LOG_DEBUG));
  EXPECT_TRUE(log_enabled(log_type_runtime, RTE_LOG_INFO));
  EXPECT_TRUE(log_enabled(log_type_quic, RTE_LOG_DEBUG));
  EXPECT_FALSE(log_enabled(log_type_h3, RTE_LOG_NOTICE));
}

TEST(LogTypesTest, SettableAtRunTimeByPattern) {
  ASSERT_EQ(rte_log_set_level_pattern("dquic.runtime", RTE_LOG_DEBUG), 0);
  EXPECT_EQ(rte_log_get_level(static_cast<std::uint32_t>(log_type_runtime)),
            static_cast<int>(RTE_LOG_DEBUG));
  EXPECT_TRUE(log_enabled(log_type_runtime, RTE_LOG_DEBUG));
  const std::string on = captured([] { DQUIC_LOG(DEBUG, runtime, "worker %u: hello", 3u); });
  EXPECT_NE(on.find("dquic.runtime: worker 3: hello\n"), std::string::npos) << on;

  ASSERT_EQ(rte_log_set_level(static_cast<std::uint32_t>(log_type_runtime), RTE_LOG_INFO), 0);
  const std::string off = captured([] { DQUIC_LOG(DEBUG, runtime, "not printed"); });
  EXPECT_EQ(off.find("not printed"), std::string::npos) << off;
  const std::string info = captured([] { DQUIC_LOG(INFO, h3, "h3 %s", "info"); });
  EXPECT_EQ(info.find("h3 info"), std::string::npos) << "dquic.h3 is at WARNING: " << info;
  const std::string warn = captured([] { DQUIC_LOG(WARNING, h3, "h3 %s", "warning"); });
  EXPECT_NE(warn.find("dquic.h3: h3 warning"), std::string::npos) << warn;
}

}  // namespace
}  // namespace dquic

int main(int argc, char** argv) {
  const std::string prefix = "dquic-log-test-" + std::to_string(getpid());
  std::vector<std::string> args = {argv[0],
                                   "--no-huge",
                                   "--no-shconf",
                                   "--no-pci",
                                   "--no-telemetry",
                                   "-m",
                                   "256",
                                   "--log-level=dquic.quic:debug",
                                   "--log-level=dquic.h3:warning",
                                   "--file-prefix",
                                   prefix};
  std::vector<char*> eal_argv;
  for (auto& a : args)
    eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  // The prefix is unique to this process, so the runtime directory (made
  // even with --no-shconf, and empty with --no-telemetry) is ours.
  const std::string runtime_dir = rte_eal_get_runtime_dir();
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  rmdir(runtime_dir.c_str());
  return rc;
}
