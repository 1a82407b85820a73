// One stream's state inside a connection (RFC 9000 §2-4): the two buffers,
// flow control in both directions, the §3 state machines, and the control
// frames it owes the peer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "quic/flow_control.h"
#include "quic/recv_buffer.h"
#include "quic/send_buffer.h"
#include "quic/stream_state.h"

namespace dquic {

struct Stream {
  Stream(std::uint64_t stream_id, EndpointRole self, std::uint64_t send_limit,
         std::uint64_t recv_window, std::uint64_t max_recv_window, const SendBufferConfig& sc,
         const RecvBufferConfig& rc)
      : id(stream_id),
        state(stream_id, self),
        send(sc),
        send_credit(send_limit),
        recv_window(recv_window, max_recv_window),
        recv(rc) {}

  std::uint64_t id;
  StreamState state;

  // Sending part.
  SendBuffer send;
  SendCredit send_credit;
  std::uint64_t highest_sent = 0;            // flow-controlled bytes used so far
  bool fin_requested = false;                // the application wrote its last byte
  std::optional<std::uint64_t> reset_error;  // RESET_STREAM to send / sent
  bool reset_pending = false;
  bool release_deferred = false;  // reset while sent bytes awaited sealing (end_gather)
  bool writable_notify = false;   // tell the application when below the limit
  bool in_send_queue = false;
  Stream* next_in_queue = nullptr;  // StreamQueue's link

  // Receiving part.
  ReceiveWindow recv_window;
  FinalSize final_size;
  RecvBuffer recv;
  std::optional<std::uint64_t> stop_error;  // STOP_SENDING to send / sent
  bool stop_pending = false;
  bool max_stream_data_pending = false;
  bool blocked_pending = false;
};

// Streams with something to send, in round-robin order: an intrusive FIFO
// through the streams themselves, so queueing never allocates. A queued
// stream is never freed (Connection::maybe_free_stream checks
// in_send_queue).
class StreamQueue {
 public:
  bool empty() const { return head_ == nullptr; }
  std::size_t size() const { return size_; }
  void push_back(Stream* st) {
    st->in_send_queue = true;
    st->next_in_queue = nullptr;
    (tail_ != nullptr ? tail_->next_in_queue : head_) = st;
    tail_ = st;
    ++size_;
  }
  Stream* pop_front() {
    Stream* st = head_;
    head_ = st->next_in_queue;
    if (head_ == nullptr) tail_ = nullptr;
    st->next_in_queue = nullptr;
    st->in_send_queue = false;
    --size_;
    return st;
  }
  void clear() {
    while (!empty())
      (void)pop_front();
  }

 private:
  Stream* head_ = nullptr;
  Stream* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace dquic
