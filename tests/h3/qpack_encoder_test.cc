// QPACK encoder (RFC 9204 §2.1, §4): Appendix B bytes from the instruction
// writers and from the encoder, decoder-stream handling and its errors, the
// blocked-streams and eviction rules, and round trips through the decoder
// with and without the dynamic table.
#include "h3/qpack_encoder.h"

#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>
#include <vector>

#include "h3/qpack_decoder.h"
#include "h3/qpack_instructions.h"
#include "tests/h3/test_bytes.h"

namespace dquic {
namespace {

using test::hex;

std::string hexw(const Writer& w) {
  return test::to_hex(w.data(), w.written());
}

// The instruction writers reproduce every byte of Appendix B.
TEST(QpackInstructions, AppendixBBytes) {
  std::uint8_t buf[128];
  {
    Writer w(buf);  // B.1 stream 0
    qpack_write_section_prefix(w, 0, false, 0);
    qpack_write_literal_name_ref(w, false, true, 1, "/index.html", false);
    EXPECT_EQ(hexw(w), "0000510b2f696e6465782e68746d6c");
  }
  {
    Writer w(buf);  // B.2 encoder stream
    qpack_write_set_capacity(w, 220);
    qpack_write_insert_name_ref(w, true, 0, "www.example.com", false);
    qpack_write_insert_name_ref(w, true, 1, "/sample/path", false);
    EXPECT_EQ(hexw(w), "3fbd01c00f7777772e6578616d706c652e636f6dc10c2f73616d706c652f70617468");
  }
  {
    Writer w(buf);  // B.2 stream 4: RIC 2 (encoded 3), Base 0 (S=1, delta 1)
    qpack_write_section_prefix(w, 3, true, 1);
    qpack_write_indexed_post_base(w, 0);
    qpack_write_indexed_post_base(w, 1);
    EXPECT_EQ(hexw(w), "03811011");
  }
  {
    Writer w(buf);  // B.2 decoder stream
    qpack_write_section_ack(w, 4);
    EXPECT_EQ(hexw(w), "84");
  }
  {
    Writer w(buf);  // B.3 encoder stream, then decoder stream
    qpack_write_insert_literal_name(w, "custom-key", "custom-value", false, false);
    EXPECT_EQ(hexw(w), "4a637573746f6d2d6b65790c637573746f6d2d76616c7565");
    Writer d(buf);
    qpack_write_insert_count_increment(d, 1);
    EXPECT_EQ(hexw(d), "01");
  }
  {
    Writer w(buf);  // B.4 encoder stream, stream 8, decoder stream
    qpack_write_duplicate(w, 2);
    EXPECT_EQ(hexw(w), "02");
    Writer s(buf);
    qpack_write_section_prefix(s, 5, false, 0);
    qpack_write_indexed(s, false, 0);
    qpack_write_indexed(s, true, 1);
    qpack_write_indexed(s, false, 1);
    EXPECT_EQ(hexw(s), "050080c181");
    Writer d(buf);
    qpack_write_stream_cancellation(d, 8);
    EXPECT_EQ(hexw(d), "48");
  }
  {
    Writer w(buf);  // B.5 encoder stream
    qpack_write_insert_name_ref(w, false, 1, "custom-value2", false);
    EXPECT_EQ(hexw(w), "810d637573746f6d2d76616c756532");
  }
}

struct Pair {
  QpackEncoder enc;
  QpackDecoder dec;
  std::vector<std::uint8_t> encoder_stream;  // bytes sent, not yet delivered
  std::vector<std::uint8_t> decoder_stream;
  Pair(QpackEncoderConfig e, QpackDecoderConfig d) : enc(e), dec(d) {}

