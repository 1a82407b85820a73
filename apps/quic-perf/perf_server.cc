#include "perf_server.h"

#include <algorithm>

#include "quic/stream_id.h"

namespace dquic::perf {

PerfServerConnection::PerfServerConnection(PerfServerContext* ctx) : ctx_(ctx) {
  streams_.reserve(ctx_->max_streams);
  sending_.reserve(ctx_->max_streams);
}

void PerfServerConnection::attach(Connection* c) {
  c_ = c;
  streams_.clear();
  sending_.clear();
}

void PerfServerConnection::detach() {
  c_ = nullptr;
  streams_.clear();
  sending_.clear();
}

PerfServerConnection::StreamState* PerfServerConnection::find(std::uint64_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

PerfServerConnection::StreamState* PerfServerConnection::track(std::uint64_t id) {
  if (StreamState* s = find(id)) return s;
  if (c_ == nullptr) return nullptr;
  // Only client-initiated bidirectional streams carry requests here: the
  // unidirectional variant (§2.3.2) is not implemented (error 1).
  if (!is_bidirectional(id) || stream_initiator(id) != EndpointRole::kClient) {
    ++ctx_->stats.rejected;
    (void)c_->stop_sending(id, kErrorNotImplemented);
    return nullptr;
  }
  if (streams_.size() >= ctx_->max_streams) {
    ++ctx_->stats.rejected;
    (void)c_->stop_sending(id, kErrorRejected);
    (void)c_->reset_stream(id, kErrorRejected);
    return nullptr;
  }
  ++ctx_->stats.streams;
  return &streams_.emplace(id, StreamState{}).first->second;
}

void PerfServerConnection::on_stream_opened(std::uint64_t id) {
  (void)track(id);
}

void PerfServerConnection::on_stream_readable(std::uint64_t id) {
  // Streams are tracked when opened; one refused there stays unknown.
  StreamState* s = find(id);
  if (s == nullptr || s->fin_read) return;
  for (;;) {
    bool fin = false;
    std::int64_t n = 0;
    if (s->header_len < kRequestHeaderSize) {
      n = c_->read(
          id,
          std::span<std::uint8_t>(s->header + s->header_len, kRequestHeaderSize - s->header_len),
          &fin);
      if (n > 0) s->header_len = static_cast<std::uint8_t>(s->header_len + n);
    } else {
      // The upload is counted and dropped (draft §2.3: "drains the rest").
      n = c_->read(id, ctx_->scratch, &fin);
      if (n > 0) ctx_->stats.bytes_uploaded += static_cast<std::uint64_t>(n);
    }
    if (fin) {
      s->fin_read = true;
      respond(id, *s);
      return;
    }
    if (n <= 0) return;
  }
}

void PerfServerConnection::respond(std::uint64_t id, StreamState& s) {
  if (s.header_len < kRequestHeaderSize) {
    // §2.3.1: ignored, and our side closed gracefully.
    ++ctx_->stats.invalid;
    s.done = true;
    (void)c_->write(id, {}, true);
    return;
  }
  s.responding = true;
  s.remaining = decode_request_size(std::span<const std::uint8_t, kRequestHeaderSize>(s.header));
  sending_.push_back(id);
  (void)pump();
}

bool PerfServerConnection::pump() {
  if (c_ == nullptr) return false;
  std::size_t keep = 0;
  for (std::size_t i = 0; i < sending_.size(); ++i) {
    const std::uint64_t id = sending_[i];
    StreamState* s = find(id);
    if (s == nullptr || s->done) continue;
    const std::uint64_t before = s->remaining;
    bool fin_sent = false;
    const bool ok = ctx_->pattern->send(*c_, id, &s->remaining, true, &fin_sent);
    ctx_->stats.bytes_queued += before - s->remaining;
    if (!ok) {
      s->done = true;
      continue;
    }
    if (fin_sent) {
      s->done = true;
      ++ctx_->stats.responses_completed;
      continue;
    }
    sending_[keep++] = id;
  }
  sending_.resize(keep);
  if (!sending_.empty()) note_waiting();
  return !sending_.empty();
}

void PerfServerConnection::note_waiting() {
  if (waiting_) return;
  waiting_ = true;
  ctx_->waiting.push_back(this);
}

void PerfServerConnection::on_stream_reset(std::uint64_t id, std::uint64_t /*app_error*/) {
  // The client abandoned its request: nothing more will be read.
  if (StreamState* s = find(id)) {
    if (!s->responding) {
      s->done = true;
      ++ctx_->stats.invalid;
    }
  }
}

void PerfServerConnection::on_stop_sending(std::uint64_t id, std::uint64_t /*app_error*/) {
  // RFC 9000 §3.5: answer STOP_SENDING with RESET_STREAM.
  ++ctx_->stats.stopped;
  if (StreamState* s = find(id)) s->done = true;
  if (c_ != nullptr) (void)c_->reset_stream(id, kErrorNone);
}

void PerfServerConnection::on_stream_closed(std::uint64_t id) {
  streams_.erase(id);
  // sending_ drops ids it no longer finds on the next pump().
}

}  // namespace dquic::perf
