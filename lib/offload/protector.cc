#include "offload/protector.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace dquic::offload {

class KeyHandle {
 public:
  AeadEngine* aead = nullptr;
  AeadKey* aead_key = nullptr;
  HpEngine* hp = nullptr;
  HpKey* hp_key = nullptr;
  std::array<std::uint8_t, kAeadNonceLength> iv{};
  bool key_phase = false;
};

namespace {

// Bursts are processed in chunks of this many packets, so the scratch arrays
// are fixed and nothing is allocated per packet.
constexpr std::size_t kChunk = 64;

// RFC 9001 §5.4.1: header protection covers the low 4 (long) or 5 (short)
// bits of the first byte and the packet number bytes.
constexpr std::uint8_t first_byte_mask(bool long_header) {
  return long_header ? 0x0f : 0x1f;
}

// RFC 9001 §5.4.2: the sample starts 4 bytes after the packet number offset.
constexpr std::size_t kSampleSkip = 4;

// Whether ops i..n all use keys[i] (a failed op has no key, so it breaks the
// run): then they go to the engine in place, without staging copies.
bool same_key_to_end(KeyHandle* const* keys, std::size_t i, std::size_t n) {
  for (std::size_t j = i + 1; j < n; ++j) {
    if (keys[j] != keys[i]) return false;
  }
  return true;
}

}  // namespace

struct Protector::Scratch {
  std::array<AeadOp, kChunk> ops;
  std::array<HpSample, kChunk> samples;
  std::array<HpMask, kChunk> masks;
  std::array<KeyHandle*, kChunk> keys;
  // Per-group staging: engines take contiguous spans of same-key ops.
  std::array<AeadOp, kChunk> group_ops;
  std::array<HpSample, kChunk> group_samples;
  std::array<HpMask, kChunk> group_masks;
  std::array<std::uint8_t, kChunk> group_index;
  std::array<bool, kChunk> done;
};

Protector::Protector(AeadEngine* aead, HpEngine* hp, AeadEngine* inline_aead, HpEngine* inline_hp)
    : aead_(aead),
      hp_(hp),
      inline_aead_(inline_aead),
      inline_hp_(inline_hp),
      scratch_(std::make_unique<Scratch>()),
      gather_preferred_(aead != nullptr && aead->supports_gather() &&
                        aead->gather_cheaper_than_copy()) {}

Protector::~Protector() = default;

const char* Protector::aead_name() const {
  return aead_->name();
}
const char* Protector::hp_name() const {
  return hp_->name();
}

KeyHandle* Protector::install(const PacketKeys& keys, bool key_phase) {
  auto* h = new (std::nothrow) KeyHandle;
  if (h == nullptr) return nullptr;
  h->iv = keys.iv;
  h->key_phase = key_phase;
  bool fell_back = false;
  if (aead_->supports(keys.aead)) h->aead_key = aead_->create_key(keys);
  if (h->aead_key != nullptr) {
    h->aead = aead_;
  } else {
    h->aead = inline_aead_;
    h->aead_key = inline_aead_->create_key(keys);
    fell_back = aead_ != inline_aead_;
  }
  if (hp_->supports(keys.aead)) h->hp_key = hp_->create_key(keys);
  if (h->hp_key != nullptr) {
    h->hp = hp_;
  } else {
    h->hp = inline_hp_;
    h->hp_key = inline_hp_->create_key(keys);
    fell_back = fell_back || hp_ != inline_hp_;
  }
  if (h->aead_key == nullptr || h->hp_key == nullptr) {
    release(h);
    return nullptr;
  }
  if (fell_back) ++counters_.key_fallbacks;
  ++counters_.keys_installed;
  return h;
}

void Protector::release(KeyHandle* key) {
  if (key == nullptr) return;
  if (key->aead_key != nullptr) key->aead->destroy_key(key->aead_key);
  if (key->hp_key != nullptr) key->hp->destroy_key(key->hp_key);
  if (key->aead_key != nullptr && key->hp_key != nullptr) ++counters_.keys_released;
  delete key;
}

