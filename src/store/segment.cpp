#include "store/segment.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace warren::store {

namespace {

constexpr char kMagic[6] = {'W', 'R', 'N', 'L', 'O', 'G'};

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
void put64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Over length, type and payload: everything after the CRC field.
uint32_t record_crc(const uint8_t* from_length, size_t n) {
  return uint32_t(crc32(crc32(0L, Z_NULL, 0), from_length, uInt(n)));
}

// The payload length of a valid record at `pos`, or -1.
int64_t valid_record_at(std::span<const uint8_t> b, size_t pos) {
  if (b.size() - pos < kRecordHeaderSize) return -1;
  const uint32_t len = get32(&b[pos + 4]);
  if (len > kMaxRecordPayload || b.size() - pos - kRecordHeaderSize < len) return -1;
  if (record_crc(&b[pos + 4], 5 + size_t(len)) != get32(&b[pos])) return -1;
  return len;
}

}  // namespace

int SegmentWriter::create(File& file, uint64_t number, SegmentWriter& out) {
  uint8_t header[kSegmentHeaderSize];
  std::memcpy(header, kMagic, sizeof kMagic);
  header[6] = uint8_t(kFormatVersion);
  header[7] = uint8_t(kFormatVersion >> 8);
  put64(header + 8, number);
  if (int err = write_all(file, header, 0)) return err;
  out = SegmentWriter();
  out.file_ = &file;
  out.end_ = kSegmentHeaderSize;
  return 0;
}

int SegmentWriter::resume(File& file, uint64_t end, SegmentWriter& out) {
  uint64_t size = 0;
  if (int err = file.size(size)) return err;
  if (size > end)
    if (int err = file.truncate(end)) return err;
  out = SegmentWriter();
  out.file_ = &file;
  out.end_ = out.durable_end_ = end;
  return 0;
}

void frame_record_head(std::vector<uint8_t>& out, uint8_t type, std::span<const uint8_t> a, size_t tail) {
  const size_t at = out.size();
  out.resize(at + kRecordHeaderSize + a.size());
  uint8_t* p = out.data() + at;
  put32(p, 0);
  put32(p + 4, uint32_t(a.size() + tail));
  p[8] = type;
  if (!a.empty()) std::memcpy(p + kRecordHeaderSize, a.data(), a.size());
}

void frame_record(std::vector<uint8_t>& out, uint8_t type, std::span<const uint8_t> a, std::span<const uint8_t> b) {
  frame_record_head(out, type, a, b.size());
  out.insert(out.end(), b.begin(), b.end());
}

// The CRC over the octets here, then on over the tail's (zlib's crc32
// continues from a running value): the tail is never copied.
void seal_record(uint8_t* record, std::span<const uint8_t> tail) {
  const size_t here = 5 + size_t(get32(record + 4)) - tail.size();
  uint32_t crc = record_crc(record + 4, here);
  if (!tail.empty()) crc = uint32_t(crc32(crc, tail.data(), uInt(tail.size())));
  put32(record, crc);
}

void SegmentWriter::add(uint8_t type, std::span<const uint8_t> payload) {
  const size_t at = buffer_.size();
  frame_record(buffer_, type, payload);
  seal_record(buffer_.data() + at);
}

int SegmentWriter::write(std::span<const uint8_t> sealed) {
  if (int err = write()) return err;
  if (sealed.empty()) return 0;
  if (int err = write_all(*file_, sealed, end_)) return error_ = err;
  end_ += sealed.size();
  return 0;
}

int SegmentWriter::write(std::span<const std::span<const uint8_t>> sealed) {
  if (int err = write()) return err;
  size_t n = 0;
  for (std::span<const uint8_t> p : sealed) n += p.size();
  if (n == 0) return 0;
  if (int err = write_all(*file_, sealed, end_)) return error_ = err;
  end_ += n;
  return 0;
}

