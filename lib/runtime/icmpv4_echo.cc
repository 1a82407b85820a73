#include "runtime/icmpv4_echo.h"

#include <rte_ip.h>

#include <cstring>

namespace dquic {
namespace {

constexpr std::uint16_t kIpv4MinHdrLen = 20;
constexpr std::uint8_t kProtoIcmp = 1;
constexpr std::uint8_t kIcmpEchoReply = 0;
constexpr std::uint8_t kIcmpEchoRequest = 8;
constexpr std::uint16_t kIcmpEchoHdrLen = 8;
constexpr std::uint16_t kIpv4Mf = 0x2000;
constexpr std::uint16_t kIpv4OffsetMask = 0x1fff;

// RFC 1122 §3.2.1.3 / §3.2.2: never answer to these as a source.
bool bad_ipv4_source(const std::uint8_t* a) {
  const bool zero_net = a[0] == 0;               // 0.0.0.0/8 "this network"
  const bool loopback = a[0] == 127;             // 127.0.0.0/8
  const bool multicast = (a[0] & 0xf0) == 0xe0;  // 224.0.0.0/4
  const bool reserved = a[0] >= 240;             // 240.0.0.0/4 incl. 255.255.255.255
  return zero_net || loopback || multicast || reserved;
}

}  // namespace

ControlResult handle_icmpv4(rte_mbuf* m, const EthernetInfo& eth, ControlContext& ctx) {
  auto* p = rte_pktmbuf_mtod(m, std::uint8_t*);
  const std::uint32_t seg_len = rte_pktmbuf_data_len(m);
  const std::uint32_t pkt_len = rte_pktmbuf_pkt_len(m);
  const std::uint32_t off = eth.l2_len;
  if (seg_len < off + kIpv4MinHdrLen) return control_drop(ControlDropReason::kTooShort);
  std::uint8_t* ip = p + off;
  if ((ip[0] >> 4) != 4) return control_drop(ControlDropReason::kBadIpVersion);
  const std::uint16_t ihl = static_cast<std::uint16_t>((ip[0] & 0x0f) * 4);
  if (ihl < kIpv4MinHdrLen || seg_len < off + ihl)
    return control_drop(ControlDropReason::kBadIpHeaderLength);
  const std::uint16_t total_len = load_be16(ip + 2);
  if (total_len < ihl || off + total_len > pkt_len)
    return control_drop(ControlDropReason::kBadIpLength);
  const std::uint64_t ip_flags = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (ip_flags == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
      (ip_flags == RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN && rte_raw_cksum(ip, ihl) != 0xffff))
    return control_drop(ControlDropReason::kBadIpChecksum);  // RFC 791 §3.1
  if ((load_be16(ip + 6) & (kIpv4Mf | kIpv4OffsetMask)) != 0)
    return control_drop(ControlDropReason::kFragment);
  if (ip[9] != kProtoIcmp) return {ControlAction::kPass, ControlDropReason::kNone};

  const std::uint32_t icmp_off = off + ihl;
  const std::uint32_t icmp_len = total_len - ihl;
  // Type, code and checksum are all RFC 792 requires of any message; the
  // echo header is 8 bytes.
  if (icmp_len < 4) return control_drop(ControlDropReason::kBadIcmpLength);
  if (seg_len < icmp_off + 4) return control_drop(ControlDropReason::kTooShort);
  std::uint16_t sum = 0;
  if (!raw_sum_mbuf(m, icmp_off, icmp_len, 0, &sum) || sum != 0xffff)
    return control_drop(ControlDropReason::kBadIcmpChecksum);
  std::uint8_t* icmp = p + icmp_off;
  if (icmp[0] != kIcmpEchoRequest) return control_drop(ControlDropReason::kIcmpIgnored);
  if (icmp[1] != 0) return control_drop(ControlDropReason::kBadIcmpCode);
  if (icmp_len < kIcmpEchoHdrLen) return control_drop(ControlDropReason::kBadIcmpLength);
  if (seg_len < icmp_off + kIcmpEchoHdrLen) return control_drop(ControlDropReason::kTooShort);

  IpAddress dst;
  dst.family = IpFamily::kIpv4;
  std::memcpy(dst.bytes.data(), ip + 16, 4);
  if (is_group_mac(p) || std::memcmp(p, ctx.mac.data(), 6) != 0 || !ctx.route->is_local(dst))
    return control_drop(ControlDropReason::kNotForUs);
  if (bad_ipv4_source(ip + 12)) return control_drop(ControlDropReason::kBadSourceAddress);
  if (ihl != kIpv4MinHdrLen) return control_drop(ControlDropReason::kIpOptions);

  // Ethernet: back to the sender, from us; the VLAN tags stay as they are.
  std::uint8_t tmp[6];
  std::memcpy(tmp, p + 6, 6);
  std::memcpy(p, tmp, 6);
  std::memcpy(p + 6, ctx.mac.data(), 6);
  // IP: swap the addresses, fresh TTL; TOS, ID and DF are kept.
  std::uint8_t src[4];
  std::memcpy(src, ip + 12, 4);
  std::memcpy(ip + 12, ip + 16, 4);
  std::memcpy(ip + 16, src, 4);
  ip[8] = ctx.ipv4_ttl;
  store_be16(ip + 10, 0);
  const auto ip_cksum = static_cast<std::uint16_t>(~rte_raw_cksum(ip, ihl));
  std::memcpy(ip + 10, &ip_cksum, 2);  // raw sums are in memory byte order
  // ICMP: RFC 792 echo reply, checksum over the whole message again.
  icmp[0] = kIcmpEchoReply;
  store_be16(icmp + 2, 0);
  raw_sum_mbuf(m, icmp_off, icmp_len, 0, &sum);
  const auto icmp_cksum = static_cast<std::uint16_t>(~sum);
  std::memcpy(icmp + 2, &icmp_cksum, 2);
  // Drop the receive-side Ethernet padding when it sits in the last segment.
  if (pkt_len > off + total_len)
    rte_pktmbuf_trim(m, static_cast<std::uint16_t>(pkt_len - off - total_len));
  ++ctx.counters->icmp_echo_replies_sent;
  return {ControlAction::kReply, ControlDropReason::kNone};
}

}  // namespace dquic
