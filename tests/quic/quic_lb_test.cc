// QUIC-LB CIDs (draft-ietf-quic-load-balancers-21) and the endpoint's CID
// generators: the draft's test vectors, round trips over every allowed
// length, every rejection path, and steering back to the worker.
#include "quic/quic_lb.h"

#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "quic/cid_generator.h"

// Every heap allocation in this binary, C++ and OpenSSL, is counted so the
// tests can show that generating and decoding CIDs allocates nothing.
namespace {
std::atomic<std::size_t> g_allocations{0};

void* counted_malloc(std::size_t n, const char*, int) {
  ++g_allocations;
  return std::malloc(n);
}
void* counted_realloc(void* p, std::size_t n, const char*, int) {
  ++g_allocations;
  return std::realloc(p, n);
}
void counted_free(void* p, const char*, int) {
  std::free(p);
}

// Before main, so OpenSSL has not allocated yet and accepts the hooks.
const bool g_openssl_counted =
    CRYPTO_set_mem_functions(counted_malloc, counted_realloc, counted_free) == 1;
}  // namespace

// g++ 12 -O3 sees the replaced operator new inline as malloc and flags the
// matching free in operator delete; the pair is consistent.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

void* operator new(std::size_t n) {
  ++g_allocations;
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) std::abort();
  return p;
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace dquic {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Key = std::array<std::uint8_t, kQuicLbKeyLength>;

Bytes hex(std::string_view s) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2)
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string to_hex(ByteSpan b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::uint8_t v : b) {
    s += digits[v >> 4];
    s += digits[v & 15];
  }
  return s;
}

// A hex number as the draft prints it (leading zeros dropped), as `len` bytes.
Bytes draft_int(std::string_view s, std::size_t len) {
  std::string padded(len * 2 - s.size(), '0');
  padded += s;
  return hex(padded);
}

// Appendix B.1 prints each field of a plaintext CID as a number without
// leading zeros: the config rotation bits (as the high bits of the first
// octet), the length, the server ID and the nonce. That is why the second
// vector reads "20a..." for first octet 0x2a and its 5-byte nonce
// 0x03487d970b reads "3487d970b".
std::string draft_rendering(ByteSpan cid, std::size_t sid_len) {
  auto number = [](ByteSpan b) {
    std::string s = to_hex(b);
    const std::size_t nz = s.find_first_not_of('0');
    return nz == std::string::npos ? std::string("0") : s.substr(nz);
  };
  const std::uint8_t rotation = cid[0] & 0xe0;
  const std::uint8_t low = cid[0] & 0x1f;
  return number(ByteSpan(&rotation, 1)) + number(ByteSpan(&low, 1)) +
         to_hex(cid.subspan(1, sid_len)) + number(cid.subspan(1 + sid_len));
}

