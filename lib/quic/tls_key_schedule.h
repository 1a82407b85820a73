// The TLS 1.3 key schedule (RFC 8446 §7.1) and transcript hash (§4.4.1) as
// the handshake engine drives them: early secret (PSK or zeros), binder key
// and PSK binders (§4.2.11.2), 0-RTT, handshake and application traffic
// secrets, Finished (§4.4.4), the resumption master secret and ticket PSKs
// (§4.6.1). Sans-IO: bytes and secrets in, secrets out. Handshake-time code:
// it may allocate inside OpenSSL, never in our own API.
#pragma once

#include <openssl/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "quic/buffer.h"
#include "quic/hkdf.h"

namespace dquic {

// A hash or HMAC output of a suite's hash: transcript hashes, Finished
// verify_data, PSK binders. hash_length(hash) bytes.
struct HashValue {
  HashAlgorithm hash = HashAlgorithm::kSha256;
  std::uint8_t length = 0;
  std::array<std::uint8_t, kMaxHashLength> bytes{};

  ByteSpan span() const { return {bytes.data(), length}; }
};

// RFC 8446 §4.4.1: Hash(Handshake Context), fed whole handshake messages
// (4-byte header included) in the order sent and received.
//
// The suite, and so the hash, is known only from the ServerHello (or
// HelloRetryRequest), while the ClientHello must already be hashed (and a
// client may offer PSKs of either hash, whose binders hash the ClientHello
// prefix). Rather than buffer the ClientHello, the transcript runs SHA-256
// and SHA-384 side by side until select() drops the one the suite does not
// use. That costs one extra hash over the first flight and no memory that
// grows with the messages.
//
// Construction allocates both contexts; if that fails, every operation
// returns false, as it does on a moved-from transcript. Not copyable (the
// contexts are OpenSSL's); movable.
class TranscriptHash {
 public:
  TranscriptHash();
  ~TranscriptHash();
  TranscriptHash(TranscriptHash&& other) noexcept;
  TranscriptHash& operator=(TranscriptHash&& other) noexcept;
  TranscriptHash(const TranscriptHash&) = delete;
  TranscriptHash& operator=(const TranscriptHash&) = delete;

  // Adds one handshake message (or any contiguous part of the message
  // stream: the hash does not see boundaries).
  [[nodiscard]] bool update(ByteSpan message);

  // Keeps only `hash` from now on. Repeating the same choice is harmless;
  // changing it fails.
  [[nodiscard]] bool select(HashAlgorithm hash);
  bool selected() const { return selected_; }
  // The chosen hash; meaningful once selected().
  HashAlgorithm hash() const { return hash_; }
  // False once select() picked the other hash (or if allocation failed).
  bool has(HashAlgorithm hash) const;

  // The transcript hash so far with the selected hash, without finalizing
  // the running context. Fails before select().
  [[nodiscard]] bool digest(HashValue* out) const;
  // The same for a hash still running (either one before select()).
  [[nodiscard]] bool digest(HashAlgorithm hash, HashValue* out) const;
  // Hash(transcript so far || tail) without adding `tail`: the PSK binder
  // hashes the ClientHello truncated before its binders (RFC 8446
  // §4.2.11.2), and only then is the whole ClientHello added.
  [[nodiscard]] bool digest_with_tail(HashAlgorithm hash, ByteSpan tail, HashValue* out) const;

  // RFC 8446 §4.4.1: on a HelloRetryRequest, ClientHello1 is replaced by
  // the synthetic message_hash = 0xfe 00 00 Hash.length || Hash(ClientHello1).
  // Call when the transcript holds exactly ClientHello1, before adding the
  // HelloRetryRequest. Applies to every running hash, so it may come before
  // or after select().
  [[nodiscard]] bool restart_for_hello_retry();
  // The same for a server that kept only Hash(ClientHello1) (in a cookie,
  // RFC 8446 §4.2.2): starts `hash` afresh with message_hash built from
  // `client_hello1_hash` (hash_length(hash) bytes) and selects it. Fails if
  // the other hash was already selected.
  [[nodiscard]] bool restart_from_client_hello_hash(HashAlgorithm hash,
                                                    ByteSpan client_hello1_hash);

 private:
  static constexpr std::size_t index(HashAlgorithm h) {
    return h == HashAlgorithm::kSha256 ? 0 : 1;
  }
  void free_contexts();

