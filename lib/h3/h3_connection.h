// HTTP/3 over one QUIC connection (RFC 9114 §3-6), both roles. Sans-IO like
// quic::Connection: it is that connection's ConnectionHandler and acts only
// inside its callbacks and the application's calls. It opens our control
// stream (SETTINGS first) and the QPACK encoder / decoder streams, reads
// the peer's unidirectional streams by type, runs request streams (HEADERS,
// DATA*, optional trailers) through QPACK, and enforces the frame and
// stream rules with the right connection or stream errors. Server push is
// never used (no MAX_PUSH_ID is sent, so no push can arrive).
#pragma once

#include <rte_mbuf.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "h3/h3_error.h"
#include "h3/h3_frame.h"
#include "h3/h3_message.h"
#include "h3/qpack_decoder.h"
#include "h3/qpack_encoder.h"
#include "h3/qpack_field.h"
#include "quic/connection.h"
#include "quic/role.h"
#include "quic/timestamp.h"

namespace dquic {

struct Http3Config {
  EndpointRole role = EndpointRole::kServer;
  // What we advertise (RFC 9114 §7.2.4.1, RFC 9204 §5); they bound what we
  // buffer for the peer. max_field_section_size is finite here.
  std::uint64_t qpack_max_table_capacity = 4096;
  std::uint64_t qpack_blocked_streams = 16;
  std::uint64_t max_field_section_size = 16384;
  // Our encoder's dynamic table for the peer (0: static table only).
  std::uint64_t encoder_table_capacity = 4096;
  // Partial encoder / decoder stream instructions kept from the peer, and
  // bytes queued on any one of our streams that the transport did not take.
  std::size_t max_instruction_buffer = 16384;
  std::size_t max_pending_out = 65536;
  // Send one grease setting (§7.2.4.1).
  bool grease = true;
  // Connection::close() needs the time; the clock the transport runs on.
  std::function<Time()> clock;
};

// Events for the application, both roles. Field views are valid only
// during the call. Stream ids are QUIC bidirectional stream ids.
class Http3Handler {
 public:
  virtual ~Http3Handler() = default;
  // Server: a request's header section, validated (§4.3.1).
  virtual void on_request(std::uint64_t /*stream*/, const H3RequestHead& /*head*/,
                          std::span<const QpackField> /*fields*/) {}
  // Client: the final response's header section (1xx responses are skipped).
  virtual void on_response_headers(std::uint64_t /*stream*/, const H3ResponseHead& /*head*/,
                                   std::span<const QpackField> /*fields*/) {}
  // Content (DATA payloads), in order, in pieces of any size.
  virtual void on_body(std::uint64_t /*stream*/, ByteSpan /*data*/) {}
  virtual void on_trailers(std::uint64_t /*stream*/, std::span<const QpackField> /*fields*/) {}
  // The peer's message ended cleanly (FIN, content-length checked).
  virtual void on_message_end(std::uint64_t /*stream*/) {}
  // The stream was abandoned: reset by the peer, or by us for `error`
  // (a malformed message: H3_MESSAGE_ERROR; GOAWAY: H3_REQUEST_REJECTED).
  virtual void on_stream_error(std::uint64_t /*stream*/, std::uint64_t /*error*/) {}
  // send_body() took less than offered: the transport has room again.
  virtual void on_writable(std::uint64_t /*stream*/) {}
  // The peer sent GOAWAY (server: the first stream id it will not process).
  virtual void on_goaway(std::uint64_t /*id*/) {}
  // The HTTP/3 connection failed (`error` sent or received) or closed.
  virtual void on_connection_closed(std::uint64_t /*error*/, bool /*local*/) {}
};

struct Http3Stats {
  std::uint64_t requests = 0;  // request streams accepted (server) or opened (client)
  std::uint64_t stream_errors = 0;
  std::uint64_t blocked_sections = 0;  // field sections that waited for the encoder stream
  std::uint64_t ignored_frames = 0;    // unknown, grease, PRIORITY_UPDATE
};

class Http3Connection final : public ConnectionHandler {
 public:
  Http3Connection(const Http3Config& config, Http3Handler* handler);
  ~Http3Connection() override;
  Http3Connection(const Http3Connection&) = delete;
  Http3Connection& operator=(const Http3Connection&) = delete;

  // The transport whose handler this is (set as ConnectionConfig::handler
  // before the connection starts). If its handshake already completed, our
  // streams open now. Frames we create and parse go to the transport's
  // observer, when it has one (qlog's http3:frame_created / frame_parsed).
  void attach(Connection* conn);

  // --- Client.
  // Opens a request stream and sends HEADERS (`fields`: pseudo-headers
  // first, checked with validate_request), `body` as one DATA frame if not
  // empty, and FIN if `fin`. nullopt: not connected, GOAWAY received, no
  // stream credit, or invalid fields.
  std::optional<std::uint64_t> send_request(std::span<const QpackField> fields, ByteSpan body,
                                            bool fin);

  // --- Server.
  bool send_response_headers(std::uint64_t stream, std::uint16_t status,
                             std::span<const QpackField> fields);

