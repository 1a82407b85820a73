// --pcap FILE: every frame a worker receives (as rte_eth_rx_burst returned
// it, before the impairment stage) and sends (as handed to rte_eth_tx_burst)
// written to one classic pcap file (docs/CAPTURE.md).
//
//   worker lcore:  CaptureRing::capture(burst): up to snap_length bytes of
//                  each frame (mbuf chains followed) and the TSC copied into
//                  the next fixed slot of the worker's own single-producer /
//                  single-consumer ring. No allocation, lock or syscall; a
//                  full ring drops the copy (not the frame) and counts it.
//   writer thread: a std::thread (not an lcore) that drains every ring each
//                  drain_interval, oldest record first across rings, into
//                  the file through stdio's buffer; close() drains what is
//                  left and closes the file.
//
// File format: pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.html,
// draft-ietf-opsawg-pcap), nanosecond magic 0xa1b23c4d, LINKTYPE_ETHERNET,
// in host byte order (readers detect it from the magic). Timestamps are the
// TSC converted to the realtime clock read once at create().
#pragma once

#include <rte_mbuf.h>
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "quic/timestamp.h"

namespace dquic {

struct PacketCaptureConfig {
  std::uint32_t snap_length = 2048;  // bytes kept of each frame (at least 64)
  std::uint32_t ring_slots = 4096;   // per worker; rounded up to a power of two
  Duration drain_interval = 2 * kMillisecond;
  // Off: nothing writes until drain() or close() (tests).
  bool writer_thread = true;
};

// One worker's ring. capture() on the worker's thread only; the consumer
// side (PacketCapture) on one other thread.
class CaptureRing {
 public:
  static constexpr std::uint32_t kMinSnapLength = 64;

  CaptureRing(std::uint32_t slots, std::uint32_t snap_length);
  CaptureRing(const CaptureRing&) = delete;
  CaptureRing& operator=(const CaptureRing&) = delete;

  // Producer: each frame of a burst, one TSC read for all of them.
  void capture(std::span<rte_mbuf* const> frames);
  void capture(const rte_mbuf* m, std::uint64_t tsc);

  // Consumer: the oldest record, valid until pop().
  struct Record {
    std::uint64_t tsc = 0;
    std::uint32_t wire_length = 0;  // the frame's pkt_len
    std::uint32_t length = 0;       // bytes kept: min(wire_length, snap_length)
    const std::uint8_t* data = nullptr;
  };
  bool peek(Record* r) const;
  void pop();
  std::size_t available() const {
    return static_cast<std::size_t>(head_.load(std::memory_order_acquire) -
                                    tail_.load(std::memory_order_relaxed));
  }

  // Written by the producer alone; readable from any thread.
  std::uint64_t captured() const { return captured_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::uint32_t slots() const { return mask_ + 1; }
  std::uint32_t snap_length() const { return snap_length_; }

 private:
  struct SlotHeader {
    std::uint64_t tsc;
    std::uint32_t wire_length;
    std::uint32_t length;
  };
  std::uint8_t* slot(std::uint64_t index) { return storage_.data() + (index & mask_) * stride_; }
  const std::uint8_t* slot(std::uint64_t index) const {
    return storage_.data() + (index & mask_) * stride_;
  }

  std::uint32_t mask_;
  std::uint32_t snap_length_;
  std::size_t stride_;
  std::vector<std::uint8_t> storage_;
  // The producer's and the consumer's indices on lines of their own.
  alignas(64) std::atomic<std::uint64_t> head_{0};
  std::uint64_t tail_seen_ = 0;  // producer's copy of tail_, refreshed when full
  std::atomic<std::uint64_t> captured_{0};
  std::atomic<std::uint64_t> dropped_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
};

class PacketCapture {
 public:
  // Creates (truncates) `path`, writes the file header and starts the
  // writer. Nullptr with *err = "--pcap: cannot create 'PATH': <strerror>"
  // when the file cannot be created, or "--pcap: 'PATH' is already being
  // written by this process" when another capture has it open.
  static std::unique_ptr<PacketCapture> create(const std::string& path, std::size_t rings,
                                               const PacketCaptureConfig& config, std::string* err);
  ~PacketCapture();  // close()
  PacketCapture(const PacketCapture&) = delete;
  PacketCapture& operator=(const PacketCapture&) = delete;

  // Worker i's ring; outlives the worker (the capture outlives close()).
  CaptureRing* ring(std::size_t i) { return rings_[i].get(); }
  std::size_t ring_count() const { return rings_.size(); }

  // Writes what the rings hold now, oldest first; the records written.
  // Only one thread at a time: the writer, or the caller without one.
  std::size_t drain();
  // Stops the writer, drains everything, flushes and closes the file.
  // Call once the producers have stopped. Idempotent; false when a write
  // (or the close) failed.
  bool close();

  std::uint64_t captured() const;
  std::uint64_t dropped() const;
  std::uint64_t written() const { return written_.load(std::memory_order_relaxed); }
  bool write_failed() const { return write_failed_.load(std::memory_order_relaxed); }
  const std::string& path() const { return path_; }
  // "capture: PATH: N frames captured, M dropped (capture_dropped: ring
  // full)[, write error]".
  std::string summary() const;

 private:
  PacketCapture(std::FILE* f, std::string path, const PacketCaptureConfig& config,
                std::size_t rings);
  void write_record(const CaptureRing::Record& r);
  void writer_main();

  std::FILE* file_;
  std::string path_;
  PacketCaptureConfig config_;
  std::vector<std::unique_ptr<CaptureRing>> rings_;
  std::vector<char> buffer_;          // stdio's
  std::vector<std::size_t> pending_;  // drain(): records to take per ring
  // TSC -> realtime ns, fixed at create().
  std::uint64_t tsc0_ = 0;
  std::uint64_t hz_ = 1;
  std::int64_t wall0_ns_ = 0;
  dev_t dev_ = 0;  // the file's identity while it is open (create())
  ino_t ino_ = 0;
  bool registered_ = false;
  std::atomic<std::uint64_t> written_{0};
  std::atomic<bool> write_failed_{false};
  std::thread writer_;
  std::mutex mutex_;  // the writer's wake-up; never taken by a producer
  std::condition_variable wake_;
  bool stopping_ = false;
  bool closed_ = false;
};

}  // namespace dquic
