// Small Ethernet helpers shared by the control-plane handlers (ARP, ICMP,
// Neighbor Discovery): MAC addresses, the VLAN tag walk, unaligned big-endian
// loads/stores and the Internet checksum over an mbuf. Sans-IO, no allocation.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>

#include "runtime/udp_frame.h"

namespace dquic {

using MacAddress = std::array<std::uint8_t, 6>;

inline constexpr MacAddress kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

inline constexpr std::uint16_t kEthHeaderLen = 14;
inline constexpr std::uint16_t kVlanTagLen = 4;
inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;     // IEEE 802.1Q C-tag
inline constexpr std::uint16_t kEtherTypeQinQ = 0x88a8;     // IEEE 802.1ad S-tag
inline constexpr std::uint16_t kEtherTypeQinQOld = 0x9100;  // pre-802.1ad S-tag

// IEEE 802: the I/G bit (least significant bit of the first octet) marks
// group (multicast and broadcast) addresses.
inline bool is_group_mac(const std::uint8_t* mac) {
  return (mac[0] & 0x01) != 0;
}
inline bool is_zero_mac(const std::uint8_t* mac) {
  return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

// Byte-wise loads and stores: frames carry no alignment guarantee.
inline std::uint16_t load_be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline void store_be16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) {
  store_be16(p, static_cast<std::uint16_t>(v >> 16));
  store_be16(p + 2, static_cast<std::uint16_t>(v));
}

// Up to two VLAN tags, outermost first, as on the wire.
struct VlanTags {
  std::uint8_t count = 0;
  std::array<std::uint16_t, 2> tpid{};  // on-wire TPIDs (0x8100, 0x88a8, 0x9100)
  std::array<std::uint16_t, 2> tci{};   // host order
  friend bool operator==(const VlanTags&, const VlanTags&) = default;
};

struct EthernetInfo {
  std::uint16_t ethertype = 0;  // after the VLAN tags
  std::uint16_t l2_len = 0;     // 14 + 4 per tag
  VlanTags vlan;
};

enum class EthernetParse : std::uint8_t { kOk, kTooShort, kTooManyVlanTags };

// Parses the Ethernet header and up to two VLAN tags from the first segment.
EthernetParse parse_ethernet(const rte_mbuf* m, EthernetInfo* out);

// Writes destination, source, the VLAN tags and `ethertype` at `p`; returns
// the bytes written (14 + 4 per tag).
std::uint16_t write_ethernet_header(std::uint8_t* p, const MacAddress& dst, const MacAddress& src,
                                    const VlanTags& vlan, std::uint16_t ethertype);
inline std::uint16_t ethernet_header_len(const VlanTags& vlan) {
  return static_cast<std::uint16_t>(kEthHeaderLen + kVlanTagLen * vlan.count);
}

// One's-complement sum helpers (RFC 1071), in the memory byte order that
// rte_raw_cksum uses, so partial sums can be added and stored with memcpy.
std::uint16_t fold_sum(std::uint32_t sum);
// Raw sum of the IPv6 pseudo-header (RFC 8200 §8.1) for `next_header`.
std::uint32_t ipv6_pseudo_header_sum(const std::uint8_t* src, const std::uint8_t* dst,
                                     std::uint32_t upper_len, std::uint8_t next_header);
// Raw (uncomplemented, folded) sum of `len` bytes at `off` across all
// segments, plus `seed`; false if the range is outside the packet.
bool raw_sum_mbuf(const rte_mbuf* m, std::uint32_t off, std::uint32_t len, std::uint32_t seed,
                  std::uint16_t* out);

// The IPv6 solicited-node multicast address ff02::1:ffXX:XXXX (RFC 4291
// §2.7.1) and its Ethernet mapping 33:33:xx:xx:xx:xx (RFC 2464 §7).
std::array<std::uint8_t, 16> solicited_node_address(const IpAddress& target);
MacAddress ipv6_multicast_mac(const std::uint8_t* group);

}  // namespace dquic
