// Neighbour cache and next-hop choice: state machine with expiry, bounded
// solicitation retries, failure hold, stale-entry probing, RFC 4861 §7.2.5
// update rules, LRU eviction by state preference, the open-addressing index
// under churn (against a reference map), and no allocation after
// construction. No EAL needed: nothing here touches an mbuf.
#include "runtime/neighbor_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <vector>

#include "runtime/route.h"

// Counts heap allocations so that the tests can assert the per-packet calls
// make none.
namespace {
std::atomic<std::size_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  std::abort();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace dquic {
namespace {

constexpr std::uint64_t kSec = 1'000'000'000;

IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  ip.family = IpFamily::kIpv4;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}
IpAddress v6(std::initializer_list<std::uint8_t> head, std::uint8_t last) {
  IpAddress ip;
  ip.family = IpFamily::kIpv6;
  std::size_t i = 0;
  for (std::uint8_t b : head)
    ip.bytes[i++] = b;
  ip.bytes[15] = last;
  return ip;
}
IpAddress fd00(std::uint8_t subnet, std::uint8_t last) {
  return v6({0xfd, 0x00, 0, subnet}, last);
}
IpAddress link_local(std::uint8_t last) {
  return v6({0xfe, 0x80}, last);
}
MacAddress mac(std::uint8_t last) {
  return {0x02, 0, 0, 0, 0, last};
}

// ---- Route ----

Route test_route() {
  Route r;
  EXPECT_TRUE(r.add_address(v4(198, 18, 0, 10), 24));
  EXPECT_TRUE(r.add_address(v4(198, 19, 4, 1), 23));
  EXPECT_TRUE(r.add_address(fd00(1, 0x10), 64));
  EXPECT_TRUE(r.add_address(link_local(0x10), 64));
  return r;
}

TEST(Route, AddAddressRejections) {
  Route r;
  EXPECT_FALSE(r.add_address(IpAddress{}, 0));
  EXPECT_FALSE(r.add_address(v4(198, 18, 0, 1), 33));
  EXPECT_FALSE(r.add_address(fd00(1, 1), 129));
  EXPECT_TRUE(r.add_address(fd00(1, 1), 128));
  EXPECT_FALSE(r.add_address(fd00(1, 1), 64));  // duplicate
  for (std::size_t i = 1; i < Route::kMaxAddresses; ++i)
    EXPECT_TRUE(r.add_address(v4(198, 18, 1, static_cast<std::uint8_t>(i)), 32));
  EXPECT_EQ(r.addresses().size(), Route::kMaxAddresses);
  EXPECT_FALSE(r.add_address(v4(198, 18, 2, 1), 24));  // full
}

TEST(Route, PrefixMatch) {
  EXPECT_TRUE(prefix_match(v4(198, 19, 4, 1), v4(198, 19, 5, 200), 23));
  EXPECT_FALSE(prefix_match(v4(198, 19, 4, 1), v4(198, 19, 6, 1), 23));
  EXPECT_TRUE(prefix_match(v4(198, 18, 0, 1), v4(10, 0, 0, 1), 0));
  EXPECT_TRUE(prefix_match(v4(198, 18, 0, 1), v4(198, 18, 0, 1), 32));
  EXPECT_FALSE(prefix_match(v4(198, 18, 0, 1), v4(198, 18, 0, 2), 32));
  EXPECT_FALSE(prefix_match(v4(198, 18, 0, 1), fd00(0, 1), 0));  // families differ
  EXPECT_FALSE(prefix_match(v4(198, 18, 0, 1), v4(198, 18, 0, 1), 33));
  EXPECT_TRUE(prefix_match(fd00(1, 1), fd00(1, 0xff), 120));
  EXPECT_FALSE(prefix_match(fd00(1, 1), fd00(1, 0x81), 121));
  EXPECT_TRUE(prefix_match(fd00(1, 1), fd00(1, 0x7f), 121));
}

TEST(Route, NextHopOnLinkGatewayOrNone) {
  Route r = test_route();
  // No gateways yet: off-link has no next hop.
  EXPECT_EQ(r.next_hop(v4(198, 18, 0, 77)), v4(198, 18, 0, 77));
  EXPECT_EQ(r.next_hop(v4(198, 19, 5, 9)), v4(198, 19, 5, 9));  // second prefix, /23
  EXPECT_FALSE(r.next_hop(v4(198, 19, 6, 9)).has_value());
  EXPECT_FALSE(r.next_hop(fd00(2, 1)).has_value());
  EXPECT_FALSE(r.next_hop(IpAddress{}).has_value());

  EXPECT_TRUE(r.set_gateway(v4(198, 18, 0, 1)));
  EXPECT_TRUE(r.set_gateway(link_local(1)));  // RFC 4861: routers are link-local
  EXPECT_EQ(r.next_hop(v4(198, 19, 6, 9)), v4(198, 18, 0, 1));
  EXPECT_EQ(r.next_hop(v4(198, 18, 0, 77)), v4(198, 18, 0, 77));
  EXPECT_EQ(r.next_hop(fd00(2, 1)), link_local(1));
  EXPECT_EQ(r.next_hop(fd00(1, 0x99)), fd00(1, 0x99));
  EXPECT_EQ(r.next_hop(link_local(0x42)), link_local(0x42));

  EXPECT_TRUE(r.set_gateway(fd00(1, 1)));  // replaces the previous one
  EXPECT_EQ(r.next_hop(fd00(2, 1)), fd00(1, 1));
  r.clear_gateway(IpFamily::kIpv4);
  EXPECT_FALSE(r.next_hop(v4(198, 19, 6, 9)).has_value());
  EXPECT_EQ(r.next_hop(fd00(2, 1)), fd00(1, 1));
}

TEST(Route, GatewayMustBeOnLinkAndNotOurs) {
  Route r = test_route();
  EXPECT_FALSE(r.set_gateway(v4(198, 20, 0, 1)));
  EXPECT_FALSE(r.set_gateway(v4(198, 18, 0, 10)));
  EXPECT_FALSE(r.set_gateway(fd00(2, 1)));
  EXPECT_FALSE(r.set_gateway(IpAddress{}));
  EXPECT_FALSE(r.gateway(IpFamily::kIpv4).has_value());
  EXPECT_FALSE(r.gateway(IpFamily::kIpv6).has_value());
}

TEST(Route, LocalAndSourceChoice) {
  Route r = test_route();
  EXPECT_TRUE(r.is_local(v4(198, 19, 4, 1)));
  EXPECT_FALSE(r.is_local(v4(198, 19, 4, 2)));
  EXPECT_TRUE(r.is_on_link(v4(198, 19, 4, 2)));
  EXPECT_EQ(*r.source_for(v4(198, 19, 5, 3)), v4(198, 19, 4, 1));
  EXPECT_EQ(*r.source_for(v4(198, 18, 0, 3)), v4(198, 18, 0, 10));
  EXPECT_EQ(*r.source_for(v4(203, 0, 113, 1)), v4(198, 18, 0, 10));  // first of the family
  EXPECT_EQ(*r.source_for(fd00(1, 0x20)), fd00(1, 0x10));
  EXPECT_EQ(*r.source_for(link_local(0x20)), link_local(0x10));
  Route only_v4;
  ASSERT_TRUE(only_v4.add_address(v4(198, 18, 0, 10), 24));
  EXPECT_EQ(only_v4.source_for(fd00(1, 1)), nullptr);
}

// ---- NeighborTable ----

NeighborConfig small_config(std::uint32_t capacity = 8) {
  NeighborConfig c;
  c.capacity = capacity;
  c.reachable_time_ns = 30 * kSec;
  c.retrans_interval_ns = 1 * kSec;
  c.max_solicitations = 3;
  c.max_probes = 2;
  c.failed_hold_ns = 5 * kSec;
  return c;
}

TEST(NeighborTable, DefaultsFollowRfc4861) {
  NeighborTable t;
  EXPECT_EQ(t.capacity(), 256u);
  EXPECT_EQ(t.config().reachable_time_ns, 30 * kSec);
  EXPECT_EQ(t.config().retrans_interval_ns, 1 * kSec);
  EXPECT_EQ(t.config().max_solicitations, 3);
  NeighborConfig zero;
  zero.capacity = 0;
  NeighborTable one(zero);
  EXPECT_EQ(one.capacity(), 1u);
}

TEST(NeighborTable, ResolutionRetriesThenFailsThenRestarts) {
  NeighborTable t(small_config());
  const IpAddress ip = v4(198, 18, 0, 20);
  MacAddress m{};
  const std::uint64_t t0 = 100 * kSec;
  EXPECT_EQ(t.resolve(ip, t0, &m), NeighborAction::kSolicit);
  ASSERT_NE(t.find(ip), nullptr);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kIncomplete);
  EXPECT_EQ(t.find(ip)->solicitations, 1);
  EXPECT_EQ(t.resolve(ip, t0 + kSec - 1, &m), NeighborAction::kWait);

  std::array<NeighborEvent, 4> ev;
  EXPECT_EQ(t.poll(t0 + kSec - 1, ev), 0u);
  ASSERT_EQ(t.poll(t0 + kSec, ev), 1u);  // second solicitation, from the timer
  EXPECT_EQ(ev[0].kind, NeighborEventKind::kSolicit);
  EXPECT_EQ(ev[0].ip, ip);
  EXPECT_EQ(t.find(ip)->solicitations, 2);
  // The third one is due through resolve() as well.
  EXPECT_EQ(t.resolve(ip, t0 + 2 * kSec, &m), NeighborAction::kSolicit);
  EXPECT_EQ(t.find(ip)->solicitations, 3);
  EXPECT_EQ(t.poll(t0 + 3 * kSec - 1, ev), 0u);
  ASSERT_EQ(t.poll(t0 + 3 * kSec, ev), 1u);  // no answer to max_solicitations
  EXPECT_EQ(ev[0].kind, NeighborEventKind::kFailed);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kFailed);
  EXPECT_EQ(t.stats().failures, 1u);
  EXPECT_EQ(t.resolve(ip, t0 + 4 * kSec, &m), NeighborAction::kUnreachable);
  EXPECT_EQ(t.resolve(ip, t0 + 8 * kSec - 1, &m), NeighborAction::kUnreachable);
  // After failed_hold the failure is forgotten: poll removes it ...
  EXPECT_EQ(t.poll(t0 + 8 * kSec, ev), 0u);
  EXPECT_EQ(t.find(ip), nullptr);
  EXPECT_EQ(t.size(), 0u);
  // ... and the next send starts over.
  EXPECT_EQ(t.resolve(ip, t0 + 9 * kSec, &m), NeighborAction::kSolicit);
  EXPECT_EQ(t.find(ip)->solicitations, 1);
}

