#include "quic/tls_ticket.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

namespace dquic {

namespace {

constexpr std::uint8_t kTicketStateVersion = 1;

void put(std::vector<std::uint8_t>* out, std::uint64_t v, std::size_t n) {
  for (std::size_t i = n; i > 0; --i)
    out->push_back(static_cast<std::uint8_t>(v >> (8 * (i - 1))));
}

void put_bytes8(std::vector<std::uint8_t>* out, ByteSpan b) {
  out->push_back(static_cast<std::uint8_t>(b.size()));
  out->insert(out->end(), b.begin(), b.end());
}

ByteSpan str_bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

bool get(Reader& r, std::size_t n, std::uint64_t* v) {
  return r.read_uint(n, v);
}

bool get_bytes8(Reader& r, ByteSpan* b) {
  std::uint64_t n = 0;
  return r.read_uint(1, &n) && r.read_bytes(static_cast<std::size_t>(n), b);
}

// One AES-256-GCM operation; `out` gets in.size() bytes.
bool gcm(bool encrypt, const std::uint8_t* key, const std::uint8_t* nonce, ByteSpan aad,
         ByteSpan in, std::uint8_t* out, std::uint8_t* tag) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return false;
  int len = 0;
  bool ok =
      EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key, nonce, encrypt ? 1 : 0) == 1 &&
      EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())) == 1 &&
      (in.empty() || EVP_CipherUpdate(ctx, out, &len, in.data(), static_cast<int>(in.size())) == 1);
  if (ok && !encrypt) {
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TicketKeys::kTagLength, tag) == 1;
  }
  std::uint8_t final_block[16];
  ok = ok && EVP_CipherFinal_ex(ctx, final_block, &len) == 1;
  if (ok && encrypt)
    ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TicketKeys::kTagLength, tag) == 1;
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

}  // namespace

ZeroRttTransportLimits ZeroRttTransportLimits::from(const TransportParameters& p) {
  ZeroRttTransportLimits l;
  l.active_connection_id_limit = p.active_connection_id_limit;
  l.initial_max_data = p.initial_max_data;
  l.initial_max_stream_data_bidi_local = p.initial_max_stream_data_bidi_local;
  l.initial_max_stream_data_bidi_remote = p.initial_max_stream_data_bidi_remote;
  l.initial_max_stream_data_uni = p.initial_max_stream_data_uni;
  l.initial_max_streams_bidi = p.initial_max_streams_bidi;
  l.initial_max_streams_uni = p.initial_max_streams_uni;
  l.max_datagram_frame_size = p.max_datagram_frame_size;
  return l;
}

void ZeroRttTransportLimits::apply_to(TransportParameters* p) const {
  p->active_connection_id_limit = active_connection_id_limit;
  p->initial_max_data = initial_max_data;
  p->initial_max_stream_data_bidi_local = initial_max_stream_data_bidi_local;
  p->initial_max_stream_data_bidi_remote = initial_max_stream_data_bidi_remote;
  p->initial_max_stream_data_uni = initial_max_stream_data_uni;
  p->initial_max_streams_bidi = initial_max_streams_bidi;
  p->initial_max_streams_uni = initial_max_streams_uni;
  p->max_datagram_frame_size = max_datagram_frame_size;
}

bool ZeroRttTransportLimits::not_reduced_by(const ZeroRttTransportLimits& c) const {
  return c.active_connection_id_limit >= active_connection_id_limit &&
         c.initial_max_data >= initial_max_data &&
         c.initial_max_stream_data_bidi_local >= initial_max_stream_data_bidi_local &&
         c.initial_max_stream_data_bidi_remote >= initial_max_stream_data_bidi_remote &&
         c.initial_max_stream_data_uni >= initial_max_stream_data_uni &&
         c.initial_max_streams_bidi >= initial_max_streams_bidi &&
         c.initial_max_streams_uni >= initial_max_streams_uni &&
         c.max_datagram_frame_size >= max_datagram_frame_size;
}

bool encode_ticket_state(const TicketState& s, std::vector<std::uint8_t>* out) {
  if (s.alpn.empty() || s.alpn.size() > 255 || s.server_name.size() > 255 || s.psk.length == 0)
    return false;
  out->clear();
  out->reserve(kMaxTicketStateLength);
  out->push_back(kTicketStateVersion);
  put(out, s.cipher_suite, 2);
  put(out, static_cast<std::uint64_t>(s.issue_time_ms), 8);
  put(out, s.lifetime_s, 4);
  put(out, s.ticket_age_add, 4);
  out->push_back(s.allow_early_data ? 1 : 0);
  out->push_back(s.psk.hash == HashAlgorithm::kSha384 ? 1 : 0);
  put_bytes8(out, s.psk.span());
  put_bytes8(out, str_bytes(s.alpn));
  put_bytes8(out, str_bytes(s.server_name));
  const ZeroRttTransportLimits& l = s.transport_limits;
  for (std::uint64_t v :
       {l.active_connection_id_limit, l.initial_max_data, l.initial_max_stream_data_bidi_local,
        l.initial_max_stream_data_bidi_remote, l.initial_max_stream_data_uni,
        l.initial_max_streams_bidi, l.initial_max_streams_uni, l.max_datagram_frame_size})
    put(out, v, 8);
  return true;
}

