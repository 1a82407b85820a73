#include "offload/cryptodev_aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <string>

namespace dquic::offload {
namespace {

// Gather segments per op the engine chains or lists; an op with more is
// copied into the packet first (counted).
constexpr std::uint16_t kMaxGatherSegments = 16;
// Sessions cached per key, over both directions and all AAD lengths.
constexpr std::size_t kSessionsPerKey = 8;
// create_key refuses a new key when fewer sessions than this (or 1/16 of the
// pool) remain, so the keys already admitted can still create sessions for
// new header shapes.
constexpr std::uint32_t kMinFreeSessions = 2;

struct Session {
  void* handle = nullptr;
  std::uint64_t batch = 0;  // last async batch that attached it to an op
  std::uint16_t aad_length = 0;
  bool encrypt = false;
};

// session() could not make room: every slot is attached to an op of the
// batch being built (kAsync), so that batch must run first.
char g_sessions_busy;
void* const kSessionsBusy = &g_sessions_busy;

constexpr AeadAlgorithm kAeads[] = {AeadAlgorithm::kAes128Gcm, AeadAlgorithm::kAes256Gcm,
                                    AeadAlgorithm::kChacha20Poly1305};

class Key final : public AeadKey {
 public:
  AeadAlgorithm algorithm = AeadAlgorithm::kAes128Gcm;
  std::array<std::uint8_t, kMaxAeadKeyLength> key{};
  std::array<Session, kSessionsPerKey> sessions{};
  std::size_t next_victim = 0;
};

// Gather-source mbufs point into memory the engine does not own; the
// buffer outlives the op, so there is nothing to free.
void no_free(void*, void*) {}

class Engine final : public CryptodevAeadEngine {
 public:
  Engine(const drivers::CryptoDevice& dev, std::uint16_t qp, CryptodevMode mode)
      : info_(dev.info), session_pool_(dev.session_pool), mode_(mode), queue_(dev.info.dev_id, qp) {
    name_ = std::string(mode == CryptodevMode::kAsync ? "cryptodev-async:" : "cryptodev-cpu:") +
            info_.name;
    min_free_sessions_ = std::max(kMinFreeSessions, session_pool_->size / 16);
  }

  ~Engine() override { rte_mempool_free(seg_pool_); }

  bool init() {
    const int socket = info_.socket < 0 ? SOCKET_ID_ANY : info_.socket;
    if (mode_ == CryptodevMode::kAsync) {
      if (!queue_.init("aead", socket)) return false;
      if (info_.oop_sgl_in_lb_out()) {
        static std::atomic<unsigned> serial{0};
        char name[RTE_MEMPOOL_NAMESIZE];
        std::snprintf(name, sizeof(name), "dq_seg%u_%u_%u", info_.dev_id, queue_.qp(), serial++);
        // One header-prefix mbuf and up to kMaxGatherSegments per op, data
        // room 0: they only ever point at external buffers.
        seg_pool_ = rte_pktmbuf_pool_create(name, kCryptodevBurst * (kMaxGatherSegments + 1), 0, 0,
                                            0, socket);
        if (seg_pool_ == nullptr) return false;
        shinfo_.free_cb = no_free;
        shinfo_.fcb_opaque = nullptr;
        rte_mbuf_ext_refcnt_set(&shinfo_, 1);  // the engine's own reference: never reaches 0
      }
    }
    // Capability flags say what a PMD claims; start-up self-tests check
    // what it does (22.11's chacha20_poly1305 PMD advertises CPU crypto but
    // answers ENOTSUP to it).
    SelfTest t(info_);
    if (!t.ok()) return false;
    for (AeadAlgorithm a : kAeads) {
      const auto i = static_cast<std::size_t>(a);
      usable_[i] = cryptodev_supports_aead(info_, a);
      if (usable_[i] && !self_test(t, a)) {
        usable_[i] = false;
        ++queue_.counters().self_test_failures;
      }
    }
    if (!std::any_of(usable_.begin(), usable_.end(), [](bool u) { return u; })) return false;
    if (mode_ == CryptodevMode::kCpuCrypto || seg_pool_ != nullptr) gather_ = probe_gather(t);
    return true;
  }