  std::array<EVP_MD_CTX*, 2> ctx_{};  // [SHA-256, SHA-384]; null once dropped
  HashAlgorithm hash_ = HashAlgorithm::kSha256;
  bool selected_ = false;
};

// Hash("") for the suite hash: the context of Derive-Secret(., "derived", "").
[[nodiscard]] bool empty_hash(HashAlgorithm hash, HashValue* out);

// RFC 8446 §7.1: Derive-Secret(Secret, Label, Messages) =
// HKDF-Expand-Label(Secret, Label, Transcript-Hash(Messages), Hash.length).
// `messages` must be of secret's hash.
[[nodiscard]] bool derive_secret(const Secret& secret, std::string_view label,
                                 const HashValue& messages, Secret* out);

// RFC 8446 §4.4.4: finished_key = HKDF-Expand-Label(BaseKey, "finished", "",
// Hash.length); verify_data = HMAC(finished_key, transcript). BaseKey is the
// sender's handshake traffic secret (client: through the server Finished;
// server: through CertificateVerify), or the binder key for a PSK binder.
[[nodiscard]] bool compute_finished(const Secret& base_key, const HashValue& transcript,
                                    HashValue* verify_data);
// Recomputes and compares in constant time. False on any mismatch, a
// received value of the wrong length, or an error.
[[nodiscard]] bool verify_finished(const Secret& base_key, const HashValue& transcript,
                                   ByteSpan received);

// RFC 8446 §4.2.11.2: a PSK binder is a Finished computed with the binder
// key over Transcript-Hash(Truncate(ClientHello)) (after message_hash and
// the HelloRetryRequest on a second ClientHello): see
// TranscriptHash::digest_with_tail.
[[nodiscard]] inline bool compute_psk_binder(const Secret& binder_key,
                                             const HashValue& truncated_transcript,
                                             HashValue* binder) {
  return compute_finished(binder_key, truncated_transcript, binder);
}
[[nodiscard]] inline bool verify_psk_binder(const Secret& binder_key,
                                            const HashValue& truncated_transcript,
                                            ByteSpan received) {
  return verify_finished(binder_key, truncated_transcript, received);
}

// RFC 8446 §4.6.1: the PSK of a ticket,
// HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce,
// Hash.length). The nonce is at most 255 bytes.
[[nodiscard]] bool ticket_psk(const Secret& resumption_master_secret, ByteSpan ticket_nonce,
                              Secret* out);

// RFC 8446 §4.2.11: a ticket PSK (from NewSessionTicket) or an external PSK.
enum class PskKind : std::uint8_t { kResumption, kExternal };

// RFC 8446 §7.1, the secrets of one connection under one suite hash:
//
//   Early Secret     = HKDF-Extract(0, PSK or 0)
//   Handshake Secret = HKDF-Extract(Derive-Secret(Early, "derived", ""), (EC)DHE)
//   Master Secret    = HKDF-Extract(Derive-Secret(Handshake, "derived", ""), 0)
//
// Each stage is entered once, in order; the traffic secrets of a stage come
// from it with the transcript hash the RFC names. Entering a stage wipes the
// previous stage's secret, which nothing needs any more (forward secrecy of
// what stays in memory). The destructor wipes what is left.
class TlsKeySchedule {
 public:
  explicit TlsKeySchedule(HashAlgorithm hash) : hash_(hash) {}
  ~TlsKeySchedule();
  // Moving wipes the source, which is left with no stage entered.
  TlsKeySchedule(TlsKeySchedule&& other) noexcept;
  TlsKeySchedule& operator=(TlsKeySchedule&& other) noexcept;
  TlsKeySchedule(const TlsKeySchedule&) = delete;
  TlsKeySchedule& operator=(const TlsKeySchedule&) = delete;

  HashAlgorithm hash() const { return hash_; }

  // Early Secret without a PSK (IKM = Hash.length zeros), or from a PSK
  // (non-empty; external PSKs may have any length).
  [[nodiscard]] bool set_early_secret();
  [[nodiscard]] bool set_early_secret(ByteSpan psk);

  // Early stage. binder_key = Derive-Secret(Early, "res binder" / "ext
  // binder", ""). The others take Transcript-Hash(ClientHello).
  [[nodiscard]] bool binder_key(PskKind kind, Secret* out) const;
  [[nodiscard]] bool client_early_traffic_secret(const HashValue& client_hello, Secret* out) const;
  [[nodiscard]] bool early_exporter_master_secret(const HashValue& client_hello, Secret* out) const;

  // Handshake Secret from the (EC)DHE shared secret (non-empty: psk_ke
  // without (EC)DHE is not supported). Wipes the early secret.
  [[nodiscard]] bool set_handshake_secret(ByteSpan shared_secret);
  // Handshake stage; Transcript-Hash(ClientHello..ServerHello).
  [[nodiscard]] bool client_handshake_traffic_secret(const HashValue& hello, Secret* out) const;
  [[nodiscard]] bool server_handshake_traffic_secret(const HashValue& hello, Secret* out) const;

  // Master Secret. Wipes the handshake secret.
  [[nodiscard]] bool set_master_secret();
  // Master stage; Transcript-Hash(ClientHello..server Finished).
  [[nodiscard]] bool client_application_traffic_secret(const HashValue& server_finished,
                                                       Secret* out) const;
  [[nodiscard]] bool server_application_traffic_secret(const HashValue& server_finished,
                                                       Secret* out) const;
  [[nodiscard]] bool exporter_master_secret(const HashValue& server_finished, Secret* out) const;
  // Transcript-Hash(ClientHello..client Finished).
  [[nodiscard]] bool resumption_master_secret(const HashValue& client_finished, Secret* out) const;

  // The current stage's secret (length 0 when not in that stage): for
  // tests and diagnostics.
  const Secret& early_secret() const { return early_; }
  const Secret& handshake_secret() const { return handshake_; }
  const Secret& master_secret() const { return master_; }

 private:
  enum class Stage : std::uint8_t { kNone, kEarly, kHandshake, kMaster };

  // Derive-Secret from the current stage's secret if it is `stage`.
  bool derive(Stage stage, std::string_view label, const HashValue& messages, Secret* out) const;
  // Derive-Secret(from, "derived", "") as the salt of the next extract.
  bool next_stage(const Secret& from, ByteSpan ikm, Secret* to);
  void wipe_all();

  HashAlgorithm hash_;
  Stage stage_ = Stage::kNone;
  Secret early_;
  Secret handshake_;
  Secret master_;
};

}  // namespace dquic
