#include "runtime/worker.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <utility>

#include "offload/protector_key_store.h"
#include "runtime/connection_io.h"
#include "runtime/ip_endpoint.h"
#include "runtime/log.h"
#include "runtime/null_key_store.h"
#include "runtime/packet_capture.h"

namespace dquic {
namespace {

bool fail(std::string* why, const char* text) {
  if (why != nullptr) *why = text;
  return false;
}

// A datagram another worker parsed and verified: its checksums are not
// checked again (parse_udp_frame honours the RX flags).
void mark_checksums_good(rte_mbuf* m) {
  m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
  m->ol_flags |= RTE_MBUF_F_RX_IP_CKSUM_GOOD | RTE_MBUF_F_RX_L4_CKSUM_GOOD;
}

}  // namespace

Worker::Worker(WorkerConfig config)
    : config_(std::move(config)), clock_(config_.tsc_epoch), app_(config_.app) {}

Worker::~Worker() {
  // Frames still held by the impairment stage go back to their pools.
  impair_.reset();
  // Connections (and their keys) go before the key store and the sender.
  endpoint_.reset();
  sender_.reset();
}

bool Worker::init(std::string* why) {
  if (ready_) return fail(why, "init() called twice");
  if (config_.pool == nullptr) return fail(why, "no mempool");
  if (config_.worker_count == 0 || config_.worker >= config_.worker_count)
    return fail(why, "worker id outside 0..worker_count-1");
  if (config_.worker_count > 1 &&
      (config_.redirect == nullptr || config_.redirect->workers() < config_.worker_count))
    return fail(why, "several workers need RedirectRings with a ring per worker");
  if (config_.endpoint.cid_generator == nullptr) return fail(why, "no CID generator");
  if (config_.route.addresses().empty()) return fail(why, "no local address");
  if (config_.rx_burst == 0 || config_.tx_burst == 0) return fail(why, "zero burst size");
  if (!rte_eth_dev_is_valid_port(config_.port_id)) return fail(why, "invalid port");
  if (!clock_.ok()) return fail(why, "TSC frequency unknown");
  if (config_.impairment && !config_.impairment->valid())
    return fail(why, "invalid impairment configuration");

  if (config_.protector != nullptr) {
    keys_ = std::make_unique<offload::ProtectorKeyStore>(config_.protector);
  } else {
    keys_ = std::make_unique<NullKeyStore>();
  }
  neighbors_ = std::make_unique<NeighborTable>(config_.neighbors);
  if (config_.impairment && config_.impairment->rebind == RebindKind::kLocalAddress) {
    // The test NAT's public address is answered for in ARP / ND like ours
    // (nat_rebind.h); the worker's own Route copy, so no one else sees it.
    const IpAddress& to = config_.impairment->rebind_to;
    if (!config_.route.is_local(to) &&
        !config_.route.add_address(to, to.family == IpFamily::kIpv4 ? 32 : 128))
      return fail(why, "rebind_to: no room for another address");
  }
  ControlPlaneConfig cp;
  cp.mac = config_.mac;
  if (config_.vlan_tci) {
    cp.tx_vlan.count = 1;
    cp.tx_vlan.tpid[0] = kEtherTypeVlan;
    cp.tx_vlan.tci[0] = *config_.vlan_tci;
  }
  control_ = std::make_unique<ControlPlane>(cp, config_.route, *neighbors_);
  FrameSenderConfig fs;
  fs.port_id = config_.port_id;
  fs.queue_id = config_.tx_queue;
  fs.mac = config_.mac;
  fs.pool = config_.pool;
  fs.tx_burst = config_.tx_burst;
  fs.checksum_offload = config_.tx_checksum_offload;
  fs.vlan = config_.vlan_tci.has_value();
  fs.vlan_tci = config_.vlan_tci.value_or(0);
  fs.hold_capacity = config_.hold_capacity;
  fs.capture = config_.capture;
  if (config_.impairment && config_.impairment->blackhole()) {
    blackhole_ = Blackhole(*config_.impairment);
    fs.blackhole = &blackhole_;
  }
  if (config_.impairment) {
    fs.drop_sent_first = config_.impairment->drop_sent_first;
    fs.drop_sent_last = config_.impairment->drop_sent_last;
  }
  if (config_.impairment && config_.impairment->rebind != RebindKind::kNone) {
    const ImpairmentConfig& i = *config_.impairment;
    rebind_ = NatRebind(i.rebind, i.rebind_after, i.rebind_frames, i.rebind_to);
    fs.rebind = &rebind_;
  }
  sender_ =
      std::make_unique<FrameSender>(fs, config_.route, *neighbors_, *control_, counters_, loop_);

  EndpointConfig ec = std::move(config_.endpoint);
  config_.endpoint = EndpointConfig{};
  ec.worker = config_.worker;
  if (ec.connection.keys == nullptr) ec.connection.keys = keys_.get();
  if (ec.connection.copy_pool == nullptr) ec.connection.copy_pool = config_.pool;
  // The application sees every server connection before it is built.
  ec.on_new_connection = [this, user = std::move(ec.on_new_connection)](
                             const IncomingConnection& in, ConnectionConfig& c) {
    if (config_.qlog != nullptr && c.observer == nullptr) c.observer = config_.qlog->open();
    if (user && !user(in, c)) return false;
    return app_ == nullptr || app_->on_incoming(*this, in, c);
  };
  generator_ = ec.cid_generator;
  const std::size_t slots = ec.max_connections;
  endpoint_ = std::make_unique<Endpoint>(std::move(ec));
  if (!endpoint_->ok()) return fail(why, "endpoint configuration refused");

  timers_ = std::make_unique<ConnectionTimers>(slots, clock_.now());
  slots_.assign(slots, Slot{});
  free_slots_.reserve(slots);
  for (std::size_t i = slots; i > 0; --i)
    free_slots_.push_back(static_cast<std::uint32_t>(i - 1));
  slot_of_.reserve(slots);
  dirty_.reserve(slots);
  flushing_.reserve(slots);
  rx_.assign(config_.rx_burst, nullptr);
  if (config_.impairment) {
    impair_ = std::make_unique<Impairment>(*config_.impairment, config_.pool, &blackhole_);
    // A burst, each frame duplicated, and as many held ones that became due:
    // what does not fit stays queued in order for the next iteration.
    impaired_.assign(4 * std::size_t{config_.rx_burst}, nullptr);
  }
  now_ = clock_.now();
  next_collect_ = now_ + config_.collect_interval;
  next_snapshot_ = now_;
  ready_ = true;
  return true;
}

// ---------------------------------------------------------------- the loop

void Worker::poll_once() {
  if (!ready_) return;
  // Phase boundaries on the TSC (rte_rdtsc, not serializing: a few cycles
  // each, five per iteration); see WorkerLoopCounters::cycles_*.
  const std::uint64_t t0 = rte_rdtsc();
  const std::uint64_t tx_before = counters_.tx_packets;
  now_ = clock_.now();
  sender_->set_now(now_);  // control replies are queued without a time
  const std::uint16_t n =
      rte_eth_rx_burst(config_.port_id, config_.rx_queue, rx_.data(), config_.rx_burst);
  if (config_.capture != nullptr) config_.capture->capture({rx_.data(), n});
  if (rebind_.enabled()) {
    for (std::uint16_t i = 0; i < n; ++i)
      (void)rebind_.on_receive(rx_[i], now_);  // the NAT, before everything of ours
  }
  bool received = n != 0;
  if (impair_ == nullptr) {
    // The frames were written by the NIC or another core: start pulling the
    // headers of the next ones in while this one is handled (as DPDK's
    // l3fwd does). The payload behind follows sequentially.
    constexpr std::uint16_t kPrefetchAhead = 2;
    for (std::uint16_t i = 0; i < n && i < kPrefetchAhead; ++i)
      rte_prefetch0(rte_pktmbuf_mtod(rx_[i], const void*));
    for (std::uint16_t i = 0; i < n; ++i) {
      if (i + kPrefetchAhead < n)
        rte_prefetch0(rte_pktmbuf_mtod(rx_[i + kPrefetchAhead], const void*));
      counters_.count_rx(rte_pktmbuf_pkt_len(rx_[i]));
      on_frame(rx_[i]);
    }
  } else {
    // rx_packets counts what the NIC gave; the stage owns the frames from
    // here on and returns those due now (held ones first), also when n is 0.
    for (std::uint16_t i = 0; i < n; ++i)
      counters_.count_rx(rte_pktmbuf_pkt_len(rx_[i]));
    const std::size_t k = impair_->process({rx_.data(), n}, now_, impaired_);
    update_impairment_counters();
    received |= k != 0;
    for (std::size_t i = 0; i < k; ++i)
      on_frame(impaired_[i]);
  }
  if (config_.worker_count > 1) {
    const std::size_t k = config_.redirect->drain(config_.worker, rx_);
    received |= k != 0;
    for (std::size_t i = 0; i < k; ++i) {
      ++counters_.redirects_in;
      on_udp(rx_[i], true);
    }
  }
  const std::uint64_t t1 = rte_rdtsc();
  fire_timers();
  const std::uint64_t t2 = rte_rdtsc();
  if (app_ != nullptr) app_->on_poll(*this, now_);
  const std::uint64_t t3 = rte_rdtsc();
  flush_connections();
  sender_->service(now_);
  sender_->flush();
  if (rebind_.enabled()) {
    counters_.impair_rebound_rx = rebind_.rewritten_rx();
    counters_.impair_rebound_tx = rebind_.rewritten_tx();
  }
  maybe_collect();
  update_crypto_counters();
  const std::uint64_t t4 = rte_rdtsc();
  // Plain increments: this worker is the only writer (see snapshot()).
  if (!received && counters_.tx_packets == tx_before) {
    loop_.cycles_idle += t4 - t0;
    ++loop_.polls_idle;
    return;
  }
  loop_.cycles_receive += t1 - t0;
  loop_.cycles_timers += t2 - t1;
  loop_.cycles_app += t3 - t2;
  loop_.cycles_send += t4 - t3;
  ++loop_.polls_busy;
}

std::size_t Worker::run(const std::atomic<bool>& stop, Duration max) {
  const Time start = clock_.now();
  std::size_t iterations = 0;
  while (!stop.load(std::memory_order_relaxed) && clock_.now() - start < max) {
    poll_once();
    ++iterations;
  }
  return iterations;
}

void Worker::on_frame(rte_mbuf* m) {
  const ControlResult r = control_->process(m, static_cast<std::uint64_t>(now_));
  switch (r.action) {
    case ControlAction::kPass:
      on_udp(m, false);
      return;
    case ControlAction::kReply:
      sender_->send_frame(m);
      return;
    case ControlAction::kDrop:
      counters_.count_drop(r.reason);
      break;
    case ControlAction::kConsumed:
      break;
  }
  rte_pktmbuf_free(m);
}

bool Worker::listening(std::uint16_t port) const {
  return std::find(config_.udp_ports.begin(), config_.udp_ports.end(), port) !=
         config_.udp_ports.end();
}

void Worker::on_udp(rte_mbuf* m, bool redirected) {
  ParsedUdpFrame f;
  const UdpDropReason reason = parse_udp_frame(m, &f);
  if (reason != UdpDropReason::kNone) {
    counters_.count_drop(reason);
    rte_pktmbuf_free(m);
    return;
  }
  if (!redirected) ++loop_.udp_datagrams;
  if (!config_.route.is_local(f.dst)) {
    ++loop_.not_local;
    rte_pktmbuf_free(m);
    return;
  }
  if (!listening(f.dst_port)) {
    ++loop_.not_listening;
    rte_pktmbuf_free(m);
    return;
  }
  // Steering (runtime/steering.h): a datagram another worker owns goes to
  // it before anything here looks at it. Redirected ones are ours by
  // construction: never sent on again.
  if (!redirected && config_.worker_count > 1) {
    const ByteSpan payload = first_segment_payload(m, f.payload_offset, f.payload_len);
    const std::uint16_t owner = owner_worker(payload, *generator_, config_.worker_count,
                                             config_.steering_key, config_.worker);
    if (owner != config_.worker) {
      redirect(m, owner);
      return;
    }
  }
  on_datagram(m, f, redirected);
}

void Worker::redirect(rte_mbuf* m, std::uint16_t owner) {
  mark_checksums_good(m);
  if (config_.redirect->forward(config_.worker, owner, m)) {
    ++counters_.redirects_out;
  } else {
    ++counters_.redirects_ring_full;
    rte_pktmbuf_free(m);
  }
}

void Worker::on_datagram(rte_mbuf* m, const ParsedUdpFrame& f, bool redirected) {
  const PeerAddress local = to_peer_address(f.dst, f.dst_port);
  const PeerAddress from = to_peer_address(f.src, f.src_port);
  // connection_io takes the UDP payload alone: strip the headers in front
  // and any Ethernet padding behind.
  rte_pktmbuf_adj(m, static_cast<std::uint16_t>(f.payload_offset));
  if (rte_pktmbuf_pkt_len(m) > f.payload_len)
    rte_pktmbuf_trim(m, static_cast<std::uint16_t>(rte_pktmbuf_pkt_len(m) - f.payload_len));
  if (m->nb_segs != 1) ++loop_.multi_segment;
  const ByteSpan datagram(rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m));
  const EndpointDecision d = endpoint_->on_datagram(datagram, from, now_, response_);
  const NetworkPath path{local, from};
  const auto ecn = static_cast<Ecn>(f.ecn & 0x03);
  using Kind = EndpointDecision::Kind;
  switch (d.kind) {
    case Kind::kDeliver:
      deliver(*d.connection, m, ecn, path);
      return;
    case Kind::kNewConnection:
      if (!attach(d.connection)) break;  // cannot happen: slots = max_connections
      counters_.count_connection_opened();
      log_opened(*d.connection, from);  // its path is set by deliver(), below
      if (app_ != nullptr) app_->on_accepted(*this, *d.connection);
      deliver(*d.connection, m, ecn, path);
      deliver_buffered(*d.connection, path);
      return;
    case Kind::kRespond:
      counters_.count_stateless(d.response);
      if (d.drop != EndpointDrop::kCount) counters_.count_drop(d.drop);
      respond(local, from, d.response_length);
      break;
    case Kind::kForward:
      // The endpoint's CID check agrees with owner_worker(): only reached
      // with steering off (one worker) or a generator that disagrees.
      if (redirected || config_.worker_count <= 1 || d.worker >= config_.worker_count) {
        ++loop_.redirect_loops;
        break;
      }
      rte_pktmbuf_prepend(m, static_cast<std::uint16_t>(f.payload_offset));
      redirect(m, d.worker);
      return;
    case Kind::kPeerReset:
      mark_dirty(*d.connection);
      break;
    case Kind::kDrop:
      counters_.count_drop(d.drop);
      break;
    case Kind::kBuffered:
      break;
  }
  rte_pktmbuf_free(m);
}

