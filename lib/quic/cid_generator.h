// The connection IDs this server issues (RFC 9000 §5.1) and how a packet's
// DCID leads back to the worker (lcore) that owns the connection. Every CID
// the endpoint issues comes from one ConnectionIdGenerator, so NIC flow rules,
// a software redirect between lcores, or an external QUIC-LB load balancer
// can steer without shared state.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "quic/buffer.h"
#include "quic/connection_id.h"
#include "quic/quic_lb.h"

namespace dquic {

// Fills its argument with unpredictable bytes (the endpoint passes a CSPRNG,
// e.g. RAND_bytes). Called from every lcore that generates, so it must be safe
// to call concurrently. It must not allocate.
using CidRandomSource = std::function<void(std::span<std::uint8_t>)>;

class ConnectionIdGenerator {
 public:
  virtual ~ConnectionIdGenerator() = default;
  // A new CID owned by `worker`. False if `worker` is out of range or this
  // generator can issue no more CIDs (e.g. QUIC-LB nonces exhausted, draft §9.6).
  // Calls for different workers may run concurrently; calls for one worker
  // must come from one thread at a time (its lcore).
  [[nodiscard]] virtual bool generate(std::uint16_t worker, ConnectionId* out) = 0;
  // The worker that owns `dcid` if it has the shape of a CID this generator
  // issued (exactly cid_length() bytes); nullopt otherwise, e.g. for a
  // client-chosen Initial DCID of another length. Safe from any thread.
  virtual std::optional<std::uint16_t> worker_of(ByteSpan dcid) const = 0;
  // Every CID issued has this length, which is also the short-header DCID
  // length the endpoint parses with.
  virtual std::size_t cid_length() const = 0;
};

enum class CidGeneratorError : std::uint8_t {
  kOk = 0,
  kNoRandomSource,
  kWorkerIdLength,  // worker id must take 1 or 2 bytes
  kWorkerCount,     // 1..2^(8 * worker_id_length)
  kHostIdLength,    // host id + worker id must make a 1..15 byte server ID
  kCidLength,       // RandomCidGenerator: 8..20 bytes
  kQuicLbConfig,    // see the QuicLbConfigError out-parameter
};
const char* to_string(CidGeneratorError e);

inline constexpr std::size_t kMaxWorkerIdLength = 2;

// QUIC-LB CIDs (draft-ietf-quic-load-balancers-21) whose server ID is
//
//   server ID = host_id (H bytes, may be empty) || worker (W bytes, big-endian)
//
// so the QUIC-LB server ID length is H + W. The external load balancer routes
// by the host part in either of two ways: it lists every host_id||worker
// server ID of this host, or (draft §7.1, load balancer chains) it is
// configured with server ID length H and nonce length W + nonce_length, and
// reads the worker bytes as part of the nonce. Both decode alike, because the
// plaintext, the AES block and the Feistel halves (§5.4) depend only on the
// total length H + W + nonce_length, not on where the server ID ends.
//
// worker_of() does what the load balancer does (QuicLbConfig::decode): in
// encrypted mode it decrypts (3 or 4 AES blocks, or 1 in the single-pass
// case), then checks the host part is ours and the worker in range.
//
// Nonces (§5.4, §9.6):
// - plaintext mode: fresh random bytes for every CID, because plaintext
//   nonces MUST have no observable relationship to earlier ones. Random
//   nonces can repeat (birthday bound 2^(4 * nonce_length)); the endpoint
//   checks a new CID against its table anyway.
// - encrypted mode: a per-worker counter that starts at a random value and
//   increments, the draft's recommended way to never reuse a nonce under one
//   key. Workers never collide because the worker id is in the plaintext.
//   Once a worker has used its whole nonce space (or max_cids_per_worker),
//   generate() fails: the draft then requires a new configuration (a new
//   generator) or unroutable CIDs (RandomCidGenerator with quic_lb_unroutable).
// Without encode_length the first octet's low 5 bits are random (§3.3).
//
// In plaintext mode the server ID, hence host and worker, is readable by
// anyone on the path: the draft's documented trade-off (§9), the same one
// RandomCidGenerator makes.
struct QuicLbCidGeneratorSettings {
  std::uint8_t config_rotation = 0;   // §3.1: 0..6
  QuicLbServerId host_id;             // this host's part of the server ID
  std::uint8_t worker_id_length = 1;  // W: 1 or 2
  std::uint16_t worker_count = 1;     // workers 0..worker_count-1
  std::uint8_t nonce_length = 0;      // §5.3: 4..18, H + W + nonce <= 19
  std::optional<std::array<std::uint8_t, kQuicLbKeyLength>> key;  // encrypted mode
  bool encode_length = false;                                     // §3.3
  // Stop after this many CIDs per worker (0: the nonce space, encrypted
  // mode; no limit, plaintext mode), so an operator can rotate the
  // configuration before nonces run out (§9.6).
  std::uint64_t max_cids_per_worker = 0;
};

class QuicLbCidGenerator final : public ConnectionIdGenerator {
 public:
  // Nullptr on invalid settings; *error (and *lb_error for kQuicLbConfig)
  // say why. `random` also seeds the nonce counters here.
  static std::unique_ptr<QuicLbCidGenerator> create(const QuicLbCidGeneratorSettings& s,
                                                    CidRandomSource random,
                                                    CidGeneratorError* error = nullptr,
                                                    QuicLbConfigError* lb_error = nullptr);

