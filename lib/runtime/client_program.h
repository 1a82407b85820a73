// Start-up pieces of a program that runs the client role on the runtime's
// Dataplane (quic-perf's client mode, h3-get): the server's address as a
// PeerAddress, which of our --addr addresses to send from, the TLS trust
// (--ca FILE or an explicitly insecure mode) and the name the certificate
// must match, and a closed connection's reason as one line. Start-up and reporting only; nothing
// here is on the packet path.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "quic/connection.h"
#include "quic/peer_address.h"
#include "quic/tls_client.h"
#include "quic/tls_credentials.h"
#include "runtime/runtime_options.h"
#include "runtime/udp_frame.h"

namespace dquic {

PeerAddress peer_address_of(const IpAddress& ip, std::uint16_t port);
// "198.18.0.1:443" or "[2001:db8::1]:443".
std::string peer_address_text(const PeerAddress& a);
// "closed by the peer (application error 0x10c): reason".
std::string describe_close(const Connection& c);

// The first of our addresses of `family`; nullptr if there is none.
const InterfaceAddress* local_address_for(const RuntimeOptions& o, IpFamily family);

struct ClientTrustOptions {
  std::string ca;           // PEM trust anchors; required unless insecure
  bool insecure = false;    // skip chain and name checks (programs label it)
  std::string server_name;  // to verify (and send as SNI); empty: the server's literal
};

// The verifier the TlsClientConfig points to; it must outlive the
// connections.
struct ClientTls {
  std::unique_ptr<CertificateVerifier> verifier;
  TlsClientConfig config;  // server_name and verifier set; ALPN is the caller's
};

// The verifier for `trust`: nullptr with one line in *err naming --ca (an
// unreadable or invalid file).
std::unique_ptr<CertificateVerifier> make_client_verifier(const ClientTrustOptions& trust,
                                                          std::string* err);
// The name the certificate must match: trust.server_name, else the
// server's address literal.
std::string client_server_name(const ClientTrustOptions& trust, const IpAddress& server);

// Both of the above into *out for a connection to `server`. False with
// one line in *err naming --ca (an unreadable or invalid file).
bool setup_client_tls(const ClientTrustOptions& trust, const IpAddress& server, ClientTls* out,
                      std::string* err);

}  // namespace dquic