void Worker::deliver(Connection& c, rte_mbuf* m, Ecn ecn, const NetworkPath& path) {
  receive_datagram(c, config_.protector, m, ecn, now_, path);
  rte_pktmbuf_free(m);  // the connection took references on what it keeps
  mark_dirty(c);
}

// RFC 9000 §5.2.2: 0-RTT that arrived before its Initial, copied out of the
// endpoint's buffer into mbufs (rare: only resumed clients' reordering).
void Worker::deliver_buffered(Connection& c, const NetworkPath& path) {
  BufferedDatagram b;
  while (endpoint_->take_buffered(c, &b)) {
    rte_mbuf* m = rte_pktmbuf_alloc(config_.pool);
    char* at =
        m != nullptr ? rte_pktmbuf_append(m, static_cast<std::uint16_t>(b.data.size())) : nullptr;
    if (at == nullptr) {
      ++loop_.zero_rtt_no_mbuf;
      rte_pktmbuf_free(m);
      continue;
    }
    std::memcpy(at, b.data.data(), b.data.size());
    deliver(c, m, Ecn::kNotEct, path);
  }
}

// Stateless replies go back to the sender from the address it wrote to.
void Worker::respond(const PeerAddress& local, const PeerAddress& to, std::size_t length) {
  rte_mbuf* m = rte_pktmbuf_alloc(config_.pool);
  char* at = m != nullptr ? rte_pktmbuf_append(m, static_cast<std::uint16_t>(length)) : nullptr;
  if (at == nullptr) {
    ++loop_.no_mbuf;
    rte_pktmbuf_free(m);
    return;
  }
  std::memcpy(at, response_.data(), length);
  sender_->send_datagram(m, NetworkPath{local, to}, Ecn::kNotEct, now_);
}

