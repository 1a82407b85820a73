// QUIC packet header encoders (RFC 9000 §17, RFC 9369 §3.2). Every encoder
// returns false if the fields are invalid or the buffer is too small, and then
// rewinds the writer to where it started. Packet numbers are written in the
// clear: header protection is the protection layer's job. Nothing here reads
// a clock or an RNG; random bits come from the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "quic/buffer.h"
#include "quic/packet_type.h"
#include "quic/version.h"

namespace dquic {

// Initial, 0-RTT or Handshake (RFC 9000 §17.2.2-17.2.4).
struct LongHeaderSpec {
  PacketType type = PacketType::kInitial;
  std::uint32_t version = kVersion1;  // kVersion1 or kVersion2
  ByteSpan dcid;                      // <= 20 bytes
  ByteSpan scid;                      // <= 20 bytes
  ByteSpan token;                     // Initial only
  // The Length varint takes exactly this many bytes (1, 2, 4 or 8) so it can
  // be patched once the payload is known; 2 covers any 1500-byte datagram.
  std::size_t length_width = 2;
  std::uint64_t length = 0;         // pn length + payload + AEAD tag; may be patched
  std::uint64_t packet_number = 0;  // its low pn_length bytes are sent (RFC 9000 §17.1)
  std::size_t pn_length = 4;        // 1..4
};

// Writer offsets (Writer::written() values) of the fields written.
struct LongHeaderLayout {
  std::size_t length_offset = 0;
  std::size_t length_width = 0;
  std::size_t pn_offset = 0;
  std::size_t header_end = 0;  // where the payload starts
};

bool encode_long_header(Writer& w, const LongHeaderSpec& h, LongHeaderLayout* layout);

// Rewrites the Length field in `buf` (the writer's whole buffer) in its fixed
// width. False if `length` does not fit that width or the field is outside buf.
bool patch_long_header_length(std::span<std::uint8_t> buf, const LongHeaderLayout& layout,
                              std::uint64_t length);

// 1-RTT (RFC 9000 §17.3.1). The reserved bits are sent as zero.
struct ShortHeaderSpec {
  ByteSpan dcid;  // <= 20 bytes
  bool spin_bit = false;
  bool key_phase = false;
  std::uint64_t packet_number = 0;
  std::size_t pn_length = 4;  // 1..4
};

bool encode_short_header(Writer& w, const ShortHeaderSpec& h, std::size_t* pn_offset);

// Retry (RFC 9000 §17.2.5). The integrity tag (RFC 9001 §5.8) is computed by
// the crypto layer over a pseudo-packet; pass it here, or pass an empty span
// to reserve 16 zero bytes at *tag_offset and fill them in later.
struct RetrySpec {
  std::uint32_t version = kVersion1;
  ByteSpan dcid;                 // <= 20 bytes
  ByteSpan scid;                 // <= 20 bytes
  ByteSpan token;                // non-empty (RFC 9000 §17.2.5.2)
  ByteSpan integrity_tag;        // 16 bytes or empty
  std::uint8_t unused_bits = 0;  // low 4 bits of the first byte
};

bool encode_retry(Writer& w, const RetrySpec& r, std::size_t* tag_offset);

// Version Negotiation (RFC 9000 §17.2.1). `random_bits` fills the 7 unused
// first-byte bits; 0x40 is always set so the packet looks like QUIC to
// demultiplexers (RFC 9000 §17.2.1 SHOULD, RFC 7983). CIDs echo the client's
// and may be up to 255 bytes; `versions` must not be empty.
bool encode_version_negotiation(Writer& w, std::uint8_t random_bits, ByteSpan dcid, ByteSpan scid,
                                std::span<const std::uint32_t> versions);

}  // namespace dquic
