// TLS 1.3 session resumption for QUIC (RFC 8446 §2.2, §4.6.1, §8; RFC 9001
// §4.6): the server's stateless tickets, sealed with a rotating key of its
// own; the session a client keeps from a NewSessionTicket; the state a
// ticket carries; and the strike register that stops replayed 0-RTT.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "quic/buffer.h"
#include "quic/hkdf.h"
#include "quic/transport_params.h"

namespace dquic {

// RFC 8446 §4.6.1: no ticket may live longer than seven days.
inline constexpr std::uint32_t kMaxTicketLifetimeSeconds = 604800;
// RFC 9001 §4.6.1: the only max_early_data_size QUIC allows.
inline constexpr std::uint32_t kQuicMaxEarlyDataSize = 0xffffffff;

// The server's transport parameters that bound 0-RTT (RFC 9000 §7.4.1): a
// client remembers them, and the server accepts 0-RTT only if its current
// values are no smaller.
struct ZeroRttTransportLimits {
  std::uint64_t active_connection_id_limit = 0;
  std::uint64_t initial_max_data = 0;
  std::uint64_t initial_max_stream_data_bidi_local = 0;
  std::uint64_t initial_max_stream_data_bidi_remote = 0;
  std::uint64_t initial_max_stream_data_uni = 0;
  std::uint64_t initial_max_streams_bidi = 0;
  std::uint64_t initial_max_streams_uni = 0;
  std::uint64_t max_datagram_frame_size = 0;  // RFC 9221 §3

  static ZeroRttTransportLimits from(const TransportParameters& p);
  // Sets these limits in `p` (a client's view of the server before the
  // handshake gives the new values), leaving its other fields.
  void apply_to(TransportParameters* p) const;
  // Every limit of `current` is at least this one's.
  bool not_reduced_by(const ZeroRttTransportLimits& current) const;
  friend bool operator==(const ZeroRttTransportLimits&, const ZeroRttTransportLimits&) = default;
};

// What a ticket carries, sealed: everything the server needs to resume
// without per-client state.
struct TicketState {
  std::uint16_t cipher_suite = 0;
  std::int64_t issue_time_ms = 0;
  std::uint32_t lifetime_s = 0;
  std::uint32_t ticket_age_add = 0;
  bool allow_early_data = false;
  Secret psk;               // RFC 8446 §4.6.1 ticket PSK
  std::string alpn;         // 1..255 bytes
  std::string server_name;  // 0..255 bytes (longer names get no ticket)
  ZeroRttTransportLimits transport_limits;
};

// Plaintext encoding of TicketState (bounded: < 600 bytes). False if a
// string is too long or the input is malformed.
inline constexpr std::size_t kMaxTicketStateLength =
    1 + 2 + 8 + 4 + 4 + 1 + 1 + kMaxHashLength + 1 + 255 + 1 + 255 + 8 * 8;
[[nodiscard]] bool encode_ticket_state(const TicketState& s, std::vector<std::uint8_t>* out);
[[nodiscard]] bool decode_ticket_state(ByteSpan in, TicketState* out);

// The server's ticket keys: AES-256-GCM, a current key that seals and the
// previous one that still opens, each named by a random key id. Rotate
// (e.g. every ticket lifetime) so a stolen key exposes only recent tickets.
// Keys come from RAND_bytes. Not thread-safe: share one among the engines
// of one thread, or guard it.
//
// Ticket = key_id (8) || nonce (12) || AES-256-GCM(plaintext) || tag (16),
// with the key id as additional data.
class TicketKeys {
 public:
  static constexpr std::size_t kKeyIdLength = 8;
  static constexpr std::size_t kNonceLength = 12;
  static constexpr std::size_t kTagLength = 16;
  static constexpr std::size_t kOverhead = kKeyIdLength + kNonceLength + kTagLength;

  TicketKeys() = default;
  ~TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // A fresh current key; the current one becomes the previous (still
  // accepted) and the previous one is wiped. False if the RNG fails (then
  // nothing changed). Call once before use.
  [[nodiscard]] bool rotate();
  bool ready() const { return current_.has_value(); }

  [[nodiscard]] bool seal(ByteSpan plaintext, std::vector<std::uint8_t>* ticket) const;
  // False for an unknown key id, a bad tag or a malformed ticket.
  [[nodiscard]] bool open(ByteSpan ticket, std::vector<std::uint8_t>* plaintext) const;

 private:
  struct Key {
    std::array<std::uint8_t, kKeyIdLength> id{};
    std::array<std::uint8_t, 32> key{};
  };
  static void wipe(std::optional<Key>* k);

  std::optional<Key> current_;
  std::optional<Key> previous_;
};

// Anti-replay for 0-RTT (RFC 8446 §8.2, ClientHello recording): remembers
// the PSK binder of every ClientHello whose 0-RTT was accepted for `window_ms`
// (the ticket age tolerance: a replay later than that fails the age check
// anyway). A binder seen again in that time is a replay. The capacity is
// fixed; when it is full of unexpired entries, 0-RTT is rejected rather than
// accepted unchecked.
//
// Single-process only: servers behind one address in several processes or
// machines must share state some other way (or disable 0-RTT), else a replay
// sent to another instance is accepted (RFC 8446 §8). Not thread-safe.
class StrikeRegister {
 public:
  explicit StrikeRegister(std::size_t capacity = 65536, std::int64_t window_ms = 10000);

  // True (and recorded) if `binder` is new; false for a replay, or when full.
  [[nodiscard]] bool check_and_insert(ByteSpan binder, std::int64_t now_ms);
  std::size_t size() const { return count_; }
  std::size_t capacity() const { return ring_.size(); }
  std::int64_t window_ms() const { return window_ms_; }

 private:
  using Key = std::array<std::uint8_t, 16>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };
  struct Entry {
    Key key{};
    std::int64_t time_ms = 0;
  };
  void expire(std::int64_t now_ms);

  std::vector<Entry> ring_;  // insertion order; head_ is the oldest
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  std::int64_t window_ms_;
  std::unordered_set<Key, KeyHash> seen_;
};

// What a client keeps from a NewSessionTicket to resume later (RFC 8446
// §4.6.1, RFC 9000 §7.4.1). The application persists it; it holds a secret
// (the PSK), so store it as such.
struct TlsSession {
  std::vector<std::uint8_t> ticket;
  Secret psk;
  std::uint16_t cipher_suite = 0;
  std::string alpn;
  std::string server_name;
  std::uint32_t ticket_age_add = 0;
  std::uint32_t lifetime_s = 0;
  std::int64_t received_ms = 0;
  bool allows_early_data = false;  // max_early_data_size was 0xffffffff
  // The server's quic_transport_parameters from the handshake that issued
  // the ticket: 0-RTT must respect them (RFC 9000 §7.4.1).
  std::vector<std::uint8_t> transport_parameters;

  // Usable at now_ms (not expired, not from the future).
  bool valid_at(std::int64_t now_ms) const {
    return now_ms >= received_ms &&
           now_ms - received_ms < static_cast<std::int64_t>(lifetime_s) * 1000;
  }
};

}  // namespace dquic
