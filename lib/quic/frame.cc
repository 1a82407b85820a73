#include "quic/frame.h"

#include <algorithm>
#include <cstring>

namespace dquic {

namespace {

constexpr TransportError kOk = TransportError::kNoError;
constexpr TransportError kBad = TransportError::kFrameEncodingError;

// Walks one Gap/ACK Range Length pair below a range whose smallest packet
// number is `*smallest`. False if any packet number would go negative
// (RFC 9000 §19.3.1).
bool next_ack_range(Reader& r, std::uint64_t* smallest, std::uint64_t* largest) {
  std::uint64_t gap, len;
  if (!r.read_varint(&gap) || !r.read_varint(&len)) return false;
  // §19.3.1: largest = previous smallest - gap - 2.
  if (*smallest < gap + 2) return false;
  const std::uint64_t next_largest = *smallest - gap - 2;
  if (next_largest < len) return false;
  *largest = next_largest;
  *smallest = next_largest - len;
  return true;
}

// Counts a run of 0x00 bytes, a word at a time: padding often fills most of a packet.
std::size_t zero_run(ByteSpan b) {
  std::size_t i = 0;
  for (; i + 8 <= b.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, b.data() + i, 8);
    if (w != 0) break;
  }
  while (i < b.size() && b[i] == 0)
    ++i;
  return i;
}

TransportError decode_ack(Reader& r, bool ecn, AckFrame* f) {
  f->has_ecn = ecn;
  std::uint64_t count;
  if (!r.read_varint(&f->largest_acknowledged) || !r.read_varint(&f->ack_delay) ||
      !r.read_varint(&count) || !r.read_varint(&f->first_ack_range)) {
    return kBad;
  }
  // §19.3.1: the smallest packet number of the first range must not be negative.
  if (f->first_ack_range > f->largest_acknowledged) return kBad;
  // Each pair takes at least two bytes: rejecting impossible counts up front
  // bounds the work by the bytes actually present.
  if (count > r.remaining() / 2) return kBad;
  f->range_count = count;
  const std::uint8_t* begin = r.position();
  std::uint64_t smallest = f->largest_acknowledged - f->first_ack_range;
  std::uint64_t largest;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!next_ack_range(r, &smallest, &largest)) return kBad;
  }
  f->ranges = {begin, static_cast<std::size_t>(r.position() - begin)};
  f->ecn = {};
  if (ecn && (!r.read_varint(&f->ecn.ect0) || !r.read_varint(&f->ecn.ect1) ||
              !r.read_varint(&f->ecn.ce))) {
    return kBad;
  }
  return kOk;
}

TransportError decode_stream(Reader& r, std::uint8_t flags, StreamFrame* f) {
  f->fin = flags & kStreamFlagFin;
  f->has_length = flags & kStreamFlagLen;
  f->offset = 0;
  if (!r.read_varint(&f->stream_id)) return kBad;
  if ((flags & kStreamFlagOff) && !r.read_varint(&f->offset)) return kBad;
  if (f->has_length) {
    std::uint64_t len;
    if (!r.read_varint(&len) || len > r.remaining()) return kBad;
    if (!r.read_bytes(static_cast<std::size_t>(len), &f->data)) return kBad;
  } else {
    // §19.8: without LEN the data extends to the end of the packet.
    f->data = r.rest();
    if (!r.skip(f->data.size())) return kBad;
  }
  // §19.8: offset + length above 2^62-1 is a FRAME_ENCODING_ERROR (we pick it
  // over FLOW_CONTROL_ERROR since the frame itself is malformed).
  if (f->offset > kVarintMax - f->data.size()) return kBad;
  return kOk;
}

TransportError decode_crypto(Reader& r, CryptoFrame* f) {
  std::uint64_t len;
  if (!r.read_varint(&f->offset) || !r.read_varint(&len) || len > r.remaining()) return kBad;
  if (!r.read_bytes(static_cast<std::size_t>(len), &f->data)) return kBad;
  // §19.6 allows FRAME_ENCODING_ERROR or CRYPTO_BUFFER_EXCEEDED: the codec
  // reports the encoding error, as for STREAM.
  if (f->offset > kVarintMax - f->data.size()) return kBad;
  return kOk;
}

