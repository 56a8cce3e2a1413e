#pragma once
// A log-linear latency histogram in the manner of HdrHistogram: values below
// 256 are counted exactly; above, each power of two is cut into 128 equal
// buckets, so a bucket is at most 1/128 (0.8%) of its values wide and a
// reported percentile is within ~0.4% of the true one (its bucket's middle).
// min and max are exact. Buckets grow on demand, so an idle histogram is small.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace warren::perf {

class Histogram {
 public:
  static constexpr unsigned kSubBits = 7;                       // 128 buckets per power of two
  static constexpr uint64_t kExactBelow = uint64_t(2) << kSubBits;  // 256
  static constexpr uint64_t kMaxValue = (uint64_t(1) << 46) - 1;    // ~19.5 h in ns; larger values are clamped

  void record(uint64_t value, uint64_t count = 1);
  void merge(const Histogram& other);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? double(sum_) / double(count_) : 0.0; }
  // The value at percentile p (0..100): the middle of the bucket holding the
  // ceil(p% of count)-th smallest value, clamped to [min, max]. 0 when empty.
  uint64_t percentile(double p) const;

  // Bucket arithmetic, public for the tests.
  static size_t index_of(uint64_t value);
  static uint64_t lowest_in(size_t index);
  static uint64_t width_of(size_t index);

 private:
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  uint64_t sum_ = 0;  // for the mean; wraps only after ~2^64 ns of latency in total
};

}  // namespace warren::perf
