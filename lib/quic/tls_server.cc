#include "quic/tls_server.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>

namespace dquic {

namespace {

constexpr std::uint16_t u16(CipherSuite s) {
  return static_cast<std::uint16_t>(s);
}
constexpr std::uint16_t u16(NamedGroup g) {
  return static_cast<std::uint16_t>(g);
}

}  // namespace

TlsServer::TlsServer(const TlsServerConfig& config, ByteSpan transport_parameters, TlsSink* sink)
    : TlsEngine(EndpointRole::kServer, sink),
      config_(config),
      transport_parameters_(transport_parameters.begin(), transport_parameters.end()) {}

TlsServer::~TlsServer() {
  wipe_secret(&client_handshake_secret_);
  wipe_secret(&client_application_secret_);
  if (psk_) wipe_secret(&psk_->psk);
}

bool TlsServer::expects(EncryptionLevel level, HandshakeType type) const {
  switch (state_) {
    case State::kWaitClientHello:
    case State::kWaitSecondClientHello:
      return level == EncryptionLevel::kInitial && type == HandshakeType::kClientHello;
    case State::kWaitFinished:
      // We send no CertificateRequest, so the client sends Finished alone.
      return level == EncryptionLevel::kHandshake && type == HandshakeType::kFinished;
    case State::kConnected:
      // A QUIC client has no post-handshake message to send: KeyUpdate is
      // forbidden (RFC 9001 §6) and we offer no post-handshake auth.
      return false;
  }
  return false;
}

std::optional<TlsError> TlsServer::handle(EncryptionLevel, const HandshakeMessage& m,
                                          std::int64_t now_ms) {
  if (m.type == HandshakeType::kClientHello) return on_client_hello(m, now_ms);
  return on_finished(m, now_ms);
}

void TlsServer::keylog(KeylogLabel label, const Secret& s) const {
  emit_keylog(config_.keylog, label, client_random_, s);
}

std::optional<CipherSuite> TlsServer::choose_suite(const U16List& offered) const {
  if (config_.prefer_server_cipher_order) {
    for (CipherSuite ours : config_.cipher_suites) {
      if (contains(offered, u16(ours))) return ours;
    }
    return std::nullopt;
  }
  for (std::uint16_t theirs : offered) {
    for (CipherSuite ours : config_.cipher_suites) {
      if (theirs == u16(ours)) return ours;
    }
  }
  return std::nullopt;
}

std::optional<TlsError> TlsServer::try_psk(const HandshakeMessage& m, const ClientHello& ch,
                                           CipherSuite suite, std::string_view alpn,
                                           std::int64_t now_ms) {
  const ExtensionSet& x = ch.extensions;
  if (!x.has(TlsExtension::kPreSharedKey) || config_.ticket_keys == nullptr ||
      !config_.ticket_keys->ready())
    return std::nullopt;
  // RFC 8446 §4.2.9: we only do PSK with (EC)DHE; psk_ke alone is ignored.
  if (!x.has(TlsExtension::kPskKeyExchangeModes)) return TlsAlert::kMissingExtension;
  const ByteSpan modes = ch.psk_key_exchange_modes;
  if (std::find(modes.begin(), modes.end(), kPskDheKe) == modes.end()) return std::nullopt;

  // Only the first identity: 0-RTT can use no other (RFC 8446 §4.2.10),
  // and one ticket open per ClientHello bounds the work a client causes.
  const PskIdentity identity = *ch.psk_identities.begin();
  std::vector<std::uint8_t> plain;
  TicketState t;
  const bool opened =
      config_.ticket_keys->open(identity.identity, &plain) && decode_ticket_state(plain, &t);
  OPENSSL_cleanse(plain.data(), plain.size());
  if (!opened) return std::nullopt;  // not ours, rotated out or tampered
  // RFC 8446 §4.6.1: not past its lifetime (nor from the future).
  const std::int64_t age_ms = now_ms - t.issue_time_ms;
  const bool alive = age_ms >= -config_.max_ticket_age_skew_ms &&
                     age_ms < static_cast<std::int64_t>(t.lifetime_s) * 1000;
  // RFC 8446 §4.2.11: the suite's hash must be the PSK's; RFC 8446 §4.6.1
  // and §4.2.10: a ticket is for the same server name and protocol.
  const std::string_view sni(reinterpret_cast<const char*>(ch.server_name.data()),
                             x.has(TlsExtension::kServerName) ? ch.server_name.size() : 0);
  if (!alive || cipher_suite_hash(suite) != t.psk.hash || sni != t.server_name || alpn != t.alpn) {
    wipe_secret(&t.psk);
    return std::nullopt;
  }

  // RFC 8446 §4.2.11.2: the binder proves the client holds the PSK; a wrong
  // one is fatal.
  TlsKeySchedule early(t.psk.hash);
  Secret binder_key;
  HashValue th;
  bool ok = early.set_early_secret(t.psk.span()) &&
            early.binder_key(PskKind::kResumption, &binder_key) &&
            transcript_.digest_with_tail(
                t.psk.hash, client_hello_binder_prefix(m.bytes, ch.binders_offset), &th);
  const ByteSpan binder = *ch.psk_binders.begin();
  const bool binder_ok = ok && verify_psk_binder(binder_key, th, binder);
  wipe_secret(&binder_key);
  if (!ok) {
    wipe_secret(&t.psk);
    return TlsAlert::kInternalError;
  }
  if (!binder_ok) {
    wipe_secret(&t.psk);
    return TlsAlert::kDecryptError;
  }

  // RFC 9001 §4.6, RFC 8446 §4.2.10: 0-RTT for the first ClientHello only,
  // with the ticket's suite, a plausible ticket age (§8.3), transport
  // parameters no smaller than remembered (RFC 9000 §7.4.1), and never
  // twice for one ClientHello (§8.2).
  if (x.has(TlsExtension::kEarlyData) && !hello_retry_ && config_.enable_early_data &&
      config_.anti_replay != nullptr && t.allow_early_data &&
      static_cast<std::uint16_t>(suite) == t.cipher_suite) {
    const std::int64_t client_age =
        static_cast<std::uint32_t>(identity.obfuscated_ticket_age - t.ticket_age_add);
    const std::int64_t skew = client_age - age_ms;
    TransportParameters current;
    const bool tp_ok = decode_transport_parameters(transport_parameters_, EndpointRole::kServer,
                                                   &current) == TransportError::kNoError &&
                       t.transport_limits.not_reduced_by(ZeroRttTransportLimits::from(current));
    if (skew <= config_.max_ticket_age_skew_ms && skew >= -config_.max_ticket_age_skew_ms &&
        tp_ok && config_.anti_replay->check_and_insert(binder, now_ms))
      accept_early_data_ = true;
  }
  psk_ = std::move(t);
  return std::nullopt;
}

std::optional<TlsError> TlsServer::on_client_hello(const HandshakeMessage& m, std::int64_t now_ms) {
  if (config_.credentials == nullptr) return TlsAlert::kInternalError;
  ClientHello ch;
  if (std::optional<TlsAlert> a = parse_client_hello(m.body, &ch)) return *a;
  const ExtensionSet& x = ch.extensions;

  // RFC 8446 §4.2.1: without supported_versions listing TLS 1.3 this is an
  // older TLS, which we do not speak.
  if (!x.has(TlsExtension::kSupportedVersions) || !contains(ch.supported_versions, kTls13Version))
    return TlsAlert::kProtocolVersion;
  // RFC 9001 §8.4: no middlebox compatibility mode in QUIC; a non-empty
  // legacy_session_id is a PROTOCOL_VIOLATION.
  if (!ch.legacy_session_id.empty())
    return TlsError::transport_error(TransportError::kProtocolViolation);

  const std::optional<CipherSuite> suite = choose_suite(ch.cipher_suites);
  if (!suite) return TlsAlert::kHandshakeFailure;  // RFC 8446 §4.1.1

  // RFC 8446 §9.2: certificate authentication needs signature_algorithms,
  // and (EC)DHE needs supported_groups and key_share together.
  if (!x.has(TlsExtension::kSignatureAlgorithms) || !x.has(TlsExtension::kSupportedGroups) ||
      !x.has(TlsExtension::kKeyShare))
    return TlsAlert::kMissingExtension;
  SignatureScheme scheme;
  if (std::optional<TlsAlert> a =
          config_.credentials->choose_scheme(ch.signature_algorithms, &scheme))
    return *a;

  // RFC 8446 §4.2.8: shares only for groups in supported_groups.
  for (const KeyShareEntry& k : ch.key_shares) {
    if (!contains(ch.supported_groups, k.group)) return TlsAlert::kIllegalParameter;
  }

  // RFC 9001 §8.1: ALPN is mandatory; our preference among the client's.
  std::string_view alpn;
  bool have_alpn = false;
  if (x.has(TlsExtension::kAlpn)) {
    for (const std::string& ours : config_.alpn) {
      for (ByteSpan theirs : ch.alpn) {
        if (!have_alpn && theirs.size() == ours.size() &&
            std::equal(theirs.begin(), theirs.end(), ours.begin(),
                       [](std::uint8_t a, char b) { return a == static_cast<std::uint8_t>(b); })) {
          alpn = ours;
          have_alpn = true;
        }
      }
    }
  }
  if (!have_alpn) return TlsAlert::kNoApplicationProtocol;
  // RFC 9001 §8.2.
  if (!x.has(TlsExtension::kQuicTransportParameters)) return TlsAlert::kMissingExtension;

  // First the share of our most preferred group the client sent (no extra
  // round trip), else a retry for our most preferred group it supports.
  std::optional<KeyShareEntry> share;
  for (NamedGroup g : config_.groups) {
    for (const KeyShareEntry& k : ch.key_shares) {
      if (!share && k.group == u16(g)) share = k;
    }
  }

  if (state_ == State::kWaitSecondClientHello) {
    // RFC 8446 §4.1.2, §4.1.4: the second ClientHello repeats the first but
    // for one key share of the group we asked for (and no early_data); its
    // negotiation must land where the first did.
    if (ch.key_shares.size() != 1 || !share || share->group != u16(retry_group_) ||
        x.has(TlsExtension::kEarlyData) || *suite != *suite_ ||
        !bytes_equal(ch.random, client_random_))
      return TlsAlert::kIllegalParameter;
  } else if (!share) {
    for (NamedGroup g : config_.groups) {
      if (contains(ch.supported_groups, u16(g))) {
        suite_ = suite;
        std::copy(ch.random.begin(), ch.random.end(), client_random_.begin());
        if (!transcript_.update(m.bytes)) return TlsAlert::kInternalError;
        return send_hello_retry_request(ch, g);
      }
    }
    return TlsAlert::kHandshakeFailure;  // RFC 8446 §4.2.7: no common group
  }

  suite_ = suite;
  std::copy(ch.random.begin(), ch.random.end(), client_random_.begin());
  if (std::optional<TlsError> e = try_psk(m, ch, *suite, alpn, now_ms)) return e;
  alpn_.assign(alpn);
  if (x.has(TlsExtension::kServerName)) {
    server_name_.assign(reinterpret_cast<const char*>(ch.server_name.data()),
                        ch.server_name.size());
  }
  peer_transport_parameters_.assign(ch.quic_transport_parameters.begin(),
                                    ch.quic_transport_parameters.end());
  sink_->on_client_transport_parameters(peer_transport_parameters_, &transport_parameters_);
  if (!transcript_.update(m.bytes)) return TlsAlert::kInternalError;
  return send_server_flight(ch, *share, scheme);
}

std::optional<TlsError> TlsServer::send_hello_retry_request(const ClientHello& ch,
                                                            NamedGroup group) {
  // RFC 8446 §4.1.4: HelloRetryRequest is a ServerHello with the special
  // random; ClientHello1 becomes message_hash in the transcript (§4.4.1).
  ServerHello hrr;
  hrr.random = kHelloRetryRequestRandom;
  hrr.legacy_session_id_echo = ch.legacy_session_id;
  hrr.cipher_suite = u16(*suite_);
  hrr.extensions.add(TlsExtension::kSupportedVersions);
  hrr.extensions.add(TlsExtension::kKeyShare);
  hrr.selected_version = kTls13Version;
  hrr.selected_group = u16(group);
  std::array<std::uint8_t, 128> buf;
  Writer w(buf);
  if (!encode_server_hello(hrr, w)) return TlsAlert::kInternalError;
  const ByteSpan bytes(buf.data(), w.written());
  if (!transcript_.restart_for_hello_retry() || !transcript_.select(cipher_suite_hash(*suite_)) ||
      !transcript_.update(bytes))
    return TlsAlert::kInternalError;
  retry_group_ = group;
  hello_retry_ = true;
  state_ = State::kWaitSecondClientHello;
  send(EncryptionLevel::kInitial, bytes);
  return std::nullopt;
}

std::optional<TlsError> TlsServer::send_server_flight(const ClientHello& ch,
                                                      const KeyShareEntry& share,
                                                      SignatureScheme scheme) {
  const auto group = static_cast<NamedGroup>(share.group);
  group_ = group;
  const HashAlgorithm hash = cipher_suite_hash(*suite_);
  if (!transcript_.select(hash)) return TlsAlert::kInternalError;
  resumed_ = psk_.has_value();
  early_data_accepted_ = accept_early_data_;
  schedule_.emplace(hash);
  if (!(resumed_ ? schedule_->set_early_secret(psk_->psk.span()) : schedule_->set_early_secret()))
    return TlsAlert::kInternalError;
  if (accept_early_data_) {
    // RFC 8446 §7.1 client_early_traffic_secret over the ClientHello; RFC
    // 9001 §4.1.4: 0-RTT read keys as soon as the ClientHello is processed.
    HashValue ch_hash;
    Secret early;
    if (!transcript_.digest(&ch_hash) || !schedule_->client_early_traffic_secret(ch_hash, &early))
      return TlsAlert::kInternalError;
    keylog(KeylogLabel::kClientEarlyTrafficSecret, early);
    install(EncryptionLevel::kEarlyData, KeyDirection::kRead, early);
    wipe_secret(&early);
  }

  // ServerHello (RFC 8446 §4.1.3) with our share (§4.2.8).
  KeyShare key;
  if (std::optional<TlsAlert> a = key.generate(group)) return *a;
  SharedSecret shared;
  if (std::optional<TlsAlert> a = key.derive(share.key_exchange, &shared)) return *a;
  std::array<std::uint8_t, kTlsRandomLength> random;
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1)
    return TlsAlert::kInternalError;
  ServerHello sh;
  sh.random = random;
  sh.legacy_session_id_echo = ch.legacy_session_id;  // empty (RFC 9001 §8.4)
  sh.cipher_suite = u16(*suite_);
  sh.extensions.add(TlsExtension::kSupportedVersions);
  sh.extensions.add(TlsExtension::kKeyShare);
  sh.selected_version = kTls13Version;
  sh.key_share = {share.group, key.public_key()};
  if (resumed_) {
    sh.extensions.add(TlsExtension::kPreSharedKey);  // RFC 8446 §4.2.11
    sh.selected_identity = 0;
  }
  std::array<std::uint8_t, 256> sh_buf;
  Writer shw(sh_buf);
  if (!encode_server_hello(sh, shw)) return TlsAlert::kInternalError;
  const ByteSpan sh_bytes(sh_buf.data(), shw.written());
  if (!transcript_.update(sh_bytes)) return TlsAlert::kInternalError;