void Protector::count_aead(const KeyHandle* k, std::size_t ops) {
  (k->aead == inline_aead_ ? counters_.aead_inline_ops : counters_.aead_device_ops) += ops;
}

void Protector::count_hp(const KeyHandle* k, std::size_t ops) {
  (k->hp == inline_hp_ ? counters_.hp_inline_ops : counters_.hp_device_ops) += ops;
}

void Protector::run_aead(bool seal, KeyHandle* const* keys, std::size_t n) {
  Scratch& s = *scratch_;
  std::fill_n(s.done.begin(), n, false);
  // Group by key: one engine call per key, as a device session serves one key.
  for (std::size_t i = 0; i < n; ++i) {
    if (s.done[i] || keys[i] == nullptr) continue;
    KeyHandle* k = keys[i];
    if (same_key_to_end(keys, i, n)) {  // the common case: no staging copies
      const std::span<AeadOp> run(s.ops.data() + i, n - i);
      count_aead(k, run.size());
      if (seal) {
        k->aead->seal(k->aead_key, run);
      } else {
        k->aead->open(k->aead_key, run);
      }
      break;
    }
    std::size_t g = 0;
    for (std::size_t j = i; j < n; ++j) {
      if (s.done[j] || keys[j] != k) continue;
      s.done[j] = true;
      s.group_index[g] = static_cast<std::uint8_t>(j);
      s.group_ops[g++] = s.ops[j];
    }
    const std::span<AeadOp> group(s.group_ops.data(), g);
    count_aead(k, g);
    if (seal) {
      k->aead->seal(k->aead_key, group);
    } else {
      k->aead->open(k->aead_key, group);
    }
    for (std::size_t x = 0; x < g; ++x)
      s.ops[s.group_index[x]].ok = s.group_ops[x].ok;
  }
}

bool Protector::run_hp(KeyHandle* const* keys, std::size_t n) {
  Scratch& s = *scratch_;
  bool all_ok = true;
  std::fill_n(s.done.begin(), n, false);
  for (std::size_t i = 0; i < n; ++i) {
    if (s.done[i] || keys[i] == nullptr) continue;
    KeyHandle* k = keys[i];
    if (same_key_to_end(keys, i, n)) {
      count_hp(k, n - i);
      if (!k->hp->masks(k->hp_key, {s.samples.data() + i, n - i}, {s.masks.data() + i, n - i})) {
        for (std::size_t x = i; x < n; ++x)
          s.ops[x].ok = false;
        all_ok = false;
      }
      break;
    }
    std::size_t g = 0;
    for (std::size_t j = i; j < n; ++j) {
      if (s.done[j] || keys[j] != k) continue;
      s.done[j] = true;
      s.group_index[g] = static_cast<std::uint8_t>(j);
      s.group_samples[g++] = s.samples[j];
    }
    count_hp(k, g);
    if (!k->hp->masks(k->hp_key, {s.group_samples.data(), g}, {s.group_masks.data(), g})) {
      // A backend failure: mark the whole group unusable.
      for (std::size_t x = 0; x < g; ++x)
        s.ops[s.group_index[x]].ok = false;
      all_ok = false;
      continue;
    }
    for (std::size_t x = 0; x < g; ++x)
      s.masks[s.group_index[x]] = s.group_masks[x];
  }
  return all_ok;
}

void Protector::seal_burst(std::span<SealJob> jobs) {
  for (std::size_t i = 0; i < jobs.size(); i += kChunk) {
    seal_chunk(jobs.subspan(i, std::min(kChunk, jobs.size() - i)));
  }
}

void Protector::open_burst(std::span<OpenJob> jobs) {
  for (std::size_t i = 0; i < jobs.size(); i += kChunk) {
    open_chunk(jobs.subspan(i, std::min(kChunk, jobs.size() - i)));
  }
}

