#include "runtime/stats_printer.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <utility>

namespace dquic {
namespace {

std::uint64_t delta(std::uint64_t before, std::uint64_t after) {
  return after >= before ? after - before : 0;  // a counter never goes back
}

// 1.20Mpps, 3.4Kpps, 12pps.
std::string rate_text(double per_s) {
  char b[32];
  if (per_s >= 1e6)
    std::snprintf(b, sizeof(b), "%.2fMpps", per_s / 1e6);
  else if (per_s >= 1e3)
    std::snprintf(b, sizeof(b), "%.1fKpps", per_s / 1e3);
  else
    std::snprintf(b, sizeof(b), "%.0fpps", per_s);
  return b;
}

}  // namespace

std::string format_stats_line(std::string_view label, const WorkerCounters& before,
                              const WorkerCounters& after, double elapsed_s, double t_s) {
  const double dt = elapsed_s > 0 ? elapsed_s : 1;
  const auto per_s = [&](std::uint64_t WorkerCounters::*m) {
    return static_cast<double>(delta(before.*m, after.*m)) / dt;
  };
  char b[256];
  std::snprintf(
      b, sizeof(b),
      " t=%.0fs conns=%" PRIu64 " rx=%s tx=%s rx_gbps=%.3f tx_gbps=%.3f drops=%" PRIu64
      " handshakes=%" PRIu64,
      t_s, after.connections_active, rate_text(per_s(&WorkerCounters::rx_packets)).c_str(),
      rate_text(per_s(&WorkerCounters::tx_packets)).c_str(),
      per_s(&WorkerCounters::rx_bytes) * 8 / 1e9, per_s(&WorkerCounters::tx_bytes) * 8 / 1e9,
      delta(before.total_drops(), after.total_drops()),
      delta(before.handshakes_completed, after.handshakes_completed));
  std::string line = "stats:";
  if (!label.empty()) {
    line += ' ';
    line += label;
  }
  return line + b;
}

StatsPrinter::StatsPrinter(std::vector<const WorkerCounters*> blocks, std::uint32_t interval_s,
                           std::FILE* out, std::string label)
    : blocks_(std::move(blocks)),
      interval_s_(interval_s == 0 ? 1 : interval_s),
      out_(out),
      label_(std::move(label)) {}

StatsPrinter::~StatsPrinter() {
  stop();
}

void StatsPrinter::start(const std::atomic<bool>* run_stop) {
  if (thread_.joinable() || out_ == nullptr) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this, run_stop] { loop(run_stop); });
}

void StatsPrinter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatsPrinter::loop(const std::atomic<bool>* run_stop) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kTick = std::chrono::milliseconds(100);
  const Clock::time_point start = Clock::now();
  Clock::time_point last = start;
  WorkerCounters before = sum(blocks_);
  Clock::time_point next = start + std::chrono::seconds(interval_s_);
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (run_stop != nullptr && run_stop->load(std::memory_order_acquire)) break;
    const Clock::time_point now = Clock::now();
    if (now < next) {
      cv_.wait_until(lock, std::min(next, now + kTick), [&] { return stopping_; });
      continue;
    }
    const WorkerCounters after = sum(blocks_);
    const double elapsed = std::chrono::duration<double>(now - last).count();
    const double t = std::chrono::duration<double>(now - start).count();
    const std::string line = format_stats_line(label_, before, after, elapsed, t);
    std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
    lines_.fetch_add(1, std::memory_order_relaxed);
    before = after;
    last = now;
    // Late wake-ups do not pile up lines: the next one is a full interval on.
    next += std::chrono::seconds(interval_s_);
    if (next <= now) next = now + std::chrono::seconds(interval_s_);
  }
}

}  // namespace dquic
