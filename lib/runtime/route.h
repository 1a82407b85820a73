// The interface's addressing, for the control plane and next-hop choice:
// several local IPv4/IPv6 addresses with prefix lengths (each prefix is
// on-link), plus at most one default gateway per family. Fixed storage; no
// allocation anywhere.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "runtime/udp_frame.h"

namespace dquic {

struct InterfaceAddress {
  IpAddress address;
  std::uint8_t prefix_len = 0;
};

class Route {
 public:
  static constexpr std::size_t kMaxAddresses = 16;

  // False (and no change) when full, the family is kNone, the prefix is
  // longer than the address, or the address is already present.
  bool add_address(const IpAddress& address, std::uint8_t prefix_len);
  // The gateway must be on-link: inside one of our prefixes, or IPv6
  // link-local (RFC 4861 §5.2: routers are addressed link-local). Replaces the
  // previous gateway of that family. False if not on-link or one of ours.
  bool set_gateway(const IpAddress& gateway);
  void clear_gateway(IpFamily family);

  std::span<const InterfaceAddress> addresses() const { return {addresses_.data(), count_}; }
  const std::optional<IpAddress>& gateway(IpFamily family) const {
    return family == IpFamily::kIpv6 ? gateway_v6_ : gateway_v4_;
  }

  // One of our addresses (exact match).
  bool is_local(const IpAddress& ip) const;
  // Inside one of our prefixes, or IPv6 link-local (fe80::/10).
  bool is_on_link(const IpAddress& ip) const;
  // RFC 4861 §5.2 next-hop determination: the destination itself when
  // on-link, else the default gateway of its family, else nothing.
  std::optional<IpAddress> next_hop(const IpAddress& dst) const;
  // The local address to send from towards `dst`: the one whose prefix
  // covers it (longest prefix), else the first of that family; nullptr if we
  // have none of that family.
  const IpAddress* source_for(const IpAddress& dst) const;

 private:
  std::array<InterfaceAddress, kMaxAddresses> addresses_{};
  std::size_t count_ = 0;
  std::optional<IpAddress> gateway_v4_;
  std::optional<IpAddress> gateway_v6_;
};

// True when the first `prefix_len` bits of `a` and `b` agree (same family).
bool prefix_match(const IpAddress& a, const IpAddress& b, std::uint8_t prefix_len);

}  // namespace dquic
