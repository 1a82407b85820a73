// quic-perf's command line after DPDK's `--` (runtime/eal_args.h):
//
//   loopback|server|client [shared options] [quic-perf options]
//
// The shared options (runtime/runtime_options.h) come first through their
// own parser; what it does not know is quic-perf's. Two spellings of the
// issue's CLI are mapped onto the shared names before that: `--addr` is
// `--address` (`--address6` for an IPv6 value) and `--port N` is the UDP
// port (`--udp-port`); the DPDK port id is `--dpdk-port`. A pure function
// of the strings: unit-tested without the EAL. Errors are one line and
// exit code 2 (kUsageExitCode).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "perf_apps.h"
#include "quic/congestion_controller.h"
#include "quic/tls_engine.h"
#include "runtime/runtime_options.h"

namespace dquic::perf {

enum class Mode : std::uint8_t { kLoopback, kServer, kClient };

struct PerfOptions {
  Mode mode = Mode::kLoopback;
  Scenario scenario = Scenario::kBulk;
  std::uint64_t download = 0;  // per request (see defaults below)
  std::uint64_t upload = 0;
  std::uint32_t conns = 1;     // connections open at once (over all client workers)
  std::uint32_t streams = 1;   // requests in flight per connection
  std::uint64_t requests = 0;  // kRequests: total; kHandshakes: connections; 0 = duration
  double duration_s = 0;       // 0: until the work is done
  double max_seconds = 0;      // safety bound on the run; 0 = computed
  CongestionAlgorithm cc = CongestionAlgorithm::kCubic;
  std::optional<CipherSuite> cipher;  // nullopt: offer all (AES-128-GCM first)
  bool no_encryption = false;         // DIAGNOSTIC: loopback only
  bool verify = false;
  std::uint32_t datagram_size = 1350;
  std::uint32_t handshake_timeout_ms = 5000;
  bool progress = true;
  bool json = false;
  std::string json_path;  // empty or "-": stdout
  // Server and client modes.
  std::string cert, key;  // server
  std::string ca;         // client: trust anchors (PEM file)
  bool insecure = false;  // client: skip certificate checks (labelled)
  // Client and loopback: load generator, no server authentication at all
  // (no chain, name or CertificateVerify signature check; labelled in the
  // summary and JSON). ServerAuthentication::kInsecureNoneForLoadGeneration.
  bool insecure_no_verify = false;
  std::optional<IpAddress> server;  // client
  std::string server_name;          // client: name to verify; default: the --server literal
  std::string keylog;               // SSLKEYLOGFILE-style path; empty: off
};

struct PerfOptionsResult {
  int exit_code = 0;  // 0, or kUsageExitCode with `error`
  std::string error;
  bool help = false;  // print perf_help() and exit 0
  PerfOptions options;
  RuntimeOptions runtime;
};

PerfOptionsResult parse_perf_options(std::span<const std::string> args);

// BYTES: a decimal number with an optional K/M/G/T (powers of 1000) or
// Ki/Mi/Gi/Ti (powers of 1024) suffix. False on anything else or overflow.
bool parse_bytes(std::string_view text, std::uint64_t* out);

std::string perf_help(std::string_view program);

}  // namespace dquic::perf
