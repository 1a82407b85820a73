// The AEAD half of packet protection, as each backend provides it. The
// pipeline (protector.h) computes nonces, finds AAD and payload, groups a
// burst by key and applies header protection; an engine only encrypts or
// decrypts runs of same-key operations.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <span>

#include "quic/packet_keys.h"

namespace dquic::offload {

// Payload bytes living outside the packet mbuf (another mbuf's data, a file
// mapped as an external buffer): the plaintext source of a gather seal.
struct ByteSegment {
  const std::uint8_t* data = nullptr;
  rte_iova_t iova = RTE_BAD_IOVA;
  std::uint32_t length = 0;
};

// One packet's AEAD. Offsets are into `m`'s first segment data, which must
// hold AAD, payload and the 16-byte tag contiguously (tag right after the
// payload). Open verifies the tag and decrypts in place.
struct AeadOp {
  rte_mbuf* m = nullptr;
  std::uint32_t aad_offset = 0;
  std::uint32_t aad_length = 0;
  std::uint32_t payload_offset = 0;  // == aad_offset + aad_length for QUIC
  std::uint32_t payload_length = 0;  // excluding the tag
  std::array<std::uint8_t, kAeadNonceLength> nonce{};
  // Seal only: when non-empty, the plaintext is gathered from here (it must
  // total payload_length) and the ciphertext is written into `m` at
  // payload_offset: out-of-place, payload touched once, by the cipher.
  std::span<const ByteSegment> gather;
  bool ok = false;  // set by the engine: sealed / authenticated
};

// Backend state for one PacketKeys (a device session, an EVP context...).
class AeadKey {
 public:
  virtual ~AeadKey() = default;
};

class AeadEngine {
 public:
  virtual ~AeadEngine() = default;
  virtual const char* name() const = 0;
  // Whether this engine can run `a` at all (capability query, not a name check).
  virtual bool supports(AeadAlgorithm a) const = 0;
  // Whether gather seals run out-of-place on this engine; when false the
  // pipeline copies gathered payload into the packet first (and counts it).
  virtual bool supports_gather() const = 0;
  // Whether a gather seal costs less CPU than copying the payload into the
  // packet first, measured (tests/bench/worker_tx_bench): true for the
  // inline engine; the device engines build an mbuf chain per op, which
  // costs more than the copy on the software PMDs.
  virtual bool gather_cheaper_than_copy() const { return false; }
  // Gather seals this engine ran by copying into the packet first (a
  // segment it could not read in place): none where gathers never copy.
  virtual std::uint64_t gather_copies() const { return 0; }
  // nullptr when the backend cannot take another key (e.g. device sessions
  // exhausted): the pipeline then falls back to the inline engine for it.
  virtual AeadKey* create_key(const PacketKeys& keys) = 0;
  virtual void destroy_key(AeadKey* key) = 0;
  // All ops use `key`. Each op's `ok` is set; a failure is per op, never for
  // the burst.
  virtual void seal(AeadKey* key, std::span<AeadOp> ops) = 0;
  virtual void open(AeadKey* key, std::span<AeadOp> ops) = 0;
};

}  // namespace dquic::offload
