// SendBuffer: application data held by reference until acknowledged, with
// retransmission of lost ranges first. Every test checks that the mbuf pools
// return to zero in use and that external release callbacks ran exactly once.
// Runs under tests/dpdk_test_main.cc (EAL without hugepages).
#include "quic/send_buffer.h"

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace dquic {
namespace {

std::uint8_t stream_byte(std::uint64_t offset) {
  return static_cast<std::uint8_t>((offset * 167 + 3) ^ (offset >> 8));
}

// Records each release of an external chunk.
struct Releases {
  std::vector<std::pair<const std::uint8_t*, std::size_t>> calls;
  static void release(void* ctx, const std::uint8_t* data, std::size_t length) {
    static_cast<Releases*>(ctx)->calls.emplace_back(data, length);
  }
};

class SendBufferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int seq = 0;
    const std::string tag = std::to_string(seq++);
    // No per-lcore cache, so rte_mempool_in_use_count is exact.
    app_pool_ =
        rte_pktmbuf_pool_create(("sb_app" + tag).c_str(), 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                static_cast<int>(rte_socket_id()));
    ASSERT_NE(app_pool_, nullptr) << rte_strerror(rte_errno);
    copy_pool_ =
        rte_pktmbuf_pool_create(("sb_copy" + tag).c_str(), 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                static_cast<int>(rte_socket_id()));
    ASSERT_NE(copy_pool_, nullptr) << rte_strerror(rte_errno);
    reference_.resize(1 << 20);
    for (std::size_t i = 0; i < reference_.size(); ++i)
      reference_[i] = stream_byte(i);
  }
  void TearDown() override {
    if (app_pool_ != nullptr) {
      EXPECT_EQ(rte_mempool_in_use_count(app_pool_), 0u) << "leaked application mbufs";
      rte_mempool_free(app_pool_);
    }
    if (copy_pool_ != nullptr) {
      EXPECT_EQ(rte_mempool_in_use_count(copy_pool_), 0u) << "leaked copy mbufs";
      rte_mempool_free(copy_pool_);
    }
  }

  SendBufferConfig config(std::size_t max_chunks = 64) const {
    SendBufferConfig c;
    c.max_chunks = max_chunks;
    c.copy_pool = copy_pool_;
    return c;
  }
  // An application mbuf holding stream bytes [offset, offset + len) after a
  // 16-byte prefix of its own.
  rte_mbuf* app_mbuf(std::uint64_t offset, std::size_t len) {
    rte_mbuf* m = rte_pktmbuf_alloc(app_pool_);
    EXPECT_NE(m, nullptr);
    if (m == nullptr) return nullptr;
    auto* p = reinterpret_cast<std::uint8_t*>(
        rte_pktmbuf_append(m, static_cast<std::uint16_t>(16 + len)));
    EXPECT_NE(p, nullptr);
    std::memset(p, 0xaa, 16);
    std::memcpy(p + 16, reference_.data() + offset, len);
    return m;
  }
  static const std::uint8_t* body(rte_mbuf* m) {
    return rte_pktmbuf_mtod(m, const std::uint8_t*) + 16;
  }
  // Appends by reference and drops the application's own reference.
  bool append_mbuf(SendBuffer& b, std::size_t len) {
    rte_mbuf* m = app_mbuf(b.write_offset(), len);
    if (m == nullptr) return false;
    const bool ok = b.append(body(m), len, m);
    rte_pktmbuf_free(m);
    return ok;
  }
  // Sends the next range the buffer offers and checks its bytes.
  SendRange send_next(SendBuffer& b, std::size_t max_len) {
    const std::optional<SendRange> r = b.next_to_send(max_len);
    EXPECT_TRUE(r.has_value());
    if (!r) return {};
    std::vector<std::uint8_t> bytes(r->length);
    EXPECT_TRUE(b.copy_out(r->offset, r->length, bytes.data()));
    EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(),
                           reference_.begin() + static_cast<std::ptrdiff_t>(r->offset)));
    EXPECT_TRUE(b.on_sent(r->offset, r->length, r->fin));
    return *r;
  }

  rte_mempool* app_pool_ = nullptr;
  rte_mempool* copy_pool_ = nullptr;
  std::vector<std::uint8_t> reference_;
};

