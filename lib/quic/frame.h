// QUIC frame codec: every frame of RFC 9000 §19 plus DATAGRAM (RFC 9221).
// Decoding never copies payloads: data, tokens, reasons and connection IDs are
// ByteSpan views into the packet, valid while the packet buffer is. Nothing
// here allocates or throws.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <variant>

#include "quic/buffer.h"
#include "quic/connection_id.h"
#include "quic/error.h"

namespace dquic {

// Wire frame types (RFC 9000 §19, Table 3; RFC 9221 §4). STREAM occupies
// 0x08-0x0f: the low three bits are the OFF/LEN/FIN flags.
enum class FrameType : std::uint64_t {
  kPadding = 0x00,
  kPing = 0x01,
  kAck = 0x02,
  kAckEcn = 0x03,
  kResetStream = 0x04,
  kStopSending = 0x05,
  kCrypto = 0x06,
  kNewToken = 0x07,
  kStream = 0x08,
  kStreamMax = 0x0f,
  kMaxData = 0x10,
  kMaxStreamData = 0x11,
  kMaxStreamsBidi = 0x12,
  kMaxStreamsUni = 0x13,
  kDataBlocked = 0x14,
  kStreamDataBlocked = 0x15,
  kStreamsBlockedBidi = 0x16,
  kStreamsBlockedUni = 0x17,
  kNewConnectionId = 0x18,
  kRetireConnectionId = 0x19,
  kPathChallenge = 0x1a,
  kPathResponse = 0x1b,
  kConnectionClose = 0x1c,
  kConnectionCloseApp = 0x1d,
  kHandshakeDone = 0x1e,
  kDatagram = 0x30,
  kDatagramLen = 0x31,
};

// STREAM type flag bits (RFC 9000 §19.8).
inline constexpr std::uint8_t kStreamFlagFin = 0x01;
inline constexpr std::uint8_t kStreamFlagLen = 0x02;
inline constexpr std::uint8_t kStreamFlagOff = 0x04;

// RFC 9000 §19.11, §19.14: stream counts above 2^60 cannot name a valid stream ID.
inline constexpr std::uint64_t kMaxStreamCount = std::uint64_t{1} << 60;

struct PaddingFrame {
  std::uint64_t length = 1;  // a run of consecutive 0x00 bytes, coalesced
  friend bool operator==(const PaddingFrame&, const PaddingFrame&) = default;
};

struct PingFrame {
  friend bool operator==(const PingFrame&, const PingFrame&) = default;
};

// Packet numbers [smallest, largest], inclusive.
struct AckRange {
  std::uint64_t smallest = 0;
  std::uint64_t largest = 0;
  friend bool operator==(const AckRange&, const AckRange&) = default;
};

struct EcnCounts {
  std::uint64_t ect0 = 0;
  std::uint64_t ect1 = 0;
  std::uint64_t ce = 0;
  friend bool operator==(const EcnCounts&, const EcnCounts&) = default;
};

// Walks the ranges of a decoded ACK frame, largest first. Decoding validated
// every range, so iteration cannot fail.
class AckRangeIterator {
 public:
  using iterator_category = std::forward_iterator_tag;
  using value_type = AckRange;
  using difference_type = std::ptrdiff_t;
  using pointer = const AckRange*;
  using reference = const AckRange&;

  AckRangeIterator() = default;
  AckRangeIterator(AckRange first, ByteSpan raw, std::uint64_t left)
      : cur_(first), raw_(raw), left_(left) {}

  const AckRange& operator*() const { return cur_; }
  const AckRange* operator->() const { return &cur_; }
  AckRangeIterator& operator++();
  AckRangeIterator operator++(int) {
    AckRangeIterator old = *this;
    ++*this;
    return old;
  }
  // Only positions from the same frame are compared: the ranges left identify them.
  friend bool operator==(const AckRangeIterator& a, const AckRangeIterator& b) {
    return a.left_ == b.left_;
  }

 private:
  AckRange cur_;
  Reader raw_;
  std::uint64_t left_ = 0;  // ranges not yet yielded, including cur_
};

// RFC 9000 §19.3. The Gap/ACK Range Length pairs stay encoded in `ranges`.
struct AckFrame {
  std::uint64_t largest_acknowledged = 0;
  std::uint64_t ack_delay = 0;  // as sent: scaled by the peer's ack_delay_exponent
  std::uint64_t first_ack_range = 0;
  std::uint64_t range_count = 0;  // pairs in `ranges`, after the first range
  ByteSpan ranges;                // validated encoded Gap/ACK Range Length pairs
  bool has_ecn = false;           // type 0x03
  EcnCounts ecn;

