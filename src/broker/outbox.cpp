#include "broker/outbox.hpp"

#include "broker/queue.hpp"

namespace warren::broker {

void Outbox::run() {
  in_run_ = true;
  while (!effects_.empty()) {
    running_.swap(effects_);
    for (run_next_ = 0; run_next_ < running_.size(); ++run_next_) run_one(running_[run_next_]);
    running_.clear();
  }
  run_next_ = 0;
  in_run_ = false;
}

void Outbox::run_one(Effect& e) {
  if (auto* d = std::get_if<effects::Deliver>(&e)) {
    d->consumer->waiting_ -= 1;
    Queue& q = *d->queue;
    return q.hand_over(*d);
  }
  if (auto* c = std::get_if<effects::Cancel>(&e)) return c->consumer->cancelled_by_queue();
  if (auto* a = std::get_if<effects::Activate>(&e)) return a->consumer->active_changed(a->active);
  if (auto* d = std::get_if<effects::DeadLetter>(&e)) return host_.dead_letter(*d->from, std::move(d->msg), d->why, d->now);
  if (auto* u = std::get_if<effects::Unused>(&e)) return host_.queue_unused(*u->queue);
}

namespace {
Consumer* consumer_of(const Effect& e) {
  if (auto* d = std::get_if<effects::Deliver>(&e)) return d->consumer;
  if (auto* c = std::get_if<effects::Cancel>(&e)) return c->consumer;
  if (auto* a = std::get_if<effects::Activate>(&e)) return a->consumer;
  return nullptr;
}
}  // namespace

void Outbox::withdraw(Consumer* c, std::vector<effects::Deliver>& back) {
  if (c->waiting_ == 0 && empty()) return;
  auto take = [&](Effect& e) {
    if (consumer_of(e) != c) return;
    if (auto* d = std::get_if<effects::Deliver>(&e)) {
      c->waiting_ -= 1;
      back.push_back(std::move(*d));
    }
    e = std::monostate{};
  };
  // Not the one being run (run_next_): it is under way.
  for (size_t i = run_next_ + 1; i < running_.size(); ++i) take(running_[i]);
  for (Effect& e : effects_) take(e);
}

}  // namespace warren::broker
