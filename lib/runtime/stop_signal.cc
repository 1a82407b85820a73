#include "runtime/stop_signal.h"

#include <signal.h>

#include <csignal>

namespace dquic {
namespace {

static_assert(std::atomic<bool>::is_always_lock_free, "the handler needs a lock-free store");
static_assert(std::atomic<int>::is_always_lock_free, "the handler needs a lock-free store");

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
struct sigaction g_old_int;
struct sigaction g_old_term;
bool g_installed = false;

extern "C" void on_stop_signal(int sig) {
  // Only lock-free stores: async-signal-safe.
  g_signal.store(sig, std::memory_order_relaxed);
  g_stop.store(true, std::memory_order_release);
}

}  // namespace

std::atomic<bool>& stop_requested() {
  return g_stop;
}

int stop_signal_number() {
  return g_signal.load(std::memory_order_relaxed);
}

bool install_stop_signals() {
  g_stop.store(false, std::memory_order_relaxed);
  g_signal.store(0, std::memory_order_relaxed);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  struct sigaction old_int {};
  struct sigaction old_term {};
  if (sigaction(SIGINT, &sa, &old_int) != 0) return false;
  if (sigaction(SIGTERM, &sa, &old_term) != 0) {
    sigaction(SIGINT, &old_int, nullptr);
    return false;
  }
  // Installing twice keeps the handlers found the first time.
  if (!g_installed) {
    g_old_int = old_int;
    g_old_term = old_term;
    g_installed = true;
  }
  return true;
}

void restore_stop_signals() {
  if (!g_installed) return;
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  g_installed = false;
}

}  // namespace dquic
