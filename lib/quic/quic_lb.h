// QUIC-LB routable connection IDs (draft-ietf-quic-load-balancers-21): the
// server writes a server ID and a nonce into every CID it issues, in the clear
// or encrypted with AES-128-ECB, so that a load balancer holding the same
// configuration can extract the server ID from any packet without per-flow
// state. QuicLbConfig does both sides: generate (server) and decode (LB).
//
// CID = First Octet (1) || Plaintext Block (server ID || nonce), §5.2, where
// the first octet is Config Rotation (3 bits) || length or random (5 bits), §3.4.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "quic/buffer.h"
#include "quic/connection_id.h"

// OpenSSL's cipher context, kept opaque here so the header needs no OpenSSL.
struct evp_cipher_ctx_st;

namespace dquic {

// §3.1: 0b111 is reserved; a CID with these config rotation bits is unroutable
// (§3.2, §4.1) and no configuration may use them.
inline constexpr std::uint8_t kQuicLbUnroutableRotation = 7;
inline constexpr std::size_t kQuicLbKeyLength = 16;  // §5.3: AES-128
// §5.3 and Appendix A (YANG): server ID 1..15 octets, nonce 4..18 octets, and
// together at most 19 so the CID fits QUIC v1's 20 octets (RFC 9000 §17.2).
inline constexpr std::size_t kQuicLbMinServerIdLength = 1;
inline constexpr std::size_t kQuicLbMaxServerIdLength = 15;
inline constexpr std::size_t kQuicLbMinNonceLength = 4;
inline constexpr std::size_t kQuicLbMaxNonceLength = 18;
inline constexpr std::size_t kQuicLbMaxPlaintextLength = 19;

// A server ID (§5.1), owned, 0..15 bytes (0 only as "not set").
struct QuicLbServerId {
  std::uint8_t length = 0;
  std::array<std::uint8_t, kQuicLbMaxServerIdLength> bytes{};

  // False (and *out unchanged) if `b` is longer than 15 bytes.
  [[nodiscard]] static bool from(ByteSpan b, QuicLbServerId* out);
  ByteSpan span() const { return {bytes.data(), length}; }
  friend bool operator==(const QuicLbServerId& a, const QuicLbServerId& b) {
    return same_bytes(a.span(), b.span());
  }
};

// The parameters a configuration agent distributes (§5.3, Appendix A).
struct QuicLbSettings {
  std::uint8_t config_rotation = 0;  // §3.1: 0..6
  // This server's ID; its length is the configuration's server ID length. A
  // load balancer that only decodes sets the length and leaves the bytes.
  QuicLbServerId server_id;
  std::uint8_t nonce_length = 0;
  // Present: encrypted CIDs (§5.4.1 single pass when server ID and nonce
  // lengths sum to 16, §5.4.2 four-pass Feistel otherwise). Absent: plaintext.
  std::optional<std::array<std::uint8_t, kQuicLbKeyLength>> key;
  // §3.3: the low 5 bits of the first octet carry the CID length minus one.
  bool encode_length = false;
};

enum class QuicLbConfigError : std::uint8_t {
  kOk = 0,
  kReservedConfigRotation,    // 0b111 is the unroutable codepoint, §3.1
  kConfigRotationOutOfRange,  // more than 3 bits
  kServerIdLength,            // not 1..15, §5.3
  kNonceLength,               // not 4..18, §5.3
  kTooLong,                   // server ID + nonce > 19 octets, §5.3
  kCipher,                    // OpenSSL could not set up AES-128-ECB
};
const char* to_string(QuicLbConfigError e);

// The config rotation bits of a CID (§3.1); nullopt for an empty CID.
std::optional<std::uint8_t> quic_lb_config_rotation(ByteSpan cid);
// §3.2/§4.1: empty or codepoint 0b111, which no configuration decodes.
bool quic_lb_unroutable(ByteSpan cid);
// The first octet of an unroutable CID of `cid_length` (2..20) octets: 0b111
// and the self-encoded length, which §3.2 requires of these CIDs.
std::uint8_t quic_lb_unroutable_first_octet(std::size_t cid_length);

// One validated configuration with its AES contexts, created once by init().
// Generating and decoding never allocate. The const operations only read the
// keyed contexts (whole AES blocks with padding off keep no state between
// calls in OpenSSL 3), so one instance may serve several lcores at once.
class QuicLbConfig {
 public:
  QuicLbConfig() = default;
  ~QuicLbConfig();
  QuicLbConfig(QuicLbConfig&& other) noexcept;
  QuicLbConfig& operator=(QuicLbConfig&& other) noexcept;
  QuicLbConfig(const QuicLbConfig&) = delete;
  QuicLbConfig& operator=(const QuicLbConfig&) = delete;

