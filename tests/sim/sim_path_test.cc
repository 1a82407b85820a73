// The simulator's path model: exact virtual-time serialization and delay,
// drop-tail, each impairment's statistics, determinism per seed, and that
// every mbuf returns to its pool. Runs under tests/dpdk_test_main.cc.
#include "tests/sim/sim_path.h"

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/sim/sim_clock.h"
#include "tests/sim/sim_rng.h"

namespace dquic {
namespace {

// ---------------------------------------------------------------- SimRng

// First output for seed 1, stream 0 (xoshiro256** itself checked against the
// reference vector for state {1, 2, 3, 4}: 11520, 0, 1509978240, ...).
constexpr std::uint64_t kSimRngPinFirst = 37960907540642715ull;

TEST(SimRng, SameSeedSameSequence) {
  SimRng a(42, 7);
  SimRng b(42, 7);
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(a.next_u64(), b.next_u64());
}

TEST(SimRng, SequenceIsPinned) {
  // Regression pin: a recorded failing seed must replay the same run after
  // any change to this file.
  SimRng r(1);
  const std::uint64_t first = r.next_u64();
  const std::uint64_t second = r.next_u64();
  SimRng again(1, 0);
  EXPECT_EQ(again.next_u64(), first);
  EXPECT_EQ(again.next_u64(), second);
  EXPECT_EQ(first, kSimRngPinFirst);
}

TEST(SimRng, SeedsAndStreamsDiffer) {
  SimRng base(5, 0);
  SimRng other_seed(6, 0);
  SimRng other_stream(5, 1);
  int same_seed = 0, same_stream = 0;
  for (int i = 0; i < 64; ++i) {
    const std::uint64_t v = base.next_u64();
    same_seed += v == other_seed.next_u64();
    same_stream += v == other_stream.next_u64();
  }
  EXPECT_EQ(same_seed, 0);
  EXPECT_EQ(same_stream, 0);
  EXPECT_NE(SimRng::derive(1, 2), SimRng::derive(2, 1));
  EXPECT_NE(SimRng::derive(0, 0), 0u);
}

TEST(SimRng, UniformIsInUnitIntervalWithMeanHalf) {
  SimRng r(3);
  double sum = 0;
  constexpr int kN = 100000;
  for (int i = 0; i < kN; ++i) {
    const double u = r.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  // Standard error sqrt(1/12/kN) ~ 0.0009.
  EXPECT_NEAR(sum / kN, 0.5, 0.005);
}

TEST(SimRng, BelowIsBoundedAndEven) {
  SimRng r(4);
  EXPECT_EQ(r.below(0), 0u);
  EXPECT_EQ(r.below(1), 0u);
  std::array<int, 10> counts{};
  constexpr int kN = 100000;
  for (int i = 0; i < kN; ++i) {
    const std::uint64_t v = r.below(10);
    ASSERT_LT(v, 10u);
    ++counts[v];
  }
  // Each bucket ~ 10000, sd ~ 95.
  for (int c : counts)
    EXPECT_NEAR(c, kN / 10, 600);
  // A bound just above 2^63 exercises the rejection path without bias toward
  // the low half.
  const std::uint64_t big = (1ull << 63) + 12345;
  int high = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t v = r.below(big);
    ASSERT_LT(v, big);
    high += v >= big / 2;
  }
  EXPECT_NEAR(high, 5000, 300);
}

TEST(SimRng, UniformIntIsInclusive) {
  SimRng r(5);
  bool saw_lo = false, saw_hi = false;
  for (int i = 0; i < 1000; ++i) {
    const std::int64_t v = r.uniform_int(-3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
    saw_lo |= v == -3;
    saw_hi |= v == 3;
  }
  EXPECT_TRUE(saw_lo);
  EXPECT_TRUE(saw_hi);
  EXPECT_EQ(r.uniform_int(9, 9), 9);
  EXPECT_EQ(r.uniform_int(9, 2), 9);  // empty range: lo
  // The full int64 range must not hang or overflow.
  bool negative = false, positive = false;
  for (int i = 0; i < 64; ++i) {
    const std::int64_t v = r.uniform_int(INT64_MIN, INT64_MAX);
    negative |= v < 0;
    positive |= v > 0;
  }
  EXPECT_TRUE(negative);
  EXPECT_TRUE(positive);
}

TEST(SimRng, BernoulliEdgesDrawNothing) {
  SimRng r(6);
  SimRng reference(6);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(r.bernoulli(0.0));
    EXPECT_FALSE(r.bernoulli(-1.0));
    EXPECT_TRUE(r.bernoulli(1.0));
    EXPECT_TRUE(r.bernoulli(2.0));
  }
  EXPECT_EQ(r.next_u64(), reference.next_u64());
  int hits = 0;
  for (int i = 0; i < 100000; ++i)
    hits += r.bernoulli(0.3);
  EXPECT_NEAR(hits, 30000, 750);  // sd ~ 145
}

// ---------------------------------------------------------------- SimClock

TEST(SimClock, MovesOnlyForward) {
  SimClock c(5 * kMillisecond);
  EXPECT_EQ(c.now(), 5 * kMillisecond);
  EXPECT_TRUE(c.advance_to(7 * kMillisecond));
  EXPECT_EQ(c.now(), 7 * kMillisecond);
  EXPECT_TRUE(c.advance_to(7 * kMillisecond));
  EXPECT_FALSE(c.advance_to(6 * kMillisecond));
  EXPECT_EQ(c.now(), 7 * kMillisecond);
  EXPECT_TRUE(c.advance_by(kMicrosecond));
  EXPECT_EQ(c.now(), 7 * kMillisecond + kMicrosecond);
  EXPECT_FALSE(c.advance_by(-1));
  EXPECT_EQ(c.now(), 7 * kMillisecond + kMicrosecond);
  EXPECT_TRUE(c.advance_by(kNever));
  EXPECT_EQ(c.now(), kNever);
  SimClock d;
  EXPECT_EQ(d.now(), 0);
}

// ---------------------------------------------------------------- config

TEST(SimPathConfig, DefaultAndProfilesAreValid) {
  EXPECT_TRUE(SimPathConfig{}.valid());
  const SimPathConfig clean = SimPathConfig::clean(100'000'000, 20 * kMillisecond);
  EXPECT_TRUE(clean.valid());
  EXPECT_EQ(clean.rate_bps, 100'000'000u);
  EXPECT_EQ(clean.delay, 20 * kMillisecond);
  // One BDP of the 40 ms round trip at 100 Mbit/s.
  EXPECT_EQ(clean.queue_bytes, 500'000u);
  EXPECT_EQ(clean.loss, 0.0);
  EXPECT_EQ(clean.reorder, 0.0);
  EXPECT_EQ(clean.duplicate, 0.0);
  EXPECT_EQ(clean.corrupt, 0.0);
  EXPECT_EQ(clean.burst.p_good_to_bad, 0.0);

  const SimPathConfig lossy = SimPathConfig::lossy(10'000'000, kMillisecond, 0.05);
  EXPECT_TRUE(lossy.valid());
  EXPECT_EQ(lossy.loss, 0.05);
  // A small BDP is floored at 16 full datagrams.
  EXPECT_EQ(lossy.queue_bytes, 16u * lossy.mtu);

  const SimPathConfig bursty = SimPathConfig::bursty(0, 0, 0.01, 0.25, 0.9);
  EXPECT_TRUE(bursty.valid());
  EXPECT_EQ(bursty.burst.p_good_to_bad, 0.01);
  EXPECT_EQ(bursty.burst.p_bad_to_good, 0.25);
  EXPECT_EQ(bursty.burst.loss_in_bad, 0.9);

  const SimPathConfig nasty = SimPathConfig::nasty(50'000'000, 30 * kMillisecond);
  EXPECT_TRUE(nasty.valid());
  EXPECT_GT(nasty.loss, 0.0);
  EXPECT_GT(nasty.burst.p_good_to_bad, 0.0);
  EXPECT_GT(nasty.reorder, 0.0);
  EXPECT_EQ(nasty.reorder_delay, 15 * kMillisecond);
  EXPECT_GT(nasty.duplicate, 0.0);
  EXPECT_GT(nasty.corrupt, 0.0);
  EXPECT_EQ(SimPathConfig::nasty(0, 0).reorder_delay, kMillisecond);
  EXPECT_EQ(SimPathConfig::default_queue_bytes(0, kSecond, 1000), 16000u);
}

TEST(SimPathConfig, RejectsEachOutOfRangeField) {
  const std::vector<std::function<void(SimPathConfig&)>> breakers = {
      [](SimPathConfig& c) { c.delay = -1; },
      [](SimPathConfig& c) { c.delay = SimPathConfig::kMaxDelay + 1; },
      [](SimPathConfig& c) { c.reorder_delay = -1; },
      [](SimPathConfig& c) { c.reorder_jitter = -1; },
      [](SimPathConfig& c) { c.rate_bps = SimPathConfig::kMaxRateBps + 1; },
      [](SimPathConfig& c) { c.mtu = 0; },
      [](SimPathConfig& c) { c.mtu = SimPathConfig::kMaxMtu + 1; },
      [](SimPathConfig& c) { c.per_datagram_overhead = SimPathConfig::kMaxMtu + 1; },
      [](SimPathConfig& c) { c.loss = -0.1; },
      [](SimPathConfig& c) { c.loss = 1.1; },
      [](SimPathConfig& c) { c.loss = std::nan(""); },
      [](SimPathConfig& c) { c.reorder = 2; },
      [](SimPathConfig& c) { c.duplicate = -1; },
      [](SimPathConfig& c) { c.corrupt = 1.5; },
      [](SimPathConfig& c) { c.burst.p_good_to_bad = -0.5; },
      [](SimPathConfig& c) { c.burst.p_bad_to_good = 3; },
      [](SimPathConfig& c) { c.burst.loss_in_bad = std::nan(""); },
      [](SimPathConfig& c) { c.burst.loss_in_good = -1e-9; },
  };
  for (std::size_t i = 0; i < breakers.size(); ++i) {
    SimPathConfig c;
    breakers[i](c);
    EXPECT_FALSE(c.valid()) << "breaker " << i;
  }
  SimPathConfig edges;
  edges.delay = SimPathConfig::kMaxDelay;
  edges.rate_bps = SimPathConfig::kMaxRateBps;
  edges.mtu = SimPathConfig::kMaxMtu;
  edges.loss = 1.0;
  edges.corrupt = 0.0;
  EXPECT_TRUE(edges.valid());
}

// ---------------------------------------------------------------- links

struct PoolDeleter {
  void operator()(rte_mempool* mp) const { rte_mempool_free(mp); }
};
using PoolPtr = std::unique_ptr<rte_mempool, PoolDeleter>;

PoolPtr make_pool(unsigned n) {
  static int counter = 0;
  const std::string name = "sim_path_" + std::to_string(counter++);
  return PoolPtr(
      rte_pktmbuf_pool_create(name.c_str(), n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY));
}

std::uint8_t pattern_byte(std::uint64_t tag, std::size_t i) {
  if (i < 8) return static_cast<std::uint8_t>(tag >> (8 * i));
  return static_cast<std::uint8_t>(tag * 131 + i * 7);
}

// A datagram of `size` bytes carrying `tag` in its first 8 bytes (when it fits).
rte_mbuf* make_datagram(rte_mempool* pool, std::uint32_t size, std::uint64_t tag) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  auto* p =
      reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, static_cast<std::uint16_t>(size)));
  if (p == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  for (std::uint32_t i = 0; i < size; ++i)
    p[i] = pattern_byte(tag, i);
  return m;
}

std::uint64_t tag_of(const rte_mbuf* m) {
  std::uint64_t tag = 0;
  std::memcpy(&tag, rte_pktmbuf_mtod(m, const std::uint8_t*), sizeof(tag));
  return tag;
}

// Bits that differ from the pattern of `tag`, over the whole chain; -1 when
// the length is not `size`.
int bit_errors(const rte_mbuf* m, std::uint64_t tag, std::uint32_t size) {
  if (m->pkt_len != size) return -1;
  int errors = 0;
  std::size_t i = 0;
  for (const rte_mbuf* seg = m; seg != nullptr; seg = seg->next) {
    const auto* p = rte_pktmbuf_mtod(seg, const std::uint8_t*);
    for (std::uint16_t j = 0; j < seg->data_len; ++j, ++i)
      errors += std::popcount(static_cast<unsigned>(p[j] ^ pattern_byte(tag, i)));
  }
  return errors;
}

struct Arrival {
  Time at;
  rte_mbuf* m;
};

// Delivers everything that arrives by `now`, each at its own arrival time.
void deliver_until(SimLink& link, Time now, const std::function<void(const Arrival&)>& sink) {
  std::array<rte_mbuf*, 16> buf;
  while (link.next_delivery() <= now) {
    const Time t = link.next_delivery();
    const std::size_t n = link.deliver(t, buf);
    for (std::size_t i = 0; i < n; ++i)
      sink({t, buf[i]});
  }
}

// Sends `n` datagrams of `size` bytes tagged 0..n-1 at 0, spacing, 2*spacing,
// ... delivering as virtual time passes, then drains the link. `sink` sees
// every arrival; the mbuf is freed after it returns.
void pump(SimLink& link, rte_mempool* pool, std::uint64_t n, std::uint32_t size, Duration spacing,
          const std::function<void(const Arrival&)>& sink) {
  auto sink_and_free = [&](const Arrival& a) {
    sink(a);
    rte_pktmbuf_free(a.m);
  };
  for (std::uint64_t i = 0; i < n; ++i) {
    const Time now = static_cast<Time>(i) * spacing;
    deliver_until(link, now, sink_and_free);
    rte_mbuf* m = make_datagram(pool, size, i);
    ASSERT_NE(m, nullptr) << "pool exhausted at " << i;
    link.send(m, now);
  }
  deliver_until(link, kNever - 1, sink_and_free);
  ASSERT_EQ(link.in_flight(), 0u);
}

class SimLinkTest : public ::testing::Test {
 protected:
  static constexpr unsigned kPoolSize = 8191;

