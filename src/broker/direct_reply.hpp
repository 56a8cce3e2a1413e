#pragma once
// RabbitMQ's direct reply-to: a requester consumes from the pseudo-queue
// "amq.rabbitmq.reply-to" (no queue exists), its requests' reply_to is
// rewritten to "amq.rabbitmq.reply-to.<token>", and a reply published to the
// default exchange with that routing key goes straight to the requester's
// consumer: no queue, no ack, no prefetch.
//
// The registry maps each name to the front end's receiver. Tokens are 128
// random bits from the Env (the kernel's, in warrend), so a name cannot be
// guessed from others seen.
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "broker/env.hpp"
#include "broker/message.hpp"

namespace warren::broker {

inline constexpr std::string_view kReplyToQueue = "amq.rabbitmq.reply-to";
inline constexpr std::string_view kReplyToPrefix = "amq.rabbitmq.reply-to.";

// A routing key (or queue name) that names a direct reply-to receiver.
inline bool is_reply_to_name(std::string_view key) { return key.starts_with(kReplyToPrefix); }

// What a front end implements for its direct reply-to consumer.
class ReplyReceiver {
 public:
  virtual ~ReplyReceiver() = default;
  // A reply for this receiver, delivered at once (settled: nothing tracks
  // it). False when the receiver cannot take it (its channel is closing).
  virtual bool deliver_reply(const MessagePtr& msg) = 0;
};

class DirectReplyRegistry {
 public:
  explicit DirectReplyRegistry(Env& env) : env_(env) {}

  // Registers `r` under a fresh name "amq.rabbitmq.reply-to.<token>" and
  // returns it. The receiver must call remove() before it goes away.
  std::string add(ReplyReceiver& r);
  void remove(std::string_view name);
  ReplyReceiver* find(std::string_view name) const;
  size_t size() const { return receivers_.size(); }

 private:
  std::string token();

  Env& env_;
  std::map<std::string, ReplyReceiver*, std::less<>> receivers_;
};

}  // namespace warren::broker