// Reads a varint length followed by that many bytes.
bool read_prefixed(Reader& r, ByteSpan* out) {
  std::uint64_t len;
  if (!r.read_varint(&len) || len > r.remaining()) return false;
  return r.read_bytes(static_cast<std::size_t>(len), out);
}

template <std::size_t N>
bool read_array(Reader& r, std::array<std::uint8_t, N>* out) {
  ByteSpan b;
  if (!r.read_bytes(N, &b)) return false;
  std::copy(b.begin(), b.end(), out->begin());
  return true;
}

TransportError decode_new_connection_id(Reader& r, NewConnectionIdFrame* f) {
  std::uint8_t len;
  if (!r.read_varint(&f->sequence_number) || !r.read_varint(&f->retire_prior_to) ||
      !r.read_u8(&len)) {
    return kBad;
  }
  // §19.15: length must be 1..20.
  if (len == 0 || len > kMaxConnectionIdLength) return kBad;
  if (!r.read_bytes(len, &f->connection_id) || !read_array(r, &f->stateless_reset_token)) {
    return kBad;
  }
  // §19.15: Retire Prior To must not exceed Sequence Number.
  if (f->retire_prior_to > f->sequence_number) return kBad;
  return kOk;
}

FrameType stream_type(const StreamFrame& s) {
  std::uint64_t t = static_cast<std::uint64_t>(FrameType::kStream);
  if (s.offset != 0) t |= kStreamFlagOff;
  if (s.has_length) t |= kStreamFlagLen;
  if (s.fin) t |= kStreamFlagFin;
  return static_cast<FrameType>(t);
}

// Sizes an encoding without writing: the same encoders serve encode_frame()
// and encoded_size(), so the two cannot disagree.
class Counter {
 public:
  bool ok() const { return ok_; }
  std::size_t written() const { return n_; }
  void write_u8(std::uint8_t) { ++n_; }
  void write_varint(std::uint64_t v) {
    const std::size_t s = varint_size(v);
    if (s == 0) ok_ = false;
    n_ += s;
  }
  void write_bytes(ByteSpan b) { n_ += b.size(); }
  void fill(std::uint8_t, std::size_t n) { n_ += n; }

 private:
  std::size_t n_ = 0;
  bool ok_ = true;
};

template <class S>
void put_type(S& s, FrameType t) {
  s.write_varint(static_cast<std::uint64_t>(t));
}

template <class S>
bool put_ack_head(S& s, bool ecn, std::uint64_t largest, std::uint64_t delay, std::uint64_t count,
                  std::uint64_t first) {
  put_type(s, ecn ? FrameType::kAckEcn : FrameType::kAck);
  s.write_varint(largest);
  s.write_varint(delay);
  s.write_varint(count);
  s.write_varint(first);
  return true;
}

template <class S>
void put_ecn(S& s, const EcnCounts& e) {
  s.write_varint(e.ect0);
  s.write_varint(e.ect1);
  s.write_varint(e.ce);
}

template <class S>
bool put_ack_ranges(S& s, std::span<const AckRange> ranges, std::uint64_t delay,
                    const EcnCounts* ecn) {
  if (ranges.empty() || ranges[0].smallest > ranges[0].largest) return false;
  put_ack_head(s, ecn != nullptr, ranges[0].largest, delay, ranges.size() - 1,
               ranges[0].largest - ranges[0].smallest);
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    const AckRange& prev = ranges[i - 1];
    const AckRange& cur = ranges[i];
    // Descending with at least one missing packet number in between, so the
    // gap (§19.3.1: prev.smallest - cur.largest - 2) is not negative.
    if (cur.smallest > cur.largest || prev.smallest < 2 || cur.largest > prev.smallest - 2) {
      return false;
    }
    s.write_varint(prev.smallest - cur.largest - 2);
    s.write_varint(cur.largest - cur.smallest);
  }
  if (ecn) put_ecn(s, *ecn);
  return true;
}

