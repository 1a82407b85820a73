// Start-up choice of the packet-protection backends, from the crypto
// devices' queried capabilities, overridable by options; owns the engines
// (one set per lane, i.e. per lcore, each device engine on its own queue
// pair) and hands out the per-lane Protector.
//
// Auto policy:
//  AEAD: 1. a device with RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO supporting
//           AES-128-GCM, in CPU-crypto mode (software PMDs: no op, no ring,
//           the lowest cost per packet);
//        2. else a device advertising RTE_CRYPTODEV_FF_HW_ACCELERATED with
//           AES-128-GCM, async;
//        3. else any device with AES-128-GCM, async;
//        4. else inline OpenSSL EVP.
//  HP:   inline (AES-NI costs ~10 cycles per mask; a device op costs 100+).
//  Keys an engine refuses (algorithm, sessions) go inline per key anyway.
// Zero-copy (ProtectionOptions::zero_copy, h3-static's default): payloads
// handed over as gather lists (file pages) must be read by the cipher
// itself, never copied first. The auto AEAD then skips the engines that
// cannot: CPU crypto (22.11's CPU-crypto API cannot write out of place) and
// hardware devices (they would DMA from pages we have not registered with
// them); it takes a software device async (reads by virtual address), else
// inline EVP. Every protector then gathers (set_gather_preferred), and an
// explicit choice that would copy is an error.
// Overrides: aead = inline|cryptodev|cpu, hp = inline|cryptodev, device =
// a cryptodev name to use instead of the first capable one. An explicit
// choice the machine cannot satisfy is an error.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "drivers/crypto_device.h"
#include "offload/aead_engine.h"
#include "offload/hp_engine.h"
#include "offload/protector.h"

namespace dquic::offload {

struct ProtectionOptions {
  std::string aead = "auto";  // auto|inline|cryptodev|cpu
  std::string hp = "auto";    // auto|inline|cryptodev
  std::string device;         // cryptodev name; empty = first capable
  std::uint32_t sessions = 4096;
  bool zero_copy = false;  // see the file comment
};

enum class AeadBackend : std::uint8_t { kInline, kCryptodevAsync, kCpuCrypto };
enum class HpBackend : std::uint8_t { kInline, kCryptodev };

struct BackendChoice {
  AeadBackend aead = AeadBackend::kInline;
  int aead_device = -1;  // index into the probed devices, -1 when inline
  HpBackend hp = HpBackend::kInline;
  int hp_device = -1;
};

// The policy above, as a pure function of the options and the probed
// devices. False with *err when the options cannot be satisfied.
bool choose_backends(const ProtectionOptions& options,
                     const std::vector<drivers::CryptoDeviceInfo>& devices, BackendChoice* out,
                     std::string* err);

const char* aead_backend_name(AeadBackend b);
const char* hp_backend_name(HpBackend b);

class ProtectionBackends {
 public:
  // Probes, chooses, starts the chosen devices with `lanes` queue pairs and
  // options.sessions sessions each, and makes every lane's engines.
  // nullptr with *err on failure (the apps exit 2).
  static std::unique_ptr<ProtectionBackends> create(const ProtectionOptions& options,
                                                    std::uint16_t lanes, std::string* err);
  ~ProtectionBackends();
  ProtectionBackends(const ProtectionBackends&) = delete;
  ProtectionBackends& operator=(const ProtectionBackends&) = delete;

  // The pipeline for one lane (one lcore). It must be destroyed, and its
  // keys released, before this object.
  std::unique_ptr<Protector> make_protector(std::uint16_t lane);

  std::uint16_t lanes() const { return lanes_; }
  const BackendChoice& choice() const { return choice_; }
  AeadEngine* aead_engine(std::uint16_t lane) const;
  HpEngine* hp_engine(std::uint16_t lane) const;
  // One line for the start-up log.
  std::string describe() const;

 private:
  struct Lane {
    std::unique_ptr<AeadEngine> inline_aead;
    std::unique_ptr<HpEngine> inline_hp;
    std::unique_ptr<AeadEngine> device_aead;  // null when inline
    std::unique_ptr<HpEngine> device_hp;
  };

  ProtectionBackends() = default;

  BackendChoice choice_;
  std::uint16_t lanes_ = 0;
  bool zero_copy_ = false;
  std::vector<drivers::CryptoDeviceInfo> devices_;
  std::vector<drivers::CryptoDevice> started_;
  std::vector<Lane> lane_engines_;
};

}  // namespace dquic::offload
