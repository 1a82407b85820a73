// Streams, flow control and the 1-RTT control frames of a connection
// (RFC 9000 §2-4, §19), and the application's stream API.
#include <algorithm>

#include "quic/connection.h"
#include "quic/connection_space.h"
#include "quic/stream.h"
#include "quic/stream_id.h"

namespace dquic {

namespace {

std::uint64_t initial_recv_window(const TransportParameters& ours, std::uint64_t id,
                                  EndpointRole self) {
  if (!is_bidirectional(id)) return ours.initial_max_stream_data_uni;
  return is_local(id, self) ? ours.initial_max_stream_data_bidi_local
                            : ours.initial_max_stream_data_bidi_remote;
}

}  // namespace

Stream* Connection::new_stream(std::uint64_t id) {
  RecvBufferConfig rc;
  rc.copy_pool = config_.copy_pool;
  // Reassembly must span every byte flow control lets the peer send.
  rc.max_span = std::max<std::uint64_t>(config_.max_stream_window,
                                        initial_recv_window(config_.transport, id, role_));
  SendBufferConfig sc;
  sc.copy_pool = config_.copy_pool;
  // append_copy fills ~2 KB pool mbufs: room for the whole buffer limit.
  sc.max_chunks = config_.max_stream_send_buffer / 2048 + 16;
  auto st = std::make_unique<Stream>(id, role_, initial_send_limit(peer_params_, id, role_),
                                     initial_recv_window(config_.transport, id, role_),
                                     config_.max_stream_window, sc, rc);
  Stream* p = st.get();
  streams_.emplace(id, std::move(st));
  return p;
}

Stream* Connection::find_stream(std::uint64_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

Stream* Connection::get_or_open_peer_stream(std::uint64_t id, FrameType type, TransportError* err) {
  *err = TransportError::kNoError;
  const StreamLimits& lim = is_bidirectional(id) ? bidi_limits_ : uni_limits_;
  StreamCounts counts;
  counts.local_opened = lim.local_opened();
  counts.peer_limit = lim.advertised_max();
  *err = check_peer_frame(type, id, role_, counts);
  if (*err != TransportError::kNoError) return nullptr;
  if (Stream* s = find_stream(id)) return s;
  if (is_local(id, role_)) return nullptr;  // ours, already closed: ignore
  StreamLimits& l = is_bidirectional(id) ? bidi_limits_ : uni_limits_;
  const std::uint64_t idx = stream_index(id);
  if (idx < l.peer_opened()) return nullptr;  // opened and since closed
  // RFC 9000 §3.2: opening a stream opens every lower one of its type.
  const std::uint64_t first = l.peer_opened();
  *err = l.on_peer_stream(idx);
  if (*err != TransportError::kNoError) return nullptr;
  Stream* last = nullptr;
  const std::uint64_t base = id & 3;
  for (std::uint64_t i = first; i <= idx; ++i) {
    last = new_stream((i << 2) | base);
    if (config_.handler) config_.handler->on_stream_opened(last->id);
  }
  return find_stream(id);  // a callback may have reset it, never freed it
}

void Connection::queue_stream(Stream* st) {
  if (st->in_send_queue) return;
  send_queue_.push_back(st);
}

void Connection::requeue_blocked_streams() {
  // O(streams) per MAX_DATA increase: MAX_DATA comes at most once per half
  // window, not per packet.
  for (auto& [id, st] : streams_)
    if (!st->in_send_queue && !st->reset_error && st->send.unsent_bytes() > 0)
      queue_stream(st.get());
}

void Connection::maybe_free_stream(Stream* st) {
  if (!st->state.is_terminal() || st->in_send_queue) return;
  const std::uint64_t id = st->id;
  if (!is_local(id, role_)) {
    StreamLimits& l = is_bidirectional(id) ? bidi_limits_ : uni_limits_;
    (void)l.on_peer_stream_closed();
  }
  streams_.erase(id);
  if (config_.handler) config_.handler->on_stream_closed(id);
}

// ---------------------------------------------------------------- frames in

TransportError Connection::on_stream_frame(const StreamFrame& f, rte_mbuf* owner) {
  TransportError e;
  Stream* st = get_or_open_peer_stream(f.stream_id, FrameType::kStream, &e);
  if (st == nullptr) return e;
  const std::uint64_t end = f.offset + f.data.size();
  if (end > kVarintMax) return TransportError::kFrameEncodingError;  // §19.8
  if ((e = st->final_size.on_stream_frame(end, f.fin)) != TransportError::kNoError) return e;
  const std::uint64_t before = st->recv_window.highest_received();
  if ((e = st->recv_window.on_data(end)) != TransportError::kNoError) return e;
  if ((e = conn_recv_.on_data_added(st->recv_window.highest_received() - before)) !=
      TransportError::kNoError)
    return e;
  ReceivingPart& rp = st->state.receiving();
  if (rp.state() == RecvState::kResetRecvd || rp.state() == RecvState::kResetRead ||
      rp.state() == RecvState::kDataRead)
    return TransportError::kNoError;  // data after a reset or after the end: dropped
  if (f.fin) {
    rp.on_fin_received();
    st->recv.set_final_size(end);
  }
  if (!f.data.empty()) {
    switch (st->recv.insert(f.offset, f.data.data(), f.data.size(), owner)) {
      case RecvInsertResult::kOk:
        break;
      case RecvInsertResult::kBeyondLimit:
        return TransportError::kFlowControlError;
      default:
        // Out of reassembly records or memory: the buffer is unchanged, so
        // the packet is dropped unacknowledged and the peer sends it again
        // (RFC 9000 §13.3).
        drop_packet_ = true;
        return TransportError::kNoError;
    }
  }
  if (rp.state() == RecvState::kSizeKnown &&
      st->recv.read_offset() + st->recv.readable() == st->final_size.value())
    (void)rp.on_all_data_received();
  if (st->recv.readable() > 0 || st->recv.is_finished()) {
    if (config_.handler) config_.handler->on_stream_readable(st->id);
  }
  return TransportError::kNoError;
}

TransportError Connection::on_reset_stream(const ResetStreamFrame& f) {
  TransportError e;
  Stream* st = get_or_open_peer_stream(f.stream_id, FrameType::kResetStream, &e);
  if (st == nullptr) return e;
  if ((e = st->final_size.on_reset_stream(f.final_size)) != TransportError::kNoError) return e;
  const std::uint64_t before = st->recv_window.highest_received();
  if ((e = st->recv_window.on_data(f.final_size)) != TransportError::kNoError) return e;
  if ((e = conn_recv_.on_data_added(st->recv_window.highest_received() - before)) !=
      TransportError::kNoError)
    return e;
  ReceivingPart& rp = st->state.receiving();
  if (rp.state() == RecvState::kDataRead || rp.state() == RecvState::kResetRead ||
      rp.state() == RecvState::kResetRecvd)
    return TransportError::kNoError;
  // RFC 9000 §4.5: the unread bytes count as consumed for connection credit.
  const std::uint64_t unread = f.final_size - st->recv.read_offset();
  (void)conn_recv_.on_consumed(unread);
  rp.on_reset_received();
  st->recv.reset();
  if (config_.handler) config_.handler->on_stream_reset(st->id, f.error_code);
  (void)rp.on_reset_read();  // the application was told: nothing more to read
  maybe_free_stream(st);
  return TransportError::kNoError;
}

TransportError Connection::on_stop_sending(const StopSendingFrame& f) {
  TransportError e;
  Stream* st = get_or_open_peer_stream(f.stream_id, FrameType::kStopSending, &e);
  if (st == nullptr) return e;
  // RFC 9000 §3.5: answer with RESET_STREAM, echoing the error code.
  if (st->state.sending().should_reset_on_stop_sending() && !st->reset_error) {
    if (config_.handler) config_.handler->on_stop_sending(st->id, f.error_code);
    reset_stream(st->id, f.error_code);
  }
  return TransportError::kNoError;
}

TransportError Connection::on_max_stream_data(const MaxStreamDataFrame& f) {
  TransportError e;
  Stream* st = get_or_open_peer_stream(f.stream_id, FrameType::kMaxStreamData, &e);
  if (st == nullptr) return e;
  if (st->send_credit.update_limit(f.maximum_stream_data)) {
    if (st->send.unsent_bytes() > 0 || st->fin_requested) queue_stream(st);
  }
  return TransportError::kNoError;
}

// ---------------------------------------------------------------- frames out

void Connection::write_app_frames(Writer& f, Time now, SentPacket* rec) {
  auto slots = [&] { return rec->frame_count + 1u < SentPacket::kMaxFrames; };
  auto add = [&](const SentFrame& s) {
    rec->add(s);
    rec->ack_eliciting = true;
  };
  write_path_frames(f, now, rec);  // not recorded: never retransmitted (§13.3)
  if (handshake_done_pending_ && slots()) {
    if (encode_frame(Frame{HandshakeDoneFrame{}}, f)) {
      handshake_done_pending_ = false;
      add({SentFrame::Kind::kHandshakeDone, false, 0, 0, 0});
    }
  }
  if (new_token_pending_ && slots()) {
    NewTokenFrame t;
    t.token = ByteSpan(config_.new_token.data(), config_.new_token.size());
    if (encode_frame(Frame{t}, f)) {
      new_token_pending_ = false;
      add({SentFrame::Kind::kNewToken, false, 0, 0, 0});
    }
  }
  // Connection flow control (RFC 9000 §4.2).
  if ((max_data_pending_ || conn_recv_.should_update()) && slots()) {
    const std::uint64_t old_limit = conn_recv_.limit();
    const std::uint64_t limit = conn_recv_.advance_limit(now, rtt_.smoothed_rtt());
    if (encode_frame(Frame{MaxDataFrame{limit}}, f)) {
      max_data_pending_ = false;
      add({SentFrame::Kind::kMaxData, false, 0, limit, 0});
    } else if (limit != old_limit) {
      max_data_pending_ = true;
    }
  }
  for (bool bidi : {true, false}) {
    StreamLimits& l = bidi ? bidi_limits_ : uni_limits_;
    bool& lost = bidi ? max_streams_bidi_lost_ : max_streams_uni_lost_;
    if ((l.should_send_max_streams() || lost) && slots()) {
      lost = false;
      MaxStreamsFrame m;
      m.bidirectional = bidi;
      m.maximum_streams = l.advance_max_streams();
      if (encode_frame(Frame{m}, f))
        add({bidi ? SentFrame::Kind::kMaxStreamsBidi : SentFrame::Kind::kMaxStreamsUni, false, 0,
             m.maximum_streams, 0});
    }
  }
  for (bool bidi : {true, false}) {
    StreamLimits& l = bidi ? bidi_limits_ : uni_limits_;
    if (!l.should_send_streams_blocked(streams_blocked_wanted_[bidi ? 0 : 1]) || !slots()) continue;
    StreamsBlockedFrame b;
    b.bidirectional = bidi;
    b.maximum_streams = l.peer_max();
    if (encode_frame(Frame{b}, f)) {
      l.on_streams_blocked_sent();
      add({bidi ? SentFrame::Kind::kStreamsBlockedBidi : SentFrame::Kind::kStreamsBlockedUni, false,
           0, b.maximum_streams, 0});
    }
  }
  // RFC 9000 §19.15: announce the CIDs we issued.
  while (const LocalCidSet::Entry* e = local_cids_.next_to_send()) {
    if (!slots()) break;
    NewConnectionIdFrame n;
    n.sequence_number = e->sequence;
    n.connection_id = e->cid.span();
    n.stateless_reset_token = e->token;
    if (!encode_frame(Frame{n}, f)) break;
    local_cids_.on_sent(e->sequence);
    add({SentFrame::Kind::kNewConnectionId, false, 0, n.sequence_number, 0});
  }
  // RFC 9000 §19.16: retire what the peer told us to (Retire Prior To).
  while (std::optional<std::uint64_t> seq = peer_cids_.retire_to_send()) {
    if (!slots() || !encode_frame(Frame{RetireConnectionIdFrame{*seq}}, f)) break;
    peer_cids_.on_retire_sent(*seq);
    add({SentFrame::Kind::kRetireConnectionId, false, 0, *seq, 0});
  }
  if (ping_pending_ && slots() && f.remaining() > 0) {
    f.write_u8(0x01);
    ping_pending_ = false;
    add({SentFrame::Kind::kPing, false, 0, 0, 0});
  }
  // DATAGRAM frames (RFC 9221 §5): not retransmitted, sent before streams.
  while (!datagrams_out_.empty() && slots()) {
    DatagramFrame d;
    d.data = datagrams_out_.front();
    if (!encode_frame(Frame{d}, f)) break;
    add({SentFrame::Kind::kDatagram, false, 0, 0, d.data.size()});
    datagrams_out_.pop();
  }
  write_stream_frames(f, now, rec);
}

void Connection::write_stream_frames(Writer& f, Time, SentPacket* rec) {
  // Round robin: streams that still have data go to the back of the queue.
  std::size_t visits = send_queue_.size();
  while (visits-- > 0 && !send_queue_.empty() && rec->frame_count + 1u < SentPacket::kMaxFrames &&
         f.remaining() > 8) {
    Stream* st = send_queue_.pop_front();
    write_one_stream(f, st, rec);
    if (stream_has_pending(st)) {
      queue_stream(st);
    } else {
      maybe_free_stream(st);
    }
  }
  if (conn_blocked_ && conn_send_.should_send_blocked(true) &&
      rec->frame_count + 1u < SentPacket::kMaxFrames) {
    if (encode_frame(Frame{DataBlockedFrame{conn_send_.limit()}}, f)) {
      conn_send_.on_blocked_sent();
      rec->add({SentFrame::Kind::kDataBlocked, false, 0, conn_send_.limit(), 0});
      rec->ack_eliciting = true;
    }
  }
  conn_blocked_ = false;
}

bool Connection::stream_has_pending(const Stream* st) const {
  if (st->reset_pending || st->stop_pending || st->max_stream_data_pending) return true;
  if (st->reset_error) return false;
  const bool can_send_new = st->send_credit.available() > 0 && conn_send_.available() > 0;
  return st->send.has_lost() || (st->send.unsent_bytes() > 0 && can_send_new) ||
         (st->fin_requested && !st->send.all_acked() && st->send.unsent_bytes() == 0 &&
          st->send.fin_pending());
}

void Connection::write_one_stream(Writer& f, Stream* st, SentPacket* rec) {
  auto slots = [&] { return rec->frame_count + 1u < SentPacket::kMaxFrames; };
  if (st->reset_pending && slots()) {
    ResetStreamFrame r;
    r.stream_id = st->id;
    r.error_code = *st->reset_error;
    r.final_size = st->highest_sent;
    if (encode_frame(Frame{r}, f)) {
      st->reset_pending = false;
      rec->add({SentFrame::Kind::kResetStream, false, st->id, 0, 0});
      rec->ack_eliciting = true;
    }
  }
  if (st->stop_pending && slots()) {
    StopSendingFrame s;
    s.stream_id = st->id;
    s.error_code = *st->stop_error;
    if (encode_frame(Frame{s}, f)) {
      st->stop_pending = false;
      rec->add({SentFrame::Kind::kStopSending, false, st->id, 0, 0});
      rec->ack_eliciting = true;
    }
  }
  // RFC 9000 §3.2: no MAX_STREAM_DATA once the final size is known.
  if (!st->state.receiving().wants_max_stream_data()) st->max_stream_data_pending = false;
  if ((st->max_stream_data_pending || st->recv_window.should_update()) &&
      st->state.receiving().wants_max_stream_data() && slots()) {
    const std::uint64_t limit = st->recv_window.advance_limit(last_activity_, rtt_.smoothed_rtt());
    // The connection window keeps ahead of a stream window that grew.
    conn_recv_.ensure_window(st->recv_window.window() + st->recv_window.window() / 2);
    MaxStreamDataFrame m;
    m.stream_id = st->id;
    m.maximum_stream_data = limit;
    if (encode_frame(Frame{m}, f)) {
      st->max_stream_data_pending = false;
      rec->add({SentFrame::Kind::kMaxStreamData, false, st->id, limit, 0});
      rec->ack_eliciting = true;
    } else {
      st->max_stream_data_pending = true;
    }
  }
  if (st->reset_error) return;
  // Lost data first, then new data within both flow-control limits.
  while (slots() && f.remaining() > 8) {
    // Lost ranges come first from next_to_send (RFC 9000 §13.3); new data
    // (at or above highest_sent) is bounded by both flow-control credits.
    std::optional<SendRange> r = st->send.next_to_send(f.remaining());
    if (!r) break;
    const bool is_new = r->offset >= st->highest_sent;
    if (is_new) {
      const std::uint64_t credit = std::min(st->send_credit.available(), conn_send_.available());
      const std::uint64_t allowed = st->highest_sent + credit - r->offset;
      if (r->length > allowed) {
        r->length = static_cast<std::size_t>(allowed);
        r->fin = false;
        if (r->length == 0) {
          // RFC 9000 §4.1: say which limit blocks us, once per limit value.
          if (conn_send_.available() == 0) conn_blocked_ = true;
          if (st->send_credit.available() == 0 && st->send_credit.should_send_blocked(true) &&
              slots()) {
            StreamDataBlockedFrame b;
            b.stream_id = st->id;
            b.maximum_stream_data = st->send_credit.limit();
            if (encode_frame(Frame{b}, f)) {
              st->send_credit.on_blocked_sent();
              rec->add(
                  {SentFrame::Kind::kStreamDataBlocked, false, st->id, b.maximum_stream_data, 0});
              rec->ack_eliciting = true;
            }
          }
          break;
        }
      }
    }
    const std::size_t n = max_stream_data(st->id, r->offset, true, f.remaining(), r->length);
    const bool fin = r->fin && n == r->length;
    if (n == 0 && !(fin && r->length == 0 &&
                    stream_frame_overhead(st->id, r->offset, 0, true) <= f.remaining()))
      break;
    // RFC 9000 §19.8: type 0x08 with OFF, LEN and FIN bits; the bytes are
    // left for the sealer to read in place, or copied once into the packet.
    const std::size_t mark = f.written();
    f.write_u8(
        static_cast<std::uint8_t>(0x08 | (r->offset > 0 ? 0x04 : 0) | 0x02 | (fin ? 0x01 : 0)));
    f.write_varint(st->id);
    if (r->offset > 0) f.write_varint(r->offset);
    f.write_varint(n);
    std::uint8_t* at = f.ok() ? f.claim(n) : nullptr;
    if (at == nullptr) {
      f.rewind(mark);
      break;
    }
    if (n > 0 && !place_stream_bytes(*st, r->offset, n, at)) {
      f.rewind(mark);
      break;
    }
    st->send.on_sent(r->offset, n, fin);
    if (is_new) {
      const std::uint64_t end = r->offset + n;
      if (end > st->highest_sent) {
        const std::uint64_t add = end - st->highest_sent;
        (void)st->send_credit.consume(add);
        (void)conn_send_.consume(add);
        st->highest_sent = end;
      }
      stats_.stream_bytes_sent += n;
    } else {
      stats_.stream_bytes_retransmitted += n;
    }
    if (fin)
      (void)st->state.sending().on_fin_sent();
    else if (n > 0)
      (void)st->state.sending().on_data_sent();
    rec->add({SentFrame::Kind::kStream, fin, st->id, r->offset, n});
    rec->ack_eliciting = true;
    if (st->writable_notify && stream_writable(*st)) {
      st->writable_notify = false;
      if (config_.handler) config_.handler->on_stream_writable(st->id);
    }
  }
}

// ---------------------------------------------------------------- acked / lost

void Connection::on_packet_acked(const SentPacket& p) {
  if (config_.observer) config_.observer->on_packet_acked(p, now_);
  Space& sp = *spaces_[index(p.space)];
  if (sp.largest_acked == kNoPacketNumber || p.packet_number > sp.largest_acked)
    sp.largest_acked = p.packet_number;
  for (std::size_t i = 0; i < p.frame_count; ++i) {
    const SentFrame& fr = p.frames[i];
    switch (fr.kind) {
      case SentFrame::Kind::kAck:
        sp.acks.on_ack_acked(fr.offset);  // RFC 9000 §13.2.4
        break;
      case SentFrame::Kind::kCrypto:
        if (fr.length > 0) sp.crypto.acked.insert(fr.offset, fr.offset + fr.length - 1);
        break;
      case SentFrame::Kind::kStream: {
        Stream* st = find_stream(fr.stream_id);
        if (st == nullptr) break;
        st->send.on_acked(fr.offset, fr.length, fr.fin);
        if (st->writable_notify && stream_writable(*st)) {
          st->writable_notify = false;
          if (config_.handler) config_.handler->on_stream_writable(st->id);
          st = find_stream(fr.stream_id);  // the callback may have reset it
          if (st == nullptr) break;
        }
        if (st->send.all_acked() && !st->reset_error) {
          (void)st->state.sending().on_all_data_acked();
          maybe_free_stream(st);
        }
        break;
      }
      case SentFrame::Kind::kRetireConnectionId:
        peer_cids_.on_retire_acked(fr.offset);
        break;
      case SentFrame::Kind::kNewConnectionId:
        local_cids_.on_acked(fr.offset);
        break;
      case SentFrame::Kind::kResetStream: {
        Stream* st = find_stream(fr.stream_id);
        if (st == nullptr) break;
        (void)st->state.sending().on_reset_acked();
        maybe_free_stream(st);
        break;
      }
      default:
        break;
    }
  }
}

// RFC 9002 §6.2.4: a probe should carry data. Without this, the probes of a
// sender with nothing new to send were bare PINGs (or the handshake's CRYPTO
// again), and a tail lost together with the ACKs that would have revealed the
// loss waited for ACKs to get through, PTO after doubled PTO (found by the
// interop handshakeloss case: 30% loss each way, a 1 KB response's last
// packet lost and four ACKs after it, until the peer's idle timeout).
void Connection::queue_probe_stream_data(int packets) {
  int left = packets;
  loss_->for_each_outstanding(PacketSpace::kApplication, [&](const SentPacket& p) {
    if (left <= 0) return false;
    // Each packet's data once: the next PTO goes on with younger packets
    // (the copies sent now included) rather than repeat the same oldest ones.
    if (p.packet_number < probe_requeue_from_) return true;
    probe_requeue_from_ = p.packet_number + 1;
    bool any = false;
    for (std::size_t i = 0; i < p.frame_count; ++i) {
      const SentFrame& fr = p.frames[i];
      if (fr.kind != SentFrame::Kind::kStream) continue;
      Stream* st = find_stream(fr.stream_id);
      if (st == nullptr || st->reset_error) continue;
      st->send.on_lost(fr.offset, fr.length, fr.fin);  // nothing if acked since
      queue_stream(st);
      any = true;
    }
    if (any) --left;
    return left > 0;
  });
}

void Connection::on_packet_lost(const SentPacket& p) {
  ++stats_.packets_lost;
  if (config_.observer) config_.observer->on_packet_lost(p, now_);
  Space& sp = *spaces_[index(p.space)];
  for (std::size_t i = 0; i < p.frame_count; ++i) {
    const SentFrame& fr = p.frames[i];
    switch (fr.kind) {
      case SentFrame::Kind::kCrypto: {
        if (sp.discarded || fr.length == 0) break;
        // Only the part not acknowledged since (RFC 9000 §13.3).
        std::uint64_t a = fr.offset;
        const std::uint64_t end = fr.offset + fr.length;
        while (a < end) {
          if (sp.crypto.acked.contains(a)) {
            ++a;
            continue;
          }
          std::uint64_t b = a;
          while (b < end && !sp.crypto.acked.contains(b))
            ++b;
          if (!sp.crypto.lost.insert(a, b - 1))
            sp.crypto.sent_up_to = std::min(sp.crypto.sent_up_to, a);
          a = b;
        }
        break;
      }
      case SentFrame::Kind::kStream: {
        Stream* st = find_stream(fr.stream_id);
        if (st == nullptr || st->reset_error) break;
        st->send.on_lost(fr.offset, fr.length, fr.fin);
        queue_stream(st);
        break;
      }
      case SentFrame::Kind::kResetStream: {
        Stream* st = find_stream(fr.stream_id);
        if (st == nullptr) break;
        st->reset_pending = true;
        queue_stream(st);
        break;
      }
      case SentFrame::Kind::kStopSending: {
        Stream* st = find_stream(fr.stream_id);
        if (st == nullptr || !st->state.receiving().can_send_stop_sending()) break;
        st->stop_pending = true;
        queue_stream(st);
        break;
      }
      case SentFrame::Kind::kMaxStreamData: {
        Stream* st = find_stream(fr.stream_id);
        if (st == nullptr || fr.offset < st->recv_window.limit() ||  // a newer one was sent
            !st->state.receiving().wants_max_stream_data())
          break;
        st->max_stream_data_pending = true;
        queue_stream(st);
        break;
      }
      case SentFrame::Kind::kMaxData:
        if (fr.offset >= conn_recv_.limit()) max_data_pending_ = true;
        break;
      case SentFrame::Kind::kMaxStreamsBidi:
      case SentFrame::Kind::kMaxStreamsUni:
        // should_send_max_streams() compares the credit given; a lost frame
        // whose value is still current is sent again.
        if (fr.offset == (fr.kind == SentFrame::Kind::kMaxStreamsBidi
                              ? bidi_limits_.advertised_max()
                              : uni_limits_.advertised_max()))
          (fr.kind == SentFrame::Kind::kMaxStreamsBidi ? max_streams_bidi_lost_
                                                       : max_streams_uni_lost_) = true;
        break;
      case SentFrame::Kind::kHandshakeDone:
        handshake_done_pending_ = true;
        break;
      case SentFrame::Kind::kNewToken:
        new_token_pending_ = true;  // RFC 9000 §13.3: sent again until acknowledged
        break;
      case SentFrame::Kind::kRetireConnectionId:
        peer_cids_.on_retire_lost(fr.offset);
        break;
      case SentFrame::Kind::kNewConnectionId:
        local_cids_.on_lost(fr.offset);
        break;
      case SentFrame::Kind::kStreamsBlockedBidi:
        bidi_limits_.on_streams_blocked_lost(fr.offset);  // again if still at that limit
        break;
      case SentFrame::Kind::kStreamsBlockedUni:
        uni_limits_.on_streams_blocked_lost(fr.offset);
        break;
      case SentFrame::Kind::kDataBlocked:
        // Sent again with the next blocked attempt if still at that limit.
        conn_send_.on_blocked_lost(fr.offset);
        break;
      case SentFrame::Kind::kStreamDataBlocked: {
        Stream* st = find_stream(fr.stream_id);
        if (st == nullptr) break;
        st->send_credit.on_blocked_lost(fr.offset);
        if (st->send.unsent_bytes() > 0) queue_stream(st);
        break;
      }
      default:
        break;
    }
  }
}

// ---------------------------------------------------------------- app API

std::optional<std::uint64_t> Connection::open_stream(bool bidi) {
  if (state_ != ConnectionState::kConnected && state_ != ConnectionState::kHandshaking)
    return std::nullopt;
  if (!peer_params_done_ && !early_data_offered_) return std::nullopt;  // §7.4.1: 0-RTT may
  StreamLimits& l = bidi ? bidi_limits_ : uni_limits_;
  std::optional<std::uint64_t> idx = l.open_local();
  // RFC 9000 §4.6: blocked by the peer's limit: tell it (STREAMS_BLOCKED).
  streams_blocked_wanted_[bidi ? 0 : 1] = !idx;
  if (!idx) return std::nullopt;
  const std::uint64_t id = make_stream_id(
      role_, bidi ? StreamDirection::kBidirectional : StreamDirection::kUnidirectional, *idx);
  new_stream(id);
  return id;
}

std::int64_t Connection::write(std::uint64_t stream_id, ByteSpan data, bool fin) {
  Stream* st = find_stream(stream_id);
  if (st == nullptr || !can_send(stream_id, role_) || st->fin_requested || st->reset_error)
    return -1;
  const std::size_t room = st->send.buffered_bytes() >= config_.max_stream_send_buffer
                               ? 0
                               : config_.max_stream_send_buffer - st->send.buffered_bytes();
  const std::size_t n = std::min(room, data.size());
  const std::size_t took = n > 0 ? st->send.append_copy(data.first(n)) : 0;
  if (took < data.size()) st->writable_notify = true;
  if (fin && took == data.size()) {
    st->fin_requested = true;
    (void)st->send.finish();
  }
  if (took > 0 || st->fin_requested) queue_stream(st);
  return static_cast<std::int64_t>(took);
}

bool Connection::stream_writable(const Stream& st) const {
  return st.send.buffered_bytes() < config_.max_stream_send_buffer && st.send.free_chunks() > 0;
}

template <typename Append>
std::int64_t Connection::write_by_reference(std::uint64_t stream_id, std::size_t length,
                                            std::size_t chunks, bool fin, const Append& append) {
  Stream* st = find_stream(stream_id);
  if (st == nullptr || !can_send(stream_id, role_) || st->fin_requested || st->reset_error)
    return -1;
  if (length > 0) {
    // All or nothing; a write may take the buffer past the limit once, so a
    // chunk larger than the limit still goes.
    if (st->send.buffered_bytes() >= config_.max_stream_send_buffer ||
        st->send.free_chunks() < chunks) {
      st->writable_notify = true;
      return 0;
    }
    if (!append(st->send)) return -1;
  }
  if (fin) {
    st->fin_requested = true;
    (void)st->send.finish();
  }
  queue_stream(st);
  return static_cast<std::int64_t>(length);
}

std::int64_t Connection::write_mbuf(std::uint64_t stream_id, rte_mbuf* owner,
                                    const std::uint8_t* data, std::size_t length, bool fin) {
  return write_by_reference(stream_id, length, 1, fin,
                            [&](SendBuffer& sb) { return sb.append(data, length, owner); });
}

std::int64_t Connection::write_chain(std::uint64_t stream_id, rte_mbuf* chain, bool fin) {
  if (chain == nullptr) return -1;
  std::size_t chunks = 0;
  for (const rte_mbuf* m = chain; m != nullptr; m = m->next)
    chunks += rte_pktmbuf_data_len(m) > 0 ? 1 : 0;
  return write_by_reference(
      stream_id, rte_pktmbuf_pkt_len(chain), chunks, fin, [&](SendBuffer& sb) {
        for (rte_mbuf* m = chain; m != nullptr; m = m->next) {
          // free_chunks() was checked: appends of valid segments cannot fail.
          if (rte_pktmbuf_data_len(m) > 0 &&
              !sb.append(rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m), m))
            return false;
        }
        return true;
      });
}

std::int64_t Connection::write_external(std::uint64_t stream_id, const std::uint8_t* data,
                                        std::size_t length, ReleaseFn release, void* ctx,
                                        bool fin) {
  if (release == nullptr) return -1;
  return write_by_reference(stream_id, length, 1, fin, [&](SendBuffer& sb) {
    return sb.append_external(data, length, release, ctx);
  });
}

std::int64_t Connection::read(std::uint64_t stream_id, std::span<std::uint8_t> out, bool* fin) {
  *fin = false;
  Stream* st = find_stream(stream_id);
  if (st == nullptr || !can_receive(stream_id, role_)) return -1;
  const std::size_t n = st->recv.read(out);
  if (n > 0) {
    (void)st->recv_window.on_consumed(n);
    (void)conn_recv_.on_consumed(n);
    if (st->recv_window.should_update() && st->state.receiving().wants_max_stream_data())
      queue_stream(st);
  }
  if (st->recv.is_finished()) {
    *fin = true;
    ReceivingPart& rp = st->state.receiving();
    if (rp.state() == RecvState::kSizeKnown) (void)rp.on_all_data_received();
    (void)rp.on_data_read();
    maybe_free_stream(st);
  }
  return static_cast<std::int64_t>(n);
}

bool Connection::reset_stream(std::uint64_t stream_id, std::uint64_t app_error) {
  Stream* st = find_stream(stream_id);
  if (st == nullptr || !can_send(stream_id, role_) || st->reset_error) return false;
  if (st->state.sending().on_reset_sent() != TransportError::kNoError) return false;
  st->reset_error = app_error;
  st->reset_pending = true;
  // RFC 9000 §3.3: no more STREAM frames, data released; but not while
  // datagrams laid out from it may still be waiting to be sealed.
  if (gather_held_) {
    st->release_deferred = true;
    ++deferred_resets_;
  } else {
    st->send.reset();
  }
  queue_stream(st);
  return true;
}

bool Connection::place_stream_bytes(const Stream& st, std::uint64_t offset, std::size_t n,
                                    std::uint8_t* at) {
  OutgoingDatagram* d = gather_out_;
  if (d != nullptr && n >= kMinGatherBytes && d->gathered_count < gather_runs_) {
    std::array<DataSegment, kMaxGatheredRuns> segs;
    const std::size_t room = gather_runs_ - d->gathered_count;
    if (std::optional<std::size_t> k =
            st.send.gather(offset, n, std::span<DataSegment>(segs.data(), room))) {
      auto pos = static_cast<std::uint16_t>(at - gather_base_);
      for (std::size_t i = 0; i < *k; ++i) {
        const auto len = static_cast<std::uint16_t>(segs[i].length);
        d->gathered[d->gathered_count++] = GatheredBytes{pos, len, segs[i].data, segs[i].iova};
        pos = static_cast<std::uint16_t>(pos + len);
      }
      gather_held_ = true;
      stats_.stream_bytes_gathered += n;
      return true;
    }
  }
  return st.send.copy_out(offset, n, at);
}

void Connection::end_gather() {
  gather_held_ = false;
  if (deferred_resets_ > 0) release_deferred_resets();
}

void Connection::release_deferred_resets() {
  // O(streams), only after a reset raced a send still being sealed.
  for (auto& [id, st] : streams_) {
    if (!st->release_deferred) continue;
    st->release_deferred = false;
    st->send.reset();
  }
  deferred_resets_ = 0;
}

bool Connection::stop_sending(std::uint64_t stream_id, std::uint64_t app_error) {
  Stream* st = find_stream(stream_id);
  if (st == nullptr || !can_receive(stream_id, role_) ||
      !st->state.receiving().can_send_stop_sending())
    return false;
  st->stop_error = app_error;
  st->stop_pending = true;
  queue_stream(st);
  return true;
}

bool Connection::send_datagram(ByteSpan data) {
  if (state_ != ConnectionState::kConnected && state_ != ConnectionState::kHandshaking)
    return false;
  // RFC 9221 §3: only when the peer advertised room for it; §5: a frame
  // never spans packets, so it must fit in one 1-RTT packet of ours
  // (short header with the longest packet number, tag).
  const std::size_t packet_overhead = 1 + peer_cid_.length + 4 + kAeadTagLength;
  if (peer_params_.max_datagram_frame_size == 0 ||
      datagram_frame_size(data.size(), true) > peer_params_.max_datagram_frame_size ||
      packet_overhead + datagram_frame_size(data.size(), true) > config_.max_datagram_size)
    return false;
  return datagrams_out_.push(data);
}

}  // namespace dquic
