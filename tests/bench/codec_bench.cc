// Wire-codec costs on the per-packet path: what the dispatcher pays to find a
// packet's connection, what a receiver pays to walk a packet's frames, and what
// a sender pays to lay out a full STREAM packet. Reported as medians.
#include <array>
#include <random>
#include <vector>

#include "bench/bench.h"
#include "quic/frame.h"
#include "quic/packet_header.h"
#include "quic/packet_header_encode.h"
#include "quic/packet_number.h"
#include "quic/transport_params.h"
#include "quic/varint.h"

namespace dquic {
namespace {

constexpr int kReps = 9;
constexpr std::size_t kCidLen = 8;
const std::array<std::uint8_t, kCidLen> kCid = {1, 2, 3, 4, 5, 6, 7, 8};

void bench_varint() {
  std::mt19937_64 rng(1);
  std::vector<std::uint8_t> buf(4096 * 8);
  Writer w(buf);
  std::size_t n = 0;
  while (w.remaining() >= 8) {
    const unsigned bits[] = {6, 14, 30, 62};
    w.write_varint(rng() & ((std::uint64_t{1} << bits[rng() % 4]) - 1));
    ++n;
  }
  const std::size_t used = w.written();
  const auto r = bench::measure(n * 200, kReps, [&](std::uint64_t ops) {
    std::uint64_t sum = 0;
    for (std::uint64_t done = 0; done < ops;) {
      Reader rd(ByteSpan(buf.data(), used));
      std::uint64_t v;
      while (rd.read_varint(&v))
        sum += v, ++done;
    }
    bench::keep(sum);
  });
  bench::report("varint decode (mixed 1/2/4/8 bytes)", r);
}

void bench_packet_number() {
  const auto r = bench::measure(50'000'000, kReps, [&](std::uint64_t ops) {
    std::uint64_t largest = 0x12345678, sum = 0;
    for (std::uint64_t i = 0; i < ops; ++i) {
      sum += decode_packet_number(largest, (largest + 1 + (i & 7)) & 0xffff, 2);
      largest += i & 1;
    }
    bench::keep(sum);
  });
  bench::report("packet number decode", r);
}

// A 1-RTT packet as a bulk sender emits it: ACK + one STREAM frame filling
// a 1350-byte packet.
std::vector<std::uint8_t> one_rtt_packet(std::size_t* payload_offset) {
  std::vector<std::uint8_t> pkt(1350);
  Writer w(pkt);
  std::size_t pn_offset = 0;
  ShortHeaderSpec h;
  h.dcid = ByteSpan(kCid);
  h.packet_number = 1000;
  h.pn_length = 2;
  if (!encode_short_header(w, h, &pn_offset)) std::abort();
  *payload_offset = w.written();
  const AckRange ranges[] = {{900, 999}, {850, 890}, {700, 840}};
  if (!encode_ack(ranges, 100, nullptr, w)) std::abort();
  const std::size_t budget = w.remaining() - 16;  // leave the AEAD tag
  const std::size_t len = max_stream_data(4, 1 << 20, false, budget, 1 << 20);
  static std::vector<std::uint8_t> data(2048, 0xab);
  StreamFrame s;
  s.stream_id = 4;
  s.offset = 1 << 20;
  s.data = ByteSpan(data.data(), len);
  s.has_length = false;
  if (!encode_frame(Frame(s), w)) std::abort();
  pkt.resize(w.written() + 16);
  return pkt;
}

void bench_headers() {
  std::size_t payload_offset = 0;
  const auto pkt = one_rtt_packet(&payload_offset);
  const auto inv = bench::measure(50'000'000, kReps, [&](std::uint64_t ops) {
    std::size_t sum = 0;
    for (std::uint64_t i = 0; i < ops; ++i) {
      InvariantHeader h;
      if (parse_invariant_header(ByteSpan(pkt), kCidLen, &h) == PacketDropReason::kNone)
        sum += h.dcid[0];
    }
    bench::keep(sum);
  });
  bench::report("invariant header parse (dispatch)", inv);

  // Initial + Handshake + 1-RTT coalesced into one datagram.
  std::vector<std::uint8_t> dgram(1350);
  Writer w(dgram);
  for (PacketType t : {PacketType::kInitial, PacketType::kHandshake}) {
    LongHeaderSpec s;
    s.type = t;
    s.dcid = ByteSpan(kCid);
    s.scid = ByteSpan(kCid);
    s.length = 2 + 300;
    s.pn_length = 2;
    LongHeaderLayout layout;
    if (!encode_long_header(w, s, &layout)) std::abort();
    w.fill(0, 300);
  }
  w.write_bytes(ByteSpan(pkt).first(400));
  dgram.resize(w.written());
  const auto co = bench::measure(10'000'000, kReps, [&](std::uint64_t ops) {
    std::size_t sum = 0;
    for (std::uint64_t i = 0; i < ops; ++i) {
      CoalescedPackets walk(ByteSpan(dgram), kCidLen);
      PacketHeader h;
      while (walk.next(&h))
        sum += h.packet_end;
    }
    bench::keep(sum);
  });
  bench::report("coalesced datagram split (3 packets)", co);
}

void bench_frames() {
  std::size_t payload_offset = 0;
  const auto pkt = one_rtt_packet(&payload_offset);
  const ByteSpan payload = ByteSpan(pkt).subspan(payload_offset, pkt.size() - payload_offset - 16);
  const auto dec = bench::measure(20'000'000, kReps, [&](std::uint64_t ops) {
    std::size_t sum = 0;
    for (std::uint64_t i = 0; i < ops; ++i) {
      Reader r(payload);
      Frame f;
      while (!r.empty() && decode_frame(r, &f) == TransportError::kNoError)
        sum += f.index();
    }
    bench::keep(sum);
  });
  bench::report("frame decode, 1-RTT packet (ACK+STREAM)", dec, static_cast<double>(pkt.size()));

  // Control-heavy payload: 40 small frames.
  std::vector<std::uint8_t> ctl(1200);
  Writer w(ctl);
  for (int i = 0; i < 10; ++i) {
    MaxStreamDataFrame msd;
    msd.stream_id = 4 * i;
    msd.maximum_stream_data = 1u << 24;
    MaxDataFrame md;
    md.maximum_data = 1u << 30;
    StreamFrame s;
    s.stream_id = 4 * i;
    s.offset = 100;
    static const std::uint8_t small[20] = {};
    s.data = ByteSpan(small);
    s.has_length = true;
    if (!encode_frame(Frame(msd), w) || !encode_frame(Frame(md), w) ||
        !encode_frame(Frame(PingFrame{}), w) || !encode_frame(Frame(s), w))
      std::abort();
  }
  ctl.resize(w.written());
  const auto many = bench::measure(2'000'000, kReps, [&](std::uint64_t ops) {
    std::size_t sum = 0;
    for (std::uint64_t i = 0; i < ops; ++i) {
      Reader r{ByteSpan(ctl)};
      Frame f;
      while (!r.empty() && decode_frame(r, &f) == TransportError::kNoError)
        sum += f.index();
    }
    bench::keep(sum);
  });
  bench::report("frame decode, 40 small frames / packet", many);

  const auto enc = bench::measure(20'000'000, kReps, [&](std::uint64_t ops) {
    std::array<std::uint8_t, 1350> out;
    static std::vector<std::uint8_t> data(2048, 0xab);
    std::size_t sum = 0;
    for (std::uint64_t i = 0; i < ops; ++i) {
      Writer pw(out);
      ShortHeaderSpec h;
      h.dcid = ByteSpan(kCid);
      h.packet_number = i;
      h.pn_length = 2;
      std::size_t pn_offset;
      if (!encode_short_header(pw, h, &pn_offset)) std::abort();
      const std::size_t len = max_stream_data(4, i * 1300, false, pw.remaining() - 16, 2048);
      StreamFrame s;
      s.stream_id = 4;
      s.offset = i * 1300;
      s.data = ByteSpan(data.data(), len);
      s.has_length = false;
      // Header only: the payload bytes are the AEAD's source, not copied here.
      s.data = s.data.first(0);
      sum += encode_frame(Frame(s), pw) + len;
    }
    bench::keep(sum);
  });
  bench::report("1-RTT packet layout (header+STREAM hdr)", enc);
}

void bench_transport_params() {
  TransportParameters p;
  p.max_idle_timeout = 30000;
  p.initial_max_data = 1 << 24;
  p.initial_max_stream_data_bidi_local = 1 << 20;
  p.initial_max_stream_data_bidi_remote = 1 << 20;
  p.initial_max_stream_data_uni = 1 << 20;
  p.initial_max_streams_bidi = 100;
  p.initial_max_streams_uni = 3;
  p.max_datagram_frame_size = 1200;
  ConnectionId cid;
  if (!ConnectionId::from(ByteSpan(kCid), &cid)) std::abort();
  p.original_destination_connection_id = cid;
  p.initial_source_connection_id = cid;
  p.stateless_reset_token = StatelessResetToken{};
  std::array<std::uint8_t, 256> buf;
  Writer w(buf);
  if (!encode_transport_parameters(p, EndpointRole::kServer, w)) std::abort();
  const ByteSpan enc(buf.data(), w.written());
  const auto r = bench::measure(5'000'000, kReps, [&](std::uint64_t ops) {
    std::size_t sum = 0;
    for (std::uint64_t i = 0; i < ops; ++i) {
      TransportParameters out;
      sum +=
          decode_transport_parameters(enc, EndpointRole::kServer, &out) == TransportError::kNoError;
    }
    bench::keep(sum);
  });
  bench::report("transport parameters decode (server)", r);
}

}  // namespace
}  // namespace dquic

int main() {
  std::printf("dquic wire codec, median of %d runs (tsc = timestamp counter ticks)\n",
              dquic::kReps);
  dquic::bench_varint();
  dquic::bench_packet_number();
  dquic::bench_headers();
  dquic::bench_frames();
  dquic::bench_transport_params();
  return 0;
}
