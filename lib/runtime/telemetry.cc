#include "runtime/telemetry.h"

#include <rte_telemetry.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "offload/backends.h"
#include "offload/protector.h"
#include "runtime/counter_fields.h"
#include "runtime/runtime_options.h"

namespace dquic {
namespace {

// Keys per dict: the counters, the loop counters, "workers"/"worker" and
// "drops_total"; rte_telemetry silently refuses entries past
// RTE_TEL_MAX_DICT_ENTRIES.
constexpr std::size_t kDictEntries = kWorkerCounterFieldCount + (kUdpDropReasonCount - 1) +
                                     (kControlDropReasonCount - 1) + kEndpointDropCount +
                                     kWorkerLoopCounterFieldCount + 2;
static_assert(kDictEntries <= RTE_TEL_MAX_DICT_ENTRIES);
// /dquic/crypto: backend, aead, aead_device, hp, hp_device, lanes, workers,
// 13 counters, a dict per worker.
static_assert(7 + 13 + kMaxWorkers <= RTE_TEL_MAX_DICT_ENTRIES);

// Deliberately never destroyed: rte_telemetry's threads outlive main() and
// may run a command during static destruction; they must find a live mutex.
struct TelemetryState {
  std::mutex mu;
  bool registered = false;   // the commands, once per process
  bool commands_ok = false;  // rte_telemetry took every command
  bool active = false;       // the registry below is set
  std::vector<const WorkerCounters*> blocks;
  std::vector<const WorkerLoopCounters*> loops;       // same size as blocks, nulls allowed
  std::vector<const ConnectionSnapshot*> snapshots;   // same size as blocks, nulls allowed
  std::vector<const offload::Protector*> protectors;  // same size as blocks, nulls allowed
  const offload::ProtectionBackends* backends = nullptr;
  std::uint16_t first_lane = 0;
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

// Decimal digits only, in [1, max]; no parameter at all: `fallback`.
bool parse_count(const char* params, std::size_t max, std::size_t fallback, std::size_t* n) {
  if (params == nullptr || *params == '\0') {
    *n = fallback;
    return true;
  }
  return parse_id(params, n) && *n >= 1 && *n <= max;
}

// A protector's counters: keys and members. Read while the worker writes
// them, with relaxed loads (load_counter), as worker_counters.h explains.
struct ProtectorField {
  const char* key;
  std::uint64_t offload::ProtectorCounters::*member;
};
constexpr ProtectorField kProtectorFields[] = {
    {"sealed", &offload::ProtectorCounters::sealed},
    {"seal_failures", &offload::ProtectorCounters::seal_failures},
    {"opened", &offload::ProtectorCounters::opened},
    {"auth_failures", &offload::ProtectorCounters::auth_failures},
    {"open_failures", &offload::ProtectorCounters::open_failures},
    {"gather_copies", &offload::ProtectorCounters::gather_copies},
    {"aead_device_ops", &offload::ProtectorCounters::aead_device_ops},
    {"aead_inline_ops", &offload::ProtectorCounters::aead_inline_ops},
    {"hp_device_ops", &offload::ProtectorCounters::hp_device_ops},
    {"hp_inline_ops", &offload::ProtectorCounters::hp_inline_ops},
    {"key_fallbacks", &offload::ProtectorCounters::key_fallbacks},
    {"keys_installed", &offload::ProtectorCounters::keys_installed},
    {"keys_released", &offload::ProtectorCounters::keys_released},
};

offload::ProtectorCounters load_protector(const offload::ProtectorCounters& live) {
  offload::ProtectorCounters c;
  for (const ProtectorField& f : kProtectorFields)
    c.*f.member = load_counter(live.*f.member);
  return c;
}

int add_protector(const offload::ProtectorCounters& c, rte_tel_data* d) {
  int rc = 0;
  for (const ProtectorField& f : kProtectorFields)
    if (rc == 0) rc = rte_tel_data_add_dict_u64(d, f.key, c.*f.member);
  return rc;
}

// rte_telemetry truncates longer strings (RTE_TEL_MAX_STRING_LEN) and
// reports it as an error; cut them ourselves.
int add_string(rte_tel_data* d, const char* key, const std::string& v) {
  const std::string cut = v.substr(0, RTE_TEL_MAX_STRING_LEN - 1);
  return rte_tel_data_add_dict_string(d, key, cut.c_str());
}

int add_sample(const ConnectionSample& c, rte_tel_data* d) {
  char cid[2 * kMaxConnectionIdLength + 1];
  char peer[64];
  format_cid_hex({c.cid.data(), std::min<std::size_t>(c.cid_length, c.cid.size())}, cid);
  format_peer_address(c.peer, peer);
  rte_tel_data_start_dict(d);
  int rc = rte_tel_data_add_dict_string(d, "cid", cid);
  const auto add_str = [&](const char* key, const char* v) {
    if (rc == 0) rc = rte_tel_data_add_dict_string(d, key, v);
  };
  const auto add = [&](const char* key, std::uint64_t v) {
    if (rc == 0) rc = rte_tel_data_add_dict_u64(d, key, v);
  };
  add_str("peer", peer);
  add_str("state", connection_state_name(c.state));
  add("worker", c.worker);
  add("bytes", c.bytes());
  add("bytes_sent", c.bytes_sent);
  add("bytes_received", c.bytes_received);
  add("srtt_us", c.smoothed_rtt_us);
  add("min_rtt_us", c.min_rtt_us);
  add("cwnd", c.cwnd);
  add("bytes_in_flight", c.bytes_in_flight);
  add("age_ms", c.age_us / 1000);
  return rc;
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

int telemetry_top_cmd(const char*, const char* params, rte_tel_data* d) {
  std::size_t n = 0;
  if (!parse_count(params, kTelemetryTopMax, kTelemetryTopDefault, &n)) return -EINVAL;
  TelemetryState& s = state();
  std::lock_guard lock(s.mu);
  if (!s.active) return -ENOENT;
  // Each worker's list is sorted already; a merge by sort is plenty for a
  // few workers x kTopConnections. A snapshot that stays torn through every
  // retry (its worker publishing continuously) is left out of this answer.
  std::vector<ConnectionSample> all;
  ConnectionSampleList list;
  for (const ConnectionSnapshot* snap : s.snapshots)
    if (snap != nullptr && snap->read(&list)) {
      const std::span<const ConnectionSample> got = list.samples();
      all.insert(all.end(), got.begin(), got.end());
    }
  std::stable_sort(
      all.begin(), all.end(),
      [](const ConnectionSample& a, const ConnectionSample& b) { return a.bytes() > b.bytes(); });
  // A dict keyed by rank: rte_telemetry (22.11) takes only arrays of
  // scalars in arrays, but dicts in dicts.
  rte_tel_data_start_dict(d);
  for (std::size_t i = 0; i < all.size() && i < n; ++i) {
    rte_tel_data* entry = rte_tel_data_alloc();
    if (entry == nullptr) return -ENOMEM;
    int rc = add_sample(all[i], entry);
    const std::string rank = std::to_string(i);
    // keep = 0: the dict takes the entry and frees it with itself.
    if (rc == 0) rc = rte_tel_data_add_dict_container(d, rank.c_str(), entry, 0);
    if (rc != 0) {
      rte_tel_data_free(entry);
      return rc;
    }
  }
  return 0;
}

int telemetry_crypto_cmd(const char*, const char*, rte_tel_data* d) {
  TelemetryState& s = state();
  std::lock_guard lock(s.mu);
  if (!s.active) return -ENOENT;
  rte_tel_data_start_dict(d);
  int rc = 0;
  const auto add = [&](const char* key, std::uint64_t v) {
    if (rc == 0) rc = rte_tel_data_add_dict_u64(d, key, v);
  };
  const offload::ProtectionBackends* b = s.backends;
  if (b == nullptr) {
    rc = rte_tel_data_add_dict_string(d, "backend", "none");
  } else {
    const offload::BackendChoice& c = b->choice();
    rc = add_string(d, "backend", b->describe());
    if (rc == 0) rc = rte_tel_data_add_dict_string(d, "aead", offload::aead_backend_name(c.aead));
    if (rc == 0) rc = rte_tel_data_add_dict_int(d, "aead_device", c.aead_device);
    if (rc == 0) rc = rte_tel_data_add_dict_string(d, "hp", offload::hp_backend_name(c.hp));
    if (rc == 0) rc = rte_tel_data_add_dict_int(d, "hp_device", c.hp_device);
    add("lanes", b->lanes());
  }
  add("workers", s.blocks.size());
  // The totals, then one dict per worker with a protector.
  std::vector<offload::ProtectorCounters> each(s.protectors.size());
  offload::ProtectorCounters total;
  for (std::size_t i = 0; i < s.protectors.size(); ++i) {
    if (s.protectors[i] == nullptr) continue;
    each[i] = load_protector(s.protectors[i]->counters());
    for (const ProtectorField& f : kProtectorFields)
      total.*f.member += each[i].*f.member;
  }
  if (rc == 0) rc = add_protector(total, d);
  for (std::size_t i = 0; i < s.protectors.size() && rc == 0; ++i) {
    if (s.protectors[i] == nullptr) continue;
    rte_tel_data* w = rte_tel_data_alloc();
    if (w == nullptr) return -ENOMEM;
    rte_tel_data_start_dict(w);
    const std::size_t lane = s.first_lane + i;
    int wrc = rte_tel_data_add_dict_u64(w, "lane", lane);
    if (b != nullptr && lane < b->lanes()) {
      if (wrc == 0)
        wrc = rte_tel_data_add_dict_string(
            w, "aead_engine", b->aead_engine(static_cast<std::uint16_t>(lane))->name());
      if (wrc == 0)
        wrc = rte_tel_data_add_dict_string(w, "hp_engine",
                                           b->hp_engine(static_cast<std::uint16_t>(lane))->name());
    }
    if (wrc == 0) wrc = add_protector(each[i], w);
    const std::string key = "worker" + std::to_string(i);
    // keep = 0: the dict takes `w` and frees it with itself.
    if (wrc == 0) wrc = rte_tel_data_add_dict_container(d, key.c_str(), w, 0);
    if (wrc != 0) {
      rte_tel_data_free(w);
      return wrc;
    }
  }
  return rc;
}

bool telemetry_register(std::span<const WorkerCounters* const> blocks,
                        std::span<const WorkerLoopCounters* const> loops,
                        const TelemetryExtras& extras) {
  TelemetryState& s = state();
  std::lock_guard lock(s.mu);
  s.blocks.assign(blocks.begin(), blocks.end());
  s.loops.assign(blocks.size(), nullptr);
  for (std::size_t i = 0; i < blocks.size() && i < loops.size(); ++i)
    s.loops[i] = loops[i];
  s.snapshots.assign(blocks.size(), nullptr);
  for (std::size_t i = 0; i < blocks.size() && i < extras.snapshots.size(); ++i)
    s.snapshots[i] = extras.snapshots[i];
  s.protectors.assign(blocks.size(), nullptr);
  for (std::size_t i = 0; i < blocks.size() && i < extras.protectors.size(); ++i)
    s.protectors[i] = extras.protectors[i];
  s.backends = extras.backends;
  s.first_lane = extras.first_lane;
  s.active = true;
  if (s.registered) return s.commands_ok;
  // 22.11 keeps help texts under 64 bytes (MAX_HELP_LEN) in some releases.
  const bool ok = rte_telemetry_register_cmd(kTelemetryStatsCmd, telemetry_stats_cmd,
                                             "dquic totals over workers. No parameters") == 0 &&
                  rte_telemetry_register_cmd(kTelemetryWorkersCmd, telemetry_workers_cmd,
                                             "dquic worker ids. No parameters") == 0 &&
                  rte_telemetry_register_cmd(kTelemetryWorkerCmd, telemetry_worker_cmd,
                                             "dquic counters of one worker. Parameter: id") == 0 &&
                  rte_telemetry_register_cmd(kTelemetryTopCmd, telemetry_top_cmd,
                                             "dquic top connections by bytes. Parameter: n") == 0 &&
                  rte_telemetry_register_cmd(kTelemetryCryptoCmd, telemetry_crypto_cmd,
                                             "dquic packet protection. No parameters") == 0;
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
  s.snapshots.clear();
  s.protectors.clear();
  s.backends = nullptr;
}

}  // namespace dquic
