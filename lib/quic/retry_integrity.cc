#include "quic/retry_integrity.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <limits>

#include "quic/connection_id.h"
#include "quic/packet_keys.h"
#include "quic/version.h"

namespace dquic {
namespace {

struct RetryConstants {
  std::array<std::uint8_t, 16> key;
  std::array<std::uint8_t, kAeadNonceLength> nonce;
};

// RFC 9001 §5.8.
constexpr RetryConstants kV1Retry{
    {0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8,
     0x4e},
    {0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb},
};

// RFC 9369 §3.3.3.
constexpr RetryConstants kV2Retry{
    {0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc,
     0x92},
    {0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a},
};

const RetryConstants* retry_constants(std::uint32_t version) {
  if (version == kVersion1) return &kV1Retry;
  if (version == kVersion2) return &kV2Retry;
  return nullptr;
}

// AES-128-GCM contexts keyed with each version's Retry key, one set per
// thread: Retry is what a server sends to every unvalidated client when under
// load, so it avoids a context allocation and AES key expansion per packet.
// Each use re-sets the nonce, which restarts GCM.
class RetryAead {
 public:
  RetryAead() {
    EVP_CIPHER* aes = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
    if (aes == nullptr) return;
    v1_ = make(aes, kV1Retry);
    v2_ = make(aes, kV2Retry);
    EVP_CIPHER_free(aes);  // the contexts hold their own references
  }
  ~RetryAead() {
    EVP_CIPHER_CTX_free(v1_);
    EVP_CIPHER_CTX_free(v2_);
  }
  RetryAead(const RetryAead&) = delete;
  RetryAead& operator=(const RetryAead&) = delete;

  EVP_CIPHER_CTX* get(const RetryConstants& c) const { return &c == &kV1Retry ? v1_ : v2_; }

 private:
  static EVP_CIPHER_CTX* make(EVP_CIPHER* aes, const RetryConstants& c) {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    if (ctx != nullptr && EVP_EncryptInit_ex2(ctx, aes, c.key.data(), nullptr, nullptr) == 1) {
      return ctx;
    }
    EVP_CIPHER_CTX_free(ctx);
    return nullptr;
  }

  EVP_CIPHER_CTX* v1_ = nullptr;
  EVP_CIPHER_CTX* v2_ = nullptr;
};

// Feeds one part of the AAD; GCM accepts it in pieces, so the pseudo-packet
// is never assembled.
bool add_aad(EVP_CIPHER_CTX* ctx, ByteSpan part) {
  if (part.empty()) return true;
  int outl = 0;
  return EVP_EncryptUpdate(ctx, nullptr, &outl, part.data(), static_cast<int>(part.size())) == 1;
}

}  // namespace

bool compute_retry_integrity_tag(std::uint32_t version, ByteSpan original_dcid,
                                 ByteSpan retry_without_tag,
                                 std::span<std::uint8_t, kRetryIntegrityTagLength> tag) {
  const RetryConstants* c = retry_constants(version);
  if (c == nullptr || original_dcid.size() > kMaxConnectionIdLength ||
      retry_without_tag.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return false;
  }
  static thread_local RetryAead aead;
  EVP_CIPHER_CTX* ctx = aead.get(*c);
  if (ctx == nullptr) return false;

  // RFC 9001 §5.8: the plaintext is empty and the AAD is the pseudo-packet
  // ODCID Length || ODCID || Retry packet without its tag.
  const std::uint8_t odcid_len = static_cast<std::uint8_t>(original_dcid.size());
  int outl = 0;
  std::array<std::uint8_t, 16> unused;  // GCM's final emits no bytes
  return EVP_EncryptInit_ex2(ctx, nullptr, nullptr, c->nonce.data(), nullptr) == 1 &&
         add_aad(ctx, {&odcid_len, 1}) && add_aad(ctx, original_dcid) &&
         add_aad(ctx, retry_without_tag) && EVP_EncryptFinal_ex(ctx, unused.data(), &outl) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag.size()),
                             tag.data()) == 1;
}

bool verify_retry_integrity_tag(std::uint32_t version, ByteSpan original_dcid,
                                ByteSpan retry_packet) {
  if (retry_packet.size() < kRetryIntegrityTagLength) return false;
  const std::size_t body = retry_packet.size() - kRetryIntegrityTagLength;
  std::array<std::uint8_t, kRetryIntegrityTagLength> expected;
  if (!compute_retry_integrity_tag(version, original_dcid, retry_packet.first(body), expected)) {
    return false;
  }
  return CRYPTO_memcmp(expected.data(), retry_packet.data() + body, expected.size()) == 0;
}

}  // namespace dquic