template <class S>
bool put(S& s, const PaddingFrame& f) {
  s.fill(0, static_cast<std::size_t>(f.length));
  return true;
}

template <class S>
bool put(S& s, const PingFrame&) {
  put_type(s, FrameType::kPing);
  return true;
}

template <class S>
bool put(S& s, const AckFrame& f) {
  // Re-validates the ranges: a hand-built AckFrame may carry arbitrary bytes.
  if (f.first_ack_range > f.largest_acknowledged) return false;
  put_ack_head(s, f.has_ecn, f.largest_acknowledged, f.ack_delay, f.range_count, f.first_ack_range);
  Reader r(f.ranges);
  std::uint64_t smallest = f.largest_acknowledged - f.first_ack_range;
  for (std::uint64_t i = 0; i < f.range_count; ++i) {
    std::uint64_t prev_smallest = smallest, largest;
    if (!next_ack_range(r, &smallest, &largest)) return false;
    s.write_varint(prev_smallest - largest - 2);
    s.write_varint(largest - smallest);
  }
  if (f.has_ecn) put_ecn(s, f.ecn);
  return true;
}

template <class S>
bool put(S& s, const ResetStreamFrame& f) {
  put_type(s, FrameType::kResetStream);
  s.write_varint(f.stream_id);
  s.write_varint(f.error_code);
  s.write_varint(f.final_size);
  return true;
}

template <class S>
bool put(S& s, const StopSendingFrame& f) {
  put_type(s, FrameType::kStopSending);
  s.write_varint(f.stream_id);
  s.write_varint(f.error_code);
  return true;
}

template <class S>
bool put(S& s, const CryptoFrame& f) {
  if (f.offset > kVarintMax - std::min<std::uint64_t>(f.data.size(), kVarintMax)) return false;
  put_type(s, FrameType::kCrypto);
  s.write_varint(f.offset);
  s.write_varint(f.data.size());
  s.write_bytes(f.data);
  return true;
}

template <class S>
bool put(S& s, const NewTokenFrame& f) {
  if (f.token.empty()) return false;  // §19.7: receivers reject an empty token
  put_type(s, FrameType::kNewToken);
  s.write_varint(f.token.size());
  s.write_bytes(f.token);
  return true;
}

template <class S>
bool put(S& s, const StreamFrame& f) {
  if (f.offset > kVarintMax - std::min<std::uint64_t>(f.data.size(), kVarintMax)) return false;
  put_type(s, stream_type(f));
  s.write_varint(f.stream_id);
  if (f.offset != 0) s.write_varint(f.offset);
  if (f.has_length) s.write_varint(f.data.size());
  s.write_bytes(f.data);
  return true;
}

template <class S>
bool put(S& s, const MaxDataFrame& f) {
  put_type(s, FrameType::kMaxData);
  s.write_varint(f.maximum_data);
  return true;
}

template <class S>
bool put(S& s, const MaxStreamDataFrame& f) {
  put_type(s, FrameType::kMaxStreamData);
  s.write_varint(f.stream_id);
  s.write_varint(f.maximum_stream_data);
  return true;
}

template <class S>
bool put(S& s, const MaxStreamsFrame& f) {
  if (f.maximum_streams > kMaxStreamCount) return false;
  put_type(s, f.bidirectional ? FrameType::kMaxStreamsBidi : FrameType::kMaxStreamsUni);
  s.write_varint(f.maximum_streams);
  return true;
}

template <class S>
bool put(S& s, const DataBlockedFrame& f) {
  put_type(s, FrameType::kDataBlocked);
  s.write_varint(f.maximum_data);
  return true;
}

template <class S>
bool put(S& s, const StreamDataBlockedFrame& f) {
  put_type(s, FrameType::kStreamDataBlocked);
  s.write_varint(f.stream_id);
  s.write_varint(f.maximum_stream_data);
  return true;
}

