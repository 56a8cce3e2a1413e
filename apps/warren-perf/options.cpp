#include "options.hpp"

#include <charconv>
#include <cmath>
#include <functional>
#include <sstream>

namespace warren::perf {
namespace {

template <class T>
T number(const std::string& flag, const std::string& v) {
  T out{};
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || end != v.data() + v.size()) throw UsageError(flag + ": not a number: '" + v + "'");
  return out;
}

double real(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    double d = std::stod(v, &used);
    if (used != v.size() || !std::isfinite(d) || d < 0) throw UsageError("");
    return d;
  } catch (const std::exception&) {
    throw UsageError(flag + ": not a non-negative number: '" + v + "'");
  }
}

bool boolean(const std::string& flag, const std::string& v) {
  if (v == "true") return true;
  if (v == "false") return false;
  throw UsageError(flag + ": expected true or false, not '" + v + "'");
}

struct Flag {
  std::string short_name;  // "-x"; "" if none
  std::string long_name;   // "--producers"
  std::string arg;         // "" for a switch
  std::string help;
  std::function<void(Options&, const std::string& flag, const std::string& value)> apply;
};

const std::vector<Flag>& flags() {
  static const std::vector<Flag> table = {
      {"-x", "--producers", "N", "producer connections (default 1)",
       [](Options& o, auto& f, auto& v) { o.producers = number<int>(f, v); }},
      {"-y", "--consumers", "N", "consumer connections (default 1)",
       [](Options& o, auto& f, auto& v) { o.consumers = number<int>(f, v); }},
      {"-u", "--queue", "NAME", "queue (default: a server-named, exclusive queue per consumer)",
       [](Options& o, auto&, auto& v) { o.queue = v; }},
      {"-s", "--size", "BYTES", "message body size (minimum 16: smaller values are raised to 16)",
       [](Options& o, auto& f, auto& v) {
         o.body_size = number<size_t>(f, v);
         if (o.body_size < kMinBodySize) {
           o.body_size = kMinBodySize;
           o.body_size_raised = true;
         }
       }},
      {"-z", "--time", "SECONDS", "run duration (default: until -C/-D are reached, or Ctrl-C)",
       [](Options& o, auto& f, auto& v) { o.seconds = real(f, v); }},
      {"-C", "--pmessages", "N", "messages each producer sends, then stops (enables loss/dup checking)",
       [](Options& o, auto& f, auto& v) { o.producer_count = number<uint64_t>(f, v); }},
      {"-D", "--cmessages", "N", "messages each consumer receives, then stops",
       [](Options& o, auto& f, auto& v) { o.consumer_count = number<uint64_t>(f, v); }},
      {"-a", "--autoack", "", "consume with auto-ack (no-ack)", [](Options& o, auto&, auto&) { o.auto_ack = true; }},
      {"-A", "--multi-ack-every", "N", "ack with multiple=true every N messages (default 0: each message)",
       [](Options& o, auto& f, auto& v) { o.multi_ack_every = number<uint32_t>(f, v); }},
      {"-q", "--qos", "N", "consumer prefetch count (default 0: unlimited)",
       [](Options& o, auto& f, auto& v) { o.prefetch = number<uint16_t>(f, v); }},
      {"-c", "--confirm", "N", "publisher confirms with at most N unconfirmed messages per producer",
       [](Options& o, auto& f, auto& v) {
         o.confirm = number<int64_t>(f, v);
         if (o.confirm < 1) throw UsageError(f + ": must be at least 1");
       }},
      {"-f", "--flag", "FLAG", "persistent or mandatory; repeat for both",
       [](Options& o, auto& f, auto& v) {
         if (v == "persistent")
           o.persistent = true;
         else if (v == "mandatory")
           o.mandatory = true;
         else
           throw UsageError(f + ": unknown flag '" + v + "' (persistent, mandatory)");
       }},
      {"-r", "--rate", "MSG/S", "publish rate per producer (default 0: unlimited); latency then counts from the intended send time",
       [](Options& o, auto& f, auto& v) { o.rate = real(f, v); }},
      {"-e", "--exchange", "NAME", "exchange (default 'direct')", [](Options& o, auto&, auto& v) { o.exchange = v; }},
      {"-t", "--type", "TYPE", "exchange type (default 'direct')",
       [](Options& o, auto&, auto& v) { o.exchange_type = v; }},
      {"-k", "--routing-key", "KEY", "routing key (default: a random UUID)",
       [](Options& o, auto&, auto& v) { o.routing_key = v; }},
      {"", "--queue-pattern", "PATTERN", "many queues, e.g. 'perf-%d'; producer and consumer i use queue i mod n",
       [](Options& o, auto& f, auto& v) {
         if (v.find("%d") == std::string::npos) throw UsageError(f + ": the pattern needs a %d");
         o.queue_pattern = v;
       }},
      {"", "--queue-pattern-from", "N", "first number of --queue-pattern (default 1)",
       [](Options& o, auto& f, auto& v) { o.pattern_from = number<int>(f, v); }},
      {"", "--queue-pattern-to", "N", "last number of --queue-pattern (default 1)",
       [](Options& o, auto& f, auto& v) { o.pattern_to = number<int>(f, v); }},
      {"-qa", "--queue-args", "K=V,...", "queue arguments, e.g. x-max-length=1000,x-queue-type=classic",
       [](Options& o, auto&, auto& v) { o.queue_args = parse_queue_args(v); }},
      {"-ad", "--auto-delete", "BOOL", "declare queues auto-delete (default true)",
       [](Options& o, auto& f, auto& v) { o.auto_delete = boolean(f, v); }},
      {"-h", "--uri", "URI", "broker URI (default amqp://guest:guest@127.0.0.1:5672/%2F)",
       [](Options& o, auto&, auto& v) { o.uri = v; }},
      {"", "--protocol", "P", "amqp091 (default) or amqp10",
       [](Options& o, auto& f, auto& v) {
         if (v == "amqp091" || v == "amqp0-9-1")
           o.protocol = Protocol::Amqp091;
         else if (v == "amqp10" || v == "amqp1.0")
           o.protocol = Protocol::Amqp10;
         else
           throw UsageError(f + ": unknown protocol '" + v + "' (amqp091, amqp10)");
       }},
      {"", "--amqp10-address-prefix", "PREFIX", "AMQP 1.0 address of a queue: PREFIX + name (default /queue/, which RabbitMQ 3.x and warrend know; RabbitMQ 4: /queues/)",
       [](Options& o, auto&, auto& v) { o.amqp10_address_prefix = v; }},
      {"", "--json", "", "print one JSON line with the results at the end",
       [](Options& o, auto&, auto&) { o.json = true; }},
      {"-?", "--help", "", "this list", [](Options& o, auto&, auto&) { o.help = true; }},
      {"", "--flag-help", "", "this list", [](Options& o, auto&, auto&) { o.help = true; }},
  };
  return table;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(char(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

}  // namespace

std::string Options::pattern_queue(int i) const {
  std::string name = queue_pattern;
  name.replace(name.find("%d"), 2, std::to_string(pattern_from + i));
  return name;
}

std::vector<QueueArg> parse_queue_args(const std::string& text) {
  std::vector<QueueArg> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) throw UsageError("-qa: expected KEY=VALUE, not '" + item + "'");
    out.push_back({item.substr(0, eq), item.substr(eq + 1)});
  }
  return out;
}

