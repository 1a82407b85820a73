// TLS 1.3 server handshake for QUIC (RFC 8446 §2, §4; RFC 9001 §4, §8):
// ClientHello → [HelloRetryRequest → ClientHello] → ServerHello,
// EncryptedExtensions, Certificate, CertificateVerify, Finished → client
// Finished. Full handshakes only: pre_shared_key and early_data offers are
// ignored (no resumption yet), and no client certificate is requested.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "quic/tls_credentials.h"
#include "quic/tls_engine.h"
#include "quic/tls_key_schedule.h"

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
};

class TlsServer final : public TlsEngine {
 public:
  // `transport_parameters` is the encoded quic_transport_parameters
  // extension_data (RFC 9001 §8.2), copied. `config` and `sink` must outlive
  // the server.
  TlsServer(const TlsServerConfig& config, ByteSpan transport_parameters, TlsSink* sink);
  ~TlsServer() override;

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
  std::optional<TlsError> on_client_hello(const HandshakeMessage& m);
  std::optional<TlsError> send_hello_retry_request(const ClientHello& ch, NamedGroup group);
  std::optional<TlsError> send_server_flight(const ClientHello& ch, const KeyShareEntry& share,
                                             SignatureScheme scheme);
  std::optional<TlsError> on_finished(const HandshakeMessage& m);
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
};

}  // namespace dquic
