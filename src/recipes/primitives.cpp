#include "recipes/primitives.hpp"

namespace warren::recipes {

bool ExclusiveQueueMutex::lock(amqp::Connection& c, Clock::time_point deadline) {
  if (ch_) return true;
  for (int attempt = 0;; ++attempt) {
    uint16_t ch = c.open_channel();
    amqp::DeclareOk ok = c.declare(ch, queue_, {.exclusive = true});
    if (ok.status.ok()) {
      ch_ = ch;
      return true;
    }
    // The channel is closed by the refusal.
    if (ok.status.code != amqp::kResourceLocked) unexpected("declare exclusive " + queue_, ok.status);
    if (!pause_before_retry(deadline, attempt)) return false;
  }
}

void ExclusiveQueueMutex::unlock(amqp::Connection& c) {
  if (!ch_) return;
  if (c.is_open(ch_)) c.delete_queue(ch_, queue_);
  close_quietly(c, ch_);
}

bool Prober::exists(amqp::Connection& c, const std::string& queue) {
  if (!ch_ || !c.is_open(ch_)) {
    ch_ = c.open_channel();
    amqp::Status s = how_ == Verify::Tx ? c.tx_select(ch_) : c.confirm_select(ch_);
    if (!s.ok()) unexpected("select on the probe channel", s);
  }
  const uint64_t seq = c.publish(ch_, queue, "", {.mandatory = true, .expiration = "0"});
  std::optional<amqp::Verdict> v = how_ == Verify::Tx ? c.commit(ch_) : c.wait_confirm(ch_, seq);
  if (!v) throw Error("amqp: the broker closed the probe channel");
  if (*v == amqp::Verdict::Nacked) throw Error("amqp: the broker nacked a probe of " + queue);
  return *v == amqp::Verdict::Acked;
}

}  // namespace warren::recipes
