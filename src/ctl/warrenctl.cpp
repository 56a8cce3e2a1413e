#include "ctl/warrenctl.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

namespace warren::ctl {

using nlohmann::json;

namespace {

constexpr int kOk = 0, kUsage = 64, kDataError = 65, kUnavailable = 69;

// A listing: where its rows come from, rabbitmqctl's default columns, and
// how a column maps onto the API's JSON where the names differ.
struct Listing {
  std::string banner;  // "Listing queues for vhost {vhost} ..."
  std::string path;    // with {vhost} for vhost-scoped ones
  std::vector<std::string> columns;
  std::map<std::string, std::string> fields;  // rabbitmqctl column -> JSON pointer
};

const std::map<std::string, Listing>& listings() {
  static const std::map<std::string, Listing> all = {
      {"list_queues", {"Listing queues for vhost {vhost} ...", "/api/queues/{vhost}", {"name", "messages"}, {}}},
      {"list_exchanges", {"Listing exchanges for vhost {vhost} ...", "/api/exchanges/{vhost}", {"name", "type"}, {}}},
      {"list_bindings",
       {"Listing bindings for vhost {vhost}...",
        "/api/bindings/{vhost}",
        {"source_name", "source_kind", "destination_name", "destination_kind", "routing_key", "arguments"},
        {{"source_name", "/source"},
         {"destination_name", "/destination"},
         {"destination_kind", "/destination_type"}}}},
      {"list_connections",
       {"Listing connections ...", "/api/connections", {"user", "peer_host", "peer_port", "state"}, {}}},
      {"list_channels",
       {"Listing channels ...", "/api/channels", {"pid", "user", "consumer_count", "messages_unacknowledged"},
        {{"pid", "/name"}}}},
      {"list_consumers",
       {"Listing consumers in vhost {vhost} ...",
        "/api/consumers/{vhost}",
        {"queue_name", "channel_pid", "consumer_tag", "ack_required", "prefetch_count", "active", "arguments"},
        {{"queue_name", "/queue/name"}, {"channel_pid", "/channel_details/name"}}}},
      {"list_users", {"Listing users ...", "/api/users", {"user", "tags"}, {{"user", "/name"}}}},
      {"list_vhosts", {"Listing vhosts ...", "/api/vhosts", {"name"}, {}}},
      {"list_permissions",
       {"Listing permissions for vhost \"{vhost}\" ...", "/api/vhosts/{vhost}/permissions",
        {"user", "configure", "write", "read"}, {}}},
      {"list_policies",
       {"Listing policies for vhost \"{vhost}\" ...", "/api/policies/{vhost}",
        {"vhost", "name", "pattern", "apply-to", "definition", "priority"}, {}}},
  };
  return all;
}

// rabbitmqctl's rendering of a value in a table cell.
std::string cell(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_object() && v.empty()) return "[]";  // no arguments: Erlang's empty list, as rabbitmqctl prints it
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + cell(v[i]);
    return out + "]";
  }
  return v.dump();
}

std::string fill(std::string text, const Options& o) {
  const size_t at = text.find("{vhost}");
  if (at != std::string::npos) text.replace(at, 7, encode_segment(o.vhost));
  return text;
}

class Runner {
 public:
  Runner(const Options& o, Http& http, std::ostream& out, std::ostream& err)
      : o_(o), http_(http), out_(out), err_(err) {}

  int run(const std::vector<std::string>& args) {
    if (args.empty()) return usage_error("no command given");
    const std::string& verb = args[0];
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (auto it = listings().find(verb); it != listings().end()) return list(it->second, rest);
    using Fn = std::function<int(Runner&, const std::vector<std::string>&)>;
    static const std::map<std::string, std::pair<size_t, Fn>> verbs = {
        {"add_user", {2, &Runner::add_user}},
        {"delete_user", {1, &Runner::delete_user}},
        {"change_password", {2, &Runner::change_password}},
        {"set_user_tags", {1, &Runner::set_user_tags}},
        {"add_vhost", {1, &Runner::add_vhost}},
        {"delete_vhost", {1, &Runner::delete_vhost}},
        {"set_permissions", {4, &Runner::set_permissions}},
        {"clear_permissions", {1, &Runner::clear_permissions}},
        {"set_policy", {3, &Runner::set_policy}},
        {"clear_policy", {1, &Runner::clear_policy}},
        {"set_vhost_limits", {1, &Runner::set_vhost_limits}},
        {"export_definitions", {1, &Runner::export_definitions}},
        {"import_definitions", {1, &Runner::import_definitions}},
        {"close_connection", {2, &Runner::close_connection}},
        {"status", {0, &Runner::status}},
    };
    auto it = verbs.find(verb);
    if (it == verbs.end()) return usage_error(fmt::format("unknown command '{}'", verb));
    if (rest.size() < it->second.first)
      return usage_error(fmt::format("{} needs {} argument(s), got {}", verb, it->second.first, rest.size()));
    return it->second.second(*this, rest);
  }

