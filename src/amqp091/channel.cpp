#include "amqp091/channel.hpp"

#include <fmt/format.h>

#include <climits>
#include <utility>
#include <set>
#include <string>

#include "amqp091/convert.hpp"

namespace warren::amqp091 {

using broker::Outcome;

// Bodies the cutter gives a string of their own are those a message keeps as one.
static_assert(FrameCutter::kOwnBodyAbove == broker::Message::kInlineBody);

namespace {

std::pair<uint16_t, uint16_t> ids(const Method& m) {
  return std::visit(
      [](const auto& x) -> std::pair<uint16_t, uint16_t> {
        if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::monostate>)
          return {0, 0};
        else
          return {x.kClassId, x.kMethodId};
      },
      m);
}

bool is_hard(ReplyCode c) { return uint16_t(c) >= 500 || c == ReplyCode::ConnectionForced || c == ReplyCode::InvalidPath; }

// RabbitMQ (rabbit_channel:strip_cr_lf) removes CR and LF from the names
// that exchange and queue declare, delete and bind take; not from purge,
// publish, consume or get.
std::string stripped(std::string_view name) {
  std::string out(name);
  std::erase_if(out, [](char c) { return c == '\r' || c == '\n'; });
  return out;
}

}  // namespace

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

Channel::Channel(Connection& conn, uint16_t id) : conn_(conn), id_(id) {}

Channel::~Channel() { release(conn_.now()); }

// Consumers go first, so the deliveries the session returns are not handed
// straight back to this dying channel.
void Channel::release(TimePoint now) {
  drop_reply_to();
  for (auto& [tag, c] : consumers_) c->queue()->remove_consumer(c.get(), now);
  consumers_.clear();
  consumers_by_key_.clear();
  session_.close(now);
  receiving_ = false;
  content_.body.reset();
  content_.gathering.reset();
  content_.placed.reset();
  tx_.clear();
  drop_commits();
  if (publisher_) conn_.vhost().outcomes().remove_publisher(std::exchange(publisher_, 0));
}

void Channel::error(ReplyCode code, std::string_view text, const Method& m) {
  auto [cid, mid] = ids(m);
  if (is_hard(code)) return conn_.connection_error(code, text, cid, mid);
  flush_confirms();  // publishes routed before the error are confirmed before the close
  drop_commits();    // a commit still waiting is not confirmed: the close goes out now
  ChannelClose close;
  std::string reply = reply_text(code, text);
  close.reply_code = uint16_t(code);
  close.reply_text = reply;
  close.class_id = cid;
  close.method_id = mid;
  conn_.send_method(id_, close);
  closing_ = true;
  release(conn_.now());
}

bool Channel::fail_if(const broker::Error& err, const Method& m) {
  if (!err) return false;
  error(ReplyCode(uint16_t(err.code)), err.detail, m);
  return true;
}

std::string Channel::queue_name(std::string_view given) const {
  return given.empty() ? last_queue_ : std::string(given);
}

