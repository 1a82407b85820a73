#include "perf_apps.h"

#include <rte_cycles.h>

#include <algorithm>
#include <cstdio>

#include "runtime/client_program.h"
#include "runtime/stop_signal.h"
#include "runtime/worker_counters.h"

namespace dquic::perf {

namespace {

// Pumps the handlers that ran out of budget or credit since the last poll
// (server and client alike): swapped out first, since pumping may queue a
// handler again for the next poll.
template <typename Handler>
void pump_waiting(Worker& w, std::vector<Handler*>& waiting, std::vector<Handler*>& pumping) {
  if (waiting.empty()) return;
  pumping.swap(waiting);
  for (Handler* h : pumping) {
    h->clear_waiting();
    if (h->connection() == nullptr) continue;
    h->pump();
    w.wake(*h->connection());
  }
  pumping.clear();
}

}  // namespace

void ConnectionTotals::add(const ConnectionStats& s, bool handshake_done) {
  ++connections;
  if (handshake_done) ++handshakes;
  packets_sent += s.packets_sent;
  packets_received += s.packets_received;
  packets_lost += s.packets_lost;
  bytes_sent += s.bytes_sent;
  stream_bytes_retransmitted += s.stream_bytes_retransmitted;
  pto_count += s.pto_count;
  packets_dropped += s.packets_dropped;
}

void ConnectionTotals::add(const ConnectionTotals& o) {
  connections += o.connections;
  handshakes += o.handshakes;
  packets_sent += o.packets_sent;
  packets_received += o.packets_received;
  packets_lost += o.packets_lost;
  bytes_sent += o.bytes_sent;
  stream_bytes_retransmitted += o.stream_bytes_retransmitted;
  pto_count += o.pto_count;
  packets_dropped += o.packets_dropped;
}

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::kBulk:
      return "bulk";
    case Scenario::kRequests:
      return "requests";
    case Scenario::kHandshakes:
      return "handshakes";
  }
  return "unknown";
}

// ------------------------------------------------------------------ server

PerfServerApp::PerfServerApp(PatternSource* pattern, std::size_t max_streams,
                             std::size_t max_connections)
    : max_connections_(max_connections) {
  ctx_.pattern = pattern;
  ctx_.scratch = scratch_;
  ctx_.max_streams = max_streams;
  // Setup-time reservations: the per-connection path allocates only when a
  // handler is first made (reused afterwards).
  ctx_.waiting.reserve(max_connections);
  pumping_.reserve(max_connections);
  by_conn_.reserve(max_connections);
}

bool PerfServerApp::on_incoming(Worker&, const IncomingConnection&, ConnectionConfig& c) {
  if (pending_ == nullptr) {
    if (!free_.empty()) {
      pending_ = free_.back();
      free_.pop_back();
    } else if (all_.size() < max_connections_) {
      all_.push_back(std::make_unique<PerfServerConnection>(&ctx_));
      pending_ = all_.back().get();
    } else {
      return false;  // RFC 9000 §5.2.2: CONNECTION_REFUSED
    }
  }
  c.handler = pending_;
  return true;
}

void PerfServerApp::on_accepted(Worker&, Connection& c) {
  if (pending_ == nullptr) return;
  pending_->attach(&c);
  by_conn_[&c] = pending_;
  pending_ = nullptr;
}

void PerfServerApp::on_closed(Worker&, Connection& c) {
  totals_.add(c.stats(), c.handshake_complete());
  auto it = by_conn_.find(&c);
  if (it == by_conn_.end()) return;
  it->second->detach();
  free_.push_back(it->second);
  by_conn_.erase(it);
}

void PerfServerApp::collect_open() {
  for (const auto& [conn, handler] : by_conn_)
    totals_.add(conn->stats(), conn->handshake_complete());
  by_conn_.clear();
}

