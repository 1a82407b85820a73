#include "tests/sim/connected_pair.h"

#include <array>
#include <cstring>

#include "quic/packet_header.h"
#include "runtime/connection_io.h"

namespace dquic::test {

ProtectionKey* NullKeyStore::install(const PacketKeys&, bool) {
  return reinterpret_cast<ProtectionKey*>(static_cast<std::uintptr_t>(++next_) << 4);
}

PairTls::PairTls()
    : credentials(test_server_credentials(test_pki().p256)), verifier(test_verifier()) {
  server.credentials = credentials.get();
  server.alpn = {"sim"};
  client.server_name = kTestDnsName;
  client.alpn = {"sim"};
  client.verifier = verifier.get();
}

void PairTls::enable_resumption(bool early_data) {
  EXPECT_TRUE(ticket_keys.rotate());
  server.ticket_keys = &ticket_keys;
  server.enable_early_data = early_data;
  server.anti_replay = &anti_replay;
  client.session_store = [this](const TlsSession& s) { sessions.push_back(s); };
}

PairSide::PairSide(const PairTls& tls, rte_mempool* pool, const Connection::ServerIds* ids,
                   const ConfigTweak& tweak, ConnectionHandler* handler) {
  ConnectionConfig c;
  c.role = ids == nullptr ? EndpointRole::kClient : EndpointRole::kServer;
  c.tls_client = &tls.client;
  c.tls_server = &tls.server;
  c.wall_clock_ms_at_zero = kTestNow * 1000;
  c.keys = &keys;
  c.copy_pool = pool;
  c.handler = handler;
  c.random = [this](std::span<std::uint8_t> out) {
    for (auto& b : out)
      b = next_random++;
  };
  c.transport.max_idle_timeout = 30000;
  c.transport.initial_max_data = kPairConnectionWindow;
  c.transport.initial_max_stream_data_bidi_local = kPairStreamWindow;
  c.transport.initial_max_stream_data_bidi_remote = kPairStreamWindow;
  c.transport.initial_max_stream_data_uni = kPairStreamWindow;
  c.transport.initial_max_streams_bidi = kPairMaxBidi;
  c.transport.initial_max_streams_uni = kPairMaxUni;
  // RFC 9000's 25 ms rather than ConnectionConfig's 1 ms default: these
  // fixtures' timings were written for it, and inject() numbers a packet as
  // if the peer had sent it, so an ACK of it that reaches the peer before
  // the peer sent that number is a PROTOCOL_VIOLATION (RFC 9000 §13.1); the
  // longer PTO keeps such ACKs from being provoked within a test's window.
  // sim/loss and the SimHarness tests run the default.
  c.transport.max_ack_delay = kDefaultMaxAckDelayMs;
  // The receive windows stay at the values above: no auto-tuning.
  c.max_stream_window = kPairStreamWindow;
  c.max_connection_window = kPairConnectionWindow;
  if (tweak) tweak(c);
  conn = ids == nullptr ? std::make_unique<Connection>(c) : std::make_unique<Connection>(c, *ids);
}

ConnectedPair::ConnectedPair(rte_mempool* pool, ConfigTweak client_tweak, ConfigTweak server_tweak,
                             ConnectionHandler* client_handler, ConnectionHandler* server_handler,
                             PairTls* tls)
    : pool_(pool),
      server_tweak_(std::move(server_tweak)),
      server_handler_(server_handler),
      own_tls_(tls == nullptr ? std::make_unique<PairTls>() : nullptr),
      tls_(tls != nullptr ? tls : own_tls_.get()) {
  client_ = std::make_unique<PairSide>(*tls_, pool_, nullptr, client_tweak, client_handler);
}

ConnectedPair::~ConnectedPair() {
  server_.reset();
  client_.reset();
}

::testing::AssertionResult ConnectedPair::start(std::vector<rte_mbuf*>* first) {
  if (!client_->conn->start(now)) return ::testing::AssertionFailure() << "client start";
  std::vector<rte_mbuf*>& d = *first;
  d = send_all(*client_);
  if (d.size() != 1) return ::testing::AssertionFailure() << d.size() << " first datagrams";
  InvariantHeader inv;
  const ByteSpan dg(rte_pktmbuf_mtod(d[0], const std::uint8_t*), rte_pktmbuf_data_len(d[0]));
  if (parse_invariant_header(dg, 0, &inv) != PacketDropReason::kNone)
    return ::testing::AssertionFailure() << "first datagram does not parse";
  Connection::ServerIds ids;
  (void)ConnectionId::from(inv.dcid, &ids.original_dcid);
  (void)ConnectionId::from(inv.scid, &ids.peer_cid);
  ids.local_cid.length = 8;
  ids.local_cid.bytes.fill(0xab);
  return create_server(ids);
}

::testing::AssertionResult ConnectedPair::create_server(const Connection::ServerIds& ids) {
  server_.reset();
  server_ = std::make_unique<PairSide>(*tls_, pool_, &ids, server_tweak_, server_handler_);
  if (!server_->conn->start(now)) return ::testing::AssertionFailure() << "server start";
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult ConnectedPair::handshake() {
  std::vector<rte_mbuf*> d;
  if (::testing::AssertionResult r = start(&d); !r) {
    for (rte_mbuf* m : d)
      rte_pktmbuf_free(m);
    return r;
  }
  return complete(std::move(d));
}

::testing::AssertionResult ConnectedPair::complete(std::vector<rte_mbuf*> d) {
  for (int round = 0; round < 10 && !(client_->conn->handshake_confirmed() &&
                                      server_->conn->handshake_confirmed() && d.empty());
       ++round) {
    deliver(*server_, d);
    now += kMillisecond;
    std::vector<rte_mbuf*> back = send_all(*server_);
    deliver(*client_, back);
    now += kMillisecond;
    d = send_all(*client_);
  }
  deliver(*server_, d);
  now += kMillisecond;
  if (!client_->conn->handshake_confirmed() || !server_->conn->handshake_confirmed())
    return ::testing::AssertionFailure() << "handshake not confirmed";
  if (client_->conn->state() != ConnectionState::kConnected ||
      server_->conn->state() != ConnectionState::kConnected)
    return ::testing::AssertionFailure() << "not connected";
  return ::testing::AssertionSuccess();
}

std::vector<rte_mbuf*> ConnectedPair::send_all(PairSide& s) {
  std::array<rte_mbuf*, 16> out{};
  std::vector<rte_mbuf*> all;
  std::array<NetworkPath, 16> paths{};
  for (;;) {
    const std::size_t n =
        send_datagrams(*s.conn, nullptr, pool_, now, out, {},
                       track_paths_ ? std::span<NetworkPath>(paths) : std::span<NetworkPath>{});
    all.insert(all.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
    for (std::size_t i = 0; track_paths_ && i < n; ++i)
      sent_paths_[out[i]] = paths[i];
    if (n < out.size()) break;
  }
  return all;
}

void ConnectedPair::deliver(PairSide& to, std::vector<rte_mbuf*>& ms) {
  for (rte_mbuf* m : ms) {
    NetworkPath path;
    auto it = sent_paths_.find(m);
    if (it != sent_paths_.end()) {
      path.local = it->second.peer;
      path.peer = it->second.local;
      sent_paths_.erase(it);
      if (nat) {
        NetworkPath server_view = &to == server_.get() ? path : NetworkPath{path.peer, path.local};
        if (!nat(server_view, &to == server_.get())) {
          rte_pktmbuf_free(m);
          continue;
        }
        path =
            &to == server_.get() ? server_view : NetworkPath{server_view.peer, server_view.local};
      }
    }
    receive_datagram(*to.conn, nullptr, m, Ecn::kNotEct, now, path);
    rte_pktmbuf_free(m);
  }
  ms.clear();
}

void ConnectedPair::deliver_on(PairSide& to, rte_mbuf* m, const NetworkPath& path) {
  sent_paths_.erase(m);
  receive_datagram(*to.conn, nullptr, m, Ecn::kNotEct, now, path);
  rte_pktmbuf_free(m);
}

const NetworkPath* ConnectedPair::sent_path(rte_mbuf* m) const {
  auto it = sent_paths_.find(m);
  return it == sent_paths_.end() ? nullptr : &it->second;
}

void ConnectedPair::run_until(Time until, bool to_server, bool to_client, std::uint64_t max_steps) {
  auto drop = [this](std::vector<rte_mbuf*>& ms) {
    for (rte_mbuf* m : ms) {
      sent_paths_.erase(m);
      rte_pktmbuf_free(m);
    }
    ms.clear();
  };
  for (std::uint64_t step = 0; step < max_steps; ++step) {
    for (PairSide* s : {client_.get(), server_.get()})
      if (s != nullptr && s->conn->next_timeout() <= now) s->conn->on_timeout(now);
    std::vector<rte_mbuf*> c = send_all(*client_);
    std::vector<rte_mbuf*> s = server_ ? send_all(*server_) : std::vector<rte_mbuf*>{};
    const bool moved = !c.empty() || !s.empty();
    if (to_server && server_) deliver(*server_, c);
    drop(c);
    if (to_client) deliver(*client_, s);
    drop(s);
    if (moved) continue;
    Time next = client_->conn->next_timeout();
    if (server_) next = std::min(next, server_->conn->next_timeout());
    if (next > until) break;
    now = std::max(now, next);
  }
  now = std::max(now, until);
}

void ConnectedPair::inject(PairSide& to, const Bytes& payload, bool reserved_bits_set) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(m, nullptr);
  char* at = rte_pktmbuf_append(m, static_cast<std::uint16_t>(payload.size()));
  ASSERT_NE(at, nullptr);
  if (!payload.empty()) std::memcpy(at, payload.data(), payload.size());
  const std::uint64_t largest = to.conn->open_keys(PacketType::kOneRtt).largest_received;
  ReceivedPacket p;
  p.type = PacketType::kOneRtt;
  p.dcid = to.conn->local_cid().span();
  p.packet_number = largest == kNoPacketNumber ? 0 : largest + 1;
  p.payload = ByteSpan(reinterpret_cast<const std::uint8_t*>(at), payload.size());
  p.m = m;
  p.reserved_bits_set = reserved_bits_set;
  to.conn->on_datagram_received(payload.size() + 1 + p.dcid.size() + 4 + 16, now);
  to.conn->on_packet(p, now);
  rte_pktmbuf_free(m);
}

Bytes encode_frames(std::initializer_list<Frame> frames) {
  Bytes out(1400);
  Writer w(out);
  for (const Frame& f : frames)
    EXPECT_TRUE(encode_frame(f, w));
  out.resize(w.written());
  return out;
}

}  // namespace dquic::test
