#pragma once
// Paging: a durable queue's backlog is bounded by disk, not memory. Ready
// entries past a queue's window keep only where their message is in the
// store's log (a PagedEntry, 32 bytes); the message itself leaves memory
// once no other queue holds it, and is read back, off the event loop, as
// consumers come near it. docs/storage.md ("Paging") has the design.
//
// The core decides which entries leave and when they are wanted back; the
// store (which implements Pager) knows whether a message can be read back
// and reads it.
#include <cstdint>
#include <vector>

#include "broker/message.hpp"

namespace warren::broker {

class Queue;

// A ready entry whose message is only in the log. Never delivered before
// (a paged entry has no delivery count), though maybe before a restart.
struct PagedEntry {
  uint64_t seq;
  TimePoint expires;
  Message::Stored at;
  uint32_t size : 31;  // its message's size(), for x-max-length-bytes
  bool redelivered : 1;
  bool operator==(const PagedEntry&) const = default;
};
static_assert(sizeof(PagedEntry) == 32);

// How much of a queue stays in memory once memory is short: a lane keeps
// its first `entries` ready entries, or `bytes` of them, whichever is less
// (at least one), and reads more back when it falls below half of that.
struct PageWindow {
  uint32_t entries = 1024;
  uint64_t bytes = 4u << 20;
};

// A read back, answered later by Queue::paged_in.
struct PageRequest {
  uint8_t lane;
  std::vector<uint64_t> seqs;
  std::vector<Message::Stored> at;
};

class Pager {
 public:
  virtual ~Pager() = default;
  // The message's record is on stable storage: dropping it from memory
  // loses nothing.
  virtual bool readable(const Message& m) const = 0;
  // Reads the requested messages back off the event loop; the queue hears
  // Queue::paged_in with them (or not at all, if it is gone by then).
  virtual void page_in(Queue& q, PageRequest req) = 0;
  // Reads one now, on the caller's thread (basic.get on a queue whose head
  // is out: rare, as reads are asked for well ahead). Null: unreadable.
  virtual MessagePtr read_now(Message::Stored at) = 0;
};

}  // namespace warren::broker
