// Session resumption and 0-RTT (RFC 8446 §2.2-2.3, §4.2.9-4.2.11, §4.6.1,
// §8; RFC 9001 §4.6; RFC 9000 §7.4.1) with the engines driven against each
// other in memory: tickets, PSK handshakes, 0-RTT accepted and every reason
// to reject it, ticket keys and the strike register.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "quic/tls_client.h"
#include "quic/tls_server.h"
#include "quic/tls_ticket.h"
#include "quic/transport_params.h"
#include "tests/support/hex.h"
#include "tests/support/test_certs.h"

namespace dquic {
namespace {

using test::Bytes;
using test::test_pki;
using Level = EncryptionLevel;

constexpr std::int64_t kNowMs = test::kTestNow * 1000;

struct SecretEvent {
  Level level;
  KeyDirection dir;
  Bytes secret;
};

class Sink : public TlsSink {
 public:
  void on_handshake_data(Level level, ByteSpan data) override {
    outbox.push_back({level, Bytes(data.begin(), data.end())});
  }
  void on_secret(Level level, KeyDirection dir, AeadAlgorithm, const Secret& s) override {
    secrets.push_back({level, dir, Bytes(s.span().begin(), s.span().end())});
  }
  void on_handshake_complete() override { ++completions; }
  const SecretEvent* find(Level level, KeyDirection dir) const {
    for (const SecretEvent& e : secrets) {
      if (e.level == level && e.dir == dir) return &e;
    }
    return nullptr;
  }
  std::vector<std::pair<Level, Bytes>> outbox;
  std::vector<SecretEvent> secrets;
  int completions = 0;
};

Bytes encode_tp(EndpointRole role, std::uint64_t max_data = 2000) {
  TransportParameters p;
  p.initial_max_data = max_data;
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

// What the server side shares across connections.
struct ServerSide {
  std::unique_ptr<ServerCredentials> creds = test::test_server_credentials(test_pki().p256);
  TicketKeys keys;
  StrikeRegister strikes;
  ServerSide() { EXPECT_TRUE(keys.rotate()); }
};

// Messages (type) in a flight of handshake bytes.
std::vector<HandshakeType> message_types(const Bytes& flight) {
  std::vector<HandshakeType> v;
  std::size_t at = 0;
  while (at + 4 <= flight.size()) {
    const std::size_t len =
        std::size_t{flight[at + 1]} << 16 | std::size_t{flight[at + 2]} << 8 | flight[at + 3];
    v.push_back(static_cast<HandshakeType>(flight[at]));
    at += 4 + len;
  }
  return v;
}

struct Conn {
  TlsServerConfig scfg;
  TlsClientConfig ccfg;
  std::unique_ptr<CertificateVerifier> verifier = test::test_verifier();
  Sink csink, ssink;
  std::vector<std::string> ckeylog, skeylog;
  std::vector<TlsSession> sessions;
  Bytes ctp = encode_tp(EndpointRole::kClient);
  Bytes stp = encode_tp(EndpointRole::kServer);
  std::unique_ptr<TlsClient> client;
  std::unique_ptr<TlsServer> server;
  std::int64_t now_ms = kNowMs;
  std::function<void(EndpointRole, Level, Bytes&)> tamper;
  std::vector<Bytes> server_handshake_flights;
  std::vector<Bytes> client_initial;

  explicit Conn(ServerSide& side, bool early_data = true) {
    scfg.credentials = side.creds.get();
    scfg.alpn = {"h3"};
    scfg.ticket_keys = &side.keys;
    scfg.anti_replay = &side.strikes;
    scfg.enable_early_data = early_data;
    scfg.ticket_lifetime_s = 3600;
    scfg.keylog = [this](std::string_view l) { skeylog.emplace_back(l); };
    ccfg.server_name = test::kTestDnsName;
    ccfg.alpn = {"h3"};
    ccfg.verifier = verifier.get();
    ccfg.keylog = [this](std::string_view l) { ckeylog.emplace_back(l); };
    ccfg.session_store = [this](const TlsSession& s) { sessions.push_back(s); };
  }

  void make() {
    client = std::make_unique<TlsClient>(ccfg, ctp, &csink);
    server = std::make_unique<TlsServer>(scfg, stp, &ssink);
  }

  bool flush(Sink& from, TlsEngine& to, EndpointRole sender) {
    auto queued = std::move(from.outbox);
    from.outbox.clear();
    for (auto& [level, bytes] : queued) {
      if (tamper) tamper(sender, level, bytes);
      if (sender == EndpointRole::kServer && level == Level::kHandshake)
        server_handshake_flights.push_back(bytes);
      if (sender == EndpointRole::kClient && level == Level::kInitial)
        client_initial.push_back(bytes);
      if (to.receive(level, bytes, now_ms)) return false;
    }
    return true;
  }

  void run(const TlsSession* session = nullptr, bool early = true, std::int64_t offer_at = -1) {
    if (!client) make();
    if (session) {
      ASSERT_TRUE(client->offer_session(*session, offer_at < 0 ? now_ms : offer_at, early));
    }
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

  bool server_sent_certificate() const {
    for (const Bytes& f : server_handshake_flights) {
      for (HandshakeType t : message_types(f)) {
        if (t == HandshakeType::kCertificate) return true;
      }
    }
    return false;
  }
};

// A session from a full handshake against `side`.
TlsSession first_session(ServerSide& side, bool early_data = true) {
  Conn c(side, early_data);
  c.run();
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(c.sessions.size(), 1u);
  return c.sessions.empty() ? TlsSession{} : c.sessions[0];
}

void expect_matching_secrets(const Conn& c) {
  for (Level level : {Level::kHandshake, Level::kApplication}) {
    for (KeyDirection dir : {KeyDirection::kRead, KeyDirection::kWrite}) {
      const KeyDirection other =
          dir == KeyDirection::kRead ? KeyDirection::kWrite : KeyDirection::kRead;
      const SecretEvent* a = c.csink.find(level, dir);
      const SecretEvent* b = c.ssink.find(level, other);
      ASSERT_NE(a, nullptr);
      ASSERT_NE(b, nullptr);
      EXPECT_EQ(a->secret, b->secret);
    }
  }
}

bool has_line(const std::vector<std::string>& log, const std::string& label) {
  return std::any_of(log.begin(), log.end(),
                     [&](const std::string& l) { return l.rfind(label + " ", 0) == 0; });
}

// ---------------------------------------------------------------------------

TEST(TlsResumption, FullHandshakeIssuesTicket) {
  ServerSide side;
  Conn c(side);
  c.run();
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c.client->resumed());
  ASSERT_EQ(c.sessions.size(), 1u);
  const TlsSession& s = c.sessions[0];
  EXPECT_EQ(s.alpn, "h3");
  EXPECT_EQ(s.server_name, test::kTestDnsName);
  EXPECT_EQ(s.cipher_suite, static_cast<std::uint16_t>(*c.client->cipher_suite()));
  EXPECT_EQ(s.lifetime_s, 3600u);
  EXPECT_EQ(s.received_ms, kNowMs);
  EXPECT_TRUE(s.allows_early_data);
  EXPECT_EQ(s.transport_parameters, c.stp);  // RFC 9000 §7.4.1
  EXPECT_EQ(s.psk.length, 32u);
  EXPECT_GT(s.ticket.size(), TicketKeys::kOverhead);
}

TEST(TlsResumption, NoTicketsWithoutKeys) {
  ServerSide side;
  Conn c(side);
  c.scfg.ticket_keys = nullptr;
  c.run();
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c.sessions.empty());
}

TEST(TlsResumption, LifetimeIsCappedAtSevenDays) {
  ServerSide side;
  Conn c(side);
  c.scfg.ticket_lifetime_s = 30 * 86400;
  c.run();
  ASSERT_EQ(c.sessions.size(), 1u);
  EXPECT_EQ(c.sessions[0].lifetime_s, kMaxTicketLifetimeSeconds);
}

TEST(TlsResumption, ResumedHandshakeSkipsCertificate) {
  ServerSide side;
  const TlsSession s = first_session(side);
  Conn c(side);
  c.now_ms += 5000;
  c.run(&s, /*early=*/false);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c.client->resumed());
  EXPECT_TRUE(c.server->resumed());
  EXPECT_FALSE(c.client->early_data_offered());
  EXPECT_FALSE(c.server->early_data_accepted());
  EXPECT_FALSE(c.server_sent_certificate());
  ASSERT_FALSE(c.server_handshake_flights.empty());
  EXPECT_EQ(
      message_types(c.server_handshake_flights[0]),
      (std::vector<HandshakeType>{HandshakeType::kEncryptedExtensions, HandshakeType::kFinished}));
  expect_matching_secrets(c);
  EXPECT_EQ(c.server->server_name(), test::kTestDnsName);
  EXPECT_EQ(c.server->alpn(), "h3");
  EXPECT_EQ(c.client->alpn(), "h3");
  EXPECT_EQ(c.csink.find(Level::kEarlyData, KeyDirection::kWrite), nullptr);
  EXPECT_EQ(c.ssink.find(Level::kEarlyData, KeyDirection::kRead), nullptr);
  EXPECT_EQ(c.sessions.size(), 1u);  // a fresh ticket for next time
}

TEST(TlsResumption, ResumptionWorksForEverySuite) {
  for (CipherSuite suite : kDefaultCipherSuites) {
    ServerSide side;
    Conn first(side);
    first.ccfg.cipher_suites = {suite};
    first.run();
    ASSERT_EQ(first.sessions.size(), 1u);
    Conn c(side);
    c.ccfg.cipher_suites = {suite};
    c.run(&first.sessions[0]);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c.client->resumed());
    EXPECT_TRUE(c.client->early_data_accepted());
    EXPECT_EQ(c.client->cipher_suite(), suite);
    expect_matching_secrets(c);
  }
}

