#include "tests/sim/sim_harness.h"

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "offload/aead_evp.h"
#include "offload/hp_inline.h"
#include "offload/protector_key_store.h"
#include "quic/cid_generator.h"
#include "quic/packet_header.h"
#include "quic/stateless_reset.h"
#include "runtime/connection_io.h"
#include "runtime/connection_snapshot.h"
#include "runtime/null_key_store.h"
#include "tests/sim/sim_rng.h"
#include "tests/support/test_certs.h"

namespace dquic {
namespace {

constexpr std::size_t kAppChunk = 16 * 1024;
// Datagrams one endpoint may send in one step before the loop moves on (a
// connection that never stops sending shows up as a livelock, not a hang).
constexpr std::size_t kMaxDatagramsPerStep = 4096;
constexpr std::size_t kServerCidLength = 8;
// Addresses when SimConfig asks for them (RFC 5737-style test range).
const PeerAddress kClientAddress = PeerAddress::ipv4({198, 18, 0, 2}, 50000);
const PeerAddress kClientMigrated = PeerAddress::ipv4({198, 18, 0, 3}, 50001);
const PeerAddress kServerAddress = PeerAddress::ipv4({198, 18, 1, 1}, 443);
const PeerAddress kServerPreferred = PeerAddress::ipv4({198, 18, 1, 2}, 4433);
constexpr char kAlpn[] = "sim";

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// TLS material shared by every run: the test PKI is slow to make.
struct SimTls {
  std::unique_ptr<ServerCredentials> credentials;
  std::unique_ptr<CertificateVerifier> verifier;
  TlsServerConfig server;
  TlsClientConfig client;
};

const SimTls& sim_tls() {
  static const SimTls* tls = [] {
    auto* t = new SimTls;
    t->credentials = test::test_server_credentials(test::test_pki().p256);
    t->verifier = test::test_verifier();
    t->server.credentials = t->credentials.get();
    t->server.alpn = {kAlpn};
    t->client.server_name = test::kTestDnsName;
    t->client.alpn = {kAlpn};
    t->client.verifier = t->verifier.get();
    return t;
  }();
  return *tls;
}

}  // namespace

void fill_pattern(std::uint64_t seed, std::uint64_t stream_id, std::uint64_t offset,
                  std::span<std::uint8_t> out) {
  const std::uint64_t key =
      mix64(seed ^ 0x5eed5eed5eedull) ^ mix64(stream_id + 0x9e3779b97f4a7c15ull);
  std::size_t i = 0;
  // Head up to an 8-byte block boundary, whole blocks, then the tail.
  while (i < out.size() && (offset + i) % 8 != 0) {
    out[i] = static_cast<std::uint8_t>(mix64(key + (offset + i) / 8) >> (8 * ((offset + i) % 8)));
    ++i;
  }
  for (; i + 8 <= out.size(); i += 8) {
    std::uint64_t block = mix64(key + (offset + i) / 8);
    std::uint8_t bytes[8];
    for (int b = 0; b < 8; ++b, block >>= 8)
      bytes[b] = static_cast<std::uint8_t>(block);
    std::memcpy(out.data() + i, bytes, 8);
  }
  for (; i < out.size(); ++i)
    out[i] = static_cast<std::uint8_t>(mix64(key + (offset + i) / 8) >> (8 * ((offset + i) % 8)));
}

rte_mempool* create_sim_pool(const char* name, unsigned mbufs) {
  // The data room holds the largest datagram the default path MTU carries.
  return rte_pktmbuf_pool_create(name, mbufs, 256, 0, 2048 + RTE_PKTMBUF_HEADROOM,
                                 static_cast<int>(rte_socket_id()));
}

// The application on one endpoint: the client writes each stream and checks
// what comes back; the server checks what it reads and echoes or sinks it.
// Connection callbacks only mark streams; pump() acts on them after the I/O.
class SimHarness::App final : public ConnectionHandler {
 public:
  App(EndpointRole role, const SimFlowConfig& flow, std::uint64_t seed, bool verify, bool poll)
      : role_(role),
        flow_(flow),
        seed_(seed),
        verify_(verify),
        poll_(poll),
        streams_(flow.streams) {
    for (std::size_t i = 0; i < streams_.size(); ++i)
      streams_[i].id = 4 * i;  // RFC 9000 §2.1: client-initiated bidirectional
    chunk_.resize(kAppChunk);
    expect_.resize(kAppChunk);
  }

  void attach(Connection* c) { c_ = c; }

