// A client and a server Connection joined datagram by datagram through
// runtime/connection_io.h in no-crypto mode, with a virtual clock and no
// path delay: for tests of one connection feature or error at a time
// (the SimHarness is for whole transfers over an impaired path).
#pragma once

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "quic/connection.h"
#include "quic/frame.h"
#include "tests/support/test_certs.h"

namespace dquic::test {

// What each side allows its peer unless a test changes it: small, so that
// tests reach every limit with a few frames.
inline constexpr std::uint64_t kPairStreamWindow = 8192;
inline constexpr std::uint64_t kPairConnectionWindow = 16384;
inline constexpr std::uint64_t kPairMaxBidi = 4;
inline constexpr std::uint64_t kPairMaxUni = 2;

using Bytes = std::vector<std::uint8_t>;
using ConfigTweak = std::function<void(ConnectionConfig&)>;

// No-crypto mode: the connection only needs distinct non-null handles.
class NullKeyStore final : public KeyStore {
 public:
  ProtectionKey* install(const PacketKeys&, bool) override;
  void release(ProtectionKey*) override {}

 private:
  std::uintptr_t next_ = 0;
};

struct PairTls {
  PairTls();
  // Tickets from the server, kept in `sessions` by the client; 0-RTT
  // accepted when `early_data` (RFC 9001 §4.6).
  void enable_resumption(bool early_data);
  std::vector<TlsSession> sessions;
  TicketKeys ticket_keys;
  StrikeRegister anti_replay;
  std::unique_ptr<ServerCredentials> credentials;
  std::unique_ptr<CertificateVerifier> verifier;
  TlsServerConfig server;
  TlsClientConfig client;
};

struct PairSide {
  PairSide(const PairTls& tls, rte_mempool* pool, const Connection::ServerIds* ids,
           const ConfigTweak& tweak, ConnectionHandler* handler);
  NullKeyStore keys;
  std::uint8_t next_random = 1;
  std::unique_ptr<Connection> conn;
};

class ConnectedPair {
 public:
  // The client is created and started at once; the server on handshake().
  // `tls` (optional) is shared between pairs, e.g. for resumption.
  ConnectedPair(rte_mempool* pool, ConfigTweak client_tweak = {}, ConfigTweak server_tweak = {},
                ConnectionHandler* client_handler = nullptr,
                ConnectionHandler* server_handler = nullptr, PairTls* tls = nullptr);
  ~ConnectedPair();

  // Exchanges datagrams until both sides have confirmed the handshake.
  ::testing::AssertionResult handshake();
  // The first step of it: starts the client, takes its first datagram and
  // creates and starts the server from it; the datagram is left in *first,
  // not delivered.
  ::testing::AssertionResult start(std::vector<rte_mbuf*>* first);
  // The rest of it: delivers `first` to the server (created by start() or
  // create_server()) and exchanges datagrams until both confirmed.
  ::testing::AssertionResult complete(std::vector<rte_mbuf*> first);
  // A server with the given IDs (replacing one start() made).
  ::testing::AssertionResult create_server(const Connection::ServerIds& ids);

  // Every datagram `s` wants to send now.
  std::vector<rte_mbuf*> send_all(PairSide& s);
  // Hands the datagrams to `to` and frees them.
  void deliver(PairSide& to, std::vector<rte_mbuf*>& ms);
  // Runs both sides until `until`: timers fire when due, datagrams cross
  // at once unless that direction is cut. Bounded by `max_steps`.
  void run_until(Time until, bool to_server = true, bool to_client = true,
                 std::uint64_t max_steps = 100000);
  // Hands `to` one 1-RTT packet with the next packet number, its payload
  // in an mbuf as a received datagram would be.
  void inject(PairSide& to, const Bytes& payload, bool reserved_bits_set = false);

  // Paths (RFC 9000 §9): once enabled, send_all() remembers the path each
  // datagram was sent on, and deliver() hands it over as the receiver sees
  // it (the ends swapped), or as `nat` rewrites the client's address. Only
  // for datagrams that went through send_all() (the map is by pointer).
  void track_paths() { track_paths_ = true; }
  std::function<bool(NetworkPath& as_server_sees, bool to_server)> nat;  // false: lost
  // Hands `m` to `to` as arriving on `path` (already as `to` sees it), frees it.
  void deliver_on(PairSide& to, rte_mbuf* m, const NetworkPath& path);
  // The path send_all() recorded for `m` (as sent).
  const NetworkPath* sent_path(rte_mbuf* m) const;

  PairSide& client() { return *client_; }
  PairSide& server() { return *server_; }
  Time now = 0;

 private:
  rte_mempool* pool_;
  ConfigTweak server_tweak_;
  ConnectionHandler* server_handler_;
  std::unique_ptr<PairTls> own_tls_;
  PairTls* tls_;
  std::unique_ptr<PairSide> client_, server_;
  bool track_paths_ = false;
  std::unordered_map<rte_mbuf*, NetworkPath> sent_paths_;
};

// Frames encoded back to back into one payload.
Bytes encode_frames(std::initializer_list<Frame> frames);

}  // namespace dquic::test
