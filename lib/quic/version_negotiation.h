// Version negotiation: the server's stateless Version Negotiation reply
// (RFC 9000 §5.2.2, §6.1, §17.2.1), the client's handling of one (RFC 9000
// §6.2, RFC 9368 §2.1, §4), and compatible version negotiation with its
// downgrade checks (RFC 9368 §2.3, §4; v1 and v2 are mutually compatible,
// RFC 9369 §4).
//
// Version lists are in preference order, most preferred first. The
// version_information transport parameter itself is parsed and checked for
// zero versions, lengths and (from a client) the Chosen Version being listed
// by transport_params.cc; what needs the connection's versions is here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "quic/buffer.h"
#include "quic/error.h"
#include "quic/packet_header.h"
#include "quic/transport_params.h"  // VersionInformation

namespace dquic {

// RFC 9000 §14.1: the smallest datagram that can carry a v1 or v2 Initial.
inline constexpr std::size_t kMinInitialDatagramSize = 1200;

// Bound on the versions a Version Negotiation packet built here lists,
// including the greased one.
inline constexpr std::size_t kMaxVersionNegotiationVersions = 16;

// ---- Server --------------------------------------------------------------

// RFC 9000 §5.2.2, §6.1: whether to answer a datagram whose first packet has
// header `h` with Version Negotiation. Only a long header with a version that
// is not in `acceptable` and is not 0 (never answer a Version Negotiation,
// §6.1), in a datagram large enough to start a connection in every version
// we support (1200 bytes for v1 and v2); smaller ones MUST be dropped.
// Connection ID lengths play no part (§17.2.1). The endpoint may also limit
// how many it sends (§5.2.2) and filter source ports (source_port_filter.h).
bool should_send_version_negotiation(const InvariantHeader& h, std::size_t datagram_size,
                                     std::span<const std::uint32_t> acceptable);

// RFC 9000 §17.2.1: writes a Version Negotiation packet answering `received`
// into `out`: its CIDs swapped, `offered` (RFC 9368 §5 Offered Versions, at
// most kMaxVersionNegotiationVersions - 1), then one reserved version
// 0x?a?a?a?a (RFC 9000 §6.3, §15) so clients keep ignoring unknown versions.
// `random` picks the reserved version (low 32 bits) and the first byte's
// unused bits (bits 32-38). Returns the size, or 0 if `offered` is empty or
// too long or `out` too small (the largest is 7 + 2 * 255 + 4 * 16 bytes).
std::size_t build_version_negotiation(const InvariantHeader& received,
                                      std::span<const std::uint32_t> offered, std::uint64_t random,
                                      std::span<std::uint8_t> out);

// RFC 9368 §2.2, RFC 9369 §4: whether a first flight of version `from` can
// be converted to version `to`. Only identical versions and v1 <-> v2.
constexpr bool is_compatible_version(std::uint32_t from, std::uint32_t to) {
  if (from == to) return true;
  return (from == kVersion1 && to == kVersion2) || (from == kVersion2 && to == kVersion1);
}

// RFC 9368 §4: the client's Chosen Version must be the version of the long
// headers that carried its Version Information. Absent information is
// accepted (servers MAY complete the handshake without it). kNoError or
// TransportError::kVersionNegotiationError.
TransportError check_client_version_information(const std::optional<VersionInformation>& client,
                                                std::uint32_t packet_version);

// RFC 9368 §2.3: the Negotiated Version: the first version in the server's
// `preference` that the client's Available Versions list and that the
// client's Chosen Version is compatible with. Falls back to the Chosen
// Version (which the server already accepted by parsing the first flight)
// when the client sent no Version Information or nothing better matches.
std::uint32_t choose_negotiated_version(std::uint32_t client_chosen,
                                        const std::optional<VersionInformation>& client,
                                        std::span<const std::uint32_t> preference);

// The server's Version Information (RFC 9368 §3): Chosen = the Negotiated
// Version, Available = `fully_deployed` (RFC 9368 §5), at most
// kMaxAvailableVersions of them.
VersionInformation server_version_information(std::uint32_t negotiated,
                                              std::span<const std::uint32_t> fully_deployed);

// ---- Client --------------------------------------------------------------

// The client's Version Information for a first flight of `chosen`: Available
// = every version of `preference` that `chosen` is compatible with, in
// preference order, always including `chosen` (RFC 9368 §3).
VersionInformation client_version_information(std::uint32_t chosen,
                                              std::span<const std::uint32_t> preference);

// RFC 9000 §6.2, RFC 9368 §2.1: the first version in `preference` that
// `offered` lists, skipping reserved versions; nullopt if none.
std::optional<std::uint32_t> select_version(std::span<const std::uint32_t> preference,
                                            VersionList offered);

// What the client knows about its current connection attempt.
struct ClientVersionAttempt {
  std::uint32_t chosen_version = kVersion1;  // version of this attempt's first flight
  ByteSpan dcid;                             // DCID of its first Initial
  ByteSpan scid;                             // SCID it sent
  // RFC 9000 §6.2: any packet processed successfully, an earlier Version
  // Negotiation included, ends version negotiation for the attempt.
  bool processed_packet = false;
  // RFC 9368 §4: an attempt started because of a Version Negotiation packet
  // ignores all further ones.
  bool reacted_to_version_negotiation = false;
};

enum class VersionNegotiationAction : std::uint8_t {
  kDiscard,    // ignore the packet, continue the attempt
  kAbort,      // no mutually supported version: abandon the attempt (§6.2)
  kReconnect,  // start a new attempt with *next_version (RFC 9368 §2.1)
};

// Client handling of a parsed Version Negotiation packet (RFC 9000 §6.2,
// RFC 9368 §2.1, §4). Discards it if the attempt is past negotiation, if its
// CIDs do not echo ours (RFC 8999 §6: DCID = our SCID, SCID = our DCID), or
// if it lists the version we used (a forgery or stale, so ignoring it
// prevents a downgrade). Otherwise reconnect with the first version of
// `preference` it lists, or abort if there is none.
VersionNegotiationAction process_version_negotiation(const PacketHeader& vn,
                                                     const ClientVersionAttempt& attempt,
                                                     std::span<const std::uint32_t> preference,
                                                     std::uint32_t* next_version);

// RFC 9368 §4: the client's downgrade checks on the server's Version
// Information. `negotiated_version` is the version the client learned from
// the server's long headers (RFC 9369 §4.1); `sent` is the client's own
// Version Information; `preference` the client's supported versions. Returns
// kNoError or TransportError::kVersionNegotiationError when:
// - the attempt followed a Version Negotiation and the server sent none, or
//   sent an empty Available Versions;
// - the server's Chosen Version is not in the client's Available Versions or
//   differs from `negotiated_version`;
// - after a Version Negotiation, the client would have chosen another
//   version from a Version Negotiation listing the server's Available
//   Versions plus the Negotiated Version. If the server's list was truncated
//   on decoding (kMaxAvailableVersions) this fails unless the attempted
//   version is the client's first preference: a version it prefers might be
//   among those dropped.
TransportError check_server_version_information(const std::optional<VersionInformation>& server,
                                                std::uint32_t negotiated_version,
                                                const VersionInformation& sent,
                                                bool reacted_to_version_negotiation,
                                                std::span<const std::uint32_t> preference);

}  // namespace dquic
