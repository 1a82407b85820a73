#include "h3/h3_frame.h"

#include <algorithm>
#include <array>

#include "quic/varint.h"

namespace dquic {

namespace {

void write_setting(Writer& w, std::uint64_t id, std::uint64_t value) {
  w.write_varint(id);
  w.write_varint(value);
}

}  // namespace

bool write_settings_frame(const H3Settings& s, Writer& w, std::uint64_t grease_id) {
  std::array<std::uint8_t, 64> payload{};
  Writer p(payload);
  const H3Settings defaults;
  if (s.qpack_max_table_capacity != defaults.qpack_max_table_capacity)
    write_setting(p, kH3SettingQpackMaxTableCapacity, s.qpack_max_table_capacity);
  if (s.max_field_section_size != defaults.max_field_section_size)
    write_setting(p, kH3SettingMaxFieldSectionSize, s.max_field_section_size);
  if (s.qpack_blocked_streams != defaults.qpack_blocked_streams)
    write_setting(p, kH3SettingQpackBlockedStreams, s.qpack_blocked_streams);
  if (grease_id != 0) {
    if (!h3_is_grease(grease_id)) return false;
    write_setting(p, grease_id, 0);
  }
  if (!p.ok()) return false;
  write_frame_header(w, h3_type(H3FrameType::kSettings), p.written());
  w.write_bytes(ByteSpan(payload.data(), p.written()));
  return w.ok();
}

H3Error decode_settings(ByteSpan payload, H3Settings* out) {
  if (payload.size() > kH3MaxSettingsPayload) return H3Error::kExcessiveLoad;
  H3Settings s;
  std::array<std::uint64_t, kH3MaxSettingsEntries> ids{};
  std::size_t n = 0;
  Reader r(payload);
  while (!r.empty()) {
    std::uint64_t id = 0, value = 0;
    if (!r.read_varint(&id) || !r.read_varint(&value)) return H3Error::kFrameError;  // §7.1
    if (n == ids.size()) return H3Error::kExcessiveLoad;                             // §10.5
    ids[n++] = id;
    if (h3_is_http2_setting(id)) return H3Error::kSettingsError;  // §7.2.4.1
    switch (id) {
      case kH3SettingQpackMaxTableCapacity:
        s.qpack_max_table_capacity = value;
        break;
      case kH3SettingMaxFieldSectionSize:
        s.max_field_section_size = value;
        break;
      case kH3SettingQpackBlockedStreams:
        s.qpack_blocked_streams = value;
        break;
      default:
        break;  // §7.2.4, §9: unknown and grease identifiers are ignored
    }
  }
  // §7.2.4: the same identifier MUST NOT occur more than once (known or not).
  std::sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n));
  for (std::size_t i = 1; i < n; ++i)
    if (ids[i] == ids[i - 1]) return H3Error::kSettingsError;
  *out = s;
  return H3Error::kNoError;
}

void write_frame_header(Writer& w, std::uint64_t type, std::uint64_t length) {
  w.write_varint(type);
  w.write_varint(length);
}

void write_varint_frame(Writer& w, H3FrameType type, std::uint64_t value) {
  write_frame_header(w, h3_type(type), varint_size(value));
  w.write_varint(value);
}

H3Error decode_varint_payload(ByteSpan payload, std::uint64_t* value) {
  Reader r(payload);
  if (!r.read_varint(value) || !r.empty()) return H3Error::kFrameError;
  return H3Error::kNoError;
}

H3PayloadMode H3FrameReader::mode_of(std::uint64_t type) {
  switch (type) {
    case h3_type(H3FrameType::kData):
      return H3PayloadMode::kStream;
    case h3_type(H3FrameType::kHeaders):
    case h3_type(H3FrameType::kCancelPush):
    case h3_type(H3FrameType::kSettings):
    case h3_type(H3FrameType::kPushPromise):
    case h3_type(H3FrameType::kGoaway):
    case h3_type(H3FrameType::kMaxPushId):
      return H3PayloadMode::kBuffer;
    default:
      return H3PayloadMode::kSkip;
  }
}

