// One engine's use of one cryptodev queue pair: its own crypto-op pool (per-op
// IV in the op's private area, as ipsec-secgw does) and the bounded
// enqueue/dequeue loop shared by the AEAD and header-protection engines.
// Internal to lib/offload's cryptodev engines.
#pragma once

#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <atomic>
#include <cstdint>
#include <cstdio>

namespace dquic::offload {

// Ops per device round trip; longer spans are processed in chunks of this.
inline constexpr std::uint16_t kCryptodevBurst = 64;
// Empty dequeue polls before a round is abandoned. A software PMD completes
// a burst on the first poll and hardware within microseconds; ~10^6 polls
// (tens of milliseconds) means the device is stuck, not slow.
inline constexpr std::uint32_t kCryptodevMaxPolls = 1u << 20;

struct CryptodevCounters {
  std::uint64_t enqueue_retries = 0;     // enqueue accepted fewer ops than offered
  std::uint64_t empty_polls = 0;         // dequeues that returned nothing
  std::uint64_t timeouts = 0;            // rounds abandoned after kCryptodevMaxPolls
  std::uint64_t stale_ops = 0;           // ops of abandoned rounds dequeued later
  std::uint64_t op_pool_empty = 0;       // rounds failed for want of ops
  std::uint64_t session_failures = 0;    // sessions that could not be created on use
  std::uint64_t gather_copies = 0;       // gather seals the engine copied first
  std::uint64_t self_test_failures = 0;  // algorithms dropped at start-up
};

// The op's private area, right after the symmetric op.
struct CryptodevOpPriv {
  std::uint8_t iv[16];
  const void* owner;    // engine that enqueued the op
  std::uint64_t round;  // which round of that engine
  rte_mbuf* src_chain;  // gather source chain to free with the op, or nullptr
  std::uint32_t index;  // position in the caller's span
};

// Offset of the IV from the start of the op (rte_crypto_sym_xform iv.offset).
inline constexpr std::uint16_t kCryptodevIvOffset =
    sizeof(rte_crypto_op) + sizeof(rte_crypto_sym_op) + offsetof(CryptodevOpPriv, iv);

inline CryptodevOpPriv* cryptodev_op_priv(rte_crypto_op* op) {
  return reinterpret_cast<CryptodevOpPriv*>(reinterpret_cast<std::uint8_t*>(op) +
                                            sizeof(rte_crypto_op) + sizeof(rte_crypto_sym_op));
}

class CryptodevQueue {
 public:
  CryptodevQueue(std::uint8_t dev_id, std::uint16_t qp) : dev_id_(dev_id), qp_(qp) {}
  ~CryptodevQueue() { rte_mempool_free(op_pool_); }
  CryptodevQueue(const CryptodevQueue&) = delete;
  CryptodevQueue& operator=(const CryptodevQueue&) = delete;

  // Start-up: an op pool for one full burst plus room for ops that abandoned
  // rounds may still hold in the device.
  bool init(const char* what, int socket) {
    static std::atomic<unsigned> serial{0};
    char name[RTE_MEMPOOL_NAMESIZE];
    std::snprintf(name, sizeof(name), "dq_%s%u_%u_%u", what, dev_id_, qp_, serial++);
    op_pool_ = rte_crypto_op_pool_create(name, RTE_CRYPTO_OP_TYPE_SYMMETRIC, 4 * kCryptodevBurst, 0,
                                         sizeof(CryptodevOpPriv), socket);
    return op_pool_ != nullptr;
  }

  std::uint8_t dev_id() const { return dev_id_; }
  std::uint16_t qp() const { return qp_; }
  CryptodevCounters& counters() { return counters_; }
  const CryptodevCounters& counters() const { return counters_; }

  // Takes n ops and stamps their private areas with this round; false (and
  // nothing taken) when the pool is empty.
  bool alloc(rte_crypto_op** ops, std::uint16_t n) {
    if (rte_crypto_op_bulk_alloc(op_pool_, RTE_CRYPTO_OP_TYPE_SYMMETRIC, ops, n) != n) {
      ++counters_.op_pool_empty;
      return false;
    }
    ++round_;
    for (std::uint16_t i = 0; i < n; ++i) {
      CryptodevOpPriv* p = cryptodev_op_priv(ops[i]);
      p->owner = this;
      p->round = round_;
      p->src_chain = nullptr;
      p->index = i;
    }
    return true;
  }

  // Enqueues ops[0..n) (from alloc) and dequeues until all are back, calling
  // done(index, status) for each, then frees them. The whole round completes
  // before this returns, so callers stay synchronous. If the device does not
  // finish within kCryptodevMaxPolls empty polls, the round is abandoned:
  // ops never enqueued are freed, ops still in the device are reported by
  // neither and freed when a later round dequeues them. Returns how many ops
  // were reported.
  template <typename Done>
  std::uint16_t run(rte_crypto_op** ops, std::uint16_t n, Done&& done) {
    std::uint16_t enqueued = 0;
    std::uint16_t completed = 0;
    std::uint32_t polls = 0;
    rte_crypto_op* out[kCryptodevBurst];
    while (completed < enqueued || enqueued < n) {
      if (enqueued < n) {
        const std::uint16_t k =
            rte_cryptodev_enqueue_burst(dev_id_, qp_, ops + enqueued, n - enqueued);
        enqueued += k;
        if (enqueued < n) ++counters_.enqueue_retries;
      }
      const std::uint16_t d = rte_cryptodev_dequeue_burst(dev_id_, qp_, out, kCryptodevBurst);
      for (std::uint16_t i = 0; i < d; ++i) {
        CryptodevOpPriv* p = cryptodev_op_priv(out[i]);
        if (p->owner == this && p->round == round_) {
          done(p->index, out[i]->status);
          ++completed;
        } else {
          ++counters_.stale_ops;
        }
        release(out[i]);
      }
      if (d == 0) {
        ++counters_.empty_polls;
        if (++polls >= kCryptodevMaxPolls) {
          ++counters_.timeouts;
          for (std::uint16_t i = enqueued; i < n; ++i)
            release(ops[i]);
          break;
        }
      }
    }
    return completed;
  }

  // Frees ops taken by alloc that will not be run.
  void discard(rte_crypto_op** ops, std::uint16_t n) {
    for (std::uint16_t i = 0; i < n; ++i)
      release(ops[i]);
  }

 private:
  static void release(rte_crypto_op* op) {
    CryptodevOpPriv* p = cryptodev_op_priv(op);
    if (p->src_chain != nullptr) rte_pktmbuf_free(p->src_chain);
    p->src_chain = nullptr;
    rte_crypto_op_free(op);
  }

  std::uint8_t dev_id_;
  std::uint16_t qp_;
  rte_mempool* op_pool_ = nullptr;
  std::uint64_t round_ = 0;
  CryptodevCounters counters_;
};

}  // namespace dquic::offload
