#include "recipes/amqp_conn.hpp"

#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <algorithm>

namespace warren::recipes::amqp {

namespace {

// A broker that does not answer an RPC within this is treated as gone.
constexpr std::chrono::seconds kRpcTimeout{15};

amqp_bytes_t bytes(std::string_view s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }
std::string text(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

timeval to_timeval(Clock::duration d) {
  auto us = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  return timeval{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
}

// The entries point into `args`, which must outlive the table.
struct Table {
  std::vector<amqp_table_entry_t> entries;
  explicit Table(const Args& args) {
    for (const Arg& a : args) {
      amqp_table_entry_t e{};
      e.key = bytes(a.key);
      if (const auto* s = std::get_if<std::string>(&a.value)) {
        e.value.kind = AMQP_FIELD_KIND_UTF8;
        e.value.value.bytes = bytes(*s);
      } else {
        e.value.kind = AMQP_FIELD_KIND_I64;
        e.value.value.i64 = std::get<int64_t>(a.value);
      }
      entries.push_back(e);
    }
  }
  amqp_table_t get() { return amqp_table_t{int(entries.size()), entries.empty() ? nullptr : entries.data()}; }
};

std::optional<int64_t> int_field(const amqp_table_t& t, std::string_view key) {
  for (int i = 0; i < t.num_entries; ++i) {
    const amqp_table_entry_t& e = t.entries[i];
    if (text(e.key) != key) continue;
    const amqp_field_value_t& v = e.value;
    switch (v.kind) {
      case AMQP_FIELD_KIND_I8: return v.value.i8;
      case AMQP_FIELD_KIND_U8: return v.value.u8;
      case AMQP_FIELD_KIND_I16: return v.value.i16;
      case AMQP_FIELD_KIND_U16: return v.value.u16;
      case AMQP_FIELD_KIND_I32: return v.value.i32;
      case AMQP_FIELD_KIND_U32: return v.value.u32;
      case AMQP_FIELD_KIND_I64: return v.value.i64;
      case AMQP_FIELD_KIND_U64: return int64_t(v.value.u64);
      default: return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

Connection::Connection(const Endpoint& ep, std::chrono::milliseconds timeout) {
  state_ = amqp_new_connection();
  if (!state_) throw Error("amqp: out of memory");
  const std::string where = ep.host + ":" + std::to_string(ep.port);
  amqp_socket_t* sock = amqp_tcp_socket_new(state_);
  if (!sock) fail("amqp: cannot make a socket");
  timeval tv = to_timeval(timeout);
  if (int rc = amqp_socket_open_noblock(sock, ep.host.c_str(), ep.port, &tv); rc != AMQP_STATUS_OK)
    fail("amqp: cannot connect to " + where + ": " + amqp_error_string2(rc));
  amqp_set_handshake_timeout(state_, &tv);
  amqp_set_rpc_timeout(state_, &tv);  // login's replies

  // The broker tells us of consumers it cancels (a deleted queue, a lease
  // that ended) only if we say we understand it.
  amqp_table_entry_t caps[] = {{bytes("consumer_cancel_notify"), {}}, {bytes("publisher_confirms"), {}},
                               {bytes("basic.nack"), {}}, {bytes("authentication_failure_close"), {}}};
  for (auto& c : caps) {
    c.value.kind = AMQP_FIELD_KIND_BOOLEAN;
    c.value.value.boolean = 1;
  }
  amqp_table_entry_t props[2] = {{bytes("capabilities"), {}}, {bytes("product"), {}}};
  props[0].value.kind = AMQP_FIELD_KIND_TABLE;
  props[0].value.value.table = amqp_table_t{4, caps};
  props[1].value.kind = AMQP_FIELD_KIND_UTF8;
  props[1].value.value.bytes = bytes("warren-recipes");
  amqp_table_t client_props{2, props};
  amqp_rpc_reply_t r = amqp_login_with_properties(state_, ep.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE,
                                                  ep.heartbeat_s, &client_props, AMQP_SASL_METHOD_PLAIN,
                                                  ep.user.c_str(), ep.password.c_str());
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    std::string why = r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION ? amqp_error_string2(r.library_error)
                                                                        : "refused by the broker";
    fail("amqp: cannot log in to " + where + ": " + why);
  }
  int max = amqp_get_channel_max(state_);
  channel_max_ = uint16_t(max <= 0 || max > 65535 ? 65535 : max);
}

Connection::~Connection() {
  if (!state_) return;
  timeval tv{1, 0};
  amqp_set_rpc_timeout(state_, &tv);
  amqp_connection_close(state_, AMQP_REPLY_SUCCESS);  // best effort
  amqp_destroy_connection(state_);
}

void Connection::drop() {
  if (state_) amqp_destroy_connection(state_);  // closes the socket
  state_ = nullptr;
  open_.clear();
}

void Connection::fail(const std::string& what) {
  drop();
  throw Error(what);
}

void Connection::check(int status, const char* what) {
  if (status != AMQP_STATUS_OK) fail(std::string("amqp: ") + what + ": " + amqp_error_string2(status));
}

bool Connection::is_open(uint16_t ch) const {
  auto it = open_.find(ch);
  return it != open_.end() && !it->second.closing;
}

Status Connection::closed_status(uint16_t ch) const {
  auto it = closed_.find(ch);
  return it != closed_.end() ? it->second : Status{504, "channel not open"};
}

bool Connection::pump(Clock::time_point deadline) {
  if (!state_) throw Error("amqp: not connected");
  amqp_frame_t f;
  timeval tv = to_timeval(deadline - Clock::now());
  int rc = amqp_simple_wait_frame_noblock(state_, &f, &tv);
  if (rc == AMQP_STATUS_TIMEOUT) return false;
  check(rc, "connection lost");
  if (f.frame_type == AMQP_FRAME_METHOD) on_method(f.channel, f.payload.method);
  else if (f.frame_type == AMQP_FRAME_HEADER || f.frame_type == AMQP_FRAME_BODY) on_content(f.channel, f);
  amqp_maybe_release_buffers(state_);
  return true;
}

void Connection::on_method(uint16_t ch, const amqp_method_t& m) {
  if (m.id == AMQP_CONNECTION_CLOSE_METHOD) {
    auto* c = static_cast<amqp_connection_close_t*>(m.decoded);
    std::string why = std::to_string(c->reply_code) + " " + text(c->reply_text);
    amqp_connection_close_ok_t ok{};
    amqp_send_method(state_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    fail("amqp: the broker closed the connection: " + why);
  }
  if (ch == 0) return;  // connection.blocked and the like
  auto it = open_.find(ch);
  if (it == open_.end()) return;  // left over from a channel that is gone
  Chan& c = it->second;
  switch (m.id) {
    case AMQP_CHANNEL_CLOSE_METHOD: {
      auto* cc = static_cast<amqp_channel_close_t*>(m.decoded);
      closed_[ch] = Status{cc->reply_code, text(cc->reply_text)};
      open_.erase(it);
      amqp_channel_close_ok_t ok{};
      check(amqp_send_method(state_, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok), "channel.close-ok");
      return;
    }
    case AMQP_CHANNEL_CLOSE_OK_METHOD:
      if (c.closing) {
        closed_[ch] = Status{0, "closed by this client"};
        open_.erase(it);
      }
      return;
    default: break;
  }
  if (c.closing) return;  // everything but the close handshake is dropped now
  switch (m.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
      auto* d = static_cast<amqp_basic_deliver_t*>(m.decoded);
      c.content = Content{true, Delivery{d->delivery_tag, text(d->consumer_tag), std::nullopt, {}, d->redelivered != 0}, false, 0, false};
      return;
    }
    case AMQP_BASIC_GET_OK_METHOD: {
      auto* g = static_cast<amqp_basic_get_ok_t*>(m.decoded);
      c.content = Content{true, Delivery{g->delivery_tag, {}, std::nullopt, {}, g->redelivered != 0}, true, 0, false};
      return;
    }
    case AMQP_BASIC_RETURN_METHOD: c.content = Content{}; return;
    case AMQP_BASIC_ACK_METHOD: {
      auto* a = static_cast<amqp_basic_ack_t*>(m.decoded);
      return settle(c, a->delivery_tag, a->multiple, true);
    }
    case AMQP_BASIC_NACK_METHOD: {
      auto* n = static_cast<amqp_basic_nack_t*>(m.decoded);
      return settle(c, n->delivery_tag, n->multiple, false);
    }
    case AMQP_BASIC_CANCEL_METHOD: {  // from the broker: our consumer is gone
      auto* k = static_cast<amqp_basic_cancel_t*>(m.decoded);
      c.cancelled.insert(text(k->consumer_tag));
      if (!k->nowait) {
        amqp_basic_cancel_ok_t ok{k->consumer_tag};
        check(amqp_send_method(state_, ch, AMQP_BASIC_CANCEL_OK_METHOD, &ok), "basic.cancel-ok");
      }
      return;
    }
    case AMQP_QUEUE_DECLARE_OK_METHOD: {
      auto* d = static_cast<amqp_queue_declare_ok_t*>(m.decoded);
      c.reply = Reply{m.id, d->message_count, d->consumer_count, {}};
      return;
    }
    case AMQP_BASIC_CONSUME_OK_METHOD: {
      auto* d = static_cast<amqp_basic_consume_ok_t*>(m.decoded);
      c.reply = Reply{m.id, 0, 0, text(d->consumer_tag)};
      return;
    }
    default: c.reply = Reply{m.id, 0, 0, {}}; return;  // the other *-ok replies carry nothing we use
  }
}

void Connection::on_content(uint16_t ch, const amqp_frame_t& f) {
  auto it = open_.find(ch);
  if (it == open_.end() || !it->second.content) return;
  Chan& c = it->second;
  Content& k = *c.content;
  if (f.frame_type == AMQP_FRAME_HEADER) {
    k.header_seen = true;
    k.left = f.payload.properties.body_size;
    auto* p = static_cast<amqp_basic_properties_t*>(f.payload.properties.decoded);
    if (k.is_delivery && p && (p->_flags & AMQP_BASIC_HEADERS_FLAG))
      k.d.token = int_field(p->headers, "x-fencing-token");
  } else {
    k.left -= std::min<uint64_t>(k.left, f.payload.body_fragment.len);
    if (k.is_delivery) k.d.body.append(static_cast<const char*>(f.payload.body_fragment.bytes), f.payload.body_fragment.len);
  }
  if (!k.header_seen || k.left > 0) return;
  if (k.is_get) {
    c.got = std::move(k.d);
  } else if (k.is_delivery) {
    if (!c.closing) c.deliveries.push_back(std::move(k.d));
  } else {
    c.returned = true;
  }
  c.content.reset();
}

void Connection::settle(Chan& c, uint64_t tag, bool multiple, bool acked) {
  if (multiple) {
    for (uint64_t s = c.settled_upto + 1; s <= tag; ++s) c.settled.try_emplace(s, acked);
    c.settled_upto = std::max(c.settled_upto, tag);
  } else {
    c.settled.try_emplace(tag, acked);
    if (tag == c.settled_upto + 1) c.settled_upto = tag;
  }
}

Status Connection::rpc(uint16_t ch, amqp_method_number_t id, void* method, amqp_method_number_t expect, Reply* out) {
  if (!state_) throw Error("amqp: not connected");
  auto it = open_.find(ch);
  if (it == open_.end()) return closed_status(ch);
  it->second.reply.reset();
  check(amqp_send_method(state_, ch, id, method), "send");
  const auto deadline = Clock::now() + kRpcTimeout;
  for (;;) {
    it = open_.find(ch);
    if (it == open_.end()) return closed_status(ch);
    if (auto& r = it->second.reply) {
      Reply got = std::move(*r);
      r.reset();
      if (got.id != expect)
        fail("amqp: unexpected reply " + std::to_string(got.id) + " on channel " + std::to_string(ch));
      if (out) *out = std::move(got);
      return {};
    }
    if (!pump(deadline) && Clock::now() >= deadline) fail("amqp: the broker did not answer in time");
  }
}

uint16_t Connection::open_channel() {
  if (!state_) throw Error("amqp: not connected");
  // Numbers go round rather than being reused at once, so that a late
  // frame for a closed channel never lands on its successor.
  for (uint32_t tries = 0; tries <= channel_max_; ++tries) {
    last_channel_ = uint16_t(last_channel_ % channel_max_ + 1);
    if (!open_.count(last_channel_)) break;
  }
  const uint16_t ch = last_channel_;
  if (open_.count(ch)) fail("amqp: out of channels");
  closed_.erase(ch);
  open_[ch] = Chan{};
  amqp_channel_open_t m{amqp_empty_bytes};
  Status s = rpc(ch, AMQP_CHANNEL_OPEN_METHOD, &m, AMQP_CHANNEL_OPEN_OK_METHOD);
  if (!s.ok()) fail("amqp: cannot open a channel: " + s.text);
  return ch;
}

void Connection::close_channel(uint16_t ch) {
  auto it = open_.find(ch);
  if (!state_ || it == open_.end()) return;
  it->second.closing = true;
  it->second.deliveries.clear();
  amqp_channel_close_t m{AMQP_REPLY_SUCCESS, bytes("closed"), 0, 0};
  check(amqp_send_method(state_, ch, AMQP_CHANNEL_CLOSE_METHOD, &m), "send");
  const auto deadline = Clock::now() + kRpcTimeout;
  while (open_.count(ch))
    if (!pump(deadline) && Clock::now() >= deadline) fail("amqp: the broker did not close a channel in time");
}

DeclareOk Connection::declare(uint16_t ch, std::string_view queue, const QueueOpts& o) {
  Table args(o.args);
  amqp_queue_declare_t m{0, bytes(queue), o.passive, o.durable, o.exclusive, o.auto_delete, 0, args.get()};
  Reply r;
  DeclareOk ok;
  ok.status = rpc(ch, AMQP_QUEUE_DECLARE_METHOD, &m, AMQP_QUEUE_DECLARE_OK_METHOD, &r);
  ok.messages = r.a;
  ok.consumers = r.b;
  return ok;
}

Status Connection::delete_queue(uint16_t ch, std::string_view queue) {
  amqp_queue_delete_t m{0, bytes(queue), 0, 0, 0};
  return rpc(ch, AMQP_QUEUE_DELETE_METHOD, &m, AMQP_QUEUE_DELETE_OK_METHOD);
}

Status Connection::qos(uint16_t ch, uint16_t prefetch) {
  amqp_basic_qos_t m{0, prefetch, 0};
  return rpc(ch, AMQP_BASIC_QOS_METHOD, &m, AMQP_BASIC_QOS_OK_METHOD);
}

Status Connection::confirm_select(uint16_t ch) {
  amqp_confirm_select_t m{0};
  return rpc(ch, AMQP_CONFIRM_SELECT_METHOD, &m, AMQP_CONFIRM_SELECT_OK_METHOD);
}

Status Connection::tx_select(uint16_t ch) {
  amqp_tx_select_t m{};
  return rpc(ch, AMQP_TX_SELECT_METHOD, &m, AMQP_TX_SELECT_OK_METHOD);
}

Status Connection::consume(uint16_t ch, std::string_view queue, bool exclusive, bool no_ack, const Args& args,
                           std::string* tag) {
  Table t(args);
  amqp_basic_consume_t m{0, bytes(queue), amqp_empty_bytes, 0, no_ack, exclusive, 0, t.get()};
  Reply r;
  Status s = rpc(ch, AMQP_BASIC_CONSUME_METHOD, &m, AMQP_BASIC_CONSUME_OK_METHOD, &r);
  if (s.ok() && tag) *tag = r.text;
  return s;
}

Status Connection::cancel(uint16_t ch, const std::string& tag) {
  amqp_basic_cancel_t m{bytes(tag), 0};
  return rpc(ch, AMQP_BASIC_CANCEL_METHOD, &m, AMQP_BASIC_CANCEL_OK_METHOD);
}

uint64_t Connection::publish(uint16_t ch, std::string_view queue, std::string_view body, const PublishOpts& o) {
  if (!state_) throw Error("amqp: not connected");
  auto it = open_.find(ch);
  if (it == open_.end() || it->second.closing) return 0;
  amqp_basic_properties_t p{};
  amqp_table_entry_t header{};
  if (o.persistent) {
    p._flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
    p.delivery_mode = AMQP_DELIVERY_PERSISTENT;
  }
  if (o.expiration) {
    p._flags |= AMQP_BASIC_EXPIRATION_FLAG;
    p.expiration = bytes(*o.expiration);
  }
  if (o.token) {
    p._flags |= AMQP_BASIC_HEADERS_FLAG;
    header.key = bytes("x-fencing-token");
    header.value.kind = AMQP_FIELD_KIND_I64;
    header.value.value.i64 = *o.token;
    p.headers = amqp_table_t{1, &header};
  }
  it->second.returned = false;
  check(amqp_basic_publish(state_, ch, amqp_empty_bytes, bytes(queue), o.mandatory, 0, &p, bytes(body)), "publish");
  return it->second.next_seq++;
}

std::optional<Verdict> Connection::wait_confirm(uint16_t ch, uint64_t seq) {
  const auto deadline = Clock::now() + kRpcTimeout;
  for (;;) {
    auto it = open_.find(ch);
    if (it == open_.end()) return std::nullopt;
    Chan& c = it->second;
    if (auto s = c.settled.find(seq); s != c.settled.end()) {
      const bool acked = s->second;
      c.settled.erase(s);
      // A mandatory publish that no queue took comes back before its ack.
      if (!acked) return Verdict::Nacked;
      return c.returned ? Verdict::Returned : Verdict::Acked;
    }
    if (!pump(deadline) && Clock::now() >= deadline) fail("amqp: no publisher confirm in time");
  }
}

std::optional<Verdict> Connection::commit(uint16_t ch) {
  amqp_tx_commit_t m{};
  Status s = rpc(ch, AMQP_TX_COMMIT_METHOD, &m, AMQP_TX_COMMIT_OK_METHOD);
  if (!s.ok()) return std::nullopt;
  // The returns of a transaction's mandatory publishes come before its commit-ok.
  return open_.at(ch).returned ? Verdict::Returned : Verdict::Acked;
}

std::optional<Delivery> Connection::get(uint16_t ch, std::string_view queue, Status* status) {
  if (!state_) throw Error("amqp: not connected");
  auto it = open_.find(ch);
  if (it == open_.end()) {
    if (status) *status = closed_status(ch);
    return std::nullopt;
  }
  it->second.reply.reset();
  it->second.got.reset();
  amqp_basic_get_t m{};
  m.queue = amqp_bytes_t{queue.size(), const_cast<char*>(queue.data())};
  check(amqp_send_method(state_, ch, AMQP_BASIC_GET_METHOD, &m), "basic.get");
  const auto deadline = Clock::now() + kRpcTimeout;
  for (;;) {
    it = open_.find(ch);
    if (it == open_.end()) {
      if (status) *status = closed_status(ch);
      return std::nullopt;
    }
    if (it->second.got) {
      std::optional<Delivery> d = std::move(it->second.got);
      it->second.got.reset();
      return d;
    }
    if (it->second.reply && it->second.reply->id == AMQP_BASIC_GET_EMPTY_METHOD) {
      it->second.reply.reset();
      return std::nullopt;
    }
    if (!pump(deadline) && Clock::now() >= deadline) fail("amqp: the broker did not answer basic.get in time");
  }
}

void Connection::ack(uint16_t ch, uint64_t tag) {
  if (!state_) throw Error("amqp: not connected");
  if (is_open(ch)) check(amqp_basic_ack(state_, ch, tag, 0), "basic.ack");
}

void Connection::reject(uint16_t ch, uint64_t tag, bool requeue) {
  if (!state_) throw Error("amqp: not connected");
  if (is_open(ch)) check(amqp_basic_reject(state_, ch, tag, requeue), "basic.reject");
}

std::optional<Delivery> Connection::next_delivery(uint16_t ch, Clock::time_point deadline) {
  for (;;) {
    auto it = open_.find(ch);
    if (it == open_.end() || it->second.closing) return std::nullopt;
    Chan& c = it->second;
    if (!c.deliveries.empty()) {
      Delivery d = std::move(c.deliveries.front());
      c.deliveries.pop_front();
      return d;
    }
    if (!c.cancelled.empty()) return std::nullopt;
    if (!pump(deadline)) return std::nullopt;
  }
}

bool Connection::cancelled_by_broker(uint16_t ch, const std::string& tag) const {
  auto it = open_.find(ch);
  return it != open_.end() && it->second.cancelled.count(tag) > 0;
}

}  // namespace warren::recipes::amqp
