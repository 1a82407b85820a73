// The workers' counters (runtime/worker_counters.h) as rte_telemetry
// commands, readable with usertools/dpdk-telemetry.py on the v2 socket
// (<runtime dir>/dpdk_telemetry.v2, i.e. /var/run/dpdk/<file-prefix>/ for
// root):
//
//   /dquic/stats         totals over the workers: {"workers": n, "<counter>": v, ...}
//   /dquic/workers       the worker ids: [0, 1, ...]
//   /dquic/worker,<id>   one worker: {"worker": id, "<counter>": v, ...}
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
// under a lock: once it returns no command touches the blocks, and they may
// be freed. The lock is taken by the telemetry threads and by (un)register
// only, never by the workers.
#pragma once

#include <cstdint>
#include <span>

#include "runtime/worker_counters.h"
#include "runtime/worker_loop_counters.h"

struct rte_tel_data;

namespace dquic {

// Points the commands at `blocks` and `loops` (copied; the blocks themselves
// must stay alive until telemetry_unregister() or the next
// telemetry_register()), and registers the commands with rte_telemetry the
// first time. loops[i] is worker i's loop block (Worker::loop_counters());
// `loops` may be shorter than `blocks` or hold nulls: those workers show
// zeros. Callable before or after rte_eal_init. False if rte_telemetry
// refused a command (its table is full, or the library is not linked in):
// the registry is set anyway.
bool telemetry_register(std::span<const WorkerCounters* const> blocks,
                        std::span<const WorkerLoopCounters* const> loops = {});

// Clears the registry: afterwards the commands answer with an error. Call at
// shutdown before freeing the blocks.
void telemetry_unregister();

// The commands' callbacks, exactly as rte_telemetry calls them (telemetry_cb):
// for tests and for an app that wants the same data without a socket.
// Return 0 on success, a negative errno on error (-ENOENT: nothing
// registered or no such worker; -EINVAL: a malformed id).
int telemetry_stats_cmd(const char* cmd, const char* params, rte_tel_data* d);
int telemetry_workers_cmd(const char* cmd, const char* params, rte_tel_data* d);
int telemetry_worker_cmd(const char* cmd, const char* params, rte_tel_data* d);

inline constexpr const char* kTelemetryStatsCmd = "/dquic/stats";
inline constexpr const char* kTelemetryWorkersCmd = "/dquic/workers";
inline constexpr const char* kTelemetryWorkerCmd = "/dquic/worker";

}  // namespace dquic
