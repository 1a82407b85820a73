#include "quic/loss_detector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <span>
#include <vector>

#include "quic/buffer.h"
#include "quic/frame.h"

namespace dquic {
namespace {

constexpr Duration kMs = kMillisecond;

class FakeCc : public CongestionController {
 public:
  void on_packet_sent(Time, std::uint32_t bytes, bool) override {
    in_flight += bytes;
    ++sent;
  }
  void on_packets_acked(std::span<const CcPacket> acked_packets, Time,
                        const RttEstimator&) override {
    ++ack_calls;
    for (const CcPacket& p : acked_packets) {
      in_flight -= p.bytes;
      acked.push_back(p.packet_number);
    }
  }
  void on_packets_lost(std::span<const CcPacket> lost_packets, Time, bool persistent) override {
    ++lost_calls;
    last_persistent = persistent;
    if (persistent) ++persistent_calls;
    for (const CcPacket& p : lost_packets) {
      in_flight -= p.bytes;
      lost.push_back(p.packet_number);
    }
  }
  void on_ecn_ce(Time sent_time, Time) override {
    ++ce_calls;
    ce_sent_time = sent_time;
  }
  void on_packets_discarded(std::uint64_t bytes) override {
    in_flight -= bytes;
    discarded += bytes;
  }
  void set_max_datagram_size(std::uint32_t) override {}
  std::uint64_t congestion_window() const override { return 1 << 20; }
  std::uint64_t bytes_in_flight() const override { return in_flight; }
  bool in_slow_start() const override { return true; }
  bool in_recovery(Time) const override { return false; }
  const char* name() const override { return "fake"; }

  std::uint64_t in_flight = 0;
  std::uint64_t discarded = 0;
  int sent = 0;
  int ack_calls = 0;
  int lost_calls = 0;
  int persistent_calls = 0;
  bool last_persistent = false;
  int ce_calls = 0;
  Time ce_sent_time = 0;
  std::vector<std::uint64_t> acked;
  std::vector<std::uint64_t> lost;
};

class Recorder : public LossListener {
 public:
  void on_packet_acked(const SentPacket& p) override { acked.push_back(p.packet_number); }
  void on_packet_lost(const SentPacket& p) override { lost.push_back(p.packet_number); }
  std::vector<std::uint64_t> acked;
  std::vector<std::uint64_t> lost;
};

using Pns = std::vector<std::uint64_t>;

class LossDetectorTest : public ::testing::Test {
 protected:
  explicit LossDetectorTest(EndpointRole role = EndpointRole::kServer) { make(role); }

  void make(EndpointRole role, std::size_t max_capacity = std::size_t{1} << 16) {
    LossDetectorConfig c;
    c.role = role;
    c.max_capacity = max_capacity;
    config = c;
    rtt = RttEstimator();
    cc = FakeCc();
    rec = Recorder();
    ld.emplace(config, rtt, cc, rec);
  }

  bool send(PacketSpace space, std::uint64_t pn, Time t, bool ack_eliciting = true,
            bool in_flight = true, std::uint32_t bytes = 1200, Ecn ecn = Ecn::kNotEct,
            bool pmtu_probe = false) {
    SentPacket p;
    p.packet_number = pn;
    p.space = space;
    p.ack_eliciting = ack_eliciting;
    p.in_flight = in_flight;
    p.sent_bytes = bytes;
    p.is_pmtu_probe = pmtu_probe;
    p.add({SentFrame::Kind::kPing});
    return ld->on_packet_sent(p, t, ecn);
  }

  // Ranges largest first. Taken as an initializer_list: GCC 12.2 at -O3
  // -march=native (AVX-512 host) built a by-value std::vector<AckRange> from
  // {{3, 3}, {0, 0}} as four 3s (one vpbroadcastq).
  AckOutcome ack(PacketSpace space, std::initializer_list<AckRange> ranges, Time now,
                 Duration delay = 0, const EcnCounts* ecn = nullptr) {
    return ack(space, std::span<const AckRange>(ranges.begin(), ranges.size()), now, delay, ecn);
  }
  AckOutcome ack(PacketSpace space, std::span<const AckRange> ranges, Time now, Duration delay = 0,
                 const EcnCounts* ecn = nullptr) {
    std::array<std::uint8_t, 4096> buf{};
    Writer w(buf);
    EXPECT_TRUE(encode_ack(ranges, 0, ecn, w));
    Reader r(ByteSpan(buf.data(), w.written()));
    Frame f;
    EXPECT_EQ(decode_frame(r, &f), TransportError::kNoError);
    return ld->on_ack_received(space, std::get<AckFrame>(f), delay, now);
  }

  void confirm(Time now) {
    RecoveryState s;
    s.handshake_confirmed = true;
    s.have_handshake_keys = true;
    ld->set_state(s, now);
  }

