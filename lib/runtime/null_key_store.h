// The KeyStore of no-crypto mode (runtime/connection_io.h with a null
// Protector): keys are distinct dummy handles, never dereferenced, so the
// connection's key lifecycle runs unchanged while nothing is sealed.
#pragma once

#include <cstdint>

#include "quic/packet_protection.h"

namespace dquic {

class NullKeyStore final : public KeyStore {
 public:
  ProtectionKey* install(const PacketKeys&, bool) override {
    ++installed_;
    // Non-null and aligned like a real handle.
    return reinterpret_cast<ProtectionKey*>(static_cast<std::uintptr_t>(installed_) << 4);
  }
  void release(ProtectionKey* key) override {
    if (key != nullptr) ++released_;
  }
  std::uint64_t installed() const { return installed_; }
  std::uint64_t released() const { return released_; }

 private:
  std::uint64_t installed_ = 0;
  std::uint64_t released_ = 0;
};

}  // namespace dquic
