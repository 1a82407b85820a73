// Decodes arbitrary bytes as a packet payload. Every frame that decodes must
// re-encode, within the bytes it came from, to something that decodes to an
// equal value. Values are compared, not bytes: non-minimal varints in the
// input re-encode shorter.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quic/frame.h"
#include "quic/frame_rules.h"

using namespace dquic;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_ack(const AckFrame& a) {
  std::uint64_t n = 0;
  std::uint64_t prev_smallest = 0;
  for (const AckRange& r : a) {
    check(r.smallest <= r.largest);
    // Descending with at least one missing packet number between ranges.
    if (n > 0) check(r.largest + 2 <= prev_smallest);
    prev_smallest = r.smallest;
    ++n;
  }
  check(n == a.range_total());
  check(a.smallest_acknowledged() == prev_smallest);
}

void check_round_trip(const Frame& f, std::size_t consumed) {
  // Re-encoding never grows: varints only shrink and PADDING stays as long.
  const std::size_t size = encoded_size(f);
  check(size > 0 && size <= consumed);
  std::vector<std::uint8_t> buf(size);
  if (size > 0) {
    Writer small({buf.data(), size - 1});
    check(!encode_frame(f, small) && small.written() == 0 && small.ok());
  }
  Writer w(buf);
  check(encode_frame(f, w) && w.written() == size);

  Reader r({buf.data(), size});
  Frame back;
  check(decode_frame(r, &back) == TransportError::kNoError);
  check(r.empty());
  check(back == f);
  check(frame_type(back) == frame_type(f));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader r({data, size});
  while (!r.empty()) {
    const std::uint8_t* start = r.position();
    Frame f;
    const TransportError e = decode_frame(r, &f);
    if (e != TransportError::kNoError) {
      check(e == TransportError::kFrameEncodingError || e == TransportError::kProtocolViolation);
      break;
    }
    const auto consumed = static_cast<std::size_t>(r.position() - start);
    check(consumed > 0);
    if (const auto* a = std::get_if<AckFrame>(&f)) check_ack(*a);
    check_round_trip(f, consumed);
    // The rules tables accept anything the decoder produces.
    const FrameType t = frame_type(f);
    check(is_known_frame_type(t));
    check(frame_allowed_in(t, PacketType::kOneRtt));
    (void)check_frame(f, PacketType::kInitial, EndpointRole::kServer);
  }
  return 0;
}
