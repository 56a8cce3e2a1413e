// Publisher confirms on one channel: which basic.ack / basic.nack frames
// to send, when outcomes may complete late and out of order.
//
// Each publish in confirm mode takes the next sequence number (its
// delivery tag). Its outcome (ack: in every queue it was routed to, and
// durable where it must be; nack: a queue refused it) may be known at once
// or later, in any order across publishes (a store syncing, queues on
// different logs). The rule for the wire, as RabbitMQ's: `multiple` only
// over a range of tags whose outcomes are all known; outcomes above the
// lowest unknown one go out one by one. A nack is never covered by a
// multiple ack that is sent before it.
//
// When every outcome is known at once and in order (no store), this costs
// two counters per channel and one frame per flush.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

namespace warren::amqp091 {

class ConfirmTracker {
 public:
  // The next publish's tag.
  uint64_t next() { return ++assigned_; }
  uint64_t assigned() const { return assigned_; }
  // The outcome of `tag` (assigned, not completed before) is known.
  void complete(uint64_t tag, bool ack);
  // Publishes whose outcome is not known yet.
  uint64_t outstanding() const { return assigned_ - contiguous_ - late_.size(); }
  // Something to send.
  bool due() const { return contiguous_ > sent_upto_ || unsent_late_ > 0; }

  // Sends what is due through emit(tag, multiple, ack), in tag order.
  template <class Emit>
  void flush(Emit&& emit);

 private:
  struct Late {
    bool ack;
    bool sent;
  };
  // Acks (sent_upto_, end] minus the ones already sent one by one.
  template <class Emit>
  void emit_acks(uint64_t end, Emit& emit);

  uint64_t assigned_ = 0;
  uint64_t contiguous_ = 0;  // every tag up to here is complete
  uint64_t sent_upto_ = 0;   // every tag up to here has had its frame
  std::map<uint64_t, Late> late_;   // complete, above contiguous_ + 1
  size_t unsent_late_ = 0;
  std::vector<uint64_t> nacks_;     // in (sent_upto_, contiguous_], not yet sent
  std::set<uint64_t> sent_late_;    // in (sent_upto_, contiguous_], already sent one by one
};

template <class Emit>
void ConfirmTracker::flush(Emit&& emit) {
  // The complete prefix: runs of acks, cut by nacks.
  if (contiguous_ > sent_upto_) {
    for (uint64_t n : nacks_) {
      emit_acks(n - 1, emit);
      emit(n, false, false);
      sent_upto_ = n;
    }
    nacks_.clear();
    emit_acks(contiguous_, emit);
    sent_upto_ = contiguous_;
    sent_late_.clear();
  }
  // Above the lowest unknown outcome: one by one.
  if (unsent_late_ > 0) {
    for (auto& [tag, l] : late_)
      if (!l.sent) {
        emit(tag, false, l.ack);
        l.sent = true;
      }
    unsent_late_ = 0;
  }
}

template <class Emit>
void ConfirmTracker::emit_acks(uint64_t end, Emit& emit) {
  // Tags sent one by one earlier are inside the range; a multiple ack may
  // cover them again (clients track only what is outstanding), but the
  // range's last frame must be for an unsent tag.
  uint64_t top = end;
  while (top > sent_upto_ && sent_late_.contains(top)) --top;
  if (top <= sent_upto_) return;
  uint64_t unsent = top - sent_upto_;
  for (auto it = sent_late_.upper_bound(sent_upto_); it != sent_late_.end() && *it < top; ++it) --unsent;
  emit(top, unsent > 1, true);
}

}  // namespace warren::amqp091