  const char* name() const override { return name_.c_str(); }
  bool supports(AeadAlgorithm a) const override { return usable_[static_cast<std::size_t>(a)]; }
  bool supports_gather() const override { return gather_; }
  std::uint64_t gather_copies() const override { return queue_.counters().gather_copies; }
  CryptodevMode mode() const override { return mode_; }
  const CryptodevCounters& counters() const override { return queue_.counters(); }

  AeadKey* create_key(const PacketKeys& keys) override {
    if (!supports(keys.aead)) return nullptr;
    // Sessions are created per header shape on use (see cryptodev_aead.h):
    // admit a key only while the device has sessions to spare.
    if (rte_mempool_avail_count(session_pool_) < min_free_sessions_) return nullptr;
    auto* k = new (std::nothrow) Key;
    if (k == nullptr) return nullptr;
    k->algorithm = keys.aead;
    std::memcpy(k->key.data(), keys.key.data(), keys.key_length());
    return k;
  }

  void destroy_key(AeadKey* key) override {
    auto* k = static_cast<Key*>(key);
    if (k == nullptr) return;
    for (Session& s : k->sessions)
      if (s.handle != nullptr) rte_cryptodev_sym_session_free(info_.dev_id, s.handle);
    OPENSSL_cleanse(k->key.data(), k->key.size());
    delete k;
  }

  void seal(AeadKey* key, std::span<AeadOp> ops) override {
    run(static_cast<Key*>(key), ops, true);
  }
  void open(AeadKey* key, std::span<AeadOp> ops) override {
    run(static_cast<Key*>(key), ops, false);
  }

 private:
  // The session for one direction and AAD length, created on first use;
  // nullptr if it cannot be created, kSessionsBusy if every slot is held by
  // an op of the async batch being built (`batch`; 0 for CPU crypto, whose
  // session is used before the next lookup).
  void* session(Key* k, bool encrypt, std::uint16_t aad_length, std::uint64_t batch) {
    for (Session& s : k->sessions) {
      if (s.handle != nullptr && s.encrypt == encrypt && s.aad_length == aad_length) {
        s.batch = batch;
        return s.handle;
      }
    }
    Session* slot = nullptr;
    for (Session& s : k->sessions) {
      if (s.handle == nullptr) {
        slot = &s;
        break;
      }
    }
    // All taken: replace round-robin, skipping sessions that ops of the
    // batch being built already point to.
    for (std::size_t tries = 0; slot == nullptr && tries < kSessionsPerKey; ++tries) {
      Session& s = k->sessions[k->next_victim];
      k->next_victim = (k->next_victim + 1) % kSessionsPerKey;
      if (batch != 0 && s.batch == batch) continue;
      rte_cryptodev_sym_session_free(info_.dev_id, s.handle);
      s.handle = nullptr;
      slot = &s;
    }
    if (slot == nullptr) return kSessionsBusy;
    rte_crypto_sym_xform x{};
    x.type = RTE_CRYPTO_SYM_XFORM_AEAD;
    x.next = nullptr;
    x.aead.op = encrypt ? RTE_CRYPTO_AEAD_OP_ENCRYPT : RTE_CRYPTO_AEAD_OP_DECRYPT;
    x.aead.algo = k->algorithm == AeadAlgorithm::kChacha20Poly1305
                      ? RTE_CRYPTO_AEAD_CHACHA20_POLY1305
                      : RTE_CRYPTO_AEAD_AES_GCM;
    x.aead.key.data = k->key.data();
    x.aead.key.length = static_cast<std::uint16_t>(aead_key_length(k->algorithm));
    x.aead.iv.offset = kCryptodevIvOffset;  // async ops; cpu crypto passes IV pointers
    x.aead.iv.length = kAeadNonceLength;
    x.aead.digest_length = kAeadTagLength;
    x.aead.aad_length = aad_length;
    void* h = rte_cryptodev_sym_session_create(info_.dev_id, &x, session_pool_);
    if (h == nullptr) {
      ++queue_.counters().session_failures;
      return nullptr;
    }
    *slot = Session{h, batch, aad_length, encrypt};
    return h;
  }