TEST_F(SendBufferTest, GatherPointsIntoTheApplicationsMbufsAcrossChunks) {
  SendBuffer b(config());
  rte_mbuf* m[3];
  for (int i = 0; i < 3; ++i) {
    m[i] = app_mbuf(b.write_offset(), 100);
    ASSERT_TRUE(b.append(body(m[i]), 100, m[i]));
    EXPECT_EQ(rte_mbuf_refcnt_read(m[i]), 2);
  }
  EXPECT_EQ(b.buffered_bytes(), 300u);
  EXPECT_EQ(b.free_chunks(), 61u);
  DataSegment segs[3];
  const std::optional<std::size_t> n = b.gather(50, 200, segs);
  ASSERT_EQ(n, 3u);
  EXPECT_EQ(segs[0].data, body(m[0]) + 50);
  EXPECT_EQ(segs[0].length, 50u);
  EXPECT_EQ(segs[1].data, body(m[1]));
  EXPECT_EQ(segs[1].length, 100u);
  EXPECT_EQ(segs[2].data, body(m[2]));
  EXPECT_EQ(segs[2].length, 50u);
  // Too few output slots, a range not held, an empty range.
  DataSegment two[2];
  EXPECT_FALSE(b.gather(50, 200, two).has_value());
  EXPECT_FALSE(b.gather(250, 51, segs).has_value());
  EXPECT_FALSE(b.gather(301, 1, segs).has_value());
  EXPECT_EQ(b.gather(10, 0, segs), 0u);
  std::uint8_t out[300];
  ASSERT_TRUE(b.copy_out(0, 300, out));
  EXPECT_EQ(0, std::memcmp(out, reference_.data(), 300));
  EXPECT_FALSE(b.copy_out(200, 101, out));

  for (rte_mbuf* x : m)
    rte_pktmbuf_free(x);
  EXPECT_EQ(rte_mempool_in_use_count(app_pool_), 3u);  // ours keep them
  EXPECT_EQ(send_next(b, 1000), (SendRange{0, 300, false}));
  b.on_acked(0, 300, false);
  EXPECT_EQ(rte_mempool_in_use_count(app_pool_), 0u);
  EXPECT_EQ(b.buffered_bytes(), 0u);
  EXPECT_FALSE(b.gather(0, 1, segs).has_value());  // released
}

TEST_F(SendBufferTest, AppendRejectsDataOutsideTheOwner) {
  SendBuffer b(config());
  rte_mbuf* m = app_mbuf(0, 100);
  rte_mbuf* other = app_mbuf(0, 100);
  EXPECT_FALSE(b.append(body(other), 100, m));
  EXPECT_FALSE(b.append(body(m), 101, m));
  EXPECT_FALSE(b.append(body(m), 10, nullptr));
  EXPECT_TRUE(b.append(body(m), 0, m));  // nothing to hold
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
  EXPECT_EQ(b.write_offset(), 0u);
  rte_pktmbuf_free(m);
  rte_pktmbuf_free(other);
}

TEST_F(SendBufferTest, ReferenceIsOnTheSegmentHoldingTheData) {
  SendBuffer b(config());
  rte_mbuf* head = rte_pktmbuf_alloc(app_pool_);
  ASSERT_NE(head, nullptr);
  ASSERT_NE(rte_pktmbuf_append(head, 10), nullptr);
  rte_mbuf* tail = app_mbuf(0, 100);
  ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
  ASSERT_TRUE(b.append(body(tail), 100, head));
  EXPECT_EQ(rte_mbuf_refcnt_read(head), 1);
  EXPECT_EQ(rte_mbuf_refcnt_read(tail), 2);
  rte_pktmbuf_free(head);
  EXPECT_EQ(rte_mempool_in_use_count(app_pool_), 1u);
  EXPECT_EQ(send_next(b, 1000), (SendRange{0, 100, false}));
  b.on_acked(0, 100, false);
  EXPECT_EQ(rte_mempool_in_use_count(app_pool_), 0u);
}

