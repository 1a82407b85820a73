// The connection IDs this endpoint issued to the peer for one connection
// (RFC 9000 §5.1.1, §19.15-16): sequence 0 from the handshake, more through
// NEW_CONNECTION_ID, retired by the peer's RETIRE_CONNECTION_ID. Fixed
// storage: at most kMaxIssued active at once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "quic/connection_id.h"
#include "quic/error.h"
#include "quic/transport_params.h"

namespace dquic {

class LocalCidSet {
 public:
  static constexpr std::size_t kMaxIssued = 8;

  struct Entry {
    std::uint64_t sequence = 0;
    ConnectionId cid;
    StatelessResetToken token{};
    bool send_pending = false;  // NEW_CONNECTION_ID to (re)send
    bool acked = false;
  };

  // Sequence 0: the handshake's CID, known to the peer already.
  void reset(const ConnectionId& cid);

  std::size_t active_count() const { return count_; }
  std::uint64_t next_sequence() const { return next_sequence_; }
  bool full() const { return count_ == kMaxIssued; }
  // True if `cid` is one of ours already (a generator may repeat, rarely).
  bool contains(const ConnectionId& cid) const;
  // Adds a CID to announce with NEW_CONNECTION_ID; returns its sequence.
  std::uint64_t issue(const ConnectionId& cid, const StatelessResetToken& token);

  // RFC 9000 §19.16: a sequence number never issued, or the CID the packet
  // carrying the frame was sent to, is a PROTOCOL_VIOLATION. On success
  // *retired is set when an active CID was removed (its value in *cid).
  TransportError on_retire(std::uint64_t sequence, ByteSpan packet_dcid, bool* retired,
                           ConnectionId* cid);

  // NEW_CONNECTION_ID frames to send: the lowest pending one.
  const Entry* next_to_send() const;
  void on_sent(std::uint64_t sequence) { set_pending(sequence, false); }
  void on_lost(std::uint64_t sequence) { set_pending(sequence, true); }  // if still active
  void on_acked(std::uint64_t sequence);

 private:
  void set_pending(std::uint64_t sequence, bool pending);

  std::array<Entry, kMaxIssued> entries_{};
  std::size_t count_ = 0;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace dquic
