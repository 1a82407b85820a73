// The endpoint of RFC 9000 §5.2, sans-IO: it owns the connections of one
// worker (lcore), routes each received datagram to one of them by its
// Destination Connection ID, creates server connections from client
// Initials, and answers what matches no connection statelessly: Version
// Negotiation (§6.1), Retry (§8.1.2), Stateless Reset (§10.3), and a
// CONNECTION_CLOSE in an Initial for Initials it refuses (§5.2.2, §8.1.2).
//
// The caller does the I/O. For each UDP payload it calls on_datagram() and
// acts on the decision: hand the datagram to the connection
// (runtime/connection_io.h receive_datagram), send the response written into
// its buffer back to the sender, forward the datagram to another worker, or
// nothing. It drives the connections' timers and sends their datagrams on
// the paths they name itself, and calls collect() now and then to free closed
// connections. Nothing here reads a clock; only connection creation and
// route changes allocate. Not thread-safe: one endpoint per worker.
//
// Migration is the connection's (Connection::on_datagram_received with the
// datagram's path, OutgoingDatagram::path); peer(i) stays the address a
// connection started with. Not done here: detecting Stateless Resets sent to
// server connections. See docs/ENDPOINT.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "quic/address_token.h"
#include "quic/buffer.h"
#include "quic/cid_generator.h"
#include "quic/connection.h"
#include "quic/connection_id.h"
#include "quic/initial_close.h"
#include "quic/packet_header.h"
#include "quic/stateless_reset.h"
#include "quic/timestamp.h"
#include "quic/version.h"

namespace dquic {

// When a server answers a client Initial with a Retry (RFC 9000 §8.1.2)
// instead of creating state for an address it has not validated.
enum class RetryPolicy : std::uint8_t {
  kNever,
  kAlways,
  // Only while under load: half-open connections or the handshake rate
  // reach their thresholds (EndpointConfig).
  kAutomatic,
};

// Why on_datagram() dropped a datagram; each is counted. The three refusals
// of a client Initial (kInvalidRetryToken, kConnectionLimit, kRejected) are
// counted whether or not a CONNECTION_CLOSE answered them (the decision is
// then kRespond, with `drop` naming the refusal); a close that did not fit
// the response span counts kResponseBufferTooSmall besides its refusal.
enum class EndpointDrop : std::uint8_t {
  kReflectionPort,             // RFC 9000 §21.5.6: source port never answered
  kMalformed,                  // the first packet's header does not parse (§12.2)
  kUnsupportedVersion,         // §5.2.2: too small for Version Negotiation, or a client
  kVersionNegotiation,         // §6.1: for no connection; never answered
  kInitialTooSmall,            // §14.1: client Initial in a datagram < 1200 bytes
  kInitialDcidTooShort,        // §7.2: client's first DCID < 8 bytes
  kNotAccepting,               // an Initial for no connection at a client-only endpoint
  kUnknownConnection,          // §5.2.2: a long header other than Initial/0-RTT for none
  kTooSmallForReset,           // §10.3: no Stateless Reset can be smaller than it
  kNoResetKey,                 // unknown short-header CID, no reset generator configured
  kResetRateLimited,           // §10.3.3: StatelessResetLimiter refused
  kInvalidRetryToken,          // §8.1.2: refused, CONNECTION_CLOSE(INVALID_TOKEN)
  kConnectionLimit,            // max_connections reached: CONNECTION_CLOSE(CONNECTION_REFUSED)
  kRejected,                   // the on_new_connection hook refused: the same
  kSetupFailed,                // CID generation, token sealing or Connection::start failed
  kResponseBufferTooSmall,     // the caller's response span cannot hold the reply
  kZeroRttNotBuffered,         // §5.2.2: 0-RTT buffer full, per-DCID limit, or too large
  kVersionNegotiationLimited,  // §5.2.2: the Version Negotiation token bucket refused
  kCount,
};
const char* to_string(EndpointDrop r);

struct EndpointCounters {
  std::uint64_t datagrams = 0;             // on_datagram() calls
  std::uint64_t delivered = 0;             // to an existing connection
  std::uint64_t forwarded = 0;             // kForward
  std::uint64_t connections_accepted = 0;  // server connections created
  std::uint64_t connections_opened = 0;    // connect()
  std::uint64_t connections_collected = 0;
  std::uint64_t retry_tokens_accepted = 0;
  std::uint64_t new_tokens_accepted = 0;
  std::uint64_t new_tokens_ignored = 0;  // §8.1.3: invalid, treated as absent
  std::uint64_t version_negotiation_sent = 0;
  std::uint64_t retry_sent = 0;
  std::uint64_t stateless_reset_sent = 0;
  std::uint64_t stateless_reset_received = 0;  // kPeerReset
  // CONNECTION_CLOSE in an Initial answering a refused Initial (§5.2.2,
  // §8.1.2), and refused Initials left unanswered by its token bucket.
  std::uint64_t connection_close_sent = 0;
  std::uint64_t connection_close_limited = 0;
  std::uint64_t zero_rtt_buffered = 0;
  std::uint64_t zero_rtt_delivered = 0;  // handed out by take_buffered()
  std::uint64_t zero_rtt_expired = 0;    // timed out or their connection went away
  std::uint64_t cid_collisions = 0;      // a generated or announced CID already routed
  std::array<std::uint64_t, static_cast<std::size_t>(EndpointDrop::kCount)> dropped{};

