// Key exchange (RFC 8446 §4.2.8.2, §7.4), CertificateVerify (§4.4.3) and
// chain verification. All certificates are made here at run time with
// OpenSSL; nothing is read from outside the test.
#include "quic/tls_credentials.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "quic/tls_key_exchange.h"
#include "tests/support/hex.h"

namespace dquic {
namespace {

using test::Bytes;
using test::hex;

}  // namespace

// gtest prints alerts by name.
void PrintTo(TlsAlert a, std::ostream* os) {
  *os << tls_alert_name(a);
}

namespace {

// ---------------------------------------------------------------------------
// Test material

// Fixed times (seconds since the epoch) so nothing depends on the clock.
constexpr std::int64_t kCaNotBefore = 1600000000;    // 2020-09
constexpr std::int64_t kCaNotAfter = 2100000000;     // 2036-07
constexpr std::int64_t kLeafNotBefore = 1700000000;  // 2023-11
constexpr std::int64_t kLeafNotAfter = 2000000000;   // 2033-05
constexpr std::int64_t kNow = 1800000000;            // 2027-01
constexpr std::int64_t kExpiredNotAfter = 1650000000;
constexpr char kSan[] = "DNS:example.test,IP:198.18.0.1";

EvpPkeyPtr gen_ec(const char* curve) {
  return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}
EvpPkeyPtr gen_rsa(int bits) {
  return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
}
EvpPkeyPtr gen_ed25519() {
  return EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
}

void add_ext(X509* x, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  ASSERT_NE(ext, nullptr) << value;
  ASSERT_EQ(X509_add_ext(x, ext, -1), 1);
  X509_EXTENSION_free(ext);
}

struct CertSpec {
  const char* cn = "leaf";
  bool ca = false;
  std::int64_t not_before = kLeafNotBefore;
  std::int64_t not_after = kLeafNotAfter;
  const char* san = kSan;          // leaf only
  const char* eku = "serverAuth";  // leaf only
};

// A v3 certificate for `key`, signed by `issuer_key` (self-signed when
// issuer is null) with ECDSA/RSA + SHA-256.
X509Ptr make_cert(EVP_PKEY* key, const CertSpec& spec, X509* issuer, EVP_PKEY* issuer_key) {
  static long serial = 1;
  X509Ptr x(X509_new());
  EXPECT_EQ(X509_set_version(x.get(), X509_VERSION_3), 1);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
  ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(spec.not_before));
  ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(spec.not_after));
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.cn), -1, -1, 0);
  X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
  add_ext(x.get(), &ctx, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) add_ext(x.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (spec.ca) {
    add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(x.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(x.get(), &ctx, NID_key_usage, "critical,digitalSignature");
    add_ext(x.get(), &ctx, NID_ext_key_usage, spec.eku);
    add_ext(x.get(), &ctx, NID_subject_alt_name, spec.san);
  }
  EXPECT_GT(X509_sign(x.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()), 0);
  return x;
}

std::string bio_string(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string pem(X509* x) {
  std::unique_ptr<BIO, OpensslFree<&BIO_free>> bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_X509(bio.get(), x), 1);
  return bio_string(bio.get());
}

std::string pem(EVP_PKEY* key) {
  std::unique_ptr<BIO, OpensslFree<&BIO_free>> bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  return bio_string(bio.get());
}

Bytes der(X509* x) {
  const int len = i2d_X509(x, nullptr);
  Bytes out(static_cast<std::size_t>(len));
  std::uint8_t* p = out.data();
  i2d_X509(x, &p);
  return out;
}

// One key + certificate signed by the root CA.
struct Leaf {
  EvpPkeyPtr key;
  X509Ptr cert;
  std::string chain_pem() const;  // leaf + root
  std::string key_pem() const { return pem(key.get()); }
};

struct Material {
  EvpPkeyPtr ca_key = gen_ec("P-256");
  X509Ptr ca;
  EvpPkeyPtr other_ca_key = gen_ec("P-256");
  X509Ptr other_ca;
  EvpPkeyPtr inter_key = gen_ec("P-256");
  X509Ptr inter;

  Leaf p256, p384, rsa, ed25519;
  Leaf expired;      // P-256, validity over before kNow
  Leaf foreign;      // P-256, from other_ca
  Leaf via_inter;    // P-256, issued by inter
  Leaf client_only;  // P-256, EKU clientAuth only

  Material() {
    CertSpec ca_spec{
        .cn = "dquic test root", .ca = true, .not_before = kCaNotBefore, .not_after = kCaNotAfter};
    ca = make_cert(ca_key.get(), ca_spec, nullptr, nullptr);
    CertSpec other_spec = ca_spec;
    other_spec.cn = "some other root";
    other_ca = make_cert(other_ca_key.get(), other_spec, nullptr, nullptr);
    CertSpec inter_spec = ca_spec;
    inter_spec.cn = "dquic test intermediate";
    inter = make_cert(inter_key.get(), inter_spec, ca.get(), ca_key.get());

    issue(&p256, gen_ec("P-256"), {}, ca.get(), ca_key.get());
    issue(&p384, gen_ec("P-384"), {}, ca.get(), ca_key.get());
    issue(&rsa, gen_rsa(2048), {}, ca.get(), ca_key.get());
    issue(&ed25519, gen_ed25519(), {}, ca.get(), ca_key.get());
    issue(&expired, gen_ec("P-256"), {.not_before = kCaNotBefore, .not_after = kExpiredNotAfter},
          ca.get(), ca_key.get());
    issue(&foreign, gen_ec("P-256"), {}, other_ca.get(), other_ca_key.get());
    issue(&via_inter, gen_ec("P-256"), {}, inter.get(), inter_key.get());
    issue(&client_only, gen_ec("P-256"), {.eku = "clientAuth"}, ca.get(), ca_key.get());
  }

  static void issue(Leaf* l, EvpPkeyPtr key, const CertSpec& spec, X509* issuer,
                    EVP_PKEY* issuer_key) {
    l->key = std::move(key);
    l->cert = make_cert(l->key.get(), spec, issuer, issuer_key);
  }

  const Leaf& leaf(KeyType t) const {
    switch (t) {
      case KeyType::kEcdsaP384:
        return p384;
      case KeyType::kRsa:
        return rsa;
      case KeyType::kEd25519:
        return ed25519;
      default:
        return p256;
    }
  }
};

// Made once: RSA key generation is slow.
const Material& material() {
  static const Material m;
  return m;
}

std::string Leaf::chain_pem() const {
  return pem(cert.get()) + pem(material().ca.get());
}

std::unique_ptr<ServerCredentials> load_leaf(const Leaf& l) {
  std::string err;
  auto c = ServerCredentials::load_pem(l.chain_pem(), l.key_pem(), &err);
  EXPECT_NE(c, nullptr) << err;
  return c;
}

// mkdtemp directory, removed with its contents.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dquic-tls-credentials-XXXXXX";
    const char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    if (p != nullptr) path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  std::string write(const std::string& name, const std::string& content) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Bytes transcript(std::size_t len, std::uint8_t seed) {
  Bytes h(len);
  for (std::size_t i = 0; i < len; ++i)
    h[i] = static_cast<std::uint8_t>(seed + i * 7);
  return h;
}

const char* key_type_name(KeyType t) {
  switch (t) {
    case KeyType::kEcdsaP256:
      return "EcdsaP256";
    case KeyType::kEcdsaP384:
      return "EcdsaP384";
    case KeyType::kRsa:
      return "Rsa";
    case KeyType::kEd25519:
      return "Ed25519";
    default:
      return "Unsupported";
  }
}

// ---------------------------------------------------------------------------
// Key exchange

class KeyExchange : public ::testing::TestWithParam<NamedGroup> {};

TEST_P(KeyExchange, BothSidesDeriveTheSameSecret) {
  const NamedGroup g = GetParam();
  KeyShare client, server;
  ASSERT_EQ(client.generate(g), std::nullopt);
  ASSERT_EQ(server.generate(g), std::nullopt);
  EXPECT_EQ(client.group(), g);
  ASSERT_EQ(client.public_key().size(), key_share_length(g));
  if (g == NamedGroup::kSecp256r1) {
    EXPECT_EQ(client.public_key()[0], 0x04);  // uncompressed, §4.2.8.2
  }
  EXPECT_NE(test::bytes(client.public_key()), test::bytes(server.public_key()));

  SharedSecret a, b;
  ASSERT_EQ(client.derive(server.public_key(), &a), std::nullopt);
  ASSERT_EQ(server.derive(client.public_key(), &b), std::nullopt);
  EXPECT_EQ(a.length, 32);
  EXPECT_EQ(test::bytes(a.span()), test::bytes(b.span()));
}

TEST_P(KeyExchange, WrongLengthsAreIllegalParameter) {
  const NamedGroup g = GetParam();
  KeyShare ks, peer;
  ASSERT_EQ(ks.generate(g), std::nullopt);
  ASSERT_EQ(peer.generate(g), std::nullopt);
  Bytes good = test::bytes(peer.public_key());
  for (std::size_t len : {std::size_t{0}, std::size_t{1}, good.size() - 1, good.size() + 1}) {
    Bytes v = good;
    v.resize(len, 0x01);
    SharedSecret s;
    EXPECT_EQ(ks.derive(v, &s), TlsAlert::kIllegalParameter) << len;
    EXPECT_EQ(s.length, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Groups, KeyExchange,
                         ::testing::Values(NamedGroup::kX25519, NamedGroup::kSecp256r1),
                         [](const auto& info) {
                           return info.param == NamedGroup::kX25519 ? "X25519" : "Secp256r1";
                         });

TEST(KeyExchangeP256, InvalidPointsAreIllegalParameter) {
  KeyShare ks, peer;
  ASSERT_EQ(ks.generate(NamedGroup::kSecp256r1), std::nullopt);
  ASSERT_EQ(peer.generate(NamedGroup::kSecp256r1), std::nullopt);
  const Bytes good = test::bytes(peer.public_key());

  std::vector<std::pair<const char*, Bytes>> cases;
  cases.emplace_back("infinity", Bytes{0x00});
  Bytes compressed(good.begin(), good.begin() + 33);
  compressed[0] = 0x02 | (good[64] & 1);
  cases.emplace_back("compressed", compressed);
  Bytes hybrid = good;
  hybrid[0] = 0x06 | (good[64] & 1);  // X9.62 hybrid form, also refused
  cases.emplace_back("hybrid", hybrid);
  Bytes zeros(65, 0);
  zeros[0] = 0x04;
  cases.emplace_back("(0,0)", zeros);
  Bytes off_curve = good;
  off_curve[64] ^= 0x01;
  cases.emplace_back("off curve", off_curve);
  // x = p, the field prime: out of range even before the curve check.
  Bytes x_is_p =
      hex("04 ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"
          "   0000000000000000000000000000000000000000000000000000000000000001");
  cases.emplace_back("x = p", x_is_p);

  for (const auto& [what, v] : cases) {
    SharedSecret s;
    EXPECT_EQ(ks.derive(v, &s), TlsAlert::kIllegalParameter) << what;
  }
  SharedSecret s;
  EXPECT_EQ(ks.derive(good, &s), std::nullopt);
}

TEST(KeyExchangeX25519, SmallOrderPeersAreIllegalParameter) {
  // Values whose X25519 output is all zeros (the zero point, 1, an order-8
  // point, p and p + 1 which reduce to 0 and 1): RFC 8446 §7.4.2, RFC 7748 §6.1.
  const char* const kSmallOrder[] = {
      "0000000000000000000000000000000000000000000000000000000000000000",
      "0100000000000000000000000000000000000000000000000000000000000000",
      "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
      "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
      "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  };
  KeyShare ks;
  ASSERT_EQ(ks.generate(NamedGroup::kX25519), std::nullopt);
  for (const char* v : kSmallOrder) {
    SharedSecret s;
    EXPECT_EQ(ks.derive(hex(v), &s), TlsAlert::kIllegalParameter) << v;
    EXPECT_EQ(s.length, 0);
  }
}

TEST(KeyExchangeMisuse, UngeneratedOrUnknownGroupIsInternalError) {
  KeyShare ks;
  EXPECT_FALSE(ks.ready());
  SharedSecret s;
  EXPECT_EQ(ks.derive(Bytes(32, 9), &s), TlsAlert::kInternalError);
  EXPECT_EQ(ks.generate(static_cast<NamedGroup>(0x0018)), TlsAlert::kInternalError);  // secp384r1
  EXPECT_TRUE(is_supported_group(0x001d));
  EXPECT_TRUE(is_supported_group(0x0017));
  EXPECT_FALSE(is_supported_group(0x0018));
}

// ---------------------------------------------------------------------------
// CertificateVerify

TEST(CertificateVerifyContent, LayoutOfRfc8446Section443) {
  const Bytes hash = transcript(32, 1);
  std::uint8_t buf[kMaxCertificateVerifyContentLength];
  const std::size_t n = certificate_verify_content(hash, true, buf);
  const std::string ctx = "TLS 1.3, server CertificateVerify";
  ASSERT_EQ(n, 64 + ctx.size() + 1 + 32);
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(buf[i], 0x20);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf + 64), ctx.size()), ctx);
  EXPECT_EQ(buf[64 + ctx.size()], 0);
  EXPECT_EQ(Bytes(buf + 64 + ctx.size() + 1, buf + n), hash);

  ASSERT_EQ(certificate_verify_content(hash, false, buf), n);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf + 64), ctx.size()),
            "TLS 1.3, client CertificateVerify");
  EXPECT_EQ(certificate_verify_content({}, true, buf), 0u);
  EXPECT_EQ(certificate_verify_content(hash, true, std::span(buf, n - 1)), 0u);
}

