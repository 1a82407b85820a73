#include "apps/h3-get/h3_get_app.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "runtime/client_program.h"

namespace dquic::h3get {

// One connection: its Http3Connection (this is its handler: stream ids
// repeat across connections) and the requests given to it.
class H3GetApp::Session final : public Http3Handler {
 public:
  Session(H3GetApp& app, std::uint32_t number) : app_(app), number_(number) {}
  ~Session() override {
    // Requests still open when the run ended: their partial files go.
    drop_partial_files();
  }

  void add(std::size_t index) { indexes_.push_back(index); }
  bool empty() const { return indexes_.empty(); }
  Connection* connection() const { return conn_; }

  bool done() const { return finished_requests_ == indexes_.size(); }
  const ConnectionSummary& summary() const { return summary_; }
  // The last session ticket this connection's server issued.
  const std::optional<TlsSession>& ticket() const { return ticket_; }
  std::optional<Time> done_at() const { return done_at_; }

  // False when the endpoint refused the connection (its requests failed).
  // `resume`: the session to offer (must outlive the connection), with
  // 0-RTT if `early_data`.
  bool start(Worker& w, const TlsSession* resume, bool early_data) {
    Http3Config hc;
    hc.role = EndpointRole::kClient;
    hc.clock = [&w] { return w.now(); };
    h3_ = std::make_unique<Http3Connection>(hc, this);
    ConnectionConfig c = app_.plan_.connection;
    c.handler = h3_.get();
    // A TLS configuration of our own so that tickets are counted per
    // connection (the store is called from inside this connection's receive).
    if (c.tls_client != nullptr) {
      tls_ = *c.tls_client;
      tls_.session_store = [this](const TlsSession& t) {
        ticket_ = t;
        ++summary_.session_tickets;
      };
      c.tls_client = &tls_;
    }
    c.resume = resume;
    c.early_data = resume != nullptr && early_data;
    // --key-update after the requests ended (may_close): a PING when idle
    // makes the peer answer, in the new phase, an update we started last.
    if (app_.plan_.key_update) c.keep_alive = kKeyUpdatePing;
    NetworkPath path = app_.plan_.path;
    path.local.port = static_cast<std::uint16_t>(path.local.port + number_);
    conn_ = w.connect(c, path);
    if (conn_ == nullptr) {
      fail_remaining("the endpoint refused a new connection");
      return false;
    }
    summary_.started = true;
    h3_->attach(conn_);
    if (conn_->early_data_offered()) {
      // RFC 9001 §4.6.1: attach() opened our control and QPACK streams.
      // Now, so that the requests leave in the first flight with the
      // ClientHello (the Interop Runner's zerortt case counts them).
      if (h3_->ready()) send_pending(w);
    }
    snapshot();
    return true;
  }

  void poll(Worker& w, Time now) {
    if (conn_ == nullptr) return;
    if (!closing_) {
      // RFC 9001 §6.1: once confirmed and a packet of the current phase
      // was acknowledged; initiate_key_update says no until then, so every
      // poll tries again (bounded by the connection's life and may_close()).
      if (app_.plan_.key_update && summary_.key_updates_initiated == 0 &&
          conn_->handshake_confirmed() && conn_->initiate_key_update(now)) {
        ++summary_.key_updates_initiated;
        w.wake(*conn_);
      }
      if (h3_->ready() && next_ < indexes_.size()) send_pending(w);
      if (done() && !done_at_) done_at_ = now;
    }
    snapshot();  // after the update: the run may stop right after this poll
  }

  // Whether closing now keeps --key-update's promise: the update was
  // started and the peer answered in the new phase (its packets moved our
  // read keys on, §6.2), or it cannot be any more, or we waited
  // kKeyUpdateHold for it.
  bool may_close(Time now) const {
    if (!app_.plan_.key_update || conn_ == nullptr || closing_) return true;
    if (summary_.key_updates_initiated != 0 && summary_.key_updates != 0) return true;
    return done_at_ && now - *done_at_ >= kKeyUpdateHold;
  }

  // RFC 9114 §5.2: nothing more to ask (or interrupted).
  void close(Worker& w, H3Error e, const char* reason, Time now) {
    if (conn_ == nullptr || closing_) return;
    closing_ = true;
    if (e == H3Error::kNoError)
      conn_->close(h3_code(e), reason, now);
    else
      h3_->close(e, reason);
    w.wake(*conn_);
    snapshot();
  }

