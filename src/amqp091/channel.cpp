// Channel: its life (opening, errors, closing), the methods of the
// channel, exchange and queue classes, and what it tells of itself.
// Consuming is in channel_consume.cpp, publishing in channel_publish.cpp.
#include "amqp091/channel.hpp"

#include <fmt/format.h>

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "amqp091/convert.hpp"

namespace warren::amqp091 {

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
