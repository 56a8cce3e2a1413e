#include "broker/outbox.hpp"

#include "broker/queue.hpp"

namespace warren::broker {

void Outbox::run() {
  running_ = true;
  while (next_ < effects_.size()) {
    Effect e = std::move(effects_[next_++]);  // by value: a callee's pushes may move the vector
    run_one(e);
  }
  running_ = false;
  effects_.clear();
  next_ = 0;
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
  for (size_t i = next_; i < effects_.size(); ++i) {
    if (consumer_of(effects_[i]) != c) continue;
    if (auto* d = std::get_if<effects::Deliver>(&effects_[i])) {
      c->waiting_ -= 1;
      back.push_back(std::move(*d));
    }
    effects_[i] = std::monostate{};
  }
}

}  // namespace warren::broker
