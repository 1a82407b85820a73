// The TLS 1.3 handshake engines (RFC 8446, RFC 9001 §4) driven against each
// other in memory: every suite × group × certificate type, HelloRetryRequest,
// negotiation, verification failures, tampering, arbitrary CRYPTO splits and
// the buffer bound. Certificates are made at run time (tests/support).
#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "quic/key_schedule.h"
#include "quic/tls_client.h"
#include "quic/tls_keylog.h"
#include "quic/tls_server.h"
#include "quic/transport_params.h"
#include "quic/version.h"
#include "tests/support/hex.h"
#include "tests/support/test_certs.h"

namespace dquic {
namespace {

using test::Bytes;
using test::test_pki;

constexpr std::int64_t kNowMs = test::kTestNow * 1000;
using Level = EncryptionLevel;

struct SecretEvent {
  Level level;
  KeyDirection dir;
  AeadAlgorithm aead;
  Bytes secret;
};

// Records what an engine asks the transport to do. Data is queued, not
// delivered from inside the callback (the engines are not re-entrant).
class RecordingSink : public TlsSink {
 public:
  void on_handshake_data(Level level, ByteSpan data) override {
    outbox.push_back({level, Bytes(data.begin(), data.end())});
    events.push_back("data:" + std::to_string(static_cast<int>(level)));
  }
  void on_secret(Level level, KeyDirection dir, AeadAlgorithm aead, const Secret& s) override {
    secrets.push_back({level, dir, aead, Bytes(s.span().begin(), s.span().end())});
    events.push_back("secret:" + std::to_string(static_cast<int>(level)) +
                     (dir == KeyDirection::kRead ? "r" : "w"));
  }
  void on_handshake_complete() override {
    ++completions;
    events.push_back("complete");
  }
  const SecretEvent* find(Level level, KeyDirection dir) const {
    for (const SecretEvent& e : secrets) {
      if (e.level == level && e.dir == dir) return &e;
    }
    return nullptr;
  }

  std::vector<std::pair<Level, Bytes>> outbox;
  std::vector<SecretEvent> secrets;
  std::vector<std::string> events;
  int completions = 0;
};

Bytes encode_tp(EndpointRole role) {
  TransportParameters p;
  p.initial_max_data = role == EndpointRole::kClient ? 1000 : 2000;
  p.initial_max_streams_bidi = 100;
  ConnectionId cid;
  const Bytes id = role == EndpointRole::kClient ? Bytes{1, 2, 3, 4} : Bytes{5, 6, 7, 8};
  EXPECT_TRUE(ConnectionId::from(id, &cid));
  p.initial_source_connection_id = cid;
  if (role == EndpointRole::kServer) p.original_destination_connection_id = cid;
  Bytes buf(512);
  Writer w(buf);
  EXPECT_TRUE(encode_transport_parameters(p, role, w));
  buf.resize(w.written());
  return buf;
}

// Rewrites bytes in flight: (sender, level, bytes).
using Tamper = std::function<void(EndpointRole, Level, Bytes&)>;

struct Pair {
  TlsServerConfig scfg;
  TlsClientConfig ccfg;
  std::unique_ptr<ServerCredentials> creds;
  std::unique_ptr<CertificateVerifier> verifier;
  RecordingSink csink, ssink;
  std::vector<std::string> ckeylog, skeylog;
  Bytes ctp = encode_tp(EndpointRole::kClient);
  Bytes stp = encode_tp(EndpointRole::kServer);
  std::unique_ptr<TlsClient> client;
  std::unique_ptr<TlsServer> server;
  std::int64_t now_ms = kNowMs;
  std::size_t chunk = 0;  // 0: whole writes; else split into pieces of at most this
  bool random_chunks = false;
  std::mt19937 rng{12345};
  Tamper tamper;
  std::size_t max_buffered = 0;

  explicit Pair(const test::TestLeaf& leaf = test_pki().p256, bool insecure = false) {
    creds = test::test_server_credentials(leaf);
    verifier = test::test_verifier(insecure);
    scfg.credentials = creds.get();
    scfg.alpn = {"h3"};
    scfg.keylog = [this](std::string_view l) { skeylog.emplace_back(l); };
    ccfg.server_name = test::kTestDnsName;
    ccfg.alpn = {"h3"};
    ccfg.verifier = verifier.get();
    ccfg.keylog = [this](std::string_view l) { ckeylog.emplace_back(l); };
  }

  void make() {
    client = std::make_unique<TlsClient>(ccfg, ctp, &csink);
    server = std::make_unique<TlsServer>(scfg, stp, &ssink);
  }

  // Delivers everything queued in `from` to `to`; false once `to` fails.
  bool flush(RecordingSink& from, TlsEngine& to, EndpointRole sender) {
    auto queued = std::move(from.outbox);
    from.outbox.clear();
    for (auto& [level, bytes] : queued) {
      if (tamper) tamper(sender, level, bytes);
      std::size_t at = 0;
      while (at < bytes.size()) {
        std::size_t n = bytes.size() - at;
        if (random_chunks) {
          n = std::min(n, std::size_t{1} + rng() % 300);
        } else if (chunk != 0) {
          n = std::min(n, chunk);
        }
        if (to.receive(level, ByteSpan(bytes).subspan(at, n), now_ms)) return false;
        for (std::size_t l = 0; l < kEncryptionLevelCount; ++l)
          max_buffered = std::max(max_buffered, to.buffered_bytes(static_cast<Level>(l)));
        at += n;
      }
    }
    return true;
  }

  // Runs the handshake until both are done, one fails or nothing moves.
  void run() {
    if (!client) make();
    ASSERT_FALSE(client->start());
    for (int round = 0; round < 10; ++round) {
      if (csink.outbox.empty() && ssink.outbox.empty()) break;
      if (!flush(csink, *server, EndpointRole::kClient)) break;
      if (!flush(ssink, *client, EndpointRole::kServer)) break;
    }
  }