  void on_handshake_complete() override { handshake_ = true; }
  void on_stream_opened(std::uint64_t id) override { mark(id, "opened"); }
  void on_stream_readable(std::uint64_t id) override { mark(id, "readable"); }
  void on_stream_writable(std::uint64_t id) override { mark(id, "writable"); }
  void on_stream_reset(std::uint64_t id, std::uint64_t err) override {
    fail("stream " + std::to_string(id) + " reset by the peer, error " + std::to_string(err));
  }
  void on_stop_sending(std::uint64_t id, std::uint64_t err) override {
    fail("STOP_SENDING on stream " + std::to_string(id) + ", error " + std::to_string(err));
  }

  void pump() {
    if (c_ == nullptr || !failure_.empty()) return;
    if (role_ == EndpointRole::kClient) {
      if (!handshake_) return;
      open_streams();
    }
    for (StreamIo& s : streams_) {
      if (poll_ && !(s.fin_sent && s.fin_received)) s.marked = true;
      if (!s.marked || !s.opened) continue;
      s.marked = false;
      if (role_ == EndpointRole::kClient) {
        client_write(s);
        client_read(s);
      } else {
        server_io(s);
      }
      if (!failure_.empty()) return;
    }
  }

  bool done() const {
    for (const StreamIo& s : streams_)
      if (!s.fin_sent || !s.fin_received) return false;
    return failure_.empty();
  }
  const std::string& failure() const { return failure_; }
  std::uint64_t bytes_read() const { return bytes_read_; }
  std::uint64_t bytes_written() const { return bytes_written_; }

  std::string describe() const {
    std::ostringstream o;
    for (const StreamIo& s : streams_) {
      o << " s" << s.id << "[" << (s.opened ? "" : "unopened ") << "w=" << s.sent
        << (s.fin_sent ? "+fin" : "") << " r=" << s.received << (s.fin_received ? "+fin" : "")
        << (s.pending.empty() ? "" : " pending=" + std::to_string(s.pending.size())) << "]";
    }
    return o.str();
  }

 private:
  struct StreamIo {
    std::uint64_t id = 0;
    bool opened = false;
    bool marked = false;
    std::uint64_t sent = 0;
    bool fin_sent = false;
    std::uint64_t received = 0;
    bool fin_received = false;
    std::vector<std::uint8_t> pending;  // server echo: read, not yet accepted by write()
  };

  void fail(std::string why) {
    if (failure_.empty())
      failure_ = std::string(role_ == EndpointRole::kClient ? "client" : "server") + " app: " + why;
  }

  void mark(std::uint64_t id, const char* event) {
    if (id % 4 != 0 || id / 4 >= streams_.size()) {
      fail(std::string(event) + " for unexpected stream " + std::to_string(id));
      return;
    }
    StreamIo& s = streams_[id / 4];
    s.marked = true;
    if (role_ == EndpointRole::kServer) s.opened = true;
  }

  void open_streams() {
    for (StreamIo& s : streams_) {
      if (s.opened) continue;
      const std::optional<std::uint64_t> id = c_->open_stream(true);
      if (!id) return;  // blocked by MAX_STREAMS: the next pump retries
      if (*id != s.id) {
        fail("open_stream gave " + std::to_string(*id) + ", expected " + std::to_string(s.id));
        return;
      }
      s.opened = true;
      s.marked = true;
    }
  }

  std::uint64_t expected_response() const {
    return flow_.workload == SimWorkload::kEcho ? flow_.bytes_per_stream : 0;
  }

  void client_write(StreamIo& s) {
    while (!s.fin_sent) {
      const std::size_t n = static_cast<std::size_t>(
          std::min<std::uint64_t>(kAppChunk, flow_.bytes_per_stream - s.sent));
      // A refused write is retried with the same bytes: generate them once.
      if (chunk_stream_ != s.id || chunk_offset_ != s.sent || chunk_length_ != n) {
        fill_pattern(seed_, s.id, s.sent, {chunk_.data(), n});
        chunk_stream_ = s.id;
        chunk_offset_ = s.sent;
        chunk_length_ = n;
      }
      const bool fin = s.sent + n == flow_.bytes_per_stream;
      // The FIN is taken with the last byte: only a complete write carries it.
      const std::int64_t w = c_->write(s.id, {chunk_.data(), n}, fin);
      if (w < 0) {
        fail("write refused on stream " + std::to_string(s.id) + " at " + std::to_string(s.sent));
        return;
      }
      s.sent += static_cast<std::uint64_t>(w);
      bytes_written_ += static_cast<std::uint64_t>(w);
      if (static_cast<std::size_t>(w) < n) return;  // on_stream_writable resumes
      if (fin) s.fin_sent = true;
    }
  }

