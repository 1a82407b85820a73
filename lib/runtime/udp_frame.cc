#include "runtime/udp_frame.h"

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstring>

#include "runtime/ethernet.h"

namespace dquic {
namespace {

constexpr std::uint16_t kIpv4MinHdrLen = 20;
constexpr std::uint16_t kIpv6HdrLen = 40;
constexpr std::uint16_t kUdpHdrLen = 8;
constexpr std::uint8_t kProtoUdp = 17;
constexpr std::uint8_t kIpv6HopByHop = 0;
constexpr std::uint8_t kIpv6Routing = 43;
constexpr std::uint8_t kIpv6Fragment = 44;
constexpr std::uint8_t kIpv6DestOpts = 60;
constexpr std::uint16_t kIpv4Df = 0x4000;
constexpr std::uint16_t kIpv4Mf = 0x2000;
constexpr std::uint16_t kIpv4OffsetMask = 0x1fff;

std::uint32_t fold(std::uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

// RFC 768 / RFC 8200 §8.1 pseudo-header, as a raw (uncomplemented) sum in the
// same byte order rte_raw_cksum uses, so the two can be added.
std::uint32_t pseudo_header_sum(const IpAddress& src, const IpAddress& dst, std::uint16_t udp_len) {
  const std::size_t addr_len = src.family == IpFamily::kIpv4 ? 4 : 16;
  std::uint8_t tail[4] = {0, kProtoUdp, 0, 0};
  store_be16(tail + 2, udp_len);
  std::uint32_t sum = rte_raw_cksum(src.bytes.data(), addr_len);
  sum += rte_raw_cksum(dst.bytes.data(), addr_len);
  sum += rte_raw_cksum(tail, sizeof(tail));
  return fold(sum);
}

// Raw sum of the pseudo-header plus the UDP header and payload, over all
// segments; a valid checksum yields 0xffff.
std::uint16_t udp_raw_sum(const rte_mbuf* m, const IpAddress& src, const IpAddress& dst,
                          std::uint32_t l4_off, std::uint16_t udp_len) {
  std::uint16_t data_sum = 0;
  // Not rte_raw_cksum_mbuf: in DPDK 22.11 it drops the carries of a
  // segment that starts at an odd offset (see raw_sum_mbuf).
  if (!raw_sum_mbuf(m, l4_off, udp_len, 0, &data_sum)) return 0;
  return static_cast<std::uint16_t>(fold(pseudo_header_sum(src, dst, udp_len) + data_sum));
}

bool is_vlan_ethertype(std::uint16_t t) {
  return t == kEtherTypeVlan || t == kEtherTypeQinQ || t == kEtherTypeQinQOld;
}

}  // namespace

const char* to_string(UdpDropReason reason) {
  switch (reason) {
    case UdpDropReason::kNone:
      return "none";
    case UdpDropReason::kTooShort:
      return "too_short";
    case UdpDropReason::kBadEthertype:
      return "bad_ethertype";
    case UdpDropReason::kTooManyVlanTags:
      return "too_many_vlan_tags";
    case UdpDropReason::kBadIpVersion:
      return "bad_ip_version";
    case UdpDropReason::kBadIpHeaderLength:
      return "bad_ip_header_length";
    case UdpDropReason::kBadIpLength:
      return "bad_ip_length";
    case UdpDropReason::kBadIpChecksum:
      return "bad_ip_checksum";
    case UdpDropReason::kFragment:
      return "fragment";
    case UdpDropReason::kNotUdp:
      return "not_udp";
    case UdpDropReason::kBadExtensionHeader:
      return "bad_extension_header";
    case UdpDropReason::kBadUdpLength:
      return "bad_udp_length";
    case UdpDropReason::kBadUdpChecksum:
      return "bad_udp_checksum";
  }
  return "unknown";
}

UdpDropReason parse_udp_frame(const rte_mbuf* m, ParsedUdpFrame* out) {
  // Headers come from the first segment only (see udp_frame.h).
  const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const std::uint32_t seg_len = rte_pktmbuf_data_len(m);
  const std::uint32_t pkt_len = rte_pktmbuf_pkt_len(m);
  *out = ParsedUdpFrame{};

  if (seg_len < kEthHeaderLen) return UdpDropReason::kTooShort;
  std::uint32_t off = 12;
  std::uint16_t ethertype = load_be16(p + off);
  off += 2;
  while (is_vlan_ethertype(ethertype)) {
    if (out->vlan_count == 2) return UdpDropReason::kTooManyVlanTags;
    if (seg_len < off + kVlanTagLen) return UdpDropReason::kTooShort;
    // The outer tag comes first on the wire; report the inner one as vlan_tci.
    out->outer_vlan_tci = out->vlan_tci;
    out->vlan_tci = load_be16(p + off);
    ++out->vlan_count;
    ethertype = load_be16(p + off + 2);
    off += kVlanTagLen;
  }
  if (out->vlan_count < 2) out->outer_vlan_tci = 0;
  out->l2_len = static_cast<std::uint16_t>(off);

  const std::uint64_t ip_flags = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  const std::uint64_t l4_flags = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
  const std::uint8_t* ip = p + off;
  std::uint32_t ip_end = 0;  // end of the IP datagram, from the frame start
  if (ethertype == kEtherTypeIpv4) {
    if (seg_len < off + kIpv4MinHdrLen) return UdpDropReason::kTooShort;
    if ((ip[0] >> 4) != 4) return UdpDropReason::kBadIpVersion;
    const std::uint16_t ihl = static_cast<std::uint16_t>((ip[0] & 0x0f) * 4);
    if (ihl < kIpv4MinHdrLen) return UdpDropReason::kBadIpHeaderLength;
    if (seg_len < off + ihl) return UdpDropReason::kBadIpHeaderLength;
    const std::uint16_t total_len = load_be16(ip + 2);
    // Ethernet pads short frames, so the frame may be longer than the datagram.
    if (total_len < ihl || off + total_len > pkt_len) return UdpDropReason::kBadIpLength;
    if (ip_flags == RTE_MBUF_F_RX_IP_CKSUM_BAD) return UdpDropReason::kBadIpChecksum;
    if (ip_flags == RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN && rte_raw_cksum(ip, ihl) != 0xffff)
      return UdpDropReason::kBadIpChecksum;  // RFC 791 §3.1
    if ((load_be16(ip + 6) & (kIpv4Mf | kIpv4OffsetMask)) != 0) return UdpDropReason::kFragment;
    if (ip[9] != kProtoUdp) return UdpDropReason::kNotUdp;
    out->ecn = ip[1] & 0x03;
    out->ttl = ip[8];
    out->src.family = out->dst.family = IpFamily::kIpv4;
    std::memcpy(out->src.bytes.data(), ip + 12, 4);
    std::memcpy(out->dst.bytes.data(), ip + 16, 4);
    out->l3_len = ihl;
    ip_end = off + total_len;
  } else if (ethertype == kEtherTypeIpv6) {
    if (seg_len < off + kIpv6HdrLen) return UdpDropReason::kTooShort;
    if ((ip[0] >> 4) != 6) return UdpDropReason::kBadIpVersion;
    const std::uint16_t payload_len = load_be16(ip + 4);
    // Payload length 0 means a Jumbo Payload option (RFC 2675): not for us.
    if (payload_len == 0 || off + kIpv6HdrLen + payload_len > pkt_len)
      return UdpDropReason::kBadIpLength;
    ip_end = off + kIpv6HdrLen + payload_len;
    // Traffic class straddles the first two bytes; ECN is its low two bits.
    out->ecn = static_cast<std::uint8_t>((ip[1] >> 4) & 0x03);
    out->ttl = ip[7];
    out->src.family = out->dst.family = IpFamily::kIpv6;
    std::memcpy(out->src.bytes.data(), ip + 8, 16);
    std::memcpy(out->dst.bytes.data(), ip + 24, 16);
    // RFC 8200 §4: walk the extension headers a host may skip. Every step
    // consumes at least 8 bytes, so the loop is bounded by the payload length.
    std::uint8_t next = ip[6];
    std::uint32_t hdr = off + kIpv6HdrLen;
    while (next == kIpv6HopByHop || next == kIpv6Routing || next == kIpv6DestOpts) {
      if (hdr + 8 > ip_end || hdr + 8 > seg_len) return UdpDropReason::kBadExtensionHeader;
      const std::uint32_t ext_len = (static_cast<std::uint32_t>(p[hdr + 1]) + 1) * 8;
      if (hdr + ext_len > ip_end || hdr + ext_len > seg_len)
        return UdpDropReason::kBadExtensionHeader;
      next = p[hdr];
      hdr += ext_len;
    }
    if (next == kIpv6Fragment) return UdpDropReason::kFragment;
    if (next != kProtoUdp) return UdpDropReason::kNotUdp;
    out->l3_len = static_cast<std::uint16_t>(hdr - off);
  } else {
    return UdpDropReason::kBadEthertype;
  }

  const std::uint32_t l4_off = off + out->l3_len;
  if (seg_len < l4_off + kUdpHdrLen) return UdpDropReason::kTooShort;
  const std::uint8_t* udp = p + l4_off;
  const std::uint16_t udp_len = load_be16(udp + 4);
  // RFC 768: the UDP length covers header and data, exactly the IP payload.
  if (udp_len < kUdpHdrLen || l4_off + udp_len != ip_end) return UdpDropReason::kBadUdpLength;
  const std::uint16_t udp_cksum = load_be16(udp + 6);
  if (udp_cksum == 0) {
    // RFC 768: zero means "not computed", allowed over IPv4; RFC 8200 §8.1
    // forbids it over IPv6.
    if (out->src.family == IpFamily::kIpv6) return UdpDropReason::kBadUdpChecksum;
  } else if (l4_flags == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
    return UdpDropReason::kBadUdpChecksum;
  } else if (l4_flags == RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN &&
             udp_raw_sum(m, out->src, out->dst, l4_off, udp_len) != 0xffff) {
    return UdpDropReason::kBadUdpChecksum;
  }
  out->src_port = load_be16(udp);
  out->dst_port = load_be16(udp + 2);
  out->l4_len = kUdpHdrLen;
  out->payload_offset = l4_off + kUdpHdrLen;
  out->payload_len = udp_len - kUdpHdrLen;
  return UdpDropReason::kNone;
}

std::uint16_t udp_frame_header_len(const UdpFrameSpec& spec) {
  const std::uint16_t l2 = kEthHeaderLen + (spec.vlan ? kVlanTagLen : 0);
  const std::uint16_t l3 = spec.src.family == IpFamily::kIpv6 ? kIpv6HdrLen : kIpv4MinHdrLen;
  return static_cast<std::uint16_t>(l2 + l3 + kUdpHdrLen);
}

bool build_udp_frame(rte_mbuf* m, const UdpFrameSpec& spec, std::uint16_t* ipv4_id) {
  const bool v6 = spec.src.family == IpFamily::kIpv6;
  if (spec.src.family != spec.dst.family || spec.src.family == IpFamily::kNone) return false;
  const std::uint32_t payload_len = rte_pktmbuf_pkt_len(m);
  const std::uint32_t udp_len = payload_len + kUdpHdrLen;
  const std::uint32_t ip_len = udp_len + (v6 ? 0 : kIpv4MinHdrLen);
  if (ip_len > 0xffff) return false;
  const std::uint16_t l2_len = kEthHeaderLen + (spec.vlan ? kVlanTagLen : 0);
  const std::uint16_t l3_len = v6 ? kIpv6HdrLen : kIpv4MinHdrLen;
  // rte_pktmbuf_prepend leaves the mbuf untouched when headroom is short.
  auto* p = reinterpret_cast<std::uint8_t*>(
      rte_pktmbuf_prepend(m, static_cast<std::uint16_t>(l2_len + l3_len + kUdpHdrLen)));
  if (p == nullptr) return false;

  std::memcpy(p, spec.dst_mac.data(), 6);
  std::memcpy(p + 6, spec.src_mac.data(), 6);
  std::uint8_t* q = p + 12;
  if (spec.vlan) {
    store_be16(q, kEtherTypeVlan);
    store_be16(q + 2, spec.vlan_tci);
    q += kVlanTagLen;
  }
  store_be16(q, v6 ? kEtherTypeIpv6 : kEtherTypeIpv4);
  std::uint8_t* ip = p + l2_len;
  const std::uint8_t tos = static_cast<std::uint8_t>((spec.dscp << 2) | (spec.ecn & 0x03));
  if (v6) {
    store_be32(ip, (6u << 28) | (static_cast<std::uint32_t>(tos) << 20) |
                       (spec.ipv6_flow_label & 0xfffff));
    store_be16(ip + 4, static_cast<std::uint16_t>(udp_len));
    ip[6] = kProtoUdp;
    ip[7] = spec.ttl;
    std::memcpy(ip + 8, spec.src.bytes.data(), 16);
    std::memcpy(ip + 24, spec.dst.bytes.data(), 16);
  } else {
    ip[0] = 0x45;
    ip[1] = tos;
    store_be16(ip + 2, static_cast<std::uint16_t>(ip_len));
    store_be16(ip + 4, (*ipv4_id)++);
    // RFC 9000 §14: QUIC datagrams must not be fragmented, so DF is set.
    store_be16(ip + 6, kIpv4Df);
    ip[8] = spec.ttl;
    ip[9] = kProtoUdp;
    store_be16(ip + 10, 0);
    std::memcpy(ip + 12, spec.src.bytes.data(), 4);
    std::memcpy(ip + 16, spec.dst.bytes.data(), 4);
  }
  std::uint8_t* udp = ip + l3_len;
  store_be16(udp, spec.src_port);
  store_be16(udp + 2, spec.dst_port);
  store_be16(udp + 4, static_cast<std::uint16_t>(udp_len));
  store_be16(udp + 6, 0);

  if (spec.checksum_offload) {
    // DPDK mbuf API (rte_mbuf_core.h, RTE_MBUF_F_TX_UDP_CKSUM): set l2_len and
    // l3_len, zero the IPv4 checksum, and seed the UDP checksum with the
    // pseudo-header checksum from rte_ipv{4,6}_phdr_cksum.
    m->l2_len = l2_len;
    m->l3_len = l3_len;
    std::uint16_t phdr = 0;
    if (v6) {
      m->ol_flags |= RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM;
      phdr = rte_ipv6_phdr_cksum(reinterpret_cast<const rte_ipv6_hdr*>(ip), m->ol_flags);
    } else {
      m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM;
      phdr = rte_ipv4_phdr_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip), m->ol_flags);
    }
    // The phdr value is in network byte order already; store it as is.
    std::memcpy(udp + 6, &phdr, 2);
    return true;
  }

  if (!v6) {
    const std::uint16_t ip_cksum = static_cast<std::uint16_t>(~rte_raw_cksum(ip, l3_len));
    std::memcpy(ip + 10, &ip_cksum, 2);  // raw sums are in memory byte order
  }
  const std::uint16_t l4_off = static_cast<std::uint16_t>(l2_len + l3_len);
  std::uint16_t cksum = static_cast<std::uint16_t>(
      ~udp_raw_sum(m, spec.src, spec.dst, l4_off, static_cast<std::uint16_t>(udp_len)));
  // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
  if (cksum == 0) cksum = 0xffff;
  std::memcpy(udp + 6, &cksum, 2);
  return true;
}

}  // namespace dquic
