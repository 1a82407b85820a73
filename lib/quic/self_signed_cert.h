// X.509 certificates made in memory with OpenSSL 3.0: a key, a certificate
// signed by an issuer (or by itself), PEM output. For programs that need a
// throw-away identity (quic-perf loopback: an ephemeral self-signed ECDSA
// P-256 certificate the client trusts for that one run) and for the test PKI
// (tests/support/test_certs). Start-up work only: OpenSSL allocates inside.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <string>
#include <vector>

#include "quic/tls_credentials.h"
#include "quic/tls_key_exchange.h"

namespace dquic {

// "EC" with curve "P-256" / "P-384", "RSA" with bits, "ED25519". Null on failure.
EvpPkeyPtr generate_private_key(const char* type, const char* curve, std::size_t bits);

struct CertificateSpec {
  std::string common_name;
  bool ca = false;              // CA:TRUE + keyCertSign, else a TLS server leaf
  std::int64_t not_before = 0;  // seconds since the epoch
  std::int64_t not_after = 0;
  // subjectAltName entries of a leaf, OpenSSL config syntax, e.g.
  // "DNS:example.test,IP:198.18.0.1"; empty: none.
  std::string subject_alt_names;
  long serial = 1;
};

// Signs `spec` for `key` with issuer_key (self-signed when issuer is null).
// Null with *err on an OpenSSL failure.
X509Ptr issue_certificate(const CertificateSpec& spec, EVP_PKEY* key, X509* issuer,
                          EVP_PKEY* issuer_key, std::string* err);

std::string certificate_pem(X509* cert);  // empty on failure
std::string private_key_pem(EVP_PKEY* key);

struct PemIdentity {
  std::string certificate_pem;  // also the trust anchor a client is given
  std::string key_pem;
};

// An ECDSA P-256 key and a self-signed leaf for it, valid from an hour
// before `now_unix` for `lifetime_s`, with `subject_alt_names` (see above).
bool make_self_signed_p256(const std::string& subject_alt_names, std::int64_t now_unix,
                           std::int64_t lifetime_s, PemIdentity* out, std::string* err);

}  // namespace dquic