  // Reads everything available; false on failure.
  template <class Sink>
  bool read_all(StreamIo& s, std::uint64_t expected_total, Sink&& sink) {
    while (!s.fin_received) {
      bool fin = false;
      chunk_stream_ = ~std::uint64_t{0};  // reading overwrites chunk_
      const std::int64_t r = c_->read(s.id, {chunk_.data(), chunk_.size()}, &fin);
      if (r < 0) {
        fail("read failed on stream " + std::to_string(s.id) + " at " + std::to_string(s.received));
        return false;
      }
      const auto n = static_cast<std::size_t>(r);
      if (s.received + n > expected_total) {
        fail("stream " + std::to_string(s.id) + " has more than " + std::to_string(expected_total) +
             " bytes");
        return false;
      }
      if (verify_ && n > 0) {
        fill_pattern(seed_, s.id, s.received, {expect_.data(), n});
        if (std::memcmp(chunk_.data(), expect_.data(), n) != 0) {
          std::size_t at = 0;
          while (chunk_[at] == expect_[at])
            ++at;
          fail("stream " + std::to_string(s.id) + " byte " + std::to_string(s.received + at) +
               " differs");
          return false;
        }
      }
      s.received += n;
      bytes_read_ += n;
      if (n > 0 && !sink(s, n)) return true;  // the sink is blocked: stop reading
      if (fin) {
        if (s.received != expected_total) {
          fail("stream " + std::to_string(s.id) + " ended at " + std::to_string(s.received) +
               " of " + std::to_string(expected_total));
          return false;
        }
        s.fin_received = true;
      }
      if (n == 0) break;
    }
    return true;
  }

  void client_read(StreamIo& s) {
    read_all(s, expected_response(), [](StreamIo&, std::size_t) { return true; });
  }

  // Writes pending echo bytes; true when none are left.
  bool flush_pending(StreamIo& s) {
    if (s.pending.empty()) return true;
    const std::int64_t w = c_->write(s.id, {s.pending.data(), s.pending.size()}, false);
    if (w < 0) {
      fail("echo write refused on stream " + std::to_string(s.id));
      return false;
    }
    s.pending.erase(s.pending.begin(), s.pending.begin() + w);
    s.sent += static_cast<std::uint64_t>(w);
    bytes_written_ += static_cast<std::uint64_t>(w);
    return s.pending.empty();
  }

  void server_io(StreamIo& s) {
    if (!flush_pending(s)) return;
    const bool echo = flow_.workload == SimWorkload::kEcho;
    const bool ok = read_all(s, flow_.bytes_per_stream, [&](StreamIo& st, std::size_t n) {
      if (!echo) return true;
      st.pending.insert(st.pending.end(), chunk_.begin(),
                        chunk_.begin() + static_cast<std::ptrdiff_t>(n));
      return flush_pending(st);
    });
    if (!ok || !failure_.empty()) return;
    if (s.fin_received && s.pending.empty() && !s.fin_sent) {
      if (c_->write(s.id, {}, true) < 0) {
        fail("FIN refused on stream " + std::to_string(s.id));
        return;
      }
      s.fin_sent = true;
    }
  }

  EndpointRole role_;
  SimFlowConfig flow_;
  std::uint64_t seed_;
  bool verify_;
  bool poll_;
  Connection* c_ = nullptr;
  bool handshake_ = false;
  std::vector<StreamIo> streams_;
  std::vector<std::uint8_t> chunk_;
  std::vector<std::uint8_t> expect_;
  // What chunk_ holds for client_write (reads reuse chunk_ and reset this).
  std::uint64_t chunk_stream_ = ~std::uint64_t{0};
  std::uint64_t chunk_offset_ = 0;
  std::size_t chunk_length_ = 0;
  std::uint64_t bytes_read_ = 0;
  std::uint64_t bytes_written_ = 0;
  std::string failure_;
};

// Declaration order is destruction order reversed: the connection goes
// first (it releases its keys and mbufs), then its handler, key store,
// protector and engines.
struct SimHarness::Endpoint {
  EndpointRole role = EndpointRole::kClient;
  std::unique_ptr<offload::AeadEngine> aead;
  std::unique_ptr<offload::HpEngine> hp;
  std::unique_ptr<offload::Protector> protector;
  std::unique_ptr<KeyStore> keys;
  NullKeyStore* null_keys = nullptr;  // no-crypto mode: `keys`
  std::unique_ptr<App> app;
  std::unique_ptr<SimRng> rng;
  // Spare CIDs for migration (SimConfig addressing).
  std::unique_ptr<RandomCidGenerator> cids;
  std::unique_ptr<StatelessResetTokenGenerator> resets;
  std::unique_ptr<Connection> conn;

