// Bounds-checked cursors over caller-owned bytes. Reading never copies: spans
// returned by Reader point into the input. Neither class allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "quic/varint.h"

namespace dquic {

using ByteSpan = std::span<const std::uint8_t>;

class Reader {
 public:
  Reader() = default;
  explicit Reader(ByteSpan in) : p_(in.data()), end_(in.data() + in.size()) {}

  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  bool empty() const { return p_ == end_; }
  const std::uint8_t* position() const { return p_; }
  ByteSpan rest() const { return {p_, remaining()}; }

  [[nodiscard]] bool read_u8(std::uint8_t* v) {
    if (p_ == end_) return false;
    *v = *p_++;
    return true;
  }
  [[nodiscard]] bool peek_u8(std::uint8_t* v) const {
    if (p_ == end_) return false;
    *v = *p_;
    return true;
  }
  // Big-endian unsigned of `n` bytes (1..8).
  [[nodiscard]] bool read_uint(std::size_t n, std::uint64_t* v) {
    if (remaining() < n) return false;
    std::uint64_t r = 0;
    for (std::size_t i = 0; i < n; ++i)
      r = (r << 8) | p_[i];
    p_ += n;
    *v = r;
    return true;
  }
  [[nodiscard]] bool read_u32(std::uint32_t* v) {
    std::uint64_t r;
    if (!read_uint(4, &r)) return false;
    *v = static_cast<std::uint32_t>(r);
    return true;
  }
  [[nodiscard]] bool read_varint(std::uint64_t* v) {
    const std::size_t n = varint_read(p_, remaining(), v);
    p_ += n;
    return n != 0;
  }
  [[nodiscard]] bool read_bytes(std::size_t n, ByteSpan* out) {
    if (remaining() < n) return false;
    *out = {p_, n};
    p_ += n;
    return true;
  }
  [[nodiscard]] bool skip(std::size_t n) {
    if (remaining() < n) return false;
    p_ += n;
    return true;
  }

 private:
  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
};

// Writes into a caller-provided buffer. The first write that does not fit sets
// a sticky failure and writes nothing more, so a sequence of writes needs one
// ok() check at the end.
class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> out)
      : begin_(out.data()), p_(out.data()), end_(out.data() + out.size()) {}

  bool ok() const { return ok_; }
  std::size_t written() const { return static_cast<std::size_t>(p_ - begin_); }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  std::uint8_t* position() { return p_; }
  const std::uint8_t* data() const { return begin_; }

  // Rolls back to an earlier written() mark and clears a failure after it.
  void rewind(std::size_t mark) {
    p_ = begin_ + mark;
    ok_ = true;
  }

  void write_u8(std::uint8_t v) {
    if (reserve(1)) *p_++ = v;
  }
  void write_uint(std::uint64_t v, std::size_t n) {
    if (!reserve(n)) return;
    for (std::size_t i = n; i > 0; --i) {
      p_[i - 1] = static_cast<std::uint8_t>(v);
      v >>= 8;
    }
    p_ += n;
  }
  void write_u32(std::uint32_t v) { write_uint(v, 4); }
  void write_varint(std::uint64_t v) { write_varint(v, varint_size(v)); }
  // Exact-length form; fails if v does not fit in len bytes.
  void write_varint(std::uint64_t v, std::size_t len) {
    if (!varint_fits(v, len)) {
      ok_ = false;
      return;
    }
    if (!reserve(len)) return;
    varint_write(p_, v, len);
    p_ += len;
  }
  void write_bytes(ByteSpan b) {
    if (!reserve(b.size())) return;
    if (!b.empty()) std::memcpy(p_, b.data(), b.size());
    p_ += b.size();
  }
  // Reserves n bytes for the caller to fill in place (a zero-copy source
  // writes straight into the packet); nullptr if they do not fit.
  std::uint8_t* claim(std::size_t n) {
    if (!reserve(n)) return nullptr;
    std::uint8_t* at = p_;
    p_ += n;
    return at;
  }
  void fill(std::uint8_t v, std::size_t n) {
    if (!reserve(n)) return;
    std::memset(p_, v, n);
    p_ += n;
  }

 private:
  bool reserve(std::size_t n) {
    if (!ok_ || remaining() < n) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::uint8_t* begin_;
  std::uint8_t* p_;
  std::uint8_t* end_;
  bool ok_ = true;
};

}  // namespace dquic
