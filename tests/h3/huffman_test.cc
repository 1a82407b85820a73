// RFC 7541 §5.2 and Appendix B Huffman code: known answers from Appendix C.4
// and C.6, round trips, and every rejection §5.2 requires.
#include "h3/huffman.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/h3/test_bytes.h"

namespace dquic {
namespace {

using test::bytes;
using test::hex;

std::vector<std::uint8_t> encode(std::string_view s) {
  std::vector<std::uint8_t> out(
      huffman_encoded_size({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}));
  Writer w(out);
  huffman_encode({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, w);
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(w.written(), out.size());
  return out;
}

HuffmanResult decode(const std::vector<std::uint8_t>& in, std::string* out) {
  std::vector<std::uint8_t> buf(huffman_max_decoded_size(in.size()));
  std::size_t n = 0;
  const HuffmanResult r = huffman_decode(in, buf, &n);
  if (r == HuffmanResult::kOk) out->assign(buf.begin(), buf.begin() + static_cast<long>(n));
  return r;
}

struct Vector {
  const char* text;
  const char* code;
};
// RFC 7541 C.4.1-C.4.3 (requests) and C.6.1-C.6.2 (responses).
constexpr Vector kVectors[] = {
    {"www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"},
    {"no-cache", "a8eb 1064 9cbf"},
    {"custom-key", "25a8 49e9 5ba9 7d7f"},
    {"custom-value", "25a8 49e9 5bb8 e8b4 bf"},
    {"302", "6402"},
    {"private", "aec3 771a 4b"},
    {"Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"},
    {"https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"},
    {"Mon, 21 Oct 2013 20:13:22 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff"},
    {"gzip", "9bd9 ab"},
};

TEST(Huffman, Rfc7541AppendixCVectorsEncode) {
  for (const Vector& v : kVectors)
    EXPECT_EQ(encode(v.text), hex(v.code)) << v.text;
}

TEST(Huffman, Rfc7541AppendixCVectorsDecode) {
  for (const Vector& v : kVectors) {
    std::string out;
    ASSERT_EQ(decode(hex(v.code), &out), HuffmanResult::kOk) << v.text;
    EXPECT_EQ(out, v.text);
  }
}

TEST(Huffman, EmptyString) {
  EXPECT_EQ(huffman_encoded_size({}), 0u);
  std::string out = "x";
  std::size_t n = 7;
  std::uint8_t buf[1];
  EXPECT_EQ(huffman_decode({}, buf, &n), HuffmanResult::kOk);
  EXPECT_EQ(n, 0u);
}

TEST(Huffman, EveryByteRoundTrips) {
  std::string all;
  for (int c = 0; c < 256; ++c)
    all.push_back(static_cast<char>(c));
  for (int c = 0; c < 256; ++c) {
    const std::string one(1, static_cast<char>(c));
    std::string out;
    ASSERT_EQ(decode(encode(one), &out), HuffmanResult::kOk) << c;
    EXPECT_EQ(out, one);
  }
  std::string out;
  ASSERT_EQ(decode(encode(all), &out), HuffmanResult::kOk);
  EXPECT_EQ(out, all);
}

TEST(Huffman, RandomRoundTrips) {
  std::mt19937 rng(9204);
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 64, '\0');
    for (char& c : s)
      c = static_cast<char>(i % 2 ? rng() % 256 : 'a' + rng() % 26);
    std::string out;
    ASSERT_EQ(decode(encode(s), &out), HuffmanResult::kOk);
    EXPECT_EQ(out, s);
  }
}

// Symbol lengths from Appendix B: '0' 5 bits, 'a' 5, 'z' 7... spot checks of
// the size function.
TEST(Huffman, EncodedSize) {
  EXPECT_EQ(huffman_encoded_size(bytes("a")), 1u);                   // 5 bits
  EXPECT_EQ(huffman_encoded_size(bytes("aa")), 2u);                  // 10 bits
  EXPECT_EQ(huffman_encoded_size(bytes("\xff")), 4u);                // 26 bits
  EXPECT_EQ(huffman_encoded_size(bytes(std::string(1, '\0'))), 2u);  // 13 bits
}

// RFC 7541 §5.2: the padding is the most significant bits of EOS (ones),
// strictly shorter than 8 bits.
TEST(Huffman, RejectsPaddingNotAllOnes) {
  std::string out;
  // 'a' = 00011, then 111 padding = 0x1f. With 000 padding: 0x18.
  ASSERT_EQ(decode({0x1f}, &out), HuffmanResult::kOk);
  EXPECT_EQ(out, "a");
  EXPECT_EQ(decode({0x18}, &out), HuffmanResult::kInvalid);
  EXPECT_EQ(decode({0x1e}, &out), HuffmanResult::kInvalid);  // 110 padding
}

TEST(Huffman, RejectsPaddingLongerThanSevenBits) {
  std::string out;
  // 'a' then 3 + 8 one bits of padding.
  EXPECT_EQ(decode({0x1f, 0xff}, &out), HuffmanResult::kInvalid);
  // A whole byte of ones alone is 8 bits of padding.
  EXPECT_EQ(decode({0xff}, &out), HuffmanResult::kInvalid);
  // "aa" = 00011 00011 + 111111 (6 bits of padding) is fine.
  ASSERT_EQ(decode({0x18, 0xff}, &out), HuffmanResult::kOk);
  EXPECT_EQ(out, "aa");
}

TEST(Huffman, RejectsEosSymbol) {
  std::string out;
  // EOS is 30 ones: four 0xff bytes hold it (plus 2 bits).
  EXPECT_EQ(decode({0xff, 0xff, 0xff, 0xff}, &out), HuffmanResult::kInvalid);
  // 'a' then EOS then padding: 00011 + 30 ones + 5 ones = 40 bits.
  EXPECT_EQ(decode({0x1f, 0xff, 0xff, 0xff, 0xff}, &out), HuffmanResult::kInvalid);
}

TEST(Huffman, RejectsTruncatedSymbol) {
  std::string out;
  // The first byte of a 13-bit code ('\0' = 11111111|11000) alone: 8 ones,
  // which is too long to be padding.
  EXPECT_EQ(decode({0xff}, &out), HuffmanResult::kInvalid);
  // 'X' is 11111100 (8 bits) + '\0' first byte: padding of 8 ones again.
  EXPECT_EQ(decode({0xfc, 0xff}, &out), HuffmanResult::kInvalid);
}

TEST(Huffman, DecodeIntoTooSmallBuffer) {
  const auto code = hex("f1e3 c2e5 f23a 6ba0 ab90 f4ff");  // www.example.com
  std::uint8_t buf[14];
  std::size_t n = 0;
  EXPECT_EQ(huffman_decode(code, buf, &n), HuffmanResult::kNoRoom);
  std::uint8_t exact[15];
  EXPECT_EQ(huffman_decode(code, exact, &n), HuffmanResult::kOk);
  EXPECT_EQ(n, 15u);
}

TEST(Huffman, EncodeIntoTooSmallWriter) {
  const auto s = bytes("www.example.com");
  std::uint8_t buf[11];
  Writer w(buf);
  huffman_encode(s, w);
  EXPECT_FALSE(w.ok());
}

}  // namespace
}  // namespace dquic