  std::int64_t keys_live() const {
    if (null_keys != nullptr)
      return static_cast<std::int64_t>(null_keys->installed() - null_keys->released());
    const offload::ProtectorCounters& c = protector->counters();
    return static_cast<std::int64_t>(c.keys_installed - c.keys_released);
  }
};

struct SimHarness::Flow {
  SimFlowConfig config;
  std::unique_ptr<Endpoint> client;
  std::unique_ptr<Endpoint> server;
  bool started = false;
  bool close_called = false;
  Time done_time = kNever;
  Time closed_time = kNever;
};

bool SimHarness::addressing() const {
  return config_.nat_rebind_at != kNever || config_.client_migrate_at != kNever ||
         config_.preferred_address;
}

std::uint8_t SimHarness::address_index(const PeerAddress& a) {
  for (std::size_t i = 0; i < addresses_.size(); ++i)
    if (addresses_[i] == a) return static_cast<std::uint8_t>(i);
  addresses_.push_back(a);
  return static_cast<std::uint8_t>(addresses_.size() - 1);
}

void SimHarness::tag_path(rte_mbuf* m, const NetworkPath& p, bool from_client) {
  // The NAT rewrites the client's source address on the way out.
  const PeerAddress src =
      from_client && nat_external_ && p.local == kClientAddress ? *nat_external_ : p.local;
  m->hash.rss = address_index(src) | (std::uint32_t{address_index(p.peer)} << 8);
}

bool SimHarness::untag_path(const rte_mbuf* m, bool to_server, NetworkPath* p) const {
  const PeerAddress& src = addresses_[m->hash.rss & 0xff];
  PeerAddress dst = addresses_[(m->hash.rss >> 8) & 0xff];
  if (!to_server) {
    // The NAT maps its current binding back and has forgotten the old one.
    if (nat_dead_ && dst == *nat_dead_) return false;
    if (nat_external_ && dst == *nat_external_) dst = kClientAddress;
  }
  p->local = dst;
  p->peer = src;
  return true;
}

void SimHarness::path_events() {
  // Addresses change once the handshake is confirmed: a server takes no new
  // peer address before (RFC 9000 §9), so a change during a slow handshake
  // would only test that it times out.
  for (auto& f : flows_)
    if (f->client == nullptr || !f->client->conn->handshake_confirmed()) return;
  if (!rebound_ && now_ >= config_.nat_rebind_at) {
    rebound_ = true;
    nat_dead_ = nat_external_.value_or(kClientAddress);
    PeerAddress next = kClientAddress;
    next.port = static_cast<std::uint16_t>(kClientAddress.port + 10000);
    if (config_.nat_rebind_new_ip) next.address[3] = 99;
    nat_external_ = next;
  }
  if (!migrated_ && now_ >= config_.client_migrate_at) {
    migrated_ = true;
    for (auto& f : flows_) {
      if (f->client == nullptr || f->client->conn->is_closed()) continue;
      NetworkPath p = f->client->conn->path();
      p.local = kClientMigrated;
      if (!f->client->conn->migrate(p, now_, config_.migrate_validate_first))
        fail("client migrate() refused", false);
    }
  }
}

SimHarness::SimHarness(const SimConfig& config, rte_mempool* pool)
    : config_(config), pool_(pool), cid_rng_(config.seed, 999) {
  scratch_.resize(std::max<std::size_t>(config_.send_burst, 64));
  for (const SimFlowConfig& fc : config_.flows) {
    auto f = std::make_unique<Flow>();
    f->config = fc;
    flows_.push_back(std::move(f));
  }
}

SimHarness::~SimHarness() = default;

std::size_t SimHarness::flow_count() const {
  return flows_.size();
}

const Connection* SimHarness::client(std::size_t flow) const {
  const Flow& f = *flows_[flow];
  return f.client ? f.client->conn.get() : nullptr;
}

const Connection* SimHarness::server(std::size_t flow) const {
  const Flow& f = *flows_[flow];
  return f.server ? f.server->conn.get() : nullptr;
}

std::uint64_t SimHarness::bytes_delivered(std::size_t flow) const {
  const Flow& f = *flows_[flow];
  std::uint64_t n = 0;
  if (f.client) n += f.client->app->bytes_read();
  if (f.server) n += f.server->app->bytes_read();
  return n;
}

std::unique_ptr<SimHarness::Endpoint> SimHarness::make_endpoint(std::size_t flow,
                                                                const Connection::ServerIds* ids) {
  const EndpointRole role = ids == nullptr ? EndpointRole::kClient : EndpointRole::kServer;
  auto e = std::make_unique<Endpoint>();
  e->role = role;
  if (config_.crypto == SimCrypto::kInline) {
    e->aead = offload::make_evp_aead_engine();
    e->hp = offload::make_inline_hp_engine();
    e->protector = std::make_unique<offload::Protector>(e->aead.get(), e->hp.get(), e->aead.get(),
                                                        e->hp.get());
    e->keys = std::make_unique<offload::ProtectorKeyStore>(e->protector.get());
  } else {
    auto k = std::make_unique<NullKeyStore>();
    e->null_keys = k.get();
    e->keys = std::move(k);
  }
  // Independent random streams per flow and role: CIDs, not the path's draws.
  e->rng =
      std::make_unique<SimRng>(config_.seed, 1000 + 2 * flow + (role == EndpointRole::kServer));
  e->app = std::make_unique<App>(role, flows_[flow]->config, config_.seed + flow, config_.verify,
                                 config_.poll_streams);

  const SimTls& tls = sim_tls();
  ConnectionConfig cc;
  cc.role = role;
  cc.tls_client = &tls.client;
  cc.tls_server = &tls.server;
  cc.congestion = config_.congestion;
  cc.max_datagram_size = config_.max_datagram_size;
  cc.pacing = config_.pacing;
  cc.handshake_timeout = config_.handshake_timeout;
  cc.max_stream_send_buffer = config_.max_stream_send_buffer;
  cc.key_update_interval = config_.key_update_interval;
  cc.version = role == EndpointRole::kClient ? config_.client_version : server_version_;
  cc.versions = role == EndpointRole::kClient ? config_.client_versions : config_.server_versions;
  cc.wall_clock_ms_at_zero = test::kTestNow * 1000;
  cc.keys = e->keys.get();
  cc.copy_pool = pool_;  // stream data written by copy, small reassembly pieces
  cc.handler = e->app.get();
  cc.observer = role == EndpointRole::kClient ? config_.client_observer : config_.server_observer;
  SimRng* rng = e->rng.get();
  cc.random = [rng](std::span<std::uint8_t> out) {
    for (auto& b : out)
      b = static_cast<std::uint8_t>(rng->next_u64());
  };
  TransportParameters& tp = cc.transport;
  tp.max_idle_timeout = static_cast<std::uint64_t>(config_.idle_timeout / kMillisecond);
  tp.initial_max_data = config_.connection_window;
  tp.initial_max_stream_data_bidi_local = config_.stream_window;
  tp.initial_max_stream_data_bidi_remote = config_.stream_window;
  tp.initial_max_stream_data_uni = config_.stream_window;
  tp.initial_max_streams_bidi = 100;
  tp.initial_max_streams_uni = 3;
  if (config_.max_ack_delay_ms) tp.max_ack_delay = *config_.max_ack_delay_ms;
  if (addressing()) {
    RandomCidGeneratorSettings gs;
    gs.cid_length = 8;  // the client's own CID and kServerCidLength
    e->cids = RandomCidGenerator::create(gs, cc.random);
    std::array<std::uint8_t, 32> key{};
    cc.random(key);
    e->resets = std::make_unique<StatelessResetTokenGenerator>(ByteSpan(key.data(), key.size()));
    cc.cid_generator = e->cids.get();
    cc.reset_tokens = e->resets.get();
    tp.active_connection_id_limit = 4;
    if (role == EndpointRole::kClient) {
      cc.path.local = kClientAddress;
      cc.path.peer = kServerAddress;
    } else if (config_.preferred_address) {
      PreferredAddress pa;
      std::copy_n(kServerPreferred.address.begin(), 4, pa.ipv4_address.begin());
      pa.ipv4_port = kServerPreferred.port;
      tp.preferred_address = pa;  // the connection fills in its CID and token
    }
  }
  e->conn =
      ids == nullptr ? std::make_unique<Connection>(cc) : std::make_unique<Connection>(cc, *ids);
  e->app->attach(e->conn.get());
  return e;
}

void SimHarness::fail(std::string why, bool deadlock) {
  if (!failure_.empty()) return;
  std::ostringstream o;
  o << "seed " << config_.seed << " t=" << now_ << "ns step " << steps_ << ": " << why << "\n"
    << describe_state();
  failure_ = o.str();
  deadlock_ = deadlock;
}

std::string SimHarness::describe_state() const {
  std::ostringstream o;
  for (std::size_t i = 0; i < flows_.size(); ++i) {
    const Flow& f = *flows_[i];
    for (const Endpoint* e : {f.client.get(), f.server.get()}) {
      if (e == nullptr) continue;
      const Connection& c = *e->conn;
      const ConnectionStats& st = c.stats();
      o << "  flow " << i << (e->role == EndpointRole::kClient ? " client: " : " server: ")
        << connection_state_name(c.state()) << (c.handshake_complete() ? " hs-complete" : "")
        << (c.handshake_confirmed() ? " hs-confirmed" : "") << " sent=" << st.packets_sent
        << " recv=" << st.packets_received << " lost=" << st.packets_lost
        << " dropped=" << st.packets_dropped << " pto=" << st.pto_count
        << " cwnd=" << c.congestion().congestion_window()
        << " inflight=" << c.congestion().bytes_in_flight() << " srtt=" << c.rtt().smoothed_rtt()
        << " next_timeout="
        << (c.next_timeout() == kNever ? std::string("never") : std::to_string(c.next_timeout()))
        << " streams=" << c.stream_count();
      if (c.close_info()) {
        const CloseInfo& ci = *c.close_info();
        o << " close{" << (ci.local ? "local" : "peer") << (ci.application ? " app" : " transport")
          << " code=" << ci.error_code << " frame=" << ci.frame_type << " '" << ci.reason << "'}";
      }
      o << e->app->describe() << "\n";
    }
  }
  o << "  path: c2s in_flight=" << path_->a_to_b().in_flight()
    << " s2c in_flight=" << path_->b_to_a().in_flight();
  return o.str();
}

void SimHarness::start_flows() {
  for (std::size_t i = 0; i < flows_.size(); ++i) {
    Flow& f = *flows_[i];
    if (f.started || f.config.start > now_) continue;
    f.started = true;
    f.client = make_endpoint(i, nullptr);
    if (!f.client->conn->start(now_))
      fail("client " + std::to_string(i) + " start() failed", false);
  }
}

void SimHarness::create_server(Flow& f, std::size_t flow, rte_mbuf* m) {
  // The endpoint's job (RFC 9000 §14.1, §17.2.2): only a client Initial in a
  // datagram of at least 1200 bytes creates a connection.
  const ByteSpan datagram(rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m));
  InvariantHeader inv;
  if (datagram.size() < 1200 ||
      parse_invariant_header(datagram, 0, &inv) != PacketDropReason::kNone || !inv.long_header ||
      !is_supported_version(inv.version) ||
      long_packet_type(inv.version, (datagram[0] >> 4) & 0x03) != PacketType::kInitial) {
    return;
  }
  Connection::ServerIds ids;
  if (!ConnectionId::from(inv.dcid, &ids.original_dcid) ||
      !ConnectionId::from(inv.scid, &ids.peer_cid)) {
    return;
  }
  ids.local_cid.length = kServerCidLength;
  for (std::size_t i = 0; i < kServerCidLength; ++i)
    ids.local_cid.bytes[i] = static_cast<std::uint8_t>(cid_rng_.next_u64());
  server_version_ = inv.version;  // the endpoint's job too
  f.server = make_endpoint(flow, &ids);
  // The connection sets itself up in start() on both sides.
  if (!f.server->conn->start(now_))
    fail("server " + std::to_string(flow) + " start() failed", false);
}

