#include "runtime/control_context.h"

namespace dquic {

const char* to_string(ControlDropReason reason) {
  switch (reason) {
    case ControlDropReason::kNone:
      return "none";
    case ControlDropReason::kTooShort:
      return "too_short";
    case ControlDropReason::kNotForUs:
      return "not_for_us";
    case ControlDropReason::kNotInFirstSegment:
      return "not_in_first_segment";
    case ControlDropReason::kNoTailroom:
      return "no_tailroom";
    case ControlDropReason::kBadArpHeader:
      return "bad_arp_header";
    case ControlDropReason::kBadArpOperation:
      return "bad_arp_operation";
    case ControlDropReason::kBadSourceAddress:
      return "bad_source_address";
    case ControlDropReason::kAddressConflict:
      return "address_conflict";
    case ControlDropReason::kBadIpVersion:
      return "bad_ip_version";
    case ControlDropReason::kBadIpHeaderLength:
      return "bad_ip_header_length";
    case ControlDropReason::kBadIpLength:
      return "bad_ip_length";
    case ControlDropReason::kBadIpChecksum:
      return "bad_ip_checksum";
    case ControlDropReason::kIpOptions:
      return "ip_options";
    case ControlDropReason::kFragment:
      return "fragment";
    case ControlDropReason::kBadExtensionHeader:
      return "bad_extension_header";
    case ControlDropReason::kBadIcmpLength:
      return "bad_icmp_length";
    case ControlDropReason::kBadIcmpChecksum:
      return "bad_icmp_checksum";
    case ControlDropReason::kBadIcmpCode:
      return "bad_icmp_code";
    case ControlDropReason::kIcmpIgnored:
      return "icmp_ignored";
    case ControlDropReason::kBadHopLimit:
      return "bad_hop_limit";
    case ControlDropReason::kBadNdTarget:
      return "bad_nd_target";
    case ControlDropReason::kBadNdOption:
      return "bad_nd_option";
    case ControlDropReason::kBadDadSolicitation:
      return "bad_dad_solicitation";
    case ControlDropReason::kSolicitedToMulticast:
      return "solicited_to_multicast";
    case ControlDropReason::kUnsolicitedAdvertisement:
      return "unsolicited_advertisement";
    case ControlDropReason::kAdvertisementRejected:
      return "advertisement_rejected";
    case ControlDropReason::kCount:
      break;
  }
  return "unknown";
}

std::uint64_t ControlCounters::total_drops() const {
  std::uint64_t sum = 0;
  for (const std::uint64_t d : drops)
    sum += d;
  return sum;
}

}  // namespace dquic
