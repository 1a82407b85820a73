// HTTP/3 frames (RFC 9114 §7): the incremental reader, SETTINGS, the
// one-varint control frames, and every rejection path.
#include "h3/h3_frame.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <vector>

namespace dquic {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes frame(std::uint64_t type, const Bytes& payload) {
  Bytes out(payload.size() + kH3MaxFrameHeader);
  Writer w(out);
  write_frame_header(w, type, payload.size());
  w.write_bytes(ByteSpan(payload.data(), payload.size()));
  out.resize(w.written());
  return out;
}

struct Seen {
  std::vector<H3FrameHeader> headers;
  std::vector<Bytes> frames;  // buffered payloads
  Bytes data;                 // streamed payload bytes
  int data_ends = 0;
  H3Error error = H3Error::kNoError;
};

// Feeds `in` in pieces of `step` bytes (0: all at once).
Seen feed(H3FrameReader& r, const Bytes& in, std::size_t step = 0) {
  Seen s;
  std::size_t pos = 0;
  while (pos < in.size() || step == 0) {
    const std::size_t n = step == 0 ? in.size() : std::min(step, in.size() - pos);
    ByteSpan piece(in.data() + pos, n);
    pos += n;
    for (;;) {
      const H3FrameReader::Result res = r.next(piece);
      piece = piece.subspan(res.consumed);
      if (res.event == H3FrameReader::Event::kNeedMore) break;
      if (res.event == H3FrameReader::Event::kError) {
        s.error = res.error;
        return s;
      }
      if (res.event == H3FrameReader::Event::kHeader) s.headers.push_back(res.header);
      if (res.event == H3FrameReader::Event::kFrame)
        s.frames.emplace_back(res.payload.begin(), res.payload.end());
      if (res.event == H3FrameReader::Event::kData) {
        s.data.insert(s.data.end(), res.payload.begin(), res.payload.end());
        if (res.frame_end) ++s.data_ends;
      }
    }
    if (step == 0) break;
  }
  return s;
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts)
    out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(H3Frame, GreaseAndReservedTypes) {
  EXPECT_TRUE(h3_is_grease(0x21));
  EXPECT_TRUE(h3_is_grease(0x21 + 0x1f));
  EXPECT_TRUE(h3_is_grease(0x21 + 0x1f * 1000));
  EXPECT_FALSE(h3_is_grease(0x20));
  EXPECT_FALSE(h3_is_grease(0x22));
  EXPECT_FALSE(h3_is_grease(0));
  for (std::uint64_t t : std::initializer_list<std::uint64_t>{0x02, 0x06, 0x08, 0x09})
    EXPECT_TRUE(h3_is_http2_frame_type(t));
  for (std::uint64_t t : {0x00, 0x01, 0x03, 0x04, 0x05, 0x07, 0x0d, 0x21})
    EXPECT_FALSE(h3_is_http2_frame_type(t));
  for (std::uint64_t id : {0x00, 0x02, 0x03, 0x04, 0x05})
    EXPECT_TRUE(h3_is_http2_setting(id));
  for (std::uint64_t id : {0x01, 0x06, 0x07, 0x08, 0x21})
    EXPECT_FALSE(h3_is_http2_setting(id));
}

TEST(H3Frame, ReaderSplitsFramesAtEveryChunkSize) {
  Bytes data_payload(300);
  for (std::size_t i = 0; i < data_payload.size(); ++i)
    data_payload[i] = static_cast<std::uint8_t>(i * 3);
  const Bytes headers_payload = {1, 2, 3, 4, 5};
  const Bytes in = concat({frame(0x01, headers_payload), frame(0x00, data_payload),
                           frame(0x21, Bytes(70, 9)),                // grease: skipped
                           frame(0x00, {}), frame(0xf0700, {1, 2}),  // PRIORITY_UPDATE skipped
                           frame(0x07, {0x04})});
  for (std::size_t step : {0, 1, 2, 3, 7, 64, 1000}) {
    H3FrameReader r;
    const Seen s = feed(r, in, step);
    EXPECT_EQ(s.error, H3Error::kNoError) << step;
    ASSERT_EQ(s.headers.size(), 6u) << step;
    EXPECT_EQ(s.headers[0].type, 0x01u);
    EXPECT_EQ(s.headers[1].length, 300u);
    EXPECT_EQ(s.headers[2].type, 0x21u);
    EXPECT_EQ(s.headers[4].type, 0xf0700u);
    ASSERT_EQ(s.frames.size(), 2u) << step;
    EXPECT_EQ(s.frames[0], headers_payload);
    EXPECT_EQ(s.frames[1], Bytes{0x04});
    EXPECT_EQ(s.data, data_payload) << step;
    EXPECT_EQ(s.data_ends, 2) << step;  // the empty DATA frame too
    EXPECT_TRUE(r.at_boundary());
    EXPECT_EQ(r.on_end(), H3Error::kNoError);
  }
}

// Random frame sequences cut at random points parse the same as whole.
TEST(H3Frame, RandomSplitsMatchWholeParse) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    Bytes in;
    Seen expect;
    const int frames = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < frames; ++i) {
      const std::uint64_t types[] = {0x00, 0x01, 0x04, 0x21 + 0x1f * (rng() % 50), 0x0d};
      const std::uint64_t t = types[rng() % 5];
      Bytes payload(t == 0x0d ? 1 : rng() % (t == 0x04 ? kH3MaxSettingsPayload : 3000));
      for (auto& b : payload)
        b = static_cast<std::uint8_t>(rng());
      if (t == 0x0d) payload[0] &= 0x3f;
      const Bytes f = frame(t, payload);
      in.insert(in.end(), f.begin(), f.end());
      expect.headers.push_back({t, payload.size()});
      if (t == 0x00) {
        expect.data.insert(expect.data.end(), payload.begin(), payload.end());
        ++expect.data_ends;
      } else if (t == 0x01 || t == 0x04 || t == 0x0d) {
        expect.frames.push_back(payload);
      }
    }
    H3FrameReader r;
    const Seen got = feed(r, in, 1 + rng() % 700);
    ASSERT_EQ(got.error, H3Error::kNoError);
    ASSERT_EQ(got.headers.size(), expect.headers.size());
    for (std::size_t i = 0; i < got.headers.size(); ++i) {
      EXPECT_EQ(got.headers[i].type, expect.headers[i].type);
      EXPECT_EQ(got.headers[i].length, expect.headers[i].length);
    }
    EXPECT_EQ(got.frames, expect.frames);
    EXPECT_EQ(got.data, expect.data);
    EXPECT_EQ(got.data_ends, expect.data_ends);
    EXPECT_EQ(r.on_end(), H3Error::kNoError);
  }
}

