// RecvBuffer: zero-copy reassembly of STREAM/CRYPTO data held in packet
// mbufs. Every test checks that the packet and copy pools return to zero
// mbufs in use, so a leaked or double-dropped reference fails the test.
// Runs under tests/dpdk_test_main.cc (EAL without hugepages).
#include "quic/recv_buffer.h"

#include <gtest/gtest.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace dquic {
namespace {

constexpr std::size_t kHeader = 24;  // bytes before the frame data in each packet

std::uint8_t stream_byte(std::uint64_t offset) {
  return static_cast<std::uint8_t>((offset * 131 + 7) ^ (offset >> 9));
}

class RecvBufferTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int seq = 0;
    const std::string tag = std::to_string(seq++);
    // No per-lcore cache, so rte_mempool_in_use_count is exact.
    // Packets big enough for a frame that crosses a copy block.
    packets_ =
        rte_pktmbuf_pool_create(("rb_pkt" + tag).c_str(), 4095, 0, 0, 4096 + RTE_PKTMBUF_HEADROOM,
                                static_cast<int>(rte_socket_id()));
    ASSERT_NE(packets_, nullptr) << rte_strerror(rte_errno);
    blocks_ = rte_pktmbuf_pool_create(("rb_blk" + tag).c_str(), 1023, 0, 0,
                                      RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
    ASSERT_NE(blocks_, nullptr) << rte_strerror(rte_errno);
  }
  void TearDown() override {
    if (packets_ != nullptr) {
      EXPECT_EQ(rte_mempool_in_use_count(packets_), 0u) << "leaked packet references";
      rte_mempool_free(packets_);
    }
    if (blocks_ != nullptr) {
      EXPECT_EQ(rte_mempool_in_use_count(blocks_), 0u) << "leaked copy blocks";
      rte_mempool_free(blocks_);
    }
  }

  // A packet whose payload at kHeader holds stream bytes [offset, offset + len).
  rte_mbuf* packet(std::uint64_t offset, std::size_t len) {
    rte_mbuf* m = rte_pktmbuf_alloc(packets_);
    EXPECT_NE(m, nullptr);
    if (m == nullptr) return nullptr;
    auto* p = reinterpret_cast<std::uint8_t*>(
        rte_pktmbuf_append(m, static_cast<std::uint16_t>(kHeader + len)));
    EXPECT_NE(p, nullptr);
    std::memset(p, 0xee, kHeader);
    for (std::size_t i = 0; i < len; ++i)
      p[kHeader + i] = stream_byte(offset + i);
    return m;
  }
  static const std::uint8_t* payload(rte_mbuf* m) {
    return rte_pktmbuf_mtod(m, const std::uint8_t*) + kHeader;
  }
  // Like the connection does: insert a frame, then drop the packet.
  RecvInsertResult deliver(RecvBuffer& b, std::uint64_t offset, std::size_t len) {
    rte_mbuf* m = packet(offset, len);
    if (m == nullptr) return RecvInsertResult::kNoMemory;
    const RecvInsertResult r = b.insert(offset, payload(m), len, m);
    rte_pktmbuf_free(m);
    return r;
  }
  static void expect_stream(const std::vector<std::uint8_t>& got, std::uint64_t from) {
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], stream_byte(from + i)) << "at offset " << from + i;
  }
  RecvBufferConfig config(std::size_t max_segments, bool copy) const {
    RecvBufferConfig c;
    c.max_segments = max_segments;
    c.copy_pool = copy ? blocks_ : nullptr;
    return c;
  }

  rte_mempool* packets_ = nullptr;
  rte_mempool* blocks_ = nullptr;
};

