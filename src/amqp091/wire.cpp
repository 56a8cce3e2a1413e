#include "amqp091/wire.hpp"

namespace warren::amqp091 {

std::string reply_text(ReplyCode code, std::string_view detail) {
  std::string s(reply_name(code));
  if (!detail.empty()) s.append(" - ").append(detail);
  if (s.size() > kMaxShortstr) {
    size_t n = kMaxShortstr;
    while (n > 0 && (uint8_t(s[n]) & 0xC0) == 0x80) --n;  // s[n] continues a character: cut before it starts
    s.resize(n);
  }
  return s;
}

}  // namespace warren::amqp091
