// QUIC packet header parsing (RFC 8999 invariants, RFC 9000 §17, RFC 9369 §3.2)
// and coalesced-datagram splitting (RFC 9000 §12.2). Parsers return views into
// the datagram and never allocate. Header protection is not touched here: the
// packet number length, key phase and reserved bits are left for the
// protection layer, which gets the offsets it needs from PacketHeader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "quic/buffer.h"
#include "quic/packet_type.h"
#include "quic/version.h"

namespace dquic {

// Why a packet was dropped. A header that fails these checks is discarded,
// never a connection error (RFC 9000 §12.2, §17.2; RFC 9001 §5.4.2).
enum class PacketDropReason : std::uint8_t {
  kNone = 0,
  kTruncated,                  // a header field runs past the end of the datagram
  kFixedBitZero,               // RFC 9000 §17.2, §17.3.1: MUST discard
  kConnectionIdTooLong,        // > 20 bytes in v1/v2, RFC 9000 §17.2
  kLengthExceedsDatagram,      // Length field past the datagram end, RFC 9000 §12.2
  kTooShortForSample,          // RFC 9001 §5.4.2: sample must fit in the packet
  kUnknownVersion,             // not v1/v2: only the invariant fields are valid
  kRetryTooShort,              // no room for the 16-byte integrity tag, RFC 9001 §5.8
  kRetryTokenEmpty,            // RFC 9000 §17.2.5.2: client MUST discard
  kVersionListEmpty,           // RFC 9000 §17.2.1
  kVersionListNotMultipleOf4,  // RFC 8999 §6: 32-bit entries
};

std::string_view packet_drop_reason_name(PacketDropReason r);

inline constexpr std::size_t kRetryIntegrityTagLength = 16;  // RFC 9001 §5.8
// RFC 9001 §5.4.2: the sample starts 4 bytes into the Packet Number field,
// whatever its real length.
inline constexpr std::size_t kPnSampleSkip = 4;
inline constexpr std::size_t kHpSampleLength = 16;
// RFC 8999 §5.1: long-header connection IDs are up to 255 bytes in general.
inline constexpr std::size_t kMaxInvariantConnectionIdLength = 255;

constexpr bool is_supported_version(std::uint32_t v) {
  return v == kVersion1 || v == kVersion2;
}

// The version-independent fields (RFC 8999 §5): all a dispatcher may read
// before it knows the version, e.g. to route or to answer with Version
// Negotiation (which it must not do for datagrams < 1200 bytes, RFC 9000 §14.1).
struct InvariantHeader {
  bool long_header = false;
  std::uint32_t version = 0;  // long headers only
  ByteSpan dcid;
  ByteSpan scid;  // long headers only
};

// Short-header DCIDs carry no length: the endpoint supplies the one it issues.
// Only truncation is reported; CIDs up to 255 bytes are accepted.
PacketDropReason parse_invariant_header(ByteSpan datagram, std::size_t short_dcid_len,
                                        InvariantHeader* out);

// Supported Versions of a Version Negotiation packet: a view of 32-bit
// big-endian entries (RFC 9000 §17.2.1).
class VersionList {
 public:
  class Iterator {
   public:
    explicit Iterator(const std::uint8_t* p) : p_(p) {}
    std::uint32_t operator*() const {
      return (std::uint32_t{p_[0]} << 24) | (std::uint32_t{p_[1]} << 16) |
             (std::uint32_t{p_[2]} << 8) | p_[3];
    }
    Iterator& operator++() {
      p_ += 4;
      return *this;
    }
    bool operator==(const Iterator&) const = default;

   private:
    const std::uint8_t* p_;
  };

  explicit VersionList(ByteSpan raw) : raw_(raw.first(raw.size() & ~std::size_t{3})) {}
  std::size_t size() const { return raw_.size() / 4; }
  Iterator begin() const { return Iterator(raw_.data()); }
  Iterator end() const { return Iterator(raw_.data() + raw_.size()); }
  bool contains(std::uint32_t v) const {
    for (std::uint32_t x : *this)
      if (x == v) return true;
    return false;
  }

