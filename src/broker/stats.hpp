#pragma once
// Message counters for the management API and Prometheus (src/mgmt): exact
// and current, each event one integer increment on the broker's thread, no
// lock, no allocation. Readers take them in a snapshot on the same thread.
#include <cstdint>

namespace warren::broker {

// What happened to a queue's messages (RabbitMQ's queue message_stats).
struct MessageCounts {
  uint64_t publish = 0;         // enqueued
  uint64_t deliver = 0;         // to consumers that acknowledge
  uint64_t deliver_no_ack = 0;  // to no-ack consumers (pre-settled links)
  uint64_t get = 0;             // basic.get, to be acknowledged
  uint64_t get_no_ack = 0;
  uint64_t get_empty = 0;       // basic.get on an empty queue
  uint64_t redeliver = 0;       // deliveries and gets of messages handed out before
  uint64_t ack = 0;             // settled as accepted (basic.ack, 1.0 accepted)

  uint64_t deliver_get() const { return deliver + deliver_no_ack + get + get_no_ack; }
  MessageCounts& operator+=(const MessageCounts& o) {
    publish += o.publish;
    deliver += o.deliver;
    deliver_no_ack += o.deliver_no_ack;
    get += o.get;
    get_no_ack += o.get_no_ack;
    get_empty += o.get_empty;
    redeliver += o.redeliver;
    ack += o.ack;
    return *this;
  }
};

// What publishers did in a vhost (RabbitMQ's global counters).
struct PublishCounts {
  uint64_t received = 0;    // publishes the vhost routed (or tried to)
  uint64_t routed = 0;      // reached at least one queue
  uint64_t unroutable = 0;  // reached none (returned or dropped)
  uint64_t returned = 0;    // of those, returned to a mandatory publisher (counted by the front end)
  uint64_t confirmed = 0;   // confirms sent (0-9-1 basic.ack in confirm mode, 1.0 accepted): by the front ends

  PublishCounts& operator+=(const PublishCounts& o) {
    received += o.received;
    routed += o.routed;
    unroutable += o.unroutable;
    returned += o.returned;
    confirmed += o.confirmed;
    return *this;
  }
};

}  // namespace warren::broker
