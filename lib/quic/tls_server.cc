#include "quic/tls_server.h"

#include <openssl/rand.h>

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
                                          std::int64_t) {
  if (m.type == HandshakeType::kClientHello) return on_client_hello(m);
  return on_finished(m);
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

std::optional<TlsError> TlsServer::on_client_hello(const HandshakeMessage& m) {
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
  alpn_.assign(alpn);
  if (x.has(TlsExtension::kServerName)) {
    server_name_.assign(reinterpret_cast<const char*>(ch.server_name.data()),
                        ch.server_name.size());
  }
  peer_transport_parameters_.assign(ch.quic_transport_parameters.begin(),
                                    ch.quic_transport_parameters.end());
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
  std::array<std::uint8_t, 256> sh_buf;
  Writer shw(sh_buf);
  if (!encode_server_hello(sh, shw)) return TlsAlert::kInternalError;
  const ByteSpan sh_bytes(sh_buf.data(), shw.written());
  if (!transcript_.update(sh_bytes)) return TlsAlert::kInternalError;

  // RFC 8446 §7.1: handshake traffic secrets over ClientHello..ServerHello.
  HashValue th;
  Secret server_hs;
  schedule_.emplace(hash);
  if (!transcript_.digest(&th) || !schedule_->set_early_secret() ||
      !schedule_->set_handshake_secret(shared.span()) ||
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
  if (!encode_encrypted_extensions(ee, w) || !add_to_transcript()) return TlsAlert::kInternalError;

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

std::optional<TlsError> TlsServer::on_finished(const HandshakeMessage& m) {
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
  return std::nullopt;
}

}  // namespace dquic