template <class S>
bool put(S& s, const StreamsBlockedFrame& f) {
  if (f.maximum_streams > kMaxStreamCount) return false;
  put_type(s, f.bidirectional ? FrameType::kStreamsBlockedBidi : FrameType::kStreamsBlockedUni);
  s.write_varint(f.maximum_streams);
  return true;
}

template <class S>
bool put(S& s, const NewConnectionIdFrame& f) {
  if (f.connection_id.empty() || f.connection_id.size() > kMaxConnectionIdLength ||
      f.retire_prior_to > f.sequence_number) {
    return false;
  }
  put_type(s, FrameType::kNewConnectionId);
  s.write_varint(f.sequence_number);
  s.write_varint(f.retire_prior_to);
  s.write_u8(static_cast<std::uint8_t>(f.connection_id.size()));
  s.write_bytes(f.connection_id);
  s.write_bytes(f.stateless_reset_token);
  return true;
}

template <class S>
bool put(S& s, const RetireConnectionIdFrame& f) {
  put_type(s, FrameType::kRetireConnectionId);
  s.write_varint(f.sequence_number);
  return true;
}

template <class S>
bool put(S& s, const PathChallengeFrame& f) {
  put_type(s, FrameType::kPathChallenge);
  s.write_bytes(f.data);
  return true;
}

template <class S>
bool put(S& s, const PathResponseFrame& f) {
  put_type(s, FrameType::kPathResponse);
  s.write_bytes(f.data);
  return true;
}

template <class S>
bool put(S& s, const ConnectionCloseFrame& f) {
  put_type(s, f.application ? FrameType::kConnectionCloseApp : FrameType::kConnectionClose);
  s.write_varint(f.error_code);
  if (!f.application) s.write_varint(f.frame_type);
  s.write_varint(f.reason.size());
  s.write_bytes(f.reason);
  return true;
}

template <class S>
bool put(S& s, const HandshakeDoneFrame&) {
  put_type(s, FrameType::kHandshakeDone);
  return true;
}

template <class S>
bool put(S& s, const DatagramFrame& f) {
  put_type(s, f.has_length ? FrameType::kDatagramLen : FrameType::kDatagram);
  if (f.has_length) s.write_varint(f.data.size());
  s.write_bytes(f.data);
  return true;
}

// Runs `body` against the writer; on any failure restores the writer.
template <class Body>
bool encode_with(Writer& w, Body&& body) {
  if (!w.ok()) return false;
  const std::size_t mark = w.written();
  if (body(w) && w.ok()) return true;
  w.rewind(mark);
  return false;
}

}  // namespace

AckRangeIterator& AckRangeIterator::operator++() {
  if (left_ <= 1) {
    left_ = 0;
    return *this;
  }
  // Validated when decoded, so this cannot fail.
  (void)next_ack_range(raw_, &cur_.smallest, &cur_.largest);
  --left_;
  return *this;
}

AckRangeIterator AckFrame::begin() const {
  return {{largest_acknowledged - first_ack_range, largest_acknowledged}, ranges, range_count + 1};
}

std::uint64_t AckFrame::smallest_acknowledged() const {
  std::uint64_t s = largest_acknowledged - first_ack_range;
  for (const AckRange& r : *this)
    s = r.smallest;
  return s;
}

bool operator==(const AckFrame& a, const AckFrame& b) {
  if (a.largest_acknowledged != b.largest_acknowledged || a.ack_delay != b.ack_delay ||
      a.first_ack_range != b.first_ack_range || a.range_count != b.range_count ||
      a.has_ecn != b.has_ecn || (a.has_ecn && a.ecn != b.ecn)) {
    return false;
  }
  // Equal counts, so both walks end together.
  return std::equal(a.begin(), a.end(), b.begin());
}

