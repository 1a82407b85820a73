// An IP address and UDP port, and the network path of RFC 9000 §8.2 (a
// local and a peer address). Sans-IO: the caller fills them in from the
// packets it receives and sends from and to the path write_datagram names.
#pragma once

#include <array>
#include <cstdint>

namespace dquic {

// An IP address and UDP port. IPv4 uses the first 4 bytes of
// `address`, the rest zero. Build with ipv4()/ipv6() to keep that form.
struct PeerAddress {
  enum class Family : std::uint8_t { kIpv4 = 4, kIpv6 = 6 };

  Family family = Family::kIpv4;
  std::array<std::uint8_t, 16> address{};  // network byte order
  std::uint16_t port = 0;                  // host byte order

  static PeerAddress ipv4(const std::array<std::uint8_t, 4>& a, std::uint16_t port);
  // An IPv4-mapped address (::ffff:a.b.c.d) becomes the IPv4 address, so one
  // client compares equal whichever socket family saw it.
  static PeerAddress ipv6(const std::array<std::uint8_t, 16>& a, std::uint16_t port);

  bool same_ip(const PeerAddress& o) const { return family == o.family && address == o.address; }
  friend bool operator==(const PeerAddress&, const PeerAddress&) = default;
};

// RFC 9000 §8.2: "a specific local address and a specific peer address".
// Callers that do not track addresses leave both at their defaults: every
// datagram then belongs to the one (default) path.
struct NetworkPath {
  PeerAddress local;
  PeerAddress peer;
  friend bool operator==(const NetworkPath&, const NetworkPath&) = default;
};

}  // namespace dquic
