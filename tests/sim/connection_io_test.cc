// runtime/connection_io.h between two real connections, datagram by
// datagram: coalesced packets whose keys appear mid-datagram, the RFC 9000
// §12.2 coalescing rule, packets that cannot be opened, and the send path's
// limits (burst size, empty pool, ECN out).
#include "runtime/connection_io.h"

#include <gtest/gtest.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <array>
#include <cstring>
#include <memory>
#include <vector>

#include "offload/aead_evp.h"
#include "offload/hp_inline.h"
#include "offload/protector_key_store.h"
#include "quic/packet_header.h"
#include "tests/support/test_certs.h"

namespace dquic {
namespace {

// Room for two full-size Initials in one mbuf (the coalescing tests).
constexpr std::uint16_t kDataRoom = 4096;

rte_mempool* io_pool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create(
      "cio_test", 2047, 0, 0, kDataRoom + RTE_PKTMBUF_HEADROOM, static_cast<int>(rte_socket_id()));
  return pool;
}

class CountingKeyStore final : public KeyStore {
 public:
  ProtectionKey* install(const PacketKeys&, bool) override {
    ++live_;
    return reinterpret_cast<ProtectionKey*>(static_cast<std::uintptr_t>(++next_) << 4);
  }
  void release(ProtectionKey* k) override {
    if (k != nullptr) --live_;
  }
  int live_ = 0;

 private:
  std::uintptr_t next_ = 0;
};

struct Tls {
  std::unique_ptr<ServerCredentials> credentials =
      test::test_server_credentials(test::test_pki().p256);
  std::unique_ptr<CertificateVerifier> verifier = test::test_verifier();
  TlsServerConfig server;
  TlsClientConfig client;
  Tls() {
    server.credentials = credentials.get();
    server.alpn = {"sim"};
    client.server_name = test::kTestDnsName;
    client.alpn = {"sim"};
    client.verifier = verifier.get();
  }
};

// One endpoint: engines, protector (or none), key store, connection.
struct Side {
  std::unique_ptr<offload::AeadEngine> aead;
  std::unique_ptr<offload::HpEngine> hp;
  std::unique_ptr<offload::Protector> protector;
  std::unique_ptr<KeyStore> keys;
  std::uint8_t next_random = 1;
  std::unique_ptr<Connection> conn;

  Side(const Tls& tls, bool crypto, const Connection::ServerIds* ids) {
    if (crypto) {
      aead = offload::make_evp_aead_engine();
      hp = offload::make_inline_hp_engine();
      protector = std::make_unique<offload::Protector>(aead.get(), hp.get(), aead.get(), hp.get());
      keys = std::make_unique<offload::ProtectorKeyStore>(protector.get());
    } else {
      keys = std::make_unique<CountingKeyStore>();
    }
    ConnectionConfig c;
    c.role = ids == nullptr ? EndpointRole::kClient : EndpointRole::kServer;
    c.tls_client = &tls.client;
    c.tls_server = &tls.server;
    c.wall_clock_ms_at_zero = test::kTestNow * 1000;
    c.keys = keys.get();
    c.copy_pool = io_pool();
    c.random = [this](std::span<std::uint8_t> out) {
      for (auto& b : out)
        b = next_random++;
    };
    c.transport.max_idle_timeout = 30000;
    c.transport.initial_max_data = 1 << 20;
    c.transport.initial_max_stream_data_bidi_local = 1 << 18;
    c.transport.initial_max_stream_data_bidi_remote = 1 << 18;
    c.transport.initial_max_streams_bidi = 10;
    conn = ids == nullptr ? std::make_unique<Connection>(c) : std::make_unique<Connection>(c, *ids);
  }
  ~Side() { conn.reset(); }  // releases its keys before the protector goes