void SimHarness::route(rte_mbuf* m, bool to_server) {
  const std::size_t flow = m->port;
  if (flow < flows_.size()) {
    Flow& f = *flows_[flow];
    const bool fresh = to_server && f.server == nullptr;
    if (fresh) create_server(f, flow, m);
    Endpoint* e = to_server ? f.server.get() : f.client.get();
    NetworkPath path;
    if (addressing() && !untag_path(m, to_server, &path)) {
      ++nat_dropped_;
      e = nullptr;
    }
    if (e != nullptr && !e->conn->is_closed()) {
      if (config_.timing != nullptr) {
        SimIoTiming::Side& t =
            e->role == EndpointRole::kClient ? config_.timing->client : config_.timing->server;
        const std::uint64_t t0 = rte_rdtsc();
        receive_datagram(*e->conn, e->protector.get(), m, Ecn::kNotEct, now_, path);
        t.receive_tsc += rte_rdtsc() - t0;
        ++t.receive_datagrams;
      } else {
        receive_datagram(*e->conn, e->protector.get(), m, Ecn::kNotEct, now_, path);
      }
      // An endpoint keeps no state for an Initial it could not process
      // (RFC 9000 §5.2.2): e.g. a corrupted one, whose CIDs are wrong.
      if (fresh && e->conn->stats().packets_received == 0) {
        e->conn.reset();
        discarded_keys_live_ += e->keys_live();
        f.server.reset();
      }
    }
  }
  rte_pktmbuf_free(m);  // the connection took references on what it keeps
}

