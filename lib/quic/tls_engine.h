// The TLS 1.3 handshake as QUIC uses it (RFC 9001 §4): the interface shared
// by TlsClient and TlsServer. Sans-IO: the transport hands in CRYPTO stream
// bytes per encryption level, in order, and gets back bytes to send, secrets
// and completion through a TlsSink. Nothing here reads a clock or a socket;
// randomness (ClientHello/ServerHello random, ephemeral keys) comes from
// OpenSSL's RNG.
//
// QUIC carries no TLS records: no alert is ever sent. A failure is reported
// as a TlsError, which the transport turns into CONNECTION_CLOSE with
// CRYPTO_ERROR 0x100 + alert (RFC 9001 §4.8), or with the transport error it
// names (CRYPTO_BUFFER_EXCEEDED, PROTOCOL_VIOLATION). Once failed, an engine
// stays failed and returns the same error.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quic/buffer.h"
#include "quic/error.h"
#include "quic/hkdf.h"
#include "quic/packet_keys.h"
#include "quic/role.h"
#include "quic/tls_alert.h"
#include "quic/tls_codec.h"
#include "quic/tls_key_exchange.h"
#include "quic/tls_keylog.h"

namespace dquic {

// RFC 9001 §4.1.4 / §2.1 encryption levels; 0-RTT keys protect only what the
// client sends early and carry no CRYPTO data.
enum class EncryptionLevel : std::uint8_t { kInitial, kEarlyData, kHandshake, kApplication };
inline constexpr std::size_t kEncryptionLevelCount = 4;

enum class KeyDirection : std::uint8_t { kRead, kWrite };

// The TLS 1.3 cipher suites QUIC can use (RFC 9001 §5.3; TLS_AES_128_CCM_SHA256
// is not implemented).
enum class CipherSuite : std::uint16_t {
  kAes128GcmSha256 = 0x1301,
  kAes256GcmSha384 = 0x1302,
  kChacha20Poly1305Sha256 = 0x1303,
};

constexpr bool is_supported_cipher_suite(std::uint16_t s) {
  return s == 0x1301 || s == 0x1302 || s == 0x1303;
}
constexpr AeadAlgorithm cipher_suite_aead(CipherSuite s) {
  switch (s) {
    case CipherSuite::kAes128GcmSha256:
      return AeadAlgorithm::kAes128Gcm;
    case CipherSuite::kAes256GcmSha384:
      return AeadAlgorithm::kAes256Gcm;
    case CipherSuite::kChacha20Poly1305Sha256:
      return AeadAlgorithm::kChacha20Poly1305;
  }
  return AeadAlgorithm::kAes128Gcm;
}
constexpr HashAlgorithm cipher_suite_hash(CipherSuite s) {
  return s == CipherSuite::kAes256GcmSha384 ? HashAlgorithm::kSha384 : HashAlgorithm::kSha256;
}

inline constexpr std::array<CipherSuite, 3> kDefaultCipherSuites = {
    CipherSuite::kAes128GcmSha256, CipherSuite::kAes256GcmSha384,
    CipherSuite::kChacha20Poly1305Sha256};
inline constexpr std::array<NamedGroup, 2> kDefaultGroups = {NamedGroup::kX25519,
                                                             NamedGroup::kSecp256r1};

// Bound on the handshake bytes buffered per encryption level: one message
// header plus the largest message the codec accepts (a 64 KiB certificate
// chain). A peer declaring a longer message gets CRYPTO_BUFFER_EXCEEDED
// (RFC 9000 §7.5) before anything is buffered, and a message type the state
// does not expect is refused from its first byte, so nothing else grows.
inline constexpr std::size_t kMaxBufferedHandshakeBytes =
    kHandshakeHeaderLength + HandshakeLimits{}.max_certificate;

// Why a handshake failed: a TLS alert (sent as CRYPTO_ERROR), or a QUIC
// transport error when `transport` is set.
struct TlsError {
  TlsAlert alert = TlsAlert::kInternalError;
  // kCryptoBufferExceeded: a message longer than the buffer bound (RFC 9000
  // §7.5). kProtocolViolation: a ClientHello with a non-empty
  // legacy_session_id (RFC 9001 §8.4). kNoError: the alert applies.
  TransportError transport = TransportError::kNoError;

