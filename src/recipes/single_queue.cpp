// single-queue: the amqp-locks notes' "optimized mutex with
// publish-then-consume on a single queue". The lock is one token message
// in a durable queue named after the lock; its holder is the consumer
// (prefetch 1) that has it unacknowledged.
//
//   acquire: declare the queue; if it reports no message and no consumer,
//            publish the token (persistent, confirmed); then consume with
//            prefetch 1 and wait for the token.
//   verify:  a passive declare on the holding channel (while that channel
//            lives, the broker has not taken the token back).
//   release: reject it with requeue, then close the channel.
//
// The flaw, kept on purpose (docs/locks.md): "no message and no consumer"
// then "publish" is not atomic. Two clients that declare the empty queue
// before either publishes both publish, and from then on the queue holds
// two tokens: two holders at once, for good. Nothing in the recipe ever
// removes the extra token.
#include "recipes/recipe.hpp"

namespace warren::recipes {

namespace {

class SingleQueue final : public Recipe {
 public:
  using Recipe::Recipe;

 private:
  std::optional<Held> take(Clock::time_point deadline) override {
    ch_ = conn().open_channel();
    amqp::Status s = conn().confirm_select(ch_);
    if (!s.ok()) unexpected("confirm.select", s);
    amqp::DeclareOk ok = conn().declare(ch_, lock_, {.durable = true});
    if (!ok.status.ok()) unexpected("declare " + lock_, ok.status);
    if (ok.messages == 0 && ok.consumers == 0) {
      const uint64_t seq = conn().publish(ch_, lock_, "token", {.persistent = true});
      if (conn().wait_confirm(ch_, seq) != amqp::Verdict::Acked) throw Error("single-queue: the token was not confirmed");
    }
    s = conn().qos(ch_, 1);
    if (s.ok()) s = conn().consume(ch_, lock_, false, false, {}, &consumer_);
    if (!s.ok()) unexpected("consume " + lock_, s);
    std::optional<amqp::Delivery> d = conn().next_delivery(ch_, deadline);
    if (!d) {
      close_quietly(conn(), ch_);  // withdraws, and requeues a token on its way
      return std::nullopt;
    }
    tag_ = d->tag;
    return Held{};
  }

  bool still_held() override {
    if (!conn().is_open(ch_) || conn().cancelled_by_broker(ch_, consumer_)) return false;
    return conn().declare(ch_, lock_, {.passive = true}).status.ok();
  }

  void let_go() override {
    conn().reject(ch_, tag_, true);
    close_quietly(conn(), ch_);  // a redelivery to us in between goes back too
  }
  void abandon() override { close_quietly(conn(), ch_); }
  void forget() override { ch_ = 0; }

  uint16_t ch_ = 0;
  std::string consumer_;
  uint64_t tag_ = 0;
};

}  // namespace

std::unique_ptr<LockClient> make_single_queue(const Endpoint& ep, const std::string& lock, const Options& o) {
  return std::make_unique<SingleQueue>(ep, lock, o);
}

}  // namespace warren::recipes
