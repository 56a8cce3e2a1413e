#include "recipes/amqp_conn.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "client/polled.hpp"

namespace warren::recipes::amqp {

namespace {

// A broker that does not answer an RPC within this is treated as gone.
constexpr std::chrono::seconds kRpcTimeout{15};
// Closed channels whose numbers the library keeps before they may be reused.
constexpr size_t kRetired = 256;

using DoneCallback = client::DoneCallback;
using MaybeError = std::optional<client::Error>;

client::FieldTable table(const Args& args) {
  client::FieldTable t;
  for (const Arg& a : args) {
    if (const auto* s = std::get_if<std::string>(&a.value))
      t.add(a.key, *s);                       // 'S', a longstr
    else
      t.add(a.key, std::get<int64_t>(a.value));  // 'l', a long-long
  }
  return t;
}

// The header's value, of any integer type.
std::optional<int64_t> int_field(const client::BasicProperties& p, std::string_view key) {
  if (!p.headers) return std::nullopt;
  const amqp091::FieldValue* v = p.headers->find(key);
  if (!v) return std::nullopt;
  return std::visit(
      [](const auto& x) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
          return int64_t(x);
        else
          return std::nullopt;
      },
      v->variant());
}

Delivery convert(client::Delivery&& d) {
  Delivery out;
  out.tag = d.delivery_tag;
  out.consumer_tag = std::move(d.consumer_tag);
  out.token = int_field(d.message.properties, "x-fencing-token");
  out.permit = int_field(d.message.properties, "x-lock-permit");
  out.body = std::move(d.message.body);
  out.redelivered = d.redelivered;
  out.remaining = d.message_count;
  return out;
}

// A channel error as a Status: the broker's code, never 0 (which is success).
Status status_of(const client::Error& e) { return Status{e.code ? e.code : uint16_t(504), e.text}; }

}  // namespace

struct Connection::Chan {
  uint16_t id = 0;
  bool closing = false;  // close_channel() is closing it: what still comes is dropped
  std::deque<Delivery> deliveries;
  std::map<uint64_t, client::Outcome> settled;  // confirm mode: seq -> the broker's verdict
  uint64_t next_seq = 1;  // publishes outside confirm mode are numbered here
  bool returned = false;  // a basic.return since the last commit
  std::set<std::string> cancelled;
};

Connection::Connection(const Endpoint& ep, std::chrono::milliseconds timeout) {
  const std::string where = ep.host + ":" + std::to_string(ep.port);
  client::ConnectionOptions o;
  o.uri.host = ep.host;
  o.uri.port = uint16_t(ep.port);
  o.uri.user = ep.user;
  o.uri.password = ep.password;
  o.uri.vhost = ep.vhost;
  o.uri.heartbeat_s = std::max(0, ep.heartbeat_s);
  o.session.product = "warren-recipes";
  o.session.recover = false;  // a lost connection is final: the holder must know
  o.connect_timeout = timeout;
  try {
    conn_ = client::PolledConnection::open(std::move(o));
  } catch (const client::ClientError& e) {
    // A code is the broker's refusal (403 ACCESS_REFUSED, 530 NOT_ALLOWED).
    if (e.error().code) throw Error("amqp: cannot log in to " + where + ": " + e.what());
    throw Error("amqp: cannot connect to " + where + ": " + e.error().text);
  }
}

Connection::~Connection() {
  if (!conn_) return;
  try {  // best effort, briefly
    client::Session& s = conn_->session();
    if (s.state() != client::Session::State::Closed) {
      s.close(nullptr);
      conn_->poll_until([&] { return s.state() == client::Session::State::Closed; }, std::chrono::seconds(1));
    }
  } catch (...) {
  }
}

void Connection::drop() {
  if (conn_) conn_->drop_transport();  // no connection.close: the broker sees a dead peer
  conn_.reset();
  open_.clear();
}

void Connection::fail(const std::string& what) {
  drop();
  throw Error(what);
}

void Connection::live() const {
  if (!conn_) throw Error("amqp: not connected");
}

void Connection::check_connection() {
  live();
  client::Session& s = conn_->session();
  if (s.state() != client::Session::State::Closed) return;
  const auto& why = s.closed_reason();
  if (why && why->code)
    fail("amqp: the connection was closed: " + std::to_string(why->code) + " " + why->text);
  fail("amqp: connection lost: " + (why ? why->text : std::string("closed")));
}