  LossDetectorConfig config;
  RttEstimator rtt;
  FakeCc cc;
  Recorder rec;
  std::optional<LossDetector> ld;
};

class ClientLossDetectorTest : public LossDetectorTest {
 protected:
  ClientLossDetectorTest() : LossDetectorTest(EndpointRole::kClient) {}
};

constexpr PacketSpace kInit = PacketSpace::kInitial;
constexpr PacketSpace kHs = PacketSpace::kHandshake;
constexpr PacketSpace kApp = PacketSpace::kApplication;

TEST_F(LossDetectorTest, NothingArmedAtStart) {
  EXPECT_EQ(ld->timer(), kNever);
  EXPECT_EQ(ld->pto_count(), 0);
  EXPECT_FALSE(ld->on_timeout(10 * kSecond).probe_space.has_value());
  EXPECT_EQ(ld->outstanding(kApp), 0u);
}

TEST_F(LossDetectorTest, PacketThresholdLoss) {
  confirm(0);
  for (std::uint64_t pn = 0; pn < 5; ++pn)
    ASSERT_TRUE(send(kApp, pn, static_cast<Time>(pn) * kMs));
  EXPECT_EQ(cc.in_flight, 6000u);
  const AckOutcome o = ack(kApp, {{4, 4}}, 100 * kMs);
  ASSERT_FALSE(o.error.has_value());
  EXPECT_TRUE(o.newly_acked);
  EXPECT_EQ(o.acked, 1u);
  // 4 >= pn + 3 for 0 and 1 only; 2 and 3 wait for the time threshold.
  EXPECT_EQ(o.lost, 2u);
  EXPECT_EQ(rec.lost, (Pns{0, 1}));
  EXPECT_EQ(rec.acked, (Pns{4}));
  EXPECT_EQ(cc.lost, (Pns{0, 1}));
  EXPECT_EQ(cc.acked, (Pns{4}));
  EXPECT_FALSE(cc.last_persistent);
  EXPECT_EQ(ld->outstanding(kApp), 2u);
  EXPECT_EQ(ld->bytes_in_flight_ack_eliciting(kApp), 2400u);
  // latest_rtt = 96 ms: loss delay 9/8 * 96 = 108 ms from packet 2's send time.
  EXPECT_EQ(ld->loss_time(kApp), 2 * kMs + 108 * kMs);
  EXPECT_EQ(ld->timer(), ld->loss_time(kApp));
  EXPECT_EQ(ld->largest_acked(kApp), 4u);
}

TEST_F(LossDetectorTest, TimeThresholdLossViaTimer) {
  confirm(0);
  send(kApp, 0, 0);
  send(kApp, 1, 10 * kMs);
  const AckOutcome o = ack(kApp, {{1, 1}}, 100 * kMs);
  EXPECT_TRUE(o.rtt_sampled);
  EXPECT_EQ(o.lost, 0u);
  // latest = smoothed = 90 ms; 9/8 of it is 101.25 ms.
  const Time loss_at = 101'250'000;
  EXPECT_EQ(ld->timer(), loss_at);
  LossDetector::Timeout t = ld->on_timeout(loss_at - 1);
  EXPECT_FALSE(t.losses);
  EXPECT_TRUE(rec.lost.empty());
  t = ld->on_timeout(loss_at);
  EXPECT_TRUE(t.losses);
  EXPECT_EQ(t.lost, 1u);
  EXPECT_FALSE(t.probe_space.has_value());
  EXPECT_EQ(rec.lost, (Pns{0}));
  EXPECT_EQ(cc.lost, (Pns{0}));
  EXPECT_EQ(ld->pto_count(), 0);  // a loss timer is no PTO
  EXPECT_EQ(ld->loss_time(kApp), kNever);
  EXPECT_EQ(ld->outstanding(kApp), 0u);
  // Nothing in flight, server: nothing to arm.
  EXPECT_EQ(ld->timer(), kNever);
}

TEST_F(LossDetectorTest, TimeThresholdUsesGranularityFloor) {
  confirm(0);
  send(kApp, 0, 0);
  send(kApp, 1, 0);
  // A zero RTT sample: the loss delay is kGranularity, not 0.
  ack(kApp, {{1, 1}}, 0);
  EXPECT_EQ(rtt.latest_rtt(), 0);
  EXPECT_EQ(ld->loss_time(kApp), kGranularity);
  EXPECT_TRUE(rec.lost.empty());
}

TEST_F(LossDetectorTest, PtoBackoffAndProbeCount) {
  confirm(0);
  send(kApp, 0, 0);
  // kInitialRtt: 333 + 4 * 166.5 ms, plus max_ack_delay 25 ms.
  const Duration pto = 999 * kMs + 25 * kMs;
  EXPECT_EQ(ld->pto(kApp), pto);
  EXPECT_EQ(ld->pto(kInit), 999 * kMs);
  EXPECT_EQ(ld->timer(), pto);
  LossDetector::Timeout t = ld->on_timeout(pto);
  EXPECT_FALSE(t.losses);
  ASSERT_TRUE(t.probe_space.has_value());
  EXPECT_EQ(*t.probe_space, kApp);
  EXPECT_EQ(t.probes, 2);
  EXPECT_EQ(ld->pto_count(), 1);
  // RFC 9002 §6.2: a PTO declares nothing lost.
  EXPECT_TRUE(rec.lost.empty());
  EXPECT_EQ(ld->outstanding(kApp), 1u);
  EXPECT_EQ(ld->pto(kApp), 2 * pto);
  EXPECT_EQ(ld->timer(), 2 * pto);
  send(kApp, 1, pto);
  send(kApp, 2, pto);
  EXPECT_EQ(ld->timer(), pto + 2 * pto);
  t = ld->on_timeout(3 * pto);
  EXPECT_EQ(ld->pto_count(), 2);
  EXPECT_EQ(ld->timer(), pto + 4 * pto);
  // An acknowledgment resets the backoff (server: address validated).
  ack(kApp, {{2, 2}}, 3 * pto + kMs);
  EXPECT_EQ(ld->pto_count(), 0);
}

TEST_F(LossDetectorTest, PtoProbeCountConfigurable) {
  config.pto_probes = 1;
  ld.emplace(config, rtt, cc, rec);
  confirm(0);
  send(kApp, 0, 0);
  const LossDetector::Timeout t = ld->on_timeout(ld->timer());
  EXPECT_EQ(t.probes, 1);
}

TEST_F(LossDetectorTest, TimeoutBeforeTimerDoesNothing) {
  send(kInit, 0, 0);
  const Time t = ld->timer();
  ASSERT_NE(t, kNever);
  const LossDetector::Timeout out = ld->on_timeout(t - 1);
  EXPECT_FALSE(out.probe_space.has_value());
  EXPECT_FALSE(out.losses);
  EXPECT_EQ(ld->pto_count(), 0);
}

TEST_F(LossDetectorTest, HandshakeSpacePtoBeforeConfirmation) {
  // Server, handshake not confirmed: Initial and Handshake PTOs without
  // max_ack_delay, the earlier one wins.
  send(kInit, 0, 0);
  send(kHs, 0, 10 * kMs);
  send(kApp, 0, 5 * kMs);  // 1-RTT before confirmation: no PTO for it
  EXPECT_EQ(ld->timer(), 999 * kMs);
  LossDetector::Timeout t = ld->on_timeout(999 * kMs);
  ASSERT_TRUE(t.probe_space.has_value());
  EXPECT_EQ(*t.probe_space, kInit);
  // Initial keys discarded: backoff reset, the Handshake PTO remains.
  ld->discard_space(kInit, 1000 * kMs);
  EXPECT_EQ(ld->pto_count(), 0);
  EXPECT_EQ(ld->timer(), 10 * kMs + 999 * kMs);
  t = ld->on_timeout(1009 * kMs);
  ASSERT_TRUE(t.probe_space.has_value());
  EXPECT_EQ(*t.probe_space, kHs);
}

TEST_F(LossDetectorTest, ApplicationPtoNotArmedBeforeConfirmed) {
  send(kApp, 0, 0);
  EXPECT_EQ(ld->timer(), kNever);
  EXPECT_FALSE(ld->on_timeout(5 * kSecond).probe_space.has_value());
  confirm(kMs);
  EXPECT_EQ(ld->timer(), 999 * kMs + 25 * kMs);
}

TEST_F(LossDetectorTest, AmplificationBlockedServerDoesNotArmPto) {
  send(kInit, 0, 0);
  RecoveryState s;
  s.amplification_blocked = true;
  ld->set_state(s, kMs);
  EXPECT_EQ(ld->timer(), kNever);
  EXPECT_FALSE(ld->on_timeout(2 * kSecond).probe_space.has_value());
  // A datagram from the client unblocks it; the PTO is already due (§A.6).
  s.amplification_blocked = false;
  ld->set_state(s, 2 * kSecond);
  EXPECT_LE(ld->timer(), 2 * kSecond);
  const LossDetector::Timeout t = ld->on_timeout(2 * kSecond);
  ASSERT_TRUE(t.probe_space.has_value());
  EXPECT_EQ(*t.probe_space, kInit);
}

TEST_F(ClientLossDetectorTest, AntiDeadlockPtoWithNothingInFlight) {
  EXPECT_EQ(ld->timer(), kNever);  // not armed before anything happened
  send(kInit, 0, 0);
  const AckOutcome o = ack(kInit, {{0, 0}}, 50 * kMs);
  EXPECT_TRUE(o.rtt_sampled);
  EXPECT_EQ(ld->ack_eliciting_in_flight(kInit), 0u);
  EXPECT_FALSE(ld->peer_completed_address_validation());
  // §6.2.2.1: armed from the ACK's arrival although nothing is in flight.
  // RTT 50 ms: pto_base = 50 + 4 * 25 = 150 ms.
  EXPECT_EQ(ld->timer(), 50 * kMs + 150 * kMs);
  LossDetector::Timeout t = ld->on_timeout(200 * kMs);
  ASSERT_TRUE(t.probe_space.has_value());
  EXPECT_EQ(*t.probe_space, kInit);  // no Handshake keys: padded Initial
  EXPECT_EQ(t.probes, 1);
  EXPECT_EQ(ld->pto_count(), 1);
  EXPECT_EQ(ld->timer(), 200 * kMs + 300 * kMs);
  RecoveryState s;
  s.have_handshake_keys = true;
  ld->set_state(s, 200 * kMs);
  t = ld->on_timeout(500 * kMs);
  ASSERT_TRUE(t.probe_space.has_value());
  EXPECT_EQ(*t.probe_space, kHs);
  EXPECT_EQ(ld->pto_count(), 2);
  // An Initial ACK does not reset a client's backoff (§6.2.1).
  send(kInit, 1, 500 * kMs);
  ack(kInit, {{1, 1}}, 550 * kMs);
  EXPECT_EQ(ld->pto_count(), 2);
  // A Handshake ACK proves the server validated the address.
  send(kHs, 0, 600 * kMs);
  ack(kHs, {{0, 0}}, 650 * kMs);
  EXPECT_TRUE(ld->peer_completed_address_validation());
  EXPECT_EQ(ld->pto_count(), 0);
  EXPECT_EQ(ld->timer(), kNever);
}

TEST_F(ClientLossDetectorTest, AntiDeadlockWithOnlyZeroRttInFlight) {
  send(kInit, 0, 0);
  send(kApp, 0, 0);  // 0-RTT
  ack(kInit, {{0, 0}}, 50 * kMs);
  // Only 0-RTT is in flight and its PTO cannot be armed: the client still
  // needs a timer to unblock the server.
  EXPECT_EQ(ld->timer(), 200 * kMs);
  const LossDetector::Timeout t = ld->on_timeout(200 * kMs);
  ASSERT_TRUE(t.probe_space.has_value());
  EXPECT_EQ(*t.probe_space, kInit);
  EXPECT_EQ(t.probes, 1);
}

TEST_F(ClientLossDetectorTest, ClientPtoWithHandshakeInFlight) {
  RecoveryState s;
  s.have_handshake_keys = true;
  send(kInit, 0, 0);
  ld->set_state(s, 0);
  send(kHs, 0, 20 * kMs);
  EXPECT_EQ(ld->timer(), 999 * kMs);
  ld->discard_space(kInit, 30 * kMs);
  EXPECT_EQ(cc.discarded, 1200u);
  EXPECT_EQ(ld->timer(), 20 * kMs + 999 * kMs);
}

TEST_F(LossDetectorTest, AckOfUnsentPacketIsProtocolViolation) {
  // Nothing sent in the space at all.
  AckOutcome o = ack(kHs, {{0, 0}}, kMs);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(*o.error, TransportError::kProtocolViolation);

  confirm(0);
  send(kApp, 0, 0);
  send(kApp, 1, 0);
  send(kApp, 3, 0);  // 2 skipped
  o = ack(kApp, {{4, 4}}, kMs);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(*o.error, TransportError::kProtocolViolation);
  o = ack(kApp, {{2, 3}}, kMs);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(*o.error, TransportError::kProtocolViolation);
  o = ack(kApp, {{3, 3}, {0, 0}}, kMs);
  EXPECT_FALSE(o.error.has_value());
  EXPECT_EQ(o.acked, 2u);
  // The rejected ACKs changed nothing.
  EXPECT_EQ(rec.acked, (Pns{3, 0}));
  EXPECT_EQ(ld->largest_acked(kApp), 3u);
  // Still detected while records remain: 2 is between outstanding 1 and 3.
  o = ack(kApp, {{2, 2}}, kMs);
  ASSERT_TRUE(o.error.has_value());
  EXPECT_EQ(*o.error, TransportError::kProtocolViolation);
}

TEST_F(LossDetectorTest, NonIncreasingPacketNumberRejected) {
  EXPECT_TRUE(send(kApp, 5, 0));
  EXPECT_FALSE(send(kApp, 5, 0));
  EXPECT_FALSE(send(kApp, 4, 0));
  EXPECT_TRUE(send(kInit, 0, 0));  // spaces are independent
  EXPECT_EQ(ld->outstanding(kApp), 1u);
  EXPECT_EQ(cc.sent, 2);
}

TEST_F(LossDetectorTest, RttSampleOnlyWhenLargestNewlyAckedAndAckEliciting) {
  confirm(0);
  send(kApp, 0, 0);
  send(kApp, 1, 10 * kMs, /*ack_eliciting=*/false, /*in_flight=*/false);
  // Only a non-ack-eliciting packet newly acknowledged: no sample.
  AckOutcome o = ack(kApp, {{1, 1}}, 50 * kMs);
  EXPECT_TRUE(o.newly_acked);
  EXPECT_FALSE(o.ack_eliciting_acked);
  EXPECT_FALSE(o.rtt_sampled);
  EXPECT_FALSE(rtt.has_sample());
  // 0 is ack-eliciting and newly acknowledged, but the largest (1) is not new.
  o = ack(kApp, {{0, 1}}, 60 * kMs);
  EXPECT_TRUE(o.ack_eliciting_acked);
  EXPECT_FALSE(o.rtt_sampled);
  EXPECT_FALSE(rtt.has_sample());
  // Largest newly acked and ack-eliciting: sample from its send time.
  send(kApp, 2, 70 * kMs);
  o = ack(kApp, {{0, 2}}, 100 * kMs);
  EXPECT_TRUE(o.rtt_sampled);
  EXPECT_EQ(rtt.latest_rtt(), 30 * kMs);
  // A non-ack-eliciting largest with an ack-eliciting one newly acked below
  // it does give a sample (RFC 9002 §5.1 asks for one ack-eliciting).
  send(kApp, 3, 110 * kMs);
  send(kApp, 4, 120 * kMs, false, false);
  o = ack(kApp, {{3, 4}}, 150 * kMs);
  EXPECT_TRUE(o.rtt_sampled);
  EXPECT_EQ(rtt.latest_rtt(), 30 * kMs);
}

TEST_F(LossDetectorTest, AckDelayIsUsedAndCappedOnceConfirmed) {
  send(kApp, 0, 0);
  ack(kApp, {{0, 0}}, 100 * kMs, 40 * kMs);
  EXPECT_EQ(rtt.smoothed_rtt(), 100 * kMs);  // first sample: delay ignored
  send(kApp, 1, 100 * kMs);
  // Not confirmed: the full 40 ms delay is subtracted (150 >= 100 + 40).
  ack(kApp, {{1, 1}}, 250 * kMs, 40 * kMs);
  EXPECT_EQ(rtt.latest_rtt(), 150 * kMs);
  EXPECT_EQ(rtt.smoothed_rtt(), (7 * 100 * kMs + 110 * kMs) / 8);
  const Duration srtt = rtt.smoothed_rtt();
  confirm(250 * kMs);
  send(kApp, 2, 300 * kMs);
  // Confirmed: capped at max_ack_delay (25 ms).
  ack(kApp, {{2, 2}}, 450 * kMs, 40 * kMs);
  EXPECT_EQ(rtt.smoothed_rtt(), (7 * srtt + 125 * kMs) / 8);
}

TEST_F(LossDetectorTest, PersistentCongestionDetected) {
  confirm(0);
  send(kApp, 0, 0);
  ack(kApp, {{0, 0}}, 100 * kMs);  // srtt 100, rttvar 50
  // (100 + 200 + 25) * 3.
  EXPECT_EQ(ld->persistent_congestion_duration(), 975 * kMs);
  const Time times[] = {200, 700, 1000, 1250, 1300, 1400};
  for (std::uint64_t pn = 1; pn <= 6; ++pn)
    send(kApp, pn, times[pn - 1] * kMs);
  // Ack 6 (latest RTT 100 ms): 1..3 lost by packet threshold, 4 and 5 by time
  // (sent before 1500 - 112.5 ms). 1300 - 200 > 975 ms, none acked between.
  const AckOutcome o = ack(kApp, {{6, 6}}, 1500 * kMs);
  EXPECT_EQ(o.lost, 5u);
  EXPECT_EQ(cc.lost, (Pns{1, 2, 3, 4, 5}));
  EXPECT_EQ(cc.lost_calls, 1);
  EXPECT_TRUE(cc.last_persistent);
  // RFC 9002 §5.2: min_rtt restarts from the latest sample.
  EXPECT_EQ(rtt.min_rtt(), rtt.latest_rtt());
}

TEST_F(LossDetectorTest, PersistentCongestionMinRttReset) {
  confirm(0);
  send(kApp, 0, 0);
  ack(kApp, {{0, 0}}, 50 * kMs);
  send(kApp, 1, 60 * kMs);
  ack(kApp, {{1, 1}}, 260 * kMs);  // latest 200, min stays 50
  EXPECT_EQ(rtt.min_rtt(), 50 * kMs);
  const Time t3 = 300 * kMs + 3 * kSecond;
  send(kApp, 2, 300 * kMs);
  send(kApp, 3, t3);
  for (std::uint64_t pn = 4; pn <= 6; ++pn)
    send(kApp, pn, t3 + kMs);
  ack(kApp, {{6, 6}}, t3 + 201 * kMs);
  EXPECT_EQ(rtt.latest_rtt(), 200 * kMs);
  EXPECT_TRUE(cc.last_persistent);
  EXPECT_EQ(rtt.min_rtt(), 200 * kMs);
}

TEST_F(LossDetectorTest, PersistentCongestionNotDetectedWhenOneAckedBetween) {
  confirm(0);
  send(kApp, 0, 0);
  ack(kApp, {{0, 0}}, 100 * kMs);
  const Time times[] = {200, 700, 1000, 1250, 1300, 1400};
  for (std::uint64_t pn = 1; pn <= 6; ++pn)
    send(kApp, pn, times[pn - 1] * kMs);
  // 3 acknowledged: the runs 1..2 and 4..5 are each too short.
  const AckOutcome o = ack(kApp, {{6, 6}, {3, 3}}, 1500 * kMs);
  EXPECT_EQ(o.lost, 4u);
  EXPECT_EQ(cc.lost, (Pns{1, 2, 4, 5}));
  EXPECT_FALSE(cc.last_persistent);
  EXPECT_EQ(cc.persistent_calls, 0);
}

TEST_F(LossDetectorTest, PersistentCongestionNotDetectedWhenAckedInEarlierAck) {
  confirm(0);
  send(kApp, 0, 0);
  ack(kApp, {{0, 0}}, 100 * kMs);
  const Time times[] = {200, 210, 220, 1000, 1250, 1300, 1400, 1450};
  for (std::uint64_t pn = 1; pn <= 8; ++pn)
    send(kApp, pn, times[pn - 1] * kMs);
  // 3 acknowledged while 1 and 2 are within both thresholds.
  ack(kApp, {{3, 3}}, 300 * kMs);
  EXPECT_TRUE(cc.lost.empty());
  // 1, 2 and 4, 5 lost by one ACK, spanning more than the period, but 3
  // (acknowledged earlier) lies between them.
  ack(kApp, {{8, 8}, {3, 3}}, 1550 * kMs);
  ASSERT_GE(cc.lost.size(), 4u);
  EXPECT_EQ(cc.lost[0], 1u);
  EXPECT_EQ(cc.lost[2], 4u);
  EXPECT_GT((1250 - 200) * kMs, ld->persistent_congestion_duration());
  EXPECT_EQ(cc.persistent_calls, 0);
}

TEST_F(LossDetectorTest, PersistentCongestionNeedsPriorRttSample) {
  confirm(0);
  const Time times[] = {200, 700, 1000, 1250, 1300, 1400};
  for (std::uint64_t pn = 1; pn <= 6; ++pn)
    send(kApp, pn, times[pn - 1] * kMs);
  // The first sample arrives with this ACK: every loss predates it.
  const AckOutcome o = ack(kApp, {{6, 6}}, 1500 * kMs);
  EXPECT_TRUE(o.rtt_sampled);
  EXPECT_EQ(o.lost, 5u);
  EXPECT_EQ(cc.lost_calls, 1);
  EXPECT_FALSE(cc.last_persistent);
}

TEST_F(LossDetectorTest, PersistentCongestionNeedsLongEnoughPeriod) {
  confirm(0);
  send(kApp, 0, 0);
  ack(kApp, {{0, 0}}, 100 * kMs);
  for (std::uint64_t pn = 1; pn <= 6; ++pn)
    send(kApp, pn, (200 + 100 * static_cast<Time>(pn)) * kMs);
  ack(kApp, {{6, 6}}, 900 * kMs);
  EXPECT_GT(cc.lost.size(), 1u);
  EXPECT_FALSE(cc.last_persistent);
}

TEST_F(LossDetectorTest, PersistentCongestionIgnoresNonAckElicitingEnds) {
  confirm(0);
  send(kApp, 0, 0);
  ack(kApp, {{0, 0}}, 100 * kMs);
  // The only packets spanning the period are not ack-eliciting.
  send(kApp, 1, 200 * kMs, false, true);
  send(kApp, 2, 700 * kMs);
  send(kApp, 3, 1300 * kMs, false, true);
  send(kApp, 4, 1300 * kMs);
  send(kApp, 5, 1301 * kMs, false, false);
  send(kApp, 6, 1310 * kMs);
  send(kApp, 7, 1400 * kMs);
  ack(kApp, {{7, 7}}, 1500 * kMs);
  EXPECT_FALSE(cc.last_persistent);
}

TEST_F(LossDetectorTest, DiscardSpace) {
  send(kInit, 0, 0);
  send(kInit, 1, kMs);
  send(kInit, 2, kMs, false, false);
  EXPECT_EQ(cc.in_flight, 2400u);
  ld->on_timeout(ld->timer());
  EXPECT_EQ(ld->pto_count(), 1);
  ld->discard_space(kInit, 2 * kSecond);
  EXPECT_EQ(cc.discarded, 2400u);
  EXPECT_EQ(cc.in_flight, 0u);
  EXPECT_TRUE(rec.lost.empty());
  EXPECT_TRUE(cc.lost.empty());
  EXPECT_EQ(ld->outstanding(kInit), 0u);
  EXPECT_EQ(ld->bytes_in_flight_ack_eliciting(kInit), 0u);
  EXPECT_EQ(ld->time_of_last_ack_eliciting(kInit), kNever);
  EXPECT_EQ(ld->pto_count(), 0);
  EXPECT_EQ(ld->timer(), kNever);
}

TEST_F(LossDetectorTest, DiscardSpaceClearsLossTime) {
  send(kHs, 0, 0);
  send(kHs, 1, 10 * kMs);
  ack(kHs, {{1, 1}}, 100 * kMs);
  ASSERT_NE(ld->loss_time(kHs), kNever);
  ld->discard_space(kHs, 110 * kMs);
  EXPECT_EQ(ld->loss_time(kHs), kNever);
  EXPECT_EQ(ld->timer(), kNever);
  EXPECT_EQ(cc.discarded, 1200u);
}

TEST_F(LossDetectorTest, EcnCeIncreaseReactsOnce) {
  confirm(0);
  for (std::uint64_t pn = 0; pn < 3; ++pn)
    send(kApp, pn, static_cast<Time>(pn) * kMs, true, true, 1200, Ecn::kEct0);
  EcnCounts e{2, 0, 1};
  AckOutcome o = ack(kApp, {{0, 2}}, 50 * kMs, 0, &e);
  EXPECT_EQ(o.acked, 3u);
  EXPECT_EQ(cc.ce_calls, 1);
  EXPECT_EQ(cc.ce_sent_time, 2 * kMs);  // send time of the largest acknowledged
  EXPECT_FALSE(ld->ecn_failed());
  // The same counts again (duplicate ACK): no new reaction.
  o = ack(kApp, {{0, 2}}, 51 * kMs, 0, &e);
  EXPECT_FALSE(o.newly_acked);
  EXPECT_EQ(cc.ce_calls, 1);
  // New packet acknowledged with ECT(0) only: no reaction.
  send(kApp, 3, 60 * kMs, true, true, 1200, Ecn::kEct0);
  e = {3, 0, 1};
  ack(kApp, {{0, 3}}, 100 * kMs, 0, &e);
  EXPECT_EQ(cc.ce_calls, 1);
  send(kApp, 4, 110 * kMs, true, true, 1200, Ecn::kEct0);
  e = {3, 0, 2};
  ack(kApp, {{0, 4}}, 150 * kMs, 0, &e);
  EXPECT_EQ(cc.ce_calls, 2);
  EXPECT_EQ(cc.ce_sent_time, 110 * kMs);
  EXPECT_FALSE(ld->ecn_failed());
}

TEST_F(LossDetectorTest, EcnCountsPerSpace) {
  send(kInit, 0, 0, true, true, 1200, Ecn::kEct0);
  send(kHs, 0, 0, true, true, 1200, Ecn::kEct0);
  EcnCounts e{0, 0, 1};
  ack(kInit, {{0, 0}}, 10 * kMs, 0, &e);
  EXPECT_EQ(cc.ce_calls, 1);
  // The Handshake space starts from zero counts of its own.
  ack(kHs, {{0, 0}}, 10 * kMs, 0, &e);
  EXPECT_EQ(cc.ce_calls, 2);
  EXPECT_FALSE(ld->ecn_failed());
}

TEST_F(LossDetectorTest, EcnValidationFailsWithoutCounts) {
  send(kApp, 0, 0, true, true, 1200, Ecn::kEct0);
  const AckOutcome o = ack(kApp, {{0, 0}}, 10 * kMs);
  EXPECT_FALSE(o.error.has_value());  // never a connection error
  EXPECT_TRUE(ld->ecn_failed());
}

TEST_F(LossDetectorTest, EcnNotMarkedNoCountsIsFine) {
  send(kApp, 0, 0);
  ack(kApp, {{0, 0}}, 10 * kMs);
  EXPECT_FALSE(ld->ecn_failed());
}

TEST_F(LossDetectorTest, EcnValidationFailsOnDecrease) {
  send(kApp, 0, 0, true, true, 1200, Ecn::kEct0);
  send(kApp, 1, 0, true, true, 1200, Ecn::kEct0);
  EcnCounts e{1, 0, 0};
  ack(kApp, {{0, 0}}, 10 * kMs, 0, &e);
  EXPECT_FALSE(ld->ecn_failed());
  e = {0, 0, 1};  // ECT(0) went down
  ack(kApp, {{0, 1}}, 20 * kMs, 0, &e);
  EXPECT_TRUE(ld->ecn_failed());
  EXPECT_EQ(cc.ce_calls, 0);  // invalid counts are not acted upon
}

TEST_F(LossDetectorTest, EcnValidationFailsWhenIncreaseTooSmall) {
  for (std::uint64_t pn = 0; pn < 3; ++pn)
    send(kApp, pn, 0, true, true, 1200, Ecn::kEct0);
  EcnCounts e{1, 0, 0};  // three ECT(0) packets newly acked, one counted
  ack(kApp, {{0, 2}}, 10 * kMs, 0, &e);
  EXPECT_TRUE(ld->ecn_failed());
}

TEST_F(LossDetectorTest, EcnValidationFailsOnCodepointNeverSent) {
  send(kApp, 0, 0, true, true, 1200, Ecn::kEct0);
  EcnCounts e{1, 1, 0};  // ECT(1) was never used
  ack(kApp, {{0, 0}}, 10 * kMs, 0, &e);
  EXPECT_TRUE(ld->ecn_failed());
}

TEST_F(LossDetectorTest, EcnReorderedAckNotValidated) {
  for (std::uint64_t pn = 0; pn < 3; ++pn)
    send(kApp, pn, 0, true, true, 1200, Ecn::kEct0);
  EcnCounts e{1, 0, 0};
  ack(kApp, {{2, 2}}, 10 * kMs, 0, &e);
  EXPECT_FALSE(ld->ecn_failed());
  // An older ACK arriving late: newly acks 0 and 1 with lower counts, but
  // does not raise the largest. RFC 9000 §13.4.2.1: must not fail.
  e = {0, 0, 0};
  const AckOutcome o = ack(kApp, {{0, 1}}, 11 * kMs, 0, &e);
  EXPECT_EQ(o.acked, 2u);
  EXPECT_FALSE(ld->ecn_failed());
}

TEST_F(LossDetectorTest, DuplicateAndOldAcksAreHarmless) {
  confirm(0);
  for (std::uint64_t pn = 0; pn < 5; ++pn)
    send(kApp, pn, 0);
  AckOutcome o = ack(kApp, {{0, 4}}, 50 * kMs);
  EXPECT_EQ(o.acked, 5u);
  const Duration srtt = rtt.smoothed_rtt();
  o = ack(kApp, {{0, 4}}, 60 * kMs);
  EXPECT_FALSE(o.error.has_value());
  EXPECT_FALSE(o.newly_acked);
  EXPECT_EQ(o.acked, 0u);
  o = ack(kApp, {{2, 3}}, 70 * kMs);
  EXPECT_FALSE(o.newly_acked);
  EXPECT_EQ(rec.acked.size(), 5u);
  EXPECT_EQ(cc.ack_calls, 1);
  EXPECT_EQ(rtt.smoothed_rtt(), srtt);
  EXPECT_EQ(ld->largest_acked(kApp), 4u);
}

TEST_F(LossDetectorTest, LateAckForLostPacketIsIgnored) {
  confirm(0);
  for (std::uint64_t pn = 0; pn < 5; ++pn)
    send(kApp, pn, 0);
  ack(kApp, {{4, 4}}, 50 * kMs);
  EXPECT_EQ(rec.lost, (Pns{0, 1}));
  const AckOutcome o = ack(kApp, {{4, 4}, {0, 1}}, 60 * kMs);
  EXPECT_FALSE(o.error.has_value());
  EXPECT_FALSE(o.newly_acked);
  EXPECT_EQ(rec.acked, (Pns{4}));
}

TEST_F(LossDetectorTest, NonAckElicitingPacketsDoNotArmPto) {
  confirm(0);
  send(kApp, 0, 0, false, false);
  EXPECT_EQ(ld->timer(), kNever);
  EXPECT_EQ(cc.sent, 0);          // not in flight: not the controller's
  send(kApp, 1, 0, false, true);  // PADDING-only: in flight, not ack-eliciting
  EXPECT_EQ(cc.in_flight, 1200u);
  EXPECT_EQ(ld->bytes_in_flight_ack_eliciting(kApp), 0u);
  EXPECT_EQ(ld->timer(), kNever);
}

TEST_F(LossDetectorTest, LostPmtuProbeIsNoCongestionSignal) {
  confirm(0);
  send(kApp, 0, 0, true, true, 1500, Ecn::kNotEct, /*pmtu_probe=*/true);
  for (std::uint64_t pn = 1; pn < 4; ++pn)
    send(kApp, pn, 0);
  ack(kApp, {{3, 3}}, 50 * kMs);
  EXPECT_EQ(rec.lost, (Pns{0}));
  EXPECT_TRUE(cc.lost.empty());
  EXPECT_EQ(cc.lost_calls, 0);
  EXPECT_EQ(cc.discarded, 1500u);
}

TEST_F(ClientLossDetectorTest, ZeroRttRejected) {
  send(kInit, 0, 0);
  send(kApp, 0, 0);
  send(kApp, 1, kMs);
  send(kApp, 2, kMs, false, false);
  ld->on_zero_rtt_rejected(50 * kMs);
  EXPECT_EQ(rec.lost, (Pns{0, 1, 2}));
  EXPECT_TRUE(cc.lost.empty());
  EXPECT_EQ(cc.discarded, 2400u);
  EXPECT_EQ(ld->outstanding(kApp), 0u);
  EXPECT_EQ(ld->outstanding(kInit), 1u);
  EXPECT_EQ(ld->bytes_in_flight_ack_eliciting(kApp), 0u);
  // 1-RTT packets continue the numbering.
  EXPECT_TRUE(send(kApp, 3, 60 * kMs));
  EXPECT_FALSE(send(kApp, 2, 60 * kMs));
}

TEST_F(ClientLossDetectorTest, Retry) {
  send(kInit, 0, 0);
  send(kApp, 0, 0);
  ld->on_timeout(ld->timer());
  EXPECT_EQ(ld->pto_count(), 1);
  ld->on_retry(2 * kSecond);
  EXPECT_EQ(rec.lost, (Pns{0, 0}));
  EXPECT_EQ(cc.discarded, 2400u);
  EXPECT_EQ(ld->pto_count(), 0);
  EXPECT_EQ(ld->outstanding(kInit), 0u);
  EXPECT_FALSE(rtt.has_sample());
  EXPECT_EQ(rtt.smoothed_rtt(), kInitialRtt);
  EXPECT_TRUE(send(kInit, 1, 2 * kSecond));
  EXPECT_EQ(ld->timer(), 2 * kSecond + 999 * kMs);
}

TEST_F(LossDetectorTest, ForEachOutstanding) {
  confirm(0);
  for (std::uint64_t pn = 0; pn < 4; ++pn)
    send(kApp, pn, 0);
  ack(kApp, {{1, 1}}, 10 * kMs);
  Pns seen;
  ld->for_each_outstanding(kApp, [&](const SentPacket& p) { seen.push_back(p.packet_number); });
  EXPECT_EQ(seen, (Pns{0, 2, 3}));
}

TEST_F(LossDetectorTest, GrowsByDoublingAndEvictsAtMaximum) {
  make(EndpointRole::kServer, 64);
  confirm(0);
  for (std::uint64_t pn = 0; pn < 64; ++pn)
    ASSERT_TRUE(send(kInit, pn, 0));
  EXPECT_EQ(ld->capacity(kInit), 64u);  // handshake_capacity, doubled up to the maximum
  EXPECT_TRUE(rec.lost.empty());
  ASSERT_TRUE(send(kInit, 64, 0));
  EXPECT_EQ(ld->capacity(kInit), 64u);
  EXPECT_EQ(rec.lost, (Pns{0}));
  EXPECT_EQ(cc.discarded, 1200u);
  EXPECT_EQ(ld->outstanding(kInit), 64u);
  const AckOutcome o = ack(kInit, {{1, 64}}, 10 * kMs);
  EXPECT_FALSE(o.error.has_value());
  EXPECT_EQ(o.acked, 64u);
}

TEST_F(LossDetectorTest, ManyPacketsSteadyState) {
  confirm(0);
  std::size_t cap = 0;
  Time now = 0;
  std::uint64_t acked_through = 0;
  constexpr std::uint64_t kPackets = 10000;
  for (std::uint64_t pn = 0; pn < kPackets; ++pn) {
    now += 10 * kMicrosecond;
    ASSERT_TRUE(send(kApp, pn, now));
    // The ring starts small and grows on demand to what the first flights need.
    if (pn == 39) cap = ld->capacity(kApp);
    if (pn % 10 == 9 && pn >= 19) {
      // Cumulative ACK lagging by one flight, with one hole further back.
      const std::uint64_t top = pn - 10;
      const AckOutcome o = ack(kApp, {{top - 4, top}, {0, top - 6}}, now);
      ASSERT_FALSE(o.error.has_value());
      acked_through = top;
    }
  }
  ack(kApp, {{0, kPackets - 1}}, now + kMs);
  EXPECT_GT(acked_through, 9000u);
  EXPECT_EQ(ld->outstanding(kApp), 0u);
  EXPECT_EQ(rec.acked.size() + rec.lost.size(), kPackets);
  EXPECT_EQ(cc.in_flight, 0u);
  // Steady state never needed more records than the first flights did.
  EXPECT_GT(cap, 0u);
  EXPECT_EQ(ld->capacity(kApp), cap);
}

TEST_F(LossDetectorTest, ManyPacketsOneAck) {
  confirm(0);
  constexpr std::uint64_t kPackets = 10000;
  for (std::uint64_t pn = 0; pn < kPackets; ++pn)
    ASSERT_TRUE(send(kApp, pn, static_cast<Time>(pn) * kMicrosecond));
  EXPECT_EQ(ld->outstanding(kApp), kPackets);
  EXPECT_GE(ld->capacity(kApp), kPackets);
  const AckOutcome o = ack(kApp, {{0, kPackets - 1}}, 50 * kMs);
  EXPECT_EQ(o.acked, kPackets);
  EXPECT_EQ(cc.acked.size(), kPackets);
  EXPECT_EQ(cc.ack_calls, 1);
  EXPECT_EQ(ld->outstanding(kApp), 0u);
  EXPECT_EQ(cc.in_flight, 0u);
}

TEST_F(LossDetectorTest, ManySparseRanges) {
  confirm(0);
  constexpr std::uint64_t kPackets = 2000;
  for (std::uint64_t pn = 0; pn < kPackets; ++pn)
    send(kApp, pn, static_cast<Time>(pn) * kMicrosecond);
  std::vector<AckRange> ranges;
  for (std::uint64_t pn = kPackets - 1; pn < kPackets; pn -= 2)
    ranges.push_back({pn, pn});
  const AckOutcome o = ack(kApp, ranges, 50 * kMs);
  ASSERT_FALSE(o.error.has_value());
  EXPECT_EQ(o.acked, kPackets / 2);
  // Every even packet is below the largest by at least the threshold except
  // the last one.
  EXPECT_EQ(o.lost, kPackets / 2 - 1);
  EXPECT_EQ(ld->outstanding(kApp), 1u);
}

// Packet numbers may skip (RFC 9000 §21.4): records are found by number
// whatever the gaps (the O(1) lookup falls back to a search), acknowledged
// exactly, and a range covering a skipped number at or above the oldest
// outstanding record is refused (RFC 9000 §13.1) without changing anything.
TEST_F(LossDetectorTest, SkippedPacketNumbersRandomized) {
  confirm(0);
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> sent;
  std::size_t acked_upto = 0;  // sent[0, acked_upto) acknowledged
  std::uint64_t pn = 0;
  Time now = 0;
  int refused = 0;
  for (int round = 0; round < 400; ++round) {
    const int n = 1 + static_cast<int>(rng() % 20);
    for (int i = 0; i < n; ++i) {
      pn += 1 + (rng() % 4 == 0 ? rng() % 40 : 0);
      ASSERT_TRUE(send(kApp, pn, now));
      sent.push_back(pn);
    }
    now += kMs;
    // A skipped number above the oldest outstanding packet.
    for (std::size_t i = acked_upto; i + 1 < sent.size(); ++i) {
      if (sent[i + 1] == sent[i] + 1) continue;
      const std::size_t before = rec.acked.size();
      AckOutcome o = ack(kApp, {{sent[i] + 1, sent[i] + 1}}, now);
      ASSERT_TRUE(o.error.has_value());
      o = ack(kApp, {{sent[i], sent[i + 1]}}, now);
      ASSERT_TRUE(o.error.has_value());
      ASSERT_EQ(rec.acked.size(), before);
      ++refused;
      break;
    }
    // A valid ACK up to a random packet: one range per run of sent numbers,
    // largest first, starting a little below what is already acknowledged.
    const std::size_t upto =
        acked_upto + 1 + static_cast<std::size_t>(rng() % (sent.size() - acked_upto));
    std::vector<AckRange> ranges;
    for (std::size_t i = upto; i-- > (acked_upto > 3 ? acked_upto - 3 : 0);) {
      if (!ranges.empty() && ranges.back().smallest == sent[i] + 1) {
        ranges.back().smallest = sent[i];
      } else {
        ranges.push_back({sent[i], sent[i]});
      }
    }
    const std::size_t before = rec.acked.size();
    const AckOutcome o = ack(kApp, ranges, now);
    ASSERT_FALSE(o.error.has_value()) << "round " << round;
    ASSERT_EQ(o.acked, upto - acked_upto);
    ASSERT_EQ(o.lost, 0u);
    Pns got(rec.acked.begin() + static_cast<std::ptrdiff_t>(before), rec.acked.end());
    std::sort(got.begin(), got.end());
    ASSERT_EQ(got, Pns(sent.begin() + static_cast<std::ptrdiff_t>(acked_upto),
                       sent.begin() + static_cast<std::ptrdiff_t>(upto)));
    acked_upto = upto;
  }
  EXPECT_GT(refused, 100);
  EXPECT_EQ(ld->outstanding(kApp), sent.size() - acked_upto);
  EXPECT_TRUE(rec.lost.empty());
}

// Keeps a full copy of every packet the detector reports.
class CopyingListener : public LossListener {
 public:
  void on_packet_acked(const SentPacket& p) override { acked.push_back(p); }
  void on_packet_lost(const SentPacket& p) override { lost.push_back(p); }
  std::vector<SentPacket> acked;
  std::vector<SentPacket> lost;
};

// A packet with `frames` frames whose fields all derive from pn.
SentPacket numbered_packet(PacketSpace space, std::uint64_t pn, std::size_t frames) {
  SentPacket p;
  p.packet_number = pn;
  p.space = space;
  p.ack_eliciting = pn % 5 != 0;
  p.in_flight = true;
  p.is_pmtu_probe = pn % 7 == 0;
  p.app_limited = pn % 3 == 0;
  p.sent_bytes = static_cast<std::uint32_t>(100 + pn % 1000);
  p.time_sent = 1;  // replaced by the time of on_packet_sent
  for (std::size_t i = 0; i < frames; ++i)
    p.add({static_cast<SentFrame::Kind>((pn + i) % 19), (pn + i) % 2 == 0, pn * 100 + i,
           pn * 1000 + i, (pn << 20) + i});
  return p;
}

void expect_same_packet(const SentPacket& got, const SentPacket& want, Time sent_at) {
  EXPECT_EQ(got.packet_number, want.packet_number);
  EXPECT_EQ(got.time_sent, sent_at);
  EXPECT_EQ(got.sent_bytes, want.sent_bytes);
  EXPECT_EQ(got.ack_eliciting, want.ack_eliciting);
  EXPECT_EQ(got.in_flight, want.in_flight);
  EXPECT_EQ(got.is_pmtu_probe, want.is_pmtu_probe);
  EXPECT_EQ(got.space, want.space);
  EXPECT_EQ(got.app_limited, want.app_limited);
  ASSERT_EQ(got.frame_count, want.frame_count);
  // Every slot, including those past frame_count (default frames), so that a
  // listener sees what the connection passed in.
  for (std::size_t i = 0; i < SentPacket::kMaxFrames; ++i) {
    EXPECT_EQ(got.frames[i].kind, want.frames[i].kind) << "pn " << want.packet_number << " #" << i;
    EXPECT_EQ(got.frames[i].fin, want.frames[i].fin);
    EXPECT_EQ(got.frames[i].stream_id, want.frames[i].stream_id);
    EXPECT_EQ(got.frames[i].offset, want.frames[i].offset);
    EXPECT_EQ(got.frames[i].length, want.frames[i].length);
  }
}

// Records keep their frames apart from the packet fields: every callback and
// for_each_outstanding must still hand back exactly the SentPacket that was
// sent, through frame-ring growth, wrap-around and eviction. Frame counts
// vary so that a packet with few frames follows one with many.
TEST(LossDetectorFrames, PacketsComeBackAsSent) {
  LossDetectorConfig c;
  c.role = EndpointRole::kServer;
  c.handshake_capacity = 4;
  c.max_capacity = 64;
  RttEstimator rtt;
  FakeCc cc;
  CopyingListener l;
  LossDetector ld(c, rtt, cc, l);
  const auto frames_of = [](std::uint64_t pn) {
    return static_cast<std::size_t>((pn * 7) % (SentPacket::kMaxFrames + 1));
  };
  const auto sent_at = [](std::uint64_t pn) { return static_cast<Time>(pn) * kMicrosecond + 5; };
  std::uint64_t pn = 0;
  for (int round = 0; round < 40; ++round) {
    const std::uint64_t first = pn;
    const std::uint64_t count = 1 + static_cast<std::uint64_t>(round) % 30;
    for (std::uint64_t i = 0; i < count; ++i, ++pn)
      ASSERT_TRUE(
          ld.on_packet_sent(numbered_packet(kHs, pn, frames_of(pn)), sent_at(pn), Ecn::kNotEct));
    // Outstanding packets, oldest first, as sent.
    std::vector<SentPacket> seen;
    ld.for_each_outstanding(kHs, [&](const SentPacket& p) { seen.push_back(p); });
    ASSERT_EQ(seen.size(), ld.outstanding(kHs));
    ASSERT_GE(seen.size(), count);
    EXPECT_EQ(seen.back().packet_number, pn - 1);
    for (const SentPacket& p : seen)
      expect_same_packet(p, numbered_packet(kHs, p.packet_number, frames_of(p.packet_number)),
                         sent_at(p.packet_number));
    // Acknowledge all but the first of this round, which the packet
    // threshold then declares lost (when the round has four or more).
    std::vector<AckRange> r;
    if (count > 1) r.push_back({first + 1, pn - 1});
    if (!r.empty()) {
      std::array<std::uint8_t, 64> buf{};
      Writer w(buf);
      ASSERT_TRUE(encode_ack(r, 0, nullptr, w));
      Reader rd(ByteSpan(buf.data(), w.written()));
      Frame f;
      ASSERT_EQ(decode_frame(rd, &f), TransportError::kNoError);
      const AckOutcome o =
          ld.on_ack_received(kHs, std::get<AckFrame>(f), 0, sent_at(pn) + kMillisecond);
      ASSERT_FALSE(o.error.has_value());
    }
  }
  // Every report, acknowledged or lost (including any evicted), is exact.
  ASSERT_FALSE(l.acked.empty());
  ASSERT_FALSE(l.lost.empty());
  for (const auto* v : {&l.acked, &l.lost}) {
    for (const SentPacket& p : *v)
      expect_same_packet(p, numbered_packet(kHs, p.packet_number, frames_of(p.packet_number)),
                         sent_at(p.packet_number));
  }
  // Everything reported once: acked + lost + outstanding = sent.
  EXPECT_EQ(l.acked.size() + l.lost.size() + ld.outstanding(kHs), pn);
}

// At max_capacity the oldest record is given up as lost: its frames too.
TEST(LossDetectorFrames, EvictedPacketIsReportedWithItsFrames) {
  LossDetectorConfig c;
  c.role = EndpointRole::kServer;
  c.handshake_capacity = 4;
  c.max_capacity = 8;
  RttEstimator rtt;
  FakeCc cc;
  CopyingListener l;
  LossDetector ld(c, rtt, cc, l);
  for (std::uint64_t pn = 0; pn < 10; ++pn)
    ASSERT_TRUE(ld.on_packet_sent(numbered_packet(kInit, pn, SentPacket::kMaxFrames), 9));
  EXPECT_EQ(ld.capacity(kInit), 8u);
  ASSERT_EQ(l.lost.size(), 2u);
  expect_same_packet(l.lost[0], numbered_packet(kInit, 0, SentPacket::kMaxFrames), 9);
  expect_same_packet(l.lost[1], numbered_packet(kInit, 1, SentPacket::kMaxFrames), 9);
  std::vector<std::uint64_t> left;
  ld.for_each_outstanding(kInit, [&](const SentPacket& p) {
    expect_same_packet(p, numbered_packet(kInit, p.packet_number, SentPacket::kMaxFrames), 9);
    left.push_back(p.packet_number);
  });
  EXPECT_EQ(left, (Pns{2, 3, 4, 5, 6, 7, 8, 9}));
}

// RFC 9000 §9.4: after a path change, packets sent on the old path are
// still acknowledged and declared lost for the connection, but feed neither
// the new controller nor the RTT estimator, which restarts.
TEST_F(LossDetectorTest, PathChangeKeepsOldPacketsOutOfTheNewController) {
  confirm(0);
  for (std::uint64_t pn = 0; pn < 6; ++pn)
    ASSERT_TRUE(send(kApp, pn, pn * kMs));
  ASSERT_FALSE(ack(kApp, {{0, 0}}, 30 * kMs).error);
  EXPECT_TRUE(rtt.has_sample());
  FakeCc fresh;
  ld->on_path_change(fresh, 31 * kMs);
  EXPECT_FALSE(rtt.has_sample());
  EXPECT_EQ(rtt.smoothed_rtt(), kInitialRtt);
  ASSERT_TRUE(send(kApp, 6, 32 * kMs));
  ASSERT_TRUE(send(kApp, 7, 33 * kMs));
  EXPECT_EQ(fresh.in_flight, 2400u);
  // Old packet 1 acknowledged: the listener hears it, the new controller
  // does not, and no RTT sample is taken from it.
  const AckOutcome a = ack(kApp, {{1, 1}}, 60 * kMs);
  EXPECT_FALSE(a.error);
  EXPECT_FALSE(a.rtt_sampled);
  EXPECT_TRUE(std::find(rec.acked.begin(), rec.acked.end(), 1u) != rec.acked.end());
  EXPECT_TRUE(fresh.acked.empty());
  // New packets 6 and 7 acknowledged: old 2..5 are lost by the packet
  // threshold; they are retransmitted (listener) without a congestion
  // signal on the new path, and 6/7 give the first sample.
  const AckOutcome b = ack(kApp, {{6, 7}}, 80 * kMs);
  EXPECT_TRUE(b.rtt_sampled);
  EXPECT_EQ(fresh.acked, (Pns{6, 7}));
  EXPECT_EQ(fresh.lost_calls, 0);
  EXPECT_EQ(rec.lost, (Pns{2, 3, 4, 5}));
  EXPECT_EQ(fresh.in_flight, 0u);
  EXPECT_EQ(fresh.discarded, 0u);
}

// Discarding the application space after a path change takes only the new
// path's bytes out of the new controller.
TEST_F(LossDetectorTest, PathChangeThenAbandonCountsOnlyNewBytes) {
  confirm(0);
  ASSERT_TRUE(send(kApp, 0, 0));
  ASSERT_TRUE(send(kApp, 1, kMs));
  FakeCc fresh;
  ld->on_path_change(fresh, 2 * kMs);
  ASSERT_TRUE(send(kApp, 2, 3 * kMs, true, true, 500));
  ld->discard_space(kApp, 4 * kMs);
  EXPECT_EQ(fresh.discarded, 500u);
  EXPECT_EQ(fresh.in_flight, 0u);
}

}  // namespace
}  // namespace dquic

