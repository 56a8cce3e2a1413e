#pragma once
// Told of every change to a vhost's durable definitions, after it is made:
// the store logs them. Durable means: a durable exchange; a durable queue
// (never an exclusive one); a binding whose source and destination are
// both durable. What a deletion takes with it (the bindings to and from a
// deleted exchange or queue) is not told: the listener works it out as the
// vhost did. A queue's own deletion is its Close op (QueueLog).
#include "broker/exchange.hpp"

namespace warren::broker {

class Queue;

class DefinitionLog {
 public:
  virtual ~DefinitionLog() = default;
  virtual void exchange_declared(const Exchange& x) = 0;
  virtual void exchange_deleted(const Exchange& x) = 0;
  // The listener may set the queue's QueueLog here.
  virtual void queue_declared(Queue& q) = 0;
  virtual void bound(const Exchange& source, const Binding& b) = 0;
  virtual void unbound(const Exchange& source, const Binding& b) = 0;
};

}  // namespace warren::broker
