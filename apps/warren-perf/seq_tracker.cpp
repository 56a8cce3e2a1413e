#include "seq_tracker.hpp"

#include <algorithm>
#include <bit>

namespace warren::perf {

bool SeqTracker::record(uint32_t producer, uint64_t seq) {
  if (producer >= producers_.size()) producers_.resize(size_t(producer) + 1);
  Bits& b = producers_[producer];
  size_t w = size_t(seq >> 6);
  if (w >= b.words.size()) b.words.resize(std::max(w + 1, b.words.size() * 2), 0);
  uint64_t bit = uint64_t(1) << (seq & 63);
  if (b.words[w] & bit) {
    ++duplicates_;
    return false;
  }
  b.words[w] |= bit;
  ++b.distinct;
  return true;
}

void SeqTracker::merge(const SeqTracker& o) {
  duplicates_ += o.duplicates_;
  if (o.producers_.size() > producers_.size()) producers_.resize(o.producers_.size());
  for (size_t p = 0; p < o.producers_.size(); ++p) {
    const Bits& src = o.producers_[p];
    Bits& dst = producers_[p];
    if (src.words.size() > dst.words.size()) dst.words.resize(src.words.size(), 0);
    for (size_t w = 0; w < src.words.size(); ++w) {
      uint64_t both = dst.words[w] & src.words[w];
      duplicates_ += uint64_t(std::popcount(both));
      dst.distinct += uint64_t(std::popcount(src.words[w] & ~dst.words[w]));
      dst.words[w] |= src.words[w];
    }
  }
}

uint64_t SeqTracker::distinct(uint32_t producer) const {
  return producer < producers_.size() ? producers_[producer].distinct : 0;
}

uint64_t SeqTracker::unexpected(uint32_t producer, uint64_t published) const {
  if (producer >= producers_.size()) return 0;
  const auto& words = producers_[producer].words;
  uint64_t n = 0;
  for (size_t w = size_t(published >> 6); w < words.size(); ++w) {
    uint64_t word = words[w];
    if (w == size_t(published >> 6)) word &= ~((uint64_t(1) << (published & 63)) - 1);
    n += uint64_t(std::popcount(word));
  }
  return n;
}

uint64_t SeqTracker::lost(uint32_t producer, uint64_t published) const {
  uint64_t seen_below = distinct(producer) - unexpected(producer, published);
  return published - seen_below;
}

}  // namespace warren::perf