// ---------------------------------------------------------------- connections

bool Worker::attach(Connection* c) {
  if (free_slots_.empty()) return false;
  const std::uint32_t s = free_slots_.back();
  free_slots_.pop_back();
  Slot& slot = slots_[s];
  slot.conn = c;
  slot.handshake_counted = false;
  slot.closed_seen = false;
  slot.opened_at = now_;
  slot_of_.emplace(c, s);
  mark_dirty_slot(s);
  return true;
}

void Worker::release(Connection* c) {
  const auto it = slot_of_.find(c);
  if (it == slot_of_.end()) return;
  const std::uint32_t s = it->second;
  Slot& slot = slots_[s];
  if (app_ != nullptr) app_->on_closed(*this, *c);
  counters_.count_connection_closed();
  if (!slot.handshake_counted) ++counters_.handshakes_failed;
  log_closed(slot);
  timers_->cancel(s);
  // A slot still on the dirty list stays marked: the list skips empty slots.
  slot.conn = nullptr;
  slot_of_.erase(it);
  free_slots_.push_back(s);
}

void Worker::mark_dirty_slot(std::uint32_t s) {
  Slot& slot = slots_[s];
  if (slot.dirty) return;
  slot.dirty = true;
  dirty_.push_back(s);
}

void Worker::mark_dirty(Connection& c) {
  const auto it = slot_of_.find(&c);
  if (it != slot_of_.end()) mark_dirty_slot(it->second);
}

