// ICMPv4 (RFC 792): answer Echo Requests to our addresses in place; every
// other ICMP message is counted and dropped. Sans-IO; no allocation.
#pragma once

#include <rte_mbuf.h>

#include "runtime/control_context.h"
#include "runtime/ethernet.h"

namespace dquic {

// Handles a received IPv4 frame carrying ICMP. An Echo Request (type 8,
// code 0) sent to our MAC and one of our addresses becomes the Echo Reply in
// the same mbuf (RFC 1122 §3.2.2.6): type 0, data returned unchanged (also
// from later segments), addresses and MACs swapped, TTL reset, both checksums
// recomputed, Ethernet padding trimmed, VLAN tags kept. Requests to broadcast
// or multicast addresses are not answered (allowed by §3.2.2.6), nor are
// requests with IP options: §3.2.2.6 asks for reversed source routes and
// updated record-route options, which this responder does not implement.
ControlResult handle_icmpv4(rte_mbuf* m, const EthernetInfo& eth, ControlContext& ctx);

}  // namespace dquic