  // RFC 8446 §7.1: handshake traffic secrets over ClientHello..ServerHello.
  HashValue th;
  Secret server_hs;
  if (!transcript_.digest(&th) || !schedule_->set_handshake_secret(shared.span()) ||
      !schedule_->client_handshake_traffic_secret(th, &client_handshake_secret_) ||
      !schedule_->server_handshake_traffic_secret(th, &server_hs))
    return TlsAlert::kInternalError;

  send(EncryptionLevel::kInitial, sh_bytes);
  keylog(KeylogLabel::kClientHandshakeTrafficSecret, client_handshake_secret_);
  keylog(KeylogLabel::kServerHandshakeTrafficSecret, server_hs);
  install(EncryptionLevel::kHandshake, KeyDirection::kWrite, server_hs);
  install(EncryptionLevel::kHandshake, KeyDirection::kRead, client_handshake_secret_);

  // EncryptedExtensions, Certificate, CertificateVerify, Finished: one
  // buffer sized for the chain.
  const auto& chain = config_.credentials->chain_der();
  std::size_t size = 64 + 8 + alpn_.size() + transport_parameters_.size() + 16 +
                     (4 + 4 + kMaxSignatureLength) + (4 + kMaxHashLength);
  std::vector<CertificateEntry> entries;
  entries.reserve(chain.size());
  for (const auto& der : chain) {
    size += 5 + der.size();
    entries.push_back({ByteSpan(der), {}});
  }
  std::vector<std::uint8_t> flight(size);
  Writer w(flight);
  std::size_t mark = 0;
  auto add_to_transcript = [&] {
    const bool ok = transcript_.update(ByteSpan(flight.data() + mark, w.written() - mark));
    mark = w.written();
    return ok;
  };

