#include "quic/stateless_reset.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <utility>

#include "quic/connection_id.h"

namespace dquic {

StatelessResetTokenGenerator::StatelessResetTokenGenerator(ByteSpan static_key) {
  if (static_key.size() < kMinKeyLength) return;
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  EVP_MAC_CTX* ctx = hmac != nullptr ? EVP_MAC_CTX_new(hmac) : nullptr;
  EVP_MAC_free(hmac);  // the context keeps its own reference
  if (ctx == nullptr) return;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(ctx, static_key.data(), static_key.size(), params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return;
  }
  mac_ = ctx;
}

StatelessResetTokenGenerator::~StatelessResetTokenGenerator() {
  EVP_MAC_CTX_free(mac_);  // cleanses the key
}

StatelessResetTokenGenerator::StatelessResetTokenGenerator(
    StatelessResetTokenGenerator&& o) noexcept
    : mac_(std::exchange(o.mac_, nullptr)) {}

StatelessResetTokenGenerator& StatelessResetTokenGenerator::operator=(
    StatelessResetTokenGenerator&& o) noexcept {
  if (this != &o) {
    EVP_MAC_CTX_free(mac_);
    mac_ = std::exchange(o.mac_, nullptr);
  }
  return *this;
}

bool StatelessResetTokenGenerator::token_for(ByteSpan connection_id, StatelessResetToken* out) {
  if (mac_ == nullptr || connection_id.empty() || connection_id.size() > kMaxConnectionIdLength) {
    return false;
  }
  std::array<std::uint8_t, 32> digest;  // SHA-256
  std::size_t len = 0;
  // A null key re-initialises with the key set at construction.
  const bool ok = EVP_MAC_init(mac_, nullptr, 0, nullptr) == 1 &&
                  EVP_MAC_update(mac_, connection_id.data(), connection_id.size()) == 1 &&
                  EVP_MAC_final(mac_, digest.data(), &len, digest.size()) == 1 &&
                  len == digest.size();
  if (ok) std::copy_n(digest.begin(), out->size(), out->begin());  // §10.3.2: truncate to 16
  OPENSSL_cleanse(digest.data(), digest.size());
  return ok;
}

std::size_t build_stateless_reset(const StatelessResetToken& token, std::size_t trigger_size,
                                  ByteSpan unpredictable, std::span<std::uint8_t> out) {
  // §10.3.3: strictly smaller than the trigger; §10.3: at least 21 bytes.
  if (trigger_size <= kMinStatelessResetSize) return 0;
  const std::size_t size =
      std::min({trigger_size - 1, unpredictable.size() + token.size(), out.size()});
  if (size < kMinStatelessResetSize) return 0;
  const std::size_t random_len = size - token.size();
  std::copy_n(unpredictable.begin(), random_len, out.begin());
  // §10.3: Fixed Bits = 01, so it looks like a short header (§17.3.1).
  out[0] = static_cast<std::uint8_t>(0x40 | (out[0] & 0x3f));
  std::copy(token.begin(), token.end(), out.begin() + static_cast<std::ptrdiff_t>(random_len));
  return size;
}

bool is_stateless_reset(ByteSpan datagram, std::span<const StatelessResetToken> tokens) {
  if (datagram.size() < kMinStatelessResetSize) return false;
  const std::uint8_t* tail = datagram.data() + datagram.size() - kStatelessResetTokenLength;
  // §10.3.1: no early exit, so the time taken does not depend on which token,
  // if any, matched.
  int match = 0;
  for (const StatelessResetToken& t : tokens)
    match |= CRYPTO_memcmp(tail, t.data(), t.size()) == 0;
  return match != 0;
}

StatelessResetLimiter::StatelessResetLimiter(std::uint32_t per_second, std::uint32_t burst)
    : per_second_(per_second), capacity_(std::uint64_t{burst} * kScale), credit_(capacity_) {}

bool StatelessResetLimiter::allow(std::int64_t now_ms) {
  if (!started_) {
    started_ = true;
    last_ms_ = now_ms;
  } else if (now_ms > last_ms_) {
    // Refill per_second_ credit per ms; compare by division so that a long
    // pause cannot overflow the product.
    const auto elapsed = static_cast<std::uint64_t>(now_ms) - static_cast<std::uint64_t>(last_ms_);
    const std::uint64_t room = capacity_ - credit_;
    if (per_second_ != 0 && elapsed > room / per_second_) {
      credit_ = capacity_;
    } else {
      credit_ += elapsed * per_second_;
    }
    last_ms_ = now_ms;
  }
  if (credit_ < kScale) return false;
  credit_ -= kScale;
  return true;
}

}  // namespace dquic
