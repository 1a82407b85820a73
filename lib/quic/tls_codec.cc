#include "quic/tls_codec.h"

#include <algorithm>
#include <cstring>

namespace dquic {

namespace {

using Alert = std::optional<TlsAlert>;
constexpr Alert kOk = std::nullopt;
constexpr Alert kDecodeError = TlsAlert::kDecodeError;
constexpr Alert kIllegalParameter = TlsAlert::kIllegalParameter;

constexpr std::uint64_t bit(TlsExtension e) {
  return ExtensionSet::bit(e);
}

constexpr std::uint64_t kRecognized =
    bit(TlsExtension::kServerName) | bit(TlsExtension::kSupportedGroups) |
    bit(TlsExtension::kSignatureAlgorithms) | bit(TlsExtension::kAlpn) |
    bit(TlsExtension::kPreSharedKey) | bit(TlsExtension::kEarlyData) |
    bit(TlsExtension::kSupportedVersions) | bit(TlsExtension::kCookie) |
    bit(TlsExtension::kPskKeyExchangeModes) | bit(TlsExtension::kSignatureAlgorithmsCert) |
    bit(TlsExtension::kKeyShare) | bit(TlsExtension::kQuicTransportParameters);

// Where each recognized extension may appear: RFC 8446 §4.2 table, RFC 9001
// §8.2 for quic_transport_parameters. A recognized extension elsewhere is an
// illegal_parameter (RFC 8446 §4.2).
enum class Block {
  kClientHello,
  kServerHello,
  kHelloRetryRequest,
  kEncryptedExtensions,
  kCertificateRequest,
  kNewSessionTicket,
  kCertificateEntry
};

constexpr std::uint64_t allowed(Block b) {
  switch (b) {
    case Block::kClientHello:
      return kRecognized;
    case Block::kServerHello:
      return bit(TlsExtension::kPreSharedKey) | bit(TlsExtension::kSupportedVersions) |
             bit(TlsExtension::kKeyShare);
    case Block::kHelloRetryRequest:
      return bit(TlsExtension::kSupportedVersions) | bit(TlsExtension::kCookie) |
             bit(TlsExtension::kKeyShare);
    case Block::kEncryptedExtensions:
      return bit(TlsExtension::kServerName) | bit(TlsExtension::kSupportedGroups) |
             bit(TlsExtension::kAlpn) | bit(TlsExtension::kEarlyData) |
             bit(TlsExtension::kQuicTransportParameters);
    case Block::kCertificateRequest:
      return bit(TlsExtension::kSignatureAlgorithms) | bit(TlsExtension::kSignatureAlgorithmsCert);
    case Block::kNewSessionTicket:
      return bit(TlsExtension::kEarlyData);
    case Block::kCertificateEntry:
      return 0;  // status_request and SCT are allowed but not parsed here
  }
  return 0;
}

// Remembers 16-bit values to find repeats in linear time without allocating:
// values below 64 in a mask, the first few others in a small array, and all
// of them in an 8 KiB bitmap once that overflows (only hostile input gets
// there, and the bitmap is cleared once per tracker).
class SeenSet {
 public:
  // False if `v` was inserted before.
  bool insert(std::uint16_t v) {
    if (v < 64) {
      const std::uint64_t b = std::uint64_t{1} << v;
      if (low_ & b) return false;
      low_ |= b;
      return true;
    }
    if (!big_used_) {
      for (std::size_t i = 0; i < small_count_; ++i) {
        if (small_[i] == v) return false;
      }
      if (small_count_ < small_.size()) {
        small_[small_count_++] = v;
        return true;
      }
      std::memset(big_.data(), 0, sizeof(big_));
      for (std::size_t i = 0; i < small_count_; ++i)
        set_big(small_[i]);
      big_used_ = true;
    }
    if (big_[v >> 6] & (std::uint64_t{1} << (v & 63))) return false;
    set_big(v);
    return true;
  }

 private:
  void set_big(std::uint16_t v) { big_[v >> 6] |= std::uint64_t{1} << (v & 63); }

