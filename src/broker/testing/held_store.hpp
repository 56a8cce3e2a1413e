#pragma once
// A test-only store: it makes every persistent message in a durable queue
// wait, and completes those waits only when the test says, in the order
// the test says. It lets the front ends' waiting paths (confirms over
// ranges, tx.commit-ok, 1.0 dispositions, closing with outcomes pending)
// be tested before there is a real store, and against any completion order
// a real one could produce.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "broker/outcomes.hpp"
#include "broker/queue.hpp"
#include "broker/vhost.hpp"

namespace warren::broker::testing {

class HeldStore final : public Durability {
 public:
  explicit HeldStore(VHost& vhost) : vhost_(vhost) { vhost_.set_durability(this); }
  ~HeldStore() override { vhost_.set_durability(nullptr); }
  HeldStore(const HeldStore&) = delete;
  HeldStore& operator=(const HeldStore&) = delete;

  struct Write {
    std::string queue;
    MessagePtr msg;
    OutcomeTicket ticket;
  };

  bool must_wait(const Queue& q, const Message& msg) const override { return q.durable() && msg.persistent(); }
  void wait(const Queue& q, const MessagePtr& msg, OutcomeTicket ticket) override {
    held_.push_back(Write{q.name(), msg, ticket});
  }

  // Writes not completed yet, in the order they were asked for.
  const std::vector<Write>& held() const { return held_; }
  size_t size() const { return held_.size(); }

  // Completes held write `i` (an index into held()), then hands what became
  // known to the publishers, as a driver does after a sync.
  void complete(size_t i, bool ok = true) {
    Write w = held_.at(i);
    held_.erase(held_.begin() + ptrdiff_t(i));
    vhost_.outcomes().complete(w.ticket, ok);
    vhost_.outcomes().deliver();
  }
  void complete_newest_first() {
    while (!held_.empty()) complete(held_.size() - 1);
  }
  void complete_all(bool ok = true) {
    while (!held_.empty()) complete(0, ok);
  }

 private:
  VHost& vhost_;
  std::vector<Write> held_;
};

}  // namespace warren::broker::testing
