// DATAGRAM frames waiting to be sent (RFC 9221 §5): a fixed ring of
// fixed-size slots, allocated once on first use, so queueing and sending a
// datagram never allocates. Full means the application must wait: DATAGRAM
// frames are unreliable, and RFC 9221 §5 lets a sender drop rather than
// queue without bound.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

#include "quic/buffer.h"

namespace dquic {

class DatagramQueue {
 public:
  DatagramQueue(std::size_t slots, std::size_t slot_size) : slots_(slots), slot_size_(slot_size) {}

  std::size_t slot_size() const { return slot_size_; }
  bool empty() const { return count_ == 0; }
  std::size_t size() const { return count_; }

  // False when full or `data` is larger than a slot.
  bool push(ByteSpan data) {
    if (count_ == slots_ || data.size() > slot_size_) return false;
    if (!storage_) {
      storage_ = std::make_unique<std::uint8_t[]>(slots_ * slot_size_);
      lengths_ = std::make_unique<std::uint16_t[]>(slots_);
    }
    const std::size_t i = (head_ + count_) % slots_;
    if (!data.empty()) std::memcpy(storage_.get() + i * slot_size_, data.data(), data.size());
    lengths_[i] = static_cast<std::uint16_t>(data.size());
    ++count_;
    return true;
  }
  ByteSpan front() const { return {storage_.get() + head_ * slot_size_, lengths_[head_]}; }
  void pop() {
    head_ = (head_ + 1) % slots_;
    --count_;
  }
  void clear() { head_ = count_ = 0; }

 private:
  std::size_t slots_;
  std::size_t slot_size_;
  std::size_t head_ = 0, count_ = 0;
  std::unique_ptr<std::uint8_t[]> storage_;
  std::unique_ptr<std::uint16_t[]> lengths_;
};

}  // namespace dquic
