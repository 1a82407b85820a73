// Per-space state of a connection, shared by its .cc files.
#pragma once

#include <cstdint>
#include <vector>

#include "quic/ack_tracker.h"
#include "quic/connection.h"
#include "quic/packet_number.h"
#include "quic/range_set.h"
#include "quic/stream_id.h"

namespace dquic {

// Below this much amplification credit (RFC 9000 §8.1) a server sends
// nothing: no useful packet is smaller.
inline constexpr std::uint64_t kMinAmplificationRoom = 64;

// RFC 9000 §18.2: a new stream's send credit from the peer's limits, seen
// from the peer's side.
inline std::uint64_t initial_send_limit(const TransportParameters& peer, std::uint64_t id,
                                        EndpointRole self) {
  if (!is_bidirectional(id)) return peer.initial_max_stream_data_uni;
  return is_local(id, self) ? peer.initial_max_stream_data_bidi_remote
                            : peer.initial_max_stream_data_bidi_local;
}

// The CRYPTO stream of one encryption level (RFC 9000 §19.6): bytes TLS
// produced (owned: TLS output is short-lived) and bytes received, reassembled.
// The range sets grow on demand: most levels see a few ranges, and a
// discarded level's fresh CryptoSpace then holds nothing (quic-perf issue 8).
struct Connection::CryptoSpace {
  std::vector<std::uint8_t> send_data;  // every byte produced at this level
  RangeSet acked{16, RangeSet::Storage::kOnDemand};
  RangeSet lost{16, RangeSet::Storage::kOnDemand};
  std::uint64_t sent_up_to = 0;
  // Received: out-of-order CRYPTO data is held up to the TLS bound.
  std::uint64_t recv_offset = 0;
  std::vector<std::uint8_t> recv_data;  // bytes [recv_offset, recv_offset + size) slots
  RangeSet received{32, RangeSet::Storage::kOnDemand};
};

struct Connection::Space {
  explicit Space(const AckTracker::Config& c) : acks(c) {}
  AckTracker acks;
  CryptoSpace crypto;
  ProtectionKey* read_key = nullptr;
  ProtectionKey* write_key = nullptr;
  std::uint64_t next_pn = 0;
  bool discarded = false;
  std::uint64_t largest_acked = kNoPacketNumber;
  int probes_pending = 0;  // PTO probes to send (RFC 9002 §6.2.4)
};

}  // namespace dquic
