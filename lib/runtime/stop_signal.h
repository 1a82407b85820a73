// The process-wide stop request: SIGINT and SIGTERM handlers that only store
// to a lock-free atomic flag (async-signal-safe: POSIX.1-2017 §2.4.3 allows
// lock-free atomics in handlers, C++17 [support.signal]), read by the workers
// between iterations (Worker::run). Nothing else happens in the handler; the
// shutdown itself runs on the lcores afterwards.
#pragma once

#include <atomic>

namespace dquic {

// The flag the handlers set. Also settable by anyone (tests, a control path).
std::atomic<bool>& stop_requested();
// The last signal that set the flag, 0 if none.
int stop_signal_number();

// Installs the handlers for SIGINT and SIGTERM (SA_RESTART, no other flags)
// and clears the flag. False if sigaction refused. The previous handlers are
// kept for restore_stop_signals().
bool install_stop_signals();
// Puts back the handlers found by install_stop_signals().
void restore_stop_signals();

}  // namespace dquic
