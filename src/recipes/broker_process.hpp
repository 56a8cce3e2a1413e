#pragma once
// Test support: a private broker process (warrend, or a RabbitMQ node) in
// its own temporary directory, on its own ports, stopped at the end.
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "recipes/lock_client.hpp"

namespace warren::recipes::harness {

class BrokerProcess {
 public:
  virtual ~BrokerProcess() = default;
  const Endpoint& endpoint() const { return ep_; }
  // Stops it. Returns what went wrong (a non-zero exit, a sanitizer
  // report), or "" when it stopped cleanly.
  virtual std::string stop() = 0;

 protected:
  Endpoint ep_;
};

// $WARREN_WARREND started like tests/amqp091/amqp_harness.py does: port 0,
// the port read from its "AMQP 0-9-1 listening on HOST:PORT" log line.
std::unique_ptr<BrokerProcess> start_warrend();

// A RabbitMQ node the way bench/compare/brokers.py starts one (RABBITMQ_*
// variables, its own directory and ports). nullopt-like null when
// rabbitmq-server is not installed.
std::unique_ptr<BrokerProcess> start_rabbitmq();

}  // namespace warren::recipes::harness