  EncryptedExtensions ee;  // RFC 8446 §4.3.1
  ee.extensions.add(TlsExtension::kAlpn);
  ee.alpn = ByteSpan(reinterpret_cast<const std::uint8_t*>(alpn_.data()), alpn_.size());
  ee.extensions.add(TlsExtension::kQuicTransportParameters);
  ee.quic_transport_parameters = transport_parameters_;
  // RFC 9001 §4.6.2: early_data here is the only sign of accepted 0-RTT.
  if (accept_early_data_) ee.extensions.add(TlsExtension::kEarlyData);
  if (!encode_encrypted_extensions(ee, w) || !add_to_transcript()) return TlsAlert::kInternalError;

  if (!resumed_) {
    Certificate cert;  // RFC 8446 §4.4.2: empty context in the handshake
    cert.entries = CertificateEntryList(std::span<const CertificateEntry>(entries));
    if (!encode_certificate(cert, w) || !add_to_transcript()) return TlsAlert::kInternalError;

    // RFC 8446 §4.4.3: signed over ClientHello..Certificate.
    std::array<std::uint8_t, kMaxSignatureLength> sig;
    std::size_t sig_len = 0;
    if (!transcript_.digest(&th)) return TlsAlert::kInternalError;
    if (std::optional<TlsAlert> a = config_.credentials->sign_certificate_verify(
            scheme, th.span(), /*is_server=*/true, sig, &sig_len))
      return *a;
    CertificateVerify cv;
    cv.algorithm = static_cast<std::uint16_t>(scheme);
    cv.signature = ByteSpan(sig.data(), sig_len);
    if (!encode_certificate_verify(cv, w) || !add_to_transcript()) return TlsAlert::kInternalError;
  }  // RFC 8446 §2.2: a PSK handshake authenticates with Finished alone

