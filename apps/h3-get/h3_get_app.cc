#include "apps/h3-get/h3_get_app.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "runtime/client_program.h"

namespace dquic::h3get {

H3GetApp::H3GetApp(H3GetPlan plan) : plan_(std::move(plan)) {
  results_.resize(plan_.paths.size());
  active_.reserve(plan_.paths.size());
}

H3GetApp::~H3GetApp() {
  // Requests still open when the run ended: their partial files go.
  for (auto& [id, a] : active_) {
    if (a.file == nullptr) continue;
    std::fclose(a.file);
    (void)std::remove((plan_.out_files[a.index] + ".part").c_str());
  }
}

H3GetApp::Active* H3GetApp::find(std::uint64_t stream) {
  auto it = active_.find(stream);
  return it == active_.end() ? nullptr : &it->second;
}

void H3GetApp::finish() {
  if (finished_) return;
  finished_ = true;
  if (plan_.stop != nullptr) plan_.stop->store(true, std::memory_order_release);
}

void H3GetApp::fail_all(const std::string& why) {
  if (error_.empty()) error_ = why;
  for (RequestResult& r : results_)
    if (r.state == RequestState::kPending || r.state == RequestState::kSent) {
      r.state = RequestState::kFailed;
      if (r.error.empty()) r.error = why;
    }
  ended_ = results_.size();
}

void H3GetApp::on_poll(Worker& w, Time now) {
  if (finished_) return;
  if (!started_) {
    started_ = true;
    worker_ = &w;
    Http3Config hc;
    hc.role = EndpointRole::kClient;
    hc.clock = [&w] { return w.now(); };
    h3_ = std::make_unique<Http3Connection>(hc, this);
    ConnectionConfig c = plan_.connection;
    c.handler = h3_.get();
    conn_ = w.connect(c, plan_.path);
    if (conn_ == nullptr) {
      fail_all("the endpoint refused a new connection");
      finish();
      return;
    }
    h3_->attach(conn_);
  }
  if (plan_.interrupt != nullptr && plan_.interrupt->load(std::memory_order_relaxed) && !closing_) {
    fail_all("interrupted");
    closing_ = true;
    if (conn_ != nullptr) {
      h3_->close(H3Error::kRequestCancelled, "interrupted");
      w.wake(*conn_);
    }
    finish();
    return;
  }
  if (conn_ == nullptr) return;
  if (!handshake_done_ && conn_->handshake_complete()) handshake_done_ = true;
  if (h3_->ready() && next_ < plan_.paths.size()) send_pending(w);
  if (ended_ == results_.size() && !closing_) {
    // RFC 9114 §5.2: nothing more to ask; H3_NO_ERROR.
    closing_ = true;
    conn_->close(h3_code(H3Error::kNoError), "done", now);
    w.wake(*conn_);
    finish();
  }
}

void H3GetApp::send_pending(Worker& w) {
  if (h3_->goaway_received()) {
    // §5.2: no new requests after GOAWAY.
    for (std::size_t i = next_; i < results_.size(); ++i) {
      results_[i].state = RequestState::kFailed;
      results_[i].error = "not sent: the server sent GOAWAY";
      ++ended_;
    }
    next_ = results_.size();
    return;
  }
  bool sent = false;
  while (next_ < plan_.paths.size()) {
    const QpackField fields[] = {
        {":method", "GET", false},
        {":scheme", "https", false},
        {":authority", plan_.authority, false},
        {":path", plan_.paths[next_], false},
        {"user-agent", "dquic-h3-get", false},
    };
    // nullopt: no stream credit yet (the server's MAX_STREAMS, RFC 9000
    // §4.6); the next poll tries again.
    const std::optional<std::uint64_t> id = h3_->send_request(fields, {}, true);
    if (!id) break;
    Active a;
    a.index = next_;
    a.start = w.now();
    active_.emplace(*id, a);
    results_[next_].state = RequestState::kSent;
    results_[next_].sent = a.start;
    ++next_;
    sent = true;
  }
  if (sent) w.wake(*conn_);
}

void H3GetApp::on_response_headers(std::uint64_t stream, const H3ResponseHead& head,
                                   std::span<const QpackField>) {
  Active* a = find(stream);
  if (a == nullptr) return;
  RequestResult& r = results_[a->index];
  r.status = head.status;
  // Only a successful body is written: an error page must not replace a file.
  if (head.status >= 200 && head.status < 300 && !plan_.out_files.empty()) {
    const std::string part = plan_.out_files[a->index] + ".part";
    a->file = std::fopen(part.c_str(), "wb");
    if (a->file == nullptr) {
      // Kept first: the reset may end the request (on_stream_error) at once.
      r.error = "cannot create " + part + ": " + std::strerror(errno);
      h3_->reset(stream, H3Error::kRequestCancelled);
      if (find(stream) != nullptr) end(stream, false, r.error);
    }
  }
}

void H3GetApp::on_body(std::uint64_t stream, ByteSpan data) {
  Active* a = find(stream);
  if (a == nullptr) return;
  RequestResult& r = results_[a->index];
  r.bytes += data.size();
  if (a->file != nullptr && std::fwrite(data.data(), 1, data.size(), a->file) != data.size()) {
    r.error = "cannot write " + plan_.out_files[a->index] + ".part: " + std::strerror(errno);
    h3_->reset(stream, H3Error::kRequestCancelled);
    if (find(stream) != nullptr) end(stream, false, r.error);
  }
}

void H3GetApp::on_message_end(std::uint64_t stream) {
  Active* a = find(stream);
  if (a == nullptr) return;
  if (results_[a->index].status == 0) {
    end(stream, false, "the stream ended without a response");
    return;
  }
  end(stream, true, "");
}

void H3GetApp::on_stream_error(std::uint64_t stream, std::uint64_t error) {
  Active* a = find(stream);
  if (a == nullptr) return;
  char code[64];
  std::snprintf(code, sizeof(code), "stream reset (HTTP/3 error 0x%llx)",
                static_cast<unsigned long long>(error));
  end(stream, false, results_[a->index].error.empty() ? code : results_[a->index].error);
}

void H3GetApp::on_goaway(std::uint64_t) {
  // Requests not yet sent are failed at the next poll (send_pending).
}

void H3GetApp::end(std::uint64_t stream, bool ok, std::string why) {
  auto it = active_.find(stream);
  if (it == active_.end()) return;
  Active a = it->second;
  active_.erase(it);
  RequestResult& r = results_[a.index];
  r.time = worker_ != nullptr ? worker_->now() - a.start : 0;
  r.ended = a.start + r.time;
  const bool counted = r.state == RequestState::kComplete || r.state == RequestState::kFailed;
  if (a.file != nullptr) {
    const std::string& name = plan_.out_files[a.index];
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
  if (counted) return;  // fail_all() ended it already
  r.state = ok ? RequestState::kComplete : RequestState::kFailed;
  if (!ok) r.error = std::move(why);
  ++ended_;
}

void H3GetApp::on_closed(Worker&, Connection& c) {
  if (&c != conn_) return;
  if (ended_ < results_.size()) {
    std::string why;
    if (!handshake_done_ && !c.handshake_complete()) {
      const std::optional<CloseInfo>& ci = c.close_info();
      if (ci && ci->reason == "handshake timeout")
        why = "handshake timeout: no answer from " + peer_address_text(plan_.path.peer) +
              " within " + std::to_string(plan_.connection.handshake_timeout / kMillisecond) +
              " ms";
      else
        why = "handshake with " + peer_address_text(plan_.path.peer) +
              " failed: " + describe_close(c);
    } else {
      why = "connection to " + peer_address_text(plan_.path.peer) + " " + describe_close(c) +
            " with requests unfinished";
    }
    // Partial files go (the destructor would too; do it now, once).
    for (auto& [id, a] : active_) {
      if (a.file == nullptr) continue;
      std::fclose(a.file);
      a.file = nullptr;
      (void)std::remove((plan_.out_files[a.index] + ".part").c_str());
    }
    active_.clear();
    fail_all(why);
  }
  h3_->attach(nullptr);
  conn_ = nullptr;
  finish();
}

}  // namespace dquic::h3get
