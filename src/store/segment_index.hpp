#pragma once
// A sealed segment's index: what recovery needs of each of its records,
// in a small file of its own beside the segment, so that a restart reads
// indexes instead of message bodies (docs/storage.md, "Segment indexes").
//
//   index file "<number>.widx", little-endian:
//   header   "WRNIDX" (6) | version u16 | segment number u64
//            | end u64 (just after the segment's last record) | entries u64     32 bytes
//   entry    type u8 | payload length v | the payload (type < 0x80), or
//            (type | 0x80) a summary: its length v, its bytes
//   trailer  crc32 u32 of everything before it
//
// The entries stand for the segment's records one after the other, the
// first just after the segment's header: an entry's record is at the end
// of the one before. The log layer keeps a record whole unless the store
// above says what stands for it (a Summarize function): for a message,
// its priority and body size. An index is written once its segment is
// sealed and synced, and trusted only whole: the CRC checks, every entry
// parses, and the segment's header and last record agree with it.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "store/io.hpp"

namespace warren::store {

inline constexpr uint16_t kIndexVersion = 1;
inline constexpr size_t kIndexHeaderSize = 32;
// Record types are below this: the bit marks a summarized entry.
inline constexpr uint8_t kSummarized = 0x80;

// Segment `number`'s index in `dir`.
std::string index_path(const std::string& dir, uint64_t number);
// The segment number an index file's name stands for, if it is one.
bool index_number(const std::string& name, uint64_t& out);

// What stands for a record in the index: true with `out` filled (a
// summary), or false to keep the record whole. `head` is the payload's
// first octets, `size` its whole length (the rest may be elsewhere: a
// Batch::Tail, only ever a message's body).
using Summarize =
    std::function<bool(uint8_t type, std::span<const uint8_t> head, uint64_t size, std::vector<uint8_t>& out)>;

// Builds a segment's index as its records are written (or read).
class IndexBuilder {
 public:
  IndexBuilder() = default;
  explicit IndexBuilder(uint64_t segment) : segment_(segment) {}

  // The record at `offset` of `type`, its payload `head` then `tail`.
  // Records must come one after the other; one that does not (damage was
  // skipped) leaves the index unusable.
  void add(uint64_t offset, uint8_t type, std::span<const uint8_t> head, std::span<const uint8_t> tail,
           const Summarize& summarize);
  void spoil() { usable_ = false; }
  bool usable() const { return usable_; }
  uint64_t segment() const { return segment_; }
  uint64_t end() const { return end_; }
  uint64_t entries() const { return count_; }
  // The index file's bytes.
  std::vector<uint8_t> file_bytes() const;
  // Writes them into `f` (empty) from where they are: the header, the
  // entries, the trailer.
  int write(File& f) const;

 private:
  uint64_t segment_ = 0;
  uint64_t end_ = 16;  // kSegmentHeaderSize
  uint64_t count_ = 0;
  uint64_t last_offset_ = 0;
  std::vector<uint8_t> entries_;
  std::vector<uint8_t> summary_;
  bool usable_ = true;
};

// An index entry, as read back: the record at `offset`.
struct IndexEntry {
  uint64_t offset = 0;
  uint8_t type = 0;              // without kSummarized
  uint64_t size = 0;             // the record's payload length
  bool summarized = false;
  std::span<const uint8_t> bytes;  // the payload, or its summary
};

// A checked index, its file's bytes kept: for_each() reads its entries.
struct SegmentIndex {
  uint64_t segment = 0;
  uint64_t end = 0;
  uint64_t count = 0;
  IndexEntry last;  // the last record's entry (when count > 0)
  std::vector<uint8_t> bytes;

  // Hands every entry to `fn`, in order (the index was checked whole).
  void for_each(const std::function<void(const IndexEntry&)>& fn) const;
};

// Checks an index file's bytes for segment `segment`: the CRC, the header,
// and every entry, which must end exactly at the trailer and add up to the
// header's end. A reason why not ("" when it is good, and `out` holds it).
std::string parse_index(std::vector<uint8_t> file, uint64_t segment, SegmentIndex& out);

// How many entries segment `number`'s index in `dir` says it has, from its
// header alone (0 when there is no index, or no header), at most as many
// as its size could hold: a hint for the reader's tables, nothing else is
// checked.
uint64_t index_entries(Io& io, const std::string& dir, uint64_t number);

// Reads segment `number`'s index from `dir` and checks it against the
// segment file `segment`: the header names that segment, the file holds
// the index's end, and its last record is where the index says, of its
// type and length, and checks. ENOENT: no index; EBADMSG with `why`: not
// to be trusted. `out`'s buffer is reused (one for every segment read).
int load_index(Io& io, const std::string& dir, uint64_t number, File& segment, SegmentIndex& out, std::string& why);


}  // namespace warren::store