 private:
  int usage_error(const std::string& why) {
    err_ << "Error: " << why << "\n\n" << usage();
    return kUsage;
  }
  // Sends; on anything but 2xx, says why (the API's reason) and returns false.
  bool call(const std::string& method, const std::string& path, const json& body, json* answer = nullptr,
            const std::string& reason = {}) {
    HttpResponse r = http_.request(method, path, body.is_null() ? std::string() : body.dump(), reason);
    status_ = r.status;
    if (r.status == 0) {
      err_ << "Error: the management API is unreachable: " << r.error << "\n";
      exit_ = kUnavailable;
      return false;
    }
    if (r.status < 200 || r.status >= 300) {
      std::string why = r.body;
      json j = json::parse(r.body, nullptr, false);
      if (j.is_object() && j.contains("reason")) why = cell(j["reason"]);
      err_ << fmt::format("Error: {} {}: {} {}\n", method, path, r.status, why);
      exit_ = kDataError;
      return false;
    }
    if (answer) *answer = r.body.empty() ? json() : json::parse(r.body, nullptr, false);
    return true;
  }
  int done(bool ok) { return ok ? kOk : exit_; }
  void info(const std::string& line) {
    if (!o_.quiet && o_.formatter != "json") out_ << line << "\n";
  }
  static std::string user_path(const std::string& u) { return "/api/users/" + encode_segment(u); }
  std::string vhost_seg() const { return encode_segment(o_.vhost); }

  int list(const Listing& l, const std::vector<std::string>& cols_given) {
    const std::vector<std::string>& cols = cols_given.empty() ? l.columns : cols_given;
    json rows;
    if (!call("GET", fill(l.path, o_), nullptr, &rows)) return exit_;
    if (!rows.is_array()) rows = json::array();
    auto value = [&](const json& row, const std::string& col) -> json {
      if (col == "source_kind") return "exchange";  // a binding's source always is (the API has no such field)
      auto f = l.fields.find(col);
      json::json_pointer ptr(f != l.fields.end() ? f->second : "/" + col);
      return row.contains(ptr) ? row.at(ptr) : json();
    };
    if (o_.formatter == "json") {
      json out = json::array();
      for (const json& row : rows) {
        json o = json::object();
        for (const std::string& c : cols) o[c] = value(row, c);
        out.push_back(std::move(o));
      }
      out_ << out.dump() << "\n";
      return kOk;
    }
    std::string banner = l.banner;
    if (size_t at = banner.find("{vhost}"); at != std::string::npos) banner.replace(at, 7, o_.vhost);
    info(banner);
    std::string line;
    for (size_t i = 0; i < cols.size(); ++i) line += (i ? "\t" : "") + cols[i];
    out_ << line << "\n";
    for (const json& row : rows) {
      line.clear();
      for (size_t i = 0; i < cols.size(); ++i) line += (i ? "\t" : "") + cell(value(row, cols[i]));
      out_ << line << "\n";
    }
    return kOk;
  }