TEST_F(RecvBufferTest, InOrderDataIsReferencedNotCopied) {
  RecvBuffer b(config(16, true));
  rte_mbuf* p[3];
  for (int i = 0; i < 3; ++i) {
    p[i] = packet(static_cast<std::uint64_t>(i) * 1000, 1000);
    ASSERT_EQ(b.insert(static_cast<std::uint64_t>(i) * 1000, payload(p[i]), 1000, p[i]),
              RecvInsertResult::kOk);
    EXPECT_EQ(rte_mbuf_refcnt_read(p[i]), 2);
  }
  for (rte_mbuf* m : p)
    rte_pktmbuf_free(m);
  // Our references keep the packets alive after the caller's are gone.
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 3u);
  EXPECT_EQ(b.readable(), 3000u);
  EXPECT_EQ(b.segment_count(), 3u);
  EXPECT_EQ(b.block_count(), 0u);

  RecvSegment segs[4];
  ASSERT_EQ(b.peek(segs), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(segs[i].data, payload(p[i]));  // points into the packet
    EXPECT_EQ(segs[i].length, 1000u);
  }
  EXPECT_EQ(b.consume(1500), 1500u);
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 2u);  // first packet released
  ASSERT_EQ(b.peek(segs), 2u);
  EXPECT_EQ(segs[0].data, payload(p[1]) + 500);
  EXPECT_EQ(segs[0].length, 500u);
  EXPECT_EQ(b.read_offset(), 1500u);
  EXPECT_EQ(b.consume(5000), 1500u);  // clamped to what is readable
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 0u);
  EXPECT_EQ(b.peek(segs), 0u);
  EXPECT_EQ(b.buffered_bytes(), 0u);
}

TEST_F(RecvBufferTest, PeekFillsOnlyTheGivenSpan) {
  RecvBuffer b(config(16, false));
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(deliver(b, static_cast<std::uint64_t>(i) * 100, 100), RecvInsertResult::kOk);
  RecvSegment segs[2];
  ASSERT_EQ(b.peek(segs), 2u);
  EXPECT_EQ(b.consume(segs[0].length + segs[1].length), 200u);
  ASSERT_EQ(b.peek(segs), 2u);
  EXPECT_EQ(b.consume(200), 200u);
  EXPECT_EQ(b.peek(segs), 0u);
}

TEST_F(RecvBufferTest, OutOfOrderIsReassembled) {
  RecvBuffer b(config(16, false));
  ASSERT_EQ(deliver(b, 200, 100), RecvInsertResult::kOk);
  ASSERT_EQ(deliver(b, 100, 100), RecvInsertResult::kOk);
  EXPECT_EQ(b.readable(), 0u);
  EXPECT_EQ(b.buffered_bytes(), 200u);
  std::vector<std::uint8_t> out(400);
  EXPECT_EQ(b.read(out), 0u);
  ASSERT_EQ(deliver(b, 0, 100), RecvInsertResult::kOk);
  EXPECT_EQ(b.readable(), 300u);
  ASSERT_EQ(b.read(out), 300u);
  out.resize(300);
  expect_stream(out, 0);
}

TEST_F(RecvBufferTest, DuplicateIsNotStoredTwice) {
  RecvBuffer b(config(16, true));
  rte_mbuf* first = packet(0, 500);
  rte_mbuf* dup = packet(0, 500);
  ASSERT_EQ(b.insert(0, payload(first), 500, first), RecvInsertResult::kOk);
  ASSERT_EQ(b.insert(0, payload(dup), 500, dup), RecvInsertResult::kOk);
  EXPECT_EQ(rte_mbuf_refcnt_read(first), 2);
  EXPECT_EQ(rte_mbuf_refcnt_read(dup), 1);  // nothing new: no reference taken
  rte_pktmbuf_free(first);
  rte_pktmbuf_free(dup);
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 1u);
  EXPECT_EQ(b.buffered_bytes(), 500u);
  EXPECT_EQ(b.segment_count(), 1u);
  EXPECT_EQ(b.consume(500), 500u);
}

TEST_F(RecvBufferTest, RetransmissionStoresOnlyTheHoles) {
  RecvBuffer b(config(16, true));
  ASSERT_EQ(deliver(b, 0, 100), RecvInsertResult::kOk);
  ASSERT_EQ(deliver(b, 200, 100), RecvInsertResult::kOk);
  ASSERT_EQ(deliver(b, 400, 100), RecvInsertResult::kOk);
  rte_mbuf* big = packet(0, 600);
  ASSERT_EQ(b.insert(0, payload(big), 600, big), RecvInsertResult::kOk);
  // Holes [100,200), [300,400), [500,600): three references to the big packet.
  EXPECT_EQ(rte_mbuf_refcnt_read(big), 4);
  rte_pktmbuf_free(big);
  EXPECT_EQ(b.segment_count(), 6u);
  EXPECT_EQ(b.buffered_bytes(), 600u);
  RecvSegment segs[8];
  ASSERT_EQ(b.peek(segs), 6u);
  EXPECT_EQ(segs[1].data, payload(big) + 100);
  EXPECT_EQ(segs[1].length, 100u);
  std::vector<std::uint8_t> out(600);
  ASSERT_EQ(b.read(out), 600u);
  expect_stream(out, 0);
}

