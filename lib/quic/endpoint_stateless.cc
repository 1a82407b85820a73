// The Endpoint's stateless replies (Version Negotiation, Retry, Stateless
// Reset, CONNECTION_CLOSE to refused Initials), its 0-RTT buffer, and the
// keyed hash of its route table.
#include <algorithm>
#include <cassert>
#include <cstring>
#include <string_view>

#include "quic/endpoint.h"
#include "quic/endpoint_internal.h"
#include "quic/initial_close.h"
#include "quic/packet_header_encode.h"
#include "quic/retry_integrity.h"
#include "quic/siphash.h"
#include "quic/version_negotiation.h"

namespace dquic {
namespace {

// Unpredictable bytes of a Stateless Reset: with the token, at most 64
// bytes, the size of a small 1-RTT packet (RFC 9000 §10.3 wants resets hard
// to tell from them). Smaller triggers get one byte less than themselves.
constexpr std::size_t kResetUnpredictableBytes = 48;

// RFC 9000 §8.1: before validating the client's address a server sends at
// most three times what it received. A refused Initial came in a datagram
// of at least 1200 bytes (§14.1), so its close is always far below that.
constexpr std::size_t kAmplificationFactor = 3;
static_assert(kMaxInitialCloseSize <= kAmplificationFactor * kMinInitialDatagramSize);

struct Refusal {
  TransportError error;
  std::string_view reason;  // RFC 9000 §19.19: short, for diagnostics
};

Refusal refusal_of(EndpointDrop why) {
  switch (why) {
    case EndpointDrop::kInvalidRetryToken:
      return {TransportError::kInvalidToken, "invalid retry token"};  // §8.1.2
    case EndpointDrop::kConnectionLimit:
      return {TransportError::kConnectionRefused, "server full"};  // §5.2.2
    default:
      return {TransportError::kConnectionRefused, "refused"};
  }
}

EndpointDecision respond(EndpointDecision::Response kind, std::size_t length) {
  EndpointDecision d;
  d.kind = EndpointDecision::Kind::kRespond;
  d.response = kind;
  d.response_length = length;
  return d;
}

}  // namespace

std::size_t Endpoint::CidHash::operator()(const ConnectionId& c) const {
  return static_cast<std::size_t>(siphash13(k0, k1, c.span()));
}

EndpointDecision Endpoint::send_version_negotiation(const InvariantHeader& h, Time now,
                                                    std::span<std::uint8_t> response) {
  // RFC 9000 §5.2.2: bounded, so a flood of unknown versions costs a
  // bounded number of replies.
  if (!version_negotiation_limiter_.allow(now / kMillisecond))
    return dropped(EndpointDrop::kVersionNegotiationLimited);
  // RFC 9000 §6.1, §17.2.1: our versions and a greased one, CIDs echoed.
  std::array<std::uint8_t, 8> r{};
  config_.connection.random(r);
  std::uint64_t random = 0;
  for (std::uint8_t b : r)
    random = (random << 8) | b;
  const std::size_t n = build_version_negotiation(h, config_.versions, random, response);
  if (n == 0) return dropped(EndpointDrop::kResponseBufferTooSmall);
  ++counters_.version_negotiation_sent;
  return respond(EndpointDecision::Response::kVersionNegotiation, n);
}

EndpointDecision Endpoint::send_retry(const PacketHeader& h, const PeerAddress& from, Time now,
                                      std::span<std::uint8_t> response) {
  // RFC 9000 §8.1.2, §17.2.5: a new SCID, which the client's next Initial
  // uses as its DCID, and a token that carries everything needed to build
  // the connection then: the original DCID and this SCID (§7.3).
  ConnectionId retry_scid, odcid;
  (void)ConnectionId::from(h.dcid, &odcid);
  if (!generator_->generate(config_.worker, &retry_scid))
    return dropped(EndpointDrop::kSetupFailed);
  std::array<std::uint8_t, kMaxTokenLength> token;
  const std::size_t token_length =
      config_.address_tokens->seal_retry(from, h.version, odcid, retry_scid, token_ms(now), token);
  if (token_length == 0) return dropped(EndpointDrop::kSetupFailed);

  std::array<std::uint8_t, 1> bits{};
  config_.connection.random(bits);
  RetrySpec spec;
  spec.version = h.version;
  spec.dcid = h.scid;
  spec.scid = retry_scid.span();
  spec.token = ByteSpan(token.data(), token_length);
  spec.unused_bits = bits[0] & 0x0f;
  Writer w(response);
  std::size_t tag_offset = 0;
  if (!encode_retry(w, spec, &tag_offset)) return dropped(EndpointDrop::kResponseBufferTooSmall);
  // RFC 9001 §5.8: the tag covers the pseudo-packet with the client's DCID.
  if (!compute_retry_integrity_tag(h.version, h.dcid, ByteSpan(response.data(), tag_offset),
                                   std::span<std::uint8_t, kRetryIntegrityTagLength>(
                                       response.data() + tag_offset, kRetryIntegrityTagLength)))
    return dropped(EndpointDrop::kSetupFailed);
  ++counters_.retry_sent;
  return respond(EndpointDecision::Response::kRetry, w.written());
}

EndpointDecision Endpoint::send_stateless_reset(ByteSpan datagram, ByteSpan dcid, Time now,
                                                std::span<std::uint8_t> response) {
  if (config_.reset_tokens == nullptr) return dropped(EndpointDrop::kNoResetKey);
  // RFC 9000 §10.3, §10.3.3: the reset must be smaller than its trigger and
  // at least 21 bytes, so a trigger of 21 bytes or fewer (possibly a reset
  // itself) gets none: two endpoints cannot reset each other forever.
  if (datagram.size() <= kMinStatelessResetSize) return dropped(EndpointDrop::kTooSmallForReset);
  if (response.size() < kMinStatelessResetSize)
    return dropped(EndpointDrop::kResponseBufferTooSmall);
  if (!reset_limiter_.allow(now / kMillisecond)) return dropped(EndpointDrop::kResetRateLimited);
  StatelessResetToken token;
  // §10.3.2: the token any instance holding the key derives for this CID.
  if (!config_.reset_tokens->token_for(dcid, &token)) return dropped(EndpointDrop::kSetupFailed);
  std::array<std::uint8_t, kResetUnpredictableBytes> unpredictable;
  config_.connection.random(unpredictable);
  const std::size_t n = build_stateless_reset(token, datagram.size(), unpredictable, response);
  if (n == 0) return dropped(EndpointDrop::kResponseBufferTooSmall);
  ++counters_.stateless_reset_sent;
  return respond(EndpointDecision::Response::kStatelessReset, n);
}

EndpointDecision Endpoint::refuse_initial(ByteSpan datagram, const PacketHeader& h,
                                          EndpointDrop why, Time now,
                                          std::span<std::uint8_t> response) {
  // The refusal is counted whether or not it is answered; unanswered, the
  // client times out as it did before the answer existed.
  EndpointDecision d = dropped(why);
  if (response.size() < kMaxInitialCloseSize) {
    ++counters_.dropped[static_cast<std::size_t>(EndpointDrop::kResponseBufferTooSmall)];
    return d;
  }
  // Spoofed Initials cost us a key derivation and a reply each: bounded.
  if (!initial_close_limiter_.allow(now / kMillisecond)) {
    ++counters_.connection_close_limited;
    return d;
  }
  // RFC 9000 §5.2.2, §8.1.2, §10.2.3: an Initial in the client's version
  // with the server Initial keys of the DCID it chose (RFC 9001 §5.2), the
  // CIDs swapped; we hold no state for it.
  const Refusal r = refusal_of(why);
  InitialCloseSpec spec;
  spec.version = h.version;
  spec.client_dcid = h.dcid;
  spec.client_scid = h.scid;
  spec.error = r.error;
  spec.reason = r.reason;
  const std::size_t n = build_initial_close(spec, response);
  if (n == 0) {
    ++counters_.dropped[static_cast<std::size_t>(EndpointDrop::kSetupFailed)];
    return d;
  }
  assert(n <= kAmplificationFactor * datagram.size());
  if (n > kAmplificationFactor * datagram.size()) return d;  // §8.1; unreachable, see above
  ++counters_.connection_close_sent;
  d = respond(EndpointDecision::Response::kConnectionClose, n);
  d.drop = why;
  return d;
}

EndpointDecision Endpoint::buffer_zero_rtt(ByteSpan datagram, const PacketHeader& h,
                                           const PeerAddress& from, Time now) {
  // RFC 9000 §5.2.2: a server MAY buffer a limited number of 0-RTT packets
  // in anticipation of a late Initial. Their DCID is the client's first,
  // at least 8 bytes (§7.2).
  if (!config_.accept_connections || h.dcid.size() < 8)
    return dropped(EndpointDrop::kUnknownConnection);
  if (datagram.size() > config_.zero_rtt_max_size)
    return dropped(EndpointDrop::kZeroRttNotBuffered);
  expire_zero_rtt(now);
  ConnectionId dcid;
  (void)ConnectionId::from(h.dcid, &dcid);
  std::size_t same = 0;
  ZeroRttSlot* free_slot = nullptr;
  for (ZeroRttSlot& s : zero_rtt_) {
    if (!s.used) {
      if (free_slot == nullptr) free_slot = &s;
    } else if (s.dcid == dcid) {
      ++same;
    }
  }
  if (free_slot == nullptr || same >= config_.zero_rtt_per_dcid)
    return dropped(EndpointDrop::kZeroRttNotBuffered);
  ZeroRttSlot& s = *free_slot;
  s.used = true;
  s.owner = nullptr;
  s.dcid = dcid;
  s.from = from;
  s.arrived = now;
  s.sequence = zero_rtt_sequence_++;
  s.length = datagram.size();
  const std::size_t slot = static_cast<std::size_t>(&s - zero_rtt_.data());
  std::memcpy(zero_rtt_bytes_.data() + slot * config_.zero_rtt_max_size, datagram.data(),
              datagram.size());
  ++counters_.zero_rtt_buffered;
  EndpointDecision d;
  d.kind = EndpointDecision::Kind::kBuffered;
  return d;
}

bool Endpoint::take_buffered(const Connection& c, BufferedDatagram* out) {
  ZeroRttSlot* oldest = nullptr;
  for (ZeroRttSlot& s : zero_rtt_) {
    if (s.used && s.owner != nullptr && s.owner->conn.get() == &c &&
        (oldest == nullptr || s.sequence < oldest->sequence))
      oldest = &s;
  }
  if (oldest == nullptr) return false;
  const std::size_t slot = static_cast<std::size_t>(oldest - zero_rtt_.data());
  // The slot is free again, but nothing overwrites its bytes before the
  // next on_datagram() call.
  out->data = ByteSpan(zero_rtt_bytes_.data() + slot * config_.zero_rtt_max_size, oldest->length);
  out->from = oldest->from;
  *oldest = ZeroRttSlot{};
  ++counters_.zero_rtt_delivered;
  return true;
}

std::size_t Endpoint::buffered_count() const {
  return static_cast<std::size_t>(std::count_if(zero_rtt_.begin(), zero_rtt_.end(),
                                                [](const ZeroRttSlot& s) { return s.used; }));
}

void Endpoint::expire_zero_rtt(Time now) {
  for (ZeroRttSlot& s : zero_rtt_) {
    if (s.used && now - s.arrived >= config_.zero_rtt_lifetime) {
      s = ZeroRttSlot{};
      ++counters_.zero_rtt_expired;
    }
  }
}

}  // namespace dquic
