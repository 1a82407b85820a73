// The dynamic table (RFC 9204 §3.2): sizes, capacity, eviction order,
// absolute indexing, the encoder's eviction guard (§2.1.1), and storage
// compaction behind the views.
#include "h3/qpack_dynamic_table.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/h3/test_bytes.h"

namespace dquic {
namespace {

std::string entry_name(const QpackDynamicTable& t, std::uint64_t abs) {
  QpackField f;
  if (!t.get(abs, &f)) return "<none>";
  return test::cat(f.name, "=", f.value);
}

TEST(QpackDynamicTable, StartsAtCapacityZero) {
  QpackDynamicTable t(220);
  EXPECT_EQ(t.capacity(), 0u);     // §3.2.3
  EXPECT_EQ(t.max_entries(), 6u);  // §4.5.1.1: floor(220 / 32)
  EXPECT_FALSE(t.insert("a", "b"));
  EXPECT_FALSE(t.set_capacity(221));  // above the maximum
  EXPECT_TRUE(t.set_capacity(220));
  EXPECT_TRUE(t.insert("a", "b"));
  EXPECT_EQ(t.size(), 34u);  // §3.2.1: 1 + 1 + 32
}

// RFC 9204 Appendix B.2-B.5 table states.
TEST(QpackDynamicTable, AppendixBStates) {
  QpackDynamicTable t(220);
  ASSERT_TRUE(t.set_capacity(220));
  ASSERT_TRUE(t.insert(":authority", "www.example.com"));
  ASSERT_TRUE(t.insert(":path", "/sample/path"));
  EXPECT_EQ(t.size(), 106u);
  ASSERT_TRUE(t.insert("custom-key", "custom-value"));
  EXPECT_EQ(t.size(), 160u);
  QpackField f;
  ASSERT_TRUE(t.get(0, &f));
  ASSERT_TRUE(t.insert(f.name, f.value));  // Duplicate
  EXPECT_EQ(t.size(), 217u);
  EXPECT_EQ(t.insert_count(), 4u);
  // B.5: the name comes from entry 2; entry 0 is evicted to make room.
  ASSERT_TRUE(t.get(2, &f));
  ASSERT_TRUE(t.insert(f.name, "custom-value2"));
  EXPECT_EQ(t.size(), 215u);
  EXPECT_EQ(t.first_index(), 1u);
  EXPECT_EQ(entry_name(t, 0), "<none>");
  EXPECT_EQ(entry_name(t, 1), ":path=/sample/path");
  EXPECT_EQ(entry_name(t, 4), "custom-key=custom-value2");
  EXPECT_EQ(entry_name(t, 5), "<none>");
}

TEST(QpackDynamicTable, InsertMayNameTheEntryItEvicts) {
  // §3.2.2: the referenced entry may be evicted by this very insert.
  QpackDynamicTable t(100);
  ASSERT_TRUE(t.set_capacity(100));
  ASSERT_TRUE(t.insert("name-to-keep", "v"));  // 45
  ASSERT_TRUE(t.insert("b", "v"));             // 34 -> 79
  QpackField f;
  ASSERT_TRUE(t.get(0, &f));
  ASSERT_TRUE(t.insert(f.name, "0123456789012345"));  // 60: evicts 0
  EXPECT_EQ(t.first_index(), 1u);
  EXPECT_EQ(entry_name(t, 2), "name-to-keep=0123456789012345");
}

TEST(QpackDynamicTable, EntryLargerThanCapacity) {
  QpackDynamicTable t(64);
  ASSERT_TRUE(t.set_capacity(64));
  EXPECT_TRUE(t.can_insert(16, 16));   // exactly 64
  EXPECT_FALSE(t.can_insert(16, 17));  // 65
  EXPECT_FALSE(t.insert(std::string(16, 'n'), std::string(17, 'v')));
  EXPECT_EQ(t.insert_count(), 0u);
  EXPECT_TRUE(t.insert(std::string(16, 'n'), std::string(16, 'v')));
}

TEST(QpackDynamicTable, CapacityReductionEvicts) {
  QpackDynamicTable t(200);
  ASSERT_TRUE(t.set_capacity(200));
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(t.insert("k", std::to_string(i)));  // 34 each
  EXPECT_EQ(t.size(), 170u);
  ASSERT_TRUE(t.set_capacity(70));
  EXPECT_EQ(t.size(), 68u);
  EXPECT_EQ(t.first_index(), 3u);
  ASSERT_TRUE(t.set_capacity(0));
  EXPECT_EQ(t.entry_count(), 0u);
  EXPECT_EQ(t.insert_count(), 5u);  // the count never goes back
}

TEST(QpackDynamicTable, UnevictableEntriesBlockInsertAndCapacity) {
  // §2.1.1 / §3.2.2: the encoder must not evict entries at or above the
  // bound it passes.
  QpackDynamicTable t(102);
  ASSERT_TRUE(t.set_capacity(102));
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(t.insert("k", std::to_string(i)));  // 102
  EXPECT_FALSE(t.can_insert(1, 1, /*evictable_before=*/0));
  EXPECT_FALSE(t.insert("k", "3", 0));
  EXPECT_EQ(t.insert_count(), 3u);
  EXPECT_FALSE(t.set_capacity(50, 0));
  EXPECT_EQ(t.capacity(), 102u);
  EXPECT_TRUE(t.can_insert(1, 1, 1));    // entry 0 may go
  EXPECT_FALSE(t.can_insert(1, 35, 1));  // would need entry 1 too
  EXPECT_TRUE(t.insert("k", "3", 1));
  EXPECT_EQ(t.first_index(), 1u);
}

TEST(QpackDynamicTable, FindNewestAndBounded) {
  QpackDynamicTable t(400);
  ASSERT_TRUE(t.set_capacity(400));
  ASSERT_TRUE(t.insert("a", "1"));  // 0
  ASSERT_TRUE(t.insert("b", "1"));  // 1
  ASSERT_TRUE(t.insert("a", "1"));  // 2
  ASSERT_TRUE(t.insert("a", "2"));  // 3
  auto m = t.find("a", "1");
  EXPECT_TRUE(m.found && m.value_matches);
  EXPECT_EQ(m.absolute, 2u);
  m = t.find("a", "1", /*below=*/2);
  EXPECT_EQ(m.absolute, 0u);
  m = t.find("a", "9");
  EXPECT_TRUE(m.found);
  EXPECT_FALSE(m.value_matches);
  EXPECT_EQ(m.absolute, 3u);
  m = t.find("c", "1");
  EXPECT_FALSE(m.found);
  m = t.find("b", "1", 1);
  EXPECT_FALSE(m.found);
}

TEST(QpackDynamicTable, ManyInsertsCompactStorage) {
  // The storage is twice the capacity; thousands of inserts force repeated
  // compaction, and every live entry must read back intact.
  QpackDynamicTable t(300);
  ASSERT_TRUE(t.set_capacity(300));
  for (int i = 0; i < 5000; ++i) {
    const std::string name = test::cat("n", std::to_string(i % 7));
    const std::string value(static_cast<std::size_t>(i % 50), static_cast<char>('a' + i % 26));
    QpackField prev;
    const bool dup = i % 5 == 0 && t.entry_count() > 0 && t.get(t.first_index(), &prev);
    const std::string expect =
        dup ? test::cat(prev.name, "=", prev.value) : test::cat(name, "=", value);
    // Every fifth insert duplicates the oldest entry, which it may evict.
    ASSERT_TRUE(dup ? t.insert(prev.name, prev.value) : t.insert(name, value));
    ASSERT_EQ(entry_name(t, t.insert_count() - 1), expect) << i;
    ASSERT_LE(t.size(), 300u);
    std::uint64_t sum = 0;
    for (std::uint64_t a = t.first_index(); a < t.insert_count(); ++a) {
      QpackField f;
      ASSERT_TRUE(t.get(a, &f));
      sum += qpack_entry_size(f.name.size(), f.value.size());
    }
    ASSERT_EQ(sum, t.size());
  }
}

TEST(QpackDynamicTable, ZeroMaxCapacity) {
  QpackDynamicTable t(0);
  EXPECT_EQ(t.max_entries(), 0u);
  EXPECT_TRUE(t.set_capacity(0));
  EXPECT_FALSE(t.set_capacity(1));
  EXPECT_FALSE(t.insert("", ""));
}

}  // namespace
}  // namespace dquic
