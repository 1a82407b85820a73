// Our own rte_log types, so that an operator picks their levels with the
// EAL's --log-level like DPDK's (e.g. --log-level=dquic.runtime:debug,
// --log-level='dquic.*:info'):
//
//   dquic.runtime   the dataplane and its workers: connections opened and
//                   closed (with the reason), at DEBUG
//   dquic.quic      the protocol core
//   dquic.h3        HTTP/3 and the programs on it
//
// Registered by constructors (RTE_LOG_REGISTER) before main(), so the EAL's
// option applies to them; default level INFO, so the per-connection DEBUG
// lines are off unless asked for. Nothing logs per packet.
#pragma once

#include <rte_log.h>

#include <cstdint>

namespace dquic {

extern int log_type_runtime;
extern int log_type_quic;
extern int log_type_h3;

inline constexpr const char* kLogTypeRuntime = "dquic.runtime";
inline constexpr const char* kLogTypeQuic = "dquic.quic";
inline constexpr const char* kLogTypeH3 = "dquic.h3";

// Whether a message of `level` (RTE_LOG_*) on `type` would be printed: check
// it before building a line's arguments.
inline bool log_enabled(int type, std::uint32_t level) {
  return rte_log_can_log(static_cast<std::uint32_t>(type), level);
}

}  // namespace dquic

// DQUIC_LOG(DEBUG, runtime, "worker %u: ...", id): one line, prefixed with
// the type's name, on log_type_<type>.
#define DQUIC_LOG(level, type, fmt, ...)             \
  rte_log(RTE_LOG_##level, ::dquic::log_type_##type, \
          "dquic." #type ": " fmt "\n" __VA_OPT__(, ) __VA_ARGS__)