void Channel::handle_method(const Method& m, TimePoint now) {
  graveyard_.clear();
  auto [cid, mid] = ids(m);
  switch (cid) {
    case kClassExchange: return handle_exchange(m, now);
    case kClassQueue: return handle_queue(m, now);
    case kClassBasic: return handle_basic(m, now);
    default: break;
  }
  if (auto* f = as<ChannelFlow>(m)) {
    flow_active_ = f->active;
    ChannelFlowOk ok;
    ok.active = f->active;
    conn_.send_method(id_, ok);
    if (flow_active_) resume_deliveries(now);
    return;
  }
  if (as<AccessRequest>(m)) {
    AccessRequestOk ok;
    ok.ticket = 1;
    return conn_.send_method(id_, ok);
  }
  if (auto* c = as<ConfirmSelect>(m)) {
    if (tx_mode_) return error(ReplyCode::PreconditionFailed, "cannot switch from tx to confirm mode", m);
    confirm_mode_ = true;
    publisher_id();
    if (!c->nowait) conn_.send_method(id_, ConfirmSelectOk{});
    return;
  }
  if (as<TxSelect>(m)) {
    if (confirm_mode_) return error(ReplyCode::PreconditionFailed, "cannot switch from confirm to tx mode", m);
    tx_mode_ = true;
    publisher_id();
    return conn_.send_method(id_, TxSelectOk{});
  }
  if (as<TxCommit>(m) || as<TxRollback>(m)) {
    if (!tx_mode_) return error(ReplyCode::PreconditionFailed, "channel is not transactional", m);
    if (as<TxCommit>(m)) return commit(now, m);
    tx_.clear();
    return conn_.send_method(id_, TxRollbackOk{});
  }
  error(ReplyCode::NotImplemented, fmt::format("unexpected method {} from the client", method_name(cid, mid)), m);
}

broker::PublisherId Channel::publisher_id() {
  if (!publisher_) publisher_ = conn_.vhost().outcomes().add_publisher(*this);
  return publisher_;
}

// Applies the transaction. Its commit-ok goes when every publish in it is
// known (at once without a store); until then this channel's later output
// is held behind it, so replies stay in the order of their requests.
void Channel::commit(TimePoint now, const Method& m) {
  std::vector<TxOp> ops = std::move(tx_);
  tx_.clear();
  tx_mode_ = false;  // apply for real, then back to transactional
  committing_ = ++commits_;
  commit_pending_ = 0;
  for (TxOp& op : ops) {
    if (op.publish) publish(*op.publish, now);
    else if (!settle(op.tag, op.multiple, op.outcome, now, m)) break;  // closed the channel: no commit-ok
    if (closing_) break;
  }
  committing_ = 0;
  if (closing_) return;
  tx_mode_ = true;
  // Behind an earlier commit that waits, this one's reply is held too.
  if (commit_pending_ == 0) return conn_.send_method(id_, TxCommitOk{});
  waiting_commits_.push_back(WaitingCommit{commits_, commit_pending_});
  conn_.hold_output(id_, &waiting_commits_.back().after);
}

// Commits are answered in order: the first one still waiting holds back
// the rest. A commit whose message the store could not write is not
// answered with commit-ok: 541, as for any failure inside the broker.
void Channel::finish_commits() {
  while (!waiting_commits_.empty() && waiting_commits_.front().pending == 0) {
    WaitingCommit& w = waiting_commits_.front();
    if (w.failed)
      return error(ReplyCode::InternalError, "a message of the transaction could not be stored", TxCommit{});
    std::string out;
    append_method_frame(out, id_, TxCommitOk{});
    out += w.after;
    if (waiting_commits_.size() == 1) conn_.hold_output(id_, nullptr);
    waiting_commits_.pop_front();
    conn_.send_held(out);
  }
}

void Channel::drop_commits() {
  if (waiting_commits_.empty()) return;
  conn_.hold_output(id_, nullptr);
  waiting_commits_.clear();
}

void Channel::outcomes_ready(std::span<const broker::Completion> done) {
  if (closing_) return;
  if (confirm_mode_) {
    for (const broker::Completion& c : done) {
      if (c.ok) ++conn_.vhost().publish_counts().confirmed;
      confirms_.complete(c.cookie, c.ok);
    }
    return flush_confirms();
  }
  for (const broker::Completion& c : done)
    for (WaitingCommit& w : waiting_commits_)
      if (w.number == c.cookie) {
        --w.pending;
        w.failed = w.failed || !c.ok;
        break;
      }
  finish_commits();
}