TEST(H3Frame, LongVarintsInHeader) {
  // Type and length in 8-byte varints (§7.1 allows any encoding length).
  Bytes in = {0xc0, 0, 0, 0, 0, 0, 0, 0x01, 0xc0, 0, 0, 0, 0, 0, 0, 0x02, 0xaa, 0xbb};
  for (std::size_t step : {1, 3, 100}) {
    H3FrameReader r;
    const Seen s = feed(r, in, step);
    ASSERT_EQ(s.frames.size(), 1u);
    EXPECT_EQ(s.frames[0], (Bytes{0xaa, 0xbb}));
  }
}

TEST(H3Frame, TruncatedFrameAtEndIsFrameError) {
  {
    H3FrameReader r;
    const Bytes f = frame(0x01, {1, 2, 3});
    feed(r, Bytes(f.begin(), f.end() - 1));
    EXPECT_EQ(r.on_end(), H3Error::kFrameError);  // §7.1
  }
  {
    H3FrameReader r;
    feed(r, Bytes{0x40});  // half a type varint
    EXPECT_EQ(r.on_end(), H3Error::kFrameError);
  }
  {
    H3FrameReader r;
    feed(r, Bytes{0x00, 0x05, 1, 2});  // DATA cut short
    EXPECT_EQ(r.on_end(), H3Error::kFrameError);
  }
  {
    H3FrameReader r;
    feed(r, Bytes{0x21, 0x05, 1});  // even an unknown frame
    EXPECT_EQ(r.on_end(), H3Error::kFrameError);
  }
}

