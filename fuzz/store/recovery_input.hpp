#pragma once
// The input format of fuzz_store_recovery, shared with make_store_corpus
// which writes its seeds.
//
//   options u8 | segment | separator | file | separator | file ...   (at most kMaxFiles)
//   separator: "WRNSEG" (a segment file follows) or "WRNSIX" (an index file)
//   segment: number | contents
//   index: number | spec (see below)
//   number: one byte n < 255 -> n; 255 -> the next 8 bytes, little-endian
//
// A separator rather than length prefixes, so that the fuzzer's insertions
// and deletions inside a file leave the other files where they were.
// Options:
//   bit 0     each segment is given a valid segment header (with its number)
//             before its contents, so that random inputs get past it;
//   bits 1-2  segment_bytes of the recovered store (small ones rotate);
//   bits 3-4  how the exercise settles what it takes (broker::Outcome);
//   bit 5     the exercise's batch is written unsynced and power is lost
//             before the restart (a torn write on top of recovered state);
//   bit 6     the exercise purges every queue (what it took stays unacked);
//   bit 7     the exercise deletes the first queue.
//
// An index file "<number>.widx" is made from its spec, so that random
// inputs reach past its CRC and its checks against the segment:
//   how u8 | [from u8] | [records u8] | [cut u16] | rest
//   how bits 0-1  the index's source: 0 (and 3) built from a segment of the
//                 input (as it is on the disk, header and all) as warrend
//                 builds it, up to the segment's first damage; 1 the rest
//                 is the file, as is; 2 the rest is its entries, the
//                 header made to fit (segment `number`, the entries that
//                 parse counted and summed) and a good CRC after them;
//       bit 2     (built) from the input's segment `from` (its place among
//                 the segments, modulo their count), not the one numbered
//                 `number` (none: an index of no records);
//       bit 3     (built) naming its source's number, not `number`: an
//                 index beside the wrong segment;
//       bit 4     (built) of its source's first `records` records only:
//                 stale, or written for a shorter segment;
//       bit 5     (built) the rest is edits, (position u16, xor u8) each,
//                 the position modulo the file's size: damage;
//       bit 6     cut to `cut` bytes (modulo its size + 1): torn;
//       bit 7     its last 4 bytes made the CRC of those before them
//                 (after edits and cut), so damage gets past the CRC.
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/bytes.hpp"
#include "store/records.hpp"
#include "store/segment.hpp"
#include "store/segment_index.hpp"