TEST_F(SendBufferTest, NewDataGoesOutInOrder) {
  SendBuffer b(config());
  ASSERT_TRUE(append_mbuf(b, 1000));
  EXPECT_EQ(b.unsent_bytes(), 1000u);
  EXPECT_EQ(send_next(b, 400), (SendRange{0, 400, false}));
  EXPECT_EQ(send_next(b, 400), (SendRange{400, 400, false}));
  EXPECT_EQ(send_next(b, 400), (SendRange{800, 200, false}));
  EXPECT_EQ(b.unsent_bytes(), 0u);
  EXPECT_FALSE(b.next_to_send(400).has_value());
  EXPECT_FALSE(b.next_to_send(0).has_value());
  b.on_acked(0, 1000, false);
  EXPECT_EQ(b.acked_prefix(), 1000u);
}

TEST_F(SendBufferTest, LostDataGoesBeforeNewData) {
  SendBuffer b(config());
  ASSERT_TRUE(append_mbuf(b, 1000));
  send_next(b, 300);  // [0, 300)
  send_next(b, 300);  // [300, 600)
  b.on_lost(100, 100, false);
  b.on_lost(400, 50, false);
  EXPECT_TRUE(b.has_lost());
  EXPECT_EQ(send_next(b, 1000), (SendRange{100, 100, false}));
  EXPECT_EQ(send_next(b, 30), (SendRange{400, 30, false}));  // split by max_len
  EXPECT_EQ(send_next(b, 30), (SendRange{430, 20, false}));
  EXPECT_FALSE(b.has_lost());
  EXPECT_EQ(send_next(b, 1000), (SendRange{600, 400, false}));
  b.on_acked(0, 1000, false);
  EXPECT_EQ(b.buffered_bytes(), 0u);
}

TEST_F(SendBufferTest, LostBytesAlreadyAcknowledgedAreNotResent) {
  SendBuffer b(config());
  ASSERT_TRUE(append_mbuf(b, 1000));
  send_next(b, 1000);
  b.on_acked(300, 100, false);
  b.on_lost(300, 100, false);  // spurious: acknowledged through another packet
  EXPECT_FALSE(b.has_lost());
  b.on_lost(200, 400, false);  // [200, 600) with [300, 400) acknowledged
  EXPECT_EQ(send_next(b, 1000), (SendRange{200, 100, false}));
  EXPECT_EQ(send_next(b, 1000), (SendRange{400, 200, false}));
  EXPECT_FALSE(b.next_to_send(1000).has_value());
  // A late ACK of the original packet after the loss: the queued bytes go.
  b.on_lost(700, 100, false);
  b.on_acked(700, 100, false);
  EXPECT_FALSE(b.has_lost());
  EXPECT_FALSE(b.next_to_send(1000).has_value());
  // Below the acknowledged prefix: ignored.
  b.on_acked(0, 1000, false);
  b.on_lost(0, 1000, false);
  EXPECT_FALSE(b.has_lost());
}

TEST_F(SendBufferTest, RetransmittingTheMiddleOfALostRangeKeepsBothEnds) {
  SendBuffer b(config());
  ASSERT_TRUE(append_mbuf(b, 300));
  send_next(b, 300);
  b.on_lost(0, 300, false);
  // The builder may send any part; the rest stays queued.
  ASSERT_TRUE(b.on_sent(100, 100, false));
  EXPECT_EQ(send_next(b, 1000), (SendRange{0, 100, false}));
  EXPECT_EQ(send_next(b, 1000), (SendRange{200, 100, false}));
  EXPECT_FALSE(b.next_to_send(1000).has_value());
  b.on_acked(0, 300, false);
}

