// A worker's qlog recorder: hands each new connection a ConnectionObserver
// that turns its events into compact binary records (runtime/qlog_ring.h)
// in this worker's ring, for the writer thread (runtime/qlog_writer.h) to
// format. Per event: a few stores and one release store, no allocation,
// lock or syscall; when the ring is full the event is dropped and counted
// (dropped(), and an event in the connection's file once there is room).
//
// Threads: open(), on_collected() and every observer call on the worker's
// thread; ring() consumed by the writer; dropped() from anywhere.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "quic/connection_observer.h"
#include "quic/timestamp.h"
#include "runtime/qlog_ring.h"

namespace dquic {

// 64-byte records: 4 MiB per worker, ~20 ms of a 1 Mpps worker's packets
// (2-3 records each) should the writer stall.
inline constexpr std::size_t kQlogRingRecords = std::size_t{1} << 16;

class QlogConnection;

class QlogRecorder {
 public:
  explicit QlogRecorder(std::size_t ring_records = kQlogRingRecords);
  ~QlogRecorder();
  QlogRecorder(const QlogRecorder&) = delete;
  QlogRecorder& operator=(const QlogRecorder&) = delete;

  // An observer for a connection about to be built (setup time: may
  // allocate). It stays valid until the connection reached kClosed and
  // on_collected() was called after its destruction, or until this
  // recorder goes.
  ConnectionObserver* open();
  // The worker destroyed its closed connections: their observers (and those
  // of connections that were never started) are reused.
  void on_collected();

  // Maps the worker's clock to the wall clock for the files' reference
  // time: `now` is the worker's time, taken just before the call.
  void set_time_origin(Time now);
  Time time_origin() const { return origin_; }
  std::int64_t wall_ns_at_origin() const { return wall_origin_ns_; }

  QlogRing& ring() { return ring_; }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t connections() const { return next_serial_ - 1; }

 private:
  friend class QlogConnection;
  void count_drop() {  // single writer: no atomic read-modify-write needed
    dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  QlogRing ring_;
  std::atomic<std::uint64_t> dropped_{0};
  std::uint32_t next_serial_ = 1;
  std::vector<std::unique_ptr<QlogConnection>> all_;
  std::vector<QlogConnection*> free_;
  Time origin_ = 0;
  std::int64_t wall_origin_ns_ = 0;
};

}  // namespace dquic
