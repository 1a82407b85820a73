// A QUIC connection (RFC 9000, 9001, 9002), sans-IO: the caller passes
// decrypted packets in and takes packets to seal out, with `now` as an
// argument. It tracks the network paths it is used on (RFC 9000 §8.2, §9)
// from the NetworkPath the caller gives with each received datagram, and
// names the path of each datagram it lays out. Demultiplexing, Retry and
// Version Negotiation belong to the endpoint (quic/endpoint.h).
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "quic/ack_tracker.h"
#include "quic/cid_generator.h"
#include "quic/congestion_controller.h"
#include "quic/connection_id.h"
#include "quic/connection_observer.h"
#include "quic/connection_path.h"
#include "quic/datagram_queue.h"
#include "quic/ecn.h"
#include "quic/ecn_validation.h"
#include "quic/error.h"
#include "quic/flow_control.h"
#include "quic/frame.h"
#include "quic/local_cid_set.h"
#include "quic/loss_detector.h"
#include "quic/one_rtt_keys.h"
#include "quic/pacer.h"
#include "quic/packet_number.h"
#include "quic/packet_protection.h"
#include "quic/packet_space.h"
#include "quic/packet_type.h"
#include "quic/peer_address.h"
#include "quic/peer_cid_set.h"
#include "quic/recv_buffer.h"
#include "quic/role.h"
#include "quic/rtt_estimator.h"
#include "quic/send_buffer.h"
#include "quic/stateless_reset.h"
#include "quic/stream.h"
#include "quic/timestamp.h"
#include "quic/tls_client.h"
#include "quic/tls_server.h"
#include "quic/transport_params.h"
#include "quic/version.h"

namespace dquic {

// What the application hears. Calls come from inside on_packet(),
// on_timeout() and write_datagram(); a handler may call the stream API but
// must not destroy the connection from inside a callback.
class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  virtual void on_handshake_complete() {}
  virtual void on_stream_opened(std::uint64_t /*stream_id*/) {}  // by the peer
  virtual void on_stream_readable(std::uint64_t /*stream_id*/) {}
  virtual void on_stream_writable(std::uint64_t /*stream_id*/) {}
  virtual void on_stream_reset(std::uint64_t /*stream_id*/, std::uint64_t /*app_error*/) {}
  virtual void on_stop_sending(std::uint64_t /*stream_id*/, std::uint64_t /*app_error*/) {}
  // Both directions are finished and the stream's memory is released.
  virtual void on_stream_closed(std::uint64_t /*stream_id*/) {}
  // The peer raised MAX_STREAMS: open_stream() may succeed again.
  virtual void on_streams_available(bool /*bidi*/) {}
  virtual void on_datagram(ByteSpan /*data*/) {}
  // Client: the server gave a NEW_TOKEN token (RFC 9000 §8.1.3) to put in
  // ConnectionConfig::initial_token of a later connection to it.
  virtual void on_new_token(ByteSpan /*token*/) {}
  virtual void on_closed() {}  // the connection reached kClosed
};

// Where a connection announces the connection IDs it issues (RFC 9000
// §5.1.1), so that the endpoint routes them to it, and the ones it retires.
// The handshake's CID (sequence 0) is the endpoint's own choice and is not
// announced; its retirement is.
class LocalCidListener {
 public:
  virtual ~LocalCidListener() = default;
  virtual void on_local_cid_issued(const ConnectionId& cid, std::uint64_t sequence) = 0;
  virtual void on_local_cid_retired(const ConnectionId& cid, std::uint64_t sequence) = 0;
};

// The max_ack_delay we advertise (RFC 9000 §18.2) unless
// ConnectionConfig::transport sets another; in milliseconds, the parameter's
// unit. The peer's PTO adds it to every probe timeout (RFC 9002 §6.2.1), so
// it is what a lost ACK of a whole flight costs once nothing is left in
// flight to trigger packet- or time-threshold detection (§6.1). RFC 9000's
// 25 ms suits a receiver that sleeps on coarse timers; ours is polled and
// sends an owed ACK at its next send opportunity, at once when it is not
// congestion-limited itself, and its ACK timer has microsecond resolution
// (runtime/connection_timers.h). 1 ms, the smallest nonzero value, still
// covers alarms firing late (§18.2 asks that it include them); 0 would
// promise never to delay at all. The cost (§13.2.1): when our own sending is
// congestion- or pacing-limited, a lone ack-eliciting packet is acknowledged
// by an ACK-only packet after 1 ms instead of waiting up to 25 ms for a
// second packet or for data to ride on, so app-limited peers that send a
// packet every few milliseconds get up to one ACK per packet instead of one
// per two. And where polling threads lose their core for milliseconds
// (shared, non-isolated cores) the peer's shorter PTO fires spuriously: two
// probe packets each time, no window reduction (RFC 9002 §6.2). Set
// transport.max_ack_delay = kDefaultMaxAckDelayMs (25) to trade loss
// recovery speed back for fewer ACKs and probes.
inline constexpr std::uint64_t kDefaultLocalMaxAckDelayMs = 1;

