// Request latencies in a fixed-size log-linear histogram (the HdrHistogram
// idea): 2^kSubBits linear sub-buckets per power of two, so a percentile is
// within 1/2^kSubBits (about 1.6%) of the recorded value, with no
// allocation after construction and O(1) record(). Values are nanoseconds.
#pragma once

#include <array>
#include <cstdint>

namespace dquic::perf {

class LatencyHistogram {
 public:
  static constexpr unsigned kSubBits = 6;
  static constexpr unsigned kSub = 1u << kSubBits;
  static constexpr unsigned kMagnitudes = 64 - kSubBits + 1;

  void record(std::uint64_t ns);
  void merge(const LatencyHistogram& other);
  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ == 0 ? 0 : min_; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }
  // The smallest bucket value v such that at least p% of the samples are
  // <= v's bucket (reported as the bucket's upper bound, clamped to max()).
  // 0 with no samples.
  std::uint64_t percentile(double p) const;

 private:
  static unsigned index(std::uint64_t v);
  static std::uint64_t upper(unsigned index);

  std::array<std::uint64_t, kMagnitudes * kSub> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
  std::uint64_t max_ = 0;
};

}  // namespace dquic::perf
