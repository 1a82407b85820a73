// A test-only impairment stage on mbufs between the wire and the stack (the
// kernels here have no netem): drop, delay with jitter, reorder, duplicate and
// corrupt, driven by a seeded PRNG so that a seed and the same input reproduce
// a run exactly. No allocation after construction (duplicates and private
// copies come from a mempool), no locks: one stage per worker and direction.
//
// Order per packet: drop; duplicate (an independent deep copy); then each copy
// separately: corrupt, reorder or delay. Each impairment draws from its own
// random stream, so enabling one does not move another's choices.
//
// Delay: every packet not reordered waits delay + uniform[0, jitter] but never
// overtakes an earlier one (jitter does not reorder; reordering is its own
// knob). Reorder: a packet is held back until `reorder_gap` packets that
// arrived after it have gone out, or until `reorder_delay` after the time it
// would otherwise have gone out, whichever comes first (0 disables either
// trigger). Held packets (delayed or reordered) occupy a queue of fixed
// capacity; a packet that would be held when it is full is dropped and counted
// in queue_full (as netem's `limit`): size it for rate x delay.
//
// Blackhole (the QUIC Interop Runner's "blackhole" case: 100% loss for 2 s
// every 5 s): a periodic window during which every packet is dropped, before
// any other impairment and without a random draw. It is the one impairment
// that also acts on what the worker sends: the worker keeps one Blackhole
// schedule that this stage and its FrameSender both ask.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "quic/seeded_rng.h"
#include "quic/timestamp.h"
#include "runtime/nat_rebind.h"

namespace dquic {

struct ImpairmentConfig {
  static constexpr std::uint32_t kMillion = 1'000'000;  // probabilities in ppm
  static constexpr Duration kMaxDelay = 3600 * kSecond;
  static constexpr std::uint32_t kMaxQueue = 1u << 24;
  // corrupt_offset value: corrupt only the UDP payload of frames that parse
  // as Ethernet/IP/UDP (runtime/udp_frame.h), and fix the UDP checksum so the
  // damage reaches QUIC (RFC 1624 incremental update).
  static constexpr std::uint32_t kUdpPayload = UINT32_MAX;

  std::uint32_t drop_ppm = 0;
  std::uint32_t duplicate_ppm = 0;
  std::uint32_t corrupt_ppm = 0;
  std::uint32_t reorder_ppm = 0;
  Duration delay = 0;
  Duration jitter = 0;
  std::uint32_t reorder_gap = 1;  // later packets to let through first; 0 = off
  Duration reorder_delay = 0;     // or this much time; 0 = off
  // First byte of a packet that corruption may change (the header length),
  // or kUdpPayload.
  std::uint32_t corrupt_offset = kUdpPayload;
  std::uint64_t seed = 1;
  std::uint32_t queue_capacity = 4096;  // held packets, delayed and reordered
  // Blackhole windows [start + k * period, start + k * period + on), k >= 0,
  // in both directions, the times counted from the first packet the worker
  // sees either way; blackhole_on 0: off.
  Duration blackhole_on = 0;
  Duration blackhole_period = 0;
  Duration blackhole_start = 100 * kMillisecond;

  // NAT rebinding (runtime/nat_rebind.h): what moves (rebind_port,
  // rebind_addr, peer_rebind_addr), this long after the first frame, or once
  // this many frames were received (=2000frames: in the middle of a transfer
  // however fast it runs); and the address that appears (rebind_to).
  // Datagrams we send, numbered from 1, that never leave: [first, last]
  // (the QUIC Interop Runner's amplificationlimit "droplist" drops the
  // client's 2nd to 7th); 0: off.
  std::uint64_t drop_sent_first = 0;
  std::uint64_t drop_sent_last = 0;

  RebindKind rebind = RebindKind::kNone;
  Duration rebind_after = 0;
  std::uint64_t rebind_frames = 0;
  IpAddress rebind_to;

