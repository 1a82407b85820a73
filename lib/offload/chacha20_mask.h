// ChaCha20 header-protection masks (RFC 9001 §5.4.4): the first 5 bytes of
// the ChaCha20 block (RFC 8439 §2.3) keyed with the HP key, with the
// sample's first 4 bytes as the block counter (little-endian) and the other
// 12 as the nonce. Computed directly rather than through EVP, which spends a
// whole cipher-context reset and a 64-byte block per mask; eight samples run
// side by side with AVX2 where the CPU has it.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "offload/hp_engine.h"

namespace dquic::offload {

using ChachaKey = std::array<std::uint32_t, 8>;

// The 32-byte key as the eight little-endian words of the ChaCha20 state.
ChachaKey chacha20_key_words(const std::uint8_t* key);

// masks[i] = mask for samples[i]; masks.size() >= samples.size().
void chacha20_masks(const ChachaKey& key, std::span<const HpSample> samples,
                    std::span<HpMask> masks);

// The portable one-at-a-time form, also the reference for the vector one.
void chacha20_masks_scalar(const ChachaKey& key, std::span<const HpSample> samples,
                           std::span<HpMask> masks);

}  // namespace dquic::offload