class CertificateVerify : public ::testing::TestWithParam<KeyType> {};

TEST_P(CertificateVerify, EveryScheme) {
  const Leaf& l = material().leaf(GetParam());
  auto creds = load_leaf(l);
  ASSERT_NE(creds, nullptr);
  EXPECT_EQ(creds->key_type(), GetParam());
  ASSERT_EQ(creds->chain_der().size(), 2u);
  EXPECT_EQ(creds->chain_der()[0], der(l.cert.get()));
  EXPECT_EQ(creds->chain_der()[1], der(material().ca.get()));
  PeerCertificate peer;
  ASSERT_EQ(peer.parse(creds->chain_der()[0]), std::nullopt);
  EXPECT_EQ(peer.key_type(), GetParam());

  const SignatureScheme kAll[] = {
      SignatureScheme::kEcdsaSecp256r1Sha256, SignatureScheme::kEcdsaSecp384r1Sha384,
      SignatureScheme::kRsaPssRsaeSha256,     SignatureScheme::kRsaPssRsaeSha384,
      SignatureScheme::kRsaPssRsaeSha512,     SignatureScheme::kEd25519,
  };
  ASSERT_FALSE(creds->schemes().empty());
  for (SignatureScheme scheme : creds->schemes()) {
    const auto code = static_cast<std::uint16_t>(scheme);
    SCOPED_TRACE(code);
    for (std::size_t hash_len : {32u, 48u}) {
      for (bool is_server : {true, false}) {
        const Bytes hash = transcript(hash_len, 3);
        std::uint8_t sig[kMaxSignatureLength];
        std::size_t sig_len = 0;
        ASSERT_EQ(creds->sign_certificate_verify(scheme, hash, is_server, sig, &sig_len),
                  std::nullopt);
        ASSERT_GT(sig_len, 0u);
        const ByteSpan sig_span(sig, sig_len);
        EXPECT_EQ(verify_certificate_verify(peer, code, kAll, hash, is_server, sig_span),
                  std::nullopt);

        // Wrong side's context string (server vs client).
        EXPECT_EQ(verify_certificate_verify(peer, code, kAll, hash, !is_server, sig_span),
                  TlsAlert::kDecryptError);
        // A different transcript.
        EXPECT_EQ(verify_certificate_verify(peer, code, kAll, transcript(hash_len, 4), is_server,
                                            sig_span),
                  TlsAlert::kDecryptError);
        // One flipped bit, at the start, middle and end.
        for (std::size_t at : {std::size_t{0}, sig_len / 2, sig_len - 1}) {
          Bytes bad(sig, sig + sig_len);
          bad[at] ^= 0x01;
          EXPECT_EQ(verify_certificate_verify(peer, code, kAll, hash, is_server, bad),
                    TlsAlert::kDecryptError)
              << at;
        }
        // Truncated and empty.
        EXPECT_EQ(verify_certificate_verify(peer, code, kAll, hash, is_server,
                                            sig_span.first(sig_len - 1)),
                  TlsAlert::kDecryptError);
        EXPECT_EQ(verify_certificate_verify(peer, code, kAll, hash, is_server, {}),
                  TlsAlert::kDecryptError);

        // Not offered by us: illegal_parameter, even though it would verify.
        const SignatureScheme others[] = {scheme == SignatureScheme::kEd25519
                                              ? SignatureScheme::kEcdsaSecp256r1Sha256
                                              : SignatureScheme::kEd25519};
        EXPECT_EQ(verify_certificate_verify(peer, code, others, hash, is_server, sig_span),
                  TlsAlert::kIllegalParameter);
      }
    }
  }

  // Every offered scheme the key cannot make, and rsa_pkcs1_sha256 (0x0401)
  // which TLS 1.3 forbids in CertificateVerify: illegal_parameter.
  std::uint8_t sig[kMaxSignatureLength];
  std::size_t sig_len = 0;
  const Bytes hash = transcript(32, 5);
  for (SignatureScheme s : kAll) {
    const auto code = static_cast<std::uint16_t>(s);
    if (scheme_matches_key(GetParam(), code)) continue;
    EXPECT_EQ(verify_certificate_verify(peer, code, kAll, hash, true, Bytes(64, 1)),
              TlsAlert::kIllegalParameter)
        << code;
    // Nor will we sign with it.
    EXPECT_EQ(creds->sign_certificate_verify(s, hash, true, sig, &sig_len),
              TlsAlert::kInternalError)
        << code;
  }
  const SignatureScheme with_pkcs1[] = {static_cast<SignatureScheme>(0x0401)};
  EXPECT_EQ(verify_certificate_verify(peer, 0x0401, with_pkcs1, hash, true, Bytes(256, 1)),
            TlsAlert::kIllegalParameter);

  // An output buffer too small for the signature.
  EXPECT_EQ(
      creds->sign_certificate_verify(creds->schemes()[0], hash, true, std::span(sig, 16), &sig_len),
      TlsAlert::kInternalError);
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, CertificateVerify,
                         ::testing::Values(KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa,
                                           KeyType::kEd25519),
                         [](const auto& info) { return key_type_name(info.param); });

