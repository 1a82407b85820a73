#include "runtime/steering.h"

#include <openssl/rand.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_ring.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <utility>

#include "quic/packet_header.h"
#include "quic/siphash.h"

namespace dquic {

std::uint64_t siphash24(const SteeringKey& key, ByteSpan in) {
  return siphash24(key.k0, key.k1, in);
}

bool make_steering_key(SteeringKey* out) {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) return false;
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    k0 |= std::uint64_t{b[i]} << (8 * i);
    k1 |= std::uint64_t{b[8 + i]} << (8 * i);
  }
  out->k0 = k0;
  out->k1 = k1;
  return true;
}

// --- Owner of a datagram -----------------------------------------------------

std::uint16_t owner_worker(ByteSpan udp_payload, const ConnectionIdGenerator& gen,
                           std::uint16_t workers, const SteeringKey& key, std::uint16_t self) {
  if (workers == 0 || self >= workers) return self;
  // RFC 8999 §5: the DCID is readable in every version; a short header's
  // length is the one we issue (RFC 9000 §17.3). Coalesced packets share the
  // first one's DCID (RFC 9000 §12.2), so the first header decides.
  InvariantHeader h;
  if (parse_invariant_header(udp_payload, gen.cid_length(), &h) != PacketDropReason::kNone)
    return self;
  if (const std::optional<std::uint16_t> w = gen.worker_of(h.dcid); w && *w < workers) return *w;
  // A client-chosen DCID (RFC 9000 §7.2) or one that is not ours: the same
  // DCID always hashes to the same worker, whoever computes it.
  return static_cast<std::uint16_t>(siphash24(key, h.dcid) % workers);
}

ByteSpan first_segment_payload(const rte_mbuf* m, std::uint32_t payload_offset,
                               std::uint32_t payload_len) {
  if (payload_offset >= m->data_len) return {};
  const std::uint32_t in_first = m->data_len - payload_offset;
  const std::uint32_t n = in_first < payload_len ? in_first : payload_len;
  return {rte_pktmbuf_mtod_offset(m, const std::uint8_t*, payload_offset), n};
}

// --- NIC flow rules ----------------------------------------------------------

namespace {

void set_why(std::string* why, const std::string& s) {
  if (why != nullptr) *why = s;
}

std::string flow_error_text(int rc, const rte_flow_error& e) {
  std::string s = rte_strerror(rc < 0 ? -rc : rc);
  if (e.message != nullptr && s != e.message) s += std::string(" (") + e.message + ")";
  return s;
}

// Short header: first byte, then the DCID (RFC 9000 §17.3).
constexpr std::size_t kShortHeaderDcidOffset = 1;
constexpr std::uint8_t kHeaderFormBit = 0x80;
constexpr std::size_t kMaxRawPattern = kShortHeaderDcidOffset + kMaxConnectionIdLength;

// Everything one rule points at: rte_flow reads the specs during the call only.
struct RuleStorage {
  rte_flow_attr attr{};
  rte_flow_item_udp udp_spec{};
  rte_flow_item_udp udp_mask{};
  rte_flow_item_raw raw_spec{};
  rte_flow_item_raw raw_mask{};
  std::array<std::uint8_t, kMaxRawPattern> bytes{};
  std::array<std::uint8_t, kMaxRawPattern> mask_bytes{};
  std::array<rte_flow_item, 5> pattern{};
  rte_flow_action_queue queue{};
  std::array<rte_flow_action, 2> actions{};

