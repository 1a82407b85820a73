// The workers' counters (runtime/worker_counters.h) as rte_telemetry
// commands, readable with usertools/dpdk-telemetry.py on the v2 socket
// (<runtime dir>/dpdk_telemetry.v2, i.e. /var/run/dpdk/<file-prefix>/ for
// root):
//
//   /dquic/stats         totals over the workers: {"workers": n, "<counter>": v, ...}
//   /dquic/workers       the worker ids: [0, 1, ...]
//   /dquic/worker,<id>   one worker: {"worker": id, "<counter>": v, ...}
//   /dquic/top[,<n>]     the n (default 10, at most kTelemetryTopMax)
//                        connections with the most bytes over the workers'
//                        snapshots (runtime/connection_snapshot.h), largest
//                        first, keyed by rank: {"0": {"cid": hex, "peer":
//                        "ip:port", "state": s, "worker": w, "bytes":
//                        sent+received, "bytes_sent", "bytes_received",
//                        "srtt_us", "min_rtt_us", "cwnd", "bytes_in_flight",
//                        "age_ms"}, "1": {...}, ...}; {} when none
//   /dquic/crypto        the protection backends: {"backend": describe(),
//                        "aead", "aead_device", "hp", "hp_device", "lanes",
//                        "workers", the ProtectorCounters summed, and
//                        "worker<i>": {"lane", "aead_engine", "hp_engine",
//                        that worker's ProtectorCounters}}; "backend": "none"
//                        without backends (no-encryption mode)
//
// Counter keys are for_each_counter()'s, then for_each_loop_counter()'s (the
// worker's loop counters, runtime/worker_loop_counters.h: zeros when none
// was registered), every counter always present, plus "drops_total". A worker's id is its index in
// the span given to telemetry_register (the runtime numbers its workers 0..n-1, the number the CID
// generator encodes). A bad or unknown id, or a command arriving while nothing is registered, is an
// error: rte_telemetry answers {"<cmd>": null}.
//
// rte_telemetry (DPDK 22.11) has no way to unregister a command, and its
// threads may call a command at any time until the process exits, even
// after rte_eal_cleanup(). So the commands are registered once per process
// and read the blocks through a registry that telemetry_unregister() clears
// under a lock: once it returns no command touches the blocks (nor the
// snapshots, protectors and backends of TelemetryExtras), and they may be
// freed. The lock is taken by the telemetry threads and by (un)register
// only, never by the workers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "runtime/connection_snapshot.h"
#include "runtime/worker_counters.h"
#include "runtime/worker_loop_counters.h"

struct rte_tel_data;

namespace dquic {

namespace offload {
class ProtectionBackends;
class Protector;
}  // namespace offload

// What /dquic/top and /dquic/crypto read; all optional. Indexed like the
// counter blocks (worker i); shorter spans and nulls: that worker has none.
struct TelemetryExtras {
  std::span<const ConnectionSnapshot* const> snapshots;  // Worker::connection_snapshot()
  // The workers' protectors, read with relaxed loads like the counters.
  std::span<const offload::Protector* const> protectors;
  const offload::ProtectionBackends* backends = nullptr;
  std::uint16_t first_lane = 0;  // worker i uses lane first_lane + i
};

// Points the commands at `blocks` and `loops` (copied; the blocks themselves
// must stay alive until telemetry_unregister() or the next
// telemetry_register()), and registers the commands with rte_telemetry the
// first time. loops[i] is worker i's loop block (Worker::loop_counters());
// `loops` may be shorter than `blocks` or hold nulls: those workers show
// zeros. Callable before or after rte_eal_init. False if rte_telemetry
// refused a command (its table is full, or the library is not linked in):
// the registry is set anyway.
bool telemetry_register(std::span<const WorkerCounters* const> blocks,
                        std::span<const WorkerLoopCounters* const> loops = {},
                        const TelemetryExtras& extras = {});

// Clears the registry: afterwards the commands answer with an error. Call at
// shutdown before freeing the blocks.
void telemetry_unregister();

// The commands' callbacks, exactly as rte_telemetry calls them (telemetry_cb):
// for tests and for an app that wants the same data without a socket.
// Return 0 on success, a negative errno on error (-ENOENT: nothing
// registered or no such worker; -EINVAL: a malformed id, or /dquic/top's n
// outside 1..kTelemetryTopMax).
int telemetry_stats_cmd(const char* cmd, const char* params, rte_tel_data* d);
int telemetry_workers_cmd(const char* cmd, const char* params, rte_tel_data* d);
int telemetry_worker_cmd(const char* cmd, const char* params, rte_tel_data* d);
int telemetry_top_cmd(const char* cmd, const char* params, rte_tel_data* d);
int telemetry_crypto_cmd(const char* cmd, const char* params, rte_tel_data* d);

inline constexpr const char* kTelemetryStatsCmd = "/dquic/stats";
inline constexpr const char* kTelemetryWorkersCmd = "/dquic/workers";
inline constexpr const char* kTelemetryWorkerCmd = "/dquic/worker";
inline constexpr const char* kTelemetryTopCmd = "/dquic/top";
inline constexpr const char* kTelemetryCryptoCmd = "/dquic/crypto";
inline constexpr std::size_t kTelemetryTopDefault = 10;
// Each entry is ~300 bytes of JSON; the socket's reply is at most 16 KiB.
inline constexpr std::size_t kTelemetryTopMax = 32;

}  // namespace dquic
