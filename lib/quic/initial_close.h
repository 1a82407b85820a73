// A stateless CONNECTION_CLOSE in an Initial packet: how a server that
// keeps no state for a client refuses it (RFC 9000 §5.2.2, §8.1.2,
// §10.2.3). The packet is protected with the server Initial keys derived
// from the client's Destination Connection ID (RFC 9001 §5.2), so the
// client, which derived the same keys, opens it and closes.
// Sans-IO: OpenSSL EVP only, no DPDK. Rare and rate-limited by the caller
// (Endpoint's initial_close bucket): it derives keys per packet, and
// OpenSSL allocates inside HKDF; the cipher contexts are kept per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "quic/buffer.h"
#include "quic/error.h"
#include "quic/packet_keys.h"

namespace dquic {

struct InitialCloseSpec {
  std::uint32_t version = 0;  // the client's: kVersion1 or kVersion2
  // The DCID of the client's Initial, at least 1 and at most 20 bytes: the
  // key derivation input (RFC 9001 §5.2) and, echoed, our SCID (we have no
  // connection, so no CID of our own).
  ByteSpan client_dcid;
  ByteSpan client_scid;  // the client's SCID: our DCID; at most 20 bytes
  TransportError error = TransportError::kConnectionRefused;
  // Kept short (at most kMaxInitialCloseReason bytes): the reason phrase
  // is for diagnostics only (RFC 9000 §19.19).
  std::string_view reason;
};

inline constexpr std::size_t kMaxInitialCloseReason = 64;

// The largest packet build_initial_close() writes: first byte, version,
// two CIDs with their lengths, an empty token, a 2-byte Length, a 1-byte
// packet number, the frame (type, error, frame type, reason length,
// reason) and the AEAD tag.
inline constexpr std::size_t kMaxInitialCloseSize =
    1 + 4 + 2 * (1 + 20) + 1 + 2 + 1 + (1 + 8 + 1 + 1 + kMaxInitialCloseReason) + kAeadTagLength;

// Writes a protected Initial packet, packet number 0, carrying one
// transport CONNECTION_CLOSE (type 0x1c, Frame Type 0) with spec.error,
// into `out` and returns its length; 0 if the spec is invalid (unknown
// version, bad CID lengths, a reason too long), `out` is too small, or
// OpenSSL fails. It is not padded: a packet carrying only CONNECTION_CLOSE
// is not ack-eliciting, so RFC 9000 §14.1's 1200 bytes do not apply.
std::size_t build_initial_close(const InitialCloseSpec& spec, std::span<std::uint8_t> out);

// RFC 9001 §5.3, §5.4: protects an Initial (or other long-header) packet in
// place with `keys` (AES-128-GCM, AES-ECB header protection: the Initial
// suite, RFC 9001 §5.2). `packet` is the whole packet: its header through
// the packet number (starting at pn_offset, its length in the first
// byte's low bits), the plaintext payload, and kAeadTagLength bytes for
// the tag at the end. The packet must leave room for the header
// protection sample (RFC 9001 §5.4.2). False on bad arguments or an
// OpenSSL failure, with the packet then unspecified.
[[nodiscard]] bool protect_initial_packet(const PacketKeys& keys, std::uint64_t packet_number,
                                          std::size_t pn_offset, std::span<std::uint8_t> packet);

}  // namespace dquic
