// The connection's KeyStore (quic/packet_protection.h) backed by an
// offload::Protector: a ProtectionKey* handed to the connection is the
// Protector's KeyHandle*, so the I/O glue (runtime/connection_io.h) turns the
// keys the connection names back into handles without a lookup.
#pragma once

#include "offload/protector.h"
#include "quic/packet_protection.h"

namespace dquic::offload {

// The two opaque types name the same object: conversions are casts only.
inline ProtectionKey* to_protection_key(KeyHandle* h) {
  return reinterpret_cast<ProtectionKey*>(h);
}
inline KeyHandle* to_key_handle(ProtectionKey* k) {
  return reinterpret_cast<KeyHandle*>(k);
}

class ProtectorKeyStore final : public KeyStore {
 public:
  // `protector` must outlive every key installed through this store.
  explicit ProtectorKeyStore(Protector* protector) : protector_(protector) {}

  ProtectionKey* install(const PacketKeys& keys, bool key_phase) override {
    return to_protection_key(protector_->install(keys, key_phase));
  }
  void release(ProtectionKey* key) override { protector_->release(to_key_handle(key)); }

 private:
  Protector* protector_;
};

}  // namespace dquic::offload
