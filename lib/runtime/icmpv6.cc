#include "runtime/icmpv6.h"

#include <cstring>

#include "runtime/neighbor_discovery.h"

namespace dquic {
namespace {

constexpr std::uint8_t kIpv6HopByHop = 0;
constexpr std::uint8_t kIpv6Routing = 43;
constexpr std::uint8_t kIpv6Fragment = 44;
constexpr std::uint8_t kIpv6DestOpts = 60;
constexpr std::uint8_t kIcmpv6EchoRequest = 128;
constexpr std::uint8_t kIcmpv6EchoReply = 129;
constexpr std::uint8_t kIcmpv6NeighborSolicitation = 135;
constexpr std::uint8_t kIcmpv6NeighborAdvertisement = 136;
constexpr std::uint16_t kIcmpv6EchoHdrLen = 8;

bool is_unspecified(const std::uint8_t* a) {
  for (int i = 0; i < 16; ++i)
    if (a[i] != 0) return false;
  return true;
}

ControlResult echo_reply(rte_mbuf* m, Icmpv6Message msg, ControlContext& ctx) {
  auto* p = rte_pktmbuf_mtod(m, std::uint8_t*);
  const std::uint8_t* icmp = p + msg.icmp_off;
  if (icmp[1] != 0) return control_drop(ControlDropReason::kBadIcmpCode);
  if (msg.icmp_len < kIcmpv6EchoHdrLen) return control_drop(ControlDropReason::kBadIcmpLength);
  if (rte_pktmbuf_data_len(m) < msg.icmp_off + kIcmpv6EchoHdrLen)
    return control_drop(ControlDropReason::kTooShort);
  const std::uint8_t* ip = p + msg.ip_off;
  IpAddress dst;
  dst.family = IpFamily::kIpv6;
  std::memcpy(dst.bytes.data(), ip + 24, 16);
  if (is_group_mac(p) || std::memcmp(p, ctx.mac.data(), 6) != 0 || !ctx.route->is_local(dst))
    return control_drop(ControlDropReason::kNotForUs);
  // RFC 4443 §2.2 / RFC 4291: never reply to the unspecified or a multicast
  // source.
  if (is_unspecified(ip + 8) || ip[8] == 0xff)
    return control_drop(ControlDropReason::kBadSourceAddress);

  strip_ipv6_extension_headers(m, &msg);
  p = rte_pktmbuf_mtod(m, std::uint8_t*);
  std::uint8_t tmp[16];
  std::memcpy(tmp, p + 6, 6);
  std::memcpy(p, tmp, 6);
  std::memcpy(p + 6, ctx.mac.data(), 6);
  std::uint8_t* ip6 = p + msg.ip_off;
  std::memcpy(tmp, ip6 + 8, 16);
  std::memcpy(ip6 + 8, ip6 + 24, 16);
  std::memcpy(ip6 + 24, tmp, 16);
  ip6[7] = ctx.ipv6_hop_limit;
  p[msg.icmp_off] = kIcmpv6EchoReply;
  set_icmpv6_checksum(m, msg);
  const std::uint32_t pkt_len = rte_pktmbuf_pkt_len(m);
  if (pkt_len > msg.ip_end) rte_pktmbuf_trim(m, static_cast<std::uint16_t>(pkt_len - msg.ip_end));
  ++ctx.counters->icmpv6_echo_replies_sent;
  return {ControlAction::kReply, ControlDropReason::kNone};
}

}  // namespace

bool find_ipv6_upper_layer(const std::uint8_t* frame, std::uint32_t ip_off, std::uint32_t seg_len,
                           std::uint32_t ip_end, Ipv6UpperLayer* out) {
  *out = Ipv6UpperLayer{};
  std::uint8_t next = frame[ip_off + 6];
  std::uint32_t hdr = ip_off + kIpv6HeaderLen;
  // Every step consumes at least 8 bytes, so the loop is bounded.
  while (next == kIpv6HopByHop || next == kIpv6Routing || next == kIpv6DestOpts) {
    if (hdr + 8 > ip_end || hdr + 8 > seg_len) return false;
    const std::uint32_t ext_len = (static_cast<std::uint32_t>(frame[hdr + 1]) + 1) * 8;
    if (hdr + ext_len > ip_end || hdr + ext_len > seg_len) return false;
    if (next == kIpv6Routing) out->routing_header = true;
    next = frame[hdr];
    hdr += ext_len;
  }
  out->next_header = next;
  out->offset = hdr;
  return true;
}

void strip_ipv6_extension_headers(rte_mbuf* m, Icmpv6Message* msg) {
  const std::uint32_t ext = msg->icmp_off - msg->ip_off - kIpv6HeaderLen;
  if (ext == 0) return;
  auto* p = rte_pktmbuf_mtod(m, std::uint8_t*);
  std::memmove(p + ext, p, msg->ip_off + kIpv6HeaderLen);
  rte_pktmbuf_adj(m, static_cast<std::uint16_t>(ext));
  p = rte_pktmbuf_mtod(m, std::uint8_t*);
  p[msg->ip_off + 6] = kIpProtoIcmpv6;
  store_be16(p + msg->ip_off + 4, static_cast<std::uint16_t>(msg->icmp_len));
  msg->icmp_off -= ext;
  msg->ip_end -= ext;
}

void set_icmpv6_checksum(rte_mbuf* m, const Icmpv6Message& msg) {
  auto* p = rte_pktmbuf_mtod(m, std::uint8_t*);
  const std::uint8_t* ip = p + msg.ip_off;
  std::uint8_t* icmp = p + msg.icmp_off;
  store_be16(icmp + 2, 0);
  std::uint16_t sum = 0;
  raw_sum_mbuf(m, msg.icmp_off, msg.icmp_len,
               ipv6_pseudo_header_sum(ip + 8, ip + 24, msg.icmp_len, kIpProtoIcmpv6), &sum);
  const auto cksum = static_cast<std::uint16_t>(~sum);
  std::memcpy(icmp + 2, &cksum, 2);  // raw sums are in memory byte order
}

ControlResult handle_icmpv6(rte_mbuf* m, const EthernetInfo& eth, ControlContext& ctx,
                            std::uint64_t now) {
  const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const std::uint32_t seg_len = rte_pktmbuf_data_len(m);
  const std::uint32_t off = eth.l2_len;
  if (seg_len < off + kIpv6HeaderLen) return control_drop(ControlDropReason::kTooShort);
  const std::uint8_t* ip = p + off;
  if ((ip[0] >> 4) != 6) return control_drop(ControlDropReason::kBadIpVersion);
  const std::uint16_t payload_len = load_be16(ip + 4);
  if (payload_len == 0 || off + kIpv6HeaderLen + payload_len > rte_pktmbuf_pkt_len(m))
    return control_drop(ControlDropReason::kBadIpLength);
  Icmpv6Message msg;
  msg.ip_off = off;
  msg.ip_end = off + kIpv6HeaderLen + payload_len;
  msg.hop_limit = ip[7];
  Ipv6UpperLayer upper;
  if (!find_ipv6_upper_layer(p, off, seg_len, msg.ip_end, &upper))
    return control_drop(ControlDropReason::kBadExtensionHeader);
  if (upper.next_header == kIpv6Fragment) return control_drop(ControlDropReason::kFragment);
  if (upper.next_header != kIpProtoIcmpv6) return {ControlAction::kPass, ControlDropReason::kNone};
  // A Routing header means we may not be the final destination; this host
  // forwards nothing (RFC 8200 §4.4).
  if (upper.routing_header) return control_drop(ControlDropReason::kBadExtensionHeader);
  msg.icmp_off = upper.offset;
  msg.icmp_len = msg.ip_end - msg.icmp_off;
  if (msg.icmp_len < 4) return control_drop(ControlDropReason::kBadIcmpLength);
  if (seg_len < msg.icmp_off + 4) return control_drop(ControlDropReason::kTooShort);
  std::uint16_t sum = 0;
  if (!raw_sum_mbuf(m, msg.icmp_off, msg.icmp_len,
                    ipv6_pseudo_header_sum(ip + 8, ip + 24, msg.icmp_len, kIpProtoIcmpv6), &sum) ||
      sum != 0xffff)
    return control_drop(ControlDropReason::kBadIcmpChecksum);  // RFC 4443 §2.3

  switch (p[msg.icmp_off]) {
    case kIcmpv6EchoRequest:
      return echo_reply(m, msg, ctx);
    case kIcmpv6NeighborSolicitation:
      return handle_neighbor_solicitation(m, msg, ctx, now);
    case kIcmpv6NeighborAdvertisement:
      return handle_neighbor_advertisement(m, msg, ctx, now);
    default:
      return control_drop(ControlDropReason::kIcmpIgnored);
  }
}

}  // namespace dquic