  // The draft's constraints on a configuration (§3.1, §5.3), without OpenSSL.
  [[nodiscard]] static QuicLbConfigError validate(const QuicLbSettings& s);
  // Validates `s` and keys the cipher. On failure the object is left unready.
  [[nodiscard]] QuicLbConfigError init(const QuicLbSettings& s);

  bool ready() const { return ready_; }
  const QuicLbSettings& settings() const { return settings_; }
  bool encrypted() const { return settings_.key.has_value(); }
  std::size_t server_id_length() const { return settings_.server_id.length; }
  std::size_t nonce_length() const { return settings_.nonce_length; }
  std::size_t plaintext_length() const { return server_id_length() + nonce_length(); }
  // First octet + server ID + nonce (§5.2).
  std::size_t cid_length() const { return 1 + plaintext_length(); }

  // §5.4: the CID carrying this server's ID and `nonce` (nonce_length()
  // bytes). `random_bits` fills the low 5 bits of the first octet unless the
  // length is self-encoded (§3.3: they SHOULD be unrelated to earlier CIDs,
  // so pass fresh random bits). False if unready, the nonce has the wrong
  // length or the cipher fails. The caller owns nonce uniqueness (§9.6).
  [[nodiscard]] bool generate(ByteSpan nonce, std::uint8_t random_bits, ConnectionId* out) const;
  // The same with another server ID of server_id_length() bytes (a server
  // may hold several, §5.1).
  [[nodiscard]] bool generate(ByteSpan server_id, ByteSpan nonce, std::uint8_t random_bits,
                              ConnectionId* out) const;

  // §5.5: what a load balancer does. `cid` starts at the first octet and may
  // run on (a short header's DCID has no length: pass the rest of the
  // packet); only cid_length() bytes are read. Nullopt if too short, the
  // config rotation bits are not this configuration's (0b111 never is), or
  // the length is self-encoded and disagrees (§4.1 allows this check).
  std::optional<QuicLbServerId> decode(ByteSpan cid) const;
  // The same, also recovering the nonce into `nonce` (nonce_length() bytes),
  // which takes all four passes.
  std::optional<QuicLbServerId> decode(ByteSpan cid, std::span<std::uint8_t> nonce) const;

 private:
  using Block = std::array<std::uint8_t, 16>;
  void release();
  bool aes(bool decrypt, const Block& in, Block* out) const;
  // A Feistel half: at most 10 bytes (a 19-byte plaintext).
  using Half = std::array<std::uint8_t, 10>;
  bool feistel_round(std::uint8_t pass, std::size_t len, Half& left, Half& right) const;
  bool feistel_encrypt(std::uint8_t* block) const;
  bool feistel_decrypt(std::uint8_t* block, bool need_right) const;
  bool decode_plaintext(ByteSpan cid, std::uint8_t* block, bool need_nonce) const;

  QuicLbSettings settings_;
  evp_cipher_ctx_st* encrypt_ = nullptr;  // encrypt direction: all passes
  evp_cipher_ctx_st* decrypt_ = nullptr;  // single-pass decode only
  bool ready_ = false;
};

}  // namespace dquic
