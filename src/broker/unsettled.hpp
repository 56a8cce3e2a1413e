#pragma once
// The deliveries a channel (0-9-1) or session (1.0) has been handed and not
// yet settled, by delivery tag. It is the core's half of the lock-release
// property: when a session ends for any reason - clean close, error,
// heartbeat timeout, socket reset - close() returns every unsettled
// delivery to its queue, marked redelivered. Its destructor does the same,
// so a front end cannot forget to.
#include <cstdint>
#include <deque>
#include <vector>

#include "broker/consumer.hpp"
#include "broker/queue.hpp"

namespace warren::broker {

class Unsettled {
 public:
  Unsettled() = default;
  Unsettled(const Unsettled&) = delete;
  Unsettled& operator=(const Unsettled&) = delete;
  ~Unsettled();

  // Tracks `d` and returns its tag: 1, 2, 3... per session. `consumer` is
  // an opaque key the front end uses to account credit (0 for basic.get).
  uint64_t track(Delivery d, uint64_t consumer);

  // Settles `tag`, or with `multiple` every unsettled tag up to it.
  // Appends the consumer key of each settled delivery to `settled`.
  // False when `tag` is not unsettled (0-9-1: 406 "unknown delivery tag").
  // Tag 0 with `multiple` means every unsettled delivery (0-9-1 basic.ack).
  bool settle(uint64_t tag, bool multiple, Outcome outcome, TimePoint now, std::vector<uint64_t>& settled);
  // Settles every unsettled delivery with a tag in [first, last] (AMQP 1.0
  // disposition ranges). Costs the tracked entries in the range, not its
  // width, so a peer naming a huge range cannot make us loop over it.
  void settle_range(uint64_t first, uint64_t last, Outcome outcome, TimePoint now, std::vector<uint64_t>& settled);
  // Settles everything (basic.recover: Released; channel close: Released).
  void settle_all(Outcome outcome, TimePoint now, std::vector<uint64_t>* settled = nullptr);
  // Forgets the deliveries of a queue that went away.
  void forget_queue(const Queue* q);

  void close(TimePoint now) { settle_all(Outcome::Released, now); }
  size_t unsettled() const { return live_; }
  uint64_t last_tag() const { return next_tag_ - 1; }
  // A tag for a delivery settled on the spot (no-ack): it takes its place in
  // the sequence without being tracked.
  uint64_t untracked_tag() { return next_tag_++; }

 private:
  struct Tracked {
    uint64_t tag;
    Delivery delivery;
    uint64_t consumer;
    bool settled = false;
  };
  Tracked* find(uint64_t tag);
  size_t index_of(uint64_t tag) const;  // first entry with a tag >= `tag`
  void settle_one(Tracked& t, Outcome outcome, TimePoint now, std::vector<uint64_t>* settled);
  void trim();

  // Each settling call is one operation of the core: the deliveries that
  // its settlements free run after it (outbox.hpp), so track() is never
  // called while this session is walking its entries. Taken from the
  // first delivery's queue: a session's queues are all of one vhost.

  std::deque<Tracked> tracked_;  // in tag order (with gaps for untracked tags); settled ones trimmed from the front
  uint64_t next_tag_ = 1;
  size_t live_ = 0;
  Outbox* outbox_ = nullptr;
  TimePoint last_now_{};  // for the destructor, which is given no time
};

}  // namespace warren::broker