  std::uint64_t drops(EndpointDrop r) const { return dropped[static_cast<std::size_t>(r)]; }
};

// What the endpoint knows of a client whose Initial is about to create a
// server connection.
struct IncomingConnection {
  PeerAddress from;
  std::uint32_t version = kVersion1;
  ConnectionId original_dcid;      // the DCID of the client's first Initial
  bool address_validated = false;  // by a Retry or NEW_TOKEN token
};

// Called before each server connection is built, with a copy of
// EndpointConfig::connection to adjust (typically its handler, observer,
// transport parameters). The endpoint then sets the fields it owns: role,
// version, address_validated, cid_generator, worker, reset_tokens,
// cid_listener. Returning false refuses the connection (kRejected). The
// Connection* comes back in the kNewConnection decision.
using NewConnectionHook = std::function<bool(const IncomingConnection&, ConnectionConfig&)>;

struct EndpointConfig {
  // The template of server connections: tls_server, transport parameters,
  // keys, copy_pool, wall_clock_ms_at_zero (also the token clock), and
  // random (also the endpoint's unpredictable bytes: required).
  ConnectionConfig connection;
  // Required: makes every CID of this endpoint's connections and Retries;
  // its cid_length() is the short-header DCID length (RFC 9000 §5.1).
  ConnectionIdGenerator* cid_generator = nullptr;
  std::uint16_t worker = 0;
  // Optional: without it no Stateless Reset is sent (§10.3).
  StatelessResetTokenGenerator* reset_tokens = nullptr;
  // Optional: without it no Retry is sent and tokens are ignored (§8.1).
  AddressTokenCodec* address_tokens = nullptr;
  // Versions accepted and offered in Version Negotiation, preferred first;
  // each must be v1 or v2.
  std::vector<std::uint32_t> versions{kVersion1};
  bool accept_connections = true;  // false: a client-only endpoint
  std::size_t max_connections = 4096;
  RetryPolicy retry_policy = RetryPolicy::kAutomatic;
  // kAutomatic engages at this many half-open (handshaking) server
  // connections, or at this many new connections within the last second
  // (0 = that trigger off). Keep both below max_connections.
  std::size_t retry_half_open_threshold = 256;
  std::uint32_t retry_rate_threshold = 1000;
  // §10.3.3: a token bucket for Stateless Resets.
  std::uint32_t resets_per_second = 100;
  std::uint32_t reset_burst = 10;
  // A token bucket of its own for the CONNECTION_CLOSE answering refused
  // Initials (§5.2.2, §8.1.2), so a flood of bad Initials gets a bounded
  // number of replies and does not spend the reset budget. Burst 0: never
  // answer (the Initials are dropped).
  std::uint32_t initial_closes_per_second = 100;
  std::uint32_t initial_close_burst = 10;
  // §5.2.2 ("MAY ... limit the number of Version Negotiation packets"): a
  // token bucket of its own. Burst 0: never sent.
  std::uint32_t version_negotiations_per_second = 1000;
  std::uint32_t version_negotiation_burst = 100;
  // §5.2.2: 0-RTT datagrams that arrive before their Initial. Slots are
  // allocated once, slots x zero_rtt_max_size bytes; 0 slots = off.
  std::size_t zero_rtt_slots = 16;
  std::size_t zero_rtt_per_dcid = 4;
  std::size_t zero_rtt_max_size = 1500;
  Duration zero_rtt_lifetime = 100 * kMillisecond;
  NewConnectionHook on_new_connection;  // optional
};

struct EndpointDecision {
  enum class Kind : std::uint8_t {
    kDeliver,        // pass the datagram to `connection`
    kNewConnection,  // `connection` was just created for it: deliver, then take_buffered()
    kRespond,        // send response[0, response_length) back to the sender
    kForward,        // `worker` owns the DCID (cid_generator): hand it over
    kBuffered,       // a 0-RTT datagram kept for a later Initial: nothing to do
    kPeerReset,      // a Stateless Reset for `connection`, now draining (§10.3.1)
    kDrop,           // see `drop`
  };
  enum class Response : std::uint8_t {
    kNone,
    kVersionNegotiation,
    kRetry,
    kStatelessReset,
    // An Initial with CONNECTION_CLOSE refusing the client's Initial;
    // `drop` says why (kInvalidRetryToken, kConnectionLimit, kRejected).
    kConnectionClose,
  };

