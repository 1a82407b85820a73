#include "quic/peer_cid_set.h"

#include <openssl/crypto.h>

#include <algorithm>

namespace dquic {

PeerCidSet::PeerCidSet(std::uint64_t limit)
    : limit_(static_cast<std::size_t>(std::clamp<std::uint64_t>(limit, 2, kMaxActive))) {}

void PeerCidSet::reset(const ConnectionId& cid, const std::optional<StatelessResetToken>& token) {
  entries_[0] = Entry{0, cid, token.value_or(StatelessResetToken{}), token.has_value(), true};
  count_ = 1;
  active_ = 0;
  retire_prior_to_ = 0;
  retiring_count_ = 0;
}

TransportError PeerCidSet::on_new_connection_id(const NewConnectionIdFrame& f) {
  ConnectionId cid;
  if (!ConnectionId::from(f.connection_id, &cid)) return TransportError::kFrameEncodingError;
  bool duplicate = false;
  for (std::size_t i = 0; i < count_; ++i) {
    const Entry& e = entries_[i];
    const bool same_seq = e.sequence == f.sequence_number, same_cid = e.cid == cid;
    if (same_seq != same_cid) return TransportError::kProtocolViolation;  // §19.15 MAY
    if (same_seq) {
      // §19.15: a repeated frame is not an error; another token is.
      if (e.has_token && e.token != f.stateless_reset_token)
        return TransportError::kProtocolViolation;
      duplicate = true;
    }
  }
  // §19.15: Retire Prior To retires every lower sequence number.
  if (f.retire_prior_to > retire_prior_to_) {
    retire_prior_to_ = f.retire_prior_to;
    for (std::size_t i = 0; i < count_;) {
      if (entries_[i].sequence >= retire_prior_to_) {
        ++i;
        continue;
      }
      if (!queue_retire(entries_[i].sequence)) return TransportError::kConnectionIdLimitError;
      remove(i);
    }
  }
  if (duplicate) return TransportError::kNoError;
  if (f.sequence_number < retire_prior_to_) {
    // §19.15: already retired by an earlier Retire Prior To: retire it at
    // once. §5.1.2: too many retirements outstanding is the peer's doing.
    return queue_retire(f.sequence_number) ? TransportError::kNoError
                                           : TransportError::kConnectionIdLimitError;
  }
  // §5.1.1: after adding and retiring, more active CIDs than we allow.
  if (count_ >= limit_) return TransportError::kConnectionIdLimitError;
  entries_[count_++] =
      Entry{f.sequence_number, cid, f.stateless_reset_token, /*has_token=*/true, /*used=*/false};
  return TransportError::kNoError;
}

void PeerCidSet::remove(std::size_t i) {
  const bool was_active = i == active_;
  entries_[i] = entries_[count_ - 1];
  if (active_ == count_ - 1) active_ = i;
  --count_;
  if (!was_active || count_ == 0) return;
  // §5.1.2: the CID in use was retired: move to the lowest one left,
  // preferring one no other path uses (§9.5).
  active_ = count_;
  for (std::size_t j = 0; j < count_; ++j)
    if (!entries_[j].used &&
        (active_ == count_ || entries_[j].sequence < entries_[active_].sequence))
      active_ = j;
  if (active_ == count_) {
    active_ = 0;
    for (std::size_t j = 1; j < count_; ++j)
      if (entries_[j].sequence < entries_[active_].sequence) active_ = j;
  }
  entries_[active_].used = true;
}

std::size_t PeerCidSet::index_of(std::uint64_t sequence) const {
  for (std::size_t i = 0; i < count_; ++i)
    if (entries_[i].sequence == sequence) return i;
  return count_;
}

bool PeerCidSet::has_unused() const {
  for (std::size_t i = 0; i < count_; ++i)
    if (!entries_[i].used) return true;
  return false;
}

std::optional<std::uint64_t> PeerCidSet::take_unused() {
  std::size_t best = count_;
  for (std::size_t i = 0; i < count_; ++i)
    if (!entries_[i].used && (best == count_ || entries_[i].sequence < entries_[best].sequence))
      best = i;
  if (best == count_) return std::nullopt;
  entries_[best].used = true;
  return entries_[best].sequence;
}

const ConnectionId* PeerCidSet::find(std::uint64_t sequence) const {
  const std::size_t i = index_of(sequence);
  return i == count_ ? nullptr : &entries_[i].cid;
}

bool PeerCidSet::activate(std::uint64_t sequence) {
  const std::size_t i = index_of(sequence);
  if (i == count_) return false;
  if (i == active_) return true;
  const std::size_t old = active_;
  active_ = i;
  entries_[i].used = true;
  // §5.1.2: the old path's CID is retired; when too many retirements are
  // outstanding it simply stays (used, so never picked again).
  if (queue_retire(entries_[old].sequence)) remove(old);
  return true;
}

void PeerCidSet::retire(std::uint64_t sequence) {
  const std::size_t i = index_of(sequence);
  if (i == count_ || i == active_) return;
  if (queue_retire(sequence)) remove(i);
}

bool PeerCidSet::queue_retire(std::uint64_t sequence) {
  for (std::size_t i = 0; i < retiring_count_; ++i)
    if (retiring_[i].sequence == sequence) return true;
  if (retiring_count_ == kMaxRetiring) return false;
  retiring_[retiring_count_++] = Retiring{sequence, true};
  return true;
}

void PeerCidSet::set_retire_state(std::uint64_t sequence, bool pending) {
  for (std::size_t i = 0; i < retiring_count_; ++i)
    if (retiring_[i].sequence == sequence) retiring_[i].pending = pending;
}

void PeerCidSet::on_retire_acked(std::uint64_t sequence) {
  for (std::size_t i = 0; i < retiring_count_; ++i) {
    if (retiring_[i].sequence != sequence) continue;
    retiring_[i] = retiring_[--retiring_count_];
    return;
  }
}

std::optional<std::uint64_t> PeerCidSet::retire_to_send() const {
  for (std::size_t i = 0; i < retiring_count_; ++i)
    if (retiring_[i].pending) return retiring_[i].sequence;
  return std::nullopt;
}

bool PeerCidSet::matches_reset_token(ByteSpan token) const {
  if (token.size() != kStatelessResetTokenLength) return false;
  bool found = false;
  for (std::size_t i = 0; i < count_; ++i)
    found |= entries_[i].has_token &&
             CRYPTO_memcmp(entries_[i].token.data(), token.data(), token.size()) == 0;
  return found;
}

}  // namespace dquic
