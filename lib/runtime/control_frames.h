// The control-plane part of the receive path: classify a received Ethernet
// frame (after up to two VLAN tags) as ARP, ICMPv4, ICMPv6 or other, and let
// the handlers act on it — answer ARP, echo and Neighbor Solicitations in the
// same mbuf, keep the neighbour cache current, count every drop. Sans-IO: the
// caller owns the rx/tx bursts and the clock. No allocation.
//
// VLAN: tags present in the frame stay in the reply untouched. Tags the NIC
// stripped (RTE_MBUF_F_RX_VLAN_STRIPPED / RX_QINQ_STRIPPED, TCIs in
// vlan_tci / vlan_tci_outer) are asked back on transmit with
// RTE_MBUF_F_TX_VLAN / TX_QINQ, so the port needs the matching insert
// offload in that configuration.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "runtime/control_context.h"
#include "runtime/ethernet.h"
#include "runtime/neighbor_table.h"
#include "runtime/route.h"

namespace dquic {

enum class ControlFrameKind : std::uint8_t { kArp, kIcmpv4, kIcmpv6, kOther };

const char* to_string(ControlFrameKind kind);

// Cheap look at the ethertype and the IP protocol / IPv6 next header
// (extension headers crossed). Frames whose headers cannot be read are kOther:
// the UDP path rejects and counts them.
ControlFrameKind classify_control_frame(const rte_mbuf* m);

struct ControlPlaneConfig {
  MacAddress mac{};
  std::uint8_t ipv4_ttl = 64;        // for echo replies
  std::uint8_t ipv6_hop_limit = 64;  // for echo replies (ND always uses 255)
  VlanTags tx_vlan;                  // tags written into our own solicitations
};

class ControlPlane {
 public:
  // `route` and `neighbors` must outlive the control plane.
  ControlPlane(const ControlPlaneConfig& config, const Route& route, NeighborTable& neighbors);

  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Acts on one received frame (data at the Ethernet header). kPass leaves
  // `m` untouched for the UDP path; kReply means `m` now holds a frame to
  // transmit; kConsumed / kDrop mean the caller frees `m`. Drops are counted
  // by reason.
  ControlResult process(rte_mbuf* m, std::uint64_t now);

  // Writes the ARP request or Neighbor Solicitation for resolving `target`
  // into the empty mbuf `m`, from our address on the target's prefix
  // (Route::source_for). Broadcast / solicited-node multicast, or unicast to
  // *unicast_dst when probing a stale entry (NeighborEventKind::kProbe).
  bool write_solicitation(rte_mbuf* m, const IpAddress& target,
                          const MacAddress* unicast_dst = nullptr) const;

  const ControlCounters& counters() const { return counters_; }
  const ControlPlaneConfig& config() const { return config_; }

 private:
  ControlPlaneConfig config_;
  const Route& route_;
  ControlCounters counters_;
  ControlContext ctx_;
};

}  // namespace dquic