FrameType frame_type(const Frame& f) {
  struct Visitor {
    FrameType operator()(const PaddingFrame&) { return FrameType::kPadding; }
    FrameType operator()(const PingFrame&) { return FrameType::kPing; }
    FrameType operator()(const AckFrame& a) {
      return a.has_ecn ? FrameType::kAckEcn : FrameType::kAck;
    }
    FrameType operator()(const ResetStreamFrame&) { return FrameType::kResetStream; }
    FrameType operator()(const StopSendingFrame&) { return FrameType::kStopSending; }
    FrameType operator()(const CryptoFrame&) { return FrameType::kCrypto; }
    FrameType operator()(const NewTokenFrame&) { return FrameType::kNewToken; }
    FrameType operator()(const StreamFrame& s) { return stream_type(s); }
    FrameType operator()(const MaxDataFrame&) { return FrameType::kMaxData; }
    FrameType operator()(const MaxStreamDataFrame&) { return FrameType::kMaxStreamData; }
    FrameType operator()(const MaxStreamsFrame& m) {
      return m.bidirectional ? FrameType::kMaxStreamsBidi : FrameType::kMaxStreamsUni;
    }
    FrameType operator()(const DataBlockedFrame&) { return FrameType::kDataBlocked; }
    FrameType operator()(const StreamDataBlockedFrame&) { return FrameType::kStreamDataBlocked; }
    FrameType operator()(const StreamsBlockedFrame& m) {
      return m.bidirectional ? FrameType::kStreamsBlockedBidi : FrameType::kStreamsBlockedUni;
    }
    FrameType operator()(const NewConnectionIdFrame&) { return FrameType::kNewConnectionId; }
    FrameType operator()(const RetireConnectionIdFrame&) { return FrameType::kRetireConnectionId; }
    FrameType operator()(const PathChallengeFrame&) { return FrameType::kPathChallenge; }
    FrameType operator()(const PathResponseFrame&) { return FrameType::kPathResponse; }
    FrameType operator()(const ConnectionCloseFrame& c) {
      return c.application ? FrameType::kConnectionCloseApp : FrameType::kConnectionClose;
    }
    FrameType operator()(const HandshakeDoneFrame&) { return FrameType::kHandshakeDone; }
    FrameType operator()(const DatagramFrame& d) {
      return d.has_length ? FrameType::kDatagramLen : FrameType::kDatagram;
    }
  };
  return std::visit(Visitor{}, f);
}