  static std::uint32_t gather_total(const AeadOp& op) {
    std::uint32_t total = 0;
    for (const ByteSegment& g : op.gather)
      total += g.length;
    return total;
  }

  // Copies the gathered plaintext into the packet (the fallback for ops the
  // engine cannot gather), leaving an in-place op.
  void copy_gather(AeadOp& op) {
    auto* dst = rte_pktmbuf_mtod_offset(op.m, std::uint8_t*, op.payload_offset);
    for (const ByteSegment& g : op.gather) {
      if (g.data != dst) std::memcpy(dst, g.data, g.length);  // packet bytes sit in place
      dst += g.length;
    }
    op.gather = {};
    ++queue_.counters().gather_copies;
  }

  // An op the engine can run: a packet, and a gather that adds up (anything
  // else is a caller bug: the op fails and nothing is touched).
  static bool runnable(const AeadOp& op) {
    return op.m != nullptr && (op.gather.empty() || gather_total(op) == op.payload_length);
  }

  void run(Key* k, std::span<AeadOp> ops, bool encrypt) {
    // A device reads each segment at its IO address; a software PMD reads
    // by virtual address, so pages it was never told of (files) will do.
    const bool by_va = !info_.hw_accelerated();
    for (AeadOp& op : ops) {
      op.ok = false;
      if (!encrypt) op.gather = {};  // open is always in place
      if (op.gather.empty() || !runnable(op)) continue;
      const bool fits =
          op.gather.size() <= kMaxGatherSegments &&
          std::all_of(op.gather.begin(), op.gather.end(), [by_va](const ByteSegment& g) {
            return g.length <= UINT16_MAX && (by_va || g.iova != RTE_BAD_IOVA);
          });
      if (!gather_ || !fits) copy_gather(op);
    }
    for (std::size_t i = 0; i < ops.size(); i += kCryptodevBurst) {
      const std::size_t n = std::min<std::size_t>(kCryptodevBurst, ops.size() - i);
      if (mode_ == CryptodevMode::kAsync) {
        run_async(k, ops.subspan(i, n), encrypt);
      } else {
        run_cpu(k, ops.subspan(i, n), encrypt);
      }
    }
  }

  // Builds the out-of-place source: the packet's own bytes before the
  // payload (the op offset applies to source and destination alike), then
  // each gather segment, all as external-buffer mbufs.
  rte_mbuf* gather_chain(const AeadOp& op) {
    rte_mbuf* segs[kMaxGatherSegments + 1];
    unsigned count = 0;
    const unsigned needed =
        (op.payload_offset > 0 ? 1u : 0u) +
        static_cast<unsigned>(std::count_if(op.gather.begin(), op.gather.end(),
                                            [](const ByteSegment& g) { return g.length > 0; }));
    if (needed == 0 || rte_pktmbuf_alloc_bulk(seg_pool_, segs, needed) != 0) return nullptr;
    auto attach = [&](void* va, rte_iova_t iova, std::uint16_t len) {
      rte_mbuf* m = segs[count++];
      rte_mbuf_ext_refcnt_update(&shinfo_, 1);
      rte_pktmbuf_attach_extbuf(m, va, iova, len, &shinfo_);
      m->data_len = len;
      m->pkt_len = len;
      if (m != segs[0]) rte_pktmbuf_chain(segs[0], m);
    };
    if (op.payload_offset > 0) {
      attach(rte_pktmbuf_mtod(op.m, void*), rte_pktmbuf_iova(op.m),
             static_cast<std::uint16_t>(op.payload_offset));
    }
    for (const ByteSegment& g : op.gather) {
      if (g.length == 0) continue;
      attach(const_cast<std::uint8_t*>(g.data), g.iova, static_cast<std::uint16_t>(g.length));
    }
    return segs[0];
  }

