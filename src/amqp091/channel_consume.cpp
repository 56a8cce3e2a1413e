// Channel, consuming: the basic class's methods (basic.publish only
// starts a message: channel_publish.cpp takes its content), consumers and
// their deliveries, basic.get, prefetch, and settling what was delivered.
#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "amqp091/channel.hpp"
#include "amqp091/convert.hpp"

namespace warren::amqp091 {

using broker::Outcome;

// ---------------------------------------------------------------- consumer

uint32_t ChannelConsumer::credit() const {
  if (!ready_ || !ch_.flow_active() || ch_.connection().output_full()) return 0;
  if (no_ack_) return UINT32_MAX;  // RabbitMQ applies no prefetch to no-ack consumers
  uint32_t c = prefetch_ == 0 ? UINT32_MAX : (prefetch_ > unacked_ ? prefetch_ - unacked_ : 0);
  return std::min(c, ch_.global_credit());
}

bool ChannelConsumer::deliver(broker::Delivery d) {
  if (!no_ack_) ++unacked_;
  ch_.deliver(*this, std::move(d), no_ack_);
  return no_ack_;
}

void ChannelConsumer::cancelled_by_queue() { ch_.consumer_cancelled_by_queue(*this); }

// ----------------------------------------------------------------- channel

void Channel::handle_basic(const Method& m, TimePoint now) {
  if (auto* p = as<BasicPublish>(m)) {
    if (p->immediate) return error(ReplyCode::NotImplemented, "immediate=true", m);
    content_.exchange.assign(p->exchange);
    content_.routing_key.assign(p->routing_key);
    content_.mandatory = p->mandatory;
    content_.have_header = false;
    content_.body.reset();
    content_.gathering.reset();
    content_.placed.reset();
    content_.placed_size = 0;
    receiving_ = true;
    return;
  }
  if (auto* a = as<BasicAck>(m)) return (void)settle(a->delivery_tag, a->multiple, Outcome::Accepted, now, m);
  if (auto* n = as<BasicNack>(m))
    return (void)settle(n->delivery_tag, n->multiple, n->requeue ? Outcome::Released : Outcome::Rejected, now, m);
  if (auto* r = as<BasicReject>(m))
    return (void)settle(r->delivery_tag, false, r->requeue ? Outcome::Released : Outcome::Rejected, now, m);
  if (auto* c = as<BasicConsume>(m)) return handle_consume(*c, now);
  if (auto* g = as<BasicGet>(m)) return handle_get(*g, now);
  if (auto* c = as<BasicCancel>(m)) {
    std::string tag(c->consumer_tag);
    if (!cancel_reply_to(tag)) cancel_consumer(tag, now);
    if (!c->nowait) {
      BasicCancelOk ok;
      ok.consumer_tag = tag;
      conn_.send_method(id_, ok);
    }
    return;
  }
  if (auto* q = as<BasicQos>(m)) {
    if (q->prefetch_size != 0)
      return error(ReplyCode::NotImplemented, fmt::format("prefetch_size!=0 ({})", q->prefetch_size), m);
    (q->global ? global_prefetch_ : prefetch_) = q->prefetch_count;
    conn_.send_method(id_, BasicQosOk{});
    return resume_deliveries(now);
  }
  auto recover = [&](bool requeue) {
    if (!requeue) return error(ReplyCode::NotImplemented, "requeue=false", m), false;
    session_.settle_all(Outcome::Released, now, &settled_keys_);
    credit_settled(now);
    return true;
  };
  if (auto* r = as<BasicRecover>(m)) {
    if (recover(r->requeue)) conn_.send_method(id_, BasicRecoverOk{});
    return;
  }
  if (auto* r = as<BasicRecoverAsync>(m)) return (void)recover(r->requeue);
  error(ReplyCode::NotImplemented, "unexpected basic method", m);
}

void Channel::handle_consume(const BasicConsume& m, TimePoint now) {
  if (m.queue == broker::kReplyToQueue) return consume_reply_to(m);
  Method method = m;
  if (fail_if(broker::VHost::may_consume(conn_.access(), queue_name(m.queue)), method)) return;
  broker::Error err;
  broker::QueuePtr q = conn_.vhost().queue_for(queue_name(m.queue), conn_.id(), err);
  if (fail_if(err, method)) return;
  std::string tag = m.consumer_tag.empty() ? fmt::format("amq.ctag-{}.{}.{}", conn_.id(), id_, next_ctag_++)
                                           : std::string(m.consumer_tag);
  if (consumers_.contains(tag))
    return error(ReplyCode::NotAllowed, fmt::format("attempt to reuse consumer tag '{}'", tag), method);
  broker::Table args;
  DecodeStatus st;
  if (!decode_arguments(m.arguments, args, st)) return error(st.code, st.text, method);
  int priority = 0;
  if (const broker::Value* v = broker::find(args, "x-priority")) {
    auto p = v->as_int();
    if (!p) return error(ReplyCode::PreconditionFailed, "invalid arg 'x-priority' for basic.consume", method);
    priority = int(*p);
  }
  broker::LockMode lock_mode = broker::LockMode::Default;  // for a lock queue (docs/locks.md)
  if (const broker::Value* v = broker::find(args, "x-lock-mode")) {
    std::optional<broker::LockMode> mode = v->as_string() ? broker::parse_lock_mode(*v->as_string()) : std::nullopt;
    if (!mode)
      return error(ReplyCode::PreconditionFailed,
                   "invalid arg 'x-lock-mode' for basic.consume: 'shared' (or 'read') or 'exclusive' (or 'write')", method);
    lock_mode = *mode;
  }
  uint64_t key = next_consumer_key_++;
  auto c = std::make_unique<ChannelConsumer>(*this, key, tag, q, m.no_ack, prefetch_);
  ChannelConsumer* raw = c.get();
  if (fail_if(q->add_consumer(broker::ConsumerSlot{raw, tag, priority, m.exclusive, conn_.id(), lock_mode}, now), method)) return;
  consumers_.emplace(tag, std::move(c));
  consumers_by_key_.emplace(key, raw);
  if (!m.nowait) {
    BasicConsumeOk ok;
    ok.consumer_tag = tag;
    conn_.send_method(id_, ok);
  }
  // Only now may messages flow: consume-ok must come before the first deliver.
  raw->make_ready();
  q->credit_changed(now);
}

void Channel::handle_get(const BasicGet& m, TimePoint now) {
  Method method = m;
  if (fail_if(broker::VHost::may_consume(conn_.access(), queue_name(m.queue)), method)) return;
  broker::Error err;
  broker::QueuePtr q = conn_.vhost().queue_for(queue_name(m.queue), conn_.id(), err);
  if (fail_if(err, method) || fail_if(q->check_get(m.no_ack), method)) return;
  std::optional<broker::Delivery> d = q->get(m.no_ack, now);
  if (!d) return conn_.send_method(id_, BasicGetEmpty{});
  broker::MessagePtr msg = d->message;
  BasicGetOk ok;
  ok.redelivered = d->redelivered;
  ok.delivery_tag = m.no_ack ? session_.untracked_tag() : session_.track(std::move(*d), 0);
  ok.exchange = msg->exchange();
  ok.routing_key = msg->routing_key();
  ok.message_count = uint32_t(q->ready_count());
  conn_.send_with_content(id_, ok, *msg);
}

void Channel::deliver(ChannelConsumer& c, broker::Delivery d, bool no_ack) {
  broker::MessagePtr msg = d.message;
  BasicDeliver m;
  m.consumer_tag = c.tag();
  m.redelivered = d.redelivered;
  m.delivery_tag = no_ack ? session_.untracked_tag() : session_.track(std::move(d), c.key());
  m.exchange = msg->exchange();
  m.routing_key = msg->routing_key();
  conn_.send_with_content(id_, m, *msg);
  if (conn_.output_full()) conn_.note_output_full();
}

uint32_t Channel::global_credit() const {
  if (global_prefetch_ == 0) return UINT32_MAX;
  size_t n = session_.unsettled();
  return n >= global_prefetch_ ? 0 : uint32_t(global_prefetch_ - n);
}

void Channel::consumer_cancelled_by_queue(ChannelConsumer& c) {
  if (conn_.cancel_notify()) {
    BasicCancel cancel;
    cancel.consumer_tag = c.tag();
    cancel.nowait = true;
    conn_.send_method(id_, cancel);
  }
  consumers_by_key_.erase(c.key());
  auto it = consumers_.find(c.tag());
  if (it != consumers_.end()) {
    graveyard_.push_back(std::move(it->second));  // the queue is still iterating over it
    consumers_.erase(it);
  }
}

void Channel::cancel_consumer(const std::string& tag, TimePoint now) {
  auto it = consumers_.find(tag);
  if (it == consumers_.end()) return;
  std::unique_ptr<ChannelConsumer> c = std::move(it->second);
  consumers_.erase(it);
  consumers_by_key_.erase(c->key());
  c->queue()->remove_consumer(c.get(), now);
}

bool Channel::settle(uint64_t tag, bool multiple, Outcome outcome, TimePoint now, const Method& m) {
  if (tx_mode_) {
    TxOp op;
    op.tag = tag;
    op.multiple = multiple;
    op.outcome = outcome;
    tx_.push_back(std::move(op));
    return true;
  }
  settled_keys_.clear();
  if (!session_.settle(tag, multiple, outcome, now, settled_keys_)) {
    error(ReplyCode::PreconditionFailed, fmt::format("unknown delivery tag {}", tag), m);
    return false;
  }
  credit_settled(now);
  return true;
}

// Settled deliveries free prefetch credit: let their queues deliver again.
void Channel::credit_settled(TimePoint now) {
  for (uint64_t key : settled_keys_)
    if (auto it = consumers_by_key_.find(key); it != consumers_by_key_.end()) it->second->settled();
  settled_keys_.clear();
  resume_deliveries(now);
}

void Channel::resume_deliveries(TimePoint now) {
  if (closing_ || consumers_.empty()) return;
  std::set<broker::Queue*> seen;
  // Copy: a delivery can cancel a consumer (its queue deleted) mid-loop.
  std::vector<broker::QueuePtr> queues;
  for (auto& [_, c] : consumers_)
    if (seen.insert(c->queue().get()).second) queues.push_back(c->queue());
  for (auto& q : queues) q->credit_changed(now);
}

}  // namespace warren::amqp091