  Kind kind = Kind::kDrop;
  Connection* connection = nullptr;
  Response response = Response::kNone;
  std::size_t response_length = 0;
  std::uint16_t worker = 0;
  EndpointDrop drop = EndpointDrop::kCount;  // kDrop, and kRespond with kConnectionClose
};

// A buffered 0-RTT datagram; its bytes stay valid until the next
// on_datagram() or collect().
struct BufferedDatagram {
  ByteSpan data;
  PeerAddress from;
};

class Endpoint {
 public:
  // A response span this large fits every reply: a Version Negotiation
  // echoing two 255-byte CIDs (RFC 8999 §6) is the largest.
  static constexpr std::size_t kMaxResponseSize = 7 + 2 * 255 + 4 * 16;
  static_assert(kMaxInitialCloseSize <= kMaxResponseSize);

  explicit Endpoint(EndpointConfig config);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // False if the configuration is unusable (no generator or random source,
  // a CID length outside 1..20, no or unknown versions); every datagram is
  // then dropped (kSetupFailed) and connect() fails.
  bool ok() const { return ok_; }

  // One received UDP payload from `from`. A reply is written into `response`.
  EndpointDecision on_datagram(ByteSpan datagram, const PeerAddress& from, Time now,
                               std::span<std::uint8_t> response);

  // A started client connection to `server`, routed by its CID; config's
  // endpoint-owned fields (see NewConnectionHook) are set here, and its
  // handshake CID comes from the generator (it names this worker). Nullptr
  // at the connection limit, or if the generator or start() fails.
  Connection* connect(const ConnectionConfig& config, const PeerAddress& server, Time now);

  // 0-RTT datagrams buffered before `c`'s Initial, oldest first; false when
  // none is left. Call after delivering a kNewConnection datagram.
  bool take_buffered(const Connection& c, BufferedDatagram* out);

  // Destroys closed connections (ConnectionState::kClosed) and removes
  // their routes and buffered datagrams; expires old 0-RTT datagrams;
  // recounts half-open connections. Connection pointers to the destroyed
  // ones die here.
  void collect(Time now);

