// TLS 1.3 handshake message codec for QUIC (RFC 8446 §4, RFC 9001 §4, §8).
//
// Sans-IO and allocation-free. Parsing returns plain structs whose byte
// strings are ByteSpan views into the message, valid while the caller's
// buffer is. Lists are WireList views: a parsed list keeps its validated wire
// encoding and decodes elements as it is iterated, so no list has a capacity
// and none is truncated; the only bound is the message size limit of
// HandshakeLimits. A WireList can also wrap caller-owned elements (a
// std::span), which is how the encoders take their input.
//
// Parsers return std::nullopt on success, else the alert to send (RFC 8446
// §6): decode_error for malformed lengths and out-of-range vectors,
// illegal_parameter for well-formed but forbidden values. They enforce the
// rules that need nothing but the message; the handshake engine checks what
// needs its state:
// - extensions in ServerHello / HelloRetryRequest / EncryptedExtensions /
//   Certificate that the client did not offer → unsupported_extension
//   (RFC 8446 §4.2): `extensions` says which recognized ones appeared and
//   `other_extensions` lists the rest;
// - legacy_session_id (RFC 9001 §8.4: a server treats a non-empty one as
//   PROTOCOL_VIOLATION) and legacy_session_id_echo;
// - supported_versions / selected_version, cipher suite, group and signature
//   choices, the selected PSK identity, the HRR rules of §4.1.4;
// - required extensions (quic_transport_parameters → missing_extension,
//   RFC 9001 §8.2; ALPN → no_application_protocol, RFC 9001 §8.1).
//
// Encoders write a complete handshake message (type, uint24 length, body)
// into a Writer. On failure (Writer too small, or a field outside the range
// its vector allows) they return false with the Writer rewound to where it
// was. Recognized extensions are written when their bit is set in
// `extensions`, in a fixed order, followed by `other_extensions`;
// pre_shared_key always comes last in a ClientHello (RFC 8446 §4.2.11).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>

#include "quic/buffer.h"
#include "quic/tls_alert.h"

namespace dquic {

// RFC 8446 §4 HandshakeType.
enum class HandshakeType : std::uint8_t {
  kClientHello = 1,
  kServerHello = 2,
  kNewSessionTicket = 4,
  kEndOfEarlyData = 5,  // forbidden in QUIC (RFC 9001 §8.3)
  kEncryptedExtensions = 8,
  kCertificate = 11,
  kCertificateRequest = 13,
  kCertificateVerify = 15,
  kFinished = 20,
  kKeyUpdate = 24,     // forbidden in QUIC (RFC 9001 §6)
  kMessageHash = 254,  // transcript only (RFC 8446 §4.4.1), never on the wire
};

// Extensions this codec parses (RFC 8446 §4.2, RFC 9001 §8.2). Every value is
// below 64, so a set of them is one 64-bit mask.
enum class TlsExtension : std::uint16_t {
  kServerName = 0,
  kSupportedGroups = 10,
  kSignatureAlgorithms = 13,
  kAlpn = 16,
  kPreSharedKey = 41,
  kEarlyData = 42,
  kSupportedVersions = 43,
  kCookie = 44,
  kPskKeyExchangeModes = 45,
  kSignatureAlgorithmsCert = 50,
  kKeyShare = 51,
  kQuicTransportParameters = 0x39,
};

// Whether `type` is one of the TlsExtension values.
bool is_recognized_extension(std::uint16_t type);

// Which recognized extensions a message carries.
struct ExtensionSet {
  std::uint64_t bits = 0;

  static constexpr std::uint64_t bit(TlsExtension e) {
    return std::uint64_t{1} << static_cast<unsigned>(e);
  }
  bool has(TlsExtension e) const { return (bits & bit(e)) != 0; }
  void add(TlsExtension e) { bits |= bit(e); }
  void remove(TlsExtension e) { bits &= ~bit(e); }
  friend bool operator==(ExtensionSet, ExtensionSet) = default;
};

inline constexpr std::uint16_t kTlsLegacyVersion = 0x0303;  // RFC 8446 §4.1.2
inline constexpr std::uint16_t kTls13Version = 0x0304;
inline constexpr std::size_t kTlsRandomLength = 32;
inline constexpr std::size_t kMaxLegacySessionIdLength = 32;
// RFC 8446 §4.1.3: SHA-256("HelloRetryRequest").
inline constexpr std::array<std::uint8_t, kTlsRandomLength> kHelloRetryRequestRandom = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};
// RFC 8446 §4.2.9 PskKeyExchangeMode.
inline constexpr std::uint8_t kPskKe = 0;
inline constexpr std::uint8_t kPskDheKe = 1;

