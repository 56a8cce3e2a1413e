#pragma once
// Policies (RabbitMQ's): named, per vhost, a pattern over queue and
// exchange names, a priority, and a definition of optional arguments
// without their "x-" (message-ttl, expires, max-length, max-length-bytes,
// overflow, dead-letter-exchange, dead-letter-routing-key for queues;
// alternate-exchange for exchanges). Each queue or exchange takes the
// highest-priority policy that matches it (ties: the first name), merged
// with its own arguments as RabbitMQ 3.10's classic queues do: numeric
// limits take the smaller of the two, the others the queue's argument.
// max-priority cannot be set by a policy (a queue's lanes are fixed at
// declaration), as in RabbitMQ.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "auth/pattern.hpp"
#include "broker/error.hpp"
#include "broker/value.hpp"

namespace warren::broker {

struct QueueArgs;

struct Policy {
  std::string name;
  std::string pattern;
  std::string apply_to = "all";  // "queues", "exchanges" or "all"
  int priority = 0;
  Table definition;
  bool operator==(const Policy& o) const = default;
};

// A policy that RabbitMQ would refuse: the reason, in its words
// ("Validation failed\n\n[<<\"max-priority\">>] are not recognised policy
// settings"), as a 406 (the API answers 400 with it).
Error validate_policy(const Policy& p);

// `declared` (a queue's parsed arguments) with `definition` merged in;
// `raw` is what the queue was declared with, for "the argument wins".
QueueArgs merge_policy(const QueueArgs& declared, const Table& raw, const Table& definition);

class PolicySet {
 public:
  // Adds or replaces; the policy must be valid (validate_policy).
  void set(Policy p);
  bool clear(std::string_view name);
  // The policy for a queue (or exchange) named `name`, or null.
  const Policy* match(std::string_view name, bool queue) const;
  std::vector<const Policy*> all() const;
  bool empty() const { return policies_.empty(); }

 private:
  struct Entry {
    Policy policy;
    std::shared_ptr<auth::Pattern> pattern;
  };
  std::map<std::string, Entry, std::less<>> policies_;
};

}  // namespace warren::broker
