// token-semaphore-alo, token-semaphore-amo (and single-queue, below): the RabbitMQ blog's semaphore
// ("Distributed Semaphores with RabbitMQ", 2014). A queue named after the
// lock holds N token messages; a holder is a consumer (prefetch 1) with a
// token unacknowledged. Taking a token is the "decrement" of the amqp-locks
// notes; rejecting it with requeue, or losing the channel, gives it back.
//
//   acquire: make sure the N tokens were put in (below), then consume with
//            prefetch 1 and wait for a token.
//   verify:  a passive declare on the holding channel.
//   release: reject the token with requeue, then close the channel.
//
// The tokens are put in under the administration mutex ("LOCK.admin", an
// exclusive queue): check, and fill only if nobody did. The two variants
// differ in what the check looks at and in how long the tokens live, which
// is the seed's choice between at-least-once and at-most-once:
//
//  alo  The queue is durable and its tokens persistent; "LOCK.filled" (a
//       durable queue) is declared once all N are confirmed, and is what
//       the check looks at. A filler that dies before it is replaced: the
//       next one deletes the partial queue and fills again. Every token
//       taken by a holder that dies comes back (at least once), across
//       broker restarts too; none is ever lost.
//  amo  The queue is AUTODELETE (and transient): it exists while someone
//       consumes it, and its existence is the check. The filler starts
//       consuming before it publishes, so a filler that dies mid-fill
//       takes the partial queue with it (if nobody else joined). The
//       tokens are published at most once per life of the queue, never
//       refilled while it exists: a holder that dies hands its token on
//       only to clients consuming at that moment; with none, the token
//       goes with the queue and a fresh set is made by the next client.
//
// single-queue, amqp-locks' "optimized mutex with publish-then-consume on a
// single queue", is alo with one token: amqp-locks does not say how the one
// token is made and kept single, and this fill is how. It reports no permit
// slot (a mutex). Until 2026-12-07 it made the token by check-then-publish
// (publish if a declare reports no message and no consumer), which races:
// clients that start together each publish one, and from then on the lock
// has two holders for good (the prover counted 1,486 double grants in 60 s
// on Warren, 3,722 on RabbitMQ; recipes_test's SingleQueueCreation replays it).
//
// All: a holder cut off from the broker (partition, missed heartbeats,
// RabbitMQ's consumer_timeout) still believes it holds after the broker has
// given its token to another. Each token names its slot, and the fencing
// token (recipes/fence.hpp) is counted per slot, so a resource can refuse
// that holder's late writes. docs/locks.md has the rest.
#include "recipes/primitives.hpp"

namespace warren::recipes {

namespace {

// A token's body names its permit slot ("token 3", as fill() makes them).
uint32_t permit_of(const std::string& body) {
  constexpr std::string_view kPrefix = "token ";
  return body.starts_with(kPrefix) ? uint32_t(parse_counter(body.substr(kPrefix.size()))) : 0;
}

class TokenSemaphore final : public Recipe {
 public:
  TokenSemaphore(const Endpoint& ep, const std::string& lock, const Options& o, bool at_most_once, bool mutex)
      : Recipe(ep, lock, o), amo_(at_most_once), mutex_(mutex), permits_(mutex ? 1 : o.permits), admin_(lock + ".admin") {}

 private:
  std::string marker() const { return lock_ + ".filled"; }

  // Has the fill been done (and not undone)?
  bool filled() { return queue_exists(conn(), amo_ ? lock_ : marker()); }

  // Under the administration mutex, after filled() said no.
  void fill() {
    uint16_t ch = admin_.channel();
    if (amo_) {
      amqp::DeclareOk ok = conn().declare(ch, lock_, {.auto_delete = true});
      if (!ok.status.ok()) unexpected("declare " + lock_, ok.status);
      start_consuming();
    } else {
      amqp::Status s = conn().delete_queue(ch, lock_);  // what a filler that died left
      if (!s.ok()) unexpected("delete " + lock_, s);
      amqp::DeclareOk ok = conn().declare(ch, lock_, {.durable = true});
      if (!ok.status.ok()) unexpected("declare " + lock_, ok.status);
    }
    uint16_t pub = conn().open_channel();
    if (amqp::Status s = conn().confirm_select(pub); !s.ok()) unexpected("confirm.select", s);
    for (uint32_t i = 1; i <= permits_; ++i) {
      const uint64_t seq = conn().publish(pub, lock_, "token " + std::to_string(i), {.persistent = !amo_});
      if (conn().wait_confirm(pub, seq) != amqp::Verdict::Acked) throw Error("token-semaphore: a token was not confirmed");
    }
    close_quietly(conn(), pub);
    if (!amo_) {
      amqp::DeclareOk ok = conn().declare(ch, marker(), {.durable = true});
      if (!ok.status.ok()) unexpected("declare " + marker(), ok.status);
    }
  }

  // false: the queue is not there (amo: it went with its last consumer).
  bool start_consuming() {
    ch_ = conn().open_channel();
    amqp::Status s = conn().qos(ch_, 1);
    if (s.ok()) s = conn().consume(ch_, lock_, false, false, {}, &consumer_);
    if (s.ok()) return true;
    ch_ = 0;
    if (s.code != amqp::kNotFound) unexpected("consume " + lock_, s);
    return false;
  }

  std::optional<Held> take(Clock::time_point deadline) override {
    while (!conn().is_open(ch_)) {
      if (!filled()) {
        if (!admin_.lock(conn(), deadline)) return std::nullopt;
        if (!filled()) fill();
        admin_.unlock(conn());
      }
      if (!conn().is_open(ch_) && !start_consuming() && Clock::now() >= deadline) return std::nullopt;
    }
    std::optional<amqp::Delivery> d = conn().next_delivery(ch_, deadline);
    if (!d) {
      close_quietly(conn(), ch_);  // withdraws, and requeues a token on its way
      return std::nullopt;
    }
    tag_ = d->tag;
    // A token's body names its permit slot ("token 3"), which fences per slot.
    return Held{.permit = mutex_ ? 0 : permit_of(d->body)};
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
  void forget() override {
    admin_.forget();
    ch_ = 0;
  }

  const bool amo_;
  const bool mutex_;  // single-queue
  const uint32_t permits_;
  ExclusiveQueueMutex admin_;
  uint16_t ch_ = 0;
  std::string consumer_;
  uint64_t tag_ = 0;
};

}  // namespace

std::unique_ptr<LockClient> make_token_semaphore(const Endpoint& ep, const std::string& lock, const Options& o,
                                                 bool at_most_once) {
  return std::make_unique<TokenSemaphore>(ep, lock, o, at_most_once, false);
}

std::unique_ptr<LockClient> make_single_queue(const Endpoint& ep, const std::string& lock, const Options& o) {
  return std::make_unique<TokenSemaphore>(ep, lock, o, false, true);
}

}  // namespace warren::recipes