void PerfServerApp::on_poll(Worker& w, Time now) {
  pump_waiting(w, ctx_.waiting, pumping_);
  // The progress line's sample: one live connection, ten times a second.
  if (now >= next_sample_) {
    next_sample_ = now + 100 * kMillisecond;
    if (!by_conn_.empty()) {
      const Connection& c = *by_conn_.begin()->first;
      sample_.srtt_ns.store(static_cast<std::uint64_t>(c.rtt().smoothed_rtt()),
                            std::memory_order_relaxed);
      sample_.cwnd.store(c.congestion().congestion_window(), std::memory_order_relaxed);
      sample_.bytes_in_flight.store(c.congestion().bytes_in_flight(), std::memory_order_relaxed);
    }
  }
}

// ------------------------------------------------------------------ client

PerfClientApp::PerfClientApp(const PerfClientPlan& plan, PatternSource* pattern,
                             PerfRunControl* control)
    : plan_(plan), control_(control) {
  if (plan_.scenario == Scenario::kHandshakes) {
    plan_.spec.concurrent = 1;
    plan_.spec.requests = 1;
  }
  ctx_.pattern = pattern;
  ctx_.scratch = scratch_;
  ctx_.now = [this] { return worker_ != nullptr ? worker_->now() : 0; };
  ctx_.waiting.reserve(plan_.connections);
  pumping_.reserve(plan_.connections);
  active_.reserve(plan_.connections);
}

void PerfClientApp::watch(std::vector<const WorkerCounters*> client_blocks,
                          std::vector<const WorkerCounters*> server_blocks,
                          const ConnectionSample* server) {
  client_blocks_ = std::move(client_blocks);
  server_blocks_ = std::move(server_blocks);
  server_sample_ = server;
}

void PerfClientApp::fail(std::string why) {
  if (error_.empty()) error_ = std::move(why);
  control_->abort.store(true, std::memory_order_relaxed);
}

bool PerfClientApp::open_one(Worker& w) {
  if (active_.size() >= plan_.connections) return false;
  PerfRequestSpec spec = plan_.spec;
  if (plan_.scenario == Scenario::kRequests && plan_.total != 0) {
    // This worker's requests, spread over its connections as they open.
    const std::uint64_t per = (plan_.total + plan_.connections - 1) / plan_.connections;
    spec.requests = std::min(per, plan_.total - requests_assigned_);
    if (spec.requests == 0) return false;
    requests_assigned_ += spec.requests;
  }
  Active a;
  a.handler = std::make_unique<PerfClientConnection>(spec, &ctx_);
  ConnectionConfig c = plan_.connection;
  c.handler = a.handler.get();
  a.conn = w.connect(c, plan_.path);
  if (a.conn == nullptr) {
    fail("client: the endpoint refused a new connection (connection limit?)");
    return false;
  }
  a.handler->attach(a.conn);
  active_.push_back(std::move(a));
  ++opened_;
  return true;
}

void PerfClientApp::on_closed(Worker&, Connection& c) {
  if (auto it = closing_.find(&c); it != closing_.end()) {
    it->second->detach();
    closing_.erase(it);
    return;
  }
  auto it =
      std::find_if(active_.begin(), active_.end(), [&c](const Active& a) { return a.conn == &c; });
  if (it == active_.end()) return;
  // Closed under us: by the peer, a timeout or an error.
  totals_.add(c.stats(), c.handshake_complete());
  const std::optional<CloseInfo>& ci = c.close_info();
  if (!finished_ && !it->handler->done()) {
    if (!it->handler->handshake_done()) {
      if (ci && ci->reason == "handshake timeout") {
        fail("handshake timeout: no answer from " + peer_address_text(plan_.path.peer) +
             " within " + std::to_string(plan_.connection.handshake_timeout / kMillisecond) +
             " ms");
      } else {
        fail("handshake with " + peer_address_text(plan_.path.peer) +
             " failed: " + describe_close(c));
      }
    } else {
      fail("connection to " + peer_address_text(plan_.path.peer) + " " + describe_close(c) +
           " with requests unfinished");
    }
  }
  it->handler->detach();
  active_.erase(it);
}