  void SetUp() override {
    pool_ = make_pool(kPoolSize);
    ASSERT_NE(pool_, nullptr) << rte_strerror(rte_errno);
  }
  // Every test hands every mbuf back: what the link dropped, what it
  // delivered (the test frees those), and what it still held when destroyed.
  void TearDown() override {
    if (pool_ != nullptr) {
      EXPECT_EQ(rte_mempool_in_use_count(pool_.get()), 0u);
    }
  }

  rte_mbuf* make(std::uint32_t size, std::uint64_t tag) {
    return make_datagram(pool_.get(), size, tag);
  }
  void free_all(std::vector<Arrival>& v) {
    for (auto& a : v)
      rte_pktmbuf_free(a.m);
    v.clear();
  }
  // Every arrival, in order, with the link's virtual time advancing to each.
  std::vector<Arrival> drain(SimLink& link) {
    std::vector<Arrival> out;
    deliver_until(link, kNever - 1, [&](const Arrival& a) { out.push_back(a); });
    return out;
  }

  PoolPtr pool_;
};

TEST_F(SimLinkTest, SerializationAndDelayAreExact) {
  SimPathConfig c;
  c.rate_bps = 8'000'000;  // one byte per microsecond
  c.delay = 10 * kMillisecond;
  c.queue_bytes = 1'000'000;
  SimLink link(c, 1, pool_.get());
  EXPECT_EQ(link.next_delivery(), kNever);
  for (std::uint64_t i = 0; i < 10; ++i)
    link.send(make(1000, i), 0);
  EXPECT_EQ(link.link_free_time(), 10 * kMillisecond);
  EXPECT_EQ(link.queued_bytes(0), 10000u);
  EXPECT_EQ(link.queued_bytes(kMillisecond - 1), 10000u);
  EXPECT_EQ(link.queued_bytes(kMillisecond), 9000u);
  EXPECT_EQ(link.queued_bytes(10 * kMillisecond), 0u);

  std::array<rte_mbuf*, 4> out;
  for (std::uint64_t i = 0; i < 10; ++i) {
    const Time expected = static_cast<Time>(i + 1) * kMillisecond + 10 * kMillisecond;
    ASSERT_EQ(link.next_delivery(), expected);
    ASSERT_EQ(link.deliver(expected - 1, out), 0u);
    ASSERT_EQ(link.deliver(expected, out), 1u);
    EXPECT_EQ(tag_of(out[0]), i);
    EXPECT_EQ(bit_errors(out[0], i, 1000), 0);
    rte_pktmbuf_free(out[0]);
  }
  EXPECT_EQ(link.next_delivery(), kNever);
  EXPECT_EQ(link.stats().sent, 10u);
  EXPECT_EQ(link.stats().delivered, 10u);
  EXPECT_EQ(link.stats().bytes_sent, 10000u);
  EXPECT_EQ(link.stats().bytes_delivered, 10000u);
  EXPECT_EQ(link.stats().dropped(), 0u);

  // After idling, a datagram departs one serialization after it is sent,
  // not after the old link-free time.
  link.send(make(500, 99), 50 * kMillisecond);
  EXPECT_EQ(link.next_delivery(), 50 * kMillisecond + 500 * kMicrosecond + 10 * kMillisecond);
  auto rest = drain(link);
  ASSERT_EQ(rest.size(), 1u);
  free_all(rest);
}

TEST_F(SimLinkTest, PerDatagramOverheadCountsOnTheWire) {
  SimPathConfig c;
  c.rate_bps = 8'000'000;
  c.delay = 0;
  c.queue_bytes = 10'000;
  c.per_datagram_overhead = 28;
  SimLink link(c, 1, pool_.get());
  for (std::uint64_t i = 0; i < 10; ++i)
    link.send(make(1000, i), 0);
  // 9 * 1028 = 9252 fits in 10000; a tenth would not.
  EXPECT_EQ(link.stats().dropped_queue, 1u);
  EXPECT_EQ(link.next_delivery(), 1028 * kMicrosecond);
  EXPECT_EQ(link.link_free_time(), 9 * 1028 * kMicrosecond);
  auto got = drain(link);
  EXPECT_EQ(got.size(), 9u);
  EXPECT_EQ(link.stats().bytes_delivered, 9000u);  // payload bytes, not wire bytes
  free_all(got);
}

// The link never idles, so the n-th departure is floor(n * size * 8 / rate)
// exactly, even when one datagram's serialization is not a whole number of
// nanoseconds.
void check_long_run_rate(rte_mempool* pool, std::uint64_t rate_bps, std::uint32_t size,
                         Duration delay, std::uint64_t n) {
  SimPathConfig c;
  c.rate_bps = rate_bps;
  c.delay = delay;
  c.queue_bytes = 1ull << 40;
  SimLink link(c, 1, pool);
  std::uint64_t sent = 0, delivered = 0;
  Time last = 0;
  std::array<rte_mbuf*, 64> out;
  auto top_up = [&](Time now) {
    while (sent < n && link.in_flight() < 500) {
      link.send(make_datagram(pool, size, sent), now);
      ++sent;
    }
  };
  top_up(0);
  while (link.next_delivery() != kNever) {
    const Time now = link.next_delivery();
    const std::size_t k = link.deliver(now, out);
    for (std::size_t i = 0; i < k; ++i) {
      ASSERT_EQ(tag_of(out[i]), delivered) << "FIFO order";
      // The i-th (0-based) arrival: departure of datagram i+1 plus the delay.
      const auto bits_ns =
          static_cast<unsigned __int128>(delivered + 1) * size * 8 * static_cast<unsigned>(kSecond);
      ASSERT_EQ(now, delay + static_cast<Time>(bits_ns / rate_bps)) << "datagram " << delivered;
      ++delivered;
      rte_pktmbuf_free(out[i]);
    }
    last = now;
    top_up(now);
  }
  EXPECT_EQ(delivered, n);
  EXPECT_EQ(link.stats().dropped(), 0u);
  // Goodput over the busy period is the configured rate.
  const double seconds = static_cast<double>(last - delay) / kSecond;
  EXPECT_NEAR(static_cast<double>(link.stats().bytes_delivered) * 8 / seconds,
              static_cast<double>(rate_bps), static_cast<double>(rate_bps) * 1e-7);
}

TEST_F(SimLinkTest, ThroughputMatchesRateExactly) {
  check_long_run_rate(pool_.get(), 100'000'000, 1250, 10 * kMillisecond, 20000);
  // 1000 bytes at 3 Mbit/s is 2666666.67 ns: the carried remainder keeps the
  // long run exact.
  check_long_run_rate(pool_.get(), 3'000'000, 1000, 7 * kMillisecond, 20000);
  check_long_run_rate(pool_.get(), 999'999'937, 1337, kMicrosecond, 20000);
}

TEST_F(SimLinkTest, InfiniteRateHasNoQueueAndKeepsSendOrderOnTies) {
  SimPathConfig c;
  c.rate_bps = 0;
  c.queue_bytes = 1;  // irrelevant without a bottleneck
  c.delay = 3 * kMillisecond;
  SimLink link(c, 1, pool_.get());
  for (std::uint64_t i = 0; i < 1000; ++i)
    link.send(make(1200, i), 0);
  EXPECT_EQ(link.stats().dropped_queue, 0u);
  EXPECT_EQ(link.queued_bytes(0), 0u);
  EXPECT_EQ(link.next_delivery(), 3 * kMillisecond);
  auto got = drain(link);
  ASSERT_EQ(got.size(), 1000u);
  for (std::uint64_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].at, 3 * kMillisecond);
    EXPECT_EQ(tag_of(got[i].m), i);
  }
  free_all(got);
}

