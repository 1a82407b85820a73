// Certificates and signatures for the TLS 1.3 handshake on OpenSSL 3.0
// libcrypto (EVP, X509, X509_STORE; no libssl).
//
// Server: ServerCredentials holds a PEM-configured chain (as DER, ready for
// the Certificate message, RFC 8446 §4.4.2) and its private key, picks a
// signature scheme from the client's signature_algorithms (§4.2.3) and signs
// CertificateVerify (§4.4.3).
// Client: CertificateVerifier checks the peer's chain against a trust store
// at a caller-supplied time and checks the name; verify_certificate_verify()
// checks the peer's CertificateVerify with the leaf's key.
//
// Loading is start-up work and may allocate (std::string, std::vector).
// Signing and verification run once per handshake; OpenSSL allocates inside.
#pragma once

#include <openssl/x509.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quic/buffer.h"
#include "quic/tls_alert.h"
#include "quic/tls_key_exchange.h"

namespace dquic {

using X509Ptr = std::unique_ptr<X509, OpensslFree<&X509_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpensslFree<&X509_STORE_free>>;

// SignatureScheme code points (RFC 8446 §4.2.3) usable in CertificateVerify
// with the key types we accept. rsa_pkcs1_* are absent on purpose: TLS 1.3
// CertificateVerify MUST use RSASSA-PSS (§4.4.3).
enum class SignatureScheme : std::uint16_t {
  kEcdsaSecp256r1Sha256 = 0x0403,
  kEcdsaSecp384r1Sha384 = 0x0503,
  kRsaPssRsaeSha256 = 0x0804,
  kRsaPssRsaeSha384 = 0x0805,
  kRsaPssRsaeSha512 = 0x0806,
  kEd25519 = 0x0807,
};

// Key types that can sign CertificateVerify. RSA means an rsaEncryption key
// (the "rsae" schemes); RSASSA-PSS-only keys (rsa_pss_pss_*) and other
// curves are kUnsupported.
enum class KeyType : std::uint8_t { kUnsupported, kEcdsaP256, kEcdsaP384, kRsa, kEd25519 };

KeyType key_type_of(const EVP_PKEY* key);

// The schemes a key type can produce, in our order of preference (the
// natural scheme first). Empty for kUnsupported.
std::span<const SignatureScheme> schemes_for_key(KeyType type);

// True if `scheme` may be used with a key of `type` in TLS 1.3: ECDSA
// schemes are bound to their curve (§4.2.3), RSA keys use rsa_pss_rsae_*.
bool scheme_matches_key(KeyType type, std::uint16_t scheme);

// Largest signature we produce: RSA up to 8192 bits (keys above are refused
// at load).
inline constexpr std::size_t kMaxSignatureLength = 1024;

// RFC 8446 §4.4.3: 64 spaces, the context string, one zero byte, then the
// transcript hash. Writes into `out` and returns its length, or 0 if the hash
// is empty or longer than 64 bytes or `out` is too small.
inline constexpr std::size_t kMaxCertificateVerifyContentLength = 64 + 33 + 1 + 64;
std::size_t certificate_verify_content(ByteSpan transcript_hash, bool is_server,
                                       std::span<std::uint8_t> out);

class ServerCredentials {
 public:
  // Loads a PEM chain (leaf first, then intermediates) and an unencrypted PEM
  // private key (PKCS#8 or traditional). Fails, with a message in *err, if a
  // file is unreadable or empty, the key type is unsupported, an RSA key is
  // below 2048 or above 8192 bits, or the key does not match the leaf.
  static std::unique_ptr<ServerCredentials> load(const std::string& cert_chain_pem_path,
                                                 const std::string& key_pem_path, std::string* err);
  // The same from PEM text in memory.
  static std::unique_ptr<ServerCredentials> load_pem(std::string_view cert_chain_pem,
                                                     std::string_view key_pem, std::string* err);

  // DER certificates for the Certificate message, leaf first (§4.4.2).
  const std::vector<std::vector<std::uint8_t>>& chain_der() const { return chain_der_; }
  KeyType key_type() const { return key_type_; }
  std::span<const SignatureScheme> schemes() const { return schemes_for_key(key_type_); }

  // Picks the first of our schemes (server preference) that the client
  // offered in signature_algorithms (§4.4.2.2, §4.4.3); `offered` is any
  // range of uint16 code points (a span, or the codec's U16List). Unknown
  // code points are ignored. None in common: handshake_failure.
  template <class U16Range>
  [[nodiscard]] std::optional<TlsAlert> choose_scheme(const U16Range& offered,
                                                      SignatureScheme* out) const {
    for (SignatureScheme ours : schemes()) {
      for (std::uint16_t theirs : offered) {
        if (theirs == static_cast<std::uint16_t>(ours)) {
          *out = ours;
          return std::nullopt;
        }
      }
    }
    // RFC 8446 §4.4.2.2 lets a server send a certificate the client did not
    // ask for, but CertificateVerify must use an offered scheme (§4.4.3) and
    // we have one key: no common parameters.
    return TlsAlert::kHandshakeFailure;
  }

  // Signs the §4.4.3 content for `transcript_hash` (Transcript-Hash up to and
  // including Certificate) into `out`, writing the length to *written;
  // std::nullopt on success. A scheme the key cannot produce, a short `out`
  // or an OpenSSL failure is internal_error: the caller chose the scheme.
  [[nodiscard]] std::optional<TlsAlert> sign_certificate_verify(SignatureScheme scheme,
                                                                ByteSpan transcript_hash,
                                                                bool is_server,
                                                                std::span<std::uint8_t> out,
                                                                std::size_t* written) const;

