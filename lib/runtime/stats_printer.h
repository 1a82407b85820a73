// --stats-interval N (runtime_options.h): while the workers run, a helper
// thread prints one line every N seconds to the dataplane's log, from the
// deltas of the workers' counters (read with relaxed loads, like telemetry):
//
//   stats: port=0 t=5s conns=12 rx=1.20Mpps tx=1.10Mpps rx_gbps=9.870
//          tx_gbps=9.512 drops=0 handshakes=3        (one line)
//
// t: seconds since start(); conns: connections open now (a gauge); rx/tx:
// frames per second and Gbit/s of whole frames over the interval; drops
// (total_drops()) and handshakes (completed) in the interval. A thread of
// its own because the main lcore may run a worker. Not on any packet path.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "runtime/worker_counters.h"

namespace dquic {

// The line (no newline) for the `elapsed_s` seconds from `before` to
// `after`, `t_s` seconds after the start. `label` goes after "stats:".
std::string format_stats_line(std::string_view label, const WorkerCounters& before,
                              const WorkerCounters& after, double elapsed_s, double t_s);

class StatsPrinter {
 public:
  // `blocks` must outlive stop(); `out` is flushed after every line.
  StatsPrinter(std::vector<const WorkerCounters*> blocks, std::uint32_t interval_s, std::FILE* out,
               std::string label);
  ~StatsPrinter();  // stop()
  StatsPrinter(const StatsPrinter&) = delete;
  StatsPrinter& operator=(const StatsPrinter&) = delete;

  // Starts the thread; it also ends by itself once `run_stop` (optional) is
  // set, checked every 100 ms.
  void start(const std::atomic<bool>* run_stop = nullptr);
  // Ends the thread and joins it: returns within ~100 ms. Idempotent.
  void stop();
  std::uint64_t lines() const { return lines_.load(std::memory_order_relaxed); }

 private:
  void loop(const std::atomic<bool>* run_stop);

  std::vector<const WorkerCounters*> blocks_;
  std::uint32_t interval_s_;
  std::FILE* out_;
  std::string label_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> lines_{0};
  std::thread thread_;
};

}  // namespace dquic
