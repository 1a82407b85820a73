#include "quic/tls_key_schedule.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <utility>

namespace dquic {
namespace {

// Fetched once, like the HKDF in hkdf.cc: a provider lookup per hash or MAC
// would cost more than the work. Immutable and shared across threads; held
// for the life of the process.
const EVP_MD* message_digest(HashAlgorithm h) {
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  return h == HashAlgorithm::kSha256 ? sha256 : sha384;
}

void wipe(Secret* s) {
  OPENSSL_cleanse(s->bytes.data(), s->bytes.size());
  s->length = 0;
}

bool well_formed(const Secret& s) {
  return s.length == hash_length(s.hash);
}

bool well_formed(const HashValue& v, HashAlgorithm h) {
  return v.hash == h && v.length == hash_length(h);
}

// Finalizes `ctx` into `out`.
bool finish(EVP_MD_CTX* ctx, HashAlgorithm h, HashValue* out) {
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out->bytes.data(), &len) != 1 || len != hash_length(h)) {
    return false;
  }
  out->hash = h;
  out->length = static_cast<std::uint8_t>(len);
  return true;
}

bool feed(EVP_MD_CTX* ctx, ByteSpan b) {
  return b.empty() || EVP_DigestUpdate(ctx, b.data(), b.size()) == 1;
}

// RFC 8446 §4.4.1: the synthetic handshake message that stands for
// ClientHello1 after a HelloRetryRequest.
bool feed_message_hash(EVP_MD_CTX* ctx, HashAlgorithm h, ByteSpan client_hello1_hash) {
  const std::uint8_t header[4] = {0xfe, 0, 0, static_cast<std::uint8_t>(hash_length(h))};
  return feed(ctx, header) && feed(ctx, client_hello1_hash);
}