bool bytes_equal(ByteSpan a, ByteSpan b);

// ---------------------------------------------------------------------------
// List elements

struct KeyShareEntry {  // RFC 8446 §4.2.8
  std::uint16_t group = 0;
  ByteSpan key_exchange;  // 1..2^16-1 bytes
  friend bool operator==(const KeyShareEntry& a, const KeyShareEntry& b) {
    return a.group == b.group && bytes_equal(a.key_exchange, b.key_exchange);
  }
};

struct PskIdentity {  // RFC 8446 §4.2.11
  ByteSpan identity;  // 1..2^16-1 bytes
  std::uint32_t obfuscated_ticket_age = 0;
  friend bool operator==(const PskIdentity& a, const PskIdentity& b) {
    return a.obfuscated_ticket_age == b.obfuscated_ticket_age &&
           bytes_equal(a.identity, b.identity);
  }
};

struct CertificateEntry {  // RFC 8446 §4.4.2
  ByteSpan cert_data;      // 1..2^24-1 bytes (X.509 DER or RFC 7250 key)
  ByteSpan extensions;     // the Extension list without its length prefix
  friend bool operator==(const CertificateEntry& a, const CertificateEntry& b) {
    return bytes_equal(a.cert_data, b.cert_data) && bytes_equal(a.extensions, b.extensions);
  }
};

struct RawExtension {
  std::uint16_t type = 0;
  ByteSpan data;
  friend bool operator==(const RawExtension& a, const RawExtension& b) {
    return a.type == b.type && bytes_equal(a.data, b.data);
  }
};

// Element codecs: read() is only ever given wire bytes the parser validated.
namespace tls_wire {

inline std::uint64_t read_be(Reader& r, std::size_t n) {
  std::uint64_t v = 0;
  (void)r.read_uint(n, &v);
  return v;
}
inline ByteSpan read_vec(Reader& r, std::size_t len_bytes) {
  ByteSpan b;
  (void)r.read_bytes(static_cast<std::size_t>(read_be(r, len_bytes)), &b);
  return b;
}

struct U16 {
  using Value = std::uint16_t;
  static Value read(Reader& r) { return static_cast<Value>(read_be(r, 2)); }
  static bool skip(const Value&) { return false; }
  static bool equal(const Value& a, const Value& b) { return a == b; }
};
struct Opaque8 {  // ProtocolName (RFC 7301 §3.1), PskBinderEntry
  using Value = ByteSpan;
  static Value read(Reader& r) { return read_vec(r, 1); }
  static bool skip(const Value&) { return false; }
  static bool equal(const Value& a, const Value& b) { return bytes_equal(a, b); }
};
struct KeyShare {
  using Value = KeyShareEntry;
  static Value read(Reader& r) {
    Value v;
    v.group = static_cast<std::uint16_t>(read_be(r, 2));
    v.key_exchange = read_vec(r, 2);
    return v;
  }
  static bool skip(const Value&) { return false; }
  static bool equal(const Value& a, const Value& b) { return a == b; }
};
struct Psk {
  using Value = PskIdentity;
  static Value read(Reader& r) {
    Value v;
    v.identity = read_vec(r, 2);
    v.obfuscated_ticket_age = static_cast<std::uint32_t>(read_be(r, 4));
    return v;
  }
  static bool skip(const Value&) { return false; }
  static bool equal(const Value& a, const Value& b) { return a == b; }
};
struct Cert {
  using Value = CertificateEntry;
  static Value read(Reader& r) {
    Value v;
    v.cert_data = read_vec(r, 3);
    v.extensions = read_vec(r, 2);
    return v;
  }
  static bool skip(const Value&) { return false; }
  static bool equal(const Value& a, const Value& b) { return a == b; }
};
// An extension block seen through its unrecognized extensions only.
struct OtherExtension {
  using Value = RawExtension;
  static Value read(Reader& r) {
    Value v;
    v.type = static_cast<std::uint16_t>(read_be(r, 2));
    v.data = read_vec(r, 2);
    return v;
  }
  static bool skip(const Value& v) { return is_recognized_extension(v.type); }
  static bool equal(const Value& a, const Value& b) { return a == b; }
};

}  // namespace tls_wire