TEST(TlsResumption, ZeroRttAccepted) {
  ServerSide side;
  const TlsSession s = first_session(side);
  Conn c(side);
  c.now_ms += 2000;
  c.run(&s);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c.client->early_data_offered());
  EXPECT_TRUE(c.client->early_data_accepted());
  EXPECT_TRUE(c.server->early_data_accepted());
  const SecretEvent* cw = c.csink.find(Level::kEarlyData, KeyDirection::kWrite);
  const SecretEvent* sr = c.ssink.find(Level::kEarlyData, KeyDirection::kRead);
  ASSERT_NE(cw, nullptr);
  ASSERT_NE(sr, nullptr);
  EXPECT_EQ(cw->secret, sr->secret);
  // RFC 9001 §4.1.4: the client's 0-RTT key comes first, with the ClientHello.
  EXPECT_EQ(c.csink.secrets[0].level, Level::kEarlyData);
  EXPECT_TRUE(has_line(c.ckeylog, "CLIENT_EARLY_TRAFFIC_SECRET"));
  EXPECT_TRUE(has_line(c.skeylog, "CLIENT_EARLY_TRAFFIC_SECRET"));
  expect_matching_secrets(c);
  // RFC 9000 §7.4.1: the remembered parameters, for the 0-RTT limits.
  EXPECT_EQ(test::bytes(c.client->remembered_transport_parameters()), c.stp);
  TransportParameters tp;
  EXPECT_EQ(decode_transport_parameters(c.client->remembered_transport_parameters(),
                                        EndpointRole::kServer, &tp),
            TransportError::kNoError);
  EXPECT_EQ(tp.initial_max_data, 2000u);
}