// Our transport parameters before the application sets any: the RFC 9000
// §18.2 defaults (what an absent parameter means), except max_ack_delay.
inline TransportParameters default_local_transport_parameters() {
  TransportParameters t;
  t.max_ack_delay = kDefaultLocalMaxAckDelayMs;
  return t;
}

struct ConnectionConfig {
  EndpointRole role = EndpointRole::kClient;
  std::uint32_t version = kVersion1;
  // Versions we support, preferred first, for compatible version
  // negotiation (RFC 9368, RFC 9369): a client offers those compatible with
  // `version` and follows a server that switches; a server switches a client
  // to the first of these that the client offers. Empty: `version` only, no
  // version_information.
  std::vector<std::uint32_t> versions;
  const TlsClientConfig* tls_client = nullptr;  // client
  const TlsServerConfig* tls_server = nullptr;  // server
  // Our transport parameters; the connection fills in the connection-ID
  // parameters (RFC 9000 §7.3) and validates the rest. max_ack_delay starts
  // at kDefaultLocalMaxAckDelayMs, not the RFC's 25 ms.
  TransportParameters transport = default_local_transport_parameters();
  CongestionAlgorithm congestion = CongestionAlgorithm::kCubic;
  // UDP payload size of the datagrams we send (no PMTU discovery yet):
  // 1200 is always safe (RFC 9000 §14); never above the peer's
  // max_udp_payload_size.
  std::uint32_t max_datagram_size = 1200;
  Duration keep_alive = 0;  // PING when idle this long; 0 = off
  // The handshake must complete within this time of start(), or the
  // connection is closed silently as on idle timeout. RFC 9000 §10.1 leaves
  // handshake time-outs to the endpoint; without one a peer that stalls
  // mid-handshake holds our state forever when no idle timeout is set.
  // 0 = off (then only the idle timeout applies).
  Duration handshake_timeout = 10 * kSecond;
  // Server: the endpoint already validated the client's address (a Retry
  // or NEW_TOKEN token, RFC 9000 §8.1.2-8.1.3), so the anti-amplification
  // limit does not apply. Ignored by clients.
  bool address_validated = false;
  // RFC 9001 §6: we start a key update after this many packets sent in one
  // key phase; 0 = only before the AEAD's confidentiality limit (§6.6:
  // 2^23 packets for the AES-GCM suites).
  std::uint64_t key_update_interval = 0;
  // RFC 9001 §6.6: packets that fail to authenticate with 1-RTT keys before
  // the connection closes with AEAD_LIMIT_REACHED; 0 = the suite's limit
  // (2^52 for AES-GCM, 2^36 for ChaCha20-Poly1305).
  std::uint64_t aead_integrity_limit = 0;
  // Client: offer this session for resumption (RFC 8446 §4.6.1) and, with
  // early_data, send 0-RTT (RFC 9001 §4.6) under the transport parameters
  // remembered with it (RFC 9000 §7.4.1) until the handshake completes.
  const TlsSession* resume = nullptr;
  bool early_data = false;
  // Client: the handshake's Source Connection ID (the server sends to it
  // until it moves to one from NEW_CONNECTION_ID). Empty: 8 random bytes.
  // Endpoint::connect() takes it from its generator so that the server's
  // replies steer to this worker.
  ConnectionId local_cid;
  // Client: a NEW_TOKEN token from an earlier connection to this server, sent
  // in our Initials so it can skip address validation (RFC 9000 §8.1.3).
  std::vector<std::uint8_t> initial_token;
  // Server: a NEW_TOKEN token (sealed by the endpoint for this client's
  // address) sent once the handshake is confirmed (RFC 9000 §8.1.3).
  std::vector<std::uint8_t> new_token;
  // Receive windows start at the transport parameters' values and grow with
  // the bandwidth-delay product up to these caps.
  std::uint64_t max_stream_window = 16 << 20;
  std::uint64_t max_connection_window = 64 << 20;
  // Bound on reassembly segments per stream (see RecvBuffer).
  std::size_t max_ack_ranges = 64;
  std::size_t max_stream_send_buffer = 1 << 20;  // writable below this
  bool pacing = true;
  std::uint32_t max_burst_packets = 10;
  // RFC 9000 §13.4: mark our datagrams ECT(0), validated per path
  // (§13.4.2, Appendix A.4). Off: never marked (incoming marks are still
  // counted and reported, §13.4.1).
  bool ecn = true;
  // ms since the Unix epoch at `now == 0`, for the TLS certificate checks.
  std::int64_t wall_clock_ms_at_zero = 0;