TEST_F(SendBufferTest, PartialAcksReleaseWholeChunksFromTheFrontInOrder) {
  SendBuffer b(config());
  Releases rel;
  std::vector<std::uint8_t> data(400);
  std::memcpy(data.data(), reference_.data(), 400);
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(b.append_external(data.data() + i * 100, 100, Releases::release, &rel));
  send_next(b, 400);
  b.on_acked(250, 100, false);  // the end of chunk 2, the start of chunk 3
  EXPECT_TRUE(rel.calls.empty());
  b.on_acked(0, 50, false);  // part of chunk 0
  EXPECT_TRUE(rel.calls.empty());
  EXPECT_EQ(b.acked_prefix(), 50u);
  b.on_acked(50, 200, false);  // prefix reaches 350: chunks 0, 1, 2
  EXPECT_EQ(b.acked_prefix(), 350u);
  ASSERT_EQ(rel.calls.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rel.calls[i].first, data.data() + i * 100);  // front first
    EXPECT_EQ(rel.calls[i].second, 100u);
  }
  EXPECT_EQ(b.buffered_bytes(), 100u);
  b.on_acked(350, 50, false);
  ASSERT_EQ(rel.calls.size(), 4u);
  EXPECT_EQ(rel.calls[3].first, data.data() + 300);
  b.on_acked(0, 400, false);  // duplicate ACK
  EXPECT_EQ(rel.calls.size(), 4u);
}

TEST_F(SendBufferTest, ExternalReleaseRunsExactlyOnceOnResetAndDestruction) {
  Releases a, b2, c;
  const std::uint8_t* bytes = reference_.data();
  {
    SendBuffer b(config());
    ASSERT_TRUE(b.append_external(bytes, 100, Releases::release, &a));
    ASSERT_TRUE(b.append_external(bytes, 0, Releases::release, &c));  // empty: released now
    EXPECT_EQ(c.calls.size(), 1u);
    EXPECT_FALSE(b.append_external(bytes, 10, nullptr, &c));
    send_next(b, 50);
    b.reset();
    EXPECT_EQ(a.calls.size(), 1u);
    b.on_acked(0, 50, false);
    EXPECT_EQ(a.calls.size(), 1u);
    // Nothing is accepted or offered after reset.
    EXPECT_FALSE(b.append_external(bytes, 10, Releases::release, &b2));
    EXPECT_FALSE(append_mbuf(b, 10));
    EXPECT_EQ(b.append_copy(std::span<const std::uint8_t>(bytes, 10)), 0u);
    EXPECT_FALSE(b.next_to_send(100).has_value());
    EXPECT_FALSE(b.on_sent(0, 10, false));
  }
  EXPECT_EQ(a.calls.size(), 1u);
  EXPECT_TRUE(b2.calls.empty());
  {
    SendBuffer b(config());
    ASSERT_TRUE(b.append_external(bytes, 100, Releases::release, &b2));
    ASSERT_TRUE(append_mbuf(b, 10));
    EXPECT_EQ(b.append_copy(std::span<const std::uint8_t>(bytes, 10)), 10u);
  }  // destructor
  EXPECT_EQ(b2.calls.size(), 1u);
  EXPECT_EQ(c.calls.size(), 1u);
}

TEST_F(SendBufferTest, FinRidesOnTheLastDataOrAlone) {
  SendBuffer b(config());
  ASSERT_TRUE(append_mbuf(b, 100));
  ASSERT_TRUE(b.finish());
  EXPECT_FALSE(b.finish());
  EXPECT_FALSE(append_mbuf(b, 10));
  EXPECT_EQ(b.append_copy(std::span<const std::uint8_t>(reference_.data(), 10)), 0u);
  EXPECT_EQ(send_next(b, 60), (SendRange{0, 60, false}));
  EXPECT_EQ(send_next(b, 60), (SendRange{60, 40, true}));
  EXPECT_FALSE(b.next_to_send(60).has_value());
  // Data and FIN lost together: retransmitted together.
  b.on_lost(60, 40, true);
  EXPECT_EQ(send_next(b, 100), (SendRange{60, 40, true}));
  // Only the FIN lost (its data acknowledged elsewhere): a FIN-only frame.
  b.on_acked(0, 100, false);
  b.on_lost(60, 40, true);
  EXPECT_EQ(send_next(b, 100), (SendRange{100, 0, true}));
  EXPECT_FALSE(b.all_acked());
  b.on_acked(100, 0, true);
  EXPECT_TRUE(b.all_acked());
  EXPECT_FALSE(b.next_to_send(100).has_value());
  b.on_lost(100, 0, true);  // a late loss of an acknowledged FIN
  EXPECT_FALSE(b.next_to_send(100).has_value());
}

