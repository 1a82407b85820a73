// The qlog hot path's storage: fixed-size binary event records in a
// single-producer / single-consumer ring per worker (producer: the worker's
// lcore, consumer: the qlog writer thread, runtime/qlog_writer.h). Records
// are trivially copyable and 64 bytes (one cache line); an event is one
// head record and `extra` records after it, published together or not at
// all. The producer never blocks: when the ring lacks room it drops the
// event and counts it. No allocation, lock or syscall after construction.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

#include "quic/timestamp.h"

namespace dquic {

enum class QlogEventType : std::uint8_t {
  kNone,
  kConnectionStarted,  // a = role, u[0] = version; extra: odcid+local, peer cid, path
  kParametersSet,      // a = local; extra: the values (see qlog_recorder.cc)
  kPacketSent,         // a = space, b = flags, u[0] = pn, u[1] = bytes; extra: kFrame each
  kPacketReceived,     // a = space, u[0] = pn, u[1] = bytes
  kFrameReceived,      // a = QlogFrame, b = flag, u[] fields; extra: more ACK ranges
  kPacketsAcked,       // a = space, b = count, u[0..b) = packet numbers
  kPacketLost,         // a = space, b = flags, u[0] = pn, u[1] = bytes; extra: kFrame each
  kMetrics,            // a = phase, u[] = the RecoveryMetrics
  kStateUpdated,       // a = from, b = to
  kKeyUpdated,         // a = space, b = write | local_update << 1 | tls << 2, u[0] = phase
  kKeyDiscarded,       // a = space
  kPath,               // a = PathEvent; u[] = NetworkPath bytes
  kHttp3Frame,         // a = created, u[0] = stream, u[1] = type, u[2] = length
  kEventsLost,         // u[0] = events this connection dropped before this one
  kFrame,              // continuation: a = SentFrame::Kind, b = fin, u = stream, offset, length
  kExtra,              // continuation: raw payload
};

struct QlogRecord {
  std::uint32_t conn = 0;  // the recorder's serial for the connection
  QlogEventType type = QlogEventType::kNone;
  std::uint8_t a = 0;
  std::uint8_t b = 0;
  std::uint8_t extra = 0;  // records of the same event that follow
  Time time = 0;
  std::array<std::uint64_t, 6> u{};
};
static_assert(sizeof(QlogRecord) == 64 && std::is_trivially_copyable_v<QlogRecord>);

// Byte access to a record's payload (48 bytes), for identifiers and
// addresses: a connection ID takes 21 bytes (length, then 20), a
// PeerAddress 19 (family, 16 address bytes, port in host order).
inline std::uint8_t* qlog_bytes(QlogRecord& r) {
  return reinterpret_cast<std::uint8_t*>(r.u.data());
}
inline const std::uint8_t* qlog_bytes(const QlogRecord& r) {
  return reinterpret_cast<const std::uint8_t*>(r.u.data());
}
inline constexpr std::size_t kQlogCidBytes = 21;
inline constexpr std::size_t kQlogAddressBytes = 19;

// Received frames (kFrameReceived's `a`).
enum class QlogFrame : std::uint8_t {
  kPadding,        // u0 = length
  kPing,           //
  kAck,            // b = has_ecn, u0 = ack_delay (us), u1 = ranges, u2.. = (smallest, largest)...
  kResetStream,    // u0 = stream, u1 = error, u2 = final size
  kStopSending,    // u0 = stream, u1 = error
  kCrypto,         // u0 = offset, u1 = length
  kNewToken,       // u0 = length
  kStream,         // b = fin, u0 = stream, u1 = offset, u2 = length
  kMaxData,        // u0
  kMaxStreamData,  // u0 = stream, u1 = maximum
  kMaxStreams,     // b = bidi, u0
  kDataBlocked,    // u0
  kStreamDataBlocked,   // u0 = stream, u1 = limit
  kStreamsBlocked,      // b = bidi, u0
  kNewConnectionId,     // b = cid length, u0 = sequence, u1 = retire prior to, u2.. = cid
  kRetireConnectionId,  // u0 = sequence
  kPathChallenge,       // u0 = the 8 data bytes
  kPathResponse,        // u0 = the 8 data bytes
  kConnectionClose,     // b = application, u0 = error, u1 = frame type, u2 = reason length, u3.. =
                        // reason start
  kHandshakeDone,       //
  kDatagram,            // u0 = length
};
// ACK ranges kept per frame: two in the head record, three per extra one.
inline constexpr std::size_t kQlogMaxAckRanges = 14;

class QlogRing {
 public:
  // `records` is rounded up to a power of two.
  explicit QlogRing(std::size_t records) {
    std::size_t n = 64;
    while (n < records)
      n <<= 1;
    mask_ = n - 1;
    slots_ = std::make_unique<QlogRecord[]>(n);
  }
  std::size_t capacity() const { return mask_ + 1; }

  // Producer. reserve(n) then slot(0..n-1) then commit(n); false: no room.
  bool reserve(std::size_t n) {
    if (head_ + n - tail_cache_ > capacity()) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head_ + n - tail_cache_ > capacity()) return false;
    }
    return true;
  }
  QlogRecord& slot(std::size_t i) { return slots_[(head_ + i) & mask_]; }
  void commit(std::size_t n) {
    head_ += n;
    published_.store(head_, std::memory_order_release);
  }

  // Consumer: records [from, available()) may be read with at(); release
  // hands them back.
  std::uint64_t read_position() const { return tail_.load(std::memory_order_relaxed); }
  std::uint64_t available() const { return published_.load(std::memory_order_acquire); }
  const QlogRecord& at(std::uint64_t pos) const { return slots_[pos & mask_]; }
  void release(std::uint64_t pos) { tail_.store(pos, std::memory_order_release); }

 private:
  std::unique_ptr<QlogRecord[]> slots_;
  std::size_t mask_ = 0;
  // Producer side (its own cache line: the consumer writes tail_).
  alignas(64) std::uint64_t head_ = 0;
  std::uint64_t tail_cache_ = 0;
  std::atomic<std::uint64_t> published_{0};
  alignas(64) std::atomic<std::uint64_t> tail_{0};
};

}  // namespace dquic