TEST_F(RecvBufferTest, DataBelowTheReadOffsetIsDropped) {
  RecvBuffer b(config(16, false));
  ASSERT_EQ(deliver(b, 0, 100), RecvInsertResult::kOk);
  std::vector<std::uint8_t> out(100);
  ASSERT_EQ(b.read(out), 100u);
  ASSERT_EQ(deliver(b, 0, 100), RecvInsertResult::kOk);  // entirely old
  EXPECT_EQ(b.buffered_bytes(), 0u);
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 0u);
  ASSERT_EQ(deliver(b, 50, 100), RecvInsertResult::kOk);  // half old
  EXPECT_EQ(b.buffered_bytes(), 50u);
  out.assign(100, 0);
  ASSERT_EQ(b.read(out), 50u);
  out.resize(50);
  expect_stream(out, 100);
}

TEST_F(RecvBufferTest, SmallPiecesAreCopiedNotPinned) {
  RecvBuffer b(config(16, true));
  ASSERT_GT(b.block_size(), 0u);
  ASSERT_EQ(deliver(b, 10, 20), RecvInsertResult::kOk);  // < min_reference_bytes
  EXPECT_EQ(b.segment_count(), 0u);
  EXPECT_EQ(b.block_count(), 1u);
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 0u);  // the packet went back at once
  EXPECT_EQ(rte_mempool_in_use_count(blocks_), 1u);
  ASSERT_EQ(deliver(b, 0, 10), RecvInsertResult::kOk);
  ASSERT_EQ(deliver(b, 40, 10), RecvInsertResult::kOk);
  // Fragments in a range that has a block join the block.
  EXPECT_EQ(b.block_count(), 1u);
  EXPECT_EQ(b.buffered_bytes(), 40u);
  std::vector<std::uint8_t> out(30);
  ASSERT_EQ(b.read(out), 30u);
  expect_stream(out, 0);
  EXPECT_EQ(rte_mempool_in_use_count(blocks_), 1u);  // [40, 50) not read yet
  ASSERT_EQ(deliver(b, 30, 10), RecvInsertResult::kOk);
  out.assign(100, 0);
  ASSERT_EQ(b.read(out), 20u);
  out.resize(20);
  expect_stream(out, 30);
  // Nothing unread left in it: the block is released.
  EXPECT_EQ(b.block_count(), 0u);
  EXPECT_EQ(rte_mempool_in_use_count(blocks_), 0u);
}

TEST_F(RecvBufferTest, WithoutCopyPoolSmallPiecesAreReferenced) {
  RecvBuffer b(config(16, false));
  EXPECT_EQ(b.block_size(), 0u);
  ASSERT_EQ(deliver(b, 0, 3), RecvInsertResult::kOk);
  EXPECT_EQ(b.segment_count(), 1u);
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 1u);
  EXPECT_EQ(b.consume(3), 3u);
}

TEST_F(RecvBufferTest, SegmentLimitWithoutCopyingIsAnErrorThatChangesNothing) {
  RecvBuffer b(config(2, false));
  ASSERT_EQ(deliver(b, 100, 10), RecvInsertResult::kOk);
  ASSERT_EQ(deliver(b, 300, 10), RecvInsertResult::kOk);
  // One packet whose data would fill two holes: needs two more records.
  rte_mbuf* m = packet(0, 400);
  EXPECT_EQ(b.insert(0, payload(m), 400, m), RecvInsertResult::kTooFragmented);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
  EXPECT_EQ(b.segment_count(), 2u);
  EXPECT_EQ(b.buffered_bytes(), 20u);
  EXPECT_EQ(b.readable(), 0u);
  // Bytes that extend an existing record still need one: also refused.
  EXPECT_EQ(b.insert(110, payload(m) + 110, 10, m), RecvInsertResult::kTooFragmented);
  // Duplicates need no record.
  EXPECT_EQ(b.insert(100, payload(m) + 100, 10, m), RecvInsertResult::kOk);
  rte_pktmbuf_free(m);
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 2u);
}

