// Drives the TLS 1.3 engines with arbitrary peer bytes, so the message parsers
// are reached the way a peer reaches them: through receive(), with the
// engine's state, reassembly and buffer bound in front. The first byte picks
// the mode (low two bits) and a split size (high six bits; 0 = one write):
//   0: a fresh TlsServer gets the rest as Initial CRYPTO data (ClientHello).
//   1: a started TlsClient gets the rest as the server's Initial data
//      (ServerHello, HelloRetryRequest).
//   2: a real handshake runs until the client waits for the server's
//      Handshake flight; the rest is that flight (EncryptedExtensions,
//      Certificate, CertificateVerify, Finished).
//   3: a real handshake runs until the server waits for the client's
//      Finished; the rest is the client's Handshake data.
// Nothing may crash, leak or hang, and the engine must end complete, waiting
// or failed, with a failure that sticks. Certificates (tests/support) and the
// verifier are made once: RSA key generation would dominate otherwise.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "quic/tls_client.h"
#include "quic/tls_server.h"
#include "quic/transport_params.h"
#include "tests/support/test_certs.h"

using namespace dquic;

namespace {

using Bytes = std::vector<std::uint8_t>;
using Level = EncryptionLevel;

constexpr std::int64_t kNowMs = test::kTestNow * 1000;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// Queues what an engine sends; the prefix forwards it, the fuzzed part
// ignores it. Delivery happens outside the callback (no re-entrancy).
class QueueSink : public TlsSink {
 public:
  void on_handshake_data(Level level, ByteSpan data) override {
    outbox.emplace_back(level, Bytes(data.begin(), data.end()));
  }
  void on_secret(Level, KeyDirection, AeadAlgorithm, const Secret&) override {}
  void on_handshake_complete() override { ++completions; }

  std::vector<std::pair<Level, Bytes>> outbox;
  int completions = 0;
};

Bytes encode_tp(EndpointRole role) {
  TransportParameters p;
  p.initial_max_data = 1 << 20;
  p.initial_max_streams_bidi = 100;
  ConnectionId cid;
  const std::uint8_t id[] = {1, 2, 3, 4, 5, 6, 7, 8};
  check(ConnectionId::from(id, &cid));
  p.initial_source_connection_id = cid;
  if (role == EndpointRole::kServer) p.original_destination_connection_id = cid;
  Bytes buf(512);
  Writer w(buf);
  check(encode_transport_parameters(p, role, w));
  buf.resize(w.written());
  return buf;
}

struct Fixture {
  std::unique_ptr<ServerCredentials> creds;
  std::unique_ptr<CertificateVerifier> verifier;
  TlsServerConfig server_config;
  TlsClientConfig client_config;
  Bytes client_tp = encode_tp(EndpointRole::kClient);
  Bytes server_tp = encode_tp(EndpointRole::kServer);

  Fixture() {
    creds = test::test_server_credentials(test::test_pki().p256);
    verifier = test::test_verifier();
    check(creds != nullptr && verifier != nullptr);
    server_config.credentials = creds.get();
    server_config.alpn = {"h3"};
    client_config.server_name = test::kTestDnsName;
    client_config.alpn = {"h3"};
    client_config.verifier = verifier.get();
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

// Hands every queued message of `from` at `level` to `to`; the prefix is a
// real handshake, so it must succeed.
void forward(QueueSink& from, Level level, TlsEngine& to) {
  for (const auto& [l, bytes] : from.outbox) {
    if (l == level) check(!to.receive(l, bytes, kNowMs));
  }
  from.outbox.clear();
}

// Feeds `data` at `level` in pieces of `chunk` bytes (0: one write) and checks
// the engine's end state.
void feed(TlsEngine& engine, Level level, ByteSpan data, std::size_t chunk) {
  std::optional<TlsError> err;
  std::size_t at = 0;
  do {
    const std::size_t n = chunk == 0 ? data.size() - at : std::min(chunk, data.size() - at);
    err = engine.receive(level, data.subspan(at, n), kNowMs);
    check(engine.buffered_bytes(level) <= kMaxBufferedHandshakeBytes);
    at += n;
  } while (!err && at < data.size());
  check(err == engine.error());
  if (err) {
    // A failed engine stays failed with the same error, whatever comes next.
    check(engine.receive(level, data.first(std::min<std::size_t>(data.size(), 1)), kNowMs) == err);
  }
}

void run_server(ByteSpan data, std::size_t chunk) {
  const Fixture& f = fixture();
  QueueSink sink;
  TlsServer server(f.server_config, f.server_tp, &sink);
  feed(server, Level::kInitial, data, chunk);
}

void run_client(ByteSpan data, std::size_t chunk) {
  const Fixture& f = fixture();
  QueueSink sink;
  TlsClient client(f.client_config, f.client_tp, &sink);
  check(!client.start());
  feed(client, Level::kInitial, data, chunk);
}

void run_after_server_hello(ByteSpan data, std::size_t chunk, bool fuzz_client) {
  const Fixture& f = fixture();
  QueueSink csink, ssink;
  TlsClient client(f.client_config, f.client_tp, &csink);
  TlsServer server(f.server_config, f.server_tp, &ssink);
  check(!client.start());
  forward(csink, Level::kInitial, server);
  if (fuzz_client) {
    // The real ServerHello only: the client now waits for Handshake data.
    forward(ssink, Level::kInitial, client);
    feed(client, Level::kHandshake, data, chunk);
  } else {
    // The server sent its whole flight and waits for the client's Finished.
    feed(server, Level::kHandshake, data, chunk);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fixture();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = data[0] >> 2;
  const ByteSpan rest(data + 1, size - 1);
  switch (data[0] & 3) {
    case 0:
      run_server(rest, chunk);
      break;
    case 1:
      run_client(rest, chunk);
      break;
    case 2:
      run_after_server_hello(rest, chunk, true);
      break;
    default:
      run_after_server_hello(rest, chunk, false);
      break;
  }
  return 0;
}