  // Connection IDs beyond the handshake's (RFC 9000 §5.1.1): with a
  // generator the connection keeps the peer supplied with CIDs up to the
  // peer's active_connection_id_limit (at most max_local_cids), makes their
  // stateless reset tokens with reset_tokens, and announces each through
  // cid_listener. Without a generator it issues none.
  ConnectionIdGenerator* cid_generator = nullptr;
  std::uint16_t worker = 0;  // passed to the generator: steers the CIDs here
  StatelessResetTokenGenerator* reset_tokens = nullptr;  // also the server's sequence-0 token
  LocalCidListener* cid_listener = nullptr;
  std::size_t max_local_cids = 4;

  KeyStore* keys = nullptr;                             // required
  ConnectionHandler* handler = nullptr;                 // optional
  ConnectionObserver* observer = nullptr;               // optional, zero cost when null
  std::function<void(std::span<std::uint8_t>)> random;  // CIDs, PATH_CHALLENGE data; required
  // Client: the path of the handshake (our address, the server's). A
  // server's handshake path is that of the first datagram it receives.
  // Callers that do not track addresses leave every path at its default.
  NetworkPath path;
  // Client: after the handshake, validate the server's preferred_address
  // (RFC 9000 §9.6) of the handshake path's family and move there.
  bool use_preferred_address = true;
  // Blocks for reassembling tiny out-of-order stream fragments (RecvBuffer).
  rte_mempool* copy_pool = nullptr;
};

// A packet the caller received, already unprotected (RFC 9001 §5).
struct ReceivedPacket {
  PacketType type = PacketType::kOneRtt;
  std::uint32_t version = 0;
  ByteSpan dcid;
  ByteSpan scid;   // long headers
  ByteSpan token;  // Initial
  std::uint64_t packet_number = 0;
  bool key_phase = false;
  // RFC 9000 §17.2, §17.3.1: nonzero reserved bits after header protection
  // is removed; the connection closes with PROTOCOL_VIOLATION.
  bool reserved_bits_set = false;
  ByteSpan payload;       // the frames, decrypted in place
  rte_mbuf* m = nullptr;  // owns payload's bytes: STREAM data is kept by reference
  Ecn ecn = Ecn::kNotEct;
};

// Keys to open packets of one type with (see offload::OpenJob).
struct OpenKeys {
  ProtectionKey* key = nullptr;
  std::uint64_t largest_received = kNoPacketNumber;
  // 1-RTT (RFC 9001 §6.3, §6.5; see offload::OpenJob): a packet with the
  // other key phase opens with `next` (the peer's key update) unless its
  // number is below `phase_start`, then with `previous`.
  ProtectionKey* next = nullptr;
  ProtectionKey* previous = nullptr;
  std::uint64_t phase_start = 0;
};

// A packet laid out in a datagram for sealing (see offload::SealJob): header
// in the clear at [offset, offset + header_length), payload_length bytes of
// plaintext after it, then 16 bytes reserved for the tag.
struct OutgoingPacket {
  std::uint16_t offset = 0;
  std::uint16_t header_length = 0;
  std::uint16_t pn_offset = 0;  // from the packet start
  std::uint8_t pn_length = 0;
  std::uint16_t payload_length = 0;
  std::uint64_t packet_number = 0;
  ProtectionKey* key = nullptr;
};

// Stream bytes left out of the datagram for the sealer to read where they
// are (zero-copy send, ARCHITECTURE-GUIDE hot path step 6): `length` bytes
// at `offset` in the datagram buffer are not written; their plaintext is at
// `data` (IO address `iova`, or RTE_BAD_IOVA when unknown). Trivial, so
// that an OutgoingDatagram does not zero its array.
struct GatheredBytes {
  std::uint16_t offset;
  std::uint16_t length;
  const std::uint8_t* data;
  rte_iova_t iova;
};

// Runs of stream bytes one datagram may leave to the sealer; more are copied.
inline constexpr std::size_t kMaxGatheredRuns = 7;

struct OutgoingDatagram {
  std::size_t length = 0;
  std::uint8_t packet_count = 0;
  std::array<OutgoingPacket, 3> packets{};  // Initial, Handshake, 1-RTT coalesced
  Ecn ecn = Ecn::kNotEct;
  NetworkPath path;  // send from path.local to path.peer
  // In offset order; only with write_datagram's gather_runs > 0.
  std::uint8_t gathered_count = 0;
  std::array<GatheredBytes, kMaxGatheredRuns> gathered;
};

enum class ConnectionState : std::uint8_t {  // declared in connection_observer.h
  kHandshaking,
  kConnected,  // handshake complete (client: also needs HANDSHAKE_DONE to be confirmed)
  kClosing,    // we sent CONNECTION_CLOSE (RFC 9000 §10.2.1)
  kDraining,   // the peer did (§10.2.2)
  kClosed,     // everything released
};