TEST_F(RecvBufferTest, SegmentLimitFallsBackToCopyBlocks) {
  RecvBufferConfig c = config(2, true);
  c.min_reference_bytes = 1;
  RecvBuffer b(c);
  // Tiny out-of-order fragments, one byte of every two: far more pieces
  // than records, all accepted, held in a bounded number of blocks.
  constexpr std::uint64_t kLen = 8000;
  for (int off = static_cast<int>(kLen) - 1; off >= 1; off -= 2)
    ASSERT_EQ(deliver(b, static_cast<std::uint64_t>(off), 1), RecvInsertResult::kOk) << off;
  EXPECT_EQ(b.segment_count(), 2u);
  EXPECT_LE(b.block_count(), kLen / b.block_size() + 1);
  EXPECT_LE(rte_mempool_in_use_count(packets_), 2u);
  EXPECT_EQ(b.buffered_bytes(), kLen / 2);
  EXPECT_EQ(b.readable(), 0u);
  for (std::uint64_t off = 0; off < kLen; off += 2)
    ASSERT_EQ(deliver(b, off, 1), RecvInsertResult::kOk) << off;
  EXPECT_EQ(b.readable(), kLen);
  std::vector<std::uint8_t> out(kLen);
  ASSERT_EQ(b.read(out), kLen);
  expect_stream(out, 0);
  EXPECT_EQ(rte_mempool_in_use_count(blocks_), 0u);
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 0u);
}

TEST_F(RecvBufferTest, CopyPoolExhaustedIsNoMemoryAndChangesNothing) {
  rte_mempool* tiny = rte_pktmbuf_pool_create("rb_tiny", 2, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                              static_cast<int>(rte_socket_id()));
  ASSERT_NE(tiny, nullptr) << rte_strerror(rte_errno);
  {
    RecvBufferConfig c = config(0, false);
    c.copy_pool = tiny;  // no records: everything is copied
    RecvBuffer b(c);
    const std::uint64_t bs = b.block_size();
    ASSERT_EQ(deliver(b, 1, 1), RecvInsertResult::kOk);
    ASSERT_EQ(deliver(b, bs + 1, 1), RecvInsertResult::kOk);
    EXPECT_EQ(b.block_count(), 2u);
    EXPECT_EQ(deliver(b, 2 * bs + 1, 1), RecvInsertResult::kNoMemory);
    // A packet crossing a known block and a new one takes nothing either.
    EXPECT_EQ(deliver(b, bs + 2, bs), RecvInsertResult::kNoMemory);
    EXPECT_EQ(b.block_count(), 2u);
    EXPECT_EQ(b.buffered_bytes(), 2u);
    // Within known blocks, copying still works.
    ASSERT_EQ(deliver(b, 0, 1), RecvInsertResult::kOk);
    ASSERT_EQ(deliver(b, 2, bs - 1), RecvInsertResult::kOk);
    EXPECT_EQ(b.readable(), bs + 2);
    EXPECT_EQ(b.consume(bs), bs);
    EXPECT_EQ(rte_mempool_in_use_count(tiny), 1u);
  }
  EXPECT_EQ(rte_mempool_in_use_count(tiny), 0u);  // destructor
  rte_mempool_free(tiny);
}

TEST_F(RecvBufferTest, LargePiecesAreReferencedEvenNextToBlocks) {
  RecvBuffer b(config(16, true));
  const std::uint64_t bs = b.block_size();
  ASSERT_EQ(deliver(b, 5, 5), RecvInsertResult::kOk);  // block 0
  // Lies partly in block 0's range (copied there) and beyond (referenced).
  rte_mbuf* m = packet(0, bs + 500);
  ASSERT_EQ(b.insert(0, payload(m), bs + 500, m), RecvInsertResult::kOk);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 2);
  rte_pktmbuf_free(m);
  EXPECT_EQ(b.segment_count(), 1u);
  EXPECT_EQ(b.block_count(), 1u);
  RecvSegment segs[4];
  ASSERT_EQ(b.peek(segs), 2u);
  EXPECT_EQ(segs[0].length, bs);
  EXPECT_EQ(segs[1].data, payload(m) + bs);
  std::vector<std::uint8_t> out(bs + 500);
  ASSERT_EQ(b.read(out), bs + 500);
  expect_stream(out, 0);
}