  void run_async(Key* k, std::span<AeadOp> ops, bool encrypt) {
    for (std::size_t i = 0; i < ops.size();)
      i += run_async_batch(k, ops.subspan(i), encrypt);
  }

  // Builds and runs one batch from the front of `ops`; returns how many ops
  // it consumed (all, unless a key needed more sessions at once than it
  // caches: the rest goes in the next batch).
  std::size_t run_async_batch(Key* k, std::span<AeadOp> ops, bool encrypt) {
    const auto n = static_cast<std::uint16_t>(ops.size());
    rte_crypto_op* cops[kCryptodevBurst];
    if (!queue_.alloc(cops, n)) return n;  // every op stays !ok
    const std::uint64_t batch = ++batch_;
    rte_crypto_op* live[kCryptodevBurst];
    std::uint16_t nlive = 0;
    std::uint16_t i = 0;
    for (; i < n; ++i) {
      AeadOp& op = ops[i];
      rte_crypto_op* cop = cops[i];
      void* sess = runnable(op)
                       ? session(k, encrypt, static_cast<std::uint16_t>(op.aad_length), batch)
                       : nullptr;
      if (sess == kSessionsBusy) break;
      rte_mbuf* chain = nullptr;
      if (sess != nullptr && !op.gather.empty()) {
        chain = gather_chain(op);
        if (chain == nullptr) sess = nullptr;
      }
      if (sess == nullptr) {
        queue_.discard(&cop, 1);
        continue;
      }
      CryptodevOpPriv* p = cryptodev_op_priv(cop);
      p->src_chain = chain;
      std::memcpy(p->iv, op.nonce.data(), kAeadNonceLength);
      rte_crypto_sym_op* s = cop->sym;
      s->m_src = chain != nullptr ? chain : op.m;
      s->m_dst = chain != nullptr ? op.m : nullptr;
      s->aead.data.offset = op.payload_offset;
      s->aead.data.length = op.payload_length;
      s->aead.aad.data = rte_pktmbuf_mtod_offset(op.m, std::uint8_t*, op.aad_offset);
      s->aead.aad.phys_addr = rte_pktmbuf_iova_offset(op.m, op.aad_offset);
      const std::uint32_t tag = op.payload_offset + op.payload_length;
      s->aead.digest.data = rte_pktmbuf_mtod_offset(op.m, std::uint8_t*, tag);
      s->aead.digest.phys_addr = rte_pktmbuf_iova_offset(op.m, tag);
      rte_crypto_op_attach_sym_session(cop, sess);
      live[nlive++] = cop;
    }
    if (i < n) queue_.discard(cops + i, n - i);
    // p->index is the op's position in `ops` (set by alloc), so completions
    // map back even if the device reorders.
    if (nlive > 0) {
      queue_.run(live, nlive, [&](std::uint32_t index, std::uint8_t status) {
        // RTE_CRYPTO_OP_STATUS_AUTH_FAILED on open: RFC 9001 §5.3, drop.
        ops[index].ok = status == RTE_CRYPTO_OP_STATUS_SUCCESS;
      });
    }
    return i;
  }

