#include "quic/range_set.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <random>
#include <set>

namespace dquic {
namespace {

constexpr std::uint64_t kMax = UINT64_MAX;

// Compares element by element rather than against a std::vector literal:
// g++ 12.2 with -mavx512f (this repo's -march=native on AVX-512 hosts)
// miscompiles some constant std::vector<Interval> literals (the SLP
// vectorizer stores a wrong broadcast constant).
void expect_ranges(const RangeSet& s, std::initializer_list<Interval> want) {
  ASSERT_EQ(s.size(), want.size());
  std::size_t i = 0;
  for (const Interval& w : want) {
    EXPECT_EQ(s.ranges()[i].first, w.first) << "range " << i;
    EXPECT_EQ(s.ranges()[i].last, w.last) << "range " << i;
    ++i;
  }
}

// Ascending, each range well-formed, and at least one value missing between
// neighbours (adjacent ranges must have been merged).
void expect_canonical(const RangeSet& s) {
  const auto rs = s.ranges();
  EXPECT_LE(rs.size(), s.capacity());
  EXPECT_EQ(rs.size(), s.size());
  EXPECT_EQ(rs.empty(), s.empty());
  for (std::size_t i = 0; i < rs.size(); ++i) {
    EXPECT_LE(rs[i].first, rs[i].last) << "range " << i;
    if (i > 0) {
      ASSERT_LT(rs[i - 1].last, kMax);
      EXPECT_GT(rs[i].first, rs[i - 1].last + 1) << "ranges " << i - 1 << " and " << i;
    }
  }
}

TEST(RangeSet, StartsEmpty) {
  RangeSet s(4);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(s.capacity(), 4u);
  EXPECT_EQ(s.evicted(), 0u);
  EXPECT_FALSE(s.contains(0));
  EXPECT_FALSE(s.contains(kMax));
}

TEST(RangeSet, ZeroCapacityBecomesOne) {
  RangeSet s(0);
  EXPECT_EQ(s.capacity(), 1u);
  EXPECT_TRUE(s.insert(3, 4));
  expect_ranges(s, {{3, 4}});
}

TEST(RangeSet, SingleRangeBoundaries) {
  RangeSet s(4);
  EXPECT_TRUE(s.insert(5, 9));
  EXPECT_EQ(s.min(), 5u);
  EXPECT_EQ(s.max(), 9u);
  EXPECT_FALSE(s.contains(4));
  EXPECT_TRUE(s.contains(5));
  EXPECT_TRUE(s.contains(7));
  EXPECT_TRUE(s.contains(9));
  EXPECT_FALSE(s.contains(10));
}

TEST(RangeSet, DisjointRangesKeptAscendingWhateverTheOrder) {
  RangeSet s(8);
  EXPECT_TRUE(s.insert(20, 22));
  EXPECT_TRUE(s.insert(0, 1));
  EXPECT_TRUE(s.insert(10, 10));
  EXPECT_TRUE(s.insert(30, 31));
  expect_ranges(s, {{0, 1}, {10, 10}, {20, 22}, {30, 31}});
  EXPECT_EQ(s.min(), 0u);
  EXPECT_EQ(s.max(), 31u);
  EXPECT_FALSE(s.contains(2));
  EXPECT_FALSE(s.contains(9));
  EXPECT_FALSE(s.contains(11));
  EXPECT_FALSE(s.contains(29));
  EXPECT_FALSE(s.contains(32));
  expect_canonical(s);
}

TEST(RangeSet, AdjacentAboveMerges) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(5, 9));
  EXPECT_TRUE(s.insert(10, 12));
  expect_ranges(s, {{5, 12}});
}

TEST(RangeSet, AdjacentBelowMerges) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(5, 9));
  EXPECT_TRUE(s.insert(1, 4));
  expect_ranges(s, {{1, 9}});
}

TEST(RangeSet, OneMissingValueKeepsRangesApart) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(5, 9));
  EXPECT_TRUE(s.insert(11, 12));
  EXPECT_TRUE(s.insert(1, 3));
  expect_ranges(s, {{1, 3}, {5, 9}, {11, 12}});
  EXPECT_FALSE(s.contains(4));
  EXPECT_FALSE(s.contains(10));
}

TEST(RangeSet, FillingTheGapJoinsNeighbours) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(1, 3));
  ASSERT_TRUE(s.insert(5, 7));
  EXPECT_TRUE(s.insert(4, 4));
  expect_ranges(s, {{1, 7}});
}

