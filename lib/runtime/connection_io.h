// The glue between a sans-IO Connection (quic/connection.h) and packet
// protection (offload/protector.h), shared by every driver of connections:
// the lcore runtime and the simulator. Datagrams are rte_mbufs holding the
// UDP payload only; the caller adds and strips the lower layers.
//
// "No crypto" mode (protector == nullptr) is for benchmarks of everything
// but the cipher: packets travel with their header unprotected and the tag
// bytes unused, so it must only run against the same mode on the other end
// and it cannot detect corrupted packets.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstddef>
#include <span>

#include "offload/protector.h"
#include "quic/connection.h"
#include "quic/ecn.h"
#include "quic/timestamp.h"

namespace dquic {

// Packets opened per Protector burst on receive; more coalesced packets are
// opened in further bursts.
inline constexpr std::size_t kMaxOpenBurst = 16;
// Datagrams sealed per Protector burst on send (three packets each at most).
inline constexpr std::size_t kMaxSealDatagrams = 32;

// Opens every packet coalesced in the UDP payload `m` (first segment only) and
// passes each to `c`, in order. Packets whose keys `c` does not have when
// their turn comes, that fail to open, or that break the coalescing rules
// (RFC 9000 §12.2) are dropped and reported with on_undecryptable(). The
// caller keeps ownership of `m`: the connection takes its own references on
// what it keeps. `path` is the datagram's (our address, the sender's); the
// connection drops datagrams from paths it does not accept (RFC 9000 §9).
void receive_datagram(Connection& c, offload::Protector* p, rte_mbuf* m, Ecn ecn, Time now,
                      const NetworkPath& path = {});

// Builds and seals up to out.size() datagrams from `c`, each in a fresh mbuf
// from `pool`, and stores them in out[0..n). Returns n. Stops early when the
// connection has nothing (more) to send now or the pool is empty. Datagrams
// whose sealing failed are freed and not returned (the connection counts
// their packets as sent; loss recovery repairs them). When `ecn_out` is not
// empty, ecn_out[i] receives the codepoint out[i] must be sent with; it must
// then be at least out.size() long. Likewise path_out[i] receives the path
// out[i] goes on (RFC 9000 §9: probes go on other paths than the active one).
std::size_t send_datagrams(Connection& c, offload::Protector* p, rte_mempool* pool, Time now,
                           std::span<rte_mbuf*> out, std::span<Ecn> ecn_out = {},
                           std::span<NetworkPath> path_out = {});

}  // namespace dquic