struct CloseInfo {
  bool local = true;
  bool application = false;
  std::uint64_t error_code = 0;
  std::uint64_t frame_type = 0;
  std::string reason;
};

struct ConnectionStats {
  std::uint64_t datagrams_sent = 0;
  std::uint64_t packets_sent = 0, packets_received = 0, packets_lost = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0;
  std::uint64_t packets_dropped = 0;  // undecodable or duplicate
  std::uint64_t stream_bytes_sent = 0, stream_bytes_retransmitted = 0;
  std::uint64_t stream_bytes_gathered = 0;  // left for the sealer to read in place
  std::uint64_t pto_count = 0;
  std::uint64_t zero_rtt_packets_sent = 0, zero_rtt_packets_received = 0;
  // RFC 9000 §8.2, §9.
  std::uint64_t path_challenges_sent = 0;
  std::uint64_t paths_validated = 0, path_validations_failed = 0;
  std::uint64_t migrations = 0;              // the active path changed
  std::uint64_t congestion_resets = 0;       // §9.4
  std::uint64_t datagrams_unknown_path = 0;  // dropped: from a path we do not accept
  // RFC 9000 §13.4: packets we sent marked ECT(0); the active path's ECN
  // validation state (ecn_state_name()); ECN-CE increases the peer reported
  // in validated ACK frames (RFC 9002 §7.1).
  std::uint64_t ecn_ect0_sent = 0;
  EcnState ecn_state = EcnState::kTesting;
  std::uint64_t ecn_ce_reported = 0;
};

class Connection final : public TlsSink, public LossListener {
 public:
  // Client: picks its connection IDs with config.random. Server: `ids` are
  // the client's Initial DCID (original_dcid), its SCID (peer) and ours.
  struct ServerIds {
    ConnectionId original_dcid;  // the DCID of the client's first Initial
    ConnectionId peer_cid;
    ConnectionId local_cid;
    // After a Retry (RFC 9000 §8.1.2, §17.2.5): the Retry's SCID, now the
    // DCID of the client's Initial (its keys come from it, RFC 9001 §5.2)
    // and sent back as retry_source_connection_id (§7.3).
    std::optional<ConnectionId> retry_scid;
  };
  explicit Connection(const ConnectionConfig& config);
  Connection(const ConnectionConfig& config, const ServerIds& ids);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Both roles: sets up the packet number spaces, Initial keys and TLS; the
  // client also sends its ClientHello. Call once before anything else. False
  // if setup failed (the connection is then closing).
  bool start(Time now);

  // `version` (long headers) picks the Initial key of the version a peer
  // used while compatible version negotiation switches (RFC 9368 §2.3).
  OpenKeys open_keys(PacketType type, std::uint32_t version = 0) const;
  // A datagram attributed to this connection arrived on `path`: call before
  // its packets (or alone when none opens). RFC 9000 §8.1: a server counts
  // every byte toward its 3x amplification limit. False: drop the datagram
  // unopened (RFC 9000 §9: a client takes nothing from server addresses it
  // did not probe; a server takes new peer addresses only once the
  // handshake is confirmed, and a new path only when a packet on it opens).
  bool on_datagram_received(std::size_t bytes, Time now, const NetworkPath& path = {});
  // One unprotected packet. Errors close the connection with the right code.
  void on_packet(const ReceivedPacket& p, Time now);
  // Client: a Retry packet (RFC 9000 §17.2.5), whole, integrity tag
  // included; `scid` and `token` are views into it. Ignored unless it is
  // the first Retry, before any server Initial, and its tag verifies.
  void on_retry(ByteSpan packet, ByteSpan scid, ByteSpan token, Time now);
  // The caller could not open a packet (bad tag etc.): counted only.
  void on_undecryptable(Time now);
  // RFC 9000 §10.3.1: a datagram that did not open (or did not route)
  // whose last 16 bytes match a stateless reset token the peer gave us.
  bool is_stateless_reset(ByteSpan datagram) const;
  // The peer reset the connection statelessly: it drains and sends nothing
  // more (RFC 9000 §10.3.1).
  void on_stateless_reset(Time now);
  // A 1-RTT packet failed authentication (RFC 9001 §6.6: counted toward the
  // integrity limit; the connection closes with AEAD_LIMIT_REACHED at it).
  void on_authentication_failure(Time now);