void PerfClientApp::finish(Worker&, Time) {
  if (finished_) return;
  finished_ = true;
  if (end_tsc_ == 0) end_tsc_ = rte_get_tsc_cycles();
  if (control_->running.fetch_sub(1) == 1) control_->stop.store(true, std::memory_order_release);
}

void PerfClientApp::on_poll(Worker& w, Time now) {
  if (!started_) {
    started_ = true;
    worker_ = &w;
    start_ = now;
    start_tsc_ = rte_get_tsc_cycles();
    next_progress_ = now + kSecond;
    for (std::uint32_t i = 0; i < plan_.connections; ++i) {
      if (plan_.scenario == Scenario::kHandshakes && plan_.total != 0 && opened_ >= plan_.total)
        break;
      if (!open_one(w)) break;
    }
  }
  if (finished_) return;

  pump_waiting(w, ctx_.waiting, pumping_);

  const bool out_of_time = plan_.duration != 0 && now - start_ >= plan_.duration;
  const bool stop_now = out_of_time || control_->abort.load(std::memory_order_relaxed) ||
                        stop_requested().load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < active_.size();) {
    Active& a = active_[i];
    const bool done = a.handler->done();
    if (!done && !stop_now) {
      ++i;
      continue;
    }
    if (done && plan_.scenario == Scenario::kHandshakes) ++handshakes_;
    totals_.add(a.conn->stats(), a.conn->handshake_complete());
    a.handler->stop();
    a.conn->close(0, done ? "done" : "stopped", now);
    w.wake(*a.conn);
    closing_.emplace(a.conn, std::move(a.handler));
    active_[i] = std::move(active_.back());
    active_.pop_back();
  }
  bool more = false;
  if (!stop_now && plan_.scenario == Scenario::kHandshakes) {
    // A fresh connection for each finished one.
    while (plan_.total == 0 || opened_ < plan_.total) {
      if (!open_one(w)) break;
    }
    more = plan_.total == 0 || opened_ < plan_.total;
  }
  if (active_.empty() && !more) {
    if (plan_.duration != 0 && out_of_time) end_tsc_ = rte_get_tsc_cycles();
    finish(w, now);
  }
  if (plan_.progress && now >= next_progress_) progress(now);
}

void PerfClientApp::progress(Time now) {
  const Duration since = now - (next_progress_ - kSecond);
  next_progress_ = now + kSecond;
  const WorkerCounters c = sum(client_blocks_);
  const WorkerCounters s = sum(server_blocks_);
  const std::uint64_t rx = c.rx_bytes + s.rx_bytes;
  const std::uint64_t pk = c.tx_packets + s.tx_packets;
  const std::uint64_t rq = ctx_.stats.requests_completed;
  const double secs = static_cast<double>(since) / 1e9;
  const double gbps = static_cast<double>(rx - last_rx_bytes_) * 8 / secs / 1e9;
  const double mpps = static_cast<double>(pk - last_packets_) / secs / 1e6;
  last_rx_bytes_ = rx;
  last_packets_ = pk;
  std::fprintf(plan_.out, "[%6.1fs] %7.2f Gbit/s (wire)  %6.3f Mpkt/s sent",
               static_cast<double>(now - start_) / 1e9, gbps, mpps);
  if (server_sample_ != nullptr) {
    std::fprintf(
        plan_.out, "  server srtt %.3f ms cwnd %.1f KB inflight %.1f KB",
        static_cast<double>(server_sample_->srtt_ns.load(std::memory_order_relaxed)) / 1e6,
        static_cast<double>(server_sample_->cwnd.load(std::memory_order_relaxed)) / 1e3,
        static_cast<double>(server_sample_->bytes_in_flight.load(std::memory_order_relaxed)) / 1e3);
  }
  if (plan_.scenario != Scenario::kBulk)
    std::fprintf(plan_.out, "  %.0f req/s (worker 0)",
                 static_cast<double>(rq - last_requests_) / secs);
  last_requests_ = rq;
  std::fprintf(plan_.out, "\n");
  std::fflush(plan_.out);
}

}  // namespace dquic::perf
