// Channel, publishing: content headers and bodies (and the fast path that
// takes a whole message from one batch of frames), routing, publisher
// confirms and transactions' commits.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "amqp091/channel.hpp"
#include "amqp091/convert.hpp"

namespace warren::amqp091 {

// Bodies the cutter gives a string of their own are those a message keeps as one.
static_assert(FrameCutter::kOwnBodyAbove == broker::Message::kInlineBody);

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

}  // namespace warren::amqp091
