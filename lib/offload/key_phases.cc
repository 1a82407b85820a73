#include "offload/key_phases.h"

#include <openssl/crypto.h>

#include "quic/key_schedule.h"

namespace dquic::offload {

KeyPhases::~KeyPhases() {
  protector_.release(previous_);
  protector_.release(current_);
  protector_.release(next_);
  OPENSSL_cleanse(&next_secret_, sizeof(next_secret_));
  OPENSSL_cleanse(&next_keys_, sizeof(next_keys_));
}

bool KeyPhases::start(AeadAlgorithm aead, const Secret& secret) {
  PacketKeys keys;
  if (current_ != nullptr || !derive_packet_keys(version_, aead, secret, &keys)) return false;
  current_ = protector_.install(keys, false);
  next_keys_ = keys;
  next_secret_ = secret;
  OPENSSL_cleanse(&keys, sizeof(keys));
  if (current_ == nullptr) return false;
  if (!prepare_next()) {
    protector_.release(current_);
    current_ = nullptr;
    return false;
  }
  return true;
}

bool KeyPhases::prepare_next() {
  // RFC 9001 §6.1: next secret = HKDF-Expand-Label(secret, "quic ku"); key
  // and IV follow from it, the header protection key stays.
  Secret secret;
  PacketKeys keys;
  if (!derive_updated_keys(version_, next_secret_, next_keys_, &secret, &keys)) return false;
  next_ = protector_.install(keys, !phase_);
  next_secret_ = secret;
  next_keys_ = keys;
  OPENSSL_cleanse(&secret, sizeof(secret));
  OPENSSL_cleanse(&keys, sizeof(keys));
  return next_ != nullptr;
}

bool KeyPhases::advance() {
  if (next_ == nullptr) return false;
  protector_.release(previous_);
  previous_ = current_;
  current_ = next_;
  next_ = nullptr;
  phase_ = !phase_;
  ++updates_;
  return prepare_next();
}

void KeyPhases::discard_previous() {
  protector_.release(previous_);
  previous_ = nullptr;
}

}  // namespace dquic::offload