  void run_cpu(Key* k, std::span<AeadOp> ops, bool encrypt) {
    const auto n = static_cast<std::uint16_t>(ops.size());
    std::array<bool, kCryptodevBurst> handled{};
    for (std::uint16_t i = 0; i < n; ++i)
      handled[i] = !runnable(ops[i]);
    // One call per run of ops sharing a session (AAD length) and shape
    // (in place or gathered).
    for (std::uint16_t first = 0; first < n; ++first) {
      if (handled[first]) continue;
      const std::uint32_t aad_length = ops[first].aad_length;
      const bool gathered = !ops[first].gather.empty();
      void* sess = session(k, encrypt, static_cast<std::uint16_t>(aad_length), 0);
      std::uint32_t c = 0;
      std::uint32_t nvec = 0;
      for (std::uint16_t j = first; j < n; ++j) {
        AeadOp& op = ops[j];
        if (handled[j] || op.aad_length != aad_length || !op.gather.empty() != gathered) continue;
        handled[j] = true;
        if (sess == nullptr) continue;
        auto* pkt = rte_pktmbuf_mtod(op.m, std::uint8_t*);
        const rte_iova_t iova = rte_pktmbuf_iova(op.m);
        rte_crypto_vec& dst = dst_vec_[c];
        dst = {pkt + op.payload_offset, iova + op.payload_offset, op.payload_length,
               op.payload_length};
        if (gathered) {
          const std::uint32_t base = nvec;
          for (const ByteSegment& g : op.gather)
            src_vec_[nvec++] = {const_cast<std::uint8_t*>(g.data), g.iova, g.length, g.length};
          src_sgl_[c] = {&src_vec_[base], nvec - base};
          dst_sgl_[c] = {&dst, 1};
        } else {
          src_sgl_[c] = {&dst, 1};
        }
        iv_[c] = {op.nonce.data(), RTE_BAD_IOVA};
        aad_[c] = {pkt + op.aad_offset, iova + op.aad_offset};
        const std::uint32_t tag = op.payload_offset + op.payload_length;
        digest_[c] = {pkt + tag, iova + tag};
        status_[c] = 0;
        index_[c] = j;
        ++c;
      }
      if (c == 0) continue;
      rte_crypto_sym_vec vec{};
      vec.num = c;
      vec.src_sgl = src_sgl_.data();
      vec.dest_sgl = gathered ? dst_sgl_.data() : nullptr;
      vec.iv = iv_.data();
      vec.digest = digest_.data();
      vec.aad = aad_.data();
      vec.status = status_.data();
      // Offsets are relative to each payload vector: nothing to skip.
      rte_crypto_sym_ofs ofs{};
      rte_cryptodev_sym_cpu_crypto_process(info_.dev_id, sess, ofs, &vec);
      for (std::uint32_t x = 0; x < c; ++x)
        ops[index_[x]].ok = status_[x] == 0;  // EBADMSG on a bad tag: RFC 9001 §5.3
    }
  }

  // Three packet buffers for the start-up self-tests, from a pool made and
  // freed with them.
  class SelfTest {
   public:
    static constexpr std::uint32_t kRoom = 128;
    explicit SelfTest(const drivers::CryptoDeviceInfo& info) {
      static std::atomic<unsigned> serial{0};
      char name[RTE_MEMPOOL_NAMESIZE];
      std::snprintf(name, sizeof(name), "dq_selftest%u_%u", info.dev_id, serial++);
      pool_ = rte_pktmbuf_pool_create(name, 3, 0, 0, RTE_PKTMBUF_HEADROOM + kRoom,
                                      info.socket < 0 ? SOCKET_ID_ANY : info.socket);
      if (pool_ == nullptr || rte_pktmbuf_alloc_bulk(pool_, m_, 3) != 0) return;
      for (int i = 0; i < 3; ++i)
        data_[i] = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m_[i], kRoom));
      ok_ = true;
    }
    ~SelfTest() {
      if (ok_)
        for (rte_mbuf* m : m_)
          rte_pktmbuf_free(m);
      rte_mempool_free(pool_);
    }
    bool ok() const { return ok_; }
    rte_mbuf* m(int i) const { return m_[i]; }
    std::uint8_t* data(int i) const { return data_[i]; }

   private:
    rte_mempool* pool_ = nullptr;
    rte_mbuf* m_[3] = {};
    std::uint8_t* data_[3] = {};
    bool ok_ = false;
  };

  static constexpr std::uint32_t kTestHeader = 9;
  static constexpr std::uint32_t kTestPayload = 41;

