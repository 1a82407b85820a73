#include "quic/address_token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <utility>

namespace dquic {
namespace {

constexpr std::size_t kNonceOffset = kAddressTokenHeaderLength;
constexpr std::size_t kCiphertextOffset = kNonceOffset + kAddressTokenNonceLength;
constexpr std::size_t kMinTokenLength = kAddressTokenOverhead + kNewTokenPlaintextLength;

bool known_kind(std::uint8_t b) {
  return b == static_cast<std::uint8_t>(TokenKind::kRetry) ||
         b == static_cast<std::uint8_t>(TokenKind::kNewToken);
}

// Issue time, version and address: the fields both kinds start with.
void write_common(Writer& w, const PeerAddress& client, std::uint32_t version,
                  std::int64_t now_ms) {
  w.write_uint(static_cast<std::uint64_t>(now_ms), 8);
  w.write_u32(version);
  w.write_u8(static_cast<std::uint8_t>(client.family));
  w.write_bytes(client.address);
}

void write_cid(Writer& w, const ConnectionId& cid) {
  w.write_u8(cid.length);
  w.write_bytes(cid.span());
}

bool read_cid(Reader& r, ConnectionId* cid) {
  std::uint8_t len = 0;
  ByteSpan b;
  return r.read_u8(&len) && r.read_bytes(len, &b) && ConnectionId::from(b, cid);
}

// Parses an authenticated plaintext. Only a bug on the sealing side (or a
// key shared with other software) could make this fail.
bool parse_plaintext(TokenKind kind, ByteSpan plaintext, TokenInfo* info) {
  Reader r(plaintext);
  std::uint64_t issued = 0;
  std::uint8_t family = 0;
  ByteSpan address;
  if (!r.read_uint(8, &issued) || !r.read_u32(&info->version) || !r.read_u8(&family) ||
      !r.read_bytes(16, &address)) {
    return false;
  }
  if (family != static_cast<std::uint8_t>(PeerAddress::Family::kIpv4) &&
      family != static_cast<std::uint8_t>(PeerAddress::Family::kIpv6)) {
    return false;
  }
  info->kind = kind;
  info->issued_ms = static_cast<std::int64_t>(issued);
  info->address = {};
  info->address.family = static_cast<PeerAddress::Family>(family);
  std::copy(address.begin(), address.end(), info->address.address.begin());
  info->original_dcid = {};
  info->retry_scid = {};
  if (kind == TokenKind::kRetry) {
    std::uint64_t port = 0;
    if (!r.read_uint(2, &port) || !read_cid(r, &info->original_dcid) ||
        !read_cid(r, &info->retry_scid)) {
      return false;
    }
    info->address.port = static_cast<std::uint16_t>(port);
  }
  return r.empty();
}

// Issued no later than `skew` ahead of now and no longer than `lifetime` ago.
bool fresh(std::int64_t issued_ms, std::int64_t now_ms, std::int64_t lifetime_ms,
           std::int64_t skew_ms) {
  std::int64_t age = 0;
  if (__builtin_sub_overflow(now_ms, issued_ms, &age)) return false;
  return age <= lifetime_ms && age >= -skew_ms;
}

}  // namespace

std::optional<TokenKind> peek_token_kind(ByteSpan token) {
  if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength || !known_kind(token[0])) {
    return std::nullopt;
  }
  return static_cast<TokenKind>(token[0]);
}