TransportError decode_frame(Reader& r, Frame* out) {
  const std::uint8_t* start = r.position();
  std::uint8_t first;
  if (!r.peek_u8(&first)) return kBad;
  if (first == 0) {
    const std::size_t n = zero_run(r.rest());
    (void)r.skip(n);
    *out = PaddingFrame{n};
    return kOk;
  }
  std::uint64_t type;
  if (!r.read_varint(&type)) return kBad;
  // §12.4: frame types must use the shortest encoding; we exercise the MAY
  // and treat a longer one as PROTOCOL_VIOLATION.
  if (static_cast<std::size_t>(r.position() - start) != varint_size(type)) {
    return TransportError::kProtocolViolation;
  }
  switch (static_cast<FrameType>(type)) {
    case FrameType::kPadding:  // a minimal 0x00 took the fast path
      return kBad;
    case FrameType::kPing:
      *out = PingFrame{};
      return kOk;
    case FrameType::kAck:
    case FrameType::kAckEcn:
      return decode_ack(r, type == 0x03, &out->emplace<AckFrame>());
    case FrameType::kResetStream: {
      auto& f = out->emplace<ResetStreamFrame>();
      if (!r.read_varint(&f.stream_id) || !r.read_varint(&f.error_code) ||
          !r.read_varint(&f.final_size)) {
        return kBad;
      }
      return kOk;
    }
    case FrameType::kStopSending: {
      auto& f = out->emplace<StopSendingFrame>();
      return r.read_varint(&f.stream_id) && r.read_varint(&f.error_code) ? kOk : kBad;
    }
    case FrameType::kCrypto:
      return decode_crypto(r, &out->emplace<CryptoFrame>());
    case FrameType::kNewToken: {
      auto& f = out->emplace<NewTokenFrame>();
      // §19.7: an empty token is a FRAME_ENCODING_ERROR.
      return read_prefixed(r, &f.token) && !f.token.empty() ? kOk : kBad;
    }
    case FrameType::kMaxData:
      return r.read_varint(&out->emplace<MaxDataFrame>().maximum_data) ? kOk : kBad;
    case FrameType::kMaxStreamData: {
      auto& f = out->emplace<MaxStreamDataFrame>();
      return r.read_varint(&f.stream_id) && r.read_varint(&f.maximum_stream_data) ? kOk : kBad;
    }
    case FrameType::kMaxStreamsBidi:
    case FrameType::kMaxStreamsUni: {
      auto& f = out->emplace<MaxStreamsFrame>();
      f.bidirectional = type == 0x12;
      // §19.11: more than 2^60 streams is a FRAME_ENCODING_ERROR.
      return r.read_varint(&f.maximum_streams) && f.maximum_streams <= kMaxStreamCount ? kOk : kBad;
    }
    case FrameType::kDataBlocked:
      return r.read_varint(&out->emplace<DataBlockedFrame>().maximum_data) ? kOk : kBad;
    case FrameType::kStreamDataBlocked: {
      auto& f = out->emplace<StreamDataBlockedFrame>();
      return r.read_varint(&f.stream_id) && r.read_varint(&f.maximum_stream_data) ? kOk : kBad;
    }
    case FrameType::kStreamsBlockedBidi:
    case FrameType::kStreamsBlockedUni: {
      auto& f = out->emplace<StreamsBlockedFrame>();
      f.bidirectional = type == 0x16;
      // §19.14: STREAM_LIMIT_ERROR or FRAME_ENCODING_ERROR; the codec uses the latter.
      return r.read_varint(&f.maximum_streams) && f.maximum_streams <= kMaxStreamCount ? kOk : kBad;
    }
    case FrameType::kNewConnectionId:
      return decode_new_connection_id(r, &out->emplace<NewConnectionIdFrame>());
    case FrameType::kRetireConnectionId:
      return r.read_varint(&out->emplace<RetireConnectionIdFrame>().sequence_number) ? kOk : kBad;
    case FrameType::kPathChallenge:
      return read_array(r, &out->emplace<PathChallengeFrame>().data) ? kOk : kBad;
    case FrameType::kPathResponse:
      return read_array(r, &out->emplace<PathResponseFrame>().data) ? kOk : kBad;
    case FrameType::kConnectionClose:
    case FrameType::kConnectionCloseApp: {
      auto& f = out->emplace<ConnectionCloseFrame>();
      f.application = type == 0x1d;
      if (!r.read_varint(&f.error_code)) return kBad;
      if (!f.application && !r.read_varint(&f.frame_type)) return kBad;
      return read_prefixed(r, &f.reason) ? kOk : kBad;
    }
    case FrameType::kHandshakeDone:
      *out = HandshakeDoneFrame{};
      return kOk;
    case FrameType::kDatagram: {
      // RFC 9221 §4: without LEN the data extends to the end of the packet.
      auto& f = out->emplace<DatagramFrame>();
      f.has_length = false;
      f.data = r.rest();
      return r.skip(f.data.size()) ? kOk : kBad;
    }
    case FrameType::kDatagramLen:
      return read_prefixed(r, &out->emplace<DatagramFrame>().data) ? kOk : kBad;
    default:
      break;
  }
  if (type >= 0x08 && type <= 0x0f) {
    return decode_stream(r, static_cast<std::uint8_t>(type & 0x07), &out->emplace<StreamFrame>());
  }
  // §12.4: unknown frame types are a FRAME_ENCODING_ERROR.
  return kBad;
}

bool encode_frame(const Frame& f, Writer& w) {
  return encode_with(
      w, [&](Writer& s) { return std::visit([&](const auto& x) { return put(s, x); }, f); });
}

