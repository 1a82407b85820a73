#include "runtime/neighbor_table.h"

namespace dquic {
namespace {

std::size_t address_len(const IpAddress& ip) {
  return ip.family == IpFamily::kIpv6 ? 16 : 4;
}

// Eviction preference: lower ranks go first.
int eviction_rank(NeighborState s) {
  switch (s) {
    case NeighborState::kFailed:
      return 0;
    case NeighborState::kStale:
      return 1;
    case NeighborState::kIncomplete:
      return 2;
    case NeighborState::kReachable:
      return 3;
  }
  return 0;
}

// Time since `since`; zero if the caller's clock is behind it.
std::uint64_t elapsed(std::uint64_t now, std::uint64_t since) {
  return now > since ? now - since : 0;
}

}  // namespace

const char* to_string(NeighborState state) {
  switch (state) {
    case NeighborState::kIncomplete:
      return "incomplete";
    case NeighborState::kReachable:
      return "reachable";
    case NeighborState::kStale:
      return "stale";
    case NeighborState::kFailed:
      return "failed";
  }
  return "unknown";
}

const char* to_string(NeighborAction action) {
  switch (action) {
    case NeighborAction::kSend:
      return "send";
    case NeighborAction::kSendAndProbe:
      return "send_and_probe";
    case NeighborAction::kSolicit:
      return "solicit";
    case NeighborAction::kWait:
      return "wait";
    case NeighborAction::kUnreachable:
      return "unreachable";
  }
  return "unknown";
}

NeighborTable::NeighborTable(const NeighborConfig& config) : config_(config) {
  const std::uint32_t cap = config_.capacity == 0 ? 1 : config_.capacity;
  config_.capacity = cap;
  entries_.resize(cap);
  used_.assign(cap, 0);
  free_.reserve(cap);
  for (std::uint32_t i = cap; i > 0; --i)
    free_.push_back(i - 1);
  // Load factor at most 1/2 keeps the linear probe chains short.
  std::uint32_t slots = 2;
  while (slots < 2ull * cap)
    slots <<= 1;
  slots_.assign(slots, kEmpty);
  slot_mask_ = slots - 1;
}

std::uint32_t NeighborTable::home_slot(const IpAddress& ip) const {
  // FNV-1a over the family and the address bytes.
  std::uint32_t h = 2166136261u ^ static_cast<std::uint8_t>(ip.family);
  h *= 16777619u;
  for (std::size_t i = 0; i < address_len(ip); ++i) {
    h ^= ip.bytes[i];
    h *= 16777619u;
  }
  h ^= h >> 16;
  return h & slot_mask_;
}

std::uint32_t NeighborTable::find_index(const IpAddress& ip) const {
  for (std::uint32_t pos = home_slot(ip);; pos = (pos + 1) & slot_mask_) {
    const std::uint32_t idx = slots_[pos];
    if (idx == kEmpty) return kEmpty;
    if (entries_[idx].ip == ip) return idx;
  }
}

NeighborState NeighborTable::effective_state(const NeighborEntry& e, std::uint64_t now) const {
  if (e.state == NeighborState::kReachable &&
      elapsed(now, e.state_since_ns) >= config_.reachable_time_ns)
    return NeighborState::kStale;
  return e.state;
}

std::uint32_t NeighborTable::pick_victim(std::uint64_t now) const {
  std::uint32_t victim = kEmpty;
  int victim_rank = 0;
  for (std::uint32_t i = 0; i < entries_.size(); ++i) {
    if (!used_[i]) continue;
    const int rank = eviction_rank(effective_state(entries_[i], now));
    if (victim == kEmpty || rank < victim_rank ||
        (rank == victim_rank && entries_[i].last_used_ns < entries_[victim].last_used_ns)) {
      victim = i;
      victim_rank = rank;
    }
  }
  return victim;
}

std::uint32_t NeighborTable::insert(const IpAddress& ip, std::uint64_t now) {
  if (free_.empty()) {
    erase(pick_victim(now));
    ++stats_.evictions;
  }
  const std::uint32_t idx = free_.back();
  free_.pop_back();
  used_[idx] = 1;
  entries_[idx] = NeighborEntry{};
  entries_[idx].ip = ip;
  entries_[idx].last_used_ns = now;
  std::uint32_t pos = home_slot(ip);
  while (slots_[pos] != kEmpty)
    pos = (pos + 1) & slot_mask_;
  slots_[pos] = idx;
  ++size_;
  return idx;
}

void NeighborTable::erase(std::uint32_t index) {
  std::uint32_t i = home_slot(entries_[index].ip);
  while (slots_[i] != index)
    i = (i + 1) & slot_mask_;
  // Backward-shift deletion keeps every probe chain unbroken without
  // tombstones: move later entries up unless their home lies in (i, j].
  for (std::uint32_t j = (i + 1) & slot_mask_; slots_[j] != kEmpty; j = (j + 1) & slot_mask_) {
    const std::uint32_t k = home_slot(entries_[slots_[j]].ip);
    const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
    if (!stays) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = kEmpty;
  used_[index] = 0;
  free_.push_back(index);  // never beyond the reserved capacity
  --size_;
}

NeighborTable::Timer NeighborTable::advance(std::uint32_t index, std::uint64_t now) {
  NeighborEntry& e = entries_[index];
  const bool retry_due = elapsed(now, e.last_solicit_ns) >= config_.retrans_interval_ns;
  switch (e.state) {
    case NeighborState::kReachable:
      if (effective_state(e, now) == NeighborState::kStale) {
        e.state = NeighborState::kStale;
        e.solicitations = 0;
      }
      return Timer::kNone;
    case NeighborState::kIncomplete:
      if (!retry_due) return Timer::kNone;
      if (e.solicitations < config_.max_solicitations) {
        ++e.solicitations;
        e.last_solicit_ns = now;
        return Timer::kSolicit;
      }
      // RFC 4861 §7.3.3: no answer after MAX_MULTICAST_SOLICIT solicitations.
      e.state = NeighborState::kFailed;
      e.state_since_ns = now;
      ++stats_.failures;
      return Timer::kFailed;
    case NeighborState::kStale:
      if (e.solicitations == 0 || !retry_due) return Timer::kNone;
      if (e.solicitations < config_.max_probes) {
        ++e.solicitations;
        e.last_solicit_ns = now;
        return Timer::kProbe;
      }
      // Unicast probes unanswered: forget the address and resolve afresh
      // (RFC 4861 §7.3.3 deletes the entry; the next send re-creates it).
      e.state = NeighborState::kIncomplete;
      e.solicitations = 1;
      e.last_solicit_ns = now;
      return Timer::kSolicit;
    case NeighborState::kFailed:
      if (elapsed(now, e.state_since_ns) < config_.failed_hold_ns) return Timer::kNone;
      erase(index);
      return Timer::kRemoved;
  }
  return Timer::kNone;
}

NeighborAction NeighborTable::resolve(const IpAddress& ip, std::uint64_t now, MacAddress* mac) {
  std::uint32_t idx = find_index(ip);
  Timer timer = Timer::kNone;
  if (idx != kEmpty) {
    timer = advance(idx, now);
    if (timer == Timer::kRemoved) idx = kEmpty;
  }
  if (idx == kEmpty) {
    idx = insert(ip, now);
    NeighborEntry& e = entries_[idx];
    e.state = NeighborState::kIncomplete;
    e.solicitations = 1;
    e.last_solicit_ns = now;
    return NeighborAction::kSolicit;
  }
  NeighborEntry& e = entries_[idx];
  e.last_used_ns = now;
  switch (e.state) {
    case NeighborState::kReachable:
      *mac = e.mac;
      return NeighborAction::kSend;
    case NeighborState::kStale:
      *mac = e.mac;
      if (timer == Timer::kProbe) return NeighborAction::kSendAndProbe;
      if (e.solicitations == 0) {
        // First use since the entry went stale starts probing.
        e.solicitations = 1;
        e.last_solicit_ns = now;
        return NeighborAction::kSendAndProbe;
      }
      return NeighborAction::kSend;
    case NeighborState::kIncomplete:
      return timer == Timer::kSolicit ? NeighborAction::kSolicit : NeighborAction::kWait;
    case NeighborState::kFailed:
      return NeighborAction::kUnreachable;
  }
  return NeighborAction::kUnreachable;
}

NeighborUpdateResult NeighborTable::update(const IpAddress& ip, const MacAddress* mac,
                                           const NeighborUpdate& how, std::uint64_t now) {
  std::uint32_t idx = find_index(ip);
  if (idx == kEmpty) {
    if (!how.create) return NeighborUpdateResult::kNoEntry;
    if (mac == nullptr) return NeighborUpdateResult::kRejected;
    idx = insert(ip, now);
    NeighborEntry& e = entries_[idx];
    e.mac = *mac;
    e.state = how.solicited ? NeighborState::kReachable : NeighborState::kStale;
    e.state_since_ns = now;
    return NeighborUpdateResult::kCreated;
  }
  NeighborEntry& e = entries_[idx];
  if (effective_state(e, now) != e.state) {
    e.state = NeighborState::kStale;
    e.solicitations = 0;
  }
  if (e.state == NeighborState::kIncomplete || e.state == NeighborState::kFailed) {
    // RFC 4861 §7.2.5: an unresolved entry needs the link-layer address.
    if (mac == nullptr) return NeighborUpdateResult::kRejected;
    e.mac = *mac;
    e.state = how.solicited ? NeighborState::kReachable : NeighborState::kStale;
    e.state_since_ns = now;
    e.solicitations = 0;
    return NeighborUpdateResult::kUpdated;
  }
  const bool changed = mac != nullptr && *mac != e.mac;
  if (changed && !how.override) {
    // §7.2.5 (a)/(b): a REACHABLE entry only becomes STALE; otherwise ignore.
    if (e.state == NeighborState::kReachable) {
      e.state = NeighborState::kStale;
      e.solicitations = 0;
    }
    return NeighborUpdateResult::kRejected;
  }
  if (changed) e.mac = *mac;
  if (how.solicited) {
    e.state = NeighborState::kReachable;
    e.state_since_ns = now;
    e.solicitations = 0;
    return NeighborUpdateResult::kUpdated;
  }
  if (changed) {
    e.state = NeighborState::kStale;
    e.solicitations = 0;
    return NeighborUpdateResult::kUpdated;
  }
  return NeighborUpdateResult::kUnchanged;
}

std::size_t NeighborTable::poll(std::uint64_t now, std::span<NeighborEvent> out) {
  std::size_t n = 0;
  for (std::uint32_t i = 0; i < entries_.size() && n < out.size(); ++i) {
    if (!used_[i]) continue;
    const IpAddress ip = entries_[i].ip;
    switch (advance(i, now)) {
      case Timer::kSolicit:
        out[n++] = NeighborEvent{NeighborEventKind::kSolicit, ip, {}};
        break;
      case Timer::kProbe:
        out[n++] = NeighborEvent{NeighborEventKind::kProbe, ip, entries_[i].mac};
        break;
      case Timer::kFailed:
        out[n++] = NeighborEvent{NeighborEventKind::kFailed, ip, {}};
        break;
      case Timer::kNone:
      case Timer::kRemoved:
        break;
    }
  }
  return n;
}

const NeighborEntry* NeighborTable::find(const IpAddress& ip) const {
  const std::uint32_t idx = find_index(ip);
  return idx == kEmpty ? nullptr : &entries_[idx];
}

std::optional<NeighborState> NeighborTable::state_at(const IpAddress& ip, std::uint64_t now) const {
  const NeighborEntry* e = find(ip);
  if (e == nullptr) return std::nullopt;
  return effective_state(*e, now);
}

bool NeighborTable::remove(const IpAddress& ip) {
  const std::uint32_t idx = find_index(ip);
  if (idx == kEmpty) return false;
  erase(idx);
  return true;
}

}  // namespace dquic
