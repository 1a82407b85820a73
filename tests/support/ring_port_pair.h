// Two ethdev ports joined back to back by rings (rte_eth_from_rings,
// librte_net_ring): port A's TX queue q feeds port B's RX queue q and back.
// For tests that run workers end to end without a NIC. Not thread-safe to
// build; the ports are started when ok().
#pragma once

#include <rte_mempool.h>
#include <rte_ring.h>

#include <cstdint>
#include <string>
#include <vector>

#include "drivers/eth_port.h"

namespace dquic::test {

class RingPortPair {
 public:
  // `tag` makes the ring and port names unique (with a process-wide
  // serial); received frames come from `rx_pool`.
  RingPortPair(const std::string& tag, std::uint16_t queues, rte_mempool* rx_pool);
  ~RingPortPair();  // ports closed, frames left in the rings freed
  RingPortPair(const RingPortPair&) = delete;
  RingPortPair& operator=(const RingPortPair&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  std::uint16_t a() const { return a_id_; }
  std::uint16_t b() const { return b_id_; }
  rte_ring* to_a(std::uint16_t q) const { return to_a_[q]; }
  rte_ring* to_b(std::uint16_t q) const { return to_b_[q]; }

 private:
  bool start(drivers::EthPort& port, std::uint16_t id, std::uint16_t queues, rte_mempool* pool);

  std::vector<rte_ring*> to_a_, to_b_;
  drivers::EthPort a_, b_;
  std::uint16_t a_id_ = 0, b_id_ = 0;
  bool ok_ = false;
  std::string error_;
};

}  // namespace dquic::test
