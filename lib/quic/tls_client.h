// TLS 1.3 client handshake for QUIC (RFC 8446 §2, §4; RFC 9001 §4, §8):
// ClientHello → [HelloRetryRequest → ClientHello] → ServerHello,
// EncryptedExtensions, [CertificateRequest], Certificate, CertificateVerify,
// Finished → [empty Certificate], Finished. With a stored session
// (offer_session) the ClientHello carries pre_shared_key (psk_dhe_ke) and,
// if asked, early_data; a server accepting the PSK skips Certificate and
// CertificateVerify (RFC 8446 §2.2-2.3). NewSessionTicket after the
// handshake becomes a TlsSession handed to TlsClientConfig::session_store.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "quic/tls_credentials.h"
#include "quic/tls_engine.h"
#include "quic/tls_key_schedule.h"
#include "quic/tls_ticket.h"

namespace dquic {

// How the client authenticates the server (RFC 8446 §4.4.2-4.4.3).
enum class ServerAuthentication : std::uint8_t {
  // The default and the only mode for real traffic: the verifier checks the
  // chain and the name, and CertificateVerify's signature is checked with
  // the leaf's key.
  kVerify,
  // LOAD GENERATORS ONLY (quic-perf --insecure-no-verify): no chain, name or
  // CertificateVerify signature check; the leaf is not even decoded. The
  // messages are still parsed and the server's Finished is still checked,
  // which proves only that the peer ran this key exchange: anyone can
  // impersonate the server. Makes the client cheap so that a benchmark
  // measures the server. Must be set explicitly; no default or profile
  // selects it.
  kInsecureNoneForLoadGeneration,
};

// Must outlive the clients that use it.
struct TlsClientConfig {
  // DNS name or IPv4/IPv6 literal the certificate must match. A DNS name is
  // sent as SNI; an IP literal is not (RFC 6066 §3) but is still checked
  // against the certificate's IP SANs.
  std::string server_name;
  // ALPN offers in preference order (RFC 7301); at least one (RFC 9001 §8.1).
  std::vector<std::string> alpn;
  std::vector<CipherSuite> cipher_suites{kDefaultCipherSuites.begin(), kDefaultCipherSuites.end()};
  // Groups offered, preferred first; the first gets a key share and
  // the server may ask for another with HelloRetryRequest.
  std::vector<NamedGroup> groups{kDefaultGroups.begin(), kDefaultGroups.end()};
  // Required (except with kInsecureNoneForLoadGeneration, which does not
  // use it). Its TrustOptions::insecure_skip_verify skips chain and name
  // checks (CertificateVerify is still checked against the leaf's key).
  const CertificateVerifier* verifier = nullptr;
  ServerAuthentication server_authentication = ServerAuthentication::kVerify;
  KeylogSink keylog;  // off when empty
  // Receives each session the server's NewSessionTicket makes resumable
  // (RFC 8446 §4.6.1), for the application to persist and give to
  // offer_session() later. Called from inside receive(); off when empty.
  std::function<void(const TlsSession&)> session_store;
};

class TlsClient final : public TlsEngine {
 public:
  // `transport_parameters` is the encoded quic_transport_parameters
  // extension_data (RFC 9001 §8.2), copied. `config` and `sink` must outlive
  // the client.
  TlsClient(const TlsClientConfig& config, ByteSpan transport_parameters, TlsSink* sink);
  ~TlsClient() override;

  // Sends the ClientHello at the Initial level. Once only.
  [[nodiscard]] std::optional<TlsError> start();

  // Before start(): offers `session` for resumption (RFC 8446 §4.2.11), with
  // its ticket age taken at now_ms, and asks for 0-RTT if `early_data` and
  // the ticket allows it (RFC 9001 §4.6.1). False, with nothing offered, if
  // the session is expired or does not fit this configuration (suite, ALPN,
  // server name). With 0-RTT, start() installs the kEarlyData write secret
  // right after the ClientHello (RFC 9001 §4.1.4).
  [[nodiscard]] bool offer_session(const TlsSession& session, std::int64_t now_ms, bool early_data);
  // 0-RTT was offered (early_data in the first ClientHello).
  bool early_data_offered() const { return early_data_offered_; }
  // The server transport parameters remembered with the offered session
  // (RFC 9000 §7.4.1): what 0-RTT must respect until the handshake gives
  // the new ones. Empty when no session is offered.
  ByteSpan remembered_transport_parameters() const {
    return session_ ? ByteSpan(session_->transport_parameters) : ByteSpan();
  }

  void release_handshake_state() override;

  // The schemes we accept in CertificateVerify (signature_algorithms).
  static std::span<const SignatureScheme> offered_signature_schemes();

 private:
  enum class State : std::uint8_t {
    kIdle,
    kWaitServerHello,
    kWaitEncryptedExtensions,
    kWaitCertificateOrRequest,
    kWaitCertificate,  // after CertificateRequest
    kWaitCertificateVerify,
    kWaitFinished,
    kConnected,
  };

  bool expects(EncryptionLevel level, HandshakeType type) const override;
  std::optional<TlsError> handle(EncryptionLevel level, const HandshakeMessage& m,
                                 std::int64_t now_ms) override;
  std::optional<TlsError> send_client_hello();
  // RFC 8446 §4.2.11.2: fills in the binder of the encoded ClientHello.
  bool write_binder(std::span<std::uint8_t> message, std::size_t binders_offset);
  std::optional<TlsError> on_server_hello(const HandshakeMessage& m);
  std::optional<TlsError> on_hello_retry_request(const HandshakeMessage& m, const ServerHello& sh);
  std::optional<TlsError> on_encrypted_extensions(const HandshakeMessage& m);
  std::optional<TlsError> on_certificate_request(const HandshakeMessage& m);
  std::optional<TlsError> on_certificate(const HandshakeMessage& m, std::int64_t now_ms);
  std::optional<TlsError> on_certificate_verify(const HandshakeMessage& m);
  std::optional<TlsError> on_finished(const HandshakeMessage& m);
  std::optional<TlsError> on_new_session_ticket(const HandshakeMessage& m, std::int64_t now_ms);
  void keylog(KeylogLabel label, const Secret& s) const;

  const TlsClientConfig& config_;
  std::vector<std::uint8_t> transport_parameters_;
  State state_ = State::kIdle;
  bool send_sni_ = false;
  std::vector<std::uint16_t> suites_wire_;
  std::vector<std::uint16_t> groups_wire_;
  std::vector<ByteSpan> alpn_wire_;  // into config_.alpn
  std::array<std::uint8_t, kTlsRandomLength> client_random_{};
  KeyShare key_share_;
  std::vector<std::uint8_t> cookie_;  // from HelloRetryRequest, echoed (RFC 8446 §4.2.2)
  TranscriptHash transcript_;
  std::optional<TlsKeySchedule> schedule_;
  Secret client_handshake_secret_;
  Secret server_handshake_secret_;
  PeerCertificate leaf_;
  bool certificate_requested_ = false;
  std::vector<std::uint8_t> certificate_request_context_;
  // Resumption.
  std::optional<TlsSession> session_;  // offered; dropped if HRR changes the hash
  std::uint32_t obfuscated_ticket_age_ = 0;
  bool early_data_offered_ = false;
  Secret resumption_master_secret_;  // for tickets, after our Finished
};

}  // namespace dquic
