// QUIC's use of the TLS key schedule (RFC 9001 §5, §6; RFC 9369 §3.3):
// Initial secrets from the client's Destination Connection ID, packet
// protection keys from a traffic secret, and key updates (the Retry
// Integrity Tag is in retry_integrity.h). The version (kVersion1 or
// kVersion2) picks the salt and the labels; any other version makes every
// function return false.
// Sans-IO: bytes in, bytes out.
#pragma once

#include <cstdint>
#include <span>

#include "quic/buffer.h"
#include "quic/hkdf.h"
#include "quic/packet_header.h"
#include "quic/packet_keys.h"

namespace dquic {

// RFC 9001 §5.3: each AEAD comes from a TLS 1.3 suite, whose hash the
// key schedule uses.
constexpr HashAlgorithm aead_hash(AeadAlgorithm a) {
  return a == AeadAlgorithm::kAes256Gcm ? HashAlgorithm::kSha384 : HashAlgorithm::kSha256;
}

// RFC 9001 §5.2: Initial packets are protected with AES-128-GCM and keys from
// these SHA-256 secrets.
inline constexpr AeadAlgorithm kInitialAead = AeadAlgorithm::kAes128Gcm;

struct InitialSecrets {
  Secret client;  // client_initial_secret: protects what the client sends
  Secret server;  // server_initial_secret
};

// RFC 9001 §5.2, RFC 9369 §3.3.1. `client_dcid` is the Destination
// Connection ID of the client's first Initial (or the SCID of a Retry the
// client accepted, RFC 9001 §5.2); at most 20 bytes.
[[nodiscard]] bool derive_initial_secrets(std::uint32_t version, ByteSpan client_dcid,
                                          InitialSecrets* out);

// RFC 9001 §5.1, RFC 9369 §3.3.2: key, iv and hp from a traffic secret.
// The secret's hash must be aead_hash(aead).
[[nodiscard]] bool derive_packet_keys(std::uint32_t version, AeadAlgorithm aead,
                                      const Secret& secret, PacketKeys* out);

// RFC 9001 §6.1: the next generation's secret,
// HKDF-Expand-Label(secret, "quic ku" / "quicv2 ku", "", Hash.length).
[[nodiscard]] bool derive_next_secret(std::uint32_t version, const Secret& secret, Secret* next);

// One key update (RFC 9001 §6): *next_secret gets the next secret and
// *next_keys its key and iv. The header protection key is not updated
// (RFC 9001 §6, §5.4): next_keys->hp_key is copied from `current`.
// `secret` is the secret `current` was derived from. Outputs are written
// only on success, so they may alias the inputs (update in place).
[[nodiscard]] bool derive_updated_keys(std::uint32_t version, const Secret& secret,
                                       const PacketKeys& current, Secret* next_secret,
                                       PacketKeys* next_keys);

}  // namespace dquic
