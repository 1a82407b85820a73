// The 1-RTT keys of a connection across key updates (RFC 9001 §6), on the
// connection's KeyStore: the current read and write keys, the next read key
// installed ahead (so the peer's first packet of an update opens without
// deriving keys on the packet path), and the previous read key kept for
// late packets until the connection discards it (§6.1 suggests three PTOs).
// The header protection key never changes (§6).
#pragma once

#include <cstdint>

#include "quic/hkdf.h"
#include "quic/packet_keys.h"
#include "quic/packet_protection.h"

namespace dquic {

class OneRttKeys {
 public:
  OneRttKeys() = default;
  ~OneRttKeys() { release_all(); }
  OneRttKeys(const OneRttKeys&) = delete;
  OneRttKeys& operator=(const OneRttKeys&) = delete;

  void set_store(KeyStore* store, std::uint32_t version) {
    store_ = store;
    version_ = version;
  }

  // From the traffic secrets TLS produced: phase 0. False on failure.
  [[nodiscard]] bool install_read(AeadAlgorithm aead, const Secret& secret);
  [[nodiscard]] bool install_write(AeadAlgorithm aead, const Secret& secret);

  ProtectionKey* read() const { return read_; }
  ProtectionKey* read_next() const { return read_next_; }
  ProtectionKey* read_previous() const { return read_previous_; }
  ProtectionKey* write() const { return write_; }
  bool read_phase() const { return read_phase_; }
  bool write_phase() const { return write_phase_; }
  std::uint64_t updates() const { return updates_; }

  // The peer's packet opened with read_next(): it becomes current, current
  // becomes previous (the one before is released), the next is derived.
  [[nodiscard]] bool rotate_read();
  // Our write key moves to the next generation and the phase bit flips. The
  // old key is returned, not released: a packet laid out with it may still
  // wait to be sealed.
  [[nodiscard]] bool update_write(ProtectionKey** old_key);
  void discard_read_previous();
  void release_all();

 private:
  struct Generation {
    Secret secret;
    PacketKeys keys;
  };
  bool prepare_read_next();

  KeyStore* store_ = nullptr;
  std::uint32_t version_ = 0;
  ProtectionKey* read_ = nullptr;
  ProtectionKey* read_next_ = nullptr;
  ProtectionKey* read_previous_ = nullptr;
  ProtectionKey* write_ = nullptr;
  bool read_phase_ = false;
  bool write_phase_ = false;
  Generation read_gen_;        // of read_next_ once prepared
  Generation write_gen_;       // of write_
  std::uint64_t updates_ = 0;  // read rotations
};

}  // namespace dquic