// RFC 8446 §4.2.3: RSASSA-PSS salt as long as the digest, MGF1 with the same
// hash. Checked with an independent EVP verifier that demands that salt length.
TEST(CertificateVerifyRsa, PssSaltLengthEqualsHashLength) {
  auto creds = load_leaf(material().rsa);
  ASSERT_NE(creds, nullptr);
  const Bytes hash = transcript(32, 9);
  struct Case {
    SignatureScheme scheme;
    const EVP_MD* md;
    int salt;
  };
  for (const Case& c : {Case{SignatureScheme::kRsaPssRsaeSha256, EVP_sha256(), 32},
                        Case{SignatureScheme::kRsaPssRsaeSha384, EVP_sha384(), 48},
                        Case{SignatureScheme::kRsaPssRsaeSha512, EVP_sha512(), 64}}) {
    std::uint8_t sig[kMaxSignatureLength];
    std::size_t sig_len = 0;
    ASSERT_EQ(creds->sign_certificate_verify(c.scheme, hash, true, sig, &sig_len), std::nullopt);
    EXPECT_EQ(sig_len, 256u);  // RSA-2048
    std::uint8_t content[kMaxCertificateVerifyContentLength];
    const std::size_t n = certificate_verify_content(hash, true, content);
    for (int salt : {c.salt, c.salt - 1}) {
      std::unique_ptr<EVP_MD_CTX, OpensslFree<&EVP_MD_CTX_free>> md(EVP_MD_CTX_new());
      EVP_PKEY_CTX* pctx = nullptr;
      ASSERT_EQ(EVP_DigestVerifyInit(md.get(), &pctx, c.md, nullptr, material().rsa.key.get()), 1);
      ASSERT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
      ASSERT_EQ(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt), 1);
      ASSERT_EQ(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, c.md), 1);
      EXPECT_EQ(EVP_DigestVerify(md.get(), sig, sig_len, content, n) == 1, salt == c.salt) << salt;
    }
  }
}