void SimHarness::deliver(SimLink& link, bool to_server) {
  for (;;) {
    const std::size_t n = link.deliver(now_, scratch_);
    for (std::size_t i = 0; i < n; ++i)
      route(scratch_[i], to_server);
    if (n < scratch_.size()) break;
  }
}

void SimHarness::send(Endpoint& e, std::size_t flow, SimLink& link) {
  const std::span<rte_mbuf*> out(scratch_.data(), config_.send_burst);
  std::array<NetworkPath, 64> paths;
  const std::span<NetworkPath> path_out =
      addressing() ? std::span<NetworkPath>(paths.data(), out.size()) : std::span<NetworkPath>{};
  std::size_t total = 0;
  while (!e.conn->is_closed() && total < kMaxDatagramsPerStep) {
    const std::uint64_t t0 = config_.timing != nullptr ? rte_rdtsc() : 0;
    const std::size_t n =
        send_datagrams(*e.conn, e.protector.get(), pool_, now_, out, {}, path_out);
    if (config_.timing != nullptr) {
      SimIoTiming::Side& t =
          e.role == EndpointRole::kClient ? config_.timing->client : config_.timing->server;
      t.send_tsc += rte_rdtsc() - t0;
      t.send_datagrams += n;
    }
    for (std::size_t i = 0; i < n; ++i) {
      out[i]->port = static_cast<std::uint16_t>(flow);  // the simulator's routing tag
      if (addressing()) tag_path(out[i], paths[i], e.role == EndpointRole::kClient);
      link.send(out[i], now_);
    }
    total += n;
    if (n < out.size()) break;
  }
}

