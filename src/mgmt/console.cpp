#include "mgmt/console.hpp"

#include <algorithm>

namespace warren::mgmt {

namespace {

// If-None-Match: "*", or a list of (possibly weak) entity tags.
bool matches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    const size_t comma = header.find(',');
    std::string_view t = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (t.starts_with("W/")) t.remove_prefix(2);
    if (t == "*" || t == etag) return true;
  }
  return false;
}

}  // namespace

std::optional<Response> serve_console(std::string_view method, std::string_view target,
                                      std::string_view if_none_match) {
  std::string_view path = target.substr(0, target.find_first_of("?#"));
  if (path == "/") path = "/index.html";
  if (path != "/index.html" && !path.starts_with("/console/")) return std::nullopt;
  Response r;
  r.content_type = "text/plain; charset=utf-8";
  const auto assets = console_assets();
  auto it = std::find_if(assets.begin(), assets.end(), [&](const ConsoleAsset& a) { return a.path == path; });
  if (it == assets.end()) {
    r.status = 404;
    r.body = "Not Found\n";
    return r;
  }
  if (method != "GET" && method != "HEAD") {
    r.status = 405;
    r.body = "Method Not Allowed\n";
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  // The names carry no version: a browser asks again each time and gets
  // a 304 while the file is unchanged (a new warrend, new ETags).
  r.headers.emplace_back("ETag", std::string(it->etag));
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // httplib gives each connection a thread until it has been idle for
  // 5 s: a browser's parallel fetches of the files would hold the API's
  // few threads. The files are small, and fetched once.
  r.headers.emplace_back("Connection", "close");
  // Only its own scripts and styles, and no framing: data shown by the
  // page can never run as code.
  r.headers.emplace_back("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
  if (matches(if_none_match, it->etag)) {
    r.status = 304;
    return r;
  }
  r.content_type = std::string(it->content_type);
  r.body.assign(it->body);  // httplib leaves it out of a HEAD's answer
  return r;
}

}  // namespace warren::mgmt
