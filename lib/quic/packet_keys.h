// Packet protection key material for one direction of one encryption level
// and key phase (RFC 9001 §5.1): what the key schedule produces and what the
// protection pipeline (lib/offload) installs.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace dquic {

// The AEADs of the TLS 1.3 cipher suites QUIC uses (RFC 9001 §5.3). Header
// protection follows the suite: AES-ECB for the GCM suites, ChaCha20 for
// ChaCha20-Poly1305 (RFC 9001 §5.4.3, §5.4.4).
enum class AeadAlgorithm : std::uint8_t {
  kAes128Gcm,        // TLS_AES_128_GCM_SHA256
  kAes256Gcm,        // TLS_AES_256_GCM_SHA384
  kChacha20Poly1305  // TLS_CHACHA20_POLY1305_SHA256
};

inline constexpr std::size_t kAeadNonceLength = 12;  // RFC 9001 §5.3: all three use 12
inline constexpr std::size_t kAeadTagLength = 16;
inline constexpr std::size_t kMaxAeadKeyLength = 32;

// The AEAD's name, which is also its OpenSSL EVP_CIPHER_fetch name.
constexpr const char* aead_name(AeadAlgorithm a) {
  switch (a) {
    case AeadAlgorithm::kAes128Gcm:
      return "AES-128-GCM";
    case AeadAlgorithm::kAes256Gcm:
      return "AES-256-GCM";
    case AeadAlgorithm::kChacha20Poly1305:
      return "ChaCha20-Poly1305";
  }
  return "";
}

constexpr std::size_t aead_key_length(AeadAlgorithm a) {
  return a == AeadAlgorithm::kAes128Gcm ? 16 : 32;
}

struct PacketKeys {
  AeadAlgorithm aead = AeadAlgorithm::kAes128Gcm;
  std::array<std::uint8_t, kMaxAeadKeyLength> key{};  // first aead_key_length() bytes used
  std::array<std::uint8_t, kAeadNonceLength> iv{};
  std::array<std::uint8_t, kMaxAeadKeyLength> hp_key{};  // same length as key

  std::size_t key_length() const { return aead_key_length(aead); }
};

// RFC 9001 §5.3: the nonce is the IV XORed with the packet number, which is
// left-padded to the IV's length in network byte order.
inline std::array<std::uint8_t, kAeadNonceLength> packet_nonce(
    const std::array<std::uint8_t, kAeadNonceLength>& iv, std::uint64_t packet_number) {
  std::array<std::uint8_t, kAeadNonceLength> n = iv;
  for (std::size_t i = 0; i < 8; ++i) {
    n[kAeadNonceLength - 1 - i] ^= static_cast<std::uint8_t>(packet_number >> (8 * i));
  }
  return n;
}

}  // namespace dquic
