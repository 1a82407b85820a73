// Counter blocks described by tables of fields (worker_counters.h,
// worker_loop_counters.h): one worker writes a block with plain stores,
// others read it with relaxed loads; the tables drive snapshots, sums, the
// exit summary and the telemetry keys, so a new counter is one table row.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace dquic {

template <typename Block>
struct CounterField {
  const char* group;  // summary line it is printed on
  const char* name;   // within the group
  const char* key;    // telemetry key: "<group>_<name>"
  std::uint64_t Block::*member;
};

// A relaxed load of a counter its worker may be writing. Blocks are never
// const objects (their worker writes them), so casting const away is defined.
std::uint64_t load_counter(const std::uint64_t& v);
// Appends " name=value".
void append_counter(const char* name, std::uint64_t v, std::string* out);

template <typename Block>
void load_fields(const Block& live, std::span<const CounterField<Block>> fields, Block* out) {
  for (const CounterField<Block>& f : fields)
    out->*f.member = load_counter(live.*f.member);
}

template <typename Block>
void add_fields(const Block& from, std::span<const CounterField<Block>> fields, Block* to) {
  for (const CounterField<Block>& f : fields)
    to->*f.member += from.*f.member;
}

// One line per group with a non-zero field: "<prefix><group> name=v ...";
// the table keeps a group's fields together.
template <typename Block>
void format_field_groups(const Block& c, std::span<const CounterField<Block>> fields,
                         std::string_view prefix, std::string* out) {
  for (std::size_t i = 0; i < fields.size();) {
    std::size_t end = i;
    bool any = false;
    while (end < fields.size() && std::string_view(fields[end].group) == fields[i].group) {
      any = any || c.*fields[end].member != 0;
      ++end;
    }
    if (any) {
      out->append(prefix);
      out->append(fields[i].group);
      for (std::size_t j = i; j < end; ++j)
        append_counter(fields[j].name, c.*fields[j].member, out);
      out->push_back('\n');
    }
    i = end;
  }
}

}  // namespace dquic
