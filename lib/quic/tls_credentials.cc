#include "quic/tls_credentials.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace dquic {
namespace {

using BioPtr = std::unique_ptr<BIO, OpensslFree<&BIO_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslFree<&EVP_MD_CTX_free>>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpensslFree<&X509_STORE_CTX_free>>;

struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;

constexpr int kMinRsaBits = 2048;  // NIST SP 800-57 112-bit floor
constexpr int kMaxRsaBits = 8192;  // keeps signatures within kMaxSignatureLength
// OpenSSL security level 2 (112 bits): refuses RSA/DSA/DH keys under 2048
// bits, ECC under 224 bits and SHA-1 signatures anywhere in the chain.
constexpr int kVerifyAuthLevel = 2;

constexpr std::array<SignatureScheme, 1> kP256Schemes = {SignatureScheme::kEcdsaSecp256r1Sha256};
constexpr std::array<SignatureScheme, 1> kP384Schemes = {SignatureScheme::kEcdsaSecp384r1Sha384};
constexpr std::array<SignatureScheme, 3> kRsaSchemes = {SignatureScheme::kRsaPssRsaeSha256,
                                                        SignatureScheme::kRsaPssRsaeSha384,
                                                        SignatureScheme::kRsaPssRsaeSha512};
constexpr std::array<SignatureScheme, 1> kEd25519Schemes = {SignatureScheme::kEd25519};

// RFC 8446 §4.4.3 context strings.
constexpr std::string_view kServerContext = "TLS 1.3, server CertificateVerify";
constexpr std::string_view kClientContext = "TLS 1.3, client CertificateVerify";
constexpr std::size_t kMaxTranscriptHashLength = 64;

std::optional<TlsAlert> fail(TlsAlert a) {
  ERR_clear_error();  // see tls_key_exchange.cc: do not leak errors to later calls
  return a;
}

// Digest of a scheme; nullptr for Ed25519, which signs the message itself
// (RFC 8032 PureEdDSA).
const char* scheme_digest(SignatureScheme s) {
  switch (s) {
    case SignatureScheme::kEcdsaSecp256r1Sha256:
    case SignatureScheme::kRsaPssRsaeSha256:
      return "SHA256";
    case SignatureScheme::kEcdsaSecp384r1Sha384:
    case SignatureScheme::kRsaPssRsaeSha384:
      return "SHA384";
    case SignatureScheme::kRsaPssRsaeSha512:
      return "SHA512";
    case SignatureScheme::kEd25519:
      return nullptr;
  }
  return nullptr;
}

bool is_rsa_pss(SignatureScheme s) {
  return s == SignatureScheme::kRsaPssRsaeSha256 || s == SignatureScheme::kRsaPssRsaeSha384 ||
         s == SignatureScheme::kRsaPssRsaeSha512;
}

// RFC 8446 §4.2.3: RSASSA-PSS with MGF1 on the same hash and a salt as long
// as the digest. On verify, RSA_PSS_SALTLEN_DIGEST makes OpenSSL require
// exactly that salt length.
bool set_pss(EVP_PKEY_CTX* pctx, const char* md) {
  return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, nullptr) == 1;
}

// Takes the oldest queued OpenSSL error as text and clears the queue.
std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return {};
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return std::string(": ") + buf;
}

bool set_err(std::string* err, std::string msg) {
  if (err != nullptr) *err = std::move(msg) + openssl_error();
  ERR_clear_error();
  return false;
}

// Refuses encrypted PEM instead of OpenSSL's default of prompting on the
// terminal.
int no_password(char*, int, int, void*) {
  return -1;
}

BioPtr memory_bio(std::string_view s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

// Reads every certificate of a PEM stream. False on a malformed block; an
// empty stream gives an empty vector.
bool read_pem_certs(BIO* bio, std::vector<X509Ptr>* out) {
  for (;;) {
    X509* x = PEM_read_bio_X509(bio, nullptr, no_password, nullptr);
    if (x == nullptr) break;
    out->emplace_back(x);
  }
  // The loop ends on "no start line" at the end of the data; anything else
  // is a broken certificate.
  const unsigned long e = ERR_peek_last_error();
  if (e != 0 && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE))
    return false;
  ERR_clear_error();
  return true;
}