TEST_F(SimLinkTest, HeldAndInOrderDatagramsMergeBySendOrderOnTies) {
  // Half the datagrams are "held back" by zero: they wait apart from the rest
  // but must still come out in send order.
  SimPathConfig c;
  c.reorder = 0.5;
  SimLink link(c, 3, pool_.get());
  for (std::uint64_t i = 0; i < 200; ++i)
    link.send(make(100, i), 0);
  EXPECT_NEAR(static_cast<double>(link.stats().reordered), 100.0, 40.0);
  auto got = drain(link);
  ASSERT_EQ(got.size(), 200u);
  for (std::uint64_t i = 0; i < got.size(); ++i)
    EXPECT_EQ(tag_of(got[i].m), i);
  free_all(got);
}

TEST_F(SimLinkTest, TimeGoingBackwardsStillDeliversInArrivalOrder) {
  // A contract violation by the caller must not break the arrival order.
  SimPathConfig c;
  c.delay = kMillisecond;
  SimLink link(c, 1, pool_.get());
  link.send(make(100, 0), 10 * kMillisecond);
  link.send(make(100, 1), 5 * kMillisecond);
  link.send(make(100, 2), 12 * kMillisecond);
  EXPECT_EQ(link.next_delivery(), 6 * kMillisecond);
  auto got = drain(link);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(tag_of(got[0].m), 1u);
  EXPECT_EQ(got[0].at, 6 * kMillisecond);
  EXPECT_EQ(tag_of(got[1].m), 0u);
  EXPECT_EQ(tag_of(got[2].m), 2u);
  EXPECT_EQ(got[2].at, 13 * kMillisecond);
  free_all(got);
}

