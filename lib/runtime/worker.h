// The per-lcore poll loop: one Worker per lcore owns one RX/TX queue pair of
// a port, an Endpoint with its connections, a neighbour cache and a control
// plane. One iteration (poll_once):
//
//   now = TSC -> ns, once
//   rte_eth_rx_burst [-> impairment stage, when configured: frames dropped,
//                     duplicated, corrupted, or held and released by now]
//                    -> ARP / ICMP / ND answered (ControlPlane)
//                    -> Ethernet/VLAN/IPv4/IPv6/UDP parsed, checksums verified
//                    -> our address and port?
//                    -> steering: owner_worker() != us -> its RedirectRings ring
//   redirected datagrams from other workers (already verified)
//   -> Endpoint::on_datagram -> receive_datagram (open) -> connection
//      (application callbacks inside) | stateless reply | forward | drop
//   due connection timers -> Connection::on_timeout
//   WorkerApp::on_poll
//   connections touched this iteration (the dirty list): send_datagrams
//      (build + seal) -> framed for the datagram's NetworkPath, next-hop MAC
//      from the neighbour cache (unresolved: solicit, park a bounded few)
//   neighbour timers, parked datagrams [-> a blackhole window, when
//      configured: the batch is freed] -> rte_eth_tx_burst
//   closed connections collected (now and then)
//
// No allocation, lock or exception per packet: every array is sized in
// init(); the endpoint allocates per connection (routes), not per packet.
// Not thread-safe: all calls from the worker's own thread.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "offload/protector.h"
#include "quic/connection.h"
#include "quic/endpoint.h"
#include "quic/peer_address.h"
#include "quic/timestamp.h"
#include "runtime/connection_snapshot.h"
#include "runtime/connection_timers.h"
#include "runtime/control_frames.h"
#include "runtime/ethernet.h"
#include "runtime/frame_sender.h"
#include "runtime/impairment.h"
#include "runtime/nat_rebind.h"
#include "runtime/neighbor_table.h"
#include "runtime/qlog_recorder.h"
#include "runtime/route.h"
#include "runtime/steering.h"
#include "runtime/tsc_clock.h"
#include "runtime/udp_frame.h"
#include "runtime/worker_app.h"
#include "runtime/worker_counters.h"
#include "runtime/worker_loop_counters.h"

namespace dquic {

class CaptureRing;

struct WorkerConfig {
  std::uint16_t port_id = 0;
  std::uint16_t rx_queue = 0;
  std::uint16_t tx_queue = 0;
  std::uint16_t worker = 0;        // 0..worker_count-1: the id the CID generator encodes
  std::uint16_t worker_count = 1;  // workers sharing the endpoint's CID space
  // Datagrams we build, stateless replies and solicitations (received
  // mbufs come from the port's RX pool).
  rte_mempool* pool = nullptr;
  MacAddress mac{};
  Route route;  // our addresses (each prefix on-link) and default gateways
  // UDP ports we accept datagrams on (servers); connect() adds the local
  // port of each client connection.
  std::vector<std::uint16_t> udp_ports;
  // This worker's endpoint: endpoint.worker is set to `worker`; connection
  // keys and copy_pool are filled in when left null. cid_generator is
  // required and must be the same generator (shape) in every worker.
  EndpointConfig endpoint;
  // Packet protection for this lcore; null = no-crypto mode (both ends).
  // Must outlive the worker.
  offload::Protector* protector = nullptr;
  // Required when worker_count > 1; shared by the workers.
  RedirectRings* redirect = nullptr;
  SteeringKey steering_key;  // the same in every worker
  std::uint16_t rx_burst = 32;
  std::uint16_t tx_burst = 32;
  // Bounds on one iteration's work, so no connection starves the others:
  // datagrams built per connection, timers fired.
  std::size_t max_datagrams_per_flush = 256;
  std::size_t max_timers_per_poll = 256;
  bool tx_checksum_offload = false;       // EthPort::tx_checksum_offload()
  std::optional<std::uint16_t> vlan_tci;  // tag everything we send
  NeighborConfig neighbors;
  std::size_t hold_capacity = 16;  // datagrams parked for unresolved next hops
  Duration collect_interval = 100 * kMillisecond;
  // How often the collect step publishes the top connections by bytes
  // (connection_snapshot(), read by telemetry's /dquic/top); 0 = every
  // collect step.
  Duration snapshot_interval = 250 * kMillisecond;
  WorkerApp* app = nullptr;     // optional
  std::uint64_t tsc_epoch = 0;  // time 0 of the worker's clock; 0 = at construction
  // Test-only impairment between the wire and the stack (runtime/impairment.h):
  // applied to every frame rte_eth_rx_burst returns, before the control
  // plane and UDP parsing (corruption patches the UDP checksum, so damaged
  // datagrams reach QUIC and its AEAD); not again to datagrams redirected
  // from other workers (their receiver impaired them). Held frames leave on later
  // iterations by the worker's clock; duplicates come from `pool`. A
  // blackhole (ImpairmentConfig::blackhole_on) also drops what the worker
  // sends, in FrameSender, by the same schedule (one per worker). Must be
  // valid(); what it did is in WorkerCounters' impair_* counters.
  std::optional<ImpairmentConfig> impairment;
  // --pcap (runtime/packet_capture.h): every frame rte_eth_rx_burst returns
  // (before the impairment stage) and every frame handed to
  // rte_eth_tx_burst is copied here; null = off. Must outlive the worker.
  CaptureRing* capture = nullptr;
  // qlog (runtime/qlog_recorder.h): every connection gets an observer from
  // it (unless its config already names one). Must outlive the worker.
  QlogRecorder* qlog = nullptr;
};

class Worker {
 public:
  explicit Worker(WorkerConfig config);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Builds the endpoint, control plane and sender; false with *why when the
  // configuration is unusable. Nothing else works before it succeeds.
  [[nodiscard]] bool init(std::string* why);

