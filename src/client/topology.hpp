#pragma once
// What the application declared, as recovery must declare it again:
// exchanges, then queues, then bindings, each in the order first declared.
// Deletes forget; passive declares are not recorded. A server-named queue
// is declared again with an empty name, and rename() moves its bindings
// (and the session moves its consumers) to the name the broker gives.
#include <string>
#include <vector>

#include "client/types.hpp"

namespace warren::client {

class Topology {
 public:
  struct Queue {
    QueueSpec spec;  // spec.name: the current name
    bool server_named = false;
  };
  // One re-declaration, in recovery order.
  struct Step {
    enum Kind { Exchange, Queue, Binding } kind;
    size_t index;
  };

  void declare_exchange(const ExchangeSpec& e);
  void delete_exchange(const std::string& name);
  void declare_queue(const QueueSpec& q, const std::string& named);
  void delete_queue(const std::string& name);
  void bind(const BindingSpec& b);
  void unbind(const BindingSpec& b);
  void rename_queue(const std::string& from, const std::string& to);

  std::vector<Step> steps() const;
  const std::vector<ExchangeSpec>& exchanges() const { return exchanges_; }
  const std::vector<Queue>& queues() const { return queues_; }
  const std::vector<BindingSpec>& bindings() const { return bindings_; }
  bool empty() const { return exchanges_.empty() && queues_.empty() && bindings_.empty(); }

 private:
  std::vector<ExchangeSpec> exchanges_;
  std::vector<Queue> queues_;
  std::vector<BindingSpec> bindings_;
};

}  // namespace warren::client