void Protector::seal_chunk(std::span<SealJob> jobs) {
  Scratch& s = *scratch_;
  const std::size_t n = jobs.size();
  for (std::size_t i = 0; i < n; ++i) {
    SealJob& j = jobs[i];
    AeadOp& op = s.ops[i];
    op = AeadOp{};
    s.keys[i] = nullptr;
    j.ok = false;
    const std::size_t end =
        std::size_t{j.offset} + j.header_length + j.payload_length + kAeadTagLength;
    // The header ends with the packet number, and the sample (RFC 9001
    // §5.4.2) must lie inside the packet: the transport pads short packets.
    if (j.key == nullptr || j.m == nullptr || end > rte_pktmbuf_data_len(j.m) || j.pn_length < 1 ||
        j.pn_length > 4 || j.pn_offset + j.pn_length != j.header_length ||
        std::size_t{j.pn_offset} + kSampleSkip + kHpSampleLength >
            std::size_t{j.header_length} + j.payload_length + kAeadTagLength) {
      continue;
    }
    op.m = j.m;
    op.aad_offset = j.offset;
    op.aad_length = j.header_length;
    op.payload_offset = j.offset + j.header_length;
    op.payload_length = j.payload_length;
    op.nonce = packet_nonce(j.key->iv, j.packet_number);  // RFC 9001 §5.3
    if (!j.gather.empty()) {
      ++counters_.gather_seals;
      if (j.key->aead->supports_gather()) {
        op.gather = j.gather;
      } else {
        // The engine cannot read a gather list: copy into the packet (counted,
        // since it is the copy the zero-copy path exists to avoid).
        auto* dst = rte_pktmbuf_mtod_offset(j.m, std::uint8_t*, op.payload_offset);
        std::size_t total = 0;
        for (const ByteSegment& seg : j.gather) {
          if (total + seg.length > j.payload_length) break;
          // Segments of the packet's own frames already sit in place.
          if (seg.data != dst + total) std::memcpy(dst + total, seg.data, seg.length);
          total += seg.length;
        }
        if (total != j.payload_length) continue;
        ++counters_.gather_copies;
      }
    }
    s.keys[i] = j.key;
  }

  run_aead(/*seal=*/true, s.keys.data(), n);

  // Header protection comes after the AEAD: the sample is ciphertext.
  for (std::size_t i = 0; i < n; ++i) {
    if (s.keys[i] == nullptr) continue;
    if (!s.ops[i].ok) {
      s.keys[i] = nullptr;
      continue;
    }
    const SealJob& j = jobs[i];
    const auto* p =
        rte_pktmbuf_mtod_offset(j.m, const std::uint8_t*, j.offset + j.pn_offset + kSampleSkip);
    std::memcpy(s.samples[i].data(), p, kHpSampleLength);
  }
  run_hp(s.keys.data(), n);
  for (std::size_t i = 0; i < n; ++i) {
    SealJob& j = jobs[i];
    if (s.keys[i] == nullptr || !s.ops[i].ok) {
      ++counters_.seal_failures;
      continue;
    }
    auto* pkt = rte_pktmbuf_mtod_offset(j.m, std::uint8_t*, j.offset);
    const HpMask& mask = s.masks[i];
    const bool long_header = (pkt[0] & 0x80) != 0;
    pkt[0] ^= mask[0] & first_byte_mask(long_header);  // RFC 9001 §5.4.1
    for (std::size_t b = 0; b < j.pn_length; ++b)
      pkt[j.pn_offset + b] ^= mask[1 + b];
    j.ok = true;
    ++counters_.sealed;
  }
}

