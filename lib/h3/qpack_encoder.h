// QPACK encoder (RFC 9204 §2.1): encodes field sections with the static
// table, Huffman when shorter, and the dynamic table when the peer allows a
// capacity above zero; reads the peer's decoder stream to learn what it
// acknowledged. Sans-IO: output goes to caller-provided Writers. Tables are
// allocated in the constructor; encoding allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "h3/qpack_dynamic_table.h"
#include "h3/qpack_error.h"
#include "h3/qpack_field.h"
#include "quic/buffer.h"

namespace dquic {

struct QpackEncoderConfig {
  // The peer's SETTINGS_QPACK_MAX_TABLE_CAPACITY and
  // SETTINGS_QPACK_BLOCKED_STREAMS (RFC 9204 §5).
  std::uint64_t peer_max_table_capacity = 0;
  std::uint64_t peer_blocked_streams = 0;
  // Our own bound on the table we keep for the peer (memory); the capacity
  // used is the smaller of the two (§3.2.3). 0 disables the dynamic table.
  std::uint64_t max_table_capacity = 4096;
  // Field sections with dynamic references awaiting acknowledgment that we
  // can track; when all are in use, new sections use the static table only.
  std::size_t max_unacknowledged_sections = 256;
  bool huffman = true;  // Huffman-code strings when that is shorter
};

class QpackEncoder {
 public:
  explicit QpackEncoder(const QpackEncoderConfig& config);

  // Encodes `fields` as one field section of `stream_id` into `section`;
  // instructions the peer's decoder needs first go to `encoder_stream` (send
  // them before the section). kBufferTooSmall if `section` is too small
  // (inserts already written to `encoder_stream` stay valid and must still
  // be sent); an encoder stream too small only means fewer inserts.
  QpackStatus encode(std::uint64_t stream_id, std::span<const QpackField> fields, Writer& section,
                     Writer& encoder_stream);

  // Instructions from the peer's decoder stream (§4.4). Consumes whole
  // instructions only (*consumed bytes); errors are kDecoderStreamError.
  QpackStatus on_decoder_stream(ByteSpan in, std::size_t* consumed);

  const QpackDynamicTable& table() const { return table_; }
  // §2.1.4 Known Received Count.
  std::uint64_t known_received_count() const { return known_received_count_; }
  // Streams with an unacknowledged section that may block the decoder.
  std::size_t blocking_stream_count() const;
  std::size_t unacknowledged_section_count() const;

 private:
  struct Section {
    bool in_use = false;
    std::uint64_t stream_id = 0;
    std::uint64_t seq = 0;  // order of encoding: acknowledgments come in order
    std::uint64_t required_insert_count = 0;
    std::uint64_t min_ref = 0;  // smallest absolute index referenced
  };
  // How one field line is represented, chosen the same way twice (once to
  // learn the Required Insert Count, once to write).
  struct Choice {
    enum Kind : std::uint8_t { kStatic, kDynamic, kStaticName, kDynamicName, kLiteral } kind;
    std::uint64_t index;  // static index or absolute dynamic index
  };
  Choice choose(const QpackField& f, bool use_dynamic, bool may_block) const;
  bool is_blocking_stream(std::uint64_t stream_id) const;
  std::uint64_t evictable_before() const;
  void maybe_insert(const QpackField& f, Writer& encoder_stream);
  void write_line(const QpackField& f, const Choice& c, std::uint64_t base, Writer& w) const;
  std::uint64_t encode_required_insert_count(std::uint64_t ric) const;

  QpackEncoderConfig config_;
  QpackDynamicTable table_;
  std::uint64_t peer_max_entries_;
  bool capacity_sent_ = false;
  std::uint64_t known_received_count_ = 0;
  std::uint64_t next_seq_ = 0;
  std::unique_ptr<Section[]> sections_;
  std::size_t sections_cap_;
};

}  // namespace dquic
