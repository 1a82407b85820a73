// ICMPv6 (RFC 4443) over IPv6: validate the IPv6 header and the ICMPv6
// checksum, answer Echo Requests to our addresses in place, and hand
// Neighbor Solicitations / Advertisements to neighbor_discovery.h. Other
// ICMPv6 types (router discovery, redirects, MLD, errors) are counted and
// dropped. Sans-IO; no allocation.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "runtime/control_context.h"
#include "runtime/ethernet.h"

namespace dquic {

inline constexpr std::uint16_t kIpv6HeaderLen = 40;
inline constexpr std::uint8_t kIpProtoIcmpv6 = 58;

// Where the upper-layer header of an IPv6 packet starts.
struct Ipv6UpperLayer {
  std::uint8_t next_header = 0;  // the upper-layer protocol (or 44 for a fragment)
  std::uint32_t offset = 0;      // from the frame start
  bool routing_header = false;   // a Routing header was crossed
};

// RFC 8200 §4: walks Hop-by-Hop, Routing and Destination Options headers of
// the IPv6 packet at `ip_off` (headers must lie in `seg_len`, the packet ends
// at `ip_end`). Stops at a Fragment header (next_header 44). False if a
// header is truncated.
bool find_ipv6_upper_layer(const std::uint8_t* frame, std::uint32_t ip_off, std::uint32_t seg_len,
                           std::uint32_t ip_end, Ipv6UpperLayer* out);

// A received ICMPv6 message whose IPv6 header and checksum were validated.
struct Icmpv6Message {
  std::uint32_t ip_off = 0;    // IPv6 header (= the Ethernet header length)
  std::uint32_t icmp_off = 0;  // ICMPv6 header, after any extension headers
  std::uint32_t icmp_len = 0;  // to the end of the IPv6 payload
  std::uint32_t ip_end = 0;    // end of the IPv6 packet (Ethernet padding follows)
  std::uint8_t hop_limit = 0;
};

// Removes the extension headers between the IPv6 header and the ICMPv6
// message (the reply must not carry them), moving the Ethernet and IPv6
// headers forward; updates `msg` and the IPv6 Next Header / Payload Length.
void strip_ipv6_extension_headers(rte_mbuf* m, Icmpv6Message* msg);

// Recomputes the ICMPv6 checksum of the message at `msg` over the
// pseudo-header (RFC 4443 §2.3, RFC 8200 §8.1) and stores it.
void set_icmpv6_checksum(rte_mbuf* m, const Icmpv6Message& msg);

// Handles a received IPv6 frame carrying ICMPv6. An Echo Request (128, code
// 0) to our MAC and one of our unicast addresses becomes the Echo Reply (129)
// in place, RFC 4443 §4.2: data returned unchanged (also from later
// segments), addresses and MACs swapped, hop limit reset, extension headers
// removed, checksum recomputed, VLAN tags kept. Echo requests to multicast
// addresses are not answered.
ControlResult handle_icmpv6(rte_mbuf* m, const EthernetInfo& eth, ControlContext& ctx,
                            std::uint64_t now);

}  // namespace dquic
