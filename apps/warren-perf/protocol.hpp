#pragma once
// What the driver (driver.cpp) needs of a protocol: a publisher that batches
// messages and reports confirms, and a consumer that reports deliveries. One
// of each per connection, each used by one thread. amqp091_client.cpp
// implements them for AMQP 0-9-1, amqp10_client.cpp for AMQP 1.0.
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "options.hpp"

namespace warren::perf {

// A broker or connection failure; the run stops with exit status 2.
struct ClientError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct ConfirmSink {
  virtual ~ConfirmSink() = default;
  // Publishes (tags start at 1) up to and including `tag` if `multiple`, else just `tag`.
  virtual void on_confirm(uint64_t tag, bool multiple, bool ack) = 0;
  virtual void on_return() = 0;  // a mandatory message came back unroutable
};

struct DeliverySink {
  virtual ~DeliverySink() = default;
  // `head`: the body's first bytes (at most kMinBodySize), `size`: the whole body's.
  virtual void on_delivery(std::span<const uint8_t> head, uint64_t size) = 0;
};

// Where a producer sends: exchange and routing key (AMQP 1.0: an address).
struct Route {
  std::string exchange;
  std::string routing_key;
  std::string queue;  // the queue it reaches, when there is exactly one (AMQP 1.0 needs it)
};

// Where a consumer reads: a named queue, or "" for a server-named queue it
// declares and binds itself (exchange and key from `bind`).
struct Source {
  std::string queue;
  Route bind;
};

class Publisher {
 public:
  virtual ~Publisher() = default;
  // Appends a message to the output batch; nothing is written yet.
  virtual void publish(std::span<const uint8_t> body) = 0;
  virtual size_t buffered_bytes() const = 0;
  // Writes the batch; while the socket is full, handles what the server sends.
  virtual void flush(ConfirmSink& sink) = 0;
  // Waits for server input up to `timeout` (0: just looks) and handles it.
  virtual void poll(std::chrono::milliseconds timeout, ConfirmSink& sink) = 0;
  virtual void close() = 0;
};

class Consumer {
 public:
  virtual ~Consumer() = default;
  // Waits for input up to `timeout`, hands each complete delivery to `sink`,
  // then writes the acks the options call for.
  virtual void poll(std::chrono::milliseconds timeout, DeliverySink& sink) = 0;
  virtual void close() = 0;
};

// One protocol's clients. setup declares what the run needs before any client
// starts: the exchange, the named queues (with -qa arguments) and their
// bindings (queue, route).
struct ProtocolImpl {
  void (*setup)(const Options& o, const std::vector<std::pair<std::string, Route>>& queue_binds);
  std::unique_ptr<Publisher> (*make_publisher)(const Options& o, const Route& route);
  std::unique_ptr<Consumer> (*make_consumer)(const Options& o, const Source& source);
};

const ProtocolImpl& amqp091_protocol();
#ifdef WARREN_PERF_AMQP10
const ProtocolImpl& amqp10_protocol();
#endif

}  // namespace warren::perf
