// Steering by connection ID: which worker (lcore, one RX/TX queue pair each)
// owns a received datagram, NIC flow rules that deliver short-header packets
// straight to their owner's queue where the port supports them, and the
// software redirect between workers for everything else (RSS spreads by
// 4-tuple, which knows nothing of connections).
//
//   short header, DCID we issued        -> the worker encoded in it (worker_of)
//   long header,  DCID we issued        -> the same (client Initials/Handshake
//                                          after our first Initial or a Retry;
//                                          Retry/VN/server packets to our client)
//   any other DCID (client-chosen        -> keyed hash of the DCID mod workers
//     Initial/0-RTT DCIDs, garbage)
//   unparseable                          -> the receiving worker (it drops it)
//
// RFC 9000 §7.2 / §17.2.3: a client's Initial retransmissions and its 0-RTT
// packets carry the same client-chosen DCID until it sees our first Initial,
// and the hash reads the DCID alone (not the version or the type), so they
// all land on the worker that got the first Initial; that worker's CIDs then
// keep the connection there. Our own client connections draw their CIDs from
// the same generator, so the rule holds for both roles.
//
// A DCID that fails worker_of is hashed rather than left where RSS put it, so
// every worker agrees on one owner: a short header for no connection then
// gets at most one stateless reset (or one drop), from that owner.
//
// Limitation: a client that can build a DCID worker_of accepts (plaintext
// QUIC-LB or random CIDs carry the worker id in the clear) can aim its
// Initials at one worker. Encrypted QUIC-LB CIDs take that away unless the
// attacker guesses a decodable CID, and then cannot choose the worker.
#pragma once

#include <rte_mbuf.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "quic/buffer.h"
#include "quic/cid_generator.h"

struct rte_flow;
struct rte_ring;

namespace dquic {

// --- Owner of a datagram ---------------------------------------------------

// The SipHash key of the Initial hash. One per process, shared by every
// worker (they must agree on owners), secret so that clients cannot pick
// DCIDs that all hash to one worker.
struct SteeringKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
};

// A fresh key from OpenSSL's CSPRNG; false if it failed. Setup only.
[[nodiscard]] bool make_steering_key(SteeringKey* out);

// SipHash-2-4 (Aumasson and Bernstein, 2012), little-endian key words.
std::uint64_t siphash24(const SteeringKey& key, ByteSpan in);

// The worker that owns the QUIC datagram `udp_payload` (see the table above).
// `self` is the receiving worker; workers == 0 or self >= workers returns
// self. A worker_of answer >= workers (a generator configured with more
// workers than run) is treated as not ours. No allocation; the QUIC-LB
// encrypted decode costs up to 4 AES blocks.
std::uint16_t owner_worker(ByteSpan udp_payload, const ConnectionIdGenerator& gen,
                           std::uint16_t workers, const SteeringKey& key, std::uint16_t self);

// The UDP payload of a received frame as far as it lies in the first segment
// (payload_offset / payload_len from parse_udp_frame). The DCID is at most
// 26 bytes in, so in practice it always does; a long header whose SCID runs
// past the first segment parses as truncated and stays on `self`.
ByteSpan first_segment_payload(const rte_mbuf* m, std::uint32_t payload_offset,
                               std::uint32_t payload_len);

// --- NIC flow rules --------------------------------------------------------

// Where the worker id sits in the CIDs we issue, for a rule that matches it in
// the clear: short header = first byte || DCID, so worker byte i of the DCID
// is UDP payload byte 1 + worker_offset + i.
struct FlowSteeringSpec {
  std::uint16_t udp_port = 443;       // our UDP port (destination)
  std::uint16_t workers = 1;          // rules for workers 0..workers-1
  std::uint16_t first_queue = 0;      // worker w -> RX queue first_queue + w
  std::uint8_t cid_length = 8;        // the short-header DCID length
  std::uint8_t worker_offset = 0;     // first worker byte within the DCID
  std::uint8_t worker_id_length = 1;  // 1 or 2 bytes, big-endian
  bool ipv4 = true;                   // one rule per family per worker
  bool ipv6 = true;
};

// The spec for CIDs from these generators: random CIDs carry the worker at
// byte 0 (1 when the unroutable first octet is used), plaintext QUIC-LB CIDs
// at 1 + host id length. Encrypted QUIC-LB CIDs hide it: nullopt, and *why
// says so (steer with RSS + redirect; worker_of decrypts).
std::optional<FlowSteeringSpec> flow_steering_spec(const RandomCidGeneratorSettings& s,
                                                   std::uint16_t udp_port, std::string* why);
