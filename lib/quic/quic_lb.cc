#include "quic/quic_lb.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace dquic {

namespace {

constexpr std::uint8_t kRotationShift = 5;
constexpr std::uint8_t kLowBitsMask = 0x1f;

// §5.4.2.2: expand(length, pass, input) = input || zeros || length || pass.
void expand(std::size_t plaintext_len, std::uint8_t pass, const std::uint8_t* half,
            std::size_t half_len, std::array<std::uint8_t, 16>* out) {
  out->fill(0);
  std::memcpy(out->data(), half, half_len);
  (*out)[14] = static_cast<std::uint8_t>(plaintext_len);
  (*out)[15] = pass;
}

// A half is at most 10 bytes (a 19-byte plaintext); the explicit bound also
// lets g++ 12 -O3 see that (it warns of overflow otherwise).
constexpr std::size_t kMaxHalf = 10;
using Half = std::array<std::uint8_t, kMaxHalf>;

void xor_into(Half& dst, const std::uint8_t* src, std::size_t n) {
  for (std::size_t i = 0; i < n && i < kMaxHalf; ++i)
    dst[i] ^= src[i];
}

// §5.4.2.3: with an odd plaintext length the halves share the middle octet;
// the left half keeps its high nibble, the right half its low nibble.
void clear_left(std::uint8_t* left, std::size_t half_len, bool odd) {
  if (odd) left[half_len - 1] &= 0xf0;
}
void clear_right(std::uint8_t* right, bool odd) {
  if (odd) right[0] &= 0x0f;
}

}  // namespace

bool QuicLbServerId::from(ByteSpan b, QuicLbServerId* out) {
  if (b.size() > kQuicLbMaxServerIdLength) return false;
  out->length = static_cast<std::uint8_t>(b.size());
  out->bytes.fill(0);
  std::copy(b.begin(), b.end(), out->bytes.begin());
  return true;
}

const char* to_string(QuicLbConfigError e) {
  switch (e) {
    case QuicLbConfigError::kOk:
      return "ok";
    case QuicLbConfigError::kReservedConfigRotation:
      return "config rotation 0b111 is reserved for unroutable CIDs";
    case QuicLbConfigError::kConfigRotationOutOfRange:
      return "config rotation does not fit in 3 bits";
    case QuicLbConfigError::kServerIdLength:
      return "server ID length must be 1..15 octets";
    case QuicLbConfigError::kNonceLength:
      return "nonce length must be 4..18 octets";
    case QuicLbConfigError::kTooLong:
      return "server ID and nonce lengths must sum to at most 19 octets";
    case QuicLbConfigError::kCipher:
      return "AES-128-ECB setup failed";
  }
  return "unknown";
}

std::optional<std::uint8_t> quic_lb_config_rotation(ByteSpan cid) {
  if (cid.empty()) return std::nullopt;
  return static_cast<std::uint8_t>(cid[0] >> kRotationShift);
}

bool quic_lb_unroutable(ByteSpan cid) {
  return cid.empty() || (cid[0] >> kRotationShift) == kQuicLbUnroutableRotation;
}

std::uint8_t quic_lb_unroutable_first_octet(std::size_t cid_length) {
  const std::size_t rest = cid_length == 0 ? 0 : cid_length - 1;
  return static_cast<std::uint8_t>((kQuicLbUnroutableRotation << kRotationShift) |
                                   (rest & kLowBitsMask));
}

QuicLbConfig::~QuicLbConfig() {
  release();
}

QuicLbConfig::QuicLbConfig(QuicLbConfig&& other) noexcept {
  *this = std::move(other);
}

QuicLbConfig& QuicLbConfig::operator=(QuicLbConfig&& other) noexcept {
  if (this == &other) return *this;
  release();
  settings_ = other.settings_;
  encrypt_ = std::exchange(other.encrypt_, nullptr);
  decrypt_ = std::exchange(other.decrypt_, nullptr);
  ready_ = std::exchange(other.ready_, false);
  other.release();
  return *this;
}

void QuicLbConfig::release() {
  EVP_CIPHER_CTX_free(encrypt_);  // also wipes the key schedule
  EVP_CIPHER_CTX_free(decrypt_);
  encrypt_ = nullptr;
  decrypt_ = nullptr;
  if (settings_.key) OPENSSL_cleanse(settings_.key->data(), settings_.key->size());
  settings_ = QuicLbSettings{};
  ready_ = false;
}

