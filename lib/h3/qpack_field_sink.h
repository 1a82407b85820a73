// Where a QPACK decoder delivers field lines, and a sink that copies them
// into caller-provided storage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "h3/qpack_field.h"

namespace dquic {

class QpackFieldSink {
 public:
  virtual ~QpackFieldSink() = default;
  // One field line, in section order (RFC 9204 §2.2). The views are valid
  // only during the call. Returning false abandons the section.
  virtual bool on_field(const QpackField& field) = 0;
};

// Copies names and values into `bytes` and their views into `fields`; no
// allocation. A field that does not fit makes on_field() fail.
class QpackFieldBuffer final : public QpackFieldSink {
 public:
  QpackFieldBuffer(std::span<QpackField> fields, std::span<char> bytes)
      : fields_(fields), bytes_(bytes) {}

  bool on_field(const QpackField& f) override {
    const std::size_t len = f.name.size() + f.value.size();
    if (count_ == fields_.size() || bytes_.size() - used_ < len) return false;
    char* p = bytes_.data() + used_;
    if (!f.name.empty()) std::memcpy(p, f.name.data(), f.name.size());
    if (!f.value.empty()) std::memcpy(p + f.name.size(), f.value.data(), f.value.size());
    fields_[count_++] = {{p, f.name.size()}, {p + f.name.size(), f.value.size()}, f.never_index};
    used_ += len;
    return true;
  }

  std::span<const QpackField> fields() const { return fields_.first(count_); }
  void clear() { count_ = used_ = 0; }

 private:
  std::span<QpackField> fields_;
  std::span<char> bytes_;
  std::size_t count_ = 0;
  std::size_t used_ = 0;
};

}  // namespace dquic
