#include "h3/huffman.h"

#include <array>

namespace dquic {
namespace {

struct HuffmanCode {
  std::uint32_t code;  // aligned to the least significant bit
  std::uint8_t bits;
};

// RFC 7541 Appendix B, symbols 0..255 and EOS (256).
constexpr HuffmanCode kCodes[257] = {
    {0x1ff8, 13},     {0x7fffd8, 23},   {0xfffffe2, 28},  {0xfffffe3, 28},  {0xfffffe4, 28},
    {0xfffffe5, 28},  {0xfffffe6, 28},  {0xfffffe7, 28},  {0xfffffe8, 28},  {0xffffea, 24},
    {0x3ffffffc, 30}, {0xfffffe9, 28},  {0xfffffea, 28},  {0x3ffffffd, 30}, {0xfffffeb, 28},
    {0xfffffec, 28},  {0xfffffed, 28},  {0xfffffee, 28},  {0xfffffef, 28},  {0xffffff0, 28},
    {0xffffff1, 28},  {0xffffff2, 28},  {0x3ffffffe, 30}, {0xffffff3, 28},  {0xffffff4, 28},
    {0xffffff5, 28},  {0xffffff6, 28},  {0xffffff7, 28},  {0xffffff8, 28},  {0xffffff9, 28},
    {0xffffffa, 28},  {0xffffffb, 28},  {0x14, 6},        {0x3f8, 10},      {0x3f9, 10},
    {0xffa, 12},      {0x1ff9, 13},     {0x15, 6},        {0xf8, 8},        {0x7fa, 11},
    {0x3fa, 10},      {0x3fb, 10},      {0xf9, 8},        {0x7fb, 11},      {0xfa, 8},
    {0x16, 6},        {0x17, 6},        {0x18, 6},        {0x0, 5},         {0x1, 5},
    {0x2, 5},         {0x19, 6},        {0x1a, 6},        {0x1b, 6},        {0x1c, 6},
    {0x1d, 6},        {0x1e, 6},        {0x1f, 6},        {0x5c, 7},        {0xfb, 8},
    {0x7ffc, 15},     {0x20, 6},        {0xffb, 12},      {0x3fc, 10},      {0x1ffa, 13},
    {0x21, 6},        {0x5d, 7},        {0x5e, 7},        {0x5f, 7},        {0x60, 7},
    {0x61, 7},        {0x62, 7},        {0x63, 7},        {0x64, 7},        {0x65, 7},
    {0x66, 7},        {0x67, 7},        {0x68, 7},        {0x69, 7},        {0x6a, 7},
    {0x6b, 7},        {0x6c, 7},        {0x6d, 7},        {0x6e, 7},        {0x6f, 7},
    {0x70, 7},        {0x71, 7},        {0x72, 7},        {0xfc, 8},        {0x73, 7},
    {0xfd, 8},        {0x1ffb, 13},     {0x7fff0, 19},    {0x1ffc, 13},     {0x3ffc, 14},
    {0x22, 6},        {0x7ffd, 15},     {0x3, 5},         {0x23, 6},        {0x4, 5},
    {0x24, 6},        {0x5, 5},         {0x25, 6},        {0x26, 6},        {0x27, 6},
    {0x6, 5},         {0x74, 7},        {0x75, 7},        {0x28, 6},        {0x29, 6},
    {0x2a, 6},        {0x7, 5},         {0x2b, 6},        {0x76, 7},        {0x2c, 6},
    {0x8, 5},         {0x9, 5},         {0x2d, 6},        {0x77, 7},        {0x78, 7},
    {0x79, 7},        {0x7a, 7},        {0x7b, 7},        {0x7ffe, 15},     {0x7fc, 11},
    {0x3ffd, 14},     {0x1ffd, 13},     {0xffffffc, 28},  {0xfffe6, 20},    {0x3fffd2, 22},
    {0xfffe7, 20},    {0xfffe8, 20},    {0x3fffd3, 22},   {0x3fffd4, 22},   {0x3fffd5, 22},
    {0x7fffd9, 23},   {0x3fffd6, 22},   {0x7fffda, 23},   {0x7fffdb, 23},   {0x7fffdc, 23},
    {0x7fffdd, 23},   {0x7fffde, 23},   {0xffffeb, 24},   {0x7fffdf, 23},   {0xffffec, 24},
    {0xffffed, 24},   {0x3fffd7, 22},   {0x7fffe0, 23},   {0xffffee, 24},   {0x7fffe1, 23},
    {0x7fffe2, 23},   {0x7fffe3, 23},   {0x7fffe4, 23},   {0x1fffdc, 21},   {0x3fffd8, 22},
    {0x7fffe5, 23},   {0x3fffd9, 22},   {0x7fffe6, 23},   {0x7fffe7, 23},   {0xffffef, 24},
    {0x3fffda, 22},   {0x1fffdd, 21},   {0xfffe9, 20},    {0x3fffdb, 22},   {0x3fffdc, 22},
    {0x7fffe8, 23},   {0x7fffe9, 23},   {0x1fffde, 21},   {0x7fffea, 23},   {0x3fffdd, 22},
    {0x3fffde, 22},   {0xfffff0, 24},   {0x1fffdf, 21},   {0x3fffdf, 22},   {0x7fffeb, 23},
    {0x7fffec, 23},   {0x1fffe0, 21},   {0x1fffe1, 21},   {0x3fffe0, 22},   {0x1fffe2, 21},
    {0x7fffed, 23},   {0x3fffe1, 22},   {0x7fffee, 23},   {0x7fffef, 23},   {0xfffea, 20},
    {0x3fffe2, 22},   {0x3fffe3, 22},   {0x3fffe4, 22},   {0x7ffff0, 23},   {0x3fffe5, 22},
    {0x3fffe6, 22},   {0x7ffff1, 23},   {0x3ffffe0, 26},  {0x3ffffe1, 26},  {0xfffeb, 20},
    {0x7fff1, 19},    {0x3fffe7, 22},   {0x7ffff2, 23},   {0x3fffe8, 22},   {0x1ffffec, 25},
    {0x3ffffe2, 26},  {0x3ffffe3, 26},  {0x3ffffe4, 26},  {0x7ffffde, 27},  {0x7ffffdf, 27},
    {0x3ffffe5, 26},  {0xfffff1, 24},   {0x1ffffed, 25},  {0x7fff2, 19},    {0x1fffe3, 21},
    {0x3ffffe6, 26},  {0x7ffffe0, 27},  {0x7ffffe1, 27},  {0x3ffffe7, 26},  {0x7ffffe2, 27},
    {0xfffff2, 24},   {0x1fffe4, 21},   {0x1fffe5, 21},   {0x3ffffe8, 26},  {0x3ffffe9, 26},
    {0xffffffd, 28},  {0x7ffffe3, 27},  {0x7ffffe4, 27},  {0x7ffffe5, 27},  {0xfffec, 20},
    {0xfffff3, 24},   {0xfffed, 20},    {0x1fffe6, 21},   {0x3fffe9, 22},   {0x1fffe7, 21},
    {0x1fffe8, 21},   {0x7ffff3, 23},   {0x3fffea, 22},   {0x3fffeb, 22},   {0x1ffffee, 25},
    {0x1ffffef, 25},  {0xfffff4, 24},   {0xfffff5, 24},   {0x3ffffea, 26},  {0x7ffff4, 23},
    {0x3ffffeb, 26},  {0x7ffffe6, 27},  {0x3ffffec, 26},  {0x3ffffed, 26},  {0x7ffffe7, 27},
    {0x7ffffe8, 27},  {0x7ffffe9, 27},  {0x7ffffea, 27},  {0x7ffffeb, 27},  {0xffffffe, 28},
    {0x7ffffec, 27},  {0x7ffffed, 27},  {0x7ffffee, 27},  {0x7ffffef, 27},  {0x7fffff0, 27},
    {0x3ffffee, 26},  {0x3fffffff, 30},
};
constexpr int kEos = 256;

// The code tree: 257 leaves, so 256 internal nodes. A child >= 0 is an
// internal node, < 0 is the leaf of symbol -(child + 1).
struct Tree {
  std::int16_t child[256][2] = {};
  std::uint8_t depth[256] = {};
  bool all_ones[256] = {};  // the path from the root is all 1 bits
};

constexpr Tree build_tree() {
  Tree t;
  int nodes = 1;
  t.all_ones[0] = true;
  for (int sym = 0; sym <= kEos; ++sym) {
    int node = 0;
    for (int b = kCodes[sym].bits - 1; b >= 0; --b) {
      const int bit = (kCodes[sym].code >> b) & 1;
      if (b == 0) {
        t.child[node][bit] = static_cast<std::int16_t>(-(sym + 1));
        break;
      }
      if (t.child[node][bit] == 0) {
        t.child[node][bit] = static_cast<std::int16_t>(nodes);
        t.depth[nodes] = static_cast<std::uint8_t>(t.depth[node] + 1);
        t.all_ones[nodes] = t.all_ones[node] && bit == 1;
        ++nodes;
      }
      node = t.child[node][bit];
    }
  }
  return t;
}

// Decoding walks four bits at a time: the state is an internal node, and a
// nibble emits at most one symbol because the shortest code has five bits.
enum : std::uint8_t { kEmit = 1, kFail = 2, kAccept = 4 };
struct Step {
  std::uint8_t next;
  std::uint8_t flags;
  std::uint8_t sym;
};
using Fsm = std::array<std::array<Step, 16>, 256>;

constexpr Fsm build_fsm() {
  const Tree t = build_tree();
  Fsm fsm{};
  for (int state = 0; state < 256; ++state) {
    for (int nibble = 0; nibble < 16; ++nibble) {
      Step s{};
      int node = state;
      for (int b = 3; b >= 0; --b) {
        const int c = t.child[node][(nibble >> b) & 1];
        if (c < 0) {
          const int sym = -c - 1;
          // RFC 7541 §5.2: a string containing EOS is a decoding error.
          if (sym == kEos) {
            s.flags = kFail;
            break;
          }
          s.flags = kEmit;
          s.sym = static_cast<std::uint8_t>(sym);
          node = 0;
        } else {
          node = c;
        }
      }
      if (!(s.flags & kFail)) {
        s.next = static_cast<std::uint8_t>(node);
        // Ending here is valid when the bits since the last symbol are a
        // prefix of EOS (all ones) of at most 7 bits (RFC 7541 §5.2).
        if (node == 0 || (t.all_ones[node] && t.depth[node] <= 7)) s.flags |= kAccept;
      }
      fsm[state][nibble] = s;
    }
  }
  return fsm;
}

constexpr Fsm kFsm = build_fsm();

}  // namespace

std::size_t huffman_encoded_size(ByteSpan in) {
  std::size_t bits = 0;
  for (std::uint8_t c : in)
    bits += kCodes[c].bits;
  return (bits + 7) / 8;
}

void huffman_encode(ByteSpan in, Writer& w) {
  std::uint8_t* out = w.claim(huffman_encoded_size(in));
  if (out == nullptr) return;
  std::uint64_t acc = 0;  // at most 7 pending + 30 new bits
  unsigned pending = 0;
  for (std::uint8_t c : in) {
    acc = (acc << kCodes[c].bits) | kCodes[c].code;
    pending += kCodes[c].bits;
    while (pending >= 8) {
      pending -= 8;
      *out++ = static_cast<std::uint8_t>(acc >> pending);
    }
  }
  if (pending > 0) {
    // Pad with the high bits of EOS, i.e. ones.
    *out = static_cast<std::uint8_t>((acc << (8 - pending)) | (0xffu >> pending));
  }
}

HuffmanResult huffman_decode(ByteSpan in, std::span<std::uint8_t> out, std::size_t* out_len) {
  std::uint8_t state = 0;
  std::uint8_t flags = kAccept;
  std::size_t n = 0;
  for (std::uint8_t byte : in) {
    for (int half = 0; half < 2; ++half) {
      const Step& s = kFsm[state][half == 0 ? byte >> 4 : byte & 0x0f];
      if (s.flags & kFail) return HuffmanResult::kInvalid;
      if (s.flags & kEmit) {
        if (n == out.size()) return HuffmanResult::kNoRoom;
        out[n++] = s.sym;
      }
      state = s.next;
      flags = s.flags;
    }
  }
  if (!(flags & kAccept)) return HuffmanResult::kInvalid;
  *out_len = n;
  return HuffmanResult::kOk;
}

}  // namespace dquic
