// The shared vocabulary of the control-plane handlers (ARP, ICMPv4 echo,
// ICMPv6 echo and Neighbor Discovery): what happened to a frame, why it was
// dropped, the counters, and what the handlers need to act.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "runtime/ethernet.h"
#include "runtime/neighbor_table.h"
#include "runtime/route.h"

namespace dquic {

enum class ControlDropReason : std::uint8_t {
  kNone = 0,
  kTooShort,              // a header does not fit in the first segment
  kNotForUs,              // another host's MAC, or an address / target that is not ours
  kNotInFirstSegment,     // an ND message must sit in the first segment to be rewritten
  kNoTailroom,            // the reply does not fit in the mbuf
  kBadArpHeader,          // not Ethernet/IPv4 (hardware/protocol type, lengths)
  kBadArpOperation,       // neither request nor reply
  kBadSourceAddress,      // group/zero sender MAC; unspecified/multicast/broadcast IP source
  kAddressConflict,       // another node claims one of our addresses
  kBadIpVersion,          // version field disagrees with the ethertype
  kBadIpHeaderLength,     // IPv4 IHL < 5 or beyond the segment
  kBadIpLength,           // IP length beyond the frame or below the header
  kBadIpChecksum,         // IPv4 header checksum (software or NIC)
  kIpOptions,             // IPv4 options on an echo request (not reflected, see icmpv4_echo.h)
  kFragment,              // fragmented ICMP: no reassembly here
  kBadExtensionHeader,    // IPv6 extension header truncated, or a Routing header
  kBadIcmpLength,         // shorter than the message's fixed part
  kBadIcmpChecksum,       // ICMP / ICMPv6 checksum
  kBadIcmpCode,           // code other than 0 on echo request or ND
  kIcmpIgnored,           // other ICMP / ICMPv6 types: counted, not answered
  kBadHopLimit,           // ND hop limit other than 255 (RFC 4861 §7.1)
  kBadNdTarget,           // multicast target address
  kBadNdOption,           // zero-length or truncated option, bad link-layer option length
  kBadDadSolicitation,    // unspecified source with a non-solicited-node destination or an SLLAO
  kSolicitedToMulticast,  // NA to a multicast destination with the Solicited flag
  kUnsolicitedAdvertisement,  // ARP reply / NA for an address not in the cache
  kAdvertisementRejected,     // NA with a different MAC and no Override flag
  kCount,
};

const char* to_string(ControlDropReason reason);

enum class ControlAction : std::uint8_t {
  kPass,      // not a control frame: hand it to the UDP path untouched
  kReply,     // the mbuf now holds the reply: transmit it on the receiving port
  kConsumed,  // processed (the neighbour cache learned from it): free it
  kDrop,      // rejected, reason counted: free it
};

struct ControlResult {
  ControlAction action = ControlAction::kPass;
  ControlDropReason reason = ControlDropReason::kNone;
  friend bool operator==(const ControlResult&, const ControlResult&) = default;
};

inline ControlResult control_drop(ControlDropReason reason) {
  return {ControlAction::kDrop, reason};
}

struct ControlCounters {
  std::uint64_t arp_replies_sent = 0;
  std::uint64_t arp_gratuitous = 0;
  std::uint64_t icmp_echo_replies_sent = 0;
  std::uint64_t icmpv6_echo_replies_sent = 0;
  std::uint64_t neighbor_advertisements_sent = 0;
  std::uint64_t neighbor_updates = 0;  // cache entries created or changed by ARP / ND
  std::array<std::uint64_t, static_cast<std::size_t>(ControlDropReason::kCount)> drops{};

  std::uint64_t dropped(ControlDropReason reason) const {
    return drops[static_cast<std::size_t>(reason)];
  }
  std::uint64_t total_drops() const;
};

// What a handler reads and updates. The control plane owns one.
struct ControlContext {
  MacAddress mac{};
  const Route* route = nullptr;
  NeighborTable* neighbors = nullptr;
  ControlCounters* counters = nullptr;
  std::uint8_t ipv4_ttl = 64;
  std::uint8_t ipv6_hop_limit = 64;
};

// Counts a cache change made by ARP / ND.
inline void note_neighbor_update(ControlContext& ctx, NeighborUpdateResult r) {
  if (r == NeighborUpdateResult::kCreated || r == NeighborUpdateResult::kUpdated)
    ++ctx.counters->neighbor_updates;
}

}  // namespace dquic
