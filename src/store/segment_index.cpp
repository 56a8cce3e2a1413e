#include "store/segment_index.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "store/bytes.hpp"
#include "store/log.hpp"
#include "store/segment.hpp"

namespace warren::store {

namespace {

constexpr char kIndexMagic[6] = {'W', 'R', 'N', 'I', 'D', 'X'};
constexpr std::string_view kIndexSuffix = ".widx";

uint32_t crc_of(std::span<const uint8_t> b) { return uint32_t(crc32(crc32(0L, Z_NULL, 0), b.data(), uInt(b.size()))); }

}  // namespace

std::string index_path(const std::string& dir, uint64_t number) {
  return fmt::format("{}/{:020}{}", dir, number, kIndexSuffix);
}

bool index_number(const std::string& name, uint64_t& out) {
  if (name.size() != 20 + kIndexSuffix.size() || !name.ends_with(kIndexSuffix)) return false;
  auto [p, ec] = std::from_chars(name.data(), name.data() + 20, out);
  return ec == std::errc() && p == name.data() + 20;
}

void IndexBuilder::add(uint64_t offset, uint8_t type, std::span<const uint8_t> head, std::span<const uint8_t> tail,
                       const Summarize& summarize) {
  if (!usable_) return;
  const uint64_t size = head.size() + tail.size();
  if (offset != end_ || type >= kSummarized || size > kMaxRecordPayload) {
    usable_ = false;
    entries_.clear();
    entries_.shrink_to_fit();
    return;
  }
  Out o(entries_);
  summary_.clear();
  if (summarize && summarize(type, head, size, summary_)) {
    o.u8(type | kSummarized);
    o.varint(size);
    o.varint(summary_.size());
    entries_.insert(entries_.end(), summary_.begin(), summary_.end());
  } else {
    o.u8(type);
    o.varint(size);
    entries_.insert(entries_.end(), head.begin(), head.end());
    entries_.insert(entries_.end(), tail.begin(), tail.end());
  }
  last_offset_ = offset;
  end_ = offset + kRecordHeaderSize + size;
  ++count_;
}

namespace {

void put_header(std::vector<uint8_t>& out, uint64_t segment, uint64_t end, uint64_t count) {
  out.insert(out.end(), kIndexMagic, kIndexMagic + sizeof kIndexMagic);
  Out o(out);
  o.u8(uint8_t(kIndexVersion));
  o.u8(uint8_t(kIndexVersion >> 8));
  o.u64(segment);
  o.u64(end);
  o.u64(count);
}

}  // namespace

std::vector<uint8_t> IndexBuilder::file_bytes() const {
  std::vector<uint8_t> out;
  out.reserve(kIndexHeaderSize + entries_.size() + 4);
  put_header(out, segment_, end_, count_);
  out.insert(out.end(), entries_.begin(), entries_.end());
  Out(out).u32(crc_of(out));
  return out;
}

int IndexBuilder::write(File& f) const {
  std::vector<uint8_t> header, trailer;
  put_header(header, segment_, end_, count_);
  uint32_t crc = crc_of(header);
  // (zlib's crc32 of a null buffer is its initial value, not `crc`.)
  if (!entries_.empty()) crc = uint32_t(crc32(crc, entries_.data(), uInt(entries_.size())));
  Out(trailer).u32(crc);
  const std::span<const uint8_t> parts[] = {header, entries_, trailer};
  return write_all(f, parts, 0);
}

namespace {

// The entry at `in`'s position, for a record at `offset`. False: not one.
bool next_entry(In& in, uint64_t offset, IndexEntry& e) {
  const uint8_t t = in.u8();
  e.offset = offset;
  e.type = t & uint8_t(~kSummarized);
  e.summarized = t & kSummarized;
  e.size = in.varint();
  if (!in.ok() || e.size > kMaxRecordPayload) return false;
  std::string_view b = e.summarized ? in.bytes() : in.raw(size_t(e.size));
  e.bytes = byte_span(b);
  return in.ok();
}

}  // namespace

std::string parse_index(std::vector<uint8_t> file, uint64_t segment, SegmentIndex& out) {
  if (file.size() < kIndexHeaderSize + 4) return "shorter than its header";
  In trailer(std::span<const uint8_t>(file).subspan(file.size() - 4));
  if (crc_of(std::span<const uint8_t>(file).first(file.size() - 4)) != trailer.u32()) return "its CRC does not check";
  if (std::memcmp(file.data(), kIndexMagic, sizeof kIndexMagic) != 0) return "not an index";
  In h(std::span<const uint8_t>(file).subspan(sizeof kIndexMagic, kIndexHeaderSize - sizeof kIndexMagic));
  const uint16_t version = uint16_t(h.u8() | h.u8() << 8);
  if (version != kIndexVersion) return fmt::format("unknown index version {}", version);
  SegmentIndex r;
  r.segment = h.u64();
  r.end = h.u64();
  r.count = h.u64();
  if (r.segment != segment) return fmt::format("it names segment {}", r.segment);
  // Every entry, checked before any is used.
  In in(std::span<const uint8_t>(file).subspan(kIndexHeaderSize, file.size() - kIndexHeaderSize - 4));
  uint64_t offset = kSegmentHeaderSize, n = 0;
  while (!in.done()) {
    IndexEntry e;
    if (n == r.count || !next_entry(in, offset, e)) return fmt::format("entry {} is not one", n);
    r.last = e;
    offset += kRecordHeaderSize + e.size;
    ++n;
  }
  if (n != r.count || offset != r.end) return "its entries do not add up to its header";
  r.last.bytes = {};  // only its place, type and size are used
  r.bytes = std::move(file);
  out = std::move(r);
  return "";
}

void SegmentIndex::for_each(const std::function<void(const IndexEntry&)>& fn) const {
  In in(std::span<const uint8_t>(bytes).subspan(kIndexHeaderSize, bytes.size() - kIndexHeaderSize - 4));
  uint64_t offset = kSegmentHeaderSize;
  IndexEntry e;
  while (!in.done() && next_entry(in, offset, e)) {
    fn(e);
    offset += kRecordHeaderSize + e.size;
  }
}

uint64_t index_entries(Io& io, const std::string& dir, uint64_t number) {
  std::unique_ptr<File> f;
  uint8_t header[kIndexHeaderSize];
  size_t got = 0;
  uint64_t size = 0;
  if (io.open(index_path(dir, number), OpenMode::Read, f) || f->read_at(header, 0, got) || got < kIndexHeaderSize ||
      std::memcmp(header, kIndexMagic, sizeof kIndexMagic) != 0 || f->size(size) || size < kIndexHeaderSize + 4)
    return 0;
  // No more than the file can hold (an entry takes at least its type and
  // length octets): the header is not checked here, and a damaged count
  // must not size the reader's tables.
  return std::min(In(std::span<const uint8_t>(header + 24, 8)).u64(), (size - kIndexHeaderSize - 4) / 2);
}

int load_index(Io& io, const std::string& dir, uint64_t number, File& segment, SegmentIndex& out, std::string& why) {
  std::unique_ptr<File> f;
  if (int err = io.open(index_path(dir, number), OpenMode::Read, f)) return err;
  uint64_t size = 0;
  if (int err = f->size(size)) return err;
  if (size > (uint64_t(1) << 32)) return why = "larger than any index", EBADMSG;
  // The last one's buffer: no fresh, zeroed pages for every segment.
  std::vector<uint8_t> bytes = std::move(out.bytes);
  bytes.resize(static_cast<size_t>(size));
  size_t got = 0;
  if (int err = f->read_at(bytes, 0, got)) return err;
  bytes.resize(got);
  why = parse_index(std::move(bytes), number, out);
  if (!why.empty()) return EBADMSG;
  // The segment it stands for: its header, its size, its last record.
  uint8_t header[kSegmentHeaderSize];
  if (int err = segment.read_at(header, 0, got)) return err;
  if (got < kSegmentHeaderSize || std::memcmp(header, "WRNLOG", 6) != 0 ||
      uint16_t(header[6] | header[7] << 8) != kFormatVersion || In(std::span<const uint8_t>(header + 8, 8)).u64() != number)
    return why = "the segment's header does not match it", EBADMSG;
  uint64_t segment_size = 0;
  if (int err = segment.size(segment_size)) return err;
  if (segment_size < out.end) return why = "the segment is shorter than it says", EBADMSG;
  if (out.count) {
    uint8_t type = 0;
    std::vector<uint8_t> payload;
    const int err = read_record(segment, out.last.offset, type, payload);
    if (err && err != EBADMSG) return err;
    if (err || type != out.last.type || payload.size() != out.last.size)
      return why = fmt::format("the segment's record at offset {} does not match it", out.last.offset), EBADMSG;
  }
  // warrend indexes a segment whole; one that stops short (damage that
  // kept its CRC) would hide the records after it. Past the end there is
  // only what was never written, which never reads as a record.
  if (segment_size > out.end) {
    uint8_t type = 0;
    std::vector<uint8_t> payload;
    const int err = read_record(segment, out.end, type, payload);
    if (err && err != EBADMSG) return err;
    if (!err) return why = fmt::format("the segment has a record past its end, at offset {}", out.end), EBADMSG;
  }
  return 0;
}

}  // namespace warren::store
