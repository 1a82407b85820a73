#include "apps/h3-static/mapped_file.h"

#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <fstream>
#include <sstream>
#include <string>

#include "quic/send_buffer.h"
#include "temp_tree.h"

namespace dquic::h3static {
namespace {

using test::TempTree;

// Whether `path` is mapped in this process (/proc/self/maps lists it).
bool is_mapped(const std::string& path) {
  std::ifstream maps("/proc/self/maps");
  std::stringstream s;
  s << maps.rdbuf();
  return s.str().find(path) != std::string::npos;
}

class MappedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(tree_.ok());
    content_.resize(100000);
    for (std::size_t i = 0; i < content_.size(); ++i)
      content_[i] = static_cast<char>(i * 7 + 3);
    ASSERT_TRUE(tree_.write("big.bin", content_));
    ASSERT_TRUE(tree_.write("small.txt", "small"));
    ASSERT_TRUE(tree_.write("other.txt", "other"));
    ASSERT_TRUE(tree_.write("empty", ""));
    ASSERT_TRUE(resolver_.open(tree_.root().c_str()));
  }

  ResolvedFile open(std::string_view name) {
    ResolvedFile f;
    EXPECT_EQ(resolver_.resolve(name, f), ResolveError::kOk);
    return f;
  }

  TempTree tree_;
  FileResolver resolver_;
  std::string content_;
};

TEST_F(MappedFileTest, MapsTheFile) {
  const ResolvedFile f = open("big.bin");
  MappedFile* m = MappedFile::map(f.fd.get(), f.info);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->refs(), 1u);
  EXPECT_EQ(m->size(), content_.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m->data()), m->size()), content_);
  EXPECT_EQ(m->key(), FileKey::of(f.info));
  EXPECT_TRUE(is_mapped(tree_.path("big.bin")));
  m->unref();
  EXPECT_FALSE(is_mapped(tree_.path("big.bin")));
}

TEST_F(MappedFileTest, EmptyFile) {
  const ResolvedFile f = open("empty");
  MappedFile* m = MappedFile::map(f.fd.get(), f.info);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->data(), nullptr);
  EXPECT_EQ(m->size(), 0u);
  SendBuffer sb(SendBufferConfig{});
  EXPECT_FALSE(m->append_chunk(sb, 0, 1));
  EXPECT_EQ(m->refs(), 1u);
  m->unref();
}

// A buffer that records every chunk and lets the test release it.
struct RecordingBuffer {
  struct Chunk {
    const std::uint8_t* data;
    std::size_t len;
    ReleaseFn release;
    void* ctx;
  };
  std::vector<Chunk> chunks;
  bool accept = true;
  bool append_external(const std::uint8_t* d, std::size_t n, ReleaseFn r, void* c) {
    if (!accept) return false;
    chunks.push_back({d, n, r, c});
    return true;
  }
};

TEST_F(MappedFileTest, OneReferencePerChunk) {
  const ResolvedFile f = open("big.bin");
  MappedFile* m = MappedFile::map(f.fd.get(), f.info);
  ASSERT_NE(m, nullptr);
  RecordingBuffer b;
  ASSERT_TRUE(m->append_chunk(b, 0, 1000));
  ASSERT_TRUE(m->append_chunk(b, 1000, 99000));
  EXPECT_EQ(m->refs(), 3u);
  EXPECT_EQ(b.chunks[0].data, m->data());
  EXPECT_EQ(b.chunks[1].data, m->data() + 1000);
  EXPECT_EQ(b.chunks[1].len, 99000u);
  EXPECT_EQ(b.chunks[0].ctx, m);
  // Out of the file, empty, or refused: no reference kept.
  EXPECT_FALSE(m->append_chunk(b, 99999, 2));
  EXPECT_FALSE(m->append_chunk(b, 100001, 0));
  EXPECT_FALSE(m->append_chunk(b, 5, 0));
  EXPECT_FALSE(m->append_chunk(b, UINT64_MAX, 1));
  b.accept = false;
  EXPECT_FALSE(m->append_chunk(b, 0, 10));
  EXPECT_EQ(m->refs(), 3u);
  b.chunks[0].release(b.chunks[0].ctx, b.chunks[0].data, b.chunks[0].len);
  EXPECT_EQ(m->refs(), 2u);
  m->unref();  // the owner lets go first: chunks keep the mapping
  EXPECT_EQ(m->refs(), 1u);
  EXPECT_EQ(b.chunks[1].data[5], static_cast<std::uint8_t>(content_[1005]));
  EXPECT_TRUE(is_mapped(tree_.path("big.bin")));
  b.chunks[1].release(b.chunks[1].ctx, b.chunks[1].data, b.chunks[1].len);
  EXPECT_FALSE(is_mapped(tree_.path("big.bin")));
}

