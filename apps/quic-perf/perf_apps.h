// The perf protocol plugged into the runtime's Workers (runtime/worker_app.h):
// PerfServerApp answers requests on every connection a worker accepts;
// PerfClientApp opens a worker's share of the client connections and runs
// the scenario on them (bulk transfer, requests, or a fresh connection per
// request for handshakes per second). One app object per worker, used only
// on that worker's lcore, except for the few atomics noted below that the
// main thread or another lcore reads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "pattern_source.h"
#include "perf_client.h"
#include "perf_server.h"
#include "runtime/worker.h"
#include "runtime/worker_app.h"

namespace dquic::perf {

// What a side's connections did, summed at on_closed (ConnectionStats).
struct ConnectionTotals {
  std::uint64_t connections = 0;
  std::uint64_t handshakes = 0;  // closed after completing the handshake
  std::uint64_t packets_sent = 0;
  std::uint64_t packets_received = 0;
  std::uint64_t packets_lost = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t stream_bytes_retransmitted = 0;
  std::uint64_t pto_count = 0;
  std::uint64_t packets_dropped = 0;  // received but undecodable or duplicate
  void add(const ConnectionStats& s, bool handshake_done);
  void add(const ConnectionTotals& o);
};

// A sample of one live connection, published for the progress line.
struct ConnectionSample {
  std::atomic<std::uint64_t> srtt_ns{0};
  std::atomic<std::uint64_t> cwnd{0};
  std::atomic<std::uint64_t> bytes_in_flight{0};
};

class PerfServerApp final : public WorkerApp {
 public:
  PerfServerApp(PatternSource* pattern, std::size_t max_streams, std::size_t max_connections);
  bool on_incoming(Worker& w, const IncomingConnection& in, ConnectionConfig& c) override;
  void on_accepted(Worker& w, Connection& c) override;
  void on_closed(Worker& w, Connection& c) override;
  void on_poll(Worker& w, Time now) override;

  // Read after the worker stopped.
  const PerfServerStats& stats() const { return ctx_.stats; }
  const ConnectionTotals& totals() const { return totals_; }
  const ConnectionSample& sample() const { return sample_; }
  // Adds the stats of the connections still open to totals() (call once,
  // after the worker stopped and before it is destroyed).
  void collect_open();

 private:
  PerfServerContext ctx_;
  std::size_t max_connections_;
  std::vector<std::unique_ptr<PerfServerConnection>> all_;
  std::vector<PerfServerConnection*> free_;
  std::vector<PerfServerConnection*> pumping_;
  PerfServerConnection* pending_ = nullptr;  // given in on_incoming, attached in on_accepted
  std::unordered_map<const Connection*, PerfServerConnection*> by_conn_;
  ConnectionTotals totals_;
  ConnectionSample sample_;
  Time next_sample_ = 0;
  std::array<std::uint8_t, 16384> scratch_{};
};

enum class Scenario : std::uint8_t { kBulk, kRequests, kHandshakes };
const char* scenario_name(Scenario s);

// Shared by the client apps of one run.
struct PerfRunControl {
  std::atomic<bool> stop{false};  // the client Dataplane's stop flag: all finished
  std::atomic<unsigned> running{0};
  std::atomic<bool> abort{false};  // a worker failed: the others stop too
};

struct PerfClientPlan {
  Scenario scenario = Scenario::kBulk;
  PerfRequestSpec spec;           // per connection (kHandshakes: one request each)
  std::uint32_t connections = 1;  // this worker's, open at once (0: idle)
  // kRequests: requests for this worker over all its connections;
  // kHandshakes: connections for this worker. 0: until `duration`.
  std::uint64_t total = 0;
  Duration duration = 0;        // 0: until the work is done
  ConnectionConfig connection;  // handler set per connection
  NetworkPath path;             // our address and port, the server's
  bool progress = false;        // print a line every second (one worker does)
  std::FILE* out = stdout;
};

class PerfClientApp final : public WorkerApp {
 public:
  PerfClientApp(const PerfClientPlan& plan, PatternSource* pattern, PerfRunControl* control);
  void on_closed(Worker& w, Connection& c) override;
  void on_poll(Worker& w, Time now) override;

  // For the progress line (set before the run; read-only there).
  void watch(std::vector<const WorkerCounters*> client_blocks,
             std::vector<const WorkerCounters*> server_blocks, const ConnectionSample* server);

  // Read after the worker stopped.
  const PerfClientStats& stats() const { return ctx_.stats; }
  const ConnectionTotals& totals() const { return totals_; }
  const std::string& error() const { return error_; }
  std::uint64_t start_tsc() const { return start_tsc_; }
  std::uint64_t end_tsc() const { return end_tsc_; }
  std::uint64_t handshakes() const { return handshakes_; }
  bool finished() const { return finished_; }

 private:
  // Connections in use (at most plan.connections); one we closed moves its
  // handler to closing_ until on_closed, so its slot is free at once (the
  // closing period must not throttle the handshakes scenario).
  struct Active {
    std::unique_ptr<PerfClientConnection> handler;
    Connection* conn = nullptr;
  };
  std::vector<Active> active_;
  std::unordered_map<const Connection*, std::unique_ptr<PerfClientConnection>> closing_;

  bool open_one(Worker& w);
  void finish(Worker& w, Time now);
  void fail(std::string why);
  void progress(Time now);

  PerfClientPlan plan_;
  PerfRunControl* control_;
  PerfClientContext ctx_;
  Worker* worker_ = nullptr;
  std::vector<PerfClientConnection*> pumping_;
  std::uint64_t opened_ = 0;
  std::uint64_t handshakes_ = 0;
  std::uint64_t requests_assigned_ = 0;
  bool started_ = false;
  bool finished_ = false;
  Time start_ = 0;
  std::uint64_t start_tsc_ = 0, end_tsc_ = 0;
  std::string error_;
  ConnectionTotals totals_;
  // Progress.
  std::vector<const WorkerCounters*> client_blocks_, server_blocks_;
  const ConnectionSample* server_sample_ = nullptr;
  Time next_progress_ = 0;
  std::uint64_t last_rx_bytes_ = 0, last_packets_ = 0, last_requests_ = 0;
  std::array<std::uint8_t, 16384> scratch_{};
};

}  // namespace dquic::perf
