#include "h3/qpack_encoder.h"

#include <algorithm>

#include "h3/qpack_instructions.h"
#include "h3/qpack_prefixed_int.h"
#include "h3/qpack_static_table.h"
#include "h3/qpack_string.h"

namespace dquic {
namespace {

// §3.2.3: never above what the peer's decoder allows. Below 32 bytes no
// entry fits (and MaxEntries would be 0), so that is no table at all.
std::uint64_t usable_capacity(const QpackEncoderConfig& c) {
  const std::uint64_t cap = std::min(c.peer_max_table_capacity, c.max_table_capacity);
  return cap < kQpackEntryOverhead ? 0 : cap;
}

}  // namespace

QpackEncoder::QpackEncoder(const QpackEncoderConfig& config)
    : config_(config),
      table_(usable_capacity(config)),
      // §4.5.1.1: MaxEntries comes from the decoder's maximum capacity.
      peer_max_entries_(config.peer_max_table_capacity / kQpackEntryOverhead),
      sections_cap_(config.max_unacknowledged_sections) {
  sections_ = std::make_unique<Section[]>(sections_cap_ > 0 ? sections_cap_ : 1);
}

bool QpackEncoder::is_blocking_stream(std::uint64_t stream_id) const {
  for (std::size_t i = 0; i < sections_cap_; ++i) {
    const Section& s = sections_[i];
    if (s.in_use && s.stream_id == stream_id && s.required_insert_count > known_received_count_)
      return true;
  }
  return false;
}

std::size_t QpackEncoder::blocking_stream_count() const {
  // Quadratic in the tracked sections, which are few; no allocation.
  std::size_t n = 0;
  for (std::size_t i = 0; i < sections_cap_; ++i) {
    const Section& s = sections_[i];
    if (!s.in_use || s.required_insert_count <= known_received_count_) continue;
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j) {
      const Section& o = sections_[j];
      seen =
          o.in_use && o.stream_id == s.stream_id && o.required_insert_count > known_received_count_;
    }
    if (!seen) ++n;
  }
  return n;
}

std::size_t QpackEncoder::unacknowledged_section_count() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < sections_cap_; ++i)
    n += sections_[i].in_use;
  return n;
}

std::uint64_t QpackEncoder::evictable_before() const {
  // §2.1.1: evictable once its insert is acknowledged and no unacknowledged
  // section references it.
  std::uint64_t limit = known_received_count_;
  for (std::size_t i = 0; i < sections_cap_; ++i)
    if (sections_[i].in_use) limit = std::min(limit, sections_[i].min_ref);
  return limit;
}

std::uint64_t QpackEncoder::encode_required_insert_count(std::uint64_t ric) const {
  // §4.5.1.1.
  if (ric == 0) return 0;
  return ric % (2 * peer_max_entries_) + 1;
}

QpackEncoder::Choice QpackEncoder::choose(const QpackField& f, bool use_dynamic,
                                          bool may_block) const {
  const QpackStaticMatch sm = qpack_static_find(f.name, f.value);
  // An indexed line cannot carry the 'N' bit (§4.5.4), so a never-indexed
  // field stays literal even when the static table has it.
  if (sm.value_matches && !f.never_index)
    return {Choice::kStatic, static_cast<std::uint64_t>(sm.index)};
  if (use_dynamic) {
    // Entries the decoder has not acknowledged block it (§2.1.2): use them
    // only when this section may block.
    const std::uint64_t below = may_block ? table_.insert_count() : known_received_count_;
    const QpackDynamicTable::Match m = table_.find(f.name, f.value, below);
    if (m.value_matches && !f.never_index) return {Choice::kDynamic, m.absolute};
    if (sm.index >= 0) return {Choice::kStaticName, static_cast<std::uint64_t>(sm.index)};
    if (m.found) return {Choice::kDynamicName, m.absolute};
  } else if (sm.index >= 0) {
    return {Choice::kStaticName, static_cast<std::uint64_t>(sm.index)};
  }
  return {Choice::kLiteral, 0};
}

void QpackEncoder::maybe_insert(const QpackField& f, Writer& es) {
  // Insert on first sight anything up to half the capacity (larger entries
  // would flush the table),
  // except never-indexed fields (§7.1.3) and what the static table has whole.
  // Inserts are useful even when this section cannot reference them yet:
  // the next sections can once the decoder acknowledges them.
  if (f.never_index) return;
  if (qpack_entry_size(f.name.size(), f.value.size()) > table_.capacity() / 2) return;
  if (qpack_static_find(f.name, f.value).value_matches) return;
  if (table_.find(f.name, f.value).value_matches) return;
  const std::uint64_t evictable = evictable_before();
  if (!table_.can_insert(f.name.size(), f.value.size(), evictable)) return;

  const bool h_value = config_.huffman && qpack_prefer_huffman(f.value);
  const std::size_t value_size = qpack_string_size(7, f.value, h_value);
  const int static_name = qpack_static_find_name(f.name);
  const QpackDynamicTable::Match dyn = table_.find(f.name, {});
  const std::size_t mark = es.written();
  if (static_name >= 0) {
    // §4.3.2 Insert with Name Reference, static: 1 1 index(6+).
    if (es.remaining() < qpack_int_size(6, static_cast<std::uint64_t>(static_name)) + value_size)
      return;
    qpack_write_insert_name_ref(es, true, static_cast<std::uint64_t>(static_name), f.value,
                                h_value);
  } else if (dyn.found) {
    // §4.3.2, dynamic: 1 0 relative index(6+), relative to the insert count.
    const std::uint64_t rel = table_.insert_count() - 1 - dyn.absolute;
    if (es.remaining() < qpack_int_size(6, rel) + value_size) return;
    qpack_write_insert_name_ref(es, false, rel, f.value, h_value);
  } else {
    // §4.3.3 Insert with Literal Name: 01 H name(5+).
    const bool h_name = config_.huffman && qpack_prefer_huffman(f.name);
    if (es.remaining() < qpack_string_size(5, f.name, h_name) + value_size) return;
    qpack_write_insert_literal_name(es, f.name, f.value, h_name, h_value);
  }
  if (!es.ok() || !table_.insert(f.name, f.value, evictable)) es.rewind(mark);
}

