// What the poll loop counts that WorkerCounters (runtime/worker_counters.h)
// has no field for yet: addressing drops on receive, and next-hop resolution
// on transmit. Same threading rule: written by its worker only, plain
// increments; read with a snapshot from elsewhere. Exposed like
// WorkerCounters: by rte_telemetry next to them (runtime/telemetry.h) and in
// the exit summary (format_summary with the loop blocks).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "runtime/counter_fields.h"

namespace dquic {

struct WorkerLoopCounters {
  // Receive.
  std::uint64_t udp_datagrams = 0;     // frames that parsed as UDP (before steering)
  std::uint64_t not_local = 0;         // UDP to an address that is not ours
  std::uint64_t not_listening = 0;     // UDP to a port we do not listen on
  std::uint64_t multi_segment = 0;     // chained datagrams (connection_io opens one segment)
  std::uint64_t redirect_loops = 0;    // a redirected datagram the endpoint wanted to forward again
  std::uint64_t zero_rtt_no_mbuf = 0;  // buffered 0-RTT lost: pool empty
  // Transmit: next hop (RFC 826 ARP, RFC 4861 ND).
  std::uint64_t solicitations_sent = 0;  // ARP requests / Neighbor Solicitations
  std::uint64_t held = 0;                // datagrams parked for an unresolved next hop
  std::uint64_t released = 0;            // parked ones sent once resolved
  std::uint64_t hold_dropped = 0;        // hold full, resolution failed, or held too long
  std::uint64_t no_route = 0;            // no next hop or no source address of the family
  std::uint64_t build_failed = 0;        // build_udp_frame refused (headroom, family, size)
  std::uint64_t no_mbuf = 0;             // pool empty for a reply or solicitation
  std::uint64_t flush_deferred = 0;      // a connection hit the per-iteration send bound
  // Where the lcore's TSC cycles go. A poll-mode lcore never sleeps, so its
  // elapsed cycles say nothing about load: an iteration that neither
  // received nor transmitted a frame counts whole as idle, the others by
  // phase. Busy cycles per packet is then a per-side cost (what quic-perf
  // reports), whatever the other side's speed.
  std::uint64_t cycles_receive = 0;  // rx burst, impairment, parse, endpoint, connection receive
  std::uint64_t cycles_timers = 0;   // due connection timers
  std::uint64_t cycles_app = 0;      // the application's on_poll
  std::uint64_t cycles_send = 0;     // flush: packet build, seal, framing, tx burst
  std::uint64_t cycles_idle = 0;     // iterations with no frame in or out
  std::uint64_t polls_busy = 0;
  std::uint64_t polls_idle = 0;
};

// The busy share of the cycle counters above.
inline std::uint64_t busy_cycles(const WorkerLoopCounters& c) {
  return c.cycles_receive + c.cycles_timers + c.cycles_app + c.cycles_send;
}

// One counter: its stable name (telemetry key "<group>_<name>", summary
// "<group> name=value") and where it lives. Groups: receive, next_hop, send,
// cycles, polls.
using WorkerLoopCounterField = CounterField<WorkerLoopCounters>;
std::span<const WorkerLoopCounterField> worker_loop_counter_fields();
inline constexpr std::size_t kWorkerLoopCounterFieldCount = 21;

// A copy read with relaxed atomic loads, safe while the worker writes `live`
// (as snapshot(const WorkerCounters&) in runtime/worker_counters.h).
WorkerLoopCounters snapshot(const WorkerLoopCounters& live);
// The sum of the blocks, each read as snapshot() does; null entries skipped.
// (Not an overload of sum(): `sum({})` would become ambiguous.)
WorkerLoopCounters sum_loops(std::span<const WorkerLoopCounters* const> blocks);

// Appends one line per group with a non-zero counter,
// "<prefix><group> name=value ...\n"; nothing when all are zero. `c` is read
// plainly: pass a snapshot() or sum_loops().
void format_loop_counters(const WorkerLoopCounters& c, std::string_view prefix, std::string* out);

// Calls fn(key, value) for every counter, zeros included, in table order.
template <typename Fn>
void for_each_loop_counter(const WorkerLoopCounters& c, Fn&& fn) {
  for (const WorkerLoopCounterField& f : worker_loop_counter_fields())
    fn(f.key, c.*f.member);
}

}  // namespace dquic
