// Direct reply-to on a channel, as RabbitMQ 3.10's rabbit_channel: one
// no-ack consumer of the pseudo-queue "amq.rabbitmq.reply-to" per channel,
// registered with the vhost under a random name; requests published here
// with reply_to "amq.rabbitmq.reply-to" carry that name instead, and replies
// to it are written straight to this channel.
#include <fmt/format.h>

#include "amqp091/channel.hpp"

namespace warren::amqp091 {

void Channel::consume_reply_to(const BasicConsume& m) {
  Method method = m;
  std::string tag = m.consumer_tag.empty() ? fmt::format("amq.ctag-{}.{}.{}", conn_.id(), id_, next_ctag_++)
                                           : std::string(m.consumer_tag);
  if (consumers_.contains(tag))
    return error(ReplyCode::NotAllowed, fmt::format("attempt to reuse consumer tag '{}'", tag), method);
  if (!m.no_ack) return error(ReplyCode::PreconditionFailed, "reply consumer cannot acknowledge", method);
  if (!reply_name_.empty()) return error(ReplyCode::PreconditionFailed, "reply consumer already set", method);
  reply_tag_ = std::move(tag);
  reply_name_ = conn_.vhost().direct_reply().add(reply_consumer_);
  if (!m.nowait) {
    BasicConsumeOk ok;
    ok.consumer_tag = reply_tag_;
    conn_.send_method(id_, ok);
  }
}

bool Channel::cancel_reply_to(const std::string& tag) {
  if (reply_name_.empty() || tag != reply_tag_) return false;
  drop_reply_to();
  return true;
}

// Cancel, channel close and connection close (every path ends in release()).
void Channel::drop_reply_to() {
  if (reply_name_.empty()) return;
  conn_.vhost().direct_reply().remove(reply_name_);
  reply_name_.clear();
  reply_tag_.clear();
}

bool Channel::set_reply_to(const PropertiesView& props, std::string& raw) {
  std::optional<std::string_view> reply_to = props.shortstr(Property::ReplyTo);
  if (!reply_to || *reply_to != broker::kReplyToQueue) return true;
  Method m = BasicPublish{};
  if (reply_name_.empty()) {
    error(ReplyCode::PreconditionFailed, "fast reply consumer does not exist", m);
    return false;
  }
  // Rare enough to decode and encode again; the other properties keep their values.
  BasicProperties decoded;
  if (DecodeStatus st = props.decode(decoded); !st.ok()) {
    error(st.code, st.text, m);
    return false;
  }
  decoded.reply_to = reply_name_;
  raw.clear();
  encode_properties(raw, decoded);
  return true;
}

// Settled on the spot: a tag in the channel's sequence, nothing tracked,
// no prefetch; RabbitMQ writes it whatever the channel's flow.
bool Channel::deliver_reply(const broker::MessagePtr& msg) {
  if (closing_ || reply_name_.empty()) return false;
  BasicDeliver d;
  d.consumer_tag = reply_tag_;
  d.delivery_tag = session_.untracked_tag();
  d.redelivered = false;
  d.exchange = msg->exchange();
  d.routing_key = msg->routing_key();
  conn_.send_with_content(id_, d, *msg);
  if (conn_.output_full()) conn_.note_output_full();
  return true;
}

}  // namespace warren::amqp091