void QpackEncoder::write_line(const QpackField& f, const Choice& c, std::uint64_t base,
                              Writer& w) const {
  const bool h_value = config_.huffman && qpack_prefer_huffman(f.value);
  switch (c.kind) {
    case Choice::kStatic:
      qpack_write_indexed(w, true, c.index);
      break;
    case Choice::kDynamic:
      qpack_write_indexed(w, false, base - 1 - c.index);
      break;
    case Choice::kStaticName:
      qpack_write_literal_name_ref(w, f.never_index, true, c.index, f.value, h_value);
      break;
    case Choice::kDynamicName:
      qpack_write_literal_name_ref(w, f.never_index, false, base - 1 - c.index, f.value, h_value);
      break;
    case Choice::kLiteral:
      qpack_write_literal_literal_name(w, f.never_index, f.name, f.value,
                                       config_.huffman && qpack_prefer_huffman(f.name), h_value);
      break;
  }
}

QpackStatus QpackEncoder::encode(std::uint64_t stream_id, std::span<const QpackField> fields,
                                 Writer& section, Writer& encoder_stream) {
  // §4.3.1: the table starts at capacity zero; announce ours before use.
  if (!capacity_sent_ && table_.max_capacity() > 0 &&
      encoder_stream.remaining() >= qpack_int_size(5, table_.max_capacity())) {
    qpack_write_set_capacity(encoder_stream, table_.max_capacity());
    table_.set_capacity(table_.max_capacity());
    capacity_sent_ = true;
  }

  Section* slot = nullptr;
  if (table_.capacity() > 0) {
    for (std::size_t i = 0; i < sections_cap_ && slot == nullptr; ++i)
      if (!sections_[i].in_use) slot = &sections_[i];
  }
  // Without a slot to track references the section stays static-only.
  const bool use_dynamic = slot != nullptr;
  // §2.1.2: at most peer_blocked_streams streams may be blocked at once.
  const bool may_block =
      use_dynamic && config_.peer_blocked_streams > 0 &&
      (is_blocking_stream(stream_id) || blocking_stream_count() < config_.peer_blocked_streams);

  if (table_.capacity() > 0) {
    for (const QpackField& f : fields)
      maybe_insert(f, encoder_stream);
  }

  // Base = Required Insert Count (Delta Base 0, §4.5.1.2): every reference
  // is below it, so no post-base forms are needed.
  std::uint64_t ric = 0;
  std::uint64_t min_ref = kQpackEvictAny;
  if (use_dynamic) {
    for (const QpackField& f : fields) {
      const Choice c = choose(f, use_dynamic, may_block);
      if (c.kind == Choice::kDynamic || c.kind == Choice::kDynamicName) {
        ric = std::max(ric, c.index + 1);
        min_ref = std::min(min_ref, c.index);
      }
    }
  }
  const std::uint64_t base = ric;
  qpack_write_section_prefix(section, encode_required_insert_count(ric), false, 0);
  for (const QpackField& f : fields)
    write_line(f, choose(f, use_dynamic, may_block), base, section);
  if (!section.ok()) return QpackStatus::kBufferTooSmall;
  if (ric > 0) *slot = {true, stream_id, next_seq_++, ric, min_ref};
  return QpackStatus::kOk;
}

QpackStatus QpackEncoder::on_decoder_stream(ByteSpan in, std::size_t* consumed) {
  constexpr QpackStatus kErr = QpackStatus::kDecoderStreamError;
  Reader r(in);
  *consumed = 0;
  while (!r.empty()) {
    std::uint8_t first;
    (void)r.peek_u8(&first);
    std::uint64_t v;
    const unsigned prefix = (first & 0x80) ? 7 : 6;
    const PrefixedIntResult ir = qpack_read_int(r, prefix, &v);
    if (ir == PrefixedIntResult::kTruncated) break;
    if (ir != PrefixedIntResult::kOk) return kErr;
    if (first & 0x80) {
      // §4.4.1 Section Acknowledgment: the earliest unacknowledged section
      // with dynamic references on that stream.
      Section* oldest = nullptr;
      for (std::size_t i = 0; i < sections_cap_; ++i) {
        Section& s = sections_[i];
        if (s.in_use && s.stream_id == v && (oldest == nullptr || s.seq < oldest->seq)) oldest = &s;
      }
      if (oldest == nullptr) return kErr;
      // §2.1.4: Known Received Count reaches its Required Insert Count.
      known_received_count_ = std::max(known_received_count_, oldest->required_insert_count);
      oldest->in_use = false;
    } else if (first & 0x40) {
      // §4.4.2 Stream Cancellation: its references are no longer outstanding.
      for (std::size_t i = 0; i < sections_cap_; ++i)
        if (sections_[i].in_use && sections_[i].stream_id == v) sections_[i].in_use = false;
    } else {
      // §4.4.3 Insert Count Increment: zero, or beyond what we inserted, is
      // an error.
      if (v == 0 || v > table_.insert_count() - known_received_count_) return kErr;
      known_received_count_ += v;
    }
    *consumed = in.size() - r.remaining();
  }
  return QpackStatus::kOk;
}

}  // namespace dquic
