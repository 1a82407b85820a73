// Routing and connection lifetime of the Endpoint; the stateless replies,
// 0-RTT buffering and the route hash are in endpoint_stateless.cc.
#include "quic/endpoint.h"

#include <algorithm>
#include <utility>

#include "quic/endpoint_internal.h"
#include "quic/source_port_filter.h"
#include "quic/version_negotiation.h"

namespace dquic {

const char* to_string(EndpointDrop r) {
  switch (r) {
    case EndpointDrop::kReflectionPort:
      return "reflection_port";
    case EndpointDrop::kMalformed:
      return "malformed";
    case EndpointDrop::kUnsupportedVersion:
      return "unsupported_version";
    case EndpointDrop::kVersionNegotiation:
      return "version_negotiation";
    case EndpointDrop::kVersionNegotiationLimited:
      return "version_negotiation_limited";
    case EndpointDrop::kInitialTooSmall:
      return "initial_too_small";
    case EndpointDrop::kInitialDcidTooShort:
      return "initial_dcid_too_short";
    case EndpointDrop::kNotAccepting:
      return "not_accepting";
    case EndpointDrop::kUnknownConnection:
      return "unknown_connection";
    case EndpointDrop::kTooSmallForReset:
      return "too_small_for_reset";
    case EndpointDrop::kNoResetKey:
      return "no_reset_key";
    case EndpointDrop::kResetRateLimited:
      return "reset_rate_limited";
    case EndpointDrop::kInvalidRetryToken:
      return "invalid_retry_token";
    case EndpointDrop::kConnectionLimit:
      return "connection_limit";
    case EndpointDrop::kRejected:
      return "rejected";
    case EndpointDrop::kSetupFailed:
      return "setup_failed";
    case EndpointDrop::kResponseBufferTooSmall:
      return "response_buffer_too_small";
    case EndpointDrop::kZeroRttNotBuffered:
      return "zero_rtt_not_buffered";
    case EndpointDrop::kCount:
      break;
  }
  return "?";
}

Endpoint::Endpoint(EndpointConfig config)
    : config_(std::move(config)),
      reset_limiter_(config_.resets_per_second, config_.reset_burst),
      initial_close_limiter_(config_.initial_closes_per_second, config_.initial_close_burst),
      version_negotiation_limiter_(config_.version_negotiations_per_second,
                                   config_.version_negotiation_burst) {
  ConnectionIdGenerator* g = config_.cid_generator;
  ok_ = g != nullptr && g->cid_length() >= 1 && g->cid_length() <= kMaxConnectionIdLength &&
        static_cast<bool>(config_.connection.random) && !config_.versions.empty() &&
        config_.versions.size() < kMaxVersionNegotiationVersions &&
        std::all_of(config_.versions.begin(), config_.versions.end(), is_supported_version) &&
        (!config_.accept_connections || config_.connection.keys != nullptr);
  if (g != nullptr) {
    short_dcid_length_ = g->cid_length();
    generator_ = std::make_unique<CheckedGenerator>(*this, *g);
  }
  CidHash hash{0, 0};
  if (config_.connection.random) {
    std::array<std::uint8_t, 16> key{};
    config_.connection.random(key);
    for (std::size_t i = 0; i < 8; ++i) {
      hash.k0 = (hash.k0 << 8) | key[i];
      hash.k1 = (hash.k1 << 8) | key[8 + i];
    }
  }
  routes_ = std::unordered_map<ConnectionId, Entry*, CidHash>(64, hash);
  creations_.resize(config_.retry_rate_threshold);
  zero_rtt_.resize(config_.zero_rtt_slots);
  zero_rtt_bytes_.resize(config_.zero_rtt_slots * config_.zero_rtt_max_size);
}

Endpoint::~Endpoint() {
  // Connections go before the routes they would retire through their
  // listeners (they announce nothing on destruction, but be safe).
  for (auto& e : entries_)
    e->conn.reset();
}

Connection* Endpoint::connection(std::size_t i) const {
  return entries_[i]->conn.get();
}

const PeerAddress& Endpoint::peer(std::size_t i) const {
  return entries_[i]->peer;
}

EndpointDecision Endpoint::dropped(EndpointDrop r) {
  ++counters_.dropped[static_cast<std::size_t>(r)];
  EndpointDecision d;
  d.kind = EndpointDecision::Kind::kDrop;
  d.drop = r;
  return d;
}

EndpointDecision Endpoint::deliver(Entry* e) {
  refresh(*e);
  ++counters_.delivered;
  EndpointDecision d;
  d.kind = EndpointDecision::Kind::kDeliver;
  d.connection = e->conn.get();
  return d;
}

EndpointDecision Endpoint::on_datagram(ByteSpan datagram, const PeerAddress& from, Time now,
                                       std::span<std::uint8_t> response) {
  ++counters_.datagrams;
  if (!ok_) return dropped(EndpointDrop::kSetupFailed);
  // RFC 9000 §21.5.6: a spoofed datagram "from" a reflection-prone service
  // must not make us answer it. No client sends from these ports, so they
  // are dropped first, for every connection alike.
  if (is_reflection_prone_source_port(from.port)) return dropped(EndpointDrop::kReflectionPort);

  // RFC 8999 §5: only the invariant fields are readable before the version
  // is known. Coalesced packets share the first one's DCID (RFC 9000 §12.2).
  InvariantHeader inv;
  if (parse_invariant_header(datagram, short_dcid_length_, &inv) != PacketDropReason::kNone)
    return dropped(EndpointDrop::kMalformed);
  if (!inv.long_header) return on_short(datagram, inv, from, now, response);

  if (inv.version == kVersionNegotiation) {
    // RFC 9000 §6.2: the client connection it echoes decides; §6.1: never
    // answer one.
    if (Entry* e = find(inv.dcid); e != nullptr && e->client) return deliver(e);
    return dropped(EndpointDrop::kVersionNegotiation);
  }
  const bool accepted = std::find(config_.versions.begin(), config_.versions.end(), inv.version) !=
                        config_.versions.end();
  if (!accepted) {
    // RFC 9000 §5.2.2, §6.1: packets of other versions match no
    // connection; a server answers those large enough to start one.
    if (!config_.accept_connections ||
        !should_send_version_negotiation(inv, datagram.size(), config_.versions))
      return dropped(EndpointDrop::kUnsupportedVersion);
    return send_version_negotiation(inv, now, response);
  }

  PacketHeader h;
  if (parse_packet_header(datagram, 0, short_dcid_length_, &h) != PacketDropReason::kNone)
    return dropped(EndpointDrop::kMalformed);
  if (Entry* e = find(h.dcid); e != nullptr) {
    // RFC 9000 §14.1: a server MUST discard a client Initial in a datagram
    // under 1200 bytes, whether or not it starts a connection.
    if (h.type == PacketType::kInitial && !e->client && datagram.size() < kMinInitialDatagramSize)
      return dropped(EndpointDrop::kInitialTooSmall);
    return deliver(e);
  }
  switch (h.type) {
    case PacketType::kInitial:
      return on_initial(datagram, h, from, now, response);
    case PacketType::kZeroRtt:
      return buffer_zero_rtt(datagram, h, from, now);
    default:
      break;
  }
  // RFC 9000 §5.2.2: a client cannot send Handshake packets before the
  // server answered, so one for no connection may belong to another worker.
  std::uint16_t worker = 0;
  if (h.type == PacketType::kHandshake && forward_worker(h.dcid, &worker)) {
    ++counters_.forwarded;
    EndpointDecision d;
    d.kind = EndpointDecision::Kind::kForward;
    d.worker = worker;
    return d;
  }
  // §5.2.2: drop under all other circumstances. §10.3: a Stateless Reset
  // answering a long header would be ignored, its token not yet known.
  return dropped(EndpointDrop::kUnknownConnection);
}

EndpointDecision Endpoint::on_short(ByteSpan datagram, const InvariantHeader& h,
                                    const PeerAddress& from, Time now,
                                    std::span<std::uint8_t> response) {
  if (Entry* e = find(h.dcid); e != nullptr) return deliver(e);
  // RFC 9000 §10.3.1: a reset carries a random DCID, so it only shows as a
  // datagram that routes nowhere and ends in a token our peer gave us.
  if (Connection* c = find_peer_reset(datagram, from); c != nullptr) {
    ++counters_.stateless_reset_received;
    c->on_stateless_reset(now);  // §10.3.1: it drains, silently
    EndpointDecision d;
    d.kind = EndpointDecision::Kind::kPeerReset;
    d.connection = c;
    return d;
  }
  std::uint16_t worker = 0;
  if (forward_worker(h.dcid, &worker)) {
    ++counters_.forwarded;
    EndpointDecision d;
    d.kind = EndpointDecision::Kind::kForward;
    d.worker = worker;
    return d;
  }
  return send_stateless_reset(datagram, h.dcid, now, response);
}

bool Endpoint::forward_worker(ByteSpan dcid, std::uint16_t* worker) const {
  const std::optional<std::uint16_t> w = config_.cid_generator->worker_of(dcid);
  if (!w || *w == config_.worker) return false;
  *worker = *w;
  return true;
}

Connection* Endpoint::find_peer_reset(ByteSpan datagram, const PeerAddress& from) {
  if (datagram.size() < kMinStatelessResetSize) return nullptr;
  // Each connection knows the tokens its peer gave it (the server's
  // stateless_reset_token parameter, NEW_CONNECTION_ID frames); only those
  // with this peer address are asked.
  for (const auto& e : entries_) {
    if (!(e->peer == from) || e->conn->is_closed()) continue;
    if (e->conn->is_stateless_reset(datagram)) return e->conn.get();
  }
  return nullptr;
}

EndpointDecision Endpoint::on_initial(ByteSpan datagram, const PacketHeader& h,
                                      const PeerAddress& from, Time now,
                                      std::span<std::uint8_t> response) {
  if (!config_.accept_connections) return dropped(EndpointDrop::kNotAccepting);
  // RFC 9000 §14.1: client Initials come in datagrams of 1200 bytes or more.
  if (datagram.size() < kMinInitialDatagramSize) return dropped(EndpointDrop::kInitialTooSmall);
  // RFC 9000 §7.2: the client's first DCID is at least 8 bytes; after a
  // Retry it is our own CID, which is too.
  if (h.dcid.size() < 8) return dropped(EndpointDrop::kInitialDcidTooShort);

  bool validated = false;
  std::optional<TokenInfo> retry;
  if (!h.token.empty() && config_.address_tokens != nullptr) {
    TokenInfo info;
    const TokenCheck r =
        config_.address_tokens->open(h.token, from, h.version, token_ms(now), &info);
    const std::optional<TokenKind> kind =
        r == TokenCheck::kInvalid ? peek_token_kind(h.token) : std::optional(info.kind);
    if (kind == TokenKind::kRetry) {
      // RFC 9000 §8.1.2: a client that got a Retry takes no other, so an
      // invalid Retry token ends the attempt: "SHOULD immediately close
      // the connection with an INVALID_TOKEN error", statelessly. §7.3:
      // the Initial's DCID must be the Retry's SCID the token names.
      if (r != TokenCheck::kOk || !same_bytes(info.retry_scid.span(), h.dcid))
        return refuse_initial(datagram, h, EndpointDrop::kInvalidRetryToken, now, response);
      validated = true;
      retry = info;
      ++counters_.retry_tokens_accepted;
    } else if (r == TokenCheck::kOk) {
      validated = true;  // §8.1.3: a NEW_TOKEN token of ours
      ++counters_.new_tokens_accepted;
    } else {
      ++counters_.new_tokens_ignored;  // §8.1.3: treated as absent
    }
  }

  // RFC 9000 §5.2.2: a server refusing a connection SHOULD send an
  // Initial with CONNECTION_CLOSE(CONNECTION_REFUSED).
  if (entries_.size() >= config_.max_connections)
    return refuse_initial(datagram, h, EndpointDrop::kConnectionLimit, now, response);
  if (!validated && retry_engaged(now)) return send_retry(h, from, now, response);

  Connection::ServerIds ids;
  ConnectionId dcid;
  (void)ConnectionId::from(h.dcid, &dcid);  // the parser allows at most 20 bytes
  (void)ConnectionId::from(h.scid, &ids.peer_cid);
  if (retry) {
    ids.original_dcid = retry->original_dcid;
    ids.retry_scid = retry->retry_scid;
  } else {
    ids.original_dcid = dcid;
  }
  if (!generator_->generate(config_.worker, &ids.local_cid))
    return dropped(EndpointDrop::kSetupFailed);

  IncomingConnection in;
  in.from = from;
  in.version = h.version;
  in.original_dcid = ids.original_dcid;
  in.address_validated = validated;
  ConnectionConfig cfg = config_.connection;
  if (config_.on_new_connection && !config_.on_new_connection(in, cfg))
    return refuse_initial(datagram, h, EndpointDrop::kRejected, now, response);

  Entry* e = add_entry(from, false);
  cfg.role = EndpointRole::kServer;
  cfg.version = h.version;
  // RFC 9368 §2.3: the connection may move a compatible client to the
  // version we prefer.
  if (cfg.versions.empty() && config_.versions.size() > 1) cfg.versions = config_.versions;
  cfg.address_validated = validated;
  cfg.cid_generator = generator_.get();
  cfg.worker = config_.worker;
  cfg.reset_tokens = config_.reset_tokens;
  cfg.cid_listener = e;
  // RFC 9000 §8.1.3: a token for the client's next connection from this
  // address (a failure just means none is sent).
  if (config_.address_tokens != nullptr) {
    std::array<std::uint8_t, kMaxTokenLength> token{};
    const std::size_t n =
        config_.address_tokens->seal_new_token(from, h.version, token_ms(now), token);
    cfg.new_token.assign(token.begin(), token.begin() + static_cast<std::ptrdiff_t>(n));
  }
  // RFC 9000 §5.2: the client keeps using the DCID of its Initial (the
  // original one, or the Retry's SCID) until it hears from us.
  if (!add_route(dcid, e) || !add_route(ids.local_cid, e)) {
    remove_entry(e->index);
    return dropped(EndpointDrop::kSetupFailed);
  }
  e->conn = std::make_unique<Connection>(cfg, ids);
  if (!e->conn->start(now)) {
    remove_entry(e->index);
    return dropped(EndpointDrop::kSetupFailed);
  }
  e->half_open = true;
  ++half_open_;
  note_creation(now);
  ++counters_.connections_accepted;
  // §5.2.2: 0-RTT that overtook this Initial is the connection's now.
  for (ZeroRttSlot& s : zero_rtt_)
    if (s.used && s.owner == nullptr && s.dcid == dcid) s.owner = e;

  EndpointDecision d;
  d.kind = EndpointDecision::Kind::kNewConnection;
  d.connection = e->conn.get();
  return d;
}

Connection* Endpoint::connect(const ConnectionConfig& config, const PeerAddress& server, Time now) {
  if (!ok_ || entries_.size() >= config_.max_connections || !config.random ||
      config.keys == nullptr)
    return nullptr;
  Entry* e = add_entry(server, true);
  ConnectionConfig cfg = config;
  cfg.role = EndpointRole::kClient;
  cfg.cid_generator = generator_.get();
  cfg.worker = config_.worker;
  if (cfg.reset_tokens == nullptr) cfg.reset_tokens = config_.reset_tokens;
  cfg.cid_listener = e;
  // The handshake's CID comes from our generator too: the server sends to
  // it in short headers (parsed with the generator's length) and its
  // bytes steer the replies to this worker.
  ConnectionId cid;
  if (!generator_->generate(config_.worker, &cid) || cid.length != short_dcid_length_) {
    remove_entry(e->index);
    return nullptr;
  }
  cfg.local_cid = cid;
  e->conn = std::make_unique<Connection>(cfg);
  if (!add_route(cid, e) || !e->conn->start(now)) {
    remove_entry(e->index);
    return nullptr;
  }
  ++counters_.connections_opened;
  return e->conn.get();
}

Endpoint::Entry* Endpoint::add_entry(const PeerAddress& peer, bool client) {
  auto e = std::make_unique<Entry>();
  e->endpoint = this;
  e->peer = peer;
  e->client = client;
  e->index = entries_.size();
  if (client) ++client_entries_;
  entries_.push_back(std::move(e));
  return entries_.back().get();
}

void Endpoint::remove_entry(std::size_t index) {
  Entry* e = entries_[index].get();
  e->conn.reset();  // before its routes: nothing may call back into a dead entry
  for (const ConnectionId& cid : e->routes) {
    auto it = routes_.find(cid);
    if (it != routes_.end() && it->second == e) routes_.erase(it);
  }
  for (ZeroRttSlot& s : zero_rtt_) {
    if (s.used && s.owner == e) {
      s = ZeroRttSlot{};
      ++counters_.zero_rtt_expired;
    }
  }
  if (e->half_open) --half_open_;
  if (e->client) --client_entries_;
  if (index + 1 != entries_.size()) {
    entries_[index] = std::move(entries_.back());
    entries_[index]->index = index;
  }
  entries_.pop_back();
}

bool Endpoint::add_route(const ConnectionId& cid, Entry* e) {
  if (!routes_.emplace(cid, e).second) {
    ++counters_.cid_collisions;
    return false;
  }
  e->routes.push_back(cid);
  return true;
}

void Endpoint::remove_route(const ConnectionId& cid, Entry* e) {
  auto it = routes_.find(cid);
  if (it == routes_.end() || it->second != e) return;
  routes_.erase(it);
  std::erase(e->routes, cid);
}

Endpoint::Entry* Endpoint::find(ByteSpan cid) const {
  ConnectionId key;
  if (!ConnectionId::from(cid, &key)) return nullptr;
  auto it = routes_.find(key);
  return it == routes_.end() ? nullptr : it->second;
}

void Endpoint::refresh(Entry& e) {
  if (!e.half_open) return;
  const ConnectionState s = e.conn->state();
  if (e.conn->handshake_complete() || s == ConnectionState::kClosing ||
      s == ConnectionState::kDraining || s == ConnectionState::kClosed) {
    e.half_open = false;
    --half_open_;
  }
}

void Endpoint::collect(Time now) {
  for (std::size_t i = entries_.size(); i-- > 0;) {
    Entry& e = *entries_[i];
    refresh(e);
    if (e.conn->is_closed()) {
      remove_entry(i);
      ++counters_.connections_collected;
    }
  }
  expire_zero_rtt(now);
}

void Endpoint::note_creation(Time now) {
  if (creations_.empty()) return;
  creations_[creations_next_] = now;
  creations_next_ = (creations_next_ + 1) % creations_.size();
  creations_filled_ = std::min(creations_filled_ + 1, creations_.size());
}

bool Endpoint::retry_engaged(Time now) const {
  if (config_.address_tokens == nullptr || !config_.address_tokens->ok()) return false;
  switch (config_.retry_policy) {
    case RetryPolicy::kNever:
      return false;
    case RetryPolicy::kAlways:
      return true;
    case RetryPolicy::kAutomatic:
      break;
  }
  if (half_open_ >= config_.retry_half_open_threshold) return true;
  // A full ring whose oldest entry (the next to be overwritten) is under a
  // second old: retry_rate_threshold creations within the last second.
  return creations_filled_ == creations_.size() && !creations_.empty() &&
         now - creations_[creations_next_] < kSecond;
}

std::int64_t Endpoint::token_ms(Time now) const {
  return config_.connection.wall_clock_ms_at_zero + now / kMillisecond;
}

}  // namespace dquic
