#include "quic/peer_address.h"

#include <algorithm>

namespace dquic {

namespace {
// RFC 4291 §2.5.5.2.
constexpr std::array<std::uint8_t, 12> kIpv4MappedPrefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

PeerAddress PeerAddress::ipv4(const std::array<std::uint8_t, 4>& a, std::uint16_t port) {
  PeerAddress p;
  p.family = Family::kIpv4;
  std::copy(a.begin(), a.end(), p.address.begin());
  p.port = port;
  return p;
}

PeerAddress PeerAddress::ipv6(const std::array<std::uint8_t, 16>& a, std::uint16_t port) {
  if (std::equal(kIpv4MappedPrefix.begin(), kIpv4MappedPrefix.end(), a.begin())) {
    return ipv4({a[12], a[13], a[14], a[15]}, port);
  }
  PeerAddress p;
  p.family = Family::kIpv6;
  p.address = a;
  p.port = port;
  return p;
}

}  // namespace dquic