  bool ok() const {
    return client->handshake_complete() && server->handshake_complete() && !client->error() &&
           !server->error();
  }
};

std::string hex_of(const Bytes& b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (std::uint8_t v : b) {
    s += kDigits[v >> 4];
    s += kDigits[v & 15];
  }
  return s;
}

// Both sides hold the same secret for each level and direction, with the
// suite's AEAD, and the key log lines carry exactly those secrets.
void expect_matching_secrets(const Pair& p, CipherSuite suite) {
  const AeadAlgorithm aead = cipher_suite_aead(suite);
  const std::size_t len = hash_length(cipher_suite_hash(suite));
  for (Level level : {Level::kHandshake, Level::kApplication}) {
    for (KeyDirection dir : {KeyDirection::kRead, KeyDirection::kWrite}) {
      const KeyDirection other =
          dir == KeyDirection::kRead ? KeyDirection::kWrite : KeyDirection::kRead;
      const SecretEvent* c = p.csink.find(level, dir);
      const SecretEvent* s = p.ssink.find(level, other);
      ASSERT_NE(c, nullptr);
      ASSERT_NE(s, nullptr);
      EXPECT_EQ(c->secret, s->secret);
      EXPECT_EQ(c->secret.size(), len);
      EXPECT_EQ(c->aead, aead);
      EXPECT_EQ(s->aead, aead);
      // Usable as QUIC packet keys (RFC 9001 §5.1).
      Secret sec;
      PacketKeys keys;
      ASSERT_TRUE(Secret::from(cipher_suite_hash(suite), c->secret, &sec));
      EXPECT_TRUE(derive_packet_keys(kVersion1, aead, sec, &keys));
    }
  }
  EXPECT_NE(p.csink.find(Level::kHandshake, KeyDirection::kRead)->secret,
            p.csink.find(Level::kHandshake, KeyDirection::kWrite)->secret);
  EXPECT_EQ(p.csink.secrets.size(), 4u);
  EXPECT_EQ(p.ssink.secrets.size(), 4u);

  // Key log: same lines on both sides; each names the secret the sinks got.
  ASSERT_EQ(p.ckeylog.size(), 4u);
  EXPECT_EQ(p.ckeylog, p.skeylog);
  const auto& cs = p.csink;
  const std::pair<const char*, const SecretEvent*> expected[] = {
      {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", cs.find(Level::kHandshake, KeyDirection::kWrite)},
      {"SERVER_HANDSHAKE_TRAFFIC_SECRET", cs.find(Level::kHandshake, KeyDirection::kRead)},
      {"CLIENT_TRAFFIC_SECRET_0", cs.find(Level::kApplication, KeyDirection::kWrite)},
      {"SERVER_TRAFFIC_SECRET_0", cs.find(Level::kApplication, KeyDirection::kRead)}};
  for (std::size_t i = 0; i < 4; ++i) {
    const std::string& line = p.ckeylog[i];
    const std::string label = expected[i].first;
    ASSERT_EQ(line.substr(0, label.size() + 1), label + " ");
    EXPECT_EQ(line.substr(line.size() - 2 * len), hex_of(expected[i].second->secret));
    EXPECT_EQ(line.size(), label.size() + 1 + 64 + 1 + 2 * len);
  }
}

// ---------------------------------------------------------------------------
// Successful handshakes

struct MatrixCase {
  CipherSuite suite;
  NamedGroup group;
  KeyType key;
};

class HandshakeMatrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(HandshakeMatrix, CompletesWithIdenticalSecrets) {
  const MatrixCase c = GetParam();
  Pair p(test_pki().leaf(c.key));
  p.ccfg.cipher_suites = {c.suite};
  p.ccfg.groups = {c.group};
  p.scfg.groups = {c.group};
  p.run();
  ASSERT_TRUE(p.ok()) << (p.client->error() ? p.client->error()->error_code() : 0) << " "
                      << (p.server->error() ? p.server->error()->error_code() : 0);
  EXPECT_EQ(p.csink.completions, 1);
  EXPECT_EQ(p.ssink.completions, 1);
  EXPECT_EQ(p.client->cipher_suite(), c.suite);
  EXPECT_EQ(p.server->cipher_suite(), c.suite);
  EXPECT_EQ(p.client->key_exchange_group(), c.group);
  EXPECT_EQ(p.server->key_exchange_group(), c.group);
  EXPECT_FALSE(p.client->used_hello_retry_request());
  EXPECT_EQ(p.client->alpn(), "h3");
  EXPECT_EQ(p.server->alpn(), "h3");
  EXPECT_EQ(p.server->server_name(), test::kTestDnsName);
  EXPECT_EQ(test::bytes(p.client->peer_transport_parameters()), p.stp);
  EXPECT_EQ(test::bytes(p.server->peer_transport_parameters()), p.ctp);
  TransportParameters tp;
  EXPECT_EQ(decode_transport_parameters(p.client->peer_transport_parameters(),
                                        EndpointRole::kServer, &tp),
            TransportError::kNoError);
  EXPECT_EQ(tp.initial_max_data, 2000u);
  expect_matching_secrets(p, c.suite);
}

std::vector<MatrixCase> all_cases() {
  std::vector<MatrixCase> v;
  for (CipherSuite s : kDefaultCipherSuites)
    for (NamedGroup g : kDefaultGroups)
      for (KeyType k : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa, KeyType::kEd25519})
        v.push_back({s, g, k});
  return v;
}

INSTANTIATE_TEST_SUITE_P(All, HandshakeMatrix, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<MatrixCase>& info) {
                           const MatrixCase& c = info.param;
                           std::string n = c.suite == CipherSuite::kAes128GcmSha256   ? "Aes128"
                                           : c.suite == CipherSuite::kAes256GcmSha384 ? "Aes256"
                                                                                      : "Chacha";
                           n += c.group == NamedGroup::kX25519 ? "X25519" : "P256";
                           switch (c.key) {
                             case KeyType::kEcdsaP256:
                               return n + "EcdsaP256";
                             case KeyType::kEcdsaP384:
                               return n + "EcdsaP384";
                             case KeyType::kRsa:
                               return n + "RsaPss";
                             default:
                               return n + "Ed25519";
                           }
                         });

TEST(TlsHandshake, SinkEventOrderFollowsRfc9001) {
  Pair p;
  p.run();
  ASSERT_TRUE(p.ok());
  // RFC 9001 §4.1.4: the server installs Handshake keys and 1-RTT write
  // with its flight, 1-RTT read once the client's Finished verifies.
  EXPECT_EQ(p.ssink.events, (std::vector<std::string>{"data:0", "secret:2w", "secret:2r", "data:2",
                                                      "secret:3w", "secret:3r", "complete"}));
  EXPECT_EQ(p.csink.events, (std::vector<std::string>{"data:0", "secret:2r", "secret:2w", "data:2",
                                                      "secret:3w", "secret:3r", "complete"}));
}

TEST(TlsHandshake, HelloRetryRequestForTheServersGroup) {
  for (CipherSuite suite : kDefaultCipherSuites) {
    Pair p;
    p.ccfg.cipher_suites = {suite};
    p.ccfg.groups = {NamedGroup::kX25519, NamedGroup::kSecp256r1};  // share for x25519
    p.scfg.groups = {NamedGroup::kSecp256r1};
    p.run();
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(p.client->used_hello_retry_request());
    EXPECT_TRUE(p.server->used_hello_retry_request());
    EXPECT_EQ(p.client->key_exchange_group(), NamedGroup::kSecp256r1);
    EXPECT_EQ(p.server->key_exchange_group(), NamedGroup::kSecp256r1);
    // Two ClientHellos at Initial.
    expect_matching_secrets(p, suite);
  }
}

TEST(TlsHandshake, NoRetryWhenAnAcceptableShareWasSent) {
  Pair p;
  p.ccfg.groups = {NamedGroup::kSecp256r1, NamedGroup::kX25519};
  p.scfg.groups = {NamedGroup::kX25519, NamedGroup::kSecp256r1};
  p.run();
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p.server->used_hello_retry_request());
  EXPECT_EQ(p.server->key_exchange_group(), NamedGroup::kSecp256r1);
}