  // Lays out at most one datagram in `buf` (at least max_datagram_size
  // bytes). False when nothing may or need be sent now. With gather_runs >
  // 0 (at most kMaxGatheredRuns), runs of at least kMinGatherBytes stream
  // bytes are not copied into `buf` but listed in out->gathered, and the
  // caller must fill or seal them from there; it then calls
  // end_gather() once every such datagram is sealed (until then, stream
  // resets keep the bytes they would release).
  bool write_datagram(std::span<std::uint8_t> buf, Time now, OutgoingDatagram* out,
                      std::size_t gather_runs = 0);
  void end_gather();
  static constexpr std::size_t kMinGatherBytes = 256;  // below, copying is cheaper
  // When on_timeout() or write_datagram() should next be called.
  Time next_timeout() const;
  void on_timeout(Time now);

  // Application API.
  std::optional<std::uint64_t> open_stream(bool bidi);
  // Copies `data` into the stream's send buffer. Returns bytes accepted
  // (less than data.size() when the buffer limit is reached), or -1 for a
  // stream we cannot send on.
  std::int64_t write(std::uint64_t stream_id, ByteSpan data, bool fin);
  // Zero-copy writes: the stream keeps the bytes by reference until the
  // peer acknowledges them, and the sealer reads them where they are. All
  // or nothing: the length, or 0 when the stream's buffer is at
  // max_stream_send_buffer or has no chunk slot left (on_stream_writable
  // follows), or -1 for a stream we cannot send on or bytes not accepted.
  // `data` lies inside one segment of `owner`; that segment gets a reference.
  std::int64_t write_mbuf(std::uint64_t stream_id, rte_mbuf* owner, const std::uint8_t* data,
                          std::size_t length, bool fin);
  // Every segment's data of `chain` (each segment gets a reference; segments
  // attached to external buffers, rte_pktmbuf_attach_extbuf, included).
  std::int64_t write_chain(std::uint64_t stream_id, rte_mbuf* chain, bool fin);
  // Memory the application owns (a mapped file): release(ctx, data, length)
  // is called exactly once when the bytes are no longer needed, unless the
  // write did not take them (0 or -1: they stay the caller's).
  std::int64_t write_external(std::uint64_t stream_id, const std::uint8_t* data, std::size_t length,
                              ReleaseFn release, void* ctx, bool fin);
  // Copies out contiguous received data; *fin when the end was read.
  std::int64_t read(std::uint64_t stream_id, std::span<std::uint8_t> out, bool* fin);
  bool reset_stream(std::uint64_t stream_id, std::uint64_t app_error);
  bool stop_sending(std::uint64_t stream_id, std::uint64_t app_error);
  // RFC 9221: false if not negotiated or larger than the peer allows.
  bool send_datagram(ByteSpan data);
  void close(std::uint64_t app_error, std::string_view reason, Time now);

  ConnectionState state() const { return state_; }
  bool handshake_complete() const { return handshake_complete_; }
  bool handshake_confirmed() const { return handshake_confirmed_; }
  // RFC 9001 §4.6: 0-RTT was offered (client) and accepted by the server.
  bool early_data_offered() const { return early_data_offered_; }
  bool early_data_accepted() const { return tls_ != nullptr && tls_->early_data_accepted(); }
  // RFC 8446 §2.2: the handshake resumed a session (PSK from a ticket).
  bool resumed() const { return tls_ != nullptr && tls_->resumed(); }
  // RFC 9000 §8.1: a server may send at most three times what it received
  // from an address it has not validated.
  bool address_validated() const {
    return role_ == EndpointRole::kClient || paths_[active_path_].validated;
  }
  bool is_closed() const { return state_ == ConnectionState::kClosed; }
  const std::optional<CloseInfo>& close_info() const { return close_info_; }
  const ConnectionStats& stats() const { return stats_; }
  const RttEstimator& rtt() const { return rtt_; }
  const CongestionController& congestion() const { return *cc_; }
  const ConnectionId& local_cid() const { return local_cid_; }
  // The QUIC version in use (the negotiated one once the handshake ran).
  std::uint32_t version() const { return config_.version; }
  const ConnectionId& peer_cid() const { return peer_cid_; }
  const TransportParameters& peer_transport() const { return peer_params_; }
  std::size_t stream_count() const { return streams_.size(); }
  // Our CIDs the peer may use now (sequence 0 included).
  std::size_t local_cid_count() const { return local_cids_.active_count(); }
  // Key updates (RFC 9001 §6): our write phase bit and how many times the
  // read keys moved on.
  bool key_phase() const { return one_rtt_.write_phase(); }
  std::uint64_t key_updates() const { return one_rtt_.updates(); }
  // Client, RFC 9000 §9.2: moves to `path` (a new local address) now, with
  // a connection ID not used before (§9.5), and validates it; back to the
  // old path if that fails. With `validate_first`, probes it and moves only
  // once validated (§9.1). False if not allowed: handshake not confirmed,
  // the server's disable_active_migration, no spare CID, or no path slot.
  bool migrate(const NetworkPath& path, Time now, bool validate_first = false);
  const NetworkPath& path() const { return paths_[active_path_].address; }
  bool path_validated() const { return paths_[active_path_].validated; }
  // Starts a key update now if RFC 9001 §6.1 allows it (handshake confirmed,
  // a packet of the current phase acknowledged). False if not allowed.
  bool initiate_key_update(Time now);
  std::string_view alpn() const;
  // ConnectionConfig::observer: layers above report their events to it too.
  ConnectionObserver* observer() const { return config_.observer; }