void expect_resumed_without_early_data(Conn& c) {
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c.client->resumed());
  EXPECT_FALSE(c.client->early_data_accepted());
  EXPECT_FALSE(c.server->early_data_accepted());
  EXPECT_EQ(c.ssink.find(Level::kEarlyData, KeyDirection::kRead), nullptr);
  expect_matching_secrets(c);
}

TEST(TlsResumption, ZeroRttRejectedWhenServerDisablesIt) {
  ServerSide side;
  const TlsSession s = first_session(side);
  Conn c(side, /*early_data=*/false);
  c.run(&s);
  EXPECT_TRUE(c.client->early_data_offered());
  // The client did send 0-RTT keys; rejected, it must resend as 1-RTT.
  EXPECT_NE(c.csink.find(Level::kEarlyData, KeyDirection::kWrite), nullptr);
  expect_resumed_without_early_data(c);
}

TEST(TlsResumption, ZeroRttRejectedWithoutAntiReplay) {
  ServerSide side;
  const TlsSession s = first_session(side);
  Conn c(side);
  c.scfg.anti_replay = nullptr;
  c.run(&s);
  expect_resumed_without_early_data(c);
}

TEST(TlsResumption, TicketWithoutEarlyDataIsNotOfferedForZeroRtt) {
  ServerSide side;
  const TlsSession s = first_session(side, /*early_data=*/false);
  EXPECT_FALSE(s.allows_early_data);
  Conn c(side);
  c.run(&s);
  EXPECT_FALSE(c.client->early_data_offered());
  EXPECT_EQ(c.csink.find(Level::kEarlyData, KeyDirection::kWrite), nullptr);
  expect_resumed_without_early_data(c);
}

