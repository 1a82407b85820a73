// The connection's send path: which spaces send, what each packet carries,
// in what order, within the congestion window and the pacer.
#include <algorithm>
#include <cstring>

#include "quic/connection.h"
#include "quic/connection_space.h"
#include "quic/packet_header_encode.h"
#include "quic/packet_number.h"
#include "quic/stream.h"

namespace dquic {

namespace {

constexpr std::size_t kTagLength = kAeadTagLength;
constexpr std::size_t kMinInitialDatagram = 1200;  // RFC 9000 §14.1
// Frames a packet carries at most; the SentPacket record must hold them.
constexpr std::size_t kFrameSlots = SentPacket::kMaxFrames;

PacketType packet_type_of(PacketSpace s) {
  switch (s) {
    case PacketSpace::kInitial:
      return PacketType::kInitial;
    case PacketSpace::kHandshake:
      return PacketType::kHandshake;
    default:
      return PacketType::kOneRtt;
  }
}

}  // namespace

bool Connection::congestion_allows(Time now) const {
  if (cc_->available() < config_.max_datagram_size) return false;
  return !config_.pacing || pacer_.next_send_time(now) <= now;
}

bool Connection::space_has_crypto(PacketSpace s) const {
  const CryptoSpace& c = spaces_[index(s)]->crypto;
  return !c.lost.empty() || c.sent_up_to < c.send_data.size();
}

bool Connection::app_has_data() const {
  return handshake_done_pending_ || new_token_pending_ || paths_[active_path_].wants_to_send() ||
         max_data_pending_ || ping_pending_ || !datagrams_out_.empty() ||
         bidi_limits_.should_send_max_streams() || uni_limits_.should_send_max_streams() ||
         max_streams_bidi_lost_ || max_streams_uni_lost_ || conn_recv_.should_update() ||
         bidi_limits_.should_send_streams_blocked(streams_blocked_wanted_[0]) ||
         uni_limits_.should_send_streams_blocked(streams_blocked_wanted_[1]) ||
         peer_cids_.retire_to_send().has_value() || local_cids_.next_to_send() != nullptr ||
         !send_queue_.empty();
}

bool Connection::has_data_to_send() const {
  if (state_ != ConnectionState::kHandshaking && state_ != ConnectionState::kConnected)
    return false;
  for (std::size_t i = 0; i < kPacketSpaceCount; ++i) {
    const Space& sp = *spaces_[i];
    if (sp.discarded || sp.write_key == nullptr) continue;
    if (sp.probes_pending > 0 || space_has_crypto(static_cast<PacketSpace>(i))) return true;
  }
  if (write_key(PacketSpace::kApplication) == nullptr ||
      !(handshake_complete_ || sending_zero_rtt()))
    return false;
  return app_has_data();
}

bool Connection::space_wants_to_send(PacketSpace s, Time now, bool cc_ok) const {
  const Space& sp = *spaces_[index(s)];
  if (sp.discarded || write_key(s) == nullptr) return false;
  if (state_ == ConnectionState::kClosing) return close_frame_pending_;
  // RFC 9000 §13.2.1: only ack-eliciting packets make us send an ACK on
  // its own; other ACKs ride along with packets sent anyway.
  if (sp.acks.ack_eliciting_pending() && (sp.acks.ack_deadline() <= now || cc_ok)) return true;
  if (sp.probes_pending > 0) return true;
  if (!cc_ok) return false;
  if (space_has_crypto(s)) return true;
  if (s != PacketSpace::kApplication || !(handshake_complete_ || sending_zero_rtt())) return false;
  return app_has_data();
}

bool Connection::amplification_blocked() const {
  // RFC 9000 §8.1; §14.1: a server's Initial needs room for 1200 bytes
  // (write_datagram waits for it rather than send a short one).
  const std::uint64_t room = amplification_room();
  return room < kMinAmplificationRoom ||
         (role_ == EndpointRole::kServer && room < kMinInitialDatagram &&
          space_wants_to_send(PacketSpace::kInitial, now_, true));
}

bool Connection::write_datagram(std::span<std::uint8_t> buf, Time now, OutgoingDatagram* out,
                                std::size_t gather_runs) {
  out->length = 0;
  out->packet_count = 0;
  out->ecn = Ecn::kNotEct;
  tx_ecn_ = Ecn::kNotEct;  // probes on other paths go unmarked (their ECN is untested)
  out->path = {};
  out->gathered_count = 0;
  // Zero-copy send: write_one_stream lists stream bytes in out->gathered
  // instead of copying them, while this datagram is being laid out.
  struct GatherScope {
    Connection& c;
    GatherScope(Connection& conn, OutgoingDatagram* o, const std::uint8_t* base, std::size_t runs)
        : c(conn) {
      c.gather_out_ = runs > 0 ? o : nullptr;
      c.gather_base_ = base;
      c.gather_runs_ = std::min(runs, kMaxGatheredRuns);
    }
    ~GatherScope() { c.gather_out_ = nullptr; }
  } scope(*this, out, buf.data(), gather_runs);
  if (state_ == ConnectionState::kClosed || state_ == ConnectionState::kDraining) return false;
  if (state_ == ConnectionState::kClosing && !close_frame_pending_) return false;
  tx_path_ = active_path_;
  // RFC 9000 §8.2: probes and answers for other paths first; they are small
  // and a migration waits on them.
  if (state_ == ConnectionState::kConnected && handshake_complete_ &&
      write_key(PacketSpace::kApplication) != nullptr) {
    for (std::size_t i = 0; i < kMaxPaths; ++i)
      if (i != active_path_ && paths_[i].in_use && paths_[i].wants_to_send() &&
          write_probe_datagram(i, buf, now, out))
        return true;
  }
  tx_ecn_ = ecn_for_datagram(now);
  std::size_t limit = std::min<std::size_t>(buf.size(), config_.max_datagram_size);
  // RFC 9000 §8.1: before the client's address is validated, a server sends
  // at most three times the bytes it received, padding and closes included.
  const std::uint64_t room = amplification_room();
  if (room < kMinAmplificationRoom) return false;
  limit = static_cast<std::size_t>(std::min<std::uint64_t>(limit, room));
  const bool cc_ok = state_ == ConnectionState::kClosing || congestion_allows(now);
  if (handshake_confirmed_ && state_ == ConnectionState::kConnected) {
    maybe_update_keys(now);  // RFC 9001 §6: before laying out, so the packet uses the new keys
    if (state_ != ConnectionState::kConnected) return false;
  }

  std::array<PacketSpace, kPacketSpaceCount> todo{};
  std::size_t n = 0;
  for (PacketSpace s : {PacketSpace::kInitial, PacketSpace::kHandshake, PacketSpace::kApplication})
    if (space_wants_to_send(s, now, cc_ok)) todo[n++] = s;
  if (n == 0) return false;
  // RFC 9000 §10.2.3: before the handshake is confirmed a close goes in
  // every space the peer may be able to read; otherwise only 1-RTT.
  if (state_ == ConnectionState::kClosing && handshake_confirmed_) {
    todo[0] = PacketSpace::kApplication;
    n = write_key(PacketSpace::kApplication) ? 1 : 0;
    if (n == 0) return false;
  }

  // RFC 9000 §14.1: a client pads every datagram with an Initial packet,
  // and a server every datagram with an ack-eliciting Initial, to 1200.
  const bool has_initial = todo[0] == PacketSpace::kInitial;
  // RFC 9000 §14.1: a server's ack-eliciting Initial goes in a datagram of
  // at least 1200 bytes; without the credit for one, only what does not
  // need the padding (ACKs, other spaces) could go, so wait for credit.
  if (has_initial && role_ == EndpointRole::kServer && limit < kMinInitialDatagram) return false;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const bool last = i + 1 == n;
    const bool pad = last && has_initial && limit >= kMinInitialDatagram;
    OutgoingPacket p;
    const std::uint8_t gathered = out->gathered_count;
    const std::size_t w = write_packet(buf.first(limit), offset, todo[i], now, limit - offset,
                                       pad ? kMinInitialDatagram - offset : 0, &p);
    if (w == 0) {
      out->gathered_count = gathered;  // the packet was abandoned
      continue;
    }
    out->packets[out->packet_count++] = p;
    offset += w;
  }
  if (out->packet_count == 0) return false;
  out->length = offset;
  out->ecn = tx_ecn_;
  if (tx_ecn_ != Ecn::kNotEct) {
    // RFC 9000 §13.4.2: three PTOs of the path (only read for the first).
    const Duration period =
        ecn_.marked() == 0 ? kEcnTestingPtos * loss_->pto(PacketSpace::kApplication) : 0;
    ecn_.on_sent(tx_ecn_, out->packet_count, now, period);
    stats_.ecn_state = ecn_.state();
    if (tx_ecn_ == Ecn::kEct0) stats_.ecn_ect0_sent += out->packet_count;
  }
  if (state_ == ConnectionState::kClosing) close_frame_pending_ = false;
  ++stats_.datagrams_sent;
  out->path = paths_[active_path_].address;
  if (role_ == EndpointRole::kServer && !paths_[active_path_].validated) {
    paths_[active_path_].sent += offset;
    if (amplification_room() < kMinAmplificationRoom) update_recovery_state();
  }
  stats_.packets_sent += out->packet_count;
  stats_.bytes_sent += offset;
  if (config_.pacing) pacer_.on_sent(now, static_cast<std::uint32_t>(offset));
  return true;
}

