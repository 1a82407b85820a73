// Prefixed integers (RFC 7541 §5.1, RFC 9204 §4.1.1), string literals
// (RFC 9204 §4.1.2) and the static table (RFC 9204 Appendix A).
#include <gtest/gtest.h>

#include <string>

#include "h3/qpack_prefixed_int.h"
#include "h3/qpack_static_table.h"
#include "h3/qpack_string.h"
#include "tests/h3/test_bytes.h"

namespace dquic {
namespace {

using test::hex;

std::vector<std::uint8_t> write_int(std::uint8_t flags, unsigned prefix, std::uint64_t v) {
  std::vector<std::uint8_t> out(16);
  Writer w(out);
  qpack_write_int(w, flags, prefix, v);
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(w.written(), qpack_int_size(prefix, v));
  out.resize(w.written());
  return out;
}

PrefixedIntResult read_int(const std::vector<std::uint8_t>& in, unsigned prefix, std::uint64_t* v,
                           std::size_t* consumed = nullptr) {
  Reader r(in);
  const PrefixedIntResult res = qpack_read_int(r, prefix, v);
  if (consumed) *consumed = in.size() - r.remaining();
  return res;
}

// RFC 7541 C.1.1-C.1.3.
TEST(PrefixedInt, Rfc7541Examples) {
  EXPECT_EQ(write_int(0, 5, 10), hex("0a"));
  EXPECT_EQ(write_int(0, 5, 1337), hex("1f9a0a"));
  EXPECT_EQ(write_int(0, 8, 42), hex("2a"));
  std::uint64_t v;
  ASSERT_EQ(read_int(hex("1f9a0a"), 5, &v), PrefixedIntResult::kOk);
  EXPECT_EQ(v, 1337u);
  // Bits above the prefix are flags, not value.
  ASSERT_EQ(read_int(hex("ea"), 5, &v), PrefixedIntResult::kOk);
  EXPECT_EQ(v, 10u);
}

TEST(PrefixedInt, FlagsKeptAbovePrefix) {
  EXPECT_EQ(write_int(0xc0, 6, 5), hex("c5"));
}

TEST(PrefixedInt, PrefixBoundary) {
  // Exactly 2^N - 1 needs a zero continuation byte.
  EXPECT_EQ(write_int(0, 5, 30), hex("1e"));
  EXPECT_EQ(write_int(0, 5, 31), hex("1f00"));
  EXPECT_EQ(write_int(0, 5, 31 + 127), hex("1f7f"));
  EXPECT_EQ(write_int(0, 5, 31 + 128), hex("1f8001"));
  EXPECT_EQ(write_int(0, 8, 255), hex("ff00"));
  EXPECT_EQ(write_int(0x80, 1, 1), hex("8100"));
  EXPECT_EQ(write_int(0x80, 1, 0), hex("80"));
}

TEST(PrefixedInt, RoundTripsAllPrefixesAndMagnitudes) {
  for (unsigned prefix = 1; prefix <= 8; ++prefix) {
    for (unsigned shift = 0; shift < 62; ++shift) {
      for (std::uint64_t delta : {0ull, 1ull}) {
        const std::uint64_t v = (std::uint64_t{1} << shift) - 1 + delta;
        std::uint64_t got = 0;
        std::size_t consumed = 0;
        const auto enc = write_int(0, prefix, v);
        ASSERT_EQ(read_int(enc, prefix, &got, &consumed), PrefixedIntResult::kOk);
        EXPECT_EQ(got, v);
        EXPECT_EQ(consumed, enc.size());
      }
    }
    std::uint64_t got;
    ASSERT_EQ(read_int(write_int(0, prefix, kQpackIntMax), prefix, &got), PrefixedIntResult::kOk);
    EXPECT_EQ(got, kQpackIntMax);
  }
}

TEST(PrefixedInt, RejectsValuesAbove62Bits) {
  // RFC 9204 §4.1.1: 62 bits must decode; one more is rejected, not wrapped.
  auto enc = write_int(0, 5, kQpackIntMax);
  std::uint64_t v;
  ASSERT_EQ(read_int(enc, 5, &v), PrefixedIntResult::kOk);
  // 2^62 = kQpackIntMax + 1: hand-built as the encoder refuses nothing.
  std::vector<std::uint8_t> over(16);
  Writer w(over);
  qpack_write_int(w, 0, 5, kQpackIntMax + 1);
  over.resize(w.written());
  EXPECT_EQ(read_int(over, 5, &v), PrefixedIntResult::kOverflow);
  // 2^64 - 1 worth of continuation bytes.
  EXPECT_EQ(read_int(hex("1f ffffffffffffffffff 01"), 5, &v), PrefixedIntResult::kOverflow);
}

TEST(PrefixedInt, RejectsEndlessZeroContinuation) {
  // Value 31 padded with ten zero groups: would loop or shift past 64 bits.
  std::uint64_t v;
  EXPECT_EQ(read_int(hex("1f 80808080808080808080 00"), 5, &v), PrefixedIntResult::kOverflow);
  // Nine zero groups plus a final 0 still decode (shift stays at 56 + 7).
  EXPECT_EQ(read_int(hex("1f 8080808080808080 00"), 5, &v), PrefixedIntResult::kOk);
  EXPECT_EQ(v, 31u);
}

TEST(PrefixedInt, Truncated) {
  std::uint64_t v = 99;
  std::size_t consumed = 9;
  EXPECT_EQ(read_int({}, 5, &v, &consumed), PrefixedIntResult::kTruncated);
  EXPECT_EQ(read_int(hex("1f"), 5, &v, &consumed), PrefixedIntResult::kTruncated);
  EXPECT_EQ(read_int(hex("1f9a"), 5, &v, &consumed), PrefixedIntResult::kTruncated);
  EXPECT_EQ(consumed, 0u);  // nothing consumed on failure
  EXPECT_EQ(v, 99u);
}

// --- String literals -----------------------------------------------------------

TEST(QpackString, RawAndHuffmanRoundTrip) {
  for (bool huffman : {false, true}) {
    std::vector<std::uint8_t> buf(64);
    Writer w(buf);
    qpack_write_string(w, 0x40, 5, "custom-key", huffman);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w.written(), qpack_string_size(5, "custom-key", huffman));
    EXPECT_EQ(buf[0] & 0x20, huffman ? 0x20 : 0);
    EXPECT_EQ(buf[0] & 0xc0, 0x40);
    Reader r({buf.data(), w.written()});
    std::uint8_t scratch[32];
    std::string_view s;
    std::size_t used = 99;
    ASSERT_EQ(qpack_read_string(r, 5, 100, scratch, &s, &used), QpackStringResult::kOk);
    EXPECT_EQ(s, "custom-key");
    EXPECT_EQ(used, huffman ? 10u : 0u);
    EXPECT_TRUE(r.empty());
  }
}

TEST(QpackString, RejectsTooLongTruncatedAndBadHuffman) {
  std::uint8_t scratch[8];
  std::string_view s;
  std::size_t used;
  {
    const auto in = hex("05 6162636465");  // raw "abcde"
    Reader r(in);
    EXPECT_EQ(qpack_read_string(r, 7, 4, scratch, &s, &used), QpackStringResult::kTooLong);
    Reader r2(in);
    EXPECT_EQ(qpack_read_string(r2, 7, 5, scratch, &s, &used), QpackStringResult::kOk);
  }
  {
    const auto in = hex("05 61626364");
    Reader r(in);
    EXPECT_EQ(qpack_read_string(r, 7, 100, scratch, &s, &used), QpackStringResult::kTruncated);
    EXPECT_EQ(r.remaining(), in.size());
  }
  {
    const auto in = hex("81 18");  // Huffman 'a' with zero padding
    Reader r(in);
    EXPECT_EQ(qpack_read_string(r, 7, 100, scratch, &s, &used), QpackStringResult::kInvalid);
  }
  {
    // Huffman "www.example.com" (15 bytes) into an 8-byte scratch.
    const auto in = hex("8c f1e3 c2e5 f23a 6ba0 ab90 f4ff");
    Reader r(in);
    EXPECT_EQ(qpack_read_string(r, 7, 100, scratch, &s, &used), QpackStringResult::kNoRoom);
  }
  {
    const auto in = hex("7f ffffffffffffffffff 01");  // length overflows
    Reader r(in);
    EXPECT_EQ(qpack_read_string(r, 7, 100, scratch, &s, &used), QpackStringResult::kInvalid);
  }
}

TEST(QpackString, PrefersHuffmanOnlyWhenShorter) {
  EXPECT_TRUE(qpack_prefer_huffman("www.example.com"));
  EXPECT_FALSE(qpack_prefer_huffman("\xff\xfe"));
  EXPECT_FALSE(qpack_prefer_huffman(""));
}

// --- Static table ----------------------------------------------------------------

TEST(QpackStaticTable, SpotChecks) {
  struct {
    int index;
    const char* name;
    const char* value;
  } checks[] = {
      {0, ":authority", ""},
      {1, ":path", "/"},
      {17, ":method", "GET"},
      {25, ":status", "200"},
      {31, "accept-encoding", "gzip, deflate, br"},
      {52, "content-type", "text/html; charset=utf-8"},
      {54, "content-type", "text/plain;charset=utf-8"},
      {58, "strict-transport-security", "max-age=31536000; includesubdomains; preload"},
      {85, "content-security-policy", "script-src 'none'; object-src 'none'; base-uri 'none'"},
      {98, "x-frame-options", "sameorigin"},
  };
  for (const auto& c : checks) {
    const QpackField* e = qpack_static_entry(static_cast<std::uint64_t>(c.index));
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->name, c.name) << c.index;
    EXPECT_EQ(e->value, c.value) << c.index;
  }
  EXPECT_EQ(qpack_static_entry(99), nullptr);
  EXPECT_EQ(qpack_static_entry(~0ull), nullptr);
}

TEST(QpackStaticTable, Lookup) {
  QpackStaticMatch m = qpack_static_find(":method", "POST");
  EXPECT_EQ(m.index, 20);
  EXPECT_TRUE(m.value_matches);
  m = qpack_static_find(":method", "PATCH");
  EXPECT_EQ(m.index, 15);  // first :method
  EXPECT_FALSE(m.value_matches);
  m = qpack_static_find(":status", "500");
  EXPECT_EQ(m.index, 71);
  EXPECT_TRUE(m.value_matches);
  m = qpack_static_find("x-custom", "1");
  EXPECT_EQ(m.index, -1);
  EXPECT_EQ(qpack_static_find_name("user-agent"), 95);
  EXPECT_EQ(qpack_static_find_name("USER-AGENT"), -1);  // names are lowercase
  // Every entry is found at its own index, or at an earlier duplicate.
  for (std::uint64_t i = 0; i < kQpackStaticTableSize; ++i) {
    const QpackField* e = qpack_static_entry(i);
    m = qpack_static_find(e->name, e->value);
    EXPECT_EQ(m.index, static_cast<int>(i));
    EXPECT_TRUE(m.value_matches);
  }
}

}  // namespace
}  // namespace dquic
