#include "tests/support/ring_port_pair.h"

#include <rte_eth_ring.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

namespace dquic::test {

RingPortPair::RingPortPair(const std::string& tag, std::uint16_t queues, rte_mempool* rx_pool) {
  static int serial = 0;
  const std::string id = tag + std::to_string(serial++);
  for (std::uint16_t q = 0; q < queues; ++q) {
    to_a_.push_back(rte_ring_create(("wa" + id + "_" + std::to_string(q)).c_str(), 4096,
                                    static_cast<int>(rte_socket_id()), 0));
    to_b_.push_back(rte_ring_create(("wb" + id + "_" + std::to_string(q)).c_str(), 4096,
                                    static_cast<int>(rte_socket_id()), 0));
    if (to_a_.back() == nullptr || to_b_.back() == nullptr) return;
  }
  const int a = rte_eth_from_rings(("net_ring_a" + id).c_str(), to_a_.data(), queues, to_b_.data(),
                                   queues, rte_socket_id());
  const int b = rte_eth_from_rings(("net_ring_b" + id).c_str(), to_b_.data(), queues, to_a_.data(),
                                   queues, rte_socket_id());
  if (a < 0 || b < 0) return;
  a_id_ = static_cast<std::uint16_t>(a);
  b_id_ = static_cast<std::uint16_t>(b);
  ok_ = start(a_, a_id_, queues, rx_pool) && start(b_, b_id_, queues, rx_pool);
}

RingPortPair::~RingPortPair() {
  a_.close();
  b_.close();
  for (auto* rings : {&to_a_, &to_b_})
    for (rte_ring* r : *rings) {
      if (r == nullptr) continue;
      void* m = nullptr;
      while (rte_ring_dequeue(r, &m) == 0)
        rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
      rte_ring_free(r);
    }
}

bool RingPortPair::start(drivers::EthPort& port, std::uint16_t id, std::uint16_t queues,
                         rte_mempool* pool) {
  drivers::EthPortConfig cfg;
  cfg.port_id = id;
  cfg.queues = queues;
  cfg.rx_descriptors = 512;
  cfg.tx_descriptors = 512;
  cfg.rx_pools.assign(queues, pool);
  return port.start(cfg, &error_);
}

}  // namespace dquic::test
