// The shared program options (runtime/runtime_options.h), the EAL argument
// split (runtime/eal_args.h), the mbuf pool formula (runtime/mbuf_pool_size.h)
// and the stop-signal flag (runtime/stop_signal.h): all pure, no EAL.
#include "runtime/runtime_options.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/eal_args.h"
#include "runtime/mbuf_pool_size.h"
#include "runtime/stop_signal.h"

namespace dquic {
namespace {

RuntimeOptionsResult parse(std::vector<std::string> args) {
  return parse_runtime_options(args);
}

IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  ip.family = IpFamily::kIpv4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

// --- defaults and every option ------------------------------------------

TEST(RuntimeOptions, Defaults) {
  const RuntimeOptionsResult r = parse({});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_TRUE(r.error.empty());
  EXPECT_TRUE(r.rest.empty());
  const RuntimeOptions& o = r.options;
  EXPECT_EQ(o.port, 0);
  EXPECT_TRUE(o.addresses.empty());
  EXPECT_FALSE(o.gateway_v4);
  EXPECT_FALSE(o.gateway_v6);
  EXPECT_EQ(o.udp_port, 443);
  EXPECT_EQ(o.workers, 0);  // one per worker lcore, decided by the dataplane
  EXPECT_EQ(o.aead, "auto");
  EXPECT_EQ(o.hp, "auto");
  EXPECT_TRUE(o.crypto_device.empty());
  EXPECT_FALSE(o.impairment);
  EXPECT_EQ(o.mbufs, 0u);
  EXPECT_EQ(o.drain_ms, 200u);
  EXPECT_TRUE(o.ecn);
  EXPECT_FALSE(o.help);
}

TEST(RuntimeOptions, Ecn) {
  EXPECT_FALSE(parse({"--ecn", "off"}).options.ecn);
  EXPECT_FALSE(parse({"--ecn=off"}).options.ecn);
  EXPECT_TRUE(parse({"--ecn", "off", "--ecn", "on"}).options.ecn);
  const RuntimeOptionsResult bad = parse({"--ecn", "yes"});
  EXPECT_EQ(bad.exit_code, kUsageExitCode);
  EXPECT_EQ(bad.error, "--ecn: 'yes' is not on or off");
  EXPECT_EQ(parse({"--ecn"}).error, "--ecn: missing value");
}

TEST(RuntimeOptions, EveryOption) {
  const RuntimeOptionsResult r = parse({"--port",
                                        "3",
                                        "--address",
                                        "10.0.0.1/16",
                                        "--address",
                                        "192.168.1.7",
                                        "--address6",
                                        "2001:db8::1/48",
                                        "--address6",
                                        "fd00::5",
                                        "--gateway",
                                        "10.0.255.254",
                                        "--gateway",
                                        "fe80::1",
                                        "--udp-port",
                                        "4433",
                                        "--workers",
                                        "4",
                                        "--aead",
                                        "cpu",
                                        "--hp",
                                        "cryptodev",
                                        "--crypto-device",
                                        "crypto_aesni_gcm0",
                                        "--impair",
                                        "drop=1%,delay=5ms,seed=7",
                                        "--mbufs",
                                        "65535",
                                        "--drain-ms",
                                        "0"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  const RuntimeOptions& o = r.options;
  EXPECT_EQ(o.port, 3);
  ASSERT_EQ(o.addresses.size(), 4u);
  EXPECT_EQ(o.addresses[0].address, v4(10, 0, 0, 1));
  EXPECT_EQ(o.addresses[0].prefix_len, 16);
  EXPECT_EQ(o.addresses[1].address, v4(192, 168, 1, 7));
  EXPECT_EQ(o.addresses[1].prefix_len, kDefaultPrefixV4);
  EXPECT_EQ(o.addresses[2].address.family, IpFamily::kIpv6);
  EXPECT_EQ(o.addresses[2].address.bytes[0], 0x20);
  EXPECT_EQ(o.addresses[2].address.bytes[1], 0x01);
  EXPECT_EQ(o.addresses[2].address.bytes[15], 0x01);
  EXPECT_EQ(o.addresses[2].prefix_len, 48);
  EXPECT_EQ(o.addresses[3].prefix_len, kDefaultPrefixV6);
  ASSERT_TRUE(o.gateway_v4);
  EXPECT_EQ(*o.gateway_v4, v4(10, 0, 255, 254));
  ASSERT_TRUE(o.gateway_v6);
  EXPECT_EQ(o.gateway_v6->bytes[0], 0xfe);
  EXPECT_EQ(o.udp_port, 4433);
  EXPECT_EQ(o.workers, 4);
  EXPECT_EQ(o.aead, "cpu");
  EXPECT_EQ(o.hp, "cryptodev");
  EXPECT_EQ(o.crypto_device, "crypto_aesni_gcm0");
  ASSERT_TRUE(o.impairment);
  EXPECT_EQ(o.impairment->drop_ppm, 10000u);
  EXPECT_EQ(o.impairment->delay, 5 * kMillisecond);
  EXPECT_EQ(o.impairment->seed, 7u);
  EXPECT_EQ(o.mbufs, 65535u);
  EXPECT_EQ(o.drain_ms, 0u);
  EXPECT_TRUE(r.rest.empty());

  // The route the workers get: both prefixes on-link, both gateways set.
  const Route route = o.route();
  EXPECT_EQ(route.addresses().size(), 4u);
  EXPECT_TRUE(route.is_on_link(v4(10, 0, 200, 1)));
  ASSERT_TRUE(route.gateway(IpFamily::kIpv4));
  EXPECT_EQ(*route.gateway(IpFamily::kIpv4), v4(10, 0, 255, 254));
  EXPECT_TRUE(route.gateway(IpFamily::kIpv6));
}

// The programs' spellings (h3-static, h3-get): mapped onto the shared
// parser, and errors name the option as the user wrote it.
TEST(ProgramRuntimeOptions, SpellingsMapAndErrorsNameTheUsersOption) {
  const std::vector<std::string> ok = {
      "--addr", "198.18.0.2/24", "--addr6=fd00::2/64", "--port", "4433", "--dpdk-port=1", "--own",
      "x"};
  RuntimeOptionsResult r = parse_program_runtime_options(ok);
  ASSERT_EQ(r.exit_code, 0) << r.error;
  ASSERT_EQ(r.options.addresses.size(), 2u);
  EXPECT_EQ(r.options.addresses[0].address, v4(198, 18, 0, 2));
  EXPECT_EQ(r.options.udp_port, 4433);
  EXPECT_EQ(r.options.port, 1);
  EXPECT_EQ(r.rest, (std::vector<std::string>{"--own", "x"}));
  struct Case {
    std::vector<std::string> args;
    const char* prefix;
  };
  for (const Case& c :
       {Case{{"--addr", "nope"}, "--addr:"}, Case{{"--addr6=1.2.3.4"}, "--addr6:"},
        Case{{"--port", "70000"}, "--port:"}, Case{{"--dpdk-port", "x"}, "--dpdk-port:"}}) {
    RuntimeOptionsResult e = parse_program_runtime_options(c.args);
    EXPECT_EQ(e.exit_code, kUsageExitCode) << c.prefix;
    EXPECT_TRUE(e.error.starts_with(c.prefix)) << e.error;
  }
}

TEST(RuntimeOptions, EqualsForm) {
  const RuntimeOptionsResult r = parse({"--port=2", "--workers=3", "--aead=inline", "--hp=inline",
                                        "--address=10.1.2.3/8", "--impair=drop=2%"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.options.port, 2);
  EXPECT_EQ(r.options.workers, 3);
  EXPECT_EQ(r.options.aead, "inline");
  EXPECT_EQ(r.options.hp, "inline");
  ASSERT_EQ(r.options.addresses.size(), 1u);
  EXPECT_EQ(r.options.addresses[0].prefix_len, 8);
  ASSERT_TRUE(r.options.impairment);
  EXPECT_EQ(r.options.impairment->drop_ppm, 20000u);
}

TEST(RuntimeOptions, EveryBackendName) {
  for (const char* a : {"auto", "inline", "cryptodev", "cpu"}) {
    const RuntimeOptionsResult r = parse({"--aead", a});
    EXPECT_EQ(r.exit_code, 0) << a;
    EXPECT_EQ(r.options.aead, a);
  }
  for (const char* h : {"auto", "inline", "cryptodev"}) {
    const RuntimeOptionsResult r = parse({"--hp", h});
    EXPECT_EQ(r.exit_code, 0) << h;
    EXPECT_EQ(r.options.hp, h);
  }
}

TEST(RuntimeOptions, RepeatedImpairAccumulates) {
  const RuntimeOptionsResult r = parse({"--impair", "drop=1%", "--impair", "seed=9"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  ASSERT_TRUE(r.options.impairment);
  EXPECT_EQ(r.options.impairment->drop_ppm, 10000u);
  EXPECT_EQ(r.options.impairment->seed, 9u);
}

TEST(RuntimeOptions, LimitsAccepted) {
  const RuntimeOptionsResult r =
      parse({"--port", "65535", "--udp-port", "1", "--workers", std::to_string(kMaxWorkers),
             "--mbufs", std::to_string(kMinMbufs), "--drain-ms", std::to_string(kMaxDrainMs),
             "--address", "0.0.0.0/0", "--address6", "::1/128"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.options.port, 65535);
  EXPECT_EQ(r.options.udp_port, 1);
  EXPECT_EQ(r.options.workers, kMaxWorkers);
  EXPECT_EQ(r.options.mbufs, kMinMbufs);
  EXPECT_EQ(r.options.drain_ms, kMaxDrainMs);
  EXPECT_EQ(r.options.addresses[0].prefix_len, 0);
  EXPECT_EQ(r.options.addresses[1].prefix_len, 128);
  EXPECT_EQ(parse({"--udp-port", "65535"}).options.udp_port, 65535);
}

TEST(RuntimeOptions, Observability) {
  const RuntimeOptionsResult off = parse({});
  ASSERT_EQ(off.exit_code, 0) << off.error;
  EXPECT_TRUE(off.options.qlog_dir.empty());
  EXPECT_TRUE(off.options.pcap_file.empty());
  EXPECT_EQ(off.options.stats_interval_s, 0u);
  const RuntimeOptionsResult r =
      parse({"--qlog", "/tmp/q", "--pcap=/tmp/c.pcap", "--stats-interval", "3600"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.options.qlog_dir, "/tmp/q");
  EXPECT_EQ(r.options.pcap_file, "/tmp/c.pcap");
  EXPECT_EQ(r.options.stats_interval_s, 3600u);
  // --qlog wins over $QLOGDIR; $QLOGDIR serves when the option is absent.
  ASSERT_EQ(setenv("QLOGDIR", "/tmp/env-q", 1), 0);
  EXPECT_EQ(r.options.qlog_directory(), "/tmp/q");
  EXPECT_EQ(off.options.qlog_directory(), "/tmp/env-q");
  ASSERT_EQ(unsetenv("QLOGDIR"), 0);
  EXPECT_EQ(off.options.qlog_directory(), "");
}

TEST(RuntimeOptions, UnknownArgumentsAreHandedBackInOrder) {
  const RuntimeOptionsResult r =
      parse({"--duration", "10", "--port", "1", "positional", "-x", "--", "--streams=4"});
  ASSERT_EQ(r.exit_code, 0) << r.error;
  EXPECT_EQ(r.options.port, 1);
  EXPECT_EQ(r.rest, (std::vector<std::string>{"--duration", "10", "positional", "-x", "--",
                                              "--streams=4"}));
}

TEST(RuntimeOptions, Help) {
  for (const char* h : {"--help", "-h"}) {
    const RuntimeOptionsResult r = parse({"--port", "1", h});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(r.options.help);
  }
  const std::string text = runtime_options_help("quic-perf");
  EXPECT_EQ(text.rfind("usage: quic-perf [EAL options] -- [options]\n", 0), 0u);
  for (const char* opt : {"--port", "--address ", "--address6", "--gateway", "--udp-port",
                          "--workers", "--aead", "--hp ", "--crypto-device", "--impair", "--mbufs",
                          "--drain-ms", "--qlog", "--pcap", "--stats-interval", "--help"})
    EXPECT_NE(text.find(opt), std::string::npos) << opt;
  // Says what --impair is for.
  EXPECT_NE(text.find("never for real traffic"), std::string::npos);
}

// --- every error: one line naming the option, exit code 2 ----------------

struct BadCase {
  std::vector<std::string> args;
  std::string message;  // exact
};

TEST(RuntimeOptions, EveryErrorMessage) {
  const std::vector<BadCase> cases = {
      {{"--port"}, "--port: missing value"},
      {{"--port", "x"}, "--port: 'x' is not a port id (0..65535)"},
      {{"--port", "65536"}, "--port: '65536' is not a port id (0..65535)"},
      {{"--port", "-1"}, "--port: '-1' is not a port id (0..65535)"},
      {{"--port", "1 "}, "--port: '1 ' is not a port id (0..65535)"},
      {{"--port="}, "--port: '' is not a port id (0..65535)"},
      {{"--address", "10.0.0"}, "--address: '10.0.0' is not IPv4[/0..32]"},
      {{"--address", "10.0.0.1/33"}, "--address: '10.0.0.1/33' is not IPv4[/0..32]"},
      {{"--address", "10.0.0.1/"}, "--address: '10.0.0.1/' is not IPv4[/0..32]"},
      {{"--address", "fd00::1"}, "--address: 'fd00::1' is not IPv4[/0..32]"},
      {{"--address", "10.0.0.1", "--address", "10.0.0.1/8"},
       "--address: '10.0.0.1/8' is given twice"},
      {{"--address6", "10.0.0.1"}, "--address6: '10.0.0.1' is not IPv6[/0..128]"},
      {{"--address6", "fd00::1/129"}, "--address6: 'fd00::1/129' is not IPv6[/0..128]"},
      {{"--address6"}, "--address6: missing value"},
      {{"--gateway", "gw"}, "--gateway: 'gw' is not an IPv4 or IPv6 address"},
      {{"--address", "10.0.0.1", "--gateway", "10.0.0.2", "--gateway", "10.0.0.3"},
       "--gateway: a second gateway of the same family"},
      {{"--address", "10.0.0.1", "--gateway", "10.9.0.1"},
       "--gateway: '10.9.0.1' is not inside any --address/--address6 prefix"},
      {{"--gateway", "10.9.0.1"},
       "--gateway: '10.9.0.1' is not inside any --address/--address6 prefix"},
      {{"--address", "10.0.0.1", "--gateway", "10.0.0.1"},
       "--gateway: '10.0.0.1' is one of our addresses"},
      {{"--udp-port", "0"}, "--udp-port: '0' is not a UDP port (1..65535)"},
      {{"--udp-port", "70000"}, "--udp-port: '70000' is not a UDP port (1..65535)"},
      {{"--workers", "0"}, "--workers: '0' is not a worker count (1..128)"},
      {{"--workers", "129"}, "--workers: '129' is not a worker count (1..128)"},
      {{"--workers", "two"}, "--workers: 'two' is not a worker count (1..128)"},
      {{"--aead", "gpu"}, "--aead: 'gpu' is not one of auto, inline, cryptodev, cpu"},
      {{"--aead", ""}, "--aead: '' is not one of auto, inline, cryptodev, cpu"},
      {{"--hp", "cpu"}, "--hp: 'cpu' is not one of auto, inline, cryptodev"},
      {{"--crypto-device", ""}, "--crypto-device: empty device name"},
      {{"--crypto-device"}, "--crypto-device: missing value"},
      {{"--mbufs", "1023"}, "--mbufs: '1023' is not a pool size (1024..67108864)"},
      {{"--mbufs", "67108865"}, "--mbufs: '67108865' is not a pool size (1024..67108864)"},
      {{"--drain-ms", "60001"}, "--drain-ms: '60001' is not a time in ms (0..60000)"},
      {{"--drain-ms", "1.5"}, "--drain-ms: '1.5' is not a time in ms (0..60000)"},
      {{"--qlog", ""}, "--qlog: empty directory name"},
      {{"--qlog"}, "--qlog: missing value"},
      {{"--pcap="}, "--pcap: empty file name"},
      {{"--stats-interval", "0"}, "--stats-interval: '0' is not a time in seconds (1..3600)"},
      {{"--stats-interval", "3601"}, "--stats-interval: '3601' is not a time in seconds (1..3600)"},
  };
  for (const BadCase& c : cases) {
    const RuntimeOptionsResult r = parse(c.args);
    EXPECT_EQ(r.exit_code, kUsageExitCode) << c.message;
    EXPECT_EQ(r.error, c.message);
    EXPECT_EQ(r.error.find('\n'), std::string::npos) << c.message;
  }
  EXPECT_EQ(kUsageExitCode, 2);
}

TEST(RuntimeOptions, ImpairErrorNamesOptionAndItem) {
  const RuntimeOptionsResult r = parse({"--impair", "drop=200%"});
  EXPECT_EQ(r.exit_code, kUsageExitCode);
  EXPECT_EQ(r.error.rfind("--impair: ", 0), 0u) << r.error;
  EXPECT_NE(r.error.find("drop"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find('\n'), std::string::npos);
  const RuntimeOptionsResult u = parse({"--impair", "bogus=1"});
  EXPECT_EQ(u.exit_code, kUsageExitCode);
  EXPECT_EQ(u.error.rfind("--impair: ", 0), 0u) << u.error;
}

TEST(RuntimeOptions, TooManyAddresses) {
  std::vector<std::string> args;
  for (std::size_t i = 0; i <= Route::kMaxAddresses; ++i) {
    args.push_back("--address");
    args.push_back("10.0.0." + std::to_string(i + 1));
  }
  const RuntimeOptionsResult r = parse(args);
  EXPECT_EQ(r.exit_code, kUsageExitCode);
  EXPECT_EQ(r.error, "--address: more than 16 addresses");
}

TEST(RuntimeOptions, AddressParsers) {
  InterfaceAddress a;
  EXPECT_TRUE(parse_interface_address("1.2.3.4/0", IpFamily::kIpv4, &a));
  EXPECT_EQ(a.prefix_len, 0);
  EXPECT_FALSE(parse_interface_address("1.2.3.4/+1", IpFamily::kIpv4, &a));
  EXPECT_FALSE(parse_interface_address("1.2.3.4", IpFamily::kNone, &a));
  EXPECT_FALSE(parse_interface_address("", IpFamily::kIpv4, &a));
  IpAddress ip;
  EXPECT_TRUE(parse_ip_address("::", &ip));
  EXPECT_EQ(ip.family, IpFamily::kIpv6);
  EXPECT_TRUE(parse_ip_address("127.0.0.1", &ip));
  EXPECT_EQ(ip, v4(127, 0, 0, 1));
  EXPECT_FALSE(parse_ip_address(std::string(100, '1'), &ip));
}

// --- EAL argument split -----------------------------------------------------

TEST(EalArgs, SplitsAtFirstDoubleDash) {
  std::vector<std::string> s = {"prog", "-l",     "0-1", "--vdev", "net_null0",
                                "--",   "--port", "0",   "--",     "x"};
  std::vector<char*> argv;
  for (auto& a : s)
    argv.push_back(a.data());
  const EalArgs e = split_eal_args(argv);
  EXPECT_EQ(e.eal, (std::vector<std::string>{"prog", "-l", "0-1", "--vdev", "net_null0"}));
  EXPECT_EQ(e.app, (std::vector<std::string>{"--port", "0", "--", "x"}));
}

TEST(EalArgs, NoDoubleDashMeansNoAppArgs) {
  std::vector<std::string> s = {"prog", "--no-huge"};
  std::vector<char*> argv;
  for (auto& a : s)
    argv.push_back(a.data());
  const EalArgs e = split_eal_args(argv);
  EXPECT_EQ(e.eal, s);
  EXPECT_TRUE(e.app.empty());
  EXPECT_TRUE(split_eal_args({}).eal.empty());
}

// --- mempool formula -----------------------------------------------------------

TEST(MbufPoolSize, Formula) {
  MbufPoolSizing s;  // 1 queue: 1024 + 1024 + 384 + 32 + 32 + 64 + 16 + 0 + 4096 = 6672
  EXPECT_EQ(mbuf_pool_size(s), 8191u);
  s.stream_data = 0;  // 2576 -> 4095
  EXPECT_EQ(mbuf_pool_size(s), 4095u);
  s.queues = 4;
  s.redirect = 4096;  // (2576 + 4096) * 4 = 26688 -> 32767
  EXPECT_EQ(mbuf_pool_size(s), 32767u);
  MbufPoolSizing exact;
  exact.rx_descriptors = 1023;  // 8191 exactly: no rounding up
  exact.tx_descriptors = 1024;
  exact.cache_size = 0;
  exact.rx_burst = exact.tx_burst = 0;
  exact.sealing = exact.hold = 0;
  exact.stream_data = 6144;
  EXPECT_EQ(mbuf_pool_size(exact), 8191u);
  exact.stream_data = 6145;
  EXPECT_EQ(mbuf_pool_size(exact), 16383u);
  static_assert(mbuf_pool_size(MbufPoolSizing{}) == 8191);
}

// --- stop signals -------------------------------------------------------------

TEST(StopSignal, SigintAndSigtermSetTheFlag) {
  for (int sig : {SIGINT, SIGTERM}) {
    ASSERT_TRUE(install_stop_signals());
    EXPECT_FALSE(stop_requested().load());
    EXPECT_EQ(stop_signal_number(), 0);
    ASSERT_EQ(std::raise(sig), 0);  // the process survives: the handler only sets the flag
    EXPECT_TRUE(stop_requested().load());
    EXPECT_EQ(stop_signal_number(), sig);
    restore_stop_signals();
  }
  // Restored: the previous (default) disposition is back.
  struct sigaction sa {};
  ASSERT_EQ(sigaction(SIGTERM, nullptr, &sa), 0);
  EXPECT_EQ(sa.sa_handler, SIG_DFL);
  stop_requested().store(false);
}

}  // namespace
}  // namespace dquic