std::optional<FlowSteeringSpec> flow_steering_spec(const QuicLbCidGeneratorSettings& s,
                                                   std::uint16_t udp_port, std::string* why);

// Rules installed on one port; destroyed by remove() or the destructor,
// which must run before the port is closed.
class CidFlowRules {
 public:
  CidFlowRules() = default;
  ~CidFlowRules() { remove(); }
  CidFlowRules(const CidFlowRules&) = delete;
  CidFlowRules& operator=(const CidFlowRules&) = delete;
  CidFlowRules(CidFlowRules&& other) noexcept;
  CidFlowRules& operator=(CidFlowRules&& other) noexcept;

  std::size_t size() const { return flows_.size(); }
  bool empty() const { return flows_.empty(); }
  std::uint16_t port() const { return port_; }
  // Destroys every rule; returns how many the PMD refused to destroy.
  std::size_t remove();

 private:
  friend bool install_cid_flow_rules(std::uint16_t port, const FlowSteeringSpec& spec,
                                     CidFlowRules* rules, std::string* why_not);
  std::uint16_t port_ = 0;
  std::vector<rte_flow*> flows_;
};

// Per worker (and family): ingress ETH / IPVx / UDP dst = udp_port / RAW
// relative to the UDP header: byte 0 with the header-form bit clear (short
// header, RFC 9000 §17.3) and the worker bytes = w -> QUEUE first_queue + w.
// Long headers match no rule and go by RSS. Every rule is checked with
// rte_flow_validate before any is created; on any failure nothing stays
// installed, *rules is left empty and *why_not holds one line (then fall
// back to RSS + RedirectRings). The port must be configured with enough RX
// queues; `rules` must be empty.
[[nodiscard]] bool install_cid_flow_rules(std::uint16_t port, const FlowSteeringSpec& spec,
                                          CidFlowRules* rules, std::string* why_not);

// --- Software redirect -----------------------------------------------------

// Counters of one worker. Each field has one writer (out and ring_full: the
// worker forwarding; in: the worker draining), so relaxed load+store
// increments need no atomic read-modify-write; any thread may read them.
struct alignas(64) RedirectCounters {
  std::atomic<std::uint64_t> redirected_out{0};  // mbufs this worker handed to others
  std::atomic<std::uint64_t> redirected_in{0};   // mbufs this worker drained from its ring
  std::atomic<std::uint64_t> ring_full{0};       // forwards refused: owner's ring full
};

struct RedirectCountersSnapshot {
  std::uint64_t redirected_out = 0;
  std::uint64_t redirected_in = 0;
  std::uint64_t ring_full = 0;
};

// One rte_ring per worker, multi-producer (any worker forwards) and
// single-consumer (its owner drains). Rings and counters are created at
// setup; forward and drain are lock-free and never allocate.
class RedirectRings {
 public:
  RedirectRings() = default;
  ~RedirectRings();
  RedirectRings(const RedirectRings&) = delete;
  RedirectRings& operator=(const RedirectRings&) = delete;

  // `capacity` mbufs per ring (exactly; 1..2^20), rings
  // named "<name_prefix>_<worker>" (unique per process, shorter than
  // RTE_RING_NAMESIZE). False with *why on failure, leaving nothing created.
  [[nodiscard]] bool init(std::uint16_t workers, unsigned capacity, const char* name_prefix,
                          int socket_id, std::string* why);

  std::uint16_t workers() const { return static_cast<std::uint16_t>(rings_.size()); }
  unsigned capacity() const { return capacity_; }

  // Worker `from` hands `m` to `to`'s ring. False if `to`'s ring is full
  // (counted in from's ring_full; the caller frees `m`) or a worker is out
  // of range (not counted).
  [[nodiscard]] bool forward(std::uint16_t from, std::uint16_t to, rte_mbuf* m);
  // As many of `ms` as fit, in order; returns how many were taken. The rest
  // are the caller's (counted in ring_full).
  std::size_t forward_burst(std::uint16_t from, std::uint16_t to, std::span<rte_mbuf* const> ms);
  // Up to out.size() mbufs forwarded to `worker`, oldest first. Only
  // `worker`'s thread may call this.
  std::size_t drain(std::uint16_t worker, std::span<rte_mbuf*> out);
  // Mbufs waiting for `worker` (approximate while producers run).
  unsigned pending(std::uint16_t worker) const;

  RedirectCountersSnapshot counters(std::uint16_t worker) const;

 private:
  void release();

  std::vector<rte_ring*> rings_;
  std::unique_ptr<RedirectCounters[]> counters_;  // one per worker
  unsigned capacity_ = 0;
};

}  // namespace dquic
