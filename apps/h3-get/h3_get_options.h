// h3-get's command line after DPDK's `--` (runtime/eal_args.h):
//
//   --addr IP/PREFIX --server IP [--port N] [--gateway IP]
//   [--ca FILE | --insecure-no-verify] [--sni NAME] [--out DIR]
//   [--resume | --zero-rtt] [--key-update] PATH...
//
// The shared options (runtime/runtime_options.h) go through their own
// parser first, with h3-static's spellings: `--addr` is `--address`
// (`--addr6`: `--address6`), `--port N` is the server's UDP port and the
// DPDK port id is `--dpdk-port`. A pure function of the strings (files are
// checked by the program before the EAL starts): unit-tested without DPDK.
// Errors are one line and exit code 2 (kUsageExitCode).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/runtime_options.h"

namespace dquic::h3get {

inline constexpr std::uint32_t kMaxConnections = 64;  // --conns

struct H3GetOptions {
  RuntimeOptions runtime;  // runtime.udp_port: the server's UDP port
  IpAddress server;
  std::string ca;
  bool insecure = false;
  std::string sni;      // empty: the --server literal (checked against IP SANs, no SNI sent)
  std::string out_dir;  // empty: sizes only
  std::vector<std::string> paths;
  std::vector<std::string> out_names;  // per path: the basename written under out_dir
  std::uint32_t connections = 1;       // --conns: path i on connection i mod N
  std::uint32_t timeout_ms = 60'000;   // the whole run
  std::uint32_t handshake_timeout_ms = 10'000;
  std::uint32_t idle_timeout_ms = 30'000;  // our max_idle_timeout transport parameter
  std::string keylog;                      // NSS key log file; empty: off
  bool verbose = false;                    // the Dataplane's start-up lines and summary on stderr
  bool stats = false;                      // a summary line (rates) after the response lines
  // --resume: the first PATH on a first connection, the rest on a second
  // one offering that connection's session ticket (RFC 8446 §2.2);
  // --zero-rtt also sends them in 0-RTT (RFC 9001 §4.6). --zero-rtt sets
  // both.
  bool resume = false;
  bool zero_rtt = false;
  std::uint32_t ticket_wait_ms = 1000;  // for a NewSessionTicket after the first response
  std::uint32_t resume_delay_ms = 0;    // first connection closed -> second started
  bool key_update = false;              // --key-update: one per connection, RFC 9001 §6
};

struct H3GetOptionsResult {
  int exit_code = 0;  // 0, or kUsageExitCode with `error`
  std::string error;
  bool help = false;
  H3GetOptions options;
};

H3GetOptionsResult parse_h3_get_options(std::span<const std::string> args);

// The file name a response to `path` is written to: its last segment
// without query or fragment; "index.html" for a path ending in '/'.
// Empty if that name cannot be a file name ("." or "..").
std::string output_name(const std::string& path);

std::string h3_get_help();

}  // namespace dquic::h3get