void Channel::handle_exchange(const Method& m, TimePoint now) {
  broker::VHost& vh = conn_.vhost();
  broker::Table args;
  DecodeStatus st;
  if (auto* d = as<ExchangeDeclare>(m)) {
    if (!decode_arguments(d->arguments, args, st)) return error(st.code, st.text, m);
    broker::ExchangeDeclare x{stripped(d->exchange), std::string(d->type), d->passive, d->durable,
                              d->auto_delete, d->internal, std::move(args), conn_.access()};
    if (fail_if(vh.declare_exchange(x), m)) return;
    if (!d->nowait) conn_.send_method(id_, ExchangeDeclareOk{});
  } else if (auto* del = as<ExchangeDelete>(m)) {
    if (fail_if(vh.delete_exchange(stripped(del->exchange), del->if_unused, conn_.access()), m)) return;
    if (!del->nowait) conn_.send_method(id_, ExchangeDeleteOk{});
  } else if (auto* b = as<ExchangeBind>(m)) {
    if (!decode_arguments(b->arguments, args, st)) return error(st.code, st.text, m);
    if (fail_if(vh.bind_exchange(stripped(b->destination), stripped(b->source), b->routing_key, args,
                                 conn_.access()),
                m))
      return;
    if (!b->nowait) conn_.send_method(id_, ExchangeBindOk{});
  } else if (auto* u = as<ExchangeUnbind>(m)) {
    if (!decode_arguments(u->arguments, args, st)) return error(st.code, st.text, m);
    if (fail_if(vh.unbind_exchange(stripped(u->destination), stripped(u->source), u->routing_key, args,
                                   conn_.access()),
                m))
      return;
    if (!u->nowait) conn_.send_method(id_, ExchangeUnbindOk{});
  } else {
    error(ReplyCode::NotImplemented, "unexpected exchange method", m);
  }
  (void)now;
}

void Channel::handle_queue(const Method& m, TimePoint now) {
  broker::VHost& vh = conn_.vhost();
  broker::Table args;
  DecodeStatus st;
  uint64_t who = conn_.id();
  if (auto* d = as<QueueDeclare>(m)) {
    if (!decode_arguments(d->arguments, args, st)) return error(st.code, st.text, m);
    broker::QueueDeclare q{stripped(d->queue), d->passive, d->durable, d->exclusive, d->auto_delete,
                           std::move(args), who, conn_.access()};
    broker::QueueDeclareOk ok;
    if (fail_if(vh.declare_queue(q, now, ok), m)) return;
    last_queue_ = ok.name;
    if (d->nowait) return;
    QueueDeclareOk reply;
    reply.queue = ok.name;
    reply.message_count = uint32_t(ok.message_count);
    reply.consumer_count = ok.consumer_count;
    return conn_.send_method(id_, reply);
  }
  auto name_or_fail = [&](std::string_view given, std::string& out) {
    out = queue_name(given);
    if (!out.empty()) return true;
    error(ReplyCode::NotFound, "no previously declared queue", m);
    return false;
  };
  std::string q;
  if (auto* b = as<QueueBind>(m)) {
    if (!name_or_fail(stripped(b->queue), q) || !decode_arguments(b->arguments, args, st)) {
      if (!closing_) error(st.code, st.text, m);
      return;
    }
    // RabbitMQ: an empty routing key with an empty queue name binds the last queue's name.
    std::string key = b->routing_key.empty() && b->queue.empty() ? q : std::string(b->routing_key);
    if (fail_if(vh.bind_queue(q, stripped(b->exchange), key, args, who, conn_.access()), m)) return;
    if (!b->nowait) conn_.send_method(id_, QueueBindOk{});
  } else if (auto* u = as<QueueUnbind>(m)) {
    if (!name_or_fail(stripped(u->queue), q) || !decode_arguments(u->arguments, args, st)) {
      if (!closing_) error(st.code, st.text, m);
      return;
    }
    if (fail_if(vh.unbind_queue(q, stripped(u->exchange), u->routing_key, args, who, conn_.access()), m)) return;
    conn_.send_method(id_, QueueUnbindOk{});
  } else if (auto* p = as<QueuePurge>(m)) {
    if (!name_or_fail(p->queue, q)) return;
    uint64_t n = 0;
    if (fail_if(vh.purge_queue(q, who, now, n, conn_.access()), m)) return;
    QueuePurgeOk ok;
    ok.message_count = uint32_t(n);
    if (!p->nowait) conn_.send_method(id_, ok);
  } else if (auto* d = as<QueueDelete>(m)) {
    if (!name_or_fail(stripped(d->queue), q)) return;
    uint64_t n = 0;
    if (fail_if(vh.delete_queue(q, d->if_unused, d->if_empty, who, now, n, conn_.access()), m)) return;
    QueueDeleteOk ok;
    ok.message_count = uint32_t(n);
    if (!d->nowait) conn_.send_method(id_, ok);
  } else {
    error(ReplyCode::NotImplemented, "unexpected queue method", m);
  }
}

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

