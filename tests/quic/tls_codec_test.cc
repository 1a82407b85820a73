// TLS 1.3 handshake message codec: RFC 8448 messages parsed, checked field by
// field and re-encoded; round trips with every extension; each rejection rule;
// truncation at every byte.
#include "quic/tls_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "support/hex.h"

namespace dquic {
namespace {

using test::Bytes;
using test::hex;

// RFC 8448 §3 ClientHello (196 octets).
constexpr char kS3ClientHello[] =
    "01 00 00 c0 03 03 cb 34 ec b1 e7 81 63 ba 1c 38 c6 da cb 19 6a 6d ff a2 1a 8d 99 12 ec 18"
    "a2 ef 62 83 02 4d ec e7 00 00 06 13 01 13 03 13 02 01 00 00 91 00 00 00 0b 00 09 00 00 06"
    "73 65 72 76 65 72 ff 01 00 01 00 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01"
    "02 01 03 01 04 00 23 00 00 00 33 00 26 00 24 00 1d 00 20 99 38 1d e5 60 e4 bd 43 d2 3d 8e"
    "43 5a 7d ba fe b3 c0 6e 51 c1 3c ae 4d 54 13 69 1e 52 9a af 2c 00 2b 00 03 02 03 04 00 0d"
    "00 20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02"
    "06 02 02 02 00 2d 00 02 01 01 00 1c 00 02 40 01";
// RFC 8448 §3 ServerHello (90 octets).
constexpr char kS3ServerHello[] =
    "02 00 00 56 03 03 a6 af 06 a4 12 18 60 dc 5e 6e 60 24 9c d3 4c 95 93 0c 8a c5 cb 14 34 da"
    "c1 55 77 2e d3 e2 69 28 00 13 01 00 00 2e 00 33 00 24 00 1d 00 20 c9 82 88 76 11 20 95 fe"
    "66 76 2b db f7 c6 72 e1 56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f 00 2b 00 02 03 04";
// RFC 8448 §3 EncryptedExtensions (40 octets).
constexpr char kS3EncryptedExtensions[] =
    "08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04"
    "00 1c 00 02 40 01 00 00 00 00";
// RFC 8448 §3 Certificate (445 octets).
constexpr char kS3Certificate[] =
    "0b 00 01 b9 00 00 01 b5 00 01 b0 30 82 01 ac 30 82 01 15 a0 03 02 01 02 02 01 02 30 0d 06"
    "09 2a 86 48 86 f7 0d 01 01 0b 05 00 30 0e 31 0c 30 0a 06 03 55 04 03 13 03 72 73 61 30 1e"
    "17 0d 31 36 30 37 33 30 30 31 32 33 35 39 5a 17 0d 32 36 30 37 33 30 30 31 32 33 35 39 5a"
    "30 0e 31 0c 30 0a 06 03 55 04 03 13 03 72 73 61 30 81 9f 30 0d 06 09 2a 86 48 86 f7 0d 01"
    "01 01 05 00 03 81 8d 00 30 81 89 02 81 81 00 b4 bb 49 8f 82 79 30 3d 98 08 36 39 9b 36 c6"
    "98 8c 0c 68 de 55 e1 bd b8 26 d3 90 1a 24 61 ea fd 2d e4 9a 91 d0 15 ab bc 9a 95 13 7a ce"
    "6c 1a f1 9e aa 6a f9 8c 7c ed 43 12 09 98 e1 87 a8 0e e0 cc b0 52 4b 1b 01 8c 3e 0b 63 26"
    "4d 44 9a 6d 38 e2 2a 5f da 43 08 46 74 80 30 53 0e f0 46 1c 8c a9 d9 ef bf ae 8e a6 d1 d0"
    "3e 2b d1 93 ef f0 ab 9a 80 02 c4 74 28 a6 d3 5a 8d 88 d7 9f 7f 1e 3f 02 03 01 00 01 a3 1a"
    "30 18 30 09 06 03 55 1d 13 04 02 30 00 30 0b 06 03 55 1d 0f 04 04 03 02 05 a0 30 0d 06 09"
    "2a 86 48 86 f7 0d 01 01 0b 05 00 03 81 81 00 85 aa d2 a0 e5 b9 27 6b 90 8c 65 f7 3a 72 67"
    "17 06 18 a5 4c 5f 8a 7b 33 7d 2d f7 a5 94 36 54 17 f2 ea e8 f8 a5 8c 8f 81 72 f9 31 9c f3"
    "6b 7f d6 c5 5b 80 f2 1a 03 01 51 56 72 60 96 fd 33 5e 5e 67 f2 db f1 02 70 2e 60 8c ca e6"
    "be c1 fc 63 a4 2a 99 be 5c 3e b7 10 7c 3c 54 e9 b9 eb 2b d5 20 3b 1c 3b 84 e0 a8 b2 f7 59"
    "40 9b a3 ea c9 d9 1d 40 2d cc 0c c8 f8 96 12 29 ac 91 87 b4 2b 4d e1 00 00";
// RFC 8448 §3 CertificateVerify (136 octets).
constexpr char kS3CertificateVerify[] =
    "0f 00 00 84 08 04 00 80 5a 74 7c 5d 88 fa 9b d2 e5 5a b0 85 a6 10 15 b7 21 1f 82 4c d4 84"
    "14 5a b3 ff 52 f1 fd a8 47 7b 0b 7a bc 90 db 78 e2 d3 3a 5c 14 1a 07 86 53 fa 6b ef 78 0c"
    "5e a2 48 ee aa a7 85 c4 f3 94 ca b6 d3 0b be 8d 48 59 ee 51 1f 60 29 57 b1 54 11 ac 02 76"
    "71 45 9e 46 44 5c 9e a5 8c 18 1e 81 8e 95 b8 c3 fb 0b f3 27 84 09 d3 be 15 2a 3d a5 04 3e"
    "06 3d da 65 cd f5 ae a2 0d 53 df ac d4 2f 74 f3";
// RFC 8448 §3 server Finished (36 octets).
constexpr char kS3ServerFinished[] =
    "14 00 00 20 9b 9b 14 1d 90 63 37 fb d2 cb dc e7 1d f4 de da 4a b4 2c 30 95 72 cb 7f ff ee"
    "54 54 b7 8f 07 18";
// RFC 8448 §3 client Finished (36 octets).
constexpr char kS3ClientFinished[] =
    "14 00 00 20 a8 ec 43 6d 67 76 34 ae 52 5a c1 fc eb e1 1a 03 9e c1 76 94 fa c6 e9 85 27 b6"
    "42 f2 ed d5 ce 61";
// RFC 8448 §3 NewSessionTicket (205 octets).
constexpr char kS3NewSessionTicket[] =
    "04 00 00 c9 00 00 00 1e fa d6 aa c5 02 00 00 00 b2 2c 03 5d 82 93 59 ee 5f f7 af 4e c9 00"
    "00 00 00 26 2a 64 94 dc 48 6d 2c 8a 34 cb 33 fa 90 bf 1b 00 70 ad 3c 49 88 83 c9 36 7c 09"
    "a2 be 78 5a bc 55 cd 22 60 97 a3 a9 82 11 72 83 f8 2a 03 a1 43 ef d3 ff 5d d3 6d 64 e8 61"
    "be 7f d6 1d 28 27 db 27 9c ce 14 50 77 d4 54 a3 66 4d 4e 6d a4 d2 9e e0 37 25 a6 a4 da fc"
    "d0 fc 67 d2 ae a7 05 29 51 3e 3d a2 67 7f a5 90 6c 5b 3f 7d 8f 92 f2 28 bd a4 0d da 72 14"
    "70 f9 fb f2 97 b5 ae a6 17 64 6f ac 5c 03 27 2e 97 07 27 c6 21 a7 91 41 ef 5f 7d e6 50 5e"
    "5b fb c3 88 e9 33 43 69 40 93 93 4a e4 d3 57 00 08 00 2a 00 04 00 00 04 00";
// RFC 8448 §4 ClientHello with pre_shared_key (512 octets).
constexpr char kS4ClientHello[] =
    "01 00 01 fc 03 03 1b c3 ce b6 bb e3 9c ff 93 83 55 b5 a5 0a db 6d b2 1b 7a 6a f6 49 d7 b4"
    "bc 41 9d 78 76 48 7d 95 00 00 06 13 01 13 03 13 02 01 00 01 cd 00 00 00 0b 00 09 00 00 06"
    "73 65 72 76 65 72 ff 01 00 01 00 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01"
    "02 01 03 01 04 00 33 00 26 00 24 00 1d 00 20 e4 ff b6 8a c0 5f 8d 96 c9 9d a2 66 98 34 6c"
    "6b e1 64 82 ba dd da fe 05 1a 66 b4 f1 8d 66 8f 0b 00 2a 00 00 00 2b 00 03 02 03 04 00 0d"
    "00 20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02"
    "06 02 02 02 00 2d 00 02 01 01 00 1c 00 02 40 01 00 15 00 57 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 29 00 dd 00 b8 00 b2 2c 03 5d 82 93"
    "59 ee 5f f7 af 4e c9 00 00 00 00 26 2a 64 94 dc 48 6d 2c 8a 34 cb 33 fa 90 bf 1b 00 70 ad"
    "3c 49 88 83 c9 36 7c 09 a2 be 78 5a bc 55 cd 22 60 97 a3 a9 82 11 72 83 f8 2a 03 a1 43 ef"
    "d3 ff 5d d3 6d 64 e8 61 be 7f d6 1d 28 27 db 27 9c ce 14 50 77 d4 54 a3 66 4d 4e 6d a4 d2"
    "9e e0 37 25 a6 a4 da fc d0 fc 67 d2 ae a7 05 29 51 3e 3d a2 67 7f a5 90 6c 5b 3f 7d 8f 92"
    "f2 28 bd a4 0d da 72 14 70 f9 fb f2 97 b5 ae a6 17 64 6f ac 5c 03 27 2e 97 07 27 c6 21 a7"
    "91 41 ef 5f 7d e6 50 5e 5b fb c3 88 e9 33 43 69 40 93 93 4a e4 d3 57 fa d6 aa cb 00 21 20"
    "3a dd 4f b2 d8 fd f8 22 a0 ca 3c f7 67 8e f5 e8 8d ae 99 01 41 c5 92 4d 57 bb 6f a3 1b 9e"
    "5f 9d";
// RFC 8448 §4 the ClientHello prefix the binder covers (477 octets).
constexpr char kS4ClientHelloPrefix[] =
    "01 00 01 fc 03 03 1b c3 ce b6 bb e3 9c ff 93 83 55 b5 a5 0a db 6d b2 1b 7a 6a f6 49 d7 b4"
    "bc 41 9d 78 76 48 7d 95 00 00 06 13 01 13 03 13 02 01 00 01 cd 00 00 00 0b 00 09 00 00 06"
    "73 65 72 76 65 72 ff 01 00 01 00 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01"
    "02 01 03 01 04 00 33 00 26 00 24 00 1d 00 20 e4 ff b6 8a c0 5f 8d 96 c9 9d a2 66 98 34 6c"
    "6b e1 64 82 ba dd da fe 05 1a 66 b4 f1 8d 66 8f 0b 00 2a 00 00 00 2b 00 03 02 03 04 00 0d"
    "00 20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02"
    "06 02 02 02 00 2d 00 02 01 01 00 1c 00 02 40 01 00 15 00 57 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 29 00 dd 00 b8 00 b2 2c 03 5d 82 93"
    "59 ee 5f f7 af 4e c9 00 00 00 00 26 2a 64 94 dc 48 6d 2c 8a 34 cb 33 fa 90 bf 1b 00 70 ad"
    "3c 49 88 83 c9 36 7c 09 a2 be 78 5a bc 55 cd 22 60 97 a3 a9 82 11 72 83 f8 2a 03 a1 43 ef"
    "d3 ff 5d d3 6d 64 e8 61 be 7f d6 1d 28 27 db 27 9c ce 14 50 77 d4 54 a3 66 4d 4e 6d a4 d2"
    "9e e0 37 25 a6 a4 da fc d0 fc 67 d2 ae a7 05 29 51 3e 3d a2 67 7f a5 90 6c 5b 3f 7d 8f 92"
    "f2 28 bd a4 0d da 72 14 70 f9 fb f2 97 b5 ae a6 17 64 6f ac 5c 03 27 2e 97 07 27 c6 21 a7"
    "91 41 ef 5f 7d e6 50 5e 5b fb c3 88 e9 33 43 69 40 93 93 4a e4 d3 57 fa d6 aa cb";
// RFC 8448 §4 ServerHello with pre_shared_key (96 octets).
constexpr char kS4ServerHello[] =
    "02 00 00 5c 03 03 3c cf d2 de c8 90 22 27 63 47 2a e8 13 67 77 c9 d7 35 87 77 bb 66 e9 1e"
    "a5 12 24 95 f5 59 ea 2d 00 13 01 00 00 34 00 29 00 02 00 00 00 33 00 24 00 1d 00 20 12 17"
    "61 ee 42 c3 33 e1 b9 e7 7b 60 dd 57 c2 05 3c d9 45 12 ab 47 f1 15 e8 6e ff 50 94 2c ea 31"
    "00 2b 00 02 03 04";
// RFC 8448 §4 EncryptedExtensions with early_data (44 octets).
constexpr char kS4EncryptedExtensions[] =
    "08 00 00 28 00 26 00 0a 00 14 00 12 00 1d 00 17 00 18 00 19 01 00 01 01 01 02 01 03 01 04"
    "00 1c 00 02 40 01 00 00 00 00 00 2a 00 00";
// RFC 8448 §5 HelloRetryRequest (176 octets).
constexpr char kS5HelloRetryRequest[] =
    "02 00 00 ac 03 03 cf 21 ad 74 e5 9a 61 11 be 1d 8c 02 1e 65 b8 91 c2 a2 11 16 7a bb 8c 5e"
    "07 9e 09 e2 c8 a8 33 9c 00 13 01 00 00 84 00 33 00 02 00 17 00 2c 00 74 00 72 71 dc d0 4b"
    "b8 8b c3 18 91 19 39 8a 00 00 00 00 ee fa fc 76 c1 46 b8 23 b0 96 f8 aa ca d3 65 dd 00 30"
    "95 3f 4e df 62 56 36 e5 f2 1b b2 e2 3f cc 65 4b 1b 5b 40 31 8d 10 d1 37 ab cb b8 75 74 e3"
    "6e 8a 1f 02 5f 7d fa 5d 6e 50 78 1b 5e da 4a a1 5b 0c 8b e7 78 25 7d 16 aa 30 30 e9 e7 84"
    "1d d9 e4 c0 34 22 67 e8 ca 0c af 57 1f b2 b7 cf f0 f9 34 b0 00 2b 00 02 03 04";
// RFC 8448 §5 second ClientHello, with cookie (512 octets).
constexpr char kS5ClientHello2[] =
    "01 00 01 fc 03 03 b0 b1 c5 a5 aa 37 c5 91 9f 2e d1 d5 c6 ff f7 fc b7 84 97 16 94 5a 2b 8c"
    "ee 92 58 a3 46 67 7b 6f 00 00 06 13 01 13 03 13 02 01 00 01 cd 00 00 00 0b 00 09 00 00 06"
    "73 65 72 76 65 72 ff 01 00 01 00 00 0a 00 08 00 06 00 1d 00 17 00 18 00 33 00 47 00 45 00"
    "17 00 41 04 a6 da 73 92 ec 59 1e 17 ab fd 53 59 64 b9 98 94 d1 3b ef b2 21 b3 de f2 eb e3"
    "83 0e ac 8f 01 51 81 26 77 c4 d6 d2 23 7e 85 cf 01 d6 91 0c fb 83 95 4e 76 ba 73 52 83 05"
    "34 15 98 97 e8 06 57 80 00 2b 00 03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03 02 03 08"
    "04 08 05 08 06 04 01 05 01 06 01 02 01 04 02 05 02 06 02 02 02 00 2c 00 74 00 72 71 dc d0"
    "4b b8 8b c3 18 91 19 39 8a 00 00 00 00 ee fa fc 76 c1 46 b8 23 b0 96 f8 aa ca d3 65 dd 00"
    "30 95 3f 4e df 62 56 36 e5 f2 1b b2 e2 3f cc 65 4b 1b 5b 40 31 8d 10 d1 37 ab cb b8 75 74"
    "e3 6e 8a 1f 02 5f 7d fa 5d 6e 50 78 1b 5e da 4a a1 5b 0c 8b e7 78 25 7d 16 aa 30 30 e9 e7"
    "84 1d d9 e4 c0 34 22 67 e8 ca 0c af 57 1f b2 b7 cf f0 f9 34 b0 00 2d 00 02 01 01 00 1c 00"
    "02 40 01 00 15 00 af 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    "00 00";
// RFC 8448 §6 CertificateRequest (43 octets).
constexpr char kS6CertificateRequest[] =
    "0d 00 00 27 00 00 24 00 0d 00 20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06 04 01 05"
    "01 06 01 02 01 04 02 05 02 06 02 02 02";

// ---------------------------------------------------------------------------
// Helpers

std::vector<std::uint16_t> values(const U16List& l) {
  return {l.begin(), l.end()};
}

std::string str(ByteSpan b) {
  return std::string(b.begin(), b.end());
}

ByteSpan span(const char* s) {
  return {reinterpret_cast<const std::uint8_t*>(s), std::char_traits<char>::length(s)};
}

// Splits one complete message and checks the framing took all of it.
HandshakeMessage frame(const Bytes& b) {
  const HandshakeRead r = HandshakeReader().next(b);
  EXPECT_EQ(r.status, HandshakeReadStatus::kMessage);
  EXPECT_EQ(r.message.bytes.size(), b.size());
  return r.message;
}

// Runs an encoder into a fresh buffer; empty on failure.
template <typename M, typename F>
Bytes encode(const M& m, F&& fn) {
  Bytes buf(70000);
  Writer w(buf);
  if (!fn(m, w)) {
    EXPECT_EQ(w.written(), 0u);
    return {};
  }
  buf.resize(w.written());
  return buf;
}

Bytes enc(const ClientHello& m) {
  return encode(m, [](auto& x, Writer& w) { return encode_client_hello(x, w); });
}
Bytes enc(const ServerHello& m) {
  return encode(m, encode_server_hello);
}
Bytes enc(const EncryptedExtensions& m) {
  return encode(m, encode_encrypted_extensions);
}
Bytes enc(const Certificate& m) {
  return encode(m, encode_certificate);
}
Bytes enc(const CertificateRequest& m) {
  return encode(m, encode_certificate_request);
}
Bytes enc(const CertificateVerify& m) {
  return encode(m, encode_certificate_verify);
}
Bytes enc(const Finished& m) {
  return encode(m, encode_finished);
}
Bytes enc(const NewSessionTicket& m) {
  return encode(m, encode_new_session_ticket);
}

std::optional<TlsAlert> parse(const Bytes& msg, ClientHello* m) {
  return parse_client_hello(frame(msg).body, m);
}
std::optional<TlsAlert> parse(const Bytes& msg, ServerHello* m) {
  return parse_server_hello(frame(msg).body, m);
}
std::optional<TlsAlert> parse(const Bytes& msg, EncryptedExtensions* m) {
  return parse_encrypted_extensions(frame(msg).body, m);
}
std::optional<TlsAlert> parse(const Bytes& msg, Certificate* m) {
  return parse_certificate(frame(msg).body, m);
}
std::optional<TlsAlert> parse(const Bytes& msg, CertificateRequest* m) {
  return parse_certificate_request(frame(msg).body, m);
}
std::optional<TlsAlert> parse(const Bytes& msg, CertificateVerify* m) {
  return parse_certificate_verify(frame(msg).body, m);
}
std::optional<TlsAlert> parse(const Bytes& msg, Finished* m) {
  return parse_finished(frame(msg).body, 32, m);
}
std::optional<TlsAlert> parse(const Bytes& msg, NewSessionTicket* m) {
  return parse_new_session_ticket(frame(msg).body, m);
}

// Encodes, parses back, and checks the value is unchanged and the encoding
// canonical (encoding the parsed value gives the same bytes).
template <typename M>
Bytes round_trip(const M& m) {
  const Bytes wire = enc(m);
  EXPECT_FALSE(wire.empty());
  if (wire.empty()) return wire;
  M back;
  EXPECT_EQ(parse(wire, &back), std::nullopt);
  EXPECT_TRUE(back == m);
  EXPECT_EQ(enc(back), wire);
  return wire;
}

// One extension, hex data.
std::string ext(std::uint16_t type, const std::string& data_hex) {
  const Bytes d = hex(data_hex);
  char head[16];
  std::snprintf(head, sizeof(head), "%04x %04zx ", type, d.size());
  return head + data_hex;
}

// An extension block (with its length) from concatenated extensions.
std::string block(const std::string& exts) {
  char head[8];
  std::snprintf(head, sizeof(head), "%04zx ", hex(exts).size());
  return head + exts;
}

// A minimal valid ClientHello body up to the extensions.
const std::string kChPrefix = "0303" + std::string(64, '1') + " 00 0002 1301 01 00 ";

std::optional<TlsAlert> parse_ch_exts(const std::string& exts, ClientHello* m = nullptr) {
  static Bytes body;  // outlives the call: *m points into it
  body = hex(kChPrefix + block(exts));
  ClientHello tmp;
  return parse_client_hello(body, m ? m : &tmp);
}

// A ServerHello body: random (hex) and extensions.
std::optional<TlsAlert> parse_sh_exts(const std::string& random_hex, const std::string& exts,
                                      ServerHello* m = nullptr) {
  static Bytes body;  // outlives the call: *m points into it
  body = hex("0303" + random_hex + " 00 1301 00 " + block(exts));
  ServerHello tmp;
  return parse_server_hello(body, m ? m : &tmp);
}

std::string hrr_random() {
  std::string s;
  for (std::uint8_t b : kHelloRetryRequestRandom) {
    char h[3];
    std::snprintf(h, sizeof(h), "%02x", b);
    s += h;
  }
  return s;
}

const std::string kSupportedVersions13 = ext(43, "0304");  // ServerHello form
const std::string kPsk = ext(41, "000b 0005 0102030405 00000007  0021 20" + std::string(64, 'a'));
const std::string kPskModes = ext(45, "01 01");

// ---------------------------------------------------------------------------
// Alerts

TEST(TlsAlert, MapsToCryptoError) {
  EXPECT_EQ(tls_alert_error_code(TlsAlert::kHandshakeFailure), 0x128u);
  EXPECT_EQ(tls_alert_error_code(TlsAlert::kNoApplicationProtocol), 0x178u);
  EXPECT_EQ(tls_alert_error_code(TlsAlert::kDecodeError), 0x132u);
  EXPECT_EQ(tls_alert_name(TlsAlert::kMissingExtension), "missing_extension");
  EXPECT_EQ(static_cast<int>(TlsAlert::kCertificateRequired), 116);
  EXPECT_EQ(static_cast<int>(TlsAlert::kUnknownPskIdentity), 115);
}

// ---------------------------------------------------------------------------
// Framing

TEST(HandshakeReader, SplitsConsecutiveMessages) {
  Bytes flight = hex(kS3EncryptedExtensions);
  const Bytes cert = hex(kS3Certificate);
  const Bytes cv = hex(kS3CertificateVerify);
  const Bytes fin = hex(kS3ServerFinished);
  flight.insert(flight.end(), cert.begin(), cert.end());
  flight.insert(flight.end(), cv.begin(), cv.end());
  flight.insert(flight.end(), fin.begin(), fin.end());
  const HandshakeReader reader;
  ByteSpan rest(flight);
  const HandshakeType expected[] = {HandshakeType::kEncryptedExtensions,
                                    HandshakeType::kCertificate, HandshakeType::kCertificateVerify,
                                    HandshakeType::kFinished};
  for (HandshakeType t : expected) {
    const HandshakeRead r = reader.next(rest);
    ASSERT_EQ(r.status, HandshakeReadStatus::kMessage);
    EXPECT_EQ(r.message.type, t);
    EXPECT_EQ(r.message.body.data(), r.message.bytes.data() + 4);
    EXPECT_EQ(r.message.bytes.size(), r.message.body.size() + 4);
    rest = rest.subspan(r.message.bytes.size());
  }
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(reader.next(rest).status, HandshakeReadStatus::kNeedMore);
}

TEST(HandshakeReader, NeedMoreAtEveryPrefix) {
  const Bytes m = hex(kS3Certificate);
  const HandshakeReader reader;
  for (std::size_t n = 0; n < m.size(); ++n) {
    const HandshakeRead r = reader.next(ByteSpan(m).first(n));
    ASSERT_EQ(r.status, HandshakeReadStatus::kNeedMore) << n;
    EXPECT_EQ(r.needed, n < 4 ? 4 : m.size()) << n;
  }
  EXPECT_EQ(reader.next(m).status, HandshakeReadStatus::kMessage);
}

TEST(HandshakeReader, RejectsTypesQuicForbids) {
  const HandshakeReader reader;
  // RFC 9001 §6 KeyUpdate, §8.3 EndOfEarlyData, RFC 8446 §4.4.1 message_hash,
  // and unassigned types; refused on the type byte alone.
  for (std::uint8_t t : {24, 5, 254, 0, 3, 6, 25, 255}) {
    const Bytes one{t};
    const HandshakeRead r = reader.next(one);
    EXPECT_EQ(r.status, HandshakeReadStatus::kError) << int(t);
    EXPECT_EQ(r.alert, TlsAlert::kUnexpectedMessage) << int(t);
  }
  const HandshakeRead r = reader.next(hex("05 00 00 00"));  // RFC 8448 §4 EndOfEarlyData
  EXPECT_EQ(r.status, HandshakeReadStatus::kError);
}

TEST(HandshakeReader, EnforcesSizeLimitsFromTheHeader) {
  const HandshakeReader reader;
  // Certificate: 64 KiB allowed, one more byte is not.
  EXPECT_EQ(reader.next(hex("0b 01 00 00")).status, HandshakeReadStatus::kNeedMore);
  HandshakeRead r = reader.next(hex("0b 01 00 01"));
  EXPECT_EQ(r.status, HandshakeReadStatus::kTooLarge);
  EXPECT_EQ(r.needed, 0x10005u);
  // Others: 16 KiB.
  EXPECT_EQ(reader.next(hex("01 00 40 00")).status, HandshakeReadStatus::kNeedMore);
  EXPECT_EQ(reader.next(hex("01 00 40 01")).status, HandshakeReadStatus::kTooLarge);
  EXPECT_EQ(reader.next(hex("14 ff ff ff")).status, HandshakeReadStatus::kTooLarge);
  const HandshakeReader small({.max_certificate = 100, .max_other = 10});
  EXPECT_EQ(small.next(hex(kS3Certificate)).status, HandshakeReadStatus::kTooLarge);
  EXPECT_EQ(small.next(hex(kS3ServerFinished)).status, HandshakeReadStatus::kTooLarge);
  EXPECT_EQ(small.next(hex("14 00 00 0a")).status, HandshakeReadStatus::kNeedMore);
}

// ---------------------------------------------------------------------------
// RFC 8448 §3: simple 1-RTT handshake

TEST(TlsCodecRfc8448, ClientHello) {
  const Bytes wire = hex(kS3ClientHello);
  const HandshakeMessage msg = frame(wire);
  EXPECT_EQ(msg.type, HandshakeType::kClientHello);
  ClientHello ch;
  ASSERT_EQ(parse_client_hello(msg.body, &ch), std::nullopt);
  EXPECT_EQ(test::bytes(ch.random),
            hex("cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7"));
  EXPECT_TRUE(ch.legacy_session_id.empty());
  EXPECT_EQ(values(ch.cipher_suites), (std::vector<std::uint16_t>{0x1301, 0x1303, 0x1302}));
  EXPECT_EQ(str(ch.server_name), "server");
  EXPECT_EQ(values(ch.supported_groups), (std::vector<std::uint16_t>{0x1d, 0x17, 0x18, 0x19, 0x100,
                                                                     0x101, 0x102, 0x103, 0x104}));
  ASSERT_EQ(ch.key_shares.size(), 1u);
  const KeyShareEntry share = *ch.key_shares.begin();
  EXPECT_EQ(share.group, 0x1d);
  EXPECT_EQ(test::bytes(share.key_exchange),
            hex("99381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c"));
  EXPECT_EQ(values(ch.supported_versions), std::vector<std::uint16_t>{0x0304});
  const std::vector<std::uint16_t> sig_algs = values(ch.signature_algorithms);
  ASSERT_EQ(sig_algs.size(), 15u);
  EXPECT_EQ(sig_algs.front(), 0x0403);
  EXPECT_EQ(sig_algs.back(), 0x0202);
  EXPECT_TRUE(contains(ch.signature_algorithms, 0x0804));
  EXPECT_EQ(test::bytes(ch.psk_key_exchange_modes), Bytes{kPskDheKe});
  const ExtensionSet want{ExtensionSet::bit(TlsExtension::kServerName) |
                          ExtensionSet::bit(TlsExtension::kSupportedGroups) |
                          ExtensionSet::bit(TlsExtension::kKeyShare) |
                          ExtensionSet::bit(TlsExtension::kSupportedVersions) |
                          ExtensionSet::bit(TlsExtension::kSignatureAlgorithms) |
                          ExtensionSet::bit(TlsExtension::kPskKeyExchangeModes)};
  EXPECT_EQ(ch.extensions, want);
  // renegotiation_info, session_ticket, record_size_limit: not ours, kept.
  std::vector<std::uint16_t> others;
  for (const RawExtension& e : ch.other_extensions)
    others.push_back(e.type);
  EXPECT_EQ(others, (std::vector<std::uint16_t>{0xff01, 0x23, 0x1c}));
  EXPECT_FALSE(ch.extensions.has(TlsExtension::kQuicTransportParameters));
  // The order of unrecognized extensions moves, so compare values.
  const Bytes again = enc(ch);
  ASSERT_EQ(again.size(), wire.size());
  ClientHello back;
  ASSERT_EQ(parse(again, &back), std::nullopt);
  EXPECT_TRUE(back == ch);
}

TEST(TlsCodecRfc8448, ServerHello) {
  const Bytes wire = hex(kS3ServerHello);
  ServerHello sh;
  ASSERT_EQ(parse(wire, &sh), std::nullopt);
  EXPECT_FALSE(sh.is_hello_retry_request());
  EXPECT_EQ(sh.cipher_suite, 0x1301);
  EXPECT_TRUE(sh.legacy_session_id_echo.empty());
  EXPECT_EQ(sh.selected_version, kTls13Version);
  EXPECT_EQ(sh.key_share.group, 0x1d);
  EXPECT_EQ(test::bytes(sh.key_share.key_exchange),
            hex("c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f"));
  EXPECT_FALSE(sh.extensions.has(TlsExtension::kPreSharedKey));
  EXPECT_TRUE(sh.other_extensions.empty());
  EXPECT_EQ(enc(sh), wire);
}

TEST(TlsCodecRfc8448, EncryptedExtensions) {
  const Bytes wire = hex(kS3EncryptedExtensions);
  EncryptedExtensions ee;
  ASSERT_EQ(parse(wire, &ee), std::nullopt);
  EXPECT_TRUE(ee.extensions.has(TlsExtension::kServerName));
  EXPECT_TRUE(ee.extensions.has(TlsExtension::kSupportedGroups));
  EXPECT_FALSE(ee.extensions.has(TlsExtension::kAlpn));
  EXPECT_EQ(values(ee.supported_groups).size(), 9u);
  ASSERT_EQ(ee.other_extensions.size(), 1u);  // record_size_limit
  const RawExtension rsl = *ee.other_extensions.begin();
  EXPECT_EQ(rsl.type, 0x1c);
  EXPECT_EQ(test::bytes(rsl.data), hex("4001"));
  const Bytes again = enc(ee);
  EXPECT_EQ(again.size(), wire.size());
  EncryptedExtensions back;
  ASSERT_EQ(parse(again, &back), std::nullopt);
  EXPECT_TRUE(back == ee);
}

TEST(TlsCodecRfc8448, Certificate) {
  const Bytes wire = hex(kS3Certificate);
  Certificate c;
  ASSERT_EQ(parse(wire, &c), std::nullopt);
  EXPECT_TRUE(c.request_context.empty());
  ASSERT_EQ(c.entries.size(), 1u);
  const CertificateEntry e = *c.entries.begin();
  EXPECT_EQ(e.cert_data.size(), 0x1b0u);
  EXPECT_EQ(e.cert_data[0], 0x30);  // DER SEQUENCE
  EXPECT_EQ(e.cert_data.data(), wire.data() + 4 + 1 + 3 + 3);
  EXPECT_TRUE(e.extensions.empty());
  EXPECT_EQ(enc(c), wire);
}

TEST(TlsCodecRfc8448, CertificateVerify) {
  const Bytes wire = hex(kS3CertificateVerify);
  CertificateVerify cv;
  ASSERT_EQ(parse(wire, &cv), std::nullopt);
  EXPECT_EQ(cv.algorithm, 0x0804);  // rsa_pss_rsae_sha256
  EXPECT_EQ(cv.signature.size(), 128u);
  EXPECT_EQ(cv.signature[0], 0x5a);
  EXPECT_EQ(enc(cv), wire);
}

TEST(TlsCodecRfc8448, Finished) {
  for (const char* h : {kS3ServerFinished, kS3ClientFinished}) {
    const Bytes wire = hex(h);
    Finished f;
    ASSERT_EQ(parse(wire, &f), std::nullopt);
    EXPECT_EQ(f.verify_data.size(), 32u);
    EXPECT_EQ(enc(f), wire);
    // SHA-384 suites have 48-byte verify_data.
    EXPECT_EQ(parse_finished(frame(wire).body, 48, &f), TlsAlert::kDecodeError);
  }
  const Bytes wire = hex(kS3ServerFinished);
  Finished f;
  ASSERT_EQ(parse(wire, &f), std::nullopt);
  EXPECT_EQ(test::bytes(f.verify_data),
            hex("9b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718"));
}

TEST(TlsCodecRfc8448, NewSessionTicket) {
  const Bytes wire = hex(kS3NewSessionTicket);
  NewSessionTicket t;
  ASSERT_EQ(parse(wire, &t), std::nullopt);
  EXPECT_EQ(t.ticket_lifetime, 30u);
  EXPECT_EQ(t.ticket_age_add, 0xfad6aac5u);
  EXPECT_EQ(test::bytes(t.ticket_nonce), hex("0000"));
  EXPECT_EQ(t.ticket.size(), 0xb2u);
  EXPECT_TRUE(t.extensions.has(TlsExtension::kEarlyData));
  EXPECT_EQ(t.max_early_data_size, 0x400u);
  EXPECT_EQ(enc(t), wire);
}

// ---------------------------------------------------------------------------
// RFC 8448 §4 (resumption, 0-RTT), §5 (HelloRetryRequest), §6 (client auth)

TEST(TlsCodecRfc8448, ResumptionClientHelloBinders) {
  const Bytes wire = hex(kS4ClientHello);
  ClientHello ch;
  ASSERT_EQ(parse(wire, &ch), std::nullopt);
  EXPECT_TRUE(ch.extensions.has(TlsExtension::kPreSharedKey));
  EXPECT_TRUE(ch.extensions.has(TlsExtension::kEarlyData));
  ASSERT_EQ(ch.psk_identities.size(), 1u);
  const PskIdentity id = *ch.psk_identities.begin();
  EXPECT_EQ(id.identity.size(), 0xb2u);
  EXPECT_EQ(id.obfuscated_ticket_age, 0xfad6aacbu);
  ASSERT_EQ(ch.psk_binders.size(), 1u);
  const ByteSpan binder = *ch.psk_binders.begin();
  EXPECT_EQ(binder.size(), 32u);
  // RFC 8448 §4 hashes the 477-byte prefix for the binder.
  EXPECT_EQ(ch.binders_offset, 477u);
  EXPECT_EQ(test::bytes(client_hello_binder_prefix(wire, ch.binders_offset)),
            hex(kS4ClientHelloPrefix));
  // padding (21) is not ours.
  ASSERT_EQ(ch.other_extensions.size(), 3u);

  // Re-encoding keeps pre_shared_key last: same prefix length, same binder.
  std::size_t offset = 0;
  Bytes again(600);
  Writer w(again);
  ASSERT_TRUE(encode_client_hello(ch, w, &offset));
  again.resize(w.written());
  EXPECT_EQ(again.size(), wire.size());
  EXPECT_EQ(offset, 477u);
  ClientHello back;
  ASSERT_EQ(parse(again, &back), std::nullopt);
  EXPECT_TRUE(back == ch);
  EXPECT_EQ(back.binders_offset, offset);

  // Binders written after the fact, as a client does.
  Bytes zeroed = wire;
  std::fill(zeroed.end() - 32, zeroed.end(), 0);
  const Bytes binder_bytes = test::bytes(binder);
  const ByteSpan binders[] = {binder_bytes};
  ASSERT_TRUE(write_client_hello_binders(zeroed, ch.binders_offset, binders));
  EXPECT_EQ(zeroed, wire);
  const Bytes short_binder(31, 1);
  const ByteSpan wrong_len[] = {short_binder};
  EXPECT_FALSE(write_client_hello_binders(zeroed, ch.binders_offset, wrong_len));
  const ByteSpan two[] = {binder_bytes, binder_bytes};
  EXPECT_FALSE(write_client_hello_binders(zeroed, ch.binders_offset, two));
  EXPECT_FALSE(write_client_hello_binders(zeroed, ch.binders_offset + 1, binders));
  EXPECT_EQ(zeroed, wire);
}

TEST(TlsCodecRfc8448, ResumptionServerHelloAndEncryptedExtensions) {
  const Bytes wire = hex(kS4ServerHello);
  ServerHello sh;
  ASSERT_EQ(parse(wire, &sh), std::nullopt);
  EXPECT_TRUE(sh.extensions.has(TlsExtension::kPreSharedKey));
  EXPECT_EQ(sh.selected_identity, 0);
  EXPECT_EQ(enc(sh), wire);

  EncryptedExtensions ee;
  ASSERT_EQ(parse(hex(kS4EncryptedExtensions), &ee), std::nullopt);
  EXPECT_TRUE(ee.extensions.has(TlsExtension::kEarlyData));
}

TEST(TlsCodecRfc8448, HelloRetryRequest) {
  const Bytes wire = hex(kS5HelloRetryRequest);
  ServerHello hrr;
  ASSERT_EQ(parse(wire, &hrr), std::nullopt);
  EXPECT_TRUE(hrr.is_hello_retry_request());
  EXPECT_EQ(hrr.selected_group, 0x17);  // secp256r1
  EXPECT_EQ(hrr.cookie.size(), 0x72u);
  EXPECT_EQ(hrr.selected_version, kTls13Version);
  EXPECT_EQ(enc(hrr), wire);

  const Bytes wire2 = hex(kS5ClientHello2);
  ClientHello ch2;
  ASSERT_EQ(parse(wire2, &ch2), std::nullopt);
  EXPECT_TRUE(bytes_equal(ch2.cookie, hrr.cookie));
  ASSERT_EQ(ch2.key_shares.size(), 1u);
  EXPECT_EQ((*ch2.key_shares.begin()).group, 0x17);
  EXPECT_EQ((*ch2.key_shares.begin()).key_exchange.size(), 65u);
}

TEST(TlsCodecRfc8448, CertificateRequest) {
  const Bytes wire = hex(kS6CertificateRequest);
  CertificateRequest cr;
  ASSERT_EQ(parse(wire, &cr), std::nullopt);
  EXPECT_TRUE(cr.request_context.empty());
  EXPECT_EQ(cr.signature_algorithms.size(), 15u);
  EXPECT_FALSE(cr.extensions.has(TlsExtension::kSignatureAlgorithmsCert));
  EXPECT_EQ(enc(cr), wire);
}

TEST(TlsCodecRfc8448, TruncationAtEveryOffset) {
  // Every prefix of every message: the framing asks for more, and parsing the
  // cut body fails with decode_error. The one exception is a hello cut right
  // before its extensions, which is a valid extension-less hello.
  const char* all[] = {kS3ClientHello,         kS3ServerHello,       kS3EncryptedExtensions,
                       kS3Certificate,         kS3CertificateVerify, kS3ServerFinished,
                       kS3NewSessionTicket,    kS4ClientHello,       kS4ServerHello,
                       kS4EncryptedExtensions, kS5HelloRetryRequest, kS5ClientHello2,
                       kS6CertificateRequest};
  const HandshakeReader reader;
  for (const char* h : all) {
    const Bytes wire = hex(h);
    for (std::size_t n = 0; n < wire.size(); ++n) {
      EXPECT_EQ(reader.next(ByteSpan(wire).first(n)).status, HandshakeReadStatus::kNeedMore);
    }
    const ByteSpan body = ByteSpan(wire).subspan(4);
    for (std::size_t n = 0; n < body.size(); ++n) {
      const ByteSpan cut = body.first(n);
      std::optional<TlsAlert> a;
      switch (static_cast<HandshakeType>(wire[0])) {
        case HandshakeType::kClientHello: {
          ClientHello m;
          a = parse_client_hello(cut, &m);
          break;
        }
        case HandshakeType::kServerHello: {
          ServerHello m;
          a = parse_server_hello(cut, &m);
          break;
        }
        case HandshakeType::kEncryptedExtensions: {
          EncryptedExtensions m;
          a = parse_encrypted_extensions(cut, &m);
          break;
        }
        case HandshakeType::kCertificate: {
          Certificate m;
          a = parse_certificate(cut, &m);
          break;
        }
        case HandshakeType::kCertificateRequest: {
          CertificateRequest m;
          a = parse_certificate_request(cut, &m);
          break;
        }
        case HandshakeType::kCertificateVerify: {
          CertificateVerify m;
          a = parse_certificate_verify(cut, &m);
          break;
        }
        case HandshakeType::kFinished: {
          Finished m;
          a = parse_finished(cut, 32, &m);
          break;
        }
        case HandshakeType::kNewSessionTicket: {
          NewSessionTicket m;
          a = parse_new_session_ticket(cut, &m);
          break;
        }
        default:
          FAIL();
      }
      if (!a) {
        // Only a hello without its extension block parses.
        ASSERT_TRUE(wire[0] == 1 || wire[0] == 2) << h << " at " << n;
        continue;
      }
      ASSERT_EQ(*a, TlsAlert::kDecodeError) << int(wire[0]) << " at " << n;
    }
  }
}

// ---------------------------------------------------------------------------
// Round trips with every extension

TEST(TlsCodecRoundTrip, ClientHelloWithEveryExtension) {
  const Bytes random(32, 0x42);
  const Bytes session_id;  // QUIC: empty (RFC 9001 §8.4)
  const std::uint16_t suites[] = {0x1301, 0x1302, 0x1303};
  const std::uint16_t groups[] = {0x1d, 0x17};
  const std::uint16_t sig_algs[] = {0x0403, 0x0804, 0x0807};
  const std::uint16_t sig_algs_cert[] = {0x0403};
  const std::uint16_t versions[] = {0x0304};
  const ByteSpan alpn[] = {span("h3"), span("h3-29")};
  const Bytes x25519(32, 0x11);
  const Bytes p256(65, 0x04);
  const KeyShareEntry shares[] = {{0x1d, x25519}, {0x17, p256}};
  const Bytes modes{kPskDheKe};
  const Bytes cookie(40, 0xcc);
  const Bytes tp = hex("0104 80007530 0f00");
  const Bytes ticket(100, 0x7e);
  const PskIdentity ids[] = {{ticket, 12345}, {ticket, 0}};
  const Bytes b32(32, 0xb1);
  const Bytes b48(48, 0xb2);
  const ByteSpan binders[] = {b32, b48};
  const Bytes grease_data{};
  const Bytes rsl = hex("4001");
  const RawExtension others[] = {{0x0a0a, grease_data}, {0x001c, rsl}};

  ClientHello ch;
  ch.random = random;
  ch.legacy_session_id = session_id;
  ch.cipher_suites = suites;
  ch.server_name = span("example.com");
  ch.supported_groups = groups;
  ch.signature_algorithms = sig_algs;
  ch.signature_algorithms_cert = sig_algs_cert;
  ch.alpn = alpn;
  ch.supported_versions = versions;
  ch.key_shares = shares;
  ch.psk_key_exchange_modes = modes;
  ch.cookie = cookie;
  ch.quic_transport_parameters = tp;
  ch.psk_identities = ids;
  ch.psk_binders = binders;
  ch.other_extensions = others;
  for (TlsExtension e :
       {TlsExtension::kServerName, TlsExtension::kSupportedGroups,
        TlsExtension::kSignatureAlgorithms, TlsExtension::kSignatureAlgorithmsCert,
        TlsExtension::kAlpn, TlsExtension::kSupportedVersions, TlsExtension::kKeyShare,
        TlsExtension::kPskKeyExchangeModes, TlsExtension::kCookie, TlsExtension::kEarlyData,
        TlsExtension::kQuicTransportParameters, TlsExtension::kPreSharedKey})
    ch.extensions.add(e);

  const Bytes wire = round_trip(ch);
  ClientHello back;
  ASSERT_EQ(parse(wire, &back), std::nullopt);
  EXPECT_EQ(str(back.server_name), "example.com");
  std::vector<std::string> names;
  for (ByteSpan n : back.alpn)
    names.push_back(str(n));
  EXPECT_EQ(names, (std::vector<std::string>{"h3", "h3-29"}));
  EXPECT_EQ(test::bytes(back.quic_transport_parameters), tp);
  // The binders are the last 2 + (1 + 32) + (1 + 48) bytes.
  EXPECT_EQ(back.binders_offset, wire.size() - 2 - 33 - 49);
  std::size_t offset = 0;
  Bytes buf(wire.size());
  Writer w(buf);
  ASSERT_TRUE(encode_client_hello(ch, w, &offset));
  EXPECT_EQ(offset, back.binders_offset);

  // Without any extension: still a valid ClientHello.
  ClientHello bare;
  bare.random = random;
  bare.cipher_suites = suites;
  round_trip(bare);
}

TEST(TlsCodecRoundTrip, ServerHelloAndHelloRetryRequest) {
  const Bytes random(32, 0x55);
  const Bytes key(32, 0x66);
  ServerHello sh;
  sh.random = random;
  sh.cipher_suite = 0x1302;
  sh.selected_version = kTls13Version;
  sh.key_share = {0x1d, key};
  sh.selected_identity = 3;
  sh.extensions.add(TlsExtension::kSupportedVersions);
  sh.extensions.add(TlsExtension::kKeyShare);
  sh.extensions.add(TlsExtension::kPreSharedKey);
  round_trip(sh);

  ServerHello hrr;
  hrr.random = kHelloRetryRequestRandom;
  hrr.cipher_suite = 0x1301;
  hrr.selected_version = kTls13Version;
  hrr.selected_group = 0x17;
  const Bytes cookie(200, 0x99);
  hrr.cookie = cookie;
  hrr.extensions.add(TlsExtension::kSupportedVersions);
  hrr.extensions.add(TlsExtension::kKeyShare);
  hrr.extensions.add(TlsExtension::kCookie);
  const Bytes wire = round_trip(hrr);
  ServerHello back;
  ASSERT_EQ(parse(wire, &back), std::nullopt);
  EXPECT_TRUE(back.is_hello_retry_request());
  EXPECT_EQ(back.selected_group, 0x17);

  // The encoder refuses extensions the message may not carry.
  ServerHello bad = sh;
  bad.extensions.add(TlsExtension::kCookie);
  EXPECT_TRUE(enc(bad).empty());
  ServerHello bad_hrr = hrr;
  bad_hrr.extensions.add(TlsExtension::kPreSharedKey);
  EXPECT_TRUE(enc(bad_hrr).empty());
}

TEST(TlsCodecRoundTrip, EncryptedExtensions) {
  const std::uint16_t groups[] = {0x1d};
  const Bytes tp = hex("0f04 01020304");
  EncryptedExtensions ee;
  ee.supported_groups = groups;
  ee.alpn = span("h3");
  ee.quic_transport_parameters = tp;
  for (TlsExtension e :
       {TlsExtension::kServerName, TlsExtension::kSupportedGroups, TlsExtension::kAlpn,
        TlsExtension::kEarlyData, TlsExtension::kQuicTransportParameters})
    ee.extensions.add(e);
  const Bytes wire = round_trip(ee);
  EncryptedExtensions back;
  ASSERT_EQ(parse(wire, &back), std::nullopt);
  EXPECT_EQ(str(back.alpn), "h3");
  round_trip(EncryptedExtensions{});
}

TEST(TlsCodecRoundTrip, CertificateChainWithEntryExtensions) {
  const Bytes leaf(1000, 0x30);
  const Bytes ca(700, 0x31);
  const Bytes ocsp = hex("0005 0004 01020304");  // status_request in the leaf entry
  const CertificateEntry entries[] = {{leaf, ocsp}, {ca, {}}};
  Certificate c;
  c.entries = entries;
  const Bytes wire = round_trip(c);
  Certificate back;
  ASSERT_EQ(parse(wire, &back), std::nullopt);
  std::size_t n = 0;
  for (const CertificateEntry& e : back.entries) {
    EXPECT_TRUE(e == entries[n]);
    ++n;
  }
  EXPECT_EQ(n, 2u);
  round_trip(Certificate{});  // empty: a client without a certificate
  const Bytes ctx{1, 2, 3};
  Certificate with_ctx;
  with_ctx.request_context = ctx;
  with_ctx.entries = entries;
  round_trip(with_ctx);
}

TEST(TlsCodecRoundTrip, CertificateRequestVerifyFinishedTicket) {
  const std::uint16_t algs[] = {0x0403, 0x0804};
  const Bytes cas = hex("0004 0002 3000");
  const RawExtension others[] = {{47, cas}};  // certificate_authorities
  CertificateRequest cr;
  cr.signature_algorithms = algs;
  cr.signature_algorithms_cert = algs;
  cr.other_extensions = others;
  cr.extensions.add(TlsExtension::kSignatureAlgorithms);
  cr.extensions.add(TlsExtension::kSignatureAlgorithmsCert);
  round_trip(cr);

  const Bytes sig(72, 0x30);
  round_trip(CertificateVerify{0x0403, sig});
  round_trip(CertificateVerify{0x0807, {}});

  const Bytes vd(32, 0xf1);
  round_trip(Finished{vd});

  const Bytes ticket(300, 0x77);
  const Bytes nonce{0, 1};
  NewSessionTicket t;
  t.ticket_lifetime = 604800;
  t.ticket_age_add = 0x01020304;
  t.ticket_nonce = nonce;
  t.ticket = ticket;
  t.max_early_data_size = 0xffffffff;  // QUIC (RFC 9001 §4.6.1)
  t.extensions.add(TlsExtension::kEarlyData);
  round_trip(t);
  const RawExtension grease[] = {{0xfafa, {}}};
  t.other_extensions = grease;
  round_trip(t);
}

TEST(TlsCodecEncode, FailsCleanly) {
  const Bytes wire = hex(kS3ClientHello);
  ClientHello ch;
  ASSERT_EQ(parse(wire, &ch), std::nullopt);
  // Too small at every size: false, nothing written, earlier bytes kept.
  for (std::size_t n = 0; n < wire.size(); ++n) {
    Bytes buf(n + 3, 0xee);
    Writer w(buf);
    w.write_uint(0xabcdef, 3);
    EXPECT_FALSE(encode_client_hello(ch, w));
    EXPECT_EQ(w.written(), 3u);
    EXPECT_TRUE(w.ok());
  }
  // A writer that already failed stays failed.
  Bytes buf(1000);
  Writer w(std::span<std::uint8_t>(buf).first(0));
  w.write_u8(1);
  EXPECT_FALSE(encode_client_hello(ch, w));
  EXPECT_FALSE(w.ok());

  // Out-of-range fields.
  ClientHello bad = ch;
  const Bytes short_random(31);
  bad.random = short_random;
  EXPECT_TRUE(enc(bad).empty());
  bad = ch;
  const Bytes long_session(33);
  bad.legacy_session_id = long_session;
  EXPECT_TRUE(enc(bad).empty());
  bad = ch;
  bad.cipher_suites = {};
  EXPECT_TRUE(enc(bad).empty());
  bad = ch;
  const ByteSpan empty_name[] = {ByteSpan{}};
  bad.alpn = empty_name;
  bad.extensions.add(TlsExtension::kAlpn);
  EXPECT_TRUE(enc(bad).empty());
  bad = ch;
  const RawExtension recognized[] = {{0x39, {}}};  // belongs in a typed field
  bad.other_extensions = recognized;
  EXPECT_TRUE(enc(bad).empty());
  bad = ch;
  const RawExtension dup[] = {{0x1234, {}}, {0x1234, {}}};
  bad.other_extensions = dup;
  EXPECT_TRUE(enc(bad).empty());
  bad = ch;
  const Bytes key(32);
  const KeyShareEntry same_group[] = {{0x1d, key}, {0x1d, key}};
  bad.key_shares = same_group;
  EXPECT_TRUE(enc(bad).empty());
  bad = ch;
  bad.extensions.add(TlsExtension::kPreSharedKey);  // no identities, no binders
  EXPECT_TRUE(enc(bad).empty());

  Finished f;
  Bytes small(10);
  Writer fw(small);
  const Bytes vd(32);
  f.verify_data = vd;
  EXPECT_FALSE(encode_finished(f, fw));
  EXPECT_EQ(fw.written(), 0u);
}

// ---------------------------------------------------------------------------
// Rejection rules

TEST(TlsCodecRules, ClientHelloFixedFields) {
  ClientHello m;
  // RFC 8446 §4.1.2: legacy_version 0x0303.
  EXPECT_EQ(parse_client_hello(hex("0301" + kChPrefix.substr(4) + "0000"), &m),
            TlsAlert::kProtocolVersion);
  EXPECT_EQ(parse_client_hello(hex("0304" + kChPrefix.substr(4) + "0000"), &m),
            TlsAlert::kProtocolVersion);
  const std::string rnd(64, '1');
  // legacy_compression_methods exactly [0].
  EXPECT_EQ(parse_client_hello(hex("0303" + rnd + " 00 0002 1301 02 00 01"), &m),
            TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_client_hello(hex("0303" + rnd + " 00 0002 1301 01 01"), &m),
            TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_client_hello(hex("0303" + rnd + " 00 0002 1301 00"), &m), TlsAlert::kDecodeError);
  // cipher_suites<2..2^16-2>, pairs.
  EXPECT_EQ(parse_client_hello(hex("0303" + rnd + " 00 0000 01 00"), &m), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_client_hello(hex("0303" + rnd + " 00 0003 130113 01 00"), &m),
            TlsAlert::kDecodeError);
  // legacy_session_id<0..32>; a non-empty one parses (the engine decides,
  // RFC 9001 §8.4).
  EXPECT_EQ(
      parse_client_hello(hex("0303" + rnd + " 21" + std::string(66, '0') + " 0002 1301 01 00"), &m),
      TlsAlert::kDecodeError);
  ASSERT_EQ(
      parse_client_hello(hex("0303" + rnd + " 20" + std::string(64, '5') + " 0002 1301 01 00"), &m),
      std::nullopt);
  EXPECT_EQ(m.legacy_session_id.size(), 32u);
  // No extensions at all is well-formed (RFC 8446 §4.1.2).
  ASSERT_EQ(parse_client_hello(hex(kChPrefix), &m), std::nullopt);
  EXPECT_EQ(m.extensions, ExtensionSet{});
  // Bytes after the extension block, or a block that overruns.
  EXPECT_EQ(parse_client_hello(hex(kChPrefix + "0000 00"), &m), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_client_hello(hex(kChPrefix + "0005 0000 0000"), &m), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_client_hello(hex(kChPrefix + "0003 0000 00"), &m), TlsAlert::kDecodeError);
}

TEST(TlsCodecRules, DuplicateExtensions) {
  // RFC 8446 §4.2: one extension per type in a block, known or not.
  EXPECT_EQ(parse_ch_exts(ext(10, "0002 001d") + ext(10, "0002 0017")),
            TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_ch_exts(ext(0x3a3a, "") + ext(0x3a3a, "")), TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_ch_exts(ext(57, "") + ext(57, "")), TlsAlert::kIllegalParameter);
  // Many distinct unknown types (past the small table), then a repeat.
  std::string many;
  for (std::uint16_t t = 0x100; t < 0x100 + 100; ++t)
    many += ext(t, "00");
  ClientHello m;
  ASSERT_EQ(parse_ch_exts(many, &m), std::nullopt);
  EXPECT_EQ(m.other_extensions.size(), 100u);
  EXPECT_EQ(parse_ch_exts(many + ext(0x100 + 99, "")), TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_ch_exts(many + ext(0x100 + 3, "")), TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_ch_exts(many + ext(0xffff, "")), std::nullopt);
  // In the server's messages too.
  EncryptedExtensions ee;
  EXPECT_EQ(parse_encrypted_extensions(
                hex(block(ext(16, "0003 02 6833") + ext(16, "0003 02 6833"))), &ee),
            TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_sh_exts(std::string(64, '2'), kSupportedVersions13 + kSupportedVersions13),
            TlsAlert::kIllegalParameter);
  // And in a certificate entry.
  Certificate c;
  EXPECT_EQ(parse_certificate(hex("00 00000e 000001 30 0008 0005 0000 0005 0000"), &c),
            TlsAlert::kIllegalParameter);
  ASSERT_EQ(parse_certificate(hex("00 00000a 000001 30 0004 0005 0000"), &c), std::nullopt);
}

TEST(TlsCodecRules, PreSharedKey) {
  ClientHello m;
  ASSERT_EQ(parse_ch_exts(kPskModes + kPsk, &m), std::nullopt);
  EXPECT_EQ(m.psk_identities.size(), 1u);
  EXPECT_EQ((*m.psk_identities.begin()).obfuscated_ticket_age, 7u);
  // RFC 8446 §4.2.11: last in the ClientHello.
  EXPECT_EQ(parse_ch_exts(kPsk + kPskModes), TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_ch_exts(kPskModes + kPsk + ext(0x5a5a, "")), TlsAlert::kIllegalParameter);
  // RFC 8446 §4.2.9: psk_key_exchange_modes required with a PSK.
  EXPECT_EQ(parse_ch_exts(kPsk), TlsAlert::kMissingExtension);
  // One binder per identity.
  const std::string b32 = "20" + std::string(64, 'a');
  EXPECT_EQ(parse_ch_exts(kPskModes + ext(41, "000b 0005 0102030405 00000007 0042" + b32 + b32)),
            TlsAlert::kIllegalParameter);
  EXPECT_EQ(
      parse_ch_exts(kPskModes +
                    ext(41, "0016 0005 0102030405 00000007 0005 0102030405 00000001 0021" + b32)),
      TlsAlert::kIllegalParameter);
  // Binders shorter than 32 bytes, an empty identity, trailing data.
  EXPECT_EQ(parse_ch_exts(kPskModes +
                          ext(41, "000b 0005 0102030405 00000007 0021 1f" + std::string(64, 'a'))),
            TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(kPskModes + ext(41, "0006 0000 00000007 0021" + b32)),
            TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(kPskModes + ext(41, "000b 0005 0102030405 00000007 0021" + b32 + "00")),
            TlsAlert::kDecodeError);
  // ServerHello: selected_identity, exactly two bytes.
  ServerHello sh;
  ASSERT_EQ(parse_sh_exts(std::string(64, '2'), ext(41, "0001"), &sh), std::nullopt);
  EXPECT_EQ(sh.selected_identity, 1);
  EXPECT_EQ(parse_sh_exts(std::string(64, '2'), ext(41, "000100")), TlsAlert::kDecodeError);
}

TEST(TlsCodecRules, ExtensionOutsideItsMessage) {
  // RFC 8446 §4.2: a recognized extension in a message it is not defined for.
  const std::string rnd(64, '2');
  EXPECT_EQ(parse_sh_exts(rnd, ext(16, "0003 02 6833")), TlsAlert::kIllegalParameter);  // ALPN
  EXPECT_EQ(parse_sh_exts(rnd, ext(44, "0001 00")), TlsAlert::kIllegalParameter);       // cookie
  EXPECT_EQ(parse_sh_exts(rnd, ext(57, "")), TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_sh_exts(hrr_random(), ext(41, "0000")), TlsAlert::kIllegalParameter);
  EncryptedExtensions ee;
  EXPECT_EQ(parse_encrypted_extensions(hex(block(ext(51, "001d 0001 00"))), &ee),
            TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_encrypted_extensions(hex(block(ext(43, "0304"))), &ee),
            TlsAlert::kIllegalParameter);
  NewSessionTicket t;
  EXPECT_EQ(parse_new_session_ticket(
                hex("00000001 00000002 00 0001 aa" + block(ext(16, "0003 02 6833"))), &t),
            TlsAlert::kIllegalParameter);
  Certificate c;
  EXPECT_EQ(parse_certificate(hex("00 00000a 000001 30 0004 0000 0000"), &c),
            TlsAlert::kIllegalParameter);  // server_name in a certificate entry
  // Unrecognized ones are exposed for the engine's unsupported_extension check.
  ServerHello sh;
  ASSERT_EQ(parse_sh_exts(rnd, kSupportedVersions13 + ext(0x1234, "ab"), &sh), std::nullopt);
  ASSERT_EQ(sh.other_extensions.size(), 1u);
  EXPECT_EQ((*sh.other_extensions.begin()).type, 0x1234);
}

TEST(TlsCodecRules, ServerHelloFixedFields) {
  const std::string rnd(64, '2');
  ServerHello sh;
  EXPECT_EQ(parse_server_hello(hex("0304" + rnd + "00 1301 00 0000"), &sh),
            TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_server_hello(hex("0303" + rnd + "00 1301 01 0000"), &sh),
            TlsAlert::kIllegalParameter);
  EXPECT_EQ(
      parse_server_hello(hex("0303" + rnd + "21" + std::string(66, '0') + "1301 00 0000"), &sh),
      TlsAlert::kDecodeError);
  const Bytes with_echo = hex("0303" + rnd + "01 07 1301 00 0000");
  ASSERT_EQ(parse_server_hello(with_echo, &sh), std::nullopt);
  EXPECT_EQ(test::bytes(sh.legacy_session_id_echo), Bytes{7});
  // key_share: one entry in a ServerHello, selected_group in an HRR.
  EXPECT_EQ(parse_sh_exts(rnd, ext(51, "001d")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_sh_exts(rnd, ext(51, "001d 0000")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_sh_exts(rnd, ext(51, "001d 0001 00 00")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_sh_exts(hrr_random(), ext(51, "001d 0001 00")), TlsAlert::kDecodeError);
  ASSERT_EQ(parse_sh_exts(hrr_random(), ext(51, "001d") + ext(44, "0002 abcd"), &sh), std::nullopt);
  EXPECT_EQ(sh.selected_group, 0x1d);
  EXPECT_EQ(parse_sh_exts(hrr_random(), ext(44, "0000")), TlsAlert::kDecodeError);
  // supported_versions: one version.
  EXPECT_EQ(parse_sh_exts(rnd, ext(43, "02 0304")), TlsAlert::kDecodeError);
}

TEST(TlsCodecRules, ExtensionBodies) {
  // key_share: duplicate groups (RFC 8446 §4.2.8), empty key, bad lengths.
  EXPECT_EQ(parse_ch_exts(ext(51, "000a 001d 0001 aa 001d 0001 bb")), TlsAlert::kIllegalParameter);
  EXPECT_EQ(parse_ch_exts(ext(51, "0004 001d 0000")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(51, "0006 001d 0002 aa")), TlsAlert::kDecodeError);
  ClientHello m;
  ASSERT_EQ(parse_ch_exts(ext(51, "0000"), &m), std::nullopt);  // HRR-seeking empty list
  EXPECT_TRUE(m.key_shares.empty());
  // Many shares of distinct groups.
  std::string shares;
  for (int g = 0; g < 200; ++g) {
    char h[16];
    std::snprintf(h, sizeof(h), "%04x 0001 %02x", g, g & 0xff);
    shares += h;
  }
  char len[8];
  std::snprintf(len, sizeof(len), "%04x", 200 * 5);
  ASSERT_EQ(parse_ch_exts(ext(51, len + shares), &m), std::nullopt);
  EXPECT_EQ(m.key_shares.size(), 200u);
  // u16 lists: odd or empty.
  EXPECT_EQ(parse_ch_exts(ext(10, "0003 001d00")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(10, "0000")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(13, "0000")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(50, "0001 04")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(43, "00")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(43, "03 030403")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(10, "0002 001d 00")), TlsAlert::kDecodeError);
  // ALPN (RFC 7301 §3.1): non-empty list of non-empty names.
  EXPECT_EQ(parse_ch_exts(ext(16, "0000")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(16, "0001 00")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(16, "0004 02 6833 00")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(16, "0004 03 6833")), TlsAlert::kDecodeError);
  // server_name: one host_name.
  EXPECT_EQ(parse_ch_exts(ext(0, "0004 01 0001 61")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(0, "0003 00 0000")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(0, "0008 00 0001 61 00 0001 62")), TlsAlert::kDecodeError);
  ASSERT_EQ(parse_ch_exts(ext(0, "0004 00 0001 61"), &m), std::nullopt);
  EXPECT_EQ(str(m.server_name), "a");
  // early_data is empty in a ClientHello; cookie and modes are non-empty.
  EXPECT_EQ(parse_ch_exts(ext(42, "00")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(44, "0000")), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_ch_exts(ext(45, "00")), TlsAlert::kDecodeError);
  // quic_transport_parameters: opaque, even empty.
  ASSERT_EQ(parse_ch_exts(ext(57, ""), &m), std::nullopt);
  EXPECT_TRUE(m.extensions.has(TlsExtension::kQuicTransportParameters));
  // EncryptedExtensions: ALPN holds exactly one name; server_name and
  // early_data are empty.
  EncryptedExtensions ee;
  EXPECT_EQ(parse_encrypted_extensions(hex(block(ext(16, "0006 02 6833 02 6832"))), &ee),
            TlsAlert::kDecodeError);
  EXPECT_EQ(parse_encrypted_extensions(hex(block(ext(0, "00"))), &ee), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_encrypted_extensions(hex(block(ext(42, "00000000"))), &ee),
            TlsAlert::kDecodeError);
  EXPECT_EQ(parse_encrypted_extensions(hex(""), &ee), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_encrypted_extensions(hex("0000 00"), &ee), TlsAlert::kDecodeError);
  // NewSessionTicket: early_data carries 4 bytes; the ticket is non-empty.
  NewSessionTicket t;
  EXPECT_EQ(parse_new_session_ticket(hex("00000001 00000002 00 0001 aa" + block(ext(42, ""))), &t),
            TlsAlert::kDecodeError);
  EXPECT_EQ(parse_new_session_ticket(hex("00000001 00000002 00 0000 0000"), &t),
            TlsAlert::kDecodeError);
  ASSERT_EQ(
      parse_new_session_ticket(
          hex("00000001 00000002 00 0001 aa" + block(ext(0x77, "") + ext(42, "ffffffff"))), &t),
      std::nullopt);
  EXPECT_EQ(t.max_early_data_size, 0xffffffffu);
  EXPECT_EQ(t.other_extensions.size(), 1u);
}

TEST(TlsCodecRules, CertificateAndVerify) {
  Certificate c;
  // Empty cert_data, entry overrunning, trailing bytes, context > list.
  EXPECT_EQ(parse_certificate(hex("00 000005 000000 0000"), &c), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_certificate(hex("00 000006 000002 30 0000"), &c), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_certificate(hex("00 000000 00"), &c), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_certificate(hex("05 0102"), &c), TlsAlert::kDecodeError);
  ASSERT_EQ(parse_certificate(hex("00 000000"), &c), std::nullopt);
  EXPECT_TRUE(c.entries.empty());
  CertificateVerify cv;
  EXPECT_EQ(parse_certificate_verify(hex("0804 0002 aa"), &cv), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_certificate_verify(hex("0804 0001 aa bb"), &cv), TlsAlert::kDecodeError);
  EXPECT_EQ(parse_certificate_verify(hex("08"), &cv), TlsAlert::kDecodeError);
  CertificateRequest cr;
  // RFC 8446 §4.3.2: signature_algorithms is required.
  EXPECT_EQ(parse_certificate_request(hex("00 0000"), &cr), TlsAlert::kMissingExtension);
  EXPECT_EQ(parse_certificate_request(hex("00" + block(ext(50, "0002 0403"))), &cr),
            TlsAlert::kMissingExtension);
  EXPECT_EQ(parse_certificate_request(hex("00" + block(ext(13, "0002 0403") + ext(51, ""))), &cr),
            TlsAlert::kIllegalParameter);
  ASSERT_EQ(
      parse_certificate_request(hex("01 aa" + block(ext(13, "0002 0403") + ext(47, "0000"))), &cr),
      std::nullopt);
  EXPECT_EQ(cr.request_context.size(), 1u);
  EXPECT_EQ(cr.other_extensions.size(), 1u);
}

TEST(WireList, LocalAndWireFormsCompareByValue) {
  const std::uint16_t local[] = {0x1301, 0x1302};
  const Bytes wire = hex("1301 1302");
  const U16List a = local;
  const U16List b = U16List::from_wire(wire, 2);
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a.is_wire());
  EXPECT_TRUE(b.is_wire());
  const std::uint16_t other[] = {0x1301, 0x1303};
  EXPECT_FALSE(U16List(other) == b);
  EXPECT_TRUE(contains(b, 0x1302));
  EXPECT_FALSE(contains(b, 0x1303));
  static_assert(std::forward_iterator<U16List::Iterator>);
  EXPECT_EQ(std::distance(b.begin(), b.end()), 2);
}

}  // namespace
}  // namespace dquic
