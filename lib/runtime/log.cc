#include "runtime/log.h"

namespace dquic {

// One file for all three: whoever links one type gets the others registered.
RTE_LOG_REGISTER(log_type_runtime, dquic.runtime, INFO)
RTE_LOG_REGISTER(log_type_quic, dquic.quic, INFO)
RTE_LOG_REGISTER(log_type_h3, dquic.h3, INFO)

}  // namespace dquic