  int add_user(const std::vector<std::string>& a) {
    if (http_.request("GET", user_path(a[0]), "").status == 200) {
      err_ << fmt::format("Error: user \"{}\" already exists\n", a[0]);
      return kDataError;
    }
    info(fmt::format("Adding user \"{}\" ...", a[0]));
    return done(call("PUT", user_path(a[0]), {{"password", a[1]}, {"tags", ""}}));
  }
  int delete_user(const std::vector<std::string>& a) {
    info(fmt::format("Deleting user \"{}\" ...", a[0]));
    return done(call("DELETE", user_path(a[0]), nullptr));
  }
  // PUT /api/users replaces the user: keep what the command does not change.
  int update_user(const std::string& name, const std::function<void(json&)>& change) {
    json u;
    if (!call("GET", user_path(name), nullptr, &u)) return exit_;
    json body = {{"tags", u.value("tags", json(""))}, {"password_hash", u.value("password_hash", "")},
                 {"hashing_algorithm", u.value("hashing_algorithm", "rabbit_password_hashing_sha256")}};
    change(body);
    return done(call("PUT", user_path(name), body));
  }
  int change_password(const std::vector<std::string>& a) {
    info(fmt::format("Changing password for user \"{}\" ...", a[0]));
    return update_user(a[0], [&](json& b) {
      b.erase("password_hash");
      b.erase("hashing_algorithm");
      b["password"] = a[1];
    });
  }
  int set_user_tags(const std::vector<std::string>& a) {
    std::vector<std::string> tags(a.begin() + 1, a.end());
    info(fmt::format("Setting tags for user \"{}\" to [{}] ...", a[0], fmt::join(tags, ", ")));
    return update_user(a[0], [&](json& b) { b["tags"] = fmt::format("{}", fmt::join(tags, ",")); });
  }
  int add_vhost(const std::vector<std::string>& a) {
    info(fmt::format("Adding vhost \"{}\" ...", a[0]));
    json body = json::object();
    if (!o_.description.empty()) body["description"] = o_.description;
    return done(call("PUT", "/api/vhosts/" + encode_segment(a[0]), body));
  }
  int delete_vhost(const std::vector<std::string>& a) {
    info(fmt::format("Deleting vhost \"{}\" ...", a[0]));
    return done(call("DELETE", "/api/vhosts/" + encode_segment(a[0]), nullptr));
  }
  int set_permissions(const std::vector<std::string>& a) {
    info(fmt::format("Setting permissions for user \"{}\" in vhost \"{}\" ...", a[0], o_.vhost));
    return done(call("PUT", fmt::format("/api/permissions/{}/{}", vhost_seg(), encode_segment(a[0])),
                     {{"configure", a[1]}, {"write", a[2]}, {"read", a[3]}}));
  }
  int clear_permissions(const std::vector<std::string>& a) {
    info(fmt::format("Clearing permissions for user \"{}\" in vhost \"{}\" ...", a[0], o_.vhost));
    return done(call("DELETE", fmt::format("/api/permissions/{}/{}", vhost_seg(), encode_segment(a[0])), nullptr));
  }
  int set_policy(const std::vector<std::string>& a) {
    json definition = json::parse(a[2], nullptr, false);
    if (!definition.is_object()) return usage_error("the policy definition must be a JSON object");
    int priority = 0;
    try {
      priority = std::stoi(o_.priority);
    } catch (const std::exception&) {
      return usage_error("--priority must be an integer");
    }
    info(fmt::format("Setting policy \"{}\" for pattern \"{}\" to \"{}\" with priority \"{}\" for vhost \"{}\" ...",
                     a[0], a[1], a[2], priority, o_.vhost));
    return done(call("PUT", fmt::format("/api/policies/{}/{}", vhost_seg(), encode_segment(a[0])),
                     {{"pattern", a[1]}, {"definition", definition}, {"priority", priority}, {"apply-to", o_.apply_to}}));
  }
  int clear_policy(const std::vector<std::string>& a) {
    info(fmt::format("Clearing policy \"{}\" on vhost \"{}\" ...", a[0], o_.vhost));
    return done(call("DELETE", fmt::format("/api/policies/{}/{}", vhost_seg(), encode_segment(a[0])), nullptr));
  }
  int set_vhost_limits(const std::vector<std::string>& a) {
    json limits = json::parse(a[0], nullptr, false);
    if (!limits.is_object()) return usage_error("the limits must be a JSON object, e.g. '{\"max-connections\": 10}'");
    info(fmt::format("Applying limits \"{}\" to vhost \"{}\" ...", a[0], o_.vhost));
    for (const auto& [name, v] : limits.items()) {
      const std::string path = fmt::format("/api/vhost-limits/{}/{}", vhost_seg(), encode_segment(name));
      // A negative limit clears it, as rabbitmqctl's.
      bool ok = v.is_number_integer() && v.get<int64_t>() < 0 ? call("DELETE", path, nullptr)
                                                              : call("PUT", path, {{"value", v}});
      if (!ok) return exit_;
    }
    return kOk;
  }
  int export_definitions(const std::vector<std::string>& a) {
    json defs;
    if (!call("GET", "/api/definitions", nullptr, &defs)) return exit_;
    if (a[0] == "-") {
      out_ << defs.dump(2) << "\n";
      return kOk;
    }
    std::ofstream f(a[0]);
    f << defs.dump(2) << "\n";
    if (!f) {
      err_ << "Error: cannot write " << a[0] << "\n";
      return kDataError;
    }
    info(fmt::format("Exported definitions to \"{}\"", a[0]));
    return kOk;
  }
  int import_definitions(const std::vector<std::string>& a) {
    std::string text;
    if (a[0] == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::ifstream f(a[0]);
      if (!f) {
        err_ << "Error: cannot read " << a[0] << "\n";
        return kDataError;
      }
      text.assign(std::istreambuf_iterator<char>(f), {});
    }
    json defs = json::parse(text, nullptr, false);
    if (!defs.is_object()) {
      err_ << "Error: " << a[0] << " is not a JSON object\n";
      return kDataError;
    }
    info(fmt::format("Importing definitions from \"{}\" ...", a[0]));
    return done(call("POST", "/api/definitions", defs));
  }
  int close_connection(const std::vector<std::string>& a) {
    info(fmt::format("Closing connection {}, reason: {}...", a[0], a[1]));
    return done(call("DELETE", "/api/connections/" + encode_segment(a[0]), nullptr, nullptr, a[1]));
  }
  int status(const std::vector<std::string>&) {
    json overview, nodes;
    if (!call("GET", "/api/overview", nullptr, &overview) || !call("GET", "/api/nodes", nullptr, &nodes)) return exit_;
    const json node = nodes.is_array() && !nodes.empty() ? nodes[0] : json::object();
    if (o_.formatter == "json") {
      out_ << json{{"overview", overview}, {"node", node}}.dump() << "\n";
      return kOk;
    }
    info(fmt::format("Status of node {} ...", cell(overview.value("node", json()))));
    out_ << fmt::format("Product: {} {}\n", cell(overview.value("product_name", json())),
                        cell(overview.value("product_version", json())));
    out_ << fmt::format("Uptime (seconds): {}\n", node.value("uptime", 0) / 1000);
    out_ << fmt::format("Memory used (bytes): {}\n", cell(node.value("mem_used", json())));
    out_ << fmt::format("Free disk (bytes): {}\n", cell(node.value("disk_free", json())));
    out_ << fmt::format("Alarms: memory {}, disk {}\n", cell(node.value("mem_alarm", json())),
                        cell(node.value("disk_free_alarm", json())));
    const json totals = overview.value("object_totals", json::object());
    for (const char* k : {"connections", "channels", "queues", "consumers", "exchanges"})
      out_ << fmt::format("{}: {}\n", k, cell(totals.value(k, json())));
    if (overview.contains("listeners"))
      for (const json& l : overview["listeners"])
        out_ << fmt::format("Listener: {} port {}\n", cell(l.value("protocol", json())), cell(l.value("port", json())));
    return kOk;
  }

