#include "quic/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>

namespace dquic {
namespace {

constexpr std::string_view kTls13LabelPrefix = "tls13 ";  // RFC 8446 §7.1

// Fetched once: a provider lookup per derivation would cost more than the
// HMACs. EVP_KDF objects are immutable and safe to share across threads; the
// reference is held for the life of the process.
EVP_KDF* hkdf_kdf() {
  static EVP_KDF* const kdf = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr);
  return kdf;
}

const char* digest_name(HashAlgorithm h) {
  return h == HashAlgorithm::kSha256 ? "SHA256" : "SHA384";
}

// OpenSSL rejects octet-string params with a null data pointer, which an
// empty span may have.
OSSL_PARAM octets(const char* key, ByteSpan b) {
  static const std::uint8_t kEmpty = 0;
  const void* p = b.empty() ? &kEmpty : b.data();
  return OSSL_PARAM_construct_octet_string(key, const_cast<void*>(p), b.size());
}

// Runs the HKDF provider in one mode. `salt` is set only for extract and
// `info` only for expand, and only when non-empty.
bool run_hkdf(int mode, HashAlgorithm hash, ByteSpan key, ByteSpan salt, ByteSpan info,
              std::span<std::uint8_t> out) {
  EVP_KDF* kdf = hkdf_kdf();
  if (kdf == nullptr) return false;
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  if (ctx == nullptr) return false;

  OSSL_PARAM params[6];
  std::size_t n = 0;
  params[n++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                                 const_cast<char*>(digest_name(hash)), 0);
  params[n++] = octets(OSSL_KDF_PARAM_KEY, key);
  if (!salt.empty()) params[n++] = octets(OSSL_KDF_PARAM_SALT, salt);
  if (!info.empty()) params[n++] = octets(OSSL_KDF_PARAM_INFO, info);
  params[n] = OSSL_PARAM_construct_end();

  const bool ok = EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(ctx);
  return ok;
}

}  // namespace

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
  const bool ok =
      run_hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, hash, ikm, salt, {}, {s.bytes.data(), len});
  if (ok) *prk = s;
  OPENSSL_cleanse(s.bytes.data(), s.bytes.size());  // the copy on the stack
  return ok;
}

bool hkdf_expand(HashAlgorithm hash, ByteSpan prk, ByteSpan info, std::span<std::uint8_t> out) {
  const std::size_t len = hash_length(hash);
  // RFC 5869 §2.3: L <= 255 * HashLen; PRK is at least HashLen octets.
  if (out.empty() || out.size() > 255 * len || prk.size() < len) return false;
  return run_hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, hash, prk, {}, info, out);
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
