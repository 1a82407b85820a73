#include "apps/h3-static/h3_static_app.h"

#include <rte_mbuf.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace dquic::h3static {

namespace {

std::int64_t unix_ns_now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);  // vDSO: no syscall
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

// One connection's requests. Lives from on_incoming until the poll after
// on_closed.
class H3StaticConnection final : public Http3Handler {
 public:
  H3StaticConnection(H3StaticApp* app, Worker* w) : app_(app), worker_(w) {
    Http3Config c = app->settings_.h3;
    c.role = EndpointRole::kServer;
    c.clock = [w] { return w->now(); };
    h3_ = std::make_unique<Http3Connection>(c, this);
  }
  ~H3StaticConnection() override { drop_all(); }

  Http3Connection& h3() { return *h3_; }
  Connection* connection() const { return conn_; }
  void attach(Connection* c) {
    conn_ = c;
    h3_->attach(c);
  }
  // The connection is gone: nothing is sent any more.
  void detach() {
    drop_all();
    conn_ = nullptr;
  }
  // Continues the bodies that waited for an mbuf.
  void resume() {
    starved_ = false;
    std::array<std::uint64_t, 16> ids{};
    std::size_t n = 0;
    for (auto& [id, r] : requests_)
      if (r.remaining > 0 && n < ids.size()) ids[n++] = id;
    for (std::size_t i = 0; i < n; ++i)
      pump(ids[i]);
    if (conn_ != nullptr) worker_->wake(*conn_);
  }

  // Http3Handler.
  void on_request(std::uint64_t stream, const H3RequestHead& head,
                  std::span<const QpackField> fields) override;
  void on_stream_error(std::uint64_t stream, std::uint64_t /*error*/) override {
    auto it = requests_.find(stream);
    if (it == requests_.end()) return;
    ++app_->stats_.responses_aborted;
    end(stream, it->second, /*finished=*/false);
  }
  void on_writable(std::uint64_t stream) override { pump(stream); }
  void on_connection_closed(std::uint64_t, bool) override { drop_all(); }

 private:
  struct Request {
    int status = 0;
    Time start = 0;
    std::int64_t start_unix_ns = 0;
    std::array<char, 8> method{};
    std::uint8_t method_length = 0;
    std::array<char, 256> path{};  // for the log; truncated
    std::uint16_t path_length = 0;
    MappedFile* file = nullptr;  // our reference while bytes remain to queue
    std::uint64_t offset = 0;
    std::uint64_t remaining = 0;
    std::string_view text;  // kText body still to send
    std::uint64_t sent = 0;
  };

  void pump(std::uint64_t stream);
  void end(std::uint64_t stream, Request& r, bool finished);
  void drop_all() {
    for (auto& [id, r] : requests_) {
      if (r.file != nullptr) r.file->unref();
      r.file = nullptr;
    }
    requests_.clear();
  }

  H3StaticApp* app_;
  Worker* worker_;
  std::unique_ptr<Http3Connection> h3_;
  Connection* conn_ = nullptr;
  PeerAddress peer_;
  std::unordered_map<std::uint64_t, Request> requests_;
  bool starved_ = false;
};

