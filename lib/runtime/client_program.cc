#include "runtime/client_program.h"

#include <arpa/inet.h>
#include <rte_eal.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "runtime/program_util.h"

namespace dquic {

PeerAddress peer_address_of(const IpAddress& ip, std::uint16_t port) {
  if (ip.family == IpFamily::kIpv4)
    return PeerAddress::ipv4({ip.bytes[0], ip.bytes[1], ip.bytes[2], ip.bytes[3]}, port);
  return PeerAddress::ipv6(ip.bytes, port);
}

std::string peer_address_text(const PeerAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.family == PeerAddress::Family::kIpv4) {
    inet_ntop(AF_INET, a.address.data(), buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(a.port);
  }
  inet_ntop(AF_INET6, a.address.data(), buf, sizeof(buf));
  return std::string("[") + buf + "]:" + std::to_string(a.port);
}

std::string describe_close(const Connection& c) {
  const std::optional<CloseInfo>& ci = c.close_info();
  if (!ci) return "closed without a reason";
  char code[32];
  std::snprintf(code, sizeof(code), "0x%" PRIx64, ci->error_code);
  std::string s = ci->local ? "closed by us" : "closed by the peer";
  s += ci->application ? " (application error " : " (transport error ";
  s += code;
  s += ")";
  if (!ci->reason.empty()) s += ": " + ci->reason;
  return s;
}

const InterfaceAddress* local_address_for(const RuntimeOptions& o, IpFamily family) {
  for (const InterfaceAddress& a : o.addresses)
    if (a.address.family == family) return &a;
  return nullptr;
}

std::unique_ptr<CertificateVerifier> make_client_verifier(const ClientTrustOptions& trust,
                                                          std::string* err) {
  TrustOptions t;
  if (trust.insecure) {
    t.insecure_skip_verify = true;
  } else {
    if (access(trust.ca.c_str(), R_OK) != 0) {
      *err = "--ca: cannot read " + trust.ca + ": " + std::strerror(errno);
      return nullptr;
    }
    t.ca_file = trust.ca;
  }
  std::unique_ptr<CertificateVerifier> v = CertificateVerifier::create(t, err);
  if (v == nullptr) *err = "--ca: " + *err;
  return v;
}

std::string client_server_name(const ClientTrustOptions& trust, const IpAddress& server) {
  return trust.server_name.empty() ? ip_text(server) : trust.server_name;
}

bool setup_client_tls(const ClientTrustOptions& trust, const IpAddress& server, ClientTls* out,
                      std::string* err) {
  out->verifier = make_client_verifier(trust, err);
  if (out->verifier == nullptr) return false;
  out->config.verifier = out->verifier.get();
  out->config.server_name = client_server_name(trust, server);
  return true;
}

}  // namespace dquic