  void on_closed(Connection& c) {
    snapshot();
    if (finished_requests_ < indexes_.size()) {
      std::string why;
      const PeerAddress& peer = app_.plan_.path.peer;
      if (!c.handshake_complete()) {
        const std::optional<CloseInfo>& ci = c.close_info();
        if (ci && ci->reason == "handshake timeout")
          why = "handshake timeout: no answer from " + peer_address_text(peer) + " within " +
                std::to_string(app_.plan_.connection.handshake_timeout / kMillisecond) + " ms";
        else
          why = "handshake with " + peer_address_text(peer) + " failed: " + describe_close(c);
      } else {
        why = "connection to " + peer_address_text(peer) + " " + describe_close(c) +
              " with requests unfinished";
      }
      drop_partial_files();
      active_.clear();
      fail_remaining(why);
    }
    h3_->attach(nullptr);
    conn_ = nullptr;
  }

  // Http3Handler.
  void on_response_headers(std::uint64_t stream, const H3ResponseHead& head,
                           std::span<const QpackField>) override {
    Active* a = find(stream);
    if (a == nullptr) return;
    RequestResult& r = app_.results_[a->index];
    r.status = head.status;
    // Only a successful body is written: an error page must not replace a file.
    if (head.status >= 200 && head.status < 300 && !app_.plan_.out_files.empty()) {
      const std::string part = app_.plan_.out_files[a->index] + ".part";
      a->file = std::fopen(part.c_str(), "wb");
      if (a->file == nullptr) {
        // Kept first: the reset may end the request (on_stream_error) at once.
        r.error = "cannot create " + part + ": " + std::strerror(errno);
        h3_->reset(stream, H3Error::kRequestCancelled);
        if (find(stream) != nullptr) end(stream, false, r.error);
      }
    }
  }
  void on_body(std::uint64_t stream, ByteSpan data) override {
    Active* a = find(stream);
    if (a == nullptr) return;
    RequestResult& r = app_.results_[a->index];
    r.bytes += data.size();
    if (a->file != nullptr && std::fwrite(data.data(), 1, data.size(), a->file) != data.size()) {
      r.error = "cannot write " + app_.plan_.out_files[a->index] + ".part: " + std::strerror(errno);
      h3_->reset(stream, H3Error::kRequestCancelled);
      if (find(stream) != nullptr) end(stream, false, r.error);
    }
  }
  void on_message_end(std::uint64_t stream) override {
    Active* a = find(stream);
    if (a == nullptr) return;
    if (app_.results_[a->index].status == 0) {
      end(stream, false, "the stream ended without a response");
      return;
    }
    end(stream, true, "");
  }
  void on_stream_error(std::uint64_t stream, std::uint64_t error) override {
    Active* a = find(stream);
    if (a == nullptr) return;
    char code[64];
    std::snprintf(code, sizeof(code), "stream reset (HTTP/3 error 0x%llx)",
                  static_cast<unsigned long long>(error));
    const std::string& earlier = app_.results_[a->index].error;
    end(stream, false, earlier.empty() ? code : earlier);
  }
  // Requests not yet sent are failed at the next poll (send_pending).
  void on_goaway(std::uint64_t) override {}

 private:
  // Bound on holding the close for --key-update after the requests ended.
  static constexpr Duration kKeyUpdateHold = kSecond;
  static constexpr Duration kKeyUpdatePing = 50 * kMillisecond;

  // Monotone: resumed()/early_data_accepted() read the TLS engine, which
  // may forget its state after the handshake.
  void snapshot() {
    const Connection& c = *conn_;
    summary_.resumed = summary_.resumed || c.resumed();
    summary_.zero_rtt_offered = summary_.zero_rtt_offered || c.early_data_offered();
    summary_.zero_rtt_accepted =
        summary_.zero_rtt_accepted || (c.early_data_offered() && c.early_data_accepted());
    summary_.zero_rtt_packets_sent = c.stats().zero_rtt_packets_sent;
    summary_.key_updates = c.key_updates();
    summary_.key_phase = c.key_phase();
    summary_.migrations = c.stats().migrations;
  }

  struct Active {
    std::size_t index = 0;
    std::FILE* file = nullptr;
    Time start = 0;
  };

  Active* find(std::uint64_t stream) {
    auto it = active_.find(stream);
    return it == active_.end() ? nullptr : &it->second;
  }

