#pragma once
// One AMQP 0-9-1 connection over warren-client (Warren's own client library,
// docs/client.md: its single-threaded driver, PolledConnection), with the
// few methods the recipes use. Frames are filed by the channel they arrived
// on: deliveries, confirms and returns of one channel never reach another,
// and a channel's leftovers go with it when it closes.
//
// Two kinds of failure:
//  - a channel error (404 NOT_FOUND, 403, 405 RESOURCE_LOCKED...) closes
//    that channel only: the call returns a Status with the broker's code;
//  - anything that ends the connection (socket error, connection.close,
//    no answer within the RPC timeout) throws recipes::Error, and the
//    Connection is dead from then on (the library's recovery is off: a
//    lock holder's lost connection must be final and visible).
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "recipes/lock_client.hpp"

namespace warren::client {
class PolledConnection;
}

namespace warren::recipes::amqp {

using Clock = std::chrono::steady_clock;

// The outcome of a channel operation: 0, or the code of the channel.close
// the broker answered with (the channel is closed then).
struct Status {
  uint16_t code = 0;
  std::string text;
  bool ok() const { return code == 0; }
};

// Reply codes the recipes tell apart.
constexpr uint16_t kAccessRefused = 403;
constexpr uint16_t kNotFound = 404;
constexpr uint16_t kResourceLocked = 405;

struct Arg {
  std::string key;
  std::variant<std::string, int64_t> value;  // a longstr or a long-long
};
using Args = std::vector<Arg>;

struct QueueOpts {
  bool passive = false, durable = false, exclusive = false, auto_delete = false;
  Args args;
};

struct DeclareOk {
  Status status;
  uint32_t messages = 0, consumers = 0;
};

struct PublishOpts {
  bool mandatory = false;
  bool persistent = false;
  std::optional<std::string> expiration;  // per-message TTL in ms, as text
  std::optional<int64_t> token;           // header x-fencing-token
};

struct Delivery {
  uint64_t tag = 0;
  std::string consumer_tag;
  std::optional<int64_t> token;  // header x-fencing-token, when it has one
  std::optional<int64_t> permit; // header x-lock-permit: a Warren semaphore's slot
  std::string body;              // (the prover's queue workload reads its message ids here)
  bool redelivered = false;
  uint32_t remaining = 0;        // basic.get-ok: the messages still ready in the queue after this one
};

// What the broker said about a publish (confirms or a transaction).
enum class Verdict : uint8_t { Acked, Nacked, Returned };

class Connection {
 public:
  // Connects and logs in within `timeout`; throws Error.
  Connection(const Endpoint& ep, std::chrono::milliseconds timeout);
  ~Connection();  // closes politely if it can, briefly
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Closes the socket without connection.close: the broker sees a dead peer.
  void drop();
  bool alive() const { return conn_ != nullptr; }

  uint16_t open_channel();
  // Closes it and forgets what it had queued. A channel the broker closed
  // already is just forgotten. Never throws for channel reasons.
  void close_channel(uint16_t ch);
  bool is_open(uint16_t ch) const;

  DeclareOk declare(uint16_t ch, std::string_view queue, const QueueOpts& o);
  Status delete_queue(uint16_t ch, std::string_view queue);
  Status qos(uint16_t ch, uint16_t prefetch);
  Status confirm_select(uint16_t ch);
  Status tx_select(uint16_t ch);
  // Consumer tag in *tag.
  Status consume(uint16_t ch, std::string_view queue, bool exclusive, bool no_ack, const Args& args,
                 std::string* tag);
  Status cancel(uint16_t ch, const std::string& tag);
  // Sends it to the default exchange, routed to `queue`. In confirm mode
  // the result is its sequence number, for wait_confirm.
  uint64_t publish(uint16_t ch, std::string_view queue, std::string_view body, const PublishOpts& o);
  // Confirm mode: waits for the broker's ack or nack of `seq` (Returned: a
  // mandatory publish that no queue took). nullopt: the channel closed.
  std::optional<Verdict> wait_confirm(uint16_t ch, uint64_t seq);
  // Tx mode: commits. Returned when a mandatory publish since the last
  // commit came back. nullopt: the channel closed.
  std::optional<Verdict> commit(uint16_t ch);
  // basic.get, acknowledged later: the message, or nullopt for get-empty
  // (or a closed channel: *status says which).
  std::optional<Delivery> get(uint16_t ch, std::string_view queue, Status* status = nullptr);
  void ack(uint16_t ch, uint64_t tag);
  void reject(uint16_t ch, uint64_t tag, bool requeue);

  // Waits until `deadline` for a delivery on `ch`. nullopt: none by then,
  // or the channel closed, or the broker cancelled its consumer.
  std::optional<Delivery> next_delivery(uint16_t ch, Clock::time_point deadline);
  // The broker cancelled this consumer (basic.cancel from the broker:
  // queue deleted, lease ended).
  bool cancelled_by_broker(uint16_t ch, const std::string& tag) const;

 private:
  struct Chan;  // what this class keeps per open channel (amqp_conn.cpp)

  [[noreturn]] void fail(const std::string& what);
  void live() const;              // throws Error unless connected
  void check_connection();        // throws Error if the connection has ended
  // Polls until done() or `deadline`; throws Error if the connection ends first.
  template <class Done>
  bool wait(const Done& done, Clock::time_point deadline);
  // Issues a call (issue(done_callback)) on an open channel and waits for
  // its reply: {} or the broker's channel.close.
  template <class Issue>
  Status rpc(uint16_t ch, const Issue& issue);
  void flush();  // writes what the calls queued, as rabbitmq-c did at once
  void on_closed(const std::shared_ptr<Chan>& c, uint16_t code, const std::string& text);
  void retire(uint16_t ch);  // a closed channel's number, back to the library in time
  Status closed_status(uint16_t ch) const;

  std::unique_ptr<client::PolledConnection> conn_;
  std::map<uint16_t, std::shared_ptr<Chan>> open_;
  std::map<uint16_t, Status> closed_;  // why each recently closed channel closed
  // Closed channels the library still holds, oldest first: their numbers
  // are reused only after many more, so a stale number seldom names a new channel.
  std::deque<uint16_t> retired_;
};

}  // namespace warren::recipes::amqp