  // One iteration of the loop above.
  void poll_once();
  // Iterates until `stop` or for `max` at most; returns the iterations.
  std::size_t run(const std::atomic<bool>& stop, Duration max);

  // A client connection on `path` (our address and port, the server's),
  // sent on the next iteration. `config`'s keys and copy_pool default to
  // the worker's. Nullptr when the endpoint refuses (limit, start failure).
  Connection* connect(const ConnectionConfig& config, const NetworkPath& path);
  // `c` has something to send that no receive or timer of this worker
  // will notice (the application wrote from on_poll): flush it this
  // iteration (or the next, when called after the flush).
  void wake(Connection& c);

  Endpoint& endpoint() { return *endpoint_; }
  const Endpoint& endpoint() const { return *endpoint_; }
  const WorkerCounters& counters() const { return counters_; }
  const WorkerLoopCounters& loop_counters() const { return loop_; }
  const ControlPlane& control() const { return *control_; }
  const NeighborTable& neighbors() const { return *neighbors_; }
  const Route& route() const { return config_.route; }
  const TscClock& clock() const { return clock_; }
  std::uint16_t id() const { return config_.worker; }
  // The time of the current (or last) iteration.
  Time now() const { return now_; }
  // Connections with a deadline armed (tests).
  std::size_t timers_scheduled() const { return timers_ ? timers_->scheduled() : 0; }
  // The impairment stage, null without one (tests: held(), counters()).
  const Impairment* impairment() const { return impair_.get(); }
  // The blackhole schedule both directions ask (off without one).
  const Blackhole& blackhole() const { return blackhole_; }
  // This worker's top connections by bytes, for other threads (seqlock:
  // runtime/connection_snapshot.h); published by the collect step.
  const ConnectionSnapshot& connection_snapshot() const { return snapshot_; }

 private:
  struct Slot {
    Connection* conn = nullptr;
    bool dirty = false;
    bool handshake_counted = false;
    bool closed_seen = false;
    Time opened_at = 0;  // attach(): the connection's age in snapshots and logs
  };
  // Mbufs built per send_datagrams call.
  static constexpr std::size_t kSendChunk = 32;
  static constexpr std::size_t kTimerChunk = 32;

  void on_frame(rte_mbuf* m);
  void on_udp(rte_mbuf* m, bool redirected);
  void on_datagram(rte_mbuf* m, const ParsedUdpFrame& f, bool redirected);
  void redirect(rte_mbuf* m, std::uint16_t owner);
  void deliver(Connection& c, rte_mbuf* m, Ecn ecn, const NetworkPath& path);
  void deliver_buffered(Connection& c, const NetworkPath& path);
  void respond(const PeerAddress& local, const PeerAddress& to, std::size_t length);
  bool listening(std::uint16_t port) const;

  bool attach(Connection* c);  // a slot for a new connection
  void release(Connection* c);
  void mark_dirty(Connection& c);
  void mark_dirty_slot(std::uint32_t slot);
  void fire_timers();
  void flush_connections();
  bool send(Connection& c);  // true: stopped at the per-iteration bound
  void note_state(Slot& s);
  void maybe_collect();
  void publish_snapshot();
  void log_opened(const Connection& c, const PeerAddress& from) const;
  void log_closed(const Slot& s) const;
  void update_crypto_counters();
  void update_impairment_counters();

  WorkerConfig config_;
  bool ready_ = false;
  TscClock clock_;
  Time now_ = 0;
  WorkerApp* app_ = nullptr;
  WorkerCounters counters_;
  WorkerLoopCounters loop_;
  // Before the sender and the stage that point to it.
  Blackhole blackhole_;
  NatRebind rebind_;  // test-only NAT rebinding, both directions (off by default)

  // Keys outlive the endpoint: its connections release theirs when destroyed.
  std::unique_ptr<KeyStore> keys_;
  std::unique_ptr<NeighborTable> neighbors_;
  std::unique_ptr<ControlPlane> control_;
  std::unique_ptr<FrameSender> sender_;
  std::unique_ptr<ConnectionTimers> timers_;
  std::unique_ptr<Endpoint> endpoint_;
  ConnectionIdGenerator* generator_ = nullptr;
  std::unique_ptr<Impairment> impair_;

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::unordered_map<const Connection*, std::uint32_t> slot_of_;
  std::vector<std::uint32_t> dirty_;
  std::vector<std::uint32_t> flushing_;
  std::size_t closed_pending_ = 0;
  Time next_collect_ = 0;
  Time next_snapshot_ = 0;
  ConnectionSnapshot snapshot_;
  std::array<ConnectionSample, kTopConnections> samples_{};  // publish_snapshot()'s scratch

  std::vector<rte_mbuf*> rx_;
  std::vector<rte_mbuf*> impaired_;  // what the impairment stage lets through
  std::array<rte_mbuf*, kSendChunk> out_{};
  std::array<Ecn, kSendChunk> out_ecn_{};
  std::array<NetworkPath, kSendChunk> out_path_{};
  std::array<std::uint32_t, kTimerChunk> due_{};
  std::array<std::uint8_t, Endpoint::kMaxResponseSize> response_{};
};

}  // namespace dquic
