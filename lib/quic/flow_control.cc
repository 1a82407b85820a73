#include "quic/flow_control.h"

#include <algorithm>

#include "quic/frame.h"
#include "quic/varint.h"

namespace dquic {

bool SendCredit::update_limit(std::uint64_t new_limit) {
  if (new_limit <= limit_) return false;  // RFC 9000 §4.1
  limit_ = new_limit;
  return true;
}

bool SendCredit::consume(std::uint64_t n) {
  if (n > available()) return false;
  used_ += n;
  return true;
}

ReceiveWindow::ReceiveWindow(std::uint64_t initial_window, std::uint64_t max_window)
    : limit_(std::min(initial_window, kVarintMax)),
      window_(limit_),
      max_window_(std::clamp(max_window, window_, kVarintMax)) {}

TransportError ReceiveWindow::on_data(std::uint64_t end_offset) {
  if (end_offset > limit_) return TransportError::kFlowControlError;  // RFC 9000 §4.1
  highest_ = std::max(highest_, end_offset);
  return TransportError::kNoError;
}

TransportError ReceiveWindow::on_data_added(std::uint64_t n) {
  // Compared as the room left: a sum of stream offsets could overflow.
  if (n > limit_ - highest_) return TransportError::kFlowControlError;  // RFC 9000 §4.1
  highest_ += n;
  return TransportError::kNoError;
}

bool ReceiveWindow::on_consumed(std::uint64_t n) {
  if (n > highest_ - consumed_) return false;
  consumed_ += n;
  return true;
}

std::uint64_t ReceiveWindow::advance_limit(Time now, Duration smoothed_rtt) {
  if (last_update_ && now - *last_update_ < 2 * smoothed_rtt) {
    // No overflow: window_ <= max_window_ <= kVarintMax < 2^63.
    window_ = std::min(2 * window_, max_window_);
  }
  last_update_ = now;
  // Never a decrease: consumed_ and window_ only grow. Both are at most
  // kVarintMax, so the sum does not overflow.
  limit_ = std::min(consumed_ + window_, kVarintMax);
  return limit_;
}

void ReceiveWindow::ensure_window(std::uint64_t window) {
  window_ = std::max(window_, std::min(window, max_window_));
}

TransportError FinalSize::on_stream_frame(std::uint64_t end_offset, bool fin) {
  // RFC 9000 §4.5, §20.1 FINAL_SIZE_ERROR.
  if (final_size_) {
    if (end_offset > *final_size_) return TransportError::kFinalSizeError;
    if (fin && end_offset != *final_size_) return TransportError::kFinalSizeError;
  } else if (fin) {
    if (end_offset < highest_) return TransportError::kFinalSizeError;
    final_size_ = end_offset;
  }
  highest_ = std::max(highest_, end_offset);
  return TransportError::kNoError;
}

TransportError on_stream_data(FinalSize& final_size, ReceiveWindow& stream,
                              ReceiveWindow& connection, std::uint64_t end_offset, bool fin) {
  if (auto e = final_size.on_stream_frame(end_offset, fin); e != TransportError::kNoError) return e;
  const std::uint64_t before = stream.highest_received();
  if (auto e = stream.on_data(end_offset); e != TransportError::kNoError) return e;
  return connection.on_data_added(stream.highest_received() - before);
}

StreamLimits::StreamLimits(std::uint64_t local_max, std::uint64_t peer_max)
    : window_(std::min(local_max, kMaxStreamCount)),
      advertised_(window_),
      peer_max_(std::min(peer_max, kMaxStreamCount)) {}

TransportError StreamLimits::on_peer_stream(std::uint64_t index) {
  if (index >= advertised_) return TransportError::kStreamLimitError;  // RFC 9000 §4.6
  peer_opened_ = std::max(peer_opened_, index + 1);
  return TransportError::kNoError;
}

bool StreamLimits::on_peer_stream_closed() {
  if (peer_closed_ == peer_opened_) return false;
  ++peer_closed_;
  return true;
}

namespace {

// The limit that lets the peer have `window` streams open beyond those closed.
std::uint64_t next_max_streams(std::uint64_t closed, std::uint64_t window) {
  return std::min(closed + window, kMaxStreamCount);  // RFC 9000 §4.6: at most 2^60
}

}  // namespace

bool StreamLimits::should_send_max_streams() const {
  // "<=" so that a window of 1 is refreshed once its one stream is used.
  return next_max_streams(peer_closed_, window_) > advertised_ &&
         2 * (advertised_ - peer_opened_) <= window_;
}

std::uint64_t StreamLimits::advance_max_streams() {
  advertised_ = std::max(advertised_, next_max_streams(peer_closed_, window_));
  return advertised_;
}

TransportError StreamLimits::on_streams_blocked(std::uint64_t maximum_streams) {
  if (maximum_streams > kMaxStreamCount) return TransportError::kFrameEncodingError;  // §19.14
  return TransportError::kNoError;
}

std::optional<std::uint64_t> StreamLimits::open_local() {
  if (local_opened_ >= peer_max_) return std::nullopt;
  return local_opened_++;
}

TransportError StreamLimits::on_max_streams(std::uint64_t maximum_streams) {
  if (maximum_streams > kMaxStreamCount) return TransportError::kFrameEncodingError;  // §19.11
  peer_max_ = std::max(peer_max_, maximum_streams);  // RFC 9000 §4.6: decreases ignored
  return TransportError::kNoError;
}

}  // namespace dquic