// ---------------------------------------------------------------------------
// Scheme negotiation

TEST(ChooseScheme, ServerPreferenceAmongOffered) {
  SignatureScheme got{};
  auto p256 = load_leaf(material().p256);
  auto p384 = load_leaf(material().p384);
  auto rsa = load_leaf(material().rsa);
  auto ed = load_leaf(material().ed25519);
  ASSERT_TRUE(p256 && p384 && rsa && ed);

  const std::uint16_t offered[] = {0x0807, 0x0806, 0xfefe, 0x0805, 0x0403, 0x0401};
  ASSERT_EQ(p256->choose_scheme(offered, &got), std::nullopt);
  EXPECT_EQ(got, SignatureScheme::kEcdsaSecp256r1Sha256);
  // Our order (SHA-256 first) over the client's; 0x0804 is not offered.
  ASSERT_EQ(rsa->choose_scheme(offered, &got), std::nullopt);
  EXPECT_EQ(got, SignatureScheme::kRsaPssRsaeSha384);
  ASSERT_EQ(ed->choose_scheme(offered, &got), std::nullopt);
  EXPECT_EQ(got, SignatureScheme::kEd25519);

  EXPECT_EQ(p384->choose_scheme(offered, &got), TlsAlert::kHandshakeFailure);
  EXPECT_EQ(rsa->choose_scheme(std::span<const std::uint16_t>(), &got),
            TlsAlert::kHandshakeFailure);
  // rsa_pkcs1 alone does not do for TLS 1.3 CertificateVerify.
  const std::uint16_t pkcs1_only[] = {0x0401, 0x0501};
  EXPECT_EQ(rsa->choose_scheme(pkcs1_only, &got), TlsAlert::kHandshakeFailure);
}

