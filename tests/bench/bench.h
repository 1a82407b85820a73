// A minimal benchmark harness: runs a body in timed batches and reports the
// median over repetitions (machines here are noisy; medians are what we quote).
#pragma once

#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

namespace dquic::bench {

struct Result {
  double ns_per_op;
  double tsc_per_op;
};

// Keeps the optimizer from discarding a computed value.
template <class T>
inline void keep(const T& v) {
  asm volatile("" : : "r,m"(v) : "memory");
}

// `body(ops)` performs `ops` operations; returns the median of `reps` batches.
template <class Body>
Result measure(std::uint64_t ops, int reps, Body&& body) {
  std::vector<Result> runs;
  body(ops / 10 + 1);  // warm caches and branch predictors
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t c0 = __rdtsc();
    body(ops);
    const std::uint64_t c1 = __rdtsc();
    const auto t1 = std::chrono::steady_clock::now();
    const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count();
    runs.push_back(
        {ns / static_cast<double>(ops), static_cast<double>(c1 - c0) / static_cast<double>(ops)});
  }
  std::sort(runs.begin(), runs.end(),
            [](const Result& a, const Result& b) { return a.ns_per_op < b.ns_per_op; });
  return runs[runs.size() / 2];
}

inline void report(const char* name, const Result& r, double bytes_per_op = 0) {
  std::printf("%-40s %9.2f ns/op %9.1f tsc/op %10.2f Mop/s", name, r.ns_per_op, r.tsc_per_op,
              1e3 / r.ns_per_op);
  if (bytes_per_op > 0) std::printf(" %8.2f Gbit/s", bytes_per_op * 8 / r.ns_per_op);
  std::printf("\n");
}

}  // namespace dquic::bench
