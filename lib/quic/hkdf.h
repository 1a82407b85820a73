// HKDF (RFC 5869) and TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1) over
// SHA-256 and SHA-384, the two hashes of the cipher suites QUIC uses
// (RFC 9001 §5.3). Outputs go to caller memory; nothing here allocates beyond
// what OpenSSL does internally. These run at handshake and key-update time,
// not per packet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

#include "quic/buffer.h"

namespace dquic {

enum class HashAlgorithm : std::uint8_t { kSha256, kSha384 };

inline constexpr std::size_t kMaxHashLength = 48;

constexpr std::size_t hash_length(HashAlgorithm h) {
  return h == HashAlgorithm::kSha256 ? 32 : 48;
}

// A PRK or traffic secret: always hash_length(hash) bytes, the length of
// the hash it was made with (RFC 8446 §7.1: Derive-Secret uses Hash.length).
struct Secret {
  HashAlgorithm hash = HashAlgorithm::kSha256;
  std::uint8_t length = 0;
  std::array<std::uint8_t, kMaxHashLength> bytes{};

  // E.g. a traffic secret exported by TLS. False unless b is exactly
  // hash_length(h) bytes.
  [[nodiscard]] static bool from(HashAlgorithm h, ByteSpan b, Secret* out);
  ByteSpan span() const { return {bytes.data(), length}; }
};

// RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM). An empty salt means HashLen
// zero bytes.
[[nodiscard]] bool hkdf_extract(HashAlgorithm hash, ByteSpan salt, ByteSpan ikm, Secret* prk);

// RFC 2104: HMAC-Hash(key, the parts concatenated) into the first HashLen
// bytes of `out` (at least that long). An empty key is the all-zero key.
// One reusable context per hash per thread (hkdf.cc): no allocation after
// the first call on a thread.
[[nodiscard]] bool hmac_hash(HashAlgorithm hash, ByteSpan key,
                             std::initializer_list<ByteSpan> parts, std::span<std::uint8_t> out);

// RFC 5869 §2.3: fills all of `out` (at most 255 * HashLen bytes). `prk` must
// be at least HashLen bytes.
[[nodiscard]] bool hkdf_expand(HashAlgorithm hash, ByteSpan prk, ByteSpan info,
                               std::span<std::uint8_t> out);

// RFC 8446 §7.1: HKDF-Expand(secret, HkdfLabel, out.size()), where HkdfLabel
// is {uint16 length; opaque label<7..255> = "tls13 " + label; opaque
// context<0..255>}. QUIC passes an empty context (RFC 9001 §5.1).
[[nodiscard]] bool hkdf_expand_label(HashAlgorithm hash, ByteSpan secret, std::string_view label,
                                     ByteSpan context, std::span<std::uint8_t> out);

// The largest encoded HkdfLabel: 2 + (1 + 255) + (1 + 255).
inline constexpr std::size_t kMaxHkdfLabelLength = 514;

// Encodes HkdfLabel into `out`; returns its length, or 0 if the label, the
// context or `length` do not fit their fields or `out` is too small.
std::size_t encode_hkdf_label(std::size_t length, std::string_view label, ByteSpan context,
                              std::span<std::uint8_t> out);

}  // namespace dquic