TEST(ChooseScheme, AnyRangeOfCodePoints) {
  SignatureScheme got{};
  auto p384 = load_leaf(material().p384);
  ASSERT_NE(p384, nullptr);
  const std::vector<std::uint16_t> offered = {0x0403, 0x0503, 0x0804};
  ASSERT_EQ(p384->choose_scheme(offered, &got), std::nullopt);
  EXPECT_EQ(got, SignatureScheme::kEcdsaSecp384r1Sha384);
  const std::array<std::uint16_t, 2> without = {0x0403, 0x0804};
  EXPECT_EQ(p384->choose_scheme(without, &got), TlsAlert::kHandshakeFailure);
}

// ---------------------------------------------------------------------------
// Loading server credentials

TEST(ServerCredentialsLoad, FromFiles) {
  TempDir dir;
  const Leaf& l = material().via_inter;
  const std::string chain = dir.write("chain.pem", pem(l.cert.get()) + pem(material().inter.get()));
  const std::string key = dir.write("key.pem", l.key_pem());
  std::string err;
  auto c = ServerCredentials::load(chain, key, &err);
  ASSERT_NE(c, nullptr) << err;
  ASSERT_EQ(c->chain_der().size(), 2u);
  EXPECT_EQ(c->chain_der()[0], der(l.cert.get()));
  EXPECT_EQ(c->chain_der()[1], der(material().inter.get()));
  EXPECT_EQ(c->key_type(), KeyType::kEcdsaP256);

  err.clear();
  EXPECT_EQ(ServerCredentials::load(dir.path() + "/missing.pem", key, &err), nullptr);
  EXPECT_NE(err.find("missing.pem"), std::string::npos) << err;
  err.clear();
  EXPECT_EQ(ServerCredentials::load(chain, dir.path() + "/missing.pem", &err), nullptr);
  EXPECT_FALSE(err.empty());
  err.clear();
  EXPECT_EQ(ServerCredentials::load(dir.write("empty.pem", ""), key, &err), nullptr);
  EXPECT_NE(err.find("no certificate"), std::string::npos) << err;
  err.clear();
  EXPECT_EQ(ServerCredentials::load(chain, chain, &err), nullptr);  // a certificate as the key
  EXPECT_FALSE(err.empty());
}

