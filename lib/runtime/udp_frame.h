// L2-L4 framing of QUIC datagrams in mbufs, sans-IO: parse a received
// Ethernet/VLAN/IPv4-or-IPv6/UDP frame in place, and prepend those headers in
// front of a UDP payload before transmit. No allocation, no syscalls.
//
// Multi-segment mbufs: headers are parsed from the first segment only (a NIC
// or the driver always puts them there); a frame whose headers do not fit in
// the first segment is dropped as kTooShort. The payload may continue into
// later segments: its offset/length are reported against pkt_len, and the
// software UDP checksum is then computed over all segments.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>

namespace dquic {

enum class IpFamily : std::uint8_t { kNone = 0, kIpv4 = 4, kIpv6 = 6 };

struct IpAddress {
  IpFamily family = IpFamily::kNone;
  // IPv4 uses bytes[0..3] (network order); the rest stay zero.
  std::array<std::uint8_t, 16> bytes{};
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

enum class UdpDropReason : std::uint8_t {
  kNone = 0,
  kTooShort,            // a header does not fit in the first segment
  kBadEthertype,        // neither IPv4 nor IPv6 (after VLAN tags)
  kTooManyVlanTags,     // more than two tags
  kBadIpVersion,        // version field disagrees with the ethertype
  kBadIpHeaderLength,   // IPv4 IHL < 5 or beyond the frame
  kBadIpLength,         // IP total/payload length beyond the frame or < header
  kBadIpChecksum,       // IPv4 header checksum (software or NIC)
  kFragment,            // IPv4 MF/offset, or an IPv6 Fragment header
  kNotUdp,              // upper-layer protocol is not UDP
  kBadExtensionHeader,  // IPv6 extension header truncated or unknown chain
  kBadUdpLength,        // UDP length < 8 or disagrees with the IP length
  kBadUdpChecksum,      // UDP checksum (software or NIC), or zero over IPv6
};

const char* to_string(UdpDropReason reason);

struct ParsedUdpFrame {
  IpAddress src;
  IpAddress dst;
  std::uint16_t src_port = 0;  // host order
  std::uint16_t dst_port = 0;
  std::uint8_t vlan_count = 0;       // 0, 1 (802.1Q) or 2 (QinQ)
  std::uint16_t vlan_tci = 0;        // innermost tag's TCI, host order
  std::uint16_t outer_vlan_tci = 0;  // outer tag's TCI when vlan_count == 2
  std::uint8_t ecn = 0;              // RFC 3168 codepoint from TOS / traffic class
  std::uint8_t ttl = 0;              // TTL / hop limit
  std::uint16_t l2_len = 0;          // Ethernet + VLAN tags
  std::uint16_t l3_len = 0;          // IP header incl. options / extension headers
  std::uint16_t l4_len = 0;          // UDP header (8)
  std::uint32_t payload_offset = 0;  // from the start of the frame
  std::uint32_t payload_len = 0;     // from the UDP length field
};

// Parses `m` (data starting at the Ethernet header). Returns kNone and fills
// `out` on success; on any rejection `out` is unspecified. Honors the RX
// checksum flags in m->ol_flags (GOOD/BAD skip the software check).
UdpDropReason parse_udp_frame(const rte_mbuf* m, ParsedUdpFrame* out);

struct UdpFrameSpec {
  std::array<std::uint8_t, 6> dst_mac{};
  std::array<std::uint8_t, 6> src_mac{};
  bool vlan = false;
  std::uint16_t vlan_tci = 0;
  IpAddress src;  // both must have the same family (IPv4 or IPv6)
  IpAddress dst;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint8_t ttl = 64;  // TTL / hop limit
  std::uint8_t ecn = 0;   // low two bits of TOS / traffic class (RFC 3168)
  std::uint8_t dscp = 0;
  std::uint32_t ipv6_flow_label = 0;
  // Transmit checksum offload: set RTE_MBUF_F_TX_* flags, l2_len/l3_len, and
  // seed the UDP checksum with the pseudo-header sum as DPDK requires; the IPv4
  // header checksum is left zero for the NIC. Otherwise checksums in software.
  bool checksum_offload = false;
};

// Header bytes prepended for a given spec.
std::uint16_t udp_frame_header_len(const UdpFrameSpec& spec);

// Prepends Ethernet (+802.1Q) / IP / UDP headers before the payload currently
// in `m` (all of pkt_len is payload). `ipv4_id` is the caller's counter, used
// and incremented for IPv4 (DF is set anyway, RFC 6864 §4.1). Returns false,
// leaving `m` unchanged, if the headroom is short, the families mismatch or
// the datagram would exceed 65535 bytes.
bool build_udp_frame(rte_mbuf* m, const UdpFrameSpec& spec, std::uint16_t* ipv4_id);

}  // namespace dquic