TEST_F(MappedFileTest, SendBufferReleasesEachChunkOnce) {
  const ResolvedFile f = open("big.bin");
  MappedFile* m = MappedFile::map(f.fd.get(), f.info);
  ASSERT_NE(m, nullptr);
  {
    SendBufferConfig cfg;
    cfg.max_chunks = 3;
    SendBuffer sb(cfg);
    ASSERT_TRUE(m->append_chunk(sb, 0, 10000));
    ASSERT_TRUE(m->append_chunk(sb, 10000, 10000));
    ASSERT_TRUE(m->append_chunk(sb, 20000, 10000));
    EXPECT_FALSE(m->append_chunk(sb, 30000, 10000));  // ring full
    EXPECT_EQ(m->refs(), 4u);
    // The bytes the packet builder gathers are the mapping's.
    DataSegment segs[4];
    const auto n = sb.gather(9990, 20, segs);
    ASSERT_TRUE(n.has_value());
    ASSERT_EQ(*n, 2u);
    EXPECT_EQ(segs[0].data, m->data() + 9990);
    EXPECT_EQ(segs[1].data, m->data() + 10000);

    ASSERT_TRUE(sb.on_sent(0, 30000, false));
    sb.on_acked(0, 5000, false);  // part of the first chunk: kept
    EXPECT_EQ(m->refs(), 4u);
    sb.on_acked(5000, 5000, false);  // first chunk complete
    EXPECT_EQ(m->refs(), 3u);
    sb.on_acked(20000, 10000, false);  // third, above a gap: kept until the prefix
    EXPECT_EQ(m->refs(), 3u);
    sb.on_acked(10000, 10000, false);
    EXPECT_EQ(m->refs(), 1u);
    sb.on_acked(0, 30000, false);  // duplicate ACK: nothing more released
    sb.reset();
    EXPECT_EQ(m->refs(), 1u);
    // Chunks still held when the buffer goes are released by it, once.
    SendBuffer sb2(cfg);
    ASSERT_TRUE(m->append_chunk(sb2, 0, 100));
    ASSERT_TRUE(m->append_chunk(sb2, 100, 100));
    EXPECT_EQ(m->refs(), 3u);
    sb2.reset();
    EXPECT_EQ(m->refs(), 1u);
    SendBuffer sb3(cfg);
    ASSERT_TRUE(m->append_chunk(sb3, 0, 100));
    EXPECT_EQ(m->refs(), 2u);
  }  // sb3 destroyed
  EXPECT_EQ(m->refs(), 1u);
  m->unref();
}

class MappedFileMbufTest : public MappedFileTest {
 protected:
  void SetUp() override {
    MappedFileTest::SetUp();
    // No data room: every mbuf carries file bytes as an external buffer.
    pool_ = rte_pktmbuf_pool_create("h3s_mapped", 63, 0, 0, 0, SOCKET_ID_ANY);
    ASSERT_NE(pool_, nullptr);
  }
  void TearDown() override { rte_mempool_free(pool_); }
  rte_mempool* pool_ = nullptr;
};

TEST_F(MappedFileMbufTest, AttachedMbufsHoldOneReference) {
  const ResolvedFile f = open("big.bin");
  MappedFile* m = MappedFile::map(f.fd.get(), f.info);
  ASSERT_NE(m, nullptr);
  rte_mbuf* mb[3];
  for (int i = 0; i < 3; ++i) {
    mb[i] = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(mb[i], nullptr);
    ASSERT_TRUE(m->attach(mb[i], 1200u * i, 1200));
    EXPECT_EQ(rte_pktmbuf_mtod(mb[i], const std::uint8_t*), m->data() + 1200u * i);
    EXPECT_EQ(rte_pktmbuf_data_len(mb[i]), 1200u);
    EXPECT_EQ(rte_pktmbuf_pkt_len(mb[i]), 1200u);
    EXPECT_TRUE(RTE_MBUF_HAS_EXTBUF(mb[i]));
  }
  EXPECT_EQ(m->attached_mbufs(), 3u);
  EXPECT_EQ(m->refs(), 2u);  // owner + the attached group
  rte_mbuf* bad = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(bad, nullptr);
  EXPECT_FALSE(m->attach(bad, 99000, 1001));  // past the end
  EXPECT_FALSE(m->attach(bad, 0, 0));
  EXPECT_EQ(m->attached_mbufs(), 3u);
  rte_pktmbuf_free(bad);

  // A clone (what a retransmission copy would be) shares the group.
  rte_mbuf* clone = rte_pktmbuf_clone(mb[0], pool_);
  ASSERT_NE(clone, nullptr);
  EXPECT_EQ(m->attached_mbufs(), 4u);
  EXPECT_EQ(rte_pktmbuf_mtod(clone, const std::uint8_t*), m->data());

  rte_pktmbuf_free(mb[0]);
  rte_pktmbuf_free(mb[1]);
  EXPECT_EQ(m->refs(), 2u);
  m->unref();  // owner gone; the mbufs still read the file
  EXPECT_EQ(m->refs(), 1u);
  EXPECT_EQ(rte_pktmbuf_mtod(mb[2], const std::uint8_t*)[7],
            static_cast<std::uint8_t>(content_[2407]));
  rte_pktmbuf_free(clone);
  EXPECT_TRUE(is_mapped(tree_.path("big.bin")));
  rte_pktmbuf_free(mb[2]);  // last one: free_cb drops the group's reference
  EXPECT_FALSE(is_mapped(tree_.path("big.bin")));
  EXPECT_EQ(rte_mempool_avail_count(pool_), 63u);
}

