// The connection's network paths (RFC 9000 §8.2, §9): path validation,
// NAT rebinding and client migration, per-path anti-amplification, the
// congestion and RTT reset of §9.4, the server's preferred address (§9.6).
#include <algorithm>

#include "quic/connection.h"
#include "quic/connection_space.h"

namespace dquic {

namespace {

bool only_port_changed(const NetworkPath& a, const NetworkPath& b) {
  return a.local.same_ip(b.local) && a.peer.same_ip(b.peer);
}

}  // namespace

std::size_t Connection::find_path(const NetworkPath& a) const {
  for (std::size_t i = 0; i < kMaxPaths; ++i)
    if (paths_[i].in_use && paths_[i].address == a) return i;
  return kNoPath;
}

std::size_t Connection::new_path_slot() {
  for (std::size_t i = 0; i < kMaxPaths; ++i)
    if (!paths_[i].in_use) return i;
  // Full: give up a probed path that is neither in use nor the fallback,
  // the one whose validation started first (the oldest deadline).
  std::size_t victim = kNoPath;
  for (std::size_t i = 0; i < kMaxPaths; ++i) {
    if (i == active_path_ || i == fallback_path_) continue;
    if (victim == kNoPath || paths_[i].deadline < paths_[victim].deadline) victim = i;
  }
  if (victim != kNoPath) free_path(victim);
  return victim;
}

bool Connection::on_datagram_received(std::size_t bytes, Time now, const NetworkPath& path) {
  now_ = std::max(now_, now);
  stats_.bytes_received += bytes;
  rx_new_path_.reset();
  std::size_t i = find_path(path);
  if (i == kNoPath && !path_bound_) {
    paths_[0].address = path;  // server: the handshake's path
    path_bound_ = true;
    i = 0;
  }
  if (i == kNoPath) {
    // RFC 9000 §9: a client discards packets from server addresses it did
    // not probe (§9.6); a server accepts new peer addresses once the
    // handshake is confirmed (the handshake relies on a stable address).
    if (role_ == EndpointRole::kClient || !handshake_confirmed_ ||
        state_ != ConnectionState::kConnected) {
      ++stats_.datagrams_unknown_path;
      return false;
    }
    rx_new_path_ = path;
    rx_new_bytes_ = bytes;
    return true;
  }
  rx_path_ = i;
  ConnectionPath& p = paths_[i];
  if (p.validated || role_ == EndpointRole::kClient) return true;
  p.received += bytes;
  // RFC 9002 §6.2.2.1, §A.6: a datagram may lift the amplification limit;
  // the PTO is re-armed then (set_state acts on a change only). Not keyed
  // to room < kMinAmplificationRoom: a server waiting for room for a full
  // 1200-byte Initial is blocked too (amplification_blocked()), and a
  // datagram lifting that never re-armed its PTO: the handshake stalled.
  if (i == active_path_) update_recovery_state();
  return true;
}

bool Connection::bind_new_path(Time now) {
  const std::size_t i = new_path_slot();
  if (i == kNoPath) {
    rx_new_path_.reset();
    ++stats_.datagrams_unknown_path;
    return false;
  }
  ConnectionPath& p = paths_[i];
  p = ConnectionPath{};
  p.in_use = true;
  p.address = *rx_new_path_;
  p.received = rx_new_bytes_;
  rx_new_path_.reset();
  rx_path_ = i;
  // RFC 9000 §9.3, §9.6.3: a packet from a new address, probing or not,
  // starts our validation of it, so that a migration can complete and a
  // spoofed one cannot take more than 3x what it sent (§9.3.1).
  start_validation(i, now);
  return true;
}

void Connection::free_path(std::size_t i) {
  ConnectionPath& p = paths_[i];
  // RFC 9000 §5.1.2: the CID reserved for it will not be used again.
  if (p.peer_cid_sequence) peer_cids_.retire(*p.peer_cid_sequence);
  p = ConnectionPath{};
  if (fallback_path_ == i) fallback_path_ = kNoPath;
}

Duration Connection::path_validation_timeout() const {
  // RFC 9000 §8.2.4: three times the larger of the current PTO and the PTO
  // of a new path (kInitialRtt: 333 ms + 4 x 166.5 ms).
  const Duration initial_pto = 3 * kInitialRtt;
  return 3 * std::max(loss_->pto(PacketSpace::kApplication), initial_pto);
}

void Connection::start_validation(std::size_t i, Time now) {
  ConnectionPath& p = paths_[i];
  p.validating = true;
  p.challenge_due = true;
  p.challenge_count = 0;
  p.next_challenge = kNever;
  p.deadline = now + path_validation_timeout();
  if (config_.observer) config_.observer->on_path_event(PathEvent::kProbingStarted, p.address, now);
}

void Connection::on_path_response(const PathData& d, Time now) {
  // RFC 9000 §8.2.3: a response on any path validates the path its
  // challenge was sent on; §19.18: an unmatched one is ignored.
  for (std::size_t i = 0; i < kMaxPaths; ++i) {
    const ConnectionPath& p = paths_[i];
    if (!p.in_use || !p.validating) continue;
    const std::size_t slot = p.answered_challenge(d);
    if (slot != ConnectionPath::kChallenges)
      return on_path_validated(i, p.challenge_expanded[slot], now);
  }
}

void Connection::on_path_validated(std::size_t i, bool mtu_tested, Time now) {
  ConnectionPath& p = paths_[i];
  const bool was_blocked = amplification_room(i) < kMinAmplificationRoom;
  const bool first = !p.validated;
  p.validated = true;
  p.validating = p.challenge_due = false;
  p.next_challenge = p.deadline = kNever;
  if (mtu_tested) p.mtu_validated = true;
  if (first) ++stats_.paths_validated;
  if (config_.observer)
    config_.observer->on_path_event(PathEvent::kProbingSuccessful, p.address, now);
  // RFC 9000 §8.2.1: a challenge the amplification limit kept below 1200
  // bytes validated the address, not the MTU: once more, expanded (the
  // credit is unlimited now).
  if (!p.mtu_validated) start_validation(i, now);
  if (p.migrate_on_validation) {
    p.migrate_on_validation = false;
    switch_path(i, now);
  } else if (i == active_path_ && was_blocked) {
    update_recovery_state();
  }
}

void Connection::on_path_validation_failed(std::size_t i, Time now) {
  ++stats_.path_validations_failed;
  if (config_.observer)
    config_.observer->on_path_event(PathEvent::kProbingAbandoned, paths_[i].address, now);
  if (i == fallback_path_) {
    // §9.3.3's check of the previous path went unanswered: it stays the
    // last validated one to revert to (§9.3.2) should the new path fail too.
    ConnectionPath& p = paths_[i];
    p.validating = p.challenge_due = false;
    p.next_challenge = p.deadline = kNever;
    return;
  }
  if (i != active_path_) {
    free_path(i);  // §8.2.4: the path is unusable; the connection goes on
    return;
  }
  // RFC 9000 §9.3.2: revert to the last validated path; without one the
  // connection is closed silently (a client has nowhere else to send).
  if (fallback_path_ != kNoPath && paths_[fallback_path_].in_use) {
    const std::size_t failed = i;
    switch_path(fallback_path_, now);
    free_path(failed);
    return;
  }
  CloseInfo ci;
  ci.local = true;
  ci.reason = "no validated path";
  close_info_ = std::move(ci);
  set_state(ConnectionState::kClosed, now);
}

void Connection::switch_path(std::size_t i, Time now) {
  const std::size_t old = active_path_;
  if (i == old) return;
  ConnectionPath& p = paths_[i];
  // RFC 9000 §9.5: the CID reserved for the new path becomes the one we
  // send to; the old one is retired. Without a spare (the peer gave none)
  // the current CID goes on, which §9.5 allows for a rebinding peer.
  if (!p.peer_cid_sequence) p.peer_cid_sequence = peer_cids_.take_unused();
  if (p.peer_cid_sequence && peer_cids_.activate(*p.peer_cid_sequence))
    peer_cid_ = peer_cids_.active();
  p.peer_cid_sequence.reset();
  active_path_ = i;
  fallback_path_ = paths_[old].validated ? old : kNoPath;
  ++stats_.migrations;
  if (config_.observer) config_.observer->on_path_event(PathEvent::kMigrated, p.address, now);
  // RFC 9000 §9.4: the new path's capacity is unknown, unless only a port
  // changed (commonly a NAT rebinding), where the state may be kept.
  if (!only_port_changed(paths_[old].address, p.address)) reset_congestion(now);
  if (!p.validated && !p.validating) start_validation(i, now);
  update_recovery_state();
}

void Connection::reset_congestion(Time now) {
  CongestionConfig cc;
  cc.max_datagram_size = config_.max_datagram_size;
  std::unique_ptr<CongestionController> fresh = make_congestion_controller(config_.congestion, cc);
  loss_->on_path_change(*fresh, now);
  cc_ = std::move(fresh);
  pacer_.update(cc_->congestion_window(), rtt_.smoothed_rtt(), true, config_.max_datagram_size);
  ++stats_.congestion_resets;
}

bool Connection::migrate(const NetworkPath& path, Time now, bool validate_first) {
  now_ = std::max(now_, now);
  // RFC 9000 §9: not before the handshake is confirmed, not against the
  // server's disable_active_migration; §9.5: only with a CID never used.
  if (role_ != EndpointRole::kClient || !handshake_confirmed_ ||
      state_ != ConnectionState::kConnected || peer_params_.disable_active_migration ||
      peer_cid_.empty() || find_path(path) != kNoPath || !peer_cids_.has_unused())
    return false;
  const std::size_t i = new_path_slot();
  if (i == kNoPath) return false;
  ConnectionPath& p = paths_[i];
  p = ConnectionPath{};
  p.in_use = true;
  p.address = path;
  p.peer_cid_sequence = peer_cids_.take_unused();
  start_validation(i, now);
  if (validate_first) {
    p.migrate_on_validation = true;  // §9.1: probe, then move
  } else {
    switch_path(i, now);  // §9.2: the server's address is known good
  }
  return true;
}

void Connection::maybe_use_preferred_address(Time now) {
  // RFC 9000 §9.6.1: once the handshake is confirmed, the client validates
  // the preferred address of its own family and moves there when that
  // succeeds; the CID of the transport parameter (sequence 1) serves it.
  if (role_ != EndpointRole::kClient || !config_.use_preferred_address ||
      !peer_params_.preferred_address || active_path_ != 0 || paths_[0].migrate_on_validation)
    return;
  const PreferredAddress& pa = *peer_params_.preferred_address;
  const NetworkPath& current = paths_[0].address;
  NetworkPath target;
  target.local = current.local;
  if (current.peer.family == PeerAddress::Family::kIpv4) {
    if (pa.ipv4_port == 0 && pa.ipv4_address == std::array<std::uint8_t, 4>{}) return;
    target.peer = PeerAddress::ipv4(pa.ipv4_address, pa.ipv4_port);
  } else {
    if (pa.ipv6_port == 0 && pa.ipv6_address == std::array<std::uint8_t, 16>{}) return;
    target.peer = PeerAddress::ipv6(pa.ipv6_address, pa.ipv6_port);
  }
  if (target == current || find_path(target) != kNoPath) return;
  const std::size_t i = new_path_slot();
  if (i == kNoPath) return;
  ConnectionPath& p = paths_[i];
  p = ConnectionPath{};
  p.in_use = true;
  p.address = target;
  p.peer_cid_sequence = peer_cids_.take_unused();
  p.migrate_on_validation = true;  // §9.6.2: validate before migrating
  start_validation(i, now);
}

Time Connection::path_timer() const {
  Time t = kNever;
  for (const ConnectionPath& p : paths_)
    if (p.in_use && p.validating) t = std::min({t, p.deadline, p.next_challenge});
  return t;
}

void Connection::check_path_timers(Time now) {
  for (std::size_t i = 0; i < kMaxPaths; ++i) {
    ConnectionPath& p = paths_[i];
    if (!p.in_use || !p.validating) continue;
    if (now >= p.deadline) {
      on_path_validation_failed(i, now);
      if (state_ == ConnectionState::kClosed) return;
    } else if (now >= p.next_challenge) {
      p.challenge_due = true;
      p.next_challenge = kNever;
    }
  }
}

const ConnectionId& Connection::tx_dcid() {
  if (tx_path_ == active_path_) return peer_cid_;
  ConnectionPath& p = paths_[tx_path_];
  // RFC 9000 §9.5: a CID of its own for each other path; when the peer gave
  // no spare, the active one (linkable, but the only way to answer).
  if (!p.peer_cid_sequence || peer_cids_.find(*p.peer_cid_sequence) == nullptr)
    p.peer_cid_sequence = peer_cids_.take_unused();
  if (p.peer_cid_sequence)
    if (const ConnectionId* c = peer_cids_.find(*p.peer_cid_sequence)) return *c;
  return peer_cid_;
}

void Connection::write_path_frames(Writer& f, Time now, SentPacket* rec) {
  ConnectionPath& p = paths_[tx_path_];
  // RFC 9000 §8.2.2: the answer goes on the path the challenge came on, once
  // (§13.3: never retransmitted).
  if (p.response_due && rec->frame_count + 1u < SentPacket::kMaxFrames &&
      encode_frame(Frame{PathResponseFrame{*p.response_due}}, f)) {
    p.response_due.reset();
    expand_datagram_ = true;
    rec->ack_eliciting = true;
  }
  // RFC 9000 §8.2.1: new unpredictable data each time; one per packet.
  if (p.challenge_due && rec->frame_count + 1u < SentPacket::kMaxFrames) {
    PathChallengeFrame c;
    config_.random(c.data);
    if (encode_frame(Frame{c}, f)) {
      challenge_slot_ = p.challenge_count % ConnectionPath::kChallenges;
      p.challenges[challenge_slot_] = c.data;
      // §8.2.1: no more often than Initials: a PTO, doubling per retry.
      const std::uint32_t shift = std::min<std::uint32_t>(p.challenge_count, 4);
      p.next_challenge = now + (loss_->pto(PacketSpace::kApplication) << shift);
      ++p.challenge_count;
      p.challenge_due = false;
      expand_datagram_ = true;
      rec->ack_eliciting = true;
      ++stats_.path_challenges_sent;
    }
  }
}

bool Connection::write_probe_datagram(std::size_t path, std::span<std::uint8_t> buf, Time now,
                                      OutgoingDatagram* out) {
  // RFC 9000 §9.1: only probing frames go on a path that is not the active
  // one (an ACK there would make it a non-probing packet). §8.2.1-8.2.2:
  // expanded to 1200 bytes within the path's amplification credit.
  const std::uint64_t room = amplification_room(path);
  if (room < kMinAmplificationRoom) return false;
  std::size_t limit = std::min<std::size_t>(buf.size(), config_.max_datagram_size);
  limit = static_cast<std::size_t>(std::min<std::uint64_t>(limit, room));
  tx_path_ = path;
  probing_only_ = true;
  OutgoingPacket p;
  const std::size_t w =
      write_packet(buf.first(limit), 0, PacketSpace::kApplication, now, limit, 0, &p);
  probing_only_ = false;
  tx_path_ = active_path_;
  if (w == 0) return false;
  out->packets[out->packet_count++] = p;
  out->length = w;
  out->path = paths_[path].address;
  if (role_ == EndpointRole::kServer && !paths_[path].validated) paths_[path].sent += w;
  ++stats_.datagrams_sent;
  ++stats_.packets_sent;
  stats_.bytes_sent += w;
  return true;
}

}  // namespace dquic
