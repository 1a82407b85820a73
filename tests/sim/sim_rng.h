// The simulator's seeded PRNG (quic/seeded_rng.h).
#pragma once

#include "quic/seeded_rng.h"

namespace dquic {

using SimRng = SeededRng;

}  // namespace dquic