TEST_F(SendBufferTest, FinAfterAllDataWasSentGoesAlone) {
  SendBuffer b(config());
  ASSERT_TRUE(append_mbuf(b, 100));
  send_next(b, 100);
  EXPECT_FALSE(b.next_to_send(100).has_value());
  ASSERT_TRUE(b.finish());
  EXPECT_EQ(b.next_to_send(0), (SendRange{100, 0, true}));  // fits any packet
  EXPECT_FALSE(b.on_sent(50, 40, true));                    // FIN only at the final size
  EXPECT_FALSE(b.on_sent(0, 101, false));                   // beyond the data
  EXPECT_FALSE(b.on_sent(101, 0, true));
  EXPECT_EQ(send_next(b, 100), (SendRange{100, 0, true}));
  b.on_acked(0, 100, true);
  EXPECT_TRUE(b.all_acked());
  EXPECT_EQ(b.buffered_bytes(), 0u);
}

TEST_F(SendBufferTest, EmptyStreamWithFin) {
  SendBuffer b(config());
  ASSERT_TRUE(b.finish());
  EXPECT_EQ(send_next(b, 100), (SendRange{0, 0, true}));
  b.on_lost(0, 0, true);
  EXPECT_EQ(send_next(b, 100), (SendRange{0, 0, true}));
  b.on_acked(0, 0, true);
  EXPECT_TRUE(b.all_acked());
}

TEST_F(SendBufferTest, OnSentRejectsRangesThatSkipUnsentBytes) {
  SendBuffer b(config());
  ASSERT_TRUE(append_mbuf(b, 100));
  EXPECT_FALSE(b.on_sent(10, 10, false));  // [0, 10) never sent
  EXPECT_FALSE(b.on_sent(0, 10, true));    // no FIN set
  EXPECT_TRUE(b.on_sent(0, 10, false));
  EXPECT_TRUE(b.on_sent(10, 10, false));
  EXPECT_EQ(b.unsent_bytes(), 80u);
  b.on_acked(0, 500, false);  // clipped to what was sent
  EXPECT_EQ(b.acked_prefix(), 20u);
  send_next(b, 100);
  b.on_acked(0, 100, false);
}

TEST_F(SendBufferTest, AppendCopySharesMbufsAndStopsWhenFull) {
  SendBuffer b(config(3));
  // Many small writes share one mbuf.
  for (int i = 0; i < 20; ++i)
    ASSERT_EQ(b.append_copy(std::span(reference_).subspan(b.write_offset(), 50)), 50u);
  EXPECT_EQ(b.free_chunks(), 2u);
  EXPECT_EQ(rte_mempool_in_use_count(copy_pool_), 1u);
  // A large write spans mbufs until the ring is full: partial acceptance.
  const std::size_t took = b.append_copy(std::span(reference_).subspan(1000, 10000));
  EXPECT_GT(took, 2000u);
  EXPECT_LT(took, 10000u);
  EXPECT_EQ(b.free_chunks(), 0u);
  EXPECT_EQ(rte_mempool_in_use_count(copy_pool_), 3u);
  EXPECT_EQ(b.append_copy(std::span(reference_).subspan(1000 + took, 10)), 0u);
  EXPECT_FALSE(append_mbuf(b, 10));
  const std::uint64_t total = b.write_offset();
  EXPECT_EQ(total, 1000 + took);
  std::vector<std::uint8_t> out(total);
  ASSERT_TRUE(b.copy_out(0, total, out.data()));
  EXPECT_EQ(0, std::memcmp(out.data(), reference_.data(), total));
  DataSegment segs[3];
  ASSERT_EQ(b.gather(0, total, segs), 3u);
  while (b.next_to_send(1200))
    send_next(b, 1200);
  b.on_acked(0, total, false);
  EXPECT_EQ(rte_mempool_in_use_count(copy_pool_), 0u);
  EXPECT_EQ(b.free_chunks(), 3u);
}