bool decode_ticket_state(ByteSpan in, TicketState* s) {
  Reader r(in);
  std::uint64_t version = 0, suite = 0, issue = 0, lifetime = 0, age_add = 0, early = 0, hash = 0;
  ByteSpan psk, alpn, sni;
  if (!get(r, 1, &version) || version != kTicketStateVersion || !get(r, 2, &suite) ||
      !get(r, 8, &issue) || !get(r, 4, &lifetime) || !get(r, 4, &age_add) || !get(r, 1, &early) ||
      !get(r, 1, &hash) || hash > 1 || !get_bytes8(r, &psk) || !get_bytes8(r, &alpn) ||
      !get_bytes8(r, &sni))
    return false;
  const HashAlgorithm h = hash == 1 ? HashAlgorithm::kSha384 : HashAlgorithm::kSha256;
  if (!Secret::from(h, psk, &s->psk)) return false;
  ZeroRttTransportLimits& l = s->transport_limits;
  for (std::uint64_t* v :
       {&l.active_connection_id_limit, &l.initial_max_data, &l.initial_max_stream_data_bidi_local,
        &l.initial_max_stream_data_bidi_remote, &l.initial_max_stream_data_uni,
        &l.initial_max_streams_bidi, &l.initial_max_streams_uni, &l.max_datagram_frame_size}) {
    if (!get(r, 8, v)) return false;
  }
  if (!r.empty() || alpn.empty()) return false;
  s->cipher_suite = static_cast<std::uint16_t>(suite);
  s->issue_time_ms = static_cast<std::int64_t>(issue);
  s->lifetime_s = static_cast<std::uint32_t>(lifetime);
  s->ticket_age_add = static_cast<std::uint32_t>(age_add);
  s->allow_early_data = early != 0;
  s->alpn.assign(alpn.begin(), alpn.end());
  s->server_name.assign(sni.begin(), sni.end());
  return true;
}

TicketKeys::~TicketKeys() {
  wipe(&current_);
  wipe(&previous_);
}

void TicketKeys::wipe(std::optional<Key>* k) {
  if (*k) OPENSSL_cleanse((*k)->key.data(), (*k)->key.size());
  k->reset();
}

bool TicketKeys::rotate() {
  Key fresh;
  if (RAND_bytes(fresh.id.data(), static_cast<int>(fresh.id.size())) != 1 ||
      RAND_bytes(fresh.key.data(), static_cast<int>(fresh.key.size())) != 1) {
    OPENSSL_cleanse(fresh.key.data(), fresh.key.size());
    return false;
  }
  wipe(&previous_);
  previous_ = current_;
  current_ = fresh;
  OPENSSL_cleanse(fresh.key.data(), fresh.key.size());
  return true;
}

bool TicketKeys::seal(ByteSpan plaintext, std::vector<std::uint8_t>* ticket) const {
  if (!current_) return false;
  ticket->assign(kOverhead + plaintext.size(), 0);
  std::uint8_t* p = ticket->data();
  std::memcpy(p, current_->id.data(), kKeyIdLength);
  // Random nonces: 2^-32 collision odds need ~2^32 tickets per key, far
  // beyond what one rotation period issues.
  if (RAND_bytes(p + kKeyIdLength, kNonceLength) != 1) return false;
  return gcm(true, current_->key.data(), p + kKeyIdLength, ByteSpan(p, kKeyIdLength), plaintext,
             p + kKeyIdLength + kNonceLength, p + kKeyIdLength + kNonceLength + plaintext.size());
}

bool TicketKeys::open(ByteSpan ticket, std::vector<std::uint8_t>* plaintext) const {
  if (ticket.size() < kOverhead) return false;
  const Key* key = nullptr;
  for (const std::optional<Key>* k : {&current_, &previous_}) {
    if (*k && std::equal((*k)->id.begin(), (*k)->id.end(), ticket.begin())) key = &**k;
  }
  if (key == nullptr) return false;
  const std::size_t n = ticket.size() - kOverhead;
  plaintext->assign(n, 0);
  std::array<std::uint8_t, kTagLength> tag;
  std::copy(ticket.end() - kTagLength, ticket.end(), tag.begin());
  if (!gcm(false, key->key.data(), ticket.data() + kKeyIdLength, ticket.first(kKeyIdLength),
           ticket.subspan(kKeyIdLength + kNonceLength, n), plaintext->data(), tag.data())) {
    OPENSSL_cleanse(plaintext->data(), plaintext->size());
    plaintext->clear();
    return false;
  }
  return true;
}

StrikeRegister::StrikeRegister(std::size_t capacity, std::int64_t window_ms)
    : ring_(std::max<std::size_t>(capacity, 1)), window_ms_(window_ms) {
  seen_.reserve(ring_.size());
}

std::size_t StrikeRegister::KeyHash::operator()(const Key& k) const {
  // Keys are HMAC outputs the binder check already verified: uniform.
  std::size_t h = 0;
  std::memcpy(&h, k.data(), sizeof(h));
  return h;
}

void StrikeRegister::expire(std::int64_t now_ms) {
  while (count_ > 0 && ring_[head_].time_ms + window_ms_ < now_ms) {
    seen_.erase(ring_[head_].key);
    head_ = (head_ + 1) % ring_.size();
    --count_;
  }
}

bool StrikeRegister::check_and_insert(ByteSpan binder, std::int64_t now_ms) {
  expire(now_ms);
  Key key{};
  std::copy_n(binder.begin(), std::min(binder.size(), key.size()), key.begin());
  if (seen_.count(key) != 0) return false;
  if (count_ == ring_.size()) return false;  // full: refuse 0-RTT, never skip the check
  ring_[(head_ + count_) % ring_.size()] = {key, now_ms};
  ++count_;
  seen_.insert(key);
  return true;
}

}  // namespace dquic