bool encode_ack(std::span<const AckRange> ranges, std::uint64_t ack_delay, const EcnCounts* ecn,
                Writer& w) {
  return encode_with(w, [&](Writer& s) { return put_ack_ranges(s, ranges, ack_delay, ecn); });
}

bool encode_padding(std::size_t n, Writer& w) {
  return encode_with(w, [&](Writer& s) { return put(s, PaddingFrame{n}); });
}

std::size_t encoded_size(const Frame& f) {
  Counter c;
  const bool ok = std::visit([&](const auto& x) { return put(c, x); }, f);
  return ok && c.ok() ? c.written() : 0;
}

std::size_t stream_frame_overhead(std::uint64_t stream_id, std::uint64_t offset,
                                  std::uint64_t length, bool has_length) {
  return 1 + varint_size(stream_id) + (offset != 0 ? varint_size(offset) : 0) +
         (has_length ? varint_size(length) : 0);
}

namespace {

// Largest L with L + (length field of L) <= room, when a length field is used.
std::uint64_t max_payload(std::uint64_t room, bool has_length) {
  if (!has_length) return room;
  std::uint64_t best = 0;
  for (std::size_t k : {1, 2, 4, 8}) {
    if (room < k) break;
    const std::uint64_t cap = k == 1 ? 63 : k == 2 ? 16383 : k == 4 ? (1u << 30) - 1 : kVarintMax;
    best = std::max(best, std::min(room - k, cap));
  }
  return best;
}

}  // namespace

std::size_t max_stream_data(std::uint64_t stream_id, std::uint64_t offset, bool has_length,
                            std::size_t budget, std::size_t available) {
  if (offset > kVarintMax) return 0;
  const std::size_t base = stream_frame_overhead(stream_id, offset, 0, false);
  if (base > budget) return 0;
  std::uint64_t n = max_payload(budget - base, has_length);
  n = std::min<std::uint64_t>({n, available, kVarintMax - offset});  // §19.8 offset limit
  return static_cast<std::size_t>(n);
}

std::size_t crypto_frame_overhead(std::uint64_t offset, std::uint64_t length) {
  return 1 + varint_size(offset) + varint_size(length);
}

std::size_t max_crypto_data(std::uint64_t offset, std::size_t budget, std::size_t available) {
  if (offset > kVarintMax) return 0;
  const std::size_t base = 1 + varint_size(offset);
  if (base > budget) return 0;
  const std::uint64_t n =
      std::min<std::uint64_t>({max_payload(budget - base, true), available, kVarintMax - offset});
  return static_cast<std::size_t>(n);
}

std::size_t datagram_frame_size(std::size_t length, bool has_length) {
  return 1 + (has_length ? varint_size(length) : 0) + length;
}

std::size_t ack_frame_size(std::span<const AckRange> ranges, std::uint64_t ack_delay,
                           const EcnCounts* ecn) {
  Counter c;
  return put_ack_ranges(c, ranges, ack_delay, ecn) && c.ok() ? c.written() : 0;
}

std::size_t ack_ranges_that_fit(std::span<const AckRange> ranges, std::uint64_t ack_delay,
                                const EcnCounts* ecn, std::size_t budget) {
  // Sizes grow with each range, so the first that overflows ends the search;
  // only the Range Count field changes size besides the appended pair.
  const std::size_t one = ack_frame_size(ranges.first(ranges.empty() ? 0 : 1), ack_delay, ecn);
  if (one == 0 || one > budget) return 0;
  std::size_t size = one;
  std::size_t n = 1;
  for (; n < ranges.size(); ++n) {
    const AckRange& prev = ranges[n - 1];
    const AckRange& cur = ranges[n];
    if (cur.smallest > cur.largest || prev.smallest < 2 || cur.largest > prev.smallest - 2) break;
    const std::size_t next = size - varint_size(n - 1) + varint_size(n) +
                             varint_size(prev.smallest - cur.largest - 2) +
                             varint_size(cur.largest - cur.smallest);
    if (next > budget) break;
    size = next;
  }
  return n;
}

}  // namespace dquic
