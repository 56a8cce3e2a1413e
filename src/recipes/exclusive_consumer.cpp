// exclusive-consumer: amqp-locks' "true mutex", second form ("True
// Mutex.md"): a non-exclusive auto-delete queue, consumed with
// exclusive=true. One connection's consumer at a time; the others get
// 403 ACCESS_REFUSED (which closes their channel). Cancelling, or losing
// the connection, lets go, and the queue goes with its last consumer.
//
// A declare and the consume after it are two steps: the queue may be
// deleted in between (its consumer left), and the consume then gets 404;
// that is a retry too. verify() is a passive declare on the holding
// channel, and the broker must not have cancelled the consumer.
#include "recipes/recipe.hpp"

namespace warren::recipes {

namespace {

class ExclusiveConsumer final : public Recipe {
 public:
  using Recipe::Recipe;

 private:
  std::optional<Held> take(Clock::time_point deadline) override {
    for (int attempt = 0;; ++attempt) {
      ch_ = conn().open_channel();
      amqp::DeclareOk ok = conn().declare(ch_, lock_, {.auto_delete = true});
      amqp::Status s = ok.status;
      if (s.ok()) s = conn().consume(ch_, lock_, true, true, {}, &consumer_);
      if (s.ok()) return Held{};
      ch_ = 0;  // closed by the refusal
      if (s.code != amqp::kAccessRefused && s.code != amqp::kNotFound) unexpected("consume " + lock_, s);
      if (s.code == amqp::kAccessRefused && !pause_before_retry(deadline, attempt)) return std::nullopt;
      if (Clock::now() >= deadline) return std::nullopt;
    }
  }

  bool still_held() override {
    if (!conn().is_open(ch_) || conn().cancelled_by_broker(ch_, consumer_)) return false;
    amqp::DeclareOk ok = conn().declare(ch_, lock_, {.passive = true});
    return ok.status.ok() && ok.consumers > 0 && !conn().cancelled_by_broker(ch_, consumer_);
  }

  void let_go() override {
    if (conn().is_open(ch_)) conn().cancel(ch_, consumer_);
    close_quietly(conn(), ch_);
  }
  void abandon() override { close_quietly(conn(), ch_); }
  void forget() override { ch_ = 0; }

  uint16_t ch_ = 0;
  std::string consumer_;
};

}  // namespace

std::unique_ptr<LockClient> make_exclusive_consumer(const Endpoint& ep, const std::string& lock, const Options& o) {
  return std::make_unique<ExclusiveConsumer>(ep, lock, o);
}

}  // namespace warren::recipes
