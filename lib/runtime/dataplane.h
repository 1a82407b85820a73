// The start-up and shutdown of a program's dataplane, without application
// logic (the programs supply it per worker through a callback):
//
//   create():  workers -> lcores (one per worker lcore; the main lcore runs
//              worker 0 only when asked or when the EAL gave no other)
//              mbuf pool per NUMA socket with workers (mbuf_pool_size.h)
//              port: EthPort, one RX/TX queue pair per worker, RSS
//              rte_flow CID rules tried (install_cid_flow_rules), else the
//              software redirect (RedirectRings), reported in one line
//              cryptodevs probed, choose_backends: one line; a Protector per
//              worker; Workers built and init()ed; telemetry_register
//   run():     rte_eal_remote_launch of each worker until the stop flag
//              (stop_signal.h), then on each lcore: close_all_connections,
//              drain_worker (worker_shutdown.h); waits for every lcore.
//              launch() + wait() are the same in two steps, so that two
//              Dataplanes (e.g. quic-perf loopback's client and server on
//              a net_ring pair) run at once on disjoint lcore sets.
//              With options.stats_interval_s, a StatsPrinter thread
//              prints a "stats: port=<port id> ..." line every N s from
//              launch() until the stop flag is set or the workers are back
//              (stats_printer.h); two Dataplanes (quic-perf loopback) each
//              print theirs.
//   shutdown(): telemetry_unregister, the summary printed, workers,
//              protectors, crypto devices, flow rules, port (stopped and
//              closed), rings, mempools freed (in-use count reported)
//
// rte_eal_cleanup stays with whoever called rte_eal_init (eal_args.h).
// Start-up and shutdown only; nothing here is on the per-packet path.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quic/timestamp.h"
#include "runtime/qlog_recorder.h"
#include "runtime/qlog_writer.h"
#include "runtime/runtime_options.h"
#include "runtime/stats_printer.h"
#include "runtime/steering.h"
#include "runtime/worker.h"

struct rte_mempool;

namespace dquic {

namespace drivers {
class EthPort;
}
class PacketCapture;
class PdumpServer;
namespace offload {
class ProtectionBackends;
class Protector;
}  // namespace offload

// Where one worker runs.
struct WorkerPlacement {
  std::uint16_t index = 0;  // 0..count-1: its queue pair and CID worker id
  std::uint16_t count = 1;
  unsigned lcore = 0;
  int socket = 0;
};

// Fills the application's part of `config`: endpoint (cid_generator
// required, the same shape in every worker; connection template, tokens),
// app, and anything else it wants to override. The dataplane has already
// set port_id, queues, worker ids, pool, mac, route, udp_ports, protector,
// redirect, steering_key and tx_checksum_offload. Objects it points to must
// outlive the Dataplane's shutdown(). False with *why aborts create().
using WorkerConfigurer =
    std::function<bool(const WorkerPlacement& where, WorkerConfig& config, std::string* why)>;

struct DataplaneConfig {
  RuntimeOptions options;
  WorkerConfigurer configure_worker;  // required
  // Where the worker id sits in our CIDs (flow_steering_spec() of the
  // generator settings); nullopt: no rte_flow rules are tried.
  std::optional<FlowSteeringSpec> flow_steering;
  std::uint16_t rx_descriptors = 1024;
  std::uint16_t tx_descriptors = 1024;
  std::uint32_t stream_mbufs_per_worker = 4096;  // MbufPoolSizing::stream_data
  unsigned redirect_ring_size = 4096;            // per worker, when more than one
  bool main_lcore_runs_worker = false;
  // The lcores to run workers on, in order (the main lcore may be one);
  // empty: the rule above. Each must be enabled in the EAL and not used by
  // another running Dataplane.
  std::vector<unsigned> lcores;
  // Register the workers' counters with rte_telemetry (one Dataplane per
  // process can: the registry is process-wide).
  bool telemetry = true;
  // Protection backends made by the caller and shared (a cryptodev is
  // configured once per process): this Dataplane uses lanes
  // [first_lane, first_lane + workers); the caller prints their choice.
  // Null: its own, from the options, printed on the `crypto:` line.
  offload::ProtectionBackends* backends = nullptr;
  std::uint16_t first_lane = 0;
  // DIAGNOSTIC ONLY: no packet protection at all (WorkerConfig::protector
  // null; both ends must agree). Printed loudly; never a default.
  bool no_encryption = false;
  // Stream bytes the application attached (file pages) are read by the
  // cipher in place, never copied into the packet first: the backends are
  // chosen for it (offload/backends.h, zero-copy) and every protector
  // gathers. Own backends only (shared ones are the caller's choice).
  bool zero_copy = false;
  // The application's NO_ERROR for the CONNECTION_CLOSE sent at shutdown
  // (0, or H3_NO_ERROR 0x100 for HTTP/3).
  std::uint64_t close_error_code = 0;
  std::FILE* log = stdout;  // the start-up lines and the exit summary
};

struct DataplaneTeardown {
  std::string summary;                     // as printed
  std::uint64_t mbufs_in_use_at_free = 0;  // over the pools, just before rte_mempool_free
  std::size_t connections_left = 0;        // not closed when the drain ended
  std::uint64_t qlog_dropped = 0;          // qlog events dropped (rings full), all workers
};

class Dataplane {
 public:
  // Nullptr with *err (one line naming the option at fault when one is) on
  // failure; everything built so far is released.
  static std::unique_ptr<Dataplane> create(DataplaneConfig config, std::string* err);
  ~Dataplane();  // shutdown() unless done
  Dataplane(const Dataplane&) = delete;
  Dataplane& operator=(const Dataplane&) = delete;