TEST(ServerCredentialsLoad, KeyMustMatchLeaf) {
  std::string err;
  const Material& m = material();
  // Same key type, other key.
  EXPECT_EQ(ServerCredentials::load_pem(m.p256.chain_pem(), m.expired.key_pem(), &err), nullptr);
  EXPECT_NE(err.find("does not match"), std::string::npos) << err;
  // Other key type.
  err.clear();
  EXPECT_EQ(ServerCredentials::load_pem(m.rsa.chain_pem(), m.ed25519.key_pem(), &err), nullptr);
  EXPECT_NE(err.find("does not match"), std::string::npos) << err;
  // The matching key is the CA's, not the leaf's.
  err.clear();
  EXPECT_EQ(ServerCredentials::load_pem(m.p256.chain_pem(), pem(m.ca_key.get()), &err), nullptr);
  EXPECT_NE(err.find("does not match"), std::string::npos) << err;
}

TEST(ServerCredentialsLoad, RejectsWeakRsaAndBrokenPem) {
  EvpPkeyPtr weak = gen_rsa(1024);
  ASSERT_NE(weak, nullptr);
  X509Ptr cert = make_cert(weak.get(), {}, material().ca.get(), material().ca_key.get());
  std::string err;
  EXPECT_EQ(ServerCredentials::load_pem(pem(cert.get()), pem(weak.get()), &err), nullptr);
  EXPECT_NE(err.find("1024"), std::string::npos) << err;

  std::string broken = material().p256.chain_pem();
  broken[broken.find("MII") + 10] = '!';
  err.clear();
  EXPECT_EQ(ServerCredentials::load_pem(broken, material().p256.key_pem(), &err), nullptr);
  EXPECT_FALSE(err.empty());

  // Unsupported curve.
  EvpPkeyPtr p521 = gen_ec("P-521");
  X509Ptr c521 = make_cert(p521.get(), {}, material().ca.get(), material().ca_key.get());
  err.clear();
  EXPECT_EQ(ServerCredentials::load_pem(pem(c521.get()), pem(p521.get()), &err), nullptr);
  EXPECT_NE(err.find("unsupported key"), std::string::npos) << err;
}

// ---------------------------------------------------------------------------
// Chain verification

std::unique_ptr<CertificateVerifier> trust_root() {
  TrustOptions o;
  o.ca_pem = pem(material().ca.get());
  std::string err;
  auto v = CertificateVerifier::create(o, &err);
  EXPECT_NE(v, nullptr) << err;
  return v;
}

// Runs verify() on DER blobs.
std::optional<TlsAlert> run_verify(const CertificateVerifier& v, std::vector<X509*> certs,
                                   std::string_view name, std::int64_t now,
                                   PeerCertificate* leaf = nullptr) {
  std::vector<Bytes> ders;
  for (X509* c : certs)
    ders.push_back(der(c));
  std::vector<ByteSpan> views(ders.begin(), ders.end());
  PeerCertificate local;
  return v.verify(views, name, now, leaf != nullptr ? leaf : &local);
}

TEST(CertificateVerifier, ValidChainsEveryKeyType) {
  auto v = trust_root();
  ASSERT_NE(v, nullptr);
  const Material& m = material();
  for (KeyType t : {KeyType::kEcdsaP256, KeyType::kEcdsaP384, KeyType::kRsa, KeyType::kEd25519}) {
    PeerCertificate leaf;
    EXPECT_EQ(run_verify(*v, {m.leaf(t).cert.get()}, "example.test", kNow, &leaf), std::nullopt)
        << key_type_name(t);
    EXPECT_EQ(leaf.key_type(), t);
    // A server may send the root too (§4.4.2: it MAY be omitted).
    EXPECT_EQ(run_verify(*v, {m.leaf(t).cert.get(), m.ca.get()}, "example.test", kNow),
              std::nullopt);
  }
  EXPECT_EQ(run_verify(*v, {m.via_inter.cert.get(), m.inter.get()}, "example.test", kNow),
            std::nullopt);
}

TEST(CertificateVerifier, EndToEndWithCertificateVerify) {
  auto v = trust_root();
  auto creds = load_leaf(material().ed25519);
  ASSERT_TRUE(v && creds);
  std::vector<ByteSpan> chain(creds->chain_der().begin(), creds->chain_der().end());
  PeerCertificate leaf;
  ASSERT_EQ(v->verify(chain, "example.test", kNow, &leaf), std::nullopt);
  const Bytes hash = transcript(48, 7);
  std::uint8_t sig[kMaxSignatureLength];
  std::size_t n = 0;
  ASSERT_EQ(creds->sign_certificate_verify(SignatureScheme::kEd25519, hash, true, sig, &n),
            std::nullopt);
  EXPECT_EQ(n, 64u);
  const SignatureScheme offered[] = {SignatureScheme::kEd25519};
  EXPECT_EQ(verify_certificate_verify(leaf, 0x0807, offered, hash, true, {sig, n}), std::nullopt);
}