bool SimHarness::all_closed() const {
  for (const auto& f : flows_) {
    if (!f->started || !f->client->conn->is_closed()) return false;
    if (f->server != nullptr && !f->server->conn->is_closed()) return false;
  }
  return true;
}

Time SimHarness::next_event() const {
  Time t = path_->next_delivery();
  // Events past due wait for the handshake (path_events), not the clock.
  if (!rebound_ && config_.nat_rebind_at > now_) t = std::min(t, config_.nat_rebind_at);
  if (!migrated_ && config_.client_migrate_at > now_) t = std::min(t, config_.client_migrate_at);
  for (const auto& f : flows_) {
    if (!f->started) t = std::min(t, f->config.start);
    for (const Endpoint* e : {f->client.get(), f->server.get()})
      if (e != nullptr && !e->conn->is_closed()) t = std::min(t, e->conn->next_timeout());
  }
  return t;
}

bool SimHarness::step() {
  if (++steps_ > config_.step_limit) {
    fail("step limit reached", true);
    return false;
  }
  start_flows();
  if (addressing()) path_events();
  deliver(path_->a_to_b(), /*to_server=*/true);
  deliver(path_->b_to_a(), /*to_server=*/false);
  for (auto& f : flows_) {
    for (Endpoint* e : {f->client.get(), f->server.get()}) {
      if (e != nullptr && !e->conn->is_closed() && e->conn->next_timeout() <= now_)
        e->conn->on_timeout(now_);
    }
  }
  for (auto& f : flows_) {
    for (Endpoint* e : {f->client.get(), f->server.get()}) {
      if (e == nullptr) continue;
      e->app->pump();
      if (!e->app->failure().empty()) fail(e->app->failure(), false);
    }
    if (f->client != nullptr && !f->close_called && f->client->app->done() &&
        f->server != nullptr && f->server->app->done()) {
      // Every response is in: the client ends the connection (RFC 9000 §10.2).
      f->close_called = true;
      f->done_time = now_;
      f->client->conn->close(0, "done", now_);
    }
  }
  for (std::size_t i = 0; i < flows_.size(); ++i) {
    Flow& f = *flows_[i];
    if (f.client != nullptr) send(*f.client, i, path_->a_to_b());
    if (f.server != nullptr) send(*f.server, i, path_->b_to_a());
    const bool closed = f.client != nullptr && f.client->conn->is_closed() &&
                        (f.server == nullptr || f.server->conn->is_closed());
    if (closed && f.closed_time == kNever) f.closed_time = now_;
  }
  if (hook_) hook_(*this);
  if (!failure_.empty()) return false;
  if (all_closed()) return false;

  const Time t = next_event();
  if (t == kNever) {
    fail("deadlock: no timer and nothing in flight", true);
    return false;
  }
  if (t > config_.time_limit) {
    fail("virtual time limit reached (next event at " + std::to_string(t) + ")", true);
    return false;
  }
  if (t <= now_) {
    if (++same_time_steps_ > config_.same_time_step_limit) {
      fail("livelock: the clock does not advance (next event at " + std::to_string(t) + ")", true);
      return false;
    }
    return true;
  }
  same_time_steps_ = 0;
  now_ = t;
  return true;
}