TEST(TlsHandshake, ServerCipherPreference) {
  {
    Pair p;
    p.ccfg.cipher_suites = {CipherSuite::kAes128GcmSha256, CipherSuite::kChacha20Poly1305Sha256};
    p.scfg.cipher_suites = {CipherSuite::kChacha20Poly1305Sha256, CipherSuite::kAes256GcmSha384,
                            CipherSuite::kAes128GcmSha256};
    p.run();
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.client->cipher_suite(), CipherSuite::kChacha20Poly1305Sha256);
  }
  {
    Pair p;
    p.ccfg.cipher_suites = {CipherSuite::kAes128GcmSha256, CipherSuite::kChacha20Poly1305Sha256};
    p.scfg.cipher_suites = {CipherSuite::kChacha20Poly1305Sha256, CipherSuite::kAes128GcmSha256};
    p.scfg.prefer_server_cipher_order = false;
    p.run();
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.client->cipher_suite(), CipherSuite::kAes128GcmSha256);
  }
}

TEST(TlsHandshake, AlpnServerPreference) {
  Pair p;
  p.ccfg.alpn = {"h3-29", "h3", "hq-interop"};
  p.scfg.alpn = {"hq-interop", "h3"};
  p.run();
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.client->alpn(), "hq-interop");
  EXPECT_EQ(p.server->alpn(), "hq-interop");
}

TEST(TlsHandshake, IpLiteralIsNotSentAsSniButIsVerified) {
  Pair p;
  p.ccfg.server_name = test::kTestIpAddress;
  p.run();
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p.server->server_name(), "");
  EXPECT_EQ(p.client->server_name(), test::kTestIpAddress);

  Pair wrong;
  wrong.ccfg.server_name = "198.18.0.2";
  wrong.run();
  ASSERT_TRUE(wrong.client->error());
  EXPECT_EQ(wrong.client->error()->alert, TlsAlert::kBadCertificate);
}

TEST(TlsHandshake, ByteByByteDelivery) {
  Pair p;
  p.chunk = 1;
  p.run();
  ASSERT_TRUE(p.ok());
  expect_matching_secrets(p, CipherSuite::kAes128GcmSha256);
  EXPECT_LE(p.max_buffered, kMaxBufferedHandshakeBytes);
  EXPECT_GT(p.max_buffered, 100u);  // the certificate chain was buffered
}

TEST(TlsHandshake, ArbitrarySplitsWithRetry) {
  for (unsigned seed = 1; seed <= 8; ++seed) {
    Pair p(test_pki().rsa);
    p.random_chunks = true;
    p.rng.seed(seed);
    p.scfg.groups = {NamedGroup::kSecp256r1};
    p.run();
    ASSERT_TRUE(p.ok()) << seed;
    EXPECT_TRUE(p.client->used_hello_retry_request());
    for (Level l : {Level::kInitial, Level::kHandshake, Level::kApplication}) {
      EXPECT_EQ(p.client->buffered_bytes(l), 0u);
      EXPECT_EQ(p.server->buffered_bytes(l), 0u);
    }
  }
}

TEST(TlsHandshake, InsecureVerifierAcceptsUnknownCa) {
  Pair p(test_pki().foreign, /*insecure=*/true);
  p.run();
  EXPECT_TRUE(p.ok());
}