TEST_F(SendBufferTest, AppendCopyStopsWhenThePoolIsEmpty) {
  rte_mempool* tiny = rte_pktmbuf_pool_create("sb_tiny", 1, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              static_cast<int>(rte_socket_id()));
  ASSERT_NE(tiny, nullptr) << rte_strerror(rte_errno);
  {
    SendBufferConfig c = config();
    c.copy_pool = tiny;
    SendBuffer b(c);
    const std::size_t took = b.append_copy(std::span(reference_).first(5000));
    EXPECT_EQ(took, RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM);
    EXPECT_EQ(b.free_chunks(), 63u);
  }
  EXPECT_EQ(rte_mempool_in_use_count(tiny), 0u);
  rte_mempool_free(tiny);
  SendBufferConfig none = config();
  none.copy_pool = nullptr;
  SendBuffer b(none);
  EXPECT_EQ(b.append_copy(std::span(reference_).first(10)), 0u);
}

TEST_F(SendBufferTest, FullAckRangesFallBackToRetransmission) {
  SendBufferConfig c = config();
  c.max_acked_ranges = 2;
  SendBuffer b(c);
  ASSERT_TRUE(append_mbuf(b, 1000));
  send_next(b, 1000);
  b.on_acked(100, 10, false);
  b.on_acked(300, 10, false);
  EXPECT_FALSE(b.has_lost());
  b.on_acked(500, 10, false);  // a third disjoint range: no room
  EXPECT_TRUE(b.has_lost());
  EXPECT_EQ(send_next(b, 1000), (SendRange{500, 10, false}));
  b.on_acked(310, 10, false);  // adjacent to a known range: room enough
  EXPECT_FALSE(b.has_lost());
  // Everything eventually acknowledged: the prefix gets through.
  b.on_acked(0, 1000, false);
  EXPECT_EQ(b.acked_prefix(), 1000u);
  EXPECT_EQ(b.buffered_bytes(), 0u);
}

TEST_F(SendBufferTest, FullLostRangesWidenInsteadOfForgetting) {
  SendBufferConfig c = config();
  c.max_lost_ranges = 2;
  SendBuffer b(c);
  ASSERT_TRUE(append_mbuf(b, 1000));
  send_next(b, 1000);
  b.on_lost(0, 10, false);
  b.on_lost(100, 10, false);
  b.on_lost(900, 10, false);  // nearest is [100, 110): widened to [100, 910)
  b.on_lost(50, 10, false);   // nearest is [0, 10): widened to [0, 60)
  std::vector<bool> resent(1000, false);
  while (std::optional<SendRange> r = b.next_to_send(1000)) {
    ASSERT_TRUE(b.on_sent(r->offset, r->length, r->fin));
    for (std::uint64_t i = r->offset; i < r->offset + r->length; ++i)
      resent[i] = true;
  }
  for (std::uint64_t lost : {0, 9, 50, 59, 100, 109, 900, 909})
    EXPECT_TRUE(resent[lost]) << lost;
  EXPECT_FALSE(resent[950]);
  // A split that does not fit keeps the range whole.
  b.on_lost(0, 300, false);
  b.on_lost(600, 100, false);
  ASSERT_TRUE(b.on_sent(100, 100, false));
  EXPECT_EQ(send_next(b, 1000), (SendRange{0, 300, false}));
  EXPECT_EQ(send_next(b, 1000), (SendRange{600, 100, false}));
  b.on_acked(0, 1000, false);
}

