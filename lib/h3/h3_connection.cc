#include "h3/h3_connection.h"

#include <algorithm>
#include <array>

#include "quic/stream_id.h"

namespace dquic {

namespace {

constexpr std::size_t kReadChunk = 16384;
constexpr std::uint64_t kGreaseSetting = 0x1f * 7 + 0x21;

ByteSpan bytes_of(const std::vector<std::uint8_t>& v) {
  return {v.data(), v.size()};
}

}  // namespace

// Receive side of a request stream (§4.1): HEADERS (1xx interim ones
// first, client side), DATA*, optional trailers; then nothing but unknown
// frames.
enum class RxState : std::uint8_t { kHeaders, kBody, kTrailersDone, kStopped };

struct Http3Connection::Stream {
  std::uint64_t id = 0;
  bool bidi = false;
  bool counted = false;  // in active_requests_
  // Receiving.
  UniKind uni = UniKind::kUnknownYet;
  std::array<std::uint8_t, 8> type_buf{};
  std::size_t type_len = 0;
  H3FrameReader reader;
  RxState rx = RxState::kHeaders;
  bool settings_seen = false;  // control stream
  bool head_request = false;   // client: no content expected in the response
  H3ContentLength content;
  std::vector<std::uint8_t> instructions;  // partial QPACK instruction
  bool blocked = false;                    // waiting for encoder-stream inserts
  std::vector<std::uint8_t> blocked_section, pending_in;
  bool pending_fin = false;
  bool read_done = false;  // FIN processed
  // Closed by the transport while blocked: released once it completes.
  bool transport_closed = false;
  // Sending.
  std::vector<std::uint8_t> pending;  // bytes the transport has not taken yet
  rte_mbuf* pending_mbuf = nullptr;   // a zero-copy payload behind `pending`
  const std::uint8_t* pending_mbuf_data = nullptr;
  std::size_t pending_mbuf_len = 0;
  std::uint64_t data_remaining = 0;  // of the DATA frame being written
  bool headers_sent = false, trailers_sent = false, fin_wanted = false, fin_sent = false;
  bool send_closed = false;  // reset by us or stopped by the peer

