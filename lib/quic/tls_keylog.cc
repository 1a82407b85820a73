#include "quic/tls_keylog.h"

#include <openssl/crypto.h>

#include <array>

namespace dquic {

std::string_view keylog_label_name(KeylogLabel label) {
  switch (label) {
    case KeylogLabel::kClientEarlyTrafficSecret:
      return "CLIENT_EARLY_TRAFFIC_SECRET";
    case KeylogLabel::kClientHandshakeTrafficSecret:
      return "CLIENT_HANDSHAKE_TRAFFIC_SECRET";
    case KeylogLabel::kServerHandshakeTrafficSecret:
      return "SERVER_HANDSHAKE_TRAFFIC_SECRET";
    case KeylogLabel::kClientTrafficSecret0:
      return "CLIENT_TRAFFIC_SECRET_0";
    case KeylogLabel::kServerTrafficSecret0:
      return "SERVER_TRAFFIC_SECRET_0";
  }
  return "";
}

std::size_t format_keylog_line(KeylogLabel label, ByteSpan client_random, const Secret& secret,
                               std::span<char> out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const std::string_view name = keylog_label_name(label);
  const std::size_t need = name.size() + 1 + 2 * client_random.size() + 1 + 2 * secret.length;
  if (client_random.size() != 32 || need > out.size()) return 0;
  std::size_t n = 0;
  for (char c : name)
    out[n++] = c;
  auto hex = [&](ByteSpan b) {
    out[n++] = ' ';
    for (std::uint8_t v : b) {
      out[n++] = kDigits[v >> 4];
      out[n++] = kDigits[v & 15];
    }
  };
  hex(client_random);
  hex(secret.span());
  return n;
}

void emit_keylog(const KeylogSink& sink, KeylogLabel label, ByteSpan client_random,
                 const Secret& secret) {
  if (!sink) return;
  std::array<char, kMaxKeylogLineLength> line;
  const std::size_t n = format_keylog_line(label, client_random, secret, line);
  if (n != 0) sink(std::string_view(line.data(), n));
  OPENSSL_cleanse(line.data(), line.size());
}

}  // namespace dquic
