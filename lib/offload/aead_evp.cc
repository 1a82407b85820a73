#include "offload/aead_evp.h"

#include <openssl/evp.h>
#include <rte_mbuf.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>

#include "offload/evp_ptr.h"

namespace dquic::offload {
namespace {

constexpr std::size_t kAlgorithmCount = 3;
constexpr int kTagLength = static_cast<int>(kAeadTagLength);

constexpr std::size_t algorithm_index(AeadAlgorithm a) {
  return static_cast<std::size_t>(a);
}

// Two contexts so a seal and an open in flight on the same key (e.g. the
// pipeline's test loopback) never disturb each other; the key schedule (AES
// round keys, GHASH table) is computed once per context.
class EvpAeadKey final : public AeadKey {
 public:
  CtxPtr seal;
  CtxPtr open;
};

// Whether [offset, offset + length) lies inside the first segment's data.
// 64-bit sums: 32-bit offsets plus lengths must not wrap into range.
bool in_first_segment(const rte_mbuf* m, std::uint64_t offset, std::uint64_t length) {
  return offset + length <= rte_pktmbuf_data_len(m);
}

bool op_fits(const AeadOp& op) {
  return op.m != nullptr && in_first_segment(op.m, op.aad_offset, op.aad_length) &&
         in_first_segment(op.m, op.payload_offset,
                          std::uint64_t{op.payload_length} + kAeadTagLength);
}

bool seal_one(EVP_CIPHER_CTX* ctx, const AeadOp& op) {
  if (!op_fits(op)) return false;
  // Only the nonce changes per packet: the key stays expanded in ctx.
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, op.nonce.data(), 1) != 1) return false;
  int outl = 0;
  if (op.aad_length > 0 &&
      EVP_CipherUpdate(ctx, nullptr, &outl,
                       rte_pktmbuf_mtod_offset(op.m, const std::uint8_t*, op.aad_offset),
                       static_cast<int>(op.aad_length)) != 1) {
    return false;
  }
  auto* const out = rte_pktmbuf_mtod_offset(op.m, std::uint8_t*, op.payload_offset);
  std::uint8_t* p = out;
  if (op.gather.empty()) {
    if (op.payload_length > 0) {
      if (EVP_CipherUpdate(ctx, p, &outl, p, static_cast<int>(op.payload_length)) != 1) {
        return false;
      }
      p += outl;
    }
  } else {
    // Out-of-place: each segment is read once and its ciphertext lands in the
    // packet, so the payload is never copied before encryption.
    std::uint64_t total = 0;
    for (const ByteSegment& s : op.gather)
      total += s.length;
    if (total != op.payload_length) return false;
    for (const ByteSegment& s : op.gather) {
      if (s.length == 0) continue;
      if (s.data == nullptr) return false;
      if (EVP_CipherUpdate(ctx, p, &outl, s.data, static_cast<int>(s.length)) != 1) return false;
      p += outl;
    }
  }
  if (EVP_CipherFinal_ex(ctx, p, &outl) != 1) return false;
  p += outl;
  // GCM and ChaCha20-Poly1305 are stream modes: output length == input length.
  if (p != out + op.payload_length) return false;
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagLength, p) == 1;
}

bool open_one(EVP_CIPHER_CTX* ctx, const AeadOp& op) {
  if (!op_fits(op)) return false;
  if (EVP_CipherInit_ex(ctx, nullptr, nullptr, nullptr, op.nonce.data(), 0) != 1) return false;
  auto* const data = rte_pktmbuf_mtod_offset(op.m, std::uint8_t*, op.payload_offset);
  // The expected tag is set for every packet: the context keeps the last one.
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTagLength, data + op.payload_length) != 1) {
    return false;
  }
  int outl = 0;
  if (op.aad_length > 0 &&
      EVP_CipherUpdate(ctx, nullptr, &outl,
                       rte_pktmbuf_mtod_offset(op.m, const std::uint8_t*, op.aad_offset),
                       static_cast<int>(op.aad_length)) != 1) {
    return false;
  }
  std::uint8_t* p = data;
  if (op.payload_length > 0) {
    if (EVP_CipherUpdate(ctx, p, &outl, p, static_cast<int>(op.payload_length)) != 1) return false;
    p += outl;
  }
  // RFC 9001 §5.3: a tag mismatch fails here; the caller drops the packet, so
  // the unauthenticated plaintext already written in place is never used.
  if (EVP_CipherFinal_ex(ctx, p, &outl) != 1) return false;
  return p + outl == data + op.payload_length;
}

class EvpAeadEngine final : public AeadEngine {
 public:
  EvpAeadEngine() {
    // Fetched once: an implicit fetch per EVP_CipherInit would lock and look
    // the algorithm up every packet.
    for (std::size_t i = 0; i < kAlgorithmCount; ++i) {
      ciphers_[i].reset(
          EVP_CIPHER_fetch(nullptr, aead_name(static_cast<AeadAlgorithm>(i)), nullptr));
    }
  }

  const char* name() const override { return "inline-evp"; }

  bool supports(AeadAlgorithm a) const override {
    const std::size_t i = algorithm_index(a);
    return i < kAlgorithmCount && ciphers_[i] != nullptr;
  }

  bool supports_gather() const override { return true; }
  bool gather_cheaper_than_copy() const override { return true; }

  AeadKey* create_key(const PacketKeys& keys) override {
    if (!supports(keys.aead)) return nullptr;
    const EVP_CIPHER* cipher = ciphers_[algorithm_index(keys.aead)].get();
    std::unique_ptr<EvpAeadKey> k(new (std::nothrow) EvpAeadKey);
    if (k == nullptr) return nullptr;
    k->seal.reset(EVP_CIPHER_CTX_new());
    k->open.reset(EVP_CIPHER_CTX_new());
    if (k->seal == nullptr || k->open == nullptr) return nullptr;
    // The default IV length of all three is 12 bytes, the QUIC nonce length
    // (RFC 9001 §5.3), so no EVP_CTRL_AEAD_SET_IVLEN is needed.
    if (EVP_CipherInit_ex2(k->seal.get(), cipher, keys.key.data(), nullptr, 1, nullptr) != 1 ||
        EVP_CipherInit_ex2(k->open.get(), cipher, keys.key.data(), nullptr, 0, nullptr) != 1 ||
        EVP_CIPHER_CTX_get_iv_length(k->seal.get()) != static_cast<int>(kAeadNonceLength)) {
      return nullptr;
    }
    return k.release();
  }

  // EVP_CIPHER_CTX_free cleanses the expanded key.
  void destroy_key(AeadKey* key) override { delete static_cast<EvpAeadKey*>(key); }

  void seal(AeadKey* key, std::span<AeadOp> ops) override {
    EVP_CIPHER_CTX* ctx = static_cast<EvpAeadKey*>(key)->seal.get();
    for (AeadOp& op : ops)
      op.ok = seal_one(ctx, op);
  }

  void open(AeadKey* key, std::span<AeadOp> ops) override {
    EVP_CIPHER_CTX* ctx = static_cast<EvpAeadKey*>(key)->open.get();
    for (AeadOp& op : ops)
      op.ok = open_one(ctx, op);
  }

 private:
  std::array<CipherPtr, kAlgorithmCount> ciphers_;
};

}  // namespace

std::unique_ptr<AeadEngine> make_evp_aead_engine() {
  return std::unique_ptr<AeadEngine>(new (std::nothrow) EvpAeadEngine);
}

}  // namespace dquic::offload
