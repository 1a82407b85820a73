#include "quic/one_rtt_keys.h"

#include "quic/key_schedule.h"
#include "quic/tls_engine.h"  // wipe_secret

namespace dquic {

bool OneRttKeys::install_read(AeadAlgorithm aead, const Secret& secret) {
  PacketKeys keys;
  if (!derive_packet_keys(version_, aead, secret, &keys)) return false;
  ProtectionKey* k = store_->install(keys, false);
  if (k == nullptr) return false;
  if (read_) store_->release(read_);
  read_ = k;
  read_phase_ = false;
  read_gen_ = Generation{secret, keys};
  return prepare_read_next();
}

bool OneRttKeys::prepare_read_next() {
  // RFC 9001 §6.1: the next generation from the current secret.
  Generation next;
  if (!derive_updated_keys(version_, read_gen_.secret, read_gen_.keys, &next.secret, &next.keys))
    return false;
  ProtectionKey* k = store_->install(next.keys, !read_phase_);
  if (k == nullptr) return false;
  if (read_next_) store_->release(read_next_);
  read_next_ = k;
  wipe_secret(&read_gen_.secret);
  read_gen_ = next;
  return true;
}

bool OneRttKeys::install_write(AeadAlgorithm aead, const Secret& secret) {
  PacketKeys keys;
  if (!derive_packet_keys(version_, aead, secret, &keys)) return false;
  ProtectionKey* k = store_->install(keys, false);
  if (k == nullptr) return false;
  if (write_) store_->release(write_);
  write_ = k;
  write_phase_ = false;
  write_gen_ = Generation{secret, keys};
  return true;
}

bool OneRttKeys::rotate_read() {
  if (read_next_ == nullptr) return false;
  if (read_previous_) store_->release(read_previous_);
  read_previous_ = read_;
  read_ = read_next_;
  read_next_ = nullptr;
  read_phase_ = !read_phase_;
  ++updates_;
  return prepare_read_next();
}

bool OneRttKeys::update_write(ProtectionKey** old_key) {
  Generation next;
  if (!derive_updated_keys(version_, write_gen_.secret, write_gen_.keys, &next.secret, &next.keys))
    return false;
  ProtectionKey* k = store_->install(next.keys, !write_phase_);
  if (k == nullptr) return false;
  *old_key = write_;
  write_ = k;
  write_phase_ = !write_phase_;
  wipe_secret(&write_gen_.secret);
  write_gen_ = next;
  return true;
}

void OneRttKeys::discard_read_previous() {
  if (read_previous_) store_->release(read_previous_);
  read_previous_ = nullptr;
}

void OneRttKeys::release_all() {
  for (ProtectionKey** k : {&read_, &read_next_, &read_previous_, &write_}) {
    if (*k != nullptr && store_ != nullptr) store_->release(*k);
    *k = nullptr;
  }
  wipe_secret(&read_gen_.secret);
  wipe_secret(&write_gen_.secret);
}

}  // namespace dquic