 private:
  // TlsSink and LossListener are implementation details; they are public
  // bases only so that the engines can hold a pointer to them.
  struct CryptoSpace;
  struct Space;

  // TlsSink
  void on_handshake_data(EncryptionLevel level, ByteSpan data) override;
  void on_secret(EncryptionLevel level, KeyDirection direction, AeadAlgorithm aead,
                 const Secret& secret) override;
  void on_handshake_complete() override;
  void on_client_transport_parameters(ByteSpan client, std::vector<std::uint8_t>* ours) override;
  // LossListener
  void on_packet_acked(const SentPacket& p) override;
  void on_packet_lost(const SentPacket& p) override;

  bool install_initial_keys();
  void release_key(ProtectionKey*& key);  // if installed; leaves it null
  bool derive_initial_keys(std::uint32_t version, PacketKeys* client, PacketKeys* server) const;
  // Compatible version negotiation (RFC 9368 §2.3): the Initial keys of the
  // other version while the peer may still use it.
  bool switch_version(std::uint32_t version);
  std::uint32_t other_initial_version_ = 0;
  ProtectionKey* other_initial_read_key_ = nullptr;
  bool version_error_ = false;        // server: the client's version_information was bad
  std::uint32_t chosen_version_ = 0;  // the version of our (client) first flight
  void set_state(ConnectionState s, Time now);
  void close_with(TransportError e, std::uint64_t frame_type, std::string_view reason, Time now);
  void close_crypto(const TlsError& e, Time now);
  void enter_closing(CloseInfo ci, Time now);
  void enter_draining(Time now);
  void discard_space(PacketSpace s);
  // Every CRYPTO byte of `sp` sent and not acknowledged goes out again
  // (PTO probes, RFC 9002 §6.2.4; a repeated client Initial, §6.2.3).
  void mark_unacked_crypto_lost(Space& sp);
  // PTO in the application space: the STREAM data of the oldest `packets`
  // outstanding packets that carry any is queued to go out again in the
  // probes (RFC 9002 §6.2.4). The packets stay in flight; whichever copy is
  // acknowledged first settles the bytes.
  void queue_probe_stream_data(int packets);
  std::uint64_t probe_requeue_from_ = 0;  // application packet numbers below were requeued
  // Handshake confirmed: frees what only the handshake needed (quic-perf
  // issue 8). Outside TLS callbacks.
  void release_handshake_memory();
  void apply_deferred_discards();
  void release_all();
  void update_recovery_state();
  Duration three_pto() const;
  Time idle_deadline() const;
  Time keep_alive_due() const;
  Time handshake_deadline() const;

  // Receive path.
  void process_frames(const ReceivedPacket& p, PacketSpace s, Time now, bool* ack_eliciting);
  TransportError on_frame(const Frame& f, const ReceivedPacket& p, PacketSpace s, Time now);
  TransportError on_crypto(const CryptoFrame& f, PacketSpace s, Time now);
  TransportError on_stream_frame(const StreamFrame& f, rte_mbuf* owner);
  TransportError on_reset_stream(const ResetStreamFrame& f);
  TransportError on_stop_sending(const StopSendingFrame& f);
  TransportError on_max_stream_data(const MaxStreamDataFrame& f);
  TransportError on_ack(const AckFrame& f, PacketSpace s, Time now);
  TransportError on_new_connection_id(const NewConnectionIdFrame& f);
  TransportError on_retire_connection_id(const RetireConnectionIdFrame& f, const ReceivedPacket& p);
  TransportError on_peer_transport_parameters();
  Stream* new_stream(std::uint64_t id);
  Stream* find_stream(std::uint64_t id);
  Stream* get_or_open_peer_stream(std::uint64_t id, FrameType type, TransportError* err);
  void queue_stream(Stream* st);
  void requeue_blocked_streams();
  void maybe_free_stream(Stream* st);
  bool stream_has_pending(const Stream* st) const;

