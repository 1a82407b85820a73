#include "quic/initial_close.h"

#include <openssl/evp.h>

#include <array>
#include <limits>

#include "quic/connection_id.h"
#include "quic/frame.h"
#include "quic/key_schedule.h"
#include "quic/packet_header.h"
#include "quic/packet_header_encode.h"

namespace dquic {
namespace {

// RFC 9000 §17.1: packet number 0 in one byte. The packet is the first
// and only one we send in this (non-existent) connection.
constexpr std::size_t kPnLength = 1;
// A 2-byte Length varint covers any packet this builds.
constexpr std::size_t kLengthWidth = 2;

// One AES-128-GCM and one AES-128-ECB context per thread, re-keyed for
// each packet: the keys differ per client DCID, but the contexts (and the
// cipher fetch) are allocated once.
class InitialCiphers {
 public:
  InitialCiphers() {
    EVP_CIPHER* gcm = EVP_CIPHER_fetch(nullptr, aead_name(kInitialAead), nullptr);
    EVP_CIPHER* ecb = EVP_CIPHER_fetch(nullptr, "AES-128-ECB", nullptr);
    aead_ = EVP_CIPHER_CTX_new();
    hp_ = EVP_CIPHER_CTX_new();
    ok_ = gcm != nullptr && ecb != nullptr && aead_ != nullptr && hp_ != nullptr &&
          EVP_EncryptInit_ex2(aead_, gcm, nullptr, nullptr, nullptr) == 1 &&
          EVP_EncryptInit_ex2(hp_, ecb, nullptr, nullptr, nullptr) == 1 &&
          EVP_CIPHER_CTX_set_padding(hp_, 0) == 1;
    EVP_CIPHER_free(gcm);  // the contexts hold their own references
    EVP_CIPHER_free(ecb);
  }
  ~InitialCiphers() {
    EVP_CIPHER_CTX_free(aead_);
    EVP_CIPHER_CTX_free(hp_);
  }
  InitialCiphers(const InitialCiphers&) = delete;
  InitialCiphers& operator=(const InitialCiphers&) = delete;

  bool ok() const { return ok_; }
  EVP_CIPHER_CTX* aead() const { return aead_; }
  EVP_CIPHER_CTX* hp() const { return hp_; }

 private:
  EVP_CIPHER_CTX* aead_ = nullptr;
  EVP_CIPHER_CTX* hp_ = nullptr;
  bool ok_ = false;
};

// RFC 9001 §5.3: AEAD over the payload in place, the header as AAD, the
// tag appended.
bool seal_payload(EVP_CIPHER_CTX* ctx, const PacketKeys& keys, std::uint64_t packet_number,
                  ByteSpan header, std::span<std::uint8_t> payload,
                  std::span<std::uint8_t, kAeadTagLength> tag) {
  const std::array<std::uint8_t, kAeadNonceLength> nonce = packet_nonce(keys.iv, packet_number);
  int outl = 0;
  std::array<std::uint8_t, 16> unused;  // GCM's final emits no bytes
  return EVP_EncryptInit_ex2(ctx, nullptr, keys.key.data(), nonce.data(), nullptr) == 1 &&
         EVP_EncryptUpdate(ctx, nullptr, &outl, header.data(), static_cast<int>(header.size())) ==
             1 &&
         (payload.empty() || EVP_EncryptUpdate(ctx, payload.data(), &outl, payload.data(),
                                               static_cast<int>(payload.size())) == 1) &&
         EVP_EncryptFinal_ex(ctx, unused.data(), &outl) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(tag.size()),
                             tag.data()) == 1;
}

// RFC 9001 §5.4.3: mask = AES-ECB(hp_key, sample).
bool hp_mask(EVP_CIPHER_CTX* ctx, const PacketKeys& keys, ByteSpan sample,
             std::array<std::uint8_t, kHpSampleLength>* mask) {
  int outl = 0;
  return EVP_EncryptInit_ex2(ctx, nullptr, keys.hp_key.data(), nullptr, nullptr) == 1 &&
         EVP_EncryptUpdate(ctx, mask->data(), &outl, sample.data(),
                           static_cast<int>(sample.size())) == 1 &&
         outl == static_cast<int>(mask->size());
}

}  // namespace

