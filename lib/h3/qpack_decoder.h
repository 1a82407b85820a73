// QPACK decoder (RFC 9204 §2.2): applies the peer's encoder stream to its
// dynamic table, decodes field sections, and produces the decoder stream.
// Sans-IO: bytes in, bytes out through caller-provided Writers. Tables and
// scratch are allocated in the constructor (3 x max_table_capacity +
// max_field_section_size bytes, so both must be our own, bounded values);
// decoding allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "h3/qpack_dynamic_table.h"
#include "h3/qpack_error.h"
#include "h3/qpack_field.h"
#include "h3/qpack_field_sink.h"
#include "quic/buffer.h"

namespace dquic {

struct QpackDecoderConfig {
  // What we advertise: SETTINGS_QPACK_MAX_TABLE_CAPACITY (RFC 9204 §3.2.3)
  // and SETTINGS_QPACK_BLOCKED_STREAMS (§2.1.2).
  std::uint64_t max_table_capacity = 0;
  std::uint64_t max_blocked_streams = 0;
  // SETTINGS_MAX_FIELD_SECTION_SIZE (RFC 9114 §4.2.2): sum of name + value
  // + 32 per field line. Finite here: it also sizes the Huffman scratch.
  std::uint64_t max_field_section_size = 16384;
};

class QpackDecoder {
 public:
  explicit QpackDecoder(const QpackDecoderConfig& config);

  // Instructions from the peer's encoder stream (RFC 9204 §4.3). Consumes
  // whole instructions only: *consumed says how many bytes; pass the rest
  // again with what follows. A partial instruction is bounded (about four
  // times max_table_capacity), so the caller's buffer is too. Errors are
  // kEncoderStreamError.
  QpackStatus on_encoder_stream(ByteSpan in, std::size_t* consumed);

  // Decodes one complete encoded field section (the payload of a HEADERS
  // frame) of `stream_id`, handing the field lines to `sink` in order.
  //   kOk: done; a Section Acknowledgment (§4.4.1) went to `decoder_stream`
  //        if the section referenced the dynamic table.
  //   kBlocked: its Required Insert Count is above the insert count (§2.1.2):
  //        keep the bytes, call again once unblocked_streams() lists it.
  //   kBufferTooSmall: `decoder_stream` has no room for the acknowledgment
  //        (nothing done), or the sink refused a field.
  //   kFieldSectionTooLarge: above max_field_section_size; abandon the stream
  //        (and call cancel_stream()).
  //   kDecompressionFailed: connection error 0x200.
  // On anything but kOk, fields already handed to the sink are to be dropped.
  QpackStatus decode(std::uint64_t stream_id, ByteSpan section, QpackFieldSink& sink,
                     Writer& decoder_stream);

  // The stream was reset or its reading abandoned (§4.4.2): forgets it if
  // blocked and writes a Stream Cancellation. False if `decoder_stream` has
  // no room (nothing done).
  bool cancel_stream(std::uint64_t stream_id, Writer& decoder_stream);

  // Writes an Insert Count Increment (§4.4.3) for inserts the encoder does
  // not know we received, if any. False if `decoder_stream` has no room.
  bool write_insert_count_increment(Writer& decoder_stream);

  // Blocked streams whose Required Insert Count is now reached; returns how
  // many were written to `out` (at most out.size()).
  std::size_t unblocked_streams(std::span<std::uint64_t> out) const;
  std::size_t blocked_stream_count() const { return blocked_count_; }

  const QpackDynamicTable& table() const { return table_; }
  // Insert count the encoder knows we have (§2.1.4, as we told it).
  std::uint64_t acknowledged_insert_count() const { return acked_insert_count_; }

 private:
  struct Blocked {
    std::uint64_t stream_id;
    std::uint64_t required_insert_count;
  };
  QpackStatus decode_required_insert_count(std::uint64_t encoded, std::uint64_t* ric) const;
  QpackStatus decode_lines(Reader& r, std::uint64_t ric, std::uint64_t base, QpackFieldSink& sink);
  void unblock(std::uint64_t stream_id);

  QpackDecoderConfig config_;
  QpackDynamicTable table_;
  std::uint64_t acked_insert_count_ = 0;
  std::unique_ptr<Blocked[]> blocked_;
  std::size_t blocked_cap_;
  std::size_t blocked_count_ = 0;
  // Huffman output: field lines (max_field_section_size bytes) and encoder
  // instructions (max_table_capacity bytes).
  std::unique_ptr<std::uint8_t[]> section_scratch_;
  std::size_t section_scratch_size_;
  std::unique_ptr<std::uint8_t[]> insert_scratch_;
  std::size_t insert_scratch_size_;
};

}  // namespace dquic
