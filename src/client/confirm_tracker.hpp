#pragma once
// The publisher confirms of one channel in one connection epoch.
//
// publish() assigns the next sequence number and registers the publish's
// callback in one call, made in the same locked step as the write of the
// frames (Session::publish). The broker's basic.ack / basic.nack complete
// entries by sequence number, singly or `multiple`; a basic.return marks a
// mandatory entry so that its ack completes it as Returned. When the
// connection is lost, fail_all() completes every entry as Unknown and
// restart() puts the sequence back to 1, in the same step, so an ack of the
// next epoch can only ever find entries of the next epoch
// (models/warren-client-confirms.pml checks exactly this).
//
// Entries live in a deque indexed by sequence number: sequence numbers are
// dense and acks mostly arrive in order, so completion is O(1) amortized and
// a publish allocates nothing once the deque has grown to the window.
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "client/types.hpp"

namespace warren::client {

struct Completion {
  ConfirmCallback callback;
  Outcome outcome;
};

class ConfirmTracker {
 public:
  // The sequence number the next publish gets (1 after confirm.select).
  uint64_t next() const { return next_; }
  size_t pending() const { return pending_; }

  // Registers a publish; returns its sequence number. `message_id` lets a
  // return find its publish exactly (see returned()).
  uint64_t add(ConfirmCallback cb, bool mandatory, std::string_view exchange, std::string_view routing_key,
               std::string_view message_id);

  // basic.ack / basic.nack. Completions go to `out`, in sequence order.
  // False if `tag` is a sequence number never published in this epoch (a
  // broker bug: the caller closes the connection).
  bool settle(uint64_t tag, bool multiple, bool nack, std::vector<Completion>& out);

  // basic.return: marks the publish it belongs to, so its ack completes it
  // as Returned. The broker names no sequence number in a return; it
  // returns a channel's messages in publish order, before their acks. So
  // the return belongs to the earliest pending mandatory publish with the
  // same message-id if it has one, else the earliest with the same exchange
  // and routing key not yet returned. (Two in-flight mandatory publishes to
  // one exchange and key, the first routed and the second not, can only be
  // told apart by a message-id: docs/client.md.)
  void returned(std::string_view exchange, std::string_view routing_key, std::string_view message_id);

  // Connection lost: completes every pending publish as Unknown.
  void fail_all(std::vector<Completion>& out);
  // confirm.select on a new channel (or a recovered one): next() is 1 again.
  // Only valid with nothing pending.
  void restart();

 private:
  struct Entry {
    ConfirmCallback callback;
    bool done = false;
    bool mandatory = false;
    bool returned = false;
  };
  struct ReturnKey {  // mandatory publishes only
    uint64_t seq;
    std::string exchange, routing_key, message_id;
  };
  void complete(uint64_t seq, Outcome o, std::vector<Completion>& out);
  void trim();

  uint64_t next_ = 1;
  uint64_t base_ = 1;  // sequence number of entries_.front()
  size_t pending_ = 0;
  std::deque<Entry> entries_;
  std::deque<ReturnKey> returns_;
};

}  // namespace warren::client
