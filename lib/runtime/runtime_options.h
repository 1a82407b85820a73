// The application options every dquic program shares (the part of argv
// after DPDK's `--`, see runtime/eal_args.h): port, addresses, UDP port,
// workers, packet-protection backends, impairment, mempool size, shutdown
// drain. Parsing is a pure function of the strings (no EAL, no device), so
// it is unit-tested without DPDK; what depends on the machine (how many
// worker lcores there are, whether a cryptodev exists) is checked later by
// the dataplane (runtime/dataplane.h).
//
// Options the common parser does not know are handed back in order for the
// program's own parser, so `quic-perf` and `h3-static` add theirs on top.
// Both `--opt value` and `--opt=value` are accepted.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/impairment.h"
#include "runtime/route.h"
#include "runtime/udp_frame.h"

namespace dquic {

// Exit status of a program whose options or EAL arguments are wrong.
inline constexpr int kUsageExitCode = 2;

struct RuntimeOptions {
  std::uint16_t port = 0;  // DPDK port id
  // Our interface addresses; an address without /len gets kDefaultPrefix*.
  std::vector<InterfaceAddress> addresses;
  std::optional<IpAddress> gateway_v4;
  std::optional<IpAddress> gateway_v6;
  std::uint16_t udp_port = 443;
  std::uint16_t workers = 0;  // 0 = one per available worker lcore
  std::string aead = "auto";  // offload::ProtectionOptions::aead
  std::string hp = "auto";    // offload::ProtectionOptions::hp
  std::string crypto_device;  // empty = the first capable one
  std::optional<ImpairmentConfig> impairment;
  std::uint32_t mbufs = 0;       // per NUMA socket; 0 = computed (mbuf_pool_size.h)
  std::uint32_t drain_ms = 200;  // shutdown: time to send the CONNECTION_CLOSEs
  bool ecn = true;               // ConnectionConfig::ecn for every connection
  // Observability (docs/OPERATIONS.md). qlog: a JSON-SEQ file per connection
  // in this directory; empty = $QLOGDIR when set (qlog_directory()), else off.
  std::string qlog_dir;
  std::string pcap_file;               // every frame received and sent; empty = off
  std::uint32_t stats_interval_s = 0;  // a one-line summary every N s; 0 = off
  bool help = false;                   // --help was given: print runtime_options_help, exit 0

  // --qlog, else $QLOGDIR (read now), else empty: qlog off.
  std::string qlog_directory() const;

  // The addresses and gateways as a Route (validated by the parser, so this
  // cannot fail on parsed options).
  Route route() const;
};

inline constexpr std::uint8_t kDefaultPrefixV4 = 24;
inline constexpr std::uint8_t kDefaultPrefixV6 = 64;
inline constexpr std::uint16_t kMaxWorkers = 128;  // RTE_MAX_LCORE in the default build
inline constexpr std::uint32_t kMinMbufs = 1024;
inline constexpr std::uint32_t kMaxMbufs = 1u << 26;
inline constexpr std::uint32_t kMaxDrainMs = 60'000;
inline constexpr std::uint32_t kMaxStatsIntervalS = 3600;

struct RuntimeOptionsResult {
  // 0: parsed (or --help: options.help set); kUsageExitCode: `error` holds
  // one line naming the option.
  int exit_code = 0;
  std::string error;
  RuntimeOptions options;
  // Arguments the common parser does not know, in order (the program's own).
  std::vector<std::string> rest;
};

// Parses `args` (no program name). Stops at the first error.
RuntimeOptionsResult parse_runtime_options(std::span<const std::string> args);

// The same with the programs' spellings (h3-static, h3-get: the issues'
// names): --addr, --addr6 and --port for --address, --address6 and
// --udp-port, and --dpdk-port for the shared --port (the DPDK port id).
// Errors name the option as the user spelled it.
RuntimeOptionsResult parse_program_runtime_options(std::span<const std::string> args);

// A decimal integer in [lo, hi]: digits only (no sign, space or suffix);
// the programs' own options use these too.
bool parse_uint(std::string_view s, std::uint64_t lo, std::uint64_t hi, std::uint64_t* out);
bool parse_u32(std::string_view s, std::uint32_t lo, std::uint32_t hi, std::uint32_t* out);

// `IPv4[/len]` or `IPv6[/len]` of the given family; false on anything else
// (a trailing character, a prefix longer than the address, a bad family).
bool parse_interface_address(std::string_view text, IpFamily family, InterfaceAddress* out);
bool parse_ip_address(std::string_view text, IpAddress* out);  // either family

// The --help text of the common options for `program`.
std::string runtime_options_help(std::string_view program);

}  // namespace dquic
