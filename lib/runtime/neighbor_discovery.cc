#include "runtime/neighbor_discovery.h"

#include <cstring>

namespace dquic {
namespace {

constexpr std::uint8_t kNdHopLimit = 255;
constexpr std::uint8_t kIcmpv6NeighborSolicitation = 135;
constexpr std::uint8_t kIcmpv6NeighborAdvertisement = 136;
constexpr std::uint8_t kOptSourceLinkLayer = 1;
constexpr std::uint8_t kOptTargetLinkLayer = 2;
constexpr std::uint8_t kNaFlagSolicited = 0x40;
constexpr std::uint8_t kNaFlagOverride = 0x20;
constexpr std::array<std::uint8_t, 16> kAllNodes = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                                    0,    0,    0, 0, 0, 0, 0, 1};

bool is_unspecified(const std::uint8_t* a) {
  for (int i = 0; i < 16; ++i)
    if (a[i] != 0) return false;
  return true;
}

IpAddress ipv6_at(const std::uint8_t* p) {
  IpAddress ip;
  ip.family = IpFamily::kIpv6;
  std::memcpy(ip.bytes.data(), p, 16);
  return ip;
}

struct NdParsed {
  const std::uint8_t* link_layer = nullptr;  // the wanted link-layer option's address
};

// The RFC 4861 §7.1.1 / §7.1.2 checks common to NS and NA, and the options
// (§4.6: every option's length is non-zero and within the message).
ControlDropReason validate_nd(const rte_mbuf* m, const Icmpv6Message& msg, std::uint8_t want_opt,
                              NdParsed* out) {
  if (msg.hop_limit != kNdHopLimit) return ControlDropReason::kBadHopLimit;
  const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const std::uint8_t* icmp = p + msg.icmp_off;
  if (icmp[1] != 0) return ControlDropReason::kBadIcmpCode;
  if (msg.icmp_len < kNdMessageLen) return ControlDropReason::kBadIcmpLength;
  // Options are parsed, and the reply written, in the first segment.
  if (msg.icmp_off + msg.icmp_len > rte_pktmbuf_data_len(m))
    return ControlDropReason::kNotInFirstSegment;
  if (icmp[8] == 0xff) return ControlDropReason::kBadNdTarget;
  for (std::uint32_t o = kNdMessageLen; o < msg.icmp_len;) {
    if (o + 2 > msg.icmp_len) return ControlDropReason::kBadNdOption;
    const std::uint32_t len = icmp[o + 1] * 8u;
    if (len == 0 || o + len > msg.icmp_len) return ControlDropReason::kBadNdOption;
    if (icmp[o] == want_opt) {
      // RFC 4861 §4.6.1 / RFC 2464 §6: 8 bytes for Ethernet.
      if (len != kNdLinkLayerOptionLen) return ControlDropReason::kBadNdOption;
      out->link_layer = icmp + o + 2;
    }
    o += len;
  }
  return ControlDropReason::kNone;
}

void write_link_layer_option(std::uint8_t* o, std::uint8_t type, const MacAddress& mac) {
  o[0] = type;
  o[1] = 1;  // in units of 8 bytes
  std::memcpy(o + 2, mac.data(), 6);
}

}  // namespace

