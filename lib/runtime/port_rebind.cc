#include "runtime/port_rebind.h"

#include <algorithm>

namespace dquic {

namespace {

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86dd;
constexpr std::uint16_t kEtherVlan = 0x8100;
constexpr std::uint16_t kEtherQinQ = 0x88a8;
constexpr std::uint8_t kUdp = 17;

std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

// The UDP header of an Ethernet (+ up to two VLAN tags) / IPv4 or IPv6 / UDP
// frame in the first segment, or null. The frames we build and the peer's
// have no IPv6 extension headers; anything else is left alone.
std::uint8_t* udp_header(rte_mbuf* m) {
  std::uint8_t* p = rte_pktmbuf_mtod(m, std::uint8_t*);
  const std::uint32_t len = m->data_len;
  std::uint32_t off = 12;
  if (len < off + 2) return nullptr;
  std::uint16_t type = get16(p + off);
  for (int tags = 0; (type == kEtherVlan || type == kEtherQinQ) && tags < 2; ++tags) {
    off += 4;
    if (len < off + 2) return nullptr;
    type = get16(p + off);
  }
  off += 2;
  if (type == kEtherIpv4) {
    if (len < off + 20 || p[off + 9] != kUdp) return nullptr;
    // A later fragment has no UDP header.
    if ((get16(p + off + 6) & 0x1fff) != 0) return nullptr;
    off += (p[off] & 0x0f) * 4u;
  } else if (type == kEtherIpv6) {
    if (len < off + 40 || p[off + 6] != kUdp) return nullptr;
    off += 40;
  } else {
    return nullptr;
  }
  return len < off + 8 ? nullptr : p + off;
}

// Moves the port at `at` (a UDP header field) to `to`, keeping the checksum
// valid: in software by RFC 1624, nothing to do when the NIC will compute it
// (the pseudo-header sum it starts from has no ports) or when there is none.
void rewrite_port(rte_mbuf* m, std::uint8_t* udp, std::uint8_t* at, std::uint16_t to) {
  const std::uint16_t from = get16(at);
  put16(at, to);
  if ((m->ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_UDP_CKSUM) return;
  const std::uint16_t hc = get16(udp + 6);
  if (hc == 0) return;  // IPv4 without a checksum
  std::uint16_t updated = internet_checksum_update(hc, from, to);
  if (updated == 0) updated = 0xffff;  // RFC 768: a computed 0 is sent as all ones
  put16(udp + 6, updated);
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

bool PortRebind::active(Time now) {
  if (after_frames_ > 0) return received_ >= after_frames_;
  if (after_ <= 0) return false;
  if (origin_ == kNever) origin_ = now;
  return now - origin_ >= after_;
}

bool PortRebind::on_send(rte_mbuf* m, Time now) {
  if (!active(now)) return false;
  std::uint8_t* udp = udp_header(m);
  if (udp == nullptr) return false;
  const std::uint16_t port = get16(udp);
  if (std::find(moved_.begin(), moved_.begin() + moved_count_, port) ==
      moved_.begin() + moved_count_) {
    if (moved_count_ == kMaxPorts) return false;  // a test uses a few ports
    moved_[moved_count_++] = port;
  }
  rewrite_port(m, udp, udp, static_cast<std::uint16_t>(port + kPortShift));
  return true;
}

bool PortRebind::on_receive(rte_mbuf* m, Time now) {
  ++received_;
  if (!active(now)) return false;
  std::uint8_t* udp = udp_header(m);
  if (udp == nullptr) return false;
  const auto original = static_cast<std::uint16_t>(get16(udp + 2) - kPortShift);
  if (std::find(moved_.begin(), moved_.begin() + moved_count_, original) ==
      moved_.begin() + moved_count_)
    return false;  // not a moved port (the old one included): as it is
  rewrite_port(m, udp, udp + 2, original);
  return true;
}

}  // namespace dquic