void Protector::open_chunk(std::span<OpenJob> jobs) {
  Scratch& s = *scratch_;
  const std::size_t n = jobs.size();
  for (std::size_t i = 0; i < n; ++i) {
    OpenJob& j = jobs[i];
    j.used_key = nullptr;
    s.keys[i] = nullptr;
    s.ops[i] = AeadOp{};
    s.ops[i].ok = true;  // run_hp clears it on a backend failure
    j.status = OpenStatus::kTooShort;
    // RFC 9001 §5.4.2: a packet too short for the sample is dropped.
    if (j.m == nullptr || j.key == nullptr ||
        std::size_t{j.offset} + j.packet_length > rte_pktmbuf_data_len(j.m) ||
        std::size_t{j.pn_offset} + kSampleSkip + kHpSampleLength > j.packet_length) {
      continue;
    }
    const auto* p =
        rte_pktmbuf_mtod_offset(j.m, const std::uint8_t*, j.offset + j.pn_offset + kSampleSkip);
    std::memcpy(s.samples[i].data(), p, kHpSampleLength);
    s.keys[i] = j.key;  // the HP key does not change with the key phase (RFC 9001 §6)
  }

  run_hp(s.keys.data(), n);

  for (std::size_t i = 0; i < n; ++i) {
    OpenJob& j = jobs[i];
    if (s.keys[i] == nullptr) continue;
    if (!s.ops[i].ok) {
      s.keys[i] = nullptr;
      j.status = OpenStatus::kCryptoError;
      continue;
    }
    auto* pkt = rte_pktmbuf_mtod_offset(j.m, std::uint8_t*, j.offset);
    const HpMask& mask = s.masks[i];
    pkt[0] ^= mask[0] & first_byte_mask(j.long_header);  // RFC 9001 §5.4.1
    j.first_byte = pkt[0];
    j.pn_length = static_cast<std::uint8_t>((pkt[0] & 0x03) + 1);
    std::uint64_t truncated = 0;
    for (std::size_t b = 0; b < j.pn_length; ++b) {
      pkt[j.pn_offset + b] ^= mask[1 + b];
      truncated = (truncated << 8) | pkt[j.pn_offset + b];
    }
    j.packet_number = decode_packet_number(j.largest_received, truncated, j.pn_length);
    j.header_length = static_cast<std::uint16_t>(j.pn_offset + j.pn_length);
    // The sample check above guarantees room for the tag after the header.
    j.payload_length =
        static_cast<std::uint16_t>(j.packet_length - j.header_length - kAeadTagLength);

    // RFC 9001 §6: the key-phase bit (short headers) selects the key.
    KeyHandle* k = j.key;
    j.key_phase = !j.long_header && (j.first_byte & 0x04) != 0;
    if (!j.long_header && j.key_phase != k->key_phase) {
      // §6.5: older than the current phase means the previous keys.
      k = j.previous_phase != nullptr && j.packet_number < j.phase_start ? j.previous_phase
                                                                         : j.next_phase;
      if (k == nullptr) {
        j.status = OpenStatus::kNoKey;
        s.keys[i] = nullptr;
        continue;
      }
    }
    j.used_key = k;
    AeadOp& op = s.ops[i];
    op.m = j.m;
    op.aad_offset = j.offset;
    op.aad_length = j.header_length;
    op.payload_offset = j.offset + j.header_length;
    op.payload_length = j.payload_length;
    op.nonce = packet_nonce(k->iv, j.packet_number);
    op.ok = false;
    s.keys[i] = k;
  }

  run_aead(/*seal=*/false, s.keys.data(), n);

  for (std::size_t i = 0; i < n; ++i) {
    OpenJob& j = jobs[i];
    if (s.keys[i] == nullptr) {
      ++counters_.open_failures;
      continue;
    }
    if (s.ops[i].ok) {
      j.status = OpenStatus::kOk;
      ++counters_.opened;
    } else {
      j.status = OpenStatus::kAuthFailed;  // RFC 9001 §5.3: dropped, counted
      ++counters_.auth_failures;
    }
  }
}

}  // namespace dquic::offload
