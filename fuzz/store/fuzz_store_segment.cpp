// libFuzzer target for reading a segment of the store's log: arbitrary
// bytes as a segment file must not crash the reader, and what it reports
// must describe the bytes (records in order inside them, damage and tail
// inside them, nothing counted twice). The same bytes as a segment index
// must not crash its parser, and the index built from the records read
// must read back as exactly those records.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "store/segment.hpp"
#include "store/segment_index.hpp"

using namespace warren::store;

namespace {

// Summarizes records of odd type as their payload's size octet.
bool summarize(uint8_t type, std::span<const uint8_t>, uint64_t size, std::vector<uint8_t>& out) {
  if (type % 2 == 0) return false;
  out.assign(1, uint8_t(size));
  return true;
}

struct Record {
  uint64_t offset;
  uint8_t type;
  std::span<const uint8_t> payload;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  SegmentIndex as_index;
  if (parse_index(std::vector<uint8_t>(bytes.begin(), bytes.end()), 1, as_index).empty()) {
    uint64_t n = 0;
    as_index.for_each([&](const IndexEntry& e) {
      if (e.bytes.data() < as_index.bytes.data() || e.bytes.data() + e.bytes.size() > as_index.bytes.data() + as_index.bytes.size())
        abort();
      ++n;
    });
    if (n != as_index.count) abort();
  }

  uint64_t last_end = kSegmentHeaderSize;
  uint64_t covered = 0;
  std::vector<Record> records;
  IndexBuilder index(1);
  ScanResult r = scan_segment_bytes(bytes, [&](uint64_t offset, uint8_t type, std::span<const uint8_t> payload) {
    if (offset < last_end) abort();  // records in order, not overlapping
    if (payload.data() != data + offset + kRecordHeaderSize) abort();
    last_end = offset + kRecordHeaderSize + payload.size();
    covered += kRecordHeaderSize + payload.size();
    records.push_back({offset, type, payload});
    index.add(offset, type, payload, {}, summarize);
  });
  if (r.error) return 0;
  if (r.good_end > size || r.good_end + r.tail_bytes != size) abort();
  for (auto [off, len] : r.damaged) {
    if (off < kSegmentHeaderSize || off + len > r.good_end) abort();
    covered += len;
  }
  if (kSegmentHeaderSize + covered != r.good_end) abort();  // every byte accounted for once

  // An index is built only from records one after the other; it reads back
  // as them.
  const bool high_type = std::any_of(records.begin(), records.end(), [](const Record& x) { return x.type >= kSummarized; });
  if (index.usable() != (r.damaged.empty() && !high_type)) abort();
  if (!index.usable()) return 0;
  SegmentIndex back;
  if (!parse_index(index.file_bytes(), 1, back).empty() || back.count != records.size() || back.end != r.good_end)
    abort();
  size_t i = 0;
  back.for_each([&](const IndexEntry& e) {
    const Record& x = records[i++];
    if (e.offset != x.offset || e.type != x.type || e.size != x.payload.size() || e.summarized != (x.type % 2 == 1)) abort();
    if (!e.summarized && !std::equal(e.bytes.begin(), e.bytes.end(), x.payload.begin(), x.payload.end())) abort();
  });
  return 0;
}
