// The transmit side of a worker: frames QUIC datagrams (UDP payload mbufs)
// for the path they go on, finds the next hop's MAC in the neighbour cache
// (on-link destination or the default gateway, runtime/route.h), solicits
// unresolved next hops and parks a bounded few datagrams until they resolve,
// and batches everything into rte_eth_tx_burst.
//
// No allocation after construction: the TX batch and the hold are fixed
// arrays; solicitations are mbufs from the worker's pool. One per worker
// (one TX queue); not thread-safe.
//
// Test-only: with a Blackhole schedule (runtime/impairment.h, --impair
// blackhole=) a batch flushed inside a window is freed instead of sent
// (impair_blackholed_tx), neither sent nor captured: it never reaches the wire.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quic/ecn.h"
#include "quic/peer_address.h"
#include "quic/timestamp.h"
#include "runtime/control_frames.h"
#include "runtime/ethernet.h"
#include "runtime/neighbor_table.h"
#include "runtime/route.h"
#include "runtime/udp_frame.h"
#include "runtime/worker_counters.h"
#include "runtime/worker_loop_counters.h"

namespace dquic {

class Blackhole;
class NatRebind;
class CaptureRing;

struct FrameSenderConfig {
  std::uint16_t port_id = 0;
  std::uint16_t queue_id = 0;
  MacAddress mac{};
  rte_mempool* pool = nullptr;  // solicitations
  std::uint16_t tx_burst = 32;  // frames batched per rte_eth_tx_burst (at most 256)
  // The port fills the IPv4 and UDP checksums (EthPort::tx_checksum_offload).
  bool checksum_offload = false;
  bool vlan = false;  // one 802.1Q tag on everything we send
  std::uint16_t vlan_tci = 0;
  std::uint8_t ttl = 64;
  // Datagrams parked per worker while their next hop resolves (Linux's
  // unres_qlen is 3 per neighbour), and for how long at most.
  std::size_t hold_capacity = 16;
  Duration hold_timeout = 3 * kSecond;
  // How often the neighbour cache's timers run (retransmitted
  // solicitations, expiry): it scans its entries, so not every iteration.
  Duration neighbor_poll_interval = kMillisecond;
  // --pcap: every frame is copied here just before rte_eth_tx_burst; null = off.
  CaptureRing* capture = nullptr;
  // Test-only blackhole schedule, shared with the receive side's impairment
  // stage; null = off. Must outlive the sender.
  Blackhole* blackhole = nullptr;
  // Test-only NAT rebinding (runtime/nat_rebind.h): rewrites the addresses
  // or port of datagrams on their way out, once due; null: off.
  NatRebind* rebind = nullptr;
  // Test-only: datagrams (numbered from 1) freed instead of sent, counted in
  // impair_dropped_sent (--impair drop_sent=); 0: off.
  std::uint64_t drop_sent_first = 0;
  std::uint64_t drop_sent_last = 0;
};

class FrameSender {
 public:
  static constexpr std::size_t kMaxTxBurst = 256;

  // Every reference must outlive the sender.
  FrameSender(const FrameSenderConfig& config, const Route& route, NeighborTable& neighbors,
              const ControlPlane& control, WorkerCounters& counters, WorkerLoopCounters& loop);
  ~FrameSender();
  FrameSender(const FrameSender&) = delete;
  FrameSender& operator=(const FrameSender&) = delete;

  // Takes `m` (the UDP payload, all of pkt_len) and sends it from
  // path.local to path.peer: framed and queued, parked until the next hop
  // resolves, or freed and counted. An unspecified local address (a path
  // nobody filled in) is our address towards the peer (Route::source_for).
  void send_datagram(rte_mbuf* m, const NetworkPath& path, Ecn ecn, Time now);
  // Queues a whole frame (a control-plane reply).
  void send_frame(rte_mbuf* m);
  // Neighbour timers (every neighbor_poll_interval) and the hold: parked
  // datagrams whose next hop resolved are sent, those whose resolution
  // failed or that waited too long are dropped.
  void service(Time now);
  // Hands the batch to the NIC; what the TX queue refuses is freed and
  // counted (tx_dropped). Inside a blackhole window (at the latest time
  // given to set_now, send_datagram or service) the batch is freed and
  // counted in impair_blackholed_tx instead.
  void flush();
  // The time of the worker's iteration, for flushes of frames queued
  // without one (send_frame); never moves back.
  void set_now(Time now) { now_ = now > now_ ? now : now_; }

  std::size_t held() const { return hold_count_; }
  std::size_t queued() const { return tx_count_; }

 private:
  struct Held {
    rte_mbuf* m = nullptr;
    UdpFrameSpec spec;
    IpAddress next_hop;
    Time since = 0;
  };

  void frame_and_queue(rte_mbuf* m, const UdpFrameSpec& spec);
  void solicit(const IpAddress& ip, const MacAddress* unicast);
  void hold(rte_mbuf* m, const UdpFrameSpec& spec, const IpAddress& next_hop, Time now);
  void drop_held(const IpAddress& ip);

  FrameSenderConfig config_;
  const Route& route_;
  NeighborTable& neighbors_;
  const ControlPlane& control_;
  WorkerCounters& counters_;
  WorkerLoopCounters& loop_;
  std::vector<rte_mbuf*> tx_;
  std::size_t tx_count_ = 0;
  std::vector<Held> hold_;
  std::size_t hold_count_ = 0;
  std::uint16_t ipv4_id_ = 0;
  std::uint64_t datagrams_ = 0;  // given to send_datagram (drop_sent numbering)
  Time next_neighbor_poll_ = 0;
  Time now_ = 0;
  std::array<NeighborEvent, 16> events_{};
};

}  // namespace dquic
