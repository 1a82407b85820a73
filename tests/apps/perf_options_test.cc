// quic-perf's option parsing (apps/quic-perf/perf_options.h): a pure
// function of the strings, so no EAL. Every rejection is one line with exit
// code 2; the spellings (--addr, --port) map onto the shared ones.
#include "apps/quic-perf/perf_options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dquic::perf {
namespace {

PerfOptionsResult parse(std::vector<std::string> args) {
  return parse_perf_options(args);
}

void expect_error(std::vector<std::string> args, const std::string& prefix) {
  const PerfOptionsResult r = parse(args);
  EXPECT_EQ(r.exit_code, kUsageExitCode) << prefix;
  EXPECT_EQ(r.error.rfind(prefix, 0), 0u) << r.error;
  EXPECT_EQ(r.error.find('\n'), std::string::npos) << r.error;
}

TEST(PerfOptions, ParseBytesSuffixes) {
  std::uint64_t v = 0;
  EXPECT_TRUE(parse_bytes("0", &v));
  EXPECT_EQ(v, 0u);
  EXPECT_TRUE(parse_bytes("20M", &v));
  EXPECT_EQ(v, 20'000'000u);
  EXPECT_TRUE(parse_bytes("1Gi", &v));
  EXPECT_EQ(v, 1u << 30);
  EXPECT_TRUE(parse_bytes("3k", &v));
  EXPECT_EQ(v, 3000u);
  EXPECT_FALSE(parse_bytes("", &v));
  EXPECT_FALSE(parse_bytes("M", &v));
  EXPECT_FALSE(parse_bytes("12X", &v));
  EXPECT_FALSE(parse_bytes("-1", &v));
  EXPECT_FALSE(parse_bytes("20000000000T", &v));  // overflow
}

TEST(PerfOptions, LoopbackDefaultsAndScenarios) {
  PerfOptionsResult r = parse({"loopback"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.options.mode, Mode::kLoopback);
  EXPECT_EQ(r.options.scenario, Scenario::kBulk);
  EXPECT_EQ(r.options.download, 1'000'000'000u);
  EXPECT_EQ(r.options.conns, 1u);
  EXPECT_FALSE(r.options.no_encryption);  // never the default

  r = parse({"loopback", "--upload", "5M"});
  EXPECT_EQ(r.options.download, 0u);
  EXPECT_EQ(r.options.upload, 5'000'000u);

  r = parse({"loopback", "--requests", "500", "--streams=16", "--conns", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.options.scenario, Scenario::kRequests);
  EXPECT_EQ(r.options.requests, 500u);
  EXPECT_EQ(r.options.download, 64u);
  EXPECT_EQ(r.options.streams, 16u);

  r = parse({"loopback", "--scenario", "handshakes", "--duration", "2.5"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.options.scenario, Scenario::kHandshakes);
  EXPECT_DOUBLE_EQ(r.options.duration_s, 2.5);
  EXPECT_EQ(r.options.requests, 0u);  // the duration bounds it

  r = parse({"loopback", "--cc", "newreno", "--cipher", "chacha20", "--json", "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.options.cc, CongestionAlgorithm::kNewReno);
  EXPECT_EQ(r.options.cipher, CipherSuite::kChacha20Poly1305Sha256);
  EXPECT_TRUE(r.options.json);
  EXPECT_TRUE(r.options.json_path.empty());  // stdout
  EXPECT_FALSE(r.options.progress);

  r = parse({"loopback", "--json", "out.json", "--aead", "inline"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.options.json_path, "out.json");
  EXPECT_EQ(r.runtime.aead, "inline");  // the shared options still apply
}

TEST(PerfOptions, ServerAndClientSpellings) {
  PerfOptionsResult r = parse({"server", "--addr", "198.18.0.1/24", "--port", "4433", "--cert",
                               "c.pem", "--key", "k.pem", "--dpdk-port", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.options.mode, Mode::kServer);
  EXPECT_EQ(r.runtime.udp_port, 4433);
  EXPECT_EQ(r.runtime.port, 1);
  ASSERT_EQ(r.runtime.addresses.size(), 1u);
  EXPECT_EQ(r.runtime.addresses[0].prefix_len, 24);

  r = parse({"client", "--addr=fd00::2/64", "--server", "fd00::1", "--insecure"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  ASSERT_EQ(r.runtime.addresses.size(), 1u);
  EXPECT_EQ(r.runtime.addresses[0].address.family, IpFamily::kIpv6);
  EXPECT_TRUE(r.options.insecure);
  ASSERT_TRUE(r.options.server.has_value());
}

TEST(PerfOptions, RejectionsAreOneLineExit2) {
  expect_error({}, "missing mode");
  expect_error({"sideways"}, "unknown mode 'sideways'");
  expect_error({"loopback", "--bogus"}, "unknown option '--bogus'");
  expect_error({"loopback", "--download"}, "--download: missing value");
  expect_error({"loopback", "--download", "lots"}, "--download: 'lots' is not a byte count");
  expect_error({"loopback", "--conns", "0"}, "--conns: '0' is not in 1..65536");
  expect_error({"loopback", "--duration", "-1"}, "--duration:");
  expect_error({"loopback", "--cc", "bbr"}, "--cc: 'bbr'");
  expect_error({"loopback", "--cipher", "rc4"}, "--cipher: 'rc4'");
  expect_error({"loopback", "--packet-size", "9000"}, "--packet-size:");
  expect_error({"loopback", "--requests", "5", "--scenario", "bulk"}, "--scenario");
  expect_error({"loopback", "--scenario", "bulk", "--requests", "5"},
               "--requests: conflicts with --scenario bulk");
  expect_error({"loopback", "--cert", "c.pem"}, "loopback:");
  expect_error({"loopback", "--workers", "x"}, "--workers");  // a shared option's error
  expect_error({"server", "--addr", "198.18.0.1"}, "server: --cert and --key are required");
  expect_error({"server", "--cert", "c", "--key", "k"}, "server: --addr");
  expect_error({"client", "--addr", "198.18.0.2/24"}, "client: --server IP is required");
  expect_error({"client", "--addr", "198.18.0.2/24", "--server", "198.18.0.1"},
               "client: give --ca FILE");
  expect_error({"client", "--addr", "198.18.0.2/24", "--server", "nope", "--insecure"},
               "--server: 'nope'");
  expect_error({"client", "--addr", "198.18.0.2/24", "--server", "198.18.0.1", "--insecure",
                "--no-encryption-diagnostic"},
               "--no-encryption-diagnostic: loopback only");
}

TEST(PerfOptions, InsecureNoVerifyIsExplicitAndClientSideOnly) {
  // Never the default.
  EXPECT_FALSE(parse({"loopback"}).options.insecure_no_verify);
  EXPECT_FALSE(parse({"client", "--addr", "198.18.0.2/24", "--server", "198.18.0.1", "--insecure"})
                   .options.insecure_no_verify);

  PerfOptionsResult r = parse({"loopback", "--handshakes", "100", "--insecure-no-verify"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_TRUE(r.options.insecure_no_verify);
  EXPECT_FALSE(r.options.insecure);

  // Stands in for --ca in client mode.
  r = parse(
      {"client", "--addr", "198.18.0.2/24", "--server", "198.18.0.1", "--insecure-no-verify"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_TRUE(r.options.insecure_no_verify);

  expect_error({"client", "--addr", "198.18.0.2/24", "--server", "198.18.0.1", "--ca", "ca.pem",
                "--insecure-no-verify"},
               "client: --ca and --insecure-no-verify exclude each other");
  expect_error({"client", "--addr", "198.18.0.2/24", "--server", "198.18.0.1", "--insecure",
                "--insecure-no-verify"},
               "client: --insecure and --insecure-no-verify exclude each other");
  expect_error(
      {"server", "--addr", "198.18.0.1/24", "--cert", "c", "--key", "k", "--insecure-no-verify"},
      "server: --insecure-no-verify is a client and loopback option");
  expect_error({"loopback", "--insecure"}, "loopback: --insecure is for client mode");

  const std::string h = perf_help("quic-perf");
  EXPECT_NE(h.find("--insecure-no-verify"), std::string::npos);
  EXPECT_NE(h.find("LOAD GENERATOR ONLY"), std::string::npos);
  EXPECT_NE(h.find("client_verifies_certificate"), std::string::npos);
}

TEST(PerfOptions, HelpStatesWhatIsAbsent) {
  const PerfOptionsResult r = parse({"--help"});
  EXPECT_TRUE(r.help);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(parse({"loopback", "--help"}).help);
  const std::string h = perf_help("quic-perf");
  EXPECT_NE(h.find("not implemented yet"), std::string::npos);
  EXPECT_NE(h.find("--no-encryption-diagnostic"), std::string::npos);
  EXPECT_NE(h.find("loopback"), std::string::npos);
}

}  // namespace
}  // namespace dquic::perf
