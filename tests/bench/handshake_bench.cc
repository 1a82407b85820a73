// Full TLS 1.3 handshakes per second in memory (RFC 8446 1-RTT, no
// resumption), per server certificate type, with x25519 and
// TLS_AES_128_GCM_SHA256: client + server CPU together, and the server alone
// (only its receive() calls are timed: ClientHello → whole flight, then the
// client's Finished). The client verifies the chain against the test root, as
// a real client would. A second table times the public-key operations one
// handshake is made of, to show where the time goes.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "bench/bench.h"
#include "quic/tls_client.h"
#include "quic/tls_server.h"
#include "quic/transport_params.h"
#include "tests/support/test_certs.h"

namespace dquic {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Level = EncryptionLevel;
using Clock = std::chrono::steady_clock;

constexpr int kReps = 5;
constexpr std::int64_t kNowMs = test::kTestNow * 1000;
// Each repetition aims at about this long, within [kMinHandshakes,
// kMaxHandshakes], so that cheap and expensive certificates both get stable
// medians and the whole run stays well under a minute.
constexpr double kTargetRepSeconds = 0.8;
constexpr std::uint64_t kMinHandshakes = 200;
constexpr std::uint64_t kMaxHandshakes = 2000;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "handshake_bench: %s\n", what);
  std::abort();
}

// Queues what an engine sends, for the driver to deliver (the engines are not
// re-entrant). The vectors keep their capacity across handshakes.
class QueueSink : public TlsSink {
 public:
  void on_handshake_data(Level level, ByteSpan data) override {
    Bytes& b = out[static_cast<std::size_t>(level)];
    b.insert(b.end(), data.begin(), data.end());
  }
  void on_secret(Level, KeyDirection, AeadAlgorithm, const Secret&) override {}
  void on_handshake_complete() override { ++completions; }
  void clear() {
    for (Bytes& b : out)
      b.clear();
  }

  std::array<Bytes, kEncryptionLevelCount> out;
  std::uint64_t completions = 0;
};

Bytes encode_tp(EndpointRole role) {
  TransportParameters p;
  p.initial_max_data = 1 << 20;
  p.initial_max_streams_bidi = 100;
  ConnectionId cid;
  const std::uint8_t id[] = {1, 2, 3, 4, 5, 6, 7, 8};
  if (!ConnectionId::from(id, &cid)) die("ConnectionId");
  p.initial_source_connection_id = cid;
  if (role == EndpointRole::kServer) p.original_destination_connection_id = cid;
  Bytes buf(512);
  Writer w(buf);
  if (!encode_transport_parameters(p, role, w)) die("transport parameters");
  buf.resize(w.written());
  return buf;
}

struct CertCase {
  const char* name;
  KeyType key;
};

constexpr CertCase kCases[] = {
    {"ECDSA P-256 (ecdsa_secp256r1_sha256)", KeyType::kEcdsaP256},
    {"ECDSA P-384 (ecdsa_secp384r1_sha384)", KeyType::kEcdsaP384},
    {"RSA-2048 (rsa_pss_rsae_sha256)", KeyType::kRsa},
    {"Ed25519 (ed25519)", KeyType::kEd25519},
};

struct Setup {
  std::unique_ptr<ServerCredentials> creds;
  std::unique_ptr<CertificateVerifier> verifier;
  TlsServerConfig server_config;
  TlsClientConfig client_config;
  Bytes client_tp = encode_tp(EndpointRole::kClient);
  Bytes server_tp = encode_tp(EndpointRole::kServer);
  QueueSink csink, ssink;

  explicit Setup(KeyType key) {
    creds = test::test_server_credentials(test::test_pki().leaf(key));
    verifier = test::test_verifier();
    if (creds == nullptr || verifier == nullptr) die("credentials");
    server_config.credentials = creds.get();
    server_config.alpn = {"h3"};
    server_config.cipher_suites = {CipherSuite::kAes128GcmSha256};
    server_config.groups = {NamedGroup::kX25519};
    client_config.server_name = test::kTestDnsName;
    client_config.alpn = {"h3"};
    client_config.cipher_suites = {CipherSuite::kAes128GcmSha256};
    client_config.groups = {NamedGroup::kX25519};
    client_config.verifier = verifier.get();
  }

  // One full handshake; returns the nanoseconds spent in the server's
  // receive() calls. Aborts on any failure: a figure for a broken handshake
  // would be meaningless.
  double handshake() {
    csink.clear();
    ssink.clear();
    TlsClient client(client_config, client_tp, &csink);
    TlsServer server(server_config, server_tp, &ssink);
    if (client.start()) die("client start");

    auto t0 = Clock::now();
    if (server.receive(Level::kInitial, csink.out[0], kNowMs)) die("server: ClientHello");
    auto t1 = Clock::now();
    double server_ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
    csink.clear();

    const Bytes& sh = ssink.out[static_cast<std::size_t>(Level::kInitial)];
    const Bytes& flight = ssink.out[static_cast<std::size_t>(Level::kHandshake)];
    if (client.receive(Level::kInitial, sh, kNowMs)) die("client: ServerHello");
    if (client.receive(Level::kHandshake, flight, kNowMs)) die("client: server flight");

    const Bytes& fin = csink.out[static_cast<std::size_t>(Level::kHandshake)];
    t0 = Clock::now();
    if (server.receive(Level::kHandshake, fin, kNowMs)) die("server: client Finished");
    t1 = Clock::now();
    server_ns += std::chrono::duration<double, std::nano>(t1 - t0).count();
    if (!client.handshake_complete() || !server.handshake_complete()) die("incomplete");
    return server_ns;
  }
};