QuicLbConfigError QuicLbConfig::validate(const QuicLbSettings& s) {
  if (s.config_rotation == kQuicLbUnroutableRotation)
    return QuicLbConfigError::kReservedConfigRotation;  // §3.1 MUST NOT
  if (s.config_rotation > kQuicLbUnroutableRotation)
    return QuicLbConfigError::kConfigRotationOutOfRange;
  if (s.server_id.length < kQuicLbMinServerIdLength ||
      s.server_id.length > kQuicLbMaxServerIdLength)
    return QuicLbConfigError::kServerIdLength;  // §5.3: at least 1 octet
  if (s.nonce_length < kQuicLbMinNonceLength || s.nonce_length > kQuicLbMaxNonceLength)
    return QuicLbConfigError::kNonceLength;  // §5.3: at least 4 octets
  if (s.server_id.length + s.nonce_length > kQuicLbMaxPlaintextLength)
    return QuicLbConfigError::kTooLong;  // §5.3: at most 19 octets
  return QuicLbConfigError::kOk;
}

QuicLbConfigError QuicLbConfig::init(const QuicLbSettings& s) {
  release();
  const QuicLbConfigError e = validate(s);
  if (e != QuicLbConfigError::kOk) return e;
  settings_ = s;
  if (s.key) {
    // §5.4: AES-128-ECB, whole blocks, no padding. The single-pass case
    // (§5.4.1/§5.5.1) also needs the inverse cipher to decode; the Feistel
    // network only ever encrypts.
    encrypt_ = EVP_CIPHER_CTX_new();
    bool ok =
        encrypt_ != nullptr &&
        EVP_EncryptInit_ex(encrypt_, EVP_aes_128_ecb(), nullptr, s.key->data(), nullptr) == 1 &&
        EVP_CIPHER_CTX_set_padding(encrypt_, 0) == 1;
    if (ok && plaintext_length() == 16) {
      decrypt_ = EVP_CIPHER_CTX_new();
      ok = decrypt_ != nullptr &&
           EVP_DecryptInit_ex(decrypt_, EVP_aes_128_ecb(), nullptr, s.key->data(), nullptr) == 1 &&
           EVP_CIPHER_CTX_set_padding(decrypt_, 0) == 1;
    }
    if (!ok) {
      release();
      return QuicLbConfigError::kCipher;
    }
  }
  ready_ = true;
  return QuicLbConfigError::kOk;
}

bool QuicLbConfig::aes(bool decrypt, const Block& in, Block* out) const {
  int len = 0;
  // EVP_DecryptUpdate with padding off releases a whole block at once.
  const int rc = decrypt ? EVP_DecryptUpdate(decrypt_, out->data(), &len, in.data(), 16)
                         : EVP_EncryptUpdate(encrypt_, out->data(), &len, in.data(), 16);
  return rc == 1 && len == 16;
}

// One pass of §5.4.2.3 (encrypting) or §5.5.2 (undoing it, same
// function): odd passes encrypt the left half into the right one (steps
// 3-5, 8-9), even passes the right half into the left one (steps 6-7,
// 10-11).
bool QuicLbConfig::feistel_round(std::uint8_t pass, std::size_t len, Half& left,
                                 Half& right) const {
  const std::size_t half = (len + 1) / 2;
  const bool odd = (len & 1) != 0;
  const bool to_right = (pass & 1) != 0;
  Block in, out;
  expand(len, pass, to_right ? left.data() : right.data(), half, &in);
  if (!aes(false, in, &out)) return false;
  if (to_right) {
    xor_into(right, out.data(), half);
    clear_right(right.data(), odd);
  } else {
    xor_into(left, out.data(), half);
    clear_left(left.data(), half, odd);
  }
  return true;
}

// §5.4.2.3 steps 2-12, in place on the plaintext block (server ID || nonce).
bool QuicLbConfig::feistel_encrypt(std::uint8_t* block) const {
  const std::size_t len = plaintext_length();
  const std::size_t half = (len + 1) / 2;
  const bool odd = (len & 1) != 0;
  Half left{}, right{};
  std::memcpy(left.data(), block, half);  // step 2
  std::memcpy(right.data(), block + len - half, half);
  clear_left(left.data(), half, odd);
  clear_right(right.data(), odd);
  for (std::uint8_t pass = 1; pass <= 4; ++pass) {
    // Odd passes encrypt the left half into the right one (steps 3-5, 8-9),
    // even passes the right half into the left one (steps 6-7, 10-11).
    if (!feistel_round(pass, len, left, right)) return false;
  }
  // Step 12: with an odd length the zeroed nibbles overlap in the middle octet.
  std::memset(block, 0, len);
  for (std::size_t i = 0; i < half; ++i) {
    block[i] |= left[i];
    block[len - half + i] |= right[i];
  }
  return true;
}