  offload::Protector* p() { return protector.get(); }
};

class ConnectionIoTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    pool_ = io_pool();
    ASSERT_NE(pool_, nullptr);
    baseline_ = rte_mempool_in_use_count(pool_);
    client_ = std::make_unique<Side>(tls_, GetParam(), nullptr);
    ASSERT_TRUE(client_->conn->start(0));
  }
  void TearDown() override {
    for (rte_mbuf* m : held_)
      rte_pktmbuf_free(m);
    server_.reset();
    server2_.reset();
    client_.reset();
    EXPECT_EQ(rte_mempool_in_use_count(pool_), baseline_) << "mbufs leaked";
  }

  std::vector<rte_mbuf*> send_all(Side& s, Time now) {
    std::array<rte_mbuf*, 16> out{};
    std::vector<rte_mbuf*> all;
    for (;;) {
      const std::size_t n = send_datagrams(*s.conn, s.p(), pool_, now, out);
      all.insert(all.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(n));
      if (n < out.size()) break;
    }
    return all;
  }

  // A server for the client's first Initial, as an endpoint would make it.
  std::unique_ptr<Side> server_for(rte_mbuf* initial) {
    InvariantHeader inv;
    const ByteSpan d(rte_pktmbuf_mtod(initial, const std::uint8_t*), rte_pktmbuf_data_len(initial));
    EXPECT_EQ(parse_invariant_header(d, 0, &inv), PacketDropReason::kNone);
    Connection::ServerIds ids;
    EXPECT_TRUE(ConnectionId::from(inv.dcid, &ids.original_dcid));
    EXPECT_TRUE(ConnectionId::from(inv.scid, &ids.peer_cid));
    ids.local_cid.length = 8;
    ids.local_cid.bytes.fill(0xab);
    auto s = std::make_unique<Side>(tls_, GetParam(), &ids);
    EXPECT_TRUE(s->conn->start(0));
    return s;
  }

  void deliver(Side& to, std::vector<rte_mbuf*>& ms, Time now) {
    for (rte_mbuf* m : ms) {
      receive_datagram(*to.conn, to.p(), m, Ecn::kNotEct, now);
      rte_pktmbuf_free(m);
    }
    ms.clear();
  }

  // Runs the handshake from the client's first flight; returns the time.
  Time handshake() {
    std::vector<rte_mbuf*> d = send_all(*client_, 0);
    if (d.empty()) return 0;
    server_ = server_for(d[0]);
    Time now = 0;
    for (int round = 0; round < 8 && !(client_->conn->handshake_confirmed() &&
                                       server_->conn->handshake_complete());
         ++round) {
      deliver(*server_, d, now);
      now += kMillisecond;
      std::vector<rte_mbuf*> back = send_all(*server_, now);
      deliver(*client_, back, now);
      now += kMillisecond;
      d = send_all(*client_, now);
    }
    deliver(*server_, d, now);
    return now;
  }

  // Appends `extra`'s bytes to `m` (coalescing by hand).
  static bool append(rte_mbuf* m, const rte_mbuf* extra) {
    const std::uint16_t n = rte_pktmbuf_data_len(extra);
    char* dst = rte_pktmbuf_append(m, n);
    if (dst == nullptr) return false;
    std::memcpy(dst, rte_pktmbuf_mtod(extra, const char*), n);
    return true;
  }

  Tls tls_;
  rte_mempool* pool_ = nullptr;
  unsigned baseline_ = 0;
  std::unique_ptr<Side> client_, server_, server2_;
  std::vector<rte_mbuf*> held_;
};

TEST_P(ConnectionIoTest, ClientInitialFillsAProtectedDatagram) {
  std::vector<rte_mbuf*> d = send_all(*client_, 0);
  ASSERT_EQ(d.size(), 1u);
  // RFC 9000 §14.1: a client Initial datagram is at least 1200 bytes.
  EXPECT_GE(rte_pktmbuf_data_len(d[0]), 1200u);
  EXPECT_EQ(rte_pktmbuf_pkt_len(d[0]), rte_pktmbuf_data_len(d[0]));
  const std::uint8_t first = *rte_pktmbuf_mtod(d[0], std::uint8_t*);
  EXPECT_EQ(first & 0xf0, 0xc0);  // long header, fixed bit, Initial
  server_ = server_for(d[0]);
  deliver(*server_, d, 0);
  EXPECT_EQ(server_->conn->stats().packets_received, 1u);
  EXPECT_EQ(server_->conn->stats().packets_dropped, 0u);
}

// The server's first flight coalesces Initial and Handshake packets: the
// client gets its Handshake keys only from the Initial, in the same
// datagram. Nothing may be dropped for want of keys, and the handshake
// completes over connection_io alone.
TEST_P(ConnectionIoTest, KeysAppearingMidDatagramOpenTheLaterPackets) {
  std::vector<rte_mbuf*> d = send_all(*client_, 0);
  ASSERT_EQ(d.size(), 1u);
  server_ = server_for(d[0]);
  Time now = 0;
  std::uint64_t server_packets = 0, coalesced_handshake = 0;
  for (int round = 0;
       round < 8 && !(client_->conn->handshake_confirmed() && server_->conn->handshake_complete());
       ++round) {
    deliver(*server_, d, now);
    now += kMillisecond;
    std::vector<rte_mbuf*> back = send_all(*server_, now);
    for (rte_mbuf* m : back) {
      CoalescedPackets it({rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m)},
                          client_->conn->local_cid().length);
      PacketHeader h;
      while (it.next(&h)) {
        ++server_packets;
        coalesced_handshake += h.type == PacketType::kHandshake && h.first_byte_offset > 0 ? 1 : 0;
      }
    }
    deliver(*client_, back, now);
    now += kMillisecond;
    d = send_all(*client_, now);
  }
  deliver(*server_, d, now);
  EXPECT_TRUE(client_->conn->handshake_complete());
  EXPECT_TRUE(server_->conn->handshake_complete());
  EXPECT_EQ(client_->conn->stats().packets_dropped, 0u);
  EXPECT_EQ(server_->conn->stats().packets_dropped, 0u);
  EXPECT_GT(coalesced_handshake, 0u);  // the case under test happened
  EXPECT_EQ(client_->conn->stats().packets_received, server_packets);
  EXPECT_EQ(client_->conn->alpn(), "sim");
}

