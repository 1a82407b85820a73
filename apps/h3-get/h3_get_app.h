// h3-get's HTTP/3 client on the runtime (runtime/worker_app.h): one
// connection from the one worker, an Http3Connection (client role) as its
// handler, and every request sent as soon as the HTTP/3 streams are open
// (each on its own request stream; those beyond the server's stream limit
// wait for credit). Bodies go to a file each (`name.part`, renamed when the
// response completes) or are only counted. When every request has ended,
// the connection is closed with H3_NO_ERROR (RFC 9114 §5.2) and `stop`,
// the Dataplane's stop flag, is set; so it is when the connection fails.
//
// Everything runs on the worker's lcore; main reads the results after the
// Dataplane stopped.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "h3/h3_connection.h"
#include "quic/connection.h"
#include "runtime/worker.h"
#include "runtime/worker_app.h"

namespace dquic::h3get {

inline constexpr char kH3Alpn[] = "h3";

struct H3GetPlan {
  ConnectionConfig connection;  // handler set by the app
  NetworkPath path;             // our address and port, the server's
  std::string authority;        // :authority
  std::vector<std::string> paths;
  std::vector<std::string> out_files;            // per path, or empty: sizes only
  std::atomic<bool>* stop = nullptr;             // set when done or failed
  const std::atomic<bool>* interrupt = nullptr;  // SIGINT/SIGTERM (stop_signal.h)
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

class H3GetApp final : public WorkerApp, public Http3Handler {
 public:
  explicit H3GetApp(H3GetPlan plan);
  ~H3GetApp() override;

  // WorkerApp.
  void on_closed(Worker& w, Connection& c) override;
  void on_poll(Worker& w, Time now) override;

  // Http3Handler.
  void on_response_headers(std::uint64_t stream, const H3ResponseHead& head,
                           std::span<const QpackField> fields) override;
  void on_body(std::uint64_t stream, ByteSpan data) override;
  void on_message_end(std::uint64_t stream) override;
  void on_stream_error(std::uint64_t stream, std::uint64_t error) override;
  void on_goaway(std::uint64_t id) override;

  // Read after the Dataplane stopped.
  const std::vector<RequestResult>& results() const { return results_; }
  // Set when the connection failed (handshake, timeout, error) before every
  // request ended: one line.
  const std::string& connection_error() const { return error_; }
  bool finished() const { return finished_; }
  bool handshake_done() const { return handshake_done_; }

 private:
  struct Active {
    std::size_t index = 0;
    std::FILE* file = nullptr;
    Time start = 0;
  };
  void send_pending(Worker& w);
  void end(std::uint64_t stream, bool ok, std::string why);
  void fail_all(const std::string& why);
  void finish();
  Active* find(std::uint64_t stream);

  H3GetPlan plan_;
  std::unique_ptr<Http3Connection> h3_;
  Connection* conn_ = nullptr;
  Worker* worker_ = nullptr;
  std::vector<RequestResult> results_;
  std::unordered_map<std::uint64_t, Active> active_;  // by request stream id
  std::size_t next_ = 0;                              // the first path not yet sent
  std::size_t ended_ = 0;                             // complete or failed
  bool started_ = false;
  bool handshake_done_ = false;
  bool closing_ = false;
  bool finished_ = false;
  std::string error_;
};

}  // namespace dquic::h3get
