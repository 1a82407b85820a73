// Flow control (RFC 9000 §4): credit the peer gives us (SendCredit), credit we
// give the peer (ReceiveWindow), stream final sizes (FinalSize) and stream
// count limits (StreamLimits). Fixed-size state; nothing allocates.
#pragma once

#include <cstdint>
#include <optional>

#include "quic/error.h"
#include "quic/timestamp.h"
#include "quic/varint.h"

namespace dquic {

// Remembers the limit a *_BLOCKED frame was last sent for, so the frame goes
// out once per limit value and again only if it was lost while still blocked
// at that limit (RFC 9000 §13.3).
class BlockedSignal {
 public:
  bool sent_for(std::uint64_t limit) const { return sent_ && limit_ == limit; }
  void on_sent(std::uint64_t limit) {
    sent_ = true;
    limit_ = limit;
  }
  void on_lost(std::uint64_t limit) {
    if (sent_for(limit)) sent_ = false;
  }

 private:
  bool sent_ = false;
  std::uint64_t limit_ = 0;
};

// The peer's limit on what we send: MAX_DATA for the connection or
// MAX_STREAM_DATA for one stream (§4.1).
class SendCredit {
 public:
  explicit SendCredit(std::uint64_t initial_limit = 0) : limit_(initial_limit) {}

  std::uint64_t limit() const { return limit_; }
  std::uint64_t used() const { return used_; }
  std::uint64_t available() const { return limit_ - used_; }

  // §4.1: a limit that does not increase is ignored. True if it increased.
  bool update_limit(std::uint64_t new_limit);
  // Counts `n` bytes sent. False, and nothing counted, if n > available().
  [[nodiscard]] bool consume(std::uint64_t n);

  // §4.1: a sender with data to write that is blocked at limit() SHOULD send
  // DATA_BLOCKED / STREAM_DATA_BLOCKED carrying limit(), once per limit value.
  bool should_send_blocked(bool has_pending_data) const {
    return has_pending_data && available() == 0 && !blocked_.sent_for(limit_);
  }
  void on_blocked_sent() { blocked_.on_sent(limit_); }
  // The frame carrying `limit` was lost; it is sent again if still blocked there.
  void on_blocked_lost(std::uint64_t limit) { blocked_.on_lost(limit); }

 private:
  std::uint64_t limit_;
  std::uint64_t used_ = 0;
  BlockedSignal blocked_;
};

// The limit we advertise for what the peer sends (MAX_DATA or
// MAX_STREAM_DATA), with receive-window auto-tuning.
class ReceiveWindow {
 public:
  // `initial_window` is the transport parameter we advertise; the window
  // grows up to `max_window` (raised to initial_window if below it).
  ReceiveWindow(std::uint64_t initial_window, std::uint64_t max_window);

  std::uint64_t limit() const { return limit_; }
  std::uint64_t window() const { return window_; }
  std::uint64_t max_window() const { return max_window_; }
  std::uint64_t highest_received() const { return highest_; }
  std::uint64_t consumed() const { return consumed_; }

  // Stream level: data up to `end_offset` arrived (a STREAM frame's offset +
  // length, or a final size). §4.1: past limit() is FLOW_CONTROL_ERROR. The
  // growth of highest_received() is what the connection level must count.
  TransportError on_data(std::uint64_t end_offset);
  // Connection level: a stream's highest received offset grew by `n` (§4.1:
  // the limit is on the sum of the streams' highest offsets).
  TransportError on_data_added(std::uint64_t n);

  // The application consumed `n` more bytes (at connection level, also the
  // unread bytes of a stream that was reset, §4.5). False, and nothing
  // counted, if that passes highest_received().
  [[nodiscard]] bool on_consumed(std::uint64_t n);

  // §4.2: time to send MAX_DATA / MAX_STREAM_DATA: the credit left to the
  // peer has fallen below half the window (as ngtcp2 and quiche do), unless
  // the limit is already the largest a varint can carry.
  bool should_update() const { return limit_ < kVarintMax && limit_ - consumed_ < window_ / 2; }

  // Auto-tunes the window and advances limit() to consumed() + window();
  // returns the limit for the frame being sent. When updates come less than
  // 2 * smoothed_rtt apart, the window is smaller than the bandwidth-delay
  // product, so it doubles, up to max_window() (quiche, Chromium).
  std::uint64_t advance_limit(Time now, Duration smoothed_rtt);

  // Grows the window to at least `window` (capped at max_window()): the
  // connection window keeps ahead of a stream window that grew (Chromium uses
  // 1.5x the stream window).
  void ensure_window(std::uint64_t window);

