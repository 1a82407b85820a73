#include "quic/version_negotiation.h"

#include <algorithm>
#include <array>

#include "quic/connection_id.h"
#include "quic/packet_header_encode.h"
#include "quic/version.h"

namespace dquic {
namespace {

bool contains(std::span<const std::uint32_t> list, std::uint32_t v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// RFC 9368 §3: reserved versions "will never be selected".
template <typename Listed>
std::optional<std::uint32_t> first_listed(std::span<const std::uint32_t> preference,
                                          Listed listed) {
  for (std::uint32_t v : preference) {
    if (v != kVersionNegotiation && !is_reserved_version(v) && listed(v)) return v;
  }
  return std::nullopt;
}

}  // namespace

bool should_send_version_negotiation(const InvariantHeader& h, std::size_t datagram_size,
                                     std::span<const std::uint32_t> acceptable) {
  return h.long_header && h.version != kVersionNegotiation && !contains(acceptable, h.version) &&
         datagram_size >= kMinInitialDatagramSize;
}

std::size_t build_version_negotiation(const InvariantHeader& received,
                                      std::span<const std::uint32_t> offered, std::uint64_t random,
                                      std::span<std::uint8_t> out) {
  if (offered.empty() || offered.size() >= kMaxVersionNegotiationVersions) return 0;
  std::array<std::uint32_t, kMaxVersionNegotiationVersions> versions;
  std::copy(offered.begin(), offered.end(), versions.begin());
  std::size_t n = offered.size();
  // RFC 9000 §15: 0x?a?a?a?a, the high nibbles random.
  const std::uint32_t grease = (static_cast<std::uint32_t>(random) & 0xf0f0f0f0) | 0x0a0a0a0a;
  if (!contains(offered, grease)) versions[n++] = grease;
  Writer w(out);
  // RFC 9000 §17.2.1: our DCID is the client's SCID and our SCID its DCID.
  if (!encode_version_negotiation(w, static_cast<std::uint8_t>(random >> 32), received.scid,
                                  received.dcid, {versions.data(), n})) {
    return 0;
  }
  return w.written();
}

TransportError check_client_version_information(const std::optional<VersionInformation>& client,
                                                std::uint32_t packet_version) {
  if (client && client->chosen_version != packet_version)
    return TransportError::kVersionNegotiationError;
  return TransportError::kNoError;
}

std::uint32_t choose_negotiated_version(std::uint32_t client_chosen,
                                        const std::optional<VersionInformation>& client,
                                        std::span<const std::uint32_t> preference) {
  if (!client) return client_chosen;
  const std::span<const std::uint32_t> available = client->available();
  const std::optional<std::uint32_t> v = first_listed(preference, [&](std::uint32_t c) {
    return contains(available, c) && is_compatible_version(client_chosen, c);
  });
  return v.value_or(client_chosen);
}

VersionInformation server_version_information(std::uint32_t negotiated,
                                              std::span<const std::uint32_t> fully_deployed) {
  VersionInformation vi;
  vi.chosen_version = negotiated;
  for (std::uint32_t v : fully_deployed) {
    if (vi.available_count == kMaxAvailableVersions) break;
    vi.available_versions[vi.available_count++] = v;
  }
  return vi;
}

VersionInformation client_version_information(std::uint32_t chosen,
                                              std::span<const std::uint32_t> preference) {
  VersionInformation vi;
  vi.chosen_version = chosen;
  bool listed_chosen = false;
  for (std::uint32_t v : preference) {
    if (!is_compatible_version(chosen, v) || vi.available_count == kMaxAvailableVersions) continue;
    vi.available_versions[vi.available_count++] = v;
    listed_chosen |= v == chosen;
  }
  // RFC 9368 §3: the Chosen Version MUST be listed; one missing from the
  // preference goes last, in the last slot if the list is full.
  if (!listed_chosen) {
    if (vi.available_count == kMaxAvailableVersions) --vi.available_count;
    vi.available_versions[vi.available_count++] = chosen;
  }
  return vi;
}

std::optional<std::uint32_t> select_version(std::span<const std::uint32_t> preference,
                                            VersionList offered) {
  return first_listed(preference, [&](std::uint32_t v) { return offered.contains(v); });
}

VersionNegotiationAction process_version_negotiation(const PacketHeader& vn,
                                                     const ClientVersionAttempt& attempt,
                                                     std::span<const std::uint32_t> preference,
                                                     std::uint32_t* next_version) {
  using Action = VersionNegotiationAction;
  if (vn.type != PacketType::kVersionNegotiation || attempt.processed_packet ||
      attempt.reacted_to_version_negotiation) {
    return Action::kDiscard;  // RFC 9000 §6.2, RFC 9368 §4
  }
  // RFC 8999 §6: a packet that does not echo our CIDs was not sent in reply
  // to ours.
  if (!same_bytes(vn.dcid, attempt.scid) || !same_bytes(vn.scid, attempt.dcid)) {
    return Action::kDiscard;
  }
  // RFC 9000 §6.2, RFC 9368 §4: a list with our version cannot be a genuine
  // reply to it.
  const VersionList offered = vn.versions();
  if (offered.contains(attempt.chosen_version)) return Action::kDiscard;
  const std::optional<std::uint32_t> v = select_version(preference, offered);
  if (!v) return Action::kAbort;
  *next_version = *v;
  return Action::kReconnect;
}

TransportError check_server_version_information(const std::optional<VersionInformation>& server,
                                                std::uint32_t negotiated_version,
                                                const VersionInformation& sent,
                                                bool reacted_to_version_negotiation,
                                                std::span<const std::uint32_t> preference) {
  constexpr TransportError kOk = TransportError::kNoError;
  // RFC 9368 §4: MAY complete without it, unless reacting to a VN packet.
  if (!server)
    return reacted_to_version_negotiation ? TransportError::kVersionNegotiationError : kOk;
  if (!contains(sent.available(), server->chosen_version) ||
      server->chosen_version != negotiated_version) {
    return TransportError::kVersionNegotiationError;
  }
  if (!reacted_to_version_negotiation) return kOk;

  const std::span<const std::uint32_t> available = server->available();
  if (available.empty()) return TransportError::kVersionNegotiationError;
  if (server->available_versions_truncated &&
      (preference.empty() || preference.front() != sent.chosen_version)) {
    return TransportError::kVersionNegotiationError;
  }
  // Would a Version Negotiation listing the server's versions have led to
  // the same attempt?
  const std::optional<std::uint32_t> would_choose = first_listed(preference, [&](std::uint32_t v) {
    return v == negotiated_version || contains(available, v);
  });
  return would_choose == sent.chosen_version ? kOk : TransportError::kVersionNegotiationError;
}

}  // namespace dquic
