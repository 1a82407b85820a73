// Packet protection in bursts (RFC 9001 §5): the pipeline the runtime calls
// after building packets (seal_burst) and before parsing frames (open_burst).
// It owns the per-packet logic shared by every backend: nonce = IV xor packet
// number, AAD = the header, header protection from the ciphertext sample, and
// packet-number recovery. The cipher work goes to an AeadEngine and an
// HpEngine picked at start-up; the inline engines stand behind both.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <memory>
#include <span>

#include "offload/aead_engine.h"
#include "offload/hp_engine.h"
#include "quic/packet_keys.h"
#include "quic/packet_number.h"

namespace dquic::offload {

// Installed key material for one direction, level and key phase.
class KeyHandle;

// A packet laid out by the transport inside `m` (first segment): the header
// through the packet number in the clear at [offset, offset + header_length),
// then payload_length bytes of plaintext (unless gathered), then 16 bytes
// reserved for the tag. The Length field already counts the tag.
struct SealJob {
  rte_mbuf* m = nullptr;
  std::uint16_t offset = 0;  // packet start within m (coalesced packets share an mbuf)
  std::uint16_t header_length = 0;
  std::uint16_t pn_offset = 0;  // from the packet start
  std::uint8_t pn_length = 0;   // 1..4
  std::uint16_t payload_length = 0;
  std::uint64_t packet_number = 0;
  KeyHandle* key = nullptr;
  std::span<const ByteSegment> gather;  // optional out-of-place payload source
  bool ok = false;                      // output
};

enum class OpenStatus : std::uint8_t {
  kOk,
  kTooShort,     // no room for the sample, or nothing after the header but a tag
  kAuthFailed,   // RFC 9001 §5.3: drop the packet and count it
  kNoKey,        // key phase changed and no key for it was given
  kCryptoError,  // backend failure: dropped
};

// A received packet at [offset, offset + packet_length) of `m`, with the
// packet-number offset from the header parser (quic/packet_header.h).
struct OpenJob {
  rte_mbuf* m = nullptr;
  std::uint16_t offset = 0;
  std::uint16_t pn_offset = 0;  // from the packet start
  std::uint16_t packet_length = 0;
  bool long_header = false;
  std::uint64_t largest_received = kNoPacketNumber;  // in this number space
  KeyHandle* key = nullptr;
  // 1-RTT only (RFC 9001 §6): when the key-phase bit, read after header
  // protection is removed, differs from `key`'s phase, the packet is either
  // the peer's first of a key update (`next_phase`) or a late one of the phase
  // before (`previous_phase`): a packet number below `phase_start`, the first
  // packet number seen in the current phase, picks the previous keys (§6.5).
  KeyHandle* next_phase = nullptr;
  KeyHandle* previous_phase = nullptr;
  std::uint64_t phase_start = 0;

  // Outputs. On kOk the payload plaintext is in place at
  // offset + header_length, payload_length bytes.
  OpenStatus status = OpenStatus::kCryptoError;
  std::uint8_t first_byte = 0;  // unprotected
  std::uint8_t pn_length = 0;
  bool key_phase = false;
  KeyHandle* used_key = nullptr;  // which of key / next_phase / previous_phase opened it
  std::uint16_t header_length = 0;
  std::uint16_t payload_length = 0;
  std::uint64_t packet_number = 0;
};

struct ProtectorCounters {
  std::uint64_t sealed = 0;
  std::uint64_t seal_failures = 0;
  std::uint64_t opened = 0;
  std::uint64_t auth_failures = 0;
  std::uint64_t open_failures = 0;  // too short, no key, backend errors
  std::uint64_t gather_copies = 0;  // gather seals done by copying (engine lacks OOP)
  std::uint64_t gather_seals = 0;   // seals with a gather list (copied or not)
  // Operations per backend: the chosen (device) engines vs the inline ones.
  std::uint64_t aead_device_ops = 0;
  std::uint64_t aead_inline_ops = 0;
  std::uint64_t hp_device_ops = 0;
  std::uint64_t hp_inline_ops = 0;
  std::uint64_t key_fallbacks = 0;  // keys placed on the inline engines (device full)
  std::uint64_t keys_installed = 0;
  std::uint64_t keys_released = 0;
};

class Protector {
 public:
  // `aead` and `hp` are the chosen backends; `inline_aead` / `inline_hp` take
  // keys the chosen ones refuse (resources or algorithm). Any may be the same
  // object as another.
  Protector(AeadEngine* aead, HpEngine* hp, AeadEngine* inline_aead, HpEngine* inline_hp);
  ~Protector();
  Protector(const Protector&) = delete;
  Protector& operator=(const Protector&) = delete;

  // Installs keys for one direction/level/phase. nullptr only if even the
  // inline engines fail (out of memory).
  KeyHandle* install(const PacketKeys& keys, bool key_phase = false);
  void release(KeyHandle* key);

  // Seals in place (or gathers): AEAD over the whole burst, then header
  // protection from each ciphertext sample. Sets each job's ok.
  void seal_burst(std::span<SealJob> jobs);
  // Removes header protection, recovers packet numbers, then authenticates
  // and decrypts in place. Sets each job's status.
  void open_burst(std::span<OpenJob> jobs);

  // Whether the transport should leave stream bytes to be gathered by the
  // seal (zero-copy) rather than copy them into packets: by default when
  // the chosen AEAD engine gathers for less than a copy costs; a device
  // whose DMA reads the gather list (hardware) may be set to gather always.
  bool gather_preferred() const { return gather_preferred_; }
  void set_gather_preferred(bool on) { gather_preferred_ = on; }

  const ProtectorCounters& counters() const { return counters_; }
  // Gather seals whose payload was copied into the packet before the cipher
  // ran, by this pipeline or inside the engine: 0 on the zero-copy path.
  std::uint64_t gather_copies() const {
    return counters_.gather_copies + (aead_ != nullptr ? aead_->gather_copies() : 0);
  }
  const char* aead_name() const;
  const char* hp_name() const;

 private:
  struct Scratch;

  void seal_chunk(std::span<SealJob> jobs);
  void open_chunk(std::span<OpenJob> jobs);
  // Runs engine calls over ops[0..n) grouped by key; keys[i] belongs to ops[i].
  void run_aead(bool seal, KeyHandle* const* keys, std::size_t n);
  bool run_hp(KeyHandle* const* keys, std::size_t n);
  void count_aead(const KeyHandle* k, std::size_t ops);
  void count_hp(const KeyHandle* k, std::size_t ops);

  AeadEngine* aead_;
  HpEngine* hp_;
  AeadEngine* inline_aead_;
  HpEngine* inline_hp_;
  std::unique_ptr<Scratch> scratch_;
  ProtectorCounters counters_;
  bool gather_preferred_ = false;
};

}  // namespace dquic::offload