  // Send path.
  bool congestion_allows(Time now) const;
  bool space_has_crypto(PacketSpace s) const;
  bool app_has_data() const;
  bool has_data_to_send() const;
  bool space_wants_to_send(PacketSpace s, Time now, bool cc_ok) const;
  std::size_t write_packet(std::span<std::uint8_t> buf, std::size_t offset, PacketSpace s, Time now,
                           std::size_t budget, std::size_t min_size, OutgoingPacket* out);
  void write_close_frame(Writer& f, PacketSpace s);
  void write_crypto_frames(Writer& f, PacketSpace s, SentPacket* rec);
  void write_app_frames(Writer& f, Time now, SentPacket* rec);
  void write_stream_frames(Writer& f, Time now, SentPacket* rec);
  void write_one_stream(Writer& f, Stream* st, SentPacket* rec);
  // Stream bytes [offset, offset + n) of `st` at `at` in the datagram:
  // listed for gathering when allowed, else copied.
  bool place_stream_bytes(const Stream& st, std::uint64_t offset, std::size_t n, std::uint8_t* at);
  void release_deferred_resets();
  bool stream_writable(const Stream& st) const;  // room for a write (on_stream_writable)
  // The zero-copy writes' common part; `append(SendBuffer&)` takes the bytes
  // (defined and used in connection_streams.cc only).
  template <typename Append>
  std::int64_t write_by_reference(std::uint64_t stream_id, std::size_t length, std::size_t chunks,
                                  bool fin, const Append& append);
  ProtectionKey* write_key(PacketSpace s) const;

  ConnectionConfig config_;
  EndpointRole role_;
  ConnectionState state_ = ConnectionState::kHandshaking;
  Time created_ = 0;

  ConnectionId local_cid_;
  ConnectionId peer_cid_;
  ConnectionId original_dcid_;
  bool peer_cid_set_ = false;  // learned the peer's SCID from an authenticated packet
  // RFC 9001 §5.2: Initial keys come from the client's current Initial DCID
  // (original_dcid_, or after a Retry the Retry's SCID).
  ConnectionId initial_key_cid_;
  std::optional<ConnectionId> retry_scid_;  // a Retry happened (§7.3)
  std::vector<std::uint8_t> retry_token_;   // client: sent in every Initial
  // From the peer's transport parameters on: the CIDs it issued (peer_cid_
  // follows the active one) and the RETIRE_CONNECTION_ID frames we owe.
  PeerCidSet peer_cids_;
  // Our CIDs (RFC 9000 §5.1.1): the handshake's (sequence 0) and those
  // issued through config_.cid_generator.
  LocalCidSet local_cids_;
  void issue_local_cids();
  bool new_local_cid(ConnectionId* cid, StatelessResetToken* token);

  std::unique_ptr<TlsEngine> tls_;
  std::vector<std::uint8_t> local_params_encoded_;
  TransportParameters peer_params_;
  bool peer_params_done_ = false;
  bool handshake_complete_ = false;
  bool handshake_confirmed_ = false;
  bool handshake_done_pending_ = false;  // server: HANDSHAKE_DONE to (re)send

  std::array<std::unique_ptr<Space>, kPacketSpaceCount> spaces_;

  RttEstimator rtt_;
  std::unique_ptr<CongestionController> cc_;
  std::unique_ptr<LossDetector> loss_;
  Pacer pacer_;

  // Flow control (RFC 9000 §4).
  SendCredit conn_send_;
  ReceiveWindow conn_recv_{0, 0};
  StreamLimits bidi_limits_{0, 0};
  StreamLimits uni_limits_{0, 0};
  bool max_data_pending_ = false;
  bool conn_blocked_ = false;  // a stream stopped on connection credit in this packet
  std::uint64_t next_local_bidi_ = 0;
  std::uint64_t next_local_uni_ = 0;
  std::unordered_map<std::uint64_t, std::unique_ptr<Stream>> streams_;
  StreamQueue send_queue_;  // streams with data or control frames to send
  // STREAMS_BLOCKED wanted: open_stream() hit the peer's limit ([0] bidi, [1] uni).
  std::array<bool, 2> streams_blocked_wanted_{};

  // DATAGRAM frames waiting (RFC 9221): bounded by count and size.
  static constexpr std::size_t kDatagramQueueSlots = 32;
  DatagramQueue datagrams_out_;

  // Idle and close (RFC 9000 §10).
  Duration idle_timeout_ = 0;
  Time now_ = 0;  // the latest time passed in
  Time last_activity_ = 0;
  bool ack_eliciting_since_receive_ = false;
  Time close_deadline_ = kNever;
  bool close_frame_pending_ = false;
  std::optional<CloseInfo> close_info_;
  bool ping_pending_ = false;
  Time keep_alive_sent_ = 0;  // when the last keep-alive PING was queued
  bool handshake_notified_ = false;
  bool drop_packet_ = false;  // processing must not acknowledge the current packet
  // Keys discarded while a laid-out packet may still need them for sealing
  // wait until the next call that receives or times out (RFC 9001 §4.9.1).
  bool discard_initial_pending_ = false;
  bool max_streams_bidi_lost_ = false;
  bool max_streams_uni_lost_ = false;