  const EVP_PKEY* private_key() const { return key_.get(); }
  const X509* leaf() const { return leaf_.get(); }

 private:
  ServerCredentials() = default;
  static std::unique_ptr<ServerCredentials> load_bios(BIO* chain_bio, BIO* key_bio,
                                                      std::string* err);
  std::unique_ptr<EVP_MD_CTX, OpensslFree<&EVP_MD_CTX_free>> make_sign_template(
      SignatureScheme scheme) const;

  std::vector<std::vector<std::uint8_t>> chain_der_;
  X509Ptr leaf_;
  EvpPkeyPtr key_;
  KeyType key_type_ = KeyType::kUnsupported;
  // Per scheme of schemes(), a DigestSign context initialized at load and
  // only copied from afterwards (EVP_MD_CTX_copy_ex reads it), so a
  // signature costs no signature or digest fetch by name. Null for Ed25519
  // (one-shot signing) or when initialization failed: then the slow path.
  std::array<std::unique_ptr<EVP_MD_CTX, OpensslFree<&EVP_MD_CTX_free>>, 3> sign_templates_;
};

// A decoded peer certificate (the leaf of a Certificate message) and its
// public key.
class PeerCertificate {
 public:
  PeerCertificate() = default;
  PeerCertificate(PeerCertificate&&) noexcept = default;
  PeerCertificate& operator=(PeerCertificate&&) noexcept = default;

  // Decodes one DER certificate; std::nullopt on success. Trailing bytes or a
  // malformed certificate are bad_certificate; a public key we cannot verify
  // with is unsupported_certificate.
  [[nodiscard]] std::optional<TlsAlert> parse(ByteSpan der);

  bool ready() const { return cert_ != nullptr; }
  KeyType key_type() const { return key_type_; }
  X509* x509() const { return cert_.get(); }
  EVP_PKEY* public_key() const;  // owned by the X509

 private:
  X509Ptr cert_;
  KeyType key_type_ = KeyType::kUnsupported;
};

// Checks a peer's CertificateVerify (§4.4.3); std::nullopt if it verifies.
// `offered` is what we sent in signature_algorithms. A scheme we did not
// offer or that does not fit the leaf's key is illegal_parameter; a
// signature that does not verify is decrypt_error (§4.4.3).
[[nodiscard]] std::optional<TlsAlert> verify_certificate_verify(
    const PeerCertificate& leaf, std::uint16_t scheme, std::span<const SignatureScheme> offered,
    ByteSpan transcript_hash, bool is_server, ByteSpan signature);

struct TrustOptions {
  // Any of these that are set are loaded; with none, the system default
  // store (X509_STORE_set_default_paths: OpenSSL's configured CA file and
  // directory, SSL_CERT_FILE / SSL_CERT_DIR).
  std::string ca_file{};  // PEM bundle
  std::string ca_dir{};   // hashed directory (c_rehash / openssl rehash)
  std::string ca_pem{};   // PEM text, for tests and embedded trust
  // Skips the chain and name checks: the leaf is still decoded and
  // CertificateVerify still checked with its key, which proves only that the
  // peer holds that key. For tests and labs; apps must label it insecure.
  bool insecure_skip_verify = false;
};

// Alert mapping of verify() (X509_STORE_CTX error → alert). RFC 8446 §6.2
// gives the meanings; OpenSSL's libssl and BoringSSL use nearly the same:
//   no issuer found, self-signed leaf or root not trusted,
//     untrusted or invalid CA                    → unknown_ca (48)
//   expired or not yet valid (leaf or any CA)    → certificate_expired (45)
//   hostname / IP mismatch                       → bad_certificate (42)
//   bad signature on a certificate, malformed
//     fields, key too weak for security level 2  → bad_certificate (42)
//   not for TLS server use (EKU / key usage)     → unsupported_certificate (43)
//   revoked                                      → certificate_revoked (44)
//   chain too long, anything else                → certificate_unknown (46)
//   out of memory                                → internal_error (80)
// Decoding: an empty chain is decode_error (§4.4.2.4); a certificate that
// does not decode is bad_certificate.
class CertificateVerifier {
 public:
  static std::unique_ptr<CertificateVerifier> create(const TrustOptions& options, std::string* err);

  bool insecure_skip_verify() const { return insecure_; }

  // Verifies `chain` (leaf first, then intermediates in any order, DER) for
  // TLS server use at `now_unix` (seconds since the epoch: this library reads
  // no clock) and checks `server_name`: an IPv4/IPv6 literal against IP SANs,
  // anything else as a DNS name (SAN, no partial wildcards). An empty
  // server_name is refused (internal_error) unless insecure. On success
  // (std::nullopt) the decoded leaf goes to *leaf for
  // verify_certificate_verify().
  [[nodiscard]] std::optional<TlsAlert> verify(std::span<const ByteSpan> chain,
                                               std::string_view server_name, std::int64_t now_unix,
                                               PeerCertificate* leaf) const;

 private:
  CertificateVerifier() = default;

  X509StorePtr store_;
  bool insecure_ = false;
};

// Most certificates accepted in a chain: bounds work and memory per
// handshake (our own limit; RFC 8446 sets none).
inline constexpr std::size_t kMaxChainLength = 10;

}  // namespace dquic