void Worker::wake(Connection& c) {
  mark_dirty(c);
}

Connection* Worker::connect(const ConnectionConfig& config, const NetworkPath& path) {
  if (!ready_) return nullptr;
  ConnectionConfig c = config;
  c.role = EndpointRole::kClient;
  c.path = path;
  if (c.keys == nullptr) c.keys = keys_.get();
  if (c.copy_pool == nullptr) c.copy_pool = config_.pool;
  if (config_.qlog != nullptr && c.observer == nullptr) c.observer = config_.qlog->open();
  now_ = std::max(now_, clock_.now());
  Connection* conn = endpoint_->connect(c, path.peer, now_);
  if (conn == nullptr) return nullptr;
  if (!attach(conn)) {
    // Cannot happen (slots = max_connections); the endpoint collects it.
    conn->close(0, "no worker slot", now_);
    return nullptr;
  }
  counters_.count_connection_opened();
  log_opened(*conn, path.peer);
  // Setup time: the port list grows once per new local port.
  if (!listening(path.local.port)) config_.udp_ports.push_back(path.local.port);
  return conn;
}

void Worker::fire_timers() {
  std::size_t fired = 0;
  while (fired < config_.max_timers_per_poll) {
    const std::size_t want = std::min(due_.size(), config_.max_timers_per_poll - fired);
    const std::size_t n = timers_->pop_due(now_, {due_.data(), want});
    for (std::size_t i = 0; i < n; ++i) {
      Connection* c = slots_[due_[i]].conn;
      if (c == nullptr) continue;
      c->on_timeout(now_);
      mark_dirty_slot(due_[i]);
    }
    fired += n;
    if (n < want) break;
  }
}