  // Paths (RFC 9000 §8.2, §9); anti-amplification (§8.1) is per path and
  // binds servers only.
  static constexpr std::size_t kMaxPaths = 4;
  static constexpr std::size_t kNoPath = kMaxPaths;
  std::array<ConnectionPath, kMaxPaths> paths_{};
  std::size_t active_path_ = 0;
  std::size_t fallback_path_ = kNoPath;  // §9.3.2: the last validated one, to revert to
  std::size_t rx_path_ = 0;              // of the datagram being processed
  std::size_t tx_path_ = 0;              // of the datagram being laid out
  bool path_bound_ = false;              // server: path 0 is the first datagram's
  // ECN (RFC 9000 §13.4.2): validation of the active path, whose address it
  // was started for, and the codepoint of the datagram being laid out.
  EcnValidator ecn_;
  NetworkPath ecn_path_;
  Ecn tx_ecn_ = Ecn::kNotEct;
  // A datagram from an unknown peer address (server): it becomes a path
  // when one of its packets opens and is not a duplicate.
  std::optional<NetworkPath> rx_new_path_;
  std::size_t rx_new_bytes_ = 0;
  bool packet_non_probing_ = false;  // §9.1: the packet being processed
  bool probing_only_ = false;        // laying out a probe for a non-active path
  bool expand_datagram_ = false;     // §8.2.1-8.2.2: PATH_CHALLENGE/RESPONSE in it
  static constexpr std::size_t kNoChallenge = ConnectionPath::kChallenges;
  std::size_t challenge_slot_ = kNoChallenge;  // of the PATH_CHALLENGE in it
  // Zero-copy send: the datagram being laid out and its buffer, while
  // write_datagram may gather; gather_held_ from the first gathered run to
  // end_gather(), while resets defer releasing send buffers.
  OutgoingDatagram* gather_out_ = nullptr;
  const std::uint8_t* gather_base_ = nullptr;
  std::size_t gather_runs_ = 0;
  bool gather_held_ = false;
  std::size_t deferred_resets_ = 0;
  std::uint64_t amplification_room() const { return amplification_room(active_path_); }
  std::uint64_t amplification_room(std::size_t path) const {
    return paths_[path].amplification_room(role_ == EndpointRole::kServer);
  }
  void on_address_validated();
  bool amplification_blocked() const;  // nothing can be sent until more arrives
  std::size_t find_path(const NetworkPath& a) const;
  std::size_t new_path_slot();
  bool bind_new_path(Time now);
  void start_validation(std::size_t i, Time now);
  void on_path_validated(std::size_t i, bool mtu_tested, Time now);
  void on_path_validation_failed(std::size_t i, Time now);
  void switch_path(std::size_t i, Time now);
  void free_path(std::size_t i);
  void reset_congestion(Time now);
  // RFC 9000 §13.4.2: the codepoint for the next datagram on the active
  // path, restarting validation when that path changed.
  Ecn ecn_for_datagram(Time now);
  // Applies loss detection's ECN feedback (after ACKs and loss timeouts).
  void update_ecn();
  void on_path_response(const PathData& d, Time now);
  void check_path_timers(Time now);
  Time path_timer() const;
  Duration path_validation_timeout() const;
  const ConnectionId& tx_dcid();
  void write_path_frames(Writer& f, Time now, SentPacket* rec);
  bool write_probe_datagram(std::size_t path, std::span<std::uint8_t> buf, Time now,
                            OutgoingDatagram* out);
  void maybe_use_preferred_address(Time now);

  // 0-RTT (RFC 9001 §4.6): the client's write key until the handshake
  // completes, the server's read key until the first 1-RTT packet.
  ProtectionKey* zero_rtt_key_ = nullptr;
  bool early_data_offered_ = false;
  bool new_token_pending_ = false;  // server: NEW_TOKEN to (re)send
  bool sending_zero_rtt() const;
  bool apply_remembered_parameters(ByteSpan encoded);

  // Key update (RFC 9001 §6). The application space's read/write keys
  // mirror one_rtt_'s current ones and are owned by it.
  OneRttKeys one_rtt_;
  AeadAlgorithm one_rtt_aead_ = AeadAlgorithm::kAes128Gcm;
  std::uint64_t read_phase_start_ = 0;      // first packet number of the current read phase
  std::uint64_t write_phase_first_pn_ = 0;  // first packet we sent in the current write phase
  Time read_previous_discard_at_ = kNever;  // §6.1: previous read keys go 3 PTO after an update
  ProtectionKey* retired_write_key_ = nullptr;  // released once its packets were sealed
  std::uint64_t authentication_failures_ = 0;
  void on_key_phase(const ReceivedPacket& p, Time now);
  bool update_write_keys(Time now);
  void maybe_update_keys(Time now);

  ConnectionStats stats_;
  std::uint8_t peer_ack_delay_exponent_ = 3;
};

}  // namespace dquic