SimResult SimHarness::run() {
  const auto baseline = static_cast<std::int64_t>(rte_mempool_in_use_count(pool_));
  path_ = std::make_unique<SimPath>(config_.client_to_server, config_.server_to_client,
                                    config_.seed, pool_);
  while (step()) {
  }
  SimResult r = collect();
  // Everything holding mbufs is gone now.
  r.mbufs_leaked = static_cast<std::int64_t>(rte_mempool_in_use_count(pool_)) - baseline;
  if (r.mbufs_leaked != 0 && r.failure.empty())
    r.failure = "seed " + std::to_string(config_.seed) + ": " + std::to_string(r.mbufs_leaked) +
                " mbufs leaked";
  if (r.keys_leaked != 0 && r.failure.empty())
    r.failure = "seed " + std::to_string(config_.seed) + ": " + std::to_string(r.keys_leaked) +
                " keys not released";
  r.completed = r.completed && r.failure.empty();
  return r;
}

SimResult SimHarness::collect() {
  SimResult r;
  r.failure = failure_;
  r.deadlock = deadlock_;
  r.elapsed = now_;
  r.steps = steps_;
  r.client_to_server = path_->a_to_b().stats();
  r.nat_dropped = nat_dropped_;
  r.server_to_client = path_->b_to_a().stats();
  bool all_ok = failure_.empty();
  for (const auto& f : flows_) {
    SimFlowResult fr;
    fr.done_time = f->done_time;
    fr.closed_time = f->closed_time;
    for (const Endpoint* e : {f->client.get(), f->server.get()}) {
      if (e == nullptr) continue;
      SimEndpointResult& er = e->role == EndpointRole::kClient ? fr.client : fr.server;
      const Connection& c = *e->conn;
      er.exists = true;
      er.state = c.state();
      er.handshake_complete = c.handshake_complete();
      er.close = c.close_info();
      er.stats = c.stats();
      er.congestion_window = c.congestion().congestion_window();
      er.smoothed_rtt = c.rtt().smoothed_rtt();
      er.key_updates = c.key_updates();
      er.version = c.version();
      er.path = c.path();
      er.app_bytes_read = e->app->bytes_read();
      er.app_bytes_written = e->app->bytes_written();
      fr.bytes_delivered += er.app_bytes_read;
    }
    fr.data_complete = f->close_called;
    const auto clean = [](const SimEndpointResult& er, bool local) {
      return er.exists && er.state == ConnectionState::kClosed && er.close &&
             er.close->local == local && er.close->application && er.close->error_code == 0;
    };
    // RFC 9000 §10.2.1: the client's CONNECTION_CLOSE and its repeats can all
    // be lost; the server then ends by idle timeout (§10.1), a clean end too.
    fr.server_idle_closed = fr.server.exists && fr.server.state == ConnectionState::kClosed &&
                            fr.server.close && fr.server.close->local &&
                            !fr.server.close->application && fr.server.close->error_code == 0 &&
                            f->close_called;
    fr.closed_cleanly =
        clean(fr.client, true) && (clean(fr.server, false) || fr.server_idle_closed);
    all_ok = all_ok && fr.data_complete && fr.closed_cleanly;
    if (failure_.empty() && !(fr.data_complete && fr.closed_cleanly) && r.failure.empty()) {
      r.failure = "seed " + std::to_string(config_.seed) + ": flow did not " +
                  (fr.data_complete ? "close cleanly" : "complete") + "\n" + describe_state();
    }
    r.bytes_delivered += fr.bytes_delivered;
    r.flows.push_back(fr);
  }
  r.completed = all_ok;
  // Connections release their keys and mbufs; then the rest goes.
  for (auto& f : flows_) {
    for (Endpoint* e : {f->client.get(), f->server.get()})
      if (e != nullptr) e->conn.reset();
  }
  for (auto& f : flows_) {
    for (Endpoint* e : {f->client.get(), f->server.get()})
      if (e != nullptr) r.keys_leaked += e->keys_live();
    r.keys_leaked += discarded_keys_live_;
    discarded_keys_live_ = 0;
    f->client.reset();
    f->server.reset();
  }
  path_.reset();
  return r;
}

}  // namespace dquic