bool to_der(X509* x, std::vector<std::uint8_t>* out) {
  const int len = i2d_X509(x, nullptr);
  if (len <= 0) return false;
  out->resize(static_cast<std::size_t>(len));
  std::uint8_t* p = out->data();
  return i2d_X509(x, &p) == len;
}

X509Ptr from_der(ByteSpan der) {
  if (der.empty() || der.size() > static_cast<std::size_t>(INT32_MAX)) return nullptr;
  const std::uint8_t* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  // Trailing bytes after the certificate mean the entry is malformed.
  if (x != nullptr && p != der.data() + der.size()) return nullptr;
  return x;
}

TlsAlert verify_error_to_alert(int e) {
  switch (e) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_INVALID_CA:
      return TlsAlert::kUnknownCa;
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return TlsAlert::kCertificateExpired;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
    // RFC 8446 §6.2 bad_certificate: "corrupt, contained signatures that did
    // not verify correctly, etc."
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
    case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
    case X509_V_ERR_CA_MD_TOO_WEAK:
      return TlsAlert::kBadCertificate;
    case X509_V_ERR_INVALID_PURPOSE:
      return TlsAlert::kUnsupportedCertificate;
    case X509_V_ERR_CERT_REVOKED:
      return TlsAlert::kCertificateRevoked;
    case X509_V_ERR_OUT_OF_MEM:
      return TlsAlert::kInternalError;
    default:
      return TlsAlert::kCertificateUnknown;
  }
}

}  // namespace

KeyType key_type_of(const EVP_PKEY* key) {
  if (key == nullptr) return KeyType::kUnsupported;
  // "RSA" is rsaEncryption; an RSASSA-PSS-restricted key is "RSA-PSS" and is
  // not matched here.
  if (EVP_PKEY_is_a(key, "RSA")) return KeyType::kRsa;
  if (EVP_PKEY_is_a(key, "ED25519")) return KeyType::kEd25519;
  if (EVP_PKEY_is_a(key, "EC")) {
    char name[64];
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) return KeyType::kUnsupported;
    int nid = OBJ_sn2nid(name);
    if (nid == NID_undef) nid = EC_curve_nist2nid(name);
    if (nid == NID_X9_62_prime256v1) return KeyType::kEcdsaP256;
    if (nid == NID_secp384r1) return KeyType::kEcdsaP384;
  }
  return KeyType::kUnsupported;
}

std::span<const SignatureScheme> schemes_for_key(KeyType type) {
  switch (type) {
    case KeyType::kEcdsaP256:
      return kP256Schemes;
    case KeyType::kEcdsaP384:
      return kP384Schemes;
    case KeyType::kRsa:
      return kRsaSchemes;
    case KeyType::kEd25519:
      return kEd25519Schemes;
    case KeyType::kUnsupported:
      break;
  }
  return {};
}

bool scheme_matches_key(KeyType type, std::uint16_t scheme) {
  for (SignatureScheme s : schemes_for_key(type))
    if (static_cast<std::uint16_t>(s) == scheme) return true;
  return false;
}

std::size_t certificate_verify_content(ByteSpan transcript_hash, bool is_server,
                                       std::span<std::uint8_t> out) {
  if (transcript_hash.empty() || transcript_hash.size() > kMaxTranscriptHashLength) return 0;
  const std::string_view context = is_server ? kServerContext : kClientContext;
  Writer w(out);
  w.fill(0x20, 64);
  w.write_bytes({reinterpret_cast<const std::uint8_t*>(context.data()), context.size()});
  w.write_u8(0);
  w.write_bytes(transcript_hash);
  return w.ok() ? w.written() : 0;
}

// ---------------------------------------------------------------------------
// ServerCredentials

std::unique_ptr<ServerCredentials> ServerCredentials::load(const std::string& cert_chain_pem_path,
                                                           const std::string& key_pem_path,
                                                           std::string* err) {
  BioPtr chain(BIO_new_file(cert_chain_pem_path.c_str(), "r"));
  if (chain == nullptr) {
    set_err(err, "cannot open certificate chain " + cert_chain_pem_path);
    return nullptr;
  }
  BioPtr key(BIO_new_file(key_pem_path.c_str(), "r"));
  if (key == nullptr) {
    set_err(err, "cannot open private key " + key_pem_path);
    return nullptr;
  }
  return load_bios(chain.get(), key.get(), err);
}

