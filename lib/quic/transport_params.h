// QUIC transport parameters (RFC 9000 §7.4, §18): the codec for the
// quic_transport_parameters TLS extension, with the per-parameter validation
// that needs nothing but the parameters themselves.
//
// Checks that need connection state happen in the connection, not here:
// - §7.3: initial_source_connection_id must match the SCID of the peer's first
//   Initial, original_destination_connection_id / retry_source_connection_id
//   must match what the client sent / the Retry, and required CID parameters
//   must be present;
// - RFC 9368 §4: downgrade checks of version_information against the version
//   in use;
// - §7.4.1: 0-RTT parameters must not be reduced.
//
// Neither direction allocates: TransportParameters is a fixed-size value and
// both functions work on caller-owned buffers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "quic/buffer.h"
#include "quic/connection_id.h"
#include "quic/error.h"
#include "quic/role.h"

namespace dquic {

enum class TransportParameterId : std::uint64_t {
  // RFC 9000 §18.2
  kOriginalDestinationConnectionId = 0x00,
  kMaxIdleTimeout = 0x01,
  kStatelessResetToken = 0x02,
  kMaxUdpPayloadSize = 0x03,
  kInitialMaxData = 0x04,
  kInitialMaxStreamDataBidiLocal = 0x05,
  kInitialMaxStreamDataBidiRemote = 0x06,
  kInitialMaxStreamDataUni = 0x07,
  kInitialMaxStreamsBidi = 0x08,
  kInitialMaxStreamsUni = 0x09,
  kAckDelayExponent = 0x0a,
  kMaxAckDelay = 0x0b,
  kDisableActiveMigration = 0x0c,
  kPreferredAddress = 0x0d,
  kActiveConnectionIdLimit = 0x0e,
  kInitialSourceConnectionId = 0x0f,
  kRetrySourceConnectionId = 0x10,
  kVersionInformation = 0x11,    // RFC 9368 §3
  kMaxDatagramFrameSize = 0x20,  // RFC 9221 §3
  kGreaseQuicBit = 0x2ab2,       // RFC 9287 §3
};

// RFC 9000 §18.2 defaults and limits.
inline constexpr std::uint64_t kDefaultMaxUdpPayloadSize = 65527;
inline constexpr std::uint64_t kMinMaxUdpPayloadSize = 1200;
inline constexpr std::uint64_t kDefaultAckDelayExponent = 3;
inline constexpr std::uint64_t kMaxAckDelayExponent = 20;
inline constexpr std::uint64_t kDefaultMaxAckDelayMs = 25;
inline constexpr std::uint64_t kMaxAckDelayLimitMs = std::uint64_t{1} << 14;  // exclusive
inline constexpr std::uint64_t kDefaultActiveConnectionIdLimit = 2;
inline constexpr std::uint64_t kMinActiveConnectionIdLimit = 2;
// RFC 9000 §4.6: stream counts above 2^60 cannot be expressed as stream IDs.
inline constexpr std::uint64_t kMaxStreamsLimit = std::uint64_t{1} << 60;
inline constexpr std::size_t kStatelessResetTokenLength = 16;

// Resource bound, not an RFC limit: decoding rejects input with more
// parameters than this (TRANSPORT_PARAMETER_ERROR). Duplicate detection
// (§7.4.2) remembers every ID seen in a fixed array, so this bounds both stack
// use and the quadratic scan. Real peers send ~20 plus a few grease entries.
inline constexpr std::size_t kMaxTransportParameters = 256;

// Bound on stored RFC 9368 Available Versions. Longer lists are fully
// validated (§4: no zero entries; a client's list must contain its Chosen
// Version) but only the first kMaxAvailableVersions are kept and
// `available_versions_truncated` is set, so the connection's downgrade check
// can be conservative. Rejecting long lists would break a valid peer.
inline constexpr std::size_t kMaxAvailableVersions = 16;

using StatelessResetToken = std::array<std::uint8_t, kStatelessResetTokenLength>;

// RFC 9000 §18.2 Figure 22. An all-zero address and port means "no address of
// this family".
struct PreferredAddress {
  std::array<std::uint8_t, 4> ipv4_address{};  // network byte order
  std::uint16_t ipv4_port = 0;
  std::array<std::uint8_t, 16> ipv6_address{};  // network byte order
  std::uint16_t ipv6_port = 0;
  ConnectionId connection_id;  // 1..20 bytes: zero-length is invalid (§18.2)
  StatelessResetToken stateless_reset_token{};