TEST(TlsHandshake, ServerAuthenticationDefaultsToVerify) {
  EXPECT_EQ(TlsClientConfig{}.server_authentication, ServerAuthentication::kVerify);
}

// The load-generator mode: an untrusted root and a wrong name pass, and no
// verifier is needed; the same handshakes fail with the default.
TEST(TlsHandshake, LoadGeneratorModeSkipsServerAuthentication) {
  {
    Pair p(test_pki().foreign);  // another root: unknown_ca by default
    p.run();
    ASSERT_TRUE(p.client->error());
    EXPECT_EQ(p.client->error()->alert, TlsAlert::kUnknownCa);
  }
  {
    Pair p(test_pki().foreign);
    p.ccfg.server_authentication = ServerAuthentication::kInsecureNoneForLoadGeneration;
    p.ccfg.server_name = "wrong.example";
    p.ccfg.verifier = nullptr;  // not consulted
    p.run();
    EXPECT_TRUE(p.ok());
    expect_matching_secrets(p, CipherSuite::kAes128GcmSha256);
  }
  {
    Pair p;  // trusted root, wrong name: bad_certificate by default
    p.ccfg.server_name = "wrong.example";
    p.run();
    ASSERT_TRUE(p.client->error());
    EXPECT_EQ(p.client->error()->alert, TlsAlert::kBadCertificate);
  }
  {
    Pair p;
    p.ccfg.server_name = "wrong.example";
    p.ccfg.server_authentication = ServerAuthentication::kInsecureNoneForLoadGeneration;
    p.run();
    EXPECT_TRUE(p.ok());
  }
  {
    // The default still needs a verifier.
    Pair p;
    p.ccfg.verifier = nullptr;
    p.make();
    EXPECT_TRUE(p.client->start());
  }
}

TEST(TlsHandshake, KeylogOffByDefault) {
  Pair p;
  p.ccfg.keylog = nullptr;
  p.scfg.keylog = nullptr;
  p.run();
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p.ckeylog.empty());
  EXPECT_TRUE(p.skeylog.empty());
}

TEST(TlsHandshake, NewSessionTicketAfterHandshakeIsAccepted) {
  Pair p;
  p.run();
  ASSERT_TRUE(p.ok());
  NewSessionTicket t;
  const Bytes nonce = {0};
  const Bytes ticket = {1, 2, 3};
  t.ticket_lifetime = 3600;
  t.ticket_nonce = nonce;
  t.ticket = ticket;
  Bytes buf(64);
  Writer w(buf);
  ASSERT_TRUE(encode_new_session_ticket(t, w));
  buf.resize(w.written());
  EXPECT_FALSE(p.client->receive(Level::kApplication, buf, kNowMs));
  // Anything else there is unexpected; so is more data for the server.
  EXPECT_EQ(p.server->receive(Level::kApplication, buf, kNowMs)->alert,
            TlsAlert::kUnexpectedMessage);
  const Bytes finished_again = {20, 0, 0, 32};
  EXPECT_EQ(p.client->receive(Level::kHandshake, finished_again, kNowMs)->alert,
            TlsAlert::kUnexpectedMessage);
}

// ---------------------------------------------------------------------------
// Failures

void expect_alert(const std::optional<TlsError>& e, TlsAlert a) {
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->transport, TransportError::kNoError);
  EXPECT_EQ(e->alert, a) << static_cast<int>(e->alert);
  EXPECT_EQ(e->error_code(), 0x100u + static_cast<unsigned>(a));
}

TEST(TlsHandshakeFailure, AlpnMismatch) {
  Pair p;
  p.ccfg.alpn = {"h3"};
  p.scfg.alpn = {"hq-interop"};
  p.run();
  expect_alert(p.server->error(), TlsAlert::kNoApplicationProtocol);
  EXPECT_EQ(p.server->error()->error_code(), 0x178u);
  EXPECT_FALSE(p.client->handshake_complete());
}

TEST(TlsHandshakeFailure, UnknownCa) {
  Pair p(test_pki().foreign);
  p.run();
  expect_alert(p.client->error(), TlsAlert::kUnknownCa);
  EXPECT_EQ(p.csink.completions, 0);
  EXPECT_EQ(p.csink.find(Level::kApplication, KeyDirection::kRead), nullptr);
}

TEST(TlsHandshakeFailure, WrongHostname) {
  Pair p;
  p.ccfg.server_name = "other.test";
  p.run();
  expect_alert(p.client->error(), TlsAlert::kBadCertificate);
}

TEST(TlsHandshakeFailure, ExpiredCertificate) {
  Pair p(test_pki().expired);
  p.run();
  expect_alert(p.client->error(), TlsAlert::kCertificateExpired);

  Pair later;  // a valid certificate, checked after its notAfter
  later.now_ms = (test::kTestLeafNotAfter + 1) * 1000;
  later.run();
  expect_alert(later.client->error(), TlsAlert::kCertificateExpired);
}

// Walks the handshake messages in `flight` and calls f(type, offset, length).
void for_each_message(const Bytes& flight,
                      const std::function<void(HandshakeType, std::size_t, std::size_t)>& f) {
  std::size_t at = 0;
  while (at + 4 <= flight.size()) {
    const std::size_t len =
        std::size_t{flight[at + 1]} << 16 | std::size_t{flight[at + 2]} << 8 | flight[at + 3];
    f(static_cast<HandshakeType>(flight[at]), at, 4 + len);
    at += 4 + len;
  }
}