TEST_F(SimLinkTest, DeliverHonoursSpanSize) {
  SimPathConfig c;
  SimLink link(c, 1, pool_.get());
  for (std::uint64_t i = 0; i < 10; ++i)
    link.send(make(100, i), 0);
  std::array<rte_mbuf*, 3> out;
  EXPECT_EQ(link.deliver(0, std::span<rte_mbuf*>()), 0u);
  EXPECT_EQ(link.in_flight(), 10u);
  std::uint64_t next = 0;
  for (std::size_t expected : {3u, 3u, 3u, 1u, 0u}) {
    const std::size_t n = link.deliver(0, out);
    ASSERT_EQ(n, expected);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(tag_of(out[i]), next++);
      rte_pktmbuf_free(out[i]);
    }
  }
  EXPECT_EQ(link.stats().delivered, 10u);
  link.send(nullptr, 0);  // ignored
  EXPECT_EQ(link.stats().sent, 10u);
}

TEST_F(SimLinkTest, DropTailAtQueueLimit) {
  SimPathConfig c;
  c.rate_bps = 8'000'000;
  c.delay = 5 * kMillisecond;
  c.queue_bytes = 10'000;
  SimLink link(c, 1, pool_.get());
  for (std::uint64_t i = 0; i < 10; ++i)
    link.send(make(1000, i), 0);
  EXPECT_EQ(link.queued_bytes(0), 10'000u);  // exactly at the limit: accepted
  EXPECT_EQ(link.stats().dropped_queue, 0u);
  link.send(make(1000, 10), 0);
  EXPECT_EQ(link.stats().dropped_queue, 1u);
  link.send(make(1, 11), kMillisecond - 1);  // even one byte is over
  EXPECT_EQ(link.stats().dropped_queue, 2u);
  // The first datagram has left the queue at 1 ms: room for one more.
  link.send(make(1000, 12), kMillisecond);
  link.send(make(1000, 13), kMillisecond);
  EXPECT_EQ(link.stats().dropped_queue, 3u);
  EXPECT_EQ(link.link_free_time(), 11 * kMillisecond);

  auto got = drain(link);
  ASSERT_EQ(got.size(), 11u);
  for (std::uint64_t i = 0; i < 10; ++i)
    EXPECT_EQ(tag_of(got[i].m), i);
  EXPECT_EQ(tag_of(got[10].m), 12u);
  EXPECT_EQ(got[10].at, 11 * kMillisecond + 5 * kMillisecond);
  free_all(got);

  // A datagram larger than the whole queue never fits, even on an idle link.
  c.queue_bytes = 1000;
  SimLink small(c, 1, pool_.get());
  small.send(make(1001, 14), 0);
  EXPECT_EQ(small.stats().dropped_queue, 1u);
  EXPECT_EQ(small.in_flight(), 0u);
  EXPECT_EQ(small.link_free_time(), 0);
}

TEST_F(SimLinkTest, DropsDatagramsOverMtuWithoutUsingTheLink) {
  SimPathConfig c;
  c.mtu = 1200;
  c.rate_bps = 8'000'000;
  c.queue_bytes = 100'000;
  SimLink link(c, 1, pool_.get());
  link.send(make(1201, 0), 0);
  EXPECT_EQ(link.stats().dropped_mtu, 1u);
  EXPECT_EQ(link.link_free_time(), 0);
  link.send(make(1200, 1), 0);
  EXPECT_EQ(link.stats().dropped_mtu, 1u);
  EXPECT_EQ(link.next_delivery(), 1200 * kMicrosecond);
  link.send(make(1500, 2), 0);
  EXPECT_EQ(link.stats().dropped_mtu, 2u);
  EXPECT_EQ(link.stats().bytes_sent, 1201u + 1200u + 1500u);
  auto got = drain(link);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(tag_of(got[0].m), 1u);
  free_all(got);
}

// Tags delivered, in order, for `n` datagrams sent one per microsecond.
struct LossRun {
  SimLinkStats stats;
  std::vector<std::uint64_t> delivered;
};
LossRun run_loss(rte_mempool* pool, const SimPathConfig& c, std::uint64_t seed, std::uint64_t n) {
  LossRun r;
  SimLink link(c, seed, pool);
  pump(link, pool, n, 64, kMicrosecond,
       [&](const Arrival& a) { r.delivered.push_back(tag_of(a.m)); });
  r.stats = link.stats();
  return r;
}

TEST_F(SimLinkTest, RandomLossMatchesProbabilityAndSeed) {
  SimPathConfig c;
  c.loss = 0.1;
  constexpr std::uint64_t kN = 100000;
  const LossRun a = run_loss(pool_.get(), c, 7, kN);
  // sd = sqrt(n p (1-p)) ~ 95.
  EXPECT_NEAR(static_cast<double>(a.stats.dropped_loss), 10000.0, 500.0);
  EXPECT_EQ(a.stats.dropped_loss + a.stats.delivered, kN);
  EXPECT_EQ(a.delivered.size(), a.stats.delivered);
  EXPECT_EQ(a.stats.dropped_burst, 0u);

  const LossRun again = run_loss(pool_.get(), c, 7, kN);
  EXPECT_EQ(again.stats, a.stats);
  EXPECT_EQ(again.delivered, a.delivered);

  const LossRun other = run_loss(pool_.get(), c, 8, kN);
  EXPECT_NE(other.delivered, a.delivered);
  EXPECT_NEAR(static_cast<double>(other.stats.dropped_loss), 10000.0, 500.0);

  c.loss = 1.0;
  EXPECT_EQ(run_loss(pool_.get(), c, 7, 100).stats.dropped_loss, 100u);
}

// Lengths of the runs of consecutive lost datagrams.
std::vector<std::uint64_t> loss_bursts(const std::vector<std::uint64_t>& delivered,
                                       std::uint64_t n) {
  std::vector<std::uint64_t> bursts;
  std::uint64_t expect = 0;
  for (std::uint64_t tag : delivered) {
    if (tag > expect) bursts.push_back(tag - expect);
    expect = tag + 1;
  }
  if (n > expect) bursts.push_back(n - expect);
  return bursts;
}

double mean(const std::vector<std::uint64_t>& v) {
  double s = 0;
  for (auto x : v)
    s += static_cast<double>(x);
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

TEST_F(SimLinkTest, GilbertElliottProducesBursts) {
  constexpr std::uint64_t kN = 200000;
  const SimPathConfig c = SimPathConfig::bursty(0, 0, 0.01, 0.25, 1.0);
  const LossRun r = run_loss(pool_.get(), c, 11, kN);
  EXPECT_EQ(r.stats.dropped_loss, 0u);
  EXPECT_EQ(r.stats.dropped_burst + r.stats.delivered, kN);
  // Stationary share of the bad state: p_gb / (p_gb + p_bg) = 1/26.
  EXPECT_NEAR(static_cast<double>(r.stats.dropped_burst) / kN, 1.0 / 26, 0.006);
  // Mean burst = mean stay in the bad state = 1 / p_bg = 4 (se ~ 0.08).
  const auto bursts = loss_bursts(r.delivered, kN);
  EXPECT_NEAR(mean(bursts), 4.0, 0.4);

  // Independent loss at the same rate makes bursts of ~1 / (1 - p) ~ 1.04.
  SimPathConfig random;
  random.loss = 1.0 / 26;
  const LossRun q = run_loss(pool_.get(), random, 11, kN);
  EXPECT_LT(mean(loss_bursts(q.delivered, kN)), 1.2);
}

TEST_F(SimLinkTest, GilbertElliottStateLossesAndOutage) {
  // Loss in the good state alone behaves like random loss, counted as burst.
  SimPathConfig c;
  c.burst.loss_in_good = 0.2;
  const LossRun r = run_loss(pool_.get(), c, 3, 20000);
  EXPECT_NEAR(static_cast<double>(r.stats.dropped_burst), 4000.0, 300.0);

  // A bad state that is never left is an outage: the first datagram (sent in
  // the good state) gets through, nothing after it.
  SimPathConfig outage = SimPathConfig::bursty(0, 0, 1.0, 0.0, 1.0);
  SimLink link(outage, 1, pool_.get());
  EXPECT_FALSE(link.in_burst_state());
  for (std::uint64_t i = 0; i < 100; ++i)
    link.send(make(100, i), 0);
  EXPECT_TRUE(link.in_burst_state());
  EXPECT_EQ(link.stats().dropped_burst, 99u);
  auto got = drain(link);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(tag_of(got[0].m), 0u);
  free_all(got);
}

TEST_F(SimLinkTest, ReorderingHoldsDatagramsBack) {
  SimPathConfig c;
  c.delay = 10 * kMillisecond;
  c.reorder = 0.2;
  c.reorder_delay = 3 * kMillisecond;
  c.reorder_jitter = 2 * kMillisecond;
  SimLink link(c, 5, pool_.get());
  constexpr std::uint64_t kN = 1000;
  std::vector<std::uint64_t> order;
  std::uint64_t held = 0, max_tag = 0, overtaken = 0;
  pump(link, pool_.get(), kN, 100, kMillisecond, [&](const Arrival& a) {
    const std::uint64_t tag = tag_of(a.m);
    const Time base = static_cast<Time>(tag) * kMillisecond + c.delay;
    if (a.at != base) {
      ++held;
      EXPECT_GE(a.at, base + c.reorder_delay);
      EXPECT_LE(a.at, base + c.reorder_delay + c.reorder_jitter);
    }
    if (!order.empty() && tag < max_tag) ++overtaken;
    max_tag = std::max(max_tag, tag);
    order.push_back(tag);
  });
  ASSERT_EQ(order.size(), kN);
  EXPECT_EQ(link.stats().reordered, held);
  EXPECT_NEAR(static_cast<double>(held), 200.0, 70.0);
  EXPECT_GT(overtaken, 0u);
  // Only reordered datagrams are late.
  EXPECT_EQ(link.stats().dropped(), 0u);

  // Control: without reordering, arrival order is send order.
  SimPathConfig plain;
  plain.delay = 10 * kMillisecond;
  SimLink control(plain, 5, pool_.get());
  std::uint64_t expected = 0;
  pump(control, pool_.get(), kN, 100, kMillisecond,
       [&](const Arrival& a) { EXPECT_EQ(tag_of(a.m), expected++); });
}

TEST_F(SimLinkTest, DuplicatesAreIndependentCopies) {
  SimPathConfig c;
  c.delay = kMillisecond;
  c.duplicate = 1.0;
  SimLink link(c, 1, pool_.get());
  constexpr std::uint64_t kN = 50;
  for (std::uint64_t i = 0; i < kN; ++i)
    link.send(make(700, i), static_cast<Time>(i) * kMicrosecond);
  EXPECT_EQ(link.stats().duplicated, kN);
  EXPECT_EQ(link.in_flight(), 2 * kN);
  auto got = drain(link);
  ASSERT_EQ(got.size(), 2 * kN);
  for (std::uint64_t i = 0; i < kN; ++i) {
    rte_mbuf* a = got[2 * i].m;
    rte_mbuf* b = got[2 * i + 1].m;
    EXPECT_EQ(got[2 * i].at, got[2 * i + 1].at);
    ASSERT_NE(a, b);
    EXPECT_EQ(rte_mbuf_refcnt_read(a), 1);
    EXPECT_EQ(rte_mbuf_refcnt_read(b), 1);
    EXPECT_FALSE(RTE_MBUF_CLONED(b));
    EXPECT_EQ(bit_errors(a, i, 700), 0);
    EXPECT_EQ(bit_errors(b, i, 700), 0);
    // Writing one copy leaves the other untouched.
    rte_pktmbuf_mtod(a, std::uint8_t*)[100] ^= 0xff;
    EXPECT_EQ(bit_errors(a, i, 700), 8);
    EXPECT_EQ(bit_errors(b, i, 700), 0);
  }
  EXPECT_EQ(link.stats().delivered, 2 * kN);
  free_all(got);
}

TEST_F(SimLinkTest, DuplicationWithoutMbufsIsCountedNotFatal) {
  SimPathConfig c;
  c.delay = kSecond;
  c.duplicate = 1.0;
  {
    SimLink no_pool(c, 1, nullptr);
    for (std::uint64_t i = 0; i < 10; ++i)
      no_pool.send(make(100, i), 0);
    EXPECT_EQ(no_pool.stats().alloc_failures, 10u);
    EXPECT_EQ(no_pool.stats().duplicated, 0u);
    EXPECT_EQ(no_pool.in_flight(), 10u);
  }  // the destructor frees what is in flight

  PoolPtr tiny = make_pool(4);
  ASSERT_NE(tiny, nullptr);
  {
    SimLink link(c, 1, tiny.get());
    for (std::uint64_t i = 0; i < 10; ++i)
      link.send(make(100, i), 0);
    EXPECT_EQ(link.stats().duplicated, 4u);
    EXPECT_EQ(link.stats().alloc_failures, 6u);
    EXPECT_EQ(rte_mempool_in_use_count(tiny.get()), 4u);
    auto got = drain(link);
    EXPECT_EQ(got.size(), 14u);
    free_all(got);
  }
  EXPECT_EQ(rte_mempool_in_use_count(tiny.get()), 0u);
}

TEST_F(SimLinkTest, CorruptionFlipsExactlyOneBit) {
  SimPathConfig c;
  c.corrupt = 1.0;
  SimLink link(c, 9, pool_.get());
  constexpr std::uint64_t kN = 300;
  std::vector<int> errors;
  std::uint64_t lengths = 0;
  // Zero delay: arrival time identifies the datagram even if its tag bytes
  // were the ones hit.
  for (std::uint64_t i = 0; i < kN; ++i) {
    const auto size = static_cast<std::uint32_t>(1 + (i * 37) % 1400);
    link.send(make(size, i), static_cast<Time>(i));
    auto got = drain(link);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].at, static_cast<Time>(i));
    errors.push_back(bit_errors(got[0].m, i, size));
    lengths += size;
    free_all(got);
  }
  for (int e : errors)
    EXPECT_EQ(e, 1);
  EXPECT_EQ(link.stats().corrupted, kN);
  EXPECT_EQ(link.stats().bytes_delivered, lengths);

  // An empty datagram has nothing to corrupt.
  rte_mbuf* empty = rte_pktmbuf_alloc(pool_.get());
  link.send(empty, kSecond);
  EXPECT_EQ(link.stats().corrupted, kN);
  auto got = drain(link);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].m->pkt_len, 0u);
  free_all(got);
}

