// Writers for every QPACK wire instruction and field line representation
// (RFC 9204 §4.3-4.5). The encoder and decoder use them; tests use them to
// build inputs byte for byte. Strings are Huffman-coded when `huffman`.
#pragma once

#include <cstdint>
#include <string_view>

#include "quic/buffer.h"

namespace dquic {

// Encoder stream (§4.3).
void qpack_write_set_capacity(Writer& w, std::uint64_t capacity);  // §4.3.1
// §4.3.2; a dynamic `index` is relative to the insert count.
void qpack_write_insert_name_ref(Writer& w, bool is_static, std::uint64_t index,
                                 std::string_view value, bool huffman);
void qpack_write_insert_literal_name(Writer& w, std::string_view name, std::string_view value,
                                     bool huffman_name, bool huffman_value);  // §4.3.3
void qpack_write_duplicate(Writer& w, std::uint64_t relative_index);          // §4.3.4

// Decoder stream (§4.4).
void qpack_write_section_ack(Writer& w, std::uint64_t stream_id);             // §4.4.1
void qpack_write_stream_cancellation(Writer& w, std::uint64_t stream_id);     // §4.4.2
void qpack_write_insert_count_increment(Writer& w, std::uint64_t increment);  // §4.4.3

// Field sections (§4.5). `encoded_ric` is already transformed (§4.5.1.1).
void qpack_write_section_prefix(Writer& w, std::uint64_t encoded_ric, bool negative_delta,
                                std::uint64_t delta_base);  // §4.5.1
// §4.5.2; a dynamic `index` is relative to Base.
void qpack_write_indexed(Writer& w, bool is_static, std::uint64_t index);
void qpack_write_indexed_post_base(Writer& w, std::uint64_t index);  // §4.5.3
void qpack_write_literal_name_ref(Writer& w, bool never_index, bool is_static, std::uint64_t index,
                                  std::string_view value,
                                  bool huffman);  // §4.5.4
void qpack_write_literal_post_base_name_ref(Writer& w, bool never_index, std::uint64_t index,
                                            std::string_view value, bool huffman);  // §4.5.5
void qpack_write_literal_literal_name(Writer& w, bool never_index, std::string_view name,
                                      std::string_view value, bool huffman_name,
                                      bool huffman_value);  // §4.5.6

}  // namespace dquic