TEST(TlsHandshakeFailure, TamperedCertificateVerify) {
  for (KeyType k : {KeyType::kEcdsaP256, KeyType::kRsa, KeyType::kEd25519}) {
    Pair p(test_pki().leaf(k));
    p.tamper = [](EndpointRole from, Level level, Bytes& b) {
      if (from != EndpointRole::kServer || level != Level::kHandshake) return;
      for_each_message(b, [&](HandshakeType t, std::size_t at, std::size_t len) {
        if (t == HandshakeType::kCertificateVerify) b[at + len - 1] ^= 0x01;
      });
    };
    p.run();
    expect_alert(p.client->error(), TlsAlert::kDecryptError);
    EXPECT_EQ(p.csink.find(Level::kApplication, KeyDirection::kWrite), nullptr);
  }
}

TEST(TlsHandshakeFailure, TamperedServerFinished) {
  Pair p;
  p.tamper = [](EndpointRole from, Level level, Bytes& b) {
    if (from == EndpointRole::kServer && level == Level::kHandshake) b.back() ^= 0x80;
  };
  p.run();
  expect_alert(p.client->error(), TlsAlert::kDecryptError);
  EXPECT_EQ(p.csink.completions, 0);
}

TEST(TlsHandshakeFailure, TamperedClientFinished) {
  Pair p;
  p.tamper = [](EndpointRole from, Level level, Bytes& b) {
    if (from == EndpointRole::kClient && level == Level::kHandshake) b[10] ^= 0x04;
  };
  p.run();
  expect_alert(p.server->error(), TlsAlert::kDecryptError);
  EXPECT_EQ(p.ssink.completions, 0);
  EXPECT_EQ(p.ssink.find(Level::kApplication, KeyDirection::kRead), nullptr);
}

TEST(TlsHandshakeFailure, UnsupportedGroupOnly) {
  Pair p;
  p.ccfg.groups = {NamedGroup::kSecp256r1};
  p.scfg.groups = {NamedGroup::kX25519};
  p.run();
  expect_alert(p.server->error(), TlsAlert::kHandshakeFailure);
}

TEST(TlsHandshakeFailure, NoCommonSuite) {
  Pair p;
  p.ccfg.cipher_suites = {CipherSuite::kAes256GcmSha384};
  p.scfg.cipher_suites = {CipherSuite::kAes128GcmSha256};
  p.run();
  expect_alert(p.server->error(), TlsAlert::kHandshakeFailure);
}

// Rewrites the server's EncryptedExtensions with `edit` applied; the client
// checks EE before anything covers it with a MAC.
Tamper edit_encrypted_extensions(std::function<void(EncryptedExtensions&)> edit) {
  return [edit](EndpointRole from, Level level, Bytes& b) {
    if (from != EndpointRole::kServer || level != Level::kHandshake) return;
    Bytes out(b.size() + 256);
    Writer w(out);
    for_each_message(b, [&](HandshakeType t, std::size_t at, std::size_t len) {
      ByteSpan msg(b.data() + at, len);
      if (t != HandshakeType::kEncryptedExtensions) {
        w.write_bytes(msg);
        return;
      }
      EncryptedExtensions ee;
      ASSERT_FALSE(parse_encrypted_extensions(msg.subspan(4), &ee));
      edit(ee);
      ASSERT_TRUE(encode_encrypted_extensions(ee, w));
    });
    out.resize(w.written());
    b = out;
  };
}

TEST(TlsHandshakeFailure, ServerOmitsTransportParameters) {
  Pair p;
  p.tamper = edit_encrypted_extensions([](EncryptedExtensions& ee) {
    ee.extensions.remove(TlsExtension::kQuicTransportParameters);
  });
  p.run();
  expect_alert(p.client->error(), TlsAlert::kMissingExtension);
}

TEST(TlsHandshakeFailure, ServerOmitsAlpn) {
  Pair p;
  p.tamper = edit_encrypted_extensions(
      [](EncryptedExtensions& ee) { ee.extensions.remove(TlsExtension::kAlpn); });
  p.run();
  expect_alert(p.client->error(), TlsAlert::kNoApplicationProtocol);
}

TEST(TlsHandshakeFailure, ServerPicksAlpnNotOffered) {
  static const Bytes other = {'x', 'y'};
  Pair p;
  p.tamper = edit_encrypted_extensions([](EncryptedExtensions& ee) { ee.alpn = other; });
  p.run();
  expect_alert(p.client->error(), TlsAlert::kIllegalParameter);
}

TEST(TlsHandshakeFailure, ServerSendsExtensionsNotOffered) {
  static const RawExtension unknown[] = {{0x1234, {}}};
  Pair p;
  p.tamper = edit_encrypted_extensions(
      [](EncryptedExtensions& ee) { ee.other_extensions = ExtensionList(unknown); });
  p.run();
  expect_alert(p.client->error(), TlsAlert::kUnsupportedExtension);

  Pair early;
  early.tamper = edit_encrypted_extensions(
      [](EncryptedExtensions& ee) { ee.extensions.add(TlsExtension::kEarlyData); });
  early.run();
  expect_alert(early.client->error(), TlsAlert::kUnsupportedExtension);
}

TEST(TlsHandshakeFailure, CertificateRequestIsAnsweredInState) {
  // A CertificateRequest the server did not hash breaks the server's
  // Finished: the client takes the message in state, and fails at Finished.
  Pair p;
  p.tamper = [](EndpointRole from, Level level, Bytes& b) {
    if (from != EndpointRole::kServer || level != Level::kHandshake) return;
    static const std::uint16_t schemes[] = {0x0403};
    CertificateRequest cr;
    cr.extensions.add(TlsExtension::kSignatureAlgorithms);
    cr.signature_algorithms = U16List(schemes);
    Bytes out(b.size() + 64);
    Writer w(out);
    for_each_message(b, [&](HandshakeType t, std::size_t at, std::size_t len) {
      if (t == HandshakeType::kCertificate) {
        ASSERT_TRUE(encode_certificate_request(cr, w));
      }
      w.write_bytes(ByteSpan(b.data() + at, len));
    });
    out.resize(w.written());
    b = out;
  };
  p.run();
  expect_alert(p.client->error(), TlsAlert::kDecryptError);
}