template <class Done>
bool Connection::wait(const Done& done, Clock::time_point deadline) {
  for (bool last = false;;) {
    if (done()) return true;
    check_connection();
    if (last) return false;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    last = left.count() <= 0;  // one look at what has arrived, even then
    conn_->poll(std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(200)));
  }
}

void Connection::flush() {
  conn_->flush();
  check_connection();  // a write that failed ended the connection
}

bool Connection::is_open(uint16_t ch) const {
  auto it = open_.find(ch);
  return it != open_.end() && !it->second->closing;
}

Status Connection::closed_status(uint16_t ch) const {
  auto it = closed_.find(ch);
  return it != closed_.end() ? it->second : Status{504, "channel not open"};
}

void Connection::on_closed(const std::shared_ptr<Chan>& c, uint16_t code, const std::string& text) {
  auto it = open_.find(c->id);
  if (it == open_.end() || it->second != c) return;  // forgotten already
  c->deliveries.clear();  // a channel's leftovers go with it
  c->settled.clear();
  closed_[c->id] = Status{code, text};
  open_.erase(it);
  retire(c->id);
}

void Connection::retire(uint16_t ch) {
  retired_.push_back(ch);
  while (retired_.size() > kRetired) {
    conn_->session().release_channel(retired_.front());
    retired_.pop_front();
  }
}

template <class Issue>
Status Connection::rpc(uint16_t ch, const Issue& issue) {
  live();
  auto it = open_.find(ch);
  if (it == open_.end()) return closed_status(ch);
  std::shared_ptr<Chan> c = it->second;
  std::optional<MaybeError> err;
  try {
    issue(DoneCallback([&err](const MaybeError& e) { err = e; }));
  } catch (const client::ClientError& e) {  // nothing sent: the channel (or the connection) is closed
    check_connection();
    if (conn_->session().channel_open(ch)) fail(std::string("amqp: ") + e.what());  // unencodable
    on_closed(c, status_of(e.error()).code, e.error().text);
    return status_of(e.error());
  }
  if (!wait([&] { return err.has_value(); }, Clock::now() + kRpcTimeout))
    fail("amqp: the broker did not answer in time");
  if (!*err) return {};
  check_connection();  // calls fail with the connection too: that is an Error
  const Status s = status_of(**err);
  on_closed(c, s.code, s.text);  // the broker's channel.close (filed already, normally)
  return s;
}

uint16_t Connection::open_channel() {
  live();
  auto c = std::make_shared<Chan>();
  client::ChannelEvents ev;
  ev.closed = [this, c](const client::Error& e) { on_closed(c, status_of(e).code, e.text); };
  ev.returned = [c](client::Returned&&) { c->returned = true; };
  std::optional<MaybeError> err;
  DoneCallback opened = [&err](const MaybeError& e) { err = e; };
  client::Session& s = conn_->session();
  uint16_t ch = 0;
  try {
    ch = s.open_channel(ev, opened);
  } catch (const client::ClientError&) {
    check_connection();
    // Out of numbers: let the library have the closed ones back, and try again.
    for (uint16_t old : retired_) s.release_channel(old);
    retired_.clear();
    try {
      ch = s.open_channel(ev, opened);
    } catch (const client::ClientError& e) {
      fail(std::string("amqp: cannot open a channel: ") + e.what());
    }
  }
  c->id = ch;
  if (!wait([&] { return err.has_value(); }, Clock::now() + kRpcTimeout))
    fail("amqp: the broker did not answer in time");
  if (*err) {
    check_connection();
    fail("amqp: cannot open a channel: " + status_of(**err).text);
  }
  closed_.erase(ch);
  open_[ch] = c;
  return ch;
}