struct Figures {
  std::uint64_t handshakes;
  double both_us;    // client + server, per handshake (median)
  double server_us;  // server receive() only, per handshake (median)
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

Figures run_case(KeyType key) {
  Setup s(key);
  // Warm-up, and a cost estimate to size the repetitions.
  const auto w0 = Clock::now();
  for (int i = 0; i < 20; ++i)
    s.handshake();
  const double est_s = std::chrono::duration<double>(Clock::now() - w0).count() / 20;
  const auto n = std::clamp(static_cast<std::uint64_t>(kTargetRepSeconds / est_s), kMinHandshakes,
                            kMaxHandshakes);
  std::vector<double> both, server;
  for (int r = 0; r < kReps; ++r) {
    double server_ns = 0;
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < n; ++i)
      server_ns += s.handshake();
    const double total_ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    both.push_back(total_ns / static_cast<double>(n) / 1e3);
    server.push_back(server_ns / static_cast<double>(n) / 1e3);
  }
  return {n, median(both), median(server)};
}

// The public-key work inside one handshake, timed alone (median of kReps
// batches), in microseconds per operation.
void component_table(bool p256_only) {
  std::printf("\nPublic-key operations of one handshake (us/op, median of %d):\n", kReps);
  std::printf("%-40s %10s %10s %12s\n", "certificate", "sign (S)", "CV verify", "chain verify");

  std::uint8_t hash[32] = {1, 2, 3};
  for (const CertCase& c : kCases) {
    if (p256_only && c.key != KeyType::kEcdsaP256) continue;
    Setup s(c.key);
    const SignatureScheme scheme = s.creds->schemes()[0];
    std::uint8_t sig[kMaxSignatureLength];
    std::size_t sig_len = 0;
    const auto sign = bench::measure(100, kReps, [&](std::uint64_t ops) {
      for (std::uint64_t i = 0; i < ops; ++i) {
        if (s.creds->sign_certificate_verify(scheme, hash, true, sig, &sig_len)) die("sign");
      }
    });
    std::vector<ByteSpan> chain;
    for (const Bytes& der : s.creds->chain_der())
      chain.emplace_back(der);
    PeerCertificate leaf;
    const auto chain_verify = bench::measure(100, kReps, [&](std::uint64_t ops) {
      for (std::uint64_t i = 0; i < ops; ++i) {
        PeerCertificate l;
        if (s.verifier->verify(chain, test::kTestDnsName, test::kTestNow, &l)) die("verify");
        if (i == 0) leaf = std::move(l);
      }
    });
    const auto cv_verify = bench::measure(100, kReps, [&](std::uint64_t ops) {
      for (std::uint64_t i = 0; i < ops; ++i) {
        if (verify_certificate_verify(leaf, static_cast<std::uint16_t>(scheme),
                                      TlsClient::offered_signature_schemes(), hash, true,
                                      ByteSpan(sig, sig_len))) {
          die("CertificateVerify");
        }
      }
    });
    std::printf("%-40s %10.1f %10.1f %12.1f\n", c.name, sign.ns_per_op / 1e3,
                cv_verify.ns_per_op / 1e3, chain_verify.ns_per_op / 1e3);
  }

  // Each side generates one x25519 key and derives one shared secret.
  std::uint8_t peer[32];
  {
    KeyShare k;
    if (k.generate(NamedGroup::kX25519)) die("keygen");
    std::copy_n(k.public_key().data(), 32, peer);
  }
  const auto kx = bench::measure(2000, kReps, [&](std::uint64_t ops) {
    for (std::uint64_t i = 0; i < ops; ++i) {
      KeyShare k;
      SharedSecret secret;
      if (k.generate(NamedGroup::kX25519) || k.derive(peer, &secret)) die("x25519");
    }
  });
  std::printf("%-40s %10.1f\n", "x25519 keygen + derive (each side)", kx.ns_per_op / 1e3);
}

}  // namespace
}  // namespace dquic

// Arguments: "p256" runs the ECDSA P-256 case only (with its part of the
// component table), for quick before/after comparisons.
int main(int argc, char** argv) {
  using namespace dquic;
  const bool p256_only = argc > 1 && std::string_view(argv[1]) == "p256";
  test::test_pki();  // RSA key generation happens here, outside the timings
  std::printf("TLS 1.3 full handshakes in memory, x25519, TLS_AES_128_GCM_SHA256; median of %d\n",
              kReps);
  std::printf("%-40s %6s %12s %12s %12s %12s\n", "certificate", "N", "both us/hs", "both hs/s",
              "server us/hs", "server hs/s");
  for (const CertCase& c : kCases) {
    if (p256_only && c.key != KeyType::kEcdsaP256) continue;
    const Figures f = run_case(c.key);
    std::printf("%-40s %6llu %12.1f %12.0f %12.1f %12.0f\n", c.name,
                static_cast<unsigned long long>(f.handshakes), f.both_us, 1e6 / f.both_us,
                f.server_us, 1e6 / f.server_us);
    std::fflush(stdout);
  }
  component_table(p256_only);
  return 0;
}