  std::uint64_t low_ = 0;
  std::array<std::uint16_t, 16> small_{};
  std::size_t small_count_ = 0;
  bool big_used_ = false;
  std::array<std::uint64_t, 1024> big_;  // valid only when big_used_
};

std::uint64_t get(Reader& r, std::size_t n, bool* ok) {
  std::uint64_t v = 0;
  if (!r.read_uint(n, &v)) *ok = false;
  return v;
}

// A vector with an n-byte length prefix whose length must lie in [min, max]
// (RFC 8446 §3.4).
bool read_vec(Reader& r, std::size_t len_bytes, std::size_t min, std::size_t max, ByteSpan* out) {
  std::uint64_t len;
  if (!r.read_uint(len_bytes, &len)) return false;
  if (len < min || len > max) return false;
  return r.read_bytes(static_cast<std::size_t>(len), out);
}

// Extension data that is exactly one vector.
bool whole_vec(ByteSpan data, std::size_t len_bytes, std::size_t min, std::size_t max,
               ByteSpan* out) {
  Reader r(data);
  return read_vec(r, len_bytes, min, max, out) && r.empty();
}

// A list of uint16 values: one vector of even length >= min.
bool read_u16_list(ByteSpan data, std::size_t len_bytes, std::size_t min, std::size_t max,
                   U16List* out) {
  ByteSpan body;
  if (!whole_vec(data, len_bytes, min, max, &body) || body.size() % 2 != 0) return false;
  *out = U16List::from_wire(body, body.size() / 2);
  return true;
}

// A list of opaque8 strings each at least `min_item` bytes long.
bool read_opaque_list(ByteSpan body, std::size_t min_item, OpaqueList* out) {
  Reader r(body);
  std::size_t n = 0;
  while (!r.empty()) {
    ByteSpan item;
    if (!read_vec(r, 1, min_item, 255, &item)) return false;
    ++n;
  }
  *out = OpaqueList::from_wire(body, n);
  return true;
}

bool read_u16(ByteSpan data, std::uint16_t* out) {
  if (data.size() != 2) return false;
  *out = static_cast<std::uint16_t>(data[0] << 8 | data[1]);
  return true;
}

// Walks an extension block (the content of Extension extensions<..>):
// framing (decode_error), one extension per type (illegal_parameter, RFC 8446
// §4.2), recognized extensions only where the RFC allows them
// (illegal_parameter), pre_shared_key last in a ClientHello (illegal_parameter,
// RFC 8446 §4.2.11). Recognized extensions go to `on_ext(type, data, offset)`,
// `offset` being that of its data within `block`; the others are counted.
template <typename F>
Alert walk_extensions(ByteSpan block, Block where, ExtensionSet* seen, ExtensionList* others,
                      F&& on_ext) {
  SeenSet types;
  Reader r(block);
  std::size_t other_count = 0;
  const std::uint64_t ok_here = allowed(where);
  while (!r.empty()) {
    bool ok = true;
    const auto type = static_cast<std::uint16_t>(get(r, 2, &ok));
    ByteSpan data;
    if (!ok || !read_vec(r, 2, 0, 0xffff, &data)) return kDecodeError;
    if (!types.insert(type)) return kIllegalParameter;
    if (!is_recognized_extension(type)) {
      ++other_count;
      continue;
    }
    const auto ext = static_cast<TlsExtension>(type);
    if ((ok_here & bit(ext)) == 0) return kIllegalParameter;
    if (where == Block::kClientHello && ext == TlsExtension::kPreSharedKey && !r.empty())
      return kIllegalParameter;
    seen->add(ext);
    if (Alert a = on_ext(ext, data, static_cast<std::size_t>(data.data() - block.data()))) return a;
  }
  if (others) *others = ExtensionList::from_wire(block, other_count);
  return kOk;
}

// Reads Extension extensions<0..2^16-1> that must end the message.
bool read_extension_block(Reader& r, ByteSpan* block) {
  return read_vec(r, 2, 0, 0xffff, block) && r.empty();
}

// ---------------------------------------------------------------------------
// Encoding helpers

class Enc {
 public:
  explicit Enc(Writer& w) : w_(w), mark_(w.written()), start_ok_(w.ok()) {}

  Writer& w() { return w_; }
  void fail() { ok_ = false; }

  struct Vec {
    std::uint8_t* len_at;
    std::size_t start;
    std::size_t len_bytes;
    std::size_t min;
    std::size_t max;
  };
  Vec open(std::size_t len_bytes, std::size_t min, std::size_t max) {
    Vec v{w_.position(), 0, len_bytes, min, max};
    w_.write_uint(0, len_bytes);
    v.start = w_.written();
    return v;
  }
  void close(const Vec& v) {
    if (!w_.ok()) return;
    const std::size_t len = w_.written() - v.start;
    if (len < v.min || len > v.max) {
      ok_ = false;
      return;
    }
    std::uint64_t x = len;
    for (std::size_t i = v.len_bytes; i > 0; --i) {
      v.len_at[i - 1] = static_cast<std::uint8_t>(x);
      x >>= 8;
    }
  }
  void vec(ByteSpan b, std::size_t len_bytes, std::size_t min, std::size_t max) {
    if (b.size() < min || b.size() > max) {
      ok_ = false;
      return;
    }
    w_.write_uint(b.size(), len_bytes);
    w_.write_bytes(b);
  }
  void fixed(ByteSpan b, std::size_t len) {
    if (b.size() != len) ok_ = false;
    w_.write_bytes(b);
  }
  // Commits or rewinds the whole message.
  bool finish() {
    if (!start_ok_) return false;
    if (ok_ && w_.ok()) return true;
    w_.rewind(mark_);
    return false;
  }

