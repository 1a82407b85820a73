#include "quic/cid_generator.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

namespace dquic {

namespace {

constexpr std::size_t kMinRandomCidLength = 8;

bool valid_workers(std::uint8_t worker_id_length, std::uint16_t worker_count,
                   CidGeneratorError* error) {
  if (worker_id_length < 1 || worker_id_length > kMaxWorkerIdLength) {
    *error = CidGeneratorError::kWorkerIdLength;
    return false;
  }
  // A uint16_t never exceeds 2^16, so only one byte needs the bound.
  if (worker_count == 0 || (worker_id_length == 1 && worker_count > 256)) {
    *error = CidGeneratorError::kWorkerCount;
    return false;
  }
  return true;
}

void put_worker(std::uint16_t worker, std::size_t n, std::uint8_t* out) {
  if (n == 2) {
    out[0] = static_cast<std::uint8_t>(worker >> 8);
    out[1] = static_cast<std::uint8_t>(worker);
  } else {
    out[0] = static_cast<std::uint8_t>(worker);
  }
}

std::uint16_t get_worker(const std::uint8_t* in, std::size_t n) {
  return n == 2 ? static_cast<std::uint16_t>((in[0] << 8) | in[1]) : in[0];
}

// Big-endian increment with wrap-around (draft §9.6 counter nonces).
void increment(std::uint8_t* v, std::size_t n) {
  for (std::size_t i = n; i > 0; --i) {
    if (++v[i - 1] != 0) return;
  }
}

}  // namespace

const char* to_string(CidGeneratorError e) {
  switch (e) {
    case CidGeneratorError::kOk:
      return "ok";
    case CidGeneratorError::kNoRandomSource:
      return "no random source";
    case CidGeneratorError::kWorkerIdLength:
      return "worker id length must be 1 or 2 bytes";
    case CidGeneratorError::kWorkerCount:
      return "worker count must be 1..2^(8 * worker id length)";
    case CidGeneratorError::kHostIdLength:
      return "host id and worker id must form a 1..15 byte server ID";
    case CidGeneratorError::kCidLength:
      return "random CID length must be 8..20 bytes";
    case CidGeneratorError::kQuicLbConfig:
      return "invalid QUIC-LB configuration";
  }
  return "unknown";
}

// --- QuicLbCidGenerator ---------------------------------------------------

std::unique_ptr<QuicLbCidGenerator> QuicLbCidGenerator::create(const QuicLbCidGeneratorSettings& s,
                                                               CidRandomSource random,
                                                               CidGeneratorError* error,
                                                               QuicLbConfigError* lb_error) {
  CidGeneratorError local = CidGeneratorError::kOk;
  QuicLbConfigError local_lb = QuicLbConfigError::kOk;
  if (error == nullptr) error = &local;
  if (lb_error == nullptr) lb_error = &local_lb;
  *error = CidGeneratorError::kOk;
  *lb_error = QuicLbConfigError::kOk;
  if (!random) {
    *error = CidGeneratorError::kNoRandomSource;
    return nullptr;
  }
  if (!valid_workers(s.worker_id_length, s.worker_count, error)) return nullptr;
  const std::size_t server_id_length = s.host_id.length + std::size_t{s.worker_id_length};
  if (server_id_length > kQuicLbMaxServerIdLength) {
    *error = CidGeneratorError::kHostIdLength;
    return nullptr;
  }

  QuicLbSettings lb;
  lb.config_rotation = s.config_rotation;
  lb.server_id = s.host_id;
  lb.server_id.length = static_cast<std::uint8_t>(server_id_length);
  put_worker(0, s.worker_id_length, lb.server_id.bytes.data() + s.host_id.length);
  lb.nonce_length = s.nonce_length;
  lb.key = s.key;
  lb.encode_length = s.encode_length;

  std::unique_ptr<QuicLbCidGenerator> g(new QuicLbCidGenerator());
  *lb_error = g->config_.init(lb);
  if (*lb_error != QuicLbConfigError::kOk) {
    *error = CidGeneratorError::kQuicLbConfig;
    return nullptr;
  }
  g->settings_ = s;
  if (g->settings_.key) {
    // The configuration holds the key; keep no second copy.
    OPENSSL_cleanse(g->settings_.key->data(), g->settings_.key->size());
    g->settings_.key.reset();
  }
  g->random_ = std::move(random);

  // §9.6: an n-byte counter nonce is good for 2^(8n) CIDs per key; a random
  // plaintext nonce has no hard limit, only the operator's.
  constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t limit = kUnlimited;
  if (s.key && s.nonce_length < 8) limit = std::uint64_t{1} << (8 * s.nonce_length);
  if (s.max_cids_per_worker != 0) limit = std::min(limit, s.max_cids_per_worker);
  g->limit_ = limit;

  g->workers_.resize(s.worker_count);
  if (s.key) {
    // §9.6: servers SHOULD start the counter at a random value.
    for (WorkerState& w : g->workers_)
      g->random_(std::span<std::uint8_t>(w.next_nonce.data(), s.nonce_length));
  }
  return g;
}

std::uint64_t QuicLbCidGenerator::remaining(std::uint16_t worker) const {
  if (worker >= workers_.size()) return 0;
  return limit_ - workers_[worker].issued;
}

bool QuicLbCidGenerator::generate(std::uint16_t worker, ConnectionId* out) {
  if (worker >= workers_.size()) return false;
  WorkerState& w = workers_[worker];
  if (w.issued >= limit_) return false;  // §9.6: MUST NOT reuse a nonce

  const std::size_t host_len = settings_.host_id.length;
  std::array<std::uint8_t, kQuicLbMaxServerIdLength> server_id{};
  std::memcpy(server_id.data(), settings_.host_id.bytes.data(), host_len);
  put_worker(worker, settings_.worker_id_length, server_id.data() + host_len);

  const std::size_t nonce_len = settings_.nonce_length;
  // Nonce, then one byte for the first octet's random bits (§3.3).
  std::array<std::uint8_t, kQuicLbMaxNonceLength + 1> fresh{};
  std::uint8_t* random_bits = fresh.data() + nonce_len;
  if (config_.encrypted()) {
    std::memcpy(fresh.data(), w.next_nonce.data(), nonce_len);
    increment(w.next_nonce.data(), nonce_len);
    if (!settings_.encode_length) random_(std::span<std::uint8_t>(random_bits, 1));
  } else {
    // §5.4: plaintext nonces MUST be unrelated to earlier ones: all random.
    random_(std::span<std::uint8_t>(fresh.data(), nonce_len + 1));
  }
  ++w.issued;  // a nonce handed to the cipher counts even if the cipher fails
  return config_.generate(ByteSpan(server_id.data(), host_len + settings_.worker_id_length),
                          ByteSpan(fresh.data(), nonce_len), *random_bits, out);
}

std::optional<std::uint16_t> QuicLbCidGenerator::worker_of(ByteSpan dcid) const {
  if (dcid.size() != cid_length()) return std::nullopt;
  const std::optional<QuicLbServerId> id = config_.decode(dcid);
  if (!id) return std::nullopt;
  const std::size_t host_len = settings_.host_id.length;
  if (!same_bytes(ByteSpan(id->bytes.data(), host_len), settings_.host_id.span()))
    return std::nullopt;  // another host's CID (or random bytes)
  const std::uint16_t worker = get_worker(id->bytes.data() + host_len, settings_.worker_id_length);
  if (worker >= workers_.size()) return std::nullopt;
  return worker;
}

// --- RandomCidGenerator ---------------------------------------------------

std::unique_ptr<RandomCidGenerator> RandomCidGenerator::create(const RandomCidGeneratorSettings& s,
                                                               CidRandomSource random,
                                                               CidGeneratorError* error) {
  CidGeneratorError local = CidGeneratorError::kOk;
  if (error == nullptr) error = &local;
  *error = CidGeneratorError::kOk;
  if (!random) {
    *error = CidGeneratorError::kNoRandomSource;
    return nullptr;
  }
  if (!valid_workers(s.worker_id_length, s.worker_count, error)) return nullptr;
  if (s.cid_length < kMinRandomCidLength || s.cid_length > kMaxConnectionIdLength) {
    *error = CidGeneratorError::kCidLength;
    return nullptr;
  }
  std::unique_ptr<RandomCidGenerator> g(new RandomCidGenerator());
  g->settings_ = s;
  g->random_ = std::move(random);
  return g;
}

bool RandomCidGenerator::generate(std::uint16_t worker, ConnectionId* out) {
  if (worker >= settings_.worker_count) return false;
  const std::size_t len = settings_.cid_length;
  const std::size_t at = worker_offset();
  const std::size_t tail = at + settings_.worker_id_length;
  out->length = static_cast<std::uint8_t>(len);
  out->bytes.fill(0);
  if (settings_.quic_lb_unroutable) out->bytes[0] = quic_lb_unroutable_first_octet(len);
  put_worker(worker, settings_.worker_id_length, out->bytes.data() + at);
  random_(std::span<std::uint8_t>(out->bytes.data() + tail, len - tail));
  return true;
}

std::optional<std::uint16_t> RandomCidGenerator::worker_of(ByteSpan dcid) const {
  if (dcid.size() != settings_.cid_length) return std::nullopt;
  if (settings_.quic_lb_unroutable && dcid[0] != quic_lb_unroutable_first_octet(dcid.size()))
    return std::nullopt;
  const std::uint16_t worker =
      get_worker(dcid.data() + worker_offset(), settings_.worker_id_length);
  if (worker >= settings_.worker_count) return std::nullopt;
  return worker;
}

}  // namespace dquic
