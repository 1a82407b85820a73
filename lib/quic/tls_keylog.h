// Key logging in the NSS SSLKEYLOGFILE format, so that Wireshark and other
// tools can decrypt captured QUIC traffic: one line per secret,
// "LABEL <client_random hex> <secret hex>". Off unless the caller configures a
// sink; this library never opens the file itself (sans-IO).
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string_view>

#include "quic/buffer.h"
#include "quic/hkdf.h"

namespace dquic {

// The TLS 1.3 labels of the format (as NSS and OpenSSL write them).
enum class KeylogLabel : std::uint8_t {
  kClientEarlyTrafficSecret,
  kClientHandshakeTrafficSecret,
  kServerHandshakeTrafficSecret,
  kClientTrafficSecret0,
  kServerTrafficSecret0,
};

std::string_view keylog_label_name(KeylogLabel label);

// Receives one line without its trailing newline; the writer adds it. Lines
// hold secrets: whoever installs a sink owns keeping them safe.
using KeylogSink = std::function<void(std::string_view line)>;

// Longest label, 64 hex digits of client_random, 96 of a SHA-384 secret.
inline constexpr std::size_t kMaxKeylogLineLength = 31 + 1 + 64 + 1 + 2 * kMaxHashLength;

// Writes the line into `out` and returns its length, or 0 if client_random is
// not 32 bytes or `out` is too small.
std::size_t format_keylog_line(KeylogLabel label, ByteSpan client_random, const Secret& secret,
                               std::span<char> out);

// Formats and hands the line to `sink` if there is one. The stack copy of the
// line is wiped afterwards.
void emit_keylog(const KeylogSink& sink, KeylogLabel label, ByteSpan client_random,
                 const Secret& secret);

}  // namespace dquic
