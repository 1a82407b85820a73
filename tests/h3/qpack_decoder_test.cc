// QPACK decoder (RFC 9204 §2.2, §4.3-4.5): the Appendix B exchange byte for
// byte, blocked streams, every error path, and caller-buffer output.
#include "h3/qpack_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "h3/qpack_instructions.h"
#include "tests/h3/test_bytes.h"

namespace dquic {
namespace {

using test::hex;

struct Collect final : QpackFieldSink {
  std::vector<std::string> lines;  // "name=value", "!" prefix when never-indexed
  std::size_t refuse_after = SIZE_MAX;
  bool on_field(const QpackField& f) override {
    if (lines.size() >= refuse_after) return false;
    lines.push_back(test::cat(f.never_index ? "!" : "", f.name, "=", f.value));
    return true;
  }
};

class Dec {
 public:
  explicit Dec(QpackDecoderConfig c) : d(c) {}
  // Feeds all of `bytes` to the encoder stream; returns the status, and
  // checks whole-instruction consumption.
  QpackStatus encoder(const std::vector<std::uint8_t>& bytes) {
    std::size_t consumed = 0;
    const QpackStatus s = d.on_encoder_stream(bytes, &consumed);
    if (s == QpackStatus::kOk) {
      EXPECT_EQ(consumed, bytes.size());
    }
    return s;
  }
  QpackStatus decode(std::uint64_t stream, const std::vector<std::uint8_t>& section) {
    sink.lines.clear();
    Writer dw({out_space + out_len, sizeof(out_space) - out_len});
    const QpackStatus s = d.decode(stream, section, sink, dw);
    out_len += dw.written();
    return s;
  }
  // Decoder-stream bytes produced since the last call.
  std::string take_decoder_stream() {
    std::string s = test::to_hex(out_space, out_len);
    out_len = 0;
    return s;
  }
  std::string cancel(std::uint64_t stream) {
    std::uint8_t buf[16];
    Writer w(buf);
    EXPECT_TRUE(d.cancel_stream(stream, w));
    return test::to_hex(buf, w.written());
  }
  std::string increment() {
    std::uint8_t buf[16];
    Writer w(buf);
    EXPECT_TRUE(d.write_insert_count_increment(w));
    return test::to_hex(buf, w.written());
  }