// ---------------------------------------------------------------------------
// Hand-made ClientHellos against the server

struct HelloOptions {
  bool transport_parameters = true;
  bool alpn = true;
  bool supported_versions = true;
  std::vector<std::uint16_t> versions = {kTls13Version};
  Bytes session_id;
  std::vector<std::uint16_t> groups = {0x001d};
  std::uint16_t share_group = 0x001d;
  bool signature_algorithms = true;
};

Bytes make_client_hello(const HelloOptions& o, KeyShare* key) {
  static const std::uint16_t suites[] = {0x1301};
  static const std::uint16_t schemes[] = {0x0403, 0x0804, 0x0807};
  static const Bytes h3 = {'h', '3'};
  static const ByteSpan alpn[] = {h3};
  static const Bytes tp = encode_tp(EndpointRole::kClient);
  Bytes random(32, 7);
  EXPECT_FALSE(key->generate(NamedGroup::kX25519));
  ClientHello ch;
  ch.random = random;
  ch.legacy_session_id = o.session_id;
  ch.cipher_suites = U16List(suites);
  ch.extensions.add(TlsExtension::kSupportedGroups);
  ch.supported_groups = U16List(std::span<const std::uint16_t>(o.groups));
  if (o.signature_algorithms) ch.extensions.add(TlsExtension::kSignatureAlgorithms);
  ch.signature_algorithms = U16List(schemes);
  if (o.alpn) ch.extensions.add(TlsExtension::kAlpn);
  ch.alpn = OpaqueList(alpn);
  if (o.supported_versions) ch.extensions.add(TlsExtension::kSupportedVersions);
  ch.supported_versions = U16List(std::span<const std::uint16_t>(o.versions));
  ch.extensions.add(TlsExtension::kKeyShare);
  const KeyShareEntry share{o.share_group, key->public_key()};
  ch.key_shares = KeyShareList(std::span<const KeyShareEntry>(&share, 1));
  if (o.transport_parameters) ch.extensions.add(TlsExtension::kQuicTransportParameters);
  ch.quic_transport_parameters = tp;
  Bytes buf(2048);
  Writer w(buf);
  EXPECT_TRUE(encode_client_hello(ch, w));
  buf.resize(w.written());
  return buf;
}

template <typename F>
HelloOptions hello(F&& edit) {
  HelloOptions o;
  edit(o);
  return o;
}

std::optional<TlsError> server_result(const HelloOptions& o, RecordingSink* sink = nullptr) {
  Pair p;
  p.make();
  KeyShare key;
  const Bytes ch = make_client_hello(o, &key);
  auto e = p.server->receive(Level::kInitial, ch, kNowMs);
  if (sink) *sink = p.ssink;
  return e;
}

TEST(TlsServerHello, HandMadeClientHelloCompletesTheFirstFlight) {
  RecordingSink sink;
  EXPECT_FALSE(server_result(HelloOptions{}, &sink));
  EXPECT_EQ(sink.outbox.size(), 2u);  // ServerHello, then the Handshake flight
}

// RFC 8446 §4.2: the same extension twice in one message is
// illegal_parameter; here a second supported_versions at the end.
TEST(TlsServerHello, DuplicateExtensionIsIllegalParameter) {
  Pair p;
  p.make();
  KeyShare key;
  Bytes ch = make_client_hello(HelloOptions{}, &key);
  // Header (4), version (2), random (32), empty session id (1), one suite
  // (2 + 2), null compression (1 + 1): the extensions length follows.
  constexpr std::size_t kExtensionsLength = 4 + 2 + 32 + 1 + 4 + 2;
  const Bytes dup = {0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04};
  ch.insert(ch.end(), dup.begin(), dup.end());
  const std::size_t ext_len =
      (std::size_t{ch[kExtensionsLength]} << 8 | ch[kExtensionsLength + 1]) + dup.size();
  ch[kExtensionsLength] = static_cast<std::uint8_t>(ext_len >> 8);
  ch[kExtensionsLength + 1] = static_cast<std::uint8_t>(ext_len);
  const std::size_t body_len = ch.size() - 4;
  ch[1] = static_cast<std::uint8_t>(body_len >> 16);
  ch[2] = static_cast<std::uint8_t>(body_len >> 8);
  ch[3] = static_cast<std::uint8_t>(body_len);
  // The edit keeps the message well formed: only the duplicate is wrong.
  ASSERT_EQ(ext_len + kExtensionsLength + 2, ch.size());
  expect_alert(p.server->receive(Level::kInitial, ch, kNowMs), TlsAlert::kIllegalParameter);
}

TEST(TlsServerHello, MissingTransportParameters) {
  expect_alert(server_result(hello([](HelloOptions& o) { o.transport_parameters = false; })),
               TlsAlert::kMissingExtension);
}

TEST(TlsServerHello, MissingAlpn) {
  expect_alert(server_result(hello([](HelloOptions& o) { o.alpn = false; })),
               TlsAlert::kNoApplicationProtocol);
}

TEST(TlsServerHello, MissingSignatureAlgorithms) {
  expect_alert(server_result(hello([](HelloOptions& o) { o.signature_algorithms = false; })),
               TlsAlert::kMissingExtension);
}

TEST(TlsServerHello, NoTls13) {
  expect_alert(server_result(hello([](HelloOptions& o) { o.supported_versions = false; })),
               TlsAlert::kProtocolVersion);
  expect_alert(server_result(hello([](HelloOptions& o) { o.versions = {0x0303}; })),
               TlsAlert::kProtocolVersion);
}

