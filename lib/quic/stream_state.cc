#include "quic/stream_state.h"

#include "quic/stream_id.h"

namespace dquic {

namespace {

constexpr TransportError kOk = TransportError::kNoError;
constexpr TransportError kIllegal = TransportError::kInternalError;

}  // namespace

TransportError SendingPart::on_data_sent() {
  switch (state_) {
    case SendState::kReady:
      state_ = SendState::kSend;
      return kOk;
    case SendState::kSend:
    case SendState::kDataSent:
      return kOk;
    case SendState::kDataRecvd:
    case SendState::kResetSent:
    case SendState::kResetRecvd:
      return kIllegal;  // RFC 9000 §3.3
  }
  return kIllegal;
}

TransportError SendingPart::on_fin_sent() {
  switch (state_) {
    case SendState::kReady:
    case SendState::kSend:
    case SendState::kDataSent:
      state_ = SendState::kDataSent;
      return kOk;
    case SendState::kDataRecvd:
    case SendState::kResetSent:
    case SendState::kResetRecvd:
      return kIllegal;  // RFC 9000 §3.3
  }
  return kIllegal;
}

TransportError SendingPart::on_all_data_acked() {
  switch (state_) {
    case SendState::kDataSent:
      state_ = SendState::kDataRecvd;
      return kOk;
    case SendState::kDataRecvd:
    case SendState::kResetSent:
    case SendState::kResetRecvd:
      return kOk;
    case SendState::kReady:
    case SendState::kSend:
      return kIllegal;  // no FIN sent, so not all data can be acknowledged
  }
  return kIllegal;
}

TransportError SendingPart::on_reset_sent() {
  switch (state_) {
    case SendState::kReady:
    case SendState::kSend:
    case SendState::kDataSent:
    case SendState::kResetSent:  // retransmission
      state_ = SendState::kResetSent;
      return kOk;
    case SendState::kDataRecvd:
    case SendState::kResetRecvd:
      return kIllegal;  // RFC 9000 §3.3
  }
  return kIllegal;
}

TransportError SendingPart::on_reset_acked() {
  switch (state_) {
    case SendState::kResetSent:
    case SendState::kResetRecvd:
      state_ = SendState::kResetRecvd;
      return kOk;
    case SendState::kReady:
    case SendState::kSend:
    case SendState::kDataSent:
    case SendState::kDataRecvd:
      return kIllegal;  // no RESET_STREAM was sent
  }
  return kIllegal;
}

void ReceivingPart::on_fin_received() {
  if (state_ == RecvState::kRecv) state_ = RecvState::kSizeKnown;
}

void ReceivingPart::on_reset_received() {
  if (state_ == RecvState::kRecv || state_ == RecvState::kSizeKnown) {
    state_ = RecvState::kResetRecvd;
  }
}

TransportError ReceivingPart::on_all_data_received() {
  switch (state_) {
    case RecvState::kSizeKnown:
      state_ = RecvState::kDataRecvd;
      return kOk;
    case RecvState::kDataRecvd:
    case RecvState::kDataRead:
    case RecvState::kResetRecvd:
    case RecvState::kResetRead:
      return kOk;
    case RecvState::kRecv:
      return kIllegal;  // the final size is not known yet
  }
  return kIllegal;
}

TransportError ReceivingPart::on_data_read() {
  switch (state_) {
    case RecvState::kDataRecvd:
    case RecvState::kDataRead:
      state_ = RecvState::kDataRead;
      return kOk;
    case RecvState::kRecv:
    case RecvState::kSizeKnown:
    case RecvState::kResetRecvd:
    case RecvState::kResetRead:
      return kIllegal;
  }
  return kIllegal;
}

TransportError ReceivingPart::on_reset_read() {
  switch (state_) {
    case RecvState::kResetRecvd:
    case RecvState::kResetRead:
      state_ = RecvState::kResetRead;
      return kOk;
    case RecvState::kRecv:
    case RecvState::kSizeKnown:
    case RecvState::kDataRecvd:
    case RecvState::kDataRead:
      return kIllegal;
  }
  return kIllegal;
}

StreamState::StreamState(std::uint64_t id, EndpointRole self)
    : has_send_(can_send(id, self)), has_recv_(can_receive(id, self)) {}

}  // namespace dquic
