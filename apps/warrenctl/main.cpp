// warrenctl: rabbitmqctl's verbs over the management HTTP API
// (src/ctl/warrenctl.hpp). Options may come before or after the command,
// as rabbitmqctl's do.
#include <httplib.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "ctl/warrenctl.hpp"

using namespace warren;

namespace {

class HttplibClient final : public ctl::Http {
 public:
  HttplibClient(const std::string& url, std::string user, std::string password) : client_(url) {
    client_.set_basic_auth(user, password);
    client_.set_connection_timeout(5);
    client_.set_read_timeout(60);
  }
  bool valid() const { return client_.is_valid(); }

  ctl::HttpResponse request(const std::string& method, const std::string& path, const std::string& body,
                            const std::string& reason) override {
    httplib::Headers headers;
    if (!reason.empty()) headers.emplace("X-Reason", reason);
    httplib::Result r{nullptr, httplib::Error::Unknown};
    if (method == "GET")
      r = client_.Get(path, headers);
    else if (method == "PUT")
      r = client_.Put(path, headers, body, "application/json");
    else if (method == "POST")
      r = client_.Post(path, headers, body, "application/json");
    else
      r = client_.Delete(path, headers);
    if (!r) return {0, "", httplib::to_string(r.error())};
    return {r->status, r->body, ""};
  }

 private:
  httplib::Client client_;
};

}  // namespace

int main(int argc, char** argv) {
  ctl::Options opts;
  std::string url = "http://127.0.0.1:15672";
  const char* env_user = std::getenv("WARREN_USERNAME");
  const char* env_pass = std::getenv("WARREN_PASSWORD");
  std::string user = env_user ? env_user : "guest", password = env_pass ? env_pass : "guest";
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 < argc) return std::string(argv[++i]);
      std::cerr << "Error: " << a << " needs a value\n";
      return std::nullopt;
    };
    std::string* target = nullptr;
    if (a == "-p" || a == "--vhost") target = &opts.vhost;
    else if (a == "--formatter") target = &opts.formatter;
    else if (a == "--url") target = &url;
    else if (a == "-u" || a == "--username") target = &user;
    else if (a == "--password") target = &password;
    else if (a == "--priority") target = &opts.priority;
    else if (a == "--apply-to") target = &opts.apply_to;
    else if (a == "--description") target = &opts.description;
    if (target) {
      auto v = value();
      if (!v) return 64;
      *target = *v;
    } else if (a == "-q" || a == "--quiet") {
      opts.quiet = true;
    } else if (a == "-h" || a == "--help" || a == "help") {
      std::cout << ctl::usage();
      return 0;
    } else {
      args.push_back(a);
    }
  }
  if (opts.formatter != "table" && opts.formatter != "json") {
    std::cerr << "Error: --formatter is table or json\n";
    return 64;
  }
  HttplibClient http(url, user, password);
  if (!http.valid()) {
    std::cerr << "Error: not a usable URL: " << url << "\n";
    return 64;
  }
  return ctl::run(args, opts, http, std::cout, std::cerr);
}
