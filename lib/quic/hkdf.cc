#include "quic/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <initializer_list>

namespace dquic {
namespace {

constexpr std::string_view kTls13LabelPrefix = "tls13 ";  // RFC 8446 §7.1

const char* digest_name(HashAlgorithm h) {
  return h == HashAlgorithm::kSha256 ? "SHA256" : "SHA384";
}

// HMAC contexts, one per hash per thread, made once (the digest fetched by
// name then) and re-keyed for each use. An EVP_KDF_CTX per derivation cost a
// digest fetch by name and four allocations each time, as much as the two or
// three SHA-256 blocks of the HMAC itself, and a handshake derives about
// thirty secrets, keys and IVs per side. After each use the context is keyed
// with a constant, so no secret's pads stay behind in it.
class HmacContexts {
 public:
  HmacContexts() = default;
  HmacContexts(const HmacContexts&) = delete;
  HmacContexts& operator=(const HmacContexts&) = delete;
  ~HmacContexts() {
    for (EVP_MAC_CTX* c : ctx_)
      EVP_MAC_CTX_free(c);
  }
  EVP_MAC_CTX* get(HashAlgorithm h) {
    EVP_MAC_CTX*& c = ctx_[h == HashAlgorithm::kSha256 ? 0 : 1];
    if (c != nullptr) return c;
    static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
    if (mac == nullptr) return nullptr;
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
    OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                             const_cast<char*>(digest_name(h)), 0),
                            OSSL_PARAM_construct_end()};
    if (ctx == nullptr || EVP_MAC_CTX_set_params(ctx, params) != 1) {
      EVP_MAC_CTX_free(ctx);
      return nullptr;
    }
    c = ctx;
    return c;
  }

 private:
  std::array<EVP_MAC_CTX*, 2> ctx_{};
};

}  // namespace

bool hmac_hash(HashAlgorithm h, ByteSpan key, std::initializer_list<ByteSpan> parts,
               std::span<std::uint8_t> out) {
  thread_local HmacContexts contexts;
  EVP_MAC_CTX* ctx = contexts.get(h);
  if (ctx == nullptr || out.size() < hash_length(h)) return false;
  // HMAC pads a short key with zeros (RFC 2104 §2): an empty key is one
  // zero byte (OpenSSL takes a null key as "keep the previous one").
  static const std::uint8_t kZero = 0;
  if (key.empty()) key = ByteSpan(&kZero, 1);
  bool ok = EVP_MAC_init(ctx, key.data(), key.size(), nullptr) == 1;
  for (ByteSpan p : parts)
    ok = ok && (p.empty() || EVP_MAC_update(ctx, p.data(), p.size()) == 1);
  std::size_t len = 0;
  ok = ok && EVP_MAC_final(ctx, out.data(), &len, out.size()) == 1 && len == hash_length(h);
  // Replace the key-derived state (see HmacContexts).
  if (EVP_MAC_init(ctx, &kZero, 1, nullptr) != 1) ok = false;
  return ok;
}

bool Secret::from(HashAlgorithm h, ByteSpan b, Secret* out) {
  if (b.size() != hash_length(h)) return false;
  out->hash = h;
  out->length = static_cast<std::uint8_t>(b.size());
  std::copy(b.begin(), b.end(), out->bytes.begin());
  return true;
}

bool hkdf_extract(HashAlgorithm hash, ByteSpan salt, ByteSpan ikm, Secret* prk) {
  // RFC 5869 §2.2: a missing salt is HashLen zeros. HMAC pads its key with
  // zeros anyway, but passing them keeps OpenSSL from treating "no salt"
  // in its own way.
  const std::array<std::uint8_t, kMaxHashLength> zeros{};
  const std::size_t len = hash_length(hash);
  if (salt.empty()) salt = ByteSpan(zeros.data(), len);
  Secret s;
  s.hash = hash;
  s.length = static_cast<std::uint8_t>(len);
  // RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM).
  const bool ok = hmac_hash(hash, salt, {ikm}, {s.bytes.data(), len});
  if (ok) *prk = s;
  OPENSSL_cleanse(s.bytes.data(), s.bytes.size());  // the copy on the stack
  return ok;
}

bool hkdf_expand(HashAlgorithm hash, ByteSpan prk, ByteSpan info, std::span<std::uint8_t> out) {
  const std::size_t len = hash_length(hash);
  // RFC 5869 §2.3: L <= 255 * HashLen; PRK is at least HashLen octets.
  if (out.empty() || out.size() > 255 * len || prk.size() < len) return false;
  // RFC 5869 §2.3: T(i) = HMAC-Hash(PRK, T(i-1) | info | i), OKM the first
  // L octets of T(1) | T(2) | ...
  std::array<std::uint8_t, kMaxHashLength> t{};
  std::size_t t_len = 0, done = 0;
  bool ok = true;
  for (std::uint8_t i = 1; ok && done < out.size(); ++i) {
    ok = hmac_hash(hash, prk, {ByteSpan(t.data(), t_len), info, ByteSpan(&i, 1)}, t);
    t_len = len;
    const std::size_t n = std::min(len, out.size() - done);
    if (ok) std::memcpy(out.data() + done, t.data(), n);
    done += n;
  }
  OPENSSL_cleanse(t.data(), t.size());
  return ok;
}

std::size_t encode_hkdf_label(std::size_t length, std::string_view label, ByteSpan context,
                              std::span<std::uint8_t> out) {
  const std::size_t full_label = kTls13LabelPrefix.size() + label.size();
  // RFC 8446 §7.1: uint16 length; opaque label<7..255>; opaque context<0..255>.
  if (length > 0xffff || label.empty() || full_label > 255 || context.size() > 255) return 0;
  Writer w(out);
  w.write_uint(length, 2);
  w.write_u8(static_cast<std::uint8_t>(full_label));
  w.write_bytes(
      {reinterpret_cast<const std::uint8_t*>(kTls13LabelPrefix.data()), kTls13LabelPrefix.size()});
  w.write_bytes({reinterpret_cast<const std::uint8_t*>(label.data()), label.size()});
  w.write_u8(static_cast<std::uint8_t>(context.size()));
  w.write_bytes(context);
  return w.ok() ? w.written() : 0;
}

bool hkdf_expand_label(HashAlgorithm hash, ByteSpan secret, std::string_view label,
                       ByteSpan context, std::span<std::uint8_t> out) {
  std::array<std::uint8_t, kMaxHkdfLabelLength> info;
  const std::size_t n = encode_hkdf_label(out.size(), label, context, info);
  if (n == 0) return false;
  return hkdf_expand(hash, secret, {info.data(), n}, out);
}

}  // namespace dquic
