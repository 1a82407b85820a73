// What a quic-perf run measured, as the summary table and as the one JSON
// object of --json (field list in docs/QUIC-PERF.md). Pure formatting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "latency_histogram.h"
#include "perf_apps.h"

namespace dquic::perf {

struct PerfResult {
  std::string mode;      // loopback | client
  std::string scenario;  // bulk | requests | handshakes
  std::uint32_t conns = 0, streams = 0;
  std::uint64_t download_per_request = 0, upload_per_request = 0;
  std::uint64_t bytes_down = 0;  // response bytes the client read
  std::uint64_t bytes_up = 0;    // request payload (read by the server in loopback,
                                 // handed to the streams in client mode)
  double seconds = 0;            // first connection opened -> last request done
  std::uint64_t requests_completed = 0, requests_failed = 0, mismatches = 0;
  std::uint64_t handshakes = 0;
  bool requests_measured = false, handshakes_measured = false;
  LatencyHistogram latency;
  ConnectionTotals client;
  std::optional<ConnectionTotals> server;  // loopback only
  // Busy TSC cycles of one side's worker lcores (runtime/worker_loop_counters.h:
  // iterations that moved no frame are idle and left out), per packet.
  struct SideCycles {
    double per_packet = 0;                // busy cycles / max(packets sent, received)
    double receive_per_rx_packet = 0;     // receive phase / packets received
    double send_per_tx_packet = 0;        // send phase / packets sent
    double busy_share = 0;                // busy / all cycles of the loop (1: saturated)
    std::optional<double> per_handshake;  // handshakes scenario: busy / handshakes completed
  };
  std::optional<SideCycles> client_cycles, server_cycles;
  double tsc_hz = 0;
  // How the client authenticated the server: chain and name
  // (--insecure and --insecure-no-verify turn it off), and CertificateVerify's
  // signature (only --insecure-no-verify turns it off).
  bool client_verifies_certificate = true;
  bool client_verifies_signature = true;
  std::string crypto_backend, cipher_suite, congestion;
  bool no_encryption = false;
  std::vector<unsigned> client_lcores, server_lcores;

  std::uint64_t bytes() const { return bytes_down + bytes_up; }
  double goodput_gbps() const {
    return seconds > 0 ? static_cast<double>(bytes()) * 8 / seconds / 1e9 : 0;
  }
};

std::string result_json(const PerfResult& r);
std::string result_table(const PerfResult& r);

}  // namespace dquic::perf