TEST(CertificateVerifier, IpAddressSan) {
  auto v = trust_root();
  ASSERT_NE(v, nullptr);
  X509* leaf = material().p256.cert.get();
  EXPECT_EQ(run_verify(*v, {leaf}, "198.18.0.1", kNow), std::nullopt);
  EXPECT_EQ(run_verify(*v, {leaf}, "198.18.0.2", kNow), TlsAlert::kBadCertificate);
  EXPECT_EQ(run_verify(*v, {leaf}, "::1", kNow), TlsAlert::kBadCertificate);
}

TEST(CertificateVerifier, WrongHostnameIsBadCertificate) {
  auto v = trust_root();
  ASSERT_NE(v, nullptr);
  X509* leaf = material().p256.cert.get();
  EXPECT_EQ(run_verify(*v, {leaf}, "other.test", kNow), TlsAlert::kBadCertificate);
  EXPECT_EQ(run_verify(*v, {leaf}, "www.example.test", kNow), TlsAlert::kBadCertificate);
  EXPECT_EQ(run_verify(*v, {leaf}, "example.tes", kNow), TlsAlert::kBadCertificate);
  // The CN ("leaf") is not consulted when a DNS SAN is present.
  EXPECT_EQ(run_verify(*v, {leaf}, "leaf", kNow), TlsAlert::kBadCertificate);
  // No name: a caller bug, never a silent pass.
  EXPECT_EQ(run_verify(*v, {leaf}, "", kNow), TlsAlert::kInternalError);
}

TEST(CertificateVerifier, UnknownCa) {
  auto v = trust_root();
  ASSERT_NE(v, nullptr);
  const Material& m = material();
  EXPECT_EQ(run_verify(*v, {m.foreign.cert.get()}, "example.test", kNow), TlsAlert::kUnknownCa);
  EXPECT_EQ(run_verify(*v, {m.foreign.cert.get(), m.other_ca.get()}, "example.test", kNow),
            TlsAlert::kUnknownCa);
  // The intermediate is missing.
  EXPECT_EQ(run_verify(*v, {m.via_inter.cert.get()}, "example.test", kNow), TlsAlert::kUnknownCa);
  // A self-signed root that is not ours, sent alone.
  EXPECT_EQ(run_verify(*v, {m.other_ca.get()}, "example.test", kNow), TlsAlert::kUnknownCa);
}

TEST(CertificateVerifier, ValidityPeriodIsCheckedAtTheGivenTime) {
  auto v = trust_root();
  ASSERT_NE(v, nullptr);
  const Material& m = material();
  EXPECT_EQ(run_verify(*v, {m.expired.cert.get()}, "example.test", kNow),
            TlsAlert::kCertificateExpired);
  // The same certificate was valid back then.
  EXPECT_EQ(run_verify(*v, {m.expired.cert.get()}, "example.test", kExpiredNotAfter - 10),
            std::nullopt);
  X509* good = m.p256.cert.get();
  EXPECT_EQ(run_verify(*v, {good}, "example.test", kLeafNotBefore - 1),
            TlsAlert::kCertificateExpired);
  EXPECT_EQ(run_verify(*v, {good}, "example.test", kLeafNotAfter + 1),
            TlsAlert::kCertificateExpired);
  EXPECT_EQ(run_verify(*v, {good}, "example.test", kLeafNotBefore + 1), std::nullopt);
}

TEST(CertificateVerifier, DecodingAndPurpose) {
  auto v = trust_root();
  ASSERT_NE(v, nullptr);
  PeerCertificate leaf;
  EXPECT_EQ(v->verify({}, "example.test", kNow, &leaf), TlsAlert::kDecodeError);  // §4.4.2.4

  Bytes good = der(material().p256.cert.get());
  Bytes garbage = hex("30 03 02 01 01");
  Bytes trailing = good;
  trailing.push_back(0);
  Bytes truncated(good.begin(), good.end() - 1);
  for (const Bytes* b : {&garbage, &trailing, &truncated}) {
    const ByteSpan one[] = {*b};
    EXPECT_EQ(v->verify(one, "example.test", kNow, &leaf), TlsAlert::kBadCertificate);
    // A broken intermediate too.
    const ByteSpan two[] = {good, *b};
    EXPECT_EQ(v->verify(two, "example.test", kNow, &leaf), TlsAlert::kBadCertificate);
  }
  std::vector<ByteSpan> too_long(kMaxChainLength + 1, ByteSpan(good));
  EXPECT_EQ(v->verify(too_long, "example.test", kNow, &leaf), TlsAlert::kCertificateUnknown);

  // EKU clientAuth only: not for a TLS server.
  EXPECT_EQ(run_verify(*v, {material().client_only.cert.get()}, "example.test", kNow),
            TlsAlert::kUnsupportedCertificate);
}

