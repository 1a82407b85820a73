#include "tests/sim/sim_path.h"

#include <algorithm>
#include <cassert>

namespace dquic {
namespace {

constexpr std::size_t kInitialInFlight = 1024;
constexpr std::size_t kInitialHeld = 64;
constexpr std::size_t kInitialSerializing = 256;

// False for NaN too.
bool is_probability(double p) {
  return p >= 0.0 && p <= 1.0;
}
bool is_delay(Duration d) {
  return d >= 0 && d <= SimPathConfig::kMaxDelay;
}

// Min-heap order on (arrival, seq): std::push_heap builds a max-heap, so
// "less" means later.
constexpr auto kLater = [](const auto& a, const auto& b) {
  return a.arrival != b.arrival ? a.arrival > b.arrival : a.seq > b.seq;
};

// Writing into `m` is safe only when no one else sees its data.
bool exclusively_owned(const rte_mbuf* m) {
  for (; m != nullptr; m = m->next) {
    if (rte_mbuf_refcnt_read(m) != 1 || RTE_MBUF_CLONED(m) || RTE_MBUF_HAS_EXTBUF(m)) return false;
  }
  return true;
}

}  // namespace

bool SimPathConfig::valid() const {
  return is_delay(delay) && is_delay(reorder_delay) && is_delay(reorder_jitter) &&
         rate_bps <= kMaxRateBps && mtu >= 1 && mtu <= kMaxMtu &&
         per_datagram_overhead <= kMaxMtu && is_probability(loss) && is_probability(reorder) &&
         is_probability(duplicate) && is_probability(corrupt) &&
         is_probability(burst.p_good_to_bad) && is_probability(burst.p_bad_to_good) &&
         is_probability(burst.loss_in_bad) && is_probability(burst.loss_in_good);
}

std::uint64_t SimPathConfig::default_queue_bytes(std::uint64_t rate_bps, Duration delay,
                                                 std::uint32_t mtu) {
  const std::uint64_t floor = 16ull * mtu;
  if (rate_bps == 0 || delay <= 0) return floor;
  // rate <= 1e15 and 2 * delay <= 7.2e12 ns: split to stay within 64 bits.
  const auto rtt = static_cast<unsigned __int128>(2 * delay);
  const auto bdp = static_cast<std::uint64_t>(rtt * rate_bps / (8ull * kSecond));
  return std::max(bdp, floor);
}

SimPathConfig SimPathConfig::clean(std::uint64_t rate_bps, Duration delay) {
  SimPathConfig c;
  c.rate_bps = rate_bps;
  c.delay = delay;
  c.queue_bytes = default_queue_bytes(rate_bps, delay, c.mtu);
  return c;
}

SimPathConfig SimPathConfig::lossy(std::uint64_t rate_bps, Duration delay, double loss) {
  SimPathConfig c = clean(rate_bps, delay);
  c.loss = loss;
  return c;
}

SimPathConfig SimPathConfig::bursty(std::uint64_t rate_bps, Duration delay, double p_good_to_bad,
                                    double p_bad_to_good, double loss_in_bad) {
  SimPathConfig c = clean(rate_bps, delay);
  c.burst.p_good_to_bad = p_good_to_bad;
  c.burst.p_bad_to_good = p_bad_to_good;
  c.burst.loss_in_bad = loss_in_bad;
  return c;
}

SimPathConfig SimPathConfig::nasty(std::uint64_t rate_bps, Duration delay) {
  SimPathConfig c = clean(rate_bps, delay);
  c.loss = 0.01;
  c.burst = {
      .p_good_to_bad = 0.005, .p_bad_to_good = 1.0 / 3, .loss_in_bad = 0.5, .loss_in_good = 0.0};
  c.reorder = 0.03;
  c.reorder_delay = std::max(delay / 2, kMillisecond);
  c.reorder_jitter = c.reorder_delay;
  c.duplicate = 0.01;
  c.corrupt = 0.01;
  return c;
}

SimLink::SimLink(const SimPathConfig& config, std::uint64_t seed, rte_mempool* pool)
    : config_(config),
      pool_(pool),
      loss_rng_(seed, 1),
      burst_rng_(seed, 2),
      duplicate_rng_(seed, 3),
      corrupt_rng_(seed, 4),
      reorder_rng_(seed, 5),
      serializing_(kInitialSerializing),
      in_order_(kInitialInFlight) {
  assert(config_.valid());
  held_.reserve(kInitialHeld);
}

SimLink::~SimLink() {
  for (std::size_t i = 0; i < in_order_.size(); ++i)
    rte_pktmbuf_free(in_order_[i].m);
  for (const Pending& p : held_)
    rte_pktmbuf_free(p.m);
}

Duration SimLink::serialization_time(std::uint64_t wire_bytes) {
  // wire_bytes <= 2 * kMaxMtu and rate <= 1e15: bit-ns + remainder < 2^64.
  const std::uint64_t bit_ns = wire_bytes * 8 * kSecond + rate_remainder_;
  rate_remainder_ = bit_ns % config_.rate_bps;
  return static_cast<Duration>(bit_ns / config_.rate_bps);
}

void SimLink::drain_queue(Time now) {
  while (!serializing_.empty() && serializing_.front().departure <= now) {
    queued_bytes_ -= serializing_.front().bytes;
    serializing_.pop_front();
  }
}

std::uint64_t SimLink::queued_bytes(Time now) const {
  std::uint64_t bytes = queued_bytes_;
  for (std::size_t i = 0; i < serializing_.size() && serializing_[i].departure <= now; ++i)
    bytes -= serializing_[i].bytes;
  return bytes;
}

bool SimLink::lose() {
  // Gilbert-Elliott: this datagram's fate by the current state, then one
  // state transition per datagram.
  const SimBurstLoss& ge = config_.burst;
  const bool burst_lost = burst_rng_.bernoulli(bad_ ? ge.loss_in_bad : ge.loss_in_good);
  bad_ = bad_ ? !burst_rng_.bernoulli(ge.p_bad_to_good) : burst_rng_.bernoulli(ge.p_good_to_bad);
  const bool random_lost = loss_rng_.bernoulli(config_.loss);
  if (burst_lost) {
    ++stats_.dropped_burst;
    return true;
  }
  if (random_lost) {
    ++stats_.dropped_loss;
    return true;
  }
  return false;
}

rte_mbuf* SimLink::corrupt(rte_mbuf* m) {
  if (!exclusively_owned(m)) {
    // The sender still sees these bytes (e.g. a clone kept for retransmission):
    // corrupt a private copy instead.
    rte_mbuf* copy = pool_ != nullptr ? rte_pktmbuf_copy(m, pool_, 0, UINT32_MAX) : nullptr;
    if (copy == nullptr) {
      ++stats_.alloc_failures;
      return m;
    }
    rte_pktmbuf_free(m);
    m = copy;
  }
  // One bit anywhere in the payload: the receiver's AEAD must reject it
  // (RFC 9001 §5.3), or header protection must garble the header.
  std::uint64_t offset = corrupt_rng_.below(m->pkt_len);
  const auto bit = static_cast<unsigned>(corrupt_rng_.below(8));
  rte_mbuf* seg = m;
  while (offset >= seg->data_len) {
    offset -= seg->data_len;
    seg = seg->next;
  }
  rte_pktmbuf_mtod(seg, std::uint8_t*)[offset] ^= static_cast<std::uint8_t>(1u << bit);
  ++stats_.corrupted;
  return m;
}

void SimLink::impair_and_schedule(rte_mbuf* m, Time arrival) {
  if (corrupt_rng_.bernoulli(config_.corrupt) && m->pkt_len > 0) m = corrupt(m);
  bool held = false;
  if (reorder_rng_.bernoulli(config_.reorder)) {
    ++stats_.reordered;
    held = true;
    arrival += config_.reorder_delay + reorder_rng_.uniform_int(0, config_.reorder_jitter);
  }
  const Pending p{arrival, next_seq_++, m, m->pkt_len};
  if (!held && (in_order_.empty() || in_order_.back().arrival <= arrival)) {
    in_order_.push_back(p);
  } else {
    // Also a `now` that went backwards: order is kept, only slower.
    held_.push_back(p);
    std::push_heap(held_.begin(), held_.end(), kLater);
  }
}

void SimLink::send(rte_mbuf* m, Time now) {
  if (m == nullptr) return;
  ++stats_.sent;
  stats_.bytes_sent += m->pkt_len;
  if (m->pkt_len > config_.mtu) {
    ++stats_.dropped_mtu;
    rte_pktmbuf_free(m);
    return;
  }

  Time departure = now;
  if (config_.rate_bps != 0) {
    // Drop-tail bottleneck: a datagram occupies the queue until it is fully
    // serialized.
    const std::uint64_t wire = std::uint64_t{m->pkt_len} + config_.per_datagram_overhead;
    drain_queue(now);
    if (queued_bytes_ + wire > config_.queue_bytes) {
      ++stats_.dropped_queue;
      rte_pktmbuf_free(m);
      return;
    }
    departure = std::max(now, link_free_) + serialization_time(wire);
    link_free_ = departure;
    serializing_.push_back({departure, wire});
    queued_bytes_ += wire;
  }

  if (lose()) {
    rte_pktmbuf_free(m);
    return;
  }
  // Copy before corrupting, so that the two copies are impaired independently.
  rte_mbuf* copy = nullptr;
  if (duplicate_rng_.bernoulli(config_.duplicate)) {
    copy = pool_ != nullptr ? rte_pktmbuf_copy(m, pool_, 0, UINT32_MAX) : nullptr;
    if (copy == nullptr)
      ++stats_.alloc_failures;
    else
      ++stats_.duplicated;
  }
  const Time arrival = departure + config_.delay;
  impair_and_schedule(m, arrival);
  if (copy != nullptr) impair_and_schedule(copy, arrival);
}

const SimLink::Pending* SimLink::earliest() const {
  if (in_order_.empty()) return held_.empty() ? nullptr : &held_.front();
  if (held_.empty() || kLater(held_.front(), in_order_.front())) return &in_order_.front();
  return &held_.front();
}

Time SimLink::next_delivery() const {
  const Pending* p = earliest();
  return p == nullptr ? kNever : p->arrival;
}

std::size_t SimLink::deliver(Time now, std::span<rte_mbuf*> out) {
  std::size_t n = 0;
  while (n < out.size()) {
    const Pending* p = earliest();
    if (p == nullptr || p->arrival > now) break;
    rte_mbuf* m = p->m;
    stats_.bytes_delivered += p->bytes;
    if (!in_order_.empty() && p == &in_order_.front()) {
      in_order_.pop_front();
    } else {
      std::pop_heap(held_.begin(), held_.end(), kLater);
      held_.pop_back();
    }
    out[n++] = m;
  }
  stats_.delivered += n;
  return n;
}

SimPath::SimPath(const SimPathConfig& a_to_b, const SimPathConfig& b_to_a, std::uint64_t seed,
                 rte_mempool* pool)
    : a_to_b_(a_to_b, SimRng::derive(seed, 0xab), pool),
      b_to_a_(b_to_a, SimRng::derive(seed, 0xba), pool) {}

Time SimPath::next_delivery() const {
  return std::min(a_to_b_.next_delivery(), b_to_a_.next_delivery());
}

}  // namespace dquic