TEST(NeighborTable, FailedEntryRestartsThroughResolve) {
  NeighborTable t(small_config());
  const IpAddress ip = fd00(1, 0x20);
  MacAddress m{};
  EXPECT_EQ(t.resolve(ip, 0, &m), NeighborAction::kSolicit);
  EXPECT_EQ(t.resolve(ip, 1 * kSec, &m), NeighborAction::kSolicit);
  EXPECT_EQ(t.resolve(ip, 2 * kSec, &m), NeighborAction::kSolicit);
  EXPECT_EQ(t.resolve(ip, 3 * kSec, &m), NeighborAction::kUnreachable);
  EXPECT_EQ(t.resolve(ip, 8 * kSec, &m), NeighborAction::kSolicit);  // hold over
  EXPECT_EQ(t.find(ip)->state, NeighborState::kIncomplete);
}

TEST(NeighborTable, ConfirmationMakesReachableThenExpiresToStale) {
  NeighborTable t(small_config());
  const IpAddress ip = v4(198, 18, 0, 20);
  MacAddress m{};
  ASSERT_EQ(t.resolve(ip, 0, &m), NeighborAction::kSolicit);
  EXPECT_EQ(t.update(ip, nullptr, NeighborUpdate{true, true, false}, 10),
            NeighborUpdateResult::kRejected);  // an unresolved entry needs the MAC
  const MacAddress peer = mac(0x20);
  EXPECT_EQ(t.update(ip, &peer, NeighborUpdate{true, true, false}, 500),
            NeighborUpdateResult::kUpdated);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kReachable);
  EXPECT_EQ(t.resolve(ip, 600, &m), NeighborAction::kSend);
  EXPECT_EQ(m, peer);

  const std::uint64_t expiry = 500 + 30 * kSec;
  EXPECT_EQ(t.state_at(ip, expiry - 1), NeighborState::kReachable);
  EXPECT_EQ(t.state_at(ip, expiry), NeighborState::kStale);
  EXPECT_FALSE(t.state_at(v4(198, 18, 0, 21), expiry).has_value());
  // A poll materializes the expiry without emitting anything: idle stale
  // entries are not probed.
  std::array<NeighborEvent, 4> ev;
  EXPECT_EQ(t.poll(expiry, ev), 0u);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kStale);
  EXPECT_EQ(t.poll(expiry + 10 * kSec, ev), 0u);
}

