#include "quic/tls_engine.h"

#include <openssl/crypto.h>

#include <algorithm>

namespace dquic {

TlsEngine::~TlsEngine() = default;

void TlsEngine::release_handshake_state() {
  if (!complete_) return;
  for (std::size_t i = 0; i < kEncryptionLevelCount; ++i) {
    // A partial post-handshake message (1-RTT level) stays.
    if (static_cast<EncryptionLevel>(i) != EncryptionLevel::kApplication || buffers_[i].empty())
      buffers_[i] = {};
  }
}

void wipe_secret(Secret* s) {
  OPENSSL_cleanse(s->bytes.data(), s->bytes.size());
  s->length = 0;
}

std::optional<TlsError> TlsEngine::fail(TlsError e) {
  if (!error_) error_ = e;
  return error_;
}

std::optional<TlsError> TlsEngine::receive(EncryptionLevel level, ByteSpan data,
                                           std::int64_t now_ms) {
  if (error_) return error_;
  if (data.empty()) return std::nullopt;
  // RFC 9001 §4.1.3: each level carries its own message stream, so each has
  // its own partial-message buffer.
  return process(level, data, now_ms);
}

std::optional<TlsError> TlsEngine::process(EncryptionLevel level, ByteSpan data,
                                           std::int64_t now_ms) {
  std::vector<std::uint8_t>& buf = buffers_[static_cast<std::size_t>(level)];
  for (;;) {
    const bool buffered = !buf.empty();
    ByteSpan in = buffered ? ByteSpan(buf) : data;
    if (in.empty()) return std::nullopt;
    // Refuse a message the state cannot take before buffering any of it.
    if (!buffered && !expects(level, static_cast<HandshakeType>(in[0])))
      return fail(TlsAlert::kUnexpectedMessage);
    const HandshakeRead r = reader_.next(in);
    switch (r.status) {
      case HandshakeReadStatus::kError:
        return fail(r.alert);
      case HandshakeReadStatus::kTooLarge:
        return fail(TlsError::transport_error(TransportError::kCryptoBufferExceeded));
      case HandshakeReadStatus::kNeedMore: {
        if (!buffered) {
          // r.needed <= kMaxBufferedHandshakeBytes: kTooLarge caught longer.
          buf.assign(data.begin(), data.end());
          return std::nullopt;
        }
        if (data.empty()) return std::nullopt;
        // Take only what this message still needs, so the buffer never holds
        // more than one message.
        const std::size_t take = std::min(r.needed - buf.size(), data.size());
        buf.insert(buf.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
        data = data.subspan(take);
        continue;
      }
      case HandshakeReadStatus::kMessage:
        break;
    }
    // The state may have moved (another level) since the first byte came.
    if (buffered && !expects(level, r.message.type)) return fail(TlsAlert::kUnexpectedMessage);
    if (std::optional<TlsError> e = handle(level, r.message, now_ms)) return fail(*e);
    if (buffered) {
      buf.clear();
      // A certificate chain may have grown the buffer; do not keep it.
      if (buf.capacity() > 4096) std::vector<std::uint8_t>().swap(buf);
    } else {
      data = data.subspan(r.message.bytes.size());
    }
  }
}

}  // namespace dquic
