// h3-get's HTTP/3 client on the runtime (runtime/worker_app.h): one or more
// connections from the one worker (path i goes on connection i mod N, each
// connection from its own local port), each with an Http3Connection (client
// role) as its handler, and every request sent as soon as the HTTP/3
// streams are open (each on its own request stream; those beyond the
// server's stream limit wait for credit). Bodies go to a file each (`name.part`, renamed when the
// response completes) or are only counted. When every request has ended,
// the connection is closed with H3_NO_ERROR (RFC 9114 §5.2) and `stop`,
// the Dataplane's stop flag, is set; so it is when the connection fails.
//
// With `resume` there are two connections, one after the other: the first
// PATH on the first; once it ended and a session ticket arrived (or
// ticket_wait passed) that one closes and the second starts, offering the
// ticket (RFC 8446 §2.2) and, with `early_data`, sending its requests in
// 0-RTT (RFC 9001 §4.6). With `key_update` each connection starts one key
// update (RFC 9001 §6.1) once its handshake is confirmed, and its close
// waits (bounded) until the peer answered in the new phase.
//
// Everything runs on the worker's lcore; main reads the results after the
// Dataplane stopped.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "h3/h3_connection.h"
#include "quic/connection.h"
#include "quic/tls_ticket.h"
#include "runtime/worker.h"
#include "runtime/worker_app.h"

namespace dquic::h3get {

inline constexpr char kH3Alpn[] = "h3";

struct H3GetPlan {
  ConnectionConfig connection;    // handler set by the app
  NetworkPath path;               // our address and first port, the server's
  std::uint32_t connections = 1;  // connection k uses our port + k
  std::string authority;          // :authority
  std::vector<std::string> paths;
  std::vector<std::string> out_files;            // per path, or empty: sizes only
  std::atomic<bool>* stop = nullptr;             // set when done or failed
  const std::atomic<bool>* interrupt = nullptr;  // SIGINT/SIGTERM (stop_signal.h)
  bool resume = false;                           // connections = 1 and at least two paths
  bool early_data = false;                       // with resume
  Duration ticket_wait = kSecond;
  Duration resume_delay = 0;  // from the first connection's close to the second's start
  bool key_update = false;
  // Lines for stderr (no ticket, 0-RTT not offered); main prints them.
  std::FILE* notes = nullptr;
};

// What one connection showed, for the exit summary (read after the run).
struct ConnectionSummary {
  bool started = false;
  bool resumed = false;  // RFC 8446 §2.2: PSK from a ticket, no certificate
  std::uint64_t session_tickets = 0;
  bool zero_rtt_offered = false;
  bool zero_rtt_accepted = false;
  std::uint64_t zero_rtt_packets_sent = 0;
  std::uint64_t key_updates_initiated = 0;  // by us
  std::uint64_t key_updates = 0;            // the read keys moved on
  bool key_phase = false;                   // our write phase
  std::uint64_t migrations = 0;             // the active path changed (RFC 9000 §9)
};

enum class RequestState : std::uint8_t { kPending, kSent, kComplete, kFailed };

struct RequestResult {
  RequestState state = RequestState::kPending;
  std::uint16_t status = 0;  // 0: no final response
  std::uint64_t bytes = 0;   // body bytes received
  Duration time = 0;         // request sent -> message end (or failure)
  Time sent = 0, ended = 0;  // the worker's clock; 0 while not sent / not ended
  std::string error;         // kFailed: why
};

class H3GetApp final : public WorkerApp {
 public:
  explicit H3GetApp(H3GetPlan plan);
  ~H3GetApp() override;

  // WorkerApp.
  void on_closed(Worker& w, Connection& c) override;
  void on_poll(Worker& w, Time now) override;

  // Read after the Dataplane stopped.
  const std::vector<RequestResult>& results() const { return results_; }
  // Set when a connection failed (handshake, timeout, error) before its
  // requests ended: one line (the first such failure).
  const std::string& connection_error() const { return error_; }
  bool finished() const { return finished_; }
  std::vector<ConnectionSummary> summaries() const;

 private:
  class Session;  // one connection and its requests (h3_get_app.cc)
  friend class Session;
  void fail(std::span<const std::size_t> indexes, const std::string& why);
  void finish();
  // --resume: closes the first connection and starts the second once the
  // first's requests ended and it has a ticket (or waited long enough).
  void maybe_resume(Worker& w, Time now);
  void note(const std::string& line);

  H3GetPlan plan_;
  std::vector<std::unique_ptr<Session>> sessions_;
  Worker* worker_ = nullptr;
  std::vector<RequestResult> results_;
  std::size_t ended_ = 0;  // complete or failed, over all connections
  bool started_ = false;
  bool second_pending_ = false;               // --resume: the second connection not started yet
  std::optional<TlsSession> resume_session_;  // offered by the second connection
  std::optional<Time> second_at_;             // --resume: when the second starts
  bool first_closed_early_ = false;           // before we closed it (by the server)
  bool closing_ = false;
  bool finished_ = false;
  std::string error_;
};

}  // namespace dquic::h3get
