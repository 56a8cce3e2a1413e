#pragma once
// AMQP 1.0 node addresses as RabbitMQ understands them:
//   /queues/NAME               a queue that must exist (RabbitMQ 4)
//   /exchanges/NAME/KEY        an exchange and routing key (RabbitMQ 4)
//   /exchanges/NAME            an exchange; the key is each message's subject
//   /queue/NAME                a queue, declared if missing (RabbitMQ 3.x)
//   /exchange/NAME/KEY         an exchange (3.x); as a source, a temporary
//                              queue bound with KEY, deleted on detach
//   /topic/KEY                 amq.topic with KEY (3.x)
//   /amq/queue/NAME            a queue that must exist (3.x)
//   NAME                       a queue, declared on first use if allowed
// Names in /queues/ and /exchanges/ are percent-encoded (RabbitMQ 4).
#include <optional>
#include <string>
#include <string_view>

namespace warren::amqp10 {

struct Address {
  enum class Kind : uint8_t { Queue, Exchange };
  Kind kind = Kind::Queue;
  std::string name;                // the queue or exchange
  std::optional<std::string> key;  // exchange: the routing key; none: the message's subject
  bool declare = false;            // queue: declared when missing
  // A RabbitMQ 3.x form (/queue/, /exchange/, /topic/, /amq/queue/, bare):
  // an unroutable message is accepted, as 3.x's plugin does (RabbitMQ 4's
  // forms release it).
  bool v1 = false;
};

// False with `error` set when `text` is no address we know.
bool parse_address(std::string_view text, bool declare_bare_queues, Address& out, std::string& error);

// "%2F" -> "/". False on a malformed escape.
bool percent_decode(std::string_view in, std::string& out);
// What RabbitMQ 4 writes: unreserved characters as they are, the rest %XX.
std::string percent_encode(std::string_view in);

}  // namespace warren::amqp10
