#include "h3/qpack_decoder.h"

#include <algorithm>

#include "h3/qpack_instructions.h"
#include "h3/qpack_prefixed_int.h"
#include "h3/qpack_static_table.h"
#include "h3/qpack_string.h"

namespace dquic {
namespace {

// Blocked-stream slots are allocated up front; a peer cannot use more than
// we advertise, and we never advertise more than this.
constexpr std::uint64_t kMaxBlockedSlots = 4096;

std::size_t clamp_size(std::uint64_t v, std::uint64_t hi) {
  return static_cast<std::size_t>(std::min(v, hi));
}

}  // namespace

QpackDecoder::QpackDecoder(const QpackDecoderConfig& config)
    : config_(config),
      table_(config.max_table_capacity),
      blocked_cap_(clamp_size(config.max_blocked_streams, kMaxBlockedSlots)),
      section_scratch_size_(clamp_size(config.max_field_section_size, std::uint64_t{1} << 30)),
      insert_scratch_size_(static_cast<std::size_t>(config.max_table_capacity)) {
  config_.max_blocked_streams = blocked_cap_;
  blocked_ = std::make_unique<Blocked[]>(blocked_cap_ > 0 ? blocked_cap_ : 1);
  section_scratch_ = std::make_unique<std::uint8_t[]>(section_scratch_size_ + 1);
  insert_scratch_ = std::make_unique<std::uint8_t[]>(insert_scratch_size_ + 1);
}

// --- Encoder stream (RFC 9204 §4.3) -----------------------------------------

QpackStatus QpackDecoder::on_encoder_stream(ByteSpan in, std::size_t* consumed) {
  Reader r(in);
  *consumed = 0;
  constexpr QpackStatus kErr = QpackStatus::kEncoderStreamError;
  const std::span<std::uint8_t> scratch(insert_scratch_.get(), insert_scratch_size_);
  while (!r.empty()) {
    Reader c = r;
    std::uint8_t first;
    (void)c.peek_u8(&first);
    std::uint64_t v;
    PrefixedIntResult ir = PrefixedIntResult::kOk;
    bool truncated = false;
    // A name or value longer than the capacity cannot be part of an entry.
    const std::size_t max_len = static_cast<std::size_t>(table_.capacity());

    auto read_str = [&](unsigned prefix, std::span<std::uint8_t> buf, std::string_view* s,
                        std::size_t* used) -> bool {
      switch (qpack_read_string(c, prefix, max_len, buf, s, used)) {
        case QpackStringResult::kOk:
          return true;
        case QpackStringResult::kTruncated:
          truncated = true;
          return false;
        default:  // too long, bad Huffman, overflow
          return false;
      }
    };

    if (first & 0x80) {
      // §4.3.2 Insert with Name Reference: 1 T index(6+) value(7+ with H).
      const bool is_static = first & 0x40;
      ir = qpack_read_int(c, 6, &v);
      if (ir == PrefixedIntResult::kTruncated) break;
      if (ir != PrefixedIntResult::kOk) return kErr;
      QpackField ref;
      if (is_static) {
        const QpackField* e = qpack_static_entry(v);
        if (e == nullptr) return kErr;  // §3.1
        ref = *e;
      } else {
        // §3.2.5: relative index 0 is the most recent insert.
        if (v >= table_.insert_count() || !table_.get(table_.insert_count() - 1 - v, &ref))
          return kErr;  // §2.2.3: evicted or never inserted
      }
      std::string_view value;
      std::size_t used;
      if (!read_str(7, scratch, &value, &used)) {
        if (truncated) break;
        return kErr;
      }
      if (!table_.insert(ref.name, value)) return kErr;  // §3.2.2: larger than capacity
    } else if (first & 0x40) {
      // §4.3.3 Insert with Literal Name: 01 H name(5+) value(7+ with H).
      std::string_view name, value;
      std::size_t used_name, used_value;
      if (!read_str(5, scratch, &name, &used_name)) {
        if (truncated) break;
        return kErr;
      }
      if (!read_str(7, scratch.subspan(used_name), &value, &used_value)) {
        if (truncated) break;
        return kErr;
      }
      if (!table_.insert(name, value)) return kErr;
    } else if (first & 0x20) {
      // §4.3.1 Set Dynamic Table Capacity: 001 capacity(5+).
      ir = qpack_read_int(c, 5, &v);
      if (ir == PrefixedIntResult::kTruncated) break;
      if (ir != PrefixedIntResult::kOk) return kErr;
      if (!table_.set_capacity(v)) return kErr;  // above our SETTINGS value
    } else {
      // §4.3.4 Duplicate: 000 relative index(5+).
      ir = qpack_read_int(c, 5, &v);
      if (ir == PrefixedIntResult::kTruncated) break;
      if (ir != PrefixedIntResult::kOk) return kErr;
      QpackField ref;
      if (v >= table_.insert_count() || !table_.get(table_.insert_count() - 1 - v, &ref))
        return kErr;
      if (!table_.insert(ref.name, ref.value)) return kErr;
    }
    r = c;
    *consumed = in.size() - r.remaining();
  }
  return QpackStatus::kOk;
}

// --- Field sections (RFC 9204 §4.5) ------------------------------------------

QpackStatus QpackDecoder::decode_required_insert_count(std::uint64_t encoded,
                                                       std::uint64_t* ric) const {
  // §4.5.1.1, the decoder's algorithm as given there.
  if (encoded == 0) {
    *ric = 0;
    return QpackStatus::kOk;
  }
  const std::uint64_t max_entries = table_.max_entries();
  const std::uint64_t full_range = 2 * max_entries;
  if (encoded > full_range) return QpackStatus::kDecompressionFailed;
  const std::uint64_t max_value = table_.insert_count() + max_entries;
  const std::uint64_t max_wrapped = (max_value / full_range) * full_range;
  std::uint64_t req = max_wrapped + encoded - 1;
  if (req > max_value) {
    if (req <= full_range) return QpackStatus::kDecompressionFailed;
    req -= full_range;
  }
  if (req == 0) return QpackStatus::kDecompressionFailed;
  *ric = req;
  return QpackStatus::kOk;
}

void QpackDecoder::unblock(std::uint64_t stream_id) {
  for (std::size_t i = 0; i < blocked_count_; ++i) {
    if (blocked_[i].stream_id == stream_id) {
      blocked_[i] = blocked_[--blocked_count_];
      return;
    }
  }
}

QpackStatus QpackDecoder::decode(std::uint64_t stream_id, ByteSpan section, QpackFieldSink& sink,
                                 Writer& decoder_stream) {
  constexpr QpackStatus kFail = QpackStatus::kDecompressionFailed;
  Reader r(section);
  std::uint64_t encoded_ric, delta;
  std::uint8_t sign_byte;
  // §4.5.1: Required Insert Count (8+), then S and Delta Base (7+).
  if (qpack_read_int(r, 8, &encoded_ric) != PrefixedIntResult::kOk) return kFail;
  if (!r.peek_u8(&sign_byte)) return kFail;
  if (qpack_read_int(r, 7, &delta) != PrefixedIntResult::kOk) return kFail;
  std::uint64_t ric;
  if (QpackStatus s = decode_required_insert_count(encoded_ric, &ric); s != QpackStatus::kOk)
    return s;
  std::uint64_t base;
  if (sign_byte & 0x80) {
    // §4.5.1.2: Base = RIC - DeltaBase - 1 must not be negative.
    if (ric <= delta) return kFail;
    base = ric - delta - 1;
  } else {
    base = ric + delta;  // both below 2^62: no wrap
  }

  if (ric > table_.insert_count()) {
    // §2.1.2: blocked. A stream already counted stays one stream.
    for (std::size_t i = 0; i < blocked_count_; ++i) {
      if (blocked_[i].stream_id == stream_id) {
        blocked_[i].required_insert_count = ric;
        return QpackStatus::kBlocked;
      }
    }
    if (blocked_count_ >= blocked_cap_) return kFail;  // more than we allowed
    blocked_[blocked_count_++] = {stream_id, ric};
    return QpackStatus::kBlocked;
  }
  unblock(stream_id);

  // Room for the Section Acknowledgment first, so nothing is half done.
  if (ric > 0 && decoder_stream.remaining() < qpack_int_size(7, stream_id))
    return QpackStatus::kBufferTooSmall;
  if (QpackStatus s = decode_lines(r, ric, base, sink); s != QpackStatus::kOk) return s;
  if (ric > 0) {
    // §4.4.1 Section Acknowledgment: 1 stream id(7+).
    qpack_write_section_ack(decoder_stream, stream_id);
    acked_insert_count_ = std::max(acked_insert_count_, ric);
  }
  return QpackStatus::kOk;
}

QpackStatus QpackDecoder::decode_lines(Reader& r, std::uint64_t ric, std::uint64_t base,
                                       QpackFieldSink& sink) {
  constexpr QpackStatus kFail = QpackStatus::kDecompressionFailed;
  const std::uint64_t limit = config_.max_field_section_size;
  const std::span<std::uint8_t> scratch(section_scratch_.get(), section_scratch_size_);
  const std::size_t max_len = section_scratch_size_;
  std::uint64_t total = 0;
  std::uint64_t largest_ref = 0;  // largest absolute index referenced, plus one

  // §2.2.3: a dynamic reference must be below RIC and not evicted.
  auto dynamic = [&](std::uint64_t abs, QpackField* f) {
    if (abs >= ric || !table_.get(abs, f)) return false;
    largest_ref = std::max(largest_ref, abs + 1);
    return true;
  };
  // §3.2.6: post-base index i is absolute Base + i, which must be below RIC
  // (checked before adding, so a huge Delta Base cannot wrap).
  auto post_base = [&](std::uint64_t i, QpackField* f) {
    return base < ric && i < ric - base && dynamic(base + i, f);
  };
  auto read_value = [&](unsigned prefix, std::span<std::uint8_t> buf, std::string_view* s,
                        std::size_t* used) -> QpackStatus {
    switch (qpack_read_string(r, prefix, max_len, buf, s, used)) {
      case QpackStringResult::kOk:
        return QpackStatus::kOk;
      case QpackStringResult::kTooLong:
      case QpackStringResult::kNoRoom:
        return QpackStatus::kFieldSectionTooLarge;
      default:
        return kFail;
    }
  };

  while (!r.empty()) {
    std::uint8_t first;
    (void)r.peek_u8(&first);
    std::uint64_t idx;
    QpackField f;
    std::size_t used_name = 0, used_value = 0;
    if (first & 0x80) {
      // §4.5.2 Indexed Field Line: 1 T index(6+).
      if (qpack_read_int(r, 6, &idx) != PrefixedIntResult::kOk) return kFail;
      if (first & 0x40) {
        const QpackField* e = qpack_static_entry(idx);
        if (e == nullptr) return kFail;
        f = *e;
      } else if (idx >= base || !dynamic(base - 1 - idx, &f)) {
        return kFail;
      }
    } else if (first & 0x40) {
      // §4.5.4 Literal Field Line with Name Reference: 01 N T index(4+) value.
      if (qpack_read_int(r, 4, &idx) != PrefixedIntResult::kOk) return kFail;
      if (first & 0x10) {
        const QpackField* e = qpack_static_entry(idx);
        if (e == nullptr) return kFail;
        f.name = e->name;
      } else if (idx >= base || !dynamic(base - 1 - idx, &f)) {
        return kFail;
      }
      if (QpackStatus s = read_value(7, scratch, &f.value, &used_value); s != QpackStatus::kOk)
        return s;
      f.never_index = first & 0x20;
    } else if (first & 0x20) {
      // §4.5.6 Literal Field Line with Literal Name: 001 N H name(3+) value.
      if (QpackStatus s = read_value(3, scratch, &f.name, &used_name); s != QpackStatus::kOk)
        return s;
      if (QpackStatus s = read_value(7, scratch.subspan(used_name), &f.value, &used_value);
          s != QpackStatus::kOk)
        return s;
      f.never_index = first & 0x10;
    } else if (first & 0x10) {
      // §4.5.3 Indexed Field Line with Post-Base Index: 0001 index(4+).
      if (qpack_read_int(r, 4, &idx) != PrefixedIntResult::kOk) return kFail;
      if (!post_base(idx, &f)) return kFail;
    } else {
      // §4.5.5 Literal Field Line with Post-Base Name Reference: 0000 N idx(3+).
      if (qpack_read_int(r, 3, &idx) != PrefixedIntResult::kOk) return kFail;
      if (!post_base(idx, &f)) return kFail;
      if (QpackStatus s = read_value(7, scratch, &f.value, &used_value); s != QpackStatus::kOk)
        return s;
      f.never_index = first & 0x08;
    }
    // RFC 9114 §4.2.2: the size counts name + value + 32 per line.
    total += qpack_entry_size(f.name.size(), f.value.size());
    if (total > limit) return QpackStatus::kFieldSectionTooLarge;
    if (!sink.on_field(f)) return QpackStatus::kBufferTooSmall;
  }
  // §2.2.1: a Required Insert Count other than the lowest that decodes the
  // section is an error (MUST when smaller, which the checks above catch;
  // MAY when larger, which we enforce too).
  if (largest_ref != ric) return kFail;
  return QpackStatus::kOk;
}

// --- Decoder stream (RFC 9204 §4.4) ------------------------------------------

bool QpackDecoder::cancel_stream(std::uint64_t stream_id, Writer& decoder_stream) {
  if (config_.max_table_capacity == 0) {
    // §2.2.2.2: with a maximum capacity of zero the encoder cannot have
    // references, so the instruction may be omitted.
    unblock(stream_id);
    return true;
  }
  if (decoder_stream.remaining() < qpack_int_size(6, stream_id)) return false;
  unblock(stream_id);
  qpack_write_stream_cancellation(decoder_stream, stream_id);
  return true;
}

bool QpackDecoder::write_insert_count_increment(Writer& decoder_stream) {
  const std::uint64_t inc = table_.insert_count() - acked_insert_count_;
  if (inc == 0) return true;
  if (decoder_stream.remaining() < qpack_int_size(6, inc)) return false;
  qpack_write_insert_count_increment(decoder_stream, inc);
  acked_insert_count_ = table_.insert_count();
  return true;
}

std::size_t QpackDecoder::unblocked_streams(std::span<std::uint64_t> out) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < blocked_count_ && n < out.size(); ++i)
    if (blocked_[i].required_insert_count <= table_.insert_count())
      out[n++] = blocked_[i].stream_id;
  return n;
}

}  // namespace dquic
