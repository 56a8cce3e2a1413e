#pragma once
// socketlock's line protocol: words, limits and the splitting of a byte
// stream into lines. Shared by the server and client engines.
#include <array>
#include <charconv>
#include <functional>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace warren::socketlock {

inline constexpr size_t kMaxLine = 4096;      // longer lines close the connection
inline constexpr size_t kMaxClientId = 128;
inline constexpr size_t kMaxLockName = 128;   // client-chosen lock ids (Go dialect)

// Client -> server
inline constexpr std::string_view kHello = "HELLO", kReqRead = "REQREAD", kReqWrite = "REQWRITE",
                                  kConfirm = "CONFIRM", kReject = "REJECT", kRelease = "RELEASE",
                                  kStatus = "STATUS", kPing = "PING", kEol = "EOL",
                                  // Warren extensions (see docs/socketlock.md)
                                  kCancel = "CANCEL", kShow = "SHOW";
// Server -> client
inline constexpr std::string_view kConnected = "CONNECTED", kReadLock = "READLOCK", kWriteLock = "WRITELOCK",
                                  kReqFail = "REQFAIL", kLockOk = "LOCKOK", kLockTimeout = "LOCKTIMEOUT",
                                  kPong = "PONG",
                                  // Warren extensions
                                  kReleased = "RELEASED", kCancelled = "CANCELLED", kHolder = "HOLDER",
                                  kOffer = "OFFER", kWaiter = "WAITER", kShowEnd = "SHOWEND";

// The words of one line, without allocating: views into the line.
class Words {
 public:
  static constexpr size_t kMax = 8;
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  std::string_view operator[](size_t i) const { return w_[i]; }
  const std::string_view* begin() const { return w_.data(); }
  const std::string_view* end() const { return w_.data() + n_; }
  void push_back(std::string_view v) { w_[n_++] = v; }

 private:
  std::array<std::string_view, kMax> w_{};
  size_t n_ = 0;
};

// Splits `line` on spaces and tabs; at most `max` words (the last keeps the rest).
inline Words split_words(std::string_view line, size_t max = Words::kMax) {
  Words words;
  if (max > Words::kMax) max = Words::kMax;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    if (words.size() + 1 == max) {
      size_t end = line.find_last_not_of(" \t");
      words.push_back(line.substr(i, end + 1 - i));
      break;
    }
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    words.push_back(line.substr(i, j - i));
    i = j;
  }
  return words;
}

// Hashing that lets maps keyed by std::string be searched with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// A positive decimal integer, or nothing.
inline std::optional<uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Accumulates bytes and hands out complete lines (without "\n" or "\r\n").
class LineReader {
 public:
  explicit LineReader(size_t max_line = kMaxLine) : max_(max_line) {}
  void append(std::string_view bytes) { buf_.append(bytes); }
  // The next complete line, or nothing. Sets overflow() when a line is too long.
  std::optional<std::string_view> next() {
    if (pos_ > 0 && pos_ == buf_.size()) { buf_.clear(); pos_ = 0; }
    size_t nl = buf_.find('\n', pos_);
    if (nl == std::string::npos) {
      if (buf_.size() - pos_ > max_) overflow_ = true;
      if (pos_ > 4096) { buf_.erase(0, pos_); pos_ = 0; }
      return std::nullopt;
    }
    std::string_view line(buf_.data() + pos_, nl - pos_);
    pos_ = nl + 1;
    if (line.size() > max_) { overflow_ = true; return std::nullopt; }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  }
  bool overflow() const { return overflow_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
  size_t max_;
  bool overflow_ = false;
};

}  // namespace warren::socketlock
