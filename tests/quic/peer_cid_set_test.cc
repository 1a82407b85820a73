// The peer's connection IDs across paths (RFC 9000 §5.1, §9.5): spares for
// new paths, switching the one in use, retiring those of abandoned paths.
#include "quic/peer_cid_set.h"

#include <gtest/gtest.h>

#include <array>

namespace dquic {
namespace {

ConnectionId cid(std::uint8_t b) {
  ConnectionId c;
  c.length = 8;
  c.bytes.fill(b);
  return c;
}

NewConnectionIdFrame ncid(std::uint64_t seq, const ConnectionId& c,
                          std::uint64_t retire_prior_to = 0) {
  NewConnectionIdFrame f;
  f.sequence_number = seq;
  f.connection_id = c.span();
  f.stateless_reset_token.fill(static_cast<std::uint8_t>(seq + 1));
  f.retire_prior_to = retire_prior_to;
  return f;
}

class PeerCidSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set.reset(c0, std::nullopt);
    ASSERT_EQ(set.on_new_connection_id(ncid(1, c1)), TransportError::kNoError);
    ASSERT_EQ(set.on_new_connection_id(ncid(2, c2)), TransportError::kNoError);
  }
  ConnectionId c0 = cid(0xa0), c1 = cid(0xa1), c2 = cid(0xa2);
  PeerCidSet set{4};
};

TEST_F(PeerCidSetTest, SparesAreTakenOnceLowestFirst) {
  EXPECT_TRUE(set.has_unused());
  EXPECT_EQ(set.take_unused(), 1u);
  EXPECT_EQ(set.take_unused(), 2u);
  EXPECT_FALSE(set.take_unused().has_value());  // sequence 0 is in use
  EXPECT_FALSE(set.has_unused());
  ASSERT_NE(set.find(2), nullptr);
  EXPECT_EQ(*set.find(2), c2);
  EXPECT_EQ(set.find(7), nullptr);
  EXPECT_EQ(set.active(), c0);
}

TEST_F(PeerCidSetTest, ActivateRetiresThePreviousOne) {
  const std::optional<std::uint64_t> s = set.take_unused();
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(set.activate(*s));
  EXPECT_EQ(set.active(), c1);
  EXPECT_EQ(set.active_sequence(), 1u);
  EXPECT_EQ(set.retire_to_send(), 0u);  // §5.1.2: RETIRE_CONNECTION_ID(0)
  EXPECT_EQ(set.find(0), nullptr);
  EXPECT_EQ(set.active_count(), 2u);
  EXPECT_TRUE(set.activate(1));  // already active: nothing more retired
  EXPECT_EQ(set.retiring_count(), 1u);
  EXPECT_FALSE(set.activate(9));
}

TEST_F(PeerCidSetTest, RetireAbandonedPathButNeverTheActiveOne) {
  const std::optional<std::uint64_t> s = set.take_unused();
  ASSERT_TRUE(s.has_value());
  set.retire(*s);
  EXPECT_EQ(set.find(*s), nullptr);
  EXPECT_EQ(set.retire_to_send(), *s);
  set.retire(set.active_sequence());
  EXPECT_EQ(set.active(), c0);
  EXPECT_EQ(set.retiring_count(), 1u);
}

// §5.1.2: when Retire Prior To removes the CID in use, the next one in use
// is one no other path took, when there is one.
TEST_F(PeerCidSetTest, RetirePriorToPrefersAnUnusedReplacement) {
  ASSERT_EQ(set.take_unused(), 1u);  // reserved for another path
  ASSERT_EQ(set.on_new_connection_id(ncid(3, cid(0xa3), 1)), TransportError::kNoError);
  EXPECT_EQ(set.active(), c2);
  EXPECT_EQ(set.take_unused(), 3u);
  EXPECT_FALSE(set.take_unused().has_value());
}

}  // namespace
}  // namespace dquic
