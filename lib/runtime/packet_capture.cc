#include "runtime/packet_capture.h"

#include <rte_cycles.h>
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <utility>

namespace dquic {
namespace {

// pcap-savefile(5): nanosecond-resolution magic, version 2.4, Ethernet.
constexpr std::uint32_t kPcapMagicNs = 0xa1b23c4d;
constexpr std::uint16_t kPcapVersionMajor = 2;
constexpr std::uint16_t kPcapVersionMinor = 4;
constexpr std::uint32_t kLinktypeEthernet = 1;
constexpr std::int64_t kNsPerSecond = 1'000'000'000;

struct PcapFileHeader {
  std::uint32_t magic;
  std::uint16_t version_major;
  std::uint16_t version_minor;
  std::int32_t thiszone;
  std::uint32_t sigfigs;
  std::uint32_t snaplen;
  std::uint32_t linktype;
};
static_assert(sizeof(PcapFileHeader) == 24);

struct PcapRecordHeader {
  std::uint32_t ts_sec;
  std::uint32_t ts_nsec;
  std::uint32_t incl_len;
  std::uint32_t orig_len;
};
static_assert(sizeof(PcapRecordHeader) == 16);

// The files open for capture in this process, by device and inode: two
// Dataplanes given the same file (quic-perf loopback) would truncate and
// interleave each other's writes. Start-up and shutdown only.
class OpenFiles {
 public:
  static OpenFiles& get() {
    static OpenFiles files;
    return files;
  }
  bool contains(dev_t dev, ino_t ino) {
    const std::lock_guard<std::mutex> lock(mutex_);
    return std::find(files_.begin(), files_.end(), std::make_pair(dev, ino)) != files_.end();
  }
  void add(dev_t dev, ino_t ino) {
    const std::lock_guard<std::mutex> lock(mutex_);
    files_.emplace_back(dev, ino);
  }
  void remove(dev_t dev, ino_t ino) {
    const std::lock_guard<std::mutex> lock(mutex_);
    const auto it = std::find(files_.begin(), files_.end(), std::make_pair(dev, ino));
    if (it != files_.end()) files_.erase(it);
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<dev_t, ino_t>> files_;
};

}  // namespace

// ---------------------------------------------------------------- the ring

CaptureRing::CaptureRing(std::uint32_t slots, std::uint32_t snap_length)
    : mask_(std::bit_ceil(std::max<std::uint32_t>(slots, 2)) - 1),
      snap_length_(std::max(snap_length, kMinSnapLength)),
      // Slots start on cache lines, so neighbours written by the producer
      // and read by the consumer share none.
      stride_((sizeof(SlotHeader) + snap_length_ + 63) & ~std::size_t{63}),
      storage_(std::size_t{mask_ + 1} * stride_) {}

void CaptureRing::capture(std::span<rte_mbuf* const> frames) {
  if (frames.empty()) return;
  const std::uint64_t tsc = rte_get_tsc_cycles();
  for (const rte_mbuf* m : frames)
    capture(m, tsc);
}

void CaptureRing::capture(const rte_mbuf* m, std::uint64_t tsc) {
  const std::uint64_t head = head_.load(std::memory_order_relaxed);
  if (head - tail_seen_ > mask_) {
    tail_seen_ = tail_.load(std::memory_order_acquire);
    if (head - tail_seen_ > mask_) {
      // Only this thread writes the counter: no read-modify-write needed.
      dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return;
    }
  }
  std::uint8_t* s = slot(head);
  std::uint8_t* out = s + sizeof(SlotHeader);
  std::uint32_t kept = 0;
  for (const rte_mbuf* seg = m; seg != nullptr && kept < snap_length_; seg = seg->next) {
    const std::uint32_t n = std::min<std::uint32_t>(seg->data_len, snap_length_ - kept);
    std::memcpy(out + kept, rte_pktmbuf_mtod(seg, const std::uint8_t*), n);
    kept += n;
  }
  const SlotHeader h{tsc, rte_pktmbuf_pkt_len(m), kept};
  std::memcpy(s, &h, sizeof h);
  head_.store(head + 1, std::memory_order_release);
  captured_.store(captured_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

bool CaptureRing::peek(Record* r) const {
  const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
  if (tail == head_.load(std::memory_order_acquire)) return false;
  const std::uint8_t* s = slot(tail);
  SlotHeader h;
  std::memcpy(&h, s, sizeof h);
  *r = Record{h.tsc, h.wire_length, h.length, s + sizeof(SlotHeader)};
  return true;
}

void CaptureRing::pop() {
  tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

// ---------------------------------------------------------------- the file

std::unique_ptr<PacketCapture> PacketCapture::create(const std::string& path, std::size_t rings,
                                                     const PacketCaptureConfig& config,
                                                     std::string* err) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && OpenFiles::get().contains(st.st_dev, st.st_ino)) {
    *err = "--pcap: '" + path + "' is already being written by this process";
    return nullptr;
  }
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    *err = "--pcap: cannot create '" + path + "': " + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<PacketCapture> c(new PacketCapture(f, path, config, rings));
  if (fstat(fileno(f), &st) == 0) {
    c->dev_ = st.st_dev;
    c->ino_ = st.st_ino;
    c->registered_ = true;
    OpenFiles::get().add(st.st_dev, st.st_ino);
  }
  PcapFileHeader h{};
  h.magic = kPcapMagicNs;
  h.version_major = kPcapVersionMajor;
  h.version_minor = kPcapVersionMinor;
  h.snaplen = std::max(config.snap_length, CaptureRing::kMinSnapLength);
  h.linktype = kLinktypeEthernet;
  if (std::fwrite(&h, sizeof h, 1, f) != 1) {
    *err = "--pcap: cannot write '" + path + "': " + std::strerror(errno);
    return nullptr;  // the destructor closes it
  }
  if (config.writer_thread) c->writer_ = std::thread([p = c.get()] { p->writer_main(); });
  return c;
}

PacketCapture::PacketCapture(std::FILE* f, std::string path, const PacketCaptureConfig& config,
                             std::size_t rings)
    : file_(f), path_(std::move(path)), config_(config), buffer_(1 << 20) {
  // Fully buffered: the writer issues a write(2) per MB, not per record.
  std::setvbuf(file_, buffer_.data(), _IOFBF, buffer_.size());
  rings_.reserve(rings);
  for (std::size_t i = 0; i < rings; ++i)
    rings_.push_back(std::make_unique<CaptureRing>(config.ring_slots, config.snap_length));
  pending_.assign(rings, 0);
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tsc0_ = rte_get_tsc_cycles();
  hz_ = std::max<std::uint64_t>(rte_get_tsc_hz(), 1);
  wall0_ns_ = static_cast<std::int64_t>(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

PacketCapture::~PacketCapture() {
  close();
}

void PacketCapture::write_record(const CaptureRing::Record& r) {
  // Signed: a TSC read on another core just before tsc0_ is a few ticks behind.
  const auto ticks = static_cast<__int128>(r.tsc) - static_cast<__int128>(tsc0_);
  const std::int64_t ns = wall0_ns_ + static_cast<std::int64_t>(ticks * kNsPerSecond / hz_);
  const PcapRecordHeader h{static_cast<std::uint32_t>(ns / kNsPerSecond),
                           static_cast<std::uint32_t>(ns % kNsPerSecond), r.length, r.wire_length};
  if (std::fwrite(&h, sizeof h, 1, file_) != 1 ||
      (r.length != 0 && std::fwrite(r.data, r.length, 1, file_) != 1)) {
    write_failed_.store(true, std::memory_order_relaxed);
    return;
  }
  written_.store(written_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

std::size_t PacketCapture::drain() {
  if (file_ == nullptr) return 0;
  // What each ring holds now, merged oldest first (a ring is in order: one
  // worker's TSC). Records arriving meanwhile wait for the next pass, so a
  // busy ring cannot keep the others waiting.
  std::size_t written = 0;
  std::vector<std::size_t>& left = pending_;  // sized at construction
  for (std::size_t i = 0; i < rings_.size(); ++i)
    left[i] = rings_[i]->available();
  for (;;) {
    std::size_t best = rings_.size();
    CaptureRing::Record best_r;
    for (std::size_t i = 0; i < rings_.size(); ++i) {
      CaptureRing::Record r;
      if (left[i] == 0 || !rings_[i]->peek(&r)) continue;
      if (best == rings_.size() || r.tsc < best_r.tsc) {
        best = i;
        best_r = r;
      }
    }
    if (best == rings_.size()) break;
    write_record(best_r);
    rings_[best]->pop();
    --left[best];
    ++written;
  }
  return written;
}

void PacketCapture::writer_main() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    if (drain() != 0) std::fflush(file_);
    lock.lock();
    wake_.wait_for(lock, std::chrono::nanoseconds(config_.drain_interval),
                   [this] { return stopping_; });
  }
}

bool PacketCapture::close() {
  if (closed_) return !write_failed();
  closed_ = true;
  if (writer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    writer_.join();
  }
  drain();
  if (std::fclose(file_) != 0) write_failed_.store(true, std::memory_order_relaxed);
  file_ = nullptr;
  if (registered_) OpenFiles::get().remove(dev_, ino_);
  registered_ = false;
  return !write_failed();
}

std::uint64_t PacketCapture::captured() const {
  std::uint64_t n = 0;
  for (const auto& r : rings_)
    n += r->captured();
  return n;
}

std::uint64_t PacketCapture::dropped() const {
  std::uint64_t n = 0;
  for (const auto& r : rings_)
    n += r->dropped();
  return n;
}

std::string PacketCapture::summary() const {
  std::string s = "capture: " + path_ + ": " + std::to_string(captured()) + " frames captured, " +
                  std::to_string(dropped()) + " dropped (capture_dropped: ring full)";
  if (write_failed()) s += ", WRITE ERROR (file incomplete)";
  return s;
}

}  // namespace dquic
