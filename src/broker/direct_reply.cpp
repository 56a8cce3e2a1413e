#include "broker/direct_reply.hpp"

#include <cstdint>

namespace warren::broker {

// 128 bits in unpadded base64url: 22 characters.
std::string DirectReplyRegistry::token() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  uint8_t bytes[16];
  env_.fill_random(bytes);
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