TEST(RangeSet, OverlapSpanningSeveralRangesMergesThemAll) {
  RangeSet s(8);
  for (std::uint64_t v : {1, 4, 7, 10, 20})
    ASSERT_TRUE(s.insert(v, v + 1));
  EXPECT_TRUE(
      s.insert(3, 9));  // touches [1,2] by adjacency, swallows [4,5], [7,8], touches [10,11]
  expect_ranges(s, {{1, 11}, {20, 21}});
  expect_canonical(s);
}

TEST(RangeSet, OverlapExtendingBothEnds) {
  RangeSet s(8);
  ASSERT_TRUE(s.insert(10, 12));
  ASSERT_TRUE(s.insert(14, 16));
  EXPECT_TRUE(s.insert(8, 18));
  expect_ranges(s, {{8, 18}});
}

TEST(RangeSet, PartialOverlapBelowKeepsUpperEnd) {
  RangeSet s(8);
  ASSERT_TRUE(s.insert(10, 20));
  EXPECT_TRUE(s.insert(5, 12));
  expect_ranges(s, {{5, 20}});
}

TEST(RangeSet, SubsetAndDuplicateInsertChangeNothing) {
  RangeSet s(2);
  ASSERT_TRUE(s.insert(5, 9));
  ASSERT_TRUE(s.insert(20, 20));
  EXPECT_TRUE(s.insert(6, 7));
  EXPECT_TRUE(s.insert(5, 9));
  EXPECT_TRUE(s.insert(20, 20));
  expect_ranges(s, {{5, 9}, {20, 20}});
  EXPECT_EQ(s.evicted(), 0u);
}

TEST(RangeSet, FullSetEvictsLowestForNewHigherRange) {
  RangeSet s(3);
  for (std::uint64_t v : {0, 2, 4})
    ASSERT_TRUE(s.insert(v, v));
  EXPECT_FALSE(s.insert(6, 6));
  EXPECT_EQ(s.evicted(), 1u);
  expect_ranges(s, {{2, 2}, {4, 4}, {6, 6}});
  EXPECT_FALSE(s.contains(0));
}

TEST(RangeSet, FullSetEvictsLowestForNewMiddleRange) {
  RangeSet s(3);
  for (std::uint64_t v : {0, 10, 20})
    ASSERT_TRUE(s.insert(v, v));
  EXPECT_FALSE(s.insert(15, 15));
  expect_ranges(s, {{10, 10}, {15, 15}, {20, 20}});
  EXPECT_FALSE(s.insert(12, 12));
  expect_ranges(s, {{12, 12}, {15, 15}, {20, 20}});
  EXPECT_EQ(s.evicted(), 2u);
}

TEST(RangeSet, FullSetEvictsLowestForRangeJustAboveIt) {
  RangeSet s(2);
  ASSERT_TRUE(s.insert(0, 0));
  ASSERT_TRUE(s.insert(10, 10));
  EXPECT_FALSE(s.insert(5, 5));  // lands right above the victim
  expect_ranges(s, {{5, 5}, {10, 10}});
}

TEST(RangeSet, FullSetRefusesNewLowestRange) {
  RangeSet s(3);
  for (std::uint64_t v : {10, 20, 30})
    ASSERT_TRUE(s.insert(v, v));
  EXPECT_FALSE(s.insert(0, 5));
  EXPECT_EQ(s.evicted(), 1u);
  expect_ranges(s, {{10, 10}, {20, 20}, {30, 30}});
  EXPECT_FALSE(s.contains(0));
  EXPECT_FALSE(s.contains(5));
}

TEST(RangeSet, FullSetMergesWithoutEvicting) {
  RangeSet s(3);
  for (std::uint64_t v : {10, 20, 30})
    ASSERT_TRUE(s.insert(v, v));
  EXPECT_TRUE(s.insert(9, 9));    // adjacent to the lowest
  EXPECT_TRUE(s.insert(31, 35));  // adjacent to the highest
  EXPECT_TRUE(s.insert(15, 22));  // overlaps a middle one
  EXPECT_EQ(s.evicted(), 0u);
  expect_ranges(s, {{9, 10}, {15, 22}, {30, 35}});
  // A bridge frees a slot, so the next new range fits without eviction.
  EXPECT_TRUE(s.insert(11, 14));
  EXPECT_TRUE(s.insert(0, 0));
  EXPECT_EQ(s.evicted(), 0u);
  expect_ranges(s, {{0, 0}, {9, 22}, {30, 35}});
}

TEST(RangeSet, CapacityOneKeepsOnlyTheNewest) {
  RangeSet s(1);
  ASSERT_TRUE(s.insert(5, 5));
  EXPECT_FALSE(s.insert(7, 7));
  expect_ranges(s, {{7, 7}});
  EXPECT_FALSE(s.insert(3, 3));
  expect_ranges(s, {{7, 7}});
  EXPECT_TRUE(s.insert(6, 6));
  expect_ranges(s, {{6, 7}});
  EXPECT_EQ(s.evicted(), 2u);
}