  // Encodes on `stream`, returns the section bytes (encoder-stream bytes
  // are queued in encoder_stream).
  std::vector<std::uint8_t> encode(std::uint64_t stream, const std::vector<QpackField>& fields) {
    std::vector<std::uint8_t> sec(4096), es(4096);
    Writer s(sec), e(es);
    EXPECT_EQ(enc.encode(stream, fields, s, e), QpackStatus::kOk);
    sec.resize(s.written());
    encoder_stream.insert(encoder_stream.end(), es.begin(),
                          es.begin() + static_cast<long>(e.written()));
    return sec;
  }
  void deliver_encoder_stream() {
    std::size_t consumed = 0;
    ASSERT_EQ(dec.on_encoder_stream(encoder_stream, &consumed), QpackStatus::kOk);
    ASSERT_EQ(consumed, encoder_stream.size());
    encoder_stream.clear();
  }
  QpackStatus decode(std::uint64_t stream, const std::vector<std::uint8_t>& sec,
                     std::vector<std::string>* out) {
    struct S final : QpackFieldSink {
      std::vector<std::string>* out;
      bool on_field(const QpackField& f) override {
        out->push_back(test::cat(f.never_index ? "!" : "", f.name, "=", f.value));
        return true;
      }
    } sink;
    sink.out = out;
    out->clear();
    std::uint8_t ds[64];
    Writer w(ds);
    const QpackStatus st = dec.decode(stream, sec, sink, w);
    decoder_stream.insert(decoder_stream.end(), ds, ds + w.written());
    return st;
  }
  void deliver_decoder_stream(bool with_increment = true) {
    if (with_increment) {
      std::uint8_t ds[16];
      Writer w(ds);
      ASSERT_TRUE(dec.write_insert_count_increment(w));
      decoder_stream.insert(decoder_stream.end(), ds, ds + w.written());
    }
    std::size_t consumed = 0;
    ASSERT_EQ(enc.on_decoder_stream(decoder_stream, &consumed), QpackStatus::kOk);
    ASSERT_EQ(consumed, decoder_stream.size());
    decoder_stream.clear();
  }
};

std::vector<std::string> lines(const std::vector<QpackField>& fields) {
  std::vector<std::string> out;
  for (const QpackField& f : fields)
    out.push_back(test::cat(f.never_index ? "!" : "", f.name, "=", f.value));
  return out;
}

TEST(QpackEncoder, AppendixB1StaticOnly) {
  QpackEncoderConfig c;
  c.huffman = false;
  QpackEncoder enc(c);  // peer capacity 0
  std::uint8_t sec[64], es[64];
  Writer s(sec), e(es);
  const QpackField f[] = {{":path", "/index.html"}};
  ASSERT_EQ(enc.encode(0, f, s, e), QpackStatus::kOk);
  EXPECT_EQ(hexw(s), "0000510b2f696e6465782e68746d6c");
  EXPECT_EQ(e.written(), 0u);  // §3.2.3: no encoder instructions at capacity 0
}

TEST(QpackEncoder, PeerCapacityBelowOneEntryIsNoTable) {
  QpackEncoderConfig c;
  c.peer_max_table_capacity = 31;  // MaxEntries 0: no entry could ever fit
  c.peer_blocked_streams = 10;
  QpackEncoder enc(c);
  std::uint8_t sec[64], es[64];
  Writer s(sec), e(es);
  const QpackField f[] = {{"x-a", "1"}};
  ASSERT_EQ(enc.encode(0, f, s, e), QpackStatus::kOk);
  EXPECT_EQ(e.written(), 0u);
  EXPECT_EQ(sec[0], 0u);
}

TEST(QpackEncoder, AppendixB2EncoderStream) {
  QpackEncoderConfig c;
  c.peer_max_table_capacity = 220;
  c.peer_blocked_streams = 1;
  c.huffman = false;
  QpackEncoder enc(c);
  std::uint8_t sec[64], es[128];
  Writer s(sec), e(es);
  const QpackField f[] = {{":authority", "www.example.com"}, {":path", "/sample/path"}};
  ASSERT_EQ(enc.encode(4, f, s, e), QpackStatus::kOk);
  // Same encoder-stream bytes as B.2.
  EXPECT_EQ(hexw(e), "3fbd01c00f7777772e6578616d706c652e636f6dc10c2f73616d706c652f70617468");
  // Our section uses Base = Required Insert Count = 2: relative 1 and 0.
  EXPECT_EQ(hexw(s), "03008180");
  EXPECT_EQ(enc.table().size(), 106u);
  EXPECT_EQ(enc.blocking_stream_count(), 1u);
  // B.2 decoder stream: 84 acknowledges, Known Received Count becomes 2.
  std::size_t consumed = 0;
  ASSERT_EQ(enc.on_decoder_stream(hex("84"), &consumed), QpackStatus::kOk);
  EXPECT_EQ(consumed, 1u);
  EXPECT_EQ(enc.known_received_count(), 2u);
  EXPECT_EQ(enc.blocking_stream_count(), 0u);
  EXPECT_EQ(enc.unacknowledged_section_count(), 0u);
  // Acknowledging stream 4 again is an error (§4.4.1).
  EXPECT_EQ(enc.on_decoder_stream(hex("84"), &consumed), QpackStatus::kDecoderStreamError);
  EXPECT_EQ(qpack_error_code(QpackStatus::kDecoderStreamError), 0x202u);
}

TEST(QpackEncoder, DecoderStreamErrors) {
  QpackEncoderConfig c;
  c.peer_max_table_capacity = 220;
  c.peer_blocked_streams = 1;
  {
    QpackEncoder enc(c);
    std::size_t consumed;
    EXPECT_EQ(enc.on_decoder_stream(hex("00"), &consumed), QpackStatus::kDecoderStreamError)
        << "increment of zero";
  }
  {
    QpackEncoder enc(c);
    std::size_t consumed;
    EXPECT_EQ(enc.on_decoder_stream(hex("01"), &consumed), QpackStatus::kDecoderStreamError)
        << "increment beyond inserts";
  }
  {
    QpackEncoder enc(c);
    std::size_t consumed;
    EXPECT_EQ(enc.on_decoder_stream(hex("80"), &consumed), QpackStatus::kDecoderStreamError)
        << "ack without section";
  }
  {
    QpackEncoder enc(c);
    std::size_t consumed;
    EXPECT_EQ(enc.on_decoder_stream(hex("ff ffffffffffffffffff 01"), &consumed),
              QpackStatus::kDecoderStreamError)
        << "overflow";
  }
  {
    QpackEncoder enc(c);
    std::size_t consumed = 9;
    // Stream Cancellation of an unknown stream is fine; a partial ack waits.
    ASSERT_EQ(enc.on_decoder_stream(hex("48 ff"), &consumed), QpackStatus::kOk);
    EXPECT_EQ(consumed, 1u);
  }
}

std::vector<QpackField> request(int i) {
  static std::deque<std::string> paths;  // keeps the strings alive (no reallocation)
  static const char* kUa = "dquic-test/1.0 (linux; x86_64)";
  paths.push_back(test::cat("/assets/item-", std::to_string(i % 13), ".js"));
  return {{":method", i % 3 ? "GET" : "POST"},
          {":scheme", "https"},
          {":authority", "www.example.com"},
          {":path", paths.back()},
          {"user-agent", kUa},
          {"x-request-class", i % 2 ? "alpha" : "beta"},
          {"authorization", "Bearer secret-token", true},
          {"accept", "*/*"}};
}

void round_trip(QpackEncoderConfig ec, QpackDecoderConfig dc, int n, bool deliver_late) {
  Pair p(ec, dc);
  std::size_t total_bytes = 0;
  for (int i = 0; i < n; ++i) {
    const std::uint64_t stream = static_cast<std::uint64_t>(i) * 4;
    const auto fields = request(i);
    const auto sec = p.encode(stream, fields);
    total_bytes += sec.size();
    std::vector<std::string> got;
    if (deliver_late) {
      // The section overtakes the encoder stream: it may block, within the limit.
      const QpackStatus st = p.decode(stream, sec, &got);
      ASSERT_TRUE(st == QpackStatus::kOk || st == QpackStatus::kBlocked) << static_cast<int>(st);
      ASSERT_LE(p.dec.blocked_stream_count(), dc.max_blocked_streams);
      p.deliver_encoder_stream();
      if (st == QpackStatus::kBlocked) {
        std::uint64_t ids[8];
        ASSERT_EQ(p.dec.unblocked_streams(ids), 1u);
        ASSERT_EQ(p.decode(stream, sec, &got), QpackStatus::kOk);
      }
    } else {
      p.deliver_encoder_stream();
      ASSERT_EQ(p.decode(stream, sec, &got), QpackStatus::kOk);
    }
    EXPECT_EQ(got, lines(fields)) << i;
    p.deliver_decoder_stream();
    ASSERT_EQ(p.enc.table().insert_count(), p.dec.table().insert_count());
    ASSERT_EQ(p.enc.table().size(), p.dec.table().size());
  }
  EXPECT_EQ(p.enc.unacknowledged_section_count(), 0u);
  EXPECT_EQ(p.enc.known_received_count(), p.enc.table().insert_count());
  // Never-indexed fields stay out of the table.
  EXPECT_FALSE(p.enc.table().find("authorization", "Bearer secret-token").value_matches);
  (void)total_bytes;
}

TEST(QpackEncoder, RoundTripStaticOnly) {
  QpackEncoderConfig ec;  // peer capacity 0
  QpackDecoderConfig dc;
  round_trip(ec, dc, 50, false);
}

TEST(QpackEncoder, RoundTripStaticOnlyWithoutHuffman) {
  QpackEncoderConfig ec;
  ec.huffman = false;
  round_trip(ec, QpackDecoderConfig{}, 20, false);
}

TEST(QpackEncoder, RoundTripDynamic) {
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 4096;
  ec.peer_blocked_streams = 16;
  QpackDecoderConfig dc;
  dc.max_table_capacity = 4096;
  dc.max_blocked_streams = 16;
  round_trip(ec, dc, 200, false);
}

TEST(QpackEncoder, RoundTripDynamicSmallTableEvicts) {
  // A 256-byte table: entries are evicted all the time, the wrap of the
  // Required Insert Count (MaxEntries 8) is exercised.
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 256;
  ec.peer_blocked_streams = 4;
  QpackDecoderConfig dc;
  dc.max_table_capacity = 256;
  dc.max_blocked_streams = 4;
  round_trip(ec, dc, 300, false);
  round_trip(ec, dc, 300, true);
}

TEST(QpackEncoder, RoundTripNoBlockingAllowed) {
  // peer_blocked_streams 0: only acknowledged entries are referenced, so a
  // section never blocks even when it overtakes the encoder stream.
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 1024;
  QpackDecoderConfig dc;
  dc.max_table_capacity = 1024;
  round_trip(ec, dc, 100, true);
}

TEST(QpackEncoder, RoundTripOurCapacitySmallerThanPeers) {
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 4096;
  ec.peer_blocked_streams = 2;
  ec.max_table_capacity = 300;
  QpackDecoderConfig dc;
  dc.max_table_capacity = 4096;
  dc.max_blocked_streams = 2;
  round_trip(ec, dc, 100, true);
}

TEST(QpackEncoder, DynamicTableShrinksSections) {
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 4096;
  ec.peer_blocked_streams = 16;
  QpackDecoderConfig dc;
  dc.max_table_capacity = 4096;
  dc.max_blocked_streams = 16;
  Pair p(ec, dc);
  const std::vector<QpackField> f = {{"user-agent", "dquic-test/1.0 (linux; x86_64)"},
                                     {"x-custom", "some-long-value-here"}};
  const auto first = p.encode(0, f);
  p.deliver_encoder_stream();
  std::vector<std::string> got;
  ASSERT_EQ(p.decode(0, first, &got), QpackStatus::kOk);
  p.deliver_decoder_stream();
  const auto second = p.encode(4, f);
  EXPECT_TRUE(p.encoder_stream.empty());  // nothing new to insert
  EXPECT_EQ(second.size(), 4u);           // prefix + two indexed lines
  ASSERT_EQ(p.decode(4, second, &got), QpackStatus::kOk);
  EXPECT_EQ(got, lines(f));
}

TEST(QpackEncoder, RespectsBlockedStreamsLimit) {
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 4096;
  ec.peer_blocked_streams = 1;
  QpackEncoder enc(ec);
  std::uint8_t sec[256], es[512];
  const QpackField a[] = {{"x-a", "1"}};
  const QpackField b[] = {{"x-b", "2"}};
  Writer s1(sec), e1(es);
  ASSERT_EQ(enc.encode(0, a, s1, e1), QpackStatus::kOk);
  EXPECT_EQ(enc.blocking_stream_count(), 1u);  // references its unacknowledged insert
  Writer s2(sec), e2(es);
  ASSERT_EQ(enc.encode(4, b, s2, e2), QpackStatus::kOk);
  EXPECT_EQ(enc.blocking_stream_count(), 1u);  // stream 4 could not block
  EXPECT_EQ(sec[0], 0u);                       // Required Insert Count 0
  EXPECT_EQ(enc.table().insert_count(), 2u);   // but x-b was inserted for later
  // Stream 0 may block again (it is already counted).
  Writer s3(sec), e3(es);
  ASSERT_EQ(enc.encode(0, b, s3, e3), QpackStatus::kOk);
  EXPECT_NE(sec[0], 0u);
}

TEST(QpackEncoder, NeverEvictsReferencedEntries) {
  // §2.1.1: with a table just big enough for two entries, an unacknowledged
  // reference keeps its entry, so new fields go out as literals instead.
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 80;
  ec.peer_blocked_streams = 8;
  QpackDecoderConfig dc;
  dc.max_table_capacity = 80;
  dc.max_blocked_streams = 8;
  Pair p(ec, dc);
  const std::vector<QpackField> f1 = {{"x-one", "1"}};    // 38
  const std::vector<QpackField> f2 = {{"x-two", "2"}};    // 38
  const std::vector<QpackField> f3 = {{"x-three", "3"}};  // 40
  const auto s1 = p.encode(0, f1);
  const auto s2 = p.encode(4, f2);
  EXPECT_EQ(p.enc.table().insert_count(), 2u);
  const auto s3 = p.encode(8, f3);  // no room: both entries are referenced
  EXPECT_EQ(p.enc.table().insert_count(), 2u);
  p.deliver_encoder_stream();
  std::vector<std::string> got;
  ASSERT_EQ(p.decode(8, s3, &got), QpackStatus::kOk);
  EXPECT_EQ(got, lines(f3));
  ASSERT_EQ(p.decode(0, s1, &got), QpackStatus::kOk);
  ASSERT_EQ(p.decode(4, s2, &got), QpackStatus::kOk);
  p.deliver_decoder_stream();
  // Everything acknowledged: x-three can now evict x-one.
  const auto s4 = p.encode(12, f3);
  EXPECT_EQ(p.enc.table().insert_count(), 3u);
  EXPECT_EQ(p.enc.table().first_index(), 1u);
  p.deliver_encoder_stream();
  ASSERT_EQ(p.decode(12, s4, &got), QpackStatus::kOk);
  EXPECT_EQ(got, lines(f3));
}

TEST(QpackEncoder, StreamCancellationReleasesReferences) {
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 80;
  ec.peer_blocked_streams = 8;
  QpackEncoder enc(ec);
  std::uint8_t sec[128], es[256];
  const QpackField f1[] = {{"x-one", "1"}};
  const QpackField f2[] = {{"x-two", "2"}};
  const QpackField f3[] = {{"x-three", "3"}};
  Writer s(sec), e(es);
  ASSERT_EQ(enc.encode(0, f1, s, e), QpackStatus::kOk);
  ASSERT_EQ(enc.encode(4, f2, s, e), QpackStatus::kOk);
  std::size_t consumed;
  // Inserts acknowledged, stream 0 cancelled: x-one becomes evictable.
  ASSERT_EQ(enc.on_decoder_stream(hex("02 40"), &consumed), QpackStatus::kOk);
  EXPECT_EQ(enc.unacknowledged_section_count(), 1u);
  ASSERT_EQ(enc.encode(8, f3, s, e), QpackStatus::kOk);
  EXPECT_EQ(enc.table().insert_count(), 3u);
  EXPECT_EQ(enc.table().first_index(), 1u);
}

TEST(QpackEncoder, SmallBuffers) {
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 4096;
  ec.peer_blocked_streams = 4;
  QpackEncoder enc(ec);
  const auto fields = request(1);
  std::uint8_t sec[8], es[2];
  Writer s(sec), e(es);
  // Too small a section; an encoder stream too small for anything but nothing
  // is half written there.
  EXPECT_EQ(enc.encode(0, fields, s, e), QpackStatus::kBufferTooSmall);
  EXPECT_EQ(e.written(), 0u);
  EXPECT_EQ(enc.table().insert_count(), 0u);
  EXPECT_EQ(enc.unacknowledged_section_count(), 0u);
}

TEST(QpackEncoder, TooManyUnacknowledgedSectionsFallsBackToStatic) {
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 4096;
  ec.peer_blocked_streams = 100;
  ec.max_unacknowledged_sections = 2;
  QpackEncoder enc(ec);
  std::uint8_t sec[256], es[1024];
  const QpackField f[] = {{"x-a", "1"}};
  for (int i = 0; i < 2; ++i) {
    Writer s(sec), e(es);
    ASSERT_EQ(enc.encode(static_cast<std::uint64_t>(i) * 4, f, s, e), QpackStatus::kOk);
    EXPECT_NE(sec[0], 0u);
  }
  Writer s(sec), e(es);
  ASSERT_EQ(enc.encode(8, f, s, e), QpackStatus::kOk);
  EXPECT_EQ(sec[0], 0u);
  EXPECT_EQ(enc.unacknowledged_section_count(), 2u);
}

TEST(QpackEncoder, RandomFieldsRoundTrip) {
  std::mt19937 rng(7541);
  QpackEncoderConfig ec;
  ec.peer_max_table_capacity = 512;
  ec.peer_blocked_streams = 3;
  QpackDecoderConfig dc;
  dc.max_table_capacity = 512;
  dc.max_blocked_streams = 3;
  Pair p(ec, dc);
  std::vector<std::string> storage;
  storage.reserve(100000);
  for (int i = 0; i < 300; ++i) {
    std::vector<QpackField> fields;
    const int n = static_cast<int>(rng() % 12);
    for (int j = 0; j < n; ++j) {
      storage.push_back(test::cat("x-h", std::to_string(rng() % 20)));
      std::string v(rng() % 40, 'v');
      for (char& c : v)
        c = static_cast<char>(rng() % 256);
      if (rng() % 4 == 0) v = "common";
      const std::string& name = storage.back();
      storage.push_back(v);
      fields.push_back({name, storage.back(), rng() % 10 == 0});
    }
    const auto sec = p.encode(static_cast<std::uint64_t>(i) * 4, fields);
    p.deliver_encoder_stream();
    std::vector<std::string> got;
    ASSERT_EQ(p.decode(static_cast<std::uint64_t>(i) * 4, sec, &got), QpackStatus::kOk);
    EXPECT_EQ(got, lines(fields));
    if (rng() % 3) p.deliver_decoder_stream(rng() % 2);
  }
}

}  // namespace
}  // namespace dquic
