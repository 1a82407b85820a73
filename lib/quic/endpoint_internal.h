// The Endpoint's private types, shared by endpoint.cc and
// endpoint_stateless.cc only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "quic/endpoint.h"

namespace dquic {

// One connection and every CID routed to it. It is the connection's
// LocalCidListener, so the CIDs the connection issues route to it too.
struct Endpoint::Entry final : LocalCidListener {
  void on_local_cid_issued(const ConnectionId& cid, std::uint64_t /*sequence*/) override {
    (void)endpoint->add_route(cid, this);  // a collision is counted; the CID stays unrouted
  }
  void on_local_cid_retired(const ConnectionId& cid, std::uint64_t /*sequence*/) override {
    endpoint->remove_route(cid, this);
  }

  Endpoint* endpoint = nullptr;
  std::unique_ptr<Connection> conn;
  PeerAddress peer;
  std::vector<ConnectionId> routes;  // to remove with the connection
  std::size_t index = 0;             // in entries_
  bool client = false;
  bool half_open = false;  // server, counted in half_open_
};

// A 0-RTT datagram waiting for its Initial (RFC 9000 §5.2.2); its bytes are
// the slot's zero_rtt_max_size bytes of zero_rtt_bytes_.
struct Endpoint::ZeroRttSlot {
  bool used = false;
  Entry* owner = nullptr;  // set once the Initial created the connection
  ConnectionId dcid;
  PeerAddress from;
  Time arrived = 0;
  std::uint64_t sequence = 0;  // arrival order
  std::size_t length = 0;
};

// The generator handed to connections and used for Retry SCIDs: it skips
// CIDs already routed, which random CIDs (and client-chosen Initial DCIDs
// of the same length) can collide with.
class Endpoint::CheckedGenerator final : public ConnectionIdGenerator {
 public:
  CheckedGenerator(Endpoint& endpoint, ConnectionIdGenerator& inner)
      : endpoint_(endpoint), inner_(inner) {}

  [[nodiscard]] bool generate(std::uint16_t worker, ConnectionId* out) override {
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      if (!inner_.generate(worker, out)) return false;
      if (!endpoint_.routes_.contains(*out)) return true;
      ++endpoint_.counters_.cid_collisions;
    }
    return false;
  }
  std::optional<std::uint16_t> worker_of(ByteSpan dcid) const override {
    return inner_.worker_of(dcid);
  }
  std::size_t cid_length() const override { return inner_.cid_length(); }

 private:
  static constexpr int kAttempts = 4;
  Endpoint& endpoint_;
  ConnectionIdGenerator& inner_;
};

}  // namespace dquic
