// A worker's top connections by bytes, published for other threads
// (rte_telemetry's /dquic/top, runtime/telemetry.h) without them ever
// touching the worker's connections, which are single-threaded.
//
// The worker picks its top N (TopConnections: fixed arrays, no allocation)
// in its periodic collect step, never per packet, and writes them into its
// ConnectionSnapshot, a seqlock: the sequence is odd while a write is in
// progress; a reader copies the block and retries (boundedly) when the
// sequence was odd or moved. Every word is a std::atomic accessed relaxed,
// with the fences of Boehm's "Can Seqlocks Get Along With Programming
// Language Memory Models?" (MSPC 2012), so a torn copy is detected, never
// undefined behaviour. One writer (the worker); any number of readers; the
// writer never waits.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "quic/connection.h"
#include "quic/peer_address.h"
#include "quic/timestamp.h"

namespace dquic {

// Connections per worker snapshot; /dquic/top merges the workers' lists.
inline constexpr std::size_t kTopConnections = 16;

// One connection as the worker saw it at publication.
struct alignas(8) ConnectionSample {
  std::uint64_t bytes_sent = 0;  // UDP payload bytes (ConnectionStats)
  std::uint64_t bytes_received = 0;
  std::uint64_t smoothed_rtt_us = 0;  // RFC 9002 §5.3; the initial RTT before a sample
  std::uint64_t min_rtt_us = 0;       // RFC 9002 §5.2; 0 before a sample
  std::uint64_t cwnd = 0;             // bytes (RFC 9002 §7)
  std::uint64_t bytes_in_flight = 0;
  std::uint64_t age_us = 0;  // since the worker took the connection
  PeerAddress peer;
  std::uint16_t worker = 0;
  ConnectionState state = ConnectionState::kHandshaking;
  bool has_rtt_sample = false;
  std::uint8_t cid_length = 0;
  std::array<std::uint8_t, kMaxConnectionIdLength> cid{};  // our CID (sequence 0)

  std::uint64_t bytes() const { return bytes_sent + bytes_received; }
};

// What a reader got: the samples in the worker's order (bytes, descending).
struct ConnectionSampleList {
  std::array<ConnectionSample, kTopConnections> items{};
  std::size_t count = 0;
  Time published_at = 0;  // the worker's clock; 0: nothing published yet
  std::span<const ConnectionSample> samples() const { return {items.data(), count}; }
};

class ConnectionSnapshot {
 public:
  ConnectionSnapshot() = default;
  ConnectionSnapshot(const ConnectionSnapshot&) = delete;
  ConnectionSnapshot& operator=(const ConnectionSnapshot&) = delete;

  // The writer (one thread): replaces the published list with the first
  // kTopConnections of `samples`.
  void publish(std::span<const ConnectionSample> samples, Time at);
  // Any thread: a consistent copy, or false when `max_tries` copies in a
  // row overlapped a publish (the writer publishes every ~100 ms and takes
  // microseconds, so one retry nearly always suffices).
  bool read(ConnectionSampleList* out, int max_tries = 100) const;
  // Publications so far (the sequence / 2).
  std::uint64_t publications() const { return sequence_.load(std::memory_order_acquire) / 2; }

 private:
  static_assert(sizeof(ConnectionSample) % sizeof(std::uint64_t) == 0);
  static constexpr std::size_t kWords = sizeof(ConnectionSample) / sizeof(std::uint64_t);
  // A test hook: stores the first half of a publish and stops, leaving the
  // sequence odd (as a writer preempted mid-write would).
  friend struct ConnectionSnapshotTestAccess;

  alignas(64) std::atomic<std::uint64_t> sequence_{0};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> published_at_{0};
  std::array<std::array<std::atomic<std::uint64_t>, kWords>, kTopConnections> words_{};
};

// The `limit` (<= kTopConnections) largest keys offered, kept sorted
// (largest first; equal keys in the order offered) in fixed arrays: offer()
// is O(limit), no allocation.
class TopConnections {
 public:
  explicit TopConnections(std::size_t limit = kTopConnections)
      : limit_(limit < kTopConnections ? limit : kTopConnections) {}
  void offer(std::uint64_t key, std::uint32_t index);
  std::size_t size() const { return size_; }
  std::uint64_t key(std::size_t i) const { return keys_[i]; }
  std::uint32_t index(std::size_t i) const { return indices_[i]; }

 private:
  std::size_t limit_;
  std::size_t size_ = 0;
  std::array<std::uint64_t, kTopConnections> keys_{};
  std::array<std::uint32_t, kTopConnections> indices_{};
};

// A sample of `c` (everything but age and worker, which the caller knows).
ConnectionSample sample_connection(const Connection& c);

// Text forms for telemetry and logs; each writes a NUL-terminated string
// into `out` (truncated to fit) and returns its length.
// Lowercase hex of the CID bytes ("" for a zero-length CID).
std::size_t format_cid_hex(std::span<const std::uint8_t> cid, std::span<char> out);
// "198.18.0.2:4433", "[2001:db8::1]:443".
std::size_t format_peer_address(const PeerAddress& a, std::span<char> out);
// "handshaking", "connected", "closing", "draining", "closed".
const char* connection_state_name(ConnectionState s);

}  // namespace dquic