TEST(NeighborTable, StaleEntryIsProbedThenResolvedAfresh) {
  NeighborTable t(small_config());
  const IpAddress ip = v4(198, 18, 0, 20);
  const MacAddress peer = mac(0x20);
  ASSERT_EQ(t.update(ip, &peer, NeighborUpdate{false, true, true}, 0),
            NeighborUpdateResult::kCreated);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kStale);  // learned unasked
  MacAddress m{};
  const std::uint64_t t0 = 50 * kSec;
  EXPECT_EQ(t.resolve(ip, t0, &m), NeighborAction::kSendAndProbe);  // first use probes
  EXPECT_EQ(m, peer);
  EXPECT_EQ(t.resolve(ip, t0 + 1, &m), NeighborAction::kSend);  // still usable meanwhile
  std::array<NeighborEvent, 4> ev;
  ASSERT_EQ(t.poll(t0 + kSec, ev), 1u);
  EXPECT_EQ(ev[0].kind, NeighborEventKind::kProbe);
  EXPECT_EQ(ev[0].mac, peer);
  EXPECT_EQ(t.find(ip)->solicitations, 2);
  // max_probes (2) unanswered: back to a broadcast resolution, no MAC.
  EXPECT_EQ(t.resolve(ip, t0 + 2 * kSec, &m), NeighborAction::kSolicit);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kIncomplete);
  EXPECT_EQ(t.resolve(ip, t0 + 2 * kSec + 1, &m), NeighborAction::kWait);
}