  QpackDecoder d;
  Collect sink;
  std::uint8_t out_space[256];
  std::size_t out_len = 0;
};

QpackDecoderConfig appendix_b_config() {
  QpackDecoderConfig c;
  c.max_table_capacity = 220;
  c.max_blocked_streams = 2;
  c.max_field_section_size = 16384;
  return c;
}

// Encoder-stream bytes of Appendix B.
const auto kB2Encoder =
    hex("3fbd01 c00f 7777 772e 6578 616d 706c 652e 636f 6d c10c 2f73 616d 706c 652f 7061 7468");
const auto kB3Encoder = hex("4a63 7573 746f 6d2d 6b65 790c 6375 7374 6f6d 2d76 616c 7565");
const auto kB4Encoder = hex("02");
const auto kB5Encoder = hex("810d 6375 7374 6f6d 2d76 616c 7565 32");
const auto kB1Stream0 = hex("0000 510b 2f69 6e64 6578 2e68 746d 6c");
const auto kB2Stream4 = hex("0381 10 11");
const auto kB4Stream8 = hex("0500 80 c1 81");

// RFC 9204 Appendix B.1-B.5 in order, including B.4's delayed encoder
// stream: the section of stream 8 arrives first and blocks, and the stream
// is then cancelled.
TEST(QpackDecoder, AppendixB) {
  Dec d(appendix_b_config());
  // B.1
  ASSERT_EQ(d.decode(0, kB1Stream0), QpackStatus::kOk);
  EXPECT_EQ(d.sink.lines, std::vector<std::string>{":path=/index.html"});
  EXPECT_EQ(d.take_decoder_stream(), "");  // no dynamic references: no ack
  // B.2
  ASSERT_EQ(d.encoder(kB2Encoder), QpackStatus::kOk);
  EXPECT_EQ(d.d.table().capacity(), 220u);
  EXPECT_EQ(d.d.table().size(), 106u);
  ASSERT_EQ(d.decode(4, kB2Stream4), QpackStatus::kOk);
  EXPECT_EQ(d.sink.lines,
            (std::vector<std::string>{":authority=www.example.com", ":path=/sample/path"}));
  EXPECT_EQ(d.take_decoder_stream(), "84");  // Section Acknowledgment (stream=4)
  EXPECT_EQ(d.increment(), "");              // the ack covered both inserts
  // B.3
  ASSERT_EQ(d.encoder(kB3Encoder), QpackStatus::kOk);
  EXPECT_EQ(d.d.table().size(), 160u);
  EXPECT_EQ(d.increment(), "01");  // Insert Count Increment (1)
  // B.4, the field section before the Duplicate it needs.
  ASSERT_EQ(d.decode(8, kB4Stream8), QpackStatus::kBlocked);
  EXPECT_EQ(d.d.blocked_stream_count(), 1u);
  EXPECT_EQ(d.cancel(8), "48");  // Stream Cancellation (Stream=8)
  EXPECT_EQ(d.d.blocked_stream_count(), 0u);
  ASSERT_EQ(d.encoder(kB4Encoder), QpackStatus::kOk);
  EXPECT_EQ(d.d.table().size(), 217u);
  // B.5
  ASSERT_EQ(d.encoder(kB5Encoder), QpackStatus::kOk);
  EXPECT_EQ(d.d.table().size(), 215u);
  EXPECT_EQ(d.d.table().insert_count(), 5u);
  EXPECT_EQ(d.d.table().first_index(), 1u);
  QpackField f;
  ASSERT_TRUE(d.d.table().get(4, &f));
  EXPECT_EQ(f.name, "custom-key");
  EXPECT_EQ(f.value, "custom-value2");
}

// B.4 when the encoder stream is not delayed: the section decodes.
TEST(QpackDecoder, AppendixB4InOrder) {
  Dec d(appendix_b_config());
  ASSERT_EQ(d.encoder(kB2Encoder), QpackStatus::kOk);
  ASSERT_EQ(d.encoder(kB3Encoder), QpackStatus::kOk);
  ASSERT_EQ(d.encoder(kB4Encoder), QpackStatus::kOk);
  ASSERT_EQ(d.decode(8, kB4Stream8), QpackStatus::kOk);
  EXPECT_EQ(d.sink.lines, (std::vector<std::string>{":authority=www.example.com", ":path=/",
                                                    "custom-key=custom-value"}));
  EXPECT_EQ(d.take_decoder_stream(), "88");
  EXPECT_EQ(d.increment(), "");  // RIC 4 = every insert
}

TEST(QpackDecoder, BlockedStreamUnblocksWhenInsertsArrive) {
  Dec d(appendix_b_config());
  ASSERT_EQ(d.decode(4, kB2Stream4), QpackStatus::kBlocked);
  std::uint64_t ids[4];
  EXPECT_EQ(d.d.unblocked_streams(ids), 0u);
  // Half of B.2's inserts is not enough.
  const std::vector<std::uint8_t> first(kB2Encoder.begin(), kB2Encoder.begin() + 20);
  ASSERT_EQ(d.encoder(first), QpackStatus::kOk);
  EXPECT_EQ(d.d.table().insert_count(), 1u);
  EXPECT_EQ(d.d.unblocked_streams(ids), 0u);
  ASSERT_EQ(d.decode(4, kB2Stream4), QpackStatus::kBlocked);  // still one stream
  EXPECT_EQ(d.d.blocked_stream_count(), 1u);
  const std::vector<std::uint8_t> rest(kB2Encoder.begin() + 20, kB2Encoder.end());
  ASSERT_EQ(d.encoder(rest), QpackStatus::kOk);
  ASSERT_EQ(d.d.unblocked_streams(ids), 1u);
  EXPECT_EQ(ids[0], 4u);
  ASSERT_EQ(d.decode(4, kB2Stream4), QpackStatus::kOk);
  EXPECT_EQ(d.d.blocked_stream_count(), 0u);
  EXPECT_EQ(d.take_decoder_stream(), "84");
}

TEST(QpackDecoder, EncoderStreamByteAtATime) {
  Dec d(appendix_b_config());
  std::vector<std::uint8_t> all = kB2Encoder;
  all.insert(all.end(), kB3Encoder.begin(), kB3Encoder.end());
  all.insert(all.end(), kB4Encoder.begin(), kB4Encoder.end());
  all.insert(all.end(), kB5Encoder.begin(), kB5Encoder.end());
  // The caller keeps what was not consumed and appends the next byte.
  std::vector<std::uint8_t> pending;
  for (std::uint8_t b : all) {
    pending.push_back(b);
    std::size_t consumed = 0;
    ASSERT_EQ(d.d.on_encoder_stream(pending, &consumed), QpackStatus::kOk);
    pending.erase(pending.begin(), pending.begin() + static_cast<long>(consumed));
  }
  EXPECT_TRUE(pending.empty());
  EXPECT_EQ(d.d.table().insert_count(), 5u);
  EXPECT_EQ(d.d.table().size(), 215u);
}

TEST(QpackDecoder, BlockedStreamLimit) {
  // §2.1.2: a stream beyond SETTINGS_QPACK_BLOCKED_STREAMS is an error.
  QpackDecoderConfig c = appendix_b_config();
  c.max_blocked_streams = 1;
  Dec d(c);
  ASSERT_EQ(d.decode(4, kB2Stream4), QpackStatus::kBlocked);
  ASSERT_EQ(d.decode(4, kB2Stream4), QpackStatus::kBlocked);  // same stream again
  EXPECT_EQ(d.decode(8, kB2Stream4), QpackStatus::kDecompressionFailed);
  EXPECT_EQ(qpack_error_code(QpackStatus::kDecompressionFailed), 0x200u);
}

TEST(QpackDecoder, NoBlockedStreamsAllowed) {
  QpackDecoderConfig c = appendix_b_config();
  c.max_blocked_streams = 0;
  Dec d(c);
  EXPECT_EQ(d.decode(4, kB2Stream4), QpackStatus::kDecompressionFailed);
}

TEST(QpackDecoder, CancelForgetsBlockedStream) {
  QpackDecoderConfig c = appendix_b_config();
  c.max_blocked_streams = 1;
  Dec d(c);
  ASSERT_EQ(d.decode(4, kB2Stream4), QpackStatus::kBlocked);
  EXPECT_EQ(d.cancel(4), "44");
  ASSERT_EQ(d.decode(8, kB2Stream4), QpackStatus::kBlocked);  // the slot is free again
}

// --- Field section errors (§2.2.3, §3.1, §4.5) -------------------------------

struct BadSection {
  const char* what;
  const char* bytes;
};

TEST(QpackDecoder, FieldSectionErrorsAfterAppendixB) {
  // Table after B.5: inserts 0..4, entry 0 evicted, MaxEntries 6.
  const BadSection cases[] = {
      {"static index 99", "0000 ff24"},
      {"static name index 99", "0000 5f54 00"},
      {"dynamic index with Base 0", "0000 80"},
      {"evicted entry (abs 0)", "0600 84"},
      {"evicted entry name (abs 0)", "0600 4400"},
      {"name index at Base", "0600 4500"},
      {"reference at RIC (post-base abs 1, RIC 1)", "0200 10"},
      {"reference at RIC (relative)", "0201 80"},
      {"encoded RIC > 2 * MaxEntries", "0d00"},
      {"RIC larger than any reference", "0300 c1"},
      {"RIC but no dynamic reference", "0200"},
      {"negative Base", "0281 c1"},
      {"truncated prefix", "00"},
      {"empty", ""},
      {"truncated value", "0000 510b 2f69"},
      {"truncated index", "0000 ff"},
      {"bad Huffman value", "0000 5181 18"},
      {"Huffman EOS in name", "0000 2c ffffffff 00"},
      {"RIC overflow", "ff ffffffffffffffffff 01 00"},
      {"post-base beyond table", "0600 10"},
      {"post-base at Base above RIC", "0301 10"},
      {"post-base with the largest Delta Base", "037f80ffffffffffffff3f10"},
  };
  for (const BadSection& b : cases) {
    Dec d(appendix_b_config());
    ASSERT_EQ(d.encoder(kB2Encoder), QpackStatus::kOk);
    ASSERT_EQ(d.encoder(kB3Encoder), QpackStatus::kOk);
    ASSERT_EQ(d.encoder(kB4Encoder), QpackStatus::kOk);
    ASSERT_EQ(d.encoder(kB5Encoder), QpackStatus::kOk);
    EXPECT_EQ(d.decode(12, hex(b.bytes)), QpackStatus::kDecompressionFailed) << b.what;
    EXPECT_EQ(d.take_decoder_stream(), "") << b.what;
  }
}

TEST(QpackDecoder, RequiredInsertCountWrapsAround) {
  // §4.5.1.1's example: a 100-byte table (MaxEntries 3, FullRange 6) with
  // 10 inserts: encoded 4 means Required Insert Count 9.
  QpackDecoderConfig c;
  c.max_table_capacity = 100;
  c.max_blocked_streams = 1;
  Dec d(c);
  std::vector<std::uint8_t> es(64);
  Writer w(es);
  qpack_write_set_capacity(w, 100);
  for (int i = 0; i < 10; ++i)
    qpack_write_insert_literal_name(w, "k", std::to_string(i), false, false);
  es.resize(w.written());
  ASSERT_EQ(d.encoder(es), QpackStatus::kOk);
  ASSERT_EQ(d.d.table().insert_count(), 10u);
  // RIC 9, Base 9, relative index 0 = absolute 8.
  ASSERT_EQ(d.decode(0, hex("0400 80")), QpackStatus::kOk);
  EXPECT_EQ(d.sink.lines, std::vector<std::string>{"k=8"});
  // Encoded 5 -> RIC 10 (all inserts), relative 0 = absolute 9.
  ASSERT_EQ(d.decode(4, hex("0500 80")), QpackStatus::kOk);
  EXPECT_EQ(d.sink.lines, std::vector<std::string>{"k=9"});
  // Encoded 6 -> RIC 11: blocked, not an error.
  EXPECT_EQ(d.decode(8, hex("0600 80")), QpackStatus::kBlocked);
  // Encoded 7 > FullRange 6.
  EXPECT_EQ(d.decode(12, hex("0700 80")), QpackStatus::kDecompressionFailed);
}

TEST(QpackDecoder, RequiredInsertCountWithoutDynamicTable) {
  QpackDecoderConfig c;  // capacity 0: MaxEntries 0
  Dec d(c);
  EXPECT_EQ(d.decode(0, hex("0100 c1")), QpackStatus::kDecompressionFailed);
  ASSERT_EQ(d.decode(0, hex("0000 c1")), QpackStatus::kOk);
  EXPECT_EQ(d.sink.lines, std::vector<std::string>{":path=/"});
}

TEST(QpackDecoder, AllRepresentations) {
  Dec d(appendix_b_config());
  ASSERT_EQ(d.encoder(kB2Encoder), QpackStatus::kOk);  // abs 0 :authority, 1 :path
  // RIC 2, Base 1 (S=1, delta 0): abs 0 is relative 0, abs 1 is post-base 0.
  std::vector<std::uint8_t> s(256);
  Writer w(s);
  qpack_write_section_prefix(w, 3, true, 0);
  qpack_write_indexed(w, false, 0);                                     // :authority
  qpack_write_indexed_post_base(w, 0);                                  // :path
  qpack_write_indexed(w, true, 17);                                     // :method GET
  qpack_write_literal_name_ref(w, false, false, 0, "a.example", true);  // :authority
  qpack_write_literal_post_base_name_ref(w, true, 0, "/x", false);      // !:path
  qpack_write_literal_name_ref(w, true, true, 5, "secret", false);      // !cookie
  qpack_write_literal_literal_name(w, false, "x-a", "b", false, false);
  qpack_write_literal_literal_name(w, true, "custom-key", "custom-value", true, true);
  ASSERT_TRUE(w.ok());
  s.resize(w.written());
  ASSERT_EQ(d.decode(0, s), QpackStatus::kOk);
  EXPECT_EQ(d.sink.lines,
            (std::vector<std::string>{":authority=www.example.com", ":path=/sample/path",
                                      ":method=GET", ":authority=a.example", "!:path=/x",
                                      "!cookie=secret", "x-a=b", "!custom-key=custom-value"}));
  EXPECT_EQ(d.take_decoder_stream(), "80");
}

TEST(QpackDecoder, FieldSectionTooLarge) {
  QpackDecoderConfig c = appendix_b_config();
  c.max_field_section_size = 64;
  Dec d(c);
  ASSERT_EQ(d.decode(0, kB1Stream0), QpackStatus::kOk);  // 5 + 11 + 32 = 48
  auto two = kB1Stream0;
  two.insert(two.end(), kB1Stream0.begin() + 2, kB1Stream0.end());  // 96
  EXPECT_EQ(d.decode(0, two), QpackStatus::kFieldSectionTooLarge);
  // A single literal longer than the limit is refused before it is read.
  EXPECT_EQ(d.decode(0, hex("0000 517f 40")), QpackStatus::kFieldSectionTooLarge);
  EXPECT_EQ(qpack_error_code(QpackStatus::kFieldSectionTooLarge), 0u);
  // A Huffman value that decodes to more than the limit.
  std::vector<std::uint8_t> s(256);
  Writer w(s);
  qpack_write_section_prefix(w, 0, false, 0);
  qpack_write_literal_name_ref(w, false, true, 1, std::string(70, 'a'), true);
  s.resize(w.written());
  EXPECT_EQ(d.decode(0, s), QpackStatus::kFieldSectionTooLarge);
}

TEST(QpackDecoder, OutputBufferChecks) {
  Dec d(appendix_b_config());
  ASSERT_EQ(d.encoder(kB2Encoder), QpackStatus::kOk);
  // No room for the Section Acknowledgment: nothing happens.
  Writer none({d.out_space, 0});
  Collect sink;
  EXPECT_EQ(d.d.decode(4, kB2Stream4, sink, none), QpackStatus::kBufferTooSmall);
  EXPECT_TRUE(sink.lines.empty());
  // A sink that refuses the second field.
  d.sink.refuse_after = 1;
  EXPECT_EQ(d.decode(4, kB2Stream4), QpackStatus::kBufferTooSmall);
  EXPECT_EQ(d.take_decoder_stream(), "");
}

TEST(QpackDecoder, FieldBufferSink) {
  Dec d(appendix_b_config());
  ASSERT_EQ(d.encoder(kB2Encoder), QpackStatus::kOk);
  QpackField fields[2];
  char bytes[64];
  QpackFieldBuffer buf(fields, bytes);
  std::uint8_t ack[4];
  Writer w(ack);
  ASSERT_EQ(d.d.decode(4, kB2Stream4, buf, w), QpackStatus::kOk);
  ASSERT_EQ(buf.fields().size(), 2u);
  EXPECT_EQ(buf.fields()[0].name, ":authority");
  EXPECT_EQ(buf.fields()[0].value, "www.example.com");
  EXPECT_EQ(buf.fields()[1].value, "/sample/path");
  EXPECT_GE(buf.fields()[0].name.data(), bytes);  // copied, not views into the table
  EXPECT_LT(buf.fields()[1].value.data(), bytes + sizeof(bytes));
  // Too few bytes for both fields.
  QpackField f2[2];
  char small[30];
  QpackFieldBuffer tight(f2, small);
  Writer w2(ack);
  EXPECT_EQ(d.d.decode(4, kB2Stream4, tight, w2), QpackStatus::kBufferTooSmall);
}

// --- Encoder stream errors (§3.2.2, §3.2.3, §4.3) -----------------------------

TEST(QpackDecoder, EncoderStreamErrors) {
  const BadSection cases[] = {
      {"capacity above our maximum", "3fbe01"},
      {"insert before any capacity", "c001 61"},
      {"static name index 99", "3fbd01 ff24 00"},
      {"dynamic name ref into empty table", "3fbd01 8000"},
      {"duplicate of nothing", "3fbd01 00"},
      {"duplicate beyond insert count", "3fbd01 c000 01"},
      {"entry larger than capacity", "3f01 c005 6162636465"},
      {"bad Huffman value", "3fbd01 c081 18"},
      {"bad Huffman name", "3fbd01 6118 00"},
      {"capacity overflow", "3f ffffffffffffffffff 01"},
      {"value longer than capacity", "3f01 c07f 00"},
  };
  for (const BadSection& b : cases) {
    Dec d(appendix_b_config());
    std::size_t consumed = 0;
    EXPECT_EQ(d.d.on_encoder_stream(hex(b.bytes), &consumed), QpackStatus::kEncoderStreamError)
        << b.what;
  }
  EXPECT_EQ(qpack_error_code(QpackStatus::kEncoderStreamError), 0x201u);
}

TEST(QpackDecoder, EncoderStreamReferencesEvictedEntry) {
  Dec d(appendix_b_config());
  ASSERT_EQ(d.encoder(kB2Encoder), QpackStatus::kOk);
  ASSERT_EQ(d.encoder(kB3Encoder), QpackStatus::kOk);
  ASSERT_EQ(d.encoder(kB4Encoder), QpackStatus::kOk);
  ASSERT_EQ(d.encoder(kB5Encoder), QpackStatus::kOk);  // evicts abs 0
  // Duplicate relative 4 = absolute 0 (evicted); relative 3 = absolute 1.
  std::size_t consumed = 0;
  EXPECT_EQ(d.d.on_encoder_stream(hex("04"), &consumed), QpackStatus::kEncoderStreamError);
  Dec d2(appendix_b_config());
  ASSERT_EQ(d2.encoder(kB2Encoder), QpackStatus::kOk);
  ASSERT_EQ(d2.encoder(kB3Encoder), QpackStatus::kOk);
  ASSERT_EQ(d2.encoder(kB4Encoder), QpackStatus::kOk);
  ASSERT_EQ(d2.encoder(kB5Encoder), QpackStatus::kOk);
  EXPECT_EQ(d2.encoder(hex("8400")), QpackStatus::kEncoderStreamError);  // name ref abs 0
}

TEST(QpackDecoder, CapacityReductionAndZeroCapacityCancel) {
  Dec d(appendix_b_config());
  ASSERT_EQ(d.encoder(kB2Encoder), QpackStatus::kOk);
  ASSERT_EQ(d.encoder(hex("3e")), QpackStatus::kOk);  // capacity 30: evicts both
  EXPECT_EQ(d.d.table().entry_count(), 0u);
  EXPECT_EQ(d.decode(4, kB2Stream4), QpackStatus::kDecompressionFailed);  // evicted
  // A decoder without a dynamic table need not send Stream Cancellation.
  Dec z(QpackDecoderConfig{});
  EXPECT_EQ(z.cancel(4), "");
}

}  // namespace
}  // namespace dquic