  bool blackhole() const { return blackhole_on > 0; }
  // Probabilities <= kMillion, delays in [0, kMaxDelay], 1 <= queue capacity
  // <= kMaxQueue, a reorder trigger when reordering is on, when a
  // blackhole is set, 0 < on < period (all three up to kMaxDelay), and a
  // rebinding has a time or a count, and an address exactly when it moves one.
  bool valid() const;
};

// Parses "drop=1%,delay=5ms,jitter=1ms,reorder=2%,duplicate=0.5%,corrupt=0.1%,
// seed=7" on top of the values already in *config (empty spec: unchanged).
// Keys: drop, duplicate, corrupt, reorder (percent "1.5%", ppm "150ppm" or a
// fraction "0.015"), delay, jitter, reorder_delay, blackhole_start,
// reorder_gap, queue, seed (integers; seed also 0x-hex), corrupt_offset (an integer or "udp"),
// blackhole (ON/PERIOD, two durations, "2s/5s"; 0 < ON < PERIOD), drop_sent (FIRST-LAST or N:
// the datagrams we send, numbered from 1, that are dropped), one of rebind_port, rebind_addr,
// peer_rebind_addr (a duration, or N frames received: "2000frames"), rebind_to (an IPv4 or IPv6
// address; with rebind_addr and peer_rebind_addr, and only then). On failure returns false, leaves
// *config unchanged and sets *error to one line naming the bad item.
bool parse_impairment(std::string_view spec, ImpairmentConfig* config, std::string* error);

struct ImpairmentCounters {
  std::uint64_t received = 0;         // packets given to process()
  std::uint64_t emitted = 0;          // packets handed out, copies included
  std::uint64_t dropped = 0;          // random drop
  std::uint64_t queue_full = 0;       // dropped: the holding queue was full
  std::uint64_t duplicated = 0;       // extra copies made
  std::uint64_t corrupted = 0;        // packets with one byte changed
  std::uint64_t corrupt_skipped = 0;  // chosen for corruption but no eligible byte
  std::uint64_t delayed = 0;          // held by the delay line (not sent at once)
  std::uint64_t reordered = 0;        // held back by the reorder rule
  std::uint64_t copy_failures = 0;    // mempool empty: not duplicated / not corrupted
  std::uint64_t flushed = 0;          // freed by clear() or the destructor
  std::uint64_t blackholed = 0;       // dropped inside a blackhole window
  friend bool operator==(const ImpairmentCounters&, const ImpairmentCounters&) = default;
};

namespace impairment_detail {
// xoshiro256** seeded through splitmix64 (Blackman & Vigna): small, fast, the
// same on every platform. Not for cryptography.
// The shared seeded generator (quic/seeded_rng.h) plus per-million draws.
class Rng : public SeededRng {
 public:
  using SeededRng::SeededRng;
  std::uint64_t next() { return next_u64(); }
  bool chance(std::uint32_t ppm);  // draws nothing for 0 and >= 1e6
};

struct Held {
  rte_mbuf* m;
  Time release;         // kNever: no time trigger
  std::uint64_t after;  // reorder: released once this many in-order packets went out
};

// Fixed-capacity FIFO.
class HeldRing {
 public:
  explicit HeldRing(std::size_t capacity);
  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  const Held& front() const { return slots_[head_]; }
  const Held& back() const { return slots_[(head_ + count_ - 1) % capacity_]; }
  void push(const Held& h) { slots_[(head_ + count_++) % capacity_] = h; }
  Held pop();

 private:
  std::unique_ptr<Held[]> slots_;
  std::size_t capacity_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};
}  // namespace impairment_detail

// The blackhole schedule of one worker, asked by both directions (the
// receive stage per packet, FrameSender per TX batch) with the worker's
// clock; no state but the anchor, so the answer depends only on `now`.
class Blackhole {
 public:
  Blackhole() = default;  // off: never drops
  explicit Blackhole(const ImpairmentConfig& config)
      : on_(config.blackhole_on),
        period_(config.blackhole_period),
        start_(config.blackhole_start) {}

