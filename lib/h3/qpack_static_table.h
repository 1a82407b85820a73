// The QPACK static table (RFC 9204 §3.1, Appendix A): 99 entries, index 0..98.
#pragma once

#include <cstdint>
#include <string_view>

#include "h3/qpack_field.h"

namespace dquic {

inline constexpr std::uint64_t kQpackStaticTableSize = 99;

// The entry at `index`, or nullptr if there is none (RFC 9204 §3.1 makes an
// invalid index a connection error; the caller picks which).
const QpackField* qpack_static_entry(std::uint64_t index);

struct QpackStaticMatch {
  int index = -1;              // -1: no entry has this name
  bool value_matches = false;  // `index` matches name and value
};

// Best match for (name, value): an exact entry if one exists, else the
// first entry with that name.
QpackStaticMatch qpack_static_find(std::string_view name, std::string_view value);

// First entry with this name, or -1.
int qpack_static_find_name(std::string_view name);

}  // namespace dquic