 private:
  std::uint64_t limit_;
  std::uint64_t window_;
  std::uint64_t max_window_;
  std::uint64_t highest_ = 0;
  std::uint64_t consumed_ = 0;
  std::optional<Time> last_update_;
};

// The final size of a stream's receiving part (§4.5).
class FinalSize {
 public:
  bool known() const { return final_size_.has_value(); }
  // Valid when known().
  std::uint64_t value() const { return *final_size_; }
  std::uint64_t highest_received() const { return highest_; }

  // A STREAM frame ending at `end_offset` (offset + length); with FIN that is
  // the final size. FINAL_SIZE_ERROR (§4.5, §20.1) for data beyond a known
  // final size, a FIN that changes it, or a FIN below data already received.
  TransportError on_stream_frame(std::uint64_t end_offset, bool fin);
  // A RESET_STREAM carrying `final_size`: the same rules as a FIN.
  TransportError on_reset_stream(std::uint64_t final_size) {
    return on_stream_frame(final_size, true);
  }

 private:
  std::optional<std::uint64_t> final_size_;
  std::uint64_t highest_ = 0;
};

// Checks a STREAM frame (or, with fin and end_offset = final size, a
// RESET_STREAM) against the stream's final size, the stream window and the
// connection window, and counts it. The growth of the stream's highest
// offset, which for RESET_STREAM reaches the final size, is counted at
// connection level (§4.5). On error the connection closes, so state left
// partly updated does not matter.
TransportError on_stream_data(FinalSize& final_size, ReceiveWindow& stream,
                              ReceiveWindow& connection, std::uint64_t end_offset, bool fin);
inline TransportError on_reset_stream(FinalSize& final_size, ReceiveWindow& stream,
                                      ReceiveWindow& connection, std::uint64_t final_offset) {
  return on_stream_data(final_size, stream, connection, final_offset, true);
}

// Stream count limits of one direction (bidirectional or unidirectional) of a
// connection (§4.6): what we allow the peer to open and what it allows us.
class StreamLimits {
 public:
  // `local_max` is the initial_max_streams_* we advertise; `peer_max` the
  // peer's (0 until its transport parameters arrive, then on_max_streams()).
  // Both are capped at kMaxStreamCount.
  StreamLimits(std::uint64_t local_max, std::uint64_t peer_max);

  // --- Streams the peer opens, under the limit we advertise.
  std::uint64_t advertised_max() const { return advertised_; }
  std::uint64_t peer_opened() const { return peer_opened_; }
  std::uint64_t peer_closed() const { return peer_closed_; }
  // The peer used the stream with this index; it and every lower index are
  // open (§3.2). §4.6: at or beyond advertised_max() is STREAM_LIMIT_ERROR.
  TransportError on_peer_stream(std::uint64_t index);
  // A peer stream's resources were freed: its credit can be given back.
  // False, and nothing counted, if every opened stream is already closed.
  [[nodiscard]] bool on_peer_stream_closed();
  // §4.6: keep the number of streams the peer may have open at the initial
  // limit; send MAX_STREAMS once at least half of that credit is used.
  bool should_send_max_streams() const;
  // Advances advertised_max() and returns it for the MAX_STREAMS frame.
  std::uint64_t advance_max_streams();
  // §19.14: a count above 2^60 is FRAME_ENCODING_ERROR. Otherwise informative
  // only: we never wait for it to raise the limit (§4.6).
  static TransportError on_streams_blocked(std::uint64_t maximum_streams);

  // --- Streams we open, under the peer's limit.
  std::uint64_t peer_max() const { return peer_max_; }
  std::uint64_t local_opened() const { return local_opened_; }
  // Index of the newly opened stream, or nothing if the peer's limit is reached.
  std::optional<std::uint64_t> open_local();
  // §19.11: above 2^60 is FRAME_ENCODING_ERROR; §4.6: a decrease is ignored.
  // Also used for the peer's initial_max_streams_* transport parameter.
  TransportError on_max_streams(std::uint64_t maximum_streams);
  // §4.6: an endpoint that cannot open a stream because of the peer's limit
  // SHOULD send STREAMS_BLOCKED carrying peer_max(), once per limit value.
  bool should_send_streams_blocked(bool wants_to_open) const {
    return wants_to_open && local_opened_ == peer_max_ && !blocked_.sent_for(peer_max_);
  }
  void on_streams_blocked_sent() { blocked_.on_sent(peer_max_); }
  void on_streams_blocked_lost(std::uint64_t limit) { blocked_.on_lost(limit); }

 private:
  std::uint64_t window_;  // streams the peer may have open at once
  std::uint64_t advertised_;
  std::uint64_t peer_opened_ = 0;
  std::uint64_t peer_closed_ = 0;
  std::uint64_t peer_max_;
  std::uint64_t local_opened_ = 0;
  BlockedSignal blocked_;
};

}  // namespace dquic
