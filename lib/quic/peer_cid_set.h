// The connection IDs the peer issued to us (RFC 9000 §5.1): the one we send
// to, the spares NEW_CONNECTION_ID gave us, and the RETIRE_CONNECTION_ID
// frames we owe. Fixed storage: the peer can make us hold no more than the
// active_connection_id_limit we advertise (capped at kMaxActive) plus
// kMaxRetiring retirements in flight.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "quic/connection_id.h"
#include "quic/error.h"
#include "quic/frame.h"
#include "quic/transport_params.h"

namespace dquic {

class PeerCidSet {
 public:
  static constexpr std::size_t kMaxActive = 8;
  // RFC 9000 §5.1.2: room for at least twice the active limit.
  static constexpr std::size_t kMaxRetiring = 2 * kMaxActive;

  // `limit` is the active_connection_id_limit we advertised (2..kMaxActive).
  explicit PeerCidSet(std::uint64_t limit = 2);

  // Sequence number 0: the CID of the handshake (RFC 9000 §5.1.1), with the
  // server's stateless_reset_token transport parameter when it sent one.
  void reset(const ConnectionId& cid, const std::optional<StatelessResetToken>& token);

  // RFC 9000 §19.15 and §5.1.1-5.1.2. Errors: PROTOCOL_VIOLATION for a
  // sequence number or CID reused with other values, CONNECTION_ID_LIMIT_ERROR
  // when more than `limit` would be active or too many retirements pile up.
  TransportError on_new_connection_id(const NewConnectionIdFrame& f);

  // The CID to send to: the lowest active sequence number.
  const ConnectionId& active() const { return entries_[active_].cid; }
  std::uint64_t active_sequence() const { return entries_[active_].sequence; }
  std::size_t active_count() const { return count_; }

  // RFC 9000 §9.5: a CID for a new path, one never sent to yet, now marked
  // used; nullopt when the peer gave no spare.
  std::optional<std::uint64_t> take_unused();
  bool has_unused() const;
  // The CID of `sequence`, or nullptr once it was retired.
  const ConnectionId* find(std::uint64_t sequence) const;
  // The path using `sequence` became the one we send on: active() follows
  // it and the CID used until now is retired (§5.1.2). False if it is gone.
  bool activate(std::uint64_t sequence);
  // A path was given up: its CID (not the active one) is retired.
  void retire(std::uint64_t sequence);

  // RFC 9000 §10.3.1: does the tail of a datagram match the token of an
  // active CID? Constant time per token.
  bool matches_reset_token(ByteSpan token) const;

  // RETIRE_CONNECTION_ID frames owed: one sequence number at a time.
  std::optional<std::uint64_t> retire_to_send() const;
  void on_retire_sent(std::uint64_t sequence) { set_retire_state(sequence, false); }
  void on_retire_lost(std::uint64_t sequence) { set_retire_state(sequence, true); }
  void on_retire_acked(std::uint64_t sequence);
  std::size_t retiring_count() const { return retiring_count_; }

 private:
  struct Entry {
    std::uint64_t sequence = 0;
    ConnectionId cid;
    StatelessResetToken token{};
    bool has_token = false;
    bool used = false;  // sent to on some path
  };
  struct Retiring {
    std::uint64_t sequence = 0;
    bool pending = true;  // not in flight
  };

  bool queue_retire(std::uint64_t sequence);
  void remove(std::size_t i);
  std::size_t index_of(std::uint64_t sequence) const;  // count_ if absent
  void set_retire_state(std::uint64_t sequence, bool pending);

  std::size_t limit_;
  std::array<Entry, kMaxActive> entries_{};
  std::size_t count_ = 0;
  std::size_t active_ = 0;
  std::uint64_t retire_prior_to_ = 0;  // largest Retire Prior To received
  std::array<Retiring, kMaxRetiring> retiring_{};
  std::size_t retiring_count_ = 0;
};

}  // namespace dquic
