#pragma once
// The blocking API: each call waits for its reply, as pika's
// BlockingConnection does over its core. Errors throw ClientError. Never
// call it from a callback (they run on the I/O thread it would wait for).
//
//   auto conn = Connection::open("amqp://localhost");
//   BlockingChannel ch(conn->channel());
//   ch.queue_declare({.name = "jobs", .durable = true});
//   ch.confirm_select();
//   Outcome o = ch.publish({.routing_key = "jobs", .body = "hi"});
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>

#include "client/connection.hpp"

namespace warren::client {

class BlockingChannel {
 public:
  explicit BlockingChannel(std::shared_ptr<Channel> ch, milliseconds timeout = std::chrono::seconds(30));
  ~BlockingChannel();
  BlockingChannel(BlockingChannel&&) = default;

  Channel& channel() { return *ch_; }
  const std::shared_ptr<Channel>& shared() const { return ch_; }

  void confirm_select();
  void tx_select();
  void tx_commit();
  void tx_rollback();
  void qos(uint16_t prefetch_count);
  void exchange_declare(const ExchangeSpec& e, bool passive = false);
  void exchange_delete(const std::string& name, bool if_unused = false);
  QueueInfo queue_declare(const QueueSpec& q, bool passive = false);
  uint32_t queue_delete(const std::string& name, bool if_unused = false, bool if_empty = false);
  uint32_t queue_purge(const std::string& name);
  void bind(const BindingSpec& b);
  void unbind(const BindingSpec& b);
  // Consumes into this object: next_delivery() takes them in order.
  std::string consume(const ConsumeSpec& c);
  // The next delivery of consume(), or nullopt at the timeout.
  std::optional<Delivery> next_delivery(milliseconds timeout);
  void cancel(const std::string& tag);
  std::optional<Delivery> get(const std::string& queue, bool no_ack = false);
  // In confirm mode (this handle's or the channel's, e.g. a pooled one),
  // waits for the outcome; otherwise returns Acked once
  // the frames are queued (nothing more is known).
  Outcome publish(const PublishSpec& p);
  // In confirm mode, the outcome to come (not in confirm mode: ready, Acked).
  std::future<Outcome> publish_async(const PublishSpec& p);
  bool ack(const Delivery& d, bool multiple = false) { return ch_->ack(d, multiple); }
  bool nack(const Delivery& d, bool multiple = false, bool requeue = true) { return ch_->nack(d, multiple, requeue); }
  bool reject(const Delivery& d, bool requeue = true) { return ch_->reject(d, requeue); }
  void close();

 private:
  void wait_done(const std::function<void(DoneCallback)>& issue);
  template <class T>
  T wait_result(const std::function<void(ResultCallback<T>)>& issue);

  struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Delivery> deliveries;
  };
  std::shared_ptr<Channel> ch_;
  milliseconds timeout_;
  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
};

}  // namespace warren::client