std::size_t Connection::write_packet(std::span<std::uint8_t> buf, std::size_t offset, PacketSpace s,
                                     Time now, std::size_t budget, std::size_t min_size,
                                     OutgoingPacket* out) {
  Space& sp = *spaces_[index(s)];
  const std::uint64_t pn = sp.next_pn;
  challenge_slot_ = kNoChallenge;
  const std::size_t pn_len = packet_number_length(
      pn, sp.largest_acked == kNoPacketNumber ? kNoPacketNumber : sp.largest_acked);
  Writer w(buf.subspan(offset, budget));
  std::size_t pn_offset = 0;
  LongHeaderLayout layout;
  const bool zero_rtt = s == PacketSpace::kApplication && sending_zero_rtt();
  const bool long_header = s != PacketSpace::kApplication || zero_rtt;
  if (long_header) {
    LongHeaderSpec h;
    h.type = zero_rtt ? PacketType::kZeroRtt : packet_type_of(s);
    h.version = config_.version;
    h.dcid = peer_cid_.span();
    h.scid = local_cid_.span();
    // RFC 9000 §17.2.5.3: after a Retry every Initial carries its token.
    if (s == PacketSpace::kInitial && role_ == EndpointRole::kClient)
      h.token = ByteSpan(retry_token_.data(), retry_token_.size());
    h.length_width = 2;
    h.packet_number = pn;
    h.pn_length = pn_len;
    if (!encode_long_header(w, h, &layout)) return 0;
    pn_offset = layout.pn_offset;
  } else {
    ShortHeaderSpec h;
    h.dcid = tx_dcid().span();
    h.key_phase = one_rtt_.write_phase();  // RFC 9001 §6
    h.packet_number = pn;
    h.pn_length = pn_len;
    if (!encode_short_header(w, h, &pn_offset)) return 0;
  }
  const std::size_t header_length = w.written();
  if (w.remaining() < kTagLength + 4) return 0;
  // Frames go in a writer that leaves the tag's room.
  Writer f(buf.subspan(offset + header_length, w.remaining() - kTagLength));
  SentPacket rec;
  rec.packet_number = pn;
  rec.space = s;
  rec.time_sent = now;
  const bool cc_ok = state_ == ConnectionState::kClosing || congestion_allows(now) ||
                     sp.probes_pending > 0;  // RFC 9002 §7.5: probes ignore the window

  if (state_ == ConnectionState::kClosing) {
    write_close_frame(f, s);
  } else {
    // ACK first: it is small, and it keeps the peer's recovery going
    // (never in 0-RTT, RFC 9000 §12.4).
    if (sp.acks.ack_pending() && !zero_rtt && !probing_only_) {
      const std::uint8_t exp = s == PacketSpace::kApplication
                                   ? static_cast<std::uint8_t>(config_.transport.ack_delay_exponent)
                                   : 0;
      if (std::optional<std::uint64_t> largest = sp.acks.write_ack(f, now, exp, f.remaining())) {
        sp.acks.on_ack_sent();
        rec.add({SentFrame::Kind::kAck, false, 0, *largest, 0});
      }
    }
    if (probing_only_) {
      write_path_frames(f, now, &rec);
    } else if (cc_ok) {
      // RFC 9002 §6.2.4: probes carry data where there is any. Each probe
      // repeats the unacknowledged CRYPTO data, not only the first (a bare
      // PING second probe leaves a handshake under heavy loss to the next,
      // doubled, PTO).
      if (sp.probes_pending > 0 && sp.crypto.lost.empty()) mark_unacked_crypto_lost(sp);
      write_crypto_frames(f, s, &rec);
      if (s == PacketSpace::kApplication && (handshake_complete_ || zero_rtt))
        write_app_frames(f, now, &rec);
      if (sp.probes_pending > 0 && !rec.ack_eliciting) {
        f.write_u8(0x01);  // PING: a probe must elicit an ACK (RFC 9002 §6.2.4)
        if (f.ok()) rec.add({SentFrame::Kind::kPing, false, 0, 0, 0}), rec.ack_eliciting = true;
      }
      if (sp.probes_pending > 0 && rec.ack_eliciting) --sp.probes_pending;
    }
  }
  std::size_t payload = f.written();
  if (payload == 0) return 0;
  // RFC 9000 §8.2.1-8.2.2: a datagram with PATH_CHALLENGE or PATH_RESPONSE
  // is expanded to 1200 bytes (within the amplification limit, which `buf`
  // already reflects).
  if (expand_datagram_) {
    expand_datagram_ = false;
    if (offset < kMinInitialDatagram) min_size = std::max(min_size, kMinInitialDatagram - offset);
  }
  // RFC 9001 §5.4.2: room for the header-protection sample (pn + payload >= 4),
  // and the padding the datagram needs.
  std::size_t want = pn_len + payload < 4 ? 4 - pn_len : 0;
  if (min_size > 0 && header_length + payload + kTagLength < min_size)
    want = std::max(want, min_size - header_length - payload - kTagLength);
  want = std::min(want, f.remaining());
  if (want > 0) {
    if (!encode_padding(want, f)) return 0;
    payload += want;
    rec.in_flight = !probing_only_;  // RFC 9002 §2: padding counts in flight
  }
  if (long_header &&
      !patch_long_header_length(buf.subspan(offset, budget), layout, pn_len + payload + kTagLength))
    return 0;
  const std::size_t total = header_length + payload + kTagLength;
  std::memset(buf.data() + offset + header_length + payload, 0, kTagLength);
  // RFC 9000 §8.2.1: whether this challenge also tests a 1200-byte MTU.
  if (challenge_slot_ != kNoChallenge) {
    paths_[tx_path_].challenge_expanded[challenge_slot_] = offset + total >= kMinInitialDatagram;
    challenge_slot_ = kNoChallenge;
  }

  out->offset = static_cast<std::uint16_t>(offset);
  out->header_length = static_cast<std::uint16_t>(header_length);
  out->pn_offset = static_cast<std::uint16_t>(pn_offset);
  out->pn_length = static_cast<std::uint8_t>(pn_len);
  out->payload_length = static_cast<std::uint16_t>(payload);
  out->packet_number = pn;
  out->key = write_key(s);
  ++sp.next_pn;
  if (zero_rtt) ++stats_.zero_rtt_packets_sent;

  // RFC 9000 §9.4: a probe on another path is kept out of this path's
  // congestion control; it is still acknowledged (and never retransmitted).
  if (rec.ack_eliciting) rec.in_flight = !probing_only_;
  rec.sent_bytes = static_cast<std::uint32_t>(total);
  rec.app_limited = !has_data_to_send();
  if (state_ != ConnectionState::kClosing) {
    loss_->on_packet_sent(rec, now, tx_ecn_);
    if (rec.ack_eliciting) {
      // RFC 9000 §10.1: sending an ack-eliciting packet restarts the idle
      // timer if none was sent since the last packet received.
      if (!ack_eliciting_since_receive_) last_activity_ = std::max(last_activity_, now);
      ack_eliciting_since_receive_ = true;
    }
  }
  if (config_.observer) config_.observer->on_packet_sent(rec, now);
  // RFC 9001 §4.9.1: a client discards Initial keys once it sends a
  // Handshake packet.
  if (role_ == EndpointRole::kClient && s == PacketSpace::kHandshake &&
      !spaces_[index(PacketSpace::kInitial)]->discarded)
    discard_initial_pending_ = true;
  return total;
}

