// ARP over Ethernet for IPv4 (RFC 826): answer requests for our addresses in
// place, learn senders into the neighbour cache, and write requests for
// resolving a next hop. Sans-IO; no allocation.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "runtime/control_context.h"
#include "runtime/ethernet.h"

namespace dquic {

inline constexpr std::uint16_t kArpLen = 28;  // Ethernet/IPv4 ARP body

// Handles a received ARP frame whose Ethernet header (and VLAN tags) `eth`
// describes:
//  - request for one of our addresses → kReply: the mbuf becomes the reply
//    (operation 2, hardware/protocol fields swapped, our MAC as sender,
//    Ethernet addressed to the requester, tags kept); the sender is learned
//    (created STALE, RFC 826 "merge" plus "add if we are the target");
//  - reply to us → the existing entry is confirmed (REACHABLE); a reply for
//    an address not being resolved is dropped (kUnsolicitedAdvertisement);
//  - gratuitous ARP (sender == target address) → updates an existing entry
//    only (kConsumed);
//  - request for another host → existing entry refreshed, then dropped
//    (kNotForUs).
// A sender claiming one of our addresses is kAddressConflict. Sender address
// 0.0.0.0 (an RFC 5227 probe) is answered but never learned.
ControlResult handle_arp(rte_mbuf* m, const EthernetInfo& eth, ControlContext& ctx,
                         std::uint64_t now);

// Writes an ARP request "who has `target`, tell `sender_ip`" into the empty
// mbuf `m`: broadcast, or unicast to *unicast_dst (probing a stale entry).
// The frame is zero-padded to the 60-byte Ethernet minimum. False, leaving
// `m` unchanged, if `m` is not empty, lacks room, or an address is not IPv4.
bool write_arp_request(rte_mbuf* m, const MacAddress& our_mac, const IpAddress& sender_ip,
                       const IpAddress& target, const VlanTags& vlan = {},
                       const MacAddress* unicast_dst = nullptr);

}  // namespace dquic