void Worker::flush_connections() {
  flushing_.swap(dirty_);
  for (const std::uint32_t s : flushing_) {
    Slot& slot = slots_[s];
    slot.dirty = false;
    Connection* c = slot.conn;
    if (c == nullptr) continue;
    if (!c->is_closed() && send(*c)) {
      ++loop_.flush_deferred;
      mark_dirty_slot(s);
    }
    note_state(slot);
    timers_->schedule(s, c->is_closed() ? kNever : c->next_timeout());
  }
  flushing_.clear();
}

bool Worker::send(Connection& c) {
  std::size_t total = 0;
  while (total < config_.max_datagrams_per_flush) {
    const std::size_t want = std::min(out_.size(), config_.max_datagrams_per_flush - total);
    const std::size_t n =
        send_datagrams(c, config_.protector, config_.pool, now_, {out_.data(), want},
                       {out_ecn_.data(), want}, {out_path_.data(), want});
    for (std::size_t i = 0; i < n; ++i)
      sender_->send_datagram(out_[i], out_path_[i], out_ecn_[i], now_);
    total += n;
    if (n < want) return false;
  }
  return true;
}

void Worker::note_state(Slot& s) {
  if (!s.handshake_counted && s.conn->handshake_complete()) {
    s.handshake_counted = true;
    ++counters_.handshakes_completed;
  }
  if (!s.closed_seen && s.conn->is_closed()) {
    s.closed_seen = true;
    ++closed_pending_;
  }
}

void Worker::maybe_collect() {
  if (closed_pending_ == 0 && now_ < next_collect_) return;
  next_collect_ = now_ + config_.collect_interval;
  // Slots go before the endpoint destroys their connections. The walk is
  // over the connections (not per packet): on a closure or every interval.
  for (std::size_t i = 0; i < endpoint_->connection_count(); ++i) {
    Connection* c = endpoint_->connection(i);
    if (c->is_closed()) release(c);
  }
  closed_pending_ = 0;
  endpoint_->collect(now_);
  if (config_.qlog != nullptr) config_.qlog->on_collected();  // their observers are free
  if (now_ >= next_snapshot_) publish_snapshot();
}