void Channel::handle_header(const ContentHeader& h, TimePoint now) {
  Content& c = content_;
  if (c.have_header)
    return conn_.connection_error(ReplyCode::UnexpectedFrame, "content header received twice", 60, 40);
  if (h.body_size > conn_.options().max_message_size) {
    Method m = BasicPublish{};
    return error(ReplyCode::PreconditionFailed,
                 fmt::format("message size {} is larger than configured max size {}", h.body_size,
                             conn_.options().max_message_size),
                 m);
  }
  c.essentials = essentials(h.properties);
  if (h.properties.has(Property::Expiration) && !c.essentials.ttl) {
    Method m = BasicPublish{};
    return error(ReplyCode::PreconditionFailed,
                 fmt::format("invalid expiration '{}'", h.properties.expiration().value_or("")), m);
  }
  // RabbitMQ: a user-id property must name the user who logged in.
  if (h.properties.has(Property::UserId))
    if (auto uid = h.properties.shortstr(Property::UserId); uid && *uid != conn_.user()) {
      Method m = BasicPublish{};
      return error(ReplyCode::PreconditionFailed,
                   fmt::format("user_id property set to '{}' but authenticated user was '{}'", *uid, conn_.user()), m);
    }
  c.have_header = true;
  c.properties.assign(as_chars(h.properties.bytes()));
  if (h.properties.has(Property::ReplyTo) && !set_reply_to(h.properties, c.properties)) return;
  c.body_size = h.body_size;
  small_body_.clear();
  if (c.body_size == 0) {
    receiving_ = false;
    return publish(c, now);
  }
  if (c.body_size <= broker::Message::kInlineBody) small_body_.reserve(broker::Message::kInlineBody);
}

// The usual publish, and the one fast way: its content header and all of
// its body right behind it, in frames [i + 1, end) of the batch. When
// handle_header would have nothing to check or rewrite (no expiration,
// user-id or reply-to, a size within max_message_size) and no transaction
// holds the message back, the message is built straight from the frames,
// without gathering it in content_ first. Returns the frames it took
// after the method's (1, or 2 with a body); 0: none, and the frames go
// one by one, through handle_method, handle_header and handle_body, which
// refuse what must be refused.
size_t Channel::publish_whole(const BasicPublish& p, const FrameBatch& batch, size_t i, size_t end, TimePoint now) {
  constexpr uint16_t kChecked =
      property_flag(Property::Expiration) | property_flag(Property::UserId) | property_flag(Property::ReplyTo);
  if (closing_ || receiving_ || tx_mode_ || p.immediate || i + 1 >= end) return 0;
  // Refused publishes take the frame-by-frame path, which refuses them.
  if (broker::VHost::may_publish(conn_.access(), p.exchange)) return 0;
  const uint64_t frame_max = max_payload(conn_.frame_max());
  const Frame& head = batch.frames[i + 1];
  if (head.type != kFrameHeader || head.channel != id_ || head.payload.size() > frame_max) return 0;
  const auto& [h, st] = batch.header(i + 1);
  if (!st.ok() || (h.properties.flags() & kChecked) || h.body_size > conn_.options().max_message_size) return 0;
  const Frame* body = nullptr;
  if (h.body_size > 0) {
    if (i + 2 >= end) return 0;
    body = &batch.frames[i + 2];
    if (body->type != kFrameBody || body->channel != id_ || body->payload.size() != h.body_size ||
        body->payload.size() > frame_max)
      return 0;
  }
  graveyard_.clear();  // as handle_method does
  const std::string_view props = as_chars(h.properties.bytes());
  const std::string_view bytes = body ? as_chars(body->payload) : std::string_view();
  const auto e = essentials(h.properties);
  route(body && body->owner && bytes.size() > broker::Message::kInlineBody
            ? broker::Message::received(p.exchange, p.routing_key, &PropertyCodec::instance(), props, e, body->owner)
            : broker::Message::received_bytes(p.exchange, p.routing_key, &PropertyCodec::instance(), props, e, bytes),
        p.mandatory, now);
  return body ? 2 : 1;
}

