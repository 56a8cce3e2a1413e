// libFuzzer target for reading a segment of the store's log: arbitrary
// bytes as a segment file must not crash the reader, and what it reports
// must describe the bytes (records in order inside them, damage and tail
// inside them, nothing counted twice).
#include <cstdint>
#include <cstdlib>
#include <span>

#include "store/segment.hpp"

using namespace warren::store;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  uint64_t last_end = kSegmentHeaderSize;
  uint64_t covered = 0;
  ScanResult r = scan_segment_bytes(bytes, [&](uint64_t offset, uint8_t, std::span<const uint8_t> payload) {
    if (offset < last_end) abort();  // records in order, not overlapping
    if (payload.data() != data + offset + kRecordHeaderSize) abort();
    last_end = offset + kRecordHeaderSize + payload.size();
    covered += kRecordHeaderSize + payload.size();
  });
  if (r.error) return 0;
  if (r.good_end > size || r.good_end + r.tail_bytes != size) abort();
  for (auto [off, len] : r.damaged) {
    if (off < kSegmentHeaderSize || off + len > r.good_end) abort();
    covered += len;
  }
  if (kSegmentHeaderSize + covered != r.good_end) abort();  // every byte accounted for once
  return 0;
}