TEST_F(SimLinkTest, CorruptionHitsOnlyTheCopyItChose) {
  SimPathConfig c;
  c.duplicate = 1.0;
  c.corrupt = 0.5;
  SimLink link(c, 21, pool_.get());
  constexpr std::uint64_t kN = 2000;
  int none = 0, one = 0, both = 0;
  std::uint64_t flipped = 0;
  for (std::uint64_t i = 0; i < kN; ++i) {
    link.send(make(200, i), static_cast<Time>(i));
    auto got = drain(link);
    ASSERT_EQ(got.size(), 2u);
    const int ea = bit_errors(got[0].m, i, 200);
    const int eb = bit_errors(got[1].m, i, 200);
    ASSERT_TRUE(ea == 0 || ea == 1);
    ASSERT_TRUE(eb == 0 || eb == 1);
    flipped += static_cast<std::uint64_t>(ea + eb);
    (ea + eb == 0 ? none : ea + eb == 1 ? one : both)++;
    free_all(got);
  }
  EXPECT_EQ(link.stats().corrupted, flipped);
  // Independent halves: 25% / 50% / 25% (sd ~ 20 / 22 / 20).
  EXPECT_NEAR(none, 500, 120);
  EXPECT_NEAR(one, 1000, 130);
  EXPECT_NEAR(both, 500, 120);
}