// The frames of a large body that the cutter placed in the body's own
// string (FrameCutter, Frame::placed), slice after slice from its start:
// nothing to copy, the last one makes it the message's body.
bool Channel::take_placed(const Frame& f) {
  Content& c = content_;
  if (!f.placed || c.gathering || f.placed_at != c.placed_size || (c.placed ? f.owner != c.placed : f.placed_at != 0))
    return false;
  if (c.placed_size + f.payload.size() > c.body_size) return false;  // refused below
  c.placed = f.owner;
  c.placed_size += f.payload.size();
  // The last frame was cut after the last octet was placed: the string is
  // whole now (the cutter reserved it for the same header's body_size, and
  // placed no more), and the cutter has let go of it.
  if (c.placed_size == c.body_size) c.body = std::exchange(c.placed, nullptr);
  return true;
}

void Channel::handle_body(const Frame& f, TimePoint now) {
  Content& c = content_;
  if (!c.have_header) return conn_.connection_error(ReplyCode::UnexpectedFrame, "content body before its header", 60, 40);
  const bool large = c.body_size > broker::Message::kInlineBody;
  if (large && take_placed(f)) {
    if (!c.body) return;  // more to come
  } else if (large && f.owner && !f.placed && !c.gathering && !c.placed && f.payload.size() == c.body_size) {
    c.body = f.owner;  // all of it, in a string of its own (FrameCutter): kept as it is
  } else {
    // Reserve for the usual message at once, but not what a header merely
    // promises: a client could otherwise make us hold max_message_size per
    // channel without sending a byte of body.
    if (large && !c.gathering) {
      c.gathering = std::make_shared<std::string>();
      c.gathering->reserve(std::min<uint64_t>(c.body_size, 1 << 20));
      if (c.placed) {  // placed so far, then not (the cutter gave up on it): its octets are all there
        c.gathering->append(c.placed->data(), c.placed_size);
        c.placed.reset();
      }
    }
    std::string& into = large ? *c.gathering : small_body_;
    if (into.size() + f.payload.size() > c.body_size)
      return conn_.connection_error(ReplyCode::FrameError,
                                    fmt::format("content body exceeds the declared size {}", c.body_size), 60, 40);
    into.append(as_chars(f.payload));
    if (into.size() < c.body_size) return;
    if (large) c.body = std::move(c.gathering);
  }
  receiving_ = false;
  publish(c, now);
}