  TlsError() = default;
  TlsError(TlsAlert a) : alert(a) {}  // NOLINT: alerts convert implicitly
  static TlsError transport_error(TransportError e) {
    TlsError t;
    t.transport = e;
    return t;
  }
  // The CONNECTION_CLOSE error code (RFC 9000 §20.1, RFC 9001 §4.8).
  std::uint64_t error_code() const {
    return transport != TransportError::kNoError ? static_cast<std::uint64_t>(transport)
                                                 : tls_alert_error_code(alert);
  }
  friend bool operator==(const TlsError&, const TlsError&) = default;
};

// Implemented by the transport. Calls happen inside receive() / start(),
// never re-entrantly: a sink must not call back into the engine.
class TlsSink {
 public:
  virtual ~TlsSink() = default;
  // Bytes to send in CRYPTO frames at `level`, in order.
  virtual void on_handshake_data(EncryptionLevel level, ByteSpan data) = 0;
  // A traffic secret for packet protection at `level` in one direction
  // (RFC 9001 §4.1.4); derive_packet_keys() turns it into keys. Order: the
  // server gets Handshake write+read and 1-RTT write when it sends its
  // flight, 1-RTT read when the client's Finished verifies; the client gets
  // Handshake read+write on the ServerHello and 1-RTT write+read once the
  // server's Finished verifies (after the bytes of its own Finished).
  virtual void on_secret(EncryptionLevel level, KeyDirection direction, AeadAlgorithm aead,
                         const Secret& secret) = 0;
  // RFC 9001 §4.1.1: our Finished is sent and the peer's verified.
  virtual void on_handshake_complete() = 0;
  // Server: the ClientHello's quic_transport_parameters, before
  // EncryptedExtensions carries ours: `ours` may be replaced, e.g. to name
  // the version negotiated from the client's (RFC 9368 §2.3).
  virtual void on_client_transport_parameters(ByteSpan /*client*/,
                                              std::vector<std::uint8_t>* /*ours*/) {}
};

class TlsEngine {
 public:
  virtual ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  // RFC 9001 §4.1.3: CRYPTO stream bytes received at `level`, contiguous
  // with what came before at that level (the transport reassembles frames;
  // splits anywhere are fine). `now_ms` is the time in milliseconds since the
  // Unix epoch: the client checks certificate validity at it. std::nullopt
  // while the handshake proceeds (or is complete), else the error.
  [[nodiscard]] std::optional<TlsError> receive(EncryptionLevel level, ByteSpan data,
                                                std::int64_t now_ms);

  EndpointRole role() const { return role_; }
  bool handshake_complete() const { return complete_; }
  const std::optional<TlsError>& error() const { return error_; }

  // Negotiated values, set as the handshake learns them.
  std::optional<CipherSuite> cipher_suite() const { return suite_; }
  std::optional<NamedGroup> key_exchange_group() const { return group_; }
  bool used_hello_retry_request() const { return hello_retry_; }
  // RFC 8446 §2.2: the handshake authenticated with a resumption PSK (no
  // Certificate / CertificateVerify); set from the ServerHello.
  bool resumed() const { return resumed_; }
  // RFC 9001 §4.6.1-4.6.2: the server accepted 0-RTT (early_data in
  // EncryptedExtensions). A client that sent 0-RTT and sees false once the
  // handshake completes must send that data again in 1-RTT packets; a
  // server that did not accept discards 0-RTT packets.
  bool early_data_accepted() const { return early_data_accepted_; }
  // The ALPN protocol (RFC 7301), once EncryptedExtensions is sent/received.
  std::string_view alpn() const { return alpn_; }
  // Server: the host_name the client sent (empty if none). Client: the
  // name it was configured with.
  std::string_view server_name() const { return server_name_; }
  // The peer's quic_transport_parameters extension_data (RFC 9001 §8.2),
  // for decode_transport_parameters(); empty until received.
  ByteSpan peer_transport_parameters() const { return peer_transport_parameters_; }

  // Once the handshake is confirmed (RFC 9001 §4.1.2) the transport calls
  // this, outside receive(), so that an idle connection holds little
  // (quic-perf issue 8): what only the handshake needed goes (transcript,
  // key schedule, peer certificate, ephemeral key, buffers of the Initial
  // and Handshake levels, RFC 9001 §4.9). What later messages need stays: a
  // client's resumption secret for NewSessionTicket (RFC 8446 §4.6.1), the
  // negotiated values. Key updates (RFC 9001 §6) need only the 1-RTT
  // traffic secrets, which the transport holds. Does nothing before the
  // handshake completes; repeating it is harmless.
  virtual void release_handshake_state();

  // Handshake bytes held for an incomplete message at `level` (at most
  // kMaxBufferedHandshakeBytes).
  std::size_t buffered_bytes(EncryptionLevel level) const {
    return buffers_[static_cast<std::size_t>(level)].size();
  }

 protected:
  TlsEngine(EndpointRole role, TlsSink* sink) : role_(role), sink_(sink) {}

  // Whether a message of `type` may come next at `level` in this state;
  // checked from its first byte (RFC 8446 §4: otherwise unexpected_message).
  virtual bool expects(EncryptionLevel level, HandshakeType type) const = 0;
  // One whole message; std::nullopt to continue.
  virtual std::optional<TlsError> handle(EncryptionLevel level, const HandshakeMessage& m,
                                         std::int64_t now_ms) = 0;

  // Records the first failure and returns it.
  std::optional<TlsError> fail(TlsError e);
  void send(EncryptionLevel level, ByteSpan data) { sink_->on_handshake_data(level, data); }
  void install(EncryptionLevel level, KeyDirection dir, const Secret& secret) {
    sink_->on_secret(level, dir, cipher_suite_aead(*suite_), secret);
  }
  void finish() {
    complete_ = true;
    sink_->on_handshake_complete();
  }

  EndpointRole role_;
  TlsSink* sink_;
  bool complete_ = false;
  bool hello_retry_ = false;
  bool resumed_ = false;
  bool early_data_accepted_ = false;
  std::optional<TlsError> error_;
  std::optional<CipherSuite> suite_;
  std::optional<NamedGroup> group_;
  std::string alpn_;
  std::string server_name_;
  std::vector<std::uint8_t> peer_transport_parameters_;

 private:
  std::optional<TlsError> process(EncryptionLevel level, ByteSpan data, std::int64_t now_ms);

  HandshakeReader reader_;
  std::array<std::vector<std::uint8_t>, kEncryptionLevelCount> buffers_;
};

// Wipes a secret held past its use.
void wipe_secret(Secret* s);

}  // namespace dquic
