// The connection's side of packet protection. Sealing and opening run in
// bursts outside the connection (lib/offload's Protector, called by the
// runtime or the simulator through lib/runtime/connection_io.h); the
// connection only derives keys, installs them in a KeyStore and says which
// key protects each packet it builds or receives.
#pragma once

#include "quic/packet_keys.h"

namespace dquic {

// A key installed in a KeyStore; opaque to the connection.
struct ProtectionKey;

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // nullptr if the key cannot be installed (the connection then closes with
  // INTERNAL_ERROR).
  virtual ProtectionKey* install(const PacketKeys& keys, bool key_phase) = 0;
  virtual void release(ProtectionKey* key) = 0;
};

}  // namespace dquic