// The top connections by bytes for telemetry, off the per-packet path: a
// walk over the connections every snapshot_interval, like the collect walk,
// O(connections x kTopConnections) at worst, no allocation.
void Worker::publish_snapshot() {
  next_snapshot_ = now_ + config_.snapshot_interval;
  TopConnections top;
  const std::size_t n = endpoint_->connection_count();
  for (std::size_t i = 0; i < n; ++i) {
    const ConnectionStats& st = endpoint_->connection(i)->stats();
    top.offer(st.bytes_sent + st.bytes_received, static_cast<std::uint32_t>(i));
  }
  for (std::size_t k = 0; k < top.size(); ++k) {
    const Connection& c = *endpoint_->connection(top.index(k));
    ConnectionSample& s = samples_[k];
    s = sample_connection(c);
    s.worker = config_.worker;
    const auto it = slot_of_.find(&c);
    const Time opened = it != slot_of_.end() ? slots_[it->second].opened_at : now_;
    s.age_us = now_ > opened ? static_cast<std::uint64_t>((now_ - opened) / kMicrosecond) : 0;
  }
  snapshot_.publish({samples_.data(), top.size()}, now_);
}

// Per connection, never per packet; DEBUG on dquic.runtime (runtime/log.h).
void Worker::log_opened(const Connection& c, const PeerAddress& from) const {
  if (!log_enabled(log_type_runtime, RTE_LOG_DEBUG)) return;
  char cid[2 * kMaxConnectionIdLength + 1];
  char peer[64];
  format_cid_hex(c.local_cid().span(), cid);
  format_peer_address(from, peer);
  DQUIC_LOG(DEBUG, runtime, "worker %u: connection %s opened, peer %s",
            static_cast<unsigned>(config_.worker), cid, peer);
}

void Worker::log_closed(const Slot& s) const {
  if (!log_enabled(log_type_runtime, RTE_LOG_DEBUG)) return;
  const Connection& c = *s.conn;
  char cid[2 * kMaxConnectionIdLength + 1];
  char peer[64];
  format_cid_hex(c.local_cid().span(), cid);
  format_peer_address(c.path().peer, peer);
  // The reason phrase may come from the peer: printable ASCII only, bounded.
  char reason[65] = {};
  const char* by = "unknown";
  const char* kind = "";
  std::uint64_t code = 0;
  if (const std::optional<CloseInfo>& ci = c.close_info()) {
    by = ci->local ? "by us" : "by the peer";
    kind = ci->application ? " application error" : " transport error";
    code = ci->error_code;
    std::size_t i = 0;
    for (; i < ci->reason.size() && i + 1 < sizeof(reason); ++i) {
      const char ch = ci->reason[i];
      reason[i] = ch >= 0x20 && ch < 0x7f ? ch : '?';
    }
    reason[i] = '\0';
  }
  const std::uint64_t age_ms =
      now_ > s.opened_at ? static_cast<std::uint64_t>((now_ - s.opened_at) / kMillisecond) : 0;
  DQUIC_LOG(DEBUG, runtime,
            "worker %u: connection %s closed %s%s 0x%" PRIx64
            " '%s', peer %s, handshake %s, %" PRIu64 " bytes sent, %" PRIu64 " received, %" PRIu64
            " ms",
            static_cast<unsigned>(config_.worker), cid, by, kind, code, reason, peer,
            s.handshake_counted ? "complete" : "not complete", c.stats().bytes_sent,
            c.stats().bytes_received, age_ms);
}

void Worker::update_crypto_counters() {
  if (config_.protector == nullptr) return;
  const offload::ProtectorCounters& p = config_.protector->counters();
  counters_.crypto_completed = p.sealed + p.opened;
  counters_.crypto_failed = p.seal_failures + p.auth_failures + p.open_failures;
  counters_.crypto_enqueued = counters_.crypto_completed + counters_.crypto_failed;
  counters_.gather_seals = p.gather_seals;
  counters_.gather_copies = config_.protector->gather_copies();
}

void Worker::update_impairment_counters() {
  const ImpairmentCounters& i = impair_->counters();
  counters_.impair_dropped = i.dropped;
  counters_.impair_queue_full = i.queue_full;
  counters_.impair_duplicated = i.duplicated;
  counters_.impair_corrupted = i.corrupted;
  counters_.impair_delayed = i.delayed;
  counters_.impair_reordered = i.reordered;
  counters_.impair_copy_failures = i.copy_failures;
  counters_.impair_blackholed_rx = i.blackholed;
}

}  // namespace dquic