ControlResult handle_neighbor_solicitation(rte_mbuf* m, Icmpv6Message msg, ControlContext& ctx,
                                           std::uint64_t now) {
  NdParsed nd;
  if (const ControlDropReason r = validate_nd(m, msg, kOptSourceLinkLayer, &nd);
      r != ControlDropReason::kNone)
    return control_drop(r);
  auto* p = rte_pktmbuf_mtod(m, std::uint8_t*);
  const std::uint8_t* ip = p + msg.ip_off;
  const IpAddress target = ipv6_at(p + msg.icmp_off + 8);
  const bool dad = is_unspecified(ip + 8);
  const auto solicited_node = solicited_node_address(target);
  const bool to_solicited_node = std::memcmp(ip + 24, solicited_node.data(), 16) == 0;
  // RFC 4861 §7.1.1: duplicate address detection comes from "::" to the
  // solicited-node group, without a source link-layer option.
  if (dad && (!to_solicited_node || nd.link_layer != nullptr))
    return control_drop(ControlDropReason::kBadDadSolicitation);
  if (!is_group_mac(p) && std::memcmp(p, ctx.mac.data(), 6) != 0)
    return control_drop(ControlDropReason::kNotForUs);
  if (!ctx.route->is_local(target) || !(to_solicited_node || ctx.route->is_local(ipv6_at(ip + 24))))
    return control_drop(ControlDropReason::kNotForUs);
  if (!dad && ip[8] == 0xff) return control_drop(ControlDropReason::kBadSourceAddress);

  // Everything the reply needs, read before it is overwritten.
  MacAddress reply_mac;
  std::memcpy(reply_mac.data(), p + 6, 6);
  if (nd.link_layer != nullptr) std::memcpy(reply_mac.data(), nd.link_layer, 6);
  std::array<std::uint8_t, 16> reply_dst = kAllNodes;
  if (dad) {
    reply_mac = ipv6_multicast_mac(kAllNodes.data());
  } else {
    if (is_group_mac(reply_mac.data()) || is_zero_mac(reply_mac.data()))
      return control_drop(ControlDropReason::kBadSourceAddress);
    std::memcpy(reply_dst.data(), ip + 8, 16);
    // §7.2.3: learn (create or update STALE) from the source link-layer option.
    if (nd.link_layer != nullptr) {
      note_neighbor_update(ctx, ctx.neighbors->update(ipv6_at(ip + 8), &reply_mac,
                                                      NeighborUpdate{false, true, true}, now));
    }
  }

  if (m->nb_segs != 1) return control_drop(ControlDropReason::kNotInFirstSegment);
  strip_ipv6_extension_headers(m, &msg);
  const std::uint32_t want = msg.icmp_off + kNdMessageLen + kNdLinkLayerOptionLen;
  const std::uint32_t have = rte_pktmbuf_pkt_len(m);
  if (have < want) {
    if (rte_pktmbuf_append(m, static_cast<std::uint16_t>(want - have)) == nullptr)
      return control_drop(ControlDropReason::kNoTailroom);
  } else if (have > want) {
    rte_pktmbuf_trim(m, static_cast<std::uint16_t>(have - want));
  }
  p = rte_pktmbuf_mtod(m, std::uint8_t*);
  std::memcpy(p, reply_mac.data(), 6);
  std::memcpy(p + 6, ctx.mac.data(), 6);
  std::uint8_t* ip6 = p + msg.ip_off;
  store_be32(ip6, 6u << 28);
  store_be16(ip6 + 4, kNdMessageLen + kNdLinkLayerOptionLen);
  ip6[6] = kIpProtoIcmpv6;
  ip6[7] = kNdHopLimit;
  std::memcpy(ip6 + 8, target.bytes.data(), 16);
  std::memcpy(ip6 + 24, reply_dst.data(), 16);
  std::uint8_t* na = p + msg.icmp_off;
  na[0] = kIcmpv6NeighborAdvertisement;
  na[1] = 0;
  // §7.2.4: Solicited unless answering DAD; Override since the address is
  // not anycast; Router clear (a host).
  na[4] = static_cast<std::uint8_t>((dad ? 0 : kNaFlagSolicited) | kNaFlagOverride);
  na[5] = na[6] = na[7] = 0;
  std::memcpy(na + 8, target.bytes.data(), 16);
  write_link_layer_option(na + kNdMessageLen, kOptTargetLinkLayer, ctx.mac);
  msg.icmp_len = kNdMessageLen + kNdLinkLayerOptionLen;
  msg.ip_end = want;
  set_icmpv6_checksum(m, msg);
  ++ctx.counters->neighbor_advertisements_sent;
  return {ControlAction::kReply, ControlDropReason::kNone};
}