// HMAC for Finished (RFC 8446 §4.4.4) through hkdf.h's reusable contexts.
bool hmac(HashAlgorithm h, ByteSpan key, ByteSpan data, HashValue* out) {
  if (key.empty()) return false;  // our keys are secrets, never empty
  if (!hmac_hash(h, key, {data}, out->bytes)) return false;
  out->hash = h;
  out->length = static_cast<std::uint8_t>(hash_length(h));
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// TranscriptHash

TranscriptHash::TranscriptHash() {
  for (HashAlgorithm h : {HashAlgorithm::kSha256, HashAlgorithm::kSha384}) {
    const EVP_MD* md = message_digest(h);
    EVP_MD_CTX* ctx = md != nullptr ? EVP_MD_CTX_new() : nullptr;
    if (ctx != nullptr && EVP_DigestInit_ex2(ctx, md, nullptr) != 1) {
      EVP_MD_CTX_free(ctx);
      ctx = nullptr;
    }
    if (ctx == nullptr) {
      free_contexts();  // all or nothing: every operation then fails
      return;
    }
    ctx_[index(h)] = ctx;
  }
}

TranscriptHash::~TranscriptHash() {
  free_contexts();
}

TranscriptHash::TranscriptHash(TranscriptHash&& other) noexcept
    : ctx_(std::exchange(other.ctx_, {})), hash_(other.hash_), selected_(other.selected_) {}

TranscriptHash& TranscriptHash::operator=(TranscriptHash&& other) noexcept {
  if (this != &other) {
    free_contexts();
    ctx_ = std::exchange(other.ctx_, {});
    hash_ = other.hash_;
    selected_ = other.selected_;
  }
  return *this;
}

void TranscriptHash::free_contexts() {
  for (EVP_MD_CTX*& ctx : ctx_) {
    EVP_MD_CTX_free(ctx);
    ctx = nullptr;
  }
}

bool TranscriptHash::has(HashAlgorithm hash) const {
  return ctx_[index(hash)] != nullptr;
}

bool TranscriptHash::update(ByteSpan message) {
  bool any = false;
  for (EVP_MD_CTX* ctx : ctx_) {
    if (ctx == nullptr) continue;
    if (!feed(ctx, message)) return false;
    any = true;
  }
  return any;
}

bool TranscriptHash::select(HashAlgorithm hash) {
  if (!has(hash)) return false;
  if (selected_) return hash_ == hash;
  const std::size_t other = 1 - index(hash);
  EVP_MD_CTX_free(ctx_[other]);
  ctx_[other] = nullptr;
  hash_ = hash;
  selected_ = true;
  return true;
}

bool TranscriptHash::digest(HashValue* out) const {
  return selected_ && digest_with_tail(hash_, {}, out);
}

bool TranscriptHash::digest(HashAlgorithm hash, HashValue* out) const {
  return digest_with_tail(hash, {}, out);
}

bool TranscriptHash::digest_with_tail(HashAlgorithm hash, ByteSpan tail, HashValue* out) const {
  if (!has(hash)) return false;
  // Finalizing consumes a context: hash a copy so the transcript runs on.
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  const bool ok = copy != nullptr && EVP_MD_CTX_copy_ex(copy, ctx_[index(hash)]) == 1 &&
                  feed(copy, tail) && finish(copy, hash, out);
  EVP_MD_CTX_free(copy);
  return ok;
}

bool TranscriptHash::restart_for_hello_retry() {
  bool any = false;
  for (HashAlgorithm h : {HashAlgorithm::kSha256, HashAlgorithm::kSha384}) {
    EVP_MD_CTX* ctx = ctx_[index(h)];
    if (ctx == nullptr) continue;
    // The running context is replaced anyway, so finalize it in place.
    HashValue client_hello1;
    if (!finish(ctx, h, &client_hello1) ||
        EVP_DigestInit_ex2(ctx, message_digest(h), nullptr) != 1 ||
        !feed_message_hash(ctx, h, client_hello1.span())) {
      return false;
    }
    any = true;
  }
  return any;
}

bool TranscriptHash::restart_from_client_hello_hash(HashAlgorithm hash,
                                                    ByteSpan client_hello1_hash) {
  if (client_hello1_hash.size() != hash_length(hash) || !has(hash)) return false;
  if (selected_ && hash_ != hash) return false;
  EVP_MD_CTX* ctx = ctx_[index(hash)];
  return EVP_DigestInit_ex2(ctx, message_digest(hash), nullptr) == 1 &&
         feed_message_hash(ctx, hash, client_hello1_hash) && select(hash);
}

// ---------------------------------------------------------------------------
// Derivations

namespace {

bool compute_empty_hash(HashAlgorithm hash, HashValue* out) {
  const EVP_MD* md = message_digest(hash);
  if (md == nullptr) return false;
  static const std::uint8_t kNothing = 0;
  unsigned int len = 0;
  if (EVP_Digest(&kNothing, 0, out->bytes.data(), &len, md, nullptr) != 1 ||
      len != hash_length(hash)) {
    return false;
  }
  out->hash = hash;
  out->length = static_cast<std::uint8_t>(len);
  return true;
}

}  // namespace

bool empty_hash(HashAlgorithm hash, HashValue* out) {
  // Two constants (Hash("") for SHA-256 and SHA-384), needed twice per
  // handshake: computed once (thread-safe static initialization).
  struct Empty {
    HashValue value[2];
    bool ok[2];
  };
  static const Empty kEmpty = [] {
    Empty e{};
    e.ok[0] = compute_empty_hash(HashAlgorithm::kSha256, &e.value[0]);
    e.ok[1] = compute_empty_hash(HashAlgorithm::kSha384, &e.value[1]);
    return e;
  }();
  const int i = hash == HashAlgorithm::kSha256 ? 0 : 1;
  if (!kEmpty.ok[i]) return false;
  *out = kEmpty.value[i];
  return true;
}

bool derive_secret(const Secret& secret, std::string_view label, const HashValue& messages,
                   Secret* out) {
  const HashAlgorithm h = secret.hash;
  if (!well_formed(secret) || !well_formed(messages, h)) return false;
  // Through a temporary so that `out` may alias `secret` and is written only
  // on success.
  Secret s;
  s.hash = h;
  s.length = static_cast<std::uint8_t>(hash_length(h));
  const bool ok =
      hkdf_expand_label(h, secret.span(), label, messages.span(), {s.bytes.data(), s.length});
  if (ok) *out = s;
  wipe(&s);
  return ok;
}

bool compute_finished(const Secret& base_key, const HashValue& transcript, HashValue* verify_data) {
  const HashAlgorithm h = base_key.hash;
  if (!well_formed(base_key) || !well_formed(transcript, h)) return false;
  // RFC 8446 §4.4.4.
  std::array<std::uint8_t, kMaxHashLength> finished_key;
  const std::size_t len = hash_length(h);
  const bool ok =
      hkdf_expand_label(h, base_key.span(), "finished", {}, {finished_key.data(), len}) &&
      hmac(h, {finished_key.data(), len}, transcript.span(), verify_data);
  OPENSSL_cleanse(finished_key.data(), finished_key.size());
  return ok;
}

bool verify_finished(const Secret& base_key, const HashValue& transcript, ByteSpan received) {
  HashValue expected;
  if (!compute_finished(base_key, transcript, &expected)) return false;
  // The length is public (Hash.length); the contents are compared in
  // constant time so that timing does not reveal a matching prefix.
  const bool ok = received.size() == expected.length &&
                  CRYPTO_memcmp(received.data(), expected.bytes.data(), expected.length) == 0;
  OPENSSL_cleanse(expected.bytes.data(), expected.bytes.size());
  return ok;
}

bool ticket_psk(const Secret& resumption_master_secret, ByteSpan ticket_nonce, Secret* out) {
  const HashAlgorithm h = resumption_master_secret.hash;
  if (!well_formed(resumption_master_secret)) return false;
  // RFC 8446 §4.6.1. The nonce is the HkdfLabel context (at most 255 bytes,
  // checked by the label encoder).
  Secret s;
  s.hash = h;
  s.length = static_cast<std::uint8_t>(hash_length(h));
  const bool ok = hkdf_expand_label(h, resumption_master_secret.span(), "resumption", ticket_nonce,
                                    {s.bytes.data(), s.length});
  if (ok) *out = s;
  wipe(&s);
  return ok;
}

// ---------------------------------------------------------------------------
// TlsKeySchedule

TlsKeySchedule::~TlsKeySchedule() {
  wipe_all();
}

TlsKeySchedule::TlsKeySchedule(TlsKeySchedule&& other) noexcept
    : hash_(other.hash_),
      stage_(other.stage_),
      early_(other.early_),
      handshake_(other.handshake_),
      master_(other.master_) {
  other.wipe_all();
}

TlsKeySchedule& TlsKeySchedule::operator=(TlsKeySchedule&& other) noexcept {
  if (this != &other) {
    hash_ = other.hash_;
    stage_ = other.stage_;
    early_ = other.early_;
    handshake_ = other.handshake_;
    master_ = other.master_;
    other.wipe_all();
  }
  return *this;
}

void TlsKeySchedule::wipe_all() {
  wipe(&early_);
  wipe(&handshake_);
  wipe(&master_);
  stage_ = Stage::kNone;
}

bool TlsKeySchedule::set_early_secret() {
  // RFC 8446 §7.1: without a PSK the IKM is Hash.length zeros.
  const std::array<std::uint8_t, kMaxHashLength> zeros{};
  return set_early_secret({zeros.data(), hash_length(hash_)});
}

bool TlsKeySchedule::set_early_secret(ByteSpan psk) {
  if (stage_ != Stage::kNone || psk.empty()) return false;
  // Salt 0: hkdf_extract turns an empty salt into Hash.length zeros.
  if (!hkdf_extract(hash_, {}, psk, &early_)) return false;
  stage_ = Stage::kEarly;
  return true;
}

bool TlsKeySchedule::derive(Stage stage, std::string_view label, const HashValue& messages,
                            Secret* out) const {
  if (stage_ != stage) return false;
  const Secret& from = stage == Stage::kEarly       ? early_
                       : stage == Stage::kHandshake ? handshake_
                                                    : master_;
  return derive_secret(from, label, messages, out);
}

bool TlsKeySchedule::binder_key(PskKind kind, Secret* out) const {
  HashValue empty;
  return empty_hash(hash_, &empty) &&
         derive(Stage::kEarly, kind == PskKind::kResumption ? "res binder" : "ext binder", empty,
                out);
}

bool TlsKeySchedule::client_early_traffic_secret(const HashValue& client_hello, Secret* out) const {
  return derive(Stage::kEarly, "c e traffic", client_hello, out);
}

bool TlsKeySchedule::early_exporter_master_secret(const HashValue& client_hello,
                                                  Secret* out) const {
  return derive(Stage::kEarly, "e exp master", client_hello, out);
}

bool TlsKeySchedule::next_stage(const Secret& from, ByteSpan ikm, Secret* to) {
  HashValue empty;
  Secret salt;
  const bool ok = empty_hash(hash_, &empty) && derive_secret(from, "derived", empty, &salt) &&
                  hkdf_extract(hash_, salt.span(), ikm, to);
  wipe(&salt);
  return ok;
}

bool TlsKeySchedule::set_handshake_secret(ByteSpan shared_secret) {
  if (stage_ != Stage::kEarly || shared_secret.empty()) return false;
  if (!next_stage(early_, shared_secret, &handshake_)) return false;
  wipe(&early_);
  stage_ = Stage::kHandshake;
  return true;
}

bool TlsKeySchedule::client_handshake_traffic_secret(const HashValue& hello, Secret* out) const {
  return derive(Stage::kHandshake, "c hs traffic", hello, out);
}

bool TlsKeySchedule::server_handshake_traffic_secret(const HashValue& hello, Secret* out) const {
  return derive(Stage::kHandshake, "s hs traffic", hello, out);
}

bool TlsKeySchedule::set_master_secret() {
  if (stage_ != Stage::kHandshake) return false;
  const std::array<std::uint8_t, kMaxHashLength> zeros{};
  if (!next_stage(handshake_, {zeros.data(), hash_length(hash_)}, &master_)) return false;
  wipe(&handshake_);
  stage_ = Stage::kMaster;
  return true;
}

bool TlsKeySchedule::client_application_traffic_secret(const HashValue& server_finished,
                                                       Secret* out) const {
  return derive(Stage::kMaster, "c ap traffic", server_finished, out);
}

bool TlsKeySchedule::server_application_traffic_secret(const HashValue& server_finished,
                                                       Secret* out) const {
  return derive(Stage::kMaster, "s ap traffic", server_finished, out);
}

bool TlsKeySchedule::exporter_master_secret(const HashValue& server_finished, Secret* out) const {
  return derive(Stage::kMaster, "exp master", server_finished, out);
}

bool TlsKeySchedule::resumption_master_secret(const HashValue& client_finished, Secret* out) const {
  return derive(Stage::kMaster, "res master", client_finished, out);
}

}  // namespace dquic
