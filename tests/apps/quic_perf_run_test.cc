// The quic-perf program itself (apps/quic-perf/quic_perf.cc), run as a
// child process the way a user runs it: a short loopback download, request
// and handshake run whose --json output is parsed and checked, and the
// command-line failures (exit 2 with one line, before the EAL starts), and
// an unreachable server (a net_null port: exit 1, "handshake timeout").
// QUIC_PERF_BIN is the built binary (tests/meson.build). No timing
// assertions: only bounds on the run so that a hang fails.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/test_certs.h"

namespace {

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Starts the program (argv after its name) with stdout and stderr to
// `out` and `err`; returns the child's pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr))
      _exit(127);
    std::vector<char*> argv;
    std::string bin = QUIC_PERF_BIN;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (std::string& a : copy)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// Runs the program to its end.
RunResult run(const std::vector<std::string>& args) {
  const std::string base = "/tmp/quic_perf_test_" + std::to_string(getpid());
  const std::string out = base + ".out", err = base + ".err";
  RunResult r;
  const pid_t pid = spawn(args, out, err);
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return r;
}

// Two CPUs this process may use, as an EAL -l list; empty with fewer.
std::string two_lcores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return {};
  std::vector<int> cpus;
  for (int i = 0; i < CPU_SETSIZE && cpus.size() < 2; ++i)
    if (CPU_ISSET(i, &set)) cpus.push_back(i);
  if (cpus.size() < 2) return {};
  return std::to_string(cpus[0]) + "," + std::to_string(cpus[1]);
}

std::vector<std::string> eal(const std::string& lcores, const std::string& tag) {
  return {"-l",
          lcores,
          "--no-huge",
          "--no-shconf",
          "--no-pci",
          "-m",
          "1024",
          "--log-level",
          "error",
          "--no-telemetry",
          "--file-prefix",
          "qp-" + tag + std::to_string(getpid())};
}

// The value after "key": in our flat-ish JSON (numbers, strings, true/false).
std::string json_value(const std::string& j, const std::string& key) {
  const std::string k = "\"" + key + "\": ";
  const std::size_t at = j.find(k);
  if (at == std::string::npos) return {};
  std::size_t v = at + k.size();
  if (j[v] == '"') {
    const std::size_t end = j.find('"', v + 1);
    return j.substr(v + 1, end - v - 1);
  }
  std::size_t end = v;
  while (end < j.size() && j[end] != ',' && j[end] != '}')
    ++end;
  return j.substr(v, end - v);
}
double json_number(const std::string& j, const std::string& key) {
  const std::string v = json_value(j, key);
  EXPECT_FALSE(v.empty()) << key << " missing in " << j;
  return v.empty() ? -1 : std::strtod(v.c_str(), nullptr);
}

class QuicPerfRun : public ::testing::Test {
 protected:
  void SetUp() override {
    lcores_ = two_lcores();
    if (lcores_.empty()) GTEST_SKIP() << "loopback needs two CPUs";
  }
  std::string lcores_;
};