ControlResult handle_neighbor_advertisement(rte_mbuf* m, const Icmpv6Message& msg,
                                            ControlContext& ctx, std::uint64_t now) {
  NdParsed nd;
  if (const ControlDropReason r = validate_nd(m, msg, kOptTargetLinkLayer, &nd);
      r != ControlDropReason::kNone)
    return control_drop(r);
  const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const std::uint8_t* ip = p + msg.ip_off;
  const std::uint8_t* na = p + msg.icmp_off;
  const bool solicited = (na[4] & kNaFlagSolicited) != 0;
  if (ip[24] == 0xff && solicited) return control_drop(ControlDropReason::kSolicitedToMulticast);
  if (!is_group_mac(p) && std::memcmp(p, ctx.mac.data(), 6) != 0)
    return control_drop(ControlDropReason::kNotForUs);
  const IpAddress target = ipv6_at(na + 8);
  if (ctx.route->is_local(target)) return control_drop(ControlDropReason::kAddressConflict);
  MacAddress mac;
  if (nd.link_layer != nullptr) {
    if (is_group_mac(nd.link_layer) || is_zero_mac(nd.link_layer))
      return control_drop(ControlDropReason::kBadSourceAddress);
    std::memcpy(mac.data(), nd.link_layer, 6);
  }
  NeighborUpdate how;
  how.solicited = solicited;
  how.override = (na[4] & kNaFlagOverride) != 0;
  how.create = false;  // §7.2.5: no entry, no state
  const NeighborUpdateResult r =
      ctx.neighbors->update(target, nd.link_layer != nullptr ? &mac : nullptr, how, now);
  note_neighbor_update(ctx, r);
  if (r == NeighborUpdateResult::kNoEntry)
    return control_drop(ControlDropReason::kUnsolicitedAdvertisement);
  if (r == NeighborUpdateResult::kRejected)
    return control_drop(ControlDropReason::kAdvertisementRejected);
  return {ControlAction::kConsumed, ControlDropReason::kNone};
}

bool write_neighbor_solicitation(rte_mbuf* m, const MacAddress& our_mac, const IpAddress& source,
                                 const IpAddress& target, const VlanTags& vlan,
                                 const MacAddress* unicast_dst) {
  if (rte_pktmbuf_pkt_len(m) != 0 || source.family != IpFamily::kIpv6 ||
      target.family != IpFamily::kIpv6 || vlan.count > 2)
    return false;
  const std::uint16_t l2 = ethernet_header_len(vlan);
  const std::uint16_t icmp_len = kNdMessageLen + kNdLinkLayerOptionLen;
  auto* p = reinterpret_cast<std::uint8_t*>(
      rte_pktmbuf_append(m, static_cast<std::uint16_t>(l2 + kIpv6HeaderLen + icmp_len)));
  if (p == nullptr) return false;
  const auto group = solicited_node_address(target);
  const MacAddress dst_mac =
      unicast_dst != nullptr ? *unicast_dst : ipv6_multicast_mac(group.data());
  write_ethernet_header(p, dst_mac, our_mac, vlan, kEtherTypeIpv6);
  std::uint8_t* ip = p + l2;
  store_be32(ip, 6u << 28);
  store_be16(ip + 4, icmp_len);
  ip[6] = kIpProtoIcmpv6;
  ip[7] = kNdHopLimit;
  std::memcpy(ip + 8, source.bytes.data(), 16);
  std::memcpy(ip + 24, unicast_dst != nullptr ? target.bytes.data() : group.data(), 16);
  std::uint8_t* ns = ip + kIpv6HeaderLen;
  std::memset(ns, 0, kNdMessageLen);
  ns[0] = kIcmpv6NeighborSolicitation;
  std::memcpy(ns + 8, target.bytes.data(), 16);
  write_link_layer_option(ns + kNdMessageLen, kOptSourceLinkLayer, our_mac);
  Icmpv6Message msg;
  msg.ip_off = l2;
  msg.icmp_off = l2 + kIpv6HeaderLen;
  msg.icmp_len = icmp_len;
  set_icmpv6_checksum(m, msg);
  return true;
}

}  // namespace dquic
