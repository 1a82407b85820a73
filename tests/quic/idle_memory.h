// Heap held per idle connection (quic-perf issue 8), shared by the unit test
// (tests/quic/idle_memory_test.cc) and the benchmark
// (tests/bench/idle_connection_bench.cc). Idle: handshake confirmed, Initial
// and Handshake spaces discarded, no stream open (one request/response
// finished if asked), nothing in flight, ACKs exchanged.
//
// Bytes are glibc mallinfo2() deltas (ASan's allocated-bytes count in
// ASan builds) (uordblks: bytes in use, OpenSSL's
// allocations included) measured while destroying the servers, then the
// clients, of n pairs: what each Connection holds and gives back.
#pragma once

#include <malloc.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tests/sim/connected_pair.h"

#if defined(__SANITIZE_ADDRESS__)
// The sanitizer runtime's allocator interface (declared here: g++ ships no
// <sanitizer/allocator_interface.h>).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace dquic::test {

struct IdleMemory {
  std::size_t connections = 0;  // pairs that reached idle
  double client_bytes = 0;      // heap per idle client connection
  double server_bytes = 0;      // heap per idle server connection
  double client_mbufs = 0;      // mbufs still referenced per client connection
  double server_mbufs = 0;
  std::int64_t rte_malloc_bytes = 0;  // rte_malloc heap held by all of them
};

inline std::int64_t heap_in_use() {
#if defined(__SANITIZE_ADDRESS__)
  // ASan replaces glibc's allocator (mallinfo2 then reports nothing): its
  // own count of the bytes handed out, without its redzones.
  return static_cast<std::int64_t>(__sanitizer_get_current_allocated_bytes());
#else
  return static_cast<std::int64_t>(mallinfo2().uordblks);
#endif
}

inline std::int64_t rte_malloc_in_use() {
  rte_malloc_socket_stats s{};
  if (rte_malloc_get_socket_stats(static_cast<int>(rte_socket_id()), &s) != 0) return 0;
  return static_cast<std::int64_t>(s.heap_allocsz_bytes);
}

// One request (client bidi stream, `request` bytes and FIN) answered with
// `response` bytes and FIN, read to the end on both sides.
inline bool exchange_request(ConnectedPair& p, std::size_t request, std::size_t response) {
  Connection& c = *p.client().conn;
  Connection& s = *p.server().conn;
  const std::optional<std::uint64_t> id = c.open_stream(true);
  if (!id) return false;
  const std::vector<std::uint8_t> req(request, 'q');
  if (c.write(*id, req, true) != static_cast<std::int64_t>(request)) return false;
  p.run_until(p.now + 5 * kMillisecond);
  std::array<std::uint8_t, 2048> buf{};
  bool fin = false;
  for (int i = 0; i < 16 && !fin; ++i)
    if (s.read(*id, buf, &fin) < 0) return false;
  if (!fin) return false;
  const std::vector<std::uint8_t> resp(response, 'r');
  if (s.write(*id, resp, true) != static_cast<std::int64_t>(response)) return false;
  p.run_until(p.now + 5 * kMillisecond);
  fin = false;
  for (int i = 0; i < 16 && !fin; ++i)
    if (c.read(*id, buf, &fin) < 0) return false;
  return fin;
}

// Builds n pairs sharing one TLS configuration, takes them to idle and
// measures. `pairs` keeps the (connection-less) pairs for the caller.
inline IdleMemory measure_idle_connections(rte_mempool* pool, std::size_t n, bool request,
                                           std::vector<std::unique_ptr<ConnectedPair>>* pairs) {
  static PairTls tls;  // certificates are per process, not per connection
  IdleMemory r;
  pairs->clear();
  pairs->reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto p =
        std::make_unique<ConnectedPair>(pool, ConfigTweak{}, ConfigTweak{}, nullptr, nullptr, &tls);
    if (!p->handshake()) break;
    if (request && !exchange_request(*p, 64, 256)) break;
    // Idle: delayed ACKs sent and received, nothing left in flight.
    p->run_until(p->now + 200 * kMillisecond);
    if (p->client().conn->stream_count() != 0 || p->server().conn->stream_count() != 0) break;
    pairs->push_back(std::move(p));
  }
  r.connections = pairs->size();
  if (r.connections == 0) return r;
  const auto per = [&](std::int64_t v) { return static_cast<double>(v) / r.connections; };
  const std::int64_t rte0 = rte_malloc_in_use();
  std::int64_t heap = heap_in_use();
  unsigned mbufs = rte_mempool_in_use_count(pool);
  for (auto& p : *pairs)
    p->server().conn.reset();
  r.server_bytes = per(heap - heap_in_use());
  r.server_mbufs = per(static_cast<std::int64_t>(mbufs) - rte_mempool_in_use_count(pool));
  heap = heap_in_use();
  mbufs = rte_mempool_in_use_count(pool);
  for (auto& p : *pairs)
    p->client().conn.reset();
  r.client_bytes = per(heap - heap_in_use());
  r.client_mbufs = per(static_cast<std::int64_t>(mbufs) - rte_mempool_in_use_count(pool));
  r.rte_malloc_bytes = rte0 - rte_malloc_in_use();
  return r;
}

}  // namespace dquic::test