  const Options& o_;
  Http& http_;
  std::ostream& out_;
  std::ostream& err_;
  int status_ = 0;
  int exit_ = kDataError;
};

}  // namespace

std::string encode_segment(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out.push_back(char(c));
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

int run(const std::vector<std::string>& args, const Options& opts, Http& http, std::ostream& out, std::ostream& err) {
  return Runner(opts, http, out, err).run(args);
}

std::string usage() {
  return R"(Usage: warrenctl [--url URL] [--username U] [--password P] [-p VHOST] [--formatter table|json] [-q] COMMAND [ARGS]

Listings (optional column names after the command; rabbitmqctl's defaults):
  list_queues [-p VHOST] [name messages messages_ready messages_unacknowledged consumers durable ...]
  list_exchanges [-p VHOST] [name type durable auto_delete internal arguments]
  list_bindings [-p VHOST] [source_name source_kind destination_name destination_kind routing_key arguments]
  list_connections [user peer_host peer_port state name vhost protocol channels]
  list_channels [pid user consumer_count messages_unacknowledged]
  list_consumers [-p VHOST] [queue_name channel_pid consumer_tag ack_required prefetch_count active arguments]
  list_users, list_vhosts, list_permissions [-p VHOST], list_policies [-p VHOST]
Users, vhosts, permissions, policies:
  add_user NAME PASSWORD        delete_user NAME         change_password NAME PASSWORD
  set_user_tags NAME [TAG ...]  add_vhost NAME [--description TEXT]   delete_vhost NAME
  set_permissions [-p VHOST] USER CONFIGURE WRITE READ     clear_permissions [-p VHOST] USER
  set_policy [-p VHOST] [--priority N] [--apply-to queues|exchanges|all] NAME PATTERN DEFINITION
  clear_policy [-p VHOST] NAME  set_vhost_limits [-p VHOST] '{"max-connections": N, "max-queues": N}'
Definitions, connections, the node:
  export_definitions FILE|-     import_definitions FILE|-
  close_connection NAME REASON  status

Connection: --url (default http://127.0.0.1:15672), --username / --password (default guest / guest;
or $WARREN_USERNAME / $WARREN_PASSWORD). Exit status: 0 ok, 64 usage, 65 refused, 69 unreachable.
)";
}

}  // namespace warren::ctl
