// The channel level of the client engine: calls and their replies,
// publishing, acks, deliveries and returns.
#include <cassert>

#include "amqp091/frame.hpp"
#include "client/session_internal.hpp"

namespace warren::client {

using namespace amqp091;

namespace {

std::string table_bytes(const FieldTable& t) {
  std::string s;
  if (!encode_table_entries(s, t)) throw ClientError({0, "a table key or string is too long to encode"});
  return s;
}

const BasicProperties kNoProperties;

// Disengages every property: cheap when few are set (unlike `= {}`).
void clear_properties(BasicProperties& p) {
  p.content_type.reset(), p.content_encoding.reset(), p.headers.reset(), p.delivery_mode.reset();
  p.priority.reset(), p.correlation_id.reset(), p.reply_to.reset(), p.expiration.reset();
  p.message_id.reset(), p.timestamp.reset(), p.type.reset(), p.user_id.reset(), p.app_id.reset();
  p.cluster_id.reset();
}

}  // namespace

Session::Channel& Session::chan(uint16_t ch) {
  auto it = channels_.find(ch);
  if (it == channels_.end()) throw ClientError({504, "CHANNEL_ERROR - no channel " + std::to_string(ch)});
  return *it->second;
}

const Session::Channel* Session::find(uint16_t ch) const {
  auto it = channels_.find(ch);
  return it == channels_.end() ? nullptr : it->second.get();
}

Session::Channel& Session::usable(uint16_t ch) {
  Channel& c = chan(ch);
  if (c.state == Channel::State::Open) return c;
  if (c.closed_by) throw ClientError(*c.closed_by);
  if (c.state == Channel::State::Down || c.state == Channel::State::Opening)
    throw ClientError({0, "channel " + std::to_string(ch) + " is not open yet (the connection is recovering)"});
  throw ClientError({0, "channel " + std::to_string(ch) + " is closed"});
}


void Session::done_ok(const DoneCallback& cb) {
  if (cb) ready([cb] { cb(std::nullopt); });
}

void Session::done_err(const DoneCallback& cb, const Error& e) {
  if (cb) ready([cb, e] { cb(e); });
}

// ---- calls: one synchronous method in flight per channel, the rest (and
// frames that must follow them) wait their turn in order.

void Session::call(Channel& c, std::string frame, uint32_t reply, uint32_t alt_reply,
                   std::function<void(const Method&)> ok, std::function<void(const Error&)> fail) {
  c.calls.push_back(Rpc{std::move(frame), reply, alt_reply, std::move(ok), std::move(fail), {}, false});
  pump(c);
}

void Session::pump(Channel& c) {
  if (state_ != State::Recovering && state_ != State::Open && state_ != State::Closing) return;
  while (!c.calls.empty()) {
    Rpc& r = c.calls.front();
    if (r.sent) return;  // awaiting its reply
    out_.append(r.frame);
    if (opts_.trace && r.frame.size() > 11)
      trace("->", c.id, method_name(uint16_t(uint8_t(r.frame[7]) << 8 | uint8_t(r.frame[8])),
                                    uint16_t(uint8_t(r.frame[9]) << 8 | uint8_t(r.frame[10]))));
    if (r.reply != 0) {
      r.sent = true;
      return;
    }
    auto ok = std::move(r.ok);
    c.calls.pop_front();
    if (ok) ok(Method{});
  }
}

void Session::fail_channel_calls(Channel& c, const Error& why) {
  auto calls = std::move(c.calls);
  c.calls.clear();
  for (auto& r : calls) {
    if (r.fail) r.fail(why);
    if (r.get_done) ready([cb = std::move(r.get_done), why]() mutable { cb(why, std::nullopt); });
  }
  if (c.in.get_done) ready([cb = std::move(c.in.get_done), why]() mutable { cb(why, std::nullopt); });
  c.in = Incoming{};
}

// ---- the application's calls

uint16_t Session::open_channel(ChannelEvents events, DoneCallback opened) {
  if (state_ == State::Closed || state_ == State::Closing) throw ClientError({0, "the connection is closed"});
  uint16_t id = 1;
  while (channels_.count(id) || id == recovery_channel_) {
    if (id == channel_max_) throw ClientError({0, "no free channel (channel_max " + std::to_string(channel_max_) + ")"});
    ++id;
  }
  auto c = std::make_unique<Channel>();
  c->id = id;
  c->events = std::move(events);
  c->opened = std::move(opened);
  Channel& ref = *c;
  channels_.emplace(id, std::move(c));
  if (state_ == State::Open) reopen_channel(ref);  // else the epoch's recovery opens it
  return id;
}

bool Session::channel_open(uint16_t ch) const {
  const Channel* c = find(ch);
  return c && c->state == Channel::State::Open;
}

bool Session::channel_closed_for_good(uint16_t ch) const {
  const Channel* c = find(ch);
  return !c || c->state == Channel::State::Closed || c->state == Channel::State::Closing;
}

void Session::close_channel(uint16_t ch, DoneCallback done) {
  Channel& c = chan(ch);
  switch (c.state) {
    case Channel::State::Closed:
      done_ok(done);
      return;
    case Channel::State::Closing:
      done_ok(done);  // the first close reports the outcome
      return;
    case Channel::State::Down:
      channel_closed(c, {200, "closed by the application"}, false);
      done_ok(done);
      return;
    case Channel::State::Opening:
    case Channel::State::Open:
      break;
  }
  Error why{0, "channel " + std::to_string(ch) + " closed by the application"};
  fail_channel_calls(c, why);
  if (c.opened) done_err(c.opened, why);  // closed before its first open finished
  c.opened = nullptr;
  c.state = Channel::State::Closing;
  c.close_done = std::move(done);
  send_method(c.id, ChannelClose{.reply_code = 200, .reply_text = "Goodbye"});
}

void Session::release_channel(uint16_t ch) {
  auto it = channels_.find(ch);
  if (it == channels_.end()) return;
  it->second->released = true;
  if (it->second->state == Channel::State::Closed)
    channels_.erase(it);
  else
    close_channel(ch, nullptr);  // forgotten at its close-ok (channel_closed)
}

void Session::confirm_select(uint16_t ch, DoneCallback done) {
  Channel& c = usable(ch);
  if (c.confirm) {
    done_ok(done);
    return;
  }
  c.confirm = true;  // publishes from now on are tracked; their frames queue behind the select
  c.confirms.restart();
  call(c, frame_of(c, ConfirmSelect{}), key_of<ConfirmSelectOk>(), 0,
       [this, done](const Method&) { done_ok(done); }, [this, done](const Error& e) { done_err(done, e); });
}

void Session::tx_select(uint16_t ch, DoneCallback done) {
  Channel& c = usable(ch);
  call(c, frame_of(c, TxSelect{}), key_of<TxSelectOk>(), 0,
       [this, &c, done](const Method&) {
         c.tx = true;
         done_ok(done);
       },
       [this, done](const Error& e) { done_err(done, e); });
}

void Session::tx_commit(uint16_t ch, DoneCallback done) {
  Channel& c = usable(ch);
  call(c, frame_of(c, TxCommit{}), key_of<TxCommitOk>(), 0, [this, done](const Method&) { done_ok(done); },
       [this, done](const Error& e) { done_err(done, e); });
}

void Session::tx_rollback(uint16_t ch, DoneCallback done) {
  Channel& c = usable(ch);
  call(c, frame_of(c, TxRollback{}), key_of<TxRollbackOk>(), 0, [this, done](const Method&) { done_ok(done); },
       [this, done](const Error& e) { done_err(done, e); });
}

void Session::qos(uint16_t ch, uint16_t prefetch_count, DoneCallback done) {
  Channel& c = usable(ch);
  call(c, frame_of(c, BasicQos{.prefetch_count = prefetch_count}), key_of<BasicQosOk>(), 0,
       [this, &c, prefetch_count, done](const Method&) {
         c.prefetch = prefetch_count;
         done_ok(done);
       },
       [this, done](const Error& e) { done_err(done, e); });
}

void Session::exchange_declare(uint16_t ch, const ExchangeSpec& spec, bool passive, DoneCallback done) {
  Channel& c = usable(ch);
  std::string args = table_bytes(spec.arguments);
  ExchangeDeclare m{.exchange = spec.name, .type = spec.type, .passive = passive, .durable = spec.durable,
                    .auto_delete = spec.auto_delete, .internal = spec.internal, .arguments = TableView(args)};
  call(c, frame_of(c, m), key_of<ExchangeDeclareOk>(), 0,
       [this, spec, passive, done](const Method&) {
         if (!passive) topology_.declare_exchange(spec);
         done_ok(done);
       },
       [this, done](const Error& e) { done_err(done, e); });
}

void Session::exchange_delete(uint16_t ch, const std::string& name, bool if_unused, DoneCallback done) {
  Channel& c = usable(ch);
  call(c, frame_of(c, ExchangeDelete{.exchange = name, .if_unused = if_unused}), key_of<ExchangeDeleteOk>(), 0,
       [this, name, done](const Method&) {
         topology_.delete_exchange(name);
         done_ok(done);
       },
       [this, done](const Error& e) { done_err(done, e); });
}

void Session::queue_declare(uint16_t ch, const QueueSpec& spec, bool passive, ResultCallback<QueueInfo> done) {
  Channel& c = usable(ch);
  std::string args = table_bytes(spec.arguments);
  QueueDeclare m{.queue = spec.name, .passive = passive, .durable = spec.durable, .exclusive = spec.exclusive,
                 .auto_delete = spec.auto_delete, .arguments = TableView(args)};
  call(c, frame_of(c, m), key_of<QueueDeclareOk>(), 0,
       [this, spec, passive, done](const Method& reply) {
         auto& ok = std::get<QueueDeclareOk>(reply);
         QueueInfo info{std::string(ok.queue), ok.message_count, ok.consumer_count};
         if (!passive) topology_.declare_queue(spec, info.name);
         if (done) ready([done, info]() mutable { done(std::nullopt, std::move(info)); });
       },
       [this, done](const Error& e) {
         if (done) ready([done, e] { done(e, QueueInfo{}); });
       });
}

void Session::queue_delete(uint16_t ch, const std::string& name, bool if_unused, bool if_empty,
                           ResultCallback<uint32_t> done) {
  Channel& c = usable(ch);
  call(c, frame_of(c, QueueDelete{.queue = name, .if_unused = if_unused, .if_empty = if_empty}),
       key_of<QueueDeleteOk>(), 0,
       [this, name, done](const Method& reply) {
         topology_.delete_queue(name);
         uint32_t n = std::get<QueueDeleteOk>(reply).message_count;
         if (done) ready([done, n] { done(std::nullopt, uint32_t(n)); });
       },
       [this, done](const Error& e) {
         if (done) ready([done, e] { done(e, 0u); });
       });
}

void Session::queue_purge(uint16_t ch, const std::string& name, ResultCallback<uint32_t> done) {
  Channel& c = usable(ch);
  call(c, frame_of(c, QueuePurge{.queue = name}), key_of<QueuePurgeOk>(), 0,
       [this, done](const Method& reply) {
         uint32_t n = std::get<QueuePurgeOk>(reply).message_count;
         if (done) ready([done, n] { done(std::nullopt, uint32_t(n)); });
       },
       [this, done](const Error& e) {
         if (done) ready([done, e] { done(e, 0u); });
       });
}

void Session::bind(uint16_t ch, const BindingSpec& b, DoneCallback done) {
  Channel& c = usable(ch);
  std::string args = table_bytes(b.arguments);
  std::string frame = b.to_exchange
      ? frame_of(c, ExchangeBind{.destination = b.destination, .source = b.source, .routing_key = b.routing_key,
                                 .arguments = TableView(args)})
      : frame_of(c, QueueBind{.queue = b.destination, .exchange = b.source, .routing_key = b.routing_key,
                              .arguments = TableView(args)});
  uint32_t reply = b.to_exchange ? key_of<ExchangeBindOk>() : key_of<QueueBindOk>();
  call(c, std::move(frame), reply, 0,
       [this, b, done](const Method&) {
         topology_.bind(b);
         done_ok(done);
       },
       [this, done](const Error& e) { done_err(done, e); });
}

void Session::unbind(uint16_t ch, const BindingSpec& b, DoneCallback done) {
  Channel& c = usable(ch);
  std::string args = table_bytes(b.arguments);
  std::string frame = b.to_exchange
      ? frame_of(c, ExchangeUnbind{.destination = b.destination, .source = b.source, .routing_key = b.routing_key,
                                   .arguments = TableView(args)})
      : frame_of(c, QueueUnbind{.queue = b.destination, .exchange = b.source, .routing_key = b.routing_key,
                                .arguments = TableView(args)});
  uint32_t reply = b.to_exchange ? key_of<ExchangeUnbindOk>() : key_of<QueueUnbindOk>();
  call(c, std::move(frame), reply, 0,
       [this, b, done](const Method&) {
         topology_.unbind(b);
         done_ok(done);
       },
       [this, done](const Error& e) { done_err(done, e); });
}

void Session::consume(uint16_t ch, const ConsumeSpec& spec, ConsumerEvents events, ResultCallback<std::string> done) {
  Channel& c = usable(ch);
  std::string args = table_bytes(spec.arguments);
  BasicConsume m{.queue = spec.queue, .consumer_tag = spec.tag, .no_ack = spec.no_ack, .exclusive = spec.exclusive,
                 .arguments = TableView(args)};
  auto cb = std::make_shared<DeliveryCallback>(std::move(events.delivery));
  call(c, frame_of(c, m), key_of<BasicConsumeOk>(), 0,
       [this, &c, spec, cb, cancelled = std::move(events.cancelled), done](const Method& reply) {
         std::string tag(std::get<BasicConsumeOk>(reply).consumer_tag);
         Consumer con{spec, cb, cancelled};
         con.spec.tag = tag;
         c.consumers[tag] = std::move(con);
         if (done) ready([done, tag]() mutable { done(std::nullopt, std::move(tag)); });
       },
       [this, done](const Error& e) {
         if (done) ready([done, e] { done(e, std::string()); });
       });
}

void Session::cancel(uint16_t ch, const std::string& tag, DoneCallback done) {
  Channel& c = usable(ch);
  call(c, frame_of(c, BasicCancel{.consumer_tag = tag}), key_of<BasicCancelOk>(), 0,
       [this, &c, tag, done](const Method&) {
         c.consumers.erase(tag);
         done_ok(done);
       },
       [this, done](const Error& e) { done_err(done, e); });
}

void Session::get(uint16_t ch, const std::string& queue, bool no_ack, ResultCallback<std::optional<Delivery>> done) {
  Channel& c = usable(ch);
  c.calls.push_back(Rpc{frame_of(c, BasicGet{.queue = queue, .no_ack = no_ack}), key_of<BasicGetOk>(),
                        key_of<BasicGetEmpty>(), nullptr, nullptr, std::move(done), false});
  pump(c);
}

uint64_t Session::publish(uint16_t ch, const PublishSpec& p, ConfirmCallback confirmed) {
  Channel& c = usable(ch);
  // Straight to the output unless a call is waiting its turn: then behind it.
  std::string queued;
  std::string& target = c.calls.empty() ? out_ : queued;
  size_t mark = target.size();
  const BasicProperties& props = p.properties ? *p.properties : kNoProperties;
  if (!append_method_frame(target, c.id,
                           BasicPublish{.exchange = p.exchange, .routing_key = p.routing_key, .mandatory = p.mandatory})) {
    throw ClientError({0, "basic.publish: exchange or routing key longer than 255 octets"});
  }
  size_t head = begin_frame(target, kFrameHeader, c.id);
  if (!encode_content_header(target, p.body.size(), props)) {
    target.resize(mark);
    throw ClientError({0, "basic.publish: a property is too long to encode"});
  }
  end_frame(target, head);
  append_body_frames(target, c.id, as_bytes(p.body), frame_max_);
  uint64_t seq = 0;
  if (c.confirm) {
    std::string_view mid = props.message_id ? std::string_view(*props.message_id) : std::string_view();
    seq = c.confirms.add(std::move(confirmed), p.mandatory, p.exchange, p.routing_key, mid);
  }
  if (&target == &queued) {
    c.calls.push_back(Rpc{std::move(queued), 0, 0, nullptr, nullptr, {}, false});
    pump(c);
  }
  return seq;
}

bool Session::ack(uint16_t ch, uint64_t epoch, uint64_t tag, bool multiple) {
  const Channel* c = find(ch);
  if (epoch != epoch_ || !c || c->state != Channel::State::Open) return false;
  send_method(ch, BasicAck{.delivery_tag = tag, .multiple = multiple});
  return true;
}

bool Session::nack(uint16_t ch, uint64_t epoch, uint64_t tag, bool multiple, bool requeue) {
  const Channel* c = find(ch);
  if (epoch != epoch_ || !c || c->state != Channel::State::Open) return false;
  send_method(ch, BasicNack{.delivery_tag = tag, .multiple = multiple, .requeue = requeue});
  return true;
}

bool Session::reject(uint16_t ch, uint64_t epoch, uint64_t tag, bool requeue) {
  const Channel* c = find(ch);
  if (epoch != epoch_ || !c || c->state != Channel::State::Open) return false;
  send_method(ch, BasicReject{.delivery_tag = tag, .requeue = requeue});
  return true;
}

uint64_t Session::next_publish_seq(uint16_t ch) const {
  const Channel* c = find(ch);
  return c ? c->confirms.next() : 0;
}

bool Session::confirm_mode(uint16_t ch) const {
  const Channel* c = find(ch);
  return c && c->confirm;
}

size_t Session::pending_confirms(uint16_t ch) const {
  const Channel* c = find(ch);
  return c ? c->confirms.pending() : 0;
}

// ---- what the broker sends on a channel

void Session::on_channel_method(Channel& c, const Method& m) {
  if (auto* close = std::get_if<ChannelClose>(&m)) {
    send_method(c.id, ChannelCloseOk{});
    channel_closed(c, {close->reply_code, std::string(close->reply_text)}, true);
    return;
  }
  if (std::holds_alternative<ChannelCloseOk>(m)) {
    if (c.state == Channel::State::Closing) channel_closed(c, {200, "closed by the application"}, false);
    return;
  }
  if (c.in.kind != Incoming::None) {
    drop({505, "UNEXPECTED_FRAME - a method while content was expected on channel " + std::to_string(c.id)});
    return;
  }
  if (auto* d = std::get_if<BasicDeliver>(&m)) {
    c.in.kind = Incoming::Deliver;
    c.in.delivery = fresh_delivery();
    Delivery& out = *c.in.delivery;
    out.epoch = epoch_;
    out.delivery_tag = d->delivery_tag;
    out.redelivered = d->redelivered;
    out.consumer_tag.assign(d->consumer_tag);  // (reused capacity: no allocation)
    out.exchange.assign(d->exchange);
    out.routing_key.assign(d->routing_key);
    out.message_count = 0;
    return;
  }
  if (auto* r = std::get_if<BasicReturn>(&m)) {
    c.in.kind = Incoming::Return;
    c.in.returned = Returned{r->reply_code, std::string(r->reply_text), std::string(r->exchange),
                             std::string(r->routing_key), {}};
    return;
  }
  if (auto* a = std::get_if<BasicAck>(&m)) {
    if (c.events.confirm_observed)
      ready([cb = c.events.confirm_observed, t = a->delivery_tag, mul = a->multiple] { cb(t, mul, false); });
    std::vector<Completion> done;
    if (!c.confirms.settle(a->delivery_tag, a->multiple, false, done)) {
      drop({406, "PRECONDITION_FAILED - the broker acked publish " + std::to_string(a->delivery_tag) +
                     " on channel " + std::to_string(c.id) + ", never sent"});
    }
    for (auto& d : done) ready_.emplace_back(std::move(d));
    return;
  }
  if (auto* n = std::get_if<BasicNack>(&m)) {
    if (c.events.confirm_observed)
      ready([cb = c.events.confirm_observed, t = n->delivery_tag, mul = n->multiple] { cb(t, mul, true); });
    std::vector<Completion> done;
    if (!c.confirms.settle(n->delivery_tag, n->multiple, true, done)) {
      drop({406, "PRECONDITION_FAILED - the broker nacked publish " + std::to_string(n->delivery_tag) +
                     " on channel " + std::to_string(c.id) + ", never sent"});
    }
    for (auto& d : done) ready_.emplace_back(std::move(d));
    return;
  }
  if (auto* cancel = std::get_if<BasicCancel>(&m)) {  // the broker cancels a consumer
    std::string tag(cancel->consumer_tag);
    if (!cancel->nowait) send_method(c.id, BasicCancelOk{.consumer_tag = cancel->consumer_tag});
    auto it = c.consumers.find(tag);
    if (it != c.consumers.end()) {
      if (it->second.cancelled) ready(it->second.cancelled);
      c.consumers.erase(it);
    }
    return;
  }
  if (auto* flow = std::get_if<ChannelFlow>(&m)) {
    send_method(c.id, ChannelFlowOk{.active = flow->active});
    return;
  }
  // A reply to the call in flight. A closing channel's calls have failed
  // already: their replies may still come, and mean nothing now.
  if (c.state == Channel::State::Closing) return;
  const MethodInfo* info = method_info(m);
  uint32_t key = info ? method_key(info->class_id, info->method_id) : 0;
  if (c.calls.empty() || !c.calls.front().sent || (c.calls.front().reply != key && c.calls.front().alt_reply != key)) {
    std::string name = info ? std::string(method_name(info->class_id, info->method_id)) : "?";
    drop({503, "COMMAND_INVALID - unexpected " + name + " on channel " + std::to_string(c.id)});
    return;
  }
  Rpc r = std::move(c.calls.front());
  c.calls.pop_front();
  if (auto* got = std::get_if<BasicGetOk>(&m)) {
    c.in.kind = Incoming::GetOk;
    c.in.get_done = std::move(r.get_done);
    c.in.delivery = std::make_unique<Delivery>(Delivery{epoch_, got->delivery_tag, got->redelivered, {},
                                                        std::string(got->exchange), std::string(got->routing_key),
                                                        got->message_count, {}});
  } else if (std::holds_alternative<BasicGetEmpty>(m)) {
    if (r.get_done) ready([cb = std::move(r.get_done)]() mutable { cb(std::nullopt, std::nullopt); });
  } else if (r.ok) {
    r.ok(m);
  }
  pump(c);
}

void Session::on_content_header(Channel& c, std::span<const uint8_t> payload) {
  if (c.state == Channel::State::Closing && c.in.kind == Incoming::None) return;  // a get-ok's, ignored above
  if (c.in.kind == Incoming::None || c.in.have_header) {
    drop({505, "UNEXPECTED_FRAME - a content header without a content method on channel " + std::to_string(c.id)});
    return;
  }
  ContentHeader h;
  Message& msg = c.in.message();
  bool ok = decode_content_header(payload, h).ok();
  if (ok && h.properties.flags() != 0)
    ok = h.properties.decode(msg.properties).ok();
  else if (ok)
    clear_properties(msg.properties);  // most messages have none: no decode
  if (!ok) {
    drop({502, "SYNTAX_ERROR - a malformed content header on channel " + std::to_string(c.id)});
    return;
  }
  c.in.have_header = true;
  c.in.body_size = h.body_size;
  msg.body.clear();
  // Room for the body as announced, up to a bound: the size is the
  // broker's word, and a wrong one must not make us allocate it (found by
  // fuzz_amqp091_client). A larger body grows as its frames come.
  constexpr uint64_t kReserveAtMost = 64u << 20;
  const size_t room = size_t(std::min<uint64_t>(h.body_size, kReserveAtMost));
  if (msg.body.capacity() < room) msg.body.reserve(room);
  if (h.body_size == 0) content_done(c);
}

void Session::on_content_body(Channel& c, std::span<const uint8_t> payload) {
  if (c.state == Channel::State::Closing && c.in.kind == Incoming::None) return;
  if (!c.in.have_header || c.in.message().body.size() + payload.size() > c.in.body_size) {
    drop({505, "UNEXPECTED_FRAME - an unexpected body frame on channel " + std::to_string(c.id)});
    return;
  }
  std::string& body = c.in.message().body;
  body.append(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (body.size() == c.in.body_size) content_done(c);
}

std::unique_ptr<Delivery> Session::fresh_delivery() {
  if (spare_deliveries_.empty()) return std::make_unique<Delivery>();
  auto d = std::move(spare_deliveries_.back());
  spare_deliveries_.pop_back();
  return d;
}

void Session::recycle(std::vector<std::unique_ptr<Delivery>>& spent) {
  constexpr size_t kKeep = 4096;  // a read's worth (drivers read 64 KiB at a time); more would just hold memory
  for (auto& d : spent)
    if (d && spare_deliveries_.size() < kKeep) spare_deliveries_.push_back(std::move(d));
  spent.clear();
}

void Session::content_done(Channel& c) {
  Incoming::Kind kind = c.in.kind;
  c.in.kind = Incoming::None;
  c.in.have_header = false;
  switch (kind) {
    case Incoming::Deliver: {
      auto it = c.consumers.find(c.in.delivery->consumer_tag);
      if (it != c.consumers.end()) {
        ready_.emplace_back(ReadyDelivery{it->second.delivery, std::move(c.in.delivery)});
      } else if (c.state == Channel::State::Open) {
        // For a consumer cancelled since: back to the queue.
        send_method(c.id, BasicReject{.delivery_tag = c.in.delivery->delivery_tag, .requeue = true});
      }
      break;
    }
    case Incoming::GetOk:
      if (c.in.get_done)
        ready([cb = std::move(c.in.get_done), d = std::move(*c.in.delivery)]() mutable { cb(std::nullopt, std::move(d)); });
      c.in.get_done = nullptr;
      c.in.delivery.reset();
      break;
    case Incoming::Return: {
      Returned r = std::move(c.in.returned);
      auto& props = r.message.properties;
      if (c.confirm)
        c.confirms.returned(r.exchange, r.routing_key,
                            props.message_id ? std::string_view(*props.message_id) : std::string_view());
      if (c.events.returned) ready([cb = c.events.returned, r = std::move(r)]() mutable { cb(std::move(r)); });
      break;
    }
    case Incoming::None:
      break;
  }
}

void Session::channel_closed(Channel& c, const Error& why, bool by_broker) {
  std::vector<Completion> unknown;
  c.confirms.fail_all(unknown);
  c.confirms.restart();
  for (auto& u : unknown) ready_.emplace_back(std::move(u));
  fail_channel_calls(c, why);
  c.consumers.clear();
  c.state = Channel::State::Closed;
  if (c.internal) {  // recovery's: its work is done, or a re-declare was refused
    bool refused = by_broker && c.id == recovery_channel_;
    channels_.erase(c.id);  // the callers touch c no more
    if (refused) recovery_channel_closed(why);
    return;
  }
  if (by_broker) {
    c.closed_by = why;
    if (c.opened) done_err(c.opened, why);
    if (c.events.closed) ready([cb = c.events.closed, why] { cb(why); });
    // The broker's close crossed ours: the application's close is done too.
    if (c.close_done) done_ok(c.close_done);
  } else {
    c.closed_by = Error{0, "channel " + std::to_string(c.id) + " was closed by the application"};
    if (c.close_done) done_ok(c.close_done);
  }
  c.opened = nullptr;
  c.close_done = nullptr;
  if (c.released) channels_.erase(c.id);  // the callers touch c no more
  maybe_finish_recovery();
}

}  // namespace warren::client