std::unique_ptr<ServerCredentials> ServerCredentials::load_pem(std::string_view cert_chain_pem,
                                                               std::string_view key_pem,
                                                               std::string* err) {
  BioPtr chain = memory_bio(cert_chain_pem);
  BioPtr key = memory_bio(key_pem);
  if (chain == nullptr || key == nullptr) {
    set_err(err, "out of memory");
    return nullptr;
  }
  return load_bios(chain.get(), key.get(), err);
}

std::unique_ptr<ServerCredentials> ServerCredentials::load_bios(BIO* chain_bio, BIO* key_bio,
                                                                std::string* err) {
  std::vector<X509Ptr> certs;
  if (!read_pem_certs(chain_bio, &certs)) {
    set_err(err, "malformed certificate in chain");
    return nullptr;
  }
  if (certs.empty()) {
    set_err(err, "no certificate in chain");
    return nullptr;
  }
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(key_bio, nullptr, no_password, nullptr));
  if (key == nullptr) {
    set_err(err, "cannot read private key (unencrypted PEM expected)");
    return nullptr;
  }
  const KeyType type = key_type_of(key.get());
  if (type == KeyType::kUnsupported) {
    set_err(err, "unsupported key type (want ECDSA P-256/P-384, RSA or Ed25519)");
    return nullptr;
  }
  if (type == KeyType::kRsa) {
    const int bits = EVP_PKEY_get_bits(key.get());
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
      set_err(err, "RSA key of " + std::to_string(bits) + " bits (want 2048..8192)");
      return nullptr;
    }
  }
  if (X509_check_private_key(certs[0].get(), key.get()) != 1) {
    set_err(err, "private key does not match the leaf certificate");
    return nullptr;
  }

  std::unique_ptr<ServerCredentials> c(new ServerCredentials);
  c->chain_der_.resize(certs.size());
  for (std::size_t i = 0; i < certs.size(); ++i) {
    if (!to_der(certs[i].get(), &c->chain_der_[i])) {
      set_err(err, "cannot encode certificate");
      return nullptr;
    }
  }
  c->leaf_ = std::move(certs[0]);
  c->key_ = std::move(key);
  c->key_type_ = type;
  const std::span<const SignatureScheme> schemes = schemes_for_key(type);
  for (std::size_t i = 0; i < schemes.size() && i < c->sign_templates_.size(); ++i)
    c->sign_templates_[i] = c->make_sign_template(schemes[i]);
  ERR_clear_error();
  return c;
}

std::unique_ptr<EVP_MD_CTX, OpensslFree<&EVP_MD_CTX_free>> ServerCredentials::make_sign_template(
    SignatureScheme scheme) const {
  const char* digest = scheme_digest(scheme);
  if (digest == nullptr) return nullptr;  // Ed25519: one-shot, not copyable mid-way
  MdCtxPtr md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (md == nullptr ||
      EVP_DigestSignInit_ex(md.get(), &pctx, digest, nullptr, nullptr, key_.get(), nullptr) != 1 ||
      (is_rsa_pss(scheme) && !set_pss(pctx, digest))) {
    ERR_clear_error();
    return nullptr;
  }
  return md;
}

