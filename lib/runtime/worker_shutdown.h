// A worker's clean stop (RFC 9000 §10.2): every open connection is closed
// with the application's NO_ERROR code (an immediate close, CONNECTION_CLOSE
// sent on the next flush), then the worker keeps polling for a bounded
// drain period so those frames go out, and answers whatever the peers send
// meanwhile (§10.2.1: the closing connection repeats its CONNECTION_CLOSE).
// Runs on the worker's own lcore, like everything else of the worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "quic/timestamp.h"
#include "runtime/worker.h"

namespace dquic {

// Closes every connection still handshaking or connected with
// CONNECTION_CLOSE carrying `app_error` (0 for plain QUIC applications,
// H3_NO_ERROR 0x100 for HTTP/3: RFC 9114 §8.1) and wakes it so the frame is
// built on the next poll. Returns how many it closed.
std::size_t close_all_connections(Worker& w, std::uint64_t app_error, std::string_view reason);

// Connections not yet ConnectionState::kClosed.
std::size_t open_connections(const Worker& w);

// Polls until every connection is kClosed or `max` has passed on the
// worker's clock (at least one poll, so frames woken by
// close_all_connections are sent). Returns the connections left (closing or
// draining ones are released when the worker is destroyed).
std::size_t drain_worker(Worker& w, Duration max);

}  // namespace dquic
