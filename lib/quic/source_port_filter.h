// UDP source ports a server should never answer statelessly (RFC 9000
// §21.5.6). A spoofed datagram "from" a victim's reflection-prone service
// would otherwise make us send a Version Negotiation, Retry or Stateless
// Reset to that service, which may answer us (a loop) or a third party (an
// amplified attack): §21.5.6 lets endpoints avoid ports that are "common
// targets of attacks".
//
// Apply it to datagrams that match no connection, before any stateless reply
// or new connection state, as msquic does (QuicBindingDropBlockedSourcePorts
// in src/core/binding.c, whose list this one follows; picoquic has a similar
// list). Real clients send from ephemeral ports (49152-65535 IANA,
// 32768-60999 Linux) and NATs map them to unprivileged ports, so the ports
// below 1024 cost nothing; 1900, 5353 and 11211 could in principle be a NAT
// mapping, which msquic accepts as a rare failure for the protection.
#pragma once

#include <array>
#include <cstdint>

namespace dquic {

// Sorted ascending for the early-exit scan below.
inline constexpr std::array<std::uint16_t, 15> kReflectionProneSourcePorts = {
    0,      // not a valid source port: always spoofed or broken
    7,      // echo: reflects every datagram back (not in msquic's list; no client uses it)
    17,     // QOTD: answers any datagram
    19,     // chargen: answers any datagram, amplifying
    53,     // DNS: reflection/amplification
    111,    // portmap (RPC): amplification
    123,    // NTP: amplification (monlist)
    137,    // NetBIOS name service
    138,    // NetBIOS datagram service
    161,    // SNMP: amplification
    389,    // CLDAP: amplification
    500,    // IKE: responders answer unauthenticated initiations
    1900,   // SSDP: amplification
    5353,   // mDNS: amplification
    11211,  // memcached: very high amplification
};

constexpr bool is_reflection_prone_source_port(std::uint16_t port) {
  for (std::uint16_t p : kReflectionProneSourcePorts) {
    if (p == port) return true;
    if (p > port) return false;
  }
  return false;
}

}  // namespace dquic
