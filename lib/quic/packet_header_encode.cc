#include "quic/packet_header_encode.h"

#include "quic/connection_id.h"
#include "quic/packet_header.h"

namespace dquic {
namespace {

constexpr std::uint8_t kLongForm = 0xc0;   // Header Form + Fixed Bit, RFC 9000 §17.2
constexpr std::uint8_t kShortForm = 0x40;  // Fixed Bit, RFC 9000 §17.3.1

bool valid_pn_length(std::size_t n) {
  return n >= 1 && n <= 4;
}

bool valid_cids(ByteSpan dcid, ByteSpan scid) {
  return dcid.size() <= kMaxConnectionIdLength && scid.size() <= kMaxConnectionIdLength;
}

void write_cid(Writer& w, ByteSpan cid) {
  w.write_u8(static_cast<std::uint8_t>(cid.size()));
  w.write_bytes(cid);
}

// Ends an encoder: keeps the bytes on success, else rewinds to `mark`.
bool finish(Writer& w, std::size_t mark) {
  if (w.ok()) return true;
  w.rewind(mark);
  return false;
}

}  // namespace

bool encode_long_header(Writer& w, const LongHeaderSpec& h, LongHeaderLayout* layout) {
  const std::size_t mark = w.written();
  const bool has_length = h.type == PacketType::kInitial || h.type == PacketType::kZeroRtt ||
                          h.type == PacketType::kHandshake;
  if (!has_length || !is_supported_version(h.version) || !valid_cids(h.dcid, h.scid) ||
      !valid_pn_length(h.pn_length) || !varint_fits(h.length, h.length_width) ||
      (h.type != PacketType::kInitial && !h.token.empty())) {
    return false;
  }
  // RFC 9000 §17.2: reserved bits are zero; the low two bits carry pn length - 1.
  w.write_u8(static_cast<std::uint8_t>(kLongForm | (long_type_bits(h.version, h.type) << 4) |
                                       (h.pn_length - 1)));
  w.write_u32(h.version);
  write_cid(w, h.dcid);
  write_cid(w, h.scid);
  if (h.type == PacketType::kInitial) {  // RFC 9000 §17.2.2
    w.write_varint(h.token.size());
    w.write_bytes(h.token);
  }
  LongHeaderLayout l;
  l.length_offset = w.written();
  l.length_width = h.length_width;
  w.write_varint(h.length, h.length_width);
  l.pn_offset = w.written();
  w.write_uint(h.packet_number, h.pn_length);  // truncated, RFC 9000 §17.1
  l.header_end = w.written();
  if (!finish(w, mark)) return false;
  if (layout) *layout = l;
  return true;
}

bool patch_long_header_length(std::span<std::uint8_t> buf, const LongHeaderLayout& layout,
                              std::uint64_t length) {
  if (!varint_fits(length, layout.length_width) || layout.length_offset > buf.size() ||
      buf.size() - layout.length_offset < layout.length_width) {
    return false;
  }
  varint_write(buf.data() + layout.length_offset, length, layout.length_width);
  return true;
}

bool encode_short_header(Writer& w, const ShortHeaderSpec& h, std::size_t* pn_offset) {
  const std::size_t mark = w.written();
  if (h.dcid.size() > kMaxConnectionIdLength || !valid_pn_length(h.pn_length)) return false;
  // RFC 9000 §17.3.1: 0 1 S R R K P P, reserved bits zero.
  w.write_u8(static_cast<std::uint8_t>(kShortForm | (h.spin_bit ? 0x20 : 0) |
                                       (h.key_phase ? 0x04 : 0) | (h.pn_length - 1)));
  w.write_bytes(h.dcid);
  const std::size_t pn = w.written();
  w.write_uint(h.packet_number, h.pn_length);
  if (!finish(w, mark)) return false;
  if (pn_offset) *pn_offset = pn;
  return true;
}

bool encode_retry(Writer& w, const RetrySpec& r, std::size_t* tag_offset) {
  const std::size_t mark = w.written();
  if (!is_supported_version(r.version) || !valid_cids(r.dcid, r.scid) || r.token.empty() ||
      (!r.integrity_tag.empty() && r.integrity_tag.size() != kRetryIntegrityTagLength)) {
    return false;
  }
  w.write_u8(static_cast<std::uint8_t>(
      kLongForm | (long_type_bits(r.version, PacketType::kRetry) << 4) | (r.unused_bits & 0x0f)));
  w.write_u32(r.version);
  write_cid(w, r.dcid);
  write_cid(w, r.scid);
  w.write_bytes(r.token);
  const std::size_t tag = w.written();
  if (r.integrity_tag.empty()) {
    w.fill(0, kRetryIntegrityTagLength);
  } else {
    w.write_bytes(r.integrity_tag);
  }
  if (!finish(w, mark)) return false;
  if (tag_offset) *tag_offset = tag;
  return true;
}

bool encode_version_negotiation(Writer& w, std::uint8_t random_bits, ByteSpan dcid, ByteSpan scid,
                                std::span<const std::uint32_t> versions) {
  const std::size_t mark = w.written();
  if (dcid.size() > kMaxInvariantConnectionIdLength ||
      scid.size() > kMaxInvariantConnectionIdLength || versions.empty()) {
    return false;
  }
  w.write_u8(static_cast<std::uint8_t>(0x80 | 0x40 | (random_bits & 0x7f)));
  w.write_u32(kVersionNegotiation);  // RFC 9000 §17.2.1: Version 0
  write_cid(w, dcid);
  write_cid(w, scid);
  for (std::uint32_t v : versions)
    w.write_u32(v);
  return finish(w, mark);
}

}  // namespace dquic