// RFC 9000 §12.2: a later packet with another DCID than the first is not
// processed; with the same DCID it is.
TEST_P(ConnectionIoTest, CoalescedPacketWithAnotherDcidIsNotProcessed) {
  for (const bool change_dcid : {false, true}) {
    client_ = std::make_unique<Side>(tls_, GetParam(), nullptr);
    ASSERT_TRUE(client_->conn->start(0));
    std::vector<rte_mbuf*> first = send_all(*client_, 0);
    ASSERT_EQ(first.size(), 1u);
    // The PTO makes the client send a second Initial (RFC 9002 §6.2.4).
    const Time pto = client_->conn->next_timeout();
    ASSERT_NE(pto, kNever);
    client_->conn->on_timeout(pto);
    std::vector<rte_mbuf*> second = send_all(*client_, pto);
    ASSERT_GE(second.size(), 1u);
    if (change_dcid) {
      // DCID: after first byte, version and its length byte.
      std::uint8_t* p = rte_pktmbuf_mtod(second[0], std::uint8_t*);
      p[6] ^= 0xff;
    }
    ASSERT_TRUE(append(first[0], second[0]));
    server_ = server_for(first[0]);
    deliver(*server_, first, pto);
    for (rte_mbuf* m : second)
      rte_pktmbuf_free(m);
    EXPECT_EQ(server_->conn->stats().packets_received, change_dcid ? 1u : 2u)
        << "change_dcid " << change_dcid;
    if (change_dcid) {
      EXPECT_EQ(server_->conn->stats().packets_dropped, 1u);
    }
    server_.reset();
  }
}

TEST_P(ConnectionIoTest, TruncatedChainedAndEmptyDatagramsAreDropped) {
  std::vector<rte_mbuf*> d = send_all(*client_, 0);
  ASSERT_EQ(d.size(), 1u);
  server_ = server_for(d[0]);
  // Length field past the end of the datagram (RFC 9000 §12.2).
  rte_mbuf* cut = rte_pktmbuf_copy(d[0], pool_, 0, 600);
  ASSERT_NE(cut, nullptr);
  receive_datagram(*server_->conn, server_->p(), cut, Ecn::kNotEct, 0);
  rte_pktmbuf_free(cut);
  EXPECT_EQ(server_->conn->stats().packets_received, 0u);
  // A chained mbuf is not opened in place.
  rte_mbuf* head = rte_pktmbuf_copy(d[0], pool_, 0, UINT32_MAX);
  rte_mbuf* tail = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(head, nullptr);
  ASSERT_NE(tail, nullptr);
  ASSERT_NE(rte_pktmbuf_append(tail, 1), nullptr);
  ASSERT_EQ(rte_pktmbuf_chain(head, tail), 0);
  receive_datagram(*server_->conn, server_->p(), head, Ecn::kNotEct, 0);
  rte_pktmbuf_free(head);
  EXPECT_EQ(server_->conn->stats().packets_received, 0u);
  // Nothing at all.
  rte_mbuf* empty = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(empty, nullptr);
  receive_datagram(*server_->conn, server_->p(), empty, Ecn::kNotEct, 0);
  rte_pktmbuf_free(empty);
  EXPECT_EQ(server_->conn->stats().packets_received, 0u);
  EXPECT_EQ(server_->conn->stats().packets_dropped, 3u);
  // The intact datagram still works afterwards.
  deliver(*server_, d, 0);
  EXPECT_EQ(server_->conn->stats().packets_received, 1u);
}

// RFC 9001 §5.3: a packet failing authentication is dropped and counted; the
// connection is unaffected (only meaningful with crypto).
TEST_P(ConnectionIoTest, CorruptedPacketIsDroppedWithCrypto) {
  if (!GetParam()) {
    // No-crypto mode cannot detect corruption by design: the same datagram
    // is accepted. Check exactly that instead.
    std::vector<rte_mbuf*> d = send_all(*client_, 0);
    server_ = server_for(d[0]);
    rte_pktmbuf_mtod(d[0], std::uint8_t*)[100] ^= 0x01;  // in the payload
    deliver(*server_, d, 0);
    EXPECT_EQ(server_->conn->stats().packets_received, 1u);
    return;
  }
  std::vector<rte_mbuf*> d = send_all(*client_, 0);
  ASSERT_EQ(d.size(), 1u);
  server_ = server_for(d[0]);
  rte_mbuf* bad = rte_pktmbuf_copy(d[0], pool_, 0, UINT32_MAX);
  ASSERT_NE(bad, nullptr);
  rte_pktmbuf_mtod(bad, std::uint8_t*)[rte_pktmbuf_data_len(bad) - 20] ^= 0x40;
  receive_datagram(*server_->conn, server_->p(), bad, Ecn::kNotEct, 0);
  rte_pktmbuf_free(bad);
  EXPECT_EQ(server_->conn->stats().packets_received, 0u);
  EXPECT_EQ(server_->conn->stats().packets_dropped, 1u);
  EXPECT_EQ(server_->p()->counters().auth_failures, 1u);
  deliver(*server_, d, 0);
  EXPECT_EQ(server_->conn->stats().packets_received, 1u);
}