// A list that is either a validated wire encoding (what parsers produce) or a
// span of caller-owned elements (what encoders are usually given). Iteration
// yields elements by value; equality compares elements, not representation.
template <typename Codec>
class WireList {
 public:
  using value_type = typename Codec::Value;

  WireList() = default;
  WireList(std::span<const value_type> items) : local_(items), count_(items.size()) {}
  template <std::size_t N>
  WireList(const value_type (&items)[N]) : WireList(std::span<const value_type>(items)) {}

  // For the parser: `body` is the list's content (no length prefix), already
  // validated, holding `count` elements that Codec::skip does not drop.
  static WireList from_wire(ByteSpan body, std::size_t count) {
    WireList l;
    l.wire_ = body;
    l.count_ = count;
    l.is_wire_ = true;
    return l;
  }

  std::size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  bool is_wire() const { return is_wire_; }

  class Iterator {
   public:
    using value_type = typename Codec::Value;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::forward_iterator_tag;

    Iterator() = default;
    value_type operator*() const {
      if (!list_->is_wire_) return list_->local_[index_];
      Reader r(rest_);
      return Codec::read(r);
    }
    Iterator& operator++() {
      if (list_->is_wire_) {
        Reader r(rest_);
        (void)Codec::read(r);
        rest_ = r.rest();
        settle();
      }
      ++index_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator t = *this;
      ++*this;
      return t;
    }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.index_ == b.index_; }

   private:
    friend class WireList;
    Iterator(const WireList* list, std::size_t index) : list_(list), index_(index) {
      if (list_->is_wire_ && index_ < list_->count_) {
        rest_ = list_->wire_;
        settle();
      }
    }
    // Moves past elements the codec hides.
    void settle() {
      while (!rest_.empty()) {
        Reader r(rest_);
        if (!Codec::skip(Codec::read(r))) return;
        rest_ = r.rest();
      }
    }
    const WireList* list_ = nullptr;
    std::size_t index_ = 0;
    ByteSpan rest_;
  };

  Iterator begin() const { return Iterator(this, 0); }
  Iterator end() const { return Iterator(this, count_); }

  friend bool operator==(const WireList& a, const WireList& b) {
    if (a.count_ != b.count_) return false;
    auto i = a.begin();
    auto j = b.begin();
    for (; i != a.end(); ++i, ++j) {
      if (!Codec::equal(*i, *j)) return false;
    }
    return true;
  }

 private:
  ByteSpan wire_;
  std::span<const value_type> local_;
  std::size_t count_ = 0;
  bool is_wire_ = false;
};

using U16List = WireList<tls_wire::U16>;         // cipher suites, groups, schemes, versions
using OpaqueList = WireList<tls_wire::Opaque8>;  // ALPN protocol names, PSK binders
using KeyShareList = WireList<tls_wire::KeyShare>;
using PskIdentityList = WireList<tls_wire::Psk>;
using CertificateEntryList = WireList<tls_wire::Cert>;
using ExtensionList = WireList<tls_wire::OtherExtension>;

bool contains(const U16List& list, std::uint16_t v);

// ---------------------------------------------------------------------------
// Handshake framing (RFC 8446 §4)

inline constexpr std::size_t kHandshakeHeaderLength = 4;

// Largest message body accepted, per type. QUIC receives handshake messages
// in CRYPTO frames and the caller must buffer a whole message before parsing
// it: these bound that buffer (RFC 9000 §7.5).
struct HandshakeLimits {
  std::size_t max_certificate = 64 * 1024;  // certificate chains
  std::size_t max_other = 16 * 1024;        // every other message
  std::size_t limit_for(HandshakeType t) const {
    return t == HandshakeType::kCertificate ? max_certificate : max_other;
  }
};

struct HandshakeMessage {
  HandshakeType type = HandshakeType::kClientHello;
  ByteSpan body;   // after the 4-byte header
  ByteSpan bytes;  // header + body: what goes into the transcript hash
};

enum class HandshakeReadStatus : std::uint8_t {
  kMessage,   // `message` is complete
  kNeedMore,  // `needed` bytes in total are required (as far as known)
  kTooLarge,  // declared length exceeds HandshakeLimits: stop buffering;
              // the connection closes with CRYPTO_BUFFER_EXCEEDED (RFC 9000 §7.5)
  kError,     // `alert`
};

struct HandshakeRead {
  HandshakeReadStatus status = HandshakeReadStatus::kNeedMore;
  HandshakeMessage message;
  std::size_t needed = kHandshakeHeaderLength;
  TlsAlert alert = TlsAlert::kInternalError;
};

