#pragma once
// The input format of fuzz_store_recovery, shared with make_store_corpus
// which writes its seeds.
//
//   options u8 | file | "WRNSEG" | file | "WRNSEG" | ...     (at most kMaxFiles)
//   file: number | contents
//   number: one byte n < 255 -> n; 255 -> the next 8 bytes, little-endian
//
// A separator rather than length prefixes, so that the fuzzer's insertions
// and deletions inside a file leave the other files where they were.
// Options:
//   bit 0     each file is given a valid segment header (with its number)
//             before its contents, so that random inputs get past it;
//   bits 1-2  segment_bytes of the recovered store (small ones rotate);
//   bits 3-4  how the exercise settles what it takes (broker::Outcome);
//   bit 5     the exercise's batch is written unsynced and power is lost
//             before the restart (a torn write on top of recovered state);
//   bit 6     the exercise purges every queue (what it took stays unacked);
//   bit 7     the exercise deletes the first queue.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace warren::store::fuzz {

inline constexpr std::string_view kSeparator = "WRNSEG";
inline constexpr size_t kMaxFiles = 4;
inline constexpr uint8_t kAddHeader = 1;
inline constexpr uint64_t kSegmentBytes[4] = {64u << 20, 4096, 512, 64};
inline constexpr uint8_t kPowerLoss = 32;
inline constexpr uint8_t kPurge = 64;
inline constexpr uint8_t kDeleteFirst = 128;

struct SegmentFile {
  uint64_t number = 0;
  std::string contents;
};

// The inverse of parse_input, for the corpus writer. False when a file's
// contents hold the separator (it would split there).
inline bool encode_input(uint8_t options, const std::vector<SegmentFile>& files, std::string& out) {
  out.assign(1, char(options));
  for (size_t i = 0; i < files.size(); ++i) {
    if (files[i].contents.find(kSeparator) != std::string::npos) return false;
    if (i) out.append(kSeparator);
    if (files[i].number < 255) {
      out.push_back(char(files[i].number));
    } else {
      out.push_back(char(255));
      for (int b = 0; b < 8; ++b) out.push_back(char(files[i].number >> (8 * b)));
    }
    out.append(files[i].contents);
  }
  return true;
}

// Splits an input into its options and files.
inline uint8_t parse_input(const uint8_t* data, size_t size, std::vector<SegmentFile>& files) {
  files.clear();
  if (size == 0) return 0;
  const uint8_t options = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!rest.empty()) {
    SegmentFile f;
    const uint8_t n = uint8_t(rest[0]);
    rest.remove_prefix(1);
    if (n < 255) {
      f.number = n;
    } else {
      for (int b = 0; b < 8 && !rest.empty(); ++b, rest.remove_prefix(1))
        f.number |= uint64_t(uint8_t(rest[0])) << (8 * b);
    }
    // memmem rather than string_view::find: libFuzzer watches memmem's
    // arguments, and so learns the separator.
    // The last file takes the rest, separators and all.
    const void* sep = files.size() + 1 < kMaxFiles
                          ? memmem(rest.data(), rest.size(), kSeparator.data(), kSeparator.size())
                          : nullptr;
    const size_t len = sep ? size_t(static_cast<const char*>(sep) - rest.data()) : rest.size();
    f.contents.assign(rest.substr(0, len));
    files.push_back(std::move(f));
    rest.remove_prefix(sep ? len + kSeparator.size() : len);
  }
  return options;
}

}  // namespace warren::store::fuzz