std::optional<TlsAlert> ServerCredentials::sign_certificate_verify(SignatureScheme scheme,
                                                                   ByteSpan transcript_hash,
                                                                   bool is_server,
                                                                   std::span<std::uint8_t> out,
                                                                   std::size_t* written) const {
  *written = 0;
  if (!scheme_matches_key(key_type_, static_cast<std::uint16_t>(scheme)))
    return fail(TlsAlert::kInternalError);
  std::array<std::uint8_t, kMaxCertificateVerifyContentLength> content;
  const std::size_t content_len = certificate_verify_content(transcript_hash, is_server, content);
  if (content_len == 0) return fail(TlsAlert::kInternalError);

  MdCtxPtr md(EVP_MD_CTX_new());
  if (md == nullptr) return fail(TlsAlert::kInternalError);
  const EVP_MD_CTX* tmpl = nullptr;
  const std::span<const SignatureScheme> ours = schemes();
  for (std::size_t i = 0; i < ours.size() && i < sign_templates_.size(); ++i)
    if (ours[i] == scheme) tmpl = sign_templates_[i].get();
  if (tmpl != nullptr) {
    if (EVP_MD_CTX_copy_ex(md.get(), tmpl) != 1) return fail(TlsAlert::kInternalError);
  } else {
    const char* digest = scheme_digest(scheme);
    EVP_PKEY_CTX* pctx = nullptr;  // owned by md
    if (EVP_DigestSignInit_ex(md.get(), &pctx, digest, nullptr, nullptr, key_.get(), nullptr) != 1)
      return fail(TlsAlert::kInternalError);
    if (is_rsa_pss(scheme) && !set_pss(pctx, digest)) return fail(TlsAlert::kInternalError);
  }

  // Ed25519 signs in one shot only, so EVP_DigestSign for every key type.
  std::size_t sig_len = 0;
  if (EVP_DigestSign(md.get(), nullptr, &sig_len, content.data(), content_len) != 1 ||
      sig_len > out.size())
    return fail(TlsAlert::kInternalError);
  sig_len = out.size();
  if (EVP_DigestSign(md.get(), out.data(), &sig_len, content.data(), content_len) != 1)
    return fail(TlsAlert::kInternalError);
  *written = sig_len;
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// Peer side

std::optional<TlsAlert> PeerCertificate::parse(ByteSpan der) {
  cert_.reset();
  key_type_ = KeyType::kUnsupported;
  X509Ptr x = from_der(der);
  if (x == nullptr) return fail(TlsAlert::kBadCertificate);
  const KeyType type = key_type_of(X509_get0_pubkey(x.get()));
  // RFC 8446 §6.2 unsupported_certificate: "a certificate was of an
  // unsupported type".
  if (type == KeyType::kUnsupported) return fail(TlsAlert::kUnsupportedCertificate);
  cert_ = std::move(x);
  key_type_ = type;
  return std::nullopt;
}

EVP_PKEY* PeerCertificate::public_key() const {
  return cert_ == nullptr ? nullptr : X509_get0_pubkey(cert_.get());
}

std::optional<TlsAlert> verify_certificate_verify(const PeerCertificate& leaf, std::uint16_t scheme,
                                                  std::span<const SignatureScheme> offered,
                                                  ByteSpan transcript_hash, bool is_server,
                                                  ByteSpan signature) {
  if (!leaf.ready()) return fail(TlsAlert::kInternalError);
  bool was_offered = false;
  for (SignatureScheme s : offered)
    was_offered |= static_cast<std::uint16_t>(s) == scheme;
  // §4.4.3: the scheme must be one we offered; §4.2.3: ECDSA schemes are
  // tied to their curve and RSA keys sign with rsa_pss_rsae_* only.
  if (!was_offered || !scheme_matches_key(leaf.key_type(), scheme))
    return fail(TlsAlert::kIllegalParameter);

  std::array<std::uint8_t, kMaxCertificateVerifyContentLength> content;
  const std::size_t content_len = certificate_verify_content(transcript_hash, is_server, content);
  if (content_len == 0) return fail(TlsAlert::kInternalError);
  if (signature.empty()) return fail(TlsAlert::kDecryptError);

  const auto s = static_cast<SignatureScheme>(scheme);
  MdCtxPtr md(EVP_MD_CTX_new());
  if (md == nullptr) return fail(TlsAlert::kInternalError);
  const char* digest = scheme_digest(s);
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit_ex(md.get(), &pctx, digest, nullptr, nullptr, leaf.public_key(),
                              nullptr) != 1)
    return fail(TlsAlert::kInternalError);
  if (is_rsa_pss(s) && !set_pss(pctx, digest)) return fail(TlsAlert::kInternalError);
  if (EVP_DigestVerify(md.get(), signature.data(), signature.size(), content.data(), content_len) !=
      1)
    return fail(TlsAlert::kDecryptError);  // §4.4.3
  return std::nullopt;
}

