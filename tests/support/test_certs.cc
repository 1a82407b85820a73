#include "tests/support/test_certs.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace dquic::test {

namespace {

using BioPtr = std::unique_ptr<BIO, OpensslFree<&BIO_free>>;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "test_certs: %s failed\n", what);
    std::abort();
  }
}

EvpPkeyPtr gen(const char* type, const char* curve, std::size_t bits) {
  EVP_PKEY* k = nullptr;
  if (curve != nullptr) {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, type, curve);
  } else if (bits != 0) {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, type, bits);
  } else {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  }
  check(k != nullptr, "keygen");
  return EvpPkeyPtr(k);
}

void add_ext(X509* x, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  check(ext != nullptr && X509_add_ext(x, ext, -1) == 1, value);
  X509_EXTENSION_free(ext);
}

X509Ptr make_cert(EVP_PKEY* key, const char* cn, bool ca, std::int64_t not_before,
                  std::int64_t not_after, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1;
  X509Ptr x(X509_new());
  check(x != nullptr && X509_set_version(x.get(), X509_VERSION_3) == 1, "X509_new");
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
  ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(not_before));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(not_after));
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  add_ext(x.get(), &ctx, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) add_ext(x.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (ca) {
    add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x.get(), &ctx, NID_key_usage, "critical,digitalSignature");
    add_ext(x.get(), &ctx, NID_ext_key_usage, "serverAuth");
    add_ext(x.get(), &ctx, NID_subject_alt_name, "DNS:example.test,IP:198.18.0.1");
  }
  check(X509_sign(x.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "sign");
  return x;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string pem(X509* x) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(bio.get(), x) == 1, "PEM_write_bio_X509");
  return bio_string(bio.get());
}

std::string pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  return bio_string(bio.get());
}

TestLeaf issue(EvpPkeyPtr key, std::int64_t not_before, std::int64_t not_after, X509* ca,
               EVP_PKEY* ca_key) {
  X509Ptr cert = make_cert(key.get(), "leaf", false, not_before, not_after, ca, ca_key);
  return {pem(cert.get()) + pem(ca), pem(key.get())};
}

TestPki make_pki() {
  TestPki p;
  EvpPkeyPtr ca_key = gen("EC", "P-256", 0);
  X509Ptr ca = make_cert(ca_key.get(), "dquic test root", true, kTestCaNotBefore, kTestCaNotAfter,
                         nullptr, nullptr);
  EvpPkeyPtr other_key = gen("EC", "P-256", 0);
  X509Ptr other = make_cert(other_key.get(), "some other root", true, kTestCaNotBefore,
                            kTestCaNotAfter, nullptr, nullptr);
  p.ca_pem = pem(ca.get());
  p.other_ca_pem = pem(other.get());
  p.p256 =
      issue(gen("EC", "P-256", 0), kTestLeafNotBefore, kTestLeafNotAfter, ca.get(), ca_key.get());
  p.p384 =
      issue(gen("EC", "P-384", 0), kTestLeafNotBefore, kTestLeafNotAfter, ca.get(), ca_key.get());
  p.rsa = issue(gen("RSA", nullptr, 2048), kTestLeafNotBefore, kTestLeafNotAfter, ca.get(),
                ca_key.get());
  p.ed25519 = issue(gen("ED25519", nullptr, 0), kTestLeafNotBefore, kTestLeafNotAfter, ca.get(),
                    ca_key.get());
  p.expired =
      issue(gen("EC", "P-256", 0), kTestCaNotBefore, kTestExpiredNotAfter, ca.get(), ca_key.get());
  p.foreign = issue(gen("EC", "P-256", 0), kTestLeafNotBefore, kTestLeafNotAfter, other.get(),
                    other_key.get());
  return p;
}

}  // namespace

const TestLeaf& TestPki::leaf(KeyType t) const {
  switch (t) {
    case KeyType::kEcdsaP384:
      return p384;
    case KeyType::kRsa:
      return rsa;
    case KeyType::kEd25519:
      return ed25519;
    default:
      return p256;
  }
}

const TestPki& test_pki() {
  static const TestPki pki = make_pki();
  return pki;
}

std::unique_ptr<ServerCredentials> test_server_credentials(const TestLeaf& leaf) {
  std::string err;
  auto c = ServerCredentials::load_pem(leaf.chain_pem, leaf.key_pem, &err);
  if (c == nullptr) std::fprintf(stderr, "test_server_credentials: %s\n", err.c_str());
  return c;
}

std::unique_ptr<CertificateVerifier> test_verifier(bool insecure) {
  TrustOptions o;
  o.ca_pem = test_pki().ca_pem;
  o.insecure_skip_verify = insecure;
  std::string err;
  auto v = CertificateVerifier::create(o, &err);
  if (v == nullptr) std::fprintf(stderr, "test_verifier: %s\n", err.c_str());
  return v;
}

}  // namespace dquic::test
