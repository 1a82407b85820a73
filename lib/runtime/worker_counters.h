// Per-worker counters: what one worker (lcore) received, sent, dropped and
// why, redirected, handed to crypto, and what its connections did. The totals
// are the sum over workers. Exposed through rte_telemetry (runtime/telemetry.h)
// and printed on exit (format_summary, format_counters).
//
// Threading: a block is written only by its worker, with plain increments (no
// atomic read-modify-write, no fences: the per-packet cost is an add to a
// cache line nobody else writes). Other threads (telemetry, the exit summary)
// read it while the worker runs, through snapshot(), which loads every field
// with a relaxed std::atomic_ref load, so the reader's compiler cannot split,
// merge or cache the load. The worker's side is plain: the C++ memory model
// calls that a data race, and we rely on the platform instead. The fields are
// 8-byte aligned uint64_t, an increment compiles to one 8-byte store (or an
// unlocked add to memory), and x86-64 makes aligned 8-byte accesses
// single-copy atomic (Intel SDM vol. 3A, "Guaranteed Atomic Operations"): a
// reader sees the old or the new value, never a torn one. A reader may see a
// value late (the compiler can keep a counter in a register within a loop),
// and values of different fields are not a consistent cut (rx_packets may be
// one packet ahead of rx_bytes): good enough for statistics.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "quic/endpoint.h"
#include "runtime/control_context.h"
#include "runtime/counter_fields.h"
#include "runtime/udp_frame.h"
#include "runtime/worker_loop_counters.h"

namespace dquic {

// UdpDropReason has no kCount: its last value is kBadUdpChecksum. The test
// checks that the value past it has no name (to_string gives "unknown"), so a
// reason added at the end without updating this is caught.
inline constexpr std::size_t kUdpDropReasonCount =
    static_cast<std::size_t>(UdpDropReason::kBadUdpChecksum) + 1;
inline constexpr std::size_t kControlDropReasonCount =
    static_cast<std::size_t>(ControlDropReason::kCount);
inline constexpr std::size_t kEndpointDropCount = static_cast<std::size_t>(EndpointDrop::kCount);

// 64 bytes: the x86-64 cache line (RTE_CACHE_LINE_SIZE there). Blocks of
// different workers never share a line, so the workers do not false-share.
inline constexpr std::size_t kCounterAlignment = 64;

struct alignas(kCounterAlignment) WorkerCounters {
  // Frames taken from / handed to the NIC; bytes are whole frames (pkt_len).
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_packets = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t tx_dropped = 0;  // built but refused by a full TX queue, then freed

  // Datagrams handed to / received from another worker (the DCID names it,
  // EndpointDecision::kForward), and those dropped because its ring was full.
  std::uint64_t redirects_out = 0;
  std::uint64_t redirects_in = 0;
  std::uint64_t redirects_ring_full = 0;

  // Packet protection operations (seal or open, one per packet).
  std::uint64_t crypto_enqueued = 0;
  std::uint64_t crypto_completed = 0;
  std::uint64_t crypto_failed = 0;  // device error or AEAD authentication failure

  std::uint64_t connections_opened = 0;  // accepted (server) or connected (client)
  std::uint64_t connections_closed = 0;  // collected
  std::uint64_t connections_active = 0;  // a gauge: opened - closed, kept by the helpers
  std::uint64_t handshakes_completed = 0;
  std::uint64_t handshakes_failed = 0;  // closed before the handshake completed

  // Stateless replies (RFC 9000 §6.1 Version Negotiation, §8.1.2 Retry, §10.3
  // Stateless Reset, §5.2.2 CONNECTION_CLOSE in an Initial).
  std::uint64_t stateless_version_negotiation = 0;
  std::uint64_t stateless_retry = 0;
  std::uint64_t stateless_reset = 0;
  std::uint64_t stateless_close = 0;

  // The test-only impairment stage on received frames (runtime/impairment.h,
  // WorkerConfig::impairment), copied from its ImpairmentCounters after each
  // burst; all zero without one. Its deliberate drops are not in
  // total_drops(): they are the test's, not the stack's.
  std::uint64_t impair_dropped = 0;        // random drop
  std::uint64_t impair_queue_full = 0;     // dropped: the holding queue was full
  std::uint64_t impair_duplicated = 0;     // extra copies made
  std::uint64_t impair_corrupted = 0;      // frames with one UDP payload byte changed
  std::uint64_t impair_delayed = 0;        // held by the delay line
  std::uint64_t impair_reordered = 0;      // held back by the reorder rule
  std::uint64_t impair_copy_failures = 0;  // pool empty: not duplicated / not corrupted
  std::uint64_t impair_dropped_sent = 0;   // datagrams to send dropped (drop_sent=)
  // Dropped inside a blackhole window (--impair blackhole=): received frames,
  // and frames to send (by FrameSender, never handed to the NIC).
  std::uint64_t impair_blackholed_rx = 0;
  std::uint64_t impair_blackholed_tx = 0;
  // Rewritten by the test NAT rebinding (--impair rebind_*=, nat_rebind.h):
  // received frames, and datagrams to send.
  std::uint64_t impair_rebound_rx = 0;
  std::uint64_t impair_rebound_tx = 0;
  // Seals whose stream bytes the cipher was to read where the application
  // put them (zero-copy), and those of them copied into the packet first
  // after all (an engine that cannot gather them).
  std::uint64_t gather_seals = 0;
  std::uint64_t gather_copies = 0;