  void send_pending(Worker& w) {
    if (h3_->goaway_received()) {
      // §5.2: no new requests after GOAWAY.
      const std::span<const std::size_t> left(indexes_.data() + next_, indexes_.size() - next_);
      finished_requests_ += left.size();
      next_ = indexes_.size();
      app_.fail(left, "not sent: the server sent GOAWAY");
      return;
    }
    bool sent = false;
    while (next_ < indexes_.size()) {
      const std::size_t index = indexes_[next_];
      const QpackField fields[] = {
          {":method", "GET", false},
          {":scheme", "https", false},
          {":authority", app_.plan_.authority, false},
          {":path", app_.plan_.paths[index], false},
          {"user-agent", "dquic-h3-get", false},
      };
      // nullopt: no stream credit yet (the server's MAX_STREAMS, RFC 9000
      // §4.6); the next poll tries again.
      const std::optional<std::uint64_t> id = h3_->send_request(fields, {}, true);
      if (!id) break;
      Active a;
      a.index = index;
      a.start = w.now();
      active_.emplace(*id, a);
      app_.results_[index].state = RequestState::kSent;
      app_.results_[index].sent = a.start;
      ++next_;
      sent = true;
    }
    if (sent) w.wake(*conn_);
  }

  void end(std::uint64_t stream, bool ok, std::string why) {
    auto it = active_.find(stream);
    if (it == active_.end()) return;
    Active a = it->second;
    active_.erase(it);
    RequestResult& r = app_.results_[a.index];
    r.time = app_.worker_ != nullptr ? app_.worker_->now() - a.start : 0;
    r.ended = a.start + r.time;
    const bool counted = r.state == RequestState::kComplete || r.state == RequestState::kFailed;
    if (a.file != nullptr) {
      const std::string& name = app_.plan_.out_files[a.index];
      const std::string part = name + ".part";
      const bool closed = std::fclose(a.file) == 0;
      if (ok && !closed) {
        ok = false;
        why = "cannot write " + part + ": " + std::strerror(errno);
      }
      if (ok && std::rename(part.c_str(), name.c_str()) != 0) {
        ok = false;
        why = "cannot rename " + part + " to " + name + ": " + std::strerror(errno);
      }
      if (!ok) (void)std::remove(part.c_str());
    }
    if (counted) return;  // failed already (the whole run was stopped)
    r.state = ok ? RequestState::kComplete : RequestState::kFailed;
    if (!ok) r.error = std::move(why);
    ++finished_requests_;
    ++app_.ended_;
  }

  // Every request of this connection not ended yet.
  void fail_remaining(const std::string& why) {
    std::vector<std::size_t> left;
    for (std::size_t i : indexes_) {
      const RequestState st = app_.results_[i].state;
      if (st == RequestState::kPending || st == RequestState::kSent) left.push_back(i);
    }
    finished_requests_ = indexes_.size();
    next_ = indexes_.size();
    if (app_.error_.empty()) app_.error_ = why;
    app_.fail(left, why);
  }

  void drop_partial_files() {
    for (auto& [id, a] : active_) {
      if (a.file == nullptr) continue;
      std::fclose(a.file);
      a.file = nullptr;
      (void)std::remove((app_.plan_.out_files[a.index] + ".part").c_str());
    }
  }

