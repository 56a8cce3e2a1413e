#pragma once
// One AMQP 0-9-1 channel: its methods, the content it is receiving, its
// consumers, its unacked deliveries (a broker::Unsettled), publisher
// confirms and transactions.
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "amqp091/confirms.hpp"
#include "amqp091/connection.hpp"
#include "broker/outcomes.hpp"
#include "broker/unsettled.hpp"

namespace warren::amqp091 {

class Channel;

// A basic.consume: the core's Consumer, accounting prefetch.
class ChannelConsumer final : public broker::Consumer {
 public:
  ChannelConsumer(Channel& ch, uint64_t key, std::string tag, broker::QueuePtr queue, bool no_ack, uint16_t prefetch)
      : ch_(ch), key_(key), tag_(std::move(tag)), queue_(std::move(queue)), no_ack_(no_ack), prefetch_(prefetch) {}

  uint32_t credit() const override;
  bool deliver(broker::Delivery d) override;
  bool settles_on_delivery() const override { return no_ack_; }
  void cancelled_by_queue() override;

  const std::string& tag() const { return tag_; }
  const broker::QueuePtr& queue() const { return queue_; }
  bool no_ack() const { return no_ack_; }
  uint16_t prefetch() const { return prefetch_; }
  uint64_t key() const { return key_; }
  void settled() {
    if (unacked_ > 0) --unacked_;
  }
  void make_ready() { ready_ = true; }

 private:
  Channel& ch_;
  uint64_t key_;
  std::string tag_;
  broker::QueuePtr queue_;
  bool no_ack_;
  uint16_t prefetch_;  // 0: unlimited
  uint32_t unacked_ = 0;
  bool ready_ = false;  // consume-ok sent: deliveries may flow
};

class Channel final : public broker::Publisher {
 public:
  Channel(Connection& conn, uint16_t id);
  ~Channel() override;  // cancels consumers; the session returns unacked deliveries

  uint16_t id() const { return id_; }
  // We sent channel.close and wait for close-ok; everything else is dropped.
  bool closing() const { return closing_; }
  // While closing: the peer's own close crossed ours (and was answered).
  void peer_closed() { peer_closing_ = true; }
  bool peer_closing() const { return peer_closing_; }

  void handle_method(const Method& m, TimePoint now);
  void handle_header(const ContentHeader& h, TimePoint now);
  void handle_body(const Frame& f, TimePoint now);
  bool take_placed(const Frame& f);
  // basic.publish at frame i, with its content in frames [i + 1, end):
  // published at once if it may be (see channel_publish.cpp). Returns the content
  // frames it took; 0: none, the frames go one by one.
  size_t publish_whole(const BasicPublish& p, const FrameBatch& batch, size_t i, size_t end, TimePoint now);
  bool expecting_content() const { return receiving_; }
  // Output room again: let the queues deliver.
  void resume_deliveries(TimePoint now);
  // Sends pending publisher-confirm acks (batched per turn).
  void flush_confirms();
  // broker::Publisher: outcomes that waited for the store (confirms, commits).
  void outcomes_ready(std::span<const broker::Completion> done) override;

  // --- for ChannelConsumer ---
  Connection& connection() { return conn_; }
  bool flow_active() const { return flow_active_; }
  uint32_t global_credit() const;
  void deliver(ChannelConsumer& c, broker::Delivery d, bool no_ack);
  void consumer_cancelled_by_queue(ChannelConsumer& c);

  // The name replies reach this channel's direct reply-to consumer by
  // ("amq.rabbitmq.reply-to.<token>"); empty when it has none.
  const std::string& reply_to_name() const { return reply_name_; }
  // For the management API (engine::ChannelInfo).
  void describe(engine::ChannelInfo& out) const;

 private:
  struct Content {
    std::string exchange, routing_key;
    bool mandatory = false;
    std::string properties;  // raw flags + values
    broker::Message::Essentials essentials;
    uint64_t body_size = 0;
    bool have_header = false;
    // Bodies above Message::kInlineBody, kept by the message as they are:
    // the body frame's own string when one frame brought all of it, else
    // gathered here frame by frame. Smaller ones gather in the channel's
    // small_body_ (both null here), which the message copies once; a
    // transaction gives them their own string.
    broker::Body body;
    std::shared_ptr<std::string> gathering;
    // Or placed by the cutter (Frame::placed): the body's string, of which
    // the frames so far brought placed_size octets.
    broker::Body placed;
    uint64_t placed_size = 0;
  };
  struct TxOp {  // what a transaction will do at commit
    std::optional<Content> publish;
    uint64_t tag = 0;
    bool multiple = false;
    broker::Outcome outcome = broker::Outcome::Accepted;
  };

