#include "amqp091/confirms.hpp"

namespace warren::amqp091 {

void ConfirmTracker::complete(uint64_t tag, bool ack) {
  if (tag != contiguous_ + 1) {
    late_.emplace(tag, Late{ack, false});
    ++unsent_late_;
    return;
  }
  contiguous_ = tag;
  if (!ack) nacks_.push_back(tag);
  // Outcomes that were waiting for this one join the complete prefix.
  while (!late_.empty() && late_.begin()->first == contiguous_ + 1) {
    auto node = late_.extract(late_.begin());
    contiguous_ = node.key();
    if (node.mapped().sent) {
      sent_late_.insert(node.key());
    } else {
      --unsent_late_;
      if (!node.mapped().ack) nacks_.push_back(node.key());
    }
  }
}

}  // namespace warren::amqp091
