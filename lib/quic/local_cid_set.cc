#include "quic/local_cid_set.h"

namespace dquic {

void LocalCidSet::reset(const ConnectionId& cid) {
  entries_[0] = Entry{0, cid, {}, false, true};
  count_ = 1;
  next_sequence_ = 1;
}

bool LocalCidSet::contains(const ConnectionId& cid) const {
  for (std::size_t i = 0; i < count_; ++i)
    if (entries_[i].cid == cid) return true;
  return false;
}

std::uint64_t LocalCidSet::issue(const ConnectionId& cid, const StatelessResetToken& token) {
  const std::uint64_t seq = next_sequence_++;
  entries_[count_++] = Entry{seq, cid, token, true, false};
  return seq;
}

TransportError LocalCidSet::on_retire(std::uint64_t sequence, ByteSpan packet_dcid, bool* retired,
                                      ConnectionId* cid) {
  *retired = false;
  if (sequence >= next_sequence_) return TransportError::kProtocolViolation;  // never issued
  for (std::size_t i = 0; i < count_; ++i) {
    if (entries_[i].sequence != sequence) continue;
    if (same_bytes(entries_[i].cid.span(), packet_dcid)) return TransportError::kProtocolViolation;
    *cid = entries_[i].cid;
    *retired = true;
    entries_[i] = entries_[--count_];
    return TransportError::kNoError;
  }
  return TransportError::kNoError;  // retired already: a repeated frame
}

const LocalCidSet::Entry* LocalCidSet::next_to_send() const {
  const Entry* best = nullptr;
  for (std::size_t i = 0; i < count_; ++i)
    if (entries_[i].send_pending && (best == nullptr || entries_[i].sequence < best->sequence))
      best = &entries_[i];
  return best;
}

void LocalCidSet::set_pending(std::uint64_t sequence, bool pending) {
  for (std::size_t i = 0; i < count_; ++i)
    if (entries_[i].sequence == sequence && !entries_[i].acked) entries_[i].send_pending = pending;
}

void LocalCidSet::on_acked(std::uint64_t sequence) {
  for (std::size_t i = 0; i < count_; ++i) {
    if (entries_[i].sequence != sequence) continue;
    entries_[i].acked = true;
    entries_[i].send_pending = false;
  }
}

}  // namespace dquic
