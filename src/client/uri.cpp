#include "client/uri.hpp"

#include <charconv>

#include "client/types.hpp"

namespace warren::client {

namespace {

[[noreturn]] void bad(std::string_view text, std::string_view why) {
  throw ClientError({0, "bad AMQP URI \"" + std::string(text) + "\": " + std::string(why)});
}

std::string decode(std::string_view s, std::string_view whole) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    unsigned v = 0;
    if (i + 2 >= s.size() || std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16).ptr != s.data() + i + 3)
      bad(whole, "a bad %-escape");
    out.push_back(char(v));
    i += 2;
  }
  return out;
}

template <class T>
T number(std::string_view s, std::string_view whole, std::string_view what) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) bad(whole, std::string("a bad ") + std::string(what));
  return v;
}

}  // namespace

Uri parse_uri(std::string_view text) {
  Uri u;
  std::string_view s = text;
  if (s.starts_with("amqp://"))
    s.remove_prefix(7);
  else if (s.starts_with("amqps://"))
    bad(text, "TLS (amqps) is not supported yet");
  else
    bad(text, "it must start with amqp://");
  std::string_view query;
  if (auto q = s.find('?'); q != std::string_view::npos) {
    query = s.substr(q + 1);
    s = s.substr(0, q);
  }
  std::string_view path;
  if (auto slash = s.find('/'); slash != std::string_view::npos) {
    path = s.substr(slash + 1);
    s = s.substr(0, slash);
  }
  if (auto at = s.rfind('@'); at != std::string_view::npos) {
    std::string_view creds = s.substr(0, at);
    s = s.substr(at + 1);
    auto colon = creds.find(':');
    u.user = decode(creds.substr(0, colon), text);
    u.password = colon == std::string_view::npos ? "" : decode(creds.substr(colon + 1), text);
  }
  std::string_view host = s;
  if (host.starts_with('[')) {  // [::1]:5672
    auto close = host.find(']');
    if (close == std::string_view::npos) bad(text, "an unclosed [");
    u.host = std::string(host.substr(1, close - 1));
    host = host.substr(close + 1);
    if (host.starts_with(':'))
      u.port = number<uint16_t>(host.substr(1), text, "port");
    else if (!host.empty())
      bad(text, "something other than a port after the ]");
  } else {
    auto colon = host.rfind(':');
    if (colon != std::string_view::npos) {
      u.port = number<uint16_t>(host.substr(colon + 1), text, "port");
      host = host.substr(0, colon);
    }
    if (!host.empty()) u.host = std::string(host);
  }
  std::string vhost = decode(path, text);
  u.vhost = vhost.empty() ? "/" : vhost;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = kv.find('=');
    std::string_view k = kv.substr(0, eq), v = eq == std::string_view::npos ? "" : kv.substr(eq + 1);
    if (k == "heartbeat")
      u.heartbeat_s = number<uint16_t>(v, text, "heartbeat");
    else if (k == "frame_max")
      u.frame_max = number<uint32_t>(v, text, "frame_max");
    // Other parameters (connection_timeout, channel_max, ...) are accepted and ignored, as pika does.
  }
  return u;
}

}  // namespace warren::client
