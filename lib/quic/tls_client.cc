#include "quic/tls_client.h"

#include <arpa/inet.h>
#include <openssl/rand.h>

#include <algorithm>

namespace dquic {

namespace {

// signature_algorithms: what we accept in CertificateVerify (RFC 8446
// §4.2.3, §4.4.3).
constexpr std::array<SignatureScheme, 6> kSchemes = {
    SignatureScheme::kEcdsaSecp256r1Sha256, SignatureScheme::kEcdsaSecp384r1Sha384,
    SignatureScheme::kRsaPssRsaeSha256,     SignatureScheme::kRsaPssRsaeSha384,
    SignatureScheme::kRsaPssRsaeSha512,     SignatureScheme::kEd25519};
constexpr std::array<std::uint16_t, 6> kSchemesWire = {0x0403, 0x0503, 0x0804,
                                                       0x0805, 0x0806, 0x0807};
// signature_algorithms_cert (RFC 8446 §4.2.3): certificates may also be
// signed with RSASSA-PKCS1-v1_5, as most public CAs' are; the chain check is
// the verifier's.
constexpr std::array<std::uint16_t, 9> kCertSchemesWire = {0x0403, 0x0503, 0x0804, 0x0805, 0x0806,
                                                           0x0807, 0x0401, 0x0501, 0x0601};
constexpr std::array<std::uint16_t, 1> kVersionsWire = {kTls13Version};

bool is_ip_literal(const std::string& name) {
  std::array<std::uint8_t, 16> addr;
  return inet_pton(AF_INET, name.c_str(), addr.data()) == 1 ||
         inet_pton(AF_INET6, name.c_str(), addr.data()) == 1;
}

bool offered(const std::vector<std::uint16_t>& list, std::uint16_t v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

std::span<const SignatureScheme> TlsClient::offered_signature_schemes() {
  return kSchemes;
}

TlsClient::TlsClient(const TlsClientConfig& config, ByteSpan transport_parameters, TlsSink* sink)
    : TlsEngine(EndpointRole::kClient, sink),
      config_(config),
      transport_parameters_(transport_parameters.begin(), transport_parameters.end()) {
  server_name_ = config.server_name;
}

TlsClient::~TlsClient() {
  wipe_secret(&client_handshake_secret_);
  wipe_secret(&server_handshake_secret_);
  wipe_secret(&resumption_master_secret_);
  if (session_) wipe_secret(&session_->psk);
}

bool TlsClient::offer_session(const TlsSession& session, std::int64_t now_ms, bool early_data) {
  if (state_ != State::kIdle || !session.valid_at(now_ms) || session.ticket.empty() ||
      session.ticket.size() > 0xffff || session.psk.length == 0 ||
      !is_supported_cipher_suite(session.cipher_suite) ||
      session.server_name != config_.server_name)
    return false;
  const auto suite = static_cast<CipherSuite>(session.cipher_suite);
  // RFC 8446 §4.2.11: the PSK's hash must be one some offered suite uses.
  const bool hash_offered =
      std::any_of(config_.cipher_suites.begin(), config_.cipher_suites.end(),
                  [&](CipherSuite s) { return cipher_suite_hash(s) == session.psk.hash; });
  if (!hash_offered || cipher_suite_hash(suite) != session.psk.hash) return false;
  session_ = session;
  // RFC 8446 §4.2.11.1: age in ms plus ticket_age_add, mod 2^32. One ms less
  // than measured: both ends round to whole ms, and a server that rejects an
  // age above its own view (GnuTLS's anti-replay check) refused 0-RTT now
  // and then over a sub-millisecond path when the roundings differed by one.
  const std::int64_t age = std::max<std::int64_t>(0, now_ms - session.received_ms - 1);
  obfuscated_ticket_age_ = static_cast<std::uint32_t>(age) + session.ticket_age_add;
  // RFC 8446 §4.2.10: 0-RTT uses the session's suite and ALPN, so both must
  // still be ours.
  const bool suite_offered = std::find(config_.cipher_suites.begin(), config_.cipher_suites.end(),
                                       suite) != config_.cipher_suites.end();
  const bool alpn_offered =
      std::find(config_.alpn.begin(), config_.alpn.end(), session.alpn) != config_.alpn.end();
  early_data_offered_ = early_data && session.allows_early_data && suite_offered && alpn_offered;
  return true;
}

bool TlsClient::write_binder(std::span<std::uint8_t> message, std::size_t binders_offset) {
  const HashAlgorithm hash = session_->psk.hash;
  TlsKeySchedule early(hash);
  Secret binder_key;
  HashValue th;
  HashValue binder;
  // RFC 8446 §4.2.11.2: over the transcript so far (message_hash and the
  // HelloRetryRequest on a second ClientHello) and the truncated ClientHello.
  const bool ok = early.set_early_secret(session_->psk.span()) &&
                  early.binder_key(PskKind::kResumption, &binder_key) &&
                  transcript_.digest_with_tail(
                      hash, client_hello_binder_prefix(message, binders_offset), &th) &&
                  compute_psk_binder(binder_key, th, &binder);
  wipe_secret(&binder_key);
  const ByteSpan binders[] = {binder.span()};
  return ok && write_client_hello_binders(message, binders_offset, binders);
}

void TlsClient::keylog(KeylogLabel label, const Secret& s) const {
  emit_keylog(config_.keylog, label, client_random_, s);
}

bool TlsClient::expects(EncryptionLevel level, HandshakeType type) const {
  using T = HandshakeType;
  if (state_ == State::kWaitServerHello)
    return level == EncryptionLevel::kInitial && type == T::kServerHello;
  if (state_ == State::kConnected)
    return level == EncryptionLevel::kApplication && type == T::kNewSessionTicket;
  if (level != EncryptionLevel::kHandshake) return false;
  switch (state_) {
    case State::kWaitEncryptedExtensions:
      return type == T::kEncryptedExtensions;
    case State::kWaitCertificateOrRequest:
      return type == T::kCertificate || type == T::kCertificateRequest;
    case State::kWaitCertificate:
      return type == T::kCertificate;
    case State::kWaitCertificateVerify:
      return type == T::kCertificateVerify;
    case State::kWaitFinished:
      return type == T::kFinished;
    default:
      return false;
  }
}

std::optional<TlsError> TlsClient::handle(EncryptionLevel, const HandshakeMessage& m,
                                          std::int64_t now_ms) {
  switch (m.type) {
    case HandshakeType::kServerHello:
      return on_server_hello(m);
    case HandshakeType::kEncryptedExtensions:
      return on_encrypted_extensions(m);
    case HandshakeType::kCertificateRequest:
      return on_certificate_request(m);
    case HandshakeType::kCertificate:
      return on_certificate(m, now_ms);
    case HandshakeType::kCertificateVerify:
      return on_certificate_verify(m);
    case HandshakeType::kFinished:
      return on_finished(m);
    case HandshakeType::kNewSessionTicket:
      return on_new_session_ticket(m, now_ms);
    default:
      return TlsAlert::kUnexpectedMessage;  // expects() lets nothing else through
  }
}

std::optional<TlsError> TlsClient::start() {
  if (state_ != State::kIdle || error_) return fail(TlsAlert::kInternalError);
  const bool verifies = config_.server_authentication == ServerAuthentication::kVerify;
  if ((verifies && config_.verifier == nullptr) || config_.alpn.empty() ||
      config_.cipher_suites.empty() || config_.groups.empty())
    return fail(TlsAlert::kInternalError);
  for (CipherSuite s : config_.cipher_suites)
    suites_wire_.push_back(static_cast<std::uint16_t>(s));
  for (NamedGroup g : config_.groups) {
    if (offered(groups_wire_, static_cast<std::uint16_t>(g))) return fail(TlsAlert::kInternalError);
    groups_wire_.push_back(static_cast<std::uint16_t>(g));
  }
  for (const std::string& p : config_.alpn) {
    if (p.empty() || p.size() > 255) return fail(TlsAlert::kInternalError);
    alpn_wire_.emplace_back(reinterpret_cast<const std::uint8_t*>(p.data()), p.size());
  }
  send_sni_ = !config_.server_name.empty() && !is_ip_literal(config_.server_name);
  if (RAND_bytes(client_random_.data(), static_cast<int>(client_random_.size())) != 1)
    return fail(TlsAlert::kInternalError);
  if (std::optional<TlsAlert> a = key_share_.generate(config_.groups[0])) return fail(*a);
  state_ = State::kWaitServerHello;
  if (std::optional<TlsError> e = send_client_hello()) return fail(*e);
  return std::nullopt;
}

std::optional<TlsError> TlsClient::send_client_hello() {
  ClientHello ch;
  ch.random = client_random_;
  // legacy_session_id stays empty: RFC 9001 §8.4.
  ch.cipher_suites = U16List(std::span<const std::uint16_t>(suites_wire_));
  ExtensionSet& x = ch.extensions;
  if (send_sni_) {
    x.add(TlsExtension::kServerName);
    ch.server_name = ByteSpan(reinterpret_cast<const std::uint8_t*>(config_.server_name.data()),
                              config_.server_name.size());
  }
  x.add(TlsExtension::kSupportedGroups);
  ch.supported_groups = U16List(std::span<const std::uint16_t>(groups_wire_));
  x.add(TlsExtension::kSignatureAlgorithms);
  ch.signature_algorithms = U16List(std::span<const std::uint16_t>(kSchemesWire));
  x.add(TlsExtension::kSignatureAlgorithmsCert);
  ch.signature_algorithms_cert = U16List(std::span<const std::uint16_t>(kCertSchemesWire));
  x.add(TlsExtension::kAlpn);
  ch.alpn = OpaqueList(std::span<const ByteSpan>(alpn_wire_));
  x.add(TlsExtension::kSupportedVersions);  // RFC 8446 §4.2.1: TLS 1.3 only
  ch.supported_versions = U16List(std::span<const std::uint16_t>(kVersionsWire));
  x.add(TlsExtension::kKeyShare);
  const KeyShareEntry share{static_cast<std::uint16_t>(key_share_.group()),
                            key_share_.public_key()};
  ch.key_shares = KeyShareList(std::span<const KeyShareEntry>(&share, 1));
  x.add(TlsExtension::kQuicTransportParameters);
  ch.quic_transport_parameters = transport_parameters_;
  if (!cookie_.empty()) {
    x.add(TlsExtension::kCookie);
    ch.cookie = cookie_;
  }
  // RFC 8446 §4.2.9: PSK with (EC)DHE only, so a resumed session keeps
  // forward secrecy.
  static constexpr std::uint8_t kModes[] = {kPskDheKe};
  const std::array<std::uint8_t, kMaxHashLength> placeholder{};
  PskIdentity identity;
  ByteSpan placeholder_binder;
  if (session_) {
    x.add(TlsExtension::kPskKeyExchangeModes);
    ch.psk_key_exchange_modes = kModes;
    x.add(TlsExtension::kPreSharedKey);
    identity.identity = session_->ticket;
    identity.obfuscated_ticket_age = obfuscated_ticket_age_;
    ch.psk_identities = PskIdentityList(std::span<const PskIdentity>(&identity, 1));
    placeholder_binder = ByteSpan(placeholder.data(), hash_length(session_->psk.hash));
    ch.psk_binders = OpaqueList(std::span<const ByteSpan>(&placeholder_binder, 1));
    // RFC 8446 §4.2.10: never in the ClientHello that answers a retry.
    if (early_data_offered_ && !hello_retry_) x.add(TlsExtension::kEarlyData);
  }
  std::size_t size = 512 + config_.server_name.size() + transport_parameters_.size() +
                     cookie_.size() + 2 * suites_wire_.size() + 2 * groups_wire_.size() +
                     (session_ ? session_->ticket.size() + 64 + kMaxHashLength : 0);
  for (ByteSpan p : alpn_wire_)
    size += 1 + p.size();
  std::vector<std::uint8_t> buf(size);
  Writer w(buf);
  std::size_t binders_offset = 0;
  if (!encode_client_hello(ch, w, &binders_offset)) return TlsAlert::kInternalError;
  const std::span<std::uint8_t> bytes(buf.data(), w.written());
  if (session_ && !write_binder(bytes, binders_offset)) return TlsAlert::kInternalError;
  if (!transcript_.update(bytes)) return TlsAlert::kInternalError;
  send(EncryptionLevel::kInitial, bytes);
  if (x.has(TlsExtension::kEarlyData)) {
    // RFC 8446 §7.1: client_early_traffic_secret over ClientHello; RFC 9001
    // §4.1.4: available to the transport right after the ClientHello.
    const auto suite = static_cast<CipherSuite>(session_->cipher_suite);
    TlsKeySchedule early(session_->psk.hash);
    HashValue th;
    Secret secret;
    if (!early.set_early_secret(session_->psk.span()) ||
        !transcript_.digest(session_->psk.hash, &th) ||
        !early.client_early_traffic_secret(th, &secret))
      return TlsAlert::kInternalError;
    keylog(KeylogLabel::kClientEarlyTrafficSecret, secret);
    sink_->on_secret(EncryptionLevel::kEarlyData, KeyDirection::kWrite, cipher_suite_aead(suite),
                     secret);
    wipe_secret(&secret);
  }
  return std::nullopt;
}

std::optional<TlsError> TlsClient::on_server_hello(const HandshakeMessage& m) {
  ServerHello sh;
  if (std::optional<TlsAlert> a = parse_server_hello(m.body, &sh)) return *a;
  const ExtensionSet& x = sh.extensions;
  // RFC 8446 §4.2.1: no supported_versions means a TLS 1.2 (or older)
  // server; one naming anything but TLS 1.3 was not offered.
  if (!x.has(TlsExtension::kSupportedVersions)) return TlsAlert::kProtocolVersion;
  if (sh.selected_version != kTls13Version) return TlsAlert::kIllegalParameter;
  // RFC 8446 §4.1.3: the echo must match what we sent (nothing).
  if (!sh.legacy_session_id_echo.empty()) return TlsAlert::kIllegalParameter;
  // RFC 8446 §4.1.3: a suite we did not offer.
  if (!offered(suites_wire_, sh.cipher_suite)) return TlsAlert::kIllegalParameter;
  // RFC 8446 §4.2: only extensions we offered; pre_shared_key only when
  // we offered a PSK, and never in a HelloRetryRequest.
  if (!sh.other_extensions.empty() ||
      (x.has(TlsExtension::kPreSharedKey) && (!session_ || sh.is_hello_retry_request())))
    return TlsAlert::kUnsupportedExtension;
  if (sh.is_hello_retry_request()) return on_hello_retry_request(m, sh);
  if (x.has(TlsExtension::kPreSharedKey)) {
    // RFC 8446 §4.2.11: our only identity, under a suite of the PSK's hash.
    if (sh.selected_identity != 0 ||
        cipher_suite_hash(static_cast<CipherSuite>(sh.cipher_suite)) != session_->psk.hash)
      return TlsAlert::kIllegalParameter;
    resumed_ = true;
  }

  const auto suite = static_cast<CipherSuite>(sh.cipher_suite);
  // RFC 8446 §4.1.4: the ServerHello keeps the HelloRetryRequest's suite.
  if (hello_retry_ && suite != *suite_) return TlsAlert::kIllegalParameter;
  // Without a PSK the server must answer our share (RFC 8446 §4.2.8, §9.2).
  if (!x.has(TlsExtension::kKeyShare)) return TlsAlert::kMissingExtension;
  if (sh.key_share.group != static_cast<std::uint16_t>(key_share_.group()))
    return TlsAlert::kIllegalParameter;
  SharedSecret shared;
  if (std::optional<TlsAlert> a = key_share_.derive(sh.key_share.key_exchange, &shared)) return *a;
  key_share_ = KeyShare();  // the private key has done its work

  suite_ = suite;
  group_ = static_cast<NamedGroup>(sh.key_share.group);
  const HashAlgorithm hash = cipher_suite_hash(suite);
  HashValue th;
  schedule_.emplace(hash);
  if (!transcript_.select(hash) || !transcript_.update(m.bytes) || !transcript_.digest(&th) ||
      !(resumed_ ? schedule_->set_early_secret(session_->psk.span())
                 : schedule_->set_early_secret()) ||
      !schedule_->set_handshake_secret(shared.span()) ||
      !schedule_->client_handshake_traffic_secret(th, &client_handshake_secret_) ||
      !schedule_->server_handshake_traffic_secret(th, &server_handshake_secret_))
    return TlsAlert::kInternalError;
  keylog(KeylogLabel::kClientHandshakeTrafficSecret, client_handshake_secret_);
  keylog(KeylogLabel::kServerHandshakeTrafficSecret, server_handshake_secret_);
  install(EncryptionLevel::kHandshake, KeyDirection::kRead, server_handshake_secret_);
  install(EncryptionLevel::kHandshake, KeyDirection::kWrite, client_handshake_secret_);
  state_ = State::kWaitEncryptedExtensions;
  return std::nullopt;
}

std::optional<TlsError> TlsClient::on_hello_retry_request(const HandshakeMessage& m,
                                                          const ServerHello& hrr) {
  // RFC 8446 §4.1.4: at most one HelloRetryRequest.
  if (hello_retry_) return TlsAlert::kUnexpectedMessage;
  const ExtensionSet& x = hrr.extensions;
  if (x.has(TlsExtension::kKeyShare)) {
    // A group we offered, and not the one we already sent a share for.
    if (!offered(groups_wire_, hrr.selected_group) ||
        hrr.selected_group == static_cast<std::uint16_t>(key_share_.group()))
      return TlsAlert::kIllegalParameter;
  } else if (!x.has(TlsExtension::kCookie)) {
    return TlsAlert::kIllegalParameter;  // it would change nothing (§4.1.4)
  }
  suite_ = static_cast<CipherSuite>(hrr.cipher_suite);
  hello_retry_ = true;
  // RFC 8446 §4.4.1: ClientHello1 becomes message_hash.
  if (!transcript_.restart_for_hello_retry() || !transcript_.select(cipher_suite_hash(*suite_)) ||
      !transcript_.update(m.bytes))
    return TlsAlert::kInternalError;
  if (x.has(TlsExtension::kCookie)) cookie_.assign(hrr.cookie.begin(), hrr.cookie.end());
  // RFC 8446 §4.1.4: a PSK whose hash the retry's suite does not use cannot
  // be selected; drop it from the second ClientHello.
  if (session_ && session_->psk.hash != cipher_suite_hash(*suite_)) {
    wipe_secret(&session_->psk);
    session_.reset();
  }
  if (x.has(TlsExtension::kKeyShare)) {
    key_share_ = KeyShare();
    if (std::optional<TlsAlert> a =
            key_share_.generate(static_cast<NamedGroup>(hrr.selected_group)))
      return *a;
  }
  // RFC 8446 §4.1.2: the same ClientHello but for the new share and cookie.
  return send_client_hello();
}

std::optional<TlsError> TlsClient::on_encrypted_extensions(const HandshakeMessage& m) {
  EncryptedExtensions ee;
  if (std::optional<TlsAlert> a = parse_encrypted_extensions(m.body, &ee)) return *a;
  const ExtensionSet& x = ee.extensions;
  // RFC 8446 §4.2: nothing we did not offer (no unknown extensions;
  // early_data only in answer to ours; server_name only when we sent SNI).
  const bool early_sent = early_data_offered_ && !hello_retry_;
  if (!ee.other_extensions.empty() || (x.has(TlsExtension::kEarlyData) && !early_sent) ||
      (x.has(TlsExtension::kServerName) && !send_sni_))
    return TlsAlert::kUnsupportedExtension;
  // RFC 9001 §8.1: ALPN is mandatory; the choice must be one we offered.
  if (!x.has(TlsExtension::kAlpn)) return TlsAlert::kNoApplicationProtocol;
  const auto chosen = std::find_if(alpn_wire_.begin(), alpn_wire_.end(),
                                   [&](ByteSpan p) { return bytes_equal(p, ee.alpn); });
  if (chosen == alpn_wire_.end()) return TlsAlert::kIllegalParameter;
  // RFC 9001 §8.2.
  if (!x.has(TlsExtension::kQuicTransportParameters)) return TlsAlert::kMissingExtension;
  alpn_.assign(reinterpret_cast<const char*>(ee.alpn.data()), ee.alpn.size());
  if (x.has(TlsExtension::kEarlyData)) {
    // RFC 8446 §4.2.10: accepted 0-RTT needs the PSK that carried it, its
    // suite and its ALPN.
    if (!resumed_ || static_cast<std::uint16_t>(*suite_) != session_->cipher_suite ||
        alpn_ != session_->alpn)
      return TlsAlert::kIllegalParameter;
    early_data_accepted_ = true;
  }
  peer_transport_parameters_.assign(ee.quic_transport_parameters.begin(),
                                    ee.quic_transport_parameters.end());
  if (!transcript_.update(m.bytes)) return TlsAlert::kInternalError;
  // RFC 8446 §2.2: with a PSK the server authenticates by its Finished.
  state_ = resumed_ ? State::kWaitFinished : State::kWaitCertificateOrRequest;
  return std::nullopt;
}

std::optional<TlsError> TlsClient::on_certificate_request(const HandshakeMessage& m) {
  // RFC 8446 §4.3.2: we have no client certificate and answer with an empty
  // Certificate (§4.4.2.4 lets the server decide whether that is enough).
  CertificateRequest cr;
  if (std::optional<TlsAlert> a = parse_certificate_request(m.body, &cr)) return *a;
  certificate_requested_ = true;
  certificate_request_context_.assign(cr.request_context.begin(), cr.request_context.end());
  if (!transcript_.update(m.bytes)) return TlsAlert::kInternalError;
  state_ = State::kWaitCertificate;
  return std::nullopt;
}

std::optional<TlsError> TlsClient::on_certificate(const HandshakeMessage& m, std::int64_t now_ms) {
  Certificate cert;
  if (std::optional<TlsAlert> a = parse_certificate(m.body, &cert)) return *a;
  // RFC 8446 §4.4.2: the context is empty for server authentication.
  if (!cert.request_context.empty()) return TlsAlert::kIllegalParameter;
  // RFC 8446 §4.4.2.4: an empty chain is decode_error.
  if (cert.entries.empty()) return TlsAlert::kDecodeError;
  if (cert.entries.size() > kMaxChainLength) return TlsAlert::kCertificateUnknown;
  std::array<ByteSpan, kMaxChainLength> chain;
  std::size_t n = 0;
  for (const CertificateEntry& e : cert.entries) {
    // RFC 8446 §4.4.2: entry extensions answer ClientHello extensions
    // (status_request, SCT), and we send none.
    if (!e.extensions.empty()) return TlsAlert::kUnsupportedExtension;
    chain[n++] = e.cert_data;
  }
  const std::int64_t now_s = now_ms >= 0 ? now_ms / 1000 : -((-now_ms + 999) / 1000);
  // Load generation: the chain is neither decoded nor checked (tls_client.h).
  if (config_.server_authentication == ServerAuthentication::kVerify) {
    if (std::optional<TlsAlert> a = config_.verifier->verify(
            std::span<const ByteSpan>(chain.data(), n), config_.server_name, now_s, &leaf_))
      return *a;
  }
  if (!transcript_.update(m.bytes)) return TlsAlert::kInternalError;
  state_ = State::kWaitCertificateVerify;
  return std::nullopt;
}

std::optional<TlsError> TlsClient::on_certificate_verify(const HandshakeMessage& m) {
  CertificateVerify cv;
  if (std::optional<TlsAlert> a = parse_certificate_verify(m.body, &cv)) return *a;
  HashValue th;  // RFC 8446 §4.4.3: ClientHello..Certificate
  if (!transcript_.digest(&th)) return TlsAlert::kInternalError;
  if (config_.server_authentication == ServerAuthentication::kVerify) {
    if (std::optional<TlsAlert> a = verify_certificate_verify(
            leaf_, cv.algorithm, kSchemes, th.span(), /*is_server=*/true, cv.signature))
      return *a;
  } else if (std::find(kSchemes.begin(), kSchemes.end(),
                       static_cast<SignatureScheme>(cv.algorithm)) == kSchemes.end()) {
    // RFC 8446 §4.4.3: a scheme we did not offer is still refused.
    return TlsAlert::kIllegalParameter;
  }
  if (!transcript_.update(m.bytes)) return TlsAlert::kInternalError;
  state_ = State::kWaitFinished;
  return std::nullopt;
}

std::optional<TlsError> TlsClient::on_finished(const HandshakeMessage& m) {
  const HashAlgorithm hash = cipher_suite_hash(*suite_);
  Finished fin;
  if (std::optional<TlsAlert> a = parse_finished(m.body, hash_length(hash), &fin)) return *a;
  HashValue th;  // RFC 8446 §4.4.4: ClientHello..CertificateVerify
  if (!transcript_.digest(&th)) return TlsAlert::kInternalError;
  if (!verify_finished(server_handshake_secret_, th, fin.verify_data))
    return TlsAlert::kDecryptError;
  wipe_secret(&server_handshake_secret_);

  // RFC 8446 §7.1: application secrets over ClientHello..server Finished.
  Secret client_ap;
  Secret server_ap;
  if (!transcript_.update(m.bytes) || !transcript_.digest(&th) || !schedule_->set_master_secret() ||
      !schedule_->client_application_traffic_secret(th, &client_ap) ||
      !schedule_->server_application_traffic_secret(th, &server_ap))
    return TlsAlert::kInternalError;

  std::array<std::uint8_t, 4 + 4 + 255 + 4 + kMaxHashLength> buf;
  Writer w(buf);
  if (certificate_requested_) {
    // RFC 8446 §4.4.2: an empty Certificate with the request's context.
    Certificate cert;
    cert.request_context = certificate_request_context_;
    if (!encode_certificate(cert, w) || !transcript_.update(ByteSpan(buf.data(), w.written())))
      return TlsAlert::kInternalError;
  }
  const std::size_t fin_at = w.written();
  HashValue verify_data;
  if (!transcript_.digest(&th) || !compute_finished(client_handshake_secret_, th, &verify_data))
    return TlsAlert::kInternalError;
  Finished ours;
  ours.verify_data = verify_data.span();
  if (!encode_finished(ours, w) ||
      !transcript_.update(ByteSpan(buf.data() + fin_at, w.written() - fin_at)))
    return TlsAlert::kInternalError;
  wipe_secret(&client_handshake_secret_);
  // RFC 8446 §7.1: over ClientHello..client Finished, for tickets.
  if (!transcript_.digest(&th) ||
      !schedule_->resumption_master_secret(th, &resumption_master_secret_))
    return TlsAlert::kInternalError;

  send(EncryptionLevel::kHandshake, ByteSpan(buf.data(), w.written()));
  keylog(KeylogLabel::kClientTrafficSecret0, client_ap);
  keylog(KeylogLabel::kServerTrafficSecret0, server_ap);
  install(EncryptionLevel::kApplication, KeyDirection::kWrite, client_ap);
  install(EncryptionLevel::kApplication, KeyDirection::kRead, server_ap);
  wipe_secret(&client_ap);
  wipe_secret(&server_ap);
  state_ = State::kConnected;
  finish();
  return std::nullopt;
}

std::optional<TlsError> TlsClient::on_new_session_ticket(const HandshakeMessage& m,
                                                         std::int64_t now_ms) {
  NewSessionTicket t;
  if (std::optional<TlsAlert> a = parse_new_session_ticket(m.body, &t)) return *a;
  // RFC 9001 §4.6.1: early_data with any other size is a PROTOCOL_VIOLATION.
  const bool early = t.extensions.has(TlsExtension::kEarlyData);
  if (early && t.max_early_data_size != kQuicMaxEarlyDataSize)
    return TlsError::transport_error(TransportError::kProtocolViolation);
  // RFC 8446 §4.6.1: lifetime 0 means do not use; never keep over 7 days.
  if (t.ticket_lifetime == 0 || !config_.session_store) return std::nullopt;
  TlsSession s;
  if (!ticket_psk(resumption_master_secret_, t.ticket_nonce, &s.psk))
    return TlsAlert::kInternalError;
  s.ticket.assign(t.ticket.begin(), t.ticket.end());
  s.cipher_suite = static_cast<std::uint16_t>(*suite_);
  s.alpn = alpn_;
  s.server_name = config_.server_name;
  s.ticket_age_add = t.ticket_age_add;
  s.lifetime_s = std::min(t.ticket_lifetime, kMaxTicketLifetimeSeconds);
  s.received_ms = now_ms;
  s.allows_early_data = early;
  s.transport_parameters = peer_transport_parameters_;
  config_.session_store(s);
  wipe_secret(&s.psk);
  return std::nullopt;
}

// Only NewSessionTicket may come now (expects()): it needs the resumption
// secret, the suite, the ALPN and, for the session store, the server's
// transport parameters.
void TlsClient::release_handshake_state() {
  TlsEngine::release_handshake_state();
  if (state_ != State::kConnected) return;
  { TranscriptHash released = std::move(transcript_); }
  schedule_.reset();
  wipe_secret(&client_handshake_secret_);
  wipe_secret(&server_handshake_secret_);
  leaf_ = PeerCertificate();
  key_share_ = KeyShare();
  transport_parameters_ = {};
  suites_wire_ = {};
  groups_wire_ = {};
  alpn_wire_ = {};
  cookie_ = {};
  certificate_request_context_ = {};
  session_.reset();
  if (!config_.session_store) peer_transport_parameters_ = {};
}

}  // namespace dquic
