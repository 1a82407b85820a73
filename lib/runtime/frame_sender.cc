#include "runtime/frame_sender.h"

#include <rte_ethdev.h>

#include <algorithm>

#include "runtime/impairment.h"
#include "runtime/ip_endpoint.h"
#include "runtime/nat_rebind.h"
#include "runtime/packet_capture.h"

namespace dquic {

FrameSender::FrameSender(const FrameSenderConfig& config, const Route& route,
                         NeighborTable& neighbors, const ControlPlane& control,
                         WorkerCounters& counters, WorkerLoopCounters& loop)
    : config_(config),
      route_(route),
      neighbors_(neighbors),
      control_(control),
      counters_(counters),
      loop_(loop),
      tx_(std::clamp<std::size_t>(config.tx_burst, 1, kMaxTxBurst), nullptr),
      hold_(config.hold_capacity) {}

FrameSender::~FrameSender() {
  // Not flushed: the port may be stopped by now.
  for (std::size_t i = 0; i < tx_count_; ++i)
    rte_pktmbuf_free(tx_[i]);
  for (std::size_t i = 0; i < hold_count_; ++i)
    rte_pktmbuf_free(hold_[i].m);
}

void FrameSender::send_frame(rte_mbuf* m) {
  if (tx_count_ == tx_.size()) flush();
  tx_[tx_count_++] = m;
}

void FrameSender::flush() {
  if (tx_count_ == 0) return;
  if (config_.blackhole != nullptr && config_.blackhole->in_blackhole(now_)) {
    // Test impairment: dropped on the way to the wire, so not captured.
    for (std::size_t i = 0; i < tx_count_; ++i)
      rte_pktmbuf_free(tx_[i]);
    counters_.impair_blackholed_tx += tx_count_;
    tx_count_ = 0;
    return;
  }
  // Lengths are read before the burst: sent mbufs belong to the PMD.
  std::array<std::uint32_t, kMaxTxBurst> lengths;
  for (std::size_t i = 0; i < tx_count_; ++i)
    lengths[i] = rte_pktmbuf_pkt_len(tx_[i]);
  if (config_.capture != nullptr) config_.capture->capture({tx_.data(), tx_count_});
  const std::uint16_t sent = rte_eth_tx_burst(config_.port_id, config_.queue_id, tx_.data(),
                                              static_cast<std::uint16_t>(tx_count_));
  for (std::size_t i = 0; i < sent; ++i)
    counters_.count_tx(lengths[i]);
  for (std::size_t i = sent; i < tx_count_; ++i) {
    rte_pktmbuf_free(tx_[i]);
    ++counters_.tx_dropped;
  }
  tx_count_ = 0;
}

void FrameSender::frame_and_queue(rte_mbuf* m, const UdpFrameSpec& spec) {
  if (!build_udp_frame(m, spec, &ipv4_id_)) {
    ++loop_.build_failed;
    rte_pktmbuf_free(m);
    return;
  }
  send_frame(m);
}

void FrameSender::send_datagram(rte_mbuf* m, const NetworkPath& path, Ecn ecn, Time now) {
  set_now(now);
  if (config_.drop_sent_last != 0) {
    const std::uint64_t n = ++datagrams_;
    if (n >= config_.drop_sent_first && n <= config_.drop_sent_last) {
      ++counters_.impair_dropped_sent;  // test impairment: never reaches the wire
      rte_pktmbuf_free(m);
      return;
    }
  }
  UdpFrameSpec spec;
  spec.src_mac = config_.mac;
  spec.dst = to_ip_address(path.peer);
  spec.dst_port = path.peer.port;
  spec.src_port = path.local.port;
  if (!is_unspecified(path.local)) {
    spec.src = to_ip_address(path.local);
  } else if (const IpAddress* src = route_.source_for(spec.dst); src != nullptr) {
    spec.src = *src;
  }
  // The test NAT acts first: the peer's real address picks the next hop.
  if (config_.rebind != nullptr) (void)config_.rebind->on_send(&spec, now);
  const std::optional<IpAddress> next_hop = route_.next_hop(spec.dst);
  if (spec.src.family != spec.dst.family || !next_hop) {
    ++loop_.no_route;
    rte_pktmbuf_free(m);
    return;
  }
  spec.ttl = config_.ttl;
  spec.ecn = static_cast<std::uint8_t>(ecn);
  spec.vlan = config_.vlan;
  spec.vlan_tci = config_.vlan_tci;
  spec.checksum_offload = config_.checksum_offload;

  MacAddress mac{};
  const auto t = static_cast<std::uint64_t>(now);
  switch (neighbors_.resolve(*next_hop, t, &mac)) {
    case NeighborAction::kSend:
      spec.dst_mac = mac;
      frame_and_queue(m, spec);
      return;
    case NeighborAction::kSendAndProbe:
      spec.dst_mac = mac;
      frame_and_queue(m, spec);
      solicit(*next_hop, &mac);  // RFC 4861 §7.3.3: confirm a stale entry
      return;
    case NeighborAction::kSolicit:
      solicit(*next_hop, nullptr);
      hold(m, spec, *next_hop, now);
      return;
    case NeighborAction::kWait:
      hold(m, spec, *next_hop, now);
      return;
    case NeighborAction::kUnreachable:
      ++loop_.hold_dropped;
      rte_pktmbuf_free(m);
      return;
  }
}

void FrameSender::solicit(const IpAddress& ip, const MacAddress* unicast) {
  rte_mbuf* m = rte_pktmbuf_alloc(config_.pool);
  if (m == nullptr) {
    ++loop_.no_mbuf;
    return;
  }
  if (!control_.write_solicitation(m, ip, unicast)) {
    ++loop_.no_route;
    rte_pktmbuf_free(m);
    return;
  }
  ++loop_.solicitations_sent;
  send_frame(m);
}

void FrameSender::hold(rte_mbuf* m, const UdpFrameSpec& spec, const IpAddress& next_hop, Time now) {
  // Full: the new datagram goes (loss recovery resends what matters).
  if (hold_count_ == hold_.size()) {
    ++loop_.hold_dropped;
    rte_pktmbuf_free(m);
    return;
  }
  hold_[hold_count_++] = Held{m, spec, next_hop, now};
  ++loop_.held;
}

void FrameSender::drop_held(const IpAddress& ip) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < hold_count_; ++i) {
    if (hold_[i].next_hop == ip) {
      rte_pktmbuf_free(hold_[i].m);
      ++loop_.hold_dropped;
    } else {
      hold_[kept++] = hold_[i];
    }
  }
  hold_count_ = kept;
}

