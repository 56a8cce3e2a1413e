#pragma once
// The web console's static files (src/mgmt/console/), compiled into warrend
// (embed_console.cmake writes them into a generated .cpp) and served on the
// management port beside /api: / and /index.html, /console/*. They need no
// login; the API calls the page makes do.
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

#include "mgmt/api.hpp"

namespace warren::mgmt {

struct ConsoleAsset {
  std::string_view path;  // "/console/app.js"
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;  // quoted, from the file's SHA-1
};

// Generated at build time (console_assets.cpp).
std::span<const ConsoleAsset> console_assets();

// The answer to a request for one of the console's files, with ETag and
// Cache-Control (304 when If-None-Match has its ETag); nullopt when the
// path is not the console's (the API's, or unknown).
std::optional<Response> serve_console(std::string_view method, std::string_view target,
                                      std::string_view if_none_match);

}  // namespace warren::mgmt