  // Runs every worker on its lcore until `stop` is set or `max` has passed,
  // then has each close its connections and drain for options.drain_ms, and
  // returns once every lcore is back. Call once, from the main lcore.
  void run(const std::atomic<bool>& stop, Duration max);
  // run() in two steps: launch() starts the workers on their non-main
  // lcores and returns; wait() runs the main lcore's worker, if it has one,
  // then waits for the others. `stop` must outlive wait(). Call each once,
  // from the main lcore.
  void launch(const std::atomic<bool>& stop, Duration max);
  void wait();
  // See the file comment. Idempotent; the report of the first call is kept.
  const DataplaneTeardown& shutdown();

  std::uint16_t worker_count() const { return static_cast<std::uint16_t>(workers_.size()); }
  Worker& worker(std::uint16_t i) { return *workers_[i]; }
  const WorkerPlacement& placement(std::uint16_t i) const { return placements_[i]; }
  const drivers::EthPort& port() const { return *port_; }
  rte_mempool* pool_for_socket(int socket) const;
  // Whether short-header packets are steered by rte_flow rules (else RSS +
  // the software redirect).
  bool flow_rules_installed() const { return !flow_rules_.empty(); }
  // The start-up lines as printed (port, steering, crypto, workers).
  const std::vector<std::string>& startup_lines() const { return startup_; }
  std::uint64_t iterations(std::uint16_t i) const { return runs_[i].iterations; }
  // The backends in use (own or shared); null in no-encryption mode
  // without shared ones.
  const offload::ProtectionBackends* backends() const {
    return config_.backends != nullptr ? config_.backends : backends_.get();
  }

 private:
  struct Run {
    Worker* worker = nullptr;
    const std::atomic<bool>* stop = nullptr;
    Duration max = 0;
    Duration drain = 0;
    std::uint64_t close_error = 0;
    std::uint64_t iterations = 0;
    std::size_t left = 0;
  };
  struct Pool {
    int socket = 0;
    rte_mempool* pool = nullptr;
  };

  Dataplane() = default;
  bool build(std::string* err);
  void say(std::string line);
  static int lcore_main(void* arg);

  DataplaneConfig config_;
  std::vector<WorkerPlacement> placements_;
  std::vector<Pool> pools_;
  std::unique_ptr<drivers::EthPort> port_;
  CidFlowRules flow_rules_;
  std::unique_ptr<RedirectRings> redirect_;
  SteeringKey steering_key_;
  std::unique_ptr<PacketCapture> capture_;  // --pcap; outlives the workers
  std::unique_ptr<PdumpServer> pdump_;      // outlives the port
  std::unique_ptr<offload::ProtectionBackends> backends_;
  std::vector<std::unique_ptr<offload::Protector>> protectors_;
  // qlog (--qlog / $QLOGDIR): a recorder per worker, one writer thread.
  std::vector<std::unique_ptr<QlogRecorder>> qlog_recorders_;
  std::unique_ptr<QlogWriter> qlog_writer_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<const WorkerCounters*> counter_blocks_;
  std::vector<const WorkerLoopCounters*> loop_blocks_;
  std::unique_ptr<StatsPrinter> stats_;  // --stats-interval, between launch() and wait()
  std::vector<Run> runs_;
  std::vector<std::string> startup_;
  bool telemetry_ = false;
  bool ran_ = false;
  Run* on_main_ = nullptr;
  std::vector<unsigned> launched_;
  bool torn_down_ = false;
  DataplaneTeardown teardown_;
};

}  // namespace dquic
