#include "runtime/nat_rebind.h"

#include <algorithm>
#include <cstring>

#include "runtime/ethernet.h"

namespace dquic {

namespace {

constexpr std::uint8_t kUdp = 17;

struct UdpView {
  IpFamily family = IpFamily::kNone;
  std::uint8_t* ip = nullptr;
  std::uint8_t* udp = nullptr;
  std::uint8_t* src() const { return ip + (family == IpFamily::kIpv4 ? 12 : 8); }
  std::uint8_t* dst() const { return ip + (family == IpFamily::kIpv4 ? 16 : 24); }
  std::size_t address_len() const { return family == IpFamily::kIpv4 ? 4 : 16; }
};

// An Ethernet (+ up to two VLAN tags) / IPv4 or IPv6 / UDP frame in the
// first segment, or family kNone. The frames we build and the peer's have no
// IPv6 extension headers; anything else is left alone.
UdpView udp_view(rte_mbuf* m) {
  std::uint8_t* p = rte_pktmbuf_mtod(m, std::uint8_t*);
  const std::uint32_t len = m->data_len;
  std::uint32_t off = 12;
  if (len < off + 2) return {};
  std::uint16_t type = load_be16(p + off);
  for (int tags = 0; (type == kEtherTypeVlan || type == kEtherTypeQinQ) && tags < 2; ++tags) {
    off += 4;
    if (len < off + 2) return {};
    type = load_be16(p + off);
  }
  off += 2;
  UdpView v;
  v.ip = p + off;
  if (type == kEtherTypeIpv4) {
    if (len < off + 20 || p[off + 9] != kUdp) return {};
    // A later fragment has no UDP header.
    if ((load_be16(p + off + 6) & 0x1fff) != 0) return {};
    v.family = IpFamily::kIpv4;
    off += (p[off] & 0x0f) * 4u;
  } else if (type == kEtherTypeIpv6) {
    if (len < off + 40 || p[off + 6] != kUdp) return {};
    v.family = IpFamily::kIpv6;
    off += 40;
  } else {
    return {};
  }
  if (len < off + 8) return {};
  v.udp = p + off;
  return v;
}

// Updates the checksum at `sum` for the 16-bit words at `at` (n bytes, even)
// changing to `to`; 0 (an IPv4 UDP datagram without a checksum) stays 0, and
// a computed 0 is sent as all ones (RFC 768).
void update_checksum(std::uint8_t* sum, const std::uint8_t* at, const std::uint8_t* to,
                     std::size_t n, bool udp) {
  std::uint16_t hc = load_be16(sum);
  if (udp && hc == 0) return;
  for (std::size_t i = 0; i < n; i += 2)
    hc = internet_checksum_update(hc, load_be16(at + i), load_be16(to + i));
  if (udp && hc == 0) hc = 0xffff;
  store_be16(sum, hc);
}

// Moves the port at `at` (a UDP header field) to `to`, keeping the checksum
// valid.
void rewrite_port(const UdpView& v, std::uint8_t* at, std::uint16_t to) {
  std::uint8_t word[2];
  store_be16(word, to);
  update_checksum(v.udp + 6, at, word, 2, true);
  std::memcpy(at, word, 2);
}

// Replaces the address at `at` (the IP header's source or destination) with
// `to`: the IPv4 header checksum and the UDP checksum (its pseudo-header has
// both addresses) follow.
void rewrite_address(const UdpView& v, std::uint8_t* at, const IpAddress& to) {
  const std::size_t n = v.address_len();
  if (v.family == IpFamily::kIpv4) update_checksum(v.ip + 10, at, to.bytes.data(), n, false);
  update_checksum(v.udp + 6, at, to.bytes.data(), n, true);
  std::memcpy(at, to.bytes.data(), n);
}

bool same_address(const UdpView& v, const std::uint8_t* at, const IpAddress& a) {
  return a.family == v.family && std::memcmp(at, a.bytes.data(), v.address_len()) == 0;
}

}  // namespace

std::uint16_t internet_checksum_update(std::uint16_t hc, std::uint16_t old_word,
                                       std::uint16_t new_word) {
  std::uint32_t sum = static_cast<std::uint16_t>(~hc) + static_cast<std::uint16_t>(~old_word) +
                      std::uint32_t{new_word};
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

bool NatRebind::active(Time now) {
  if (kind_ == RebindKind::kNone) return false;
  if (after_frames_ > 0) return received_ >= after_frames_;
  if (after_ <= 0) return false;
  if (origin_ == kNever) origin_ = now;
  return now - origin_ >= after_;
}

bool NatRebind::on_send(UdpFrameSpec* spec, Time now) {
  if (!active(now)) return false;
  switch (kind_) {
    case RebindKind::kLocalPort: {
      const std::uint16_t port = spec->src_port;
      if (std::find(moved_.begin(), moved_.begin() + moved_count_, port) ==
          moved_.begin() + moved_count_) {
        if (moved_count_ == kMaxPorts) return false;  // a test uses a few ports
        moved_[moved_count_++] = port;
      }
      spec->src_port = static_cast<std::uint16_t>(port + kPortShift);
      break;
    }
    case RebindKind::kLocalAddress:
      if (spec->src.family != to_.family || spec->src == to_) return false;
      local_ = spec->src;  // one address of ours per family in a test
      spec->src = to_;
      break;
    case RebindKind::kPeerAddress:
      if (spec->dst != to_ || peer_.family != to_.family) return false;
      spec->dst = peer_;
      break;
    case RebindKind::kNone:
      return false;
  }
  ++rewritten_tx_;
  return true;
}

bool NatRebind::on_receive(rte_mbuf* m, Time now) {
  ++received_;
  if (kind_ == RebindKind::kNone) return false;
  const UdpView v = udp_view(m);
  if (v.family == IpFamily::kNone) return false;
  if (kind_ == RebindKind::kPeerAddress && peer_.family == IpFamily::kNone &&
      v.family == to_.family) {
    peer_.family = v.family;  // the first peer we hear from is the one behind the NAT
    std::memcpy(peer_.bytes.data(), v.src(), v.address_len());
  }
  if (!active(now)) return false;
  switch (kind_) {
    case RebindKind::kLocalPort: {
      const auto original = static_cast<std::uint16_t>(load_be16(v.udp + 2) - kPortShift);
      if (std::find(moved_.begin(), moved_.begin() + moved_count_, original) ==
          moved_.begin() + moved_count_)
        return false;  // not a moved port (the old one included): as it is
      rewrite_port(v, v.udp + 2, original);
      break;
    }
    case RebindKind::kLocalAddress:
      if (local_.family != v.family || !same_address(v, v.dst(), to_)) return false;
      rewrite_address(v, v.dst(), local_);
      break;
    case RebindKind::kPeerAddress:
      if (!same_address(v, v.src(), peer_)) return false;
      rewrite_address(v, v.src(), to_);
      break;
    case RebindKind::kNone:
      return false;
  }
  ++rewritten_rx_;
  return true;
}

}  // namespace dquic
