// The ECN validation state machine (RFC 9000 §13.4.2, Appendix A.4).
#include "quic/ecn_validation.h"

#include <gtest/gtest.h>

namespace dquic {
namespace {

TEST(EcnValidator, TestsTenPacketsThenWaits) {
  EcnValidator v;
  EXPECT_EQ(v.state(), EcnState::kTesting);
  EXPECT_EQ(v.codepoint(0), Ecn::kEct0);
  v.on_sent(Ecn::kEct0, kEcnTestingPackets - 1, 0, kSecond);
  EXPECT_EQ(v.state(), EcnState::kTesting);
  v.on_sent(Ecn::kNotEct, 5, 0, kSecond);  // unmarked packets do not end the testing period
  EXPECT_EQ(v.state(), EcnState::kTesting);
  v.on_sent(Ecn::kEct0, 1, 0, kSecond);
  EXPECT_EQ(v.state(), EcnState::kUnknown);
  EXPECT_EQ(v.codepoint(0), Ecn::kNotEct);
  EXPECT_FALSE(v.on_feedback({}));  // nothing known yet
  EXPECT_EQ(v.state(), EcnState::kUnknown);
}

TEST(EcnValidator, ValidatedAckMakesCapable) {
  for (std::uint64_t sent : {std::uint64_t{3}, kEcnTestingPackets}) {
    EcnValidator v;
    v.on_sent(Ecn::kEct0, sent, 0, kSecond);
    EXPECT_TRUE(v.on_feedback({1, 0, false}));
    EXPECT_EQ(v.state(), EcnState::kCapable);
    EXPECT_EQ(v.codepoint(0), Ecn::kEct0);
    v.on_sent(Ecn::kEct0, 100, 0, kSecond);  // capable marks everything
    EXPECT_EQ(v.state(), EcnState::kCapable);
  }
}

TEST(EcnValidator, FailureIsFinalOnThePath) {
  EcnValidator v;
  v.on_sent(Ecn::kEct0, 2, 0, kSecond);
  EXPECT_TRUE(v.on_feedback({0, 0, true}));
  EXPECT_EQ(v.state(), EcnState::kFailed);
  EXPECT_EQ(v.codepoint(0), Ecn::kNotEct);
  EXPECT_FALSE(v.on_feedback({5, 0, false}));
  EXPECT_EQ(v.state(), EcnState::kFailed);
}

TEST(EcnValidator, CapableFailsWhenCountsLaterFail) {
  EcnValidator v;
  v.on_sent(Ecn::kEct0, 1, 0, kSecond);
  v.on_feedback({1, 0, false});
  ASSERT_EQ(v.state(), EcnState::kCapable);
  v.on_feedback({1, 50, false});  // losses once capable are congestion, not ECN
  EXPECT_EQ(v.state(), EcnState::kCapable);
  v.on_feedback({1, 50, true});  // RFC 9000 §13.4.2.2
  EXPECT_EQ(v.state(), EcnState::kFailed);
}

TEST(EcnValidator, AllTestingPacketsLostFails) {
  EcnValidator v;
  v.on_sent(Ecn::kEct0, 4, 0, kSecond);
  v.on_feedback({0, 4, false});  // still testing: more marked packets to go
  EXPECT_EQ(v.state(), EcnState::kTesting);
  v.on_sent(Ecn::kEct0, kEcnTestingPackets - 4, 0, kSecond);
  v.on_feedback({0, kEcnTestingPackets - 1, false});  // one still outstanding
  EXPECT_EQ(v.state(), EcnState::kUnknown);
  v.on_feedback({0, kEcnTestingPackets, false});
  EXPECT_EQ(v.state(), EcnState::kFailed);
}

TEST(EcnValidator, RestartTestsANewPath) {
  EcnValidator v;
  v.on_sent(Ecn::kEct0, 1, 0, kSecond);
  v.on_feedback({0, 0, true});
  ASSERT_EQ(v.state(), EcnState::kFailed);
  v.restart();
  EXPECT_EQ(v.state(), EcnState::kTesting);
  EXPECT_EQ(v.marked(), 0u);
  EXPECT_EQ(v.codepoint(0), Ecn::kEct0);
}

TEST(EcnValidator, DisabledNeverMarks) {
  EcnValidator v(false);
  EXPECT_EQ(v.state(), EcnState::kDisabled);
  EXPECT_EQ(v.codepoint(0), Ecn::kNotEct);
  EXPECT_FALSE(v.on_feedback({3, 0, false}));
  v.restart();
  EXPECT_EQ(v.state(), EcnState::kDisabled);
}

// RFC 9000 §13.4.2: "or for a period of three PTOs".
TEST(EcnValidator, TestingEndsWithTime) {
  EcnValidator v;
  EXPECT_EQ(v.codepoint(5 * kSecond), Ecn::kEct0);  // the clock starts at the first mark
  v.on_sent(Ecn::kEct0, 2, 5 * kSecond, 3 * kSecond);
  EXPECT_EQ(v.codepoint(8 * kSecond - 1), Ecn::kEct0);
  EXPECT_EQ(v.state(), EcnState::kTesting);
  EXPECT_EQ(v.codepoint(8 * kSecond), Ecn::kNotEct);
  EXPECT_EQ(v.state(), EcnState::kUnknown);
  v.on_feedback({0, 2, false});  // both marked packets lost
  EXPECT_EQ(v.state(), EcnState::kFailed);
}

TEST(EcnValidator, StateNames) {
  EXPECT_EQ(ecn_state_name(EcnState::kTesting), "testing");
  EXPECT_EQ(ecn_state_name(EcnState::kUnknown), "unknown");
  EXPECT_EQ(ecn_state_name(EcnState::kCapable), "capable");
  EXPECT_EQ(ecn_state_name(EcnState::kFailed), "failed");
  EXPECT_EQ(ecn_state_name(EcnState::kDisabled), "disabled");
}

}  // namespace
}  // namespace dquic
