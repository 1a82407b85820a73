// Cycles per packet for seal (AEAD + header protection) and open through
// every backend pairing on this machine: 1350-byte 1-RTT packets, bursts of
// 32. Prints one line per measurement, "backend alg op tsc_per_packet", with
// the engine-only AEAD figure beside the pipeline's so its overhead shows.
// scripts/bench-protection.sh runs this next to dpdk-test-crypto-perf.
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "offload/test_backends.h"

namespace dquic::offload {
namespace {

constexpr std::size_t kBurst = 32;
constexpr std::size_t kBursts = 64;
constexpr std::size_t kPacket = 1350;
constexpr std::size_t kHeader = 13;  // short header, 8-byte DCID, 4-byte packet number
constexpr std::size_t kPayload = kPacket - kHeader - kAeadTagLength;
constexpr int kReps = 7;
constexpr int kPasses = 8;  // passes over all bursts per repetition

PacketKeys keys_for(AeadAlgorithm a) {
  PacketKeys k;
  k.aead = a;
  for (std::size_t i = 0; i < k.key.size(); ++i)
    k.key[i] = static_cast<std::uint8_t>(i * 7 + 1);
  for (std::size_t i = 0; i < k.iv.size(); ++i)
    k.iv[i] = static_cast<std::uint8_t>(i * 3);
  for (std::size_t i = 0; i < k.hp_key.size(); ++i)
    k.hp_key[i] = static_cast<std::uint8_t>(i + 9);
  return k;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

class Bench {
 public:
  explicit Bench(rte_mempool* pool) {
    for (std::size_t i = 0; i < kBursts * kBurst; ++i) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool);
      if (m == nullptr || rte_pktmbuf_append(m, kPacket) == nullptr) std::abort();
      mbufs_.push_back(m);
    }
  }
  ~Bench() {
    for (rte_mbuf* m : mbufs_)
      rte_pktmbuf_free(m);
  }

  // Writes fresh plaintext packets and returns seal jobs for them.
  std::vector<SealJob> fresh(KeyHandle* key) {
    std::vector<SealJob> jobs(mbufs_.size());
    for (std::size_t i = 0; i < mbufs_.size(); ++i) {
      auto* p = rte_pktmbuf_mtod(mbufs_[i], std::uint8_t*);
      std::memset(p, 0x5a, kPacket);
      p[0] = 0x43;  // short header, 4-byte packet number
      const std::uint32_t pn = static_cast<std::uint32_t>(i);
      for (int b = 0; b < 4; ++b)
        p[9 + b] = static_cast<std::uint8_t>(pn >> (24 - 8 * b));
      SealJob& j = jobs[i];
      j.m = mbufs_[i];
      j.header_length = kHeader;
      j.pn_offset = 9;
      j.pn_length = 4;
      j.payload_length = kPayload;
      j.packet_number = pn;
      j.key = key;
    }
    return jobs;
  }

  void run(const std::string& backend, AeadAlgorithm alg) {
    const char* alg_name = aead_name(alg);
    auto b = make_test_backends(backend);
    if (b == nullptr) return;
    Protector& prot = b->protector();
    KeyHandle* key = prot.install(keys_for(alg));
    if (key == nullptr) return;

    std::vector<double> seal, open;
    for (int rep = 0; rep < kReps; ++rep) {
      std::vector<SealJob> jobs = fresh(key);
      std::uint64_t cycles = 0;
      std::size_t packets = 0;
      for (int pass = 0; pass < kPasses; ++pass) {
        for (std::size_t i = 0; i < jobs.size(); i += kBurst) {
          const std::uint64_t t0 = rte_rdtsc_precise();
          prot.seal_burst({jobs.data() + i, kBurst});
          cycles += rte_rdtsc_precise() - t0;
          packets += kBurst;
        }
      }
      seal.push_back(static_cast<double>(cycles) / static_cast<double>(packets));

      cycles = 0;
      packets = 0;
      for (int pass = 0; pass < kPasses; ++pass) {
        jobs = fresh(key);
        prot.seal_burst(jobs);
        std::vector<OpenJob> opens(jobs.size());
        for (std::size_t i = 0; i < jobs.size(); ++i) {
          opens[i].m = jobs[i].m;
          opens[i].pn_offset = 9;
          opens[i].packet_length = kPacket;
          opens[i].largest_received =
              jobs[i].packet_number == 0 ? kNoPacketNumber : jobs[i].packet_number - 1;
          opens[i].key = key;
        }
        for (std::size_t i = 0; i < opens.size(); i += kBurst) {
          const std::uint64_t t0 = rte_rdtsc_precise();
          prot.open_burst({opens.data() + i, kBurst});
          cycles += rte_rdtsc_precise() - t0;
          packets += kBurst;
        }
        for (const OpenJob& o : opens) {
          if (o.status != OpenStatus::kOk) {
            std::fprintf(stderr, "%s %s: open failed\n", backend.c_str(), alg_name);
            std::exit(1);
          }
        }
      }
      open.push_back(static_cast<double>(cycles) / static_cast<double>(packets));
    }
    const auto& c = prot.counters();
    std::printf("%-34s %-18s seal %8.0f open %8.0f  (aead=%s hp=%s fallbacks=%llu)\n",
                backend.c_str(), alg_name, median(seal), median(open), prot.aead_name(),
                prot.hp_name(), static_cast<unsigned long long>(c.key_fallbacks));
    prot.release(key);
  }

 private:
  std::vector<rte_mbuf*> mbufs_;
};

}  // namespace
}  // namespace dquic::offload

int main(int argc, char** argv) {
  if (rte_eal_init(argc, argv) < 0) {
    std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
    return 2;
  }
  {
    rte_mempool* pool =
        rte_pktmbuf_pool_create("protect_bench", 4095, 256, 0, 2048 + RTE_PKTMBUF_HEADROOM,
                                static_cast<int>(rte_socket_id()));
    if (pool == nullptr) {
      std::fprintf(stderr, "mbuf pool: %s\n", rte_strerror(rte_errno));
      return 2;
    }
    std::printf("# %zu-byte packets, burst %zu, TSC %.2f GHz, median of %d; TSC ticks per packet\n",
                dquic::offload::kPacket, dquic::offload::kBurst, rte_get_tsc_hz() / 1e9,
                dquic::offload::kReps);
    dquic::offload::Bench bench(pool);
    for (const std::string& name : dquic::offload::test_backend_names()) {
      bench.run(name, dquic::AeadAlgorithm::kAes128Gcm);
      bench.run(name, dquic::AeadAlgorithm::kChacha20Poly1305);
    }
  }
  dquic::offload::close_test_devices();
  rte_eal_cleanup();
  return 0;
}
