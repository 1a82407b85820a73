// The server side of the perf protocol (perf_protocol.h) for one
// connection, over the Connection stream API only: no I/O, no clock, so it
// runs inside a Worker (perf_apps.h) or a test's connection pair alike.
//
// Per stream: read the 8-byte response size (it may arrive in pieces),
// drain the upload (counted, not kept), and once the FIN is read send the
// response from the worker's PatternSource by reference. A stream closed
// before 8 bytes is ignored and our side closed with FIN (draft §2.3.1);
// STOP_SENDING ends the response with RESET_STREAM. State per stream is a
// few words in a table sized at construction (`max_streams`, at least our
// initial_max_streams_bidi): a peer opening more gets Rejected (§2.5).
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "pattern_source.h"
#include "perf_protocol.h"
#include "quic/connection.h"

namespace dquic::perf {

struct PerfServerStats {
  std::uint64_t streams = 0;
  std::uint64_t responses_completed = 0;  // FIN appended after the whole response
  std::uint64_t bytes_uploaded = 0;       // request bytes read after the header
  std::uint64_t bytes_queued = 0;         // response bytes handed to streams
  std::uint64_t invalid = 0;              // closed before the 8-byte size
  std::uint64_t rejected = 0;             // over max_streams, or unidirectional
  std::uint64_t stopped = 0;              // STOP_SENDING from the client
};

class PerfServerConnection;

// Shared by the handlers of one worker: the pattern, a scratch buffer for
// draining uploads, the counters and the list of handlers waiting for
// pattern budget (pumped by the owner, e.g. once per poll).
struct PerfServerContext {
  PatternSource* pattern = nullptr;
  std::span<std::uint8_t> scratch;
  std::size_t max_streams = 256;
  PerfServerStats stats;
  std::vector<PerfServerConnection*> waiting;  // reserve() it to the connection count
};

class PerfServerConnection final : public ConnectionHandler {
 public:
  explicit PerfServerConnection(PerfServerContext* ctx);
  // Binds to `c` (before its first stream); detach() before `c` is destroyed.
  void attach(Connection* c);
  void detach();
  Connection* connection() const { return c_; }

  void on_stream_opened(std::uint64_t id) override;
  void on_stream_readable(std::uint64_t id) override;
  void on_stream_reset(std::uint64_t id, std::uint64_t app_error) override;
  void on_stop_sending(std::uint64_t id, std::uint64_t app_error) override;
  void on_stream_closed(std::uint64_t id) override;

  // Appends what the budget allows to the responses in progress; true if
  // some response still has bytes to send.
  bool pump();
  bool waiting() const { return waiting_; }
  void clear_waiting() { waiting_ = false; }
  std::size_t tracked_streams() const { return streams_.size(); }

 private:
  struct StreamState {
    std::uint8_t header[kRequestHeaderSize] = {};
    std::uint8_t header_len = 0;
    bool fin_read = false;
    bool responding = false;
    bool done = false;  // FIN sent or abandoned
    std::uint64_t remaining = 0;
  };
  StreamState* find(std::uint64_t id);
  StreamState* track(std::uint64_t id);
  void respond(std::uint64_t id, StreamState& s);
  void note_waiting();

  PerfServerContext* ctx_;
  Connection* c_ = nullptr;
  std::unordered_map<std::uint64_t, StreamState> streams_;
  std::vector<std::uint64_t> sending_;  // streams with response bytes left
  bool waiting_ = false;
};

}  // namespace dquic::perf
