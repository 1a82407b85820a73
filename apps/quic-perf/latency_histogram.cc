#include "latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace dquic::perf {

// Values below kSub go to magnitude 0 exactly; above, magnitude m holds
// [2^(m+kSubBits-1), 2^(m+kSubBits)) in kSub/2.. steps of 2^(m-1).
unsigned LatencyHistogram::index(std::uint64_t v) {
  if (v < kSub) return static_cast<unsigned>(v);
  const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(v));  // >= kSubBits
  const unsigned shift = msb - (kSubBits - 1);
  const unsigned m = shift;                                // 1..
  const unsigned sub = static_cast<unsigned>(v >> shift);  // in [kSub/2, kSub)
  return m * kSub + sub;
}

std::uint64_t LatencyHistogram::upper(unsigned i) {
  const unsigned m = i / kSub;
  const std::uint64_t sub = i % kSub;
  if (m == 0) return sub;
  const std::uint64_t lo = sub << m;
  return lo + ((std::uint64_t{1} << m) - 1);
}

void LatencyHistogram::record(std::uint64_t ns) {
  ++buckets_[index(ns)];
  ++count_;
  sum_ += ns;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
}

void LatencyHistogram::merge(const LatencyHistogram& o) {
  for (std::size_t i = 0; i < buckets_.size(); ++i)
    buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

std::uint64_t LatencyHistogram::percentile(double p) const {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(p, 0.0, 100.0);
  std::uint64_t rank = static_cast<std::uint64_t>(std::ceil(clamped / 100.0 * count_));
  rank = std::max<std::uint64_t>(rank, 1);
  std::uint64_t seen = 0;
  for (unsigned i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::clamp(upper(i), min_, max_);
  }
  return max_;
}

}  // namespace dquic::perf
