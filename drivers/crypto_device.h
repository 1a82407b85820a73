// rte_cryptodev bring-up: what each crypto device can do, read from its
// capability list and feature flags (never inferred from the driver name),
// and starting a device with one queue pair per lcore and a session pool.
// Start-up only: nothing here runs on the per-packet path.
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

namespace dquic::drivers {

// A capability size range (rte_crypto_param_range): min..max in steps of
// increment; increment 0 means only min.
struct SizeRange {
  std::uint16_t min = 0;
  std::uint16_t max = 0;
  std::uint16_t increment = 0;

  bool allows(std::uint16_t v) const {
    if (v < min || v > max) return false;
    if (increment == 0) return v == min;
    return (v - min) % increment == 0;
  }
};

// One symmetric algorithm the device advertises (AEAD or cipher).
struct SymCapability {
  bool present = false;
  SizeRange key;
  SizeRange iv;
  SizeRange digest;  // AEAD only
  SizeRange aad;     // AEAD only
};

struct CryptoDeviceInfo {
  std::uint8_t dev_id = 0;
  std::string name;    // rte_cryptodev_name_get: e.g. the vdev name
  std::string driver;  // for logs only; never used to decide anything
  int socket = 0;
  std::uint64_t feature_flags = 0;
  std::uint16_t max_queue_pairs = 0;
  std::uint32_t max_sessions = 0;  // 0 = unlimited
  SymCapability aes_gcm;
  SymCapability chacha20_poly1305;
  SymCapability aes_ecb;
  SymCapability aes_ctr;

  bool has(std::uint64_t ff) const { return (feature_flags & ff) == ff; }
  bool cpu_crypto() const;         // RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO
  bool hw_accelerated() const;     // RTE_CRYPTODEV_FF_HW_ACCELERATED
  bool in_place_sgl() const;       // RTE_CRYPTODEV_FF_IN_PLACE_SGL
  bool oop_sgl_in_lb_out() const;  // gather into one linear destination
  bool oop_sgl_in_sgl_out() const;
  bool oop_lb_in_lb_out() const;
};

// Every cryptodev the EAL created (PCI devices and --vdev), with capabilities.
std::vector<CryptoDeviceInfo> probe_crypto_devices();
// The device named `name`, or nullptr.
const CryptoDeviceInfo* find_crypto_device(const std::vector<CryptoDeviceInfo>& devices,
                                           const std::string& name);

inline constexpr std::uint32_t kDefaultQpDescriptors = 2048;

// A configured and started device. Sessions for every queue pair come from
// `session_pool`; crypto ops are the engines' own (one op pool per engine).
struct CryptoDevice {
  CryptoDeviceInfo info;
  std::uint16_t queue_pairs = 0;
  std::uint32_t descriptors = 0;  // per queue pair
  std::uint32_t sessions = 0;     // session pool size
  rte_mempool* session_pool = nullptr;
  bool started = false;
};

// Configures `dev_id` with `queue_pairs` queue pairs (one per lcore that uses
// it) of `descriptors` each, creates a pool of `sessions` sessions (clamped
// to the device's max_nb_sessions when it has one) and starts it. On failure
// returns false, sets *err and leaves nothing allocated.
bool start_crypto_device(std::uint8_t dev_id, std::uint16_t queue_pairs, std::uint32_t sessions,
                         int socket, CryptoDevice* out, std::string* err,
                         std::uint32_t descriptors = kDefaultQpDescriptors);
// Stops the device (no more enqueues). Sessions stay valid.
void stop_crypto_device(CryptoDevice* dev);
// Stops if needed, closes the device and frees the session pool: every
// session must have been freed first. The device can be started again.
void close_crypto_device(CryptoDevice* dev);

}  // namespace dquic::drivers
