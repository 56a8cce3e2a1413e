#pragma once
// warren-perf's command line: RabbitMQ PerfTest's flags with PerfTest's
// meanings (see README.md for the defaults chosen and where they differ).
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace warren::perf {

enum class Protocol { Amqp091, Amqp10 };

// Smallest body: it carries the send time (8 B), producer id and sequence number (4 B each).
inline constexpr size_t kMinBodySize = 16;

struct QueueArg {
  std::string key;
  std::string value;  // sent as a long if it parses as an integer, "true"/"false" as a bool, else a string
};

struct Options {
  int producers = 1;                // -x
  int consumers = 1;                // -y
  std::string queue;                // -u; empty: one server-named queue per consumer
  size_t body_size = kMinBodySize;  // -s
  bool body_size_raised = false;    // -s was below kMinBodySize and was raised to it
  double seconds = 0;               // -z; 0: until the counts are reached (or Ctrl-C)
  uint64_t producer_count = 0;      // -C; 0: no limit
  uint64_t consumer_count = 0;      // -D; 0: no limit
  bool auto_ack = false;            // -a
  uint32_t multi_ack_every = 0;     // -A; 0: ack each message
  uint16_t prefetch = 0;            // -q; 0: unlimited
  int64_t confirm = -1;             // -c; -1: no confirms
  bool persistent = false;          // -f persistent
  bool mandatory = false;           // -f mandatory
  double rate = 0;                  // -r, per producer; 0: as fast as possible
  std::string exchange = "direct";  // -e
  std::string exchange_type = "direct";  // -t
  std::string routing_key;          // -k; empty: a random UUID (PerfTest's default)
  std::string queue_pattern;        // --queue-pattern 'perf-%d'
  int pattern_from = 1;             // --queue-pattern-from
  int pattern_to = 1;               // --queue-pattern-to
  std::vector<QueueArg> queue_args; // -qa "x-max-length=1000,x-queue-type=classic"
  bool auto_delete = true;          // -ad
  std::string uri = "amqp://guest:guest@127.0.0.1:5672/%2F";  // -h
  Protocol protocol = Protocol::Amqp091;
  std::string amqp10_address_prefix = "/queue/";  // RabbitMQ 4: "/queues/"
  bool json = false;                // --json
  bool help = false;                // --help, --flag-help

  bool confirms() const { return confirm >= 0; }
  int queue_pattern_count() const { return queue_pattern.empty() ? 0 : pattern_to - pattern_from + 1; }
  // The name of pattern queue i (0-based): the pattern with %d replaced by from + i.
  std::string pattern_queue(int i) const;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws UsageError naming the flag.
Options parse_options(const std::vector<std::string>& args);
std::vector<QueueArg> parse_queue_args(const std::string& text);
std::string flag_help();

struct Uri {
  std::string host = "127.0.0.1";
  uint16_t port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
};
// amqp://user:pass@host:port/vhost, percent-decoded; a missing part keeps its default.
Uri parse_uri(const std::string& uri, uint16_t default_port = 5672);

}  // namespace warren::perf
