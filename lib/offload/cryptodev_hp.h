// Header-protection masks on an rte_cryptodev queue pair (RFC 9001 §5.4.3):
// AES-ECB of each 16-byte sample where the device offers AES-ECB, otherwise
// AES-CTR with the sample as the counter block encrypting 16 zero bytes,
// which is the same mask (the first keystream block is AES(sample)).
// ChaCha20 header protection (§5.4.4) is not a cryptodev cipher in DPDK
// 22.11: supports() is false for it and the pipeline uses the inline engine.
// Samples and masks pass through one scratch mbuf allocated at start-up.
#pragma once

#include <cstdint>
#include <memory>

#include "drivers/crypto_device.h"
#include "offload/cryptodev_queue.h"
#include "offload/hp_engine.h"

namespace dquic::offload {

// Whether `info` can compute AES header-protection masks for `a` (AES-ECB,
// or AES-CTR with a 16-byte IV, at the suite's key length).
bool cryptodev_supports_hp(const drivers::CryptoDeviceInfo& info, AeadAlgorithm a);

class CryptodevHpEngine : public HpEngine {
 public:
  // Whether masks use AES-ECB (else AES-CTR).
  virtual bool uses_ecb(AeadAlgorithm a) const = 0;
  virtual const CryptodevCounters& counters() const = 0;
};

// nullptr if the queue pair does not exist, the device has neither AES-ECB
// nor AES-CTR, or start-up allocation fails. The device must outlive the
// engine, and every key must be destroyed before the engine.
std::unique_ptr<CryptodevHpEngine> make_cryptodev_hp_engine(const drivers::CryptoDevice& dev,
                                                            std::uint16_t queue_pair);

}  // namespace dquic::offload