Key key_from(std::string_view s) {
  const Bytes b = hex(s);
  Key k{};
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

QuicLbServerId sid_from(ByteSpan b) {
  QuicLbServerId id;
  EXPECT_TRUE(QuicLbServerId::from(b, &id));
  return id;
}

QuicLbSettings settings(std::uint8_t rotation, ByteSpan sid, std::size_t nonce_len,
                        std::optional<Key> key, bool encode_length = true) {
  QuicLbSettings s;
  s.config_rotation = rotation;
  s.server_id = sid_from(sid);
  s.nonce_length = static_cast<std::uint8_t>(nonce_len);
  s.key = key;
  s.encode_length = encode_length;
  return s;
}

// Deterministic "CSPRNG" for tests; counts calls.
struct TestRandom {
  explicit TestRandom(std::uint64_t seed) : rng(seed) {}
  void fill(std::span<std::uint8_t> b) {
    ++calls;
    for (std::uint8_t& v : b)
      v = static_cast<std::uint8_t>(rng());
  }
  CidRandomSource source() {
    return [this](std::span<std::uint8_t> b) { fill(b); };
  }
  std::mt19937_64 rng;
  std::size_t calls = 0;
};

Bytes random_bytes(std::mt19937_64& rng, std::size_t n) {
  Bytes b(n);
  for (std::uint8_t& v : b)
    v = static_cast<std::uint8_t>(rng());
  return b;
}

const Key kVectorKey = key_from("8f95f09245765f80256934e50c66207f");

// --- Appendix B test vectors ---------------------------------------------

struct Vector {
  std::uint8_t cr_bits;
  const char* sid;
  const char* nonce;
  const char* cid;
};

// Appendix B.1, exactly as printed ("In all cases, the server is configured
// to encode the CID length").
const Vector kPlaintextVectors[] = {
    {0, "c4605e", "4504cc4f", "07c4605e4504cc4f"},
    {1, "350d28b420", "3487d970b", "20a350d28b4203487d970b"},
};

TEST(QuicLbVectors, Plaintext) {
  // Lengths (3+4 and 5+5) follow from the self-encoded length in each CID.
  const std::size_t sid_lens[] = {3, 5};
  const std::size_t nonce_lens[] = {4, 5};
  const char* expected_cids[] = {"07c4605e4504cc4f", "2a350d28b42003487d970b"};
  for (std::size_t i = 0; i < 2; ++i) {
    SCOPED_TRACE(i);
    const Vector& v = kPlaintextVectors[i];
    const Bytes sid = draft_int(v.sid, sid_lens[i]);
    const Bytes nonce = draft_int(v.nonce, nonce_lens[i]);
    QuicLbConfig c;
    ASSERT_EQ(c.init(settings(v.cr_bits, sid, nonce.size(), std::nullopt)), QuicLbConfigError::kOk);
    ConnectionId cid;
    ASSERT_TRUE(c.generate(nonce, 0x1f, &cid));
    EXPECT_EQ(draft_rendering(cid.span(), sid.size()), v.cid);
    EXPECT_EQ(to_hex(cid.span()), expected_cids[i]);
    EXPECT_EQ(cid.length, c.cid_length());
    // The load balancer's side.
    const std::optional<QuicLbServerId> got = c.decode(hex(expected_cids[i]));
    ASSERT_TRUE(got);
    EXPECT_EQ(to_hex(got->span()), to_hex(sid));
    Bytes got_nonce(nonce.size());
    ASSERT_TRUE(c.decode(cid.span(), got_nonce));
    EXPECT_EQ(got_nonce, nonce);
  }
}

// Appendix B.2, exactly as printed. Key 8f95f09245765f80256934e50c66207f.
const Vector kEncryptedVectors[] = {
    {0, "ed793a", "ee080dbf", "0720b1d07b359d3c"},
    {1, "ed793a51d49b8f5fab65", "ee080dbf48", "2fcc381bc74cb4fbad2823a3d1f8fed2"},
    {2, "ed793a51d49b8f5f", "ee080dbf48c0d1e5", "504dd2d05a7b0de9b2b9907afb5ecf8cc3"},
    {3, "ed793a51d49b8f5fab", "ee080dbf48c0d1e55d", "125779c9cc86beb3a3a4a3ca96fce4bfe0cdbc"},
};

TEST(QuicLbVectors, Encrypted) {
  for (const Vector& v : kEncryptedVectors) {
    SCOPED_TRACE(v.cid);
    const Bytes sid = hex(v.sid), nonce = hex(v.nonce), expected = hex(v.cid);
    // The last vector's first octet 0x12 encodes config rotation 0, not the
    // 3 of its cr_bits column (draft-13 listed it under 0; the label changed,
    // the octet did not). Its first octet is reproduced with rotation 0; the
    // ciphertext does not depend on the first octet, checked with 3 below.
    const std::uint8_t rotation = static_cast<std::uint8_t>(expected[0] >> 5);
    QuicLbConfig c;
    ASSERT_EQ(c.init(settings(rotation, sid, nonce.size(), kVectorKey)), QuicLbConfigError::kOk);
    ConnectionId cid;
    ASSERT_TRUE(c.generate(nonce, 0, &cid));
    EXPECT_EQ(to_hex(cid.span()), v.cid);

    const std::optional<QuicLbServerId> got = c.decode(expected);
    ASSERT_TRUE(got);
    EXPECT_EQ(to_hex(got->span()), v.sid);
    Bytes got_nonce(nonce.size());
    ASSERT_TRUE(c.decode(expected, got_nonce));
    EXPECT_EQ(to_hex(got_nonce), v.nonce);

    QuicLbConfig labelled;
    ASSERT_EQ(labelled.init(settings(v.cr_bits, sid, nonce.size(), kVectorKey)),
              QuicLbConfigError::kOk);
    ConnectionId cid2;
    ASSERT_TRUE(labelled.generate(nonce, 0, &cid2));
    EXPECT_EQ(cid2.bytes[0], (v.cr_bits << 5) | (sid.size() + nonce.size()));
    EXPECT_EQ(to_hex(cid2.span().subspan(1)), to_hex(ByteSpan(expected).subspan(1)));
  }
}

// The worked example of §5.4.2.4 (odd length, seven octets).
TEST(QuicLbVectors, FourPassExample) {
  const Bytes sid = hex("31441a"), nonce = hex("9c69c275");
  QuicLbConfig c;
  ASSERT_EQ(c.init(settings(0, sid, 4, key_from("fdf726a9893ec05c0632d3956680baf0"))),
            QuicLbConfigError::kOk);
  ConnectionId cid;
  ASSERT_TRUE(c.generate(nonce, 0, &cid));
  EXPECT_EQ(to_hex(cid.span()), "0767947d29be054a");
  const std::optional<QuicLbServerId> got = c.decode(cid.span());
  ASSERT_TRUE(got);
  EXPECT_EQ(to_hex(got->span()), "31441a");
}

// --- Round trips over every allowed length --------------------------------

TEST(QuicLbRoundTrip, EveryServerIdAndNonceLength) {
  std::mt19937_64 rng(7);
  int combinations = 0;
  for (std::size_t sid_len = 1; sid_len <= 15; ++sid_len) {
    for (std::size_t nonce_len = 4; nonce_len <= 18 && sid_len + nonce_len <= 19; ++nonce_len) {
      SCOPED_TRACE(testing::Message() << "sid " << sid_len << " nonce " << nonce_len);
      ++combinations;
      const Key key = key_from(to_hex(random_bytes(rng, 16)));
      for (int trial = 0; trial < 8; ++trial) {
        const Bytes sid = random_bytes(rng, sid_len);
        const Bytes nonce = random_bytes(rng, nonce_len);
        const std::uint8_t rotation = static_cast<std::uint8_t>(trial % 7);
        const bool encode_length = (trial & 1) != 0;
        QuicLbConfig plain, enc;
        ASSERT_EQ(plain.init(settings(rotation, sid, nonce_len, std::nullopt, encode_length)),
                  QuicLbConfigError::kOk);
        ASSERT_EQ(enc.init(settings(rotation, sid, nonce_len, key, encode_length)),
                  QuicLbConfigError::kOk);
        ASSERT_EQ(plain.cid_length(), 1 + sid_len + nonce_len);
        ASSERT_EQ(enc.cid_length(), 1 + sid_len + nonce_len);
        ConnectionId p, e;
        ASSERT_TRUE(plain.generate(nonce, 0x15, &p));
        ASSERT_TRUE(enc.generate(nonce, 0x15, &e));
        ASSERT_EQ(p.length, plain.cid_length());
        ASSERT_EQ(e.length, enc.cid_length());
        // The plaintext CID is the fields themselves (§5.2).
        ASSERT_EQ(to_hex(p.span().subspan(1)), to_hex(sid) + to_hex(nonce));
        // Encryption changes the block (a collision is a 2^-(8*len) event).
        ASSERT_NE(to_hex(e.span().subspan(1)), to_hex(p.span().subspan(1)));
        ASSERT_EQ(p.bytes[0], e.bytes[0]);

        for (const QuicLbConfig* c : {&plain, &enc}) {
          const ConnectionId& cid = c == &plain ? p : e;
          const std::optional<QuicLbServerId> got = c->decode(cid.span());
          ASSERT_TRUE(got);
          ASSERT_EQ(got->span().size(), sid_len);
          ASSERT_TRUE(same_bytes(got->span(), sid));
          Bytes got_nonce(nonce_len);
          ASSERT_TRUE(c->decode(cid.span(), got_nonce));
          ASSERT_EQ(got_nonce, nonce);
          // A short header's DCID is read from the rest of the packet.
          Bytes longer(cid.span().begin(), cid.span().end());
          longer.push_back(0xaa);
          longer.push_back(0xbb);
          ASSERT_TRUE(c->decode(longer));
          ASSERT_FALSE(c->decode(cid.span().first(cid.length - 1)));
        }
      }
    }
  }
  // §5.3 bounds give 15 + 14 + ... + 1 configurations.
  EXPECT_EQ(combinations, 120);
}

TEST(QuicLbRoundTrip, WrongKeyDoesNotRecoverServerId) {
  std::mt19937_64 rng(11);
  for (std::size_t sid_len : {3, 8, 10}) {
    for (std::size_t nonce_len : {4, 8, 9}) {
      if (sid_len + nonce_len > 19) continue;
      const Bytes sid = random_bytes(rng, sid_len);
      QuicLbConfig right, wrong;
      ASSERT_EQ(right.init(settings(0, sid, nonce_len, kVectorKey)), QuicLbConfigError::kOk);
      Key other = kVectorKey;
      other[0] ^= 1;
      ASSERT_EQ(wrong.init(settings(0, sid, nonce_len, other)), QuicLbConfigError::kOk);
      ConnectionId cid;
      ASSERT_TRUE(right.generate(random_bytes(rng, nonce_len), 0, &cid));
      const std::optional<QuicLbServerId> got = wrong.decode(cid.span());
      ASSERT_TRUE(got);  // decoding cannot tell; the server ID is just wrong
      EXPECT_FALSE(same_bytes(got->span(), sid));
    }
  }
}

TEST(QuicLbRoundTrip, DistinctNoncesGiveDistinctCiphertexts) {
  QuicLbConfig c;
  const Bytes sid = hex("0102");
  ASSERT_EQ(c.init(settings(1, sid, 5, kVectorKey)), QuicLbConfigError::kOk);
  std::set<std::string> seen;
  for (std::uint32_t n = 0; n < 2000; ++n) {
    const Bytes nonce = {0, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                         static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
    ConnectionId cid;
    ASSERT_TRUE(c.generate(nonce, 0, &cid));
    EXPECT_TRUE(seen.insert(to_hex(cid.span())).second);
  }
}

// --- Configuration validation ---------------------------------------------

TEST(QuicLbConfigValidation, RejectsEveryConstraint) {
  const Bytes sid3 = hex("010203");
  struct Case {
    QuicLbSettings s;
    QuicLbConfigError want;
  };
  QuicLbSettings no_sid = settings(0, sid3, 4, std::nullopt);
  no_sid.server_id.length = 0;
  QuicLbSettings long_sid = settings(0, sid3, 4, std::nullopt);
  long_sid.server_id.length = 16;
  const Bytes sid15(15, 0x42), sid1(1, 0x42);
  const Case cases[] = {
      {settings(7, sid3, 4, std::nullopt), QuicLbConfigError::kReservedConfigRotation},
      {settings(7, sid3, 4, kVectorKey), QuicLbConfigError::kReservedConfigRotation},
      {settings(8, sid3, 4, std::nullopt), QuicLbConfigError::kConfigRotationOutOfRange},
      {settings(255, sid3, 4, std::nullopt), QuicLbConfigError::kConfigRotationOutOfRange},
      {no_sid, QuicLbConfigError::kServerIdLength},
      {long_sid, QuicLbConfigError::kServerIdLength},
      {settings(0, sid3, 3, std::nullopt), QuicLbConfigError::kNonceLength},
      {settings(0, sid3, 0, kVectorKey), QuicLbConfigError::kNonceLength},
      {settings(0, sid1, 19, std::nullopt), QuicLbConfigError::kNonceLength},
      {settings(0, sid3, 17, std::nullopt), QuicLbConfigError::kTooLong},
      {settings(0, sid15, 5, kVectorKey), QuicLbConfigError::kTooLong},
      {settings(0, sid1, 18, kVectorKey), QuicLbConfigError::kOk},
      {settings(0, sid15, 4, std::nullopt), QuicLbConfigError::kOk},
      {settings(6, sid3, 16, kVectorKey), QuicLbConfigError::kOk},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(to_string(c.want));
    EXPECT_EQ(QuicLbConfig::validate(c.s), c.want);
    QuicLbConfig config;
    EXPECT_EQ(config.init(c.s), c.want);
    EXPECT_EQ(config.ready(), c.want == QuicLbConfigError::kOk);
    if (c.want != QuicLbConfigError::kOk) {
      // An unready configuration neither generates nor decodes.
      ConnectionId cid;
      const Bytes nonce(c.s.nonce_length, 0);
      EXPECT_FALSE(config.generate(nonce, 0, &cid));
      const Bytes any(20, 0);
      EXPECT_FALSE(config.decode(any));
    }
  }
  EXPECT_STRNE(to_string(QuicLbConfigError::kTooLong), "unknown");
}

TEST(QuicLbConfigValidation, ServerIdFromRejectsSixteenBytes) {
  QuicLbServerId id;
  const Bytes sixteen(16, 1), fifteen(15, 2);
  EXPECT_FALSE(QuicLbServerId::from(sixteen, &id));
  EXPECT_EQ(id.length, 0);
  EXPECT_TRUE(QuicLbServerId::from(fifteen, &id));
  EXPECT_EQ(id.length, 15);
}

TEST(QuicLbConfigValidation, GenerateRejectsWrongInputLengths) {
  QuicLbConfig c;
  ASSERT_EQ(c.init(settings(0, hex("010203"), 6, kVectorKey)), QuicLbConfigError::kOk);
  ConnectionId cid;
  EXPECT_FALSE(c.generate(Bytes(5, 0), 0, &cid));
  EXPECT_FALSE(c.generate(Bytes(7, 0), 0, &cid));
  EXPECT_FALSE(c.generate(Bytes(2, 0), Bytes(6, 0), 0, &cid));
  EXPECT_TRUE(c.generate(Bytes(3, 9), Bytes(6, 0), 0, &cid));
  const std::optional<QuicLbServerId> got = c.decode(cid.span());
  ASSERT_TRUE(got);
  EXPECT_EQ(to_hex(got->span()), "090909");
  Bytes nonce(5);
  EXPECT_FALSE(c.decode(cid.span(), nonce));  // nonce buffer of the wrong size
}

TEST(QuicLbConfigValidation, MovedConfigKeepsWorking) {
  QuicLbConfig a;
  ASSERT_EQ(a.init(settings(2, hex("0a0b0c"), 8, kVectorKey)), QuicLbConfigError::kOk);
  QuicLbConfig b(std::move(a));
  EXPECT_FALSE(a.ready());  // NOLINT(bugprone-use-after-move): moved-from is unready
  ASSERT_TRUE(b.ready());
  ConnectionId cid;
  ASSERT_TRUE(b.generate(Bytes(8, 1), 0, &cid));
  QuicLbConfig c;
  c = std::move(b);
  ASSERT_TRUE(c.decode(cid.span()));
  EXPECT_EQ(to_hex(c.decode(cid.span())->span()), "0a0b0c");
  // Re-initialising replaces the old configuration.
  ASSERT_EQ(c.init(settings(3, hex("01"), 4, std::nullopt)), QuicLbConfigError::kOk);
  EXPECT_FALSE(c.encrypted());
  EXPECT_EQ(c.cid_length(), 6u);
}

// --- First octet and unroutable CIDs -------------------------------------

TEST(QuicLbFirstOctet, ConfigRotationBitsAndLength) {
  for (std::uint8_t rotation = 0; rotation < 7; ++rotation) {
    for (bool encrypted : {false, true}) {
      QuicLbConfig c;
      const std::optional<Key> key = encrypted ? std::optional<Key>(kVectorKey) : std::nullopt;
      ASSERT_EQ(c.init(settings(rotation, hex("aabbcc"), 9, key, true)), QuicLbConfigError::kOk);
      ConnectionId cid;
      ASSERT_TRUE(c.generate(Bytes(9, 3), 0x1f, &cid));
      EXPECT_EQ(cid.bytes[0], (rotation << 5) | 12);  // §3.3: length after the first octet
      EXPECT_EQ(quic_lb_config_rotation(cid.span()), rotation);
      EXPECT_FALSE(quic_lb_unroutable(cid.span()));
      ASSERT_TRUE(c.decode(cid.span()));

      // Another configuration's rotation bits are not ours (§3.1).
      Bytes other(cid.span().begin(), cid.span().end());
      other[0] = static_cast<std::uint8_t>((((rotation + 1) % 8) << 5) | 12);
      EXPECT_FALSE(c.decode(other));
      // With length self-encoding, a disagreeing length is rejected (§4.1).
      other[0] = static_cast<std::uint8_t>((rotation << 5) | 11);
      EXPECT_FALSE(c.decode(other));
    }
  }
}

TEST(QuicLbFirstOctet, RandomLowBitsWithoutLengthEncoding) {
  QuicLbConfig c;
  ASSERT_EQ(c.init(settings(5, hex("aabb"), 4, std::nullopt, false)), QuicLbConfigError::kOk);
  for (std::uint8_t bits = 0; bits < 64; ++bits) {
    ConnectionId cid;
    ASSERT_TRUE(c.generate(Bytes(4, 0), bits, &cid));
    EXPECT_EQ(cid.bytes[0], (5 << 5) | (bits & 0x1f));  // only 5 bits are used
    // Any low bits decode when the length is not self-encoded.
    ASSERT_TRUE(c.decode(cid.span()));
  }
}

TEST(QuicLbUnroutable, CodepointSevenNeverDecodes) {
  const Bytes sid = hex("0102");
  for (bool encrypted : {false, true}) {
    for (std::uint8_t rotation = 0; rotation < 7; ++rotation) {
      QuicLbConfig c;
      const std::optional<Key> key = encrypted ? std::optional<Key>(kVectorKey) : std::nullopt;
      ASSERT_EQ(c.init(settings(rotation, sid, 6, key, false)), QuicLbConfigError::kOk);
      ConnectionId cid;
      ASSERT_TRUE(c.generate(Bytes(6, 1), 0, &cid));
      Bytes seven(cid.span().begin(), cid.span().end());
      seven[0] = quic_lb_unroutable_first_octet(seven.size());
      EXPECT_TRUE(quic_lb_unroutable(seven));
      EXPECT_EQ(quic_lb_config_rotation(seven), kQuicLbUnroutableRotation);
      EXPECT_FALSE(c.decode(seven));
    }
  }
  EXPECT_EQ(quic_lb_unroutable_first_octet(8), 0xe7);  // 0b111 || 7
  EXPECT_EQ(quic_lb_unroutable_first_octet(20), 0xf3);
  EXPECT_TRUE(quic_lb_unroutable({}));
  EXPECT_FALSE(quic_lb_config_rotation({}));
}

// --- No allocation on the per-CID path ------------------------------------

TEST(QuicLbAllocation, GenerateAndDecodeDoNotAllocate) {
  ASSERT_TRUE(g_openssl_counted) << "OpenSSL allocated before the hooks were installed";
  TestRandom random(3);
  QuicLbCidGeneratorSettings s;
  s.host_id = sid_from(hex("c0ffee"));
  s.worker_count = 8;
  s.nonce_length = 6;
  s.key = kVectorKey;
  auto four_pass = QuicLbCidGenerator::create(s, random.source());
  s.nonce_length = 12;  // 3 + 1 + 12 = 16: single pass
  auto single_pass = QuicLbCidGenerator::create(s, random.source());
  s.key.reset();
  auto plain = QuicLbCidGenerator::create(s, random.source());
  RandomCidGeneratorSettings r;
  r.worker_count = 8;
  auto rand = RandomCidGenerator::create(r, random.source());
  ASSERT_TRUE(four_pass && single_pass && plain && rand);
  ConnectionIdGenerator* gens[] = {four_pass.get(), single_pass.get(), plain.get(), rand.get()};
  std::size_t steered = 0;
  const std::size_t before = g_allocations.load();
  for (ConnectionIdGenerator* g : gens) {
    for (std::uint16_t w = 0; w < 8; ++w) {
      ConnectionId cid;
      if (g->generate(w, &cid) && g->worker_of(cid.span()) == w) ++steered;
    }
  }
  EXPECT_EQ(g_allocations.load(), before);
  EXPECT_EQ(steered, 32u);
}

// --- QuicLbCidGenerator ---------------------------------------------------

struct GenCase {
  std::size_t host_len;
  std::uint8_t worker_id_length;
  std::uint16_t workers;
  std::size_t nonce_len;
  bool encrypted;
  bool encode_length;
};

class QuicLbGeneratorTest : public testing::TestWithParam<GenCase> {};

TEST_P(QuicLbGeneratorTest, WorkerOfRecoversEveryWorker) {
  const GenCase& p = GetParam();
  std::mt19937_64 rng(p.host_len * 1000 + p.nonce_len);
  TestRandom random(p.workers);
  QuicLbCidGeneratorSettings s;
  s.config_rotation = 4;
  s.host_id = sid_from(random_bytes(rng, p.host_len));
  s.worker_id_length = p.worker_id_length;
  s.worker_count = p.workers;
  s.nonce_length = static_cast<std::uint8_t>(p.nonce_len);
  if (p.encrypted) s.key = kVectorKey;
  s.encode_length = p.encode_length;
  CidGeneratorError err;
  auto g = QuicLbCidGenerator::create(s, random.source(), &err);
  ASSERT_TRUE(g) << to_string(err);
  EXPECT_EQ(err, CidGeneratorError::kOk);
  const std::size_t cid_len = 1 + p.host_len + p.worker_id_length + p.nonce_len;
  EXPECT_EQ(g->cid_length(), cid_len);
  EXPECT_EQ(g->config().server_id_length(), p.host_len + p.worker_id_length);

  // An external LB that knows only the host part (§7.1): the worker id and
  // the nonce are its "nonce".
  QuicLbConfig host_lb;
  if (p.host_len > 0) {
    ASSERT_EQ(host_lb.init(settings(4, s.host_id.span(), p.worker_id_length + p.nonce_len, s.key,
                                    p.encode_length)),
              QuicLbConfigError::kOk);
  }

  std::set<std::string> seen;
  for (std::uint32_t w = 0; w < p.workers; ++w) {
    const auto worker = static_cast<std::uint16_t>(w);
    for (int i = 0; i < 3; ++i) {
      ConnectionId cid;
      ASSERT_TRUE(g->generate(worker, &cid));
      ASSERT_EQ(cid.length, cid_len);
      ASSERT_EQ(cid.bytes[0] >> 5, 4);
      if (p.encode_length) {
        ASSERT_EQ(cid.bytes[0] & 0x1f, cid_len - 1);
      }
      ASSERT_EQ(g->worker_of(cid.span()), worker);
      ASSERT_TRUE(seen.insert(to_hex(cid.span())).second);
      // The full server ID is host || worker, big-endian.
      const std::optional<QuicLbServerId> id = g->config().decode(cid.span());
      ASSERT_TRUE(id);
      ASSERT_TRUE(same_bytes(id->span().first(p.host_len), s.host_id.span()));
      const std::uint16_t in_id =
          p.worker_id_length == 2
              ? static_cast<std::uint16_t>(id->bytes[p.host_len] << 8 | id->bytes[p.host_len + 1])
              : id->bytes[p.host_len];
      ASSERT_EQ(in_id, worker);
      if (p.host_len > 0) {
        const std::optional<QuicLbServerId> host = host_lb.decode(cid.span());
        ASSERT_TRUE(host);
        ASSERT_TRUE(same_bytes(host->span(), s.host_id.span()));
      }
      // In plaintext mode the worker is readable right after the host id.
      if (!p.encrypted) {
        ASSERT_EQ(cid.bytes[1 + p.host_len + p.worker_id_length - 1], worker & 0xff);
      }
    }
  }
  ConnectionId cid;
  EXPECT_FALSE(g->generate(p.workers, &cid));  // out of range
  EXPECT_EQ(g->remaining(p.workers), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, QuicLbGeneratorTest,
    testing::Values(GenCase{3, 1, 256, 4, false, true}, GenCase{3, 1, 256, 4, true, true},
                    GenCase{2, 1, 64, 13, true, true},     // 2+1+13 = 16: single pass
                    GenCase{2, 2, 1000, 12, true, false},  // 2+2+12 = 16: single pass
                    GenCase{0, 1, 200, 8, true, true},     // no host part
                    GenCase{0, 2, 700, 4, false, false}, GenCase{12, 2, 300, 5, true, true},
                    GenCase{4, 2, 65535, 4, true, true}, GenCase{13, 2, 5, 4, false, true},
                    GenCase{6, 1, 33, 9, true, false}));

TEST(QuicLbGenerator, RejectsForeignAndMalformedDcids) {
  TestRandom random(9);
  QuicLbCidGeneratorSettings s;
  s.config_rotation = 2;
  s.host_id = sid_from(hex("a1a2"));
  s.worker_count = 10;
  s.nonce_length = 8;
  s.key = kVectorKey;
  s.encode_length = true;
  auto g = QuicLbCidGenerator::create(s, random.source());
  ASSERT_TRUE(g);
  ConnectionId cid;
  ASSERT_TRUE(g->generate(7, &cid));
  ASSERT_EQ(g->worker_of(cid.span()), 7);

  // Wrong lengths: longer or shorter than what we issue.
  Bytes longer(cid.span().begin(), cid.span().end());
  longer.push_back(0);
  EXPECT_FALSE(g->worker_of(longer));
  EXPECT_FALSE(g->worker_of(cid.span().first(cid.length - 1)));
  EXPECT_FALSE(g->worker_of({}));
  // Unroutable codepoint, another configuration.
  Bytes altered(cid.span().begin(), cid.span().end());
  altered[0] = quic_lb_unroutable_first_octet(altered.size());
  EXPECT_FALSE(g->worker_of(altered));
  altered[0] = static_cast<std::uint8_t>((3 << 5) | (cid.length - 1));
  EXPECT_FALSE(g->worker_of(altered));

  // Another host with the same key and lengths: decodes, host part differs.
  QuicLbCidGeneratorSettings other = s;
  other.host_id = sid_from(hex("b1b2"));
  auto g2 = QuicLbCidGenerator::create(other, random.source());
  ASSERT_TRUE(g2);
  ConnectionId foreign;
  ASSERT_TRUE(g2->generate(7, &foreign));
  EXPECT_EQ(g2->worker_of(foreign.span()), 7);
  EXPECT_FALSE(g->worker_of(foreign.span()));

  // Same host, more workers: worker 12 is outside our 10.
  QuicLbCidGeneratorSettings more = s;
  more.worker_count = 20;
  auto g3 = QuicLbCidGenerator::create(more, random.source());
  ASSERT_TRUE(g3);
  ConnectionId beyond;
  ASSERT_TRUE(g3->generate(12, &beyond));
  EXPECT_EQ(g3->worker_of(beyond.span()), 12);
  EXPECT_FALSE(g->worker_of(beyond.span()));

  // Random bytes of the right shape almost never name one of our workers.
  std::mt19937_64 rng(5);
  int hits = 0;
  for (int i = 0; i < 2000; ++i) {
    Bytes junk = random_bytes(rng, g->cid_length());
    junk[0] = static_cast<std::uint8_t>((2 << 5) | (junk.size() - 1));
    if (g->worker_of(junk)) ++hits;
  }
  EXPECT_LT(hits, 5);  // expected 2000 * 10/65536 host+worker matches: ~0.3
}

TEST(QuicLbGenerator, EncryptedNoncesCountFromRandomStart) {
  // §9.6: counter nonces from a random start, one counter per worker.
  TestRandom random(21);
  QuicLbCidGeneratorSettings s;
  s.host_id = sid_from(hex("77"));
  s.worker_count = 3;
  s.nonce_length = 5;
  s.key = kVectorKey;
  s.encode_length = true;
  auto g = QuicLbCidGenerator::create(s, random.source());
  ASSERT_TRUE(g);
  const std::size_t seed_calls = random.calls;
  EXPECT_EQ(seed_calls, 3u);  // one random start per worker
  for (std::uint16_t w = 0; w < 3; ++w) {
    std::uint64_t first = 0;
    for (std::uint64_t i = 0; i < 300; ++i) {  // crosses a low-byte carry
      ConnectionId cid;
      ASSERT_TRUE(g->generate(w, &cid));
      Bytes nonce(5);
      ASSERT_TRUE(g->config().decode(cid.span(), nonce));
      std::uint64_t n = 0;
      for (std::uint8_t b : nonce)
        n = n << 8 | b;
      if (i == 0) first = n;
      EXPECT_EQ(n, (first + i) & 0xffffffffffull);
    }
  }
  // With the length self-encoded, nothing random is needed per CID.
  EXPECT_EQ(random.calls, seed_calls);
}

TEST(QuicLbGenerator, PlaintextNoncesAreFreshRandom) {
  TestRandom random(22);
  QuicLbCidGeneratorSettings s;
  s.host_id = sid_from(hex("77"));
  s.worker_count = 2;
  s.nonce_length = 8;
  auto g = QuicLbCidGenerator::create(s, random.source());
  ASSERT_TRUE(g);
  EXPECT_EQ(random.calls, 0u);  // no counters to seed in plaintext mode
  std::set<std::string> nonces;
  std::set<std::uint8_t> low_bits;
  for (int i = 0; i < 200; ++i) {
    ConnectionId cid;
    ASSERT_TRUE(g->generate(1, &cid));
    Bytes nonce(8);
    ASSERT_TRUE(g->config().decode(cid.span(), nonce));
    EXPECT_TRUE(same_bytes(ByteSpan(nonce), cid.span().subspan(3)));  // in the clear
    nonces.insert(to_hex(nonce));
    low_bits.insert(cid.bytes[0] & 0x1f);
  }
  EXPECT_EQ(random.calls, 200u);  // one call per CID: nonce and first-octet bits
  EXPECT_EQ(nonces.size(), 200u);
  EXPECT_GT(low_bits.size(), 16u);  // §3.3: random, not a constant or counter
}

TEST(QuicLbGenerator, StopsAtTheNonceLimit) {
  TestRandom random(23);
  QuicLbCidGeneratorSettings s;
  s.host_id = sid_from(hex("77"));
  s.worker_count = 2;
  s.nonce_length = 4;
  s.key = kVectorKey;
  auto full = QuicLbCidGenerator::create(s, random.source());
  ASSERT_TRUE(full);
  EXPECT_EQ(full->remaining(0), std::uint64_t{1} << 32);  // 4-byte counter space

  s.max_cids_per_worker = 3;
  auto g = QuicLbCidGenerator::create(s, random.source());
  ASSERT_TRUE(g);
  ConnectionId cid;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(g->remaining(0), 3u - i);
    ASSERT_TRUE(g->generate(0, &cid));
  }
  EXPECT_EQ(g->remaining(0), 0u);
  EXPECT_FALSE(g->generate(0, &cid));  // §9.6: exhausted, never reuse
  EXPECT_TRUE(g->generate(1, &cid));   // the other worker has its own budget
  EXPECT_EQ(g->worker_of(cid.span()), 1);

  s.key.reset();  // plaintext mode honours the operator's limit too
  s.max_cids_per_worker = 1;
  auto p = QuicLbCidGenerator::create(s, random.source());
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->generate(0, &cid));
  EXPECT_FALSE(p->generate(0, &cid));
}

TEST(QuicLbGenerator, CreateRejectsInvalidSettings) {
  TestRandom random(1);
  QuicLbCidGeneratorSettings good;
  good.host_id = sid_from(hex("0102"));
  good.worker_count = 4;
  good.nonce_length = 6;
  ASSERT_TRUE(QuicLbCidGenerator::create(good, random.source()));

  struct Case {
    QuicLbCidGeneratorSettings s;
    CidGeneratorError want;
    QuicLbConfigError want_lb;
  };
  std::vector<Case> cases;
  auto with = [&](auto change, CidGeneratorError e, QuicLbConfigError lb) {
    QuicLbCidGeneratorSettings s = good;
    change(s);
    cases.push_back({s, e, lb});
  };
  using E = CidGeneratorError;
  using L = QuicLbConfigError;
  with([](auto& s) { s.worker_id_length = 0; }, E::kWorkerIdLength, L::kOk);
  with([](auto& s) { s.worker_id_length = 3; }, E::kWorkerIdLength, L::kOk);
  with([](auto& s) { s.worker_count = 0; }, E::kWorkerCount, L::kOk);
  with([](auto& s) { s.worker_count = 257; }, E::kWorkerCount, L::kOk);
  with([](auto& s) { s.host_id = sid_from(Bytes(15, 1)); }, E::kHostIdLength, L::kOk);
  with([](auto& s) { s.host_id.length = 200; }, E::kHostIdLength, L::kOk);
  with([](auto& s) { s.config_rotation = 7; }, E::kQuicLbConfig, L::kReservedConfigRotation);
  with([](auto& s) { s.nonce_length = 3; }, E::kQuicLbConfig, L::kNonceLength);
  with([](auto& s) { s.nonce_length = 17; }, E::kQuicLbConfig, L::kTooLong);
  for (const Case& c : cases) {
    SCOPED_TRACE(to_string(c.want));
    CidGeneratorError e = E::kOk;
    QuicLbConfigError lb = L::kOk;
    EXPECT_FALSE(QuicLbCidGenerator::create(c.s, random.source(), &e, &lb));
    EXPECT_EQ(e, c.want);
    EXPECT_EQ(lb, c.want_lb);
  }
  CidGeneratorError e = E::kOk;
  EXPECT_FALSE(QuicLbCidGenerator::create(good, nullptr, &e));
  EXPECT_EQ(e, E::kNoRandomSource);
  // Edge values that are allowed.
  QuicLbCidGeneratorSettings edge = good;
  edge.worker_count = 256;
  EXPECT_TRUE(QuicLbCidGenerator::create(edge, random.source()));
  edge.worker_id_length = 2;
  edge.worker_count = 65535;
  edge.host_id = sid_from(Bytes(13, 1));
  edge.nonce_length = 4;
  EXPECT_TRUE(QuicLbCidGenerator::create(edge, random.source()));
}

TEST(QuicLbGenerator, WorksWithOpenSslRandom) {
  QuicLbCidGeneratorSettings s;
  s.host_id = sid_from(hex("0102"));
  s.worker_count = 16;
  s.nonce_length = 7;
  s.key = kVectorKey;
  auto g = QuicLbCidGenerator::create(s, [](std::span<std::uint8_t> b) {
    ASSERT_EQ(RAND_bytes(b.data(), static_cast<int>(b.size())), 1);
  });
  ASSERT_TRUE(g);
  for (std::uint16_t w = 0; w < 16; ++w) {
    ConnectionId cid;
    ASSERT_TRUE(g->generate(w, &cid));
    EXPECT_EQ(g->worker_of(cid.span()), w);
  }
}

// --- RandomCidGenerator ---------------------------------------------------

TEST(RandomCidGenerator, WorkerIdInTheClear) {
  for (std::uint8_t len : {8, 12, 20}) {
    for (std::uint8_t wlen : {1, 2}) {
      for (bool unroutable : {false, true}) {
        SCOPED_TRACE(testing::Message() << int{len} << " " << int{wlen} << " " << unroutable);
        TestRandom random(len);
        RandomCidGeneratorSettings s;
        s.cid_length = len;
        s.worker_id_length = wlen;
        s.worker_count = wlen == 1 ? 256 : 3000;
        s.quic_lb_unroutable = unroutable;
        auto g = RandomCidGenerator::create(s, random.source());
        ASSERT_TRUE(g);
        EXPECT_EQ(g->cid_length(), len);
        std::set<std::string> seen;
        for (std::uint32_t w = 0; w < s.worker_count; ++w) {
          const auto worker = static_cast<std::uint16_t>(w);
          ConnectionId cid;
          ASSERT_TRUE(g->generate(worker, &cid));
          ASSERT_EQ(cid.length, len);
          ASSERT_EQ(g->worker_of(cid.span()), worker);
          ASSERT_TRUE(seen.insert(to_hex(cid.span())).second);
          const std::size_t at = unroutable ? 1 : 0;
          const std::uint16_t clear =
              wlen == 2 ? static_cast<std::uint16_t>(cid.bytes[at] << 8 | cid.bytes[at + 1])
                        : cid.bytes[at];
          ASSERT_EQ(clear, worker);
          if (unroutable) {
            // §3.2: 0b111 with the self-encoded length.
            ASSERT_EQ(cid.bytes[0], 0xe0 | (len - 1));
            ASSERT_TRUE(quic_lb_unroutable(cid.span()));
          }
        }
        ConnectionId cid;
        EXPECT_FALSE(g->generate(s.worker_count, &cid));
      }
    }
  }
}

TEST(RandomCidGenerator, RestIsRandomPerCid) {
  TestRandom random(4);
  RandomCidGeneratorSettings s;
  s.cid_length = 8;
  s.worker_count = 2;
  auto g = RandomCidGenerator::create(s, random.source());
  ASSERT_TRUE(g);
  std::set<std::string> tails;
  for (int i = 0; i < 500; ++i) {
    ConnectionId cid;
    ASSERT_TRUE(g->generate(1, &cid));
    tails.insert(to_hex(cid.span().subspan(1)));
  }
  EXPECT_EQ(tails.size(), 500u);
  EXPECT_EQ(random.calls, 500u);
}

TEST(RandomCidGenerator, RejectsForeignDcids) {
  TestRandom random(5);
  RandomCidGeneratorSettings s;
  s.cid_length = 10;
  s.worker_id_length = 2;
  s.worker_count = 300;
  s.quic_lb_unroutable = true;
  auto g = RandomCidGenerator::create(s, random.source());
  ASSERT_TRUE(g);
  ConnectionId cid;
  ASSERT_TRUE(g->generate(299, &cid));
  ASSERT_EQ(g->worker_of(cid.span()), 299);
  EXPECT_FALSE(g->worker_of(cid.span().first(9)));
  Bytes longer(cid.span().begin(), cid.span().end());
  longer.push_back(1);
  EXPECT_FALSE(g->worker_of(longer));
  Bytes bad_first(cid.span().begin(), cid.span().end());
  bad_first[0] = 0xe0 | 8;  // unroutable, but a length that is not ours
  EXPECT_FALSE(g->worker_of(bad_first));
  bad_first[0] = 0x09;  // a routable codepoint
  EXPECT_FALSE(g->worker_of(bad_first));
  Bytes beyond(cid.span().begin(), cid.span().end());
  beyond[1] = 0x01;
  beyond[2] = 0x2c;  // worker 300
  EXPECT_FALSE(g->worker_of(beyond));
  // A QUIC-LB load balancer never decodes these (§3.2).
  QuicLbConfig lb;
  ASSERT_EQ(lb.init(settings(0, hex("0001"), 7, kVectorKey)), QuicLbConfigError::kOk);
  EXPECT_FALSE(lb.decode(cid.span()));
}

TEST(RandomCidGenerator, CreateRejectsInvalidSettings) {
  TestRandom random(6);
  using E = CidGeneratorError;
  const struct {
    std::uint8_t len, wlen;
    std::uint16_t workers;
    E want;
  } cases[] = {
      {7, 1, 4, E::kCidLength},      {21, 1, 4, E::kCidLength},     {0, 1, 4, E::kCidLength},
      {8, 0, 4, E::kWorkerIdLength}, {8, 3, 4, E::kWorkerIdLength}, {8, 1, 0, E::kWorkerCount},
      {8, 1, 257, E::kWorkerCount},  {8, 2, 0, E::kWorkerCount},    {8, 1, 256, E::kOk},
      {20, 2, 65535, E::kOk},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(to_string(c.want));
    RandomCidGeneratorSettings s;
    s.cid_length = c.len;
    s.worker_id_length = c.wlen;
    s.worker_count = c.workers;
    E e = E::kOk;
    auto g = RandomCidGenerator::create(s, random.source(), &e);
    EXPECT_EQ(e, c.want);
    EXPECT_EQ(g != nullptr, c.want == E::kOk);
  }
  E e = E::kOk;
  EXPECT_FALSE(RandomCidGenerator::create(RandomCidGeneratorSettings{}, nullptr, &e));
  EXPECT_EQ(e, E::kNoRandomSource);
  EXPECT_STRNE(to_string(E::kCidLength), "unknown");
}

}  // namespace
}  // namespace dquic
