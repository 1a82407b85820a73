#include "quic/transport_params.h"

#include <algorithm>

namespace dquic {

namespace {

using Id = TransportParameterId;

constexpr TransportError kOk = TransportError::kNoError;
constexpr TransportError kBad = TransportError::kTransportParameterError;

// Largest N whose reserved ID 31 * N + 27 still fits a varint (§18.1, §16).
constexpr std::uint64_t kMaxGreaseN = (kVarintMax - 27) / 31;

// Preferred Address without its Connection ID (§18.2 Figure 22).
constexpr std::size_t kPreferredAddressFixedLength =
    4 + 2 + 16 + 2 + 1 + kStatelessResetTokenLength;

// Integer parameters are one varint that must fill the value exactly (§18.2);
// trailing bytes or a short varint are malformed.
bool parse_int(ByteSpan v, std::uint64_t* out) {
  const std::size_t n = varint_read(v.data(), v.size(), out);
  return n != 0 && n == v.size();
}

bool parse_cid(ByteSpan v, std::optional<ConnectionId>* out) {
  ConnectionId cid;
  if (!ConnectionId::from(v, &cid)) return false;  // > 20 bytes (§17.2)
  *out = cid;
  return true;
}

bool parse_token(ByteSpan v, StatelessResetToken* out) {
  if (v.size() != kStatelessResetTokenLength) return false;
  std::copy(v.begin(), v.end(), out->begin());
  return true;
}

bool parse_preferred_address(ByteSpan v, PreferredAddress* out) {
  Reader r(v);
  ByteSpan b;
  std::uint64_t port;
  if (!r.read_bytes(4, &b)) return false;
  std::copy(b.begin(), b.end(), out->ipv4_address.begin());
  if (!r.read_uint(2, &port)) return false;
  out->ipv4_port = static_cast<std::uint16_t>(port);
  if (!r.read_bytes(16, &b)) return false;
  std::copy(b.begin(), b.end(), out->ipv6_address.begin());
  if (!r.read_uint(2, &port)) return false;
  out->ipv6_port = static_cast<std::uint16_t>(port);
  std::uint8_t cid_len;
  // The CID length byte must agree with the parameter length, so the token
  // ends exactly at the end of the value.
  if (!r.read_u8(&cid_len) || v.size() != kPreferredAddressFixedLength + cid_len) return false;
  if (!r.read_bytes(cid_len, &b) || !ConnectionId::from(b, &out->connection_id)) return false;
  if (!r.read_bytes(kStatelessResetTokenLength, &b)) return false;
  return parse_token(b, &out->stateless_reset_token);
}

// RFC 9368 §4: too short, not a multiple of four, a zero version, or (from a
// client) a Chosen Version missing from Available Versions is a parsing
// failure, i.e. TRANSPORT_PARAMETER_ERROR in QUIC v1. The whole list is
// checked even though only kMaxAvailableVersions entries are kept.
bool parse_version_information(ByteSpan v, EndpointRole sender, VersionInformation* out) {
  if (v.size() < 4 || v.size() % 4 != 0) return false;
  Reader r(v);
  VersionInformation vi;
  if (!r.read_u32(&vi.chosen_version) || vi.chosen_version == 0) return false;
  bool chosen_listed = false;
  while (!r.empty()) {
    std::uint32_t ver;
    if (!r.read_u32(&ver) || ver == 0) return false;
    chosen_listed |= ver == vi.chosen_version;
    if (vi.available_count < kMaxAvailableVersions) {
      vi.available_versions[vi.available_count++] = ver;
    } else {
      vi.available_versions_truncated = true;
    }
  }
  if (sender == EndpointRole::kClient && !chosen_listed) return false;
  *out = vi;
  return true;
}

// Fills the parameter `id` of `p` from `v`. Returns false if malformed.
// Value-range and role rules are left to validate_transport_parameters().
bool parse_parameter(std::uint64_t id, ByteSpan v, EndpointRole sender, TransportParameters* p) {
  switch (static_cast<Id>(id)) {
    case Id::kOriginalDestinationConnectionId:
      return parse_cid(v, &p->original_destination_connection_id);
    case Id::kMaxIdleTimeout:
      return parse_int(v, &p->max_idle_timeout);
    case Id::kStatelessResetToken:
      return parse_token(v, &p->stateless_reset_token.emplace());
    case Id::kMaxUdpPayloadSize:
      return parse_int(v, &p->max_udp_payload_size);
    case Id::kInitialMaxData:
      return parse_int(v, &p->initial_max_data);
    case Id::kInitialMaxStreamDataBidiLocal:
      return parse_int(v, &p->initial_max_stream_data_bidi_local);
    case Id::kInitialMaxStreamDataBidiRemote:
      return parse_int(v, &p->initial_max_stream_data_bidi_remote);
    case Id::kInitialMaxStreamDataUni:
      return parse_int(v, &p->initial_max_stream_data_uni);
    case Id::kInitialMaxStreamsBidi:
      return parse_int(v, &p->initial_max_streams_bidi);
    case Id::kInitialMaxStreamsUni:
      return parse_int(v, &p->initial_max_streams_uni);
    case Id::kAckDelayExponent:
      return parse_int(v, &p->ack_delay_exponent);
    case Id::kMaxAckDelay:
      return parse_int(v, &p->max_ack_delay);
    case Id::kDisableActiveMigration:
      p->disable_active_migration = true;
      return v.empty();  // §18.2: a zero-length value
    case Id::kPreferredAddress:
      return parse_preferred_address(v, &p->preferred_address.emplace());
    case Id::kActiveConnectionIdLimit:
      return parse_int(v, &p->active_connection_id_limit);
    case Id::kInitialSourceConnectionId:
      return parse_cid(v, &p->initial_source_connection_id);
    case Id::kRetrySourceConnectionId:
      return parse_cid(v, &p->retry_source_connection_id);
    case Id::kVersionInformation:
      return parse_version_information(v, sender, &p->version_information.emplace());
    case Id::kMaxDatagramFrameSize:
      return parse_int(v, &p->max_datagram_frame_size);
    case Id::kGreaseQuicBit:
      p->grease_quic_bit = true;
      return v.empty();  // RFC 9287 §3: a zero-length value
  }
  return true;  // §7.4.2: unknown parameters, grease included, are ignored
}

void put_header(Writer& w, Id id, std::size_t len) {
  w.write_varint(static_cast<std::uint64_t>(id));
  w.write_varint(len);
}

void put_int(Writer& w, Id id, std::uint64_t v, std::uint64_t default_value) {
  if (v == default_value) return;  // absent means default (§18.2)
  const std::size_t len = varint_size(v);
  if (len == 0) {  // > 2^62 - 1: not encodable; make the writer fail
    w.write_varint(v);
    return;
  }
  put_header(w, id, len);
  w.write_varint(v, len);
}

void put_cid(Writer& w, Id id, const std::optional<ConnectionId>& cid) {
  if (!cid) return;
  put_header(w, id, cid->length);
  w.write_bytes(cid->span());
}

}  // namespace

bool operator==(const VersionInformation& a, const VersionInformation& b) {
  return a.chosen_version == b.chosen_version && a.available_count == b.available_count &&
         a.available_versions_truncated == b.available_versions_truncated &&
         std::equal(a.available().begin(), a.available().end(), b.available().begin());
}

TransportError validate_transport_parameters(const TransportParameters& p, EndpointRole sender) {
  // RFC 9000 §18.2: server-only parameters.
  if (sender == EndpointRole::kClient &&
      (p.original_destination_connection_id || p.stateless_reset_token || p.preferred_address ||
       p.retry_source_connection_id)) {
    return kBad;
  }
  // RFC 9000 §18.2 value ranges.
  if (p.max_udp_payload_size < kMinMaxUdpPayloadSize) return kBad;
  if (p.ack_delay_exponent > kMaxAckDelayExponent) return kBad;
  if (p.max_ack_delay >= kMaxAckDelayLimitMs) return kBad;
  if (p.active_connection_id_limit < kMinActiveConnectionIdLimit) return kBad;
  // RFC 9000 §4.6, §19.11: more than 2^60 streams cannot be addressed.
  if (p.initial_max_streams_bidi > kMaxStreamsLimit) return kBad;
  if (p.initial_max_streams_uni > kMaxStreamsLimit) return kBad;
  if (p.preferred_address) {
    // RFC 9000 §18.2: a zero-length CID in preferred_address, or a preferred
    // address from a server that uses zero-length CIDs, is invalid.
    if (p.preferred_address->connection_id.empty()) return kBad;
    if (p.initial_source_connection_id && p.initial_source_connection_id->empty()) return kBad;
  }
  if (p.version_information) {
    // RFC 9368 §4; a client's list must hold its Chosen Version. A truncated
    // list was checked in full when decoded.
    const VersionInformation& vi = *p.version_information;
    if (vi.available_count > kMaxAvailableVersions || vi.chosen_version == 0) return kBad;
    const auto avail = vi.available();
    if (std::find(avail.begin(), avail.end(), 0u) != avail.end()) return kBad;
    if (sender == EndpointRole::kClient && !vi.available_versions_truncated &&
        std::find(avail.begin(), avail.end(), vi.chosen_version) == avail.end()) {
      return kBad;
    }
  }
  return kOk;
}

TransportError decode_transport_parameters(ByteSpan in, EndpointRole sender,
                                           TransportParameters* out) {
  TransportParameters p;
  // §7.4.2: a repeated ID, known or not, is an error. IDs seen so far live in a
  // fixed array; kMaxTransportParameters bounds it and the O(n^2) scan.
  std::array<std::uint64_t, kMaxTransportParameters> seen;
  std::size_t n_seen = 0;
  Reader r(in);
  while (!r.empty()) {
    std::uint64_t id;
    std::uint64_t len;
    ByteSpan value;
    if (!r.read_varint(&id) || !r.read_varint(&len)) return kBad;
    if (len > r.remaining() || !r.read_bytes(static_cast<std::size_t>(len), &value)) return kBad;
    if (std::find(seen.begin(), seen.begin() + n_seen, id) != seen.begin() + n_seen) return kBad;
    if (n_seen == seen.size()) return kBad;
    seen[n_seen++] = id;
    if (!parse_parameter(id, value, sender, &p)) return kBad;
  }
  if (validate_transport_parameters(p, sender) != kOk) return kBad;
  *out = p;
  return kOk;
}

bool encode_transport_parameters(const TransportParameters& p, EndpointRole sender, Writer& w,
                                 const GreaseTransportParameter* grease) {
  if (!w.ok()) return false;  // rewinding would clear the caller's failure
  if (validate_transport_parameters(p, sender) != kOk) return false;
  // A truncated list (decode side) cannot be re-sent faithfully.
  if (p.version_information && p.version_information->available_versions_truncated) return false;
  if (grease && grease->n > kMaxGreaseN) return false;

  const std::size_t mark = w.written();
  put_cid(w, Id::kOriginalDestinationConnectionId, p.original_destination_connection_id);
  put_int(w, Id::kMaxIdleTimeout, p.max_idle_timeout, 0);
  if (p.stateless_reset_token) {
    put_header(w, Id::kStatelessResetToken, kStatelessResetTokenLength);
    w.write_bytes(*p.stateless_reset_token);
  }
  put_int(w, Id::kMaxUdpPayloadSize, p.max_udp_payload_size, kDefaultMaxUdpPayloadSize);
  put_int(w, Id::kInitialMaxData, p.initial_max_data, 0);
  put_int(w, Id::kInitialMaxStreamDataBidiLocal, p.initial_max_stream_data_bidi_local, 0);
  put_int(w, Id::kInitialMaxStreamDataBidiRemote, p.initial_max_stream_data_bidi_remote, 0);
  put_int(w, Id::kInitialMaxStreamDataUni, p.initial_max_stream_data_uni, 0);
  put_int(w, Id::kInitialMaxStreamsBidi, p.initial_max_streams_bidi, 0);
  put_int(w, Id::kInitialMaxStreamsUni, p.initial_max_streams_uni, 0);
  put_int(w, Id::kAckDelayExponent, p.ack_delay_exponent, kDefaultAckDelayExponent);
  put_int(w, Id::kMaxAckDelay, p.max_ack_delay, kDefaultMaxAckDelayMs);
  if (p.disable_active_migration) put_header(w, Id::kDisableActiveMigration, 0);
  if (p.preferred_address) {
    const PreferredAddress& pa = *p.preferred_address;
    put_header(w, Id::kPreferredAddress, kPreferredAddressFixedLength + pa.connection_id.length);
    w.write_bytes(pa.ipv4_address);
    w.write_uint(pa.ipv4_port, 2);
    w.write_bytes(pa.ipv6_address);
    w.write_uint(pa.ipv6_port, 2);
    w.write_u8(pa.connection_id.length);
    w.write_bytes(pa.connection_id.span());
    w.write_bytes(pa.stateless_reset_token);
  }
  put_int(w, Id::kActiveConnectionIdLimit, p.active_connection_id_limit,
          kDefaultActiveConnectionIdLimit);
  put_cid(w, Id::kInitialSourceConnectionId, p.initial_source_connection_id);
  put_cid(w, Id::kRetrySourceConnectionId, p.retry_source_connection_id);
  if (p.version_information) {
    const VersionInformation& vi = *p.version_information;
    put_header(w, Id::kVersionInformation, 4 * (std::size_t{1} + vi.available_count));
    w.write_u32(vi.chosen_version);
    for (std::uint32_t v : vi.available())
      w.write_u32(v);
  }
  put_int(w, Id::kMaxDatagramFrameSize, p.max_datagram_frame_size, 0);
  if (p.grease_quic_bit) put_header(w, Id::kGreaseQuicBit, 0);
  if (grease) {
    w.write_varint(grease_transport_parameter_id(grease->n));
    w.write_varint(grease->value.size());
    w.write_bytes(grease->value);
  }
  if (!w.ok()) {
    w.rewind(mark);
    return false;
  }
  return true;
}

}  // namespace dquic
