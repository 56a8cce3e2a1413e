#pragma once
// A segment: one file of the store's log, a header and then records.
// docs/storage.md has the format; in short, little-endian:
//
//   header  "WRNLOG" (6) | format version u16 | segment number u64     16 bytes
//   record  crc32 u32 | length u32 | type u8 | payload (length bytes)
//
// The CRC (zlib's CRC-32) covers length, type and payload, so a record
// whose length field is damaged does not pass. What a record means is the
// store's business (its type byte); this layer only frames and checks.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "store/io.hpp"

namespace warren::store {

inline constexpr uint16_t kFormatVersion = 1;
inline constexpr size_t kSegmentHeaderSize = 16;
inline constexpr size_t kRecordHeaderSize = 9;
// A record's payload is at most this (a 128 MiB message and its metadata
// fit); a larger length is damage, not a record.
inline constexpr uint32_t kMaxRecordPayload = 256u << 20;

// Framing records in two steps, for a writer on another thread: frame()
// appends a record with its CRC left blank (cheap: the event loop does it),
// seal() fills the CRC in (a pass over the bytes: the writer does it).
// `a` and `b` are the payload's two parts, side by side.
void frame_record(std::vector<uint8_t>& out, uint8_t type, std::span<const uint8_t> a,
                  std::span<const uint8_t> b = {});
// The same with `tail` more octets of payload after `a` that are not
// appended: written from where they are (Batch::Tail).
void frame_record_head(std::vector<uint8_t>& out, uint8_t type, std::span<const uint8_t> a, size_t tail);
// `tail`: the payload's last octets, when they are not after the record's
// other octets (frame_record_head).
void seal_record(uint8_t* record, std::span<const uint8_t> tail = {});

// Appends records to a segment. Records are framed into a buffer by add();
// write() hands the buffer to the file, sync() makes it durable. After an
// error the writer is failed for good (fail-stop, see File::sync): the
// store stops accepting work rather than trust what the kernel kept.
class SegmentWriter {
 public:
  // Starts a new segment in `file` (empty), writing its header.
  static int create(File& file, uint64_t number, SegmentWriter& out);
  // Continues a recovered segment whose good records end at `end`; what
  // lies beyond (a torn tail) is cut off first.
  static int resume(File& file, uint64_t end, SegmentWriter& out);

  SegmentWriter() = default;

  void add(uint8_t type, std::span<const uint8_t> payload);
  // Writes what add() framed since the last write().
  int write();
  // Writes records framed and sealed elsewhere, after what add() framed.
  int write(std::span<const uint8_t> sealed);
  // The same, from parts side by side (one gathered write).
  int write(std::span<const std::span<const uint8_t>> sealed);
  // write(), then fdatasync.
  int sync();

  uint64_t end() const { return end_ + buffer_.size(); }  // as if all were written
  uint64_t durable_end() const { return durable_end_; }
  size_t buffered() const { return buffer_.size(); }
  int error() const { return error_; }

 private:
  File* file_ = nullptr;
  std::vector<uint8_t> buffer_;
  uint64_t end_ = 0;          // written to the file up to here
  uint64_t durable_end_ = 0;  // synced up to here
  int error_ = 0;
};

// The valid record at the start of `b`, if one is there whole: its type
// and payload, and its size with the header. 0: none (damaged, or cut short).
size_t record_at(std::span<const uint8_t> b, uint8_t& type, std::span<const uint8_t>& payload);
// Reads the record at `offset` of `file` (a paged message read back).
// EBADMSG: no valid record there.
int read_record(File& file, uint64_t offset, uint8_t& type, std::vector<uint8_t>& payload);

// What reading a segment found.
struct ScanResult {
  int error = 0;             // the file could not be read (errno), or no valid header (EINVAL)
  uint64_t number = 0;       // from the header
  uint64_t good_end = 0;     // just after the last valid record
  uint64_t records = 0;      // valid records handed to the callback
  // Bytes after good_end that are not a record. In the last segment,
  // with nothing valid after them, that is a torn write: cut it off.
  uint64_t tail_bytes = 0;
  // The tail is all zeros: space a prepared segment had not used yet
  // (Log::prepare), not damage.
  bool zero_tail = false;
  // Damaged stretches before good_end: the records there are lost; the
  // valid ones after them were read (resynchronised on the next record
  // that checks). Each is (offset, length).
  std::vector<std::pair<uint64_t, uint64_t>> damaged;
};

using RecordFn = std::function<void(uint64_t offset, uint8_t type, std::span<const uint8_t> payload)>;

// Reads every valid record of `file` in order, past damaged stretches.
ScanResult scan_segment(File& file, const RecordFn& on_record);
// The same reading into `buffer`, kept by the caller across segments: a
// fresh 64 MiB buffer per segment was a third of a restart's time (its
// zeroing and page faults).
ScanResult scan_segment(File& file, const RecordFn& on_record, std::vector<uint8_t>& buffer);

// The same over bytes in memory (fuzzing, tests).
ScanResult scan_segment_bytes(std::span<const uint8_t> bytes, const RecordFn& on_record);

}  // namespace warren::store