  explicit Stream(const H3FrameReaderLimits& l) : reader(l) {}
  ~Stream() {
    if (pending_mbuf != nullptr) rte_pktmbuf_free(pending_mbuf);
  }
};

// Callbacks re-enter (a read can close a stream): streams are released only
// when the outermost call returns.
struct Http3Connection::Guard {
  explicit Guard(Http3Connection* c) : c(c) { ++c->depth_; }
  ~Guard() {
    if (--c->depth_ > 0) return;
    ++c->depth_;
    while (!c->deferred_release_.empty()) {
      const std::uint64_t id = c->deferred_release_.back();
      c->deferred_release_.pop_back();
      c->release(id);
    }
    c->maybe_finish_shutdown();
    --c->depth_;
  }
  Http3Connection* c;
};

Http3Connection::Http3Connection(const Http3Config& config, Http3Handler* handler)
    : config_(config),
      handler_(handler),
      decoder_(QpackDecoderConfig{config.qpack_max_table_capacity, config.qpack_blocked_streams,
                                  config.max_field_section_size}) {
  QpackEncoderConfig ec;  // RFC 9204 §3.2.3: capacity 0 until the peer's SETTINGS
  ec.max_table_capacity = config_.encoder_table_capacity;
  encoder_ = std::make_unique<QpackEncoder>(ec);
  read_buf_.resize(kReadChunk);
  section_buf_.resize(static_cast<std::size_t>(config_.max_field_section_size) + 256);
  enc_stream_buf_.resize(static_cast<std::size_t>(config_.encoder_table_capacity) + 1024);
  dec_stream_buf_.resize(1024);
  field_slots_.resize(
      static_cast<std::size_t>(config_.max_field_section_size) / kQpackEntryOverhead + 1);
  field_bytes_.resize(static_cast<std::size_t>(config_.max_field_section_size));
}

Http3Connection::~Http3Connection() = default;

void Http3Connection::attach(Connection* conn) {
  conn_ = conn;
  observer_ = conn != nullptr ? conn->observer() : nullptr;
  // RFC 9114 §6.2, RFC 9001 §4.6.1: a client offering 0-RTT opens its
  // control and QPACK streams at once, so that they and its requests can go
  // in the first flight (the transport runs them under the remembered limits,
  // RFC 9000 §7.4.1).
  if (conn_ != nullptr &&
      (conn_->handshake_complete() || (client() && conn_->early_data_offered()))) {
    Guard g(this);
    open_local_streams();
  }
}

// ---------------------------------------------------------------- streams

Http3Connection::Stream* Http3Connection::find(std::uint64_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

Http3Connection::Stream* Http3Connection::create(std::uint64_t id) {
  H3FrameReaderLimits l;
  l.max_field_section = static_cast<std::size_t>(config_.max_field_section_size);
  auto st = std::make_unique<Stream>(l);
  st->id = id;
  st->bidi = is_bidirectional(id);
  Stream* p = st.get();
  streams_[id] = std::move(st);
  return p;
}

void Http3Connection::release(std::uint64_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if (it->second->blocked && !closed_) {
    // RFC 9204 §2.1.2: the transport closed the stream (FIN read, our side
    // done) while its section waits for encoder inserts; its bytes are all
    // here: keep it until resume_unblocked completes it.
    it->second->transport_closed = true;
    return;
  }
  if (it->second->counted && active_requests_ > 0) --active_requests_;
  if (it->second->blocked && conn_ != nullptr) {
    Writer w(dec_stream_buf_);
    if (decoder_.cancel_stream(id, w) && decoder_out_) {
      if (Stream* d = find(*decoder_out_)) out(*d, ByteSpan(dec_stream_buf_.data(), w.written()));
    }
  }
  streams_.erase(it);
}

void Http3Connection::open_local_streams() {
  if (streams_opened_ || conn_ == nullptr || closed_) return;
  // §6.2: control stream first with SETTINGS as its first frame (§6.2.1);
  // RFC 9204 §4.2: the encoder and decoder streams.
  const std::optional<std::uint64_t> c = conn_->open_stream(false);
  const std::optional<std::uint64_t> e = conn_->open_stream(false);
  const std::optional<std::uint64_t> d = conn_->open_stream(false);
  if (!c || !e || !d) {
    // §6.2: the peer MUST allow at least three unidirectional streams.
    connection_error(H3Error::kGeneralProtocolError, "peer allows too few uni streams");
    return;
  }
  streams_opened_ = true;
  control_out_ = *c;
  encoder_out_ = *e;
  decoder_out_ = *d;
  std::array<std::uint8_t, 128> buf{};
  Writer w(buf);
  w.write_varint(kH3StreamControl);
  H3Settings s;
  s.qpack_max_table_capacity = config_.qpack_max_table_capacity;
  s.qpack_blocked_streams = config_.qpack_blocked_streams;
  s.max_field_section_size = config_.max_field_section_size;
  (void)write_settings_frame(s, w, config_.grease ? kGreaseSetting : 0);
  if (observer_) {
    Reader r(ByteSpan(buf.data(), w.written()));  // stream type, frame type, length
    std::uint64_t v = 0, length = 0;
    if (r.read_varint(&v) && r.read_varint(&v) && r.read_varint(&length))
      frame_created(*c, H3FrameType::kSettings, length);
  }
  out(*create(*c), ByteSpan(buf.data(), w.written()));
  const std::uint8_t enc_type = kH3StreamQpackEncoder, dec_type = kH3StreamQpackDecoder;
  out(*create(*e), ByteSpan(&enc_type, 1));
  out(*create(*d), ByteSpan(&dec_type, 1));
}

bool Http3Connection::out(Stream& s, ByteSpan bytes) {
  if (conn_ == nullptr || s.send_closed) return false;
  if (bytes.empty()) return true;
  if (s.pending.empty() && s.pending_mbuf == nullptr) {
    const std::int64_t n = conn_->write(s.id, bytes, false);
    if (n < 0) return false;
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    if (bytes.empty()) return true;
  }
  if (s.pending.size() + bytes.size() > config_.max_pending_out) {
    // A critical stream that cannot keep up is fatal; a request is not.
    if (!s.bidi) connection_error(H3Error::kExcessiveLoad, "stream output backlog");
    return false;
  }
  s.pending.insert(s.pending.end(), bytes.begin(), bytes.end());
  return true;
}

void Http3Connection::flush(Stream& s) {
  if (conn_ == nullptr || s.send_closed) return;
  if (!s.pending.empty()) {
    const std::int64_t n = conn_->write(s.id, bytes_of(s.pending), false);
    if (n < 0) return;
    s.pending.erase(s.pending.begin(), s.pending.begin() + n);
    if (!s.pending.empty()) return;
  }
  if (s.pending_mbuf != nullptr) {
    const std::int64_t n =
        conn_->write_mbuf(s.id, s.pending_mbuf, s.pending_mbuf_data, s.pending_mbuf_len, false);
    if (n <= 0) return;                // no room (0): again on the next writable
    rte_pktmbuf_free(s.pending_mbuf);  // the transport holds its own reference now
    s.pending_mbuf = nullptr;
    s.data_remaining -= s.pending_mbuf_len;
  }
  if (s.fin_wanted && !s.fin_sent && s.data_remaining == 0) {
    if (conn_->write(s.id, ByteSpan{}, true) >= 0) s.fin_sent = true;
  }
}

void Http3Connection::flush_qpack_streams() {
  for (const auto& id : {encoder_out_, decoder_out_})
    if (id)
      if (Stream* s = find(*id)) flush(*s);
}

bool Http3Connection::within_peer_field_limit(std::span<const QpackField> fields) const {
  // §4.2.2: do not send a section above the peer's limit.
  const std::uint64_t limit =
      peer_settings_ ? peer_settings_->max_field_section_size : kH3Unlimited;
  std::uint64_t size = 0;
  for (const QpackField& f : fields)
    size += qpack_entry_size(f.name.size(), f.value.size());
  return size <= limit;
}

bool Http3Connection::write_headers_frame(Stream& s, std::span<const QpackField> fields) {
  if (!within_peer_field_limit(fields) || !encoder_out_) return false;
  Writer section(section_buf_);
  Writer enc(enc_stream_buf_);
  if (encoder_->encode(s.id, fields, section, enc) != QpackStatus::kOk) {
    // Inserts already written must still reach the peer.
    if (enc.written() > 0)
      if (Stream* e = find(*encoder_out_)) out(*e, ByteSpan(enc_stream_buf_.data(), enc.written()));
    return false;
  }
  if (enc.written() > 0) {
    Stream* e = find(*encoder_out_);
    if (e == nullptr || !out(*e, ByteSpan(enc_stream_buf_.data(), enc.written()))) return false;
  }
  std::array<std::uint8_t, kH3MaxFrameHeader> hdr{};
  Writer h(hdr);
  write_frame_header(h, h3_type(H3FrameType::kHeaders), section.written());
  frame_created(s.id, H3FrameType::kHeaders, section.written());
  return out(s, ByteSpan(hdr.data(), h.written())) &&
         out(s, ByteSpan(section_buf_.data(), section.written()));
}

// ---------------------------------------------------------------- application API

std::optional<std::uint64_t> Http3Connection::send_request(std::span<const QpackField> fields,
                                                           ByteSpan body, bool fin) {
  if (!client() || !streams_opened_ || closed_ || goaway_received_ || goaway_sent_)
    return std::nullopt;
  H3RequestHead head;
  if (validate_request(fields, &head) != H3Error::kNoError) return std::nullopt;
  if (!within_peer_field_limit(fields)) return std::nullopt;
  Guard g(this);
  const std::optional<std::uint64_t> id = conn_->open_stream(true);
  if (!id) return std::nullopt;
  Stream* s = create(*id);
  s->counted = true;
  ++active_requests_;
  ++stats_.requests;
  s->head_request = head.method == "HEAD";
  if (!write_headers_frame(*s, fields)) {
    reset(*id, H3Error::kInternalError);
    return std::nullopt;
  }
  s->headers_sent = true;
  if (!body.empty()) {
    std::array<std::uint8_t, kH3MaxFrameHeader> hdr{};
    Writer h(hdr);
    write_frame_header(h, h3_type(H3FrameType::kData), body.size());
    frame_created(*id, H3FrameType::kData, body.size());
    if (!out(*s, ByteSpan(hdr.data(), h.written())) || !out(*s, body)) {
      reset(*id, H3Error::kInternalError);
      return std::nullopt;
    }
  }
  if (fin) {
    s->fin_wanted = true;
    flush(*s);
  }
  return id;
}

bool Http3Connection::send_response_headers(std::uint64_t stream, std::uint16_t status,
                                            std::span<const QpackField> fields) {
  Stream* s = find(stream);
  if (client() || s == nullptr || !s->bidi || s->send_closed || s->fin_wanted || closed_)
    return false;
  // Interim (1xx) responses may come first; one final response (§4.1).
  if (s->headers_sent || status < 100 || status > 599 || status == 101) return false;
  Guard g(this);
  std::array<char, 3> digits{static_cast<char>('0' + status / 100),
                             static_cast<char>('0' + status / 10 % 10),
                             static_cast<char>('0' + status % 10)};
  const std::size_t n = std::min<std::size_t>(fields.size(), 255);
  std::array<QpackField, 256> all;
  all[0] = {":status", std::string_view(digits.data(), 3), false};
  for (std::size_t i = 0; i < n; ++i)
    all[i + 1] = fields[i];
  if (n < fields.size()) return false;
  if (!write_headers_frame(*s, std::span<const QpackField>(all.data(), n + 1))) return false;
  if (status >= 200) s->headers_sent = true;
  return true;
}

std::int64_t Http3Connection::send_body(std::uint64_t stream, ByteSpan data) {
  Stream* s = find(stream);
  if (s == nullptr || !s->bidi || !s->headers_sent || s->trailers_sent || s->fin_wanted ||
      s->send_closed || closed_)
    return -1;
  if (data.empty()) return 0;
  Guard g(this);
  flush(*s);
  if (s->pending_mbuf != nullptr) return 0;
  if (s->data_remaining == 0) {
    if (!s->pending.empty()) return 0;  // a previous frame's bytes still queued
    std::array<std::uint8_t, kH3MaxFrameHeader> hdr{};
    Writer h(hdr);
    write_frame_header(h, h3_type(H3FrameType::kData), data.size());
    frame_created(s->id, H3FrameType::kData, data.size());
    if (!out(*s, ByteSpan(hdr.data(), h.written()))) return -1;
    s->data_remaining = data.size();
  }
  if (!s->pending.empty()) return 0;  // the header waits: the payload follows it later
  const std::size_t want =
      static_cast<std::size_t>(std::min<std::uint64_t>(s->data_remaining, data.size()));
  const std::int64_t n = conn_->write(s->id, data.first(want), false);
  if (n < 0) return -1;
  s->data_remaining -= static_cast<std::uint64_t>(n);
  return n;
}

bool Http3Connection::send_body_mbuf(std::uint64_t stream, rte_mbuf* owner,
                                     const std::uint8_t* data, std::size_t length) {
  Stream* s = find(stream);
  if (s == nullptr || !s->bidi || !s->headers_sent || s->trailers_sent || s->fin_wanted ||
      s->send_closed || closed_ || s->data_remaining != 0 || s->pending_mbuf != nullptr)
    return false;
  if (length == 0) return true;
  Guard g(this);
  std::array<std::uint8_t, kH3MaxFrameHeader> hdr{};
  Writer h(hdr);
  write_frame_header(h, h3_type(H3FrameType::kData), length);
  frame_created(s->id, H3FrameType::kData, length);
  if (!out(*s, ByteSpan(hdr.data(), h.written()))) return false;
  s->data_remaining = length;
  // Queued behind the header; flush() hands it to the transport by reference.
  rte_mbuf_refcnt_update(owner, 1);
  s->pending_mbuf = owner;
  s->pending_mbuf_data = data;
  s->pending_mbuf_len = length;
  flush(*s);
  return true;
}

bool Http3Connection::send_trailers(std::uint64_t stream, std::span<const QpackField> fields) {
  Stream* s = find(stream);
  if (s == nullptr || !s->bidi || !s->headers_sent || s->trailers_sent || s->fin_wanted ||
      s->send_closed || s->data_remaining != 0 || closed_)
    return false;
  for (const QpackField& f : fields)
    if (validate_regular_field(f) != H3Error::kNoError) return false;  // §4.3: no pseudo
  Guard g(this);
  if (!write_headers_frame(*s, fields)) return false;
  s->trailers_sent = true;
  s->fin_wanted = true;
  flush(*s);
  return true;
}

bool Http3Connection::finish(std::uint64_t stream) {
  Stream* s = find(stream);
  if (s == nullptr || !s->bidi || !s->headers_sent || s->send_closed || closed_) return false;
  if (s->fin_wanted) return true;
  if (s->data_remaining != 0 && s->pending_mbuf == nullptr) return false;  // frame unfinished
  Guard g(this);
  s->fin_wanted = true;
  flush(*s);
  return true;
}

void Http3Connection::reset(std::uint64_t stream, H3Error error) {
  Stream* s = find(stream);
  if (s == nullptr || conn_ == nullptr) return;
  Guard g(this);
  stream_error(*s, error);
}

void Http3Connection::shutdown() {
  if (closed_ || goaway_sent_ || !control_out_) return;
  Guard g(this);
  // §5.2: the server names the first request stream it will not process;
  // the client sends a push ID (we allow no pushes: 0).
  const std::uint64_t id = client() ? 0 : next_request_id_;
  std::array<std::uint8_t, kH3MaxFrameHeader> buf{};
  Writer w(buf);
  write_varint_frame(w, H3FrameType::kGoaway, id);
  frame_created(*control_out_, H3FrameType::kGoaway, w.written() - 2);  // 1-byte type and length
  if (Stream* c = find(*control_out_)) out(*c, ByteSpan(buf.data(), w.written()));
  goaway_sent_ = id;
}

void Http3Connection::close(H3Error error, std::string_view reason) {
  Guard g(this);
  connection_error(h3_code(error), reason);
}

void Http3Connection::connection_error(std::uint64_t code, std::string_view reason) {
  if (closed_) return;
  closed_ = true;
  error_ = code;
  if (conn_ != nullptr) conn_->close(code, reason, now());
  if (handler_ != nullptr) handler_->on_connection_closed(code, true);
}

void Http3Connection::maybe_finish_shutdown() {
  // §5.2: once the requests below our GOAWAY are done, close cleanly.
  if (closed_ || !goaway_sent_ || active_requests_ > 0) return;
  connection_error(H3Error::kNoError, "");
}

void Http3Connection::stream_error(Stream& s, H3Error e) {
  ++stats_.stream_errors;
  if (s.bidi) {
    // §4.1.2: abort both directions of a malformed or rejected message.
    if (!s.send_closed) {
      (void)conn_->reset_stream(s.id, h3_code(e));
      s.send_closed = true;
      s.pending.clear();
      if (s.pending_mbuf != nullptr) {
        rte_pktmbuf_free(s.pending_mbuf);
        s.pending_mbuf = nullptr;
      }
    }
  }
  if (s.rx != RxState::kStopped && !s.read_done) {
    (void)conn_->stop_sending(s.id, h3_code(e));
    // RFC 9204 §4.4.2: we abandon its field sections.
    Writer w(dec_stream_buf_);
    if (decoder_out_ && decoder_.cancel_stream(s.id, w))
      if (Stream* d = find(*decoder_out_)) out(*d, ByteSpan(dec_stream_buf_.data(), w.written()));
  }
  s.rx = RxState::kStopped;
  s.blocked = false;
  s.blocked_section.clear();
  s.pending_in.clear();
  if (handler_ != nullptr && s.bidi) handler_->on_stream_error(s.id, h3_code(e));
}

// ---------------------------------------------------------------- transport events

void Http3Connection::on_handshake_complete() {
  Guard g(this);
  open_local_streams();
}

void Http3Connection::on_stream_opened(std::uint64_t id) {
  if (closed_ || conn_ == nullptr) return;  // not attached: nothing to drive
  Guard g(this);
  // A server that accepted 0-RTT (RFC 9001 §4.6) sees the client's streams
  // before its handshake completes: its control and QPACK streams (§6.2)
  // open now, so that requests arriving in 0-RTT can be answered (the
  // transport sends the bytes when it may). Idempotent.
  if (!client()) open_local_streams();
  Stream* s = create(id);
  if (!s->bidi) return;  // its type comes with its first bytes
  if (client()) {
    // §6.1: no server-initiated bidirectional streams without an extension.
    connection_error(H3Error::kStreamCreationError, "server-initiated bidi stream");
    return;
  }
  next_request_id_ = std::max(next_request_id_, id + 4);
  if (goaway_sent_ && id >= *goaway_sent_) {
    // §5.2: beyond our GOAWAY: not processed, the client may retry.
    s->rx = RxState::kStopped;
    (void)conn_->stop_sending(id, h3_code(H3Error::kRequestRejected));
    (void)conn_->reset_stream(id, h3_code(H3Error::kRequestRejected));
    s->send_closed = true;
    return;
  }
  s->counted = true;
  ++active_requests_;
  ++stats_.requests;
}

void Http3Connection::on_stream_readable(std::uint64_t id) {
  if (closed_ || conn_ == nullptr) return;  // not attached: nothing to drive
  Guard g(this);
  read_stream(id);
}

void Http3Connection::read_discard(std::uint64_t id) {
  bool fin = false;
  while (conn_->read(id, read_buf_, &fin) > 0 && !fin) {
  }
}

void Http3Connection::read_stream(std::uint64_t id) {
  for (;;) {
    Stream* s = find(id);
    if (s == nullptr || closed_ || s->blocked || s->read_done) return;
    if (s->rx == RxState::kStopped || s->uni == UniKind::kIgnored) {
      read_discard(id);
      return;
    }
    bool fin = false;
    const std::int64_t n = conn_->read(id, read_buf_, &fin);
    if (n < 0 || (n == 0 && !fin)) return;
    const ByteSpan in(read_buf_.data(), static_cast<std::size_t>(n));
    std::size_t used = 0;
    if (!process(*s, in, &used)) {
      if (s->blocked && !closed_) {
        s->pending_in.assign(in.begin() + static_cast<std::ptrdiff_t>(used), in.end());
        s->pending_fin = fin;
      }
      return;
    }
    if (fin) {
      on_stream_end(*s);
      return;
    }
  }
}

bool Http3Connection::process_uni_type(Stream& s, ByteSpan in, std::size_t* used) {
  // §6.2: the stream type, a varint, possibly split.
  std::size_t pos = 0;
  while (pos < in.size()) {
    s.type_buf[s.type_len++] = in[pos++];
    if (s.type_len == varint_length_from_prefix(s.type_buf[0])) break;
  }
  *used = pos;
  if (s.type_len == 0 || s.type_len < varint_length_from_prefix(s.type_buf[0])) return true;
  std::uint64_t type = 0;
  Reader r(ByteSpan(s.type_buf.data(), s.type_len));
  (void)r.read_varint(&type);
  std::optional<std::uint64_t>* slot = nullptr;
  UniKind kind = UniKind::kIgnored;
  switch (type) {
    case kH3StreamControl:
      slot = &control_in_, kind = UniKind::kControl;
      break;
    case kH3StreamQpackEncoder:
      slot = &encoder_in_, kind = UniKind::kEncoder;
      break;
    case kH3StreamQpackDecoder:
      slot = &decoder_in_, kind = UniKind::kDecoder;
      break;
    case kH3StreamPush:
      if (!client()) {
        // §6.2.2: only servers push.
        connection_error(H3Error::kStreamCreationError, "push stream from client");
      } else {
        // §4.6: we sent no MAX_PUSH_ID, so every push ID is above the limit.
        connection_error(H3Error::kIdError, "push without MAX_PUSH_ID");
      }
      return false;
    default:
      // §6.2, §9: unknown (and grease) types: abort reading.
      s.uni = UniKind::kIgnored;
      (void)conn_->stop_sending(s.id, h3_code(H3Error::kStreamCreationError));
      ++stats_.ignored_frames;
      return false;
  }
  if (slot->has_value()) {
    // §6.2.1, RFC 9204 §4.2: one of each per peer.
    connection_error(H3Error::kStreamCreationError, "duplicate critical stream");
    return false;
  }
  *slot = s.id;
  s.uni = kind;
  return true;
}

bool Http3Connection::process(Stream& s, ByteSpan in, std::size_t* used) {
  *used = 0;
  if (!s.bidi && s.uni == UniKind::kUnknownYet) {
    std::size_t n = 0;
    const bool go = process_uni_type(s, in, &n);
    *used = n;
    if (!go) {
      if (s.uni == UniKind::kIgnored) read_discard(s.id);
      return false;
    }
    in = in.subspan(n);
    if (s.uni == UniKind::kUnknownYet) return true;
  }
  if (s.uni == UniKind::kEncoder) {
    on_encoder_instructions(s, in);
    *used += in.size();
    return !closed_;
  }
  if (s.uni == UniKind::kDecoder) {
    on_decoder_instructions(s, in);
    *used += in.size();
    return !closed_;
  }
  while (!closed_) {
    if (s.rx == RxState::kStopped) {
      *used += in.size();
      return false;
    }
    const H3FrameReader::Result r = s.reader.next(in);
    in = in.subspan(r.consumed);
    *used += r.consumed;
    bool ok = true;
    switch (r.event) {
      case H3FrameReader::Event::kNeedMore:
        return true;
      case H3FrameReader::Event::kError:
        if (s.bidi && r.error == H3Error::kExcessiveLoad) {
          // A header section above our limit (§4.2.2): this request only.
          stream_error(s, H3Error::kExcessiveLoad);
          *used += in.size();
          return false;
        }
        connection_error(r.error, "frame");
        return false;
      case H3FrameReader::Event::kHeader:
        if (observer_)
          observer_->on_http3_frame(false, s.id, r.header.type, r.header.length, now());
        if (s.uni == UniKind::kControl) {
          // §6.2.1: SETTINGS first; §7.2: which frames the control stream carries.
          const std::uint64_t t = r.header.type;
          if (!s.settings_seen && t != h3_type(H3FrameType::kSettings)) {
            connection_error(H3Error::kMissingSettings, "first frame not SETTINGS");
            return false;
          }
          if ((s.settings_seen && t == h3_type(H3FrameType::kSettings)) ||
              t == h3_type(H3FrameType::kData) || t == h3_type(H3FrameType::kHeaders) ||
              t == h3_type(H3FrameType::kPushPromise) || h3_is_http2_frame_type(t) ||
              (client() && t == h3_type(H3FrameType::kMaxPushId)) ||
              (client() && (t == h3_type(H3FrameType::kPriorityUpdateRequest) ||
                            t == h3_type(H3FrameType::kPriorityUpdatePush)))) {
            connection_error(H3Error::kFrameUnexpected, "frame on control stream");
            return false;
          }
          s.settings_seen = true;
          if (H3FrameReader::mode_of(t) == H3PayloadMode::kSkip) ++stats_.ignored_frames;
        } else {
          ok = on_request_frame_header(s, r.header);
        }
        break;
      case H3FrameReader::Event::kFrame:
        ok = s.uni == UniKind::kControl ? on_control_frame(s, r) : on_request_frame(s, r);
        break;
      case H3FrameReader::Event::kData:
        ok = on_request_data(s, r.payload);
        break;
    }
    if (!ok) {
      if (!s.blocked) *used += in.size();
      return false;
    }
  }
  return false;
}

bool Http3Connection::on_control_frame(Stream& s, const H3FrameReader::Result& r) {
  (void)s;
  std::uint64_t v = 0;
  switch (static_cast<H3FrameType>(r.header.type)) {
    case H3FrameType::kSettings: {
      H3Settings set;
      const H3Error e = decode_settings(r.payload, &set);
      if (e != H3Error::kNoError) {
        connection_error(e, "SETTINGS");
        return false;
      }
      peer_settings_ = set;
      // RFC 9204 §3.2.3: the encoder may now use the peer's table.
      QpackEncoderConfig ec;
      ec.peer_max_table_capacity = set.qpack_max_table_capacity;
      ec.peer_blocked_streams = set.qpack_blocked_streams;
      ec.max_table_capacity = config_.encoder_table_capacity;
      encoder_ = std::make_unique<QpackEncoder>(ec);
      return true;
    }
    case H3FrameType::kGoaway: {
      if (const H3Error e = decode_varint_payload(r.payload, &v); e != H3Error::kNoError) {
        connection_error(e, "GOAWAY");
        return false;
      }
      // §5.2, §7.2.6: a client-initiated bidi stream id (from a server);
      // never larger than an earlier GOAWAY.
      if ((client() && (v & 3) != 0) || (goaway_received_ && v > *goaway_received_)) {
        connection_error(H3Error::kIdError, "GOAWAY id");
        return false;
      }
      goaway_received_ = v;
      if (client()) {
        // §5.2: requests at or above the id were not processed: retryable.
        std::vector<std::uint64_t> rejected;
        for (const auto& [id, st] : streams_)
          if (st->bidi && st->counted && id >= v) rejected.push_back(id);
        for (std::uint64_t id : rejected)
          if (Stream* st = find(id)) stream_error(*st, H3Error::kRequestRejected);
      }
      if (handler_ != nullptr) handler_->on_goaway(v);
      return true;
    }
    case H3FrameType::kMaxPushId:
      if (const H3Error e = decode_varint_payload(r.payload, &v); e != H3Error::kNoError) {
        connection_error(e, "MAX_PUSH_ID");
        return false;
      }
      // §7.2.7: never reduced. We never push, so it is only checked.
      if (max_push_id_seen_ && v < max_push_id_received_) {
        connection_error(H3Error::kIdError, "MAX_PUSH_ID reduced");
        return false;
      }
      max_push_id_seen_ = true;
      max_push_id_received_ = v;
      return true;
    case H3FrameType::kCancelPush:
      if (const H3Error e = decode_varint_payload(r.payload, &v); e != H3Error::kNoError) {
        connection_error(e, "CANCEL_PUSH");
        return false;
      }
      // §7.2.3: a server never promised it (we never push); a client never
      // allowed it (we never send MAX_PUSH_ID).
      connection_error(H3Error::kIdError, "CANCEL_PUSH for an unknown push");
      return false;
    default:
      return true;
  }
}

bool Http3Connection::on_request_frame_header(Stream& s, const H3FrameHeader& h) {
  const std::uint64_t t = h.type;
  H3Error e = H3Error::kNoError;
  if (t == h3_type(H3FrameType::kData)) {
    if (s.rx != RxState::kBody) e = H3Error::kFrameUnexpected;  // §4.1: DATA after HEADERS
  } else if (t == h3_type(H3FrameType::kHeaders)) {
    if (s.rx == RxState::kTrailersDone) e = H3Error::kFrameUnexpected;  // nothing after trailers
  } else if (t == h3_type(H3FrameType::kPushPromise)) {
    // §7.2.5: only to clients, and only within MAX_PUSH_ID (never sent).
    e = client() ? H3Error::kIdError : H3Error::kFrameUnexpected;
  } else if (t == h3_type(H3FrameType::kCancelPush) || t == h3_type(H3FrameType::kSettings) ||
             t == h3_type(H3FrameType::kGoaway) || t == h3_type(H3FrameType::kMaxPushId) ||
             t == h3_type(H3FrameType::kPriorityUpdateRequest) ||
             t == h3_type(H3FrameType::kPriorityUpdatePush) || h3_is_http2_frame_type(t)) {
    e = H3Error::kFrameUnexpected;  // §7.2, RFC 9218 §7.1: control-stream frames
  } else {
    ++stats_.ignored_frames;  // §9: unknown types are ignored
  }
  if (e != H3Error::kNoError) {
    connection_error(e, "frame on request stream");
    return false;
  }
  return true;
}

bool Http3Connection::on_request_frame(Stream& s, const H3FrameReader::Result& r) {
  if (r.header.type != h3_type(H3FrameType::kHeaders)) return true;
  return decode_section(s, r.payload);
}

bool Http3Connection::decode_section(Stream& s, ByteSpan section) {
  QpackFieldBuffer sink(field_slots_, field_bytes_);
  Writer dw(dec_stream_buf_);
  const QpackStatus st = decoder_.decode(s.id, section, sink, dw);
  switch (st) {
    case QpackStatus::kOk:
      if (dw.written() > 0 && decoder_out_)
        if (Stream* d = find(*decoder_out_))
          out(*d, ByteSpan(dec_stream_buf_.data(), dw.written()));
      deliver_section(s, sink.fields());
      return !closed_ && s.rx != RxState::kStopped;
    case QpackStatus::kBlocked:
      // RFC 9204 §2.1.2: wait for the encoder stream; the decoder bounds
      // how many streams may wait.
      if (!s.blocked) ++stats_.blocked_sections;
      s.blocked = true;
      if (s.blocked_section.data() != section.data())
        s.blocked_section.assign(section.begin(), section.end());
      return false;
    case QpackStatus::kFieldSectionTooLarge:
    case QpackStatus::kBufferTooSmall:
      stream_error(s, H3Error::kExcessiveLoad);  // §4.2.2: above what we accept
      return false;
    default:
      connection_error(qpack_error_code(st), "QPACK");
      return false;
  }
}

void Http3Connection::deliver_section(Stream& s, std::span<const QpackField> fields) {
  if (s.rx == RxState::kHeaders) {
    if (client()) {
      H3ResponseHead head;
      if (validate_response(fields, &head) != H3Error::kNoError) {
        stream_error(s, H3Error::kMessageError);
        return;
      }
      if (head.informational()) return;  // §4.1: interim, the final one follows
      s.rx = RxState::kBody;
      // HEAD, 204 and 304 responses carry no content whatever the length says.
      if (!s.head_request && head.status != 204 && head.status != 304)
        s.content.expect(head.content_length);
      else
        s.content.expect(0);
      if (handler_ != nullptr) handler_->on_response_headers(s.id, head, fields);
    } else {
      H3RequestHead head;
      if (validate_request(fields, &head) != H3Error::kNoError) {
        stream_error(s, H3Error::kMessageError);
        return;
      }
      s.rx = RxState::kBody;
      s.content.expect(head.content_length);
      if (handler_ != nullptr) handler_->on_request(s.id, head, fields);
    }
    return;
  }
  // Trailers (§4.1).
  if (validate_trailers(fields) != H3Error::kNoError) {
    stream_error(s, H3Error::kMessageError);
    return;
  }
  s.rx = RxState::kTrailersDone;
  if (handler_ != nullptr) handler_->on_trailers(s.id, fields);
}

bool Http3Connection::on_request_data(Stream& s, ByteSpan data) {
  if (s.content.on_data(data.size()) != H3Error::kNoError) {
    stream_error(s, H3Error::kMessageError);  // §4.1.2: more than content-length
    return false;
  }
  if (!data.empty() && handler_ != nullptr) handler_->on_body(s.id, data);
  return !closed_ && s.rx != RxState::kStopped;
}

void Http3Connection::on_stream_end(Stream& s) {
  if (s.read_done) return;
  s.read_done = true;
  if (!s.bidi) {
    if (s.uni == UniKind::kControl || s.uni == UniKind::kEncoder || s.uni == UniKind::kDecoder)
      connection_error(H3Error::kClosedCriticalStream, "critical stream ended");  // §6.2.1
    return;
  }
  if (s.rx == RxState::kStopped) return;
  if (const H3Error e = s.reader.on_end(); e != H3Error::kNoError) {
    connection_error(e, "truncated frame");  // §7.1
    return;
  }
  if (s.rx == RxState::kHeaders) {
    s.read_done = false;
    stream_error(s, H3Error::kRequestIncomplete);  // §4.1: no header section
    s.read_done = true;
    return;
  }
  if (s.content.on_end() != H3Error::kNoError) {
    s.read_done = false;
    stream_error(s, H3Error::kMessageError);  // §4.1.2: fewer bytes than declared
    s.read_done = true;
    return;
  }
  if (handler_ != nullptr) handler_->on_message_end(s.id);
}

void Http3Connection::on_encoder_instructions(Stream& s, ByteSpan in) {
  // RFC 9204 §4.3: whole instructions only; keep the partial tail.
  std::size_t consumed = 0;
  QpackStatus st;
  if (s.instructions.empty()) {
    st = decoder_.on_encoder_stream(in, &consumed);
    if (st == QpackStatus::kOk)
      s.instructions.assign(in.begin() + static_cast<std::ptrdiff_t>(consumed), in.end());
  } else {
    s.instructions.insert(s.instructions.end(), in.begin(), in.end());
    st = decoder_.on_encoder_stream(bytes_of(s.instructions), &consumed);
    if (st == QpackStatus::kOk)
      s.instructions.erase(s.instructions.begin(),
                           s.instructions.begin() + static_cast<std::ptrdiff_t>(consumed));
  }
  if (st != QpackStatus::kOk) {
    connection_error(qpack_error_code(st) != 0 ? qpack_error_code(st) : kQpackEncoderStreamError,
                     "encoder stream");
    return;
  }
  if (s.instructions.size() > config_.max_instruction_buffer) {
    connection_error(H3Error::kExcessiveLoad, "encoder stream instruction too long");
    return;
  }
  resume_unblocked();
  if (closed_) return;
  // §4.4.3: tell the encoder about inserts no section acknowledged.
  Writer w(dec_stream_buf_);
  if (decoder_out_ && decoder_.write_insert_count_increment(w) && w.written() > 0)
    if (Stream* d = find(*decoder_out_)) out(*d, ByteSpan(dec_stream_buf_.data(), w.written()));
}

void Http3Connection::on_decoder_instructions(Stream& s, ByteSpan in) {
  std::size_t consumed = 0;
  QpackStatus st;
  if (s.instructions.empty()) {
    st = encoder_->on_decoder_stream(in, &consumed);
    if (st == QpackStatus::kOk)
      s.instructions.assign(in.begin() + static_cast<std::ptrdiff_t>(consumed), in.end());
  } else {
    s.instructions.insert(s.instructions.end(), in.begin(), in.end());
    st = encoder_->on_decoder_stream(bytes_of(s.instructions), &consumed);
    if (st == QpackStatus::kOk)
      s.instructions.erase(s.instructions.begin(),
                           s.instructions.begin() + static_cast<std::ptrdiff_t>(consumed));
  }
  if (st != QpackStatus::kOk) {
    connection_error(qpack_error_code(st) != 0 ? qpack_error_code(st) : kQpackDecoderStreamError,
                     "decoder stream");
    return;
  }
  if (s.instructions.size() > config_.max_instruction_buffer)
    connection_error(H3Error::kExcessiveLoad, "decoder stream instruction too long");
}

void Http3Connection::resume_unblocked() {
  std::array<std::uint64_t, 64> ids{};
  const std::size_t n = decoder_.unblocked_streams(ids);
  for (std::size_t i = 0; i < n && !closed_; ++i) {
    Stream* s = find(ids[i]);
    if (s == nullptr || !s->blocked) continue;
    s->blocked = false;
    std::vector<std::uint8_t> section = std::move(s->blocked_section);
    s->blocked_section.clear();
    if (!decode_section(*s, bytes_of(section))) {
      if (s->blocked) {
        s->blocked_section = std::move(section);
        continue;
      }
      if (closed_) return;
    }
    // What followed the section, then the rest of the stream.
    std::vector<std::uint8_t> rest = std::move(s->pending_in);
    s->pending_in.clear();
    const bool fin = s->pending_fin;
    s->pending_fin = false;
    std::size_t used = 0;
    if (s->rx != RxState::kStopped && !rest.empty() && !process(*s, bytes_of(rest), &used)) {
      if (s->blocked) {
        s->pending_in.assign(rest.begin() + static_cast<std::ptrdiff_t>(used), rest.end());
        s->pending_fin = fin;
      }
      continue;
    }
    if (fin) {
      on_stream_end(*s);
      continue;
    }
    read_stream(s->id);
  }
  for (std::size_t i = 0; i < n; ++i)
    if (Stream* s = find(ids[i]); s != nullptr && s->transport_closed && !s->blocked)
      deferred_release_.push_back(ids[i]);
}

void Http3Connection::on_stream_writable(std::uint64_t id) {
  if (closed_ || conn_ == nullptr) return;  // not attached: nothing to drive
  Guard g(this);
  Stream* s = find(id);
  if (s == nullptr) return;
  flush(*s);
  if (s->bidi && s->pending.empty() && s->pending_mbuf == nullptr && !s->fin_wanted &&
      handler_ != nullptr)
    handler_->on_writable(id);
}

void Http3Connection::on_stream_reset(std::uint64_t id, std::uint64_t app_error) {
  if (closed_ || conn_ == nullptr) return;  // not attached: nothing to drive
  Guard g(this);
  Stream* s = find(id);
  if (s == nullptr) return;
  if (!s->bidi) {
    if (s->uni == UniKind::kControl || s->uni == UniKind::kEncoder || s->uni == UniKind::kDecoder)
      connection_error(H3Error::kClosedCriticalStream, "critical stream reset");  // §6.2.1
    s->read_done = true;
    return;
  }
  if (s->rx != RxState::kStopped && !s->read_done) {
    Writer w(dec_stream_buf_);
    if (decoder_out_ && decoder_.cancel_stream(id, w))  // RFC 9204 §4.4.2
      if (Stream* d = find(*decoder_out_)) out(*d, ByteSpan(dec_stream_buf_.data(), w.written()));
  }
  s->rx = RxState::kStopped;
  s->blocked = false;
  s->read_done = true;
  if (handler_ != nullptr) handler_->on_stream_error(id, app_error);
}

void Http3Connection::on_stop_sending(std::uint64_t id, std::uint64_t app_error) {
  if (closed_ || conn_ == nullptr) return;  // not attached: nothing to drive
  Guard g(this);
  if (id == control_out_ || id == encoder_out_ || id == decoder_out_) {
    connection_error(H3Error::kClosedCriticalStream, "STOP_SENDING on a critical stream");
    return;
  }
  Stream* s = find(id);
  if (s == nullptr) return;
  // The transport answers with RESET_STREAM (RFC 9000 §3.5).
  s->send_closed = true;
  s->pending.clear();
  if (s->pending_mbuf != nullptr) {
    rte_pktmbuf_free(s->pending_mbuf);
    s->pending_mbuf = nullptr;
  }
  if (handler_ != nullptr && s->bidi) handler_->on_stream_error(id, app_error);
}

void Http3Connection::on_stream_closed(std::uint64_t id) {
  if (depth_ > 0) {
    deferred_release_.push_back(id);
    return;
  }
  Guard g(this);
  deferred_release_.push_back(id);
}

void Http3Connection::on_closed() {
  if (!closed_) {
    closed_ = true;
    std::uint64_t code = h3_code(H3Error::kNoError);
    bool local = false;
    if (conn_ != nullptr && conn_->close_info()) {
      code = conn_->close_info()->error_code;
      local = conn_->close_info()->local;
    }
    error_ = code;
    if (handler_ != nullptr) handler_->on_connection_closed(code, local);
  }
  streams_.clear();
}

}  // namespace dquic