void Connection::close_channel(uint16_t ch) {
  auto it = open_.find(ch);
  if (!conn_ || it == open_.end()) return;
  std::shared_ptr<Chan> c = it->second;
  c->closing = true;
  c->deliveries.clear();
  std::optional<MaybeError> err;
  try {
    conn_->session().close_channel(ch, [&err](const MaybeError& e) { err = e; });
  } catch (const client::ClientError&) {  // unknown to the library (cannot happen): forget it
    check_connection();
    err = MaybeError();
  }
  // Done at the close-ok, or when the broker's own channel.close crossed ours.
  const auto gone = [&] {
    auto at = open_.find(ch);
    return err.has_value() || at == open_.end() || at->second != c;
  };
  if (!wait(gone, Clock::now() + kRpcTimeout)) fail("amqp: the broker did not close a channel in time");
  if (open_.count(ch) && open_[ch] == c) {
    open_.erase(ch);
    closed_[ch] = Status{0, "closed by this client"};
    retire(ch);
  }
}

DeclareOk Connection::declare(uint16_t ch, std::string_view queue, const QueueOpts& o) {
  client::QueueSpec spec{std::string(queue), o.durable, o.exclusive, o.auto_delete, table(o.args)};
  client::QueueInfo info;
  DeclareOk ok;
  ok.status = rpc(ch, [&](DoneCallback done) {
    conn_->session().queue_declare(ch, spec, o.passive, [&info, done](const MaybeError& e, client::QueueInfo&& i) {
      info = std::move(i);
      done(e);
    });
  });
  ok.messages = info.message_count;
  ok.consumers = info.consumer_count;
  return ok;
}

Status Connection::delete_queue(uint16_t ch, std::string_view queue) {
  return rpc(ch, [&](DoneCallback done) {
    conn_->session().queue_delete(ch, std::string(queue), false, false,
                                  [done](const MaybeError& e, uint32_t&&) { done(e); });
  });
}

Status Connection::qos(uint16_t ch, uint16_t prefetch) {
  return rpc(ch, [&](DoneCallback done) { conn_->session().qos(ch, prefetch, std::move(done)); });
}

Status Connection::confirm_select(uint16_t ch) {
  return rpc(ch, [&](DoneCallback done) { conn_->session().confirm_select(ch, std::move(done)); });
}

Status Connection::tx_select(uint16_t ch) {
  Status s = rpc(ch, [&](DoneCallback done) { conn_->session().tx_select(ch, std::move(done)); });
  if (auto it = open_.find(ch); s.ok() && it != open_.end()) it->second->returned = false;
  return s;
}

Status Connection::consume(uint16_t ch, std::string_view queue, bool exclusive, bool no_ack, const Args& args,
                           std::string* tag) {
  live();
  auto it = open_.find(ch);
  if (it == open_.end()) return closed_status(ch);
  std::shared_ptr<Chan> c = it->second;
  client::ConsumeSpec spec{std::string(queue), "", no_ack, exclusive, table(args)};
  auto given = std::make_shared<std::string>();  // the tag, once consume-ok names it
  client::ConsumerEvents ev;
  ev.delivery = [c](client::Delivery&& d) {
    if (!c->closing) c->deliveries.push_back(convert(std::move(d)));
  };
  ev.cancelled = [c, given] { c->cancelled.insert(*given); };  // by the broker
  Status s = rpc(ch, [&](DoneCallback done) {
    conn_->session().consume(ch, spec, std::move(ev), [given, done](const MaybeError& e, std::string&& t) {
      *given = std::move(t);
      done(e);
    });
  });
  if (s.ok() && tag) *tag = *given;
  return s;
}

Status Connection::cancel(uint16_t ch, const std::string& tag) {
  return rpc(ch, [&](DoneCallback done) { conn_->session().cancel(ch, tag, std::move(done)); });
}

uint64_t Connection::publish(uint16_t ch, std::string_view queue, std::string_view body, const PublishOpts& o) {
  live();
  auto it = open_.find(ch);
  if (it == open_.end() || it->second->closing) return 0;
  std::shared_ptr<Chan> c = it->second;
  client::BasicProperties p;
  if (o.persistent) p.delivery_mode = 2;
  if (o.expiration) p.expiration = *o.expiration;
  if (o.token) p.headers = client::FieldTable{{"x-fencing-token", amqp091::FieldValue(int64_t(*o.token))}};
  client::Session& s = conn_->session();
  const bool confirm = s.confirm_mode(ch);
  // Single-threaded: the number read here is the one publish() assigns.
  const uint64_t seq = confirm ? s.next_publish_seq(ch) : c->next_seq++;
  client::ConfirmCallback verdict;
  if (confirm) verdict = [c, seq](client::Outcome v) { c->settled[seq] = v; };
  try {
    s.publish(ch, client::PublishSpec{.exchange = "", .routing_key = queue, .body = body, .properties = &p,
                                      .mandatory = o.mandatory},
              std::move(verdict));
  } catch (const client::ClientError& e) {  // nothing sent: the channel is closed
    check_connection();
    if (s.channel_open(ch)) fail(std::string("amqp: publish: ") + e.what());  // unencodable
    on_closed(c, status_of(e.error()).code, e.error().text);
    return 0;
  }
  flush();
  return seq;
}