// Splits contiguous handshake bytes of one encryption level into messages.
// Buffering across CRYPTO frames is the caller's: it calls next() on what it
// has, consumes message.bytes.size() on kMessage and calls again.
//
// Types that cannot appear in QUIC are refused as soon as their type byte is
// seen, with unexpected_message: KeyUpdate (RFC 9001 §6), EndOfEarlyData
// (RFC 9001 §8.3), message_hash and unknown types (RFC 8446 §4). Whether a
// known type is expected now is the engine's check.
class HandshakeReader {
 public:
  explicit HandshakeReader(HandshakeLimits limits = {}) : limits_(limits) {}
  HandshakeRead next(ByteSpan in) const;
  const HandshakeLimits& limits() const { return limits_; }

 private:
  HandshakeLimits limits_;
};

// ---------------------------------------------------------------------------
// Messages

// RFC 8446 §4.1.2. legacy_version must be 0x0303 (else protocol_version) and
// legacy_compression_methods exactly [0] (else illegal_parameter).
struct ClientHello {
  ByteSpan random;             // 32 bytes
  ByteSpan legacy_session_id;  // 0..32 bytes; QUIC wants it empty (RFC 9001 §8.4)
  U16List cipher_suites;       // non-empty
  ExtensionSet extensions;
  ByteSpan server_name;                // server_name: the host_name entry (RFC 6066 §3)
  U16List supported_groups;            // supported_groups, non-empty
  U16List signature_algorithms;        // non-empty
  U16List signature_algorithms_cert;   // non-empty
  OpaqueList alpn;                     // non-empty, names 1..255 bytes (RFC 7301 §3.1)
  U16List supported_versions;          // non-empty
  KeyShareList key_shares;             // may be empty (RFC 8446 §4.2.8)
  ByteSpan psk_key_exchange_modes;     // 1..255 modes, one byte each
  ByteSpan cookie;                     // 1..2^16-1 bytes
  ByteSpan quic_transport_parameters;  // opaque: decode_transport_parameters()
  PskIdentityList psk_identities;      // pre_shared_key: same count as binders
  OpaqueList psk_binders;              // 32..255 bytes each
  ExtensionList other_extensions;      // unrecognized, e.g. GREASE
  // Parse output: offset, from the start of the handshake message (header
  // included), of the binders list's length field. The binder transcript
  // hashes message[0, binders_offset) (RFC 8446 §4.2.11.2). Not compared.
  std::size_t binders_offset = 0;

  friend bool operator==(const ClientHello& a, const ClientHello& b);
};

// RFC 8446 §4.1.3, §4.1.4. A HelloRetryRequest is a ServerHello whose random
// is kHelloRetryRequestRandom; its key_share carries only selected_group.
// legacy_version must be 0x0303 and legacy_compression_method 0, else
// illegal_parameter.
struct ServerHello {
  ByteSpan random;                  // 32 bytes
  ByteSpan legacy_session_id_echo;  // 0..32 bytes
  std::uint16_t cipher_suite = 0;
  ExtensionSet extensions;
  std::uint16_t selected_version = 0;   // supported_versions
  KeyShareEntry key_share;              // ServerHello key_share
  std::uint16_t selected_group = 0;     // HelloRetryRequest key_share
  std::uint16_t selected_identity = 0;  // pre_shared_key (ServerHello only)
  ByteSpan cookie;                      // HelloRetryRequest only
  ExtensionList other_extensions;

  bool is_hello_retry_request() const;
  friend bool operator==(const ServerHello& a, const ServerHello& b);
};

// RFC 8446 §4.3.1.
struct EncryptedExtensions {
  ExtensionSet extensions;  // server_name and early_data are empty: bits only
  U16List supported_groups;
  ByteSpan alpn;  // the selected protocol: exactly one name (RFC 7301 §3.1)
  ByteSpan quic_transport_parameters;
  ExtensionList other_extensions;
  friend bool operator==(const EncryptedExtensions& a, const EncryptedExtensions& b);
};

// RFC 8446 §4.4.2. Each entry's extension block is checked for framing and
// duplicates; its contents are the engine's (we offer none, RFC 8446 §4.4.2).
struct Certificate {
  ByteSpan request_context;  // 0..255 bytes; empty in the handshake
  CertificateEntryList entries;
  friend bool operator==(const Certificate& a, const Certificate& b);
};

