#pragma once
// Writing and reading the fields of the store's record payloads:
// little-endian fixed-width integers, LEB128 varints and length-prefixed
// byte strings. A reader that runs out of bytes or meets a bad length
// fails (ok() false) and returns zeros from then on, so decoders check
// once at the end instead of after every field.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace warren::store {

// A string's bytes as the store's spans.
inline std::span<const uint8_t> byte_span(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class Out {
 public:
  explicit Out(std::vector<uint8_t>& buf) : buf_(buf) {}

  void u8(uint8_t v) { buf_.push_back(v); }
  void u32(uint32_t v) { fixed(v, 4); }
  void u64(uint64_t v) { fixed(v, 8); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(uint8_t(v) | 0x80);
      v >>= 7;
    }
    buf_.push_back(uint8_t(v));
  }
  // Zig-zag, so that small negative numbers stay small.
  void svarint(int64_t v) { varint((uint64_t(v) << 1) ^ uint64_t(v >> 63)); }
  void bytes(std::string_view s) {
    varint(s.size());
    raw(s);
  }
  void raw(std::string_view s) { buf_.insert(buf_.end(), s.begin(), s.end()); }

 private:
  void fixed(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) buf_.push_back(uint8_t(v >> (8 * i)));
  }
  std::vector<uint8_t>& buf_;
};

class In {
 public:
  explicit In(std::span<const uint8_t> b) : b_(b) {}

  bool ok() const { return ok_; }
  bool done() const { return pos_ == b_.size(); }
  size_t pos() const { return pos_; }
  std::span<const uint8_t> rest() const { return b_.subspan(pos_); }

  uint8_t u8() { return uint8_t(fixed(1)); }
  uint32_t u32() { return uint32_t(fixed(4)); }
  uint64_t u64() { return fixed(8); }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!need(1)) return 0;
      const uint8_t byte = b_[pos_++];
      v |= uint64_t(byte & 0x7f) << shift;
      if (!(byte & 0x80)) return v;
    }
    return fail();
  }
  int64_t svarint() {
    const uint64_t z = varint();
    return int64_t(z >> 1) ^ -int64_t(z & 1);
  }
  std::string_view bytes() {
    const uint64_t n = varint();
    if (!need(n)) return {};
    std::string_view s(reinterpret_cast<const char*>(b_.data() + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }
  std::string_view raw(size_t n) {
    if (!need(n)) return {};
    std::string_view s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  // Marks the input bad (a value out of range, an unknown tag).
  uint64_t fail() {
    ok_ = false;
    pos_ = b_.size();
    return 0;
  }

 private:
  bool need(uint64_t n) {
    if (ok_ && b_.size() - pos_ >= n) return true;
    fail();
    return false;
  }
  uint64_t fixed(int n) {
    if (!need(size_t(n))) return 0;
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | b_[pos_ + size_t(i)];
    pos_ += size_t(n);
    return v;
  }

  std::span<const uint8_t> b_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace warren::store
