// The deterministic network simulator's path: two one-way links between two
// endpoints, each a drop-tail bottleneck (rate, queue) followed by impairments
// (loss, Gilbert-Elliott burst loss, duplication, corruption, reordering) and
// a propagation delay. Datagrams are single-segment mbufs holding one UDP
// payload; time is virtual (the caller passes `now`), randomness comes from a
// seed, so a run is reproduced exactly by its seed and its inputs.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "quic/timestamp.h"
#include "tests/sim/sim_rng.h"

namespace dquic {

namespace sim_detail {

// FIFO on a power-of-two ring: grows by doubling (amortized), never shrinks,
// so a link in steady state does not allocate.
template <typename T>
class Ring {
 public:
  explicit Ring(std::size_t capacity) : slots_(std::bit_ceil(std::max<std::size_t>(capacity, 1))) {}

  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }
  const T& operator[](std::size_t i) const { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  const T& front() const { return slots_[head_]; }
  const T& back() const { return (*this)[count_ - 1]; }

  void push_back(const T& v) {
    if (count_ == slots_.size()) grow();
    slots_[(head_ + count_) & (slots_.size() - 1)] = v;
    ++count_;
  }
  void pop_front() {
    head_ = (head_ + 1) & (slots_.size() - 1);
    --count_;
  }

 private:
  void grow() {
    std::vector<T> grown(slots_.size() * 2);
    for (std::size_t i = 0; i < count_; ++i)
      grown[i] = (*this)[i];
    slots_.swap(grown);
    head_ = 0;
  }

  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};

}  // namespace sim_detail

// Gilbert-Elliott two-state loss (per datagram): the chain moves between a
// good and a bad state after each datagram; each state has its own loss
// probability. The mean stay in the bad state is 1 / p_bad_to_good datagrams,
// so with loss_in_bad = 1 that is the mean burst length.
struct SimBurstLoss {
  double p_good_to_bad = 0.0;
  double p_bad_to_good = 1.0;
  double loss_in_bad = 1.0;
  double loss_in_good = 0.0;
};

struct SimPathConfig {
  // Bounds that keep the per-datagram arithmetic in 64 bits.
  static constexpr std::uint32_t kMaxMtu = 65535;
  static constexpr std::uint64_t kMaxRateBps = 1'000'000'000'000'000ull;  // 1 Pbit/s
  static constexpr Duration kMaxDelay = 3600 * kSecond;

  Duration delay = 0;                       // one-way propagation
  std::uint64_t rate_bps = 0;               // bottleneck rate; 0 = infinite (no queue)
  std::uint64_t queue_bytes = 64 * 1024;    // drop-tail limit, wire bytes
  std::uint32_t mtu = 1472;                 // largest UDP payload carried (1500 - IPv4 - UDP)
  std::uint32_t per_datagram_overhead = 0;  // wire bytes added per datagram (IP+UDP: 28)
  double loss = 0.0;                        // independent random loss
  SimBurstLoss burst;                       // Gilbert-Elliott loss, on top of `loss`
  double reorder = 0.0;                     // probability a datagram is held back
  Duration reorder_delay = 0;               // ... by this much
  Duration reorder_jitter = 0;              // ... plus uniform [0, jitter]
  double duplicate = 0.0;                   // probability of a second, independent copy
  double corrupt = 0.0;                     // probability one payload bit is flipped

  // Probabilities in [0, 1], durations in [0, kMaxDelay], mtu in [1, kMaxMtu],
  // rate <= kMaxRateBps. SimLink requires a valid config.
  bool valid() const;

  // One bandwidth-delay product for the round trip (2 * delay), but at least
  // 16 full datagrams: a queue that neither starves nor bloats a single flow.
  static std::uint64_t default_queue_bytes(std::uint64_t rate_bps, Duration delay,
                                           std::uint32_t mtu = 1472);

  // Profiles.
  static SimPathConfig clean(std::uint64_t rate_bps, Duration delay);
  static SimPathConfig lossy(std::uint64_t rate_bps, Duration delay, double loss);
  static SimPathConfig bursty(std::uint64_t rate_bps, Duration delay, double p_good_to_bad,
                              double p_bad_to_good, double loss_in_bad = 1.0);
  // Everything at once: 1% loss, bursts (mean 3 datagrams, 50% lost), 3%
  // reordered by half the delay (at least 1 ms) plus as much jitter, 1%
  // duplicated, 1% corrupted.
  static SimPathConfig nasty(std::uint64_t rate_bps, Duration delay);
};

struct SimLinkStats {
  std::uint64_t sent = 0;       // datagrams offered to send()
  std::uint64_t delivered = 0;  // datagrams handed out by deliver(), copies included
  std::uint64_t dropped_mtu = 0;
  std::uint64_t dropped_queue = 0;    // drop-tail
  std::uint64_t dropped_loss = 0;     // random loss
  std::uint64_t dropped_burst = 0;    // Gilbert-Elliott loss
  std::uint64_t duplicated = 0;       // extra copies made
  std::uint64_t corrupted = 0;        // copies with a flipped bit
  std::uint64_t reordered = 0;        // copies held back by the reorder delay
  std::uint64_t alloc_failures = 0;   // copy for duplication/corruption failed: not impaired
  std::uint64_t bytes_sent = 0;       // payload bytes offered
  std::uint64_t bytes_delivered = 0;  // payload bytes, copies included