TEST(TlsServerHello, NonEmptySessionIdIsProtocolViolation) {
  // RFC 9001 §8.4.
  const auto e = server_result(hello([](HelloOptions& o) { o.session_id = Bytes(32, 1); }));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->transport, TransportError::kProtocolViolation);
  EXPECT_EQ(e->error_code(), 0x0au);
}

TEST(TlsServerHello, ShareForGroupNotInSupportedGroups) {
  expect_alert(server_result(hello([](HelloOptions& o) {
                 o.groups = {0x0017};
                 o.share_group = 0x001d;
               })),
               TlsAlert::kIllegalParameter);
}

TEST(TlsServerHello, UnknownGroupsOnly) {
  expect_alert(server_result(hello([](HelloOptions& o) {
                 o.groups = {0x0019};
                 o.share_group = 0x0019;
               })),
               TlsAlert::kHandshakeFailure);
}

// ---------------------------------------------------------------------------
// Malformed input and bounds

TEST(TlsMalformed, TruncatedClientHello) {
  Pair ref;
  ref.make();
  ASSERT_FALSE(ref.client->start());
  const Bytes ch = ref.csink.outbox.at(0).second;
  for (std::size_t cut = 1; cut < ch.size() - 4; cut += 7) {
    Bytes t(ch.begin(), ch.end() - static_cast<std::ptrdiff_t>(cut));
    const std::size_t len = t.size() - 4;
    t[1] = static_cast<std::uint8_t>(len >> 16);
    t[2] = static_cast<std::uint8_t>(len >> 8);
    t[3] = static_cast<std::uint8_t>(len);
    Pair p;
    p.make();
    expect_alert(p.server->receive(Level::kInitial, t, kNowMs), TlsAlert::kDecodeError);
  }
}

TEST(TlsMalformed, TruncatedServerHello) {
  Pair ref;
  ref.make();
  ASSERT_FALSE(ref.client->start());
  ASSERT_TRUE(ref.flush(ref.csink, *ref.server, EndpointRole::kClient));
  const Bytes sh = ref.ssink.outbox.at(0).second;
  for (std::size_t cut = 1; cut < sh.size() - 4; ++cut) {
    Bytes t(sh.begin(), sh.end() - static_cast<std::ptrdiff_t>(cut));
    const std::size_t len = t.size() - 4;
    t[2] = static_cast<std::uint8_t>(len >> 8);
    t[3] = static_cast<std::uint8_t>(len);
    Pair p;
    p.make();
    ASSERT_FALSE(p.client->start());
    const auto e = p.client->receive(Level::kInitial, t, kNowMs);
    ASSERT_TRUE(e) << cut;
    EXPECT_TRUE(e->alert == TlsAlert::kDecodeError || e->alert == TlsAlert::kIllegalParameter ||
                e->alert == TlsAlert::kProtocolVersion)
        << cut << " " << static_cast<int>(e->alert);
  }
}

