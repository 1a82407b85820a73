#include "runtime/worker_loop_counters.h"

#include <atomic>
#include <cstdio>

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
};
static_assert(std::size(kFields) == kWorkerLoopCounterFieldCount);
// A counter added to the struct but not to the table would be neither summed
// nor shown.
static_assert(sizeof(WorkerLoopCounters) == kWorkerLoopCounterFieldCount * sizeof(std::uint64_t));

// See runtime/worker_counters.h: the block is never const (its worker writes
// it), so casting the const away for a relaxed load is defined.
std::uint64_t load_relaxed(const std::uint64_t& v) {
  return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(v))
      .load(std::memory_order_relaxed);
}

void append_pair(const char* name, std::uint64_t v, std::string* out) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(v));
  out->push_back(' ');
  out->append(name);
  out->push_back('=');
  out->append(buf, static_cast<std::size_t>(n));
}

}  // namespace

std::span<const WorkerLoopCounterField> worker_loop_counter_fields() {
  return kFields;
}

WorkerLoopCounters snapshot(const WorkerLoopCounters& live) {
  WorkerLoopCounters s;
  for (const WorkerLoopCounterField& f : kFields)
    s.*f.member = load_relaxed(live.*f.member);
  return s;
}

WorkerLoopCounters sum_loops(std::span<const WorkerLoopCounters* const> blocks) {
  WorkerLoopCounters total;
  for (const WorkerLoopCounters* b : blocks) {
    if (b == nullptr) continue;
    const WorkerLoopCounters s = snapshot(*b);
    for (const WorkerLoopCounterField& f : kFields)
      total.*f.member += s.*f.member;
  }
  return total;
}

void format_loop_counters(const WorkerLoopCounters& c, std::string_view prefix, std::string* out) {
  // The table keeps a group's fields together.
  for (std::size_t i = 0; i < std::size(kFields);) {
    std::size_t end = i;
    bool any = false;
    while (end < std::size(kFields) && std::string_view(kFields[end].group) == kFields[i].group) {
      any = any || c.*kFields[end].member != 0;
      ++end;
    }
    if (any) {
      out->append(prefix);
      out->append(kFields[i].group);
      for (std::size_t j = i; j < end; ++j)
        append_pair(kFields[j].name, c.*kFields[j].member, out);
      out->push_back('\n');
    }
    i = end;
  }
}

}  // namespace dquic
