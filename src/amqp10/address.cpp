#include "amqp10/address.hpp"

#include <fmt/format.h>

namespace warren::amqp10 {

namespace {
int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool take_prefix(std::string_view& s, std::string_view prefix) {
  if (!s.starts_with(prefix)) return false;
  s.remove_prefix(prefix.size());
  return true;
}
}  // namespace

bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(char(hi << 4 | lo));
    i += 2;
  }
  return true;
}

std::string percent_encode(std::string_view in) {
  std::string out;
  for (char c : in) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '-' || u == '.' ||
        u == '_' || u == '~')
      out.push_back(c);
    else
      out += fmt::format("%{:02X}", u);
  }
  return out;
}

bool parse_address(std::string_view text, bool declare_bare_queues, Address& out, std::string& error) {
  out = Address{};
  std::string_view s = text;
  auto bad = [&] {
    error = fmt::format("invalid address '{}'", text);
    return false;
  };
  if (take_prefix(s, "/queues/")) {
    if (s.empty() || !percent_decode(s, out.name)) return bad();
    return true;
  }
  if (take_prefix(s, "/exchanges/")) {
    out.kind = Address::Kind::Exchange;
    size_t slash = s.find('/');
    if (!percent_decode(s.substr(0, slash), out.name)) return bad();
    if (out.name == "amq.default") out.name.clear();
    if (slash != std::string_view::npos) {
      std::string key;
      if (!percent_decode(s.substr(slash + 1), key)) return bad();
      out.key = std::move(key);
    }
    return true;
  }
  if (take_prefix(s, "/queue/")) {
    if (s.empty()) return bad();
    out.name = s;
    out.declare = true;
    out.v1 = true;
    return true;
  }
  if (take_prefix(s, "/amq/queue/")) {
    if (s.empty()) return bad();
    out.name = s;
    out.v1 = true;
    return true;
  }
  if (take_prefix(s, "/exchange/")) {
    out.kind = Address::Kind::Exchange;
    out.v1 = true;
    size_t slash = s.find('/');
    out.name = s.substr(0, slash);
    if (slash != std::string_view::npos) out.key = std::string(s.substr(slash + 1));
    return true;
  }
  if (take_prefix(s, "/topic/")) {
    out.kind = Address::Kind::Exchange;
    out.name = "amq.topic";
    out.v1 = true;
    out.key = std::string(s);
    return true;
  }
  if (s.empty() || s.front() == '/') return bad();
  out.name = s;
  out.declare = declare_bare_queues;
  out.v1 = true;
  return true;
}

}  // namespace warren::amqp10