bool protect_initial_packet(const PacketKeys& keys, std::uint64_t packet_number,
                            std::size_t pn_offset, std::span<std::uint8_t> packet) {
  if (keys.aead != kInitialAead || packet.empty() || (packet[0] & 0x80) == 0 ||
      packet.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    return false;
  const std::size_t pn_length = decode_unprotected_first_byte(packet[0]).pn_length;
  const std::size_t header_end = pn_offset + pn_length;
  // RFC 9001 §5.4.2: the sample (16 bytes from pn_offset + 4) must be in
  // the packet, and the tag after the payload.
  if (pn_offset + kPnSampleSkip + kHpSampleLength > packet.size() ||
      header_end + kAeadTagLength > packet.size())
    return false;
  static thread_local InitialCiphers ciphers;
  if (!ciphers.ok()) return false;

  const std::size_t tag_at = packet.size() - kAeadTagLength;
  if (!seal_payload(
          ciphers.aead(), keys, packet_number, packet.first(header_end),
          packet.subspan(header_end, tag_at - header_end),
          std::span<std::uint8_t, kAeadTagLength>(packet.data() + tag_at, kAeadTagLength)))
    return false;

  // RFC 9001 §5.4.1: mask the low four bits of a long header's first byte
  // and the packet number bytes.
  std::array<std::uint8_t, kHpSampleLength> mask{};
  if (!hp_mask(ciphers.hp(), keys, packet.subspan(pn_offset + kPnSampleSkip, kHpSampleLength),
               &mask))
    return false;
  packet[0] ^= mask[0] & hp_first_byte_mask(true);
  for (std::size_t i = 0; i < pn_length; ++i)
    packet[pn_offset + i] ^= mask[1 + i];
  return true;
}

std::size_t build_initial_close(const InitialCloseSpec& spec, std::span<std::uint8_t> out) {
  if (!is_supported_version(spec.version) || spec.client_dcid.empty() ||
      spec.client_dcid.size() > kMaxConnectionIdLength ||
      spec.client_scid.size() > kMaxConnectionIdLength ||
      spec.reason.size() > kMaxInitialCloseReason)
    return 0;

  // RFC 9001 §5.2: the server's Initial keys come from the DCID of the
  // client's Initial, the one it derived its own from. They are no secret
  // (anyone who saw that DCID derives them), so nothing is wiped.
  InitialSecrets secrets;
  PacketKeys keys;
  if (!derive_initial_secrets(spec.version, spec.client_dcid, &secrets) ||
      !derive_packet_keys(spec.version, kInitialAead, secrets.server, &keys))
    return 0;

  // RFC 9000 §17.2.2: DCID = the client's SCID; SCID = the DCID it chose
  // (echoed: we keep no connection to give a CID of our own); no token
  // (only a client sends one).
  Writer w(out);
  LongHeaderSpec h;
  h.type = PacketType::kInitial;
  h.version = spec.version;
  h.dcid = spec.client_scid;
  h.scid = spec.client_dcid;
  h.length_width = kLengthWidth;
  h.packet_number = 0;
  h.pn_length = kPnLength;
  LongHeaderLayout layout;
  if (!encode_long_header(w, h, &layout)) return 0;

  // RFC 9000 §19.19, §10.2.3: a transport close (0x1c) in an Initial; no
  // frame caused it, so Frame Type is 0.
  ConnectionCloseFrame close;
  close.application = false;
  close.error_code = static_cast<std::uint64_t>(spec.error);
  close.frame_type = 0;
  close.reason =
      ByteSpan(reinterpret_cast<const std::uint8_t*>(spec.reason.data()), spec.reason.size());
  if (!encode_frame(close, w)) return 0;
  // RFC 9001 §5.4.2: the sample needs 4 bytes after the packet number's
  // start before the tag; the smallest close frame (4 bytes) already
  // gives them, but pad if a future frame were shorter.
  const std::size_t payload_end = w.written();
  if (payload_end - layout.pn_offset < kPnSampleSkip &&
      !encode_padding(kPnSampleSkip - (payload_end - layout.pn_offset), w))
    return 0;
  w.fill(0, kAeadTagLength);
  if (!w.ok()) return 0;
  const std::size_t n = w.written();
  if (!patch_long_header_length(out, layout, n - layout.pn_offset)) return 0;
  if (!protect_initial_packet(keys, h.packet_number, layout.pn_offset, out.first(n))) return 0;
  return n;
}

}  // namespace dquic
