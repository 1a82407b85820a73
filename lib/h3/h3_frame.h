// HTTP/3 frames (RFC 9114 §7): type and length varints, the payloads of the
// control frames, SETTINGS (§7.2.4), and an incremental reader that splits
// a stream's bytes into frames. Sans-IO, no DPDK.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "h3/h3_error.h"
#include "quic/buffer.h"

namespace dquic {

// RFC 9114 §7.2, §11.2.1; RFC 9218 §7 (PRIORITY_UPDATE).
enum class H3FrameType : std::uint64_t {
  kData = 0x00,
  kHeaders = 0x01,
  kCancelPush = 0x03,
  kSettings = 0x04,
  kPushPromise = 0x05,
  kGoaway = 0x07,
  kMaxPushId = 0x0d,
  kPriorityUpdateRequest = 0xf0700,
  kPriorityUpdatePush = 0xf0701,
};

constexpr std::uint64_t h3_type(H3FrameType t) {
  return static_cast<std::uint64_t>(t);
}

// §7.2.8: HTTP/2 frame types with no HTTP/3 counterpart (PRIORITY, PING,
// WINDOW_UPDATE, CONTINUATION): receipt is H3_FRAME_UNEXPECTED.
constexpr bool h3_is_http2_frame_type(std::uint64_t t) {
  return t == 0x02 || t == 0x06 || t == 0x08 || t == 0x09;
}

// §7.2.8, §7.2.4.1, §6.2.3: 0x1f * N + 0x21 is reserved for greasing
// (frame types, setting identifiers and stream types alike).
constexpr bool h3_is_grease(std::uint64_t v) {
  return v >= 0x21 && (v - 0x21) % 0x1f == 0;
}

// §7.2.4.1, §11.2.2: HTTP/2 setting identifiers that must not appear.
constexpr bool h3_is_http2_setting(std::uint64_t id) {
  return id == 0x00 || (id >= 0x02 && id <= 0x05);
}

// Unidirectional stream types (§6.2, RFC 9204 §4.2).
inline constexpr std::uint64_t kH3StreamControl = 0x00;
inline constexpr std::uint64_t kH3StreamPush = 0x01;
inline constexpr std::uint64_t kH3StreamQpackEncoder = 0x02;
inline constexpr std::uint64_t kH3StreamQpackDecoder = 0x03;

// Setting identifiers (§7.2.4.1, RFC 9204 §5).
inline constexpr std::uint64_t kH3SettingQpackMaxTableCapacity = 0x01;
inline constexpr std::uint64_t kH3SettingMaxFieldSectionSize = 0x06;
inline constexpr std::uint64_t kH3SettingQpackBlockedStreams = 0x07;

// "Unlimited" (§7.2.4.1: the default of SETTINGS_MAX_FIELD_SECTION_SIZE).
inline constexpr std::uint64_t kH3Unlimited = kVarintMax;

struct H3Settings {
  std::uint64_t qpack_max_table_capacity = 0;
  std::uint64_t max_field_section_size = kH3Unlimited;
  std::uint64_t qpack_blocked_streams = 0;
  friend bool operator==(const H3Settings&, const H3Settings&) = default;
};

// Bounds on a SETTINGS frame we accept: beyond them, H3_EXCESSIVE_LOAD
// (§10.5: undefined settings can be abused to waste our time).
inline constexpr std::size_t kH3MaxSettingsPayload = 1024;
inline constexpr std::size_t kH3MaxSettingsEntries = 64;

// Writes a whole SETTINGS frame (header and payload). Settings at their
// default value are omitted; `grease_id` (if not 0, must be a grease
// identifier) adds one reserved setting as §7.2.4.1 recommends.
bool write_settings_frame(const H3Settings& s, Writer& w, std::uint64_t grease_id = 0);
// Decodes a SETTINGS payload: unknown and grease identifiers are ignored;
// a duplicate identifier or an HTTP/2 one is H3_SETTINGS_ERROR, a
// truncated pair H3_FRAME_ERROR, too many pairs H3_EXCESSIVE_LOAD.
H3Error decode_settings(ByteSpan payload, H3Settings* out);

void write_frame_header(Writer& w, std::uint64_t type, std::uint64_t length);
// A frame whose payload is one varint (CANCEL_PUSH, GOAWAY, MAX_PUSH_ID).
void write_varint_frame(Writer& w, H3FrameType type, std::uint64_t value);
// Its payload: exactly one varint, else H3_FRAME_ERROR (§7.1).
H3Error decode_varint_payload(ByteSpan payload, std::uint64_t* value);
// Largest frame header: two 8-byte varints.
inline constexpr std::size_t kH3MaxFrameHeader = 16;

struct H3FrameHeader {
  std::uint64_t type = 0;
  std::uint64_t length = 0;
};

// How a reader treats the payload of each frame type: handed over in
// pieces as it arrives (DATA), buffered whole up to a bound (HEADERS and
// the control frames), or skipped (unknown, grease and PRIORITY_UPDATE
// frames, §9: ignored).
enum class H3PayloadMode : std::uint8_t { kStream, kBuffer, kSkip };

struct H3FrameReaderLimits {
  // HEADERS / PUSH_PROMISE payloads: our SETTINGS_MAX_FIELD_SECTION_SIZE
  // (an encoded section is not larger than the decoded one for any sane
  // encoder); larger is H3_EXCESSIVE_LOAD.
  std::size_t max_field_section = 16384;
};

// Splits one stream's byte sequence into frames, incrementally. Bytes can
// be fed in pieces of any size; partial headers and partial buffered
// payloads are kept (the latter in a vector that grows to at most the
// limit, reused for the next frame).
class H3FrameReader {
 public:
  enum class Event : std::uint8_t {
    kNeedMore,  // everything given was consumed, nothing to report
    kHeader,    // a frame header: check the type is allowed here (before any size error)
    kData,      // a piece of a streamed payload (`payload`; `frame_end` on the last)
    kFrame,     // a buffered frame, whole (`payload`)
    kError,     // `error`: H3_FRAME_ERROR, or H3_EXCESSIVE_LOAD for a buffered
                // frame above its bound; the reader stops
  };
  struct Result {
    Event event = Event::kNeedMore;
    H3FrameHeader header;
    ByteSpan payload;  // into the input or the reader's buffer, valid until the next call
    bool frame_end = false;
    H3Error error = H3Error::kNoError;
    std::size_t consumed = 0;  // bytes of the input taken by this call
  };

  explicit H3FrameReader(const H3FrameReaderLimits& limits = {}) : limits_(limits) {}

  // Advances over `in`; call again with in.subspan(consumed) until kNeedMore.
  Result next(ByteSpan in);
  // The stream ended (FIN): H3_FRAME_ERROR if a frame was cut short (§7.1).
  H3Error on_end() const;
  // Between frames (not inside a header or payload).
  bool at_boundary() const { return state_ == State::kHeader && header_len_ == 0; }
  static H3PayloadMode mode_of(std::uint64_t type);

 private:
  enum class State : std::uint8_t { kHeader, kPayload, kFailed };
  H3FrameReaderLimits limits_;
  State state_ = State::kHeader;
  std::uint8_t header_buf_[kH3MaxFrameHeader] = {};
  std::size_t header_len_ = 0;
  H3FrameHeader header_;
  H3PayloadMode mode_ = H3PayloadMode::kSkip;
  std::uint64_t remaining_ = 0;
  H3Error oversize_ = H3Error::kNoError;  // of the current frame, reported after its header
  H3Error failed_error_ = H3Error::kFrameError;
  std::vector<std::uint8_t> buffer_;
};

}  // namespace dquic
