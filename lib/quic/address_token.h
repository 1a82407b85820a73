// Stateless address validation tokens (RFC 9000 §8.1): the server seals what
// it needs to validate a client into the token itself, so it keeps no state
// between the Retry (or NEW_TOKEN frame) and the Initial that returns it.
//
// Wire format (the server is the only reader, §8.1.4, so it is ours to pick):
//
//   Kind (8) | Key Id (8) | Nonce (96) | AES-GCM ciphertext | Tag (128)
//
// Kind and Key Id travel in the clear and are the AEAD's associated data:
// §8.1.1 wants Retry and NEW_TOKEN tokens told apart, and §8.1.3 allows that
// to be visible. The Key Id picks the key, so a rotated-out key still opens
// the tokens it sealed. The plaintext is
//
//   Issued (64, ms) | QUIC Version (32) | Family (8) | Address (128)
//   Retry only: Port (16) | ODCID Length (8) | ODCID | Retry SCID Length (8) | Retry SCID
//
// NEW_TOKEN tokens leave the port out: clients rarely reuse it (§8.1.3). The
// version is there because RFC 9369 §5 forbids accepting a token from another
// version (and RFC 9369 §4.1 lets a Retry token pin the version).
//
// Nonces are 12 random bytes from RAND_bytes per token, not a counter: a
// counter in the clear would let an observer order and link NEW_TOKEN tokens
// (§8.1.3 forbids linkable tokens), and the instances of a cluster sharing a
// key would have to keep their counters apart. Random 96-bit nonces stay
// below a 2^-32 chance of any collision for up to 2^32 tokens per key (NIST
// SP 800-38D §8.3); rotate keys well before that.
//
// Not thread-safe: seal and open reuse the codec's cipher contexts, so that
// neither allocates nor expands the key per token. Keep one codec per lcore.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "quic/buffer.h"
#include "quic/connection_id.h"
#include "quic/peer_address.h"

namespace dquic {

enum class TokenKind : std::uint8_t {
  kRetry = 1,     // RFC 9000 §8.1.2
  kNewToken = 2,  // RFC 9000 §8.1.3
};

// What the server does with each result: a Retry token that fails closes
// with INVALID_TOKEN (§8.1.2); a NEW_TOKEN token that fails is treated as
// absent, i.e. the client stays unvalidated (§8.1.3). For kInvalid the kind
// is unauthenticated: peek_token_kind() reads the clear Kind byte.
enum class TokenCheck : std::uint8_t {
  kOk,
  kInvalid,          // malformed, too long, unknown key id or fails authentication
  kExpired,          // older than its kind's lifetime, or issued in the future
  kAddressMismatch,  // another client IP; for Retry tokens also another port (§8.1.4)
  kVersionMismatch,  // issued for another QUIC version (RFC 9369 §5)
  kWrongKind,        // authentic, but not the kind the caller asked for
};

// The authenticated contents of a token.
struct TokenInfo {
  TokenKind kind = TokenKind::kRetry;
  std::uint32_t version = 0;
  std::int64_t issued_ms = 0;
  PeerAddress address;         // port is 0 for NEW_TOKEN tokens
  ConnectionId original_dcid;  // Retry: original_destination_connection_id (§7.3)
  ConnectionId retry_scid;     // Retry: retry_source_connection_id (§7.3)
};

// A token key: 16 bytes select AES-128-GCM, 32 bytes AES-256-GCM.
struct AddressTokenKey {
  std::uint8_t id = 0;
  ByteSpan secret;
};

struct AddressTokenLifetimes {
  // §8.1.4: Retry tokens SHOULD be accepted only briefly; they come straight back.
  std::int64_t retry_ms = 10'000;
  // §8.1.3: NEW_TOKEN tokens SHOULD expire, but are used on later connections.
  std::int64_t new_token_ms = 24 * 3600 * 1000;
  // How far in the future an issue time may lie (clocks of a cluster that
  // shares the key).
  std::int64_t clock_skew_ms = 1'000;
};

// Field sizes of the format above; the header is the Kind and Key Id bytes.
inline constexpr std::size_t kAddressTokenHeaderLength = 2;
inline constexpr std::size_t kAddressTokenNonceLength = 12;
inline constexpr std::size_t kAddressTokenTagLength = 16;
inline constexpr std::size_t kNewTokenPlaintextLength = 8 + 4 + 1 + 16;
inline constexpr std::size_t kMaxRetryTokenPlaintextLength =
    kNewTokenPlaintextLength + 2 + 1 + kMaxConnectionIdLength + 1 + kMaxConnectionIdLength;
inline constexpr std::size_t kAddressTokenOverhead =
    kAddressTokenHeaderLength + kAddressTokenNonceLength + kAddressTokenTagLength;
inline constexpr std::size_t kNewTokenLength = kAddressTokenOverhead + kNewTokenPlaintextLength;
// No token we seal is longer; longer ones are rejected unread.
inline constexpr std::size_t kMaxTokenLength =
    kAddressTokenOverhead + kMaxRetryTokenPlaintextLength;

// The clear Kind byte, if `token` has a plausible size and a known kind.
// Unauthenticated: only for deciding how to treat a token that fails open().
std::optional<TokenKind> peek_token_kind(ByteSpan token);

class AddressTokenCodec {
 public:
  // `previous`, if given, only opens tokens (a rotated-out key); its id must
  // differ from current's. Check ok() afterwards: a key of the wrong size or
  // an OpenSSL failure leaves the codec unusable (seal returns 0, open
  // kInvalid). The codec keeps no copy of the secrets, only OpenSSL's
  // expanded keys, which it cleanses when freed.
  explicit AddressTokenCodec(const AddressTokenKey& current,
                             const AddressTokenKey* previous = nullptr,
                             const AddressTokenLifetimes& lifetimes = {});
  ~AddressTokenCodec();
  AddressTokenCodec(AddressTokenCodec&& o) noexcept;
  AddressTokenCodec& operator=(AddressTokenCodec&& o) noexcept;
  AddressTokenCodec(const AddressTokenCodec&) = delete;
  AddressTokenCodec& operator=(const AddressTokenCodec&) = delete;