TEST_F(QuicPerfRun, LoopbackDownloadWritesJson) {
  const std::string json_path = "/tmp/quic_perf_test_" + std::to_string(getpid()) + ".json";
  std::vector<std::string> a = eal(lcores_, "dl");
  for (const char* s : {"--", "loopback", "--download", "20M", "--quiet", "--max-seconds", "120",
                        "--verify", "--json"})
    a.push_back(s);
  a.push_back(json_path);
  const RunResult r = run(a);
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  const std::string j = slurp(json_path);
  std::remove(json_path.c_str());
  ASSERT_EQ(j.front(), '{') << j;
  EXPECT_EQ(json_value(j, "scenario"), "bulk");
  EXPECT_EQ(json_value(j, "mode"), "loopback");
  EXPECT_EQ(json_number(j, "bytes"), 20e6);
  EXPECT_EQ(json_number(j, "bytes_down"), 20e6);
  EXPECT_GT(json_number(j, "goodput_gbps"), 0);
  EXPECT_GT(json_number(j, "seconds"), 0);
  EXPECT_GT(json_number(j, "packets_sent"), 20e6 / 1500);
  EXPECT_GE(json_number(j, "packets_lost"), 0);
  EXPECT_EQ(json_number(j, "requests_completed"), 1);
  EXPECT_EQ(json_number(j, "requests_failed"), 0);
  EXPECT_GT(json_number(j, "client"), 0);  // cycles_per_packet.client
  EXPECT_NE(j.find("\"server\": "), std::string::npos);
  // Busy cycles per side (idle polls left out): both sides did work, and the
  // busy share of a lcore is a fraction.
  for (const char* key :
       {"cycles_per_packet", "receive_cycles_per_packet", "send_cycles_per_packet", "busy_share"}) {
    const std::size_t at = j.find(std::string("\"") + key + "\": {");
    ASSERT_NE(at, std::string::npos) << key << " in " << j;
    const std::string obj = j.substr(at, j.find('}', at) - at + 1);
    const double client = json_number(obj, "client");
    const double server = json_number(obj, "server");
    EXPECT_GT(client, 0) << obj;
    EXPECT_GT(server, 0) << obj;
    if (std::string(key) == "busy_share") {
      EXPECT_LE(client, 1.0) << obj;
      EXPECT_LE(server, 1.0) << obj;
    }
  }
  EXPECT_FALSE(json_value(j, "crypto_backend").empty());
  EXPECT_EQ(json_value(j, "cipher_suite"), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(json_value(j, "no_encryption"), "false");
  EXPECT_NE(j.find("\"lcores\": {\"client\": ["), std::string::npos) << j;
  EXPECT_EQ(j.find("handshakes_per_s"), std::string::npos);  // not measured in bulk
  // The summary table went to stdout (the JSON to its file).
  EXPECT_NE(r.out.find("goodput"), std::string::npos) << r.out;
}

TEST_F(QuicPerfRun, LoopbackRequestsAndHandshakesToStdout) {
  std::vector<std::string> a = eal(lcores_, "rq");
  for (const char* s : {"--", "loopback", "--requests", "300", "--conns", "2", "--streams", "4",
                        "--quiet", "--max-seconds", "120", "--json"})
    a.push_back(s);
  RunResult r = run(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string j = r.out;  // only the JSON on stdout; the rest went to stderr
  ASSERT_EQ(j.front(), '{') << j;
  EXPECT_EQ(json_value(j, "scenario"), "requests");
  EXPECT_EQ(json_number(j, "requests_completed"), 300);
  EXPECT_GT(json_number(j, "requests_per_s"), 0);
  const double p50 = json_number(j, "p50"), p99 = json_number(j, "p99");
  EXPECT_GT(p50, 0);
  EXPECT_GE(p99, p50);
  EXPECT_GE(json_number(j, "p99.9"), p99);
  EXPECT_EQ(json_number(j, "bytes_down"), 300 * 64);

  a = eal(lcores_, "hs");
  for (const char* s : {"--", "loopback", "--handshakes", "40", "--conns", "4", "--quiet",
                        "--max-seconds", "120", "--json", "-"})
    a.push_back(s);
  r = run(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = r.out;
  EXPECT_EQ(json_value(j, "scenario"), "handshakes");
  EXPECT_EQ(json_number(j, "handshakes"), 40);
  EXPECT_GT(json_number(j, "handshakes_per_s"), 0);
  // The default client authenticates the server, and says so.
  EXPECT_EQ(json_value(j, "client_verifies_certificate"), "true");
  EXPECT_EQ(json_value(j, "client_verifies_signature"), "true");
  EXPECT_EQ(r.err.find("--insecure-no-verify"), std::string::npos) << r.err;
  // The busy cycles per handshake of each side, and the server lcore's
  // derived capacity, are reported.
  {
    const std::size_t at = j.find("\"cycles_per_handshake\": {");
    ASSERT_NE(at, std::string::npos) << j;
    const std::string obj = j.substr(at, j.find('}', at) - at + 1);
    EXPECT_GT(json_number(obj, "client"), 0) << obj;
    EXPECT_GT(json_number(obj, "server"), 0) << obj;
  }
  EXPECT_GT(json_number(j, "server_handshakes_per_s_per_lcore_derived"), 0);

  // The load-generator client: labelled in the JSON and on stderr.
  a = eal(lcores_, "hn");
  for (const char* s : {"--", "loopback", "--handshakes", "40", "--conns", "4", "--quiet",
                        "--insecure-no-verify", "--max-seconds", "120", "--json", "-"})
    a.push_back(s);
  r = run(a);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = r.out;
  EXPECT_EQ(json_number(j, "handshakes"), 40);
  EXPECT_EQ(json_value(j, "client_verifies_certificate"), "false");
  EXPECT_EQ(json_value(j, "client_verifies_signature"), "false");
  EXPECT_NE(r.err.find("WARNING: --insecure-no-verify"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("client did NOT authenticate the server"), std::string::npos) << r.err;
}

// server and client modes in two processes joined by a net_memif pair (the
// server's memif is the socket's server), with the test PKI: the server
// answers a short download, the client verifies its certificate with --ca,
// and SIGINT stops the server cleanly.
TEST_F(QuicPerfRun, ServerAndClientOverMemif) {
  const std::string base = "/tmp/quic_perf_memif_" + std::to_string(getpid());
  const dquic::test::TestPki& pki = dquic::test::test_pki();
  auto write = [](const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
  };
  write(base + "_chain.pem", pki.p256.chain_pem);
  write(base + "_key.pem", pki.p256.key_pem);
  write(base + "_ca.pem", pki.ca_pem);
  const std::string sock = base + ".sock";
  const std::string cpu0 = lcores_.substr(0, lcores_.find(','));
  const std::string cpu1 = lcores_.substr(lcores_.find(',') + 1);
  std::vector<std::string> s = eal(cpu1, "ms");
  for (const std::string& a :
       {std::string("--vdev"), "net_memif0,role=server,socket=" + sock, std::string("--"),
        std::string("server"), std::string("--addr"), std::string("198.18.0.1/24"),
        std::string("--port"), std::string("4433"), std::string("--cert"), base + "_chain.pem",
        std::string("--key"), base + "_key.pem"})
    s.push_back(a);
  const pid_t server = spawn(s, base + "_server.out", base + "_server.err");
  ASSERT_GT(server, 0);
  sleep(2);  // the server's EAL and memif socket come up
  std::vector<std::string> c = eal(cpu0, "mc");
  for (const std::string& a : {std::string("--vdev"),
                               "net_memif0,role=client,socket=" + sock,
                               std::string("--"),
                               std::string("client"),
                               std::string("--addr"),
                               std::string("198.18.0.2/24"),
                               std::string("--server"),
                               std::string("198.18.0.1"),
                               std::string("--server-name"),
                               std::string("example.test"),
                               std::string("--port"),
                               std::string("4433"),
                               std::string("--ca"),
                               base + "_ca.pem",
                               std::string("--download"),
                               std::string("5M"),
                               std::string("--quiet"),
                               std::string("--max-seconds"),
                               std::string("60"),
                               std::string("--handshake-timeout"),
                               std::string("10000"),
                               std::string("--json")})
    c.push_back(a);
  const RunResult r = run(c);
  kill(server, SIGINT);
  int status = 0;
  waitpid(server, &status, 0);
  const std::string server_out = slurp(base + "_server.out");
  const std::string server_err = slurp(base + "_server.err");
  for (const char* suffix : {"_chain.pem", "_key.pem", "_ca.pem", "_server.out", "_server.err"})
    std::remove((base + suffix).c_str());
  std::remove(sock.c_str());
  ASSERT_EQ(r.exit_code, 0) << r.err << "\nserver: " << server_err << server_out;
  EXPECT_EQ(json_value(r.out, "mode"), "client");
  EXPECT_EQ(json_number(r.out, "bytes_down"), 5e6);
  EXPECT_GT(json_number(r.out, "goodput_gbps"), 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << server_err;
  EXPECT_NE(server_out.find("quic-perf server: 1 connections"), std::string::npos) << server_out;
}

TEST(QuicPerfCli, BadOptionsExit2WithOneLine) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--", "loopback", "--bogus"},
        std::vector<std::string>{"--", "loopback", "--download", "lots"},
        std::vector<std::string>{"--", "nonsense"},
        std::vector<std::string>{"--", "server", "--addr", "198.18.0.1/24", "--cert",
                                 "/nonexistent/c.pem", "--key", "/nonexistent/k.pem"},
        std::vector<std::string>{"--", "client", "--addr", "198.18.0.2/24", "--server",
                                 "198.18.0.1", "--ca", "/nonexistent/ca.pem"}}) {
    const RunResult r = run(args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.err;
    EXPECT_EQ(r.err.rfind("quic-perf: ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(QuicPerfCli, HelpSaysWhatIsMissing) {
  const RunResult r = run({"--", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("not implemented yet"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Not built yet"), std::string::npos) << r.out;
}

// Nothing answers on net_null: the client gives up after its handshake
// timeout with one line and exit 1.
TEST(QuicPerfCli, UnreachableServerIsAHandshakeTimeout) {
  std::vector<std::string> a = {"-l",
                                "0",
                                "--no-huge",
                                "--no-shconf",
                                "--no-pci",
                                "-m",
                                "512",
                                "--log-level",
                                "error",
                                "--no-telemetry",
                                "--vdev",
                                "net_null0",
                                "--file-prefix",
                                "qp-un" + std::to_string(getpid()),
                                "--",
                                "client",
                                "--addr",
                                "198.18.0.2/24",
                                "--server",
                                "198.18.0.1",
                                "--insecure",
                                "--handshake-timeout",
                                "300",
                                "--quiet"};
  const RunResult r = run(a);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("quic-perf: handshake timeout: no answer from 198.18.0.1:443 within 300 ms"),
            std::string::npos)
      << r.err;
}

}  // namespace
