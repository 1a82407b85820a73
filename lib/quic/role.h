// Which end of a connection an endpoint is (RFC 9000 §1.2).
#pragma once

#include <cstdint>

namespace dquic {

enum class EndpointRole : std::uint8_t { kClient, kServer };

}  // namespace dquic