  // RFC 8446 §4.4.4: Finished over ClientHello..CertificateVerify.
  HashValue verify_data;
  if (!transcript_.digest(&th) || !compute_finished(server_hs, th, &verify_data))
    return TlsAlert::kInternalError;
  wipe_secret(&server_hs);
  Finished fin;
  fin.verify_data = verify_data.span();
  if (!encode_finished(fin, w) || !add_to_transcript()) return TlsAlert::kInternalError;

  // RFC 8446 §7.1: application secrets over ClientHello..server Finished,
  // which is also what the client's Finished covers (no client Certificate).
  Secret server_ap;
  if (!transcript_.digest(&server_finished_transcript_) || !schedule_->set_master_secret() ||
      !schedule_->client_application_traffic_secret(server_finished_transcript_,
                                                    &client_application_secret_) ||
      !schedule_->server_application_traffic_secret(server_finished_transcript_, &server_ap))
    return TlsAlert::kInternalError;

  send(EncryptionLevel::kHandshake, ByteSpan(flight.data(), w.written()));
  keylog(KeylogLabel::kClientTrafficSecret0, client_application_secret_);
  keylog(KeylogLabel::kServerTrafficSecret0, server_ap);
  // RFC 9001 §4.1.4: 1-RTT write now (0.5-RTT data); read only once the
  // client's Finished arrives (RFC 9001 §5.7).
  install(EncryptionLevel::kApplication, KeyDirection::kWrite, server_ap);
  wipe_secret(&server_ap);
  state_ = State::kWaitFinished;
  return std::nullopt;
}

