// The client side of the perf protocol (perf_protocol.h) for one
// connection, over the Connection stream API only (no I/O; the clock is a
// callback), so a Worker app (perf_apps.h) and a test's connection pair
// drive it alike.
//
// It keeps `concurrent` requests in flight on as many bidirectional
// streams: each sends the 8-byte response size, `upload` bytes from the
// PatternSource (by reference) and FIN, reads the response to its FIN,
// counts it and records the request's latency (stream opened -> response
// FIN read). A response of the wrong length, a reset stream or a pattern
// mismatch (with `verify`, against our own server) is a failed request.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "latency_histogram.h"
#include "pattern_source.h"
#include "perf_protocol.h"
#include "quic/connection.h"
#include "quic/timestamp.h"

namespace dquic::perf {

struct PerfRequestSpec {
  std::uint64_t upload = 0;      // bytes after the 8-byte size
  std::uint64_t download = 0;    // response size asked for
  std::uint32_t concurrent = 1;  // requests in flight on this connection
  std::uint64_t requests = 1;    // on this connection; 0 = until stop()
  bool verify = false;           // check the response bytes against our pattern
};

struct PerfClientStats {
  std::uint64_t requests_started = 0;
  std::uint64_t requests_completed = 0;
  std::uint64_t requests_failed = 0;
  std::uint64_t bytes_received = 0;  // response bytes
  std::uint64_t bytes_uploaded = 0;  // request bytes after the headers, queued
  std::uint64_t mismatches = 0;      // response bytes not matching the pattern
  LatencyHistogram latency;
};

class PerfClientConnection;

// Shared by a worker's client handlers.
struct PerfClientContext {
  PatternSource* pattern = nullptr;
  std::span<std::uint8_t> scratch;
  std::function<Time()> now;
  PerfClientStats stats;
  std::vector<PerfClientConnection*> waiting;  // for upload budget
};

class PerfClientConnection final : public ConnectionHandler {
 public:
  PerfClientConnection(const PerfRequestSpec& spec, PerfClientContext* ctx);
  void attach(Connection* c);  // before the handshake completes
  void detach();
  Connection* connection() const { return c_; }

  void on_handshake_complete() override;
  void on_stream_readable(std::uint64_t id) override;
  void on_stream_reset(std::uint64_t id, std::uint64_t app_error) override;
  void on_streams_available(bool bidi) override;

  // Starts the requests (on_handshake_complete does it when attached).
  void start();
  // No new requests; those in flight finish.
  void stop() { stopped_ = true; }
  // Continues uploads waiting for pattern budget; true if one still waits.
  bool pump();
  bool waiting() const { return waiting_; }
  void clear_waiting() { waiting_ = false; }

  bool handshake_done() const { return handshake_done_; }
  Time handshake_time() const { return handshake_time_; }
  std::uint64_t completed() const { return completed_; }
  std::uint64_t failed() const { return failed_; }
  std::uint32_t in_flight() const { return in_flight_; }
  // Every request asked for has finished (never true with requests == 0
  // before stop()).
  bool done() const;

 private:
  struct Slot {
    std::uint64_t id = 0;
    bool busy = false;
    Time started = 0;
    std::uint64_t upload_left = 0;
    bool upload_fin = false;  // FIN queued
    std::uint64_t received = 0;
  };
  void open_more();
  void send_upload(Slot& s);
  void finish(Slot& s, bool ok);
  Slot* find(std::uint64_t id);
  void note_waiting();

  PerfRequestSpec spec_;
  PerfClientContext* ctx_;
  Connection* c_ = nullptr;
  std::vector<Slot> slots_;
  std::unordered_map<std::uint64_t, std::uint32_t> slot_of_;
  std::uint64_t started_ = 0;
  std::uint64_t completed_ = 0;
  std::uint64_t failed_ = 0;
  std::uint32_t in_flight_ = 0;
  bool handshake_done_ = false;
  Time handshake_time_ = 0;
  bool stopped_ = false;
  bool waiting_ = false;
};

}  // namespace dquic::perf