std::optional<Verdict> Connection::wait_confirm(uint16_t ch, uint64_t seq) {
  std::optional<client::Outcome> got;
  const auto settled = [&] {
    auto it = open_.find(ch);
    if (it == open_.end()) return true;  // the channel closed
    auto s = it->second->settled.find(seq);
    if (s == it->second->settled.end()) return false;
    got = s->second;
    it->second->settled.erase(s);
    return true;
  };
  if (!wait(settled, Clock::now() + kRpcTimeout)) fail("amqp: no publisher confirm in time");
  if (!got) return std::nullopt;
  switch (*got) {
    case client::Outcome::Acked: return Verdict::Acked;
    case client::Outcome::Nacked: return Verdict::Nacked;
    case client::Outcome::Returned: return Verdict::Returned;  // a mandatory publish that no queue took
    case client::Outcome::Unknown: break;  // the channel or the connection went first
  }
  check_connection();
  return std::nullopt;
}

std::optional<Verdict> Connection::commit(uint16_t ch) {
  live();
  auto it = open_.find(ch);
  if (it == open_.end()) return std::nullopt;
  std::shared_ptr<Chan> c = it->second;
  Status s = rpc(ch, [&](DoneCallback done) { conn_->session().tx_commit(ch, std::move(done)); });
  if (!s.ok()) return std::nullopt;
  // The returns of a transaction's mandatory publishes come before its commit-ok.
  const bool returned = c->returned;
  c->returned = false;
  return returned ? Verdict::Returned : Verdict::Acked;
}

std::optional<Delivery> Connection::get(uint16_t ch, std::string_view queue, Status* status) {
  std::optional<client::Delivery> got;
  Status s = rpc(ch, [&](DoneCallback done) {
    conn_->session().get(ch, std::string(queue), false,
                         [&got, done](const MaybeError& e, std::optional<client::Delivery>&& d) {
                           got = std::move(d);
                           done(e);
                         });
  });
  if (!s.ok()) {
    if (status) *status = s;
    return std::nullopt;
  }
  if (!got) return std::nullopt;  // get-empty
  return convert(std::move(*got));
}

void Connection::ack(uint16_t ch, uint64_t tag) {
  live();
  if (!is_open(ch)) return;
  client::Session& s = conn_->session();
  if (s.ack(ch, s.epoch(), tag, false))
    flush();
  else
    check_connection();  // not sent: the connection has ended (a channel that closed is not open here)
}

void Connection::reject(uint16_t ch, uint64_t tag, bool requeue) {
  live();
  if (!is_open(ch)) return;
  client::Session& s = conn_->session();
  if (s.reject(ch, s.epoch(), tag, requeue))
    flush();
  else
    check_connection();
}

std::optional<Delivery> Connection::next_delivery(uint16_t ch, Clock::time_point deadline) {
  std::optional<Delivery> d;
  const auto ready = [&] {
    auto it = open_.find(ch);
    if (it == open_.end() || it->second->closing) return true;  // the channel closed
    Chan& c = *it->second;
    if (!c.deliveries.empty()) {
      d = std::move(c.deliveries.front());
      c.deliveries.pop_front();
      return true;
    }
    return !c.cancelled.empty();
  };
  live();
  wait(ready, deadline);
  return d;
}

bool Connection::cancelled_by_broker(uint16_t ch, const std::string& tag) const {
  auto it = open_.find(ch);
  return it != open_.end() && it->second->cancelled.count(tag) > 0;
}

}  // namespace warren::recipes::amqp