void FrameSender::service(Time now) {
  set_now(now);
  const auto t = static_cast<std::uint64_t>(now);
  if (now >= next_neighbor_poll_) {
    next_neighbor_poll_ = now + config_.neighbor_poll_interval;
    for (;;) {
      const std::size_t n = neighbors_.poll(t, events_);
      for (std::size_t i = 0; i < n; ++i) {
        const NeighborEvent& e = events_[i];
        switch (e.kind) {
          case NeighborEventKind::kSolicit:
            solicit(e.ip, nullptr);
            break;
          case NeighborEventKind::kProbe:
            solicit(e.ip, &e.mac);
            break;
          case NeighborEventKind::kFailed:
            drop_held(e.ip);
            break;
        }
      }
      if (n < events_.size()) break;
    }
  }
  if (hold_count_ == 0) return;
  // Parked datagrams leave in arrival order once their MAC is known.
  std::size_t kept = 0;
  for (std::size_t i = 0; i < hold_count_; ++i) {
    Held& h = hold_[i];
    const NeighborEntry* e = neighbors_.find(h.next_hop);
    const bool resolved = e != nullptr && (e->state == NeighborState::kReachable ||
                                           e->state == NeighborState::kStale);
    if (resolved) {
      h.spec.dst_mac = e->mac;
      ++loop_.released;
      frame_and_queue(h.m, h.spec);
    } else if (e == nullptr || e->state == NeighborState::kFailed ||
               now - h.since > config_.hold_timeout) {
      ++loop_.hold_dropped;
      rte_pktmbuf_free(h.m);
    } else {
      hold_[kept++] = h;
    }
  }
  hold_count_ = kept;
}

}  // namespace dquic