TEST_F(RecvBufferTest, BeyondTheWindowIsRefused) {
  RecvBufferConfig c = config(16, false);
  c.max_span = 1000;
  RecvBuffer b(c);
  EXPECT_EQ(deliver(b, 900, 101), RecvInsertResult::kBeyondLimit);
  ASSERT_EQ(deliver(b, 0, 1000), RecvInsertResult::kOk);
  std::vector<std::uint8_t> out(500);
  ASSERT_EQ(b.read(out), 500u);
  EXPECT_EQ(deliver(b, 1000, 500), RecvInsertResult::kOk);  // the window moved
  EXPECT_EQ(deliver(b, 1500, 1), RecvInsertResult::kBeyondLimit);
  // RFC 9000 §19.8: offset + length past 2^62 - 1.
  rte_mbuf* m = packet(0, 10);
  EXPECT_EQ(b.insert((std::uint64_t{1} << 62) - 5, payload(m), 10, m),
            RecvInsertResult::kBeyondLimit);
  EXPECT_EQ(b.insert(UINT64_MAX - 2, payload(m), 10, m), RecvInsertResult::kBeyondLimit);
  rte_pktmbuf_free(m);
  EXPECT_EQ(b.consume(1000), 1000u);
}

TEST_F(RecvBufferTest, DataOutsideTheOwnerIsRejected) {
  RecvBuffer b(config(16, false));
  rte_mbuf* m = packet(0, 100);
  rte_mbuf* other = packet(0, 100);
  EXPECT_EQ(b.insert(0, payload(other), 100, m), RecvInsertResult::kInvalidArgument);
  EXPECT_EQ(b.insert(0, payload(m), 100, nullptr), RecvInsertResult::kInvalidArgument);
  EXPECT_EQ(b.insert(0, nullptr, 100, m), RecvInsertResult::kInvalidArgument);
  // One byte past the packet's data.
  EXPECT_EQ(b.insert(0, payload(m), 101, m), RecvInsertResult::kInvalidArgument);
  EXPECT_EQ(b.insert(0, payload(m), 0, m), RecvInsertResult::kOk);  // empty frame
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
  EXPECT_EQ(b.buffered_bytes(), 0u);
  rte_pktmbuf_free(m);
  rte_pktmbuf_free(other);
}

TEST_F(RecvBufferTest, ReferenceIsOnTheSegmentHoldingTheData) {
  RecvBuffer b(config(16, false));
  rte_mbuf* head = rte_pktmbuf_alloc(packets_);
  ASSERT_NE(head, nullptr);
  ASSERT_NE(rte_pktmbuf_append(head, 50), nullptr);
  rte_mbuf* tail = packet(0, 200);
  ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
  ASSERT_EQ(b.insert(0, payload(tail), 200, head), RecvInsertResult::kOk);
  EXPECT_EQ(rte_mbuf_refcnt_read(head), 1);
  EXPECT_EQ(rte_mbuf_refcnt_read(tail), 2);
  rte_pktmbuf_free(head);  // the caller drops the whole chain
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 1u);
  std::vector<std::uint8_t> out(200);
  ASSERT_EQ(b.read(out), 200u);  // the tail segment is still valid
  expect_stream(out, 0);
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 0u);
}

TEST_F(RecvBufferTest, ResetReleasesEverythingAndDiscardsLaterData) {
  RecvBuffer b(config(4, true));
  ASSERT_EQ(deliver(b, 100, 1000), RecvInsertResult::kOk);
  ASSERT_EQ(deliver(b, 3000, 10), RecvInsertResult::kOk);
  ASSERT_EQ(deliver(b, 0, 50), RecvInsertResult::kOk);
  EXPECT_GT(rte_mempool_in_use_count(packets_), 0u);
  EXPECT_GT(rte_mempool_in_use_count(blocks_), 0u);
  b.reset();
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 0u);
  EXPECT_EQ(rte_mempool_in_use_count(blocks_), 0u);
  EXPECT_EQ(b.buffered_bytes(), 0u);
  EXPECT_EQ(b.readable(), 0u);
  EXPECT_EQ(b.segment_count(), 0u);
  EXPECT_EQ(b.block_count(), 0u);
  ASSERT_EQ(deliver(b, 50, 50), RecvInsertResult::kOk);
  EXPECT_EQ(b.buffered_bytes(), 0u);
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 0u);
}