  bool enabled() const { return on_ > 0; }
  // Whether a packet at `now` falls into a window. The first call when
  // enabled anchors the schedule at `now`: ask only with a packet in hand.
  bool in_blackhole(Time now) {
    if (on_ <= 0) return false;
    if (origin_ == kNever) origin_ = now;
    const Duration since = now - origin_ - start_;
    return since >= 0 && since % period_ < on_;
  }
  // The first packet's time; kNever before it (or when off).
  Time origin() const { return origin_; }

 private:
  Duration on_ = 0;
  Duration period_ = 0;
  Duration start_ = 0;
  Time origin_ = kNever;
};

class Impairment {
 public:
  // `pool` supplies duplicates, and private copies of packets whose data is
  // shared (refcnt > 1, indirect, external) before corrupting them; when null
  // each packet's own pool is used. `config` must be valid(). `blackhole`:
  // the schedule shared with the send side (must outlive the stage); when
  // null the stage keeps its own, built from `config`.
  explicit Impairment(const ImpairmentConfig& config, rte_mempool* pool = nullptr,
                      Blackhole* blackhole = nullptr);
  ~Impairment();  // frees everything held
  Impairment(const Impairment&) = delete;
  Impairment& operator=(const Impairment&) = delete;

  // Takes ownership of in[] (null entries are skipped) and stores the packets
  // that go out at `now` in out[0..n), returning n: held ones that became due
  // first, then the new ones not held. Packets that are due but do not fit in
  // `out` stay queued, in order, for release(). `now` must not decrease.
  std::size_t process(std::span<rte_mbuf* const> in, Time now, std::span<rte_mbuf*> out);
  // Held packets due by `now`, in order, up to out.size().
  std::size_t release(Time now, std::span<rte_mbuf*> out);
  // When release() next has something; kNever when nothing is held or only
  // packets waiting for later ones (reorder_gap without reorder_delay).
  Time next_release() const;
  // Everything held, in order, regardless of time (up to out.size()).
  std::size_t flush(std::span<rte_mbuf*> out);
  // Frees everything held (counted in `flushed`).
  void clear();

  std::size_t held() const { return line_.size() + reorder_.size(); }
  const ImpairmentCounters& counters() const { return counters_; }
  const ImpairmentConfig& config() const { return config_; }
  const Blackhole& blackhole() const { return *blackhole_; }

 private:
  using Held = impairment_detail::Held;

  rte_mbuf* copy(rte_mbuf* m);
  rte_mbuf* corrupt(rte_mbuf* m);
  void admit(rte_mbuf* m, Time now, std::span<rte_mbuf*> out, std::size_t* n);
  bool reorder_due(Time now) const;
  std::size_t emit(Time now, std::span<rte_mbuf*> out, std::size_t n, bool all);

  ImpairmentConfig config_;
  rte_mempool* pool_;
  Blackhole own_blackhole_;
  Blackhole* blackhole_;
  impairment_detail::Rng drop_rng_;
  impairment_detail::Rng duplicate_rng_;
  impairment_detail::Rng corrupt_rng_;
  impairment_detail::Rng reorder_rng_;
  impairment_detail::Rng delay_rng_;
  // Packets in arrival order (with their release times, non-decreasing) and
  // those held back by reordering (release times and `after` non-decreasing,
  // so only the fronts need checking).
  impairment_detail::HeldRing line_;
  impairment_detail::HeldRing reorder_;
  Time last_now_ = 0;
  Time line_last_ = 0;               // latest release time given in the line
  Time reorder_last_ = 0;            // ... and in the reorder queue
  std::uint64_t line_admitted_ = 0;  // in-order packets accepted so far
  std::uint64_t line_emitted_ = 0;   // ... and handed out
  ImpairmentCounters counters_;
};

}  // namespace dquic