void Channel::publish(Content& c, TimePoint now) {
  Method m = BasicPublish{};
  if (fail_if(broker::VHost::may_publish(conn_.access(), c.exchange), m)) return;
  if (tx_mode_) {
    TxOp op;
    if (!c.body) c.body = std::make_shared<const std::string>(small_body_);  // small_body_ is reused meanwhile
    op.publish = std::move(c);
    tx_.push_back(std::move(op));
    return;
  }
  broker::MessagePtr msg =
      c.body ? broker::Message::received(c.exchange, c.routing_key, &PropertyCodec::instance(), c.properties,
                                         c.essentials, broker::Body(std::move(c.body)))
             : broker::Message::received_bytes(c.exchange, c.routing_key, &PropertyCodec::instance(),
                                               c.properties, c.essentials, small_body_);
  route(std::move(msg), c.mandatory, now);
}

void Channel::route(broker::MessagePtr msg, bool mandatory, TimePoint now) {
  conn_.note_publish();
  uint64_t tag = 0;
  broker::PublishWaiter waiter;  // who hears an outcome that waits for the store
  if (confirm_mode_) waiter = {publisher_, tag = confirms_.next()};
  else if (committing_) waiter = {publisher_, committing_};
  broker::PublishResult r;
  Method m = BasicPublish{};
  broker::VHost& vhost = conn_.vhost();
  const std::string_view exchange = msg->exchange();
  if (!last_exchange_ || last_exchange_->deleted() || last_exchange_->name() != exchange)
    last_exchange_ = vhost.find_exchange(exchange);
  // Without one, the lookup by name gives the error (404) as before.
  broker::Error err =
      last_exchange_ ? vhost.publish(*last_exchange_, msg, now, r, &route_cache_, waiter)
                     : vhost.publish(exchange, msg, now, r, waiter);
  if (fail_if(err, m)) return;
  if (r.rewritten) msg = std::move(r.rewritten);  // returned without its BCC header, as RabbitMQ does
  if (r.queues == 0 && r.replies == 0 && !r.rejected && mandatory) {
    BasicReturn ret;
    ret.reply_code = uint16_t(ReplyCode::NoRoute);
    ret.reply_text = "NO_ROUTE";
    ret.exchange = msg->exchange();
    ret.routing_key = msg->routing_key();
    conn_.send_with_content(id_, ret, *msg);
    ++vhost.publish_counts().returned;
  }
  if (r.pending) {
    if (committing_) ++commit_pending_;
    return;  // outcomes_ready() has it later
  }
  if (confirm_mode_) confirm(tag, !r.rejected);
}

// Acks are batched: flush_confirms() sends one multiple ack per turn. A
// nack goes at once, after the acks before it. Outcomes that wait for the
// store come later and out of order (outcomes_ready); ConfirmTracker keeps
// `multiple` to ranges that are all known.
void Channel::confirm(uint64_t tag, bool ack) {
  if (ack) ++conn_.vhost().publish_counts().confirmed;
  confirms_.complete(tag, ack);
  if (!ack) flush_confirms();
}

void Channel::flush_confirms() {
  if (closing_ || !confirms_.due()) return;
  confirms_.flush([this](uint64_t tag, bool multiple, bool ack) {
    if (ack) {
      BasicAck a;
      a.delivery_tag = tag;
      a.multiple = multiple;
      conn_.send_method(id_, a);
    } else {
      BasicNack n;
      n.delivery_tag = tag;
      n.multiple = multiple;
      n.requeue = false;
      conn_.send_method(id_, n);
    }
  });
}

void Channel::describe(engine::ChannelInfo& out) const {
  out.number = id_;
  out.prefetch_count = prefetch_;
  out.global_prefetch_count = global_prefetch_;
  out.messages_unacknowledged = session_.unsettled();
  out.messages_unconfirmed = confirm_mode_ ? confirms_.outstanding() : 0;
  out.confirm = confirm_mode_;
  out.transactional = tx_mode_;
  out.closing = closing_;
  for (const auto& [tag, c] : consumers_)
    out.consumers.push_back({c->queue() ? c->queue()->name() : std::string(), tag, !c->no_ack(), false, c->prefetch()});
}

}  // namespace warren::amqp091