// A Handshake packet for a connection without Handshake keys is dropped,
// not opened with the wrong key.
TEST_P(ConnectionIoTest, PacketWithoutKeysIsDropped) {
  std::vector<rte_mbuf*> d = send_all(*client_, 0);
  ASSERT_EQ(d.size(), 1u);
  server_ = server_for(d[0]);
  server2_ = server_for(d[0]);  // a second server: never gets the Initial
  deliver(*server_, d, 0);
  std::vector<rte_mbuf*> back = send_all(*server_, kMillisecond);
  deliver(*client_, back, kMillisecond);
  std::vector<rte_mbuf*> fin = send_all(*client_, 2 * kMillisecond);  // client Handshake (Finished)
  ASSERT_FALSE(fin.empty());
  std::uint64_t handshake_packets = 0;
  for (rte_mbuf* m : fin) {
    const ByteSpan dg(rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m));
    CoalescedPackets it(dg, 8);
    PacketHeader h;
    while (it.next(&h))
      handshake_packets += h.type == PacketType::kHandshake ? 1 : 0;
    receive_datagram(*server2_->conn, server2_->p(), m, Ecn::kNotEct, 2 * kMillisecond);
  }
  ASSERT_GT(handshake_packets, 0u);
  // Every Handshake packet was dropped (an Initial ACK beside them may be
  // processed: server2 has Initial keys).
  EXPECT_GE(server2_->conn->stats().packets_dropped, handshake_packets);
  EXPECT_TRUE(server_->conn->stats().packets_dropped == 0u);
  for (rte_mbuf* m : fin)
    rte_pktmbuf_free(m);
}

TEST_P(ConnectionIoTest, SendStopsAtTheBurstSizeAndAnEmptyPool) {
  // Nothing asked for, nothing built.
  EXPECT_EQ(send_datagrams(*client_->conn, client_->p(), pool_, 0, {}), 0u);
  // An exhausted pool: nothing is built and the connection still has its
  // Initial to send afterwards.
  std::vector<rte_mbuf*> all;
  for (rte_mbuf* m; (m = rte_pktmbuf_alloc(pool_)) != nullptr;)
    all.push_back(m);
  std::array<rte_mbuf*, 4> out{};
  std::array<Ecn, 4> ecn{Ecn::kCe, Ecn::kCe, Ecn::kCe, Ecn::kCe};
  EXPECT_EQ(send_datagrams(*client_->conn, client_->p(), pool_, 0, out, ecn), 0u);
  for (rte_mbuf* m : all)
    rte_pktmbuf_free(m);
  const std::size_t n = send_datagrams(*client_->conn, client_->p(), pool_, 0, out, ecn);
  ASSERT_EQ(n, 1u);
  EXPECT_NE(ecn[0], Ecn::kCe);  // filled from the datagram
  EXPECT_EQ(ecn[1], Ecn::kCe);  // untouched past n
  EXPECT_GE(rte_pktmbuf_data_len(out[0]), 1200u);
  rte_pktmbuf_free(out[0]);
}

