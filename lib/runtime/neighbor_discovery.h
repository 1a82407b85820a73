// IPv6 Neighbor Discovery for a host (RFC 4861 §7): answer Neighbor
// Solicitations for our addresses with Neighbor Advertisements in place,
// learn link-layer addresses into the neighbour cache, and write
// solicitations for resolving a next hop. Sans-IO; no allocation.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "runtime/control_context.h"
#include "runtime/ethernet.h"
#include "runtime/icmpv6.h"

namespace dquic {

inline constexpr std::uint16_t kNdMessageLen = 24;         // NS / NA without options
inline constexpr std::uint16_t kNdLinkLayerOptionLen = 8;  // Ethernet (RFC 4861 §4.6.1)

// A Neighbor Solicitation (type 135) whose IPv6 header and checksum
// handle_icmpv6 validated. RFC 4861 §7.1.1 checks: hop limit 255, code 0,
// length >= 24, target not multicast, options of non-zero length (a source
// link-layer option must be 8 bytes), and from the unspecified address only
// to a solicited-node address and without a source link-layer option. The
// target must be ours and the destination our unicast address or the
// target's solicited-node group (ff02::1:ffXX:XXXX). Then (§7.2.3, §7.2.4):
// the source's link-layer option is learned (STALE), and the mbuf becomes the
// Neighbor Advertisement: from the target, Solicited and Override set, our
// MAC in a target link-layer option, to the source (Ethernet: the source
// link-layer option, else the frame's source) — or, for duplicate address
// detection (unspecified source), to all-nodes ff02::1 with Solicited clear.
ControlResult handle_neighbor_solicitation(rte_mbuf* m, Icmpv6Message msg, ControlContext& ctx,
                                           std::uint64_t now);

// A Neighbor Advertisement (type 136). RFC 4861 §7.1.2 checks as above, plus
// Solicited clear when sent to a multicast address. An advertisement for one
// of our addresses is kAddressConflict. Then §7.2.5: the cache entry of the
// target is updated with the Solicited / Override flags and the target
// link-layer option; absent entries are not created.
ControlResult handle_neighbor_advertisement(rte_mbuf* m, const Icmpv6Message& msg,
                                            ControlContext& ctx, std::uint64_t now);

// Writes a Neighbor Solicitation for `target` from `source` into the empty
// mbuf `m` (RFC 4861 §7.2.2): to the target's solicited-node multicast
// address and its 33:33:ff:xx:xx:xx MAC, or, to probe a stale entry, to the
// target address itself at *unicast_dst. Hop limit 255, our MAC in a source
// link-layer option. False, leaving `m` unchanged, if `m` is not empty,
// lacks room, or an address is not IPv6.
bool write_neighbor_solicitation(rte_mbuf* m, const MacAddress& our_mac, const IpAddress& source,
                                 const IpAddress& target, const VlanTags& vlan = {},
                                 const MacAddress* unicast_dst = nullptr);

}  // namespace dquic
