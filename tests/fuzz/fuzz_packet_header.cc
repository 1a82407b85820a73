// Parses arbitrary bytes as a datagram, walks its coalesced packets, and for
// every packet that parses re-encodes the header and parses it again: the
// fields must survive the round trip. Deterministic; no allocation.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "quic/connection_id.h"
#include "quic/packet_header.h"
#include "quic/packet_header_encode.h"

namespace dquic {
namespace {

constexpr std::size_t kMaxInput = 1 << 16;
std::uint8_t g_out[kMaxInput + 64];
std::uint32_t g_versions[kMaxInput / 4];

// Builds a spec field by field (designated initializers that skip fields
// trip g++ 12's -Wmissing-field-initializers).
template <typename Spec, typename F>
Spec make(F set) {
  Spec s;
  set(s);
  return s;
}

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::uint64_t read_be(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i)
    v = (v << 8) | p[i];
  return v;
}

bool same_tail(ByteSpan a, std::size_t a_from, ByteSpan b, std::size_t b_from) {
  return a.size() - a_from == b.size() - b_from &&
         std::memcmp(a.data() + a_from, b.data() + b_from, a.size() - a_from) == 0;
}

void round_trip(ByteSpan dg, std::size_t short_dcid_len, const PacketHeader& h) {
  const ByteSpan pkt = dg.subspan(h.first_byte_offset, h.packet_size());
  Writer w(g_out);
  switch (h.type) {
    case PacketType::kInitial:
    case PacketType::kZeroRtt:
    case PacketType::kHandshake: {
      // Read the protected bits as if unprotected: any value must encode.
      const std::size_t pn_len = decode_unprotected_first_byte(h.first_byte).pn_length;
      const std::size_t width = (h.first_byte & 0x08) ? 8 : varint_size(h.length);
      LongHeaderLayout layout;
      check(encode_long_header(w, make<LongHeaderSpec>([&](LongHeaderSpec& s) {
                                 s.type = h.type;
                                 s.version = h.version;
                                 s.dcid = h.dcid;
                                 s.scid = h.scid;
                                 s.token = h.token;
                                 s.length_width = width;
                                 s.length = 0;
                                 s.packet_number = read_be(dg.data() + h.pn_offset, pn_len);
                                 s.pn_length = pn_len;
                               }),
                               &layout));
      check(patch_long_header_length(g_out, layout, h.length));
      w.write_bytes(dg.subspan(h.pn_offset + pn_len, h.packet_end - h.pn_offset - pn_len));
      check(w.ok());
      PacketHeader r;
      check(parse_packet_header({g_out, w.written()}, 0, short_dcid_len, &r) ==
            PacketDropReason::kNone);
      check(r.type == h.type && r.version == h.version && same_bytes(r.dcid, h.dcid) &&
            same_bytes(r.scid, h.scid) && same_bytes(r.token, h.token) && r.length == h.length);
      check((r.first_byte | 0x0c) == (h.first_byte | 0x0c));
      check(r.pn_offset == layout.pn_offset && r.packet_end == w.written());
      check(same_tail({g_out, w.written()}, r.pn_offset, pkt, h.pn_offset - h.first_byte_offset));
      break;
    }
    case PacketType::kOneRtt: {
      const auto u = decode_unprotected_first_byte(h.first_byte);
      std::size_t pn_offset = 0;
      check(encode_short_header(w, make<ShortHeaderSpec>([&](ShortHeaderSpec& s) {
                                  s.dcid = h.dcid;
                                  s.spin_bit = h.spin_bit;
                                  s.key_phase = u.key_phase;
                                  s.packet_number = read_be(dg.data() + h.pn_offset, u.pn_length);
                                  s.pn_length = u.pn_length;
                                }),
                                &pn_offset));
      w.write_bytes(dg.subspan(h.pn_offset + u.pn_length));
      check(w.ok());
      PacketHeader r;
      check(parse_packet_header({g_out, w.written()}, 0, short_dcid_len, &r) ==
            PacketDropReason::kNone);
      check(r.type == PacketType::kOneRtt && same_bytes(r.dcid, h.dcid) &&
            r.spin_bit == h.spin_bit && r.pn_offset == pn_offset);
      check((r.first_byte | 0x18) == (h.first_byte | 0x18));
      check(same_tail({g_out, w.written()}, 1, pkt, 1));
      break;
    }
    case PacketType::kRetry: {
      check(encode_retry(w, make<RetrySpec>([&](RetrySpec& s) {
                           s.version = h.version;
                           s.dcid = h.dcid;
                           s.scid = h.scid;
                           s.token = h.token;
                           s.integrity_tag = h.retry_integrity_tag;
                           s.unused_bits = static_cast<std::uint8_t>(h.first_byte & 0x0f);
                         }),
                         nullptr));
      // Exact: a Retry has no protected bits.
      check(same_tail({g_out, w.written()}, 0, pkt, 0));
      break;
    }
    case PacketType::kVersionNegotiation: {
      std::size_t n = 0;
      for (std::uint32_t v : h.versions())
        g_versions[n++] = v;
      check(n == h.supported_versions.size() / 4);
      check(encode_version_negotiation(w, h.first_byte, h.dcid, h.scid, {g_versions, n}));
      // Exact except the 0x40 bit the encoder always sets.
      check((g_out[0] & ~0x40) == (pkt[0] & ~0x40));
      check(same_tail({g_out, w.written()}, 1, pkt, 1));
      break;
    }
  }
}

}  // namespace
}  // namespace dquic

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dquic;
  if (size == 0 || size > kMaxInput) return 0;
  const ByteSpan dg(data, size);
  // Two DCID lengths per input; the second can exceed 20 to hit that check.
  const std::size_t lens[2] = {std::size_t{data[0]} % 21, std::size_t{data[size - 1]} % 32};
  for (std::size_t len : lens) {
    InvariantHeader ih;
    const PacketDropReason ir = parse_invariant_header(dg, len, &ih);
    CoalescedPackets it(dg, len);
    PacketHeader h;
    std::size_t prev_end = 0;
    while (it.next(&h)) {
      check(ir == PacketDropReason::kNone);  // the first packet parsed, so must its invariants
      check(h.first_byte_offset == prev_end && h.packet_end > h.first_byte_offset &&
            h.packet_end <= size);
      if (h.has_packet_number()) {
        check(h.sample_offset() + kHpSampleLength <= h.packet_end);
      }
      if (it.count() == 1) {
        check(same_bytes(ih.dcid, h.dcid) && ih.long_header == h.is_long_header());
      }
      prev_end = h.packet_end;
      round_trip(dg, len, h);
    }
    check(it.offset() == prev_end && it.count() <= size);
  }
  return 0;
}