 private:
  Writer& w_;
  std::size_t mark_;
  bool start_ok_;
  bool ok_ = true;
};

void write_u16_list(Enc& e, const U16List& l, std::size_t len_bytes, std::size_t max) {
  auto v = e.open(len_bytes, 2, max);
  for (std::uint16_t x : l)
    e.w().write_uint(x, 2);
  e.close(v);
}

void write_opaque_list(Enc& e, const OpaqueList& l, std::size_t min_item) {
  for (ByteSpan x : l)
    e.vec(x, 1, min_item, 255);
}

// One extension: type, then whatever `body` writes, length-prefixed.
template <typename F>
void write_ext(Enc& e, TlsExtension t, F&& body) {
  e.w().write_uint(static_cast<std::uint16_t>(t), 2);
  auto v = e.open(2, 0, 0xffff);
  body();
  e.close(v);
}

void write_others(Enc& e, const ExtensionList& others) {
  SeenSet types;
  for (const RawExtension& x : others) {
    // A recognized type here would duplicate or bypass the typed fields.
    if (is_recognized_extension(x.type) || !types.insert(x.type)) e.fail();
    e.w().write_uint(x.type, 2);
    e.vec(x.data, 2, 0, 0xffff);
  }
}

template <typename F>
bool write_message(Writer& w, HandshakeType type, F&& body) {
  Enc e(w);
  w.write_u8(static_cast<std::uint8_t>(type));
  auto v = e.open(3, 0, 0xffffff);
  body(e);
  e.close(v);
  return e.finish();
}

bool is_quic_handshake_type(std::uint8_t t) {
  switch (static_cast<HandshakeType>(t)) {
    case HandshakeType::kClientHello:
    case HandshakeType::kServerHello:
    case HandshakeType::kNewSessionTicket:
    case HandshakeType::kEncryptedExtensions:
    case HandshakeType::kCertificate:
    case HandshakeType::kCertificateRequest:
    case HandshakeType::kCertificateVerify:
    case HandshakeType::kFinished:
      return true;
    case HandshakeType::kEndOfEarlyData:  // RFC 9001 §8.3
    case HandshakeType::kKeyUpdate:       // RFC 9001 §6
    case HandshakeType::kMessageHash:     // RFC 8446 §4.4.1: transcript only
      return false;
  }
  return false;
}

}  // namespace

bool is_recognized_extension(std::uint16_t type) {
  return type < 64 && ((kRecognized >> type) & 1) != 0;
}

bool bytes_equal(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

bool contains(const U16List& list, std::uint16_t v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// ---------------------------------------------------------------------------
// Framing

HandshakeRead HandshakeReader::next(ByteSpan in) const {
  HandshakeRead r;
  if (in.empty()) return r;
  // Refuse forbidden types at once rather than buffering their bodies.
  if (!is_quic_handshake_type(in[0])) {
    r.status = HandshakeReadStatus::kError;
    r.alert = TlsAlert::kUnexpectedMessage;
    return r;
  }
  if (in.size() < kHandshakeHeaderLength) return r;
  const auto type = static_cast<HandshakeType>(in[0]);
  const std::size_t len = std::size_t{in[1]} << 16 | std::size_t{in[2]} << 8 | in[3];
  if (len > limits_.limit_for(type)) {
    r.status = HandshakeReadStatus::kTooLarge;
    r.needed = kHandshakeHeaderLength + len;
    return r;
  }
  r.needed = kHandshakeHeaderLength + len;
  if (in.size() < r.needed) return r;
  r.status = HandshakeReadStatus::kMessage;
  r.message.type = type;
  r.message.bytes = in.first(r.needed);
  r.message.body = r.message.bytes.subspan(kHandshakeHeaderLength);
  return r;
}

// ---------------------------------------------------------------------------
// ClientHello (RFC 8446 §4.1.2)

std::optional<TlsAlert> parse_client_hello(ByteSpan body, ClientHello* out) {
  ClientHello m;
  Reader r(body);
  bool ok = true;
  const std::uint64_t version = get(r, 2, &ok);
  if (!ok) return kDecodeError;
  // A TLS 1.3 client always sends 0x0303 (RFC 8446 §4.1.2); anything else
  // comes from an older stack this server cannot talk to.
  if (version != kTlsLegacyVersion) return TlsAlert::kProtocolVersion;
  ByteSpan compression;
  ByteSpan suites;
  if (!r.read_bytes(kTlsRandomLength, &m.random) ||
      !read_vec(r, 1, 0, kMaxLegacySessionIdLength, &m.legacy_session_id) ||
      !read_vec(r, 2, 2, 0xfffe, &suites) || suites.size() % 2 != 0 ||
      !read_vec(r, 1, 1, 255, &compression))
    return kDecodeError;
  m.cipher_suites = U16List::from_wire(suites, suites.size() / 2);
  ByteSpan block;
  // RFC 8446 §4.1.2: the extensions field may be absent (pre-1.3 clients).
  if (!r.empty() && !read_extension_block(r, &block)) return kDecodeError;
  // RFC 8446 §4.1.2: exactly one byte, 0 (null compression).
  if (compression.size() != 1 || compression[0] != 0) return kIllegalParameter;

  auto on_ext = [&](TlsExtension t, ByteSpan data, std::size_t offset) -> Alert {
    switch (t) {
      case TlsExtension::kServerName: {
        // RFC 6066 §3: ServerNameList<1..2^16-1>; like most stacks we take
        // exactly one host_name entry (the only type defined).
        ByteSpan list;
        Reader l;
        std::uint8_t name_type;
        if (!whole_vec(data, 2, 1, 0xffff, &list)) return kDecodeError;
        l = Reader(list);
        if (!l.read_u8(&name_type) || name_type != 0 ||
            !read_vec(l, 2, 1, 0xffff, &m.server_name) || !l.empty())
          return kDecodeError;
        return kOk;
      }
      case TlsExtension::kSupportedGroups:
        return read_u16_list(data, 2, 2, 0xffff, &m.supported_groups) ? kOk : kDecodeError;
      case TlsExtension::kSignatureAlgorithms:
        return read_u16_list(data, 2, 2, 0xfffe, &m.signature_algorithms) ? kOk : kDecodeError;
      case TlsExtension::kSignatureAlgorithmsCert:
        return read_u16_list(data, 2, 2, 0xfffe, &m.signature_algorithms_cert) ? kOk : kDecodeError;
      case TlsExtension::kAlpn: {
        ByteSpan list;  // RFC 7301 §3.1: ProtocolNameList<2..2^16-1>, names <1..2^8-1>
        if (!whole_vec(data, 2, 2, 0xffff, &list) || !read_opaque_list(list, 1, &m.alpn))
          return kDecodeError;
        return kOk;
      }
      case TlsExtension::kSupportedVersions:  // RFC 8446 §4.2.1: versions<2..254>
        return read_u16_list(data, 1, 2, 254, &m.supported_versions) ? kOk : kDecodeError;
      case TlsExtension::kKeyShare: {
        // RFC 8446 §4.2.8: client_shares<0..2^16-1>, one share per group
        // (servers MAY check: illegal_parameter).
        ByteSpan list;
        if (!whole_vec(data, 2, 0, 0xffff, &list)) return kDecodeError;
        Reader l(list);
        SeenSet groups;
        std::size_t n = 0;
        bool dup = false;
        while (!l.empty()) {
          bool ok2 = true;
          const auto group = static_cast<std::uint16_t>(get(l, 2, &ok2));
          ByteSpan key;
          if (!ok2 || !read_vec(l, 2, 1, 0xffff, &key)) return kDecodeError;
          if (!groups.insert(group)) dup = true;
          ++n;
        }
        if (dup) return kIllegalParameter;
        m.key_shares = KeyShareList::from_wire(list, n);
        return kOk;
      }
      case TlsExtension::kPskKeyExchangeModes:  // RFC 8446 §4.2.9: ke_modes<1..255>
        return whole_vec(data, 1, 1, 255, &m.psk_key_exchange_modes) ? kOk : kDecodeError;
      case TlsExtension::kCookie:  // RFC 8446 §4.2.2: cookie<1..2^16-1>
        return whole_vec(data, 2, 1, 0xffff, &m.cookie) ? kOk : kDecodeError;
      case TlsExtension::kEarlyData:  // RFC 8446 §4.2.10: empty in ClientHello
        return data.empty() ? kOk : kDecodeError;
      case TlsExtension::kQuicTransportParameters:
        m.quic_transport_parameters = data;
        return kOk;
      case TlsExtension::kPreSharedKey: {
        // RFC 8446 §4.2.11: identities<7..2^16-1>, binders<33..2^16-1>.
        Reader p(data);
        ByteSpan ids;
        if (!read_vec(p, 2, 7, 0xffff, &ids)) return kDecodeError;
        const std::size_t binders_at = static_cast<std::size_t>(p.position() - data.data());
        ByteSpan binders;
        if (!read_vec(p, 2, 33, 0xffff, &binders) || !p.empty()) return kDecodeError;
        Reader i(ids);
        std::size_t n = 0;
        while (!i.empty()) {
          ByteSpan id;
          std::uint32_t age;
          if (!read_vec(i, 2, 1, 0xffff, &id) || !i.read_u32(&age)) return kDecodeError;
          ++n;
        }
        if (!read_opaque_list(binders, 32, &m.psk_binders)) return kDecodeError;
        // One binder per identity (RFC 8446 §4.2.11): a missing binder cannot
        // be validated.
        if (m.psk_binders.size() != n) return kIllegalParameter;
        m.psk_identities = PskIdentityList::from_wire(ids, n);
        m.binders_offset = kHandshakeHeaderLength +
                           static_cast<std::size_t>(block.data() - body.data()) + offset +
                           binders_at;
        return kOk;
      }
    }
    return kOk;
  };
  if (Alert a =
          walk_extensions(block, Block::kClientHello, &m.extensions, &m.other_extensions, on_ext))
    return a;
  // RFC 8446 §4.2.9: a PSK offer without modes is refused with missing_extension.
  if (m.extensions.has(TlsExtension::kPreSharedKey) &&
      !m.extensions.has(TlsExtension::kPskKeyExchangeModes))
    return TlsAlert::kMissingExtension;
  *out = m;
  return kOk;
}

bool encode_client_hello(const ClientHello& m, Writer& w, std::size_t* binders_offset) {
  const std::size_t msg_start = w.written();
  std::size_t binders_at = 0;
  const bool ok = write_message(w, HandshakeType::kClientHello, [&](Enc& e) {
    Writer& o = e.w();
    o.write_uint(kTlsLegacyVersion, 2);
    e.fixed(m.random, kTlsRandomLength);
    e.vec(m.legacy_session_id, 1, 0, kMaxLegacySessionIdLength);
    write_u16_list(e, m.cipher_suites, 2, 0xfffe);
    o.write_u8(1);  // legacy_compression_methods = [null]
    o.write_u8(0);
    auto exts = e.open(2, 0, 0xffff);
    const ExtensionSet& x = m.extensions;
    if (x.has(TlsExtension::kServerName)) {
      write_ext(e, TlsExtension::kServerName, [&] {
        auto list = e.open(2, 1, 0xffff);
        o.write_u8(0);  // host_name
        e.vec(m.server_name, 2, 1, 0xffff);
        e.close(list);
      });
    }
    if (x.has(TlsExtension::kSupportedGroups)) {
      write_ext(e, TlsExtension::kSupportedGroups,
                [&] { write_u16_list(e, m.supported_groups, 2, 0xffff); });
    }
    if (x.has(TlsExtension::kSignatureAlgorithms)) {
      write_ext(e, TlsExtension::kSignatureAlgorithms,
                [&] { write_u16_list(e, m.signature_algorithms, 2, 0xfffe); });
    }
    if (x.has(TlsExtension::kSignatureAlgorithmsCert)) {
      write_ext(e, TlsExtension::kSignatureAlgorithmsCert,
                [&] { write_u16_list(e, m.signature_algorithms_cert, 2, 0xfffe); });
    }
    if (x.has(TlsExtension::kAlpn)) {
      write_ext(e, TlsExtension::kAlpn, [&] {
        auto list = e.open(2, 2, 0xffff);
        write_opaque_list(e, m.alpn, 1);
        e.close(list);
      });
    }
    if (x.has(TlsExtension::kSupportedVersions)) {
      write_ext(e, TlsExtension::kSupportedVersions,
                [&] { write_u16_list(e, m.supported_versions, 1, 254); });
    }
    if (x.has(TlsExtension::kPskKeyExchangeModes)) {
      write_ext(e, TlsExtension::kPskKeyExchangeModes,
                [&] { e.vec(m.psk_key_exchange_modes, 1, 1, 255); });
    }
    if (x.has(TlsExtension::kKeyShare)) {
      write_ext(e, TlsExtension::kKeyShare, [&] {
        auto list = e.open(2, 0, 0xffff);
        SeenSet groups;
        for (const KeyShareEntry& k : m.key_shares) {
          if (!groups.insert(k.group)) e.fail();
          o.write_uint(k.group, 2);
          e.vec(k.key_exchange, 2, 1, 0xffff);
        }
        e.close(list);
      });
    }
    if (x.has(TlsExtension::kCookie)) {
      write_ext(e, TlsExtension::kCookie, [&] { e.vec(m.cookie, 2, 1, 0xffff); });
    }
    if (x.has(TlsExtension::kEarlyData)) write_ext(e, TlsExtension::kEarlyData, [] {});
    if (x.has(TlsExtension::kQuicTransportParameters)) {
      write_ext(e, TlsExtension::kQuicTransportParameters,
                [&] { o.write_bytes(m.quic_transport_parameters); });
    }
    write_others(e, m.other_extensions);
    if (x.has(TlsExtension::kPreSharedKey)) {  // RFC 8446 §4.2.11: last
      if (!x.has(TlsExtension::kPskKeyExchangeModes) ||
          m.psk_identities.size() != m.psk_binders.size())
        e.fail();
      write_ext(e, TlsExtension::kPreSharedKey, [&] {
        auto ids = e.open(2, 7, 0xffff);
        for (const PskIdentity& id : m.psk_identities) {
          e.vec(id.identity, 2, 1, 0xffff);
          o.write_u32(id.obfuscated_ticket_age);
        }
        e.close(ids);
        binders_at = o.written() - msg_start;
        auto binders = e.open(2, 33, 0xffff);
        write_opaque_list(e, m.psk_binders, 32);
        e.close(binders);
      });
    }
    e.close(exts);
  });
  if (ok && binders_offset && m.extensions.has(TlsExtension::kPreSharedKey))
    *binders_offset = binders_at;
  return ok;
}

ByteSpan client_hello_binder_prefix(ByteSpan message, std::size_t binders_offset) {
  return message.first(std::min(binders_offset, message.size()));
}

bool write_client_hello_binders(std::span<std::uint8_t> message, std::size_t binders_offset,
                                std::span<const ByteSpan> binders) {
  if (binders_offset > message.size()) return false;
  Reader r(ByteSpan(message).subspan(binders_offset));
  ByteSpan list;
  if (!read_vec(r, 2, 33, 0xffff, &list) || !r.empty()) return false;
  // Check every length first so that a mismatch writes nothing.
  Reader l(list);
  for (ByteSpan b : binders) {
    ByteSpan old;
    if (!read_vec(l, 1, 32, 255, &old) || old.size() != b.size()) return false;
  }
  if (!l.empty()) return false;
  std::size_t at = binders_offset + 2;
  for (ByteSpan b : binders) {
    std::memcpy(message.data() + at + 1, b.data(), b.size());
    at += 1 + b.size();
  }
  return true;
}

bool operator==(const ClientHello& a, const ClientHello& b) {
  return bytes_equal(a.random, b.random) && bytes_equal(a.legacy_session_id, b.legacy_session_id) &&
         a.cipher_suites == b.cipher_suites && a.extensions == b.extensions &&
         bytes_equal(a.server_name, b.server_name) && a.supported_groups == b.supported_groups &&
         a.signature_algorithms == b.signature_algorithms &&
         a.signature_algorithms_cert == b.signature_algorithms_cert && a.alpn == b.alpn &&
         a.supported_versions == b.supported_versions && a.key_shares == b.key_shares &&
         bytes_equal(a.psk_key_exchange_modes, b.psk_key_exchange_modes) &&
         bytes_equal(a.cookie, b.cookie) &&
         bytes_equal(a.quic_transport_parameters, b.quic_transport_parameters) &&
         a.psk_identities == b.psk_identities && a.psk_binders == b.psk_binders &&
         a.other_extensions == b.other_extensions;
}

// ---------------------------------------------------------------------------
// ServerHello and HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4)

bool ServerHello::is_hello_retry_request() const {
  return bytes_equal(random, kHelloRetryRequestRandom);
}

std::optional<TlsAlert> parse_server_hello(ByteSpan body, ServerHello* out) {
  ServerHello m;
  Reader r(body);
  bool ok = true;
  const std::uint64_t version = get(r, 2, &ok);
  if (!r.read_bytes(kTlsRandomLength, &m.random) ||
      !read_vec(r, 1, 0, kMaxLegacySessionIdLength, &m.legacy_session_id_echo))
    return kDecodeError;
  m.cipher_suite = static_cast<std::uint16_t>(get(r, 2, &ok));
  const std::uint64_t compression = get(r, 1, &ok);
  if (!ok) return kDecodeError;
  ByteSpan block;
  // A TLS 1.2 ServerHello may end here; the engine then finds no
  // supported_versions (protocol_version).
  if (!r.empty() && !read_extension_block(r, &block)) return kDecodeError;
  // RFC 8446 §4.1.3: both fields have one allowed value.
  if (version != kTlsLegacyVersion || compression != 0) return kIllegalParameter;

  const bool hrr = m.is_hello_retry_request();
  auto on_ext = [&](TlsExtension t, ByteSpan data, std::size_t) -> Alert {
    switch (t) {
      case TlsExtension::kSupportedVersions:
        return read_u16(data, &m.selected_version) ? kOk : kDecodeError;
      case TlsExtension::kKeyShare: {
        if (hrr) return read_u16(data, &m.selected_group) ? kOk : kDecodeError;
        Reader k(data);
        bool ok2 = true;
        m.key_share.group = static_cast<std::uint16_t>(get(k, 2, &ok2));
        if (!ok2 || !read_vec(k, 2, 1, 0xffff, &m.key_share.key_exchange) || !k.empty())
          return kDecodeError;
        return kOk;
      }
      case TlsExtension::kPreSharedKey:
        return read_u16(data, &m.selected_identity) ? kOk : kDecodeError;
      case TlsExtension::kCookie:
        return whole_vec(data, 2, 1, 0xffff, &m.cookie) ? kOk : kDecodeError;
      default:
        return kIllegalParameter;  // unreachable: filtered by allowed()
    }
  };
  if (Alert a = walk_extensions(block, hrr ? Block::kHelloRetryRequest : Block::kServerHello,
                                &m.extensions, &m.other_extensions, on_ext))
    return a;
  *out = m;
  return kOk;
}

bool encode_server_hello(const ServerHello& m, Writer& w) {
  return write_message(w, HandshakeType::kServerHello, [&](Enc& e) {
    Writer& o = e.w();
    const bool hrr = m.is_hello_retry_request();
    const ExtensionSet& x = m.extensions;
    if ((x.bits & ~allowed(hrr ? Block::kHelloRetryRequest : Block::kServerHello)) != 0) e.fail();
    o.write_uint(kTlsLegacyVersion, 2);
    e.fixed(m.random, kTlsRandomLength);
    e.vec(m.legacy_session_id_echo, 1, 0, kMaxLegacySessionIdLength);
    o.write_uint(m.cipher_suite, 2);
    o.write_u8(0);
    auto exts = e.open(2, 0, 0xffff);
    // The order of RFC 8448's traces.
    if (x.has(TlsExtension::kPreSharedKey)) {
      write_ext(e, TlsExtension::kPreSharedKey, [&] { o.write_uint(m.selected_identity, 2); });
    }
    if (x.has(TlsExtension::kKeyShare)) {
      write_ext(e, TlsExtension::kKeyShare, [&] {
        if (hrr) {
          o.write_uint(m.selected_group, 2);
        } else {
          o.write_uint(m.key_share.group, 2);
          e.vec(m.key_share.key_exchange, 2, 1, 0xffff);
        }
      });
    }
    if (x.has(TlsExtension::kCookie)) {
      write_ext(e, TlsExtension::kCookie, [&] { e.vec(m.cookie, 2, 1, 0xffff); });
    }
    if (x.has(TlsExtension::kSupportedVersions)) {
      write_ext(e, TlsExtension::kSupportedVersions, [&] { o.write_uint(m.selected_version, 2); });
    }
    write_others(e, m.other_extensions);
    e.close(exts);
  });
}

bool operator==(const ServerHello& a, const ServerHello& b) {
  const ExtensionSet& x = a.extensions;
  const bool hrr = a.is_hello_retry_request();
  // Fields of absent extensions (or of the other ServerHello form) are not
  // part of the value.
  auto same = [&](TlsExtension e, bool eq) { return !x.has(e) || eq; };
  return bytes_equal(a.random, b.random) &&
         bytes_equal(a.legacy_session_id_echo, b.legacy_session_id_echo) &&
         a.cipher_suite == b.cipher_suite && a.extensions == b.extensions &&
         same(TlsExtension::kSupportedVersions, a.selected_version == b.selected_version) &&
         same(TlsExtension::kKeyShare,
              hrr ? a.selected_group == b.selected_group : a.key_share == b.key_share) &&
         same(TlsExtension::kPreSharedKey, a.selected_identity == b.selected_identity) &&
         same(TlsExtension::kCookie, bytes_equal(a.cookie, b.cookie)) &&
         a.other_extensions == b.other_extensions;
}

// ---------------------------------------------------------------------------
// EncryptedExtensions (RFC 8446 §4.3.1)

std::optional<TlsAlert> parse_encrypted_extensions(ByteSpan body, EncryptedExtensions* out) {
  EncryptedExtensions m;
  Reader r(body);
  ByteSpan block;
  if (!read_extension_block(r, &block)) return kDecodeError;
  auto on_ext = [&](TlsExtension t, ByteSpan data, std::size_t) -> Alert {
    switch (t) {
      case TlsExtension::kServerName:  // RFC 6066 §3: empty from the server
      case TlsExtension::kEarlyData:   // RFC 8446 §4.2.10: empty in EE
        return data.empty() ? kOk : kDecodeError;
      case TlsExtension::kSupportedGroups:
        return read_u16_list(data, 2, 2, 0xffff, &m.supported_groups) ? kOk : kDecodeError;
      case TlsExtension::kAlpn: {
        // RFC 7301 §3.1: the server's list holds exactly one name.
        ByteSpan list;
        if (!whole_vec(data, 2, 2, 0xffff, &list) || !whole_vec(list, 1, 1, 255, &m.alpn))
          return kDecodeError;
        return kOk;
      }
      case TlsExtension::kQuicTransportParameters:
        m.quic_transport_parameters = data;
        return kOk;
      default:
        return kIllegalParameter;  // unreachable: filtered by allowed()
    }
  };
  if (Alert a = walk_extensions(block, Block::kEncryptedExtensions, &m.extensions,
                                &m.other_extensions, on_ext))
    return a;
  *out = m;
  return kOk;
}

bool encode_encrypted_extensions(const EncryptedExtensions& m, Writer& w) {
  return write_message(w, HandshakeType::kEncryptedExtensions, [&](Enc& e) {
    Writer& o = e.w();
    const ExtensionSet& x = m.extensions;
    if ((x.bits & ~allowed(Block::kEncryptedExtensions)) != 0) e.fail();
    auto exts = e.open(2, 0, 0xffff);
    if (x.has(TlsExtension::kServerName)) write_ext(e, TlsExtension::kServerName, [] {});
    if (x.has(TlsExtension::kSupportedGroups)) {
      write_ext(e, TlsExtension::kSupportedGroups,
                [&] { write_u16_list(e, m.supported_groups, 2, 0xffff); });
    }
    if (x.has(TlsExtension::kAlpn)) {
      write_ext(e, TlsExtension::kAlpn, [&] {
        auto list = e.open(2, 2, 0xffff);
        e.vec(m.alpn, 1, 1, 255);
        e.close(list);
      });
    }
    if (x.has(TlsExtension::kEarlyData)) write_ext(e, TlsExtension::kEarlyData, [] {});
    if (x.has(TlsExtension::kQuicTransportParameters)) {
      write_ext(e, TlsExtension::kQuicTransportParameters,
                [&] { o.write_bytes(m.quic_transport_parameters); });
    }
    write_others(e, m.other_extensions);
    e.close(exts);
  });
}

bool operator==(const EncryptedExtensions& a, const EncryptedExtensions& b) {
  return a.extensions == b.extensions && a.supported_groups == b.supported_groups &&
         bytes_equal(a.alpn, b.alpn) &&
         bytes_equal(a.quic_transport_parameters, b.quic_transport_parameters) &&
         a.other_extensions == b.other_extensions;
}

// ---------------------------------------------------------------------------
// Certificate (RFC 8446 §4.4.2)

namespace {

// A CertificateEntry's extension block: framing, duplicates, and no
// recognized extension (none belongs in a certificate entry).
Alert check_entry_extensions(ByteSpan block) {
  ExtensionSet seen;
  return walk_extensions(block, Block::kCertificateEntry, &seen, nullptr,
                         [](TlsExtension, ByteSpan, std::size_t) -> Alert { return kOk; });
}

}  // namespace

std::optional<TlsAlert> parse_certificate(ByteSpan body, Certificate* out) {
  Certificate m;
  Reader r(body);
  ByteSpan list;
  if (!read_vec(r, 1, 0, 255, &m.request_context) || !read_vec(r, 3, 0, 0xffffff, &list) ||
      !r.empty())
    return kDecodeError;
  Reader l(list);
  std::size_t n = 0;
  while (!l.empty()) {
    ByteSpan cert;
    ByteSpan exts;
    if (!read_vec(l, 3, 1, 0xffffff, &cert) || !read_vec(l, 2, 0, 0xffff, &exts))
      return kDecodeError;
    if (Alert a = check_entry_extensions(exts)) return a;
    ++n;
  }
  m.entries = CertificateEntryList::from_wire(list, n);
  *out = m;
  return kOk;
}

bool encode_certificate(const Certificate& m, Writer& w) {
  return write_message(w, HandshakeType::kCertificate, [&](Enc& e) {
    e.vec(m.request_context, 1, 0, 255);
    auto list = e.open(3, 0, 0xffffff);
    for (const CertificateEntry& c : m.entries) {
      if (check_entry_extensions(c.extensions)) e.fail();
      e.vec(c.cert_data, 3, 1, 0xffffff);
      e.vec(c.extensions, 2, 0, 0xffff);
    }
    e.close(list);
  });
}

bool operator==(const Certificate& a, const Certificate& b) {
  return bytes_equal(a.request_context, b.request_context) && a.entries == b.entries;
}

// ---------------------------------------------------------------------------
// CertificateRequest (RFC 8446 §4.3.2)

std::optional<TlsAlert> parse_certificate_request(ByteSpan body, CertificateRequest* out) {
  CertificateRequest m;
  Reader r(body);
  ByteSpan block;
  if (!read_vec(r, 1, 0, 255, &m.request_context) || !read_extension_block(r, &block))
    return kDecodeError;
  auto on_ext = [&](TlsExtension t, ByteSpan data, std::size_t) -> Alert {
    U16List* list = t == TlsExtension::kSignatureAlgorithms ? &m.signature_algorithms
                                                            : &m.signature_algorithms_cert;
    return read_u16_list(data, 2, 2, 0xfffe, list) ? kOk : kDecodeError;
  };
  if (Alert a = walk_extensions(block, Block::kCertificateRequest, &m.extensions,
                                &m.other_extensions, on_ext))
    return a;
  // RFC 8446 §4.3.2: "The signature_algorithms extension MUST be specified".
  if (!m.extensions.has(TlsExtension::kSignatureAlgorithms)) return TlsAlert::kMissingExtension;
  *out = m;
  return kOk;
}

bool encode_certificate_request(const CertificateRequest& m, Writer& w) {
  return write_message(w, HandshakeType::kCertificateRequest, [&](Enc& e) {
    const ExtensionSet& x = m.extensions;
    if ((x.bits & ~allowed(Block::kCertificateRequest)) != 0 ||
        !x.has(TlsExtension::kSignatureAlgorithms))
      e.fail();
    e.vec(m.request_context, 1, 0, 255);
    auto exts = e.open(2, 0, 0xffff);
    write_ext(e, TlsExtension::kSignatureAlgorithms,
              [&] { write_u16_list(e, m.signature_algorithms, 2, 0xfffe); });
    if (x.has(TlsExtension::kSignatureAlgorithmsCert)) {
      write_ext(e, TlsExtension::kSignatureAlgorithmsCert,
                [&] { write_u16_list(e, m.signature_algorithms_cert, 2, 0xfffe); });
    }
    write_others(e, m.other_extensions);
    e.close(exts);
  });
}

bool operator==(const CertificateRequest& a, const CertificateRequest& b) {
  return bytes_equal(a.request_context, b.request_context) && a.extensions == b.extensions &&
         a.signature_algorithms == b.signature_algorithms &&
         a.signature_algorithms_cert == b.signature_algorithms_cert &&
         a.other_extensions == b.other_extensions;
}

// ---------------------------------------------------------------------------
// CertificateVerify, Finished (RFC 8446 §4.4.3, §4.4.4)

std::optional<TlsAlert> parse_certificate_verify(ByteSpan body, CertificateVerify* out) {
  Reader r(body);
  bool ok = true;
  CertificateVerify m;
  m.algorithm = static_cast<std::uint16_t>(get(r, 2, &ok));
  if (!ok || !read_vec(r, 2, 0, 0xffff, &m.signature) || !r.empty()) return kDecodeError;
  *out = m;
  return kOk;
}

bool encode_certificate_verify(const CertificateVerify& m, Writer& w) {
  return write_message(w, HandshakeType::kCertificateVerify, [&](Enc& e) {
    e.w().write_uint(m.algorithm, 2);
    e.vec(m.signature, 2, 0, 0xffff);
  });
}

std::optional<TlsAlert> parse_finished(ByteSpan body, std::size_t verify_data_length,
                                       Finished* out) {
  if (body.size() != verify_data_length) return kDecodeError;
  out->verify_data = body;
  return kOk;
}

bool encode_finished(const Finished& m, Writer& w) {
  return write_message(w, HandshakeType::kFinished,
                       [&](Enc& e) { e.w().write_bytes(m.verify_data); });
}

// ---------------------------------------------------------------------------
// NewSessionTicket (RFC 8446 §4.6.1)

std::optional<TlsAlert> parse_new_session_ticket(ByteSpan body, NewSessionTicket* out) {
  NewSessionTicket m;
  Reader r(body);
  ByteSpan block;
  if (!r.read_u32(&m.ticket_lifetime) || !r.read_u32(&m.ticket_age_add) ||
      !read_vec(r, 1, 0, 255, &m.ticket_nonce) || !read_vec(r, 2, 1, 0xffff, &m.ticket) ||
      !read_vec(r, 2, 0, 0xfffe, &block) || !r.empty())
    return kDecodeError;
  auto on_ext = [&](TlsExtension, ByteSpan data, std::size_t) -> Alert {
    // early_data: max_early_data_size (RFC 8446 §4.2.10).
    Reader d(data);
    return d.read_u32(&m.max_early_data_size) && d.empty() ? kOk : kDecodeError;
  };
  if (Alert a = walk_extensions(block, Block::kNewSessionTicket, &m.extensions, &m.other_extensions,
                                on_ext))
    return a;
  *out = m;
  return kOk;
}

bool encode_new_session_ticket(const NewSessionTicket& m, Writer& w) {
  return write_message(w, HandshakeType::kNewSessionTicket, [&](Enc& e) {
    Writer& o = e.w();
    if ((m.extensions.bits & ~allowed(Block::kNewSessionTicket)) != 0) e.fail();
    o.write_u32(m.ticket_lifetime);
    o.write_u32(m.ticket_age_add);
    e.vec(m.ticket_nonce, 1, 0, 255);
    e.vec(m.ticket, 2, 1, 0xffff);
    auto exts = e.open(2, 0, 0xfffe);
    if (m.extensions.has(TlsExtension::kEarlyData)) {
      write_ext(e, TlsExtension::kEarlyData, [&] { o.write_u32(m.max_early_data_size); });
    }
    write_others(e, m.other_extensions);
    e.close(exts);
  });
}

bool operator==(const NewSessionTicket& a, const NewSessionTicket& b) {
  return a.ticket_lifetime == b.ticket_lifetime && a.ticket_age_add == b.ticket_age_add &&
         bytes_equal(a.ticket_nonce, b.ticket_nonce) && bytes_equal(a.ticket, b.ticket) &&
         a.extensions == b.extensions &&
         (!a.extensions.has(TlsExtension::kEarlyData) ||
          a.max_early_data_size == b.max_early_data_size) &&
         a.other_extensions == b.other_extensions;
}

}  // namespace dquic
