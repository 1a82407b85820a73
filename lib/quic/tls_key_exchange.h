// TLS 1.3 (EC)DHE key exchange for the key_share extension: X25519 and
// secp256r1 (RFC 8446 §4.2.7, §4.2.8.2, §7.4) on OpenSSL 3.0 EVP_PKEY.
// Handshake-time code: OpenSSL allocates internally; the public value and the
// shared secret live in fixed buffers. Randomness comes from OpenSSL's RNG
// through EVP_PKEY_keygen.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "quic/buffer.h"
#include "quic/tls_alert.h"

namespace dquic {

// Frees an OpenSSL object through its *_free function.
template <auto Free>
struct OpensslFree {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpensslFree<&EVP_PKEY_free>>;

// NamedGroup code points (RFC 8446 §4.2.7) this stack implements.
enum class NamedGroup : std::uint16_t {
  kSecp256r1 = 0x0017,
  kX25519 = 0x001d,
};

// True for the code points above; the wire carries any uint16.
constexpr bool is_supported_group(std::uint16_t g) {
  return g == static_cast<std::uint16_t>(NamedGroup::kSecp256r1) ||
         g == static_cast<std::uint16_t>(NamedGroup::kX25519);
}

// KeyShareEntry.key_exchange length: 32 for X25519 (RFC 7748 §6.1 via RFC
// 8446 §4.2.8.2), 65 for an uncompressed P-256 point (RFC 8446 §4.2.8.2).
constexpr std::size_t key_share_length(NamedGroup g) {
  return g == NamedGroup::kX25519 ? 32 : 65;
}
inline constexpr std::size_t kMaxKeySharePublicLength = 65;
// Both groups give 32 bytes: X25519's output, P-256's x-coordinate (§7.4.1/2).
inline constexpr std::size_t kMaxSharedSecretLength = 32;

// The (EC)DHE shared secret, the IKM of the handshake secret (RFC 8446 §7.1).
// Wiped on destruction.
struct SharedSecret {
  std::array<std::uint8_t, kMaxSharedSecretLength> bytes{};
  std::uint8_t length = 0;

  SharedSecret() = default;
  SharedSecret(const SharedSecret&) = delete;
  SharedSecret& operator=(const SharedSecret&) = delete;
  ~SharedSecret();
  ByteSpan span() const { return {bytes.data(), length}; }
};

// One ephemeral private key and its encoded public value. Move-only; use it
// for one handshake (RFC 8446 §4.2.8 does not forbid reuse, but fresh keys
// give forward secrecy per connection).
class KeyShare {
 public:
  KeyShare() = default;
  KeyShare(KeyShare&&) noexcept = default;
  KeyShare& operator=(KeyShare&&) noexcept = default;

  // Generates a fresh key pair. std::nullopt on success, else
  // internal_error (also for a group we do not implement: the caller picks).
  [[nodiscard]] std::optional<TlsAlert> generate(NamedGroup group);

  bool ready() const { return key_ != nullptr; }
  NamedGroup group() const { return group_; }
  // The KeyShareEntry.key_exchange bytes to send.
  ByteSpan public_key() const { return {public_.data(), public_length_}; }

  // Computes the shared secret with the peer's key_exchange bytes;
  // std::nullopt on success. A wrong length, a P-256 value that is not an
  // uncompressed point on the curve, or an X25519 value giving the all-zero
  // secret is illegal_parameter (RFC 8446 §4.2.8.2, §7.4.2); OpenSSL failures
  // on valid input are internal_error.
  [[nodiscard]] std::optional<TlsAlert> derive(ByteSpan peer_public, SharedSecret* out) const;

 private:
  NamedGroup group_ = NamedGroup::kX25519;
  EvpPkeyPtr key_;
  std::array<std::uint8_t, kMaxKeySharePublicLength> public_{};
  std::uint8_t public_length_ = 0;
};

}  // namespace dquic