Options parse_options(const std::vector<std::string>& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i], value;
    bool has_inline = false;
    if (name.rfind("--", 0) == 0) {
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_inline = true;
      }
    }
    const Flag* flag = nullptr;
    for (const Flag& f : flags())
      if (name == f.short_name || name == f.long_name) flag = &f;
    if (!flag) throw UsageError("unknown flag '" + name + "' (--help lists them)");
    if (!flag->arg.empty() && !has_inline) {
      if (i + 1 >= args.size()) throw UsageError(name + ": needs a value (" + flag->arg + ")");
      value = args[++i];
    } else if (flag->arg.empty() && has_inline) {
      throw UsageError(name + ": takes no value");
    }
    flag->apply(o, name, value);
  }
  if (o.producers < 0 || o.consumers < 0) throw UsageError("-x/-y: must not be negative");
  if (!o.queue_pattern.empty()) {
    if (o.pattern_to < o.pattern_from) throw UsageError("--queue-pattern-to is below --queue-pattern-from");
    if (!o.queue.empty()) throw UsageError("-u and --queue-pattern exclude each other");
  }
  return o;
}

std::string flag_help() {
  std::string out = "usage: warren-perf [flags]   (RabbitMQ PerfTest's flags and meanings)\n";
  for (const Flag& f : flags()) {
    std::string names = f.short_name.empty() ? "    " + f.long_name : f.short_name + ", " + f.long_name;
    if (!f.arg.empty()) names += " " + f.arg;
    if (names.size() < 30) names.resize(30, ' ');
    out += "  " + names + " " + f.help + "\n";
  }
  return out;
}

Uri parse_uri(const std::string& uri, uint16_t default_port) {
  Uri u;
  u.port = default_port;
  std::string rest = uri;
  auto scheme = rest.find("://");
  if (scheme == std::string::npos) throw UsageError("-h: not a URI: '" + uri + "'");
  rest = rest.substr(scheme + 3);
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos && slash + 1 < rest.size()) u.vhost = percent_decode(rest.substr(slash + 1));
  auto at = authority.rfind('@');
  if (at != std::string::npos) {
    std::string userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    auto colon = userinfo.find(':');
    u.user = percent_decode(userinfo.substr(0, colon));
    if (colon != std::string::npos) u.password = percent_decode(userinfo.substr(colon + 1));
  }
  auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    u.port = number<uint16_t>("-h", authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  }
  if (!authority.empty()) u.host = authority;
  if (u.host == "localhost") u.host = "127.0.0.1";
  return u;
}

}  // namespace warren::perf
