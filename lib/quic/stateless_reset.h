// Stateless Reset (RFC 9000 §10.3): deriving tokens from a static key,
// building the packet, recognising one, and bounding how many are sent.
//
// An endpoint that receives a datagram it cannot match to a connection:
//   1. drops it if is_reflection_prone_source_port() (source_port_filter.h)
//      or the limiter refuses;
//   2. derives the token for the packet's DCID with
//      StatelessResetTokenGenerator::token_for();
//   3. fills a buffer with unpredictable bytes and calls
//      build_stateless_reset().
// The unpredictable bytes come from the caller, as the header encoders'
// random bits do: the packet is deterministic under test, and the runtime
// picks the generator (RAND_bytes, or a faster per-lcore CSPRNG).
#pragma once

#include <openssl/types.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "quic/buffer.h"
#include "quic/transport_params.h"  // StatelessResetToken

namespace dquic {

// RFC 9000 §10.3: a first byte with the fixed bits, at least 38 unpredictable
// bits (5 bytes with the first), then the 16-byte token.
inline constexpr std::size_t kMinStatelessResetSize = 21;
// RFC 9000 §10.3: a reset answering a packet of up to 43 bytes SHOULD be one
// byte shorter than it.
inline constexpr std::size_t kStatelessResetSmallTrigger = 43;

// RFC 9000 §10.3.2: token = the first 16 bytes of HMAC-SHA256(static_key,
// connection_id). Any instance holding the key derives the same token for a
// CID, so one that lost the connection's state can still reset it.
//
// Not thread-safe (it reuses one keyed HMAC context): one per lcore. OpenSSL
// 3.0 still allocates inside each HMAC; that happens when a CID is issued and,
// rate-limited, when a reset is sent, never for ordinary packets.
class StatelessResetTokenGenerator {
 public:
  // Use a random key of 32 bytes; shorter than 16 is refused.
  static constexpr std::size_t kMinKeyLength = 16;

  // Check ok() afterwards: a short key or an OpenSSL failure leaves the
  // generator unusable. It keeps no copy of the key outside OpenSSL.
  explicit StatelessResetTokenGenerator(ByteSpan static_key);
  ~StatelessResetTokenGenerator();
  StatelessResetTokenGenerator(StatelessResetTokenGenerator&& o) noexcept;
  StatelessResetTokenGenerator& operator=(StatelessResetTokenGenerator&& o) noexcept;
  StatelessResetTokenGenerator(const StatelessResetTokenGenerator&) = delete;
  StatelessResetTokenGenerator& operator=(const StatelessResetTokenGenerator&) = delete;

  bool ok() const { return mac_ != nullptr; }

  // False for an empty CID, which cannot be reset statelessly (§10.3.2), a
  // CID over 20 bytes, or an OpenSSL failure.
  [[nodiscard]] bool token_for(ByteSpan connection_id, StatelessResetToken* out);

 private:
  EVP_MAC_CTX* mac_ = nullptr;  // keyed once; each token re-initialises it
};

// Builds a Stateless Reset answering a datagram of `trigger_size` bytes into
// `out` and returns its size, or 0 if none may be sent.
//
// Size: min(trigger_size - 1, unpredictable.size() + 16, out.size()). It is
// always smaller than the trigger, so two endpoints answering each other's
// resets shrink to silence (§10.3.3), and never below 21 bytes (§10.3), so a
// trigger of 21 bytes or fewer gets no reply. Short triggers (up to 43
// bytes) get a reset one byte shorter, as §10.3 recommends; for larger ones
// the caller chooses the size through how many unpredictable bytes it gives
// (sizes from 41 bytes up are hard to tell from real packets, §10.3.3).
//
// Layout (§10.3): 0b01 then 6 unpredictable bits, more unpredictable bytes,
// the token last. The first byte reads as a short header's.
std::size_t build_stateless_reset(const StatelessResetToken& token, std::size_t trigger_size,
                                  ByteSpan unpredictable, std::span<std::uint8_t> out);

// RFC 9000 §10.3.1: whether the datagram ends in one of `tokens` (those of
// the connection's peer on that address). Every token is compared in full
// with CRYPTO_memcmp, so timing reveals neither the tokens nor which one
// matched. Datagrams shorter than 21 bytes are never resets.
bool is_stateless_reset(ByteSpan datagram, std::span<const StatelessResetToken> tokens);

// RFC 9000 §10.3.3 ("stop generating new Stateless Resets once a limit is
// reached"): a token bucket of `burst` resets refilled at `per_second`. It
// starts full. Time is passed in, in ms; a clock that steps back refills
// nothing. An endpoint can keep one per remote address bucket to stop one
// peer exhausting the budget of all.
class StatelessResetLimiter {
 public:
  StatelessResetLimiter(std::uint32_t per_second, std::uint32_t burst);

  // True, and one reset spent, if a reset may be sent at `now_ms`.
  bool allow(std::int64_t now_ms);

 private:
  static constexpr std::uint64_t kScale = 1000;  // credit per reset: one per ms at 1/s

  std::uint64_t per_second_;
  std::uint64_t capacity_;  // burst * kScale
  std::uint64_t credit_;
  std::int64_t last_ms_ = 0;
  bool started_ = false;
};

}  // namespace dquic