TEST(TlsResumption, ServerIgnoresEarlyDataForTicketThatForbidsIt) {
  ServerSide side;
  TlsSession s = first_session(side, /*early_data=*/false);
  s.allows_early_data = true;  // a client that ignores what the ticket said
  Conn c(side);
  c.run(&s);
  EXPECT_TRUE(c.client->early_data_offered());
  expect_resumed_without_early_data(c);
}

TEST(TlsResumption, ReplayedClientHelloGetsNoZeroRtt) {
  ServerSide side;
  const TlsSession s = first_session(side);
  Conn c(side);
  c.run(&s);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c.server->early_data_accepted());
  ASSERT_EQ(c.client_initial.size(), 1u);
  // The same ClientHello again, as an attacker would replay it.
  Sink sink;
  TlsServer replay(c.scfg, c.stp, &sink);
  EXPECT_FALSE(replay.receive(Level::kInitial, c.client_initial[0], c.now_ms + 100));
  EXPECT_TRUE(replay.resumed());
  EXPECT_FALSE(replay.early_data_accepted());
  EXPECT_EQ(sink.find(Level::kEarlyData, KeyDirection::kRead), nullptr);
  // A fresh ClientHello with the same ticket is a different one.
  Conn again(side);
  again.run(&s);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again.server->early_data_accepted());
}

TEST(TlsResumption, HelloRetryRejectsZeroRttButResumes) {
  ServerSide side;
  const TlsSession s = first_session(side);
  Conn c(side);
  c.ccfg.groups = {NamedGroup::kX25519, NamedGroup::kSecp256r1};
  c.scfg.groups = {NamedGroup::kSecp256r1};
  c.run(&s);
  EXPECT_TRUE(c.client->used_hello_retry_request());
  EXPECT_TRUE(c.client->early_data_offered());
  expect_resumed_without_early_data(c);
  EXPECT_FALSE(c.server_sent_certificate());
}

TEST(TlsResumption, AgeOutsideToleranceGetsNoZeroRtt) {
  ServerSide side;
  const TlsSession s = first_session(side);
  Conn c(side);
  c.now_ms += 60000;
  // The client claims an age 60 s younger than the real one.
  c.run(&s, true, kNowMs);
  expect_resumed_without_early_data(c);
}

TEST(TlsResumption, ReducedTransportParametersGetNoZeroRtt) {
  ServerSide side;
  const TlsSession s = first_session(side);
  Conn c(side);
  c.stp = encode_tp(EndpointRole::kServer, /*max_data=*/1000);  // RFC 9000 §7.4.1
  c.run(&s);
  expect_resumed_without_early_data(c);
  // Larger limits are fine.
  Conn more(side);
  more.stp = encode_tp(EndpointRole::kServer, 5000);
  more.run(&s);
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(more.client->early_data_accepted());
}

TEST(TlsResumption, PreviousTicketKeyStillOpens) {
  ServerSide side;
  const TlsSession s = first_session(side);
  ASSERT_TRUE(side.keys.rotate());
  Conn c(side);
  c.run(&s, false);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c.client->resumed());
}

TEST(TlsResumption, RotatedOutKeyMeansFullHandshake) {
  ServerSide side;
  const TlsSession s = first_session(side);
  ASSERT_TRUE(side.keys.rotate());
  ASSERT_TRUE(side.keys.rotate());
  Conn c(side);
  c.run(&s);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c.client->resumed());
  EXPECT_FALSE(c.server->resumed());
  EXPECT_FALSE(c.client->early_data_accepted());
  EXPECT_TRUE(c.server_sent_certificate());
  expect_matching_secrets(c);
}

