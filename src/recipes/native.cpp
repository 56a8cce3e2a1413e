// native, native-semaphore: Warren's lock queues (docs/locks.md, top).
// A consumer with prefetch 1 asks; the delivery is the grant and carries
// the fencing token; ack releases. verify() publishes the token with
// publisher confirms: ack while it is held, nack once it is not.
//
// Verify::Tx is not offered: Warren's tx.commit does not report a
// rejected publish, so native verify always uses confirms.
#include "recipes/recipe.hpp"

namespace warren::recipes {

namespace {

class Native final : public Recipe {
 public:
  Native(const Endpoint& ep, const std::string& lock, const Options& o, bool semaphore)
      : Recipe(ep, lock, o), semaphore_(semaphore) {}

 private:
  // The lock's arguments. A mutex is declared as an rwlock so that readers
  // (Options::shared) and writers can share it: with writers only it is a
  // mutex. An existing lock is used as it is, whatever its arguments.
  amqp::Args args() const {
    amqp::Args a{{"x-queue-type", std::string("lock")}};
    if (semaphore_) {
      a.push_back({"x-lock-kind", std::string("semaphore")});
      a.push_back({"x-permits", int64_t(opts_.permits)});
    } else {
      a.push_back({"x-lock-kind", std::string("rwlock")});
    }
    return a;
  }

  void declare() {
    amqp::DeclareOk ok = conn().declare(ch_, lock_, {.passive = true});
    if (ok.status.ok()) return;
    if (ok.status.code != amqp::kNotFound) unexpected("declare " + lock_, ok.status);
    ch_ = conn().open_channel();  // the 404 closed it
    ok = conn().declare(ch_, lock_, {.durable = true, .args = args()});
    if (!ok.status.ok()) unexpected("declare " + lock_, ok.status);
  }

  // The channel stays open from one cycle to the next (declared, qos 1):
  // an uncontended cycle is one basic.get (a try-lock, which never jumps
  // the line) and an ack, a round trip; only a taken lock costs a consume
  // and, at release, a cancel.
  std::optional<Held> take(Clock::time_point deadline) override {
    if (!conn().is_open(ch_)) {
      ch_ = conn().open_channel();
      declare();
      if (amqp::Status s = conn().qos(ch_, 1); !s.ok()) unexpected("qos", s);
    }
    consumer_.clear();
    if (!opts_.shared || semaphore_) {  // basic.get takes a writer's (or one permit's) grant
      amqp::Status st;
      if (std::optional<amqp::Delivery> d = conn().get(ch_, lock_, &st)) return held(*d);
      if (!st.ok()) unexpected("get " + lock_, st);
    }
    amqp::Args mode;
    if (opts_.shared && !semaphore_) mode.push_back({"x-lock-mode", std::string("shared")});
    amqp::Status s = conn().consume(ch_, lock_, false, false, mode, &consumer_);
    if (!s.ok()) unexpected("consume " + lock_, s);
    std::optional<amqp::Delivery> d = conn().next_delivery(ch_, deadline);
    if (!d || !d->token) {
      close_quietly(conn(), ch_);  // withdraws the request (and a grant on its way)
      if (d) throw Error("native: a grant without x-fencing-token from " + lock_);
      return std::nullopt;
    }
    return held(*d);
  }

  Held held(const amqp::Delivery& d) {
    if (!d.token) throw Error("native: a grant without x-fencing-token from " + lock_);
    tag_ = d.tag;
    token_ = *d.token;
    const uint32_t permit = d.permit && *d.permit > 0 ? uint32_t(*d.permit) : 0;
    return Held{uint64_t(token_), permit};
  }

  bool still_held() override {
    if (!conn().is_open(ch_) || conn().cancelled_by_broker(ch_, consumer_)) return false;
    if (!vch_ || !conn().is_open(vch_)) {
      vch_ = conn().open_channel();
      if (amqp::Status s = conn().confirm_select(vch_); !s.ok()) unexpected("confirm.select", s);
    }
    // Mandatory: a lock that was deleted would otherwise ack it (nothing
    // to reject it). The cancel of our consumer comes before the answer.
    const uint64_t seq = conn().publish(vch_, lock_, "", {.mandatory = true, .token = token_});
    std::optional<amqp::Verdict> v = conn().wait_confirm(vch_, seq);
    if (!v) throw Error("native: the broker closed the verify channel");
    return *v == amqp::Verdict::Acked && !conn().cancelled_by_broker(ch_, consumer_);
  }

  void let_go() override {
    conn().ack(ch_, tag_);
    if (consumer_.empty()) return;
    // The ack put our consumer back in line, so an uncontended lock may be
    // granted to it again before the cancel lands: the cancel releases
    // that grant, and its delivery is acked here, unused.
    if (conn().is_open(ch_)) conn().cancel(ch_, consumer_);
    while (std::optional<amqp::Delivery> stray = conn().next_delivery(ch_, Clock::now())) conn().ack(ch_, stray->tag);
    consumer_.clear();
  }

  void abandon() override { close_quietly(conn(), ch_); }
  void forget() override { ch_ = vch_ = 0; }
  bool tokens_from_broker() const override { return true; }

  const bool semaphore_;
  uint16_t ch_ = 0;   // holds the consumer and its grant
  uint16_t vch_ = 0;  // verify's, in confirm mode
  std::string consumer_;
  uint64_t tag_ = 0;
  int64_t token_ = 0;
};

}  // namespace

std::unique_ptr<LockClient> make_native(const Endpoint& ep, const std::string& lock, const Options& o, bool semaphore) {
  return std::make_unique<Native>(ep, lock, o, semaphore);
}

}  // namespace warren::recipes