  friend bool operator==(const PreferredAddress&, const PreferredAddress&) = default;
};

// RFC 9368 §3 Version Information.
struct VersionInformation {
  std::uint32_t chosen_version = 0;
  std::uint8_t available_count = 0;  // entries used in available_versions
  std::array<std::uint32_t, kMaxAvailableVersions> available_versions{};
  bool available_versions_truncated = false;  // peer sent more than we keep

  std::span<const std::uint32_t> available() const {
    return {available_versions.data(), available_count};
  }
  // Unused array slots do not take part.
  friend bool operator==(const VersionInformation& a, const VersionInformation& b);
};

// Every parameter holds its RFC default when absent, so integer parameters
// need no presence flag: an explicit default and an absent parameter mean the
// same (§18.2). Parameters whose presence carries meaning are std::optional.
struct TransportParameters {
  std::optional<ConnectionId> original_destination_connection_id;  // server only
  std::uint64_t max_idle_timeout = 0;                              // ms, 0 = none
  std::optional<StatelessResetToken> stateless_reset_token;        // server only
  std::uint64_t max_udp_payload_size = kDefaultMaxUdpPayloadSize;
  std::uint64_t initial_max_data = 0;
  std::uint64_t initial_max_stream_data_bidi_local = 0;
  std::uint64_t initial_max_stream_data_bidi_remote = 0;
  std::uint64_t initial_max_stream_data_uni = 0;
  std::uint64_t initial_max_streams_bidi = 0;
  std::uint64_t initial_max_streams_uni = 0;
  std::uint64_t ack_delay_exponent = kDefaultAckDelayExponent;
  std::uint64_t max_ack_delay = kDefaultMaxAckDelayMs;  // ms
  bool disable_active_migration = false;
  std::optional<PreferredAddress> preferred_address;  // server only
  std::uint64_t active_connection_id_limit = kDefaultActiveConnectionIdLimit;
  std::optional<ConnectionId> initial_source_connection_id;
  std::optional<ConnectionId> retry_source_connection_id;  // server only
  std::uint64_t max_datagram_frame_size = 0;               // RFC 9221: 0 = no DATAGRAM
  std::optional<VersionInformation> version_information;   // RFC 9368
  bool grease_quic_bit = false;                            // RFC 9287

  friend bool operator==(const TransportParameters&, const TransportParameters&) = default;
};

// A reserved parameter (RFC 9000 §18.1) for the encoder to add so peers keep
// ignoring unknown parameters (§7.4.2). The caller picks N and the value (the
// codec never reads an RNG); the ID is 31 * n + 27.
struct GreaseTransportParameter {
  std::uint64_t n = 0;
  ByteSpan value;
};

constexpr std::uint64_t grease_transport_parameter_id(std::uint64_t n) {
  return 31 * n + 27;
}
constexpr bool is_grease_transport_parameter_id(std::uint64_t id) {
  return id >= 27 && (id - 27) % 31 == 0;
}

// kNoError if `p` could be sent by `sender`: the per-parameter rules of
// RFC 9000 §18.2, RFC 9221 §3 and RFC 9368 §4 that decoding enforces.
// Otherwise kTransportParameterError.
[[nodiscard]] TransportError validate_transport_parameters(const TransportParameters& p,
                                                           EndpointRole sender);

// Decodes the extension_data of quic_transport_parameters sent by `sender`.
// On success fills *out (absent parameters get defaults) and returns kNoError.
// Any malformed, invalid, duplicated (known or unknown, §7.4.2) or
// role-forbidden parameter yields kTransportParameterError (§7.4, §18.2) and
// leaves *out untouched. Unknown parameters are otherwise ignored (§7.4.2).
[[nodiscard]] TransportError decode_transport_parameters(ByteSpan in, EndpointRole sender,
                                                         TransportParameters* out);

// Appends `p` as sent by `sender`: only parameters that are present or differ
// from their default, in ID order, then `grease` if given. Returns false, with
// `w` rewound to where it was, if `w` is too small or `p` fails
// validate_transport_parameters (e.g. a server-only parameter from a client).
[[nodiscard]] bool encode_transport_parameters(const TransportParameters& p, EndpointRole sender,
                                               Writer& w,
                                               const GreaseTransportParameter* grease = nullptr);

}  // namespace dquic
