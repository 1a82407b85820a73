#include "offload/cryptodev_hp.h"

#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

namespace dquic::offload {
namespace {

constexpr std::uint16_t kAesBlock = 16;
constexpr std::uint32_t kScratchBytes = kCryptodevBurst * kHpSampleLength;

bool ecb_for(const drivers::CryptoDeviceInfo& info, std::uint16_t key_length) {
  return info.aes_ecb.present && info.aes_ecb.key.allows(key_length);
}

bool ctr_for(const drivers::CryptoDeviceInfo& info, std::uint16_t key_length) {
  return info.aes_ctr.present && info.aes_ctr.key.allows(key_length) &&
         info.aes_ctr.iv.allows(kAesBlock);
}

class Key final : public HpKey {
 public:
  void* session = nullptr;
  bool ecb = false;
};

class Engine final : public CryptodevHpEngine {
 public:
  Engine(const drivers::CryptoDevice& dev, std::uint16_t qp)
      : info_(dev.info), session_pool_(dev.session_pool), queue_(dev.info.dev_id, qp) {
    name_ = "cryptodev-hp:" + info_.name;
  }

  ~Engine() override {
    rte_pktmbuf_free(scratch_);
    rte_mempool_free(scratch_pool_);
  }

  bool init() {
    const int socket = info_.socket < 0 ? SOCKET_ID_ANY : info_.socket;
    if (!queue_.init("hp", socket)) return false;
    static std::atomic<unsigned> serial{0};
    char name[RTE_MEMPOOL_NAMESIZE];
    std::snprintf(name, sizeof(name), "dq_hps%u_%u_%u", info_.dev_id, queue_.qp(), serial++);
    scratch_pool_ =
        rte_pktmbuf_pool_create(name, 1, 0, 0, RTE_PKTMBUF_HEADROOM + kScratchBytes, socket);
    if (scratch_pool_ == nullptr) return false;
    scratch_ = rte_pktmbuf_alloc(scratch_pool_);
    if (scratch_ == nullptr || rte_pktmbuf_append(scratch_, kScratchBytes) == nullptr) return false;
    return true;
  }

  const char* name() const override { return name_.c_str(); }
  bool supports(AeadAlgorithm a) const override { return cryptodev_supports_hp(info_, a); }
  bool uses_ecb(AeadAlgorithm a) const override {
    return ecb_for(info_, static_cast<std::uint16_t>(aead_key_length(a)));
  }
  const CryptodevCounters& counters() const override { return queue_.counters(); }

  HpKey* create_key(const PacketKeys& keys) override {
    if (!supports(keys.aead)) return nullptr;
    const auto key_length = static_cast<std::uint16_t>(keys.key_length());
    const bool ecb = ecb_for(info_, key_length);
    rte_crypto_sym_xform x{};
    x.type = RTE_CRYPTO_SYM_XFORM_CIPHER;
    x.next = nullptr;
    x.cipher.op = RTE_CRYPTO_CIPHER_OP_ENCRYPT;
    x.cipher.algo = ecb ? RTE_CRYPTO_CIPHER_AES_ECB : RTE_CRYPTO_CIPHER_AES_CTR;
    x.cipher.key.data = keys.hp_key.data();
    x.cipher.key.length = key_length;
    x.cipher.iv.offset = kCryptodevIvOffset;
    x.cipher.iv.length = ecb ? 0 : kAesBlock;
    void* s = rte_cryptodev_sym_session_create(info_.dev_id, &x, session_pool_);
    if (s == nullptr) return nullptr;  // sessions exhausted: the pipeline goes inline
    auto* k = new (std::nothrow) Key;
    if (k == nullptr) {
      rte_cryptodev_sym_session_free(info_.dev_id, s);
      return nullptr;
    }
    k->session = s;
    k->ecb = ecb;
    return k;
  }

  void destroy_key(HpKey* key) override {
    auto* k = static_cast<Key*>(key);
    if (k == nullptr) return;
    rte_cryptodev_sym_session_free(info_.dev_id, k->session);
    delete k;
  }

  bool masks(HpKey* key, std::span<const HpSample> samples, std::span<HpMask> masks) override {
    auto* k = static_cast<Key*>(key);
    if (samples.size() != masks.size()) return false;
    for (std::size_t i = 0; i < samples.size(); i += kCryptodevBurst) {
      const std::size_t n = std::min<std::size_t>(kCryptodevBurst, samples.size() - i);
      if (!chunk(k, samples.subspan(i, n), masks.subspan(i, n))) return false;
    }
    return true;
  }

 private:
  bool chunk(Key* k, std::span<const HpSample> samples, std::span<HpMask> masks) {
    const auto n = static_cast<std::uint16_t>(samples.size());
    rte_crypto_op* ops[kCryptodevBurst];
    if (!queue_.alloc(ops, n)) return false;
    auto* scratch = rte_pktmbuf_mtod(scratch_, std::uint8_t*);
    for (std::uint16_t i = 0; i < n; ++i) {
      std::uint8_t* block = scratch + i * kHpSampleLength;
      if (k->ecb) {
        std::memcpy(block, samples[i].data(), kHpSampleLength);
      } else {
        // CTR: keystream block 0 = AES(sample), XORed onto zeros.
        std::memset(block, 0, kHpSampleLength);
        std::memcpy(cryptodev_op_priv(ops[i])->iv, samples[i].data(), kHpSampleLength);
      }
      rte_crypto_sym_op* s = ops[i]->sym;
      s->m_src = scratch_;
      s->m_dst = nullptr;
      s->cipher.data.offset = i * kHpSampleLength;
      s->cipher.data.length = kHpSampleLength;
      rte_crypto_op_attach_sym_session(ops[i], k->session);
    }
    std::uint16_t good = 0;
    queue_.run(ops, n, [&](std::uint32_t, std::uint8_t status) {
      if (status == RTE_CRYPTO_OP_STATUS_SUCCESS) ++good;
    });
    if (good != n) return false;
    for (std::uint16_t i = 0; i < n; ++i)
      std::memcpy(masks[i].data(), scratch + i * kHpSampleLength, kHpMaskLength);
    return true;
  }

  drivers::CryptoDeviceInfo info_;
  rte_mempool* session_pool_;
  std::string name_;
  CryptodevQueue queue_;
  rte_mempool* scratch_pool_ = nullptr;
  rte_mbuf* scratch_ = nullptr;
};

}  // namespace

bool cryptodev_supports_hp(const drivers::CryptoDeviceInfo& info, AeadAlgorithm a) {
  if (a == AeadAlgorithm::kChacha20Poly1305) return false;  // no plain ChaCha20 in 22.11
  const auto key_length = static_cast<std::uint16_t>(aead_key_length(a));
  return ecb_for(info, key_length) || ctr_for(info, key_length);
}

std::unique_ptr<CryptodevHpEngine> make_cryptodev_hp_engine(const drivers::CryptoDevice& dev,
                                                            std::uint16_t queue_pair) {
  if (dev.session_pool == nullptr || queue_pair >= dev.queue_pairs) return nullptr;
  if (!cryptodev_supports_hp(dev.info, AeadAlgorithm::kAes128Gcm) &&
      !cryptodev_supports_hp(dev.info, AeadAlgorithm::kAes256Gcm)) {
    return nullptr;
  }
  auto e = std::make_unique<Engine>(dev, queue_pair);
  if (!e->init()) return nullptr;
  return e;
}

}  // namespace dquic::offload