  // The channel's direct reply-to consumer, as the core sees it.
  class ReplyConsumer final : public broker::ReplyReceiver {
   public:
    explicit ReplyConsumer(Channel& ch) : ch_(ch) {}
    bool deliver_reply(const broker::MessagePtr& msg) override { return ch_.deliver_reply(msg); }

   private:
    Channel& ch_;
  };

  void error(ReplyCode code, std::string_view text, const Method& m);
  void handle_exchange(const Method& m, TimePoint now);
  void handle_queue(const Method& m, TimePoint now);
  void handle_basic(const Method& m, TimePoint now);
  void handle_consume(const BasicConsume& m, TimePoint now);
  void handle_get(const BasicGet& m, TimePoint now);
  void publish(Content& c, TimePoint now);
  void route(broker::MessagePtr msg, bool mandatory, TimePoint now);
  bool settle(uint64_t tag, bool multiple, broker::Outcome outcome, TimePoint now, const Method& m);
  void cancel_consumer(const std::string& tag, TimePoint now);
  // Direct reply-to (direct_reply.cpp).
  void consume_reply_to(const BasicConsume& m);
  bool cancel_reply_to(const std::string& tag);
  void drop_reply_to();
  // A publish with reply_to "amq.rabbitmq.reply-to" gets this channel's
  // reply name in `raw` instead; false when the channel closed over it.
  bool set_reply_to(const PropertiesView& props, std::string& raw);
  bool deliver_reply(const broker::MessagePtr& msg);
  // The queue named in a method, "" meaning the last one declared here.
  std::string queue_name(std::string_view given) const;
  bool fail_if(const broker::Error& err, const Method& m);
  void confirm(uint64_t tag, bool ack);
  void commit(TimePoint now, const Method& m);
  void finish_commits();
  void drop_commits();
  broker::PublisherId publisher_id();
  void release(TimePoint now);
  void credit_settled(TimePoint now);

  Connection& conn_;
  const uint16_t id_;
  bool closing_ = false;
  bool peer_closing_ = false;
  bool flow_active_ = true;
  broker::Unsettled session_;
  // The publish being received, while receiving_; kept between publishes,
  // so that its strings keep their room.
  Content content_;
  bool receiving_ = false;
  std::string small_body_;  // reused (capacity kept): no allocation per small publish
  // The exchange last published to, to skip its lookup by name; looked up
  // again when the vhost has deleted it since.
  broker::ExchangePtr last_exchange_;
  broker::RouteCache route_cache_;  // where the last publish went
  std::map<std::string, std::unique_ptr<ChannelConsumer>, std::less<>> consumers_;
  std::map<uint64_t, ChannelConsumer*> consumers_by_key_;
  uint64_t next_consumer_key_ = 1;
  uint64_t next_ctag_ = 1;
  uint16_t prefetch_ = 0;         // per new consumer (basic.qos global=false)
  uint16_t global_prefetch_ = 0;  // per channel (global=true)
  std::string last_queue_;        // for methods that name queue ""
  // Publisher confirms
  bool confirm_mode_ = false;
  ConfirmTracker confirms_;
  // Transactions
  bool tx_mode_ = false;
  std::vector<TxOp> tx_;
  // A commit whose messages wait for the store: its commit-ok, then what
  // the channel sent after it (held by the connection), go out when the
  // last one is known; commits complete in order.
  struct WaitingCommit {
    uint64_t number;
    size_t pending = 0;  // its publishes not yet known
    bool failed = false;
    std::string after;   // this channel's output since this commit
  };
  uint64_t commits_ = 0;
  uint64_t committing_ = 0;  // the commit being applied: its number (0: none)
  size_t commit_pending_ = 0;  // its publishes that wait
  // A list: references stay valid (the connection holds into them), and,
  // unlike a deque, an empty one allocates nothing (one per channel).
  std::list<WaitingCommit> waiting_commits_;
  broker::PublisherId publisher_ = 0;  // registered on confirm.select / tx.select
  std::vector<uint64_t> settled_keys_;
  std::vector<std::unique_ptr<ChannelConsumer>> graveyard_;  // cancelled by their queue, freed later
  // Direct reply-to: the consumer's tag and registered name (empty: none).
  std::string reply_tag_, reply_name_;
  ReplyConsumer reply_consumer_{*this};
};

}  // namespace warren::amqp091