Ecn Connection::ecn_for_datagram(Time now) {
  // RFC 9000 §13.4.2: validation is per path; a new one (migration, a
  // preferred address, a NAT rebinding) starts testing again. Only the
  // active path is marked; probes of others are not.
  const NetworkPath& a = paths_[active_path_].address;
  if (!(a == ecn_path_)) {
    ecn_path_ = a;
    ecn_.restart();
    loss_->restart_ecn_validation();
    stats_.ecn_state = ecn_.state();
  }
  // Close packets are not recorded by loss detection: unmarked. Initial
  // packets are marked: RFC 9000 §13.4.2 marks "early outgoing packets"
  // on a new path, and the peer counts ECN in every space (§13.4.1).
  if (state_ == ConnectionState::kClosing) return Ecn::kNotEct;
  // RFC 9000 §8.2: while the path is being validated its datagrams go
  // unmarked, so that a path dropping ECT packets cannot fail the
  // validation (and the migration); ECN testing starts once it passed.
  if (paths_[active_path_].validating) return Ecn::kNotEct;
  return ecn_.codepoint(now);
}

void Connection::update_ecn() {
  if (ecn_.on_feedback(loss_->ecn_feedback())) stats_.ecn_state = ecn_.state();
  stats_.ecn_ce_reported = loss_->ecn_ce_reported();
}

