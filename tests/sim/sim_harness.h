// A deterministic simulation of client/server connection pairs over one
// SimPath: a virtual clock, an event loop over the connections' timers and
// the path's deliveries, packet protection through runtime/connection_io.h,
// and an application that sends seeded pseudo-random stream data and checks
// every byte. A run is reproduced exactly by its SimConfig (seed included).
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "offload/protector.h"
#include "quic/congestion_controller.h"
#include "quic/connection.h"
#include "tests/sim/sim_path.h"

namespace dquic {

enum class SimCrypto : std::uint8_t {
  kInline,  // an offload::Protector on the inline engines per endpoint
  kNone,    // plaintext packets (connection_io's no-crypto mode): cannot detect corruption
};

enum class SimWorkload : std::uint8_t {
  kEcho,    // the server writes every stream back, then FIN
  kUpload,  // the server only reads, then sends an empty FIN
};

// One client/server pair. Pairs share the path (its bottleneck and impairments).
struct SimFlowConfig {
  std::size_t streams = 3;  // bidirectional, opened by the client
  std::uint64_t bytes_per_stream = 20000;
  SimWorkload workload = SimWorkload::kEcho;
  Time start = 0;  // when the client starts its handshake
};

// TSC ticks spent in connection_io calls, per role (benchmarks).
struct SimIoTiming {
  struct Side {
    std::uint64_t send_tsc = 0, send_datagrams = 0;
    std::uint64_t receive_tsc = 0, receive_datagrams = 0;
  };
  Side client, server;
};

struct SimConfig {
  std::uint64_t seed = 1;
  SimPathConfig client_to_server = SimPathConfig::clean(10'000'000, 10 * kMillisecond);
  SimPathConfig server_to_client = SimPathConfig::clean(10'000'000, 10 * kMillisecond);
  SimCrypto crypto = SimCrypto::kInline;
  CongestionAlgorithm congestion = CongestionAlgorithm::kCubic;
  std::uint32_t max_datagram_size = 1200;
  bool pacing = true;
  // Initial receive windows (transport parameters); they grow up to the
  // connection's caps.
  std::uint64_t stream_window = 256 * 1024;
  std::uint64_t connection_window = 1024 * 1024;
  Duration idle_timeout = 30 * kSecond;
  Duration handshake_timeout = 10 * kSecond;  // ConnectionConfig's, both sides
  std::vector<SimFlowConfig> flows = {SimFlowConfig{}};
  // Failing either bound is reported as a deadlock.
  Duration time_limit = 300 * kSecond;
  std::uint64_t step_limit = 5'000'000;
  // Steps in a row without the clock moving before the loop calls it a livelock.
  std::uint64_t same_time_step_limit = 10'000;
  std::size_t send_burst = 32;  // datagrams per send_datagrams() call
  bool verify = true;           // check every received byte against the pattern
  // The applications act on every unfinished stream at every step instead of
  // only on the connection's readable/writable callbacks: for tests of
  // something else than the callbacks.
  bool poll_streams = false;
  std::size_t max_stream_send_buffer = 1 << 20;  // ConnectionConfig's
  std::uint64_t key_update_interval = 0;         // ConnectionConfig's, both sides
  // transport.max_ack_delay (ms) of both sides; unset: ConnectionConfig's
  // default (kDefaultLocalMaxAckDelayMs).
  std::optional<std::uint64_t> max_ack_delay_ms;
  // ConnectionConfig::version / versions: the client starts with
  // client_version; the server takes the version of the client's Initial.
  std::uint32_t client_version = kVersion1;
  std::vector<std::uint32_t> client_versions, server_versions;
  // Addresses and migration (RFC 9000 §9). With any of these set, the
  // client sends from 198.18.0.2:50000 to the server's 198.18.1.1:443,
  // datagrams carry their path, and both ends issue spare connection IDs.
  // Each change waits until the client's handshake is confirmed.
  // At nat_rebind_at a NAT in front of the client gives it a new address as
  // the server sees it (a new port; also a new IP with nat_rebind_new_ip);
  // datagrams to the old one are lost from then on.
  Time nat_rebind_at = kNever;
  bool nat_rebind_new_ip = false;
  // At client_migrate_at the client moves to 198.18.0.3:50001
  // (Connection::migrate), after probing it with migrate_validate_first.
  Time client_migrate_at = kNever;
  bool migrate_validate_first = false;
  // The server offers preferred_address 198.18.1.2:4433 (RFC 9000 §9.6).
  bool preferred_address = false;
  SimIoTiming* timing = nullptr;  // optional: filled when set
  // Optional: installed on every client / server connection (qlog-style
  // traces when diagnosing a failing seed).
  ConnectionObserver* client_observer = nullptr;
  ConnectionObserver* server_observer = nullptr;
};

struct SimEndpointResult {
  bool exists = false;  // a server is created by the first client Initial
  ConnectionState state = ConnectionState::kHandshaking;
  bool handshake_complete = false;
  std::optional<CloseInfo> close;
  ConnectionStats stats;
  std::uint64_t congestion_window = 0;
  Duration smoothed_rtt = 0;
  std::uint64_t app_bytes_read = 0;
  std::uint64_t app_bytes_written = 0;
  std::uint64_t key_updates = 0;  // read-key rotations (RFC 9001 §6)
  std::uint32_t version = 0;      // in use at the end
  NetworkPath path;               // the active path at the end
};

struct SimFlowResult {
  bool data_complete = false;         // every stream verified end to end
  bool closed_cleanly = false;        // both kClosed by the client's application close, code 0
  bool server_idle_closed = false;    // ... the server by idle timeout: every close was lost
  Time done_time = kNever;            // the client had every response
  Time closed_time = kNever;          // both ends kClosed
  std::uint64_t bytes_delivered = 0;  // stream bytes read by both applications
  SimEndpointResult client, server;
};

struct SimResult {
  bool completed = false;  // every flow data_complete and closed_cleanly, no failure
  bool deadlock = false;   // a bound was hit or nothing was left to happen
  std::string failure;     // first failure, empty when completed
  Time elapsed = 0;        // virtual time at the end of the run
  std::uint64_t steps = 0;
  std::uint64_t bytes_delivered = 0;
  std::vector<SimFlowResult> flows;
  SimLinkStats client_to_server, server_to_client;
  std::uint64_t nat_dropped = 0;  // datagrams to a client address no longer bound
  // Resources after everything was destroyed: must be 0.
  std::int64_t mbufs_leaked = 0;  // pool in-use count minus its count before the run
  std::int64_t keys_leaked = 0;   // keys installed minus released, all endpoints
};

// Runs one simulation. `pool` supplies every datagram (and the path's copies).
class SimHarness {
 public:
  SimHarness(const SimConfig& config, rte_mempool* pool);
  ~SimHarness();
  SimHarness(const SimHarness&) = delete;
  SimHarness& operator=(const SimHarness&) = delete;

