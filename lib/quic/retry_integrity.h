// The Retry Integrity Tag (RFC 9001 §5.8, RFC 9369 §3.3.3): AES-128-GCM
// with a fixed per-version key and nonce over the Retry pseudo-packet.
#pragma once

#include <cstdint>
#include <span>

#include "quic/buffer.h"
#include "quic/packet_header.h"

namespace dquic {

// RFC 9001 §5.8, RFC 9369 §3.3.3: the AES-128-GCM tag over the Retry
// pseudo-packet, i.e. ODCID Length, `original_dcid` (the DCID of the client's
// first Initial, at most 20 bytes) and `retry_without_tag` (the Retry packet
// up to, not including, its tag).
[[nodiscard]] bool compute_retry_integrity_tag(
    std::uint32_t version, ByteSpan original_dcid, ByteSpan retry_without_tag,
    std::span<std::uint8_t, kRetryIntegrityTagLength> tag);

// `retry_packet` is the whole Retry packet, tag included (its last 16 bytes).
// Compares in constant time. False on a mismatch or bad arguments.
[[nodiscard]] bool verify_retry_integrity_tag(std::uint32_t version, ByteSpan original_dcid,
                                              ByteSpan retry_packet);

}  // namespace dquic