void H3StaticConnection::on_request(std::uint64_t stream, const H3RequestHead& head,
                                    std::span<const QpackField> fields) {
  H3StaticApp& app = *app_;
  ++app.stats_.requests;
  // The server completes its handshake on the client's Finished, which
  // precedes any 1-RTT data: a request seen before that came in 0-RTT.
  if (conn_ != nullptr && !conn_->handshake_complete()) ++app.stats_.requests_early;
  StaticRequest req;
  req.method = head.method;
  req.path = head.path;
  // Field names arrive lowercase (RFC 9114 §4.2, validated). A repeated
  // If-None-Match would need joining (RFC 9110 §5.3): the first one counts.
  for (const QpackField& f : fields) {
    if (f.name == "if-none-match" && !req.if_none_match)
      req.if_none_match = f.value;
    else if (f.name == "if-modified-since" && !req.if_modified_since)
      req.if_modified_since = f.value;
    else if (f.name == "range" && !req.range)
      req.range = f.value;
    else if (f.name == "if-range" && !req.if_range)
      req.if_range = f.value;
  }
  Request r;
  // The path is known once the first datagram was processed (not yet at
  // on_accepted); a migrated connection logs its current peer.
  if (conn_ != nullptr) peer_ = conn_->path().peer;
  r.start = worker_->now();
  r.start_unix_ns = unix_ns_now();
  r.method_length = static_cast<std::uint8_t>(std::min(head.method.size(), r.method.size()));
  std::memcpy(r.method.data(), head.method.data(), r.method_length);
  r.path_length = static_cast<std::uint16_t>(std::min(head.path.size(), r.path.size()));
  std::memcpy(r.path.data(), head.path.data(), r.path_length);

  ResponsePlan plan;
  plan_static_response(app.settings_.statics, req, r.start_unix_ns / 1'000'000'000, plan);
  r.status = plan.status;
  std::array<QpackField, ResponsePlan::kMaxHeaders> out{};
  for (std::size_t i = 0; i < plan.header_count; ++i)
    out[i] = QpackField{plan.headers[i].name, plan.headers[i].value_view(), false};
  if (!h3_->send_response_headers(stream, static_cast<std::uint16_t>(plan.status),
                                  std::span(out.data(), plan.header_count))) {
    h3_->reset(stream, H3Error::kInternalError);
    return;
  }
  if (plan.body_kind == BodyKind::kFile && plan.body_length > 0) {
    r.file = app.files_.acquire(plan.file_fd.get(), plan.file_info);
    if (r.file == nullptr) {  // mmap failed: the headers are out, abort the body
      h3_->reset(stream, H3Error::kInternalError);
      return;
    }
    r.offset = plan.body_offset;
    r.remaining = plan.body_length;
  } else if (plan.body_kind == BodyKind::kText) {
    r.text = plan.text;  // static storage
  }
  requests_.emplace(stream, r);
  pump(stream);
}

void H3StaticConnection::pump(std::uint64_t stream) {
  auto it = requests_.find(stream);
  if (it == requests_.end()) return;
  Request& r = it->second;
  H3StaticApp& app = *app_;
  while (!r.text.empty()) {
    const std::int64_t n = h3_->send_body(
        stream, ByteSpan(reinterpret_cast<const std::uint8_t*>(r.text.data()), r.text.size()));
    if (n < 0) {
      h3_->reset(stream, H3Error::kInternalError);
      return;  // on_stream_error ended it
    }
    if (n == 0) return;  // on_writable resumes
    r.text.remove_prefix(static_cast<std::size_t>(n));
    r.sent += static_cast<std::uint64_t>(n);
  }
  while (r.remaining > 0) {
    rte_mbuf* m = rte_pktmbuf_alloc(app.settings_.pool);
    if (m == nullptr) {  // pool empty: try again next poll
      if (!starved_) {
        starved_ = true;
        app.starved_.push_back(this);
      }
      return;
    }
    const auto len =
        static_cast<std::uint16_t>(std::min<std::uint64_t>(r.remaining, app.settings_.chunk));
    if (!r.file->attach(m, r.offset, len)) {
      rte_pktmbuf_free(m);
      h3_->reset(stream, H3Error::kInternalError);
      return;
    }
    // The stream takes its own reference on `m`; ours goes either way.
    // False: the previous chunk is still queued (no room): on_writable
    // follows once the transport took it.
    const bool ok = h3_->send_body_mbuf(stream, m, rte_pktmbuf_mtod(m, const std::uint8_t*), len);
    rte_pktmbuf_free(m);
    if (!ok) return;
    r.offset += len;
    r.remaining -= len;
    r.sent += len;
    app.stats_.body_bytes += len;
  }
  ++app.stats_.responses_finished;
  end(stream, r, /*finished=*/true);
}

// Logs the request and forgets it; `finished`: FIN after the whole body.
void H3StaticConnection::end(std::uint64_t stream, Request& r, bool finished) {
  if (finished) (void)h3_->finish(stream);
  if (r.file != nullptr) r.file->unref();  // attached mbufs keep the mapping
  r.file = nullptr;
  if (app_->settings_.access_log != nullptr) {
    AccessLogEntry e;
    e.time_ns = r.start_unix_ns;
    e.peer = peer_;
    e.method = std::string_view(r.method.data(), r.method_length);
    e.path = std::string_view(r.path.data(), r.path_length);
    e.status = finished ? r.status : 499;  // 499: abandoned before the end
    e.bytes = r.sent;
    e.duration_ns = static_cast<std::uint64_t>(std::max<Time>(0, worker_->now() - r.start));
    e.stream_id = stream;
    app_->settings_.access_log->write(e);
  }
  requests_.erase(stream);
}

// ------------------------------------------------------------------ app

H3StaticApp::H3StaticApp(const H3StaticSettings& settings)
    : settings_(settings), files_(settings.mapped_files) {
  live_.reserve(settings.max_connections);
  starved_.reserve(settings.max_connections);
}

H3StaticApp::~H3StaticApp() = default;

bool H3StaticApp::on_incoming(Worker& w, const IncomingConnection&, ConnectionConfig& c) {
  if (draining_ || live_.size() >= settings_.max_connections) {
    ++stats_.refused;
    return false;  // RFC 9000 §5.2.2: CONNECTION_REFUSED
  }
  worker_ = &w;
  if (pending_ == nullptr) pending_ = std::make_unique<H3StaticConnection>(this, &w);
  c.handler = &pending_->h3();
  return true;
}

void H3StaticApp::on_accepted(Worker&, Connection& c) {
  if (pending_ == nullptr) return;
  ++stats_.connections;
  pending_->attach(&c);
  live_[&c] = std::move(pending_);
}

void H3StaticApp::on_closed(Worker&, Connection& c) {
  auto it = live_.find(&c);
  if (it == live_.end()) return;
  if (c.resumed()) ++stats_.resumed;
  if (c.early_data_accepted()) ++stats_.early_data_accepted;
  if (c.stats().migrations != 0) ++stats_.migrated;
  it->second->detach();
  std::erase(starved_, it->second.get());
  dead_.push_back(std::move(it->second));
  live_.erase(it);
}

void H3StaticApp::on_poll(Worker& w, Time now) {
  dead_.clear();
  if (!starved_.empty()) {
    std::vector<H3StaticConnection*> again;
    again.swap(starved_);
    for (H3StaticConnection* c : again)
      c->resume();
  }
  ShutdownControl* sc = settings_.shutdown;
  if (sc == nullptr || drained_) return;
  if (!draining_ && sc->requested != nullptr && sc->requested->load(std::memory_order_relaxed)) {
    // RFC 9114 §5.2: GOAWAY; requests already received still complete.
    draining_ = true;
    drain_deadline_ = now + sc->wait;
    for (auto& [conn, h] : live_) {
      h->h3().shutdown();
      if (h->connection() != nullptr) w.wake(*h->connection());
    }
  }
  if (!draining_) return;
  bool busy = false;
  for (auto& [conn, h] : live_)
    if (h->h3().ready() && !h->h3().closed()) busy = true;
  if (!busy || now >= drain_deadline_) {
    drained_ = true;
    if (sc->remaining.fetch_sub(1) == 1) sc->stop.store(true);
  }
}

}  // namespace dquic::h3static
