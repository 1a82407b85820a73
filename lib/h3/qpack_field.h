// A field line as QPACK sees it: views into caller or table memory.
#pragma once

#include <cstddef>
#include <string_view>

namespace dquic {

struct QpackField {
  std::string_view name;
  std::string_view value;
  // RFC 9204 §4.5.4 / §7.1: never put in the dynamic table, and ask
  // intermediaries to keep it literal too ('N' bit).
  bool never_index = false;
};

// RFC 9204 §3.2.1: an entry's size is its name and value lengths plus 32.
inline constexpr std::size_t kQpackEntryOverhead = 32;
constexpr std::size_t qpack_entry_size(std::size_t name_len, std::size_t value_len) {
  return name_len + value_len + kQpackEntryOverhead;
}

}  // namespace dquic
