#pragma once
// AMQP 0-9-1 primitive types on the wire: big-endian integers, short and long
// strings, packed bits. `Reader` is a bounds-checked cursor (every read says
// whether it fit; nothing reads past the end, whatever the input), `Writer`
// appends to a std::string. Decoding never throws: it returns a DecodeStatus.
#include <cassert>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "amqp091/generated/constants.hpp"

namespace warren::amqp091 {

inline constexpr size_t kMaxShortstr = 255;

// Why decoding failed, as the reply code and text of the connection.close a
// broker would send. `text` is static, or owned by the object that returned
// it (see FrameReader::error). It lacks the "FRAME_ERROR - " prefix:
// reply_text() adds it.
struct DecodeStatus {
  ReplyCode code = ReplyCode::ReplySuccess;
  std::string_view text;

  bool ok() const { return code == ReplyCode::ReplySuccess; }
};

inline constexpr DecodeStatus syntax_error(std::string_view text) { return {ReplyCode::SyntaxError, text}; }

// "NOT_FOUND - no queue 'q'": a reply-text as RabbitMQ words it, cut to fit a
// shortstr (at a UTF-8 character boundary).
std::string reply_text(ReplyCode code, std::string_view detail);

inline std::string_view as_chars(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class Reader {
 public:
  Reader() = default;
  explicit Reader(std::span<const uint8_t> in) : p_(in.data()), end_(in.data() + in.size()) {}

  size_t remaining() const { return size_t(end_ - p_); }
  bool empty() const { return p_ == end_; }
  std::span<const uint8_t> rest() const { return {p_, remaining()}; }

  bool octet(uint8_t& v) {
    if (!take(1)) return false;
    v = p_[-1];
    return true;
  }
  bool u16(uint16_t& v) {
    if (!take(2)) return false;
    v = uint16_t(p_[-2] << 8 | p_[-1]);
    return true;
  }
  bool u32(uint32_t& v) {
    if (!take(4)) return false;
    v = uint32_t(p_[-4]) << 24 | uint32_t(p_[-3]) << 16 | uint32_t(p_[-2]) << 8 | p_[-1];
    return true;
  }
  bool u64(uint64_t& v) {
    if (!take(8)) return false;
    v = 0;
    for (int i = 8; i > 0; --i) v = v << 8 | p_[-i];
    return true;
  }
  bool timestamp(uint64_t& v) { return u64(v); }  // seconds since the epoch

  bool bytes(size_t n, std::span<const uint8_t>& v) {
    if (!take(n)) return false;
    v = {p_ - n, n};
    return true;
  }
  bool skip(size_t n) { return take(n); }
  // An octet of length, then the bytes. The view points into the input.
  bool shortstr(std::string_view& v) {
    uint8_t n;
    std::span<const uint8_t> b;
    if (remaining() < 1 || remaining() - 1 < p_[0]) return false;
    octet(n);
    bytes(n, b);
    v = as_chars(b);
    return true;
  }
  // Four octets of length, then the bytes.
  bool longstr(std::string_view& v) {
    std::span<const uint8_t> b;
    if (!longbytes(b)) return false;
    v = as_chars(b);
    return true;
  }
  bool longbytes(std::span<const uint8_t>& v) {
    if (remaining() < 4) return false;
    uint32_t n = uint32_t(p_[0]) << 24 | uint32_t(p_[1]) << 16 | uint32_t(p_[2]) << 8 | p_[3];
    if (remaining() - 4 < n) return false;
    p_ += 4;
    return bytes(n, v);
  }
  // Consecutive bits share an octet, least significant bit first; any other
  // read in between starts a new octet for the next bit.
  bool bit(bool& v) {
    if (mask_ == 0) {
      if (p_ == end_) return false;
      bits_ = *p_++;
      mask_ = 1;
    }
    v = (bits_ & mask_) != 0;
    mask_ = uint8_t(mask_ << 1);  // after the eighth bit, 0: the next bit opens an octet
    return true;
  }

 private:
  bool take(size_t n) {
    mask_ = 0;
    if (remaining() < n) return false;
    p_ += n;
    return true;
  }

  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  uint8_t bits_ = 0;
  uint8_t mask_ = 0;  // next bit of bits_ to read; 0 when no bit octet is open
};

// Appends to `out`. A string too long for its length prefix is a caller bug:
// it asserts in debug builds; otherwise the writer remembers it and finish()
// removes everything this writer appended, so no truncated value is sent.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out), start_(out.size()) {}

  std::string& out() { return out_; }

  void octet(uint8_t v) {
    bit_at_ = kNoBits;
    out_.push_back(char(v));
  }
  void u16(uint16_t v) {
    char b[2] = {char(v >> 8), char(v)};
    put(b, 2);
  }
  void u32(uint32_t v) {
    char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
    put(b, 4);
  }
  void u64(uint64_t v) {
    u32(uint32_t(v >> 32));
    u32(uint32_t(v));
  }
  void timestamp(uint64_t v) { u64(v); }
  void bytes(std::span<const uint8_t> b) { put(reinterpret_cast<const char*>(b.data()), b.size()); }
  void shortstr(std::string_view s) {
    assert(s.size() <= kMaxShortstr && "shortstr longer than 255 octets");
    if (s.size() > kMaxShortstr) {
      failed_ = true;
      return;
    }
    octet(uint8_t(s.size()));
    put(s.data(), s.size());
  }
  void longstr(std::string_view s) {
    assert(s.size() <= UINT32_MAX && "longstr longer than 4 GiB");
    if (s.size() > UINT32_MAX) {
      failed_ = true;
      return;
    }
    u32(uint32_t(s.size()));
    put(s.data(), s.size());
  }
  // Mirrors Reader::bit: up to eight consecutive bits share one octet.
  void bit(bool v) {
    if (bit_at_ == kNoBits || bit_mask_ == 0) {
      out_.push_back(0);
      bit_at_ = out_.size() - 1;
      bit_mask_ = 1;
    }
    if (v) out_[bit_at_] = char(uint8_t(out_[bit_at_]) | bit_mask_);
    bit_mask_ = uint8_t(bit_mask_ << 1);
  }
  // A 32-bit length to patch later: for values whose size is known at the end.
  size_t begin_length() {
    u32(0);
    return out_.size();
  }
  void end_length(size_t body_start) {
    size_t n = out_.size() - body_start;
    if (n > UINT32_MAX) {
      failed_ = true;
      return;
    }
    for (int i = 0; i < 4; ++i) out_[body_start - 4 + i] = char(n >> (24 - 8 * i));
  }

  void fail() { failed_ = true; }
  bool failed() const { return failed_; }
  // True if everything fit. Otherwise `out` is back to where it was.
  bool finish() {
    if (failed_) out_.resize(start_);
    return !failed_;
  }

 private:
  static constexpr size_t kNoBits = SIZE_MAX;
  void put(const char* p, size_t n) {
    bit_at_ = kNoBits;
    out_.append(p, n);
  }

  std::string& out_;
  size_t start_;
  size_t bit_at_ = kNoBits;  // index of the octet receiving bits
  uint8_t bit_mask_ = 0;
  bool failed_ = false;
};

}  // namespace warren::amqp091
