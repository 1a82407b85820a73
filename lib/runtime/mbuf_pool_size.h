// How many mbufs one NUMA socket's pool needs, from the queues and workers
// on that socket. Every mbuf a worker can hold at once is counted:
//
//   per queue pair (= per worker):
//     rx_descriptors + tx_descriptors   filled RX ring, TX ring not yet reaped
//   + cache_size * 3 / 2                rte_mempool per-lcore cache (it fills
//                                       to 1.5x its size before flushing)
//   + rx_burst + tx_burst               one burst received, one being sent
//   + sealing                           datagrams built and being sealed
//                                       (async cryptodev ops in flight)
//   + hold                              parked for unresolved next hops
//   + redirect                          the worker's redirect ring (0 alone)
//   + stream_data                       stream data held by connections:
//                                       send buffers copy into this pool,
//                                       receive buffers keep RX mbufs until read
//
// rounded up to 2^q - 1, the size rte_mempool stores best (its ring holds
// 2^q - 1 objects). --mbufs overrides the result.
#pragma once

#include <cstdint>

namespace dquic {

struct MbufPoolSizing {
  std::uint32_t queues = 1;  // workers (RX/TX queue pairs) on this socket
  std::uint32_t rx_descriptors = 1024;
  std::uint32_t tx_descriptors = 1024;
  std::uint32_t cache_size = 256;
  std::uint32_t rx_burst = 32;
  std::uint32_t tx_burst = 32;
  std::uint32_t sealing = 64;  // two send chunks (Worker::kSendChunk is 32)
  std::uint32_t hold = 16;     // WorkerConfig::hold_capacity
  std::uint32_t redirect = 0;  // RedirectRings capacity, when more than one worker
  std::uint32_t stream_data = 4096;
};

constexpr std::uint64_t mbuf_pool_size(const MbufPoolSizing& s) {
  const std::uint64_t per_queue = std::uint64_t{s.rx_descriptors} + s.tx_descriptors +
                                  std::uint64_t{s.cache_size} * 3 / 2 + s.rx_burst + s.tx_burst +
                                  s.sealing + s.hold + s.redirect + s.stream_data;
  const std::uint64_t n = per_queue * s.queues;
  std::uint64_t p = 1;
  while (p - 1 < n)
    p <<= 1;
  return p - 1;
}

}  // namespace dquic
