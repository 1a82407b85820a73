#include "quic/congestion_controller.h"

#include "quic/cubic.h"
#include "quic/new_reno.h"

namespace dquic {

// Allocates once, when the connection is created.
std::unique_ptr<CongestionController> make_congestion_controller(CongestionAlgorithm a,
                                                                 const CongestionConfig& config) {
  switch (a) {
    case CongestionAlgorithm::kNewReno:
      return std::make_unique<NewReno>(config);
    case CongestionAlgorithm::kCubic:
      break;
  }
  return std::make_unique<Cubic>(config);  // the default (RFC 9438)
}

}  // namespace dquic
