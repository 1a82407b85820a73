// The inline header-protection engine (RFC 9001 §5.4), on the calling core:
// AES-ECB with AES-NI for the AES suites, our ChaCha20 block function
// (chacha20_mask.h, 8 samples per AVX2 pass) for ChaCha20-Poly1305. Device backends are rarely
// worth it for HP (a 16-byte block per packet), so this is usually the HP engine even with offload.
#pragma once

#include <memory>

#include "offload/hp_engine.h"

namespace dquic::offload {

// AES masks use AES-NI, 8 samples interleaved, when the CPU has it (checked
// at run time); otherwise, or when `use_aesni` is false (tests, reference),
// EVP AES-ECB over the whole batch. Nothing is allocated per mask.
std::unique_ptr<HpEngine> make_inline_hp_engine(bool use_aesni = true);

}  // namespace dquic::offload
