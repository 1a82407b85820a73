// TLS 1.3 server handshake for QUIC (RFC 8446 §2, §4; RFC 9001 §4, §8):
// ClientHello → [HelloRetryRequest → ClientHello] → ServerHello,
// EncryptedExtensions, Certificate, CertificateVerify, Finished → client
// Finished. No client certificate is requested. With ticket keys
// configured it resumes (RFC 8446 §2.2): a ClientHello whose first PSK
// identity is a ticket it can open gets ServerHello with pre_shared_key,
// EncryptedExtensions and Finished (no Certificate), and after the handshake
// the server sends one NewSessionTicket. 0-RTT is accepted only when
// enabled and with an anti-replay register (RFC 8446 §8, RFC 9001 §4.6).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quic/tls_credentials.h"
#include "quic/tls_engine.h"
#include "quic/tls_key_schedule.h"
#include "quic/tls_ticket.h"

namespace dquic {

// Shared by every connection of a server: it must outlive them.
struct TlsServerConfig {
  const ServerCredentials* credentials = nullptr;  // required
  // ALPN protocols in preference order (RFC 7301); required in QUIC
  // (RFC 9001 §8.1).
  std::vector<std::string> alpn;
  // Suites in preference order; with prefer_server_cipher_order false the
  // client's order decides among these.
  std::vector<CipherSuite> cipher_suites{kDefaultCipherSuites.begin(), kDefaultCipherSuites.end()};
  bool prefer_server_cipher_order = true;
  // Groups in preference order. A key share the client sent for any of
  // these is used; otherwise HelloRetryRequest asks for the first of these
  // the client supports (RFC 8446 §4.1.4).
  std::vector<NamedGroup> groups{kDefaultGroups.begin(), kDefaultGroups.end()};
  KeylogSink keylog;  // off when empty

  // Resumption (RFC 8446 §4.6.1). No tickets are issued or accepted while
  // null or not ready(); shared by connections, rotated by the application.
  TicketKeys* ticket_keys = nullptr;
  // Capped at kMaxTicketLifetimeSeconds.
  std::uint32_t ticket_lifetime_s = 86400;
  // 0-RTT (RFC 9001 §4.6): tickets say early data is allowed and
  // ClientHellos' early_data is accepted when all checks pass. Needs
  // anti_replay: without one 0-RTT is always rejected.
  bool enable_early_data = false;
  StrikeRegister* anti_replay = nullptr;
  // RFC 8446 §8.3: 0-RTT only when the client's ticket age is within this
  // of the age the server computes (network delay and clock skew).
  std::int64_t max_ticket_age_skew_ms = 10000;
};

class TlsServer final : public TlsEngine {
 public:
  // `transport_parameters` is the encoded quic_transport_parameters
  // extension_data (RFC 9001 §8.2), copied. `config` and `sink` must outlive
  // the server.
  TlsServer(const TlsServerConfig& config, ByteSpan transport_parameters, TlsSink* sink);
  ~TlsServer() override;

  void release_handshake_state() override;

 private:
  enum class State : std::uint8_t {
    kWaitClientHello,
    kWaitSecondClientHello,  // after HelloRetryRequest
    kWaitFinished,
    kConnected,
  };

  bool expects(EncryptionLevel level, HandshakeType type) const override;
  std::optional<TlsError> handle(EncryptionLevel level, const HandshakeMessage& m,
                                 std::int64_t now_ms) override;
  std::optional<TlsError> on_client_hello(const HandshakeMessage& m, std::int64_t now_ms);
  // RFC 8446 §4.2.11: opens and checks the first PSK identity. std::nullopt
  // with psk_ unset to ignore it (full handshake); an error only for a bad
  // binder (decrypt_error).
  std::optional<TlsError> try_psk(const HandshakeMessage& m, const ClientHello& ch,
                                  CipherSuite suite, std::string_view alpn, std::int64_t now_ms);
  std::optional<TlsError> send_ticket(std::int64_t now_ms);
  std::optional<TlsError> send_hello_retry_request(const ClientHello& ch, NamedGroup group);
  std::optional<TlsError> send_server_flight(const ClientHello& ch, const KeyShareEntry& share,
                                             SignatureScheme scheme);
  std::optional<TlsError> on_finished(const HandshakeMessage& m, std::int64_t now_ms);
  std::optional<CipherSuite> choose_suite(const U16List& offered) const;
  void keylog(KeylogLabel label, const Secret& s) const;

  const TlsServerConfig& config_;
  std::vector<std::uint8_t> transport_parameters_;
  State state_ = State::kWaitClientHello;
  TranscriptHash transcript_;
  std::optional<TlsKeySchedule> schedule_;
  std::array<std::uint8_t, kTlsRandomLength> client_random_{};
  NamedGroup retry_group_ = NamedGroup::kX25519;  // asked for in HelloRetryRequest
  Secret client_handshake_secret_;                // to check the client's Finished
  Secret client_application_secret_;              // installed once it checks
  HashValue server_finished_transcript_;          // ClientHello..server Finished
  std::optional<TicketState> psk_;                // the accepted ticket
  bool accept_early_data_ = false;
};

}  // namespace dquic