  AckRangeIterator begin() const;
  AckRangeIterator end() const { return {{}, {}, 0}; }
  std::uint64_t range_total() const { return range_count + 1; }
  std::uint64_t smallest_acknowledged() const;
  // Compares values: ranges encoded with different varint lengths are equal.
  friend bool operator==(const AckFrame& a, const AckFrame& b);
};

struct ResetStreamFrame {
  std::uint64_t stream_id = 0;
  std::uint64_t error_code = 0;
  std::uint64_t final_size = 0;
  friend bool operator==(const ResetStreamFrame&, const ResetStreamFrame&) = default;
};

struct StopSendingFrame {
  std::uint64_t stream_id = 0;
  std::uint64_t error_code = 0;
  friend bool operator==(const StopSendingFrame&, const StopSendingFrame&) = default;
};

struct CryptoFrame {
  std::uint64_t offset = 0;
  ByteSpan data;
  friend bool operator==(const CryptoFrame& a, const CryptoFrame& b) {
    return a.offset == b.offset && same_bytes(a.data, b.data);
  }
};

struct NewTokenFrame {
  ByteSpan token;  // never empty once decoded
  friend bool operator==(const NewTokenFrame& a, const NewTokenFrame& b) {
    return same_bytes(a.token, b.token);
  }
};

struct StreamFrame {
  std::uint64_t stream_id = 0;
  std::uint64_t offset = 0;  // encoded (OFF bit) only when non-zero
  ByteSpan data;
  bool fin = false;
  // Without a Length field the data runs to the end of the packet, so such a
  // frame must be the packet's last.
  bool has_length = true;
  friend bool operator==(const StreamFrame& a, const StreamFrame& b) {
    return a.stream_id == b.stream_id && a.offset == b.offset && a.fin == b.fin &&
           a.has_length == b.has_length && same_bytes(a.data, b.data);
  }
};

struct MaxDataFrame {
  std::uint64_t maximum_data = 0;
  friend bool operator==(const MaxDataFrame&, const MaxDataFrame&) = default;
};

struct MaxStreamDataFrame {
  std::uint64_t stream_id = 0;
  std::uint64_t maximum_stream_data = 0;
  friend bool operator==(const MaxStreamDataFrame&, const MaxStreamDataFrame&) = default;
};

struct MaxStreamsFrame {
  bool bidirectional = true;
  std::uint64_t maximum_streams = 0;
  friend bool operator==(const MaxStreamsFrame&, const MaxStreamsFrame&) = default;
};

struct DataBlockedFrame {
  std::uint64_t maximum_data = 0;
  friend bool operator==(const DataBlockedFrame&, const DataBlockedFrame&) = default;
};

struct StreamDataBlockedFrame {
  std::uint64_t stream_id = 0;
  std::uint64_t maximum_stream_data = 0;
  friend bool operator==(const StreamDataBlockedFrame&, const StreamDataBlockedFrame&) = default;
};

struct StreamsBlockedFrame {
  bool bidirectional = true;
  std::uint64_t maximum_streams = 0;
  friend bool operator==(const StreamsBlockedFrame&, const StreamsBlockedFrame&) = default;
};

using StatelessResetToken = std::array<std::uint8_t, 16>;

struct NewConnectionIdFrame {
  std::uint64_t sequence_number = 0;
  std::uint64_t retire_prior_to = 0;
  ByteSpan connection_id;  // 1..20 bytes
  StatelessResetToken stateless_reset_token{};
  friend bool operator==(const NewConnectionIdFrame& a, const NewConnectionIdFrame& b) {
    return a.sequence_number == b.sequence_number && a.retire_prior_to == b.retire_prior_to &&
           a.stateless_reset_token == b.stateless_reset_token &&
           same_bytes(a.connection_id, b.connection_id);
  }
};

struct RetireConnectionIdFrame {
  std::uint64_t sequence_number = 0;
  friend bool operator==(const RetireConnectionIdFrame&, const RetireConnectionIdFrame&) = default;
};

using PathData = std::array<std::uint8_t, 8>;

struct PathChallengeFrame {
  PathData data{};
  friend bool operator==(const PathChallengeFrame&, const PathChallengeFrame&) = default;
};

struct PathResponseFrame {
  PathData data{};
  friend bool operator==(const PathResponseFrame&, const PathResponseFrame&) = default;
};

struct ConnectionCloseFrame {
  bool application = false;  // type 0x1d: carries no Frame Type field
  std::uint64_t error_code = 0;
  std::uint64_t frame_type = 0;  // transport close (0x1c) only
  ByteSpan reason;
  friend bool operator==(const ConnectionCloseFrame& a, const ConnectionCloseFrame& b) {
    return a.application == b.application && a.error_code == b.error_code &&
           (a.application || a.frame_type == b.frame_type) && same_bytes(a.reason, b.reason);
  }
};

struct HandshakeDoneFrame {
  friend bool operator==(const HandshakeDoneFrame&, const HandshakeDoneFrame&) = default;
};

struct DatagramFrame {
  ByteSpan data;
  bool has_length = true;  // type 0x31; without it the data runs to the packet's end
  friend bool operator==(const DatagramFrame& a, const DatagramFrame& b) {
    return a.has_length == b.has_length && same_bytes(a.data, b.data);
  }
};

using Frame =
    std::variant<PaddingFrame, PingFrame, AckFrame, ResetStreamFrame, StopSendingFrame, CryptoFrame,
                 NewTokenFrame, StreamFrame, MaxDataFrame, MaxStreamDataFrame, MaxStreamsFrame,
                 DataBlockedFrame, StreamDataBlockedFrame, StreamsBlockedFrame,
                 NewConnectionIdFrame, RetireConnectionIdFrame, PathChallengeFrame,
                 PathResponseFrame, ConnectionCloseFrame, HandshakeDoneFrame, DatagramFrame>;

// The type the encoder writes for `f` (STREAM includes its flag bits).
FrameType frame_type(const Frame& f);

// Decodes one frame from `r`, advancing past it. On error `r` is left
// somewhere inside the frame and *out is unspecified. Returns
// FRAME_ENCODING_ERROR for truncated, malformed or unknown frames and
// PROTOCOL_VIOLATION for a frame type not in its shortest encoding (§12.4).
[[nodiscard]] TransportError decode_frame(Reader& r, Frame* out);

// Encoders return false, leaving `w` where it was, when the frame does not fit
// or (encode_ack) the input is malformed.
[[nodiscard]] bool encode_frame(const Frame& f, Writer& w);
// `ranges` sorted largest first, non-overlapping and non-adjacent (a gap of at
// least one packet number between ranges), non-empty. `ecn` selects type 0x03.
[[nodiscard]] bool encode_ack(std::span<const AckRange> ranges, std::uint64_t ack_delay,
                              const EcnCounts* ecn, Writer& w);
// Writes `n` bytes of PADDING.
[[nodiscard]] bool encode_padding(std::size_t n, Writer& w);

// Sizing helpers for filling packets exactly.
std::size_t encoded_size(const Frame& f);
// Type, Stream ID, Offset (if non-zero) and Length (if has_length) bytes.
std::size_t stream_frame_overhead(std::uint64_t stream_id, std::uint64_t offset,
                                  std::uint64_t length, bool has_length);
// Largest STREAM data length, at most `available`, whose frame fits in
// `budget` bytes. 0 can also mean the header alone does not fit: check
// stream_frame_overhead() before sending a FIN-only frame.
std::size_t max_stream_data(std::uint64_t stream_id, std::uint64_t offset, bool has_length,
                            std::size_t budget, std::size_t available);
std::size_t crypto_frame_overhead(std::uint64_t offset, std::uint64_t length);
std::size_t max_crypto_data(std::uint64_t offset, std::size_t budget, std::size_t available);
std::size_t datagram_frame_size(std::size_t length, bool has_length);
// Encoded size of an ACK frame carrying `ranges`; 0 if encode_ack would reject them.
std::size_t ack_frame_size(std::span<const AckRange> ranges, std::uint64_t ack_delay,
                           const EcnCounts* ecn);
// How many of `ranges` (largest first) an ACK frame can carry within `budget`
// bytes, so ranges.first(n) can be sent; 0 if not even the first fits.
std::size_t ack_ranges_that_fit(std::span<const AckRange> ranges, std::uint64_t ack_delay,
                                const EcnCounts* ecn, std::size_t budget);

}  // namespace dquic