// Zero-copy send (ARCHITECTURE-GUIDE hot path step 6): with a sealer, runs
// of stream bytes are not copied into the packet; the cipher reads them
// from the application's mbufs (out of place) and the peer gets them
// byte-exact. Small writes (copied into the stream) interleave with them.
// Without a sealer (no-crypto mode) every byte is copied.
TEST_P(ConnectionIoTest, StreamBytesAreSealedFromTheApplicationsMbufs) {
  Time now = handshake();
  ASSERT_TRUE(client_->conn->handshake_confirmed());
  const std::optional<std::uint64_t> id = client_->conn->open_stream(true);
  ASSERT_TRUE(id);
  std::vector<std::uint8_t> expect, app_copy;
  std::vector<rte_mbuf*> app;
  for (int i = 0; i < 40; ++i) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    ASSERT_NE(m, nullptr);
    const std::uint16_t len = static_cast<std::uint16_t>(700 + 37 * i);
    auto* data = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, len));
    ASSERT_NE(data, nullptr);
    for (std::uint16_t k = 0; k < len; ++k)
      data[k] = static_cast<std::uint8_t>(i * 31 + k * 7);
    ASSERT_EQ(client_->conn->write_mbuf(*id, m, data, len, false), len);
    expect.insert(expect.end(), data, data + len);
    app.push_back(m);
    if (i % 5 == 0) {
      const std::vector<std::uint8_t> small(50, static_cast<std::uint8_t>(i));
      ASSERT_EQ(client_->conn->write(*id, small, false), 50);
      expect.insert(expect.end(), small.begin(), small.end());
    }
  }
  ASSERT_EQ(client_->conn->write(*id, {}, true), 0);
  for (rte_mbuf* m : app)
    app_copy.insert(app_copy.end(), rte_pktmbuf_mtod(m, std::uint8_t*),
                    rte_pktmbuf_mtod(m, std::uint8_t*) + rte_pktmbuf_data_len(m));

  std::vector<std::uint8_t> got;
  bool fin = false;
  for (int round = 0; round < 200 && !fin; ++round) {
    now += kMillisecond;
    std::vector<rte_mbuf*> d = send_all(*client_, now);
    deliver(*server_, d, now);
    std::array<std::uint8_t, 4096> buf;
    for (std::int64_t n; !fin && (n = server_->conn->read(*id, buf, &fin)) > 0;)
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    std::vector<rte_mbuf*> back = send_all(*server_, now);
    deliver(*client_, back, now);
  }
  EXPECT_TRUE(fin);
  EXPECT_EQ(got, expect);
  // The cipher only read the application's bytes.
  std::vector<std::uint8_t> after;
  for (rte_mbuf* m : app) {
    after.insert(after.end(), rte_pktmbuf_mtod(m, std::uint8_t*),
                 rte_pktmbuf_mtod(m, std::uint8_t*) + rte_pktmbuf_data_len(m));
    rte_pktmbuf_free(m);
  }
  EXPECT_EQ(after, app_copy);
  const ConnectionStats& st = client_->conn->stats();
  if (GetParam()) {
    // Every write_mbuf run is at least kMinGatherBytes: most bytes go by gather.
    EXPECT_GT(st.stream_bytes_gathered, expect.size() / 2);
    EXPECT_EQ(client_->protector->counters().gather_copies, 0u);  // EVP gathers out of place
  } else {
    EXPECT_EQ(st.stream_bytes_gathered, 0u);
  }
}

// A stream reset between laying out a datagram that gathers its bytes and
// sealing it must not release those bytes: they are released at
// end_gather().
TEST_P(ConnectionIoTest, ResetBeforeTheSealKeepsGatheredBytesUntilEndGather) {
  const Time now = handshake();
  ASSERT_TRUE(client_->conn->handshake_confirmed());
  const std::optional<std::uint64_t> id = client_->conn->open_stream(true);
  ASSERT_TRUE(id);
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(m, nullptr);
  auto* data = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, 1000));
  ASSERT_NE(data, nullptr);
  std::memset(data, 0x5a, 1000);
  ASSERT_EQ(client_->conn->write_mbuf(*id, m, data, 1000, false), 1000);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 2);
  std::array<std::uint8_t, 1500> buf{};
  OutgoingDatagram d;
  ASSERT_TRUE(client_->conn->write_datagram(buf, now + kMillisecond, &d, kMaxGatheredRuns));
  ASSERT_EQ(d.gathered_count, 1u);
  EXPECT_EQ(d.gathered[0].data, data);
  EXPECT_EQ(d.gathered[0].length, 1000u);
  EXPECT_LT(d.gathered[0].offset + 1000u, d.length);
  ASSERT_TRUE(client_->conn->reset_stream(*id, 7));
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 2);  // the sealer may still read it
  client_->conn->end_gather();
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
  // Without a gather in progress a reset releases at once.
  const std::optional<std::uint64_t> id2 = client_->conn->open_stream(true);
  ASSERT_TRUE(id2);
  ASSERT_EQ(client_->conn->write_mbuf(*id2, m, data, 1000, false), 1000);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 2);
  ASSERT_TRUE(client_->conn->reset_stream(*id2, 7));
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
  rte_pktmbuf_free(m);
}

struct ReleaseLog {
  int calls = 0;
  std::size_t bytes = 0;
};
void log_release(void* ctx, const std::uint8_t*, std::size_t length) {
  auto* log = static_cast<ReleaseLog*>(ctx);
  ++log->calls;
  log->bytes += length;
}
void log_extbuf_free(void* /*addr*/, void* ctx) {
  ++static_cast<ReleaseLog*>(ctx)->calls;
}