TEST(RangeSet, InsertNeverReallocates) {
  RangeSet s(16);
  const Interval* storage = s.ranges().data();
  s.insert(1000, 1000);
  storage = s.ranges().data();  // reserved at construction: must not move
  for (std::uint64_t v = 0; v < 1000; v += 2) {
    s.insert(v, v);
    ASSERT_EQ(s.ranges().data(), storage) << v;
  }
  EXPECT_EQ(s.size(), 16u);
}

TEST(RangeSet, RemoveUpToBelowEverythingIsNoOp) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(5, 9));
  s.remove_up_to(4);
  expect_ranges(s, {{5, 9}});
}

TEST(RangeSet, RemoveUpToInsideARangeTrimsIt) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(0, 3));
  ASSERT_TRUE(s.insert(5, 9));
  s.remove_up_to(6);
  expect_ranges(s, {{7, 9}});
  EXPECT_FALSE(s.contains(6));
  EXPECT_TRUE(s.contains(7));
}

TEST(RangeSet, RemoveUpToRangeStartLeavesTheRest) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(5, 9));
  s.remove_up_to(5);
  expect_ranges(s, {{6, 9}});
}

TEST(RangeSet, RemoveUpToRangeEndDropsIt) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(0, 3));
  ASSERT_TRUE(s.insert(5, 9));
  s.remove_up_to(3);
  expect_ranges(s, {{5, 9}});
}

TEST(RangeSet, RemoveUpToBetweenRanges) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(0, 3));
  ASSERT_TRUE(s.insert(10, 12));
  s.remove_up_to(7);
  expect_ranges(s, {{10, 12}});
}

TEST(RangeSet, RemoveUpToAboveEverythingEmpties) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(0, 3));
  ASSERT_TRUE(s.insert(10, 12));
  s.remove_up_to(12);
  EXPECT_TRUE(s.empty());
  s.remove_up_to(100);  // on an empty set
  EXPECT_TRUE(s.empty());
}

TEST(RangeSet, RemoveUpToZero) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(0, 0));
  ASSERT_TRUE(s.insert(2, 4));
  s.remove_up_to(0);
  expect_ranges(s, {{2, 4}});
}

TEST(RangeSet, RemovedSlotsCanBeReused) {
  RangeSet s(2);
  ASSERT_TRUE(s.insert(0, 0));
  ASSERT_TRUE(s.insert(2, 2));
  s.remove_up_to(0);
  EXPECT_TRUE(s.insert(4, 4));  // no eviction: a slot was freed
  EXPECT_EQ(s.evicted(), 0u);
  expect_ranges(s, {{2, 2}, {4, 4}});
}

TEST(RangeSet, ClearEmptiesButKeepsCapacityAndEvictionCount) {
  RangeSet s(1);
  ASSERT_TRUE(s.insert(1, 1));
  ASSERT_FALSE(s.insert(3, 3));
  s.clear();
  EXPECT_TRUE(s.empty());
  EXPECT_FALSE(s.contains(3));
  EXPECT_EQ(s.capacity(), 1u);
  EXPECT_EQ(s.evicted(), 1u);
  EXPECT_TRUE(s.insert(0, 0));
}

TEST(RangeSet, MaxValueSingleton) {
  RangeSet s(4);
  EXPECT_TRUE(s.insert(kMax, kMax));
  EXPECT_TRUE(s.contains(kMax));
  EXPECT_FALSE(s.contains(kMax - 1));
  EXPECT_EQ(s.max(), kMax);
  EXPECT_TRUE(s.insert(kMax - 1, kMax - 1));  // adjacent below
  expect_ranges(s, {{kMax - 1, kMax}});
}

TEST(RangeSet, MaxValueAdjacentAbove) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(kMax - 5, kMax - 3));
  EXPECT_TRUE(s.insert(kMax - 2, kMax));
  expect_ranges(s, {{kMax - 5, kMax}});
}

TEST(RangeSet, MaxValueKeptApartByOneMissing) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(0, kMax - 2));
  EXPECT_TRUE(s.insert(kMax, kMax));
  expect_ranges(s, {{0, kMax - 2}, {kMax, kMax}});
  EXPECT_FALSE(s.contains(kMax - 1));
  EXPECT_TRUE(s.insert(kMax - 1, kMax - 1));
  expect_ranges(s, {{0, kMax}});
}

