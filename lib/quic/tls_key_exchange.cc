#include "quic/tls_key_exchange.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>

#include <array>

namespace dquic {
namespace {

using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpensslFree<&EVP_PKEY_CTX_free>>;

// OpenSSL's name for secp256r1 (its provider also accepts "P-256").
constexpr char kP256Name[] = "prime256v1";
constexpr std::uint8_t kUncompressedPoint = 4;  // RFC 8446 §4.2.8.2 legacy_form

std::optional<TlsAlert> fail(TlsAlert a) {
  // Expected failures (a bad peer value) leave errors on the thread's queue;
  // drop them so they are not blamed on a later, unrelated call.
  ERR_clear_error();
  return a;
}

// Per-thread contexts, made once per group: EVP_PKEY_CTX_new_from_name
// fetches the key manager by name (a provider-store search under a lock) and
// allocates, which cost a few microseconds per handshake and side on top of
// the scalar multiplications. A keygen or fromdata context holds no key
// material of its own and may be used again (OpenSSL 3.0 EVP_PKEY_keygen(3),
// EVP_PKEY_fromdata(3)); each worker lcore is one thread, so no sharing.
class GroupContexts {
 public:
  GroupContexts() = default;
  GroupContexts(const GroupContexts&) = delete;
  GroupContexts& operator=(const GroupContexts&) = delete;

  EVP_PKEY_CTX* keygen(NamedGroup group) {
    PkeyCtxPtr& c = keygen_[slot(group)];
    if (c == nullptr) {
      PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(
          nullptr, group == NamedGroup::kX25519 ? "X25519" : "EC", nullptr));
      if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1) return nullptr;
      if (group == NamedGroup::kSecp256r1 && EVP_PKEY_CTX_set_group_name(ctx.get(), kP256Name) != 1)
        return nullptr;
      c = std::move(ctx);
    }
    return c.get();
  }
  EVP_PKEY_CTX* fromdata(NamedGroup group) {
    PkeyCtxPtr& c = fromdata_[slot(group)];
    if (c == nullptr) {
      PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(
          nullptr, group == NamedGroup::kX25519 ? "X25519" : "EC", nullptr));
      if (ctx == nullptr || EVP_PKEY_fromdata_init(ctx.get()) != 1) return nullptr;
      c = std::move(ctx);
    }
    return c.get();
  }

 private:
  static std::size_t slot(NamedGroup g) { return g == NamedGroup::kX25519 ? 0 : 1; }
  std::array<PkeyCtxPtr, 2> keygen_, fromdata_;
};

GroupContexts& contexts() {
  thread_local GroupContexts c;
  return c;
}

EvpPkeyPtr generate_key(NamedGroup group) {
  EVP_PKEY_CTX* ctx = contexts().keygen(group);
  EVP_PKEY* key = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen(ctx, &key) != 1) return nullptr;
  return EvpPkeyPtr(key);
}

// The peer's public value as a key. For P-256, EVP_PKEY_fromdata decodes the
// point and rejects one that is not on the curve; the infinity point (a lone
// 0x00) and compressed forms never get here because of the length and
// format-byte checks in derive().
EvpPkeyPtr peer_key(NamedGroup group, ByteSpan pub) {
  EVP_PKEY_CTX* ctx = contexts().fromdata(group);
  if (ctx == nullptr) return nullptr;
  OSSL_PARAM x25519[] = {
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                        const_cast<std::uint8_t*>(pub.data()), pub.size()),
      OSSL_PARAM_construct_end(),
  };
  OSSL_PARAM p256[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(kP256Name), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                        const_cast<std::uint8_t*>(pub.data()), pub.size()),
      OSSL_PARAM_construct_end(),
  };
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY,
                        group == NamedGroup::kX25519 ? x25519 : p256) != 1)
    return nullptr;
  return EvpPkeyPtr(key);
}

}  // namespace

SharedSecret::~SharedSecret() {
  OPENSSL_cleanse(bytes.data(), bytes.size());
}

std::optional<TlsAlert> KeyShare::generate(NamedGroup group) {
  key_.reset();
  public_length_ = 0;
  if (!is_supported_group(static_cast<std::uint16_t>(group))) return fail(TlsAlert::kInternalError);
  EvpPkeyPtr key = generate_key(group);
  if (key == nullptr) return fail(TlsAlert::kInternalError);

  std::size_t len = 0;
  if (group == NamedGroup::kX25519) {
    len = public_.size();
    if (EVP_PKEY_get_raw_public_key(key.get(), public_.data(), &len) != 1)
      return fail(TlsAlert::kInternalError);
  } else if (EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                             public_.data(), public_.size(), &len) != 1) {
    // The encoded form defaults to uncompressed, which §4.2.8.2 requires.
    return fail(TlsAlert::kInternalError);
  }
  if (len != key_share_length(group)) return fail(TlsAlert::kInternalError);
  if (group == NamedGroup::kSecp256r1 && public_[0] != kUncompressedPoint)
    return fail(TlsAlert::kInternalError);

  group_ = group;
  key_ = std::move(key);
  public_length_ = static_cast<std::uint8_t>(len);
  return std::nullopt;
}

std::optional<TlsAlert> KeyShare::derive(ByteSpan peer_public, SharedSecret* out) const {
  out->length = 0;
  if (key_ == nullptr) return fail(TlsAlert::kInternalError);
  // RFC 8446 §4.2.8.2: only the uncompressed form, X25519 exactly 32 bytes.
  if (peer_public.size() != key_share_length(group_)) return fail(TlsAlert::kIllegalParameter);
  if (group_ == NamedGroup::kSecp256r1 && peer_public[0] != kUncompressedPoint)
    return fail(TlsAlert::kIllegalParameter);

  EvpPkeyPtr peer = peer_key(group_, peer_public);
  if (peer == nullptr) return fail(TlsAlert::kIllegalParameter);

  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1) return fail(TlsAlert::kInternalError);
  // validate_peer = 1 runs EVP_PKEY_public_check: for P-256 the full
  // SP 800-56A partial validation (not infinity, coordinates in range, on the
  // curve), RFC 8446 §4.2.8.2's "MUST validate".
  if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.get(), 1) != 1)
    return fail(TlsAlert::kIllegalParameter);

  std::size_t len = out->bytes.size();
  if (EVP_PKEY_derive(ctx.get(), out->bytes.data(), &len) != 1) {
    // OpenSSL's X25519 refuses an all-zero result itself; that is the peer's
    // fault (a small-order point), so it is illegal_parameter like our own
    // check below.
    if (group_ == NamedGroup::kX25519) return fail(TlsAlert::kIllegalParameter);
    return fail(TlsAlert::kInternalError);
  }
  // ECDH output is the field-size x-coordinate (RFC 8446 §7.4.1), X25519 32
  // bytes (§7.4.2).
  if (len != kMaxSharedSecretLength) {
    OPENSSL_cleanse(out->bytes.data(), out->bytes.size());
    return fail(TlsAlert::kInternalError);
  }

  if (group_ == NamedGroup::kX25519) {
    // RFC 8446 §7.4.2: check whether the computed value is all zeros and
    // abort if so. Constant-time OR so timing does not depend on the secret.
    std::uint8_t acc = 0;
    for (std::size_t i = 0; i < len; ++i)
      acc |= out->bytes[i];
    if (acc == 0) {
      OPENSSL_cleanse(out->bytes.data(), out->bytes.size());
      return fail(TlsAlert::kIllegalParameter);
    }
  }
  out->length = static_cast<std::uint8_t>(len);
  return std::nullopt;
}

}  // namespace dquic
