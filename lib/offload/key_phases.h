// The 1-RTT keys of one direction across key updates (RFC 9001 §6): the
// current phase, the next one derived and installed ahead of time (so the
// first packet of a peer's update opens without deriving keys on the packet
// path), and the previous one until the caller discards it (§6.1 suggests
// about three PTOs after the update).
#pragma once

#include <cstdint>

#include "offload/protector.h"
#include "quic/hkdf.h"
#include "quic/packet_keys.h"

namespace dquic::offload {

class KeyPhases {
 public:
  KeyPhases(Protector& protector, std::uint32_t version)
      : protector_(protector), version_(version) {}
  ~KeyPhases();
  KeyPhases(const KeyPhases&) = delete;
  KeyPhases& operator=(const KeyPhases&) = delete;

  // Installs phase 0 from the traffic secret TLS produced, and phase 1
  // ahead. False if derivation or installation fails (nothing installed).
  [[nodiscard]] bool start(AeadAlgorithm aead, const Secret& secret);
  // A key update: next becomes current, current becomes previous (releasing
  // the one before), and the phase after is derived and installed. False if
  // that derivation or install fails; the rotation has still happened and
  // next() is then nullptr.
  [[nodiscard]] bool advance();
  void discard_previous();

  KeyHandle* current() const { return current_; }
  KeyHandle* next() const { return next_; }
  KeyHandle* previous() const { return previous_; }
  bool phase() const { return phase_; }  // the key-phase bit of current()
  std::uint64_t updates() const { return updates_; }

 private:
  // Derives the keys after `next_secret_` and installs them as next_.
  bool prepare_next();

  Protector& protector_;
  std::uint32_t version_;
  KeyHandle* previous_ = nullptr;
  KeyHandle* current_ = nullptr;
  KeyHandle* next_ = nullptr;
  bool phase_ = false;
  std::uint64_t updates_ = 0;
  Secret next_secret_;    // the secret of next_
  PacketKeys next_keys_;  // the keys of next_ (the HP key never changes)
};

}  // namespace dquic::offload