  std::uint64_t dropped() const {
    return dropped_mtu + dropped_queue + dropped_loss + dropped_burst;
  }
  friend bool operator==(const SimLinkStats&, const SimLinkStats&) = default;
};

// One direction. Owns every datagram between send() and deliver(); frees
// whatever it drops, and whatever is still in flight when destroyed.
class SimLink {
 public:
  // `seed` selects this link's random streams. `pool` supplies the copies made
  // for duplication and for corrupting a datagram whose data is shared (refcnt
  // > 1, indirect, external buffer); it may be null, and then those copies
  // count as alloc_failures. `config` must be valid().
  SimLink(const SimPathConfig& config, std::uint64_t seed, rte_mempool* pool);
  ~SimLink();
  SimLink(const SimLink&) = delete;
  SimLink& operator=(const SimLink&) = delete;

  // Takes ownership of `m` (null is ignored). MTU check, then the bottleneck:
  // departure = max(now, link free) + wire size * 8 / rate, dropped when the
  // bytes not yet serialized would exceed queue_bytes; then loss, duplication,
  // and per copy corruption and reordering; arrival = departure + delay
  // (+ reorder delay). `now` must not decrease between calls.
  void send(rte_mbuf* m, Time now);

  // Earliest pending arrival; kNever when nothing is in flight.
  Time next_delivery() const;

  // Moves up to out.size() datagrams that arrived by `now` into `out`, in
  // arrival order, ties in send order. Ownership passes to the caller.
  std::size_t deliver(Time now, std::span<rte_mbuf*> out);

  const SimLinkStats& stats() const { return stats_; }
  const SimPathConfig& config() const { return config_; }
  std::size_t in_flight() const { return in_order_.size() + held_.size(); }
  // Wire bytes accepted but not fully serialized by `now` (the drop-tail
  // occupancy, including the datagram being transmitted).
  std::uint64_t queued_bytes(Time now) const;
  // When the bottleneck finishes the last accepted datagram.
  Time link_free_time() const { return link_free_; }
  bool in_burst_state() const { return bad_; }

 private:
  struct Pending {
    Time arrival;
    std::uint64_t seq;
    rte_mbuf* m;
    std::uint32_t bytes;  // kept here: deliver() need not touch a cold mbuf
  };
  struct Serializing {
    Time departure;
    std::uint64_t bytes;
  };

  Duration serialization_time(std::uint64_t wire_bytes);
  void drain_queue(Time now);
  bool lose();
  const Pending* earliest() const;
  rte_mbuf* corrupt(rte_mbuf* m);
  void impair_and_schedule(rte_mbuf* m, Time arrival);

  SimPathConfig config_;
  rte_mempool* pool_;
  // One stream per impairment: turning one on does not move another's draws.
  SimRng loss_rng_;
  SimRng burst_rng_;
  SimRng duplicate_rng_;
  SimRng corrupt_rng_;
  SimRng reorder_rng_;
  bool bad_ = false;

  // Bottleneck: accepted datagrams until their departure (bounded by
  // queue_bytes).
  sim_detail::Ring<Serializing> serializing_;
  std::uint64_t queued_bytes_ = 0;
  Time link_free_ = 0;
  std::uint64_t rate_remainder_ = 0;  // bit-ns carried so that long runs match the rate exactly

  // Datagrams in flight, a priority queue on (arrival, seq) in two parts:
  // those not held back arrive in send order (FIFO bottleneck, constant
  // delay), so they wait in a ring at O(1); reordered ones, and any that would
  // break the ring's order, wait in a min-heap. deliver() merges the two.
  // Both grow amortized; they are bounded by the mbufs the senders' pools hold.
  sim_detail::Ring<Pending> in_order_;
  std::vector<Pending> held_;
  std::uint64_t next_seq_ = 0;

  SimLinkStats stats_;
};

// Both directions between endpoints A and B, with their own configs and
// random streams derived from one seed.
class SimPath {
 public:
  SimPath(const SimPathConfig& a_to_b, const SimPathConfig& b_to_a, std::uint64_t seed,
          rte_mempool* pool);
  SimPath(const SimPathConfig& both, std::uint64_t seed, rte_mempool* pool)
      : SimPath(both, both, seed, pool) {}

  SimLink& a_to_b() { return a_to_b_; }
  SimLink& b_to_a() { return b_to_a_; }
  const SimLink& a_to_b() const { return a_to_b_; }
  const SimLink& b_to_a() const { return b_to_a_; }

  // Earliest arrival in either direction; kNever when both are empty.
  Time next_delivery() const;

 private:
  SimLink a_to_b_;
  SimLink b_to_a_;
};

}  // namespace dquic
