// Test PKI made at run time with OpenSSL: a root CA, leaves of every key
// type the handshake supports, and leaves that must fail verification. No
// files, no clock: validity periods are fixed instants around kTestNow.
#pragma once

#include <cstdint>
#include <string>

#include "quic/tls_client.h"
#include "quic/tls_credentials.h"
#include "quic/tls_server.h"

namespace dquic::test {

// Seconds since the epoch.
inline constexpr std::int64_t kTestCaNotBefore = 1600000000;    // 2020-09
inline constexpr std::int64_t kTestCaNotAfter = 2100000000;     // 2036-07
inline constexpr std::int64_t kTestLeafNotBefore = 1700000000;  // 2023-11
inline constexpr std::int64_t kTestLeafNotAfter = 2000000000;   // 2033-05
inline constexpr std::int64_t kTestNow = 1800000000;            // 2027-01
inline constexpr std::int64_t kTestExpiredNotAfter = 1650000000;
// Every leaf's subjectAltName.
inline constexpr char kTestDnsName[] = "example.test";
inline constexpr char kTestIpAddress[] = "198.18.0.1";

struct TestLeaf {
  std::string chain_pem;  // leaf, then its issuer(s)
  std::string key_pem;
};

struct TestPki {
  std::string ca_pem;        // the trusted root
  std::string other_ca_pem;  // a root that issued `foreign`
  TestLeaf p256, p384, rsa, ed25519;
  TestLeaf expired;  // P-256, expired before kTestNow
  TestLeaf foreign;  // P-256, from the other root

  const TestLeaf& leaf(KeyType t) const;
};

// Made once per process (RSA key generation is slow). Aborts on an OpenSSL
// failure: tests cannot run without it.
const TestPki& test_pki();

std::unique_ptr<ServerCredentials> test_server_credentials(const TestLeaf& leaf);
// Trusts test_pki().ca_pem (or nothing else) unless insecure.
std::unique_ptr<CertificateVerifier> test_verifier(bool insecure = false);

// A server and a client configuration that handshake with each other: the
// P-256 leaf, the client verifying it against the test root as
// kTestDnsName, ALPN `alpn` on both (a literal: it must outlive them).
struct TestTlsPair {
  explicit TestTlsPair(const char* alpn);
  std::unique_ptr<ServerCredentials> credentials;
  std::unique_ptr<CertificateVerifier> verifier;
  TlsServerConfig server;
  TlsClientConfig client;
};

}  // namespace dquic::test