bool AddressTokenCodec::make_slot(const AddressTokenKey& key, KeySlot* slot) {
  const char* name = key.secret.size() == 16   ? "AES-128-GCM"
                     : key.secret.size() == 32 ? "AES-256-GCM"
                                               : nullptr;
  if (name == nullptr) return false;
  // Fetched explicitly: an implicit fetch inside EVP_CipherInit would look the
  // algorithm up again. The context keeps its own reference.
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, name, nullptr);
  EVP_CIPHER_CTX* ctx = cipher != nullptr ? EVP_CIPHER_CTX_new() : nullptr;
  // The default GCM IV length is 12 bytes, our nonce length.
  const bool ok = ctx != nullptr &&
                  EVP_CipherInit_ex2(ctx, cipher, key.secret.data(), nullptr, 1, nullptr) == 1 &&
                  EVP_CIPHER_CTX_get_iv_length(ctx) == static_cast<int>(kAddressTokenNonceLength);
  EVP_CIPHER_free(cipher);
  if (!ok) {
    EVP_CIPHER_CTX_free(ctx);
    return false;
  }
  slot->ctx = ctx;
  slot->id = key.id;
  return true;
}

void AddressTokenCodec::free_slot(KeySlot* slot) {
  EVP_CIPHER_CTX_free(slot->ctx);  // cleanses the expanded key
  *slot = {};
}

AddressTokenCodec::AddressTokenCodec(const AddressTokenKey& current,
                                     const AddressTokenKey* previous,
                                     const AddressTokenLifetimes& lifetimes)
    : lifetimes_(lifetimes) {
  if (previous != nullptr && previous->id == current.id) return;
  if (!make_slot(current, &keys_[kCurrent])) return;
  if (previous != nullptr && !make_slot(*previous, &keys_[kPrevious])) {
    free_slot(&keys_[kCurrent]);
  }
}

AddressTokenCodec::~AddressTokenCodec() {
  for (KeySlot& k : keys_)
    free_slot(&k);
}

AddressTokenCodec::AddressTokenCodec(AddressTokenCodec&& o) noexcept
    : keys_(std::exchange(o.keys_, {})), lifetimes_(o.lifetimes_) {}

AddressTokenCodec& AddressTokenCodec::operator=(AddressTokenCodec&& o) noexcept {
  if (this != &o) {
    for (KeySlot& k : keys_)
      free_slot(&k);
    keys_ = std::exchange(o.keys_, {});
    lifetimes_ = o.lifetimes_;
  }
  return *this;
}

bool AddressTokenCodec::rotate(const AddressTokenKey& next) {
  if (!ok() || next.id == keys_[kCurrent].id) return false;
  KeySlot fresh_slot;
  if (!make_slot(next, &fresh_slot)) return false;
  free_slot(&keys_[kPrevious]);
  keys_[kPrevious] = keys_[kCurrent];
  keys_[kCurrent] = fresh_slot;
  return true;
}

std::size_t AddressTokenCodec::seal(TokenKind kind, ByteSpan plaintext,
                                    std::span<std::uint8_t> out) {
  const std::size_t total = kAddressTokenOverhead + plaintext.size();
  if (!ok() || out.size() < total) return 0;
  EVP_CIPHER_CTX* ctx = keys_[kCurrent].ctx;
  std::uint8_t* const p = out.data();
  p[0] = static_cast<std::uint8_t>(kind);
  p[1] = keys_[kCurrent].id;
  std::uint8_t* const nonce = p + kNonceOffset;
  std::uint8_t* const ciphertext = p + kCiphertextOffset;
  std::uint8_t* const tag = ciphertext + plaintext.size();
  std::array<std::uint8_t, 16> final_block;  // GCM's final emits no bytes
  int len = 0;
  const bool ok =
      RAND_bytes(nonce, static_cast<int>(kAddressTokenNonceLength)) == 1 &&
      EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce, 1, nullptr) == 1 &&
      EVP_CipherUpdate(ctx, nullptr, &len, p, static_cast<int>(kAddressTokenHeaderLength)) == 1 &&
      EVP_CipherUpdate(ctx, ciphertext, &len, plaintext.data(),
                       static_cast<int>(plaintext.size())) == 1 &&
      EVP_CipherFinal_ex(ctx, final_block.data(), &len) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAddressTokenTagLength),
                          tag) == 1;
  if (!ok) {
    OPENSSL_cleanse(p, total);
    return 0;
  }
  return total;
}