// The other zero-copy writes: an mbuf chain (one segment attached to an
// external buffer) and application memory with a release callback. The
// peer gets the bytes in order; each external buffer is released exactly
// once, after the peer acknowledged them. A write the stream has no room
// for takes nothing and says 0 (not an error).
TEST_P(ConnectionIoTest, ChainAndExternalWritesAreSentByReferenceAndReleasedOnce) {
  Time now = handshake();
  ASSERT_TRUE(client_->conn->handshake_confirmed());
  const std::optional<std::uint64_t> id = client_->conn->open_stream(true);
  ASSERT_TRUE(id);
  std::vector<std::uint8_t> expect;

  // A chain: two pool mbufs and, between them, one attached to an external buffer.
  static std::array<std::uint8_t, 3000> ext_bytes;
  for (std::size_t i = 0; i < ext_bytes.size(); ++i)
    ext_bytes[i] = static_cast<std::uint8_t>(i * 13);
  ReleaseLog ext_log;
  rte_mbuf_ext_shared_info shinfo{};
  shinfo.free_cb = log_extbuf_free;
  shinfo.fcb_opaque = &ext_log;
  rte_mbuf_ext_refcnt_set(&shinfo, 1);
  rte_mbuf* seg[3] = {rte_pktmbuf_alloc(pool_), rte_pktmbuf_alloc(pool_), rte_pktmbuf_alloc(pool_)};
  ASSERT_TRUE(seg[0] && seg[1] && seg[2]);
  for (int k : {0, 2}) {
    auto* d = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(seg[k], 900));
    ASSERT_NE(d, nullptr);
    std::memset(d, 0x30 + k, 900);
  }
  rte_pktmbuf_attach_extbuf(seg[1], ext_bytes.data(), RTE_BAD_IOVA, ext_bytes.size(), &shinfo);
  seg[1]->data_len = static_cast<std::uint16_t>(ext_bytes.size());
  seg[1]->pkt_len = seg[1]->data_len;
  ASSERT_EQ(rte_pktmbuf_chain(seg[0], seg[1]), 0);
  ASSERT_EQ(rte_pktmbuf_chain(seg[0], seg[2]), 0);
  expect.insert(expect.end(), 900, 0x30);
  expect.insert(expect.end(), ext_bytes.begin(), ext_bytes.end());
  expect.insert(expect.end(), 900, 0x32);
  ASSERT_EQ(client_->conn->write_chain(*id, seg[0], false), 900 + 3000 + 900);
  rte_pktmbuf_free(seg[0]);  // ours; the stream holds its own references

  // Application memory.
  static std::array<std::uint8_t, 5000> app_bytes;
  for (std::size_t i = 0; i < app_bytes.size(); ++i)
    app_bytes[i] = static_cast<std::uint8_t>(i * 5 + 1);
  ReleaseLog app_log;
  ASSERT_EQ(client_->conn->write_external(*id, app_bytes.data(), app_bytes.size(), log_release,
                                          &app_log, true),
            5000);
  expect.insert(expect.end(), app_bytes.begin(), app_bytes.end());
  EXPECT_EQ(app_log.calls, 0);
  EXPECT_EQ(ext_log.calls, 0);

  std::vector<std::uint8_t> got;
  bool fin = false;
  for (int round = 0; round < 100 && !(fin && app_log.calls > 0 && ext_log.calls > 0); ++round) {
    now += kMillisecond;
    std::vector<rte_mbuf*> d = send_all(*client_, now);
    deliver(*server_, d, now);
    std::array<std::uint8_t, 4096> buf;
    for (std::int64_t n; !fin && (n = server_->conn->read(*id, buf, &fin)) > 0;)
      got.insert(got.end(), buf.begin(), buf.begin() + n);
    std::vector<rte_mbuf*> back = send_all(*server_, now);
    deliver(*client_, back, now);
  }
  EXPECT_TRUE(fin);
  EXPECT_EQ(got, expect);
  EXPECT_EQ(app_log.calls, 1);
  EXPECT_EQ(app_log.bytes, app_bytes.size());
  EXPECT_EQ(ext_log.calls, 1);  // the external buffer's last reference went
  // Writes after FIN are refused.
  EXPECT_EQ(client_->conn->write_external(*id, app_bytes.data(), 10, log_release, &app_log, false),
            -1);
  EXPECT_EQ(app_log.calls, 1);  // refused bytes stay the caller's

  // No room: 0, nothing taken; the caller keeps the bytes.
  const std::optional<std::uint64_t> id2 = client_->conn->open_stream(true);
  ASSERT_TRUE(id2);
  static std::array<std::uint8_t, 1 << 16> big;
  ReleaseLog big_log;
  std::size_t accepted = 0;
  std::int64_t r = 0;
  for (int i = 0; i < 64 && (r = client_->conn->write_external(*id2, big.data(), big.size(),
                                                               log_release, &big_log, false)) > 0;
       ++i)
    accepted += static_cast<std::size_t>(r);
  EXPECT_EQ(r, 0);
  EXPECT_EQ(accepted, std::size_t{1} << 20);  // up to max_stream_send_buffer (1 MiB)
  EXPECT_EQ(big_log.calls, 0);
  ASSERT_TRUE(client_->conn->reset_stream(*id2, 1));
  EXPECT_EQ(big_log.calls, 16);  // released once each by the reset
}