  bool ok() const { return keys_[kCurrent].ctx != nullptr; }

  // Makes `next` the sealing key and keeps the current one for opening; the
  // previous one is dropped. Setup-time (allocates). False, and no change, if
  // next's id equals the current id or the key is unusable.
  [[nodiscard]] bool rotate(const AddressTokenKey& next);

  // RFC 9000 §8.1.2: a token for a Retry sent to `client`, which used
  // `version` with DCID `original_dcid`; `retry_scid` is the Retry's SCID.
  // Returns the token length written to `out`, or 0 (out too small, RNG or
  // cipher failure). At most kMaxTokenLength bytes.
  std::size_t seal_retry(const PeerAddress& client, std::uint32_t version,
                         const ConnectionId& original_dcid, const ConnectionId& retry_scid,
                         std::int64_t now_ms, std::span<std::uint8_t> out);

  // RFC 9000 §8.1.3: a token for a NEW_TOKEN frame on a connection of
  // `version` with `client`. Always kNewTokenLength bytes, or 0 on failure.
  std::size_t seal_new_token(const PeerAddress& client, std::uint32_t version, std::int64_t now_ms,
                             std::span<std::uint8_t> out);

  // Validates a token from an Initial of `version` received from `from`.
  // On every result but kInvalid, *out holds the authenticated contents.
  // `expected`, if set, makes a token of the other kind kWrongKind. The
  // caller still checks a Retry token's retry_scid against the Initial's DCID
  // and carries both CIDs into its transport parameters (§7.3); replay within
  // the lifetime is not detected here (§8.1.4 leaves that to the server).
  TokenCheck open(ByteSpan token, const PeerAddress& from, std::uint32_t version,
                  std::int64_t now_ms, TokenInfo* out,
                  std::optional<TokenKind> expected = std::nullopt) const;

 private:
  struct KeySlot {
    EVP_CIPHER_CTX* ctx = nullptr;  // keyed once; each token sets only the nonce
    std::uint8_t id = 0;
  };
  static constexpr std::size_t kCurrent = 0;
  static constexpr std::size_t kPrevious = 1;

  static bool make_slot(const AddressTokenKey& key, KeySlot* slot);
  static void free_slot(KeySlot* slot);
  std::size_t seal(TokenKind kind, ByteSpan plaintext, std::span<std::uint8_t> out);

  std::array<KeySlot, 2> keys_{};
  AddressTokenLifetimes lifetimes_;
};

}  // namespace dquic