// Random interleavings of send, loss and acknowledgement against a model:
// every byte and the FIN end up acknowledged, every range offered holds the
// right bytes, and every chunk is released exactly once, front first.
TEST_F(SendBufferTest, RandomSendLossAckConverges) {
  std::mt19937_64 rng(0xc0ffee);
  std::uint64_t losses = 0, retransmitted_bytes = 0;
  for (int iter = 0; iter < 200; ++iter) {
    SendBufferConfig c = config(16);
    c.max_acked_ranges = 1 + rng() % 6;
    c.max_lost_ranges = 1 + rng() % 6;
    Releases rel;
    std::size_t external_chunks = 0;
    {
      SendBuffer b(c);
      struct InFlight {
        SendRange r;
      };
      std::vector<InFlight> flight;
      const std::uint64_t total = 1 + rng() % 30000;
      int steps = 0;
      while (!b.all_acked()) {
        ASSERT_LT(++steps, 100000) << "iter " << iter << " did not converge";
        // The application writes while it has room.
        if (b.write_offset() < total && !b.fin_set()) {
          const std::size_t len = static_cast<std::size_t>(
              std::min<std::uint64_t>(total - b.write_offset(), 1 + rng() % 3000));
          const int kind = static_cast<int>(rng() % 3);
          if (kind == 0 && len <= 2000) {
            append_mbuf(b, len);
          } else if (kind == 1) {
            if (b.append_external(reference_.data() + b.write_offset(), len, Releases::release,
                                  &rel))
              ++external_chunks;
          } else {
            b.append_copy(std::span(reference_).subspan(b.write_offset(), len));
          }
          if (b.write_offset() == total) {
            ASSERT_TRUE(b.finish());
          }
        }
        const int action = static_cast<int>(rng() % 4);
        if (action <= 1) {
          if (std::optional<SendRange> r = b.next_to_send(1 + rng() % 1500)) {
            ASSERT_LE(r->offset + r->length, b.write_offset());
            DataSegment segs[8];
            const std::optional<std::size_t> n = b.gather(r->offset, r->length, segs);
            ASSERT_TRUE(n.has_value());
            std::uint64_t pos = r->offset;
            for (std::size_t i = 0; i < *n; ++i) {
              ASSERT_EQ(0, std::memcmp(segs[i].data, reference_.data() + pos, segs[i].length));
              pos += segs[i].length;
            }
            ASSERT_EQ(pos, r->offset + r->length);
            if (r->offset < b.write_offset() - b.unsent_bytes()) retransmitted_bytes += r->length;
            ASSERT_TRUE(b.on_sent(r->offset, r->length, r->fin));
            flight.push_back({*r});
          }
        } else if (!flight.empty()) {
          const std::size_t i = rng() % flight.size();
          const SendRange r = flight[i].r;
          flight.erase(flight.begin() + static_cast<std::ptrdiff_t>(i));
          if (action == 2)
            b.on_acked(r.offset, r.length, r.fin);
          else {
            b.on_lost(r.offset, r.length, r.fin);
            ++losses;
          }
        }
        // Quiescent with nothing in flight: whatever is left must be offered.
        if (flight.empty() && b.fin_set() && !b.all_acked()) {
          ASSERT_TRUE(b.next_to_send(1500).has_value()) << "iter " << iter << " stalled";
        }
      }
      EXPECT_EQ(b.acked_prefix(), total);
      EXPECT_EQ(b.buffered_bytes(), 0u);
      EXPECT_EQ(rel.calls.size(), external_chunks);  // all released on ACK
      // Release order follows the stream.
      for (std::size_t i = 1; i < rel.calls.size(); ++i)
        EXPECT_LT(rel.calls[i - 1].first, rel.calls[i].first);
    }
    EXPECT_EQ(rel.calls.size(), external_chunks) << "released again on destruction";
    ASSERT_EQ(rte_mempool_in_use_count(app_pool_), 0u) << "iter " << iter;
    ASSERT_EQ(rte_mempool_in_use_count(copy_pool_), 0u) << "iter " << iter;
  }
  // The interleavings really exercised loss and retransmission.
  EXPECT_GT(losses, 1000u);
  EXPECT_GT(retransmitted_bytes, 100000u);
}