int SegmentWriter::write() {
  if (error_) return error_;
  if (buffer_.empty()) return 0;
  if (int err = write_all(*file_, buffer_, end_)) return error_ = err;
  end_ += buffer_.size();
  buffer_.clear();
  return 0;
}

int SegmentWriter::sync() {
  if (int err = write()) return err;
  if (durable_end_ == end_) return 0;
  if (int err = file_->sync()) return error_ = err;
  durable_end_ = end_;
  return 0;
}

size_t record_at(std::span<const uint8_t> b, uint8_t& type, std::span<const uint8_t>& payload) {
  const int64_t len = valid_record_at(b, 0);
  if (len < 0) return 0;
  type = b[8];
  payload = b.subspan(kRecordHeaderSize, size_t(len));
  return kRecordHeaderSize + size_t(len);
}

int read_record(File& file, uint64_t offset, uint8_t& type, std::vector<uint8_t>& payload) {
  uint8_t header[kRecordHeaderSize];
  size_t got = 0;
  if (int err = file.read_at(header, offset, got)) return err;
  if (got < kRecordHeaderSize) return EBADMSG;
  const uint32_t len = get32(header + 4);
  if (len > kMaxRecordPayload) return EBADMSG;
  payload.resize(len);
  if (int err = file.read_at(payload, offset + kRecordHeaderSize, got)) return err;
  if (got < len) return EBADMSG;
  uint32_t crc = uint32_t(crc32(crc32(0L, Z_NULL, 0), header + 4, 5));
  crc = uint32_t(crc32(crc, payload.data(), uInt(len)));
  if (crc != get32(header)) return EBADMSG;
  type = header[8];
  return 0;
}

ScanResult scan_segment_bytes(std::span<const uint8_t> b, const RecordFn& on_record) {
  ScanResult r;
  if (b.size() < kSegmentHeaderSize || std::memcmp(b.data(), kMagic, sizeof kMagic) != 0) {
    r.error = EINVAL;
    return r;
  }
  if (uint16_t(b[6] | b[7] << 8) != kFormatVersion) {
    r.error = ENOTSUP;
    return r;
  }
  r.number = get64(&b[8]);
  size_t pos = kSegmentHeaderSize;
  r.good_end = pos;
  while (pos < b.size()) {
    if (int64_t len = valid_record_at(b, pos); len >= 0) {
      on_record(pos, b[pos + 8], b.subspan(pos + kRecordHeaderSize, size_t(len)));
      ++r.records;
      pos += kRecordHeaderSize + size_t(len);
      r.good_end = pos;
      continue;
    }
    // Not a record. Zeros to the end are a prepared segment's unused space
    // (checked first: searching them for a record would try every offset).
    if (std::all_of(b.begin() + ptrdiff_t(pos), b.end(), [](uint8_t x) { return x == 0; })) {
      r.tail_bytes = b.size() - pos;
      r.zero_tail = true;
      break;
    }
    // Find the next record that checks, if any.
    size_t next = pos + 1;
    while (next < b.size() && valid_record_at(b, next) < 0) ++next;
    if (next >= b.size()) {
      r.tail_bytes = b.size() - pos;
      break;
    }
    r.damaged.emplace_back(pos, next - pos);
    pos = next;
  }
  return r;
}

ScanResult scan_segment(File& file, const RecordFn& on_record) {
  std::vector<uint8_t> buffer;
  return scan_segment(file, on_record, buffer);
}

ScanResult scan_segment(File& file, const RecordFn& on_record, std::vector<uint8_t>& buffer) {
  uint64_t size = 0;
  ScanResult r;
  if ((r.error = file.size(size))) return r;
  buffer.resize(static_cast<size_t>(size));
  size_t got = 0;
  if ((r.error = file.read_at(buffer, 0, got))) return r;
  return scan_segment_bytes(std::span<const uint8_t>(buffer.data(), got), on_record);
}

}  // namespace warren::store
