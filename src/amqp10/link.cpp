#include "amqp10/link.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "amqp10/convert.hpp"

namespace warren::amqp10 {

namespace {
std::string_view subject_of(const MessageSections& m) {
  return m.properties && m.properties->subject ? std::string_view(*m.properties->subject) : std::string_view();
}
}  // namespace

// ------------------------------------------------------------ incoming link

IncomingLink::IncomingLink(Session& s, const Attach& a, Destination dest)
    : Link(s, a.handle, a.name), dest_(std::move(dest)),
      rcv_second_(a.rcv_settle_mode == receiver_settle_mode::kSecond),
      delivery_count_(a.initial_delivery_count.value_or(0)) {}

IncomingLink::~IncomingLink() { stop_waiting(); }

// A detached link's deliveries are not settled any more: outcomes that
// complete later are dropped.
void IncomingLink::stop_waiting() {
  if (publisher_) session_.connection().vhost().outcomes().remove_publisher(std::exchange(publisher_, 0));
}

void IncomingLink::outcomes_ready(std::span<const broker::Completion> done) {
  for (const broker::Completion& c : done) {
    if (c.ok) ++session_.connection().vhost().publish_counts().confirmed;
    session_.dispose(uint32_t(c.cookie), c.ok ? DeliveryState::Accepted : DeliveryState::Rejected, !rcv_second_,
                     c.ok ? std::string_view() : amqp_error::kInternalError);
  }
  session_.connection().flush_if_idle();  // dispositions go out with the turn's output
}

void IncomingLink::close() {
  partial_.reset();
  stop_waiting();
  if (dest_.temporary.empty()) return;
  Connection& c = session_.connection();
  uint64_t n = 0;
  c.vhost().delete_queue(dest_.temporary, false, false, c.id(), c.now(), n);
  dest_.temporary.clear();
}

void IncomingLink::send_link_flow() {
  Flow f;
  f.handle = handle_;
  f.delivery_count = delivery_count_;
  f.link_credit = credit_;
  session_.send_flow(f);
}

void IncomingLink::top_up(bool force) {
  const uint32_t n = session_.connection().options().link_credit;
  if (session_.connection().publishing_blocked()) return;  // a resource alarm: no more credit
  if (!force && credit_ > n / 2) return;
  credit_ = n;
  send_link_flow();
}

void IncomingLink::on_flow(const Flow& f) {
  // The sender may have advanced its delivery-count (drain): credit it used up.
  if (f.delivery_count && serial_lt(delivery_count_, *f.delivery_count)) {
    uint32_t used = *f.delivery_count - delivery_count_;
    credit_ = used >= credit_ ? 0 : credit_ - used;
    delivery_count_ = *f.delivery_count;
  }
  if (f.echo) send_link_flow();
  top_up();
}

void IncomingLink::on_transfer(const Transfer& t, std::span<const uint8_t> payload) {
  const uint64_t max = session_.connection().options().max_message_size;
  if (!partial_) {
    if (!t.delivery_id)
      return session_.detach_with_error(handle_, amqp_error::kInvalidField, "the first transfer of a delivery has no delivery-id");
    ++delivery_count_;
    if (credit_ > 0) --credit_;
    if (t.aborted) return;
    const bool settled = t.settled.value_or(false);
    if (!t.more) {
      if (payload.size() > max)
        return session_.detach_with_error(handle_, link_error::kMessageSizeExceeded,
                                          fmt::format("message size {} is larger than the maximum {}", payload.size(), max));
      publish(*t.delivery_id, settled, payload);
      return top_up();
    }
    partial_ = Partial{*t.delivery_id, settled, std::string(as_chars(payload))};
  } else {
    if (t.aborted) {  // 2.6.14: discarded, settled
      partial_.reset();
      return;
    }
    if (t.settled.value_or(false)) partial_->settled = true;
    partial_->bytes.append(as_chars(payload));
  }
  if (partial_->bytes.size() > max)
    return session_.detach_with_error(handle_, link_error::kMessageSizeExceeded,
                                      fmt::format("message size {} is larger than the maximum {}",
                                                  partial_->bytes.size(), max));
  if (t.more) return;
  Partial p = std::move(*partial_);
  partial_.reset();
  publish(p.id, p.settled, as_bytes(p.bytes));
  top_up();
}

void IncomingLink::publish(uint32_t id, bool settled, std::span<const uint8_t> bytes) {
  Connection& c = session_.connection();
  broker::VHost& vh = c.vhost();
  auto verdict = [&](DeliveryState s, std::string_view condition = {}) {
    if (settled) return;
    if (s == DeliveryState::Accepted) ++vh.publish_counts().confirmed;
    session_.dispose(id, s, !rcv_second_, condition);
  };
  MessageSections m;
  std::string error;
  if (!split_message(bytes, m, error)) return verdict(DeliveryState::Rejected, amqp_error::kDecodeError);

  std::string exchange, key;
  if (dest_.anonymous) {
    // The anonymous relay: each message's `to` is an address.
    const std::optional<Value>& to = m.properties ? m.properties->to : std::nullopt;
    Address addr;
    if (!to || to->kind() != Kind::String ||
        !parse_address(to->bytes(), c.options().declare_bare_queues, addr, error))
      return verdict(DeliveryState::Rejected, amqp_error::kInvalidField);
    if (addr.kind == Address::Kind::Queue) {
      if (!vh.find_queue(addr.name)) {
        if (!addr.declare) return verdict(DeliveryState::Rejected, amqp_error::kNotFound);
        broker::QueueDeclare d;
        d.name = addr.name;
        d.durable = true;
        d.owner = c.id();
        d.access = c.access();
        broker::QueueDeclareOk ok;
        if (broker::Error e = vh.declare_queue(d, c.now(), ok))
          return verdict(DeliveryState::Rejected, e.code == broker::ErrorCode::AccessRefused
                                                      ? amqp_error::kUnauthorizedAccess
                                                      : amqp_error::kNotAllowed);
      }
      key = addr.name;
    } else {
      if (!vh.find_exchange(addr.name)) return verdict(DeliveryState::Rejected, amqp_error::kNotFound);
      exchange = addr.name;
      key = addr.key ? *addr.key : std::string(subject_of(m));
    }
  } else {
    exchange = dest_.exchange;
    key = dest_.key ? *dest_.key : std::string(subject_of(m));
  }
  // Write on the exchange, per message as 0-9-1's basic.publish (Access
  // caches it): the anonymous relay names a new one each time, and
  // permissions may have changed since the attach.
  if (broker::VHost::may_publish(c.access(), exchange))
    return verdict(DeliveryState::Rejected, amqp_error::kUnauthorizedAccess);

  Stored s;
  store_message(m, bytes, s);
  broker::MessagePtr msg =
      broker::Message::received(exchange, std::move(key), &PropertyCodec::instance(), std::move(s.raw), s.essentials,
                                std::make_shared<const std::string>(std::move(s.body)));
  c.note_publish();
  broker::PublishWaiter waiter;  // an unsettled transfer is settled when its outcome is known
  if (!settled) {
    if (!publisher_) publisher_ = vh.outcomes().add_publisher(*this);
    waiter = {publisher_, id};
  }
  broker::PublishResult r;
  broker::ExchangePtr x = vh.find_exchange(exchange);
  broker::Error err = x ? vh.publish(*x, msg, c.now(), r, &route_cache_, waiter)
                        : broker::Error::make(broker::ErrorCode::NotFound, "no exchange");
  if (err) return verdict(DeliveryState::Rejected, err.code == broker::ErrorCode::NotFound ? amqp_error::kNotFound
                                                                                            : amqp_error::kNotAllowed);
  // Refused by a queue (reject-publish overflow): rejected; routed nowhere: released.
  if (r.rejected) return verdict(DeliveryState::Rejected, amqp_error::kResourceLimitExceeded);
  if (r.pending) return;  // outcomes_ready() settles it
  const bool routed = r.queues > 0 || r.replies > 0;  // a direct reply-to reply counts as routed
  verdict(!routed && !dest_.accept_unroutable ? DeliveryState::Released : DeliveryState::Accepted);
}

// ------------------------------------------------------------ outgoing link

OutgoingLink::OutgoingLink(Session& s, const Attach& a, broker::QueuePtr queue, bool temporary)
    : Link(s, a.handle, a.name), queue_(std::move(queue)), temporary_(temporary),
      presettled_(a.snd_settle_mode == sender_settle_mode::kSettled) {
  if (!a.properties || a.properties->kind() != Kind::Map) return;
  for (const auto& [k, v] : a.properties->as_map()) {
    if ((k.kind() != Kind::Symbol && k.kind() != Kind::String) || k.bytes() != "x-lock-mode") continue;
    lock_mode_ = v.kind() == Kind::Symbol || v.kind() == Kind::String ? broker::parse_lock_mode(v.bytes()) : std::nullopt;
  }
}

OutgoingLink::~OutgoingLink() {
  stop();
  release_parked();
}

broker::Error OutgoingLink::start() {
  Connection& c = session_.connection();
  if (!lock_mode_)
    return broker::Error::make(broker::ErrorCode::PreconditionFailed,
                               "invalid link property 'x-lock-mode': 'shared' (or 'read') or 'exclusive' (or 'write')");
  broker::Error err = queue_->add_consumer(broker::ConsumerSlot{this, name_, 0, false, c.id(), *lock_mode_}, c.now());
  registered_ = !err;
  return err;
}

void OutgoingLink::stop() {
  if (!registered_) return;
  registered_ = false;
  queue_->remove_consumer(this, session_.connection().now());
}

void OutgoingLink::refuse(broker::MessagePtr m) {
  constexpr size_t kMaxRefused = 64;
  if (refused_.size() >= kMaxRefused) refused_.erase(refused_.begin());
  refused_.push_back(std::move(m));
}

void OutgoingLink::release_parked() {
  if (parked_.empty()) return;
  std::vector<broker::Delivery> parked = std::move(parked_);
  parked_.clear();
  // May come straight back here (the only consumer): parked again, retried later.
  for (broker::Delivery& d : parked) d.queue->settle(d.seq, broker::Outcome::Released, session_.connection().now());
}

void OutgoingLink::close() {
  stop();
  release_parked();
  session_.release_link_deliveries(handle_);
  if (!temporary_) return;
  temporary_ = false;
  Connection& c = session_.connection();
  uint64_t n = 0;
  c.vhost().delete_queue(queue_->name(), false, false, c.id(), c.now(), n);
}

void OutgoingLink::resume() {
  if (!registered_) return;
  queue_->credit_changed(session_.connection().now());
  finish_drain();
}

// 2.6.7: a draining sender that has credit left once it has sent what it
// has uses it up (delivery-count advances by it) and says so with a flow.
// Credit used up by deliveries needs no flow: the receiver saw them, and a
// drain flow with credit 0 while messages wait would tell it the queue is
// empty (rhea's drain example stops there). Held back only for now - by
// the peer's session window or our output buffer - the drain waits: the
// session resumes this link when they clear.
bool OutgoingLink::finish_drain() {
  if (!drain_ || !registered_ || credit_ == 0) return false;
  const bool held_back = session_.send_room() == 0 || session_.connection().output_full();
  if (held_back && queue_->ready_count() > 0) return false;
  delivery_count_ += credit_;
  credit_ = 0;
  send_link_flow(true);
  return true;
}

uint32_t OutgoingLink::credit() const {
  if (!registered_ || credit_ == 0 || session_.ending()) return 0;
  const uint32_t room = session_.send_room();
  if (room == 0) return 0;
  if (session_.connection().output_full()) {
    session_.connection().note_output_full();
    return 0;
  }
  return std::min(credit_, room);
}

bool OutgoingLink::deliver(broker::Delivery d) {
  if (!refused_.empty() && std::find(refused_.begin(), refused_.end(), d.message) != refused_.end()) {
    parked_.push_back(std::move(d));  // held, unsent, and offered to the others soon
    session_.connection().retry_parked_soon();
    return false;
  }
  ++delivery_count_;
  --credit_;
  session_.send_delivery(*this, std::move(d), presettled_);
  return presettled_;
}

void OutgoingLink::cancelled_by_queue() {
  registered_ = false;  // the queue is gone: nothing to remove from, nothing to delete
  temporary_ = false;
  session_.detach_with_error(handle_, amqp_error::kResourceDeleted,
                             fmt::format("queue '{}' was deleted", queue_->name()));
}

void OutgoingLink::send_link_flow(bool drain) {
  Flow f;
  f.handle = handle_;
  f.delivery_count = delivery_count_;
  f.link_credit = credit_;
  f.available = uint32_t(std::min<uint64_t>(queue_->ready_count(), UINT32_MAX));
  f.drain = drain;
  session_.send_flow(f);
}

void OutgoingLink::on_flow(const Flow& f) {
  if (f.link_credit) {
    // 2.6.7: link-credit(snd) = delivery-count(rcv) + link-credit(rcv) - delivery-count(snd).
    // A receiver that has not seen our attach sends no delivery-count: our initial one, 0.
    const uint32_t credit = f.delivery_count.value_or(0) + *f.link_credit - delivery_count_;
    credit_ = (credit & 0x80000000u) ? 0 : credit;
  }
  drain_ = f.drain;
  if (registered_) queue_->credit_changed(session_.connection().now());
  const bool flowed = finish_drain();
  if (f.echo && !flowed) send_link_flow(false);
}

}  // namespace warren::amqp10