TEST(NeighborTable, ProbeAnsweredConfirms) {
  NeighborTable t(small_config());
  const IpAddress ip = fd00(1, 0x20);
  const MacAddress peer = mac(0x20);
  ASSERT_EQ(t.update(ip, &peer, NeighborUpdate{false, true, true}, 0),
            NeighborUpdateResult::kCreated);
  MacAddress m{};
  EXPECT_EQ(t.resolve(ip, kSec, &m), NeighborAction::kSendAndProbe);
  EXPECT_EQ(t.resolve(ip, 2 * kSec, &m), NeighborAction::kSendAndProbe);  // retry via resolve
  // A solicited NA without a link-layer option confirms the cached address.
  EXPECT_EQ(t.update(ip, nullptr, NeighborUpdate{true, false, false}, 2 * kSec + 5),
            NeighborUpdateResult::kUpdated);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kReachable);
  EXPECT_EQ(t.find(ip)->solicitations, 0);
  EXPECT_EQ(t.resolve(ip, 10 * kSec, &m), NeighborAction::kSend);
}

TEST(NeighborTable, UpdateRulesRfc4861Section725) {
  NeighborTable t(small_config());
  const IpAddress ip = v4(198, 18, 0, 20);
  const MacAddress a = mac(0xa), b = mac(0xb);
  EXPECT_EQ(t.update(ip, &a, NeighborUpdate{true, true, false}, 0), NeighborUpdateResult::kNoEntry);
  EXPECT_EQ(t.find(ip), nullptr);
  EXPECT_EQ(t.update(ip, nullptr, NeighborUpdate{false, true, true}, 0),
            NeighborUpdateResult::kRejected);
  EXPECT_EQ(t.find(ip), nullptr);
  EXPECT_EQ(t.update(ip, &a, NeighborUpdate{true, true, true}, 0), NeighborUpdateResult::kCreated);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kReachable);
  // Same MAC, unsolicited: nothing changes.
  EXPECT_EQ(t.update(ip, &a, NeighborUpdate{false, true, false}, 1),
            NeighborUpdateResult::kUnchanged);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kReachable);
  // Different MAC without Override on REACHABLE: STALE, MAC kept (§7.2.5 a).
  EXPECT_EQ(t.update(ip, &b, NeighborUpdate{true, false, false}, 2),
            NeighborUpdateResult::kRejected);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kStale);
  EXPECT_EQ(t.find(ip)->mac, a);
  // ... and on STALE: ignored (§7.2.5 b).
  EXPECT_EQ(t.update(ip, &b, NeighborUpdate{true, false, false}, 3),
            NeighborUpdateResult::kRejected);
  EXPECT_EQ(t.find(ip)->mac, a);
  // Override with a new MAC, unsolicited: STALE with the new MAC.
  EXPECT_EQ(t.update(ip, &b, NeighborUpdate{false, true, false}, 4),
            NeighborUpdateResult::kUpdated);
  EXPECT_EQ(t.find(ip)->mac, b);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kStale);
  // Solicited, same MAC: REACHABLE again.
  EXPECT_EQ(t.update(ip, &b, NeighborUpdate{true, false, false}, 5),
            NeighborUpdateResult::kUpdated);
  EXPECT_EQ(t.find(ip)->state, NeighborState::kReachable);
  EXPECT_EQ(t.find(ip)->state_since_ns, 5u);
}