TEST_F(SimLinkTest, CorruptionNeverTouchesBytesTheSenderStillSees) {
  SimPathConfig c;
  c.corrupt = 1.0;
  SimLink link(c, 2, pool_.get());

  // The sender keeps a reference (as for a retransmission).
  rte_mbuf* kept = make(300, 1);
  rte_mbuf_refcnt_update(kept, 1);
  link.send(kept, 0);
  auto got = drain(link);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].m, kept);
  EXPECT_EQ(bit_errors(got[0].m, 1, 300), 1);
  EXPECT_EQ(bit_errors(kept, 1, 300), 0);
  EXPECT_EQ(rte_mbuf_refcnt_read(kept), 1);  // the link released its reference
  free_all(got);
  rte_pktmbuf_free(kept);

  // An indirect clone shares the original's data.
  rte_mbuf* original = make(300, 2);
  rte_mbuf* clone = rte_pktmbuf_clone(original, pool_.get());
  ASSERT_NE(clone, nullptr);
  link.send(clone, 1);
  got = drain(link);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(bit_errors(got[0].m, 2, 300), 1);
  EXPECT_EQ(bit_errors(original, 2, 300), 0);
  free_all(got);
  rte_pktmbuf_free(original);

  // Without a pool to copy into, the datagram goes through uncorrupted.
  SimLink no_pool(c, 2, nullptr);
  rte_mbuf* shared = make(300, 3);
  rte_mbuf_refcnt_update(shared, 1);
  no_pool.send(shared, 0);
  got = drain(no_pool);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(bit_errors(got[0].m, 3, 300), 0);
  EXPECT_EQ(no_pool.stats().alloc_failures, 1u);
  EXPECT_EQ(no_pool.stats().corrupted, 0u);
  free_all(got);
  rte_pktmbuf_free(shared);
}