H3FrameReader::Result H3FrameReader::next(ByteSpan in) {
  Result res;
  if (state_ == State::kFailed) {
    res.event = Event::kError;
    res.error = failed_error_;
    return res;
  }
  std::size_t pos = 0;
  while (true) {
    if (state_ == State::kHeader) {
      // Both varints, possibly split over calls: their lengths come from
      // their first bytes (RFC 9000 §16).
      while (pos < in.size()) {
        header_buf_[header_len_++] = in[pos++];
        const std::size_t type_len = varint_length_from_prefix(header_buf_[0]);
        if (header_len_ <= type_len) continue;
        const std::size_t len_len = varint_length_from_prefix(header_buf_[type_len]);
        if (header_len_ == type_len + len_len) break;
      }
      const bool complete =
          header_len_ > 0 && header_len_ > varint_length_from_prefix(header_buf_[0]) &&
          header_len_ ==
              varint_length_from_prefix(header_buf_[0]) +
                  varint_length_from_prefix(header_buf_[varint_length_from_prefix(header_buf_[0])]);
      if (!complete) {
        res.consumed = pos;
        return res;  // kNeedMore
      }
      Reader r(ByteSpan(header_buf_, header_len_));
      (void)r.read_varint(&header_.type);
      (void)r.read_varint(&header_.length);
      header_len_ = 0;
      mode_ = mode_of(header_.type);
      remaining_ = header_.length;
      oversize_ = H3Error::kNoError;
      if (mode_ == H3PayloadMode::kBuffer) {
        std::uint64_t limit = 0;
        H3Error over = H3Error::kFrameError;
        switch (static_cast<H3FrameType>(header_.type)) {
          case H3FrameType::kHeaders:
          case H3FrameType::kPushPromise:
            limit = limits_.max_field_section;
            over = H3Error::kExcessiveLoad;  // §4.2.2, §10.5.1
            break;
          case H3FrameType::kSettings:
            limit = kH3MaxSettingsPayload;
            over = H3Error::kExcessiveLoad;  // §10.5
            break;
          default:
            limit = 8;  // one varint (§7.2.3, §7.2.6, §7.2.7); longer: §7.1
            break;
        }
        // Reported after the header, so that the caller's placement
        // check (a frame not allowed on this stream) comes first.
        if (header_.length > limit) oversize_ = over;
        buffer_.clear();
      }
      state_ = State::kPayload;
      res.event = Event::kHeader;
      res.header = header_;
      res.consumed = pos;
      return res;
    }
    // kPayload
    if (oversize_ != H3Error::kNoError) {
      state_ = State::kFailed;
      failed_error_ = oversize_;
      res.event = Event::kError;
      res.error = oversize_;
      res.header = header_;
      res.consumed = pos;
      return res;
    }
    const std::size_t avail = in.size() - pos;
    const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, avail));
    res.header = header_;
    switch (mode_) {
      case H3PayloadMode::kStream:
        if (take == 0 && remaining_ > 0) {
          res.consumed = pos;
          return res;
        }
        remaining_ -= take;
        res.event = Event::kData;
        res.payload = in.subspan(pos, take);
        res.frame_end = remaining_ == 0;
        res.consumed = pos + take;
        if (remaining_ == 0) state_ = State::kHeader;
        return res;
      case H3PayloadMode::kSkip:
        remaining_ -= take;
        pos += take;
        if (remaining_ > 0) {
          res.consumed = pos;
          return res;
        }
        state_ = State::kHeader;
        continue;  // on to the next header
      case H3PayloadMode::kBuffer:
        if (buffer_.empty() && take == remaining_) {
          // Whole in the input: no copy.
          res.payload = in.subspan(pos, take);
        } else {
          buffer_.insert(buffer_.end(), in.begin() + static_cast<std::ptrdiff_t>(pos),
                         in.begin() + static_cast<std::ptrdiff_t>(pos + take));
          if (take < remaining_) {
            remaining_ -= take;
            res.consumed = pos + take;
            return res;
          }
          res.payload = ByteSpan(buffer_.data(), buffer_.size());
        }
        remaining_ = 0;
        state_ = State::kHeader;
        res.event = Event::kFrame;
        res.frame_end = true;
        res.consumed = pos + take;
        return res;
    }
  }
}

H3Error H3FrameReader::on_end() const {
  if (state_ == State::kFailed) return H3Error::kFrameError;
  if (state_ == State::kPayload && remaining_ > 0) return H3Error::kFrameError;
  if (state_ == State::kHeader && header_len_ > 0) return H3Error::kFrameError;
  // A streamed or buffered frame with an empty payload reported its header
  // and is still "in payload" until the next call: not truncated.
  return H3Error::kNoError;
}

}  // namespace dquic