  [[nodiscard]] bool generate(std::uint16_t worker, ConnectionId* out) override;
  std::optional<std::uint16_t> worker_of(ByteSpan dcid) const override;
  std::size_t cid_length() const override { return config_.cid_length(); }

  // The configuration with the full server ID length (H + W) and this host's
  // id followed by worker 0; an external load balancer decodes the same way.
  const QuicLbConfig& config() const { return config_; }
  // CIDs `worker` may still issue before generate() fails (§9.6: lets the
  // operator see nonce exhaustion coming); 0 for an unknown worker.
  std::uint64_t remaining(std::uint16_t worker) const;

 private:
  // One cache line per worker: each lcore writes only its own.
  struct alignas(64) WorkerState {
    std::array<std::uint8_t, kQuicLbMaxNonceLength> next_nonce{};  // encrypted mode
    std::uint64_t issued = 0;
  };

  QuicLbCidGenerator() = default;

  QuicLbCidGeneratorSettings settings_;
  QuicLbConfig config_;
  CidRandomSource random_;
  std::uint64_t limit_ = 0;  // CIDs per worker
  std::vector<WorkerState> workers_;
};

// Random CIDs of a fixed length for when no QUIC-LB configuration is given.
// The worker id sits in the clear, big-endian, in the first W bytes (or in
// bytes 1..W after an unroutable first octet, below); the rest is fresh
// random bytes from the source for every CID.
//
// Trade-off: anyone on the path can read which worker (lcore) owns a
// connection and link CIDs of one worker, though not of one connection. This
// buys steering without decryption (a NIC flow rule can match the byte). The
// QUIC-LB plaintext mode makes the same trade-off (draft §9).
//
// With quic_lb_unroutable, the first octet is 0b111 || (length - 1): the
// draft's unroutable codepoint with self-encoded length (§3.2), which a
// server behind a QUIC-LB load balancer MUST use while it has no active
// configuration (the LB then routes by 4-tuple; such a server SHOULD also
// send disable_active_migration and issue a single CID, §3.2).
struct RandomCidGeneratorSettings {
  std::uint8_t cid_length = 8;        // 8..20: at least 7 bytes that are not
                                      // the first octet (draft §3.2)
  std::uint8_t worker_id_length = 1;  // 1 or 2
  std::uint16_t worker_count = 1;
  bool quic_lb_unroutable = false;
};

class RandomCidGenerator final : public ConnectionIdGenerator {
 public:
  static std::unique_ptr<RandomCidGenerator> create(const RandomCidGeneratorSettings& s,
                                                    CidRandomSource random,
                                                    CidGeneratorError* error = nullptr);

  [[nodiscard]] bool generate(std::uint16_t worker, ConnectionId* out) override;
  std::optional<std::uint16_t> worker_of(ByteSpan dcid) const override;
  std::size_t cid_length() const override { return settings_.cid_length; }

 private:
  RandomCidGenerator() = default;
  std::size_t worker_offset() const { return settings_.quic_lb_unroutable ? 1 : 0; }

  RandomCidGeneratorSettings settings_;
  CidRandomSource random_;
};

}  // namespace dquic