  // --- Both.
  // Content as DATA frames. Copies; returns the bytes taken (fewer when the
  // stream's send buffer is full: pass the rest again after on_writable()).
  // -1 if the stream cannot carry content now (no HEADERS sent, finished, reset).
  std::int64_t send_body(std::uint64_t stream, ByteSpan data);
  // Zero-copy: the transport keeps a reference on `owner` (whose data area
  // holds `data`) until acknowledged; only the DATA frame header is copied.
  bool send_body_mbuf(std::uint64_t stream, rte_mbuf* owner, const std::uint8_t* data,
                      std::size_t length);
  bool send_trailers(std::uint64_t stream, std::span<const QpackField> fields);
  // Ends our side of the message (FIN once everything queued is sent).
  bool finish(std::uint64_t stream);
  // Abandons the stream both ways with `error` (RESET_STREAM, STOP_SENDING).
  void reset(std::uint64_t stream, H3Error error);
  // Graceful shutdown (§5.2): a server sends GOAWAY with the first request
  // stream id it has not seen, finishes the requests below it, then closes
  // with H3_NO_ERROR; a client sends GOAWAY(0) and closes once its
  // requests are done.
  void shutdown();
  // Immediate close with `error` (§5.3, §8).
  void close(H3Error error, std::string_view reason);

  bool ready() const { return streams_opened_; }
  bool settings_received() const { return peer_settings_.has_value(); }
  const std::optional<H3Settings>& peer_settings() const { return peer_settings_; }
  std::optional<std::uint64_t> goaway_received() const { return goaway_received_; }
  std::optional<std::uint64_t> goaway_sent() const { return goaway_sent_; }
  bool closed() const { return closed_; }
  // The error code the connection was closed with (ours or the peer's).
  std::optional<std::uint64_t> error() const { return error_; }
  std::size_t active_streams() const { return active_requests_; }
  const Http3Stats& stats() const { return stats_; }

  // ConnectionHandler.
  void on_handshake_complete() override;
  void on_stream_opened(std::uint64_t stream_id) override;
  void on_stream_readable(std::uint64_t stream_id) override;
  void on_stream_writable(std::uint64_t stream_id) override;
  void on_stream_reset(std::uint64_t stream_id, std::uint64_t app_error) override;
  void on_stop_sending(std::uint64_t stream_id, std::uint64_t app_error) override;
  void on_stream_closed(std::uint64_t stream_id) override;
  void on_closed() override;

 private:
  struct Stream;
  enum class UniKind : std::uint8_t { kUnknownYet, kControl, kEncoder, kDecoder, kIgnored };

  Stream* find(std::uint64_t id);
  Stream* create(std::uint64_t id);
  void release(std::uint64_t id);
  void open_local_streams();
  // Appends to one of our streams, keeping what the transport does not take.
  bool out(Stream& s, ByteSpan bytes);
  void flush(Stream& s);
  void flush_qpack_streams();
  bool write_headers_frame(Stream& s, std::span<const QpackField> fields);
  void read_stream(std::uint64_t id);
  // Processes `in` for stream `s`; false if it stopped early (blocked,
  // error, stream gone). *used: bytes consumed.
  bool process(Stream& s, ByteSpan in, std::size_t* used);
  bool process_uni_type(Stream& s, ByteSpan in, std::size_t* used);
  bool on_control_frame(Stream& s, const H3FrameReader::Result& r);
  bool on_request_frame_header(Stream& s, const H3FrameHeader& h);
  bool on_request_frame(Stream& s, const H3FrameReader::Result& r);
  bool on_request_data(Stream& s, ByteSpan data);
  bool decode_section(Stream& s, ByteSpan section);
  void deliver_section(Stream& s, std::span<const QpackField> fields);
  void on_stream_end(Stream& s);
  void on_encoder_instructions(Stream& s, ByteSpan in);
  void on_decoder_instructions(Stream& s, ByteSpan in);
  void resume_unblocked();
  void stream_error(Stream& s, H3Error e);
  void connection_error(std::uint64_t code, std::string_view reason);
  void connection_error(H3Error e, std::string_view reason) {
    connection_error(h3_code(e), reason);
  }
  struct Guard;
  void maybe_finish_shutdown();
  bool within_peer_field_limit(std::span<const QpackField> fields) const;
  void read_discard(std::uint64_t id);
  Time now() const { return config_.clock ? config_.clock() : 0; }
  // Null unless the transport has an observer: one branch per frame.
  void frame_created(std::uint64_t stream, H3FrameType type, std::uint64_t length) {
    if (observer_) observer_->on_http3_frame(true, stream, h3_type(type), length, now());
  }
  ConnectionObserver* observer_ = nullptr;

  Http3Config config_;
  Http3Handler* handler_;
  Connection* conn_ = nullptr;
  bool client() const { return config_.role == EndpointRole::kClient; }

  std::unordered_map<std::uint64_t, std::unique_ptr<Stream>> streams_;
  std::optional<std::uint64_t> control_out_, encoder_out_, decoder_out_;
  std::optional<std::uint64_t> control_in_, encoder_in_, decoder_in_;
  bool streams_opened_ = false;
  std::optional<H3Settings> peer_settings_;

  QpackDecoder decoder_;
  std::unique_ptr<QpackEncoder> encoder_;  // static-only until the peer's SETTINGS
  // Scratch (allocated once): stream reads, encoded sections, encoder /
  // decoder stream output, decoded fields.
  std::vector<std::uint8_t> read_buf_;
  std::vector<std::uint8_t> section_buf_;
  std::vector<std::uint8_t> enc_stream_buf_;
  std::vector<std::uint8_t> dec_stream_buf_;
  std::vector<QpackField> field_slots_;
  std::vector<char> field_bytes_;

  std::optional<std::uint64_t> goaway_sent_, goaway_received_;
  std::uint64_t max_push_id_received_ = 0;
  bool max_push_id_seen_ = false;
  std::uint64_t next_request_id_ = 0;  // server: one above the highest request stream seen
  std::size_t active_requests_ = 0;
  bool closed_ = false;
  std::optional<std::uint64_t> error_;
  std::vector<std::uint64_t> deferred_release_;
  int depth_ = 0;  // nesting of our processing (callbacks re-enter)
  Http3Stats stats_;
};

}  // namespace dquic