TEST(RangeSet, InsertBelowRangeEndingAtMax) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(10, kMax));
  EXPECT_TRUE(s.insert(0, 5));
  expect_ranges(s, {{0, 5}, {10, kMax}});
  EXPECT_TRUE(s.insert(20, 30));  // inside the top range
  expect_ranges(s, {{0, 5}, {10, kMax}});
  EXPECT_TRUE(s.insert(6, 9));
  expect_ranges(s, {{0, kMax}});
}

TEST(RangeSet, WholeDomainSwallowsEverything) {
  RangeSet s(4);
  for (std::uint64_t v : {3, 50, 700})
    ASSERT_TRUE(s.insert(v, v));
  ASSERT_TRUE(s.insert(kMax, kMax));
  EXPECT_TRUE(s.insert(0, kMax));
  expect_ranges(s, {{0, kMax}});
  EXPECT_TRUE(s.contains(0));
  EXPECT_TRUE(s.contains(kMax));
}

TEST(RangeSet, RangeToMaxSwallowsAllAbove) {
  RangeSet s(4);
  for (std::uint64_t v : {3, 50, 700})
    ASSERT_TRUE(s.insert(v, v));
  EXPECT_TRUE(s.insert(40, kMax));
  expect_ranges(s, {{3, 3}, {40, kMax}});
}

TEST(RangeSet, RemoveUpToMaxEmpties) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(0, 1));
  ASSERT_TRUE(s.insert(kMax - 1, kMax));
  s.remove_up_to(kMax);
  EXPECT_TRUE(s.empty());
}

TEST(RangeSet, RemoveUpToJustBelowMax) {
  RangeSet s(4);
  ASSERT_TRUE(s.insert(kMax - 3, kMax));
  s.remove_up_to(kMax - 1);
  expect_ranges(s, {{kMax, kMax}});
}

TEST(RangeSet, EvictionAtCapacityNearMax) {
  RangeSet s(2);
  ASSERT_TRUE(s.insert(kMax - 6, kMax - 6));
  ASSERT_TRUE(s.insert(kMax - 4, kMax - 4));
  EXPECT_FALSE(s.insert(kMax, kMax));
  expect_ranges(s, {{kMax - 4, kMax - 4}, {kMax, kMax}});
  EXPECT_TRUE(s.insert(kMax - 3, kMax - 1));  // bridges the two
  expect_ranges(s, {{kMax - 4, kMax}});
}

// Random small intervals against a reference set of values. Without eviction
// the two must agree exactly; with eviction the set holds only inserted
// values, stays canonical and within capacity, and never loses the largest.
void run_random(std::size_t capacity, std::uint32_t seed, bool expect_evictions) {
  constexpr std::uint64_t kDomain = 300;
  RangeSet s(capacity);
  std::set<std::uint64_t> model;
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::uint64_t> start(0, kDomain - 1);
  std::uniform_int_distribution<std::uint64_t> len(0, 4);
  for (int step = 0; step < 2000; ++step) {
    const std::uint64_t a = start(rng);
    const std::uint64_t b = std::min(a + len(rng), kDomain - 1);
    const bool kept_all = s.insert(a, b);
    for (std::uint64_t v = a; v <= b; ++v)
      model.insert(v);
    expect_canonical(s);
    ASSERT_FALSE(s.empty());
    ASSERT_EQ(s.max(), *model.rbegin()) << "step " << step;
    if (s.evicted() == 0) {
      ASSERT_TRUE(kept_all);
      for (std::uint64_t v = 0; v < kDomain; ++v)
        ASSERT_EQ(s.contains(v), model.count(v) == 1) << "step " << step << " value " << v;
    } else {
      for (std::uint64_t v = 0; v < kDomain; ++v)
        if (s.contains(v)) {
          ASSERT_EQ(model.count(v), 1u) << "step " << step << " value " << v;
        }
    }
    if (step % 97 == 96) {
      const std::uint64_t cut = start(rng) / 4;
      s.remove_up_to(cut);
      model.erase(model.begin(), model.upper_bound(cut));
      expect_canonical(s);
      if (!s.empty()) {
        ASSERT_GT(s.min(), cut);
      }
      if (model.empty()) {
        ASSERT_TRUE(s.empty());
      }
    }
  }
  EXPECT_EQ(s.evicted() > 0, expect_evictions);
}

TEST(RangeSet, RandomAgainstModelWithoutEviction) {
  for (std::uint32_t seed = 1; seed <= 5; ++seed)
    run_random(1000, seed, false);
}

TEST(RangeSet, RandomAgainstModelWithEviction) {
  for (std::uint32_t seed = 1; seed <= 5; ++seed)
    run_random(6, seed, true);
}

}  // namespace
}  // namespace dquic
