#pragma once
// Exchanges route a message to queues and to other exchanges through their
// bindings: direct (key equality), fanout (everything), topic (dot-separated
// words with * and #), headers (x-match all/any, also all-with-x/any-with-x).
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/error.hpp"
#include "broker/message.hpp"

namespace warren::broker {

enum class ExchangeType : uint8_t { Direct, Fanout, Topic, Headers };
std::optional<ExchangeType> parse_exchange_type(std::string_view s);
std::string_view to_string(ExchangeType t);

struct Destination {
  std::string name;
  bool is_exchange = false;
  bool operator==(const Destination&) const = default;
};

struct Binding {
  Destination destination;
  std::string key;
  Table arguments;
  bool operator==(const Binding& o) const {
    return destination == o.destination && key == o.key && arguments == o.arguments;
  }
};

// Does `pattern` (a topic binding key) match `key`? Words are separated by
// '.', '*' matches exactly one word, '#' matches zero or more.
bool topic_matches(std::string_view pattern, std::string_view key);
// Does a headers binding's arguments match the message headers?
bool headers_match(const Table& binding_args, const Table* headers);

class Exchange {
 public:
  struct Options {
    std::string name;
    ExchangeType type = ExchangeType::Direct;
    bool durable = false;
    bool auto_delete = false;
    bool internal = false;
    Table arguments;
  };
  explicit Exchange(Options opts);

  const std::string& name() const { return opts_.name; }
  const Options& options() const { return opts_; }
  ExchangeType type() const { return opts_.type; }
  // From the alternate-exchange argument, else from the exchange's policy.
  const std::string* alternate_exchange() const;
  // The policy in effect ("": none) and its alternate-exchange, if any.
  void set_policy(std::string name, std::optional<std::string> alternate) {
    policy_name_ = std::move(name);
    policy_alternate_ = std::move(alternate);
  }
  const std::string& policy_name() const { return policy_name_; }

  // False when the same binding exists already / does not exist.
  bool bind(Binding b);
  bool unbind(const Binding& b);
  // Removes every binding to `d` (its queue or exchange was deleted);
  // true when there was one.
  bool unbind_all(const Destination& d);
  bool has_bindings() const { return !bindings_.empty(); }
  const std::vector<Binding>& bindings() const { return bindings_; }
  // Set by its vhost when it removes the exchange: whoever cached a pointer
  // to it (a channel, to skip the lookup by name) must look it up again.
  bool deleted() const { return deleted_; }
  void mark_deleted() { deleted_ = true; }

  // Appends the destinations `msg` goes to (duplicates possible; the caller
  // de-duplicates across exchanges).
  void route(const Message& msg, std::vector<Destination>& out) const { route(msg, msg.routing_key(), out); }
  // The same with another of the message's routing keys (CC, BCC).
  void route(const Message& msg, std::string_view key, std::vector<Destination>& out) const;

 private:
  std::string policy_name_;
  std::optional<std::string> policy_alternate_;
  Options opts_;
  bool deleted_ = false;
  std::vector<Binding> bindings_;
  // Direct exchanges: binding key -> indexes into bindings_, for O(1)
  // routing; looked up by string_view, without building a string.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_multimap<std::string, size_t, KeyHash, std::equal_to<>> direct_;
  void reindex();
};

using ExchangePtr = std::shared_ptr<Exchange>;

}  // namespace warren::broker