// Only with packet protection: a damaged header must fail authentication.
class DamagedInitialTest : public ConnectionIoTest {
 protected:
  // Delivers `back` (the server's last datagrams) and plays both sides
  // from `now` until the client confirms the handshake, 8 rounds at most.
  void finish_handshake(std::vector<rte_mbuf*> back, Time now) {
    for (int round = 0; round < 8 && !(client_->conn->handshake_confirmed() &&
                                       server_->conn->handshake_complete());
         ++round) {
      deliver(*client_, back, now);
      now += kMillisecond;
      std::vector<rte_mbuf*> d = send_all(*client_, now);
      deliver(*server_, d, now);
      now += kMillisecond;
      back = send_all(*server_, now);
    }
    deliver(*client_, back, now);
  }
};

// RFC 9000 §7.2, §7.3: a client Initial whose SCID was damaged in transit
// made the connection (the endpoint creates it from the header before
// anything is authenticated) and then failed authentication; the intact
// copy that follows must set the CID we send to, or every reply goes to
// the damaged one and the handshake fails its CID check (found by the
// interop suite's handshakecorruption case against ngtcp2).
TEST_P(DamagedInitialTest, ServerTakesPeerCidFromTheFirstAuthenticatedInitial) {
  std::vector<rte_mbuf*> d = send_all(*client_, 0);
  ASSERT_EQ(d.size(), 1u);
  const ByteSpan good(rte_pktmbuf_mtod(d[0], const std::uint8_t*), rte_pktmbuf_data_len(d[0]));
  InvariantHeader inv;
  ASSERT_EQ(parse_invariant_header(good, 0, &inv), PacketDropReason::kNone);
  ASSERT_FALSE(inv.scid.empty());
  const std::vector<std::uint8_t> client_scid(inv.scid.begin(), inv.scid.end());
  const std::size_t scid_at = static_cast<std::size_t>(inv.scid.data() - good.data());

  rte_mbuf* bad = rte_pktmbuf_alloc(pool_);
  ASSERT_NE(bad, nullptr);
  ASSERT_TRUE(append(bad, d[0]));
  rte_pktmbuf_mtod(bad, std::uint8_t*)[scid_at] ^= 0x5a;
  server_ = server_for(bad);
  std::vector<rte_mbuf*> first{bad};
  deliver(*server_, first, 0);
  EXPECT_TRUE(send_all(*server_, kMillisecond).empty()) << "answered an unauthenticated Initial";

  deliver(*server_, d, 2 * kMillisecond);
  std::vector<rte_mbuf*> back = send_all(*server_, 3 * kMillisecond);
  ASSERT_FALSE(back.empty());
  const ByteSpan reply(rte_pktmbuf_mtod(back[0], const std::uint8_t*),
                       rte_pktmbuf_data_len(back[0]));
  InvariantHeader r;
  ASSERT_EQ(parse_invariant_header(reply, 0, &r), PacketDropReason::kNone);
  EXPECT_EQ(std::vector<std::uint8_t>(r.dcid.begin(), r.dcid.end()), client_scid);

  finish_handshake(std::move(back), 4 * kMillisecond);
  EXPECT_TRUE(server_->conn->handshake_complete());
  EXPECT_TRUE(client_->conn->handshake_confirmed());
  EXPECT_FALSE(server_->conn->close_info().has_value());
}

