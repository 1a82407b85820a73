// Between the wire's addresses (runtime/udp_frame.h IpAddress + a port) and
// the protocol core's (quic/peer_address.h PeerAddress): both keep IPv4 in
// the first four bytes, network order, so conversion is a copy.
#pragma once

#include <cstdint>

#include "quic/peer_address.h"
#include "runtime/udp_frame.h"

namespace dquic {

inline IpAddress to_ip_address(const PeerAddress& a) {
  IpAddress ip;
  ip.family = a.family == PeerAddress::Family::kIpv6 ? IpFamily::kIpv6 : IpFamily::kIpv4;
  ip.bytes = a.address;
  return ip;
}

inline PeerAddress to_peer_address(const IpAddress& ip, std::uint16_t port) {
  PeerAddress a;
  a.family = ip.family == IpFamily::kIpv6 ? PeerAddress::Family::kIpv6 : PeerAddress::Family::kIpv4;
  a.address = ip.bytes;
  a.port = port;
  return a;
}

// A path nobody filled in (NetworkPath's defaults): the connection tracks
// no addresses for this side.
inline bool is_unspecified(const PeerAddress& a) {
  return a == PeerAddress{};
}

}  // namespace dquic
