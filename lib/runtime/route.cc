#include "runtime/route.h"

namespace dquic {
namespace {

std::uint8_t max_prefix(IpFamily family) {
  return family == IpFamily::kIpv6 ? 128 : 32;
}

bool is_ipv6_link_local(const IpAddress& ip) {
  return ip.family == IpFamily::kIpv6 && ip.bytes[0] == 0xfe && (ip.bytes[1] & 0xc0) == 0x80;
}

}  // namespace

bool prefix_match(const IpAddress& a, const IpAddress& b, std::uint8_t prefix_len) {
  if (a.family != b.family || a.family == IpFamily::kNone) return false;
  if (prefix_len > max_prefix(a.family)) return false;
  const std::size_t full = prefix_len / 8;
  for (std::size_t i = 0; i < full; ++i)
    if (a.bytes[i] != b.bytes[i]) return false;
  const unsigned rest = prefix_len % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (b.bytes[full] & mask);
}

bool Route::add_address(const IpAddress& address, std::uint8_t prefix_len) {
  if (address.family == IpFamily::kNone || prefix_len > max_prefix(address.family)) return false;
  if (count_ == kMaxAddresses || is_local(address)) return false;
  addresses_[count_++] = InterfaceAddress{address, prefix_len};
  return true;
}

bool Route::set_gateway(const IpAddress& gateway) {
  if (!is_on_link(gateway) || is_local(gateway)) return false;
  (gateway.family == IpFamily::kIpv6 ? gateway_v6_ : gateway_v4_) = gateway;
  return true;
}

void Route::clear_gateway(IpFamily family) {
  (family == IpFamily::kIpv6 ? gateway_v6_ : gateway_v4_).reset();
}

bool Route::is_local(const IpAddress& ip) const {
  for (std::size_t i = 0; i < count_; ++i)
    if (addresses_[i].address == ip) return true;
  return false;
}

bool Route::is_on_link(const IpAddress& ip) const {
  if (is_ipv6_link_local(ip)) return true;
  for (std::size_t i = 0; i < count_; ++i)
    if (prefix_match(addresses_[i].address, ip, addresses_[i].prefix_len)) return true;
  return false;
}

std::optional<IpAddress> Route::next_hop(const IpAddress& dst) const {
  if (dst.family == IpFamily::kNone) return std::nullopt;
  if (is_on_link(dst)) return dst;
  return gateway(dst.family);
}

const IpAddress* Route::source_for(const IpAddress& dst) const {
  const IpAddress* best = nullptr;
  int best_len = -1;
  for (std::size_t i = 0; i < count_; ++i) {
    const InterfaceAddress& a = addresses_[i];
    if (a.address.family != dst.family) continue;
    int len = -1;  // a same-family fallback ranks below any covering prefix
    if (prefix_match(a.address, dst, a.prefix_len)) len = a.prefix_len;
    // RFC 6724 rule 2 in short: a link-local destination prefers a
    // link-local source.
    else if (is_ipv6_link_local(dst) && is_ipv6_link_local(a.address))
      len = 0;
    if (best == nullptr || len > best_len) {
      best = &a.address;
      best_len = len;
    }
  }
  return best;
}

}  // namespace dquic
