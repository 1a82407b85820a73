// h3-get's option parsing (apps/h3-get/h3_get_options.h): a pure function
// of the strings, so no EAL. Every rejection is one line with exit code 2.
// The built program is run too with bad options and unreadable files: they
// are caught before the EAL starts (one stderr line, exit 2, nothing on
// stdout). H3_GET_BIN is the built binary (tests/meson.build).
#include "apps/h3-get/h3_get_options.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/client_program.h"

namespace dquic::h3get {
namespace {

H3GetOptionsResult parse(const std::vector<std::string>& args) {
  return parse_h3_get_options(args);
}

std::vector<std::string> base(std::vector<std::string> extra) {
  std::vector<std::string> v = {"--addr", "198.18.0.2/24", "--server", "198.18.0.1",
                                "--insecure-no-verify"};
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

void expect_error(const std::vector<std::string>& args, const std::string& prefix) {
  const H3GetOptionsResult r = parse(args);
  EXPECT_EQ(r.exit_code, kUsageExitCode) << prefix;
  EXPECT_EQ(r.error.rfind(prefix, 0), 0u) << r.error;
  EXPECT_EQ(r.error.find('\n'), std::string::npos) << r.error;
  EXPECT_FALSE(r.help);
}

TEST(H3GetOptions, MinimalAndDefaults) {
  const H3GetOptionsResult r = parse(base({"/a.bin"}));
  ASSERT_EQ(r.exit_code, 0) << r.error;
  const H3GetOptions& o = r.options;
  EXPECT_EQ(o.runtime.udp_port, 443);
  ASSERT_EQ(o.runtime.addresses.size(), 1u);
  EXPECT_EQ(o.runtime.addresses[0].prefix_len, 24);
  EXPECT_EQ(o.server.family, IpFamily::kIpv4);
  EXPECT_EQ(o.server.bytes[3], 1);
  EXPECT_TRUE(o.insecure);
  EXPECT_TRUE(o.ca.empty());
  EXPECT_TRUE(o.out_dir.empty());
  ASSERT_EQ(o.paths.size(), 1u);
  EXPECT_EQ(o.paths[0], "/a.bin");
  EXPECT_EQ(o.timeout_ms, 60'000u);
  EXPECT_EQ(o.handshake_timeout_ms, 10'000u);
  EXPECT_EQ(o.idle_timeout_ms, 30'000u);
  EXPECT_FALSE(o.stats);
  EXPECT_EQ(o.connections, 1u);
  EXPECT_EQ(parse(base({"--conns", "8", "/a.bin"})).options.connections, 8u);
  EXPECT_TRUE(parse(base({"--stats", "/a.bin"})).options.stats);
}

TEST(H3GetOptions, AllOptionsBothSpellings) {
  const H3GetOptionsResult r = parse({"--addr=198.18.0.2/24",
                                      "--server=198.18.0.1",
                                      "--port",
                                      "4433",
                                      "--gateway",
                                      "198.18.0.254",
                                      "--ca",
                                      "/tmp/ca.pem",
                                      "--sni=example.test",
                                      "--out",
                                      "/tmp/dl",
                                      "--dpdk-port",
                                      "1",
                                      "--timeout-ms=5000",
                                      "--handshake-timeout-ms",
                                      "2000",
                                      "--idle-timeout-ms=90000",
                                      "/x/1m.bin",
                                      "/",
                                      "/q?a=b"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  const H3GetOptions& o = r.options;
  EXPECT_EQ(o.runtime.udp_port, 4433);
  EXPECT_EQ(o.runtime.port, 1);
  ASSERT_TRUE(o.runtime.gateway_v4.has_value());
  EXPECT_EQ(o.ca, "/tmp/ca.pem");
  EXPECT_FALSE(o.insecure);
  EXPECT_EQ(o.sni, "example.test");
  EXPECT_EQ(o.out_dir, "/tmp/dl");
  EXPECT_EQ(o.timeout_ms, 5000u);
  EXPECT_EQ(o.handshake_timeout_ms, 2000u);
  EXPECT_EQ(o.idle_timeout_ms, 90000u);
  EXPECT_EQ(o.paths, (std::vector<std::string>{"/x/1m.bin", "/", "/q?a=b"}));
  EXPECT_EQ(o.out_names, (std::vector<std::string>{"1m.bin", "index.html", "q"}));
}

TEST(H3GetOptions, PathsAfterDoubleDash) {
  const H3GetOptionsResult r = parse(base({"/a", "--", "/b", "/c"}));
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.options.paths, (std::vector<std::string>{"/a", "/b", "/c"}));
}

TEST(H3GetOptions, ResumeZeroRttKeyUpdate) {
  {
    const H3GetOptions o = parse(base({"/a", "/b"})).options;
    EXPECT_FALSE(o.resume);
    EXPECT_FALSE(o.zero_rtt);
    EXPECT_FALSE(o.key_update);
    EXPECT_EQ(o.ticket_wait_ms, 1000u);
    EXPECT_EQ(o.resume_delay_ms, 0u);
  }
  {
    const H3GetOptionsResult r = parse(base({"--resume", "/a", "/b", "/c"}));
    ASSERT_EQ(r.exit_code, 0) << r.error;
    EXPECT_TRUE(r.options.resume);
    EXPECT_FALSE(r.options.zero_rtt);
    EXPECT_FALSE(r.options.key_update);
  }
  {
    // --zero-rtt implies --resume.
    const H3GetOptionsResult r = parse(base({"--zero-rtt", "--ticket-wait-ms=250", "/a", "/b"}));
    ASSERT_EQ(r.exit_code, 0) << r.error;
    EXPECT_TRUE(r.options.resume);
    EXPECT_TRUE(r.options.zero_rtt);
    EXPECT_EQ(r.options.ticket_wait_ms, 250u);
  }
  {
    // One path is enough for a key update; it combines with --conns.
    const H3GetOptionsResult r = parse(base({"--key-update", "--conns", "2", "/a"}));
    ASSERT_EQ(r.exit_code, 0) << r.error;
    EXPECT_TRUE(r.options.key_update);
    EXPECT_FALSE(r.options.resume);
    EXPECT_EQ(r.options.connections, 2u);
  }
  {
    const H3GetOptionsResult r = parse(base({"--resume", "--key-update", "/a", "/b"}));
    ASSERT_EQ(r.exit_code, 0) << r.error;
    EXPECT_TRUE(r.options.resume);
    EXPECT_TRUE(r.options.key_update);
  }
  EXPECT_EQ(parse(base({"--ticket-wait-ms", "0", "--resume", "/a", "/b"})).options.ticket_wait_ms,
            0u);
  EXPECT_EQ(
      parse(base({"--resume-delay-ms=3000", "--zero-rtt", "/a", "/b"})).options.resume_delay_ms,
      3000u);
}

TEST(H3GetOptions, OutputName) {
  EXPECT_EQ(output_name("/a/b/c.txt"), "c.txt");
  EXPECT_EQ(output_name("/a/b/"), "index.html");
  EXPECT_EQ(output_name("/"), "index.html");
  EXPECT_EQ(output_name("/f?x=/y"), "f");
  EXPECT_EQ(output_name("/f#frag"), "f");
  EXPECT_EQ(output_name("/a/.."), "");
  EXPECT_EQ(output_name("/."), "");
}

TEST(H3GetOptions, Help) {
  EXPECT_TRUE(parse({"--help"}).help);
  const std::string h = h3_get_help();
  EXPECT_NE(h.find("--insecure-no-verify"), std::string::npos);
  EXPECT_NE(h.find("Not supported"), std::string::npos);
  EXPECT_NE(h.find("--resume"), std::string::npos);
  EXPECT_NE(h.find("--zero-rtt"), std::string::npos);
  EXPECT_NE(h.find("--key-update"), std::string::npos);
  EXPECT_NE(h.find("key_updates_initiated="), std::string::npos);
  // Built now: no longer listed as missing; migration still is.
  const std::string missing = h.substr(h.find("Not supported"));
  EXPECT_EQ(missing.find("0-RTT"), std::string::npos);
  EXPECT_EQ(missing.find("resumption"), std::string::npos);
  EXPECT_NE(missing.find("migration"), std::string::npos);
}

TEST(H3GetOptions, BadOptionsAreOneLineExit2) {
  expect_error({"--server", "198.18.0.1", "--insecure-no-verify", "/a"}, "--addr:");
  expect_error({"--addr", "198.18.0.2/24", "--insecure-no-verify", "/a"}, "--server: required");
  expect_error(base({"--server", "bogus", "/a"}), "--server:");
  expect_error({"--addr", "198.18.0.2/24", "--server", "2001:db8::1", "--insecure-no-verify", "/a"},
               "--server: none");
  expect_error(base({}), "PATH:");
  expect_error(base({"--stats=1", "/a"}), "--stats: takes no value");
  expect_error(base({"--conns", "0", "/a"}), "--conns: expected 1..64");
  expect_error(base({"--conns=65", "/a"}), "--conns: expected 1..64");
  expect_error(base({"relative"}), "PATH:");
  expect_error(base({"/has space"}), "PATH:");
  expect_error(base({"/a/.."}), "PATH:");
  expect_error(base({"--out", "/tmp", "/x/a", "/y/a"}), "PATH:");
  expect_error(base({"--ca", "/tmp/ca.pem", "/a"}), "--ca: not with");
  expect_error({"--addr", "198.18.0.2/24", "--server", "198.18.0.1", "/a"}, "--ca: required");
  expect_error(base({"--port", "70000", "/a"}), "--port:");
  expect_error(base({"--addr", "300.1.1.1", "/a"}), "--addr:");
  expect_error(base({"--gateway", "10.0.0.1", "/a"}), "--gateway:");
  expect_error(base({"--timeout-ms", "abc", "/a"}), "--timeout-ms:");
  expect_error(base({"--handshake-timeout-ms", "0", "/a"}), "--handshake-timeout-ms:");
  expect_error(base({"--idle-timeout-ms", "999", "/a"}),
               "--idle-timeout-ms: expected 1000..600000");
  expect_error(base({"--idle-timeout-ms", "600001", "/a"}), "--idle-timeout-ms:");
  expect_error(base({"--sni"}), "--sni: missing value");
  expect_error(base({"--out="}), "--out: empty");
  expect_error(base({"--insecure-no-verify=1", "/a"}), "--insecure-no-verify: takes no value");
  expect_error(base({"--insecure", "/a"}), "--insecure:");
  expect_error(base({"--method", "POST", "/a"}), "--method: not supported");
  expect_error(base({"--early-data", "/a", "/b"}), "--early-data: spelled --zero-rtt");
  expect_error(base({"--resume", "/a"}), "--resume: needs at least two PATHs");
  expect_error(base({"--zero-rtt", "/a"}), "--zero-rtt: needs at least two PATHs");
  expect_error(base({"--resume", "--conns", "2", "/a", "/b"}), "--resume: not with --conns");
  expect_error(base({"--zero-rtt=1", "/a", "/b"}), "--zero-rtt: takes no value");
  expect_error(base({"--key-update=yes", "/a"}), "--key-update: takes no value");
  expect_error(base({"--resume", "--ticket-wait-ms", "60001", "/a", "/b"}),
               "--ticket-wait-ms: expected 0..60000");
  expect_error(base({"--ticket-wait-ms"}), "--ticket-wait-ms: missing value");
  expect_error(base({"--resume", "--resume-delay-ms", "-1", "/a", "/b"}),
               "--resume-delay-ms: expected 0..60000");
  expect_error(base({"--bogus", "/a"}), "unknown option");
}

// ------------------------------------- runtime/client_program.h (shared)

TEST(ClientProgram, Addresses) {
  IpAddress v4, v6;
  ASSERT_TRUE(parse_ip_address("198.18.0.1", &v4));
  ASSERT_TRUE(parse_ip_address("2001:db8::1", &v6));
  EXPECT_EQ(peer_address_text(peer_address_of(v4, 4433)), "198.18.0.1:4433");
  EXPECT_EQ(peer_address_text(peer_address_of(v6, 443)), "[2001:db8::1]:443");
  const H3GetOptionsResult r = parse(base({"--addr6", "2001:db8::2/64", "/a"}));
  ASSERT_EQ(r.exit_code, 0) << r.error;
  const InterfaceAddress* a4 = local_address_for(r.options.runtime, IpFamily::kIpv4);
  const InterfaceAddress* a6 = local_address_for(r.options.runtime, IpFamily::kIpv6);
  ASSERT_NE(a4, nullptr);
  ASSERT_NE(a6, nullptr);
  EXPECT_EQ(a4->address.bytes[3], 2);
  EXPECT_EQ(a6->address.family, IpFamily::kIpv6);
  const H3GetOptionsResult only4 = parse(base({"/a"}));
  EXPECT_EQ(local_address_for(only4.options.runtime, IpFamily::kIpv6), nullptr);
}

TEST(ClientProgram, Trust) {
  IpAddress v4;
  ASSERT_TRUE(parse_ip_address("198.18.0.1", &v4));
  ClientTrustOptions t;
  t.insecure = true;
  EXPECT_EQ(client_server_name(t, v4), "198.18.0.1");
  t.server_name = "example.test";
  EXPECT_EQ(client_server_name(t, v4), "example.test");
  std::string err;
  ClientTls tls;
  ASSERT_TRUE(setup_client_tls(t, v4, &tls, &err)) << err;
  EXPECT_TRUE(tls.verifier->insecure_skip_verify());
  EXPECT_EQ(tls.config.verifier, tls.verifier.get());
  EXPECT_EQ(tls.config.server_name, "example.test");

  ClientTrustOptions missing;
  missing.ca = "/nonexistent/ca.pem";
  EXPECT_EQ(make_client_verifier(missing, &err), nullptr);
  EXPECT_EQ(err.rfind("--ca: cannot read /nonexistent/ca.pem", 0), 0u) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos);
}

// ------------------------------------------------------- the built program

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

RunResult run(const std::vector<std::string>& args) {
  const std::string b = "/tmp/h3_get_options_test_" + std::to_string(getpid());
  const std::string out = b + ".out", err = b + ".err";
  const pid_t pid = fork();
  if (pid == 0) {
    if (!std::freopen(out.c_str(), "w", stdout) || !std::freopen(err.c_str(), "w", stderr))
      _exit(127);
    std::string bin = H3_GET_BIN;
    std::vector<std::string> copy = args;
    std::vector<char*> argv = {bin.data()};
    for (std::string& a : copy)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  RunResult r;
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out);
  r.err = slurp(err);
  std::remove(out.c_str());
  std::remove(err.c_str());
  return r;
}

void expect_program_error(std::vector<std::string> app, const std::string& text) {
  std::vector<std::string> args = {"--no-huge", "--no-shconf", "--no-pci", "-l", "0", "--"};
  args.insert(args.end(), app.begin(), app.end());
  const RunResult r = run(args);
  EXPECT_EQ(r.exit_code, kUsageExitCode) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;  // exactly one line
  EXPECT_NE(r.err.find("h3-get: " + text), std::string::npos) << r.err;
}

TEST(H3GetProgram, BadOptionsExit2OneLine) {
  expect_program_error({"--addr", "198.18.0.2/24", "--insecure-no-verify", "/a"},
                       "--server: required");
  expect_program_error(base({"--frobnicate", "/a"}), "unknown option");
  expect_program_error(base({"no-slash"}), "PATH:");
  expect_program_error(base({"--resume", "/only-one"}), "--resume: needs at least two PATHs");
}

TEST(H3GetProgram, UnreadableFilesExit2OneLine) {
  expect_program_error(
      {"--addr", "198.18.0.2/24", "--server", "198.18.0.1", "--ca", "/nonexistent/ca.pem", "/a"},
      "--ca: cannot read /nonexistent/ca.pem");
  expect_program_error(base({"--out", "/nonexistent/dir", "/a"}),
                       "--out: cannot write to directory /nonexistent/dir");
  // A readable file that is not PEM: the trust store refuses it.
  const std::string bad = "/tmp/h3_get_options_test_bad_" + std::to_string(getpid()) + ".pem";
  {
    std::ofstream f(bad);
    f << "not a certificate\n";
  }
  expect_program_error({"--addr", "198.18.0.2/24", "--server", "198.18.0.1", "--ca", bad, "/a"},
                       "--ca:");
  std::remove(bad.c_str());
}

TEST(H3GetProgram, HelpExit0) {
  const RunResult r = run({"--", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("usage: h3-get"), std::string::npos);
}

}  // namespace
}  // namespace dquic::h3get
