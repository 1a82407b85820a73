// One network path of a connection (RFC 9000 §8.2, §9): its addresses,
// whether the peer proved it receives there, the anti-amplification credit
// until it did, the peer connection ID reserved for it, and our path
// validation in progress.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "quic/frame.h"
#include "quic/peer_address.h"
#include "quic/timestamp.h"

namespace dquic {

struct ConnectionPath {
  // RFC 9000 §8.2.1: several challenges may be in flight; an answer to any
  // of the latest kChallenges validates the path.
  static constexpr std::size_t kChallenges = 3;

  NetworkPath address;
  bool in_use = false;
  // RFC 9000 §8.1, §8.2.3: the peer proved it receives what we send here.
  bool validated = false;
  // RFC 9000 §8.1, §9.3.1: bytes received and sent here, counted until
  // the path is validated (only servers are limited).
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  // RFC 9000 §9.5: the peer's CID reserved for this path while it is not
  // the active one (the active path sends to PeerCidSet::active()).
  std::optional<std::uint64_t> peer_cid_sequence;

  // Our path validation (§8.2.1, §8.2.4).
  bool validating = false;
  bool challenge_due = false;  // a PATH_CHALLENGE goes in the next packet here
  std::array<PathData, kChallenges> challenges{};
  std::array<bool, kChallenges> challenge_expanded{};  // sent in >= 1200 bytes
  bool mtu_validated = false;          // §8.2.1: an expanded challenge was answered
  std::uint32_t challenge_count = 0;   // sent in this validation
  Time next_challenge = kNever;        // when the next one becomes due
  Time deadline = kNever;              // validation abandoned then
  bool migrate_on_validation = false;  // client: switch to it once validated
  // RFC 9000 §8.2.2: the answer owed to the peer's latest PATH_CHALLENGE here.
  std::optional<PathData> response_due;

  std::uint64_t amplification_room(bool limited) const {
    if (!limited || validated) return UINT64_MAX;
    const std::uint64_t allowed = 3 * received;  // RFC 9000 §8.1
    return allowed > sent ? allowed - sent : 0;
  }
  // The slot of the challenge `d` answers, or kChallenges.
  std::size_t answered_challenge(const PathData& d) const {
    const std::size_t n = challenge_count < kChallenges ? challenge_count : kChallenges;
    for (std::size_t i = 0; i < n; ++i)
      if (challenges[i] == d) return i;
    return kChallenges;
  }
  bool wants_to_send() const { return challenge_due || response_due.has_value(); }
};

}  // namespace dquic