TEST(TlsResumption, ExpiredTicketMeansFullHandshake) {
  ServerSide side;
  Conn first(side);
  first.scfg.ticket_lifetime_s = 60;
  first.run();
  ASSERT_EQ(first.sessions.size(), 1u);
  TlsSession s = first.sessions[0];
  EXPECT_FALSE(s.valid_at(kNowMs + 61000));
  s.lifetime_s = 3600;  // a client that keeps it too long
  Conn c(side);
  c.now_ms += 61000;
  c.run(&s);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c.client->resumed());
  EXPECT_TRUE(c.server_sent_certificate());
}

TEST(TlsResumption, ClientRefusesExpiredOrMismatchedSession) {
  ServerSide side;
  TlsSession s = first_session(side);
  Conn c(side);
  c.make();
  EXPECT_FALSE(c.client->offer_session(s, kNowMs + 3600 * 1000, true));
  TlsSession other = s;
  other.server_name = "other.test";
  EXPECT_FALSE(c.client->offer_session(other, kNowMs, true));
  EXPECT_TRUE(c.client->offer_session(s, kNowMs, true));
}

TEST(TlsResumption, SniMismatchMeansFullHandshake) {
  ServerSide side;
  TlsSession s = first_session(side);
  Conn c(side);
  c.ccfg.server_name = test::kTestIpAddress;  // no SNI sent
  s.server_name = c.ccfg.server_name;
  c.run(&s);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c.client->resumed());
}

TEST(TlsResumption, TamperedBinderIsDecryptError) {
  ServerSide side;
  const TlsSession s = first_session(side);
  Conn c(side);
  c.tamper = [](EndpointRole sender, Level level, Bytes& b) {
    if (sender == EndpointRole::kClient && level == Level::kInitial) b.back() ^= 1;
  };
  c.run(&s);
  ASSERT_TRUE(c.server->error().has_value());
  EXPECT_EQ(c.server->error()->alert, TlsAlert::kDecryptError);
  EXPECT_EQ(c.server->error()->error_code(), 0x100u + 51);
}

TEST(TlsResumption, TamperedTicketMeansFullHandshake) {
  ServerSide side;
  const TlsSession good = first_session(side);
  // Any altered byte (key id, nonce, ciphertext, tag): the server cannot open
  // it and ignores the PSK (RFC 8446 §4.2.11), so the handshake is full.
  for (std::size_t at :
       {std::size_t{0}, std::size_t{10}, good.ticket.size() / 2, good.ticket.size() - 1}) {
    TlsSession s = good;
    s.ticket[at] ^= 0x40;
    Conn c(side);
    c.run(&s);
    ASSERT_TRUE(c.ok()) << at;
    EXPECT_FALSE(c.server->resumed());
    EXPECT_FALSE(c.client->resumed());
    EXPECT_FALSE(c.client->early_data_accepted());
    EXPECT_TRUE(c.server_sent_certificate());
  }
}

TEST(TlsResumption, WrongMaxEarlyDataSizeIsProtocolViolation) {
  ServerSide side;
  Conn c(side);
  c.scfg.ticket_keys = nullptr;
  c.run();
  ASSERT_TRUE(c.ok());
  NewSessionTicket t;
  const Bytes nonce = {0};
  const Bytes ticket = {1, 2, 3};
  t.ticket_lifetime = 3600;
  t.ticket_nonce = nonce;
  t.ticket = ticket;
  t.extensions.add(TlsExtension::kEarlyData);
  t.max_early_data_size = 16384;  // RFC 9001 §4.6.1: must be 0xffffffff
  Bytes buf(64);
  Writer w(buf);
  ASSERT_TRUE(encode_new_session_ticket(t, w));
  buf.resize(w.written());
  const auto e = c.client->receive(Level::kApplication, buf, kNowMs);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->transport, TransportError::kProtocolViolation);
}

// ---------------------------------------------------------------------------
// Building blocks

