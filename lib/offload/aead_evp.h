// The inline AEAD engine: OpenSSL 3 EVP on the calling core, no device. It
// stands behind every other backend (keys a device refuses land here) and is
// the reference the device engines are tested against.
#pragma once

#include <memory>

#include "offload/aead_engine.h"

namespace dquic::offload {

// AES-128-GCM, AES-256-GCM and ChaCha20-Poly1305 (RFC 9001 §5.3). Each key
// holds two EVP contexts (seal, open) keyed once at create_key; per packet
// only the nonce is set, so seal/open allocate nothing. Gather seals run
// out-of-place in one pass. Not thread-safe per key: a key is used by one
// lcore at a time.
std::unique_ptr<AeadEngine> make_evp_aead_engine();

}  // namespace dquic::offload
