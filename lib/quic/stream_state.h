// Stream state machines (RFC 9000 §3.1 sending part, §3.2 receiving part).
// Events that a peer can cause in any state, through delayed or repeated
// frames (§3.3), are never errors: they move the state or are ignored. Events
// this endpoint causes (sending, acks of what it sent, application reads) are
// illegal in some states; those return kInternalError, as only a bug in the
// caller gets there.
#pragma once

#include <cstdint>

#include "quic/error.h"
#include "quic/role.h"

namespace dquic {

enum class SendState : std::uint8_t {
  kReady,
  kSend,
  kDataSent,
  kDataRecvd,  // terminal
  kResetSent,
  kResetRecvd,  // terminal
};

enum class RecvState : std::uint8_t {
  kRecv,
  kSizeKnown,
  kDataRecvd,
  kDataRead,  // terminal
  kResetRecvd,
  kResetRead,  // terminal
};

// RFC 9000 §3.1, Figure 2.
class SendingPart {
 public:
  SendState state() const { return state_; }
  bool is_terminal() const {
    return state_ == SendState::kDataRecvd || state_ == SendState::kResetRecvd;
  }
  // The application may still write (no FIN, no reset yet).
  bool can_send_data() const { return state_ == SendState::kReady || state_ == SendState::kSend; }
  // §3.1: flow control credit matters only until the FIN is sent; later
  // MAX_STREAM_DATA frames can be ignored.
  bool wants_max_stream_data() const { return can_send_data(); }
  // §3.5: STOP_SENDING received in Ready or Send MUST be answered with
  // RESET_STREAM; in Data Sent it MAY be (we do, rather than retransmit).
  bool should_reset_on_stop_sending() const {
    return can_send_data() || state_ == SendState::kDataSent;
  }

  // A STREAM frame without FIN or a STREAM_DATA_BLOCKED frame was sent:
  // Ready -> Send. Retransmissions in Data Sent keep the state. §3.3: illegal
  // after RESET_STREAM or in a terminal state.
  TransportError on_data_sent();
  // A STREAM frame with FIN was sent: Ready/Send -> Data Sent.
  TransportError on_fin_sent();
  // Every byte and the FIN are acknowledged: Data Sent -> Data Recvd. Ignored
  // after a reset (late acks); illegal before the FIN was sent.
  TransportError on_all_data_acked();
  // RESET_STREAM was sent (the application abandoned the stream, or answering
  // STOP_SENDING): Ready/Send/Data Sent -> Reset Sent. §3.3: illegal from a
  // terminal state.
  TransportError on_reset_sent();
  // The packet carrying RESET_STREAM was acknowledged: Reset Sent -> Reset Recvd.
  TransportError on_reset_acked();

 private:
  SendState state_ = SendState::kReady;
};

// RFC 9000 §3.2, Figure 3.
class ReceivingPart {
 public:
  RecvState state() const { return state_; }
  bool is_terminal() const {
    return state_ == RecvState::kDataRead || state_ == RecvState::kResetRead;
  }
  // §3.3: MAX_STREAM_DATA is sent only in Recv.
  bool wants_max_stream_data() const { return state_ == RecvState::kRecv; }
  // §3.5: STOP_SENDING (and its retransmission) is useful only until all data
  // or a RESET_STREAM has been received.
  bool can_send_stop_sending() const {
    return state_ == RecvState::kRecv || state_ == RecvState::kSizeKnown;
  }

  // A STREAM frame with FIN arrived (its final size passed FinalSize): Recv ->
  // Size Known. Ignored in later states (retransmissions, late frames).
  void on_fin_received();
  // RESET_STREAM arrived: Recv/Size Known -> Reset Recvd. In Data Recvd the
  // reset is suppressed (§3.2): the complete data is delivered instead.
  void on_reset_received();
  // Every byte up to the final size arrived: Size Known -> Data Recvd. After
  // a reset, the reset stands. Illegal while the final size is unknown.
  TransportError on_all_data_received();
  // The application read all data: Data Recvd -> Data Read.
  TransportError on_data_read();
  // The application was told of the reset: Reset Recvd -> Reset Read.
  TransportError on_reset_read();

 private:
  RecvState state_ = RecvState::kRecv;
};

// Both parts of one stream. A unidirectional stream has only one; the absent
// part does not hold the stream open (§2.1, §3.4).
class StreamState {
 public:
  StreamState(std::uint64_t id, EndpointRole self);

  bool has_sending_part() const { return has_send_; }
  bool has_receiving_part() const { return has_recv_; }
  SendingPart& sending() { return send_; }
  const SendingPart& sending() const { return send_; }
  ReceivingPart& receiving() { return recv_; }
  const ReceivingPart& receiving() const { return recv_; }

  // §3.4: closed once every part that exists is terminal; the stream's
  // resources can then be freed (and, for a peer stream, its credit returned
  // with StreamLimits::on_peer_stream_closed()).
  bool is_terminal() const {
    return (!has_send_ || send_.is_terminal()) && (!has_recv_ || recv_.is_terminal());
  }

 private:
  SendingPart send_;
  ReceivingPart recv_;
  bool has_send_;
  bool has_recv_;
};

}  // namespace dquic