  RuleStorage(const FlowSteeringSpec& spec, bool ipv6, std::uint16_t worker) {
    attr.ingress = 1;
    pattern[0].type = RTE_FLOW_ITEM_TYPE_ETH;  // any Ethernet header
    pattern[1].type = ipv6 ? RTE_FLOW_ITEM_TYPE_IPV6 : RTE_FLOW_ITEM_TYPE_IPV4;
    pattern[1].spec = nullptr;  // any address: matching the family is enough
    udp_spec.hdr.dst_port = rte_cpu_to_be_16(spec.udp_port);
    udp_mask.hdr.dst_port = rte_cpu_to_be_16(0xffff);
    pattern[2].type = RTE_FLOW_ITEM_TYPE_UDP;
    pattern[2].spec = &udp_spec;
    pattern[2].mask = &udp_mask;

    // The UDP payload from its first byte to the last worker byte; only the
    // header-form bit and the worker bytes are compared.
    const std::size_t at = kShortHeaderDcidOffset + spec.worker_offset;
    const std::size_t len = at + spec.worker_id_length;
    bytes.fill(0);
    mask_bytes.fill(0);
    mask_bytes[0] = kHeaderFormBit;  // 0: short header
    if (spec.worker_id_length == 2) {
      bytes[at] = static_cast<std::uint8_t>(worker >> 8);
      bytes[at + 1] = static_cast<std::uint8_t>(worker);
      mask_bytes[at] = 0xff;
      mask_bytes[at + 1] = 0xff;
    } else {
      bytes[at] = static_cast<std::uint8_t>(worker);
      mask_bytes[at] = 0xff;
    }
    raw_spec.relative = 1;  // from the end of the UDP header
    raw_spec.search = 0;
    raw_spec.offset = 0;
    raw_spec.limit = 0;
    raw_spec.length = static_cast<std::uint16_t>(len);
    raw_spec.pattern = bytes.data();
    // rte_flow_item_raw_mask (C only) with our per-byte mask.
    raw_mask.relative = 1;
    raw_mask.search = 1;
    raw_mask.reserved = 0;
    raw_mask.offset = -1;
    raw_mask.limit = 0xffff;
    raw_mask.length = 0xffff;
    raw_mask.pattern = mask_bytes.data();
    pattern[3].type = RTE_FLOW_ITEM_TYPE_RAW;
    pattern[3].spec = &raw_spec;
    pattern[3].mask = &raw_mask;
    pattern[4].type = RTE_FLOW_ITEM_TYPE_END;

    queue.index = static_cast<std::uint16_t>(spec.first_queue + worker);
    actions[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
    actions[0].conf = &queue;
    actions[1].type = RTE_FLOW_ACTION_TYPE_END;
  }
  RuleStorage(const RuleStorage&) = delete;
  RuleStorage& operator=(const RuleStorage&) = delete;
};

bool check_spec(std::uint16_t port, const FlowSteeringSpec& spec, std::string* why) {
  if (!rte_eth_dev_is_valid_port(port)) {
    set_why(why, "port " + std::to_string(port) + ": no such port");
    return false;
  }
  if (spec.workers == 0) {
    set_why(why, "no workers");
    return false;
  }
  if (spec.worker_id_length != 1 && spec.worker_id_length != 2) {
    set_why(why, "worker id length must be 1 or 2 bytes");
    return false;
  }
  if (spec.worker_id_length == 1 && spec.workers > 256) {
    set_why(why, std::to_string(spec.workers) + " workers do not fit a 1-byte worker id");
    return false;
  }
  if (spec.cid_length > kMaxConnectionIdLength ||
      std::size_t{spec.worker_offset} + spec.worker_id_length > spec.cid_length) {
    set_why(why, "worker bytes " + std::to_string(spec.worker_offset) + "+" +
                     std::to_string(spec.worker_id_length) + " outside a " +
                     std::to_string(spec.cid_length) + "-byte CID");
    return false;
  }
  if (!spec.ipv4 && !spec.ipv6) {
    set_why(why, "neither IPv4 nor IPv6 selected");
    return false;
  }
  rte_eth_dev_info di{};
  const int rc = rte_eth_dev_info_get(port, &di);
  if (rc != 0) {
    set_why(why,
            "port " + std::to_string(port) + ": rte_eth_dev_info_get failed: " + rte_strerror(-rc));
    return false;
  }
  if (std::uint32_t{spec.first_queue} + spec.workers > di.nb_rx_queues) {
    set_why(why, "port " + std::to_string(port) + ": queues " + std::to_string(spec.first_queue) +
                     ".." + std::to_string(spec.first_queue + spec.workers - 1) + " but " +
                     std::to_string(di.nb_rx_queues) + " rx queues configured");
    return false;
  }
  return true;
}

}  // namespace

std::optional<FlowSteeringSpec> flow_steering_spec(const RandomCidGeneratorSettings& s,
                                                   std::uint16_t udp_port, std::string* why) {
  FlowSteeringSpec f;
  f.udp_port = udp_port;
  f.workers = s.worker_count;
  f.cid_length = s.cid_length;
  f.worker_offset = s.quic_lb_unroutable ? 1 : 0;  // after the unroutable first octet
  f.worker_id_length = s.worker_id_length;
  (void)why;
  return f;
}

std::optional<FlowSteeringSpec> flow_steering_spec(const QuicLbCidGeneratorSettings& s,
                                                   std::uint16_t udp_port, std::string* why) {
  if (s.key) {
    set_why(why, "encrypted QUIC-LB CIDs: the worker id is not in the clear");
    return std::nullopt;
  }
  // draft-ietf-quic-load-balancers-21 §5.2: first octet || server ID ||
  // nonce, and our server ID is host id || worker.
  FlowSteeringSpec f;
  f.udp_port = udp_port;
  f.workers = s.worker_count;
  f.cid_length = static_cast<std::uint8_t>(1 + s.host_id.length + s.worker_id_length +
                                           std::size_t{s.nonce_length});
  f.worker_offset = static_cast<std::uint8_t>(1 + s.host_id.length);
  f.worker_id_length = s.worker_id_length;
  return f;
}

CidFlowRules::CidFlowRules(CidFlowRules&& other) noexcept
    : port_(other.port_), flows_(std::exchange(other.flows_, {})) {}

CidFlowRules& CidFlowRules::operator=(CidFlowRules&& other) noexcept {
  if (this != &other) {
    remove();
    port_ = other.port_;
    flows_ = std::exchange(other.flows_, {});
  }
  return *this;
}

std::size_t CidFlowRules::remove() {
  std::size_t failed = 0;
  // Newest first, the reverse of creation.
  for (auto it = flows_.rbegin(); it != flows_.rend(); ++it) {
    rte_flow_error e{};
    if (rte_flow_destroy(port_, *it, &e) != 0) ++failed;
  }
  flows_.clear();
  return failed;
}

bool install_cid_flow_rules(std::uint16_t port, const FlowSteeringSpec& spec, CidFlowRules* rules,
                            std::string* why_not) {
  if (rules == nullptr || !rules->empty()) {
    set_why(why_not, "rules already installed in this CidFlowRules");
    return false;
  }
  if (!check_spec(port, spec, why_not)) return false;

  const bool families[2] = {spec.ipv4, spec.ipv6};
  // Validate every rule before creating any, so that a device refusing the
  // pattern leaves nothing behind.
  for (int v6 = 0; v6 < 2; ++v6) {
    if (!families[v6]) continue;
    for (std::uint16_t w = 0; w < spec.workers; ++w) {
      const RuleStorage r(spec, v6 != 0, w);
      rte_flow_error e{};
      const int rc = rte_flow_validate(port, &r.attr, r.pattern.data(), r.actions.data(), &e);
      if (rc != 0) {
        set_why(why_not, "port " + std::to_string(port) + ": rte_flow_validate (" +
                             (v6 != 0 ? "ipv6" : "ipv4") + ", worker " + std::to_string(w) +
                             "): " + flow_error_text(rc, e));
        return false;
      }
    }
  }
  CidFlowRules created;
  created.port_ = port;
  created.flows_.reserve(std::size_t{spec.workers} * 2);
  for (int v6 = 0; v6 < 2; ++v6) {
    if (!families[v6]) continue;
    for (std::uint16_t w = 0; w < spec.workers; ++w) {
      const RuleStorage r(spec, v6 != 0, w);
      rte_flow_error e{};
      rte_flow* f = rte_flow_create(port, &r.attr, r.pattern.data(), r.actions.data(), &e);
      if (f == nullptr) {
        // Validation passed but the device ran out of room: undo (the
        // destructor of `created` destroys what was made).
        set_why(why_not, "port " + std::to_string(port) + ": rte_flow_create (" +
                             (v6 != 0 ? "ipv6" : "ipv4") + ", worker " + std::to_string(w) +
                             "): " + flow_error_text(-rte_errno, e));
        return false;
      }
      created.flows_.push_back(f);
    }
  }
  *rules = std::move(created);
  return true;
}

// --- Software redirect -------------------------------------------------------

namespace {

// Single-writer counter: no read-modify-write needed (see RedirectCounters).
void bump(std::atomic<std::uint64_t>& c, std::uint64_t n) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

constexpr unsigned kMaxRingCapacity = 1u << 20;  // bounded: 8 MiB of pointers per ring

}  // namespace

RedirectRings::~RedirectRings() {
  release();
}

void RedirectRings::release() {
  for (rte_ring* r : rings_) {
    // Mbufs nobody drained are ours to free.
    void* m = nullptr;
    while (rte_ring_sc_dequeue(r, &m) == 0)
      rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
    rte_ring_free(r);
  }
  rings_.clear();
  counters_.reset();
  capacity_ = 0;
}

bool RedirectRings::init(std::uint16_t workers, unsigned capacity, const char* name_prefix,
                         int socket_id, std::string* why) {
  if (!rings_.empty()) {
    set_why(why, "redirect rings already created");
    return false;
  }
  if (workers == 0) {
    set_why(why, "no workers");
    return false;
  }
  if (capacity == 0 || capacity > kMaxRingCapacity) {
    set_why(why, "ring capacity " + std::to_string(capacity) + " outside 1.." +
                     std::to_string(kMaxRingCapacity));
    return false;
  }
  rings_.reserve(workers);
  for (std::uint16_t w = 0; w < workers; ++w) {
    char name[RTE_RING_NAMESIZE];
    const int n = std::snprintf(name, sizeof(name), "%s_%u", name_prefix, w);
    if (n < 0 || static_cast<std::size_t>(n) >= sizeof(name)) {
      release();
      set_why(why, std::string("ring name prefix '") + name_prefix + "' too long");
      return false;
    }
    // Any worker forwards (MP), only the owner drains (SC); EXACT_SZ so the
    // bound is the configured one, not the next power of two.
    rte_ring* r = rte_ring_create(name, capacity, socket_id, RING_F_SC_DEQ | RING_F_EXACT_SZ);
    if (r == nullptr) {
      const int err = rte_errno;
      release();
      set_why(why, std::string("rte_ring_create ") + name + ": " + rte_strerror(err));
      return false;
    }
    rings_.push_back(r);
  }
  counters_ = std::make_unique<RedirectCounters[]>(workers);
  capacity_ = capacity;
  return true;
}

bool RedirectRings::forward(std::uint16_t from, std::uint16_t to, rte_mbuf* m) {
  if (from >= rings_.size() || to >= rings_.size()) return false;
  if (rte_ring_mp_enqueue(rings_[to], m) != 0) {
    bump(counters_[from].ring_full, 1);
    return false;
  }
  bump(counters_[from].redirected_out, 1);
  return true;
}

std::size_t RedirectRings::forward_burst(std::uint16_t from, std::uint16_t to,
                                         std::span<rte_mbuf* const> ms) {
  if (from >= rings_.size() || to >= rings_.size() || ms.empty()) return 0;
  const unsigned n =
      rte_ring_mp_enqueue_burst(rings_[to], reinterpret_cast<void* const*>(ms.data()),
                                static_cast<unsigned>(ms.size()), nullptr);
  bump(counters_[from].redirected_out, n);
  if (n < ms.size()) bump(counters_[from].ring_full, ms.size() - n);
  return n;
}

std::size_t RedirectRings::drain(std::uint16_t worker, std::span<rte_mbuf*> out) {
  if (worker >= rings_.size() || out.empty()) return 0;
  const unsigned n = rte_ring_sc_dequeue_burst(rings_[worker], reinterpret_cast<void**>(out.data()),
                                               static_cast<unsigned>(out.size()), nullptr);
  bump(counters_[worker].redirected_in, n);
  return n;
}

unsigned RedirectRings::pending(std::uint16_t worker) const {
  if (worker >= rings_.size()) return 0;
  return rte_ring_count(rings_[worker]);
}

RedirectCountersSnapshot RedirectRings::counters(std::uint16_t worker) const {
  RedirectCountersSnapshot s;
  if (worker >= rings_.size()) return s;
  const RedirectCounters& c = counters_[worker];
  s.redirected_out = c.redirected_out.load(std::memory_order_relaxed);
  s.redirected_in = c.redirected_in.load(std::memory_order_relaxed);
  s.ring_full = c.ring_full.load(std::memory_order_relaxed);
  return s;
}

}  // namespace dquic
