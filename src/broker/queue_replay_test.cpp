// Random runs of every public Queue call, over many seeds, on queues with
// random arguments, with consumers that publish, settle and get from
// inside deliver(). A mirror queue is given only the ops the queue
// records; after every call it must hold the same state. A change made
// without apply(), or applied but not recorded, shows as a difference.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <memory>
#include <random>

#include "broker/queue.hpp"
#include "broker/queue_op.hpp"
#include "broker/test_util.hpp"

namespace warren::broker {
namespace {

using namespace test;

class RandomRun {
 public:
  explicit RandomRun(uint64_t seed)
      : rng_(seed),
        q_(make_queue(host_, random_args())),
        mirror_(std::make_shared<Queue>(q_->options(), host_, t0)),
        log_(mirror_.get()) {
    q_->set_log(&log_);
  }

  // False once the mirror differs (the failure is reported).
  bool step() {
    switch (pick({30, 8, 20, 8, 10, 5, 4, 2, 1, 1})) {
      case 0: publish(); break;
      case 1: get(); break;
      case 2: settle_one(); break;
      case 3: now_ += Duration(pick_in(0, 120)), q_->advance(now_); break;
      case 4: change_credit(); break;
      case 5: add_consumer(); break;
      case 6: remove_consumer(); break;
      case 7: q_->purge(now_); break;
      case 8: q_->touch(now_); break;
      case 9:
        if (pick_in(0, 20) == 0) q_->close();
        break;
    }
    now_ += Duration(pick_in(0, 10));
    return same();
  }

  // The queue is deleted: it and the mirror must end alike too.
  bool close() {
    q_->close();
    return same();
  }
  const std::vector<QueueOp>& ops() const { return log_.ops; }

 private:
  uint64_t pick_in(uint64_t lo, uint64_t hi) { return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_); }
  bool chance(int percent) { return pick_in(0, 99) < uint64_t(percent); }
  size_t pick(std::initializer_list<int> weights) {
    int total = 0;
    for (int w : weights) total += w;
    int x = int(pick_in(0, uint64_t(total - 1)));
    size_t i = 0;
    for (int w : weights) {
      if (x < w) return i;
      x -= w, ++i;
    }
    return i;
  }

  Table random_args() {
    Table a;
    if (chance(50)) a.emplace_back("x-max-priority", int(pick_in(1, 4)));
    if (chance(40)) a.emplace_back("x-message-ttl", std::array{0, 20, 200}[pick_in(0, 2)]);
    if (chance(50)) a.emplace_back("x-max-length", int(pick_in(0, 6)));
    if (chance(25)) a.emplace_back("x-max-length-bytes", int(pick_in(5, 40)));
    if (chance(40)) a.emplace_back("x-overflow", std::array{"drop-head", "reject-publish", "reject-publish-dlx"}[pick_in(0, 2)]);
    if (chance(50)) a.emplace_back("x-dead-letter-exchange", "dlx");
    if (chance(20)) a.emplace_back("x-single-active-consumer", true);
    return a;
  }

  MessagePtr random_message() {
    Properties p;
    if (chance(60)) p.priority = uint8_t(pick_in(0, 5));
    if (chance(30)) p.expiration = std::array{"0", "10", "100"}[pick_in(0, 2)];
    return msg(std::string(pick_in(0, 12), char('a' + pick_in(0, 25))), "k", p);
  }

  void publish() { q_->publish(random_message(), now_); }

  void get() {
    if (std::optional<Delivery> d = q_->get(chance(40), now_)) handed_.push_back(d->seq);
  }

  void settle_one() {
    if (handed_.empty()) return;
    const uint64_t seq = handed_[pick_in(0, handed_.size() - 1)];  // settled already, at times
    q_->settle(seq, Outcome(pick_in(0, 3)), now_);
  }

  void change_credit() {
    if (live_.empty()) return;
    FakeConsumer* c = live_[pick_in(0, live_.size() - 1)];
    c->set_credit(chance(20) ? UINT32_MAX : uint32_t(pick_in(0, 4)));
    q_->credit_changed(now_);
  }

