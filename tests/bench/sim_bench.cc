// CPU cost per packet of the whole send and receive paths (connection,
// connection_io, packet protection) in the simulator: a bulk upload over a
// clean path, timing every send_datagrams() and receive_datagram() call.
// "sender" is the uploading client (data out, ACKs in), "receiver" the server
// (data in, ACKs out); both per data packet. Median of 5 runs per mode.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/sim/sim_harness.h"

namespace dquic {
namespace {

constexpr int kRuns = 5;
constexpr std::uint64_t kBytes = 30'000'000;

struct Figures {
  double sender_tsc = 0, receiver_tsc = 0;       // per data packet, both directions' calls
  double send_tsc = 0, receive_tsc = 0;          // per datagram: client send, server receive
  double ack_send_tsc = 0, ack_receive_tsc = 0;  // per datagram: server send, client receive
};

double per(std::uint64_t tsc, std::uint64_t n) {
  return n == 0 ? 0 : static_cast<double>(tsc) / static_cast<double>(n);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

bool run_mode(SimCrypto crypto, const char* name, rte_mempool* pool) {
  std::vector<double> sender, receiver, send, receive, ack_send, ack_receive;
  for (int run = 0; run < kRuns; ++run) {
    SimIoTiming t;
    SimConfig c;
    c.seed = 1 + static_cast<std::uint64_t>(run);
    c.client_to_server = SimPathConfig::clean(1'000'000'000, 5 * kMillisecond);
    c.server_to_client = c.client_to_server;
    c.crypto = crypto;
    c.stream_window = 8 << 20;
    c.connection_window = 16 << 20;
    SimFlowConfig f;
    f.streams = 1;
    f.bytes_per_stream = kBytes;
    f.workload = SimWorkload::kUpload;
    c.flows = {f};
    c.timing = &t;
    // The sender is limited by the path, not by its send buffer.
    c.max_stream_send_buffer = 8 << 20;
    const SimResult r = SimHarness(c, pool).run();
    if (!r.completed) {
      std::fprintf(stderr, "%s run %d failed: %s\n", name, run, r.failure.c_str());
      return false;
    }
    const std::uint64_t data_packets = t.client.send_datagrams;
    sender.push_back(per(t.client.send_tsc + t.client.receive_tsc, data_packets));
    receiver.push_back(per(t.server.receive_tsc + t.server.send_tsc, t.server.receive_datagrams));
    send.push_back(per(t.client.send_tsc, t.client.send_datagrams));
    receive.push_back(per(t.server.receive_tsc, t.server.receive_datagrams));
    ack_send.push_back(per(t.server.send_tsc, t.server.send_datagrams));
    ack_receive.push_back(per(t.client.receive_tsc, t.client.receive_datagrams));
  }
  const double ns_per_tsc = 1e9 / static_cast<double>(rte_get_tsc_hz());
  // The minimum is printed too: TSC spans include preemption on a busy host.
  const auto line = [&](const char* what, const std::vector<double>& v) {
    const double m = median(v);
    const double lo = *std::min_element(v.begin(), v.end());
    std::printf("sim %-6s %-38s median %7.0f tsc %8.1f ns | min %7.0f tsc %8.1f ns\n", name, what,
                m, m * ns_per_tsc, lo, lo * ns_per_tsc);
  };
  line("sender per data packet", sender);
  line("receiver per data packet", receiver);
  line("  send_datagrams per data datagram", send);
  line("  receive_datagram per data datagram", receive);
  line("  send_datagrams per ACK datagram", ack_send);
  line("  receive_datagram per ACK datagram", ack_receive);
  return true;
}

void print_load(const char* when) {
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) == 3)
    std::printf("# load average %s: %.2f %.2f %.2f\n", when, load[0], load[1], load[2]);
}

}  // namespace
}  // namespace dquic

int main(int argc, char** argv) {
  (void)argc;
  // The same isolated, hugepage-free EAL as the tests.
  std::vector<std::string> args = {argv[0],
                                   "--no-huge",
                                   "--no-shconf",
                                   "--no-pci",
                                   "-m",
                                   "512",
                                   "--no-telemetry",
                                   "--log-level",
                                   "error",
                                   "--file-prefix",
                                   "dquic-sim-bench-" + std::to_string(getpid())};
  std::vector<char*> eal_argv;
  for (auto& a : args)
    eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    return 2;
  }
  int rc = 0;
  {
    rte_mempool* pool = dquic::create_sim_pool("sim_bench", 32767);
    if (pool == nullptr) {
      std::fprintf(stderr, "mbuf pool: %s\n", rte_strerror(rte_errno));
      return 2;
    }
    std::printf(
        "# bulk upload of %llu bytes, 1 Gbit/s x 10 ms RTT, 1200-byte datagrams; TSC %.2f "
        "GHz; median of %d runs\n",
        static_cast<unsigned long long>(dquic::kBytes), rte_get_tsc_hz() / 1e9, dquic::kRuns);
    // The figures are CPU time per call, inflated by preemption on a shared
    // host: record how busy it was.
    dquic::print_load("before");
    if (!dquic::run_mode(dquic::SimCrypto::kInline, "inline", pool)) rc = 1;
    if (!dquic::run_mode(dquic::SimCrypto::kNone, "none", pool)) rc = 1;
    dquic::print_load("after");
    rte_mempool_free(pool);
  }
  rte_eal_cleanup();
  return rc;
}