  static PacketKeys test_keys(AeadAlgorithm a) {
    PacketKeys keys;
    keys.aead = a;
    for (std::size_t i = 0; i < keys.key.size(); ++i)
      keys.key[i] = static_cast<std::uint8_t>(0x40 + i);
    keys.iv.fill(0x5a);
    return keys;
  }

  static AeadOp test_op(rte_mbuf* m, const PacketKeys& keys) {
    AeadOp op;
    op.m = m;
    op.aad_length = kTestHeader;
    op.payload_offset = kTestHeader;
    op.payload_length = kTestPayload;
    op.nonce = keys.iv;
    return op;
  }

  static void fill_plaintext(std::uint8_t* p) {
    for (std::uint32_t i = 0; i < SelfTest::kRoom; ++i)
      p[i] = static_cast<std::uint8_t>(i * 7 + 1);
  }

  // Known answer against one-shot OpenSSL: seal, compare ciphertext and tag,
  // open, compare plaintext; then a corrupted tag must fail.
  bool self_test(const SelfTest& t, AeadAlgorithm a) {
    const PacketKeys keys = test_keys(a);
    std::uint8_t* p = t.data(0);
    fill_plaintext(p);
    std::uint8_t expected[kTestPayload + kAeadTagLength];
    if (!evp_seal(keys, p, expected)) return false;
    AeadKey* key = create_key(keys);
    if (key == nullptr) return false;
    AeadOp op = test_op(t.m(0), keys);
    seal(key, std::span<AeadOp>(&op, 1));
    bool ok = op.ok && std::memcmp(p + kTestHeader, expected, sizeof(expected)) == 0;
    if (ok) {
      open(key, std::span<AeadOp>(&op, 1));
      std::uint8_t plain[SelfTest::kRoom];
      fill_plaintext(plain);
      ok = op.ok && std::memcmp(p, plain, kTestHeader + kTestPayload) == 0;
    }
    if (ok) {
      p[kTestHeader + kTestPayload] ^= 1;
      open(key, std::span<AeadOp>(&op, 1));
      ok = !op.ok;
    }
    destroy_key(key);
    return ok;
  }

