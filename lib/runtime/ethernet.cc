#include "runtime/ethernet.h"

#include <rte_ip.h>

#include <cstring>

namespace dquic {
namespace {

bool is_vlan_ethertype(std::uint16_t t) {
  return t == kEtherTypeVlan || t == kEtherTypeQinQ || t == kEtherTypeQinQOld;
}

}  // namespace

EthernetParse parse_ethernet(const rte_mbuf* m, EthernetInfo* out) {
  const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
  const std::uint32_t seg_len = rte_pktmbuf_data_len(m);
  *out = EthernetInfo{};
  if (seg_len < kEthHeaderLen) return EthernetParse::kTooShort;
  std::uint32_t off = 12;
  std::uint16_t type = load_be16(p + off);
  while (is_vlan_ethertype(type)) {
    if (out->vlan.count == 2) return EthernetParse::kTooManyVlanTags;
    if (seg_len < off + 2 + kVlanTagLen) return EthernetParse::kTooShort;
    out->vlan.tpid[out->vlan.count] = type;
    out->vlan.tci[out->vlan.count] = load_be16(p + off + 2);
    ++out->vlan.count;
    off += kVlanTagLen;
    type = load_be16(p + off);
  }
  out->ethertype = type;
  out->l2_len = static_cast<std::uint16_t>(off + 2);
  return EthernetParse::kOk;
}

std::uint16_t write_ethernet_header(std::uint8_t* p, const MacAddress& dst, const MacAddress& src,
                                    const VlanTags& vlan, std::uint16_t ethertype) {
  std::memcpy(p, dst.data(), 6);
  std::memcpy(p + 6, src.data(), 6);
  std::uint16_t off = 12;
  for (std::uint8_t i = 0; i < vlan.count && i < 2; ++i) {
    std::uint16_t tpid = vlan.tpid[i];
    if (tpid == 0) tpid = (vlan.count == 2 && i == 0) ? kEtherTypeQinQ : kEtherTypeVlan;
    store_be16(p + off, tpid);
    store_be16(p + off + 2, vlan.tci[i]);
    off += kVlanTagLen;
  }
  store_be16(p + off, ethertype);
  return static_cast<std::uint16_t>(off + 2);
}

std::uint16_t fold_sum(std::uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

std::uint32_t ipv6_pseudo_header_sum(const std::uint8_t* src, const std::uint8_t* dst,
                                     std::uint32_t upper_len, std::uint8_t next_header) {
  std::uint8_t tail[8] = {0, 0, 0, 0, 0, 0, 0, next_header};
  store_be32(tail, upper_len);
  std::uint32_t sum = rte_raw_cksum(src, 16);
  sum += rte_raw_cksum(dst, 16);
  sum += rte_raw_cksum(tail, sizeof(tail));
  return fold_sum(sum);
}

bool raw_sum_mbuf(const rte_mbuf* m, std::uint32_t off, std::uint32_t len, std::uint32_t seed,
                  std::uint16_t* out) {
  if (off + len > rte_pktmbuf_pkt_len(m)) return false;
  // Own walk instead of rte_raw_cksum_mbuf: DPDK 22.11 truncates the
  // unreduced sum of a segment that starts at an odd offset before swapping
  // its bytes, which loses carries.
  std::uint32_t sum = seed;
  std::uint32_t done = 0;
  for (const rte_mbuf* seg = m; seg != nullptr && done < len; seg = seg->next) {
    std::uint32_t seg_len = rte_pktmbuf_data_len(seg);
    if (off >= seg_len) {
      off -= seg_len;
      continue;
    }
    seg_len -= off;
    const std::uint32_t n = seg_len < len - done ? seg_len : len - done;
    std::uint16_t part = rte_raw_cksum(rte_pktmbuf_mtod_offset(seg, const std::uint8_t*, off), n);
    // RFC 1071 §2(B): a run starting at an odd position contributes swapped.
    if ((done & 1) != 0) part = static_cast<std::uint16_t>((part << 8) | (part >> 8));
    sum += part;
    done += n;
    off = 0;
  }
  *out = fold_sum(sum);
  return true;
}

std::array<std::uint8_t, 16> solicited_node_address(const IpAddress& target) {
  std::array<std::uint8_t, 16> a = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0, 0, 0};
  a[13] = target.bytes[13];
  a[14] = target.bytes[14];
  a[15] = target.bytes[15];
  return a;
}

MacAddress ipv6_multicast_mac(const std::uint8_t* group) {
  return {0x33, 0x33, group[12], group[13], group[14], group[15]};
}

}  // namespace dquic
