#include "amqp10/session.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "amqp10/convert.hpp"
#include "amqp10/link.hpp"

namespace warren::amqp10 {

namespace {
std::string_view condition_of(const broker::Error& e) {
  switch (e.code) {
    case broker::ErrorCode::NotFound: return amqp_error::kNotFound;
    case broker::ErrorCode::AccessRefused: return amqp_error::kUnauthorizedAccess;
    case broker::ErrorCode::ResourceLocked: return amqp_error::kResourceLocked;
    case broker::ErrorCode::PreconditionFailed: return amqp_error::kPreconditionFailed;
    case broker::ErrorCode::NotAllowed: return amqp_error::kNotAllowed;
    case broker::ErrorCode::CommandInvalid:
    case broker::ErrorCode::NotImplemented: return amqp_error::kNotImplemented;
    case broker::ErrorCode::ResourceError: return amqp_error::kResourceLimitExceeded;
    default: return amqp_error::kInternalError;
  }
}

uint64_t descriptor_of(const Value& v) {
  if (!v.is_described()) return 0;
  if (v.descriptor_is_symbol()) return descriptor_code_of(v.descriptor_symbol()).value_or(0);
  return v.descriptor_code();
}

// The frame header and transfer performative of a frame whose payload is
// `payload_size` bytes.
void append_transfer_head(std::string& out, uint16_t channel, const Transfer& t, size_t payload_size) {
  const size_t at = out.size();
  const char header[8] = {0, 0, 0, 0, 2, 0, char(channel >> 8), char(channel)};
  out.append(header, 8);
  Encoder e(out);
  t.encode(e);
  const uint32_t size = uint32_t(out.size() - at + payload_size);
  for (int i = 0; i < 4; ++i) out[at + i] = char(size >> (24 - 8 * i));
}

const std::vector<std::string>& supported_outcomes() {
  static const std::vector<std::string> v{"amqp:accepted:list", "amqp:rejected:list", "amqp:released:list",
                                          "amqp:modified:list"};
  return v;
}
}  // namespace

Session::Session(Connection& conn, uint16_t channel, const Begin& begin)
    : conn_(conn), channel_(channel), initial_outgoing_id_(conn.options().initial_outgoing_id),
      next_outgoing_id_(initial_outgoing_id_), next_incoming_id_(begin.next_outgoing_id),
      incoming_window_(conn.options().incoming_window), remote_incoming_window_(begin.incoming_window),
      remote_outgoing_window_(begin.outgoing_window), initial_delivery_id_(conn.options().initial_delivery_id) {
  Begin ours;
  ours.remote_channel = channel;
  ours.next_outgoing_id = next_outgoing_id_;
  ours.incoming_window = incoming_window_;
  ours.outgoing_window = UINT32_MAX;
  ours.handle_max = conn.options().handle_max;
  conn_.send(channel_, ours);
}

Session::~Session() { release(); }

void Session::release() {
  const TimePoint now = conn_.now();
  // Consumers go first, so that released deliveries are not handed back to
  // this dying session.
  for (auto& [_, l] : links_)
    if (auto* o = l->outgoing()) o->stop();
  deliveries_.close(now);
  auto links = std::move(links_);
  links_.clear();
  for (auto& [_, l] : links) l->close();
  links.clear();
  graveyard_.clear();
  owners_.clear();
  pending_.clear();
  verdicts_.clear();
}

void Session::handle(const Frame& f) {
  graveyard_.clear();
  if (auto* t = as<Transfer>(f.body)) return handle_transfer(*t, f.payload);
  if (auto* d = as<Disposition>(f.body)) return handle_disposition(*d);
  if (auto* fl = as<Flow>(f.body)) return handle_flow(*fl);
  if (auto* a = as<Attach>(f.body)) return handle_attach(*a);
  if (auto* d = as<Detach>(f.body)) return handle_detach(*d);
}

void Session::end_with_error(std::string_view condition, std::string description) {
  if (ending_) return;
  End e;
  e.error = make_error(condition, std::move(description));
  conn_.send(channel_, e);
  release();
  ending_ = true;
}

// ------------------------------------------------------------------ attach

void Session::refuse_attach(const Attach& a, std::string_view condition, std::string description) {
  Attach reply;
  reply.name = a.name;
  reply.handle = a.handle;
  reply.role = !a.role;
  reply.snd_settle_mode = a.snd_settle_mode;
  reply.rcv_settle_mode = a.rcv_settle_mode;
  // 2.6.3: the terminus we would have created is null.
  if (a.role == role::kSender) reply.source = a.source;
  else reply.target = a.target;
  conn_.send(channel_, reply);
  Detach d;
  d.handle = a.handle;
  d.closed = true;
  d.error = make_error(condition, std::move(description));
  conn_.send(channel_, d);
  detached_.insert(a.handle);
}

void Session::handle_attach(const Attach& a) {
  if (links_.contains(a.handle) || detached_.contains(a.handle))
    return end_with_error(session_error::kHandleInUse, fmt::format("handle {} is in use", a.handle));
  if (a.handle > conn_.options().handle_max)
    return end_with_error(connection_error::kFramingError,
                          fmt::format("handle {} is above handle-max {}", a.handle, conn_.options().handle_max));
  broker::VHost& vh = conn_.vhost();
  const TimePoint now = conn_.now();
  std::string temporary;
  // A server-named queue for a dynamic node, usable from other connections.
  auto declare_temporary = [&](broker::Error& err) {
    broker::QueueDeclare d;
    d.owner = conn_.id();
    d.access = conn_.access();
    broker::QueueDeclareOk ok;
    err = vh.declare_queue(d, now, ok);
    temporary = ok.name;
  };
  // A queue address: must exist unless the form declares it.
  auto resolve_queue = [&](const Address& addr, broker::Error& err) {
    if (vh.find_queue(addr.name) || !addr.declare) return;
    broker::QueueDeclare d;
    d.name = addr.name;
    d.durable = true;
    d.owner = conn_.id();
    d.access = conn_.access();
    broker::QueueDeclareOk ok;
    err = vh.declare_queue(d, now, ok);
  };

  if (a.role == role::kSender) {  // the peer publishes: an incoming link
    Destination dest;
    std::optional<Value> reply_target = a.target;
    if (a.target && descriptor_of(*a.target) == Coordinator::kCode)
      return refuse_attach(a, amqp_error::kNotImplemented, "transactions are not supported");
    std::optional<Target> t;
    if (a.target && !a.target->is_null()) {
      t = Target::from_value(*a.target);
      if (!t) return refuse_attach(a, amqp_error::kDecodeError, "the target is not a target");
    }
    if (t && t->dynamic) {
      broker::Error err;
      declare_temporary(err);
      if (err) return refuse_attach(a, condition_of(err), err.detail);
      dest.key = temporary;
      dest.temporary = temporary;
      t->address = Value::string("/queues/" + percent_encode(temporary));
      reply_target = t->to_value();
    } else if (!t || !t->address || t->address->is_null()) {
      dest.anonymous = true;
    } else {
      Address addr;
      std::string error;
      if (t->address->kind() != Kind::String || !parse_address(t->address->bytes(), conn_.options().declare_bare_queues, addr, error))
        return refuse_attach(a, amqp_error::kInvalidField, error.empty() ? "the address is not a string" : error);
      if (addr.kind == Address::Kind::Queue) {
        broker::Error err;
        resolve_queue(addr, err);
        if (err) return refuse_attach(a, condition_of(err), err.detail);
        if (!vh.find_queue(addr.name))
          return refuse_attach(a, amqp_error::kNotFound,
                               fmt::format("no {}", broker::resource("queue", addr.name, vh.name())));
        dest.key = addr.name;
        dest.accept_unroutable = addr.v1;
      } else {
        if (!vh.find_exchange(addr.name))
          return refuse_attach(a, amqp_error::kNotFound,
                               fmt::format("no {}", broker::resource("exchange", addr.name, vh.name())));
        dest.exchange = addr.name;
        dest.key = addr.key;
        dest.accept_unroutable = addr.v1;
      }
    }
    // Publishing needs write on the exchange (a queue's: the default one).
    if (!dest.anonymous)
      if (broker::Error e = broker::VHost::may_publish(conn_.access(), dest.exchange))
        return refuse_attach(a, condition_of(e), e.detail);
    auto link = std::make_unique<IncomingLink>(*this, a, std::move(dest));
    IncomingLink* raw = link.get();
    links_.emplace(a.handle, std::move(link));
    Attach reply;
    reply.name = a.name;
    reply.handle = a.handle;
    reply.role = role::kReceiver;
    reply.snd_settle_mode = a.snd_settle_mode;
    reply.rcv_settle_mode = a.rcv_settle_mode;
    reply.source = a.source;
    reply.target = reply_target;
    reply.max_message_size = conn_.options().max_message_size;
    conn_.send(channel_, reply);
    raw->top_up();
    return;
  }

  // The peer consumes: an outgoing link.
  if (!a.source || a.source->is_null()) return refuse_attach(a, amqp_error::kInvalidField, "the source is null");
  std::optional<Source> src = Source::from_value(*a.source);
  if (!src) return refuse_attach(a, amqp_error::kDecodeError, "the source is not a source");
  broker::QueuePtr q;
  broker::Error err;
  if (src->dynamic) {
    declare_temporary(err);
    if (err) return refuse_attach(a, condition_of(err), err.detail);
    q = vh.find_queue(temporary);
    src->address = Value::string("/queues/" + percent_encode(temporary));
  } else {
    Address addr;
    std::string error;
    if (!src->address || src->address->kind() != Kind::String ||
        !parse_address(src->address->bytes(), conn_.options().declare_bare_queues, addr, error))
      return refuse_attach(a, amqp_error::kInvalidField, error.empty() ? "the address is not a string" : error);
    if (addr.kind == Address::Kind::Queue) {
      resolve_queue(addr, err);
      if (!err) err = broker::VHost::may_consume(conn_.access(), addr.name);
      if (!err) q = vh.queue_for(addr.name, conn_.id(), err);
      if (err) return refuse_attach(a, condition_of(err), err.detail);
    } else {
      // A temporary queue bound to the exchange with the key (3.x's /exchange/ sources).
      if (!vh.find_exchange(addr.name))
        return refuse_attach(a, amqp_error::kNotFound,
                             fmt::format("no {}", broker::resource("exchange", addr.name, vh.name())));
      declare_temporary(err);
      if (!err) err = vh.bind_queue(temporary, addr.name, addr.key.value_or(""), {}, conn_.id(), conn_.access());
      if (err) {
        uint64_t n;
        if (!temporary.empty()) vh.delete_queue(temporary, false, false, conn_.id(), now, n);
        return refuse_attach(a, condition_of(err), err.detail);
      }
      q = vh.find_queue(temporary);
    }
  }
  if (!q) return refuse_attach(a, amqp_error::kInternalError, "the queue went away");
  auto link = std::make_unique<OutgoingLink>(*this, a, q, !temporary.empty());
  err = link->start();
  if (err) {
    link->close();
    return refuse_attach(a, condition_of(err), err.detail);
  }
  links_.emplace(a.handle, std::move(link));
  src->default_outcome = Released{}.to_value();
  src->outcomes = supported_outcomes();
  // 3.5.3: the reply states what is in effect. Deliveries acquire (move,
  // never copy: there is no browsing), no filter is applied, and the
  // terminus lives as long as its link.
  src->distribution_mode = "move";
  src->filter.reset();
  src->durable = terminus_durability::kNone;
  src->expiry_policy = std::string(terminus_expiry_policy::kLinkDetach);
  Attach reply;
  reply.name = a.name;
  reply.handle = a.handle;
  reply.role = role::kSender;
  // Mixed is served as unsettled.
  reply.snd_settle_mode = a.snd_settle_mode == sender_settle_mode::kSettled ? sender_settle_mode::kSettled
                                                                            : a.snd_settle_mode;
  reply.rcv_settle_mode = a.rcv_settle_mode;
  reply.source = src->to_value();
  reply.target = a.target;
  reply.initial_delivery_count = 0;
  conn_.send(channel_, reply);
}

void Session::handle_detach(const Detach& d) {
  auto it = links_.find(d.handle);
  if (it == links_.end()) {
    if (detached_.erase(d.handle)) return;  // the answer to our detach
    return end_with_error(session_error::kUnattachedHandle, fmt::format("detach of handle {}, not attached", d.handle));
  }
  std::unique_ptr<Link> link = std::move(it->second);
  links_.erase(it);
  link->close();
  Detach reply;
  reply.handle = d.handle;
  reply.closed = d.closed;
  conn_.send(channel_, reply);
}

void Session::detach_with_error(uint32_t handle, std::string_view condition, std::string description) {
  auto it = links_.find(handle);
  if (it == links_.end()) return;
  graveyard_.push_back(std::move(it->second));  // its caller may still be running
  links_.erase(it);
  graveyard_.back()->close();
  Detach d;
  d.handle = handle;
  d.closed = true;
  d.error = make_error(condition, std::move(description));
  conn_.send(channel_, d);
  detached_.insert(handle);
  conn_.flush_if_idle();
}

// -------------------------------------------------------------------- flow

Flow Session::session_flow() const {
  Flow f;
  f.next_incoming_id = next_incoming_id_;
  f.incoming_window = incoming_window_;
  f.next_outgoing_id = next_outgoing_id_;
  f.outgoing_window = UINT32_MAX;
  return f;
}

void Session::send_flow(Flow f) {
  Flow s = session_flow();
  f.next_incoming_id = s.next_incoming_id;
  f.incoming_window = s.incoming_window;
  f.next_outgoing_id = s.next_outgoing_id;
  f.outgoing_window = s.outgoing_window;
  conn_.send(channel_, f);
}

void Session::handle_flow(const Flow& f) {
  // 2.5.6: a first flow without next-incoming-id has not seen our begin:
  // our initial next-outgoing-id stands in for it.
  const uint32_t their_next_incoming = f.next_incoming_id.value_or(initial_outgoing_id_);
  remote_incoming_window_ = their_next_incoming + f.incoming_window - next_outgoing_id_;
  if (remote_incoming_window_ & 0x80000000u) remote_incoming_window_ = 0;  // behind what we sent: nothing
  remote_outgoing_window_ = f.outgoing_window;
  send_pending();
  if (f.handle) {
    auto it = links_.find(*f.handle);
    if (it == links_.end()) {
      if (detached_.contains(*f.handle)) return;
      return end_with_error(session_error::kUnattachedHandle, fmt::format("flow for handle {}, not attached", *f.handle));
    }
    it->second->on_flow(f);
  } else if (f.echo) {
    send_flow(Flow{});
  }
  if (pending_.empty()) resume();
}

void Session::resume() {
  if (ending_) return;
  std::vector<uint32_t> handles;
  for (auto& [h, _] : links_) handles.push_back(h);
  for (uint32_t h : handles) {
    auto it = links_.find(h);
    if (it == links_.end()) continue;
    if (auto* o = it->second->outgoing()) o->resume();
    else static_cast<IncomingLink*>(it->second.get())->top_up();
  }
}

// ---------------------------------------------------------------- transfer

void Session::handle_transfer(const Transfer& t, std::span<const uint8_t> payload) {
  if (incoming_window_ == 0)
    return end_with_error(session_error::kWindowViolation,
                          fmt::format("transfer beyond the incoming window (next-incoming-id {})", next_incoming_id_));
  ++next_incoming_id_;
  --incoming_window_;
  --remote_outgoing_window_;
  auto it = links_.find(t.handle);
  if (it == links_.end()) {
    if (detached_.contains(t.handle)) return;  // in flight when we detached it
    return end_with_error(session_error::kUnattachedHandle, fmt::format("transfer on handle {}, not attached", t.handle));
  }
  auto* in = it->second->incoming();
  if (!in) return end_with_error(amqp_error::kNotAllowed, fmt::format("transfer on handle {}, where we send", t.handle));
  in->on_transfer(t, payload);
}

void Session::emit_frame(std::string bytes, std::shared_ptr<const std::string> body, size_t offset, size_t length) {
  if (!pending_.empty() || remote_incoming_window_ == 0) {
    pending_.push_back(Pending{std::move(bytes), std::move(body), offset, length});
    return;
  }
  conn_.output().append(bytes);
  if (body) conn_.send_slice(std::move(body), offset, length);
  ++next_outgoing_id_;
  --remote_incoming_window_;
}

void Session::send_pending() {
  while (!pending_.empty() && remote_incoming_window_ > 0) {
    Pending p = std::move(pending_.front());
    pending_.pop_front();
    conn_.output().append(p.bytes);
    if (p.body) conn_.send_slice(std::move(p.body), p.offset, p.length);
    ++next_outgoing_id_;
    --remote_incoming_window_;
  }
}

void Session::send_delivery(OutgoingLink& link, broker::Delivery d, bool settled) {
  broker::MessagePtr msg = d.message;
  const uint32_t delivery_count = d.delivery_count;
  const bool first_acquirer = !d.redelivered;
  const uint64_t tag = settled ? deliveries_.untracked_tag() : deliveries_.track(std::move(d), link.handle());
  if (owners_.empty()) owners_base_ = tag;
  owners_.push_back(Owner{link.handle(), settled, settled ? nullptr : msg});
  while (!owners_.empty() && owners_.front().settled) {
    owners_.pop_front();
    ++owners_base_;
  }
  const uint32_t id = delivery_id(tag);
  Transfer t;
  t.handle = link.handle();
  t.delivery_id = id;
  const char tag_bytes[4] = {char(id >> 24), char(id >> 16), char(id >> 8), char(id)};
  t.delivery_tag = std::string(tag_bytes, 4);
  t.message_format = 0;
  if (settled) t.settled = true;

  scratch_.clear();
  append_delivery_prefix(scratch_, *msg, delivery_count, first_acquirer);
  const std::string_view body = msg->body_view();  // small bodies live in the message: no shared string
  const size_t body_size = msg->body_size();
  const size_t total = scratch_.size() + body_size;
  const size_t max_frame = conn_.peer_max_frame_size();
  // A large body goes by reference, each frame's slice of the stored
  // string (one iovec entry a frame, no copy); a small one is copied.
  const broker::Body shared = body_size >= 1024 ? msg->body() : nullptr;
  size_t offset = 0;
  bool first = true;
  do {
    Transfer cur;
    if (first) cur = t;
    else cur.handle = t.handle;
    cur.more = true;
    head_scratch_.clear();
    append_transfer_head(head_scratch_, channel_, cur, 0);
    const size_t head = head_scratch_.size();
    const size_t room = max_frame > head ? max_frame - head : 1;
    const size_t n = std::min(room, total - offset);
    cur.more = offset + n < total;
    // Payload octets [offset, offset + n): the prefix's, then the body's.
    const size_t prefix_n = offset < scratch_.size() ? std::min(n, scratch_.size() - offset) : 0;
    const size_t body_from = offset + prefix_n - scratch_.size();
    const size_t body_n = n - prefix_n;
    const bool now = pending_.empty() && remote_incoming_window_ > 0;  // straight into this turn's output
    std::string frame;
    std::string& out = now ? conn_.output() : frame;
    append_transfer_head(out, channel_, cur, n);
    out.append(scratch_, std::min(offset, scratch_.size()), prefix_n);
    if (body_n > 0 && !shared) out.append(body.substr(body_from, body_n));
    if (now) {
      if (body_n > 0 && shared) conn_.send_slice(shared, body_from, body_n);
      ++next_outgoing_id_;
      --remote_incoming_window_;
    } else {
      emit_frame(std::move(frame), body_n > 0 ? shared : nullptr, body_from, body_n);
    }
    offset += n;
    first = false;
  } while (offset < total);
  if (conn_.output_full()) conn_.note_output_full();
  conn_.flush_if_idle();
}

// ------------------------------------------------------------- disposition

void Session::handle_disposition(const Disposition& d) {
  if (d.role != role::kReceiver) return;  // the peer settles what it sent us: nothing is kept for it
  DeliveryState state = DeliveryState::None;
  std::optional<broker::Outcome> outcome;
  bool undeliverable_here = false;
  if (d.state && !d.state->is_null()) {
    switch (descriptor_of(*d.state)) {
      case Accepted::kCode: outcome = broker::Outcome::Accepted; break;
      case Rejected::kCode: outcome = broker::Outcome::Rejected; break;
      case Released::kCode: outcome = broker::Outcome::Released; break;
      case Modified::kCode: {
        // Back to the queue, counted when delivery-failed; undeliverable-here
        // keeps it from this link (the rule; RabbitMQ 4 drops it).
        auto m = Modified::from_value(*d.state);
        undeliverable_here = m && m->undeliverable_here.value_or(false);
        bool failed = m && m->delivery_failed.value_or(false);
        outcome = failed ? broker::Outcome::Modified : broker::Outcome::Released;
        break;
      }
      default: break;  // received: not terminal
    }
  }
  if (!outcome) {
    if (!d.settled) return;
    outcome = broker::Outcome::Released;  // settled with no outcome: the source's default-outcome
  }
  (void)state;
  const uint64_t last_tag = deliveries_.last_tag();
  if (last_tag == 0) return;
  const uint32_t last_id = delivery_id(last_tag);
  // A delivery-id to its tag: the nearest one at or before the last sent.
  auto to_tag = [&](uint32_t id) -> uint64_t {
    if (serial_lt(last_id, id)) return last_tag + 1;
    uint32_t behind = last_id - id;
    return behind >= last_tag ? 0 : last_tag - behind;
  };
  const uint32_t last = d.last.value_or(d.first);
  uint64_t tf = to_tag(d.first), tl = to_tag(last);
  if (tf > last_tag || tl == 0) return;
  tf = std::max<uint64_t>(tf, 1);
  tl = std::min(tl, last_tag);
  if (tf <= tl) {
    if (undeliverable_here) {
      const uint64_t end = owners_base_ + owners_.size();
      for (uint64_t tag = std::max(tf, owners_base_); tag <= tl && tag < end; ++tag) {
        const Owner& o = owners_[tag - owners_base_];
        if (o.settled || !o.message) continue;
        if (auto it = links_.find(o.handle); it != links_.end())
          if (auto* out = it->second->outgoing()) out->refuse(o.message);
      }
    }
    settled_keys_.clear();
    deliveries_.settle_range(tf, tl, *outcome, conn_.now(), settled_keys_);
    const uint64_t end = owners_base_ + owners_.size();
    for (uint64_t tag = std::max(tf, owners_base_); tag <= tl && tag < end; ++tag) {
      owners_[tag - owners_base_].settled = true;
      owners_[tag - owners_base_].message.reset();
    }
    while (!owners_.empty() && owners_.front().settled) {
      owners_.pop_front();
      ++owners_base_;
    }
  }
  if (!d.settled) {  // rcv-settle-mode second: we settle, the peer forgets
    Disposition reply;
    reply.role = role::kSender;
    reply.first = d.first;
    reply.last = d.last;
    reply.settled = true;
    reply.state = d.state;
    conn_.send(channel_, reply);
  }
}

void Session::release_link_deliveries(uint32_t handle) {
  // New entries may be appended while settling (a queue hands a released
  // message to another link here): index, and re-read the size.
  for (size_t i = 0; i < owners_.size(); ++i) {
    if (owners_[i].settled || owners_[i].handle != handle) continue;
    owners_[i].settled = true;
    owners_[i].message.reset();
    const uint64_t tag = owners_base_ + i;
    settled_keys_.clear();
    deliveries_.settle_range(tag, tag, broker::Outcome::Released, conn_.now(), settled_keys_);
  }
  while (!owners_.empty() && owners_.front().settled) {
    owners_.pop_front();
    ++owners_base_;
  }
}

void Session::release_parked() {
  if (ending_) return;
  std::vector<uint32_t> handles;
  for (auto& [h, _] : links_) handles.push_back(h);
  for (uint32_t h : handles)
    if (auto it = links_.find(h); it != links_.end())
      if (auto* o = it->second->outgoing()) o->release_parked();
}

void Session::dispose(uint32_t delivery_id, DeliveryState state, bool settled, std::string_view condition) {
  verdicts_.push_back(Verdict{delivery_id, state, settled, condition});
}

void Session::end_turn() {
  if (ending_) return;
  // The incoming window is replenished once per turn when half used: a
  // peer that sends more than we granted within one turn violates it.
  if (incoming_window_ <= conn_.options().incoming_window / 2) {
    incoming_window_ = conn_.options().incoming_window;
    send_flow(Flow{});
  }
  flush_dispositions();
}

void Session::flush_dispositions() {
  if (verdicts_.empty() || ending_) {
    verdicts_.clear();
    return;
  }
  static const Value accepted = Accepted{}.to_value();
  static const Value released = Released{}.to_value();
  size_t i = 0;
  while (i < verdicts_.size()) {
    const Verdict& v = verdicts_[i];
    size_t j = i + 1;
    while (j < verdicts_.size() && verdicts_[j].id == uint32_t(verdicts_[j - 1].id + 1) &&
           verdicts_[j].state == v.state && verdicts_[j].settled == v.settled && verdicts_[j].condition == v.condition)
      ++j;
    Disposition d;
    d.role = role::kReceiver;
    d.first = v.id;
    if (j - i > 1) d.last = verdicts_[j - 1].id;
    d.settled = v.settled;
    switch (v.state) {
      case DeliveryState::Accepted: d.state = accepted; break;
      case DeliveryState::Released: d.state = released; break;
      default: {
        Rejected r;
        if (!v.condition.empty()) r.error = make_error(v.condition, {});
        d.state = r.to_value();
      }
    }
    conn_.send(channel_, d);
    i = j;
  }
  verdicts_.clear();
}

void Session::describe(engine::ChannelInfo& out) const {
  out.number = channel_;
  out.messages_unacknowledged = deliveries_.unsettled();
  out.closing = ending_;
  for (const auto& [_, l] : links_)
    if (const auto* o = dynamic_cast<const OutgoingLink*>(l.get()))
      out.consumers.push_back({o->queue() ? o->queue()->name() : std::string(), l->name(), !o->presettled(), false,
                               o->link_credit()});
}

}  // namespace warren::amqp10