TEST_F(RecvBufferTest, DestructorReleasesEverything) {
  {
    RecvBuffer b(config(4, true));
    ASSERT_EQ(deliver(b, 100, 1000), RecvInsertResult::kOk);
    ASSERT_EQ(deliver(b, 5000, 7), RecvInsertResult::kOk);
    EXPECT_EQ(rte_mempool_in_use_count(packets_), 1u);
    EXPECT_EQ(rte_mempool_in_use_count(blocks_), 1u);
  }
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 0u);
  EXPECT_EQ(rte_mempool_in_use_count(blocks_), 0u);
}

TEST_F(RecvBufferTest, FinishedOnceEverythingUpToTheFinalSizeIsRead) {
  RecvBuffer b(config(4, false));
  EXPECT_FALSE(b.is_finished());
  ASSERT_EQ(deliver(b, 100, 100), RecvInsertResult::kOk);
  b.set_final_size(200);
  EXPECT_FALSE(b.is_finished());
  ASSERT_EQ(deliver(b, 0, 100), RecvInsertResult::kOk);
  EXPECT_FALSE(b.is_finished());  // received but not read
  std::vector<std::uint8_t> out(150);
  ASSERT_EQ(b.read(out), 150u);
  EXPECT_FALSE(b.is_finished());
  ASSERT_EQ(b.read(out), 50u);
  EXPECT_TRUE(b.is_finished());

  RecvBuffer empty(config(4, false));
  empty.set_final_size(0);  // a STREAM frame with only FIN
  EXPECT_TRUE(empty.is_finished());
}