  static bool evp_seal(const PacketKeys& keys, const std::uint8_t* packet, std::uint8_t* out) {
    const EVP_CIPHER* c = keys.aead == AeadAlgorithm::kAes128Gcm   ? EVP_aes_128_gcm()
                          : keys.aead == AeadAlgorithm::kAes256Gcm ? EVP_aes_256_gcm()
                                                                   : EVP_chacha20_poly1305();
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    if (ctx == nullptr) return false;
    int len = 0;
    const bool ok =
        EVP_EncryptInit_ex(ctx, c, nullptr, keys.key.data(), keys.iv.data()) == 1 &&
        EVP_EncryptUpdate(ctx, nullptr, &len, packet, kTestHeader) == 1 &&
        EVP_EncryptUpdate(ctx, out, &len, packet + kTestHeader, kTestPayload) == 1 &&
        EVP_EncryptFinal_ex(ctx, out + kTestPayload, &len) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kAeadTagLength, out + kTestPayload) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
  }

  // Out-of-place gather: seal the same plaintext in place and gathered from
  // two segments of another buffer; gather is used only if both packets
  // match and the source is intact.
  bool probe_gather(const SelfTest& t) {
    AeadAlgorithm a = AeadAlgorithm::kAes128Gcm;
    if (!supports(a)) a = AeadAlgorithm::kChacha20Poly1305;
    if (!supports(a)) return false;
    const PacketKeys keys = test_keys(a);
    AeadKey* key = create_key(keys);
    if (key == nullptr) return false;
    std::uint8_t* in_place = t.data(0);
    std::uint8_t* gathered = t.data(1);
    std::uint8_t* source = t.data(2);
    fill_plaintext(in_place);
    fill_plaintext(source);
    std::memcpy(gathered, in_place, kTestHeader);  // the payload must come from `source`
    std::memset(gathered + kTestHeader, 0, SelfTest::kRoom - kTestHeader);
    const ByteSegment segs[2] = {
        {source + kTestHeader, rte_pktmbuf_iova_offset(t.m(2), kTestHeader), 17},
        {source + kTestHeader + 17, rte_pktmbuf_iova_offset(t.m(2), kTestHeader + 17),
         kTestPayload - 17}};
    AeadOp ops[2] = {test_op(t.m(0), keys), test_op(t.m(1), keys)};
    ops[1].gather = std::span<const ByteSegment>(segs, 2);
    gather_ = true;  // take the gather path inside run() while probing
    seal(key, std::span<AeadOp>(ops, 2));
    gather_ = false;
    bool ok = ops[0].ok && ops[1].ok && queue_.counters().gather_copies == 0 &&
              std::memcmp(in_place, gathered, kTestHeader + kTestPayload + kAeadTagLength) == 0;
    std::uint8_t plain[SelfTest::kRoom];
    fill_plaintext(plain);
    ok = ok && std::memcmp(source, plain, sizeof(plain)) == 0;
    destroy_key(key);
    return ok;
  }

  drivers::CryptoDeviceInfo info_;
  rte_mempool* session_pool_;
  CryptodevMode mode_;
  std::string name_;
  CryptodevQueue queue_;
  std::uint32_t min_free_sessions_ = kMinFreeSessions;
  std::uint64_t batch_ = 0;       // async batches built, for session pinning
  std::array<bool, 3> usable_{};  // by AeadAlgorithm: capable and self-tested
  bool gather_ = false;
  // kAsync gather: source-chain mbufs and their shared (no-op) buffer info.
  rte_mempool* seg_pool_ = nullptr;
  rte_mbuf_ext_shared_info shinfo_{};
  // kCpuCrypto: one call's descriptors, allocated with the engine.
  std::array<rte_crypto_vec, kCryptodevBurst> dst_vec_{};
  std::array<rte_crypto_vec, kCryptodevBurst * kMaxGatherSegments> src_vec_{};
  std::array<rte_crypto_sgl, kCryptodevBurst> src_sgl_{};
  std::array<rte_crypto_sgl, kCryptodevBurst> dst_sgl_{};
  std::array<rte_crypto_va_iova_ptr, kCryptodevBurst> iv_{};
  std::array<rte_crypto_va_iova_ptr, kCryptodevBurst> aad_{};
  std::array<rte_crypto_va_iova_ptr, kCryptodevBurst> digest_{};
  std::array<std::int32_t, kCryptodevBurst> status_{};
  std::array<std::uint16_t, kCryptodevBurst> index_{};
};

}  // namespace

bool cryptodev_supports_aead(const drivers::CryptoDeviceInfo& info, AeadAlgorithm a) {
  const drivers::SymCapability& c =
      a == AeadAlgorithm::kChacha20Poly1305 ? info.chacha20_poly1305 : info.aes_gcm;
  return c.present && c.key.allows(static_cast<std::uint16_t>(aead_key_length(a))) &&
         c.iv.allows(kAeadNonceLength) && c.digest.allows(kAeadTagLength) && c.aad.min <= 1 &&
         c.aad.increment == 1 && c.aad.max >= kQuicTypicalMaxAad;
}

std::unique_ptr<CryptodevAeadEngine> make_cryptodev_aead_engine(const drivers::CryptoDevice& dev,
                                                                std::uint16_t queue_pair,
                                                                CryptodevMode mode) {
  if (dev.session_pool == nullptr || queue_pair >= dev.queue_pairs) return nullptr;
  if (mode == CryptodevMode::kCpuCrypto && !dev.info.cpu_crypto()) return nullptr;
  auto e = std::make_unique<Engine>(dev, queue_pair, mode);
  if (!e->init()) return nullptr;
  return e;
}

}  // namespace dquic::offload
