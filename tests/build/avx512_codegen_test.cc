// Guards the g++ 12 AVX-512 workaround in meson.build: this constant
// initializer is miscompiled by g++ 12.2 with -O2 -mavx512f.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

struct Pair {
  std::uint64_t a, b;
};

__attribute__((noinline)) std::vector<std::uint64_t> flatten(const std::vector<Pair>& v) {
  std::vector<std::uint64_t> out;
  for (const Pair& p : v) {
    out.push_back(p.a);
    out.push_back(p.b);
  }
  return out;
}

TEST(Codegen, ConstantPairVectorInitializer) {
  const std::vector<std::uint64_t> got = flatten(std::vector<Pair>{{5, 5}, {0, 0}});
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], 5u);
  EXPECT_EQ(got[1], 5u);
  EXPECT_EQ(got[2], 0u);
  EXPECT_EQ(got[3], 0u);
}

}  // namespace