  H3GetApp& app_;
  std::uint32_t number_;
  std::vector<std::size_t> indexes_;  // into the plan's paths
  std::size_t next_ = 0;              // the first of indexes_ not yet sent
  std::size_t finished_requests_ = 0;
  std::unique_ptr<Http3Connection> h3_;
  Connection* conn_ = nullptr;
  std::unordered_map<std::uint64_t, Active> active_;  // by request stream id
  bool closing_ = false;
  TlsClientConfig tls_;  // the plan's, with our session_store
  std::optional<TlsSession> ticket_;
  ConnectionSummary summary_;
  std::optional<Time> done_at_;  // when the last request ended
};

H3GetApp::H3GetApp(H3GetPlan plan) : plan_(std::move(plan)) {
  results_.resize(plan_.paths.size());
  if (plan_.resume && plan_.paths.size() >= 2) {
    // The first path on connection 0, the rest on connection 1 (the
    // Interop Runner's resumption and zerortt cases).
    for (std::uint32_t k = 0; k < 2; ++k)
      sessions_.push_back(std::make_unique<Session>(*this, k));
    sessions_[0]->add(0);
    for (std::size_t i = 1; i < plan_.paths.size(); ++i)
      sessions_[1]->add(i);
    second_pending_ = true;
    return;
  }
  plan_.resume = false;
  const std::size_t n =
      std::max<std::size_t>(1, std::min<std::size_t>(plan_.connections, plan_.paths.size()));
  for (std::size_t k = 0; k < n; ++k)
    sessions_.push_back(std::make_unique<Session>(*this, static_cast<std::uint32_t>(k)));
  for (std::size_t i = 0; i < plan_.paths.size(); ++i)
    sessions_[i % n]->add(i);
}

H3GetApp::~H3GetApp() = default;

std::vector<ConnectionSummary> H3GetApp::summaries() const {
  std::vector<ConnectionSummary> out;
  for (const auto& s : sessions_)
    out.push_back(s->summary());
  return out;
}

void H3GetApp::note(const std::string& line) {
  if (plan_.notes != nullptr) std::fprintf(plan_.notes, "h3-get: %s\n", line.c_str());
}

void H3GetApp::maybe_resume(Worker& w, Time now) {
  if (!second_pending_) return;
  Session& first = *sessions_[0];
  Session& second = *sessions_[1];
  if (!error_.empty()) {
    // The first connection failed (its line is the run's error): the
    // second one is not tried.
    second_pending_ = false;
    std::vector<std::size_t> left;
    for (std::size_t i = 1; i < results_.size(); ++i)
      left.push_back(i);
    fail(left, "not sent: the first connection failed");
    return;
  }
  if (!second_at_) {
    if (!first.done()) return;
    const bool open = first.connection() != nullptr;
    // RFC 8446 §4.6.1: the ticket comes after the handshake, usually
    // before the response; give it ticket_wait after the first request
    // ended.
    const bool waited = !first.done_at() || now - *first.done_at() >= plan_.ticket_wait;
    if (open && !first.ticket() && !waited) return;
    if (open && !first.may_close(now)) return;
    first_closed_early_ = !open;
    first.close(w, H3Error::kNoError, "done", now);
    second_at_ = now + plan_.resume_delay;
  }
  if (now < *second_at_) return;
  second_pending_ = false;
  const TlsSession* offer = nullptr;
  if (first.ticket()) {
    resume_session_ = *first.ticket();
    offer = &*resume_session_;
    if (plan_.early_data && !resume_session_->allows_early_data)
      note("the session ticket does not allow 0-RTT: the second connection resumes without it");
  } else if (first_closed_early_) {
    note(
        "the first connection closed without a session ticket: the second connection does a "
        "full handshake");
  } else {
    note("no session ticket from the server within " +
         std::to_string(plan_.ticket_wait / kMillisecond) +
         " ms of the first response: the second connection does a full handshake");
  }
  if (!second.start(w, offer, plan_.early_data)) return;
  const ConnectionSummary& s = second.summary();
  if (offer != nullptr && plan_.early_data && resume_session_->allows_early_data &&
      !s.zero_rtt_offered)
    note("0-RTT not offered on the second connection (the ticket does not fit or expired)");
}

void H3GetApp::finish() {
  if (finished_) return;
  finished_ = true;
  if (plan_.stop != nullptr) plan_.stop->store(true, std::memory_order_release);
}

void H3GetApp::fail(std::span<const std::size_t> indexes, const std::string& why) {
  for (std::size_t i : indexes) {
    RequestResult& r = results_[i];
    if (r.state == RequestState::kComplete || r.state == RequestState::kFailed) continue;
    r.state = RequestState::kFailed;
    if (r.error.empty()) r.error = why;
    ++ended_;
  }
}

void H3GetApp::on_poll(Worker& w, Time now) {
  if (finished_) return;
  if (!started_) {
    started_ = true;
    worker_ = &w;
    for (std::size_t k = 0; k < sessions_.size(); ++k) {
      if (plan_.resume && k == 1) continue;  // after the first (maybe_resume)
      if (!sessions_[k]->empty()) sessions_[k]->start(w, nullptr, false);
    }
  }
  if (plan_.interrupt != nullptr && plan_.interrupt->load(std::memory_order_relaxed) && !closing_) {
    closing_ = true;
    std::vector<std::size_t> all(results_.size());
    for (std::size_t i = 0; i < all.size(); ++i)
      all[i] = i;
    if (error_.empty()) error_ = "interrupted";
    fail(all, "interrupted");
    for (auto& s : sessions_)
      s->close(w, H3Error::kRequestCancelled, "interrupted", now);
    finish();
    return;
  }
  for (auto& s : sessions_)
    s->poll(w, now);
  maybe_resume(w, now);
  if (ended_ == results_.size() && !closing_) {
    for (auto& s : sessions_)
      if (!s->may_close(now)) return;  // --key-update not started yet
    closing_ = true;
    for (auto& s : sessions_)
      s->close(w, H3Error::kNoError, "done", now);
    finish();
  }
}

void H3GetApp::on_closed(Worker&, Connection& c) {
  for (auto& s : sessions_) {
    if (s->connection() != &c) continue;
    s->on_closed(c);
    break;
  }
  // Every request ended (some by this close): the next poll closes the
  // others; with every connection gone there is nothing left to wait for.
  bool any_open = false;
  for (auto& s : sessions_)
    any_open = any_open || s->connection() != nullptr;
  // --resume: the second connection starts at the next poll.
  if (!any_open && !second_pending_) finish();
}

}  // namespace dquic::h3get
