// Neighbour cache: IPv4 → MAC (ARP, RFC 826) and IPv6 → MAC (Neighbor
// Discovery, RFC 4861 §7.3), sans-IO: `now` (ns) comes from the caller, and
// the caller sends the solicitations this table asks for.
//
// States, a simplified RFC 4861 §7.3.2 machine (DELAY and PROBE folded into
// probing a STALE entry):
//   kIncomplete  resolution in progress, no MAC; solicited (broadcast ARP /
//                multicast NS) every retrans_interval up to max_solicitations
//                times, then kFailed.
//   kReachable   MAC confirmed less than reachable_time ago.
//   kStale       MAC known but unconfirmed (expired, or learned unasked). Still
//                used for sending (§7.3.3); the first use asks for a unicast
//                probe, repeated every retrans_interval up to max_probes;
//                without an answer the entry restarts as kIncomplete.
//   kFailed      resolution failed; resolve() answers kUnreachable until
//                failed_hold has passed, then the entry is removed.
//
// Fixed capacity, allocated once in the constructor (entries plus an
// open-addressing index); lookups, updates and evictions never allocate.
// When full, a new entry evicts the least recently used one, preferring
// kFailed, then kStale, then kIncomplete, then kReachable entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "runtime/ethernet.h"
#include "runtime/udp_frame.h"

namespace dquic {

enum class NeighborState : std::uint8_t { kIncomplete, kReachable, kStale, kFailed };

const char* to_string(NeighborState state);

struct NeighborConfig {
  std::uint32_t capacity = 256;
  // RFC 4861 §10 protocol constants as defaults.
  std::uint64_t reachable_time_ns = 30'000'000'000;   // REACHABLE_TIME
  std::uint64_t retrans_interval_ns = 1'000'000'000;  // RETRANS_TIMER
  std::uint8_t max_solicitations = 3;                 // MAX_MULTICAST_SOLICIT
  std::uint8_t max_probes = 3;                        // MAX_UNICAST_SOLICIT
  // How long a failed resolution is remembered, so that traffic to a dead
  // neighbour does not solicit on every packet.
  std::uint64_t failed_hold_ns = 3'000'000'000;
};

struct NeighborEntry {
  IpAddress ip;
  MacAddress mac{};  // valid unless kIncomplete / kFailed
  NeighborState state = NeighborState::kIncomplete;
  std::uint8_t solicitations = 0;    // sent in the current round (resolution or probing)
  std::uint64_t state_since_ns = 0;  // last confirmation (kReachable) or failure time
  std::uint64_t last_solicit_ns = 0;
  std::uint64_t last_used_ns = 0;  // for LRU eviction
};

// What the sender should do with a packet for a next hop.
enum class NeighborAction : std::uint8_t {
  kSend,          // *mac is valid
  kSendAndProbe,  // *mac is valid; also send a unicast solicitation to *mac
  kSolicit,       // no MAC: send a broadcast ARP / multicast NS now; hold or drop the packet
  kWait,          // no MAC: a solicitation is outstanding
  kUnreachable,   // resolution failed recently
};

const char* to_string(NeighborAction action);

// How a received ARP/ND message may change the cache (RFC 4861 §7.2.3,
// §7.2.5; RFC 826 "merge").
struct NeighborUpdate {
  bool solicited = false;  // answers our solicitation: confirms reachability
  bool override = true;    // may replace a different cached MAC
  bool create = false;     // create the entry when absent
};

enum class NeighborUpdateResult : std::uint8_t {
  kNoEntry,  // absent and not to be created
  kCreated,
  kUpdated,    // state or MAC changed, or reachability confirmed
  kUnchanged,  // same MAC, nothing to confirm
  kRejected,   // different MAC without override, or no MAC for an unresolved entry
};

// Timer work reported by poll().
enum class NeighborEventKind : std::uint8_t {
  kSolicit,  // send a broadcast ARP request / multicast NS for `ip`
  kProbe,    // send a unicast ARP request / NS for `ip` to `mac`
  kFailed,   // resolution of `ip` failed: drop what waits for it
};

struct NeighborEvent {
  NeighborEventKind kind = NeighborEventKind::kSolicit;
  IpAddress ip;
  MacAddress mac{};
};

struct NeighborStats {
  std::uint64_t evictions = 0;
  std::uint64_t failures = 0;
};

class NeighborTable {
 public:
  explicit NeighborTable(const NeighborConfig& config = {});

  NeighborTable(const NeighborTable&) = delete;
  NeighborTable& operator=(const NeighborTable&) = delete;

  // Looks up the next hop for sending; creates an kIncomplete entry when
  // absent. Sets *mac for kSend / kSendAndProbe (also for kSendAndProbe the
  // probe's destination). Retries due at `now` are counted as sent.
  NeighborAction resolve(const IpAddress& ip, std::uint64_t now, MacAddress* mac);

  // Applies a received ARP / ND message. `mac` is null when the message
  // carried no link-layer address (an NA without the target option).
  NeighborUpdateResult update(const IpAddress& ip, const MacAddress* mac, const NeighborUpdate& how,
                              std::uint64_t now);

  // Advances the timers: expiry of reachable entries, retransmissions,
  // failures and removal of old failures. Writes up to out.size() events and
  // returns how many; work that does not fit stays due for the next call.
  std::size_t poll(std::uint64_t now, std::span<NeighborEvent> out);

  const NeighborEntry* find(const IpAddress& ip) const;
  // The state `ip` has at `now` (kReachable reads as kStale once expired).
  std::optional<NeighborState> state_at(const IpAddress& ip, std::uint64_t now) const;
  bool remove(const IpAddress& ip);

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return entries_.size(); }
  const NeighborConfig& config() const { return config_; }
  const NeighborStats& stats() const { return stats_; }

 private:
  static constexpr std::uint32_t kEmpty = 0xffffffffu;

  enum class Timer : std::uint8_t { kNone, kSolicit, kProbe, kFailed, kRemoved };

  std::uint32_t home_slot(const IpAddress& ip) const;
  std::uint32_t find_index(const IpAddress& ip) const;  // entry index or kEmpty
  std::uint32_t insert(const IpAddress& ip, std::uint64_t now);
  void erase(std::uint32_t index);
  std::uint32_t pick_victim(std::uint64_t now) const;
  NeighborState effective_state(const NeighborEntry& e, std::uint64_t now) const;
  Timer advance(std::uint32_t index, std::uint64_t now);

  NeighborConfig config_;
  std::vector<NeighborEntry> entries_;
  std::vector<std::uint8_t> used_;
  std::vector<std::uint32_t> free_;   // stack of unused entry indexes
  std::vector<std::uint32_t> slots_;  // open addressing, power-of-two size
  std::uint32_t slot_mask_ = 0;
  std::size_t size_ = 0;
  NeighborStats stats_;
};

}  // namespace dquic