// Random frames, overlapping, duplicated and reordered, read back byte-exact
// against the reference, with reads interleaved; configurations range from
// all-referenced to all-copied.
TEST_F(RecvBufferTest, RandomReassemblyMatchesReference) {
  std::mt19937_64 rng(0x5eed);
  std::size_t most_blocks = 0, trimmed_inserts = 0;
  for (int iter = 0; iter < 1000; ++iter) {
    const std::uint64_t total = 1 + rng() % 20000;
    RecvBufferConfig c;
    const int mode = iter % 4;
    c.max_segments = mode == 0 ? 4096 : (mode == 3 ? 0 : 1 + rng() % 16);
    c.min_reference_bytes = rng() % 300;
    c.copy_pool = mode == 0 ? nullptr : blocks_;
    c.max_span = total;
    RecvBuffer b(c);

    struct Frame {
      std::uint64_t offset;
      std::size_t len;
    };
    std::vector<Frame> frames;
    for (std::uint64_t off = 0; off < total;) {  // a covering
      const std::size_t len = static_cast<std::size_t>(
          std::min<std::uint64_t>(total - off, 1 + rng() % (rng() % 2 ? 1400 : 40)));
      frames.push_back({off, len});
      off += len;
    }
    const std::size_t extra = rng() % (frames.size() + 1);
    for (std::size_t i = 0; i < extra; ++i) {  // overlaps and duplicates
      const std::uint64_t off = rng() % total;
      const std::size_t len =
          static_cast<std::size_t>(std::min<std::uint64_t>(total - off, 1 + rng() % 1400));
      frames.push_back({off, len});
    }
    std::shuffle(frames.begin(), frames.end(), rng);

    std::vector<std::uint8_t> got;
    std::vector<std::uint8_t> buf(3000);
    RecvSegment segs[8];
    for (const Frame& f : frames) {
      const std::size_t before = b.buffered_bytes() + b.read_offset();
      ASSERT_EQ(deliver(b, f.offset, f.len), RecvInsertResult::kOk)
          << "iter " << iter << " frame " << f.offset << "+" << f.len;
      ASSERT_LE(b.segment_count(), c.max_segments);
      if (b.block_size() > 0) {
        ASSERT_LE(b.block_count(), total / b.block_size() + 2);
      }
      most_blocks = std::max(most_blocks, b.block_count());
      if (b.buffered_bytes() + b.read_offset() < before + f.len) ++trimmed_inserts;
      if (rng() % 3 == 0) {
        if (rng() % 2) {
          const std::size_t n = b.read(std::span(buf).first(rng() % buf.size()));
          got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
        } else {
          const std::size_t k = b.peek(segs);
          std::size_t n = 0;
          for (std::size_t i = 0; i < k; ++i) {
            got.insert(got.end(), segs[i].data, segs[i].data + segs[i].length);
            n += segs[i].length;
          }
          ASSERT_EQ(b.consume(n), n);
        }
      }
    }
    EXPECT_EQ(b.readable() + got.size(), total) << "iter " << iter;
    EXPECT_EQ(b.buffered_bytes(), b.readable());
    b.set_final_size(total);
    for (std::size_t n; (n = b.read(buf)) > 0;)
      got.insert(got.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    ASSERT_EQ(got.size(), total) << "iter " << iter;
    expect_stream(got, 0);
    EXPECT_TRUE(b.is_finished());
    EXPECT_EQ(b.segment_count(), 0u);
    EXPECT_EQ(b.block_count(), 0u);
    ASSERT_EQ(rte_mempool_in_use_count(packets_), 0u) << "iter " << iter;
    ASSERT_EQ(rte_mempool_in_use_count(blocks_), 0u) << "iter " << iter;
  }
  // Both layers and the duplicate trimming were really exercised.
  EXPECT_GT(most_blocks, 3u);
  EXPECT_GT(trimmed_inserts, 1000u);
}

// In-order data while no copy block is live is referenced without a walk;
// once the records run out the rest is copied, and once the reader has
// drained the blocks, in-order data is referenced again. Whatever the path,
// the bytes read are the stream's, each once.
TEST_F(RecvBufferTest, InOrderDataSwitchesBetweenReferencesAndBlocks) {
  RecvBuffer b(config(4, true));
  std::uint64_t off = 0;
  for (int i = 0; i < 10; ++i, off += 700)
    ASSERT_EQ(deliver(b, off, 700), RecvInsertResult::kOk);
  EXPECT_EQ(b.segment_count(), 4u);
  EXPECT_GT(b.block_count(), 0u);
  EXPECT_EQ(b.readable(), off);
  EXPECT_EQ(b.buffered_bytes(), off);
  std::vector<std::uint8_t> out(off);
  ASSERT_EQ(b.read(out), off);
  expect_stream(out, 0);
  EXPECT_EQ(b.segment_count(), 0u);
  EXPECT_EQ(b.block_count(), 0u);
  EXPECT_EQ(rte_mempool_in_use_count(blocks_), 0u);
  EXPECT_EQ(rte_mempool_in_use_count(packets_), 0u);

  const std::uint64_t start = off;
  for (int i = 0; i < 3; ++i, off += 700)
    ASSERT_EQ(deliver(b, off, 700), RecvInsertResult::kOk);
  EXPECT_EQ(b.segment_count(), 3u);
  EXPECT_EQ(b.block_count(), 0u);
  // Shorter than min_reference_bytes: copied even in order.
  ASSERT_EQ(deliver(b, off, 10), RecvInsertResult::kOk);
  off += 10;
  EXPECT_EQ(b.segment_count(), 3u);
  EXPECT_EQ(b.block_count(), 1u);
  // A copied fragment out of order, then in-order data over it: its bytes
  // are stored once (no shortcut past a live block), then a referenced piece
  // out of order and the gap below it.
  ASSERT_EQ(deliver(b, off + 300, 10), RecvInsertResult::kOk);
  ASSERT_EQ(deliver(b, off, 1000), RecvInsertResult::kOk);
  EXPECT_EQ(b.buffered_bytes(), off + 1000 - start);
  off += 1000;
  ASSERT_EQ(deliver(b, off + 1000, 700), RecvInsertResult::kOk);
  ASSERT_EQ(deliver(b, off, 1700), RecvInsertResult::kOk);
  off += 1700;
  ASSERT_EQ(deliver(b, off, 700), RecvInsertResult::kOk);
  off += 700;
  EXPECT_EQ(b.buffered_bytes(), off - start);
  EXPECT_EQ(b.readable(), off - start);
  std::vector<std::uint8_t> rest(off - start);
  ASSERT_EQ(b.read(rest), rest.size());
  expect_stream(rest, start);
  EXPECT_EQ(b.buffered_bytes(), 0u);
}

}  // namespace
}  // namespace dquic
