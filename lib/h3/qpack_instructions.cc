#include "h3/qpack_instructions.h"

#include "h3/qpack_prefixed_int.h"
#include "h3/qpack_string.h"

namespace dquic {

void qpack_write_set_capacity(Writer& w, std::uint64_t capacity) {
  qpack_write_int(w, 0x20, 5, capacity);  // 001 Capacity(5+)
}

void qpack_write_insert_name_ref(Writer& w, bool is_static, std::uint64_t index,
                                 std::string_view value, bool huffman) {
  qpack_write_int(w, is_static ? 0xc0 : 0x80, 6, index);  // 1 T Index(6+)
  qpack_write_string(w, 0x00, 7, value, huffman);         // H Value(7+)
}

void qpack_write_insert_literal_name(Writer& w, std::string_view name, std::string_view value,
                                     bool huffman_name, bool huffman_value) {
  qpack_write_string(w, 0x40, 5, name, huffman_name);  // 01 H Name(5+)
  qpack_write_string(w, 0x00, 7, value, huffman_value);
}

void qpack_write_duplicate(Writer& w, std::uint64_t relative_index) {
  qpack_write_int(w, 0x00, 5, relative_index);  // 000 Index(5+)
}

void qpack_write_section_ack(Writer& w, std::uint64_t stream_id) {
  qpack_write_int(w, 0x80, 7, stream_id);  // 1 Stream ID(7+)
}

void qpack_write_stream_cancellation(Writer& w, std::uint64_t stream_id) {
  qpack_write_int(w, 0x40, 6, stream_id);  // 01 Stream ID(6+)
}

void qpack_write_insert_count_increment(Writer& w, std::uint64_t increment) {
  qpack_write_int(w, 0x00, 6, increment);  // 00 Increment(6+)
}

void qpack_write_section_prefix(Writer& w, std::uint64_t encoded_ric, bool negative_delta,
                                std::uint64_t delta_base) {
  qpack_write_int(w, 0x00, 8, encoded_ric);                         // RIC(8+)
  qpack_write_int(w, negative_delta ? 0x80 : 0x00, 7, delta_base);  // S Delta Base(7+)
}

void qpack_write_indexed(Writer& w, bool is_static, std::uint64_t index) {
  qpack_write_int(w, is_static ? 0xc0 : 0x80, 6, index);  // 1 T Index(6+)
}

void qpack_write_indexed_post_base(Writer& w, std::uint64_t index) {
  qpack_write_int(w, 0x10, 4, index);  // 0001 Index(4+)
}

void qpack_write_literal_name_ref(Writer& w, bool never_index, bool is_static, std::uint64_t index,
                                  std::string_view value, bool huffman) {
  // 01 N T NameIndex(4+) H Value(7+)
  const std::uint8_t flags = 0x40 | (never_index ? 0x20 : 0) | (is_static ? 0x10 : 0);
  qpack_write_int(w, flags, 4, index);
  qpack_write_string(w, 0x00, 7, value, huffman);
}

void qpack_write_literal_post_base_name_ref(Writer& w, bool never_index, std::uint64_t index,
                                            std::string_view value, bool huffman) {
  // 0000 N NameIndex(3+) H Value(7+)
  qpack_write_int(w, never_index ? 0x08 : 0x00, 3, index);
  qpack_write_string(w, 0x00, 7, value, huffman);
}

void qpack_write_literal_literal_name(Writer& w, bool never_index, std::string_view name,
                                      std::string_view value, bool huffman_name,
                                      bool huffman_value) {
  // 001 N H Name(3+) H Value(7+)
  qpack_write_string(w, never_index ? 0x30 : 0x20, 3, name, huffman_name);
  qpack_write_string(w, 0x00, 7, value, huffman_value);
}

}  // namespace dquic
