#pragma once
// warrenctl: rabbitmqctl's verbs and columns over Warren's management HTTP
// API (which is RabbitMQ's), so that it also drives a RabbitMQ with the
// management plugin. The HTTP client is behind an interface: tests drive
// the commands with a fake.
#include <iosfwd>
#include <string>
#include <vector>

namespace warren::ctl {

struct HttpResponse {
  int status = 0;  // 0: no answer (connection refused, time-out)
  std::string body;
  std::string error;  // why there was no answer
};

class Http {
 public:
  virtual ~Http() = default;
  // `path` starts with "/api/"; `body` is JSON (empty: none); `reason`,
  // when set, goes as the X-Reason header (closing a connection).
  virtual HttpResponse request(const std::string& method, const std::string& path, const std::string& body,
                               const std::string& reason = {}) = 0;
};

struct Options {
  std::string vhost = "/";          // -p, --vhost
  std::string formatter = "table";  // --formatter: table or json
  bool quiet = false;               // -q: no "Listing ..." banner
  std::string priority = "0";       // set_policy --priority
  std::string apply_to = "all";     // set_policy --apply-to
  std::string description;          // add_vhost --description
};

// Runs one command (`args`: the verb and its arguments, options already
// taken out). Returns the process's exit status: 0 ok, 64 usage, 65 data
// error (the API refused), 69 the API is unreachable (sysexits, as
// rabbitmqctl).
int run(const std::vector<std::string>& args, const Options& opts, Http& http, std::ostream& out, std::ostream& err);

// The verbs, with their usage lines, for --help.
std::string usage();

// "/" -> "%2F": a path segment, percent-encoded.
std::string encode_segment(std::string_view s);

}  // namespace warren::ctl