TEST(H3Frame, BufferedFrameLimits) {
  H3FrameReaderLimits lim;
  lim.max_field_section = 100;
  {
    H3FrameReader r(lim);
    EXPECT_EQ(feed(r, frame(0x01, Bytes(100, 1))).error, H3Error::kNoError);
  }
  {
    H3FrameReader r(lim);  // HEADERS above our field section limit
    Bytes hdr = {0x01, 0x40, 101};
    const Seen seen = feed(r, hdr);
    EXPECT_EQ(seen.error, H3Error::kExcessiveLoad);
    ASSERT_EQ(seen.headers.size(), 1u);  // the header first: placement checks come first
    EXPECT_EQ(seen.headers[0].length, 101u);
    EXPECT_EQ(r.on_end(), H3Error::kFrameError);  // a failed reader never ends cleanly
    EXPECT_EQ(r.next({}).event, H3FrameReader::Event::kError);  // sticky
  }
  {
    H3FrameReader r(lim);
    EXPECT_EQ(feed(r, Bytes{0x05, 0x40, 101}).error, H3Error::kExcessiveLoad);  // PUSH_PROMISE
  }
  {
    H3FrameReader r;  // SETTINGS above the fixed cap
    Bytes hdr(8);
    Writer w(hdr);
    write_frame_header(w, 0x04, kH3MaxSettingsPayload + 1);
    hdr.resize(w.written());
    EXPECT_EQ(feed(r, hdr).error, H3Error::kExcessiveLoad);
  }
  for (std::uint64_t t : {0x03, 0x07, 0x0d}) {
    H3FrameReader r;  // one-varint frames longer than 8 bytes cannot be valid
    EXPECT_EQ(feed(r, frame(t, Bytes(9, 0))).error, H3Error::kFrameError) << t;
  }
  {
    H3FrameReader r;  // DATA and unknown frames are not buffered: any size
    Bytes hdr = {0x00, 0x80, 0x10, 0x00, 0x00};
    EXPECT_EQ(feed(r, hdr).error, H3Error::kNoError);
    H3FrameReader r2;
    Bytes unk = {0x21, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    EXPECT_EQ(feed(r2, unk).error, H3Error::kNoError);
  }
}

TEST(H3Frame, VarintFramesRoundTrip) {
  for (std::uint64_t v :
       std::initializer_list<std::uint64_t>{0, 63, 64, 16383, 16384, 1u << 30, kVarintMax}) {
    Bytes out(32);
    Writer w(out);
    write_varint_frame(w, H3FrameType::kGoaway, v);
    out.resize(w.written());
    H3FrameReader r;
    const Seen s = feed(r, out);
    ASSERT_EQ(s.frames.size(), 1u);
    std::uint64_t got = 0;
    EXPECT_EQ(decode_varint_payload(ByteSpan(s.frames[0].data(), s.frames[0].size()), &got),
              H3Error::kNoError);
    EXPECT_EQ(got, v);
  }
  std::uint64_t v = 0;
  const Bytes extra = {0x04, 0x00};
  EXPECT_EQ(decode_varint_payload(ByteSpan(extra.data(), extra.size()), &v), H3Error::kFrameError);
  const Bytes cut = {0x40};
  EXPECT_EQ(decode_varint_payload(ByteSpan(cut.data(), cut.size()), &v), H3Error::kFrameError);
  EXPECT_EQ(decode_varint_payload({}, &v), H3Error::kFrameError);
}

Bytes settings_payload(std::initializer_list<std::pair<std::uint64_t, std::uint64_t>> kv) {
  Bytes out(512);
  Writer w(out);
  for (auto [k, v] : kv) {
    w.write_varint(k);
    w.write_varint(v);
  }
  out.resize(w.written());
  return out;
}

H3Error decode(const Bytes& p, H3Settings* s) {
  return decode_settings(ByteSpan(p.data(), p.size()), s);
}

TEST(H3Frame, SettingsRoundTrip) {
  H3Settings s;
  s.qpack_max_table_capacity = 4096;
  s.qpack_blocked_streams = 100;
  s.max_field_section_size = 65536;
  Bytes out(128);
  Writer w(out);
  ASSERT_TRUE(write_settings_frame(s, w, 0x21 + 0x1f * 3));
  out.resize(w.written());
  H3FrameReader r;
  const Seen seen = feed(r, out);
  ASSERT_EQ(seen.headers.size(), 1u);
  EXPECT_EQ(seen.headers[0].type, 0x04u);
  ASSERT_EQ(seen.frames.size(), 1u);
  H3Settings got;
  ASSERT_EQ(decode(seen.frames[0], &got), H3Error::kNoError);
  EXPECT_EQ(got, s);

  // Defaults are omitted: an empty SETTINGS frame.
  Bytes empty(16);
  Writer we(empty);
  ASSERT_TRUE(write_settings_frame(H3Settings{}, we));
  EXPECT_EQ(we.written(), 2u);
  H3Settings d;
  EXPECT_EQ(decode({}, &d), H3Error::kNoError);
  EXPECT_EQ(d, H3Settings{});
  EXPECT_EQ(d.max_field_section_size, kH3Unlimited);

  Bytes bad(16);
  Writer wb(bad);
  EXPECT_FALSE(write_settings_frame(H3Settings{}, wb, 0x22));  // not a grease id
}

TEST(H3Frame, SettingsIgnoresUnknownAndGrease) {
  H3Settings s;
  EXPECT_EQ(
      decode(settings_payload({{0x21, 7}, {0x01, 100}, {0x08, 1}, {0x33, 1}, {0x1234567, 9}}), &s),
      H3Error::kNoError);
  EXPECT_EQ(s.qpack_max_table_capacity, 100u);
  EXPECT_EQ(s.qpack_blocked_streams, 0u);
}

TEST(H3Frame, SettingsRejections) {
  H3Settings s;
  s.qpack_blocked_streams = 55;
  // §7.2.4: duplicates, known or not.
  EXPECT_EQ(decode(settings_payload({{0x01, 1}, {0x01, 1}}), &s), H3Error::kSettingsError);
  EXPECT_EQ(decode(settings_payload({{0x21, 1}, {0x06, 5}, {0x21, 2}}), &s),
            H3Error::kSettingsError);
  // §7.2.4.1: HTTP/2 identifiers.
  for (std::uint64_t id : {0x00, 0x02, 0x03, 0x04, 0x05})
    EXPECT_EQ(decode(settings_payload({{id, 1}}), &s), H3Error::kSettingsError) << id;
  // §7.1: a pair cut short.
  Bytes cut = settings_payload({{0x01, 100}});
  cut.pop_back();
  EXPECT_EQ(decode(cut, &s), H3Error::kFrameError);
  EXPECT_EQ(decode(Bytes{0x06}, &s), H3Error::kFrameError);
  // §10.5: too many entries or bytes.
  Bytes many;
  for (std::uint64_t i = 0; i <= kH3MaxSettingsEntries; ++i) {
    const Bytes one = settings_payload({{0x21 + 0x1f * i, 0}});
    many.insert(many.end(), one.begin(), one.end());
  }
  EXPECT_EQ(decode(many, &s), H3Error::kExcessiveLoad);
  EXPECT_EQ(decode(Bytes(kH3MaxSettingsPayload + 1, 0), &s), H3Error::kExcessiveLoad);
  EXPECT_EQ(s.qpack_blocked_streams, 55u);  // untouched on error
}

}  // namespace
}  // namespace dquic