TEST(NeighborTable, EvictsLeastRecentlyUsedPreferringFailedThenStale) {
  NeighborTable t(small_config(4));
  MacAddress m{};
  const MacAddress peer = mac(1);
  // Four reachable entries used at times 10, 20, 30, 40.
  for (std::uint8_t i = 1; i <= 4; ++i) {
    const IpAddress ip = v4(198, 18, 0, i);
    ASSERT_EQ(t.update(ip, &peer, NeighborUpdate{true, true, true}, 0),
              NeighborUpdateResult::kCreated);
    ASSERT_EQ(t.resolve(ip, 10u * i, &m), NeighborAction::kSend);
  }
  ASSERT_EQ(t.resolve(v4(198, 18, 0, 1), 50, &m), NeighborAction::kSend);  // 1 is now the newest
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.resolve(v4(198, 18, 0, 5), 60, &m), NeighborAction::kSolicit);
  EXPECT_EQ(t.size(), 4u);
  EXPECT_EQ(t.stats().evictions, 1u);
  EXPECT_EQ(t.find(v4(198, 18, 0, 2)), nullptr);  // least recently used
  EXPECT_NE(t.find(v4(198, 18, 0, 1)), nullptr);

  // A stale entry goes before reachable and incomplete ones, even if newer.
  const MacAddress other = mac(2);
  ASSERT_EQ(t.update(v4(198, 18, 0, 1), &other, NeighborUpdate{false, true, false}, 70),
            NeighborUpdateResult::kUpdated);  // now STALE, used at 50
  EXPECT_EQ(t.update(v4(198, 18, 0, 6), &peer, NeighborUpdate{true, true, true}, 80),
            NeighborUpdateResult::kCreated);
  EXPECT_EQ(t.find(v4(198, 18, 0, 1)), nullptr);
  EXPECT_NE(t.find(v4(198, 18, 0, 3)), nullptr);  // older but reachable

  // A failed entry goes first of all.
  for (std::uint64_t s = 1; s <= 3; ++s)
    t.resolve(v4(198, 18, 0, 5), 60 + s * kSec, &m);
  ASSERT_EQ(t.find(v4(198, 18, 0, 5))->state, NeighborState::kFailed);
  EXPECT_EQ(t.resolve(v4(198, 18, 0, 7), 4 * kSec, &m), NeighborAction::kSolicit);
  EXPECT_EQ(t.find(v4(198, 18, 0, 5)), nullptr);
  EXPECT_NE(t.find(v4(198, 18, 0, 3)), nullptr);
  EXPECT_NE(t.find(v4(198, 18, 0, 4)), nullptr);
  EXPECT_NE(t.find(v4(198, 18, 0, 6)), nullptr);
  EXPECT_EQ(t.stats().evictions, 3u);
}

TEST(NeighborTable, PollKeepsWorkThatDoesNotFit) {
  NeighborTable t(small_config());
  MacAddress m{};
  for (std::uint8_t i = 1; i <= 3; ++i)
    ASSERT_EQ(t.resolve(v4(198, 18, 0, i), 0, &m), NeighborAction::kSolicit);
  std::array<NeighborEvent, 2> two;
  EXPECT_EQ(t.poll(kSec, two), 2u);
  std::array<NeighborEvent, 4> four;
  ASSERT_EQ(t.poll(kSec, four), 1u);  // the third one is still due
  EXPECT_EQ(four[0].kind, NeighborEventKind::kSolicit);
  EXPECT_EQ(t.poll(kSec, four), 0u);
  for (std::uint8_t i = 1; i <= 3; ++i)
    EXPECT_EQ(t.find(v4(198, 18, 0, i))->solicitations, 2);
}

