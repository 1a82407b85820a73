// --pcap's capture (runtime/packet_capture.h): frames copied into the
// per-worker rings and written to a pcap file that is read back here: the
// file header, each record's lengths and bytes (mbuf chains, truncation to
// the snap length), timestamps, the merge across rings in time order, drop
// counting when a ring is full, the writer thread, and the error for a file
// that cannot be created. Runs under dpdk_test_main.cc (mbufs, TSC).
#include "runtime/packet_capture.h"

#include <gtest/gtest.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace dquic {
namespace {

struct MbufDeleter {
  void operator()(rte_mbuf* m) const { rte_pktmbuf_free(m); }
};
using MbufPtr = std::unique_ptr<rte_mbuf, MbufDeleter>;

struct PcapRecord {
  std::uint32_t ts_sec = 0;
  std::uint32_t ts_nsec = 0;
  std::uint32_t incl_len = 0;
  std::uint32_t orig_len = 0;
  std::vector<std::uint8_t> data;
};

struct PcapFile {
  std::uint32_t magic = 0;
  std::uint16_t major = 0;
  std::uint16_t minor = 0;
  std::uint32_t snaplen = 0;
  std::uint32_t linktype = 0;
  std::vector<PcapRecord> records;
  bool truncated = false;  // a record cut short
};

std::uint32_t u32(const std::uint8_t* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
std::uint16_t u16(const std::uint8_t* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// A pcap reader of our own (host byte order, as written).
PcapFile read_pcap(const std::string& path) {
  PcapFile f;
  std::vector<std::uint8_t> bytes;
  if (std::FILE* in = std::fopen(path.c_str(), "rb"); in != nullptr) {
    std::uint8_t buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, in)) != 0)
      bytes.insert(bytes.end(), buf, buf + n);
    std::fclose(in);
  }
  if (bytes.size() < 24) {
    f.truncated = true;
    return f;
  }
  f.magic = u32(&bytes[0]);
  f.major = u16(&bytes[4]);
  f.minor = u16(&bytes[6]);
  f.snaplen = u32(&bytes[16]);
  f.linktype = u32(&bytes[20]);
  std::size_t at = 24;
  while (at < bytes.size()) {
    if (bytes.size() - at < 16) {
      f.truncated = true;
      break;
    }
    PcapRecord r;
    r.ts_sec = u32(&bytes[at]);
    r.ts_nsec = u32(&bytes[at + 4]);
    r.incl_len = u32(&bytes[at + 8]);
    r.orig_len = u32(&bytes[at + 12]);
    at += 16;
    if (bytes.size() - at < r.incl_len) {
      f.truncated = true;
      break;
    }
    r.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                  bytes.begin() + static_cast<std::ptrdiff_t>(at + r.incl_len));
    at += r.incl_len;
    f.records.push_back(std::move(r));
  }
  return f;
}

std::vector<std::uint8_t> pattern(std::size_t len, std::uint8_t seed) {
  std::vector<std::uint8_t> v(len);
  for (std::size_t i = 0; i < len; ++i)
    v[i] = static_cast<std::uint8_t>(seed + i * 13);
  return v;
}

class PacketCaptureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    pool_ = rte_pktmbuf_pool_create("pcap_test", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    static_cast<int>(rte_socket_id()));
    ASSERT_NE(pool_, nullptr) << rte_strerror(rte_errno);
  }
  static void TearDownTestSuite() {
    rte_mempool_free(pool_);
    pool_ = nullptr;
  }
  void SetUp() override {
    char dir[] = "/tmp/pcap_test.XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/c.pcap";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }

  // One mbuf per chunk of `sizes`, chained: a frame of their total length.
  static MbufPtr frame(const std::vector<std::uint8_t>& bytes,
                       const std::vector<std::size_t>& sizes) {
    MbufPtr head;
    std::size_t at = 0;
    for (std::size_t len : sizes) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool_);
      EXPECT_NE(m, nullptr);
      if (m == nullptr) return head;
      char* d = rte_pktmbuf_append(m, static_cast<std::uint16_t>(len));
      EXPECT_NE(d, nullptr);
      std::memcpy(d, bytes.data() + at, len);
      at += len;
      if (head == nullptr) {
        head.reset(m);
      } else {
        EXPECT_EQ(rte_pktmbuf_chain(head.get(), m), 0);
      }
    }
    return head;
  }
  static MbufPtr frame(const std::vector<std::uint8_t>& bytes) {
    return frame(bytes, {bytes.size()});
  }

  static PacketCaptureConfig manual(std::uint32_t slots, std::uint32_t snap) {
    PacketCaptureConfig c;
    c.ring_slots = slots;
    c.snap_length = snap;
    c.writer_thread = false;
    return c;
  }

  static rte_mempool* pool_;
  std::string dir_;
  std::string path_;
};

rte_mempool* PacketCaptureTest::pool_ = nullptr;

