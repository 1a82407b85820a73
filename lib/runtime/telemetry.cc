#include "runtime/telemetry.h"

#include <rte_telemetry.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <vector>

namespace dquic {
namespace {

// Keys per dict: the counters, the loop counters, "workers"/"worker" and
// "drops_total"; rte_telemetry silently refuses entries past
// RTE_TEL_MAX_DICT_ENTRIES.
constexpr std::size_t kDictEntries = kWorkerCounterFieldCount + (kUdpDropReasonCount - 1) +
                                     (kControlDropReasonCount - 1) + kEndpointDropCount +
                                     kWorkerLoopCounterFieldCount + 2;
static_assert(kDictEntries <= RTE_TEL_MAX_DICT_ENTRIES);

// Deliberately never destroyed: rte_telemetry's threads outlive main() and
// may run a command during static destruction; they must find a live mutex.
struct TelemetryState {
  std::mutex mu;
  bool registered = false;   // the commands, once per process
  bool commands_ok = false;  // rte_telemetry took all three
  bool active = false;       // the registry below is set
  std::vector<const WorkerCounters*> blocks;
  std::vector<const WorkerLoopCounters*> loops;  // same size as blocks, nulls allowed
};

TelemetryState& state() {
  static TelemetryState* s = new TelemetryState;
  return *s;
}

int add_counters(const WorkerCounters& c, const WorkerLoopCounters& loop, rte_tel_data* d) {
  int rc = 0;
  const auto add = [&](const char* key, std::uint64_t v) {
    if (rc == 0) rc = rte_tel_data_add_dict_u64(d, key, v);
  };
  for_each_counter(c, add);
  for_each_loop_counter(loop, add);
  add("drops_total", c.total_drops());
  return rc;
}

// A worker id: decimal digits only, no sign, spaces or trailing text.
bool parse_id(const char* params, std::size_t* id) {
  if (params == nullptr) return false;
  const char* end = params + std::strlen(params);
  if (params == end) return false;
  const auto r = std::from_chars(params, end, *id);
  return r.ec == std::errc() && r.ptr == end;
}

}  // namespace

int telemetry_stats_cmd(const char*, const char*, rte_tel_data* d) {
  TelemetryState& s = state();
  std::lock_guard lock(s.mu);
  if (!s.active) return -ENOENT;
  const WorkerCounters total = sum(s.blocks);
  const WorkerLoopCounters loop = sum_loops(s.loops);
  rte_tel_data_start_dict(d);
  int rc = rte_tel_data_add_dict_u64(d, "workers", s.blocks.size());
  if (rc == 0) rc = add_counters(total, loop, d);
  return rc;
}

int telemetry_workers_cmd(const char*, const char*, rte_tel_data* d) {
  TelemetryState& s = state();
  std::lock_guard lock(s.mu);
  if (!s.active) return -ENOENT;
  rte_tel_data_start_array(d, RTE_TEL_U64_VAL);
  for (std::size_t i = 0; i < s.blocks.size(); ++i)
    if (s.blocks[i] != nullptr) {
      const int rc = rte_tel_data_add_array_u64(d, i);
      if (rc != 0) return rc;
    }
  return 0;
}

int telemetry_worker_cmd(const char*, const char* params, rte_tel_data* d) {
  std::size_t id = 0;
  if (!parse_id(params, &id)) return -EINVAL;
  TelemetryState& s = state();
  std::lock_guard lock(s.mu);
  if (!s.active || id >= s.blocks.size() || s.blocks[id] == nullptr) return -ENOENT;
  const WorkerCounters c = snapshot(*s.blocks[id]);
  const WorkerLoopCounters loop =
      s.loops[id] != nullptr ? snapshot(*s.loops[id]) : WorkerLoopCounters{};
  rte_tel_data_start_dict(d);
  int rc = rte_tel_data_add_dict_u64(d, "worker", id);
  if (rc == 0) rc = add_counters(c, loop, d);
  return rc;
}

bool telemetry_register(std::span<const WorkerCounters* const> blocks,
                        std::span<const WorkerLoopCounters* const> loops) {
  TelemetryState& s = state();
  std::lock_guard lock(s.mu);
  s.blocks.assign(blocks.begin(), blocks.end());
  s.loops.assign(blocks.size(), nullptr);
  for (std::size_t i = 0; i < blocks.size() && i < loops.size(); ++i)
    s.loops[i] = loops[i];
  s.active = true;
  if (s.registered) return s.commands_ok;
  // 22.11 keeps help texts under 64 bytes (MAX_HELP_LEN) in some releases.
  const bool ok = rte_telemetry_register_cmd(kTelemetryStatsCmd, telemetry_stats_cmd,
                                             "dquic totals over workers. No parameters") == 0 &&
                  rte_telemetry_register_cmd(kTelemetryWorkersCmd, telemetry_workers_cmd,
                                             "dquic worker ids. No parameters") == 0 &&
                  rte_telemetry_register_cmd(kTelemetryWorkerCmd, telemetry_worker_cmd,
                                             "dquic counters of one worker. Parameter: id") == 0;
  // A partial registration is not retried: commands cannot be registered twice.
  s.registered = true;
  s.commands_ok = ok;
  return ok;
}

void telemetry_unregister() {
  TelemetryState& s = state();
  std::lock_guard lock(s.mu);
  s.active = false;
  s.blocks.clear();
  s.loops.clear();
}

}  // namespace dquic