std::size_t AddressTokenCodec::seal_retry(const PeerAddress& client, std::uint32_t version,
                                          const ConnectionId& original_dcid,
                                          const ConnectionId& retry_scid, std::int64_t now_ms,
                                          std::span<std::uint8_t> out) {
  std::array<std::uint8_t, kMaxRetryTokenPlaintextLength> plaintext;
  Writer w(plaintext);
  write_common(w, client, version, now_ms);
  w.write_uint(client.port, 2);
  write_cid(w, original_dcid);
  write_cid(w, retry_scid);
  if (!w.ok()) return 0;
  return seal(TokenKind::kRetry, {plaintext.data(), w.written()}, out);
}

std::size_t AddressTokenCodec::seal_new_token(const PeerAddress& client, std::uint32_t version,
                                              std::int64_t now_ms, std::span<std::uint8_t> out) {
  std::array<std::uint8_t, kNewTokenPlaintextLength> plaintext;
  Writer w(plaintext);
  write_common(w, client, version, now_ms);
  if (!w.ok()) return 0;
  return seal(TokenKind::kNewToken, plaintext, out);
}

TokenCheck AddressTokenCodec::open(ByteSpan token, const PeerAddress& from, std::uint32_t version,
                                   std::int64_t now_ms, TokenInfo* out,
                                   std::optional<TokenKind> expected) const {
  const std::optional<TokenKind> kind = peek_token_kind(token);
  if (!kind) return TokenCheck::kInvalid;
  const KeySlot* key = nullptr;
  for (const KeySlot& k : keys_) {
    if (k.ctx != nullptr && k.id == token[1]) key = &k;
  }
  if (key == nullptr) return TokenCheck::kInvalid;

  // RFC 9000 §8.1.4: nothing is believed before the tag checks, the Kind and
  // Key Id bytes included (they are the associated data).
  const std::size_t n = token.size() - kAddressTokenOverhead;
  std::array<std::uint8_t, kMaxRetryTokenPlaintextLength> plaintext;
  std::array<std::uint8_t, kAddressTokenTagLength> tag;
  std::copy(token.end() - kAddressTokenTagLength, token.end(), tag.begin());
  EVP_CIPHER_CTX* ctx = key->ctx;
  std::array<std::uint8_t, 16> final_block;  // GCM's final emits no bytes
  int len = 0;
  const bool authentic =
      EVP_CipherInit_ex2(ctx, nullptr, nullptr, token.data() + kNonceOffset, 0, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag.size()), tag.data()) ==
          1 &&
      EVP_CipherUpdate(ctx, nullptr, &len, token.data(),
                       static_cast<int>(kAddressTokenHeaderLength)) == 1 &&
      EVP_CipherUpdate(ctx, plaintext.data(), &len, token.data() + kCiphertextOffset,
                       static_cast<int>(n)) == 1 &&
      EVP_CipherFinal_ex(ctx, final_block.data(), &len) == 1;
  TokenInfo info;
  if (!authentic || !parse_plaintext(*kind, {plaintext.data(), n}, &info)) {
    return TokenCheck::kInvalid;
  }
  *out = info;

  if (expected && *expected != info.kind) return TokenCheck::kWrongKind;
  if (info.version != version) return TokenCheck::kVersionMismatch;  // RFC 9369 §5
  const bool retry = info.kind == TokenKind::kRetry;
  if (!fresh(info.issued_ms, now_ms, retry ? lifetimes_.retry_ms : lifetimes_.new_token_ms,
             lifetimes_.clock_skew_ms)) {
    return TokenCheck::kExpired;
  }
  // RFC 9000 §8.1.4: Retry tokens bind the IP address and port, NEW_TOKEN
  // tokens only the IP address.
  if (!info.address.same_ip(from) || (retry && info.address.port != from.port)) {
    return TokenCheck::kAddressMismatch;
  }
  return TokenCheck::kOk;
}

}  // namespace dquic
