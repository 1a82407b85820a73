#include "runtime/counter_fields.h"

#include <atomic>
#include <cstdio>

namespace dquic {

std::uint64_t load_counter(const std::uint64_t& v) {
  static_assert(std::atomic_ref<std::uint64_t>::required_alignment <= alignof(std::uint64_t));
  return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(v))
      .load(std::memory_order_relaxed);
}

void append_counter(const char* name, std::uint64_t v, std::string* out) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(v));
  out->push_back(' ');
  out->append(name);
  out->push_back('=');
  out->append(buf, static_cast<std::size_t>(n));
}

}  // namespace dquic