TEST_F(SimLinkTest, CorruptionFindsItsByteInAChain) {
  SimPathConfig c;
  c.corrupt = 1.0;
  c.mtu = 4000;
  SimLink link(c, 4, pool_.get());
  for (std::uint64_t i = 0; i < 200; ++i) {
    // Three segments of 100, 1 and 250 bytes, one pattern across them.
    rte_mbuf* head = nullptr;
    std::size_t pos = 0;
    for (std::uint16_t len : {100, 1, 250}) {
      rte_mbuf* seg = rte_pktmbuf_alloc(pool_.get());
      ASSERT_NE(seg, nullptr);
      auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(seg, len));
      for (std::uint16_t j = 0; j < len; ++j)
        p[j] = pattern_byte(i, pos++);
      if (head == nullptr)
        head = seg;
      else
        ASSERT_EQ(rte_pktmbuf_chain(head, seg), 0);
    }
    link.send(head, static_cast<Time>(i));
    auto got = drain(link);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(bit_errors(got[0].m, i, 351), 1);
    free_all(got);
  }
  EXPECT_EQ(link.stats().corrupted, 200u);
}

TEST_F(SimLinkTest, DestructorFreesWhatIsInFlight) {
  const unsigned baseline = rte_mempool_in_use_count(pool_.get());
  {
    SimPathConfig c = SimPathConfig::clean(10'000'000, kSecond);
    c.duplicate = 0.5;
    SimLink link(c, 1, pool_.get());
    for (std::uint64_t i = 0; i < 100; ++i)
      link.send(make(1000, i), 0);
    EXPECT_EQ(link.stats().dropped(), 0u);
    EXPECT_GT(link.in_flight(), 100u);
    EXPECT_EQ(rte_mempool_in_use_count(pool_.get()), baseline + link.in_flight());
  }
  EXPECT_EQ(rte_mempool_in_use_count(pool_.get()), baseline);
}