  // Connections by index; indices change only in collect().
  std::size_t connection_count() const { return entries_.size(); }
  Connection* connection(std::size_t i) const;
  const PeerAddress& peer(std::size_t i) const;

  std::size_t route_count() const { return routes_.size(); }
  // Server connections not yet past the handshake, as of the last
  // collect() plus those created since.
  std::size_t half_open_count() const { return half_open_; }
  std::size_t buffered_count() const;
  // Whether a client Initial without a valid token would get a Retry now.
  bool retry_engaged(Time now) const;
  std::size_t short_dcid_length() const { return short_dcid_length_; }
  const EndpointCounters& counters() const { return counters_; }

 private:
  struct Entry;
  struct ZeroRttSlot;
  class CheckedGenerator;
  struct CidHash {
    // The SipHash key: clients choose Initial DCIDs, so they must not be
    // able to pick colliding ones. (No default member initializers: the map
    // needs the hash default-constructible inside the enclosing class.)
    std::uint64_t k0, k1;
    std::size_t operator()(const ConnectionId& c) const;
  };

  EndpointDecision on_short(ByteSpan datagram, const InvariantHeader& h, const PeerAddress& from,
                            Time now, std::span<std::uint8_t> response);
  EndpointDecision on_initial(ByteSpan datagram, const PacketHeader& h, const PeerAddress& from,
                              Time now, std::span<std::uint8_t> response);
  EndpointDecision send_retry(const PacketHeader& h, const PeerAddress& from, Time now,
                              std::span<std::uint8_t> response);
  EndpointDecision send_version_negotiation(const InvariantHeader& h, Time now,
                                            std::span<std::uint8_t> response);
  EndpointDecision send_stateless_reset(ByteSpan datagram, ByteSpan dcid, Time now,
                                        std::span<std::uint8_t> response);
  EndpointDecision refuse_initial(ByteSpan datagram, const PacketHeader& h, EndpointDrop why,
                                  Time now, std::span<std::uint8_t> response);
  EndpointDecision buffer_zero_rtt(ByteSpan datagram, const PacketHeader& h,
                                   const PeerAddress& from, Time now);
  EndpointDecision deliver(Entry* e);
  EndpointDecision dropped(EndpointDrop r);
  Connection* find_peer_reset(ByteSpan datagram, const PeerAddress& from);
  bool forward_worker(ByteSpan dcid, std::uint16_t* worker) const;

  Entry* find(ByteSpan cid) const;
  Entry* add_entry(const PeerAddress& peer, bool client);
  void remove_entry(std::size_t index);
  bool add_route(const ConnectionId& cid, Entry* e);
  void remove_route(const ConnectionId& cid, Entry* e);
  void refresh(Entry& e);
  void note_creation(Time now);
  void expire_zero_rtt(Time now);
  std::int64_t token_ms(Time now) const;

  EndpointConfig config_;
  bool ok_ = false;
  std::size_t short_dcid_length_ = 0;
  std::unique_ptr<CheckedGenerator> generator_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::unordered_map<ConnectionId, Entry*, CidHash> routes_;
  std::size_t half_open_ = 0;
  std::size_t client_entries_ = 0;
  // The last retry_rate_threshold creation times, a ring: the rate
  // trigger fires when the oldest of a full ring is under a second old.
  std::vector<Time> creations_;
  std::size_t creations_next_ = 0;
  std::size_t creations_filled_ = 0;
  StatelessResetLimiter reset_limiter_;
  StatelessResetLimiter initial_close_limiter_;        // the same token bucket, for closes
  StatelessResetLimiter version_negotiation_limiter_;  // and for Version Negotiation
  std::vector<ZeroRttSlot> zero_rtt_;
  std::vector<std::uint8_t> zero_rtt_bytes_;
  std::uint64_t zero_rtt_sequence_ = 0;
  EndpointCounters counters_;
};

}  // namespace dquic