  // Called after every step of the event loop, for tests that sample the
  // connections over time (congestion window, delivered bytes...).
  void set_step_hook(std::function<void(const SimHarness&)> hook) { hook_ = std::move(hook); }

  SimResult run();

  // For the step hook.
  Time now() const { return now_; }
  std::size_t flow_count() const;
  const Connection* client(std::size_t flow) const;  // null before its start
  const Connection* server(std::size_t flow) const;  // null before its first Initial
  std::uint64_t bytes_delivered(std::size_t flow) const;
  const SimPath& path() const { return *path_; }

 private:
  struct Endpoint;
  struct Flow;
  class App;

  bool step();
  void start_flows();
  void deliver(SimLink& link, bool to_server);
  void route(rte_mbuf* m, bool to_server);
  bool addressing() const;
  std::uint8_t address_index(const PeerAddress& a);
  void tag_path(rte_mbuf* m, const NetworkPath& p, bool from_client);
  bool untag_path(const rte_mbuf* m, bool to_server, NetworkPath* p) const;
  void path_events();
  void create_server(Flow& f, std::size_t flow, rte_mbuf* first);
  void send(Endpoint& e, std::size_t flow, SimLink& link);
  bool all_closed() const;
  Time next_event() const;
  void fail(std::string why, bool deadlock);
  SimResult collect();
  std::unique_ptr<Endpoint> make_endpoint(std::size_t flow, const Connection::ServerIds* ids);
  std::string describe_state() const;

  SimConfig config_;
  rte_mempool* pool_;
  Time now_ = 0;
  std::unique_ptr<SimPath> path_;
  std::vector<std::unique_ptr<Flow>> flows_;
  std::function<void(const SimHarness&)> hook_;
  std::vector<rte_mbuf*> scratch_;
  std::uint64_t steps_ = 0;
  std::uint64_t same_time_steps_ = 0;
  std::int64_t discarded_keys_live_ = 0;      // servers dropped after a bad first Initial
  SimRng cid_rng_;                            // the servers' connection IDs
  std::uint32_t server_version_ = kVersion1;  // of the Initial creating a server
  std::string failure_;
  bool deadlock_ = false;
  // Addressing: every address seen, indexed by the tag datagrams carry in
  // hash.rss (rte_pktmbuf_copy keeps it); the client's address as the
  // server sees it (NAT), and the one it had before a rebinding.
  std::vector<PeerAddress> addresses_;
  std::optional<PeerAddress> nat_external_;
  std::optional<PeerAddress> nat_dead_;
  bool rebound_ = false, migrated_ = false;
  std::uint64_t nat_dropped_ = 0;
};

// The application's stream content: byte `offset` of stream `stream_id` in a
// run with `seed`, in 8-byte blocks so that checking is cheap.
void fill_pattern(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t offset,
                  std::span<std::uint8_t> out);

// Creates the pool the simulations use (mbufs large enough for any datagram
// SimPathConfig carries by default); nullptr on failure.
rte_mempool* create_sim_pool(const char* name, unsigned mbufs);

}  // namespace dquic
