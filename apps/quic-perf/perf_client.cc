#include "perf_client.h"

#include <array>

namespace dquic::perf {

PerfClientConnection::PerfClientConnection(const PerfRequestSpec& spec, PerfClientContext* ctx)
    : spec_(spec), ctx_(ctx) {
  if (spec_.concurrent == 0) spec_.concurrent = 1;
  slots_.resize(spec_.concurrent);
  slot_of_.reserve(spec_.concurrent);
}

void PerfClientConnection::attach(Connection* c) {
  c_ = c;
}

void PerfClientConnection::detach() {
  c_ = nullptr;
}

bool PerfClientConnection::done() const {
  if (in_flight_ != 0) return false;
  if (stopped_) return true;
  return spec_.requests != 0 && started_ >= spec_.requests;
}

void PerfClientConnection::on_handshake_complete() {
  handshake_done_ = true;
  handshake_time_ = ctx_->now();
  if (c_ != nullptr) start();
}

void PerfClientConnection::start() {
  open_more();
}

void PerfClientConnection::on_streams_available(bool bidi) {
  if (bidi) open_more();
}

PerfClientConnection::Slot* PerfClientConnection::find(std::uint64_t id) {
  auto it = slot_of_.find(id);
  return it == slot_of_.end() ? nullptr : &slots_[it->second];
}

void PerfClientConnection::open_more() {
  if (c_ == nullptr) return;
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.busy) continue;
    if (stopped_ || (spec_.requests != 0 && started_ >= spec_.requests)) return;
    // Fails at the peer's MAX_STREAMS: on_streams_available calls again.
    const std::optional<std::uint64_t> id = c_->open_stream(true);
    if (!id) return;
    s = Slot{};
    s.id = *id;
    s.busy = true;
    s.started = ctx_->now();
    s.upload_left = spec_.upload;
    slot_of_[*id] = i;
    ++started_;
    ++in_flight_;
    ++ctx_->stats.requests_started;
    std::array<std::uint8_t, kRequestHeaderSize> header;
    encode_request_size(spec_.download, header);
    // A new stream has room for 8 bytes: the copy is the only one per request.
    if (c_->write(*id, ByteSpan(header.data(), header.size()), false) !=
        static_cast<std::int64_t>(header.size())) {
      finish(s, false);
      continue;
    }
    send_upload(s);
  }
}

void PerfClientConnection::send_upload(Slot& s) {
  if (s.upload_fin) return;
  const std::uint64_t before = s.upload_left;
  bool fin_sent = false;
  if (!ctx_->pattern->send(*c_, s.id, &s.upload_left, true, &fin_sent)) {
    finish(s, false);
    return;
  }
  ctx_->stats.bytes_uploaded += before - s.upload_left;
  if (fin_sent) {
    s.upload_fin = true;
  } else {
    note_waiting();
  }
}

void PerfClientConnection::note_waiting() {
  if (waiting_) return;
  waiting_ = true;
  ctx_->waiting.push_back(this);
}

bool PerfClientConnection::pump() {
  if (c_ == nullptr) return false;
  bool still = false;
  for (Slot& s : slots_) {
    if (!s.busy || s.upload_fin) continue;
    send_upload(s);
    if (s.busy && !s.upload_fin) still = true;
  }
  return still;
}

void PerfClientConnection::on_stream_readable(std::uint64_t id) {
  Slot* s = find(id);
  if (s == nullptr || c_ == nullptr) return;
  for (;;) {
    bool fin = false;
    const std::int64_t n = c_->read(id, ctx_->scratch, &fin);
    if (n > 0) {
      if (spec_.verify) {
        for (std::int64_t i = 0; i < n; ++i)
          if (ctx_->scratch[static_cast<std::size_t>(i)] !=
              pattern_byte((s->received + static_cast<std::uint64_t>(i)) % kPatternChunk))
            ++ctx_->stats.mismatches;
      }
      s->received += static_cast<std::uint64_t>(n);
      ctx_->stats.bytes_received += static_cast<std::uint64_t>(n);
    }
    if (fin) {
      finish(*s, s->received == spec_.download);
      return;
    }
    if (n <= 0) return;
  }
}

void PerfClientConnection::on_stream_reset(std::uint64_t id, std::uint64_t /*app_error*/) {
  if (Slot* s = find(id)) finish(*s, false);
}

void PerfClientConnection::finish(Slot& s, bool ok) {
  if (!s.busy) return;
  s.busy = false;
  slot_of_.erase(s.id);
  --in_flight_;
  if (ok) {
    ++completed_;
    ++ctx_->stats.requests_completed;
    const Time now = ctx_->now();
    ctx_->stats.latency.record(now >= s.started ? static_cast<std::uint64_t>(now - s.started) : 0);
  } else {
    ++failed_;
    ++ctx_->stats.requests_failed;
    if (c_ != nullptr) {
      (void)c_->stop_sending(s.id, kErrorNone);
      (void)c_->reset_stream(s.id, kErrorNone);
    }
  }
  open_more();
}

}  // namespace dquic::perf