TEST(NeighborTable, ClockBehindDoesNotFireTimers) {
  NeighborTable t(small_config());
  MacAddress m{};
  ASSERT_EQ(t.resolve(v4(198, 18, 0, 1), 10 * kSec, &m), NeighborAction::kSolicit);
  std::array<NeighborEvent, 4> ev;
  EXPECT_EQ(t.poll(5 * kSec, ev), 0u);
  EXPECT_EQ(t.resolve(v4(198, 18, 0, 1), 5 * kSec, &m), NeighborAction::kWait);
}

TEST(NeighborTable, FamiliesAreDistinctKeys) {
  NeighborTable t(small_config());
  IpAddress a = v4(198, 18, 0, 1);
  IpAddress b;  // same leading bytes, IPv6
  b.family = IpFamily::kIpv6;
  b.bytes = a.bytes;
  const MacAddress ma = mac(1), mb = mac(2);
  t.update(a, &ma, NeighborUpdate{true, true, true}, 0);
  t.update(b, &mb, NeighborUpdate{true, true, true}, 0);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.find(a)->mac, ma);
  EXPECT_EQ(t.find(b)->mac, mb);
}

// The index against a reference map under random inserts, lookups, removals
// and evictions (backward-shift deletion must keep every entry findable).
TEST(NeighborTable, IndexSurvivesChurn) {
  NeighborTable t(small_config(32));
  std::map<std::uint32_t, std::uint8_t> ref;  // key → mac byte
  std::mt19937 rng(7);
  std::uint64_t now = 0;
  for (int step = 0; step < 20000; ++step) {
    const std::uint32_t key = rng() % 48;
    IpAddress ip =
        (key % 2) ? v4(198, 18, static_cast<std::uint8_t>(key >> 8), static_cast<std::uint8_t>(key))
                  : fd00(static_cast<std::uint8_t>(key >> 8), static_cast<std::uint8_t>(key));
    ++now;
    switch (rng() % 3) {
      case 0: {
        const MacAddress mm = mac(static_cast<std::uint8_t>(step));
        const bool existed = ref.count(key) != 0;
        if (!existed && ref.size() == 32) break;  // keep evictions out of the reference
        const auto r = t.update(ip, &mm, NeighborUpdate{true, true, true}, now);
        ASSERT_EQ(r, existed ? NeighborUpdateResult::kUpdated : NeighborUpdateResult::kCreated);
        ref[key] = static_cast<std::uint8_t>(step);
        break;
      }
      case 1:
        ASSERT_EQ(t.remove(ip), ref.erase(key) == 1);
        break;
      default: {
        const NeighborEntry* e = t.find(ip);
        ASSERT_EQ(e != nullptr, ref.count(key) == 1);
        if (e != nullptr) {
          ASSERT_EQ(e->ip, ip);
          ASSERT_EQ(e->mac[5], ref[key]);
        }
      }
    }
    ASSERT_EQ(t.size(), ref.size());
  }
  EXPECT_EQ(t.stats().evictions, 0u);
}

TEST(NeighborTable, NoAllocationAfterConstruction) {
  NeighborTable t(small_config(16));
  std::array<NeighborEvent, 8> ev;
  MacAddress m{};
  const MacAddress peer = mac(9);
  const std::size_t before = g_allocations.load();
  for (std::uint8_t i = 0; i < 40; ++i) {  // more than capacity: evictions too
    const IpAddress ip = (i % 2) ? v4(198, 18, 0, i) : fd00(1, i);
    t.resolve(ip, i * kSec, &m);
    t.update(ip, &peer, NeighborUpdate{i % 3 == 0, true, true}, i * kSec + 1);
    t.poll(i * kSec + 2, ev);
    t.find(ip);
    if (i % 5 == 0) t.remove(ip);
  }
  EXPECT_EQ(g_allocations.load(), before);
  EXPECT_GT(t.stats().evictions, 0u);
}

}  // namespace
}  // namespace dquic
