#pragma once
// Which sequence numbers of each producer arrived, to count lost and
// duplicated messages. One tracker per consumer, so the hot path takes no
// lock; the trackers of the consumers that share a queue are merged at the
// end (a number two consumers both saw is a duplicate too).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace warren::perf {

class SeqTracker {
 public:
  // Marks (producer, seq). False if it was already marked: a duplicate.
  bool record(uint32_t producer, uint64_t seq);

  // Adds other's marks; numbers marked in both count as duplicates.
  void merge(const SeqTracker& other);

  uint64_t duplicates() const { return duplicates_; }
  uint64_t distinct(uint32_t producer) const;  // numbers of `producer` seen
  // Numbers of `producer` below `published` that never arrived.
  uint64_t lost(uint32_t producer, uint64_t published) const;
  // Numbers at or above `published`: arrivals nobody sent (a corrupt body).
  uint64_t unexpected(uint32_t producer, uint64_t published) const;

 private:
  struct Bits {
    std::vector<uint64_t> words;
    uint64_t distinct = 0;
  };
  std::vector<Bits> producers_;
  uint64_t duplicates_ = 0;
};

}  // namespace warren::perf
