#include "runtime/control_frames.h"

#include <cstring>

#include "runtime/arp.h"
#include "runtime/icmpv4_echo.h"
#include "runtime/icmpv6.h"
#include "runtime/neighbor_discovery.h"

namespace dquic {
namespace {

constexpr std::uint8_t kProtoIcmp = 1;
constexpr std::uint8_t kIpv6Fragment = 44;

ControlFrameKind classify(const rte_mbuf* m, const EthernetInfo& eth) {
  const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const std::uint32_t seg_len = rte_pktmbuf_data_len(m);
  const std::uint32_t off = eth.l2_len;
  switch (eth.ethertype) {
    case kEtherTypeArp:
      return ControlFrameKind::kArp;
    case kEtherTypeIpv4:
      if (seg_len < off + 20) return ControlFrameKind::kOther;
      return p[off + 9] == kProtoIcmp ? ControlFrameKind::kIcmpv4 : ControlFrameKind::kOther;
    case kEtherTypeIpv6: {
      if (seg_len < off + kIpv6HeaderLen) return ControlFrameKind::kOther;
      const std::uint32_t ip_end = off + kIpv6HeaderLen + load_be16(p + off + 4);
      Ipv6UpperLayer upper;
      if (!find_ipv6_upper_layer(p, off, seg_len, ip_end, &upper)) return ControlFrameKind::kOther;
      std::uint8_t next = upper.next_header;
      // A fragment of an ICMPv6 message is still ours, to be dropped counted.
      if (next == kIpv6Fragment && upper.offset + 8 <= seg_len) next = p[upper.offset];
      return next == kIpProtoIcmpv6 ? ControlFrameKind::kIcmpv6 : ControlFrameKind::kOther;
    }
    default:
      return ControlFrameKind::kOther;
  }
}

// The NIC stripped the tags on receive: ask for them back on transmit.
void prepare_reply_offloads(rte_mbuf* m) {
  const std::uint64_t rx = m->ol_flags;
  m->ol_flags &= ~RTE_MBUF_F_TX_OFFLOAD_MASK;
  if ((rx & RTE_MBUF_F_RX_QINQ_STRIPPED) != 0)
    m->ol_flags |= RTE_MBUF_F_TX_QINQ | RTE_MBUF_F_TX_VLAN;
  else if ((rx & RTE_MBUF_F_RX_VLAN_STRIPPED) != 0)
    m->ol_flags |= RTE_MBUF_F_TX_VLAN;
}

}  // namespace

const char* to_string(ControlFrameKind kind) {
  switch (kind) {
    case ControlFrameKind::kArp:
      return "arp";
    case ControlFrameKind::kIcmpv4:
      return "icmpv4";
    case ControlFrameKind::kIcmpv6:
      return "icmpv6";
    case ControlFrameKind::kOther:
      return "other";
  }
  return "unknown";
}

ControlFrameKind classify_control_frame(const rte_mbuf* m) {
  EthernetInfo eth;
  if (parse_ethernet(m, &eth) != EthernetParse::kOk) return ControlFrameKind::kOther;
  return classify(m, eth);
}

ControlPlane::ControlPlane(const ControlPlaneConfig& config, const Route& route,
                           NeighborTable& neighbors)
    : config_(config), route_(route) {
  ctx_.mac = config_.mac;
  ctx_.route = &route_;
  ctx_.neighbors = &neighbors;
  ctx_.counters = &counters_;
  ctx_.ipv4_ttl = config_.ipv4_ttl;
  ctx_.ipv6_hop_limit = config_.ipv6_hop_limit;
}

ControlResult ControlPlane::process(rte_mbuf* m, std::uint64_t now) {
  EthernetInfo eth;
  if (parse_ethernet(m, &eth) != EthernetParse::kOk) return {};
  const ControlFrameKind kind = classify(m, eth);
  if (kind == ControlFrameKind::kOther) return {};
  const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
  ControlResult r;
  if (is_group_mac(p + 6)) {
    r = control_drop(ControlDropReason::kBadSourceAddress);
  } else if (!is_group_mac(p) && std::memcmp(p, config_.mac.data(), 6) != 0) {
    r = control_drop(ControlDropReason::kNotForUs);  // seen in promiscuous mode
  } else if (kind == ControlFrameKind::kArp) {
    r = handle_arp(m, eth, ctx_, now);
  } else if (kind == ControlFrameKind::kIcmpv4) {
    r = handle_icmpv4(m, eth, ctx_);
  } else {
    r = handle_icmpv6(m, eth, ctx_, now);
  }
  if (r.action == ControlAction::kDrop) ++counters_.drops[static_cast<std::size_t>(r.reason)];
  if (r.action == ControlAction::kReply) prepare_reply_offloads(m);
  return r;
}

bool ControlPlane::write_solicitation(rte_mbuf* m, const IpAddress& target,
                                      const MacAddress* unicast_dst) const {
  const IpAddress* source = route_.source_for(target);
  if (source == nullptr) return false;
  if (target.family == IpFamily::kIpv4)
    return write_arp_request(m, config_.mac, *source, target, config_.tx_vlan, unicast_dst);
  return write_neighbor_solicitation(m, config_.mac, *source, target, config_.tx_vlan, unicast_dst);
}

}  // namespace dquic
