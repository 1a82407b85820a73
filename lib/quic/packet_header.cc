#include "quic/packet_header.h"

#include "quic/connection_id.h"

namespace dquic {
namespace {

constexpr std::uint8_t kHeaderFormBit = 0x80;
constexpr std::uint8_t kFixedBit = 0x40;
constexpr std::uint8_t kSpinBit = 0x20;

std::size_t offset_of(ByteSpan datagram, const Reader& r) {
  return static_cast<std::size_t>(r.position() - datagram.data());
}

// Reads an 8-bit length and that many bytes (RFC 8999 §5.1).
bool read_cid(Reader& r, ByteSpan* cid) {
  std::uint8_t len;
  return r.read_u8(&len) && r.read_bytes(len, cid);
}

// RFC 9001 §5.4.2: endpoints MUST discard packets too short for a sample.
bool has_room_for_sample(std::size_t pn_offset, std::size_t packet_end) {
  return pn_offset + kPnSampleSkip + kHpSampleLength <= packet_end;
}

}  // namespace

std::string_view packet_drop_reason_name(PacketDropReason r) {
  switch (r) {
    case PacketDropReason::kNone:
      return "none";
    case PacketDropReason::kTruncated:
      return "truncated";
    case PacketDropReason::kFixedBitZero:
      return "fixed bit zero";
    case PacketDropReason::kConnectionIdTooLong:
      return "connection ID too long";
    case PacketDropReason::kLengthExceedsDatagram:
      return "Length exceeds datagram";
    case PacketDropReason::kTooShortForSample:
      return "too short for header protection sample";
    case PacketDropReason::kUnknownVersion:
      return "unknown version";
    case PacketDropReason::kRetryTooShort:
      return "Retry too short for integrity tag";
    case PacketDropReason::kRetryTokenEmpty:
      return "Retry token empty";
    case PacketDropReason::kVersionListEmpty:
      return "version list empty";
    case PacketDropReason::kVersionListNotMultipleOf4:
      return "version list not a multiple of 4";
  }
  return "unknown";
}

PacketDropReason parse_invariant_header(ByteSpan datagram, std::size_t short_dcid_len,
                                        InvariantHeader* out) {
  Reader r(datagram);
  std::uint8_t first;
  if (!r.read_u8(&first)) return PacketDropReason::kTruncated;
  *out = {};
  out->long_header = (first & kHeaderFormBit) != 0;  // RFC 8999 §5
  if (!out->long_header) {
    // RFC 8999 §5.2: the DCID length is implicit in a short header.
    return r.read_bytes(short_dcid_len, &out->dcid) ? PacketDropReason::kNone
                                                    : PacketDropReason::kTruncated;
  }
  if (!r.read_u32(&out->version) || !read_cid(r, &out->dcid) || !read_cid(r, &out->scid)) {
    return PacketDropReason::kTruncated;
  }
  return PacketDropReason::kNone;
}

PacketType long_packet_type(std::uint32_t version, std::uint8_t type_bits) {
  constexpr PacketType kV1[4] = {PacketType::kInitial, PacketType::kZeroRtt, PacketType::kHandshake,
                                 PacketType::kRetry};  // RFC 9000 §17.2, Table 5
  constexpr PacketType kV2[4] = {PacketType::kRetry, PacketType::kInitial, PacketType::kZeroRtt,
                                 PacketType::kHandshake};  // RFC 9369 §3.2
  return (version == kVersion2 ? kV2 : kV1)[type_bits & 0x03];
}

std::uint8_t long_type_bits(std::uint32_t version, PacketType type) {
  std::uint8_t v1 = 0;
  switch (type) {
    case PacketType::kInitial:
      v1 = 0;
      break;
    case PacketType::kZeroRtt:
      v1 = 1;
      break;
    case PacketType::kHandshake:
      v1 = 2;
      break;
    default:
      v1 = 3;
      break;  // Retry
  }
  // RFC 9369 §3.2: every v2 type is the v1 type plus one, mod 4.
  return version == kVersion2 ? static_cast<std::uint8_t>((v1 + 1) & 0x03) : v1;
}

namespace {

PacketDropReason parse_short(ByteSpan datagram, Reader& r, std::uint8_t first,
                             std::size_t short_dcid_len, PacketHeader* out) {
  out->type = PacketType::kOneRtt;
  if (!(first & kFixedBit)) return PacketDropReason::kFixedBitZero;  // RFC 9000 §17.3.1
  if (short_dcid_len > kMaxConnectionIdLength) return PacketDropReason::kConnectionIdTooLong;
  if (!r.read_bytes(short_dcid_len, &out->dcid)) return PacketDropReason::kTruncated;
  out->spin_bit = (first & kSpinBit) != 0;  // RFC 9000 §17.4
  out->pn_offset = offset_of(datagram, r);
  // RFC 9000 §12.2: no Length field, so the packet fills the datagram.
  out->packet_end = datagram.size();
  if (!has_room_for_sample(out->pn_offset, out->packet_end)) {
    return PacketDropReason::kTooShortForSample;
  }
  return PacketDropReason::kNone;
}

PacketDropReason parse_version_negotiation(ByteSpan datagram, Reader& r, PacketHeader* out) {
  // RFC 9000 §17.2.1: the fixed bit and type bits are unused; CIDs echo the
  // client's and may be up to 255 bytes, so no 20-byte limit here.
  out->type = PacketType::kVersionNegotiation;
  out->supported_versions = r.rest();
  out->packet_end = datagram.size();
  if (out->supported_versions.empty()) return PacketDropReason::kVersionListEmpty;
  if (out->supported_versions.size() % 4 != 0) {
    return PacketDropReason::kVersionListNotMultipleOf4;
  }
  return PacketDropReason::kNone;
}

PacketDropReason parse_retry(ByteSpan datagram, Reader& r, PacketHeader* out) {
  // RFC 9000 §17.2.5: the token runs to the 16-byte integrity tag at the end.
  const ByteSpan rest = r.rest();
  out->packet_end = datagram.size();
  if (rest.size() < kRetryIntegrityTagLength) return PacketDropReason::kRetryTooShort;
  out->token = rest.first(rest.size() - kRetryIntegrityTagLength);
  out->retry_integrity_tag = rest.last(kRetryIntegrityTagLength);
  if (out->token.empty()) return PacketDropReason::kRetryTokenEmpty;  // RFC 9000 §17.2.5.2
  return PacketDropReason::kNone;
}

}  // namespace

PacketDropReason parse_packet_header(ByteSpan datagram, std::size_t offset,
                                     std::size_t short_dcid_len, PacketHeader* out) {
  *out = {};
  out->first_byte_offset = offset;
  if (offset >= datagram.size()) return PacketDropReason::kTruncated;
  Reader r(datagram.subspan(offset));
  std::uint8_t first = 0;
  (void)r.read_u8(&first);
  out->first_byte = first;
  if (!(first & kHeaderFormBit)) return parse_short(datagram, r, first, short_dcid_len, out);

  // RFC 8999 §5.1: version and both CIDs come first in every version.
  if (!r.read_u32(&out->version) || !read_cid(r, &out->dcid) || !read_cid(r, &out->scid)) {
    return PacketDropReason::kTruncated;
  }
  if (out->version == kVersionNegotiation) return parse_version_negotiation(datagram, r, out);
  if (!is_supported_version(out->version)) return PacketDropReason::kUnknownVersion;
  out->type = long_packet_type(out->version, static_cast<std::uint8_t>((first >> 4) & 0x03));
  if (!(first & kFixedBit)) return PacketDropReason::kFixedBitZero;  // RFC 9000 §17.2
  // RFC 9000 §17.2: v1 (and v2) CIDs longer than 20 bytes MUST be dropped.
  if (out->dcid.size() > kMaxConnectionIdLength || out->scid.size() > kMaxConnectionIdLength) {
    return PacketDropReason::kConnectionIdTooLong;
  }
  if (out->type == PacketType::kRetry) return parse_retry(datagram, r, out);

  if (out->type == PacketType::kInitial) {  // RFC 9000 §17.2.2: Token Length, Token
    std::uint64_t token_len;
    if (!r.read_varint(&token_len) || token_len > r.remaining() ||
        !r.read_bytes(static_cast<std::size_t>(token_len), &out->token)) {
      return PacketDropReason::kTruncated;
    }
  }
  if (!r.read_varint(&out->length)) return PacketDropReason::kTruncated;
  out->pn_offset = offset_of(datagram, r);
  // RFC 9000 §12.2: Length covers the packet number and payload; it must stay
  // inside the datagram.
  if (out->length > r.remaining()) return PacketDropReason::kLengthExceedsDatagram;
  out->packet_end = out->pn_offset + static_cast<std::size_t>(out->length);
  if (!has_room_for_sample(out->pn_offset, out->packet_end)) {
    return PacketDropReason::kTooShortForSample;
  }
  return PacketDropReason::kNone;
}

bool CoalescedPackets::next(PacketHeader* out) {
  if (done_) return false;
  if (offset_ >= datagram_.size()) {
    done_ = true;
    return false;
  }
  const PacketDropReason r = parse_packet_header(datagram_, offset_, short_dcid_len_, out);
  if (r != PacketDropReason::kNone) {
    stop_ = r;
    done_ = true;
    return false;
  }
  if (count_++ == 0) first_dcid_ = out->dcid;
  // Always > offset_: every valid packet has at least its first byte.
  offset_ = out->packet_end;
  return true;
}

}  // namespace dquic