  void add_consumer() {
    if (live_.size() >= 4) return;
    const bool settling = chance(40);
    const uint32_t credit = uint32_t(pick_in(0, 4));
    std::unique_ptr<FakeConsumer> c = settling ? std::make_unique<SettlingConsumer>(credit)
                                               : std::make_unique<FakeConsumer>(credit, /*no_ack=*/chance(10));
    FakeConsumer* raw = c.get();
    raw->on_deliver = [this, raw](const Delivery& d) { on_deliver(*raw, d); };
    ConsumerSlot slot{raw, "c" + std::to_string(all_.size()), int(pick_in(0, 2)), chance(5)};
    all_.push_back(std::move(c));
    if (!q_->add_consumer(slot, now_)) live_.push_back(raw);
  }

  void remove_consumer() {
    if (live_.empty()) return;
    const size_t i = pick_in(0, live_.size() - 1);
    q_->remove_consumer(live_[i], now_);
    live_.erase(live_.begin() + long(i));
  }

  // What a front end may do from inside deliver(): a few nested calls per
  // step, so that re-entry cannot go on for ever.
  void on_deliver(FakeConsumer& c, const Delivery& d) {
    handed_.push_back(d.seq);
    if (auto* s = dynamic_cast<SettlingConsumer*>(&c)) s->park = chance(20);
    if (nested_budget_ == 0 || !chance(25)) return;
    --nested_budget_;
    switch (pick_in(0, 3)) {
      case 0: publish(); break;
      case 1: q_->settle(d.seq, Outcome(pick_in(0, 3)), now_); break;
      case 2: get(); break;
      case 3: q_->credit_changed(now_); break;
    }
  }

  bool same() {
    nested_budget_ = 3;
    const QueueState s = q_->state();
    uint64_t bytes = 0;
    for (const QueueEntry& e : s.ready) bytes += e.msg->size();
    EXPECT_EQ(s.ready.size(), q_->ready_count());
    EXPECT_EQ(bytes, q_->ready_bytes());
    EXPECT_EQ(s.unacked.size(), q_->unacked_count());
    EXPECT_EQ(mirror_->state(), s);
    EXPECT_EQ(mirror_->ready_count(), q_->ready_count());
    EXPECT_EQ(mirror_->ready_bytes(), q_->ready_bytes());
    return !::testing::Test::HasFailure();
  }

  std::mt19937_64 rng_;
  FakeHost host_;
  QueuePtr q_, mirror_;
  OpRecorder log_;
  TimePoint now_ = t0;
  std::vector<std::unique_ptr<FakeConsumer>> all_;  // outlive the queue's pointers
  std::vector<FakeConsumer*> live_;
  std::vector<uint64_t> handed_;
  int nested_budget_ = 3;
};

TEST(QueueReplay, RandomRunsAreRebuiltByTheirOps) {
  std::map<std::string, int> seen;  // op kinds, and removals by why
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    RandomRun run(seed);
    for (int i = 0; i < 300; ++i)
      if (!run.step()) {
        ADD_FAILURE() << "seed " << seed << ", step " << i;
        return;
      }
    if (!run.close()) {
      ADD_FAILURE() << "seed " << seed << ", closing";
      return;
    }
    for (const QueueOp& op : run.ops()) {
      std::string d = OpRecorder::describe(op);
      ++seen[d.substr(0, d.find(' '))];
      if (std::holds_alternative<ops::Remove>(op)) ++seen[d.substr(d.rfind(' ') + 1)];
    }
  }
  // Every op, and every reason to remove, came up often.
  for (auto kind : {"enqueue", "acquire", "remove", "requeue", "park", "purge", "close", "consumed", "acked",
                    "rejected", "expired", "maxlen"})
    EXPECT_GT(seen[kind], 50) << kind;
}

}  // namespace
}  // namespace warren::broker