void Connection::write_close_frame(Writer& f, PacketSpace s) {
  ConnectionCloseFrame c;
  const CloseInfo& ci = *close_info_;
  c.application = ci.application;
  c.error_code = ci.error_code;
  c.frame_type = ci.frame_type;
  c.reason = ByteSpan(reinterpret_cast<const std::uint8_t*>(ci.reason.data()),
                      std::min<std::size_t>(ci.reason.size(), 128));
  if (c.application && s != PacketSpace::kApplication) {
    // RFC 9000 §10.2.3: in Initial/Handshake an application close becomes
    // APPLICATION_ERROR without its reason.
    c.application = false;
    c.error_code = static_cast<std::uint64_t>(TransportError::kApplicationError);
    c.frame_type = 0;
    c.reason = {};
  }
  if (!encode_frame(Frame{c}, f)) {
    c.reason = {};
    (void)encode_frame(Frame{c}, f);
  }
}

void Connection::write_crypto_frames(Writer& f, PacketSpace s, SentPacket* rec) {
  CryptoSpace& c = spaces_[index(s)]->crypto;
  auto emit = [&](std::uint64_t off, std::uint64_t len) -> std::uint64_t {
    if (rec->frame_count + 1u >= kFrameSlots) return 0;
    const std::size_t n = max_crypto_data(off, f.remaining(), len);
    if (n == 0) return 0;
    CryptoFrame cf;
    cf.offset = off;
    cf.data = ByteSpan(c.send_data.data() + off, n);
    if (!encode_frame(Frame{cf}, f)) return 0;
    rec->add({SentFrame::Kind::kCrypto, false, 0, off, n});
    rec->ack_eliciting = true;
    return n;
  };
  // Lost data first (RFC 9000 §13.3), skipping what was acknowledged since.
  while (!c.lost.empty()) {
    const Interval r = c.lost.ranges()[0];
    const std::uint64_t n = emit(r.first, r.last - r.first + 1);
    if (n == 0) return;
    c.lost.remove_up_to(r.first + n - 1);
  }
  while (c.sent_up_to < c.send_data.size()) {
    const std::uint64_t n = emit(c.sent_up_to, c.send_data.size() - c.sent_up_to);
    if (n == 0) return;
    c.sent_up_to += n;
  }
}

}  // namespace dquic