  // Drops by reason, indexed by the enums' values (index 0, kNone, stays 0).
  // New scalar counters go above, and into worker_counters.cc's table.
  std::array<std::uint64_t, kUdpDropReasonCount> udp_drops{};
  std::array<std::uint64_t, kControlDropReasonCount> control_drops{};
  std::array<std::uint64_t, kEndpointDropCount> endpoint_drops{};

  // The worker's helpers (plain increments; see the file comment).
  void count_rx(std::uint64_t frame_bytes) {
    ++rx_packets;
    rx_bytes += frame_bytes;
  }
  void count_tx(std::uint64_t frame_bytes) {
    ++tx_packets;
    tx_bytes += frame_bytes;
  }
  // Out-of-range reasons (kNone, kCount) are ignored rather than written
  // past the array.
  void count_drop(UdpDropReason r) {
    const auto i = static_cast<std::size_t>(r);
    if (i != 0 && i < udp_drops.size()) ++udp_drops[i];
  }
  void count_drop(ControlDropReason r) {
    const auto i = static_cast<std::size_t>(r);
    if (i != 0 && i < control_drops.size()) ++control_drops[i];
  }
  void count_drop(EndpointDrop r) {
    const auto i = static_cast<std::size_t>(r);
    if (i < endpoint_drops.size()) ++endpoint_drops[i];
  }
  void count_connection_opened() {
    ++connections_opened;
    ++connections_active;
  }
  void count_connection_closed() {
    ++connections_closed;
    if (connections_active > 0) --connections_active;
  }
  // The reply the endpoint wrote (EndpointDecision::kRespond).
  void count_stateless(EndpointDecision::Response r);

  std::uint64_t drops(UdpDropReason r) const { return udp_drops[static_cast<std::size_t>(r)]; }
  std::uint64_t drops(ControlDropReason r) const {
    return control_drops[static_cast<std::size_t>(r)];
  }
  std::uint64_t drops(EndpointDrop r) const { return endpoint_drops[static_cast<std::size_t>(r)]; }
  // Every drop reason of the three layers, plus tx_dropped and
  // redirects_ring_full.
  std::uint64_t total_drops() const;
};

// One scalar counter: its stable name (telemetry key and summary name) and
// where it lives. The drop arrays are described by the enums' to_string.
using WorkerCounterField = CounterField<WorkerCounters>;
std::span<const WorkerCounterField> worker_counter_fields();
inline constexpr std::size_t kWorkerCounterFieldCount = 34;

// A copy of `live` read with relaxed atomic loads, safe while its worker
// writes it (see the file comment).
WorkerCounters snapshot(const WorkerCounters& live);

// The sum of the blocks, each read as snapshot() does; null entries are
// skipped. The gauge connections_active sums like the rest.
WorkerCounters sum(std::span<const WorkerCounters* const> blocks);

// Appends the summary printed on exit: one line per group with a non-zero
// counter, "<prefix><group> name=value name=value ...\n". Groups, in order:
// rx, tx, redirects, crypto, connections, handshakes, stateless, impair,
// impair_blackholed, impair_rebound, gather, and the drop groups drop_udp, drop_control,
// drop_endpoint (these list only their non-zero reasons, by the enums'
// to_string names). Nothing is appended when
// every counter is zero. The names are stable: users grep them. `c` is read
// plainly: pass a snapshot() or sum() of live blocks.
void format_counters(const WorkerCounters& c, std::string_view prefix, std::string* out);
inline void format_counters(const WorkerCounters& c, std::string* out) {
  format_counters(c, {}, out);
}

// The whole exit summary: each worker's lines prefixed "worker <i> " (i: its
// index in `blocks`; null entries skipped), then the totals prefixed
// "total ". The blocks are read as snapshot() does.
void format_summary(std::span<const WorkerCounters* const> blocks, std::string* out);
// The same with each worker's loop counters (runtime/worker_loop_counters.h)
// after its counters: loops[i] belongs to blocks[i] (missing or null: none),
// and the totals' loop counters after the totals.
void format_summary(std::span<const WorkerCounters* const> blocks,
                    std::span<const WorkerLoopCounters* const> loops, std::string* out);

// Calls fn(key, value) for every counter, scalars then drop reasons (keys
// "drop_udp_<reason>", "drop_control_<reason>", "drop_endpoint_<reason>"),
// zeros included, so the telemetry schema does not change with the traffic.
// The keys are what telemetry exposes; kNone slots are skipped.
template <typename Fn>
void for_each_counter(const WorkerCounters& c, Fn&& fn);

// Keys of the drop counters, built once: "drop_udp_too_short", ...
const char* udp_drop_key(std::size_t reason);
const char* control_drop_key(std::size_t reason);
const char* endpoint_drop_key(std::size_t reason);

template <typename Fn>
void for_each_counter(const WorkerCounters& c, Fn&& fn) {
  for (const WorkerCounterField& f : worker_counter_fields())
    fn(f.key, c.*f.member);
  for (std::size_t i = 1; i < c.udp_drops.size(); ++i)
    fn(udp_drop_key(i), c.udp_drops[i]);
  for (std::size_t i = 1; i < c.control_drops.size(); ++i)
    fn(control_drop_key(i), c.control_drops[i]);
  for (std::size_t i = 0; i < c.endpoint_drops.size(); ++i)
    fn(endpoint_drop_key(i), c.endpoint_drops[i]);
}

}  // namespace dquic
