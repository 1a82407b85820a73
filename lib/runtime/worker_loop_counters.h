// What the poll loop counts that WorkerCounters (runtime/worker_counters.h)
// has no field for yet: addressing drops on receive, and next-hop resolution
// on transmit. Same threading rule: written by its worker only, plain
// increments; read with a snapshot from elsewhere.
#pragma once

#include <cstdint>

namespace dquic {

struct WorkerLoopCounters {
  // Receive.
  std::uint64_t udp_datagrams = 0;     // frames that parsed as UDP (before steering)
  std::uint64_t not_local = 0;         // UDP to an address that is not ours
  std::uint64_t not_listening = 0;     // UDP to a port we do not listen on
  std::uint64_t multi_segment = 0;     // chained datagrams (connection_io opens one segment)
  std::uint64_t redirect_loops = 0;    // a redirected datagram the endpoint wanted to forward again
  std::uint64_t zero_rtt_no_mbuf = 0;  // buffered 0-RTT lost: pool empty
  // Transmit: next hop (RFC 826 ARP, RFC 4861 ND).
  std::uint64_t solicitations_sent = 0;  // ARP requests / Neighbor Solicitations
  std::uint64_t held = 0;                // datagrams parked for an unresolved next hop
  std::uint64_t released = 0;            // parked ones sent once resolved
  std::uint64_t hold_dropped = 0;        // hold full, resolution failed, or held too long
  std::uint64_t no_route = 0;            // no next hop or no source address of the family
  std::uint64_t build_failed = 0;        // build_udp_frame refused (headroom, family, size)
  std::uint64_t no_mbuf = 0;             // pool empty for a reply or solicitation
  std::uint64_t flush_deferred = 0;      // a connection hit the per-iteration send bound
};

}  // namespace dquic