TEST_F(MappedFileMbufTest, GroupReformsAfterAllDetach) {
  const ResolvedFile f = open("small.txt");
  MappedFile* m = MappedFile::map(f.fd.get(), f.info);
  ASSERT_NE(m, nullptr);
  for (int round = 0; round < 3; ++round) {
    rte_mbuf* a = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(a, nullptr);
    ASSERT_TRUE(m->attach(a, 1, 3));
    EXPECT_EQ(std::string(rte_pktmbuf_mtod(a, const char*), 3), "mal");
    EXPECT_EQ(m->refs(), 2u);
    rte_pktmbuf_free(a);
    EXPECT_EQ(m->refs(), 1u);
    EXPECT_EQ(m->attached_mbufs(), 0u);
  }
  // Chunks and mbufs together.
  RecordingBuffer b;
  rte_mbuf* a = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(m->attach(a, 0, 5));
  ASSERT_TRUE(m->append_chunk(b, 0, 5));
  EXPECT_EQ(m->refs(), 3u);
  m->unref();
  rte_pktmbuf_free(a);
  EXPECT_EQ(m->refs(), 1u);
  EXPECT_TRUE(is_mapped(tree_.path("small.txt")));
  b.chunks[0].release(b.chunks[0].ctx, b.chunks[0].data, b.chunks[0].len);
  EXPECT_FALSE(is_mapped(tree_.path("small.txt")));
}

TEST_F(MappedFileTest, CacheHitsMissesAndLru) {
  MappedFileCache cache(2);
  ResolvedFile big = open("big.bin"), small = open("small.txt"), other = open("other.txt");
  MappedFile* a = cache.acquire(big.fd.get(), big.info);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->refs(), 2u);  // caller + cache
  MappedFile* a2 = cache.acquire(big.fd.get(), big.info);
  EXPECT_EQ(a2, a);
  EXPECT_EQ(a->refs(), 3u);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  a->unref();
  a2->unref();
  EXPECT_EQ(a->refs(), 1u);  // the cache's

  MappedFile* s = cache.acquire(small.fd.get(), small.info);
  ASSERT_NE(s, nullptr);
  s->unref();
  MappedFile* again = cache.acquire(big.fd.get(), big.info);  // big is now the most recent
  EXPECT_EQ(again, a);
  EXPECT_EQ(cache.size(), 2u);
  // A third file evicts the least recently used (small.txt); big.bin stays
  // mapped because the caller still holds it.
  MappedFile* o = cache.acquire(other.fd.get(), other.info);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_FALSE(is_mapped(tree_.path("small.txt")));
  EXPECT_TRUE(is_mapped(tree_.path("big.bin")));
  EXPECT_TRUE(is_mapped(tree_.path("other.txt")));
  o->unref();

  // A modified file is another key: mapped anew.
  const std::uint64_t misses = cache.misses();
  FileInfo changed = big.info;
  changed.mtime_ns += 1;
  MappedFile* c = cache.acquire(big.fd.get(), changed);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c, a);
  EXPECT_EQ(cache.misses(), misses + 1);
  c->unref();
  again->unref();
}

TEST_F(MappedFileTest, CacheReleasesOnDestruction) {
  {
    MappedFileCache cache(4);
    ResolvedFile big = open("big.bin");
    MappedFile* a = cache.acquire(big.fd.get(), big.info);
    ASSERT_NE(a, nullptr);
    a->unref();
    EXPECT_TRUE(is_mapped(tree_.path("big.bin")));
  }
  EXPECT_FALSE(is_mapped(tree_.path("big.bin")));
}

}  // namespace
}  // namespace dquic::h3static
