#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace warren::perf {

size_t Histogram::index_of(uint64_t v) {
  if (v < kExactBelow) return size_t(v);
  // v >> shift lands in [128, 256): the top eight bits of v.
  unsigned shift = unsigned(std::bit_width(v)) - (kSubBits + 1);
  uint64_t top = v >> shift;
  return size_t(kExactBelow + (shift - 1) * (uint64_t(1) << kSubBits) + (top - (uint64_t(1) << kSubBits)));
}

uint64_t Histogram::lowest_in(size_t index) {
  if (index < kExactBelow) return index;
  uint64_t rest = index - kExactBelow;
  unsigned shift = unsigned(rest >> kSubBits) + 1;
  uint64_t top = (rest & ((uint64_t(1) << kSubBits) - 1)) + (uint64_t(1) << kSubBits);
  return top << shift;
}

uint64_t Histogram::width_of(size_t index) {
  if (index < kExactBelow) return 1;
  return uint64_t(1) << (((index - kExactBelow) >> kSubBits) + 1);
}

void Histogram::record(uint64_t value, uint64_t n) {
  value = std::min(value, kMaxValue);
  size_t i = index_of(value);
  if (i >= buckets_.size()) buckets_.resize(std::max(i + 1, buckets_.size() * 2), 0);
  buckets_[i] += n;
  count_ += n;
  sum_ += value * n;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
}

void Histogram::merge(const Histogram& o) {
  if (o.count_ == 0) return;
  if (o.buckets_.size() > buckets_.size()) buckets_.resize(o.buckets_.size(), 0);
  for (size_t i = 0; i < o.buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

void Histogram::reset() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = sum_ = max_ = 0;
  min_ = UINT64_MAX;
}

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  uint64_t rank = std::max<uint64_t>(1, uint64_t(std::ceil(p / 100.0 * double(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      uint64_t mid = lowest_in(i) + width_of(i) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace warren::perf