TEST(CertificateVerifier, CaFileDirectoryAndSystemStore) {
  TempDir dir;
  const Material& m = material();
  const std::string ca_file = dir.write("ca.pem", pem(m.other_ca.get()) + pem(m.ca.get()));
  std::filesystem::create_directory(dir.path() + "/hashed");
  char hashed[32];
  std::snprintf(hashed, sizeof hashed, "hashed/%08lx.0", X509_subject_name_hash(m.ca.get()));
  dir.write(hashed, pem(m.ca.get()));

  std::string err;
  auto from_file = CertificateVerifier::create({.ca_file = ca_file}, &err);
  ASSERT_NE(from_file, nullptr) << err;
  EXPECT_EQ(run_verify(*from_file, {m.p256.cert.get()}, "example.test", kNow), std::nullopt);
  EXPECT_EQ(run_verify(*from_file, {m.foreign.cert.get()}, "example.test", kNow), std::nullopt);

  auto from_dir = CertificateVerifier::create({.ca_dir = dir.path() + "/hashed"}, &err);
  ASSERT_NE(from_dir, nullptr) << err;
  EXPECT_EQ(run_verify(*from_dir, {m.p256.cert.get()}, "example.test", kNow), std::nullopt);
  EXPECT_EQ(run_verify(*from_dir, {m.foreign.cert.get()}, "example.test", kNow),
            TlsAlert::kUnknownCa);

  // The system store does not know our test root.
  auto system = CertificateVerifier::create({}, &err);
  ASSERT_NE(system, nullptr) << err;
  EXPECT_FALSE(system->insecure_skip_verify());
  EXPECT_EQ(run_verify(*system, {m.p256.cert.get()}, "example.test", kNow), TlsAlert::kUnknownCa);

  err.clear();
  EXPECT_EQ(CertificateVerifier::create({.ca_file = dir.path() + "/none.pem"}, &err), nullptr);
  EXPECT_FALSE(err.empty());
  err.clear();
  EXPECT_EQ(CertificateVerifier::create({.ca_dir = dir.path() + "/none"}, &err), nullptr);
  EXPECT_FALSE(err.empty());
  err.clear();
  EXPECT_EQ(CertificateVerifier::create({.ca_pem = "not a certificate"}, &err), nullptr);
  EXPECT_FALSE(err.empty());
}

TEST(CertificateVerifier, InsecureSkipsChainAndNameButNotCertificateVerify) {
  std::string err;
  auto v = CertificateVerifier::create({.insecure_skip_verify = true}, &err);
  ASSERT_NE(v, nullptr) << err;
  EXPECT_TRUE(v->insecure_skip_verify());
  const Material& m = material();
  // Unknown CA, expired, wrong name, no name: all pass.
  EXPECT_EQ(run_verify(*v, {m.foreign.cert.get()}, "other.test", kNow), std::nullopt);
  EXPECT_EQ(run_verify(*v, {m.expired.cert.get()}, "", kNow), std::nullopt);

  // The leaf's key still decides CertificateVerify.
  auto creds = ServerCredentials::load_pem(pem(m.foreign.cert.get()), m.foreign.key_pem(), &err);
  ASSERT_NE(creds, nullptr) << err;
  PeerCertificate leaf;
  ASSERT_EQ(run_verify(*v, {m.foreign.cert.get()}, "other.test", kNow, &leaf), std::nullopt);
  const Bytes hash = transcript(32, 11);
  std::uint8_t sig[kMaxSignatureLength];
  std::size_t n = 0;
  ASSERT_EQ(
      creds->sign_certificate_verify(SignatureScheme::kEcdsaSecp256r1Sha256, hash, true, sig, &n),
      std::nullopt);
  const SignatureScheme offered[] = {SignatureScheme::kEcdsaSecp256r1Sha256};
  EXPECT_EQ(verify_certificate_verify(leaf, 0x0403, offered, hash, true, {sig, n}), std::nullopt);
  // Signed by another key (the good P-256 leaf's): refused.
  auto other = load_leaf(m.p256);
  ASSERT_EQ(
      other->sign_certificate_verify(SignatureScheme::kEcdsaSecp256r1Sha256, hash, true, sig, &n),
      std::nullopt);
  EXPECT_EQ(verify_certificate_verify(leaf, 0x0403, offered, hash, true, {sig, n}),
            TlsAlert::kDecryptError);

  // Still has to decode.
  const Bytes garbage = hex("30 03 02 01 01");
  const ByteSpan one[] = {garbage};
  EXPECT_EQ(v->verify(one, "example.test", kNow, &leaf), TlsAlert::kBadCertificate);
}

}  // namespace
}  // namespace dquic
