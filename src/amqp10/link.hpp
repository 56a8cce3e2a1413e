#pragma once
// AMQP 1.0 links (part 2.6) over the broker core.
//
// IncomingLink: the peer sends (a publisher). Its target is resolved to an
// exchange and routing key (or, for the anonymous relay, each message's
// `to`); credit is granted at attach and topped up as messages are stored.
//
// OutgoingLink: the peer receives (a consumer): a broker::Consumer whose
// credit is the link credit (2.6.7), held to 0 while the session's window
// or the connection's output is full.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "amqp10/address.hpp"
#include "amqp10/session.hpp"
#include "broker/consumer.hpp"
#include "broker/outcomes.hpp"

namespace warren::amqp10 {

class IncomingLink;
class OutgoingLink;

class Link {
 public:
  Link(Session& s, uint32_t handle, std::string name) : session_(s), handle_(handle), name_(std::move(name)) {}
  virtual ~Link() = default;
  uint32_t handle() const { return handle_; }
  const std::string& name() const { return name_; }
  virtual void on_flow(const Flow& f) = 0;
  // Ends the link: consumers removed, unsettled deliveries released,
  // temporary queues deleted.
  virtual void close() = 0;
  // Which kind it is, without a dynamic_cast (one per transfer was a
  // measurable share of a pre-settled message's cost).
  virtual IncomingLink* incoming() { return nullptr; }
  virtual OutgoingLink* outgoing() { return nullptr; }

 protected:
  Session& session_;
  const uint32_t handle_;
  const std::string name_;
};

// Where an incoming link's messages go.
struct Destination {
  bool anonymous = false;          // route by each message's `to`
  std::string exchange;
  std::optional<std::string> key;  // none: the message's subject
  std::string temporary;           // a dynamic target's queue: deleted on close
  bool accept_unroutable = false;  // a RabbitMQ 3.x address form
};

class IncomingLink final : public Link, public broker::Publisher {
 public:
  IncomingLink(Session& s, const Attach& a, Destination dest);
  ~IncomingLink() override;
  IncomingLink* incoming() override { return this; }
  void on_flow(const Flow& f) override;
  void on_transfer(const Transfer& t, std::span<const uint8_t> payload);
  void close() override;
  // Grants credit again when half of it is used (not under a memory alarm).
  void top_up(bool force = false);
  // Unsettled transfers whose outcome waited for the store: settled now.
  void outcomes_ready(std::span<const broker::Completion> done) override;

 private:
  struct Partial {
    uint32_t id;
    bool settled;
    std::string bytes;
  };
  void publish(uint32_t id, bool settled, std::span<const uint8_t> bytes);
  void send_link_flow();
  void stop_waiting();

  Destination dest_;
  broker::RouteCache route_cache_;  // this link's last route
  const bool rcv_second_;
  uint32_t delivery_count_;
  uint32_t credit_ = 0;
  std::optional<Partial> partial_;
  broker::PublisherId publisher_ = 0;  // registered at the first unsettled transfer
};

class OutgoingLink final : public Link, public broker::Consumer {
 public:
  OutgoingLink(Session& s, const Attach& a, broker::QueuePtr queue, bool temporary);
  ~OutgoingLink() override;
  OutgoingLink* outgoing() override { return this; }

  // Registers with the queue; no credit until the peer's flow.
  broker::Error start();
  void on_flow(const Flow& f) override;
  void close() override;
  // Stops taking deliveries (before the session releases what it holds,
  // so that nothing released comes back here).
  void stop();
  void resume();
  const broker::QueuePtr& queue() const { return queue_; }
  bool presettled() const { return presettled_; }
  uint32_t link_credit() const { return credit_; }
  // Modified undeliverable-here: `m` is not to come to this link again.
  void refuse(broker::MessagePtr m);
  // What came here though refused goes back to the queue (for another link).
  void release_parked();

  // broker::Consumer
  uint32_t credit() const override;
  bool deliver(broker::Delivery d) override;
  bool settles_on_delivery() const override { return presettled_; }
  void cancelled_by_queue() override;

 private:
  void send_link_flow(bool drain);
  // Completes a drain whose queue ran dry; true when it sent the flow.
  bool finish_drain();

  broker::QueuePtr queue_;
  bool temporary_;  // a dynamic node or /exchange/ source: deleted on close
  const bool presettled_;
  // A lock queue's consumer: its "x-lock-mode" link property (docs/locks.md).
  std::optional<broker::LockMode> lock_mode_ = broker::LockMode::Default;  // nothing: not a mode
  uint32_t delivery_count_ = 0;
  uint32_t credit_ = 0;
  bool drain_ = false;
  bool registered_ = false;
  std::vector<broker::MessagePtr> refused_;  // the most recent few
  std::vector<broker::Delivery> parked_;     // taken from the queue, not sent
};

}  // namespace warren::amqp10
