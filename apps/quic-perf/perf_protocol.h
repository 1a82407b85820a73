// The QUIC "perf" protocol (draft-banks-quic-performance-01 §2): ALPN
// "perf"; on each client-opened bidirectional stream the client sends the
// size of the response it wants as a 64-bit big-endian integer (§2.3.1),
// then any upload bytes, then FIN; the server drains the request, FIN
// included, and answers with that many bytes and FIN. Pure helpers here.
#pragma once

#include <cstdint>
#include <span>

namespace dquic::perf {

inline constexpr char kPerfAlpn[] = "perf";
inline constexpr std::size_t kRequestHeaderSize = 8;  // §2.3.1
// §2.3.1: "MAX_UINT64 ... is practically used to indicate an unlimited
// server response"; the client ends it with STOP_SENDING.
inline constexpr std::uint64_t kUnlimitedResponse = ~std::uint64_t{0};

// Stream error codes (§2.5).
inline constexpr std::uint64_t kErrorNone = 0;
inline constexpr std::uint64_t kErrorNotImplemented = 1;
inline constexpr std::uint64_t kErrorRejected = 2;
inline constexpr std::uint64_t kErrorInvalidData = 3;

inline void encode_request_size(std::uint64_t size,
                                std::span<std::uint8_t, kRequestHeaderSize> out) {
  for (std::size_t i = 0; i < kRequestHeaderSize; ++i)
    out[i] = static_cast<std::uint8_t>(size >> (8 * (kRequestHeaderSize - 1 - i)));
}

inline std::uint64_t decode_request_size(std::span<const std::uint8_t, kRequestHeaderSize> in) {
  std::uint64_t v = 0;
  for (std::uint8_t b : in)
    v = (v << 8) | b;
  return v;
}

// The payload our server sends (and our client uploads): byte i of every
// pattern chunk is pattern_byte(i), and responses start at a chunk boundary,
// so byte o of a response is pattern_byte(o % kPatternChunk). Other
// implementations send anything (draft §4.1); --verify is for our own.
inline constexpr std::size_t kPatternChunk = 32768;
constexpr std::uint8_t pattern_byte(std::uint64_t i) {
  return static_cast<std::uint8_t>(i % 251);
}

}  // namespace dquic::perf
