#pragma once
// What the client's API speaks in: owned messages, deliveries, the four
// outcomes of a confirmed publish, errors, and the declarations the
// connection records so that recovery can declare them again.
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "amqp091/field_table.hpp"
#include "amqp091/properties.hpp"

namespace warren::client {

using amqp091::BasicProperties;
using amqp091::FieldTable;

// How a publish in confirm mode ended. Exactly one per publish.
enum class Outcome : uint8_t {
  Acked,     // the broker took responsibility for the message
  Nacked,    // the broker refused it (a queue's overflow reject-publish, an internal error)
  Returned,  // mandatory, and no queue took it (basic.return, then its ack)
  Unknown,   // the connection died first: the message may or may not have arrived
};
std::string_view outcome_name(Outcome o);

// A protocol close (code and text as the broker sent them), or code 0 for a
// transport failure (text from the OS or the engine).
struct Error {
  uint16_t code = 0;
  std::string text;
  bool operator==(const Error&) const = default;
};

// Thrown by the blocking API, and by calls on a channel that cannot take
// them (closed, or waiting for recovery): nothing was sent.
class ClientError : public std::runtime_error {
 public:
  explicit ClientError(Error e);
  const Error& error() const { return error_; }

 private:
  Error error_;
};

struct Message {
  std::string body;
  BasicProperties properties;
};

// A message from basic.deliver or basic.get-ok. `epoch` is the connection
// incarnation it came on: an ack of a delivery from an earlier epoch is not
// sent (the broker has requeued it already and will deliver it again).
struct Delivery {
  uint64_t epoch = 0;
  uint64_t delivery_tag = 0;
  bool redelivered = false;
  std::string consumer_tag;  // empty for basic.get
  std::string exchange;
  std::string routing_key;
  uint32_t message_count = 0;  // basic.get-ok only
  Message message;
};

// A message the broker returned (mandatory, unroutable).
struct Returned {
  uint16_t reply_code = 0;
  std::string reply_text;
  std::string exchange;
  std::string routing_key;
  Message message;
};

struct ExchangeSpec {
  std::string name;
  std::string type = "direct";
  bool durable = false;
  bool auto_delete = false;
  bool internal = false;
  FieldTable arguments;
};

struct QueueSpec {
  std::string name;  // empty: the broker names it (and names it again on recovery)
  bool durable = false;
  bool exclusive = false;
  bool auto_delete = false;
  FieldTable arguments;
};

// queue.bind, or exchange.bind when `to_exchange`.
struct BindingSpec {
  std::string destination;
  std::string source;  // the exchange
  std::string routing_key;
  FieldTable arguments;
  bool to_exchange = false;
  bool operator==(const BindingSpec&) const = default;
};

struct QueueInfo {
  std::string name;
  uint32_t message_count = 0;
  uint32_t consumer_count = 0;
};

struct ConsumeSpec {
  std::string queue;
  std::string tag;  // empty: the broker chooses (and the same tag is asked for on recovery)
  bool no_ack = false;
  bool exclusive = false;
  FieldTable arguments;
};

struct PublishSpec {
  std::string_view exchange;
  std::string_view routing_key;
  std::string_view body;
  const BasicProperties* properties = nullptr;  // none when null
  bool mandatory = false;
};

// Completion callbacks. They run on the connection's I/O thread, with no
// lock held: they may call the async API, never the blocking one.
using ConfirmCallback = std::function<void(Outcome)>;
using DoneCallback = std::function<void(const std::optional<Error>&)>;  // nullopt: success
using DeliveryCallback = std::function<void(Delivery&&)>;

}  // namespace warren::client