TEST_F(PacketCaptureTest, EmptyCaptureIsAFileHeader) {
  std::string err;
  auto c = PacketCapture::create(path_, 1, manual(8, 2048), &err);
  ASSERT_NE(c, nullptr) << err;
  EXPECT_TRUE(c->close());
  const PcapFile f = read_pcap(path_);
  EXPECT_FALSE(f.truncated);
  EXPECT_EQ(f.magic, 0xa1b23c4du);  // nanosecond timestamps
  EXPECT_EQ(f.major, 2);
  EXPECT_EQ(f.minor, 4);
  EXPECT_EQ(f.snaplen, 2048u);
  EXPECT_EQ(f.linktype, 1u);  // LINKTYPE_ETHERNET
  EXPECT_TRUE(f.records.empty());
  EXPECT_EQ(c->captured(), 0u);
  EXPECT_EQ(c->written(), 0u);
}

TEST_F(PacketCaptureTest, RecordsKeepBytesLengthsAndChains) {
  std::string err;
  auto c = PacketCapture::create(path_, 1, manual(16, 128), &err);
  ASSERT_NE(c, nullptr) << err;
  timespec before{};
  clock_gettime(CLOCK_REALTIME, &before);
  const auto small = pattern(60, 1);
  const auto chained = pattern(100, 2);    // 3 segments, under the snap length
  const auto big = pattern(300, 3);        // one segment, truncated
  const auto big_chain = pattern(200, 4);  // truncated inside the second segment
  MbufPtr a = frame(small);
  MbufPtr b = frame(chained, {40, 30, 30});
  MbufPtr d = frame(big);
  MbufPtr e = frame(big_chain, {100, 100});
  rte_mbuf* burst[] = {a.get(), b.get(), d.get(), e.get()};
  c->ring(0)->capture(std::span<rte_mbuf* const>(burst, 4));
  // The mbufs stay the caller's: captured by copy.
  EXPECT_EQ(rte_pktmbuf_pkt_len(a.get()), 60u);
  EXPECT_EQ(c->captured(), 4u);
  EXPECT_EQ(c->dropped(), 0u);
  EXPECT_TRUE(c->close());
  EXPECT_EQ(c->written(), 4u);

  const PcapFile f = read_pcap(path_);
  EXPECT_FALSE(f.truncated);
  EXPECT_EQ(f.snaplen, 128u);
  ASSERT_EQ(f.records.size(), 4u);
  const std::vector<std::uint8_t>* want[] = {&small, &chained, &big, &big_chain};
  for (std::size_t i = 0; i < 4; ++i) {
    const PcapRecord& r = f.records[i];
    const std::size_t kept = std::min<std::size_t>(want[i]->size(), 128);
    EXPECT_EQ(r.orig_len, want[i]->size()) << i;
    EXPECT_EQ(r.incl_len, kept) << i;
    EXPECT_TRUE(std::equal(r.data.begin(), r.data.end(), want[i]->begin())) << i;
    EXPECT_LT(r.ts_nsec, 1'000'000'000u);
    // One TSC read per burst: the same stamp, near the wall clock.
    EXPECT_EQ(r.ts_sec, f.records[0].ts_sec);
    EXPECT_EQ(r.ts_nsec, f.records[0].ts_nsec);
  }
  EXPECT_GE(f.records[0].ts_sec + 1, static_cast<std::uint32_t>(before.tv_sec));
  EXPECT_LE(f.records[0].ts_sec, static_cast<std::uint32_t>(before.tv_sec) + 60);
}

TEST_F(PacketCaptureTest, FullRingDropsAndCounts) {
  std::string err;
  auto c = PacketCapture::create(path_, 1, manual(4, 256), &err);
  ASSERT_NE(c, nullptr) << err;
  EXPECT_EQ(c->ring(0)->slots(), 4u);
  std::vector<MbufPtr> frames;
  for (std::uint8_t i = 0; i < 10; ++i) {
    frames.push_back(frame(pattern(64, i)));
    c->ring(0)->capture(frames.back().get(), rte_get_tsc_cycles());
  }
  EXPECT_EQ(c->captured(), 4u);
  EXPECT_EQ(c->dropped(), 6u);
  // Draining frees the slots: the next frames are captured again.
  EXPECT_EQ(c->drain(), 4u);
  for (std::uint8_t i = 10; i < 12; ++i) {
    frames.push_back(frame(pattern(64, i)));
    c->ring(0)->capture(frames.back().get(), rte_get_tsc_cycles());
  }
  EXPECT_EQ(c->captured(), 6u);
  EXPECT_EQ(c->dropped(), 6u);
  EXPECT_NE(c->summary().find("6 frames captured, 6 dropped (capture_dropped"), std::string::npos)
      << c->summary();
  EXPECT_TRUE(c->close());
  const PcapFile f = read_pcap(path_);
  ASSERT_EQ(f.records.size(), 6u);
  // The first four and the two after the drain; the dropped six are absent.
  const std::uint8_t firsts[] = {0, 1, 2, 3, 10, 11};
  for (std::size_t i = 0; i < 6; ++i)
    EXPECT_EQ(f.records[i].data, pattern(64, firsts[i])) << i;
}

TEST_F(PacketCaptureTest, RingsMergeInTimeOrder) {
  std::string err;
  auto c = PacketCapture::create(path_, 2, manual(16, 256), &err);
  ASSERT_NE(c, nullptr) << err;
  const std::uint64_t t = rte_get_tsc_cycles();
  const std::uint64_t hz = rte_get_tsc_hz();
  std::vector<MbufPtr> frames;
  // Ring 0 at 0, 2, 4 ms; ring 1 at 1, 3, 5 ms.
  for (std::uint8_t i = 0; i < 6; ++i) {
    frames.push_back(frame(pattern(64, i)));
    c->ring(i % 2)->capture(frames.back().get(), t + i * hz / 1000);
  }
  EXPECT_EQ(c->drain(), 6u);
  EXPECT_TRUE(c->close());
  const PcapFile f = read_pcap(path_);
  ASSERT_EQ(f.records.size(), 6u);
  for (std::uint8_t i = 0; i < 6; ++i)
    EXPECT_EQ(f.records[i].data, pattern(64, i)) << int{i};
  // 1 ms apart (within a microsecond of conversion rounding).
  for (std::size_t i = 1; i < 6; ++i) {
    const std::int64_t prev =
        std::int64_t{f.records[i - 1].ts_sec} * 1'000'000'000 + f.records[i - 1].ts_nsec;
    const std::int64_t cur =
        std::int64_t{f.records[i].ts_sec} * 1'000'000'000 + f.records[i].ts_nsec;
    EXPECT_NEAR(static_cast<double>(cur - prev), 1e6, 1e3) << i;
  }
}

TEST_F(PacketCaptureTest, WriterThreadDrainsWhileRunning) {
  std::string err;
  PacketCaptureConfig config;
  config.ring_slots = 8;
  config.snap_length = 256;
  config.drain_interval = kMillisecond;
  auto c = PacketCapture::create(path_, 1, config, &err);
  ASSERT_NE(c, nullptr) << err;
  // More frames than slots: only a writer emptying the ring meanwhile lets
  // them all in (each waits, bounded, for a free slot).
  std::vector<MbufPtr> frames;
  for (std::uint8_t i = 0; i < 40; ++i) {
    frames.push_back(frame(pattern(64, i)));
    for (int tries = 0; tries < 5000 && c->ring(0)->available() == c->ring(0)->slots(); ++tries)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    c->ring(0)->capture(frames.back().get(), rte_get_tsc_cycles());
  }
  EXPECT_EQ(c->captured(), 40u);
  EXPECT_EQ(c->dropped(), 0u);
  EXPECT_TRUE(c->close());
  EXPECT_EQ(c->written(), 40u);
  const PcapFile f = read_pcap(path_);
  ASSERT_EQ(f.records.size(), 40u);
  for (std::uint8_t i = 0; i < 40; ++i)
    EXPECT_EQ(f.records[i].data, pattern(64, i)) << int{i};
}

TEST_F(PacketCaptureTest, CloseIsIdempotentAndStopsCapturingToFile) {
  std::string err;
  auto c = PacketCapture::create(path_, 1, manual(8, 256), &err);
  ASSERT_NE(c, nullptr) << err;
  MbufPtr m = frame(pattern(64, 9));
  c->ring(0)->capture(m.get(), rte_get_tsc_cycles());
  EXPECT_TRUE(c->close());
  EXPECT_TRUE(c->close());
  EXPECT_EQ(c->drain(), 0u);  // no file any more
  EXPECT_EQ(read_pcap(path_).records.size(), 1u);
}

TEST_F(PacketCaptureTest, OneFileOneCaptureAtATime) {
  std::string err;
  auto c = PacketCapture::create(path_, 1, manual(8, 256), &err);
  ASSERT_NE(c, nullptr) << err;
  MbufPtr m = frame(pattern(64, 5));
  c->ring(0)->capture(m.get(), rte_get_tsc_cycles());
  // A second capture of the same file would truncate the first one's.
  EXPECT_EQ(PacketCapture::create(path_, 1, manual(8, 256), &err), nullptr);
  EXPECT_EQ(err, "--pcap: '" + path_ + "' is already being written by this process");
  EXPECT_TRUE(c->close());
  EXPECT_EQ(read_pcap(path_).records.size(), 1u);
  // Closed: the file may be captured to again.
  auto again = PacketCapture::create(path_, 1, manual(8, 256), &err);
  ASSERT_NE(again, nullptr) << err;
  EXPECT_TRUE(again->close());
  EXPECT_TRUE(read_pcap(path_).records.empty());
}

TEST_F(PacketCaptureTest, UncreatableFileIsOneLineError) {
  std::string err;
  const std::string bad = dir_ + "/no-such-dir/c.pcap";
  EXPECT_EQ(PacketCapture::create(bad, 1, manual(8, 256), &err), nullptr);
  EXPECT_EQ(err, "--pcap: cannot create '" + bad + "': No such file or directory");
}

}  // namespace
}  // namespace dquic