// RFC 8446 §4.3.2. Parsed so that a server asking for a client certificate
// can be answered (with an empty Certificate). signature_algorithms is
// required (missing_extension otherwise); other extensions
// (certificate_authorities, oid_filters, ...) land in other_extensions.
struct CertificateRequest {
  ByteSpan request_context;  // 0..255 bytes
  ExtensionSet extensions;
  U16List signature_algorithms;
  U16List signature_algorithms_cert;
  ExtensionList other_extensions;
  friend bool operator==(const CertificateRequest& a, const CertificateRequest& b);
};

// RFC 8446 §4.4.3.
struct CertificateVerify {
  std::uint16_t algorithm = 0;
  ByteSpan signature;  // 0..2^16-1 bytes
  friend bool operator==(const CertificateVerify& a, const CertificateVerify& b) {
    return a.algorithm == b.algorithm && bytes_equal(a.signature, b.signature);
  }
};

// RFC 8446 §4.4.4.
struct Finished {
  ByteSpan verify_data;  // the suite's hash length
  friend bool operator==(const Finished& a, const Finished& b) {
    return bytes_equal(a.verify_data, b.verify_data);
  }
};

// RFC 8446 §4.6.1. Unknown extensions are ignored (other_extensions).
struct NewSessionTicket {
  std::uint32_t ticket_lifetime = 0;  // seconds; > 604800 is the engine's to clamp
  std::uint32_t ticket_age_add = 0;
  ByteSpan ticket_nonce;  // 0..255 bytes
  ByteSpan ticket;        // 1..2^16-1 bytes
  ExtensionSet extensions;
  std::uint32_t max_early_data_size = 0;  // early_data
  ExtensionList other_extensions;
  friend bool operator==(const NewSessionTicket& a, const NewSessionTicket& b);
};

// Parsers: `body` is HandshakeMessage::body. std::nullopt on success, else
// the alert; *out is unspecified after a failure.
[[nodiscard]] std::optional<TlsAlert> parse_client_hello(ByteSpan body, ClientHello* out);
[[nodiscard]] std::optional<TlsAlert> parse_server_hello(ByteSpan body, ServerHello* out);
[[nodiscard]] std::optional<TlsAlert> parse_encrypted_extensions(ByteSpan body,
                                                                 EncryptedExtensions* out);
[[nodiscard]] std::optional<TlsAlert> parse_certificate(ByteSpan body, Certificate* out);
[[nodiscard]] std::optional<TlsAlert> parse_certificate_request(ByteSpan body,
                                                                CertificateRequest* out);
[[nodiscard]] std::optional<TlsAlert> parse_certificate_verify(ByteSpan body,
                                                               CertificateVerify* out);
// `verify_data_length` is the negotiated suite's hash length; any other body
// length is a decode_error.
[[nodiscard]] std::optional<TlsAlert> parse_finished(ByteSpan body, std::size_t verify_data_length,
                                                     Finished* out);
[[nodiscard]] std::optional<TlsAlert> parse_new_session_ticket(ByteSpan body,
                                                               NewSessionTicket* out);

// Encoders: a whole handshake message into `w` (see the top of the file).
// encode_client_hello stores the binders offset (as in ClientHello) when
// `binders_offset` is given and pre_shared_key is present.
[[nodiscard]] bool encode_client_hello(const ClientHello& m, Writer& w,
                                       std::size_t* binders_offset = nullptr);
[[nodiscard]] bool encode_server_hello(const ServerHello& m, Writer& w);
[[nodiscard]] bool encode_encrypted_extensions(const EncryptedExtensions& m, Writer& w);
[[nodiscard]] bool encode_certificate(const Certificate& m, Writer& w);
[[nodiscard]] bool encode_certificate_request(const CertificateRequest& m, Writer& w);
[[nodiscard]] bool encode_certificate_verify(const CertificateVerify& m, Writer& w);
[[nodiscard]] bool encode_finished(const Finished& m, Writer& w);
[[nodiscard]] bool encode_new_session_ticket(const NewSessionTicket& m, Writer& w);

// The ClientHello prefix the PSK binders cover (RFC 8446 §4.2.11.2).
ByteSpan client_hello_binder_prefix(ByteSpan message, std::size_t binders_offset);

// Overwrites the binders of an encoded ClientHello in place: a client encodes
// with placeholder binders of the right lengths, hashes the prefix, then
// fills them in. False, with nothing written, if the count or a length differs.
[[nodiscard]] bool write_client_hello_binders(std::span<std::uint8_t> message,
                                              std::size_t binders_offset,
                                              std::span<const ByteSpan> binders);

}  // namespace dquic