std::optional<TlsError> TlsServer::on_finished(const HandshakeMessage& m, std::int64_t now_ms) {
  Finished fin;
  if (std::optional<TlsAlert> a =
          parse_finished(m.body, hash_length(cipher_suite_hash(*suite_)), &fin))
    return *a;
  // RFC 8446 §4.4.4: a wrong verify_data is decrypt_error.
  if (!verify_finished(client_handshake_secret_, server_finished_transcript_, fin.verify_data))
    return TlsAlert::kDecryptError;
  if (!transcript_.update(m.bytes)) return TlsAlert::kInternalError;
  wipe_secret(&client_handshake_secret_);
  install(EncryptionLevel::kApplication, KeyDirection::kRead, client_application_secret_);
  wipe_secret(&client_application_secret_);
  state_ = State::kConnected;
  finish();
  return send_ticket(now_ms);
}

std::optional<TlsError> TlsServer::send_ticket(std::int64_t now_ms) {
  if (config_.ticket_keys == nullptr || !config_.ticket_keys->ready()) return std::nullopt;
  // A server name too long for the ticket: no ticket rather than a wrong one.
  if (server_name_.size() > 255) return std::nullopt;
  TicketState t;
  t.cipher_suite = u16(*suite_);
  t.issue_time_ms = now_ms;
  t.lifetime_s = std::min(config_.ticket_lifetime_s, kMaxTicketLifetimeSeconds);
  t.allow_early_data = config_.enable_early_data;
  t.alpn = alpn_;
  t.server_name = server_name_;
  TransportParameters ours;
  if (decode_transport_parameters(transport_parameters_, EndpointRole::kServer, &ours) !=
      TransportError::kNoError)
    t.allow_early_data = false;  // nothing sound to remember for 0-RTT
  t.transport_limits = ZeroRttTransportLimits::from(ours);
  // RFC 8446 §4.6.1: a fresh ticket_age_add per ticket; one ticket per
  // connection, so a fixed nonce keeps PSKs distinct (the resumption master
  // secret differs per connection).
  static constexpr std::uint8_t kNonce[] = {0};
  HashValue th;
  Secret rms;
  std::array<std::uint8_t, 4> age_add;
  const bool ok = RAND_bytes(age_add.data(), static_cast<int>(age_add.size())) == 1 &&
                  transcript_.digest(&th) && schedule_->resumption_master_secret(th, &rms) &&
                  ticket_psk(rms, kNonce, &t.psk);
  wipe_secret(&rms);
  if (!ok) return TlsAlert::kInternalError;
  t.ticket_age_add = (std::uint32_t{age_add[0]} << 24) | (std::uint32_t{age_add[1]} << 16) |
                     (std::uint32_t{age_add[2]} << 8) | age_add[3];
  std::vector<std::uint8_t> plain;
  std::vector<std::uint8_t> ticket;
  const bool sealed = encode_ticket_state(t, &plain) && config_.ticket_keys->seal(plain, &ticket);
  OPENSSL_cleanse(plain.data(), plain.size());
  wipe_secret(&t.psk);
  if (!sealed) return TlsAlert::kInternalError;

  NewSessionTicket nst;
  nst.ticket_lifetime = t.lifetime_s;
  nst.ticket_age_add = t.ticket_age_add;
  nst.ticket_nonce = kNonce;
  nst.ticket = ticket;
  if (t.allow_early_data) {
    nst.extensions.add(TlsExtension::kEarlyData);
    nst.max_early_data_size = kQuicMaxEarlyDataSize;  // RFC 9001 §4.6.1
  }
  std::vector<std::uint8_t> buf(64 + ticket.size());
  Writer w(buf);
  if (!encode_new_session_ticket(nst, w)) return TlsAlert::kInternalError;
  // RFC 9001 §4.1.3: post-handshake messages go at the 1-RTT level.
  send(EncryptionLevel::kApplication, ByteSpan(buf.data(), w.written()));
  return std::nullopt;
}

// The ticket went with our reply to the client's Finished; nothing more
// comes (expects() refuses every message in kConnected).
void TlsServer::release_handshake_state() {
  TlsEngine::release_handshake_state();
  if (state_ != State::kConnected) return;
  { TranscriptHash released = std::move(transcript_); }
  schedule_.reset();
  wipe_secret(&client_handshake_secret_);
  wipe_secret(&client_application_secret_);
  if (psk_) wipe_secret(&psk_->psk);
  psk_.reset();
  transport_parameters_ = {};
  peer_transport_parameters_ = {};
}

}  // namespace dquic