// Everything a run shows the receiver: when, which datagram, exact bytes.
struct Trace {
  SimLinkStats stats;
  std::vector<std::uint64_t> events;
};
Trace run_nasty(rte_mempool* pool, std::uint64_t seed) {
  Trace t;
  SimPathConfig c = SimPathConfig::nasty(50'000'000, 20 * kMillisecond);
  SimLink link(c, seed, pool);
  // Accounting holds at every step: each datagram and copy is delivered,
  // dropped or in flight.
  auto balanced = [&] {
    const SimLinkStats& s = link.stats();
    return s.sent + s.duplicated == s.delivered + s.dropped() + link.in_flight();
  };
  pump(link, pool, 20000, 1200, 400 * kMicrosecond, [&](const Arrival& a) {
    std::uint64_t h = 1469598103934665603ull;
    const auto* p = rte_pktmbuf_mtod(a.m, const std::uint8_t*);
    for (std::uint32_t i = 0; i < a.m->data_len; ++i)
      h = (h ^ p[i]) * 1099511628211ull;
    t.events.push_back(static_cast<std::uint64_t>(a.at));
    t.events.push_back(h);
    EXPECT_TRUE(balanced());
  });
  EXPECT_TRUE(balanced());
  t.stats = link.stats();
  return t;
}

TEST_F(SimLinkTest, NastyRunIsReproducibleBySeed) {
  const Trace a = run_nasty(pool_.get(), 1234);
  EXPECT_GT(a.stats.dropped_loss, 0u);
  EXPECT_GT(a.stats.dropped_burst, 0u);
  EXPECT_GT(a.stats.duplicated, 0u);
  EXPECT_GT(a.stats.corrupted, 0u);
  EXPECT_GT(a.stats.reordered, 0u);
  EXPECT_EQ(a.stats.dropped_queue, 0u);  // 24 Mbit/s offered, 50 Mbit/s bottleneck
  const Trace b = run_nasty(pool_.get(), 1234);
  EXPECT_EQ(a.stats, b.stats);
  EXPECT_EQ(a.events, b.events);
  const Trace other = run_nasty(pool_.get(), 1235);
  EXPECT_NE(a.events, other.events);
  EXPECT_NE(a.stats, other.stats);
}

TEST_F(SimLinkTest, ImpairmentsDrawFromSeparateStreams) {
  // Turning on reordering, duplication and corruption does not move which
  // datagrams random loss drops.
  SimPathConfig lossy;
  lossy.loss = 0.1;
  SimPathConfig more = lossy;
  more.reorder = 0.5;
  more.reorder_delay = 5 * kMicrosecond;
  more.duplicate = 0.3;
  more.corrupt = 0.3;
  auto lost_set = [&](const SimPathConfig& c) {
    SimLink link(c, 77, pool_.get());
    std::vector<bool> arrived(5000, false);
    // Tags may be corrupted; the arrival time less any reorder delay
    // identifies the datagram (spacing 10 us > reorder delay 5 us).
    pump(link, pool_.get(), 5000, 64, 10 * kMicrosecond, [&](const Arrival& a) {
      arrived[static_cast<std::size_t>(a.at / (10 * kMicrosecond))] = true;
    });
    return arrived;
  };
  EXPECT_EQ(lost_set(lossy), lost_set(more));
}

// ---------------------------------------------------------------- SimPath

TEST_F(SimLinkTest, PathDirectionsHaveTheirOwnConfigAndStreams) {
  SimPathConfig ab = SimPathConfig::lossy(0, 5 * kMillisecond, 0.3);
  SimPathConfig ba = SimPathConfig::lossy(0, 20 * kMillisecond, 0.3);
  auto run = [&](std::uint64_t seed) {
    SimPath path(ab, ba, seed, pool_.get());
    EXPECT_EQ(path.next_delivery(), kNever);
    std::vector<std::uint64_t> got_ab, got_ba;
    for (std::uint64_t i = 0; i < 2000; ++i) {
      path.a_to_b().send(make(100, i), 0);
      path.b_to_a().send(make(100, i), 0);
    }
    EXPECT_EQ(path.next_delivery(), 5 * kMillisecond);
    EXPECT_EQ(path.a_to_b().next_delivery(), 5 * kMillisecond);
    EXPECT_EQ(path.b_to_a().next_delivery(), 20 * kMillisecond);
    for (auto& a : drain(path.a_to_b())) {
      got_ab.push_back(tag_of(a.m));
      rte_pktmbuf_free(a.m);
    }
    EXPECT_EQ(path.next_delivery(), 20 * kMillisecond);
    for (auto& a : drain(path.b_to_a())) {
      got_ba.push_back(tag_of(a.m));
      rte_pktmbuf_free(a.m);
    }
    const SimPath& view = path;
    EXPECT_EQ(view.a_to_b().stats().sent, 2000u);
    EXPECT_EQ(view.b_to_a().config().delay, 20 * kMillisecond);
    return std::make_pair(got_ab, got_ba);
  };
  const auto first = run(99);
  // The same loss probability, but different draws per direction.
  EXPECT_NE(first.first, first.second);
  EXPECT_NEAR(static_cast<double>(first.first.size()), 1400.0, 130.0);
  EXPECT_NEAR(static_cast<double>(first.second.size()), 1400.0, 130.0);
  EXPECT_EQ(run(99), first);
  EXPECT_NE(run(100), first);

  // One config for both directions.
  SimPath same(SimPathConfig::clean(0, kMillisecond), 1, pool_.get());
  EXPECT_EQ(same.b_to_a().config().delay, kMillisecond);
}

}  // namespace
}  // namespace dquic