// Lookups by stream offset (copy_out, gather) start from where the last one
// ended; they must find the right chunk for any offset, in order or not,
// while chunks are released from the front and the ring (7 slots, not a
// power of two) wraps around. Each chunk is a separate copy, so reading
// from a wrong chunk gives wrong bytes.
TEST_F(SendBufferTest, LookupsFindTheRightChunkAsTheRingWraps) {
  SendBuffer b(config(7));
  Releases rel;
  std::mt19937_64 rng(11);
  std::vector<std::vector<std::uint8_t>> storage;         // one per chunk
  std::map<std::uint64_t, const std::uint8_t*> chunk_at;  // stream offset -> bytes
  for (int round = 0; round < 200; ++round) {
    while (b.free_chunks() > 0) {
      const std::size_t len = 1 + rng() % 300;
      const std::uint64_t off = b.write_offset();
      if (off + len > reference_.size()) break;
      storage.emplace_back(reference_.begin() + static_cast<std::ptrdiff_t>(off),
                           reference_.begin() + static_cast<std::ptrdiff_t>(off + len));
      chunk_at[off] = storage.back().data();
      ASSERT_TRUE(b.append_external(storage.back().data(), len, Releases::release, &rel));
    }
    while (b.unsent_bytes() > 0)
      send_next(b, 1 + rng() % 700);
    const std::uint64_t lo = b.acked_prefix(), hi = b.write_offset();
    ASSERT_LT(lo, hi);
    const auto check = [&](std::uint64_t at, std::size_t len) {
      std::vector<std::uint8_t> got(len);
      ASSERT_TRUE(b.copy_out(at, len, got.data()));
      ASSERT_TRUE(
          std::equal(got.begin(), got.end(), reference_.begin() + static_cast<std::ptrdiff_t>(at)))
          << "at " << at << " len " << len;
      DataSegment segs[8];
      const std::optional<std::size_t> n = b.gather(at, len, segs);
      ASSERT_TRUE(n.has_value());
      std::uint64_t pos = at;
      for (std::size_t k = 0; k < *n; ++k) {
        const auto c = std::prev(chunk_at.upper_bound(pos));
        ASSERT_EQ(segs[k].data, c->second + (pos - c->first)) << "at " << at << " #" << k;
        pos += segs[k].length;
      }
      ASSERT_EQ(pos, at + len);
    };
    // In order (the packet builder's pattern), then anywhere.
    for (std::uint64_t at = lo; at < hi;) {
      const auto len = static_cast<std::size_t>(std::min<std::uint64_t>(1 + rng() % 400, hi - at));
      check(at, len);
      at += len;
    }
    for (int i = 0; i < 30; ++i) {
      const std::uint64_t at = lo + rng() % (hi - lo);
      check(at, static_cast<std::size_t>(1 + rng() % std::min<std::uint64_t>(hi - at, 600)));
    }
    // Bytes already released, or not written, are not found.
    const std::uint64_t front = b.write_offset() - b.buffered_bytes();
    std::uint8_t byte = 0;
    if (front > 0) {
      EXPECT_FALSE(b.copy_out(front - 1, 1, &byte));
    }
    EXPECT_FALSE(b.copy_out(hi, 1, &byte));
    // Acknowledge a random prefix: whole chunks leave from the front.
    b.on_acked(lo, static_cast<std::size_t>(1 + rng() % (hi - lo)), false);
  }
  b.on_acked(0, static_cast<std::size_t>(b.write_offset()), false);
  EXPECT_EQ(rel.calls.size(), storage.size());
  EXPECT_EQ(b.buffered_bytes(), 0u);
}

}  // namespace
}  // namespace dquic
