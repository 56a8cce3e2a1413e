// A new epoch brings back what the application had: the recorded topology
// is declared again on a channel of the session's own, then every channel
// is reopened with its prefetch, confirm and tx modes and its consumers, and
// only then do publishes go through (Session::usable).
#include "amqp091/frame.hpp"
#include "client/session_internal.hpp"

namespace warren::client {

using namespace amqp091;

void Session::resume() {
  recovery_step_ = 0;
  if (epoch_ > 1 && !topology_.empty()) {
    uint16_t id = 1;
    while (channels_.count(id)) ++id;
    auto c = std::make_unique<Channel>();
    c->id = id;
    c->internal = true;
    c->state = Channel::State::Opening;
    Channel& ref = *c;
    channels_.emplace(id, std::move(c));
    recovery_channel_ = id;
    call(ref, frame_of(ref, ChannelOpen{}), key_of<ChannelOpenOk>(), 0,
         [this, &ref](const Method&) {
           ref.state = Channel::State::Open;
           recover_topology_step();
         },
         nullptr);
    return;
  }
  maybe_finish_recovery();
}

// Declares the next recorded thing, one call at a time (so that a refusal,
// which closes the channel, is known to be this one's).
void Session::recover_topology_step() {
  Channel& c = chan(recovery_channel_);
  auto steps = topology_.steps();
  if (recovery_step_ >= steps.size()) {
    // Done: the channel goes when its close-ok comes (channel_closed), and
    // the application's channels open now.
    send_method(c.id, ChannelClose{.reply_code = 200, .reply_text = "topology recovered"});
    c.state = Channel::State::Closing;
    recovery_channel_ = 0;
    maybe_finish_recovery();
    return;
  }
  Topology::Step step = steps[recovery_step_++];
  auto next = [this](const Method&) { recover_topology_step(); };
  switch (step.kind) {
    case Topology::Step::Exchange: {
      const ExchangeSpec& e = topology_.exchanges()[step.index];
      std::string args;
      encode_table_entries(args, e.arguments);
      call(c, frame_of(c, ExchangeDeclare{.exchange = e.name, .type = e.type, .durable = e.durable,
                                          .auto_delete = e.auto_delete, .internal = e.internal,
                                          .arguments = TableView(args)}),
           key_of<ExchangeDeclareOk>(), 0, next, nullptr);
      break;
    }
    case Topology::Step::Queue: {
      const Topology::Queue& q = topology_.queues()[step.index];
      std::string args;
      encode_table_entries(args, q.spec.arguments);
      std::string old = q.spec.name;
      bool server_named = q.server_named;
      call(c, frame_of(c, QueueDeclare{.queue = server_named ? std::string_view() : std::string_view(q.spec.name),
                                       .durable = q.spec.durable, .exclusive = q.spec.exclusive,
                                       .auto_delete = q.spec.auto_delete, .arguments = TableView(args)}),
           key_of<QueueDeclareOk>(), 0,
           [this, old, server_named](const Method& reply) {
             std::string now(std::get<QueueDeclareOk>(reply).queue);
             if (server_named && now != old) {
               topology_.rename_queue(old, now);
               for (auto& [id, ch] : channels_)
                 for (auto& [tag, con] : ch->consumers)
                   if (con.spec.queue == old) con.spec.queue = now;
               if (events_.queue_renamed) ready([cb = events_.queue_renamed, old, now] { cb(old, now); });
             }
             recover_topology_step();
           },
           nullptr);
      break;
    }
    case Topology::Step::Binding: {
      const BindingSpec& b = topology_.bindings()[step.index];
      std::string args;
      encode_table_entries(args, b.arguments);
      std::string frame = b.to_exchange
          ? frame_of(c, ExchangeBind{.destination = b.destination, .source = b.source, .routing_key = b.routing_key,
                                     .arguments = TableView(args)})
          : frame_of(c, QueueBind{.queue = b.destination, .exchange = b.source, .routing_key = b.routing_key,
                                  .arguments = TableView(args)});
      call(c, std::move(frame), b.to_exchange ? key_of<ExchangeBindOk>() : key_of<QueueBindOk>(), 0, next, nullptr);
      break;
    }
  }
}

// The broker refused a re-declaration (a queue now declared with other
// arguments, say): report it, and go on with the rest on a fresh channel.
void Session::recovery_channel_closed(const Error& why) {
  recovery_channel_ = 0;
  if (events_.recovery_error) ready([cb = events_.recovery_error, why] { cb(why); });
  if (state_ != State::Recovering) return;
  size_t step = recovery_step_;
  resume();
  recovery_step_ = step;
}

void Session::reopen_channel(Channel& c) {
  c.state = Channel::State::Opening;
  auto none = [](const Method&) {};
  call(c, frame_of(c, ChannelOpen{}), key_of<ChannelOpenOk>(), 0, none, nullptr);
  if (c.prefetch)
    call(c, frame_of(c, BasicQos{.prefetch_count = *c.prefetch}), key_of<BasicQosOk>(), 0, none, nullptr);
  if (c.confirm) call(c, frame_of(c, ConfirmSelect{}), key_of<ConfirmSelectOk>(), 0, none, nullptr);
  if (c.tx) call(c, frame_of(c, TxSelect{}), key_of<TxSelectOk>(), 0, none, nullptr);
  for (auto& [tag, con] : c.consumers) {
    std::string args;
    encode_table_entries(args, con.spec.arguments);
    call(c, frame_of(c, BasicConsume{.queue = con.spec.queue, .consumer_tag = tag, .no_ack = con.spec.no_ack,
                                     .exclusive = con.spec.exclusive, .arguments = TableView(args)}),
         key_of<BasicConsumeOk>(), 0, none, nullptr);
  }
  // After the last reply: open for the application.
  c.calls.push_back(Rpc{std::string(), 0, 0,
                        [this, &c](const Method&) {
                          c.state = Channel::State::Open;
                          done_ok(c.opened);
                          c.opened = nullptr;
                          maybe_finish_recovery();
                        },
                        nullptr, {}, false});
  pump(c);
}

void Session::maybe_finish_recovery() {
  if (state_ != State::Recovering || recovery_channel_ != 0) return;
  bool busy = false;
  for (auto& [id, c] : channels_) {
    if (c->internal) continue;
    if (c->state == Channel::State::Down) {
      reopen_channel(*c);
      busy = true;
    } else if (c->state == Channel::State::Opening) {
      busy = true;
    }
  }
  if (!busy && state_ == State::Recovering) become_open();
}

}  // namespace warren::client
