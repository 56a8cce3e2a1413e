// Queue::apply_policy: a policy's arguments taking effect on a live queue.
#include "broker/policy.hpp"
#include "broker/queue.hpp"

namespace warren::broker {

void Queue::apply_policy(const Policy* policy, TimePoint now) {
  if (lock_ || closed_) return;
  Op op(*this);
  if (!declared_args_) declared_args_ = opts_.args;
  opts_.args = policy ? merge_policy(*declared_args_, opts_.arguments, policy->definition) : *declared_args_;
  policy_name_ = policy ? policy->name : std::string();
  // A new message-ttl applies to messages enqueued from now on (their
  // expiry is fixed when they arrive, as in RabbitMQ); a new length limit
  // and a new x-expires apply at once.
  enforce_limits(now);
  report_deadline();
}

}  // namespace warren::broker
