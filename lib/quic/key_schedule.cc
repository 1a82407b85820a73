#include "quic/key_schedule.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <limits>
#include <string_view>

#include "quic/connection_id.h"
#include "quic/version.h"

namespace dquic {
namespace {

using Bytes16 = std::array<std::uint8_t, 16>;

// What differs between QUIC v1 and v2 in the key schedule.
struct VersionConstants {
  std::array<std::uint8_t, 20> initial_salt;
  std::string_view key_label;
  std::string_view iv_label;
  std::string_view hp_label;
  std::string_view ku_label;
};

// RFC 9001 §5.2, §5.1, §6.1.
constexpr VersionConstants kV1Constants{
    {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
     0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a},
    "quic key",
    "quic iv",
    "quic hp",
    "quic ku",
};

// RFC 9369 §3.3.1, §3.3.2.
constexpr VersionConstants kV2Constants{
    {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
     0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9},
    "quicv2 key",
    "quicv2 iv",
    "quicv2 hp",
    "quicv2 ku",
};

const VersionConstants* constants_for(std::uint32_t version) {
  if (version == kVersion1) return &kV1Constants;
  if (version == kVersion2) return &kV2Constants;
  return nullptr;
}

bool valid_secret(const Secret& s) {
  return s.length == hash_length(s.hash);
}

bool expand(const Secret& secret, std::string_view label, std::span<std::uint8_t> out) {
  return hkdf_expand_label(secret.hash, secret.span(), label, {}, out);
}

// The parts of PacketKeys that change on a key update: key and iv.
bool derive_key_iv(const VersionConstants& c, const Secret& secret, PacketKeys* keys) {
  return expand(secret, c.key_label, {keys->key.data(), keys->key_length()}) &&
         expand(secret, c.iv_label, keys->iv);
}

}  // namespace

bool derive_initial_secrets(std::uint32_t version, ByteSpan client_dcid, InitialSecrets* out) {
  const VersionConstants* c = constants_for(version);
  if (c == nullptr || client_dcid.size() > kMaxConnectionIdLength) return false;
  // RFC 9001 §5.2: initial_secret = HKDF-Extract(initial_salt, client_dcid);
  // the labels "client in" / "server in" are the same in v2 (RFC 9369 §3.3.2).
  Secret initial;
  InitialSecrets s;
  s.client.hash = s.server.hash = HashAlgorithm::kSha256;
  s.client.length = s.server.length =
      static_cast<std::uint8_t>(hash_length(HashAlgorithm::kSha256));
  const bool ok = hkdf_extract(HashAlgorithm::kSha256, c->initial_salt, client_dcid, &initial) &&
                  expand(initial, "client in", {s.client.bytes.data(), s.client.length}) &&
                  expand(initial, "server in", {s.server.bytes.data(), s.server.length});
  OPENSSL_cleanse(initial.bytes.data(), initial.bytes.size());
  if (ok) *out = s;
  OPENSSL_cleanse(&s, sizeof(s));
  return ok;
}

bool derive_packet_keys(std::uint32_t version, AeadAlgorithm aead, const Secret& secret,
                        PacketKeys* out) {
  const VersionConstants* c = constants_for(version);
  if (c == nullptr || !valid_secret(secret) || secret.hash != aead_hash(aead)) return false;
  PacketKeys k;
  k.aead = aead;
  // RFC 9001 §5.1: hp has the AEAD key's length.
  const bool ok = derive_key_iv(*c, secret, &k) &&
                  expand(secret, c->hp_label, {k.hp_key.data(), k.key_length()});
  if (ok) *out = k;
  OPENSSL_cleanse(&k, sizeof(k));
  return ok;
}

bool derive_next_secret(std::uint32_t version, const Secret& secret, Secret* next) {
  const VersionConstants* c = constants_for(version);
  if (c == nullptr || !valid_secret(secret)) return false;
  Secret n;
  n.hash = secret.hash;
  n.length = secret.length;
  const bool ok = expand(secret, c->ku_label, {n.bytes.data(), n.length});
  if (ok) *next = n;
  OPENSSL_cleanse(&n, sizeof(n));
  return ok;
}

bool derive_updated_keys(std::uint32_t version, const Secret& secret, const PacketKeys& current,
                         Secret* next_secret, PacketKeys* next_keys) {
  const VersionConstants* c = constants_for(version);
  if (c == nullptr || !valid_secret(secret) || secret.hash != aead_hash(current.aead)) {
    return false;
  }
  Secret s;
  PacketKeys k;
  k.aead = current.aead;
  k.hp_key = current.hp_key;  // RFC 9001 §6: header protection keys are not updated
  const bool ok = derive_next_secret(version, secret, &s) && derive_key_iv(*c, s, &k);
  if (ok) {
    *next_secret = s;
    *next_keys = k;
  }
  OPENSSL_cleanse(&s, sizeof(s));
  OPENSSL_cleanse(&k, sizeof(k));
  return ok;
}

}  // namespace dquic
