#include "broker/direct_reply.hpp"

#include <sys/random.h>

#include <cstdint>
#include <random>

namespace warren::broker {

namespace {

// 16 bytes from getrandom(2); std::random_device if that fails (it too
// reads the kernel's generator on Linux).
void random_bytes(uint8_t (&out)[16]) {
  size_t got = 0;
  while (got < sizeof out) {
    ssize_t n = ::getrandom(out + got, sizeof out - got, 0);
    if (n <= 0) break;
    got += size_t(n);
  }
  if (got == sizeof out) return;
  std::random_device rd;
  for (uint8_t& b : out) b = uint8_t(rd());
}

// 128 bits in unpadded base64url: 22 characters.
std::string token() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t bytes[16];
  random_bytes(bytes);
  std::string out;
  out.reserve(22);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    acc = acc << 8 | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

}  // namespace

std::string DirectReplyRegistry::add(ReplyReceiver& r) {
  while (true) {
    std::string name = std::string(kReplyToPrefix) + token();
    if (receivers_.emplace(name, &r).second) return name;
  }
}

void DirectReplyRegistry::remove(std::string_view name) {
  if (auto it = receivers_.find(name); it != receivers_.end()) receivers_.erase(it);
}

ReplyReceiver* DirectReplyRegistry::find(std::string_view name) const {
  auto it = receivers_.find(name);
  return it == receivers_.end() ? nullptr : it->second;
}

}  // namespace warren::broker
