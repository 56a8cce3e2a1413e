#pragma once
// A latency histogram that one thread records into and any thread reads
// (a store's writer thread records; the management API reads), shaped as
// Prometheus's: fixed upper bounds, counts per bucket, a sum. Relaxed
// atomics: a reader may see a count without its sum for an instant, which
// a scrape tolerates; the recorder never waits.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace warren {

class LatencyHistogram {
 public:
  // Upper bounds in seconds (100 us to 2.5 s: an fdatasync on an SSD to a
  // disk in trouble); one more bucket, +Inf, past the last.
  static constexpr std::array<double, 14> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
  static constexpr size_t kBuckets = kBounds.size() + 1;

  struct Counts {
    std::array<uint64_t, kBuckets> buckets{};  // per bucket, not cumulative
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  void observe(std::chrono::nanoseconds d) {
    const double s = std::chrono::duration<double>(d).count();
    size_t i = 0;
    while (i < kBounds.size() && s > kBounds[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(uint64_t(d.count() < 0 ? 0 : d.count()), std::memory_order_relaxed);
  }

  Counts read() const {
    Counts c;
    for (size_t i = 0; i < kBuckets; ++i) {
      c.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
      c.count += c.buckets[i];
    }
    c.sum_seconds = double(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return c;
  }

 private:
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace warren