// RFC 9000 §13.4.2, A.4: the feedback ECN validation runs on.
namespace dquic {
namespace {

TEST_F(LossDetectorTest, EcnFeedbackCountsValidatedMarkedPackets) {
  confirm(0);
  for (std::uint64_t pn = 0; pn < 3; ++pn)
    send(kApp, pn, 0, true, true, 1200, pn == 1 ? Ecn::kNotEct : Ecn::kEct0);
  EcnCounts e{2, 0, 0};
  ack(kApp, {{0, 2}}, 10 * kMs, 0, &e);
  EXPECT_EQ(ld->ecn_feedback().acked, 2u);  // the unmarked one does not count
  EXPECT_EQ(ld->ecn_feedback().lost, 0u);
  EXPECT_FALSE(ld->ecn_feedback().failed);
  EXPECT_EQ(ld->ecn_ce_reported(), 0u);
}

TEST_F(LossDetectorTest, EcnFeedbackNotCountedWhenCountsFail) {
  for (std::uint64_t pn = 0; pn < 3; ++pn)
    send(kApp, pn, 0, true, true, 1200, Ecn::kEct0);
  EcnCounts e{0, 3, 0};  // remarked to ECT(1)
  ack(kApp, {{0, 2}}, 10 * kMs, 0, &e);
  EXPECT_TRUE(ld->ecn_feedback().failed);
  EXPECT_EQ(ld->ecn_feedback().acked, 0u);
}

TEST_F(LossDetectorTest, EcnFeedbackCountsLostMarkedPackets) {
  confirm(0);
  for (std::uint64_t pn = 0; pn < 10; ++pn)
    send(kApp, pn, 0, true, true, 1200, Ecn::kEct0);
  for (std::uint64_t pn = 10; pn < 14; ++pn)
    send(kApp, pn, kMs);
  // Only unmarked packets arrive: the ten marked ones are lost (§6.1.1).
  const AckOutcome o = ack(kApp, {{10, 13}}, 20 * kMs);
  EXPECT_EQ(o.lost, 10u);
  EXPECT_EQ(ld->ecn_feedback().lost, 10u);
  EXPECT_EQ(ld->ecn_feedback().acked, 0u);
  EXPECT_FALSE(ld->ecn_feedback().failed);  // no marked packet acknowledged
  // Fed to the A.4 state machine past its testing period: failed.
  EcnValidator v;
  v.on_sent(Ecn::kEct0, kEcnTestingPackets, 0, kSecond);
  ASSERT_EQ(v.state(), EcnState::kUnknown);
  EXPECT_TRUE(v.on_feedback(ld->ecn_feedback()));
  EXPECT_EQ(v.state(), EcnState::kFailed);
}

TEST_F(LossDetectorTest, EcnCeIsCountedOverTheConnection) {
  confirm(0);
  for (std::uint64_t pn = 0; pn < 4; ++pn)
    send(kApp, pn, 0, true, true, 1200, Ecn::kEct0);
  EcnCounts e{1, 0, 1};
  ack(kApp, {{0, 1}}, 10 * kMs, 0, &e);
  e = {1, 0, 3};
  ack(kApp, {{0, 3}}, 20 * kMs, 0, &e);
  EXPECT_EQ(ld->ecn_ce_reported(), 3u);
  EXPECT_EQ(ld->ecn_feedback().acked, 4u);
  EXPECT_FALSE(ld->ecn_failed());
}

// A new path: failure and counts restart; application packets sent before
// count for neither (they went on the old path).
TEST_F(LossDetectorTest, EcnRestartForgetsTheOldPath) {
  confirm(0);
  for (std::uint64_t pn = 0; pn < 2; ++pn)
    send(kApp, pn, 0, true, true, 1200, Ecn::kEct0);
  ack(kApp, {{0, 0}}, 10 * kMs);  // marked, acknowledged without counts
  ASSERT_TRUE(ld->ecn_failed());
  ld->restart_ecn_validation();
  EXPECT_FALSE(ld->ecn_failed());
  EXPECT_EQ(ld->ecn_feedback().acked, 0u);
  send(kApp, 2, 20 * kMs, true, true, 1200, Ecn::kEct0);
  EcnCounts e{2, 0, 0};
  ack(kApp, {{0, 2}}, 30 * kMs, 0, &e);
  EXPECT_FALSE(ld->ecn_failed());
  EXPECT_EQ(ld->ecn_feedback().acked, 1u);  // packet 2 only, not packet 1
}

}  // namespace
}  // namespace dquic