namespace warren::store::fuzz {

inline constexpr std::string_view kSeparator = "WRNSEG";
inline constexpr std::string_view kIndexSeparator = "WRNSIX";
static_assert(kSeparator.size() == kIndexSeparator.size());
inline constexpr size_t kMaxFiles = 8;
inline constexpr uint8_t kAddHeader = 1;
inline constexpr uint64_t kSegmentBytes[4] = {64u << 20, 4096, 512, 64};
inline constexpr uint8_t kPowerLoss = 32;
inline constexpr uint8_t kPurge = 64;
inline constexpr uint8_t kDeleteFirst = 128;

// An index spec's `how`.
enum IndexHow : uint8_t {
  kBuilt = 0,
  kRawFile = 1,
  kRawEntries = 2,
  kSourceMask = 3,
  kFrom = 4,
  kStampSource = 8,
  kFirstRecords = 16,
  kEdits = 32,
  kCut = 64,
  kFixCrc = 128,
};

struct InputFile {
  bool index = false;  // an index spec, not a segment
  uint64_t number = 0;
  std::string contents;
};

// The inverse of parse_input, for the corpus writer. False when a file's
// contents hold a separator (it would split there), or the first file is
// not a segment.
inline bool encode_input(uint8_t options, const std::vector<InputFile>& files, std::string& out) {
  out.assign(1, char(options));
  for (size_t i = 0; i < files.size(); ++i) {
    const InputFile& f = files[i];
    if (f.contents.find(kSeparator) != std::string::npos || f.contents.find(kIndexSeparator) != std::string::npos)
      return false;
    if (i == 0 && f.index) return false;
    if (i) out.append(f.index ? kIndexSeparator : kSeparator);
    if (f.number < 255) {
      out.push_back(char(f.number));
    } else {
      out.push_back(char(255));
      for (int b = 0; b < 8; ++b) out.push_back(char(f.number >> (8 * b)));
    }
    out.append(f.contents);
  }
  return true;
}

// Splits an input into its options and files.
inline uint8_t parse_input(const uint8_t* data, size_t size, std::vector<InputFile>& files) {
  files.clear();
  if (size == 0) return 0;
  const uint8_t options = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  bool index = false;  // what the separator before this file said
  while (!rest.empty()) {
    InputFile f;
    f.index = index;
    const uint8_t n = uint8_t(rest[0]);
    rest.remove_prefix(1);
    if (n < 255) {
      f.number = n;
    } else {
      for (int b = 0; b < 8 && !rest.empty(); ++b, rest.remove_prefix(1))
        f.number |= uint64_t(uint8_t(rest[0])) << (8 * b);
    }
    // memmem rather than string_view::find: libFuzzer watches memmem's
    // arguments, and so learns the separators. The earlier of the two
    // ends the file; the last file takes the rest, separators and all.
    const char* sep = nullptr;
    if (files.size() + 1 < kMaxFiles) {
      for (std::string_view s : {kSeparator, kIndexSeparator}) {
        const void* at = memmem(rest.data(), rest.size(), s.data(), s.size());
        if (at && (!sep || static_cast<const char*>(at) < sep)) sep = static_cast<const char*>(at);
      }
    }
    const size_t len = sep ? size_t(sep - rest.data()) : rest.size();
    f.contents.assign(rest.substr(0, len));
    files.push_back(std::move(f));
    if (sep) index = std::string_view(sep, kIndexSeparator.size()) == kIndexSeparator;
    rest.remove_prefix(sep ? len + kSeparator.size() : len);
  }
  return options;
}

inline uint32_t crc_of(std::string_view b) {
  return uint32_t(crc32(crc32(0L, Z_NULL, 0), byte_span(b).data(), uInt(b.size())));
}

inline void put_u64(std::string& out, uint64_t v) {
  for (int b = 0; b < 8; ++b) out.push_back(char(v >> (8 * b)));
}

// The index warrend would write for `segment` (a segment file's bytes),
// naming segment `number`: its records up to its first damage, at most
// `limit` of them.
inline std::string built_index(uint64_t number, std::string_view segment, uint64_t limit = UINT64_MAX) {
  IndexBuilder b(number);
  uint64_t n = 0;
  bool stop = false;
  scan_segment_bytes(byte_span(segment), [&](uint64_t offset, uint8_t type, std::span<const uint8_t> p) {
    stop = stop || n == limit || offset != b.end() || type >= kSummarized;
    if (stop) return;
    b.add(offset, type, p, {}, summarize_record);
    ++n;
  });
  const std::vector<uint8_t> bytes = b.file_bytes();
  return std::string(bytes.begin(), bytes.end());
}

// An index file of segment `number` around `entries`: a header that fits
// the entries that parse (the rest is left out), and a good CRC.
inline std::string fitted_index(uint64_t number, std::string_view entries) {
  In in(byte_span(entries));
  uint64_t count = 0, end = kSegmentHeaderSize;
  size_t good = 0;
  while (!in.done()) {
    const uint8_t type = in.u8();
    const uint64_t size = in.varint();
    if (!in.ok() || size > kMaxRecordPayload) break;
    (void)(type & kSummarized ? in.bytes() : in.raw(size_t(size)));
    if (!in.ok()) break;
    ++count;
    end += kRecordHeaderSize + size;
    good = in.pos();
  }
  std::string out("WRNIDX\x01\x00", 8);
  put_u64(out, number);
  put_u64(out, end);
  put_u64(out, count);
  out.append(entries.substr(0, good));
  const uint32_t crc = crc_of(out);
  for (int b = 0; b < 4; ++b) out.push_back(char(crc >> (8 * b)));
  return out;
}

// The bytes of the index file `spec` stands for, the input's segments
// being `segments` (number, bytes as on the disk).
inline std::string index_file(const InputFile& spec, const std::vector<std::pair<uint64_t, std::string>>& segments) {
  std::string_view rest = spec.contents;
  auto u8 = [&]() -> uint8_t {
    if (rest.empty()) return 0;
    const uint8_t v = uint8_t(rest[0]);
    rest.remove_prefix(1);
    return v;
  };
  const uint8_t how = u8();
  const uint8_t from = how & kFrom ? u8() : 0;
  const uint8_t records = how & kFirstRecords ? u8() : 0;
  size_t cut = 0;
  if (how & kCut) cut = u8() | size_t(u8()) << 8;
  std::string out;
  switch (how & kSourceMask) {
    case kRawFile:
      out.assign(rest);
      break;
    case kRawEntries:
      out = fitted_index(spec.number, rest);
      break;
    default: {
      const std::pair<uint64_t, std::string>* source = nullptr;
      if (how & kFrom) {
        if (!segments.empty()) source = &segments[from % segments.size()];
      } else {
        for (const auto& s : segments)
          if (s.first == spec.number) source = &s;  // the last of that number is the one on the disk
      }
      const uint64_t number = source && (how & kStampSource) ? source->first : spec.number;
      out = built_index(number, source ? std::string_view(source->second) : std::string_view(),
                        how & kFirstRecords ? records : UINT64_MAX);
      if (how & kEdits)
        for (; rest.size() >= 3; rest.remove_prefix(3)) {
          const size_t at = (uint8_t(rest[0]) | size_t(uint8_t(rest[1])) << 8) % out.size();
          out[at] = char(out[at] ^ rest[2]);
        }
    }
  }
  if (how & kCut) out.resize(cut % (out.size() + 1));
  if ((how & kFixCrc) && out.size() >= 4) {
    const uint32_t crc = crc_of(std::string_view(out).substr(0, out.size() - 4));
    for (int b = 0; b < 4; ++b) out[out.size() - 4 + b] = char(crc >> (8 * b));
  }
  return out;
}

}  // namespace warren::store::fuzz