// §5.5.2, in place on the ciphertext block. Recovers left_0 always and right_0
// (the rest of a long server ID, or the nonce) when `need_right`.
bool QuicLbConfig::feistel_decrypt(std::uint8_t* block, bool need_right) const {
  const std::size_t len = plaintext_length();
  const std::size_t half = (len + 1) / 2;
  const bool odd = (len & 1) != 0;
  Half left{}, right{};
  std::memcpy(left.data(), block, half);
  std::memcpy(right.data(), block + len - half, half);
  clear_left(left.data(), half, odd);
  clear_right(right.data(), odd);
  const std::uint8_t last_pass = need_right ? 1 : 2;
  for (std::uint8_t pass = 4; pass >= last_pass; --pass) {
    // Undo pass p by recomputing its round function from the half it read.
    if (!feistel_round(pass, len, left, right)) return false;
  }
  std::memset(block, 0, len);
  for (std::size_t i = 0; i < half; ++i)
    block[i] |= left[i];
  if (need_right) {
    for (std::size_t i = 0; i < half; ++i)
      block[len - half + i] |= right[i];
  }
  return true;
}

bool QuicLbConfig::generate(ByteSpan nonce, std::uint8_t random_bits, ConnectionId* out) const {
  return generate(settings_.server_id.span(), nonce, random_bits, out);
}

bool QuicLbConfig::generate(ByteSpan server_id, ByteSpan nonce, std::uint8_t random_bits,
                            ConnectionId* out) const {
  if (!ready_ || server_id.size() != server_id_length() || nonce.size() != nonce_length())
    return false;
  const std::size_t len = plaintext_length();
  std::array<std::uint8_t, kQuicLbMaxPlaintextLength> block{};
  std::memcpy(block.data(), server_id.data(), server_id.size());  // §5.2
  std::memcpy(block.data() + server_id.size(), nonce.data(), nonce.size());
  if (settings_.key) {
    if (len == 16) {  // §5.4.1: one AES block
      Block in, enc;
      std::memcpy(in.data(), block.data(), 16);
      if (!aes(false, in, &enc)) return false;
      std::memcpy(block.data(), enc.data(), 16);
    } else if (!feistel_encrypt(block.data())) {  // §5.4.2
      return false;
    }
  }
  // §3.4: Config Rotation (3) || CID Len or Random Bits (5).
  const std::uint8_t low =
      settings_.encode_length ? static_cast<std::uint8_t>(len) : (random_bits & kLowBitsMask);
  out->length = static_cast<std::uint8_t>(1 + len);
  out->bytes.fill(0);
  out->bytes[0] = static_cast<std::uint8_t>(settings_.config_rotation << kRotationShift) | low;
  std::memcpy(out->bytes.data() + 1, block.data(), len);
  return true;
}

bool QuicLbConfig::decode_plaintext(ByteSpan cid, std::uint8_t* block, bool need_nonce) const {
  if (!ready_ || cid.size() < cid_length()) return false;
  const std::uint8_t first = cid[0];
  if ((first >> kRotationShift) != settings_.config_rotation) return false;  // §3.1, §4.1
  const std::size_t len = plaintext_length();
  if (settings_.encode_length && (first & kLowBitsMask) != len) return false;  // §4.1 MAY
  std::memcpy(block, cid.data() + 1, len);
  if (!settings_.key) return true;  // §5.5: the server ID is in the clear
  if (len == 16) {                  // §5.5.1
    Block in, dec;
    std::memcpy(in.data(), block, 16);
    if (!aes(true, in, &dec)) return false;
    std::memcpy(block, dec.data(), 16);
    return true;
  }
  // §5.5.2: three passes suffice when the server ID fits in left_0, i.e. the
  // nonce is at least as long as the server ID.
  const bool need_right = need_nonce || server_id_length() > len / 2;
  return feistel_decrypt(block, need_right);
}

std::optional<QuicLbServerId> QuicLbConfig::decode(ByteSpan cid) const {
  std::array<std::uint8_t, kQuicLbMaxPlaintextLength> block{};
  if (!decode_plaintext(cid, block.data(), false)) return std::nullopt;
  QuicLbServerId id;
  id.length = static_cast<std::uint8_t>(server_id_length());
  std::memcpy(id.bytes.data(), block.data(), id.length);
  return id;
}

std::optional<QuicLbServerId> QuicLbConfig::decode(ByteSpan cid,
                                                   std::span<std::uint8_t> nonce) const {
  if (nonce.size() != nonce_length()) return std::nullopt;
  std::array<std::uint8_t, kQuicLbMaxPlaintextLength> block{};
  if (!decode_plaintext(cid, block.data(), true)) return std::nullopt;
  QuicLbServerId id;
  id.length = static_cast<std::uint8_t>(server_id_length());
  std::memcpy(id.bytes.data(), block.data(), id.length);
  std::memcpy(nonce.data(), block.data() + id.length, nonce.size());
  return id;
}

}  // namespace dquic