TEST(TicketKeys, SealOpenRotate) {
  TicketKeys k;
  std::vector<std::uint8_t> t, p;
  const Bytes msg = {1, 2, 3, 4, 5};
  EXPECT_FALSE(k.seal(msg, &t));  // no key yet
  ASSERT_TRUE(k.rotate());
  ASSERT_TRUE(k.seal(msg, &t));
  EXPECT_EQ(t.size(), msg.size() + TicketKeys::kOverhead);
  ASSERT_TRUE(k.open(t, &p));
  EXPECT_EQ(p, msg);
  for (std::size_t i = 0; i < t.size(); ++i) {
    std::vector<std::uint8_t> bad = t;
    bad[i] ^= 1;
    EXPECT_FALSE(k.open(bad, &p)) << i;
  }
  EXPECT_FALSE(k.open(ByteSpan(t).first(TicketKeys::kOverhead - 1), &p));
  ASSERT_TRUE(k.rotate());
  EXPECT_TRUE(k.open(t, &p));
  ASSERT_TRUE(k.rotate());
  EXPECT_FALSE(k.open(t, &p));
}

TEST(TicketState, RoundTripAndMalformed) {
  TicketState s;
  s.cipher_suite = 0x1302;
  s.issue_time_ms = kNowMs;
  s.lifetime_s = 100;
  s.ticket_age_add = 0xdeadbeef;
  s.allow_early_data = true;
  s.psk.hash = HashAlgorithm::kSha384;
  s.psk.length = 48;
  s.psk.bytes.fill(7);
  s.alpn = "h3";
  s.server_name = "example.test";
  s.transport_limits.initial_max_data = 12345;
  std::vector<std::uint8_t> enc;
  ASSERT_TRUE(encode_ticket_state(s, &enc));
  EXPECT_LE(enc.size(), kMaxTicketStateLength);
  TicketState d;
  ASSERT_TRUE(decode_ticket_state(enc, &d));
  EXPECT_EQ(d.cipher_suite, s.cipher_suite);
  EXPECT_EQ(d.issue_time_ms, s.issue_time_ms);
  EXPECT_EQ(d.ticket_age_add, s.ticket_age_add);
  EXPECT_TRUE(d.allow_early_data);
  EXPECT_EQ(d.psk.hash, HashAlgorithm::kSha384);
  EXPECT_EQ(test::bytes(d.psk.span()), test::bytes(s.psk.span()));
  EXPECT_EQ(d.alpn, "h3");
  EXPECT_EQ(d.server_name, "example.test");
  EXPECT_EQ(d.transport_limits, s.transport_limits);
  for (std::size_t n = 0; n < enc.size(); ++n)
    EXPECT_FALSE(decode_ticket_state(ByteSpan(enc).first(n), &d)) << n;
  enc.push_back(0);
  EXPECT_FALSE(decode_ticket_state(enc, &d));
  s.alpn = std::string(256, 'a');
  EXPECT_FALSE(encode_ticket_state(s, &enc));
}

TEST(StrikeRegister, RejectsReplaysWithinTheWindow) {
  StrikeRegister r(4, 1000);
  const Bytes a(32, 1), b(32, 2);
  EXPECT_TRUE(r.check_and_insert(a, 0));
  EXPECT_FALSE(r.check_and_insert(a, 500));
  EXPECT_TRUE(r.check_and_insert(b, 500));
  // After the window the entry is gone (the age check stops replays then).
  EXPECT_TRUE(r.check_and_insert(a, 2000));
  EXPECT_EQ(r.size(), 1u);
}

TEST(StrikeRegister, FullMeansReject) {
  StrikeRegister r(3, 1000);
  for (std::uint8_t i = 0; i < 3; ++i)
    EXPECT_TRUE(r.check_and_insert(Bytes(32, i), 10));
  EXPECT_FALSE(r.check_and_insert(Bytes(32, 9), 20));  // bounded: refuse, not forget
  EXPECT_EQ(r.size(), 3u);
  EXPECT_TRUE(r.check_and_insert(Bytes(32, 9), 1011));  // the old ones expired
  EXPECT_EQ(r.size(), 1u);
}

}  // namespace
}  // namespace dquic
