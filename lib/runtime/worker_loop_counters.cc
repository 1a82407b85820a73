#include "runtime/worker_loop_counters.h"

namespace dquic {
namespace {

using L = WorkerLoopCounters;
constexpr WorkerLoopCounterField kFields[] = {
    {"receive", "udp_datagrams", "receive_udp_datagrams", &L::udp_datagrams},
    {"receive", "not_local", "receive_not_local", &L::not_local},
    {"receive", "not_listening", "receive_not_listening", &L::not_listening},
    {"receive", "multi_segment", "receive_multi_segment", &L::multi_segment},
    {"receive", "redirect_loops", "receive_redirect_loops", &L::redirect_loops},
    {"receive", "zero_rtt_no_mbuf", "receive_zero_rtt_no_mbuf", &L::zero_rtt_no_mbuf},
    {"next_hop", "solicitations_sent", "next_hop_solicitations_sent", &L::solicitations_sent},
    {"next_hop", "held", "next_hop_held", &L::held},
    {"next_hop", "released", "next_hop_released", &L::released},
    {"next_hop", "hold_dropped", "next_hop_hold_dropped", &L::hold_dropped},
    {"next_hop", "no_route", "next_hop_no_route", &L::no_route},
    {"send", "build_failed", "send_build_failed", &L::build_failed},
    {"send", "no_mbuf", "send_no_mbuf", &L::no_mbuf},
    {"send", "flush_deferred", "send_flush_deferred", &L::flush_deferred},
    {"cycles", "receive", "cycles_receive", &L::cycles_receive},
    {"cycles", "timers", "cycles_timers", &L::cycles_timers},
    {"cycles", "app", "cycles_app", &L::cycles_app},
    {"cycles", "send", "cycles_send", &L::cycles_send},
    {"cycles", "idle", "cycles_idle", &L::cycles_idle},
    {"polls", "busy", "polls_busy", &L::polls_busy},
    {"polls", "idle", "polls_idle", &L::polls_idle},
};
static_assert(std::size(kFields) == kWorkerLoopCounterFieldCount);
// A counter added to the struct but not to the table would be neither summed
// nor shown.
static_assert(sizeof(WorkerLoopCounters) == kWorkerLoopCounterFieldCount * sizeof(std::uint64_t));

}  // namespace

std::span<const WorkerLoopCounterField> worker_loop_counter_fields() {
  return kFields;
}

WorkerLoopCounters snapshot(const WorkerLoopCounters& live) {
  WorkerLoopCounters s;
  load_fields<WorkerLoopCounters>(live, kFields, &s);
  return s;
}

WorkerLoopCounters sum_loops(std::span<const WorkerLoopCounters* const> blocks) {
  WorkerLoopCounters total;
  for (const WorkerLoopCounters* b : blocks)
    if (b != nullptr) add_fields<WorkerLoopCounters>(snapshot(*b), kFields, &total);
  return total;
}

void format_loop_counters(const WorkerLoopCounters& c, std::string_view prefix, std::string* out) {
  format_field_groups<WorkerLoopCounters>(c, kFields, prefix, out);
}

}  // namespace dquic
