// Parses arbitrary bytes as TLS 1.3 handshake messages. The first byte picks
// the message type for the rest (a bare body); the rest is also split by the
// HandshakeReader and each framed message parsed by its own type. Whatever
// parses must encode, and the encoding must parse to an equal value and encode
// to the same bytes again (the encoder's output is canonical). Encoding into a
// buffer one byte short must fail and write nothing.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "quic/tls_codec.h"

using namespace dquic;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::array<std::uint8_t, 200000> g_first;
std::array<std::uint8_t, 200000> g_second;

bool encode(const ClientHello& m, Writer& w) {
  return encode_client_hello(m, w);
}
bool encode(const ServerHello& m, Writer& w) {
  return encode_server_hello(m, w);
}
bool encode(const EncryptedExtensions& m, Writer& w) {
  return encode_encrypted_extensions(m, w);
}
bool encode(const Certificate& m, Writer& w) {
  return encode_certificate(m, w);
}
bool encode(const CertificateRequest& m, Writer& w) {
  return encode_certificate_request(m, w);
}
bool encode(const CertificateVerify& m, Writer& w) {
  return encode_certificate_verify(m, w);
}
bool encode(const Finished& m, Writer& w) {
  return encode_finished(m, w);
}
bool encode(const NewSessionTicket& m, Writer& w) {
  return encode_new_session_ticket(m, w);
}

// Parses `body` with `parse`; on success checks the round trip.
template <typename M, typename P>
void round_trip(ByteSpan body, HandshakeType type, P&& parse) {
  M m;
  if (parse(body, &m)) return;
  Writer w(g_first);
  check(encode(m, w));
  const std::size_t len = w.written();
  check(len >= kHandshakeHeaderLength);
  check(g_first[0] == static_cast<std::uint8_t>(type));
  const ByteSpan again(g_first.data() + kHandshakeHeaderLength, len - kHandshakeHeaderLength);
  check((std::size_t{g_first[1]} << 16 | std::size_t{g_first[2]} << 8 | g_first[3]) ==
        again.size());

  M back;
  check(!parse(again, &back));
  check(back == m);
  Writer w2(g_second);
  check(encode(back, w2));
  check(w2.written() == len);
  for (std::size_t i = 0; i < len; ++i)
    check(g_first[i] == g_second[i]);

  Writer short_w(std::span<std::uint8_t>(g_second).first(len - 1));
  check(!encode(m, short_w));
  check(short_w.written() == 0 && short_w.ok());

  if constexpr (std::is_same_v<M, ClientHello>) {
    if (m.extensions.has(TlsExtension::kPreSharedKey)) {
      // The binders sit where both the parser and the encoder say, and can be
      // rewritten in place.
      std::size_t offset = 0;
      Writer w3(g_second);
      check(encode_client_hello(m, w3, &offset));
      check(offset == back.binders_offset);
      std::array<ByteSpan, 64> binders;
      std::size_t n = 0;
      for (ByteSpan b : back.psk_binders) {
        if (n == binders.size()) return;
        binders[n++] = b;
      }
      check(write_client_hello_binders(std::span<std::uint8_t>(g_first.data(), len), offset,
                                       std::span<const ByteSpan>(binders.data(), n)));
    }
  }
}

void parse_as(HandshakeType type, ByteSpan body, std::size_t finished_len) {
  switch (type) {
    case HandshakeType::kClientHello:
      round_trip<ClientHello>(body, type, parse_client_hello);
      break;
    case HandshakeType::kServerHello:
      round_trip<ServerHello>(body, type, parse_server_hello);
      break;
    case HandshakeType::kEncryptedExtensions:
      round_trip<EncryptedExtensions>(body, type, parse_encrypted_extensions);
      break;
    case HandshakeType::kCertificate:
      round_trip<Certificate>(body, type, parse_certificate);
      break;
    case HandshakeType::kCertificateRequest:
      round_trip<CertificateRequest>(body, type, parse_certificate_request);
      break;
    case HandshakeType::kCertificateVerify:
      round_trip<CertificateVerify>(body, type, parse_certificate_verify);
      break;
    case HandshakeType::kFinished:
      round_trip<Finished>(body, type, [finished_len](ByteSpan b, Finished* f) {
        return parse_finished(b, finished_len, f);
      });
      break;
    case HandshakeType::kNewSessionTicket:
      round_trip<NewSessionTicket>(body, type, parse_new_session_ticket);
      break;
    default:
      break;
  }
}

constexpr HandshakeType kTypes[] = {HandshakeType::kClientHello,
                                    HandshakeType::kServerHello,
                                    HandshakeType::kEncryptedExtensions,
                                    HandshakeType::kCertificate,
                                    HandshakeType::kCertificateRequest,
                                    HandshakeType::kCertificateVerify,
                                    HandshakeType::kFinished,
                                    HandshakeType::kNewSessionTicket};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteSpan rest(data + 1, size - 1);
  parse_as(kTypes[data[0] % 8], rest, rest.size());

  // The same bytes as a stream of framed messages.
  const HandshakeReader reader;
  ByteSpan in = rest;
  while (true) {
    const HandshakeRead r = reader.next(in);
    if (r.status != HandshakeReadStatus::kMessage) {
      check(r.status != HandshakeReadStatus::kNeedMore || r.needed > in.size());
      break;
    }
    check(r.message.bytes.data() == in.data());
    check(r.message.body.size() + kHandshakeHeaderLength == r.message.bytes.size());
    check(r.message.body.size() <= reader.limits().limit_for(r.message.type));
    parse_as(r.message.type, r.message.body, (data[0] & 0x10) ? 48 : 32);
    in = in.subspan(r.message.bytes.size());
  }
  return 0;
}
