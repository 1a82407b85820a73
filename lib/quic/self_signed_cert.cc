#include "quic/self_signed_cert.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

namespace dquic {
namespace {

using BioPtr = std::unique_ptr<BIO, OpensslFree<&BIO_free>>;

bool add_ext(X509* x, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  const bool ok = ext != nullptr && X509_add_ext(x, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

EvpPkeyPtr generate_private_key(const char* type, const char* curve, std::size_t bits) {
  EVP_PKEY* k = nullptr;
  if (curve != nullptr) {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve);
  } else if (bits != 0) {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, type, bits);
  } else {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  }
  return EvpPkeyPtr(k);
}

X509Ptr issue_certificate(const CertificateSpec& spec, EVP_PKEY* key, X509* issuer,
                          EVP_PKEY* issuer_key, std::string* err) {
  auto fail = [&](const char* what) {
    if (err != nullptr) *err = std::string("certificate: ") + what + " failed";
    return X509Ptr();
  };
  X509Ptr x(X509_new());
  if (x == nullptr || X509_set_version(x.get(), X509_VERSION_3) != 1) return fail("X509_new");
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), spec.serial);
  if (ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(spec.not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(spec.not_after)) == nullptr)
    return fail("validity");
  if (X509_set_pubkey(x.get(), key) != 1) return fail("X509_set_pubkey");
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  bool ok = add_ext(x.get(), &ctx, NID_subject_key_identifier, "hash");
  if (issuer != nullptr)
    ok = ok && add_ext(x.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (spec.ca) {
    ok = ok && add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE") &&
         add_ext(x.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(x.get(), &ctx, NID_key_usage, "critical,digitalSignature") &&
         add_ext(x.get(), &ctx, NID_ext_key_usage, "serverAuth");
    if (!spec.subject_alt_names.empty())
      ok = ok && add_ext(x.get(), &ctx, NID_subject_alt_name, spec.subject_alt_names.c_str());
  }
  if (!ok) return fail("extensions");
  if (X509_sign(x.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) <= 0)
    return fail("X509_sign");
  return x;
}

std::string certificate_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) return {};
  return bio_string(bio.get());
}

std::string private_key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
    return {};
  return bio_string(bio.get());
}

bool make_self_signed_p256(const std::string& subject_alt_names, std::int64_t now_unix,
                           std::int64_t lifetime_s, PemIdentity* out, std::string* err) {
  EvpPkeyPtr key = generate_private_key("EC", "P-256", 0);
  if (key == nullptr) {
    if (err != nullptr) *err = "certificate: P-256 key generation failed";
    return false;
  }
  CertificateSpec spec;
  spec.common_name = "dquic ephemeral";
  spec.not_before = now_unix - 3600;
  spec.not_after = now_unix + lifetime_s;
  spec.subject_alt_names = subject_alt_names;
  X509Ptr cert = issue_certificate(spec, key.get(), nullptr, nullptr, err);
  if (cert == nullptr) return false;
  out->certificate_pem = certificate_pem(cert.get());
  out->key_pem = private_key_pem(key.get());
  if (out->certificate_pem.empty() || out->key_pem.empty()) {
    if (err != nullptr) *err = "certificate: PEM encoding failed";
    return false;
  }
  return true;
}

}  // namespace dquic
