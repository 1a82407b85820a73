#include "runtime/worker_shutdown.h"

namespace dquic {

std::size_t close_all_connections(Worker& w, std::uint64_t app_error, std::string_view reason) {
  Endpoint& e = w.endpoint();
  std::size_t closed = 0;
  const Time now = w.clock().now();
  for (std::size_t i = 0; i < e.connection_count(); ++i) {
    Connection* c = e.connection(i);
    if (c == nullptr) continue;
    const ConnectionState s = c->state();
    if (s != ConnectionState::kHandshaking && s != ConnectionState::kConnected) continue;
    c->close(app_error, reason, now);
    w.wake(*c);
    ++closed;
  }
  return closed;
}

std::size_t open_connections(const Worker& w) {
  const Endpoint& e = w.endpoint();
  std::size_t open = 0;
  for (std::size_t i = 0; i < e.connection_count(); ++i) {
    const Connection* c = e.connection(i);
    if (c != nullptr && !c->is_closed()) ++open;
  }
  return open;
}

std::size_t drain_worker(Worker& w, Duration max) {
  const Time start = w.clock().now();
  do {
    w.poll_once();
  } while (open_connections(w) > 0 && w.clock().now() - start < max);
  return open_connections(w);
}

}  // namespace dquic
