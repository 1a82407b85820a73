#include "runtime/worker_counters.h"

#include <atomic>
#include <cstddef>
#include <cstdio>

namespace dquic {
namespace {

constexpr WorkerCounterField kFields[] = {
    {"rx", "packets", "rx_packets", &WorkerCounters::rx_packets},
    {"rx", "bytes", "rx_bytes", &WorkerCounters::rx_bytes},
    {"tx", "packets", "tx_packets", &WorkerCounters::tx_packets},
    {"tx", "bytes", "tx_bytes", &WorkerCounters::tx_bytes},
    {"tx", "dropped", "tx_dropped", &WorkerCounters::tx_dropped},
    {"redirects", "out", "redirects_out", &WorkerCounters::redirects_out},
    {"redirects", "in", "redirects_in", &WorkerCounters::redirects_in},
    {"redirects", "ring_full", "redirects_ring_full", &WorkerCounters::redirects_ring_full},
    {"crypto", "enqueued", "crypto_enqueued", &WorkerCounters::crypto_enqueued},
    {"crypto", "completed", "crypto_completed", &WorkerCounters::crypto_completed},
    {"crypto", "failed", "crypto_failed", &WorkerCounters::crypto_failed},
    {"connections", "opened", "connections_opened", &WorkerCounters::connections_opened},
    {"connections", "closed", "connections_closed", &WorkerCounters::connections_closed},
    {"connections", "active", "connections_active", &WorkerCounters::connections_active},
    {"handshakes", "completed", "handshakes_completed", &WorkerCounters::handshakes_completed},
    {"handshakes", "failed", "handshakes_failed", &WorkerCounters::handshakes_failed},
    {"stateless", "version_negotiation", "stateless_version_negotiation",
     &WorkerCounters::stateless_version_negotiation},
    {"stateless", "retry", "stateless_retry", &WorkerCounters::stateless_retry},
    {"stateless", "reset", "stateless_reset", &WorkerCounters::stateless_reset},
    {"stateless", "close", "stateless_close", &WorkerCounters::stateless_close},
    {"impair", "dropped", "impair_dropped", &WorkerCounters::impair_dropped},
    {"impair", "queue_full", "impair_queue_full", &WorkerCounters::impair_queue_full},
    {"impair", "duplicated", "impair_duplicated", &WorkerCounters::impair_duplicated},
    {"impair", "corrupted", "impair_corrupted", &WorkerCounters::impair_corrupted},
    {"impair", "delayed", "impair_delayed", &WorkerCounters::impair_delayed},
    {"impair", "reordered", "impair_reordered", &WorkerCounters::impair_reordered},
    {"impair", "copy_failures", "impair_copy_failures", &WorkerCounters::impair_copy_failures},
    {"impair", "dropped_sent", "impair_dropped_sent", &WorkerCounters::impair_dropped_sent},
    // A line of its own ("impair_blackholed rx=N tx=M"), printed only when
    // a blackhole acted.
    {"impair_blackholed", "rx", "impair_blackholed_rx", &WorkerCounters::impair_blackholed_rx},
    {"impair_blackholed", "tx", "impair_blackholed_tx", &WorkerCounters::impair_blackholed_tx},
    {"impair_rebound", "rx", "impair_rebound_rx", &WorkerCounters::impair_rebound_rx},
    {"impair_rebound", "tx", "impair_rebound_tx", &WorkerCounters::impair_rebound_tx},
    {"gather", "seals", "gather_seals", &WorkerCounters::gather_seals},
    {"gather", "copies", "gather_copies", &WorkerCounters::gather_copies},
};
static_assert(std::size(kFields) == kWorkerCounterFieldCount);
// A counter added to the struct but not to kFields would be neither summed
// nor shown: the struct must be exactly the table's scalars, then the drop
// arrays (new scalars go before them), then padding to the cache line.
static_assert(offsetof(WorkerCounters, udp_drops) ==
              kWorkerCounterFieldCount * sizeof(std::uint64_t));
constexpr std::size_t kCounterWords =
    kWorkerCounterFieldCount + kUdpDropReasonCount + kControlDropReasonCount + kEndpointDropCount;
constexpr std::size_t kCounterLines =
    (kCounterWords * sizeof(std::uint64_t) + kCounterAlignment - 1) / kCounterAlignment;
static_assert(sizeof(WorkerCounters) == kCounterLines * kCounterAlignment);

template <std::size_t N>
void load_array(const std::array<std::uint64_t, N>& from, std::array<std::uint64_t, N>* to) {
  for (std::size_t i = 0; i < N; ++i)
    (*to)[i] = load_counter(from[i]);
}

template <std::size_t N>
void add_array(const std::array<std::uint64_t, N>& from, std::array<std::uint64_t, N>* to) {
  for (std::size_t i = 0; i < N; ++i)
    (*to)[i] += from[i];
}

// The drop keys, built once (telemetry reads them from its own thread: a
// function-local static is initialised thread-safely).
template <typename Reason, std::size_t N>
std::array<std::string, N> make_keys(const char* prefix) {
  std::array<std::string, N> keys;
  for (std::size_t i = 0; i < N; ++i)
    keys[i] = std::string(prefix) + to_string(static_cast<Reason>(i));
  return keys;
}

template <typename Reason, std::size_t N>
void format_drops(std::string_view prefix, const char* group,
                  const std::array<std::uint64_t, N>& drops, std::size_t first, std::string* out) {
  bool any = false;
  for (std::size_t i = first; i < N; ++i)
    any = any || drops[i] != 0;
  if (!any) return;
  out->append(prefix);
  out->append(group);
  for (std::size_t i = first; i < N; ++i)
    if (drops[i] != 0) append_counter(to_string(static_cast<Reason>(i)), drops[i], out);
  out->push_back('\n');
}

}  // namespace

void WorkerCounters::count_stateless(EndpointDecision::Response r) {
  switch (r) {
    case EndpointDecision::Response::kNone:
      break;
    case EndpointDecision::Response::kVersionNegotiation:
      ++stateless_version_negotiation;
      break;
    case EndpointDecision::Response::kRetry:
      ++stateless_retry;
      break;
    case EndpointDecision::Response::kStatelessReset:
      ++stateless_reset;
      break;
    case EndpointDecision::Response::kConnectionClose:
      ++stateless_close;
      break;
  }
}

std::uint64_t WorkerCounters::total_drops() const {
  std::uint64_t n = tx_dropped + redirects_ring_full;
  for (std::size_t i = 1; i < udp_drops.size(); ++i)
    n += udp_drops[i];
  for (std::size_t i = 1; i < control_drops.size(); ++i)
    n += control_drops[i];
  for (std::uint64_t d : endpoint_drops)
    n += d;
  return n;
}

std::span<const WorkerCounterField> worker_counter_fields() {
  return kFields;
}

WorkerCounters snapshot(const WorkerCounters& live) {
  WorkerCounters s;
  load_fields<WorkerCounters>(live, kFields, &s);
  load_array(live.udp_drops, &s.udp_drops);
  load_array(live.control_drops, &s.control_drops);
  load_array(live.endpoint_drops, &s.endpoint_drops);
  return s;
}

WorkerCounters sum(std::span<const WorkerCounters* const> blocks) {
  WorkerCounters total;
  for (const WorkerCounters* b : blocks) {
    if (b == nullptr) continue;
    const WorkerCounters s = snapshot(*b);
    add_fields<WorkerCounters>(s, kFields, &total);
    add_array(s.udp_drops, &total.udp_drops);
    add_array(s.control_drops, &total.control_drops);
    add_array(s.endpoint_drops, &total.endpoint_drops);
  }
  return total;
}

void format_counters(const WorkerCounters& c, std::string_view prefix, std::string* out) {
  format_field_groups<WorkerCounters>(c, kFields, prefix, out);
  format_drops<UdpDropReason>(prefix, "drop_udp", c.udp_drops, 1, out);
  format_drops<ControlDropReason>(prefix, "drop_control", c.control_drops, 1, out);
  format_drops<EndpointDrop>(prefix, "drop_endpoint", c.endpoint_drops, 0, out);
}

void format_summary(std::span<const WorkerCounters* const> blocks, std::string* out) {
  format_summary(blocks, {}, out);
}

void format_summary(std::span<const WorkerCounters* const> blocks,
                    std::span<const WorkerLoopCounters* const> loops, std::string* out) {
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (blocks[i] == nullptr) continue;
    const std::string prefix = "worker " + std::to_string(i) + " ";
    format_counters(snapshot(*blocks[i]), prefix, out);
    if (i < loops.size() && loops[i] != nullptr)
      format_loop_counters(snapshot(*loops[i]), prefix, out);
  }
  format_counters(sum(blocks), "total ", out);
  if (!loops.empty()) format_loop_counters(sum_loops(loops), "total ", out);
}

const char* udp_drop_key(std::size_t reason) {
  static const auto keys = make_keys<UdpDropReason, kUdpDropReasonCount>("drop_udp_");
  return reason < keys.size() ? keys[reason].c_str() : "drop_udp_unknown";
}

const char* control_drop_key(std::size_t reason) {
  static const auto keys = make_keys<ControlDropReason, kControlDropReasonCount>("drop_control_");
  return reason < keys.size() ? keys[reason].c_str() : "drop_control_unknown";
}

const char* endpoint_drop_key(std::size_t reason) {
  static const auto keys = make_keys<EndpointDrop, kEndpointDropCount>("drop_endpoint_");
  return reason < keys.size() ? keys[reason].c_str() : "drop_endpoint_unknown";
}

}  // namespace dquic