 private:
  ByteSpan raw_;
};

// A parsed header. Offsets are relative to the start of the datagram that was
// passed in, so the protection layer can work in place.
struct PacketHeader {
  PacketType type = PacketType::kOneRtt;
  std::uint8_t first_byte = 0;  // as received: still header-protected
  std::uint32_t version = 0;    // long headers (0 = Version Negotiation); 0 for short
  ByteSpan dcid;
  ByteSpan scid;                 // long headers
  ByteSpan token;                // Initial Token or Retry Token
  ByteSpan retry_integrity_tag;  // Retry: its last 16 bytes
  ByteSpan supported_versions;   // VN: non-empty, a multiple of 4; see versions()
  bool spin_bit = false;         // short header; not protected (RFC 9000 §17.4)
  std::uint64_t length = 0;      // Length field: Initial, 0-RTT, Handshake
  std::size_t first_byte_offset = 0;
  std::size_t pn_offset = 0;   // 0 for Retry and VN, which have no packet number
  std::size_t packet_end = 0;  // one past this packet's last byte

  bool is_long_header() const { return type != PacketType::kOneRtt; }
  bool has_packet_number() const {
    return type != PacketType::kRetry && type != PacketType::kVersionNegotiation;
  }
  std::size_t sample_offset() const { return pn_offset + kPnSampleSkip; }  // RFC 9001 §5.4.2
  std::size_t packet_size() const { return packet_end - first_byte_offset; }
  VersionList versions() const { return VersionList(supported_versions); }
};

// Parses the packet starting at `offset` in `datagram` for v1 or v2. A packet
// with a Length field ends there; any other packet takes the rest of the
// datagram (RFC 9000 §12.2). On kUnknownVersion, version/dcid/scid are filled.
PacketDropReason parse_packet_header(ByteSpan datagram, std::size_t offset,
                                     std::size_t short_dcid_len, PacketHeader* out);

// Long Packet Type bits <-> PacketType; v2 permutes them (RFC 9369 §3.2).
// Both require a supported version.
PacketType long_packet_type(std::uint32_t version, std::uint8_t type_bits);
std::uint8_t long_type_bits(std::uint32_t version, PacketType type);

// For the protection layer, once header protection is removed from the first
// byte (RFC 9000 §17.2, §17.3.1).
struct UnprotectedFirstByte {
  std::size_t pn_length;  // 1..4
  bool key_phase;         // short header only
};
constexpr UnprotectedFirstByte decode_unprotected_first_byte(std::uint8_t first) {
  return {static_cast<std::size_t>(first & 0x03) + 1, (first & 0x04) != 0};
}
// Bits header protection covers (RFC 9001 §5.4.1) and the reserved bits that
// must be zero after removing it (RFC 9000 §17.2, §17.3.1: PROTOCOL_VIOLATION).
constexpr std::uint8_t hp_first_byte_mask(bool long_header) {
  return long_header ? 0x0f : 0x1f;
}
constexpr std::uint8_t reserved_bits_mask(bool long_header) {
  return long_header ? 0x0c : 0x18;
}

// Walks the packets coalesced in one datagram (RFC 9000 §12.2). Each step
// advances by at least one byte, so the loop is bounded by the datagram size.
//
// The first failing packet ends the walk (stop_reason() says why); packets
// already returned stay valid. Trailing bytes that do not parse are dropped
// that way. RFC 9000 §12.2 says receivers SHOULD ignore later packets whose
// DCID differs from the first packet's: compare h.dcid with first_dcid().
class CoalescedPackets {
 public:
  CoalescedPackets(ByteSpan datagram, std::size_t short_dcid_len)
      : datagram_(datagram), short_dcid_len_(short_dcid_len) {}

  // Parses the next packet. False at the end of the datagram (stop_reason()
  // is kNone) or when a packet fails (stop_reason() is its drop reason).
  bool next(PacketHeader* out);

  PacketDropReason stop_reason() const { return stop_; }
  std::size_t offset() const { return offset_; }  // start of the next packet
  ByteSpan first_dcid() const { return first_dcid_; }
  std::size_t count() const { return count_; }

 private:
  ByteSpan datagram_;
  std::size_t short_dcid_len_;
  std::size_t offset_ = 0;
  std::size_t count_ = 0;
  ByteSpan first_dcid_;
  PacketDropReason stop_ = PacketDropReason::kNone;
  bool done_ = false;
};

}  // namespace dquic