TEST(TlsMalformed, GarbageAndMutationsNeverCrash) {
  std::mt19937 rng(99);
  Pair ref;
  ref.run();
  ASSERT_TRUE(ref.ok());
  // Replay the first flights with mutations.
  Pair fresh;
  fresh.make();
  ASSERT_FALSE(fresh.client->start());
  const Bytes ch = fresh.csink.outbox.at(0).second;
  ASSERT_TRUE(fresh.flush(fresh.csink, *fresh.server, EndpointRole::kClient));
  const Bytes sh = fresh.ssink.outbox.at(0).second;
  const Bytes flight = fresh.ssink.outbox.at(1).second;
  for (int i = 0; i < 300; ++i) {
    Bytes m = ch;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f)
      m[rng() % m.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    Pair p;
    p.make();
    (void)p.server->receive(Level::kInitial, m, kNowMs);
    EXPECT_FALSE(p.server->handshake_complete());
  }
  for (int i = 0; i < 200; ++i) {
    // Client fed the real ServerHello of another handshake is wrong anyway;
    // use one client per mutation of the Handshake flight after its own SH.
    Pair p;
    p.make();
    ASSERT_FALSE(p.client->start());
    ASSERT_TRUE(p.flush(p.csink, *p.server, EndpointRole::kClient));
    ASSERT_FALSE(p.client->receive(Level::kInitial, p.ssink.outbox.at(0).second, kNowMs));
    Bytes m = p.ssink.outbox.at(1).second;
    m[rng() % m.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
    // Every byte is covered by the transcript: the flight fails, or waits
    // for more bytes after a lengthened length field.
    const bool failed = p.client->receive(Level::kHandshake, m, kNowMs).has_value();
    EXPECT_TRUE(failed || p.client->buffered_bytes(Level::kHandshake) > 0) << i;
    EXPECT_FALSE(p.client->handshake_complete());
  }
  for (int i = 0; i < 200; ++i) {
    Bytes g(1 + rng() % 600);
    for (auto& v : g)
      v = static_cast<std::uint8_t>(rng());
    Pair p;
    p.make();
    ASSERT_FALSE(p.client->start());
    (void)p.server->receive(Level::kInitial, g, kNowMs);
    (void)p.client->receive(Level::kInitial, g, kNowMs);
    EXPECT_FALSE(p.server->handshake_complete());
    EXPECT_FALSE(p.client->handshake_complete());
  }
  (void)sh;
  (void)flight;
}

TEST(TlsMalformed, UnexpectedMessages) {
  Pair p;
  p.make();
  // Finished as the first message, and a ClientHello at the wrong level.
  const Bytes fin = {20, 0, 0, 32};
  expect_alert(p.server->receive(Level::kInitial, fin, kNowMs), TlsAlert::kUnexpectedMessage);
  Pair q;
  q.make();
  KeyShare key;
  const Bytes ch = make_client_hello({}, &key);
  expect_alert(q.server->receive(Level::kHandshake, ch, kNowMs), TlsAlert::kUnexpectedMessage);
  // KeyUpdate and EndOfEarlyData are never valid in QUIC.
  Pair r;
  r.make();
  const Bytes key_update = {24, 0, 0, 1, 0};
  expect_alert(r.server->receive(Level::kInitial, key_update, kNowMs),
               TlsAlert::kUnexpectedMessage);
  // Errors stick.
  expect_alert(r.server->receive(Level::kInitial, ch, kNowMs), TlsAlert::kUnexpectedMessage);
}

TEST(TlsMalformed, SecondHelloRetryRequestIsUnexpected) {
  Pair p;
  p.scfg.groups = {NamedGroup::kSecp256r1};
  p.make();
  ASSERT_FALSE(p.client->start());
  ASSERT_TRUE(p.flush(p.csink, *p.server, EndpointRole::kClient));
  const Bytes hrr = p.ssink.outbox.at(0).second;
  ASSERT_TRUE(p.server->used_hello_retry_request());
  ASSERT_FALSE(p.client->receive(Level::kInitial, hrr, kNowMs));
  expect_alert(p.client->receive(Level::kInitial, hrr, kNowMs), TlsAlert::kUnexpectedMessage);
}

TEST(TlsMalformed, SecondClientHelloMustCarryTheRequestedShare) {
  Pair p;
  p.scfg.groups = {NamedGroup::kSecp256r1};
  p.make();
  KeyShare key;
  HelloOptions o;
  o.groups = {0x001d, 0x0017};
  const Bytes ch1 = make_client_hello(o, &key);
  ASSERT_FALSE(p.server->receive(Level::kInitial, ch1, kNowMs));
  ASSERT_TRUE(p.server->used_hello_retry_request());
  // The same x25519 share again.
  expect_alert(p.server->receive(Level::kInitial, ch1, kNowMs), TlsAlert::kIllegalParameter);
}

TEST(TlsBounds, OversizedMessagesAreCryptoBufferExceeded) {
  Pair p;
  p.make();
  // A ClientHello declared longer than the 16 KiB limit of non-certificate
  // messages is refused before any of its body is buffered.
  const Bytes big_ch = {1, 0, 0x40, 0x01};
  const auto e = p.server->receive(Level::kInitial, big_ch, kNowMs);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->transport, TransportError::kCryptoBufferExceeded);
  EXPECT_EQ(e->error_code(), 0x0du);
  EXPECT_EQ(p.server->buffered_bytes(Level::kInitial), 0u);

  // A certificate chain over 64 KiB, sent to a client waiting for one.
  Pair q;
  q.make();
  ASSERT_FALSE(q.client->start());
  ASSERT_TRUE(q.flush(q.csink, *q.server, EndpointRole::kClient));
  ASSERT_FALSE(q.client->receive(Level::kInitial, q.ssink.outbox.at(0).second, kNowMs));
  const Bytes& flight = q.ssink.outbox.at(1).second;
  std::size_t ee_len = 0;
  for_each_message(flight, [&](HandshakeType t, std::size_t at, std::size_t len) {
    if (t == HandshakeType::kEncryptedExtensions) ee_len = at + len;
  });
  ASSERT_FALSE(q.client->receive(Level::kHandshake, ByteSpan(flight).first(ee_len), kNowMs));
  // Exactly at the bound is buffered...
  Pair r;
  r.make();
  ASSERT_FALSE(r.client->start());
  ASSERT_TRUE(r.flush(r.csink, *r.server, EndpointRole::kClient));
  ASSERT_FALSE(r.client->receive(Level::kInitial, r.ssink.outbox.at(0).second, kNowMs));
  const Bytes& flight_r = r.ssink.outbox.at(1).second;
  ASSERT_FALSE(r.client->receive(Level::kHandshake, ByteSpan(flight_r).first(ee_len), kNowMs));
  Bytes at_bound(kMaxBufferedHandshakeBytes - 1, 0);
  at_bound[0] = 11;
  at_bound[1] = 0x01;  // 65536 bytes of body
  ASSERT_FALSE(r.client->receive(Level::kHandshake, at_bound, kNowMs));
  EXPECT_EQ(r.client->buffered_bytes(Level::kHandshake), kMaxBufferedHandshakeBytes - 1);
  // ...one more byte over it is not.
  const Bytes big_cert = {11, 0x01, 0x00, 0x01};
  const auto e2 = q.client->receive(Level::kHandshake, big_cert, kNowMs);
  ASSERT_TRUE(e2);
  EXPECT_EQ(e2->transport, TransportError::kCryptoBufferExceeded);
  EXPECT_EQ(q.client->buffered_bytes(Level::kHandshake), 0u);
}

TEST(TlsKeylog, LineFormat) {
  Secret s;
  const Bytes b(32, 0xab);
  ASSERT_TRUE(Secret::from(HashAlgorithm::kSha256, b, &s));
  const Bytes random(32, 0x01);
  std::array<char, kMaxKeylogLineLength> line;
  const std::size_t n = format_keylog_line(KeylogLabel::kClientTrafficSecret0, random, s, line);
  EXPECT_EQ(std::string(line.data(), n), "CLIENT_TRAFFIC_SECRET_0 " +
                                             std::string(64, '0').replace(0, 64, hex_of(random)) +
                                             " " + hex_of(b));
  EXPECT_EQ(
      format_keylog_line(KeylogLabel::kClientTrafficSecret0, ByteSpan(random).first(31), s, line),
      0u);
  EXPECT_EQ(keylog_label_name(KeylogLabel::kClientEarlyTrafficSecret),
            "CLIENT_EARLY_TRAFFIC_SECRET");
}

}  // namespace
}  // namespace dquic
