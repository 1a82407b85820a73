#include "runtime/arp.h"

#include <cstring>

namespace dquic {
namespace {

constexpr std::uint16_t kArpHardwareEthernet = 1;
constexpr std::uint16_t kArpRequest = 1;
constexpr std::uint16_t kArpReply = 2;
constexpr std::uint16_t kMinFrameLen = 60;  // Ethernet minimum without FCS

// Field offsets inside the ARP body (RFC 826 packet format).
constexpr std::uint32_t kOp = 6;
constexpr std::uint32_t kSha = 8;
constexpr std::uint32_t kSpa = 14;
constexpr std::uint32_t kTha = 18;
constexpr std::uint32_t kTpa = 24;

IpAddress ipv4_at(const std::uint8_t* p) {
  IpAddress ip;
  ip.family = IpFamily::kIpv4;
  std::memcpy(ip.bytes.data(), p, 4);
  return ip;
}

void write_arp_body(std::uint8_t* a, std::uint16_t op) {
  store_be16(a, kArpHardwareEthernet);
  store_be16(a + 2, kEtherTypeIpv4);
  a[4] = 6;
  a[5] = 4;
  store_be16(a + kOp, op);
}

}  // namespace

ControlResult handle_arp(rte_mbuf* m, const EthernetInfo& eth, ControlContext& ctx,
                         std::uint64_t now) {
  auto* p = rte_pktmbuf_mtod(m, std::uint8_t*);
  if (rte_pktmbuf_data_len(m) < eth.l2_len + kArpLen)
    return control_drop(ControlDropReason::kTooShort);
  std::uint8_t* a = p + eth.l2_len;
  if (load_be16(a) != kArpHardwareEthernet || load_be16(a + 2) != kEtherTypeIpv4 || a[4] != 6 ||
      a[5] != 4)
    return control_drop(ControlDropReason::kBadArpHeader);
  const std::uint16_t op = load_be16(a + kOp);
  if (op != kArpRequest && op != kArpReply)
    return control_drop(ControlDropReason::kBadArpOperation);
  if (is_group_mac(a + kSha) || is_zero_mac(a + kSha))
    return control_drop(ControlDropReason::kBadSourceAddress);

  MacAddress sha;
  std::memcpy(sha.data(), a + kSha, 6);
  const IpAddress spa = ipv4_at(a + kSpa);
  const IpAddress tpa = ipv4_at(a + kTpa);
  const bool probe = spa.bytes[0] == 0 && spa.bytes[1] == 0 && spa.bytes[2] == 0 &&
                     spa.bytes[3] == 0;  // RFC 5227 §2.1.1
  if (!probe && ctx.route->is_local(spa)) return control_drop(ControlDropReason::kAddressConflict);
  const bool gratuitous = !probe && spa == tpa;
  const bool for_us = ctx.route->is_local(tpa);

  if (!probe) {
    // RFC 826: merge the sender into an existing entry; add it when we are
    // the target of a request. A reply to us confirms reachability.
    NeighborUpdate how;
    how.solicited = op == kArpReply && for_us && !gratuitous;
    how.create = op == kArpRequest && for_us;
    const NeighborUpdateResult r = ctx.neighbors->update(spa, &sha, how, now);
    note_neighbor_update(ctx, r);
    if (gratuitous) {
      ++ctx.counters->arp_gratuitous;
      return {ControlAction::kConsumed, ControlDropReason::kNone};
    }
    if (op == kArpReply && for_us && r == NeighborUpdateResult::kNoEntry)
      return control_drop(ControlDropReason::kUnsolicitedAdvertisement);
  }
  if (!for_us) return control_drop(ControlDropReason::kNotForUs);
  if (op == kArpReply) return {ControlAction::kConsumed, ControlDropReason::kNone};

  // RFC 826 reply: swap hardware and protocol fields, put in our MAC, set the
  // opcode to reply, and send to the requester.
  std::memcpy(a + kTha, sha.data(), 6);
  std::memcpy(a + kTpa, spa.bytes.data(), 4);
  std::memcpy(a + kSha, ctx.mac.data(), 6);
  std::memcpy(a + kSpa, tpa.bytes.data(), 4);
  store_be16(a + kOp, kArpReply);
  std::memcpy(p, sha.data(), 6);
  std::memcpy(p + 6, ctx.mac.data(), 6);
  ++ctx.counters->arp_replies_sent;
  return {ControlAction::kReply, ControlDropReason::kNone};
}

bool write_arp_request(rte_mbuf* m, const MacAddress& our_mac, const IpAddress& sender_ip,
                       const IpAddress& target, const VlanTags& vlan,
                       const MacAddress* unicast_dst) {
  if (rte_pktmbuf_pkt_len(m) != 0 || sender_ip.family != IpFamily::kIpv4 ||
      target.family != IpFamily::kIpv4 || vlan.count > 2)
    return false;
  const std::uint16_t l2 = ethernet_header_len(vlan);
  const auto len =
      static_cast<std::uint16_t>(l2 + kArpLen < kMinFrameLen ? kMinFrameLen : l2 + kArpLen);
  auto* p = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, len));
  if (p == nullptr) return false;
  std::memset(p, 0, len);
  write_ethernet_header(p, unicast_dst != nullptr ? *unicast_dst : kBroadcastMac, our_mac, vlan,
                        kEtherTypeArp);
  std::uint8_t* a = p + l2;
  write_arp_body(a, kArpRequest);
  std::memcpy(a + kSha, our_mac.data(), 6);
  std::memcpy(a + kSpa, sender_ip.bytes.data(), 4);
  // The target hardware address stays zero: it is what we ask for.
  std::memcpy(a + kTpa, target.bytes.data(), 4);
  return true;
}

}  // namespace dquic
