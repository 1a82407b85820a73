#include "tests/support/test_certs.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "quic/self_signed_cert.h"

namespace dquic::test {

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "test_certs: %s failed\n", what);
    std::abort();
  }
}

EvpPkeyPtr gen(const char* type, const char* curve, std::size_t bits) {
  EvpPkeyPtr k = generate_private_key(type, curve, bits);
  check(k != nullptr, "keygen");
  return k;
}

// The certificate logic lives in quic/self_signed_cert.h; this adds the
// fixed validity, names and serial numbers of the test PKI.
X509Ptr make_cert(EVP_PKEY* key, const char* cn, bool ca, std::int64_t not_before,
                  std::int64_t not_after, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1;
  CertificateSpec spec;
  spec.common_name = cn;
  spec.ca = ca;
  spec.not_before = not_before;
  spec.not_after = not_after;
  spec.subject_alt_names = "DNS:example.test,IP:198.18.0.1";
  spec.serial = serial++;
  std::string err;
  X509Ptr x = issue_certificate(spec, key, issuer, issuer_key, &err);
  check(x != nullptr, err.c_str());
  return x;
}

std::string pem(X509* x) {
  std::string s = certificate_pem(x);
  check(!s.empty(), "PEM_write_bio_X509");
  return s;
}

std::string pem(EVP_PKEY* key) {
  std::string s = private_key_pem(key);
  check(!s.empty(), "PEM_write_bio_PrivateKey");
  return s;
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

TestTlsPair::TestTlsPair(const char* alpn)
    : credentials(test_server_credentials(test_pki().p256)), verifier(test_verifier()) {
  server.credentials = credentials.get();
  server.alpn = {alpn};
  client.server_name = kTestDnsName;
  client.alpn = {alpn};
  client.verifier = verifier.get();
}

}  // namespace dquic::test