// RFC 9000 §12.2, §17.2: one damaged byte anywhere past the DCID of the
// client's first Initial (the endpoint routes by the DCID, so a damaged DCID
// makes another connection) must not keep the server from answering the
// intact copy that follows, to the client's real SCID (the interop suite's
// handshakecorruption case: 30% of datagrams with one byte changed).
TEST_P(DamagedInitialTest, AnyDamagedByteLeavesTheIntactInitialAnswered) {
  std::vector<rte_mbuf*> d = send_all(*client_, 0);
  ASSERT_EQ(d.size(), 1u);
  const ByteSpan good(rte_pktmbuf_mtod(d[0], const std::uint8_t*), rte_pktmbuf_data_len(d[0]));
  InvariantHeader inv;
  ASSERT_EQ(parse_invariant_header(good, 0, &inv), PacketDropReason::kNone);
  const std::vector<std::uint8_t> client_scid(inv.scid.begin(), inv.scid.end());
  const std::size_t dcid_end =
      static_cast<std::size_t>(inv.dcid.data() - good.data()) + inv.dcid.size();
  std::vector<std::size_t> offsets{0};  // the first byte: form, type, protected bits
  for (std::size_t i = dcid_end; i < std::min(good.size(), dcid_end + 48); ++i)
    offsets.push_back(i);
  offsets.push_back(good.size() / 2);
  offsets.push_back(good.size() - 1);
  int answered = 0;
  for (const std::size_t off : offsets) {
    for (const std::uint8_t flip : {std::uint8_t{0x01}, std::uint8_t{0x80}}) {
      SCOPED_TRACE("byte " + std::to_string(off) + " ^ " + std::to_string(flip));
      rte_mbuf* bad = rte_pktmbuf_alloc(pool_);
      ASSERT_NE(bad, nullptr);
      ASSERT_TRUE(append(bad, d[0]));
      rte_pktmbuf_mtod(bad, std::uint8_t*)[off] ^= flip;
      // What the endpoint would make of the damaged header: nothing if it
      // does not parse, else a connection for it.
      InvariantHeader b;
      const ByteSpan bs(rte_pktmbuf_mtod(bad, const std::uint8_t*), rte_pktmbuf_data_len(bad));
      Connection::ServerIds ids;
      if (parse_invariant_header(bs, 0, &b) != PacketDropReason::kNone || !b.long_header ||
          !ConnectionId::from(b.dcid, &ids.original_dcid) ||
          !ConnectionId::from(b.scid, &ids.peer_cid)) {
        rte_pktmbuf_free(bad);
        continue;
      }
      ids.local_cid.length = 8;
      ids.local_cid.bytes.fill(0xab);
      server_ = std::make_unique<Side>(tls_, GetParam(), &ids);
      ASSERT_TRUE(server_->conn->start(0));
      std::vector<rte_mbuf*> first{bad};
      deliver(*server_, first, 0);
      std::vector<rte_mbuf*> early = send_all(*server_, kMillisecond);
      EXPECT_TRUE(early.empty()) << "answered a damaged Initial";
      for (rte_mbuf* m : early)
        rte_pktmbuf_free(m);

      rte_mbuf* copy = rte_pktmbuf_alloc(pool_);
      ASSERT_NE(copy, nullptr);
      ASSERT_TRUE(append(copy, d[0]));
      std::vector<rte_mbuf*> intact{copy};
      deliver(*server_, intact, 2 * kMillisecond);
      std::vector<rte_mbuf*> back = send_all(*server_, 3 * kMillisecond);
      EXPECT_FALSE(server_->conn->close_info().has_value());
      EXPECT_FALSE(back.empty()) << "the intact Initial went unanswered";
      if (!back.empty()) {
        InvariantHeader r;
        const ByteSpan reply(rte_pktmbuf_mtod(back[0], const std::uint8_t*),
                             rte_pktmbuf_data_len(back[0]));
        ASSERT_EQ(parse_invariant_header(reply, 0, &r), PacketDropReason::kNone);
        EXPECT_EQ(std::vector<std::uint8_t>(r.dcid.begin(), r.dcid.end()), client_scid);
        ++answered;
      }
      for (rte_mbuf* m : back)
        rte_pktmbuf_free(m);
      server_.reset();
    }
  }
  EXPECT_GT(answered, 60);
  for (rte_mbuf* m : d)
    rte_pktmbuf_free(m);
}

// RFC 9002 §6.2.3: the client's Initial arriving again (its PTO probe)
// means the server's flight was lost: the server resends its unacknowledged
// CRYPTO data at once, not at its own PTO (about a second away here, and
// possibly held by the amplification limit).
TEST_P(DamagedInitialTest, RepeatedClientInitialBringsTheServerFlightBack) {
  std::vector<rte_mbuf*> d = send_all(*client_, 0);
  ASSERT_EQ(d.size(), 1u);
  server_ = server_for(d[0]);
  deliver(*server_, d, 0);
  auto total = [](const std::vector<rte_mbuf*>& v) {
    std::size_t n = 0;
    for (const rte_mbuf* m : v)
      n += rte_pktmbuf_pkt_len(m);
    return n;
  };
  std::vector<rte_mbuf*> flight = send_all(*server_, kMillisecond);
  ASSERT_FALSE(flight.empty());
  const std::size_t flight_bytes = total(flight);
  for (rte_mbuf* m : flight)  // lost on the way
    rte_pktmbuf_free(m);

  // The client's PTO probe repeats its Initial CRYPTO data (RFC 9002
  // §6.2.4); it reaches the server before the server's own PTO.
  const Time pto = client_->conn->next_timeout();
  ASSERT_NE(pto, kNever);
  client_->conn->on_timeout(pto);
  d = send_all(*client_, pto);
  ASSERT_FALSE(d.empty());
  ASSERT_GT(server_->conn->next_timeout(), pto) << "the server's PTO would resend anyway";
  deliver(*server_, d, pto);
  std::vector<rte_mbuf*> resent = send_all(*server_, pto);
  // An ACK alone would be a few dozen bytes; the flight again is as large.
  EXPECT_GE(total(resent), flight_bytes) << resent.size() << " datagrams";
  // And the handshake completes from the resent flight.
  finish_handshake(std::move(resent), pto + kMillisecond);
  EXPECT_TRUE(client_->conn->handshake_confirmed());
  EXPECT_TRUE(server_->conn->handshake_complete());
}

INSTANTIATE_TEST_SUITE_P(Crypto, DamagedInitialTest, ::testing::Values(true),
                         [](const ::testing::TestParamInfo<bool>&) {
                           return std::string("inline");
                         });

INSTANTIATE_TEST_SUITE_P(Crypto, ConnectionIoTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return std::string(i.param ? "inline" : "none");
                         });

}  // namespace
}  // namespace dquic
