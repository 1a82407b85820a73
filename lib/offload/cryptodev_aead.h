// AEAD on an rte_cryptodev queue pair, in one of two modes:
//  - kAsync: crypto ops enqueued and dequeued on the queue pair (hardware
//    devices, or any PMD). Each seal()/open() waits for its whole burst, with
//    a bounded number of polls, so the engine is synchronous to its caller.
//  - kCpuCrypto: rte_cryptodev_sym_cpu_crypto_process on the caller's core,
//    one call per same-session run, no ops and no mempool (software PMDs that
//    advertise RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO).
//
// DPDK fixes the AAD length in the session (rte_crypto_aead_xform
// aad_length), while QUIC's AAD is the header, whose length varies with the
// packet-number length and, for long headers, the token and Length fields.
// So a key holds sessions per (direction, AAD length), created on first use
// and cached in the key (a short header key needs at most four per
// direction). Creating one is a mempool get plus key expansion, once per
// header shape per key; if it fails those ops fail (counted).
//
// Start-up self-tests, because capability flags are claims: each algorithm
// the device advertises is checked against OpenSSL (seal, open, bad tag) and
// dropped from supports() if it fails (22.11's chacha20_poly1305 PMD claims
// CPU crypto but answers ENOTSUP: no CPU-crypto engine there). Gather seals
// (AeadOp::gather) run out of place only where a probe shows they work:
// kAsync with a source chain of pre-allocated mbufs attached to the segments
// as external buffers (RTE_CRYPTODEV_FF_OOP_SGL_IN_LB_OUT; works on all four
// software PMDs), kCpuCrypto with src_sgl/dest_sgl (aesni_gcm ignores
// dest_sgl and encrypts the source in place while reporting success;
// aesni_mb refuses multi-segment input). Otherwise supports_gather() is false
// and the pipeline copies.
#pragma once

#include <cstdint>
#include <memory>

#include "drivers/crypto_device.h"
#include "offload/aead_engine.h"
#include "offload/cryptodev_queue.h"

namespace dquic::offload {

enum class CryptodevMode { kAsync, kCpuCrypto };

// Longest AAD (QUIC header) a device must accept for supports() to be true:
// short headers and long headers without a large token fit in it. Longer
// headers work where the device's AAD range allows; elsewhere the op fails.
inline constexpr std::uint16_t kQuicTypicalMaxAad = 64;

// Whether `info` can run `a` as QUIC needs it (key size, 12-byte IV, 16-byte
// tag, AAD up to kQuicTypicalMaxAad), from its queried capabilities.
bool cryptodev_supports_aead(const drivers::CryptoDeviceInfo& info, AeadAlgorithm a);

class CryptodevAeadEngine : public AeadEngine {
 public:
  virtual CryptodevMode mode() const = 0;
  virtual const CryptodevCounters& counters() const = 0;
};

// nullptr if the mode is unavailable on the device (no FF_SYM_CPU_CRYPTO for
// kCpuCrypto), the queue pair does not exist, or start-up allocation fails.
// The device must outlive the engine, and every key must be destroyed
// before the engine.
std::unique_ptr<CryptodevAeadEngine> make_cryptodev_aead_engine(const drivers::CryptoDevice& dev,
                                                                std::uint16_t queue_pair,
                                                                CryptodevMode mode);

}  // namespace dquic::offload
