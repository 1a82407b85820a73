// h3-static's HTTP/3 glue on the runtime (runtime/worker_app.h): one
// H3StaticApp per worker; an Http3Connection (ALPN "h3", server role) per
// connection the worker accepts; each request planned by
// plan_static_response and answered on its stream, file bodies zero-copy
// from a MappedFile (mbufs attached as external buffers, handed to
// Http3Connection::send_body_mbuf a chunk at a time, resumed on on_writable
// when the stream's send buffer or flow control is full).
//
// Graceful stop (RFC 9114 §5.2): when `ShutdownControl::requested` is set,
// every worker sends GOAWAY on its connections, refuses new ones, and waits
// (at most ShutdownControl::wait) for the requests in flight; the last
// worker to finish sets ShutdownControl::stop, the Dataplane's stop flag,
// after which the Dataplane closes what is left and drains.
//
// Everything runs on the worker's lcore; only ShutdownControl is shared.
#pragma once

#include <rte_mempool.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "apps/h3-static/access_log.h"
#include "apps/h3-static/mapped_file.h"
#include "apps/h3-static/static_response.h"
#include "h3/h3_connection.h"
#include "runtime/worker.h"
#include "runtime/worker_app.h"

namespace dquic::h3static {

inline constexpr char kH3Alpn[] = "h3";

// Shared by the workers of one Dataplane.
struct ShutdownControl {
  const std::atomic<bool>* requested = nullptr;  // SIGINT/SIGTERM (stop_signal.h)
  std::atomic<bool> stop{false};                 // the Dataplane's stop flag
  std::atomic<unsigned> remaining{0};            // workers still finishing requests
  Duration wait = 5 * kSecond;                   // bound on the in-flight requests
};

struct H3StaticSettings {
  StaticConfig statics;             // resolver (shared, thread-safe), alt-svc port
  AccessLog* access_log = nullptr;  // nullptr: off
  rte_mempool* pool = nullptr;      // the worker's pool: mbufs attached to files
  std::size_t max_connections = 1024;
  std::size_t mapped_files = 64;  // MappedFileCache capacity per worker
  std::uint16_t chunk = 32768;    // bytes of file per mbuf / DATA frame
  Http3Config h3;                 // role and clock are set per connection
  ShutdownControl* shutdown = nullptr;
};

// Per worker, summed by main after the run.
struct H3StaticStats {
  std::uint64_t connections = 0;
  std::uint64_t requests = 0;
  std::uint64_t responses_finished = 0;  // every byte queued and FIN
  std::uint64_t responses_aborted = 0;   // reset by the peer or by us
  std::uint64_t body_bytes = 0;          // queued to the transport
  std::uint64_t refused = 0;             // connections refused (full, stopping)
  // RFC 8446 §2.2: resumed with a session ticket; RFC 9001 §4.6.2: 0-RTT
  // accepted; requests that arrived in 0-RTT (before the handshake completed).
  std::uint64_t resumed = 0;
  std::uint64_t early_data_accepted = 0;
  std::uint64_t requests_early = 0;
  // RFC 9000 §9: connections whose active path changed (to our preferred
  // address, §9.6, or a client's migration).
  std::uint64_t migrated = 0;
};

class H3StaticConnection;

class H3StaticApp final : public WorkerApp {
 public:
  explicit H3StaticApp(const H3StaticSettings& settings);
  ~H3StaticApp() override;

  bool on_incoming(Worker& w, const IncomingConnection& in, ConnectionConfig& c) override;
  void on_accepted(Worker& w, Connection& c) override;
  void on_closed(Worker& w, Connection& c) override;
  void on_poll(Worker& w, Time now) override;

  const H3StaticStats& stats() const { return stats_; }

 private:
  friend class H3StaticConnection;

  H3StaticSettings settings_;
  MappedFileCache files_;
  H3StaticStats stats_;
  Worker* worker_ = nullptr;
  std::unique_ptr<H3StaticConnection> pending_;  // made in on_incoming, attached in on_accepted
  std::unordered_map<const Connection*, std::unique_ptr<H3StaticConnection>> live_;
  // Closed connections, destroyed on the next poll (never inside their own
  // callbacks); and connections waiting for an mbuf to continue a body.
  std::vector<std::unique_ptr<H3StaticConnection>> dead_;
  std::vector<H3StaticConnection*> starved_;
  bool draining_ = false;
  bool drained_ = false;
  Time drain_deadline_ = 0;
};

}  // namespace dquic::h3static
