// One stream's state inside a connection (RFC 9000 §2-4): the two buffers,
// flow control in both directions, the §3 state machines, and the control
// frames it owes the peer.
#pragma once

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
  bool writable_notify = false;  // tell the application when below the limit
  bool in_send_queue = false;

  // Receiving part.
  ReceiveWindow recv_window;
  FinalSize final_size;
  RecvBuffer recv;
  std::optional<std::uint64_t> stop_error;  // STOP_SENDING to send / sent
  bool stop_pending = false;
  bool max_stream_data_pending = false;
  bool blocked_pending = false;
};

}  // namespace dquic
