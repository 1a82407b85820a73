// The header-protection half of packet protection (RFC 9001 §5.4): a 5-byte
// mask from each 16-byte ciphertext sample. AES suites use AES-ECB on the
// sample (§5.4.3); ChaCha20 uses the sample as counter and nonce (§5.4.4).
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "quic/packet_keys.h"

namespace dquic::offload {

inline constexpr std::size_t kHpSampleLength = 16;
inline constexpr std::size_t kHpMaskLength = 5;

using HpSample = std::array<std::uint8_t, kHpSampleLength>;
using HpMask = std::array<std::uint8_t, kHpMaskLength>;

class HpKey {
 public:
  virtual ~HpKey() = default;
};

class HpEngine {
 public:
  virtual ~HpEngine() = default;
  virtual const char* name() const = 0;
  virtual bool supports(AeadAlgorithm a) const = 0;
  // Uses keys.aead and keys.hp_key only. nullptr when out of resources.
  virtual HpKey* create_key(const PacketKeys& keys) = 0;
  virtual void destroy_key(HpKey* key) = 0;
  // masks[i] = HP(samples[i]) for every i; all with `key`. Returns false only
  // if the backend failed (the pipeline then drops those packets).
  virtual bool masks(HpKey* key, std::span<const HpSample> samples, std::span<HpMask> masks) = 0;
};

}  // namespace dquic::offload
