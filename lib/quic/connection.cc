#include "quic/connection.h"

#include <algorithm>
#include <cstring>

#include "quic/connection_space.h"
#include "quic/frame_rules.h"
#include "quic/key_schedule.h"
#include "quic/packet_header.h"
#include "quic/packet_header_encode.h"
#include "quic/packet_number.h"
#include "quic/retry_integrity.h"
#include "quic/stream.h"
#include "quic/version_negotiation.h"

namespace dquic {

namespace {

// For ConnectionObserver::on_metrics. The phase: RFC 9002 §7.3.2's recovery
// period lasts until a packet sent after it began is acknowledged; a packet
// sent one smoothed RTT ago is about what ACKs arriving now cover.
RecoveryMetrics recovery_metrics(const RttEstimator& rtt, const CongestionController& cc,
                                 const Pacer& pacer, int pto_count, Time now) {
  RecoveryMetrics m;
  m.smoothed_rtt = rtt.smoothed_rtt();
  m.min_rtt = rtt.min_rtt();
  m.latest_rtt = rtt.latest_rtt();
  m.rttvar = rtt.rttvar();
  m.congestion_window = cc.congestion_window();
  m.bytes_in_flight = cc.bytes_in_flight();
  m.pacing_rate = pacer.rate_bytes_per_second();
  m.pto_count = pto_count;
  m.phase = cc.in_slow_start()                         ? CongestionPhase::kSlowStart
            : cc.in_recovery(now - rtt.smoothed_rtt()) ? CongestionPhase::kRecovery
                                                       : CongestionPhase::kCongestionAvoidance;
  return m;
}

PacketSpace space_of(PacketType t) {
  switch (t) {
    case PacketType::kInitial:
      return PacketSpace::kInitial;
    case PacketType::kHandshake:
      return PacketSpace::kHandshake;
    default:
      return PacketSpace::kApplication;
  }
}

PacketSpace space_of(EncryptionLevel l) {
  switch (l) {
    case EncryptionLevel::kInitial:
      return PacketSpace::kInitial;
    case EncryptionLevel::kHandshake:
      return PacketSpace::kHandshake;
    default:
      return PacketSpace::kApplication;
  }
}

EncryptionLevel level_of(PacketSpace s) {
  switch (s) {
    case PacketSpace::kInitial:
      return EncryptionLevel::kInitial;
    case PacketSpace::kHandshake:
      return EncryptionLevel::kHandshake;
    default:
      return EncryptionLevel::kApplication;
  }
}

bool is_ack_eliciting_frame(const Frame& f) {
  // RFC 9002 §2: all frames but ACK, PADDING and CONNECTION_CLOSE.
  return !std::holds_alternative<AckFrame>(f) && !std::holds_alternative<PaddingFrame>(f) &&
         !std::holds_alternative<ConnectionCloseFrame>(f);
}

}  // namespace

Connection::Connection(const ConnectionConfig& config)
    : config_(config),
      role_(EndpointRole::kClient),
      rtt_(kInitialRtt),
      pacer_(PacerConfig{config.max_burst_packets, 200, 125}),
      datagrams_out_(kDatagramQueueSlots, config.max_datagram_size) {
  // RFC 9000 §7.2: an unpredictable DCID of at least 8 bytes.
  std::array<std::uint8_t, 8> b;
  if (config_.local_cid.empty()) {
    config_.random(b);
    (void)ConnectionId::from(b, &local_cid_);
  } else {
    local_cid_ = config_.local_cid;
  }
  config_.random(b);
  (void)ConnectionId::from(b, &original_dcid_);
  peer_cid_ = original_dcid_;
  initial_key_cid_ = original_dcid_;
  retry_token_ = config_.initial_token;  // RFC 9000 §8.1.3; a Retry replaces it
  paths_[0].in_use = true;
  paths_[0].validated = true;      // clients are not amplification-limited (RFC 9000 §8.1)
  paths_[0].mtu_validated = true;  // Initials fill 1200 bytes (RFC 9000 §14.1)
  paths_[0].address = config_.path;
  path_bound_ = true;
  ecn_ = EcnValidator(config_.ecn);
  ecn_path_ = paths_[0].address;
  stats_.ecn_state = ecn_.state();
}

Connection::Connection(const ConnectionConfig& config, const ServerIds& ids)
    : config_(config),
      role_(EndpointRole::kServer),
      local_cid_(ids.local_cid),
      peer_cid_(ids.peer_cid),
      original_dcid_(ids.original_dcid),
      rtt_(kInitialRtt),
      pacer_(PacerConfig{config.max_burst_packets, 200, 125}),
      datagrams_out_(kDatagramQueueSlots, config.max_datagram_size) {
  paths_[0].in_use = true;
  paths_[0].validated = config.address_validated;
  paths_[0].mtu_validated = true;
  retry_scid_ = ids.retry_scid;
  initial_key_cid_ = retry_scid_ ? *retry_scid_ : original_dcid_;
  ecn_ = EcnValidator(config_.ecn);
  stats_.ecn_state = ecn_.state();
}

Connection::~Connection() {
  release_all();
}

void Connection::release_all() {
  send_queue_.clear();
  streams_.clear();  // releases buffered mbuf references
  for (std::size_t i = 0; i < kPacketSpaceCount; ++i) {
    Space* sp = spaces_[i].get();
    if (!sp) continue;
    if (i != index(PacketSpace::kApplication)) {  // those are one_rtt_'s
      release_key(sp->read_key);
      release_key(sp->write_key);
    }
    sp->read_key = sp->write_key = nullptr;
  }
  one_rtt_.release_all();
  release_key(zero_rtt_key_);
  release_key(other_initial_read_key_);
  release_key(retired_write_key_);
  datagrams_out_.clear();
}

bool Connection::start(Time now) {
  one_rtt_.set_store(config_.keys, config_.version);
  created_ = now;
  now_ = now;
  last_activity_ = now;
  if (config_.observer)
    config_.observer->on_connection_started(
        {role_, config_.version, original_dcid_, local_cid_, peer_cid_, paths_[0].address}, now);
  for (std::size_t i = 0; i < kPacketSpaceCount; ++i) {
    AckTracker::Config ac;
    ac.max_ranges = config_.max_ack_ranges;
    // RFC 9000 §13.2.1: Initial and Handshake packets are acknowledged at once.
    ac.immediate = i != index(PacketSpace::kApplication);
    ac.max_ack_delay = static_cast<Duration>(config_.transport.max_ack_delay) * kMillisecond;
    spaces_[i] = std::make_unique<Space>(ac);
  }
  CongestionConfig cc;
  cc.max_datagram_size = config_.max_datagram_size;
  cc_ = make_congestion_controller(config_.congestion, cc);
  LossDetectorConfig lc;
  lc.role = role_;
  loss_ = std::make_unique<LossDetector>(lc, rtt_, *cc_, *this);
  pacer_.update(cc_->congestion_window(), rtt_.smoothed_rtt(), true, config_.max_datagram_size);

  // RFC 9000 §7.3: connection IDs are authenticated through the parameters.
  TransportParameters& tp = config_.transport;
  tp.initial_source_connection_id = local_cid_;
  // We keep at most PeerCidSet::kMaxActive of the peer's CIDs (RFC 9000 §5.1.1).
  tp.active_connection_id_limit =
      std::clamp<std::uint64_t>(tp.active_connection_id_limit, 2, PeerCidSet::kMaxActive);
  peer_cids_ = PeerCidSet(tp.active_connection_id_limit);
  local_cids_.reset(local_cid_);
  // RFC 9368 §3: version_information when we negotiate versions.
  chosen_version_ = config_.version;
  if (!config_.versions.empty())
    tp.version_information = role_ == EndpointRole::kClient
                                 ? client_version_information(config_.version, config_.versions)
                                 : server_version_information(config_.version, config_.versions);
  if (role_ == EndpointRole::kServer) {
    tp.original_destination_connection_id = original_dcid_;
    tp.retry_source_connection_id = retry_scid_;
    // RFC 9000 §10.3: the token for the handshake's CID (sequence 0).
    StatelessResetToken token;
    if (config_.reset_tokens != nullptr &&
        config_.reset_tokens->token_for(local_cid_.span(), &token))
      tp.stateless_reset_token = token;
    // RFC 9000 §5.1.1, §9.6: the preferred address comes with a CID of its
    // own, sequence 1, and its reset token; without a generator to make
    // one the address is not offered.
    ConnectionId cid;
    if (tp.preferred_address &&
        (config_.cid_generator == nullptr || local_cid_.empty() || !new_local_cid(&cid, &token))) {
      tp.preferred_address.reset();
    } else if (tp.preferred_address) {
      const std::uint64_t seq = local_cids_.issue(cid, token);
      local_cids_.on_acked(seq);  // delivered by the handshake, not NEW_CONNECTION_ID
      tp.preferred_address->connection_id = cid;
      tp.preferred_address->stateless_reset_token = token;
      if (config_.cid_listener) config_.cid_listener->on_local_cid_issued(cid, seq);
    }
  } else {
    tp.preferred_address.reset();  // RFC 9000 §18.2: server only
  }
  peer_ack_delay_exponent_ = kDefaultAckDelayExponent;
  // RFC 9000 §10.1: our own idle timeout applies until the peer's is known.
  idle_timeout_ = static_cast<Duration>(tp.max_idle_timeout) * kMillisecond;
  local_params_encoded_.resize(1024);
  Writer w(local_params_encoded_);
  if (!encode_transport_parameters(tp, role_, w)) {
    close_with(TransportError::kInternalError, 0, "transport parameters", now);
    return false;
  }
  local_params_encoded_.resize(w.written());
  if (config_.observer) config_.observer->on_parameters_set(true, tp, now);

  // Flow control from what we advertise (RFC 9000 §4).
  conn_recv_ = ReceiveWindow(tp.initial_max_data, config_.max_connection_window);
  bidi_limits_ = StreamLimits(tp.initial_max_streams_bidi, 0);
  uni_limits_ = StreamLimits(tp.initial_max_streams_uni, 0);
  next_local_bidi_ = role_ == EndpointRole::kClient ? 0 : 1;
  next_local_uni_ = role_ == EndpointRole::kClient ? 2 : 3;

  if (!install_initial_keys()) {
    close_with(TransportError::kInternalError, 0, "initial keys", now);
    return false;
  }
  if (config_.observer) {  // RFC 9001 §5.2: both directions, from the client's DCID
    config_.observer->on_keys_installed(PacketSpace::kInitial, false, now);
    config_.observer->on_keys_installed(PacketSpace::kInitial, true, now);
  }
  if (role_ == EndpointRole::kClient) {
    auto client = std::make_unique<TlsClient>(*config_.tls_client, local_params_encoded_, this);
    TlsClient* c = client.get();
    tls_ = std::move(client);
    if (config_.resume != nullptr &&
        c->offer_session(*config_.resume, config_.wall_clock_ms_at_zero + now / kMillisecond,
                         config_.early_data) &&
        c->early_data_offered()) {
      // RFC 9000 §7.4.1: 0-RTT runs under the remembered limits.
      early_data_offered_ = apply_remembered_parameters(c->remembered_transport_parameters());
    }
    if (std::optional<TlsError> e = c->start()) {
      close_crypto(*e, now);
      return false;
    }
  } else {
    tls_ = std::make_unique<TlsServer>(*config_.tls_server, local_params_encoded_, this);
  }
  return true;
}

bool Connection::derive_initial_keys(std::uint32_t version, PacketKeys* client,
                                     PacketKeys* server) const {
  // RFC 9001 §5.2: from the client's first Destination Connection ID (after
  // a Retry, the Retry's SCID), with the version's salt and labels.
  InitialSecrets secrets;
  if (!derive_initial_secrets(version, initial_key_cid_.span(), &secrets)) return false;
  const bool ok = derive_packet_keys(version, AeadAlgorithm::kAes128Gcm, secrets.client, client) &&
                  derive_packet_keys(version, AeadAlgorithm::kAes128Gcm, secrets.server, server);
  wipe_secret(&secrets.client);
  wipe_secret(&secrets.server);
  return ok;
}

bool Connection::install_initial_keys() {
  PacketKeys client_keys, server_keys;
  if (!derive_initial_keys(config_.version, &client_keys, &server_keys)) return false;
  Space& s = *spaces_[index(PacketSpace::kInitial)];
  const bool client = role_ == EndpointRole::kClient;
  s.write_key = config_.keys->install(client ? client_keys : server_keys, false);
  s.read_key = config_.keys->install(client ? server_keys : client_keys, false);
  if (s.write_key == nullptr || s.read_key == nullptr) return false;
  // RFC 9368 §2.3: a client offering a compatible version can read a
  // server's Initial in it from the start.
  if (client) {
    for (std::uint32_t v : config_.versions) {
      if (v == config_.version || !is_compatible_version(config_.version, v)) continue;
      if (!derive_initial_keys(v, &client_keys, &server_keys)) return false;
      release_key(other_initial_read_key_);
      other_initial_read_key_ = config_.keys->install(server_keys, false);
      other_initial_version_ = v;
      break;  // v1 and v2: one other at most
    }
  }
  return true;
}

bool Connection::switch_version(std::uint32_t version) {
  // RFC 9368 §2.3, RFC 9369 §4: from now on our long headers and keys use
  // `version`; the Initial keys of the old one stay for reading until the
  // Initial space goes.
  PacketKeys client_keys, server_keys;
  if (!derive_initial_keys(version, &client_keys, &server_keys)) return false;
  Space& s = *spaces_[index(PacketSpace::kInitial)];
  const bool client = role_ == EndpointRole::kClient;
  ProtectionKey* w = config_.keys->install(client ? client_keys : server_keys, false);
  if (w == nullptr) return false;
  ProtectionKey* r = nullptr;
  if (client && other_initial_read_key_ != nullptr && other_initial_version_ == version) {
    r = other_initial_read_key_;  // installed at start
    other_initial_read_key_ = nullptr;
  } else {
    r = config_.keys->install(client ? server_keys : client_keys, false);
  }
  if (r == nullptr) {
    config_.keys->release(w);
    return false;
  }
  release_key(s.write_key);
  release_key(other_initial_read_key_);
  other_initial_read_key_ = s.read_key;  // the old version's, for late packets
  other_initial_version_ = config_.version;
  s.write_key = w;
  s.read_key = r;
  config_.version = version;
  one_rtt_.set_store(config_.keys, version);  // key updates use the version's labels
  return true;
}

void Connection::on_client_transport_parameters(ByteSpan client, std::vector<std::uint8_t>* ours) {
  if (config_.versions.empty()) return;
  TransportParameters tp;
  if (decode_transport_parameters(client, EndpointRole::kClient, &tp) != TransportError::kNoError)
    return;  // on_peer_transport_parameters reports it
  // RFC 9368 §4: the client's Chosen Version is the one it used.
  if (check_client_version_information(tp.version_information, config_.version) !=
      TransportError::kNoError) {
    version_error_ = true;
    return;
  }
  const std::uint32_t negotiated =
      choose_negotiated_version(config_.version, tp.version_information, config_.versions);
  if (negotiated != config_.version && !switch_version(negotiated)) return;
  // Our version_information names the negotiated version (RFC 9368 §3).
  config_.transport.version_information =
      server_version_information(config_.version, config_.versions);
  std::vector<std::uint8_t> encoded(1024);
  Writer w(encoded);
  if (!encode_transport_parameters(config_.transport, role_, w)) return;
  encoded.resize(w.written());
  *ours = encoded;
  local_params_encoded_ = std::move(encoded);
}

std::string_view Connection::alpn() const {
  return tls_ ? tls_->alpn() : std::string_view();
}

// ---------------------------------------------------------------- TLS sink

void Connection::on_handshake_data(EncryptionLevel level, ByteSpan data) {
  CryptoSpace& c = spaces_[index(space_of(level))]->crypto;
  c.send_data.insert(c.send_data.end(), data.begin(), data.end());
}

void Connection::on_secret(EncryptionLevel level, KeyDirection direction, AeadAlgorithm aead,
                           const Secret& secret) {
  if (level == EncryptionLevel::kEarlyData) {
    // RFC 9001 §4.6: the client writes 0-RTT, the server reads it (only when
    // its TLS accepted the early data).
    PacketKeys keys;
    if (!derive_packet_keys(config_.version, aead, secret, &keys)) return;
    release_key(zero_rtt_key_);
    zero_rtt_key_ = config_.keys->install(keys, false);
    return;
  }
  if (level == EncryptionLevel::kApplication) {
    // RFC 9001 §6: 1-RTT keys change with key updates; one_rtt_ keeps the
    // generations (and the next read key installed ahead).
    Space& app = *spaces_[index(PacketSpace::kApplication)];
    one_rtt_aead_ = aead;
    const bool ok = direction == KeyDirection::kRead ? one_rtt_.install_read(aead, secret)
                                                     : one_rtt_.install_write(aead, secret);
    if (!ok) return;
    app.read_key = one_rtt_.read();
    app.write_key = one_rtt_.write();
    if (config_.observer)
      config_.observer->on_keys_installed(PacketSpace::kApplication,
                                          direction == KeyDirection::kWrite, now_);
    return;
  }
  PacketKeys keys;
  if (!derive_packet_keys(config_.version, aead, secret, &keys)) return;
  ProtectionKey* k = config_.keys->install(keys, false);
  Space& s = *spaces_[index(space_of(level))];
  ProtectionKey*& slot = direction == KeyDirection::kRead ? s.read_key : s.write_key;
  release_key(slot);
  slot = k;
  if (config_.observer)
    config_.observer->on_keys_installed(space_of(level), direction == KeyDirection::kWrite, now_);
  if (level == EncryptionLevel::kHandshake && direction == KeyDirection::kWrite &&
      role_ == EndpointRole::kClient) {
    // RFC 9001 §4.9.1: a client discards Initial keys when it first sends a
    // Handshake packet; done in write_packet.
  }
}

void Connection::on_handshake_complete() {
  handshake_complete_ = true;
  if (role_ == EndpointRole::kServer) {
    // RFC 9001 §4.1.2: the server's handshake is confirmed at completion.
    handshake_confirmed_ = true;
    handshake_done_pending_ = true;
    new_token_pending_ = !config_.new_token.empty();  // RFC 9000 §8.1.3
  }
}

// ---------------------------------------------------------------- keys

OpenKeys Connection::open_keys(PacketType type, std::uint32_t version) const {
  OpenKeys k;
  if (state_ == ConnectionState::kClosed) return k;
  const Space* s = spaces_[index(space_of(type))].get();
  if (s == nullptr || s->discarded) return k;
  k.key = s->read_key;
  if (type == PacketType::kInitial && version != 0 && version != config_.version)
    k.key = version == other_initial_version_ ? other_initial_read_key_ : nullptr;
  if (type == PacketType::kZeroRtt)
    k.key = role_ == EndpointRole::kServer ? zero_rtt_key_ : nullptr;
  if (std::optional<std::uint64_t> l = s->acks.largest_received()) k.largest_received = *l;
  if (type == PacketType::kOneRtt) {
    k.next = one_rtt_.read_next();
    k.previous = one_rtt_.read_previous();
    k.phase_start = read_phase_start_;
  }
  return k;
}

ProtectionKey* Connection::write_key(PacketSpace s) const {
  const Space* sp = spaces_[index(s)].get();
  if (sp == nullptr || sp->discarded) return nullptr;
  // RFC 9001 §4.6.1: the client's application data goes in 0-RTT packets
  // until the handshake completes.
  if (s == PacketSpace::kApplication && sending_zero_rtt()) return zero_rtt_key_;
  return sp->write_key;
}

void Connection::discard_space(PacketSpace s) {
  Space& sp = *spaces_[index(s)];
  if (sp.discarded) return;
  sp.discarded = true;
  // RFC 9002 §6.4: its packets leave bytes in flight, no loss reported.
  loss_->discard_space(s, now_);
  release_key(sp.read_key);
  release_key(sp.write_key);
  if (s == PacketSpace::kInitial) release_key(other_initial_read_key_);
  sp.crypto = CryptoSpace();
  // Its packets are neither processed nor acknowledged again (RFC 9001
  // §4.9): the ACK ranges' storage goes too (quic-perf issue 8).
  AckTracker::Config ac;
  ac.max_ranges = 1;
  sp.acks = AckTracker(ac);
  if (config_.observer) config_.observer->on_keys_discarded(s, now_);
}

void Connection::release_handshake_memory() {
  if (tls_) tls_->release_handshake_state();
  // Only the TLS engine read these, at start().
  local_params_encoded_ = {};
  retry_token_ = {};  // sent in Initials only, discarded by now
}

// ---------------------------------------------------------------- receive

void Connection::on_address_validated() {
  ConnectionPath& p = paths_[active_path_];
  if (p.validated) return;
  p.validated = true;
  update_recovery_state();
}

void Connection::on_retry(ByteSpan packet, ByteSpan scid, ByteSpan token, Time now) {
  now_ = std::max(now_, now);
  // RFC 9000 §17.2.5.2: a client takes at most one Retry, only before it
  // has processed any packet from the server; an empty token, an SCID equal
  // to the DCID it used, or a bad integrity tag (RFC 9001 §5.8) means discard.
  ConnectionId new_dcid;
  if (role_ != EndpointRole::kClient || state_ != ConnectionState::kHandshaking || retry_scid_ ||
      peer_cid_set_ || token.empty() || !ConnectionId::from(scid, &new_dcid) ||
      new_dcid == original_dcid_ ||
      !verify_retry_integrity_tag(config_.version, original_dcid_.span(), packet)) {
    ++stats_.packets_dropped;
    return;
  }
  apply_deferred_discards();
  retry_scid_ = new_dcid;
  peer_cid_ = new_dcid;
  initial_key_cid_ = new_dcid;
  retry_token_.assign(token.begin(), token.end());
  // RFC 9001 §5.2: new Initial keys from the new DCID.
  Space& s = *spaces_[index(PacketSpace::kInitial)];
  release_key(s.read_key);
  release_key(s.write_key);
  if (!install_initial_keys()) {
    close_with(TransportError::kInternalError, 0, "initial keys", now);
    return;
  }
  // RFC 9002 §6.3: recovery restarts; what the Initials carried (the
  // ClientHello) goes again in new Initials, packet numbers continuing
  // (RFC 9000 §17.2.5.3).
  loss_->on_retry(now);
  if (config_.observer) config_.observer->on_keys_installed(PacketSpace::kInitial, true, now);
}

bool Connection::is_stateless_reset(ByteSpan datagram) const {
  // RFC 9000 §10.3.1: at least 21 bytes, the token in the last 16; only
  // tokens of CIDs the peer issued (its transport parameter included).
  if (datagram.size() < kMinStatelessResetSize || !peer_params_done_) return false;
  return peer_cids_.matches_reset_token(datagram.last(kStatelessResetTokenLength));
}

void Connection::on_stateless_reset(Time now) {
  now_ = std::max(now_, now);
  if (state_ == ConnectionState::kClosed || state_ == ConnectionState::kDraining) return;
  CloseInfo ci;
  ci.local = false;
  ci.reason = "stateless reset";
  close_info_ = std::move(ci);
  enter_draining(now);
}

void Connection::on_authentication_failure(Time now) {
  ++stats_.packets_dropped;
  if (state_ != ConnectionState::kHandshaking && state_ != ConnectionState::kConnected) return;
  // RFC 9001 §6.6: the integrity limit counts forgeries across all 1-RTT keys.
  const std::uint64_t limit = config_.aead_integrity_limit != 0 ? config_.aead_integrity_limit
                              : one_rtt_aead_ == AeadAlgorithm::kChacha20Poly1305
                                  ? std::uint64_t{1} << 36
                                  : std::uint64_t{1} << 52;
  if (++authentication_failures_ >= limit)
    close_with(TransportError::kAeadLimitReached, 0, "AEAD integrity limit", now);
}

void Connection::on_undecryptable(Time) {
  ++stats_.packets_dropped;
}

void Connection::apply_deferred_discards() {
  release_key(retired_write_key_);
  if (discard_initial_pending_) {
    discard_initial_pending_ = false;
    discard_space(PacketSpace::kInitial);
    update_recovery_state();
  }
}

void Connection::update_recovery_state() {
  RecoveryState rs;
  rs.handshake_confirmed = handshake_confirmed_;
  const Space& h = *spaces_[index(PacketSpace::kHandshake)];
  rs.have_handshake_keys = h.write_key != nullptr || h.discarded;
  rs.amplification_blocked = amplification_blocked();
  loss_->set_state(rs, now_);
}

void Connection::on_packet(const ReceivedPacket& p, Time now) {
  now_ = std::max(now_, now);
  if (state_ == ConnectionState::kClosed || state_ == ConnectionState::kDraining) return;
  apply_deferred_discards();
  const PacketSpace s = space_of(p.type);
  Space& sp = *spaces_[index(s)];
  const ProtectionKey* read_key = p.type == PacketType::kZeroRtt
                                      ? (role_ == EndpointRole::kServer ? zero_rtt_key_ : nullptr)
                                      : sp.read_key;
  if (sp.discarded || read_key == nullptr) {
    ++stats_.packets_dropped;
    return;
  }
  if (p.type == PacketType::kZeroRtt) ++stats_.zero_rtt_packets_received;
  // RFC 9001 §4.9.3: a server may drop 0-RTT keys once 1-RTT packets arrive
  // (a late 0-RTT packet is then lost and its data sent again in 1-RTT).
  if (p.type == PacketType::kOneRtt && role_ == EndpointRole::kServer) release_key(zero_rtt_key_);
  if (sp.acks.is_duplicate(p.packet_number)) {  // RFC 9000 §12.3
    ++stats_.packets_dropped;
    return;
  }
  // The first packet that opens on a new peer address makes it a path.
  if (rx_new_path_ && (p.type != PacketType::kOneRtt || !bind_new_path(now))) {
    ++stats_.packets_dropped;
    return;
  }
  if (p.type == PacketType::kOneRtt && !handshake_complete_ && role_ == EndpointRole::kServer) {
    // 1-RTT keys for reading come with the client's Finished; a packet
    // opened with them before that cannot exist.
  }
  ++stats_.packets_received;
  if (config_.observer)
    config_.observer->on_packet_received(s, p.packet_number, p.payload.size(), now);

  // RFC 9368 §2.3, RFC 9369 §4: the server's first Initial in the other
  // compatible version we offered means it switched: follow it.
  if (role_ == EndpointRole::kClient && p.type == PacketType::kInitial &&
      p.version != config_.version) {
    if (peer_cid_set_ || p.version != other_initial_version_ || !switch_version(p.version)) {
      ++stats_.packets_dropped;
      return;
    }
  }
  // RFC 9000 §7.2: the client switches to the server's first SCID. The
  // server takes the client's from the first packet that authenticates:
  // the header the connection was created from was not yet (a damaged
  // SCID there would misaddress every reply, §7.3 then fail the handshake).
  if (!peer_cid_set_ && p.type != PacketType::kOneRtt) {
    if (!ConnectionId::from(p.scid, &peer_cid_)) return;
    peer_cid_set_ = true;
  }
  // RFC 9001 §4.9.1: a server discards Initial keys when it first
  // successfully processes a Handshake packet.
  if (role_ == EndpointRole::kServer && s == PacketSpace::kHandshake &&
      !spaces_[index(PacketSpace::kInitial)]->discarded) {
    discard_space(PacketSpace::kInitial);
    update_recovery_state();
  }

  if (state_ == ConnectionState::kClosing) {
    // RFC 9000 §10.2.1: answer with CONNECTION_CLOSE, rate-limited by
    // sending it at most once per received packet burst.
    close_frame_pending_ = true;
    return;
  }

  if (p.reserved_bits_set) {
    close_with(TransportError::kProtocolViolation, 0, "reserved bits", now);
    return;
  }
  if (p.type == PacketType::kOneRtt) {
    on_key_phase(p, now);
    if (state_ != ConnectionState::kConnected && state_ != ConnectionState::kHandshaking) return;
  }
  bool ack_eliciting = false;
  drop_packet_ = false;
  packet_non_probing_ = false;
  const std::optional<std::uint64_t> prev_largest = sp.acks.largest_received();
  process_frames(p, s, now, &ack_eliciting);
  if (state_ == ConnectionState::kClosed) return;
  if (drop_packet_) {
    ++stats_.packets_dropped;
    return;
  }
  if (!spaces_[index(s)]->discarded)
    spaces_[index(s)]->acks.on_packet_received(p.packet_number, ack_eliciting, p.ecn, now);
  // RFC 9000 §8.1: a Handshake packet proves the client received our
  // Initial, so its address is validated.
  if (s == PacketSpace::kHandshake) on_address_validated();
  // RFC 9000 §9.3: the highest-numbered non-probing packet from a new peer
  // address is a migration (reordered older ones are not).
  if (role_ == EndpointRole::kServer && s == PacketSpace::kApplication &&
      rx_path_ != active_path_ && packet_non_probing_ && state_ == ConnectionState::kConnected &&
      (!prev_largest || p.packet_number > *prev_largest)) {
    ConnectionPath& np = paths_[rx_path_];
    if (!np.validated && !np.address.local.same_ip(paths_[active_path_].address.local) &&
        !(np.address.local == PeerAddress{})) {
      // RFC 9000 §9.6.2: to our preferred address only once validated.
      np.migrate_on_validation = true;
    } else {
      const std::size_t old = active_path_;
      switch_path(rx_path_, now);
      // RFC 9000 §9.3.3: validate the previous path too, which elicits
      // packets there and undoes a migration caused by forwarded copies.
      if (paths_[old].in_use && !paths_[old].validating) start_validation(old, now);
    }
  }
  // RFC 9000 §10.1: any packet processed restarts the idle timer.
  last_activity_ = now;
  ack_eliciting_since_receive_ = false;
}

void Connection::process_frames(const ReceivedPacket& p, PacketSpace s, Time now,
                                bool* ack_eliciting) {
  Reader r(p.payload);
  if (r.empty()) {  // RFC 9000 §12.4: a packet with no frames
    close_with(TransportError::kProtocolViolation, 0, "empty packet", now);
    return;
  }
  while (!r.empty()) {
    // RFC 9000 §19.19: the close names the frame type that failed to decode.
    std::uint64_t type = 0;
    Reader peek = r;
    (void)peek.read_varint(&type);
    Frame f;
    const TransportError de = decode_frame(r, &f);
    if (de != TransportError::kNoError) {
      close_with(de, type, "frame decoding", now);
      return;
    }
    if (config_.observer) config_.observer->on_frame_received(f, now);
    // RFC 9000 §12.4 Table 3 and the role rules of §19: frames allowed here.
    const TransportError ce = check_frame(f, p.type, role_);
    if (ce != TransportError::kNoError) {
      close_with(ce, static_cast<std::uint64_t>(frame_type(f)), "frame not allowed", now);
      return;
    }
    if (is_ack_eliciting_frame(f)) *ack_eliciting = true;
    // RFC 9000 §9.1: probing frames.
    if (!std::holds_alternative<PathChallengeFrame>(f) &&
        !std::holds_alternative<PathResponseFrame>(f) &&
        !std::holds_alternative<NewConnectionIdFrame>(f) &&
        !std::holds_alternative<PaddingFrame>(f))
      packet_non_probing_ = true;
    const TransportError e = on_frame(f, p, s, now);
    if (drop_packet_) return;
    if (state_ == ConnectionState::kClosed || state_ == ConnectionState::kDraining ||
        state_ == ConnectionState::kClosing)
      return;
    if (e != TransportError::kNoError) {
      close_with(e, static_cast<std::uint64_t>(frame_type(f)), "frame", now);
      return;
    }
  }
}

TransportError Connection::on_frame(const Frame& f, const ReceivedPacket& p, PacketSpace s,
                                    Time now) {
  if (auto* a = std::get_if<AckFrame>(&f)) return on_ack(*a, s, now);
  if (auto* c = std::get_if<CryptoFrame>(&f)) return on_crypto(*c, s, now);
  if (auto* st = std::get_if<StreamFrame>(&f)) return on_stream_frame(*st, p.m);
  if (std::holds_alternative<PaddingFrame>(f) || std::holds_alternative<PingFrame>(f))
    return TransportError::kNoError;
  if (auto* rs = std::get_if<ResetStreamFrame>(&f)) return on_reset_stream(*rs);
  if (auto* ss = std::get_if<StopSendingFrame>(&f)) return on_stop_sending(*ss);
  if (auto* md = std::get_if<MaxDataFrame>(&f)) {
    // RFC 9000 §19.9: smaller values are ignored. Streams that stopped on
    // connection credit go back in the send queue.
    if (conn_send_.update_limit(md->maximum_data)) requeue_blocked_streams();
    return TransportError::kNoError;
  }
  if (auto* msd = std::get_if<MaxStreamDataFrame>(&f)) return on_max_stream_data(*msd);
  if (auto* ms = std::get_if<MaxStreamsFrame>(&f)) {
    if (ms->maximum_streams > kMaxStreamsLimit) return TransportError::kFrameEncodingError;
    StreamLimits& l = ms->bidirectional ? bidi_limits_ : uni_limits_;
    const std::uint64_t before = l.peer_max();
    const TransportError e = l.on_max_streams(ms->maximum_streams);
    if (e == TransportError::kNoError && l.peer_max() > before && config_.handler)
      config_.handler->on_streams_available(ms->bidirectional);
    return e;
  }
  if (std::holds_alternative<DataBlockedFrame>(f)) return TransportError::kNoError;  // §19.12
  if (auto* sdb = std::get_if<StreamDataBlockedFrame>(&f)) {
    // RFC 9000 §19.13: informational, but a send-only stream is an error.
    TransportError e;
    (void)get_or_open_peer_stream(sdb->stream_id, FrameType::kStreamDataBlocked, &e);
    return e;
  }
  if (auto* sb = std::get_if<StreamsBlockedFrame>(&f))
    return StreamLimits::on_streams_blocked(sb->maximum_streams);
  if (auto* cc = std::get_if<ConnectionCloseFrame>(&f)) {
    CloseInfo ci;
    ci.local = false;
    ci.application = cc->application;
    ci.error_code = cc->error_code;
    ci.frame_type = cc->frame_type;
    ci.reason.assign(reinterpret_cast<const char*>(cc->reason.data()), cc->reason.size());
    close_info_ = std::move(ci);
    enter_draining(now);
    return TransportError::kNoError;
  }
  if (std::holds_alternative<HandshakeDoneFrame>(f)) {
    // RFC 9000 §19.20: a server receiving it is a PROTOCOL_VIOLATION.
    if (role_ == EndpointRole::kServer) return TransportError::kProtocolViolation;
    if (!handshake_confirmed_) {
      // RFC 9001 §4.1.2: the client's handshake is confirmed; §4.9.2:
      // discard Handshake keys.
      handshake_confirmed_ = true;
      discard_space(PacketSpace::kHandshake);
      release_handshake_memory();
      update_recovery_state();
      maybe_use_preferred_address(now);
    }
    return TransportError::kNoError;
  }
  if (auto* ncid = std::get_if<NewConnectionIdFrame>(&f)) return on_new_connection_id(*ncid);
  if (auto* rcid = std::get_if<RetireConnectionIdFrame>(&f))
    return on_retire_connection_id(*rcid, p);
  if (auto* nt = std::get_if<NewTokenFrame>(&f)) {
    // RFC 9000 §19.7: a server receiving it is a PROTOCOL_VIOLATION.
    if (role_ == EndpointRole::kServer) return TransportError::kProtocolViolation;
    if (config_.handler) config_.handler->on_new_token(nt->token);
    return TransportError::kNoError;
  }
  if (auto* pc = std::get_if<PathChallengeFrame>(&f)) {
    // RFC 9000 §8.2.2: answer on the path it came on, with the same data
    // (the latest challenge). §9.3.3: on the active path, with a
    // non-probing packet too.
    paths_[rx_path_].response_due = pc->data;
    if (rx_path_ == active_path_) ping_pending_ = true;
    return TransportError::kNoError;
  }
  if (auto* pr = std::get_if<PathResponseFrame>(&f)) {
    on_path_response(pr->data, now);
    return TransportError::kNoError;
  }
  if (auto* d = std::get_if<DatagramFrame>(&f)) {
    // RFC 9221 §3: not negotiated, or larger than we allow.
    if (config_.transport.max_datagram_frame_size == 0 ||
        encoded_size(f) > config_.transport.max_datagram_frame_size)
      return TransportError::kProtocolViolation;
    if (config_.handler) config_.handler->on_datagram(d->data);
    return TransportError::kNoError;
  }
  return TransportError::kNoError;
}

TransportError Connection::on_ack(const AckFrame& f, PacketSpace s, Time now) {
  Duration delay = 0;
  if (s == PacketSpace::kApplication) {
    // RFC 9000 §19.3: microseconds scaled by the peer's exponent.
    const std::uint64_t us = f.ack_delay << peer_ack_delay_exponent_;
    delay = static_cast<Duration>(std::min<std::uint64_t>(us, 1ull << 40)) * kMicrosecond;
  }
  const AckOutcome out = loss_->on_ack_received(s, f, delay, now);
  if (out.error) return *out.error;
  update_ecn();
  pacer_.update(cc_->congestion_window(), rtt_.smoothed_rtt(), cc_->in_slow_start(),
                config_.max_datagram_size);
  if (config_.observer && (out.newly_acked || out.lost != 0))
    config_.observer->on_metrics(recovery_metrics(rtt_, *cc_, pacer_, loss_->pto_count(), now),
                                 now);
  return TransportError::kNoError;
}

TransportError Connection::on_crypto(const CryptoFrame& f, PacketSpace s, Time now) {
  CryptoSpace& c = spaces_[index(s)]->crypto;
  const std::uint64_t end = f.offset + f.data.size();
  if (end <= c.recv_offset) {  // old retransmission
    // RFC 9002 §6.2.3: the client repeating its Initial CRYPTO data tells a
    // server its own flight did not arrive: resend the unacknowledged
    // CRYPTO data now (within §8.1's limit, which the client's datagram
    // just raised) rather than at a PTO the amplification limit may hold.
    if (role_ == EndpointRole::kServer && s == PacketSpace::kInitial && !handshake_complete_) {
      for (PacketSpace r : {PacketSpace::kInitial, PacketSpace::kHandshake})
        if (!spaces_[index(r)]->discarded) mark_unacked_crypto_lost(*spaces_[index(r)]);
    }
    return TransportError::kNoError;
  }
  // RFC 9000 §7.5: data beyond what we buffer is CRYPTO_BUFFER_EXCEEDED.
  if (end - c.recv_offset > kMaxBufferedHandshakeBytes)
    return TransportError::kCryptoBufferExceeded;
  if (c.recv_data.size() < end - c.recv_offset) c.recv_data.resize(end - c.recv_offset);
  std::uint64_t from = std::max(f.offset, c.recv_offset);
  std::memcpy(c.recv_data.data() + (from - c.recv_offset), f.data.data() + (from - f.offset),
              end - from);
  // A peer splitting CRYPTO data into more holes than we track is abusive.
  if (!c.received.insert(from, end - 1)) return TransportError::kCryptoBufferExceeded;
  // Hand TLS the contiguous prefix.
  if (c.received.empty() || c.received.min() != c.recv_offset) return TransportError::kNoError;
  const std::uint64_t ready = c.received.ranges()[0].last + 1 - c.recv_offset;
  std::vector<std::uint8_t> chunk(c.recv_data.begin(), c.recv_data.begin() + ready);
  c.recv_data.erase(c.recv_data.begin(), c.recv_data.begin() + ready);
  c.recv_offset += ready;
  c.received.remove_up_to(c.recv_offset - 1);
  const std::int64_t now_ms = config_.wall_clock_ms_at_zero + now / kMillisecond;
  if (std::optional<TlsError> e = tls_->receive(level_of(s), chunk, now_ms)) {
    close_crypto(*e, now);
    return TransportError::kNoError;
  }
  if (!peer_params_done_ && !tls_->peer_transport_parameters().empty()) {
    const TransportError te = on_peer_transport_parameters();
    if (te != TransportError::kNoError) return te;
  }
  if (handshake_complete_ && !handshake_notified_) {
    handshake_notified_ = true;
    if (state_ == ConnectionState::kHandshaking) set_state(ConnectionState::kConnected, now);
    if (role_ == EndpointRole::kServer) {
      // RFC 9001 §4.9.2: the server discards Handshake keys once confirmed.
      discard_space(PacketSpace::kHandshake);
    }
    update_recovery_state();
    if (role_ == EndpointRole::kClient && early_data_offered_) {
      // RFC 9001 §4.6.2: rejected 0-RTT data goes again in 1-RTT packets;
      // §4.9.3: the client drops 0-RTT keys once it has 1-RTT keys.
      if (!tls_->early_data_accepted()) loss_->on_zero_rtt_rejected(now);
      release_key(zero_rtt_key_);
    }
    issue_local_cids();
    if (config_.handler) config_.handler->on_handshake_complete();
  }
  // Server: confirmed at completion (RFC 9001 §4.1.2), the ticket sent.
  if (handshake_confirmed_ && role_ == EndpointRole::kServer) release_handshake_memory();
  return TransportError::kNoError;
}

TransportError Connection::on_peer_transport_parameters() {
  peer_params_done_ = true;
  const EndpointRole peer =
      role_ == EndpointRole::kClient ? EndpointRole::kServer : EndpointRole::kClient;
  const TransportError e =
      decode_transport_parameters(tls_->peer_transport_parameters(), peer, &peer_params_);
  if (e != TransportError::kNoError) return e;
  // RFC 9368 §4: version downgrade checks.
  if (version_error_) return TransportError::kVersionNegotiationError;
  if (role_ == EndpointRole::kClient && !config_.versions.empty()) {
    const TransportError ve = check_server_version_information(
        peer_params_.version_information, config_.version,
        client_version_information(chosen_version_, config_.versions), false, config_.versions);
    if (ve != TransportError::kNoError) return ve;
  }
  // RFC 9000 §7.3: authenticate the connection IDs.
  if (!peer_params_.initial_source_connection_id ||
      !(*peer_params_.initial_source_connection_id == peer_cid_))
    return TransportError::kTransportParameterError;
  if (role_ == EndpointRole::kClient) {
    if (!peer_params_.original_destination_connection_id ||
        !(*peer_params_.original_destination_connection_id == original_dcid_))
      return TransportError::kTransportParameterError;
    // §7.3: retry_source_connection_id present exactly when a Retry
    // happened, and equal to its SCID.
    if (peer_params_.retry_source_connection_id.has_value() != retry_scid_.has_value() ||
        (retry_scid_ && !(*peer_params_.retry_source_connection_id == *retry_scid_)))
      return TransportError::kTransportParameterError;
  }
  peer_ack_delay_exponent_ = static_cast<std::uint8_t>(peer_params_.ack_delay_exponent);
  rtt_.set_max_ack_delay(static_cast<Duration>(peer_params_.max_ack_delay) * kMillisecond);
  // RFC 9000 §10.1: the effective idle timeout is the minimum of both.
  const std::uint64_t a = config_.transport.max_idle_timeout, b = peer_params_.max_idle_timeout;
  const std::uint64_t idle_ms = a == 0 ? b : (b == 0 ? a : std::min(a, b));
  idle_timeout_ = static_cast<Duration>(idle_ms) * kMillisecond;
  peer_cids_.reset(peer_cid_, peer_params_.stateless_reset_token);
  if (role_ == EndpointRole::kClient && peer_params_.preferred_address) {
    // RFC 9000 §5.1.1: the preferred address's CID has sequence number 1
    // and counts like one from NEW_CONNECTION_ID.
    const PreferredAddress& pa = *peer_params_.preferred_address;
    NewConnectionIdFrame n;
    n.sequence_number = 1;
    n.connection_id = pa.connection_id.span();
    n.stateless_reset_token = pa.stateless_reset_token;
    if (peer_cid_.empty() || peer_cids_.on_new_connection_id(n) != TransportError::kNoError)
      return TransportError::kTransportParameterError;  // §18.2: not with a zero-length CID
  }
  if (early_data_offered_) {
    // Streams opened in 0-RTT got the remembered limits (RFC 9000 §7.4.1);
    // the new ones are at least as large when 0-RTT was accepted.
    for (auto& [id, st] : streams_)
      if (st->send_credit.update_limit(initial_send_limit(peer_params_, id, role_)))
        requeue_blocked_streams();
  }
  (void)conn_send_.update_limit(peer_params_.initial_max_data);
  (void)bidi_limits_.on_max_streams(peer_params_.initial_max_streams_bidi);
  (void)uni_limits_.on_max_streams(peer_params_.initial_max_streams_uni);
  if (config_.max_datagram_size > peer_params_.max_udp_payload_size)
    config_.max_datagram_size = static_cast<std::uint32_t>(peer_params_.max_udp_payload_size);
  if (config_.observer) config_.observer->on_parameters_set(false, peer_params_, now_);
  return TransportError::kNoError;
}

// ---------------------------------------------------------------- 0-RTT

void Connection::release_key(ProtectionKey*& key) {
  if (key != nullptr) config_.keys->release(key);
  key = nullptr;
}

bool Connection::sending_zero_rtt() const {
  return role_ == EndpointRole::kClient && !handshake_complete_ && zero_rtt_key_ != nullptr;
}

bool Connection::apply_remembered_parameters(ByteSpan encoded) {
  TransportParameters remembered;
  if (decode_transport_parameters(encoded, EndpointRole::kServer, &remembered) !=
      TransportError::kNoError)
    return false;
  // RFC 9000 §7.4.1: only the limits carry over; the rest comes with the
  // new handshake.
  ZeroRttTransportLimits::from(remembered).apply_to(&peer_params_);
  (void)conn_send_.update_limit(peer_params_.initial_max_data);
  (void)bidi_limits_.on_max_streams(peer_params_.initial_max_streams_bidi);
  (void)uni_limits_.on_max_streams(peer_params_.initial_max_streams_uni);
  return true;
}

// ---------------------------------------------------------------- key update

void Connection::on_key_phase(const ReceivedPacket& p, Time) {
  if (p.key_phase == one_rtt_.read_phase()) return;
  // RFC 9001 §6.5: a packet of the previous phase arriving late (it opened
  // with the previous keys) changes nothing.
  if (p.packet_number < read_phase_start_) return;
  // §6.2: the peer's first packet of a key update (or its answer to ours,
  // §6.1): the read keys move on, and our write keys follow if they have
  // not already.
  if (!one_rtt_.rotate_read()) {
    close_with(TransportError::kInternalError, 0, "key update", now_);
    return;
  }
  Space& app = *spaces_[index(PacketSpace::kApplication)];
  app.read_key = one_rtt_.read();
  read_phase_start_ = p.packet_number;
  if (config_.observer)
    config_.observer->on_key_update(false, one_rtt_.write_phase() == one_rtt_.read_phase(),
                                    one_rtt_.updates(), now_);
  // §6.1: keep the previous read keys for late packets, about three PTOs.
  read_previous_discard_at_ = now_ + three_pto();
  if (one_rtt_.write_phase() != one_rtt_.read_phase()) (void)update_write_keys(now_);
}

bool Connection::update_write_keys(Time now) {
  ProtectionKey* old = nullptr;
  if (!one_rtt_.update_write(&old)) {
    close_with(TransportError::kInternalError, 0, "key update", now);
    return false;
  }
  // A packet laid out with the old key may wait to be sealed: it goes at
  // the next receive or timeout (at most one is pending: a further update
  // needs an ACK, which comes through on_packet).
  release_key(retired_write_key_);
  retired_write_key_ = old;
  Space& app = *spaces_[index(PacketSpace::kApplication)];
  app.write_key = one_rtt_.write();
  write_phase_first_pn_ = app.next_pn;
  // Ours leads when we initiated (RFC 9001 §6.1), follows the peer's (§6.2).
  const bool local = one_rtt_.write_phase() != one_rtt_.read_phase();
  if (config_.observer)
    config_.observer->on_key_update(true, local, one_rtt_.updates() + local, now);
  return true;
}

bool Connection::initiate_key_update(Time now) {
  // RFC 9001 §6.1: only once the handshake is confirmed, and not again
  // before a packet sent with the current keys was acknowledged (which also
  // means the peer answered the previous update).
  const Space& app = *spaces_[index(PacketSpace::kApplication)];
  if (state_ != ConnectionState::kConnected || !handshake_confirmed_ ||
      one_rtt_.write() == nullptr || one_rtt_.read_phase() != one_rtt_.write_phase() ||
      app.largest_acked == kNoPacketNumber || app.largest_acked < write_phase_first_pn_)
    return false;
  return update_write_keys(now);
}

void Connection::maybe_update_keys(Time now) {
  const Space& app = *spaces_[index(PacketSpace::kApplication)];
  const std::uint64_t sent = app.next_pn - write_phase_first_pn_;
  // RFC 9001 §6.6: AES-GCM may protect at most 2^23 packets per key; we
  // update well before, and stop using a key that reached the limit.
  const bool gcm = one_rtt_aead_ != AeadAlgorithm::kChacha20Poly1305;
  const std::uint64_t limit = gcm ? std::uint64_t{1} << 23 : std::uint64_t{1} << 62;
  const std::uint64_t due = config_.key_update_interval != 0
                                ? std::min(config_.key_update_interval, limit - (limit >> 4))
                                : limit - (limit >> 4);
  if (sent < due) return;
  if (initiate_key_update(now)) return;
  if (sent >= limit)
    close_with(TransportError::kAeadLimitReached, 0, "AEAD confidentiality limit", now);
}

// ---------------------------------------------------------------- CIDs

TransportError Connection::on_new_connection_id(const NewConnectionIdFrame& f) {
  // RFC 9000 §19.15: a peer that chose a zero-length CID cannot send it.
  if (peer_cid_.empty()) return TransportError::kProtocolViolation;
  const TransportError e = peer_cids_.on_new_connection_id(f);
  peer_cid_ = peer_cids_.active();  // RFC 9000 §5.1.2: moved on if ours was retired
  return e;
}

TransportError Connection::on_retire_connection_id(const RetireConnectionIdFrame& f,
                                                   const ReceivedPacket& p) {
  // RFC 9000 §19.16: a sequence number never issued, or the CID the packet
  // itself was sent to, is a PROTOCOL_VIOLATION.
  bool retired = false;
  ConnectionId cid;
  const TransportError e = local_cids_.on_retire(f.sequence_number, p.dcid, &retired, &cid);
  if (e != TransportError::kNoError || !retired) return e;
  if (config_.cid_listener) config_.cid_listener->on_local_cid_retired(cid, f.sequence_number);
  issue_local_cids();  // §5.1.1: keep the peer supplied
  return TransportError::kNoError;
}

void Connection::issue_local_cids() {
  // RFC 9000 §5.1.1: up to the peer's active_connection_id_limit; none when
  // we use zero-length CIDs (§19.15) or have no generator.
  if (config_.cid_generator == nullptr || local_cid_.empty() || !handshake_complete_ ||
      !peer_params_done_)
    return;
  const std::uint64_t target = std::min<std::uint64_t>(
      {peer_params_.active_connection_id_limit, config_.max_local_cids, LocalCidSet::kMaxIssued});
  ConnectionId cid;
  StatelessResetToken token;
  while (local_cids_.active_count() < target && new_local_cid(&cid, &token)) {
    const std::uint64_t seq = local_cids_.issue(cid, token);
    if (config_.cid_listener) config_.cid_listener->on_local_cid_issued(cid, seq);
  }
}

bool Connection::new_local_cid(ConnectionId* cid, StatelessResetToken* token) {
  for (int attempts = 0; attempts < 16; ++attempts) {
    if (!config_.cid_generator->generate(config_.worker, cid) || cid->length != local_cid_.length)
      return false;  // out of CIDs: the peer makes do with what it has
    if (local_cids_.contains(*cid)) continue;
    if (config_.reset_tokens == nullptr || !config_.reset_tokens->token_for(cid->span(), token))
      config_.random(*token);  // unpredictable, just not stateless (RFC 9000 §10.3)
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- close

void Connection::set_state(ConnectionState s, Time now) {
  if (s == state_) return;
  const ConnectionState from = state_;
  state_ = s;
  if (config_.observer) config_.observer->on_state_changed(from, s, now);
  if (s == ConnectionState::kClosed) {
    release_all();
    if (config_.handler) config_.handler->on_closed();
  }
}

Duration Connection::three_pto() const {
  // RFC 9000 §10.2: at least three times the current PTO.
  return 3 * (rtt_.pto_base() + rtt_.max_ack_delay());
}

void Connection::enter_closing(CloseInfo ci, Time now) {
  if (state_ == ConnectionState::kClosing || state_ == ConnectionState::kDraining ||
      state_ == ConnectionState::kClosed)
    return;
  close_info_ = std::move(ci);
  close_frame_pending_ = true;
  // RFC 9000 §10.2: the closing state lasts three PTOs.
  close_deadline_ = now + three_pto();
  set_state(ConnectionState::kClosing, now);
}

void Connection::close_with(TransportError e, std::uint64_t frame_type, std::string_view reason,
                            Time now) {
  CloseInfo ci;
  ci.error_code = static_cast<std::uint64_t>(e);
  ci.frame_type = frame_type;
  ci.reason.assign(reason);
  enter_closing(std::move(ci), now);
}

void Connection::close_crypto(const TlsError& e, Time now) {
  // RFC 9001 §4.8: CRYPTO_ERROR 0x100 + alert, or the transport error.
  CloseInfo ci;
  ci.error_code = e.error_code();
  ci.reason = "TLS handshake failed";
  enter_closing(std::move(ci), now);
}

void Connection::close(std::uint64_t app_error, std::string_view reason, Time now) {
  now_ = std::max(now_, now);
  CloseInfo ci;
  ci.application = true;
  ci.error_code = app_error;
  ci.reason.assign(reason.substr(0, 256));
  enter_closing(std::move(ci), now);
}

void Connection::enter_draining(Time now) {
  // RFC 9000 §10.2.2: send nothing more; wait three PTOs.
  close_frame_pending_ = false;
  close_deadline_ = now + three_pto();
  set_state(ConnectionState::kDraining, now);
}

// ---------------------------------------------------------------- timers

Time Connection::next_timeout() const {
  if (state_ == ConnectionState::kClosed) return kNever;
  if (state_ == ConnectionState::kClosing || state_ == ConnectionState::kDraining)
    return close_frame_pending_ ? now_ : close_deadline_;
  Time t = loss_->timer();
  // RFC 9000 §8.1: an ACK waits, like everything else, for amplification
  // credit; the next datagram received brings it.
  const bool can_send = !amplification_blocked();
  for (const auto& sp : spaces_)
    if (can_send && !sp->discarded && sp->acks.ack_eliciting_pending())
      t = std::min(t, sp->acks.ack_deadline());
  if (idle_timeout_ > 0) t = std::min(t, idle_deadline());
  t = std::min(t, handshake_deadline());
  t = std::min(t, keep_alive_due());
  if (can_send && has_data_to_send() && cc_->available() >= config_.max_datagram_size)
    t = std::min(t, config_.pacing ? pacer_.next_send_time(now_) : now_);
  if (discard_initial_pending_) t = std::min(t, now_);
  t = std::min(t, read_previous_discard_at_);
  t = std::min(t, path_timer());
  // Probes waiting for a path other than the active one (RFC 9000 §8.2).
  for (std::size_t i = 0; i < kMaxPaths; ++i)
    if (i != active_path_ && paths_[i].in_use && paths_[i].wants_to_send() &&
        amplification_room(i) >= kMinAmplificationRoom && write_key(PacketSpace::kApplication))
      t = std::min(t, now_);
  return t;
}

Time Connection::idle_deadline() const {
  // RFC 9000 §10.1: at least three PTOs so a few probes fit.
  return last_activity_ + std::max(idle_timeout_, three_pto());
}

Time Connection::handshake_deadline() const {
  if (handshake_complete_ || config_.handshake_timeout <= 0) return kNever;
  return created_ + config_.handshake_timeout;
}

Time Connection::keep_alive_due() const {
  if (config_.keep_alive <= 0 || !handshake_complete_) return kNever;
  // One PING per keep-alive period even when the peer does not answer:
  // the idle timer, not a PING storm, ends a dead connection.
  return std::max(last_activity_, keep_alive_sent_) + config_.keep_alive;
}

void Connection::on_timeout(Time now) {
  now_ = std::max(now_, now);
  if (state_ == ConnectionState::kClosed) return;
  apply_deferred_discards();
  if (state_ == ConnectionState::kClosing || state_ == ConnectionState::kDraining) {
    if (now >= close_deadline_) set_state(ConnectionState::kClosed, now);
    return;
  }
  const bool idle = idle_timeout_ > 0 && now >= idle_deadline();
  if (idle || now >= handshake_deadline()) {
    // RFC 9000 §10.1: silently closed.
    CloseInfo ci;
    ci.local = true;
    ci.error_code = 0;
    ci.reason = idle ? "idle timeout" : "handshake timeout";
    close_info_ = std::move(ci);
    set_state(ConnectionState::kClosed, now);
    return;
  }
  check_path_timers(now);
  if (state_ == ConnectionState::kClosed) return;
  if (now >= read_previous_discard_at_) {
    one_rtt_.discard_read_previous();
    read_previous_discard_at_ = kNever;
  }
  if (now >= keep_alive_due()) {
    ping_pending_ = true;
    keep_alive_sent_ = now;
  }
  if (now >= loss_->timer()) {
    const LossDetector::Timeout t = loss_->on_timeout(now);
    if (t.losses) update_ecn();
    pacer_.update(cc_->congestion_window(), rtt_.smoothed_rtt(), cc_->in_slow_start(),
                  config_.max_datagram_size);
    if (config_.observer)
      config_.observer->on_metrics(recovery_metrics(rtt_, *cc_, pacer_, loss_->pto_count(), now),
                                   now);
    if (t.probe_space) {
      ++stats_.pto_count;
      Space& sp = *spaces_[index(*t.probe_space)];
      sp.probes_pending = t.probes;
      // RFC 9002 §6.2.4: probes should carry data; unacknowledged CRYPTO
      // data is small and is what the peer is most likely missing.
      mark_unacked_crypto_lost(sp);
      if (*t.probe_space == PacketSpace::kApplication) queue_probe_stream_data(t.probes);
    }
  }
}

void Connection::mark_unacked_crypto_lost(Space& sp) {
  CryptoSpace& c = sp.crypto;
  std::uint64_t a = 0;
  for (const Interval& r : c.acked.ranges()) {
    if (r.first > a) (void)c.lost.insert(a, r.first - 1);
    a = r.last + 1;
  }
  if (a < c.sent_up_to) (void)c.lost.insert(a, c.sent_up_to - 1);
}

}  // namespace dquic