std::unique_ptr<CertificateVerifier> CertificateVerifier::create(const TrustOptions& options,
                                                                 std::string* err) {
  X509StorePtr store(X509_STORE_new());
  if (store == nullptr) {
    set_err(err, "out of memory");
    return nullptr;
  }
  const bool any = !options.ca_file.empty() || !options.ca_dir.empty() || !options.ca_pem.empty();
  if (!options.ca_file.empty() && X509_STORE_load_file(store.get(), options.ca_file.c_str()) != 1) {
    set_err(err, "cannot load CA file " + options.ca_file);
    return nullptr;
  }
  if (!options.ca_dir.empty()) {
    // The hashed-directory lookup reads files only when a chain is built, so
    // a typo in the path would otherwise pass silently.
    std::error_code ec;
    if (!std::filesystem::is_directory(options.ca_dir, ec) ||
        X509_STORE_load_path(store.get(), options.ca_dir.c_str()) != 1) {
      set_err(err, "cannot use CA directory " + options.ca_dir);
      return nullptr;
    }
  }
  if (!options.ca_pem.empty()) {
    BioPtr bio = memory_bio(options.ca_pem);
    std::vector<X509Ptr> certs;
    if (bio == nullptr || !read_pem_certs(bio.get(), &certs) || certs.empty()) {
      set_err(err, "no usable certificate in CA PEM");
      return nullptr;
    }
    for (const X509Ptr& c : certs) {
      if (X509_STORE_add_cert(store.get(), c.get()) != 1) {
        set_err(err, "cannot add CA certificate");
        return nullptr;
      }
    }
  }
  if (!any && !options.insecure_skip_verify && X509_STORE_set_default_paths(store.get()) != 1) {
    set_err(err, "cannot load the system trust store");
    return nullptr;
  }
  std::unique_ptr<CertificateVerifier> v(new CertificateVerifier);
  v->store_ = std::move(store);
  v->insecure_ = options.insecure_skip_verify;
  ERR_clear_error();
  return v;
}

std::optional<TlsAlert> CertificateVerifier::verify(std::span<const ByteSpan> chain,
                                                    std::string_view server_name,
                                                    std::int64_t now_unix,
                                                    PeerCertificate* leaf) const {
  // RFC 8446 §4.4.2.4: an empty server Certificate is decode_error.
  if (chain.empty()) return fail(TlsAlert::kDecodeError);
  if (chain.size() > kMaxChainLength) return fail(TlsAlert::kCertificateUnknown);
  PeerCertificate decoded;
  if (auto a = decoded.parse(chain[0])) return a;
  if (insecure_) {
    *leaf = std::move(decoded);
    return std::nullopt;
  }

  // X509_VERIFY_PARAM_set1_ip_asc wants a C string; DNS names fit in 253.
  char name[256];
  if (server_name.empty() || server_name.size() >= sizeof name ||
      server_name.find('\0') != std::string_view::npos)
    return fail(TlsAlert::kInternalError);
  std::memcpy(name, server_name.data(), server_name.size());
  name[server_name.size()] = '\0';

  X509StackPtr untrusted(sk_X509_new_null());
  if (untrusted == nullptr) return fail(TlsAlert::kInternalError);
  for (std::size_t i = 1; i < chain.size(); ++i) {
    X509Ptr x = from_der(chain[i]);
    if (x == nullptr) return fail(TlsAlert::kBadCertificate);
    if (sk_X509_push(untrusted.get(), x.get()) <= 0) return fail(TlsAlert::kInternalError);
    (void)x.release();  // the stack owns it now
  }

  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (ctx == nullptr ||
      X509_STORE_CTX_init(ctx.get(), store_.get(), decoded.x509(), untrusted.get()) != 1 ||
      // Purpose and trust of a TLS server (serverAuth EKU when present,
      // digitalSignature key usage when present).
      X509_STORE_CTX_set_default(ctx.get(), "ssl_server") != 1)
    return fail(TlsAlert::kInternalError);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(now_unix));
  X509_VERIFY_PARAM_set_auth_level(param, kVerifyAuthLevel);
  X509_VERIFY_PARAM_set_depth(param, static_cast<int>(kMaxChainLength));
  if (X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1) {
    // Not an IP literal: a DNS name, matched against SAN dNSName (OpenSSL
    // falls back to the CN only when the certificate has no DNS SAN).
    ERR_clear_error();
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, name, server_name.size()) != 1)
      return fail(TlsAlert::kInternalError);
  }

  if (X509_verify_cert(ctx.get()) != 1)
    return fail(verify_error_to_alert(X509_STORE_CTX_get_error(ctx.get())));
  *leaf = std::move(decoded);
  return std::nullopt;
}

}  // namespace dquic
