// Drives a QPACK decoder with arbitrary bytes. The input is a sequence of
// chunks: a control byte (low bit: encoder stream or field section; the
// rest: a stream id), a length byte, then that many bytes. Whatever decodes
// must re-encode (static table only, and again with a dynamic table) and
// decode to the same field lines; the decoder's table must stay within its
// capacity; a failed connection stops the run, as it would in HTTP/3.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "h3/qpack_decoder.h"
#include "h3/qpack_encoder.h"

using namespace dquic;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Line {
  std::string name, value;
  bool never_index;
  bool operator==(const Line&) const = default;
};

struct Lines final : QpackFieldSink {
  std::vector<Line> out;
  bool on_field(const QpackField& f) override {
    out.push_back({std::string(f.name), std::string(f.value), f.never_index});
    return true;
  }
};

// Re-encodes `fields` with `enc` and decodes the result with a fresh peer
// decoder, comparing the lines.
void check_round_trip(const std::vector<Line>& lines, QpackEncoderConfig ec) {
  std::vector<QpackField> fields;
  for (const Line& l : lines)
    fields.push_back({l.name, l.value, l.never_index});
  QpackEncoder enc(ec);
  QpackDecoderConfig dc;
  dc.max_table_capacity = ec.peer_max_table_capacity;
  dc.max_blocked_streams = ec.peer_blocked_streams;
  dc.max_field_section_size = 8192;
  QpackDecoder dec(dc);
  std::vector<std::uint8_t> sec(1 << 16), es(1 << 16);
  Writer s(sec), e(es);
  check(enc.encode(0, fields, s, e) == QpackStatus::kOk);
  std::size_t consumed = 0;
  check(dec.on_encoder_stream({es.data(), e.written()}, &consumed) == QpackStatus::kOk);
  check(consumed == e.written());
  Lines again;
  std::uint8_t ack[16];
  Writer a(ack);
  check(dec.decode(0, {sec.data(), s.written()}, again, a) == QpackStatus::kOk);
  check(again.out == lines);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  QpackDecoderConfig config;
  config.max_table_capacity = (data[0] & 0x0f) * 32;
  config.max_blocked_streams = data[0] >> 6;
  config.max_field_section_size = 4096;
  QpackDecoder dec(config);
  std::vector<std::uint8_t> pending;  // encoder-stream bytes not yet consumed
  std::size_t i = 1;
  while (i + 2 <= size) {
    const std::uint8_t control = data[i];
    const std::size_t len = data[i + 1];
    i += 2;
    if (len > size - i) break;
    const std::uint8_t* chunk = data + i;
    i += len;
    std::uint8_t out[64];
    Writer w(out);
    if (control & 1) {
      pending.insert(pending.end(), chunk, chunk + len);
      std::size_t consumed = 0;
      const QpackStatus s = dec.on_encoder_stream(pending, &consumed);
      if (s != QpackStatus::kOk) {
        check(s == QpackStatus::kEncoderStreamError);
        return 0;
      }
      check(consumed <= pending.size());
      pending.erase(pending.begin(), pending.begin() + static_cast<long>(consumed));
      check(dec.table().size() <= dec.table().capacity());
      check(dec.table().capacity() <= config.max_table_capacity);
      check(dec.write_insert_count_increment(w));
      continue;
    }
    const std::uint64_t stream = (control >> 1) * 4u;
    if (control & 0x80) {
      check(dec.cancel_stream(stream, w));
      continue;
    }
    Lines lines;
    const QpackStatus s = dec.decode(stream, {chunk, len}, lines, w);
    if (qpack_is_connection_error(s)) {
      check(s == QpackStatus::kDecompressionFailed);
      return 0;
    }
    check(dec.blocked_stream_count() <= config.max_blocked_streams);
    if (s != QpackStatus::kOk) continue;
    std::size_t total = 0;
    for (const Line& l : lines.out)
      total += l.name.size() + l.value.size() + 32;
    check(total <= config.max_field_section_size);
    QpackEncoderConfig ec;
    check_round_trip(lines.out, ec);
    ec.peer_max_table_capacity = 512;
    ec.peer_blocked_streams = 1;
    check_round_trip(lines.out, ec);
  }
  return 0;
}
