#pragma once
// A queue: messages in order (per priority), consumers served by credit,
// deliveries held until settled, and RabbitMQ's queue arguments: TTLs,
// length limits with their overflow behaviours, dead-lettering, priorities,
// single active consumer, auto-delete and exclusivity.
//
// Single-threaded; time is an input. The owner (a VHost) calls
// advance(now) at next_deadline() for message expiry and x-expires.
//
// Its messages change only through apply(QueueOp) (queue_op.hpp); the
// public calls decide which ops to apply, and a QueueLog the owner sets
// hears each one.
#include <algorithm>
#include <climits>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/consumer.hpp"
#include "broker/error.hpp"
#include "broker/lock_args.hpp"
#include "broker/message.hpp"
#include "broker/outbox.hpp"
#include "broker/pager.hpp"
#include "broker/queue_op.hpp"
#include "broker/stats.hpp"

namespace warren::broker {

enum class Overflow : uint8_t { DropHead, RejectPublish, RejectPublishDlx };

// The queue arguments Warren understands, parsed and checked.
// x-queue-type. Warren is a single node: a quorum queue or a stream is a
// classic queue here (replication is what those types add), declared with
// their rules. A lock is Warren's own (lock_queue.hpp).
enum class QueueType : uint8_t { Classic, Quorum, Stream, Lock };

struct QueueArgs {
  QueueType type = QueueType::Classic;
  std::optional<Duration> message_ttl;    // x-message-ttl
  std::optional<Duration> expires;        // x-expires
  std::optional<uint64_t> max_length;     // x-max-length
  std::optional<uint64_t> max_length_bytes;
  Overflow overflow = Overflow::DropHead;  // x-overflow
  std::optional<std::string> dead_letter_exchange;
  std::optional<std::string> dead_letter_routing_key;
  uint8_t max_priority = 0;               // x-max-priority (0: not a priority queue)
  bool single_active_consumer = false;
  LockArgs lock;                          // x-lock-*, for QueueType::Lock

  // Parses `args`; an argument of the wrong type or range is a 406 with
  // RabbitMQ's text ("PRECONDITION_FAILED - invalid arg 'x-max-length' for
  // queue 'q' in vhost '/': {unacceptable_type,longstr}"), naming `queue`.
  // Unknown arguments are ignored, as RabbitMQ does.
  static QueueArgs parse(const Table& args, Error& err, std::string_view queue = {}, std::string_view vhost = "/");
  // What a quorum queue or stream must be when declared (rabbit_quorum_queue
  // and rabbit_stream_queue's checks, in their order): none of the arguments
  // its type refuses, not auto-delete, not exclusive, durable.
  Error check_type(const Table& args, bool durable, bool exclusive, bool auto_delete, std::string_view queue,
                   std::string_view vhost) const;
  // The argument keys RabbitMQ compares when a queue is redeclared.
  static bool is_compared_on_redeclare(std::string_view key);
};

// Why a message left a queue without being consumed: x-death's "reason".
enum class DeadReason : uint8_t { Rejected, Expired, MaxLen, DeliveryLimit };

// Where a queue sends what it dead-letters, and tells about itself.
class QueueHost {
 public:
  virtual ~QueueHost() = default;
  // Where the queue's effects wait for its operation to end. Dead letters
  // and unused reports come back through it: the two calls below are
  // made from the outbox, never from inside the queue.
  virtual Outbox& outbox() = 0;
  virtual void dead_letter(Queue& from, MessagePtr msg, DeadReason why, TimePoint now) = 0;
  // The queue should go: auto-delete after its last consumer, or x-expires.
  virtual void queue_unused(Queue& q) = 0;
  // The queue's next_deadline() moved (message expiry, x-expires). A host
  // keeps an index of these so that finding the next deadline, which the
  // I/O layer asks after every read, does not scan every queue.
  virtual void deadline_changed(Queue& q, std::optional<TimePoint> before, std::optional<TimePoint> after) {}
};

// A settled delivery's fate.
enum class Outcome : uint8_t {
  Accepted,  // done: remove it
  Released,  // back to the queue, marked redelivered (0-9-1 requeue, 1.0 released)
  Rejected,  // dead-letter if configured, else drop
  Modified,  // 1.0 modified with delivery-failed: back, delivery count + 1
};

class LockQueue;
struct Policy;

class Queue : public std::enable_shared_from_this<Queue> {
 public:
  struct Options {
    std::string name;
    std::string vhost = "/";
    bool durable = false;
    bool auto_delete = false;
    uint64_t exclusive_owner = 0;  // connection id; 0: not exclusive
    Table arguments;               // as declared, for equivalence checks
    QueueArgs args;
    // A lock queue's fencing tokens come from here (its vhost's counter);
    // null: its own, from 1. Not owned.
    uint64_t* lock_tokens = nullptr;
  };

  Queue(Options opts, QueueHost& host, TimePoint now);
  ~Queue();

  const std::string& name() const { return opts_.name; }
  const Options& options() const { return opts_; }
  bool durable() const { return opts_.durable; }
  bool exclusive() const { return opts_.exclusive_owner != 0; }
  uint64_t exclusive_owner() const { return opts_.exclusive_owner; }
  // A lock (x-queue-type "lock", lock_queue.hpp); null for a message queue.
  const LockQueue* lock() const { return lock_.get(); }
  // basic.get's refusals (a lock's grant must be acknowledged).
  Error check_get(bool no_ack) const;

  enum class Accept : uint8_t { Enqueued, Rejected /* reject-publish overflow */ };
  Accept publish(MessagePtr msg, TimePoint now);

  // basic.get: the head message, if any (settled at once when no_ack).
  std::optional<Delivery> get(bool no_ack, TimePoint now);

  // Consumers, known by their Consumer pointer (tags are unique per
  // channel, not per queue). Refuses with 403 when an exclusive consumer
  // holds the queue, or when `slot` wants exclusivity and there are
  // consumers; the caller checks the queue's own exclusivity (queue_for).
  Error add_consumer(ConsumerSlot slot, TimePoint now);
  // Cancels one consumer; its unsettled deliveries stay with their session.
  void remove_consumer(Consumer* c, TimePoint now);
  // The consumer's credit went up: deliver what it may take now.
  void credit_changed(TimePoint now);

  void settle(uint64_t seq, Outcome outcome, TimePoint now);

  uint64_t purge(TimePoint now);  // drops ready messages; returns how many
  // Going away: every consumer is told, unsettled deliveries are forgotten.
  void close();
  bool closed() const { return closed_; }

  // A lock queue counts its free permits as ready and its holders as unacked.
  uint64_t ready_count() const;
  uint64_t unacked_count() const;
  uint64_t ready_bytes() const { return ready_bytes_; }
  size_t consumer_count() const { return consumers_.size(); }
  bool has_consumers() const { return !consumers_.empty(); }

  void advance(TimePoint now);
  std::optional<TimePoint> next_deadline() const;
  // The vhost's policy for this queue changed (policy.hpp): the queue's
  // arguments merged with it (none: as declared) take effect now, and
  // what is over a new length limit goes as drop-head would. Lock queues
  // take no policy.
  void apply_policy(const Policy* policy, TimePoint now);
  // The policy in effect ("": none).
  const std::string& policy_name() const { return policy_name_; }
  // basic.get, consume and redeclare count as use for x-expires.
  void touch(TimePoint now);
  // What the host was last told next_deadline() is.
  std::optional<TimePoint> reported_deadline() const { return reported_deadline_; }
  // Where this queue's effects wait (its host's).
  Outbox& outbox() const { return outbox_; }

  // Applies an op decided elsewhere (a store's log at startup, a primary's
  // for a replica); the host hears of deadline moves. Nothing is delivered
  // or dead-lettered: that was done where the op was decided. False when
  // the op cannot act (as apply's).
  bool replay(QueueOp op);
  // Hears every op from now on; nullptr: nobody. Not owned. `id` is the
  // log's name for the queue (a store's number), for it to read back.
  void set_log(QueueLog* log, uint64_t id = 0) {
    log_ = log;
    log_id_ = id;
  }
  uint64_t log_id() const { return log_id_; }
  // The seq the next enqueue takes: every entry so far is below it.
  uint64_t next_seq() const { return next_seq_; }
  // One entry, for a log: `msg` is null for a paged entry, and `at` its
  // message's place in the log (msg->stored() otherwise).
  struct EntryView {
    uint64_t seq;
    const Message* msg;
    Message::Stored at;
    TimePoint expires;
    uint32_t size;  // its message's size()
    bool unacked;
  };
  // The entries, for a log that must see what Purge or Close removes, or
  // move them (compaction): fn(const EntryView&), ready ones first.
  template <class Fn>
  void for_each_entry(Fn&& fn) const {
    for (const Lane& l : lanes_) {
      for (const Entry& e : l.head) fn(view(e, false));
      for (const PagedEntry& p : l.paged) fn(EntryView{p.seq, nullptr, p.at, p.expires, p.size, false});
      for (const Entry& e : l.tail) fn(view(e, false));
    }
    for (const auto& [_, e] : unacked_) fn(view(e, true));
  }

  // --- paging (pager.hpp): only for a durable queue, whose store pages.
  // Not owned; nullptr: nothing is paged.
  void set_pager(Pager* pager, PageWindow window = {}) {
    pager_ = pager;
    window_ = window;
  }
  // Memory is short: ready entries past the window whose messages the
  // pager can read back leave memory. Returns how many.
  size_t page_out();
  // A read back asked for by page_in came back: msgs[i] is seqs[i]'s
  // message, null if it could not be read (the entry is then lost: the
  // store reports its damage). Stale answers (a purge came first) do nothing.
  void paged_in(const PageRequest& req, std::vector<MessagePtr>& msgs, TimePoint now);
  static EntryView view(const QueueEntry& e, bool unacked) {
    return EntryView{e.seq, e.msg.get(), e.msg->stored(), e.expires,
                     uint32_t(std::min<size_t>(e.msg->size(), INT32_MAX)), unacked};
  }
  // Compaction: paged entry `seq`, whose message was logged at `from`, now
  // reads it at `to`. False when it is not paged there (any more).
  // Its expiry goes to `expires`, if given.
  bool repage(uint64_t seq, Message::Stored from, Message::Stored to, TimePoint* expires = nullptr);
  // Recovery: entry `e` joins its lane (of `priority`) paged, as a replayed
  // Enqueue would with its message. False if its seq is taken.
  bool restore_paged(PagedEntry e, uint8_t priority);
  // Ready entries in memory / only in the log.
  uint64_t paged_count() const { return paged_count_; }

  // What happened to its messages so far (stats.hpp), for the management
  // API. A lock queue counts nothing here: its grants are not messages.
  const MessageCounts& counts() const { return counts_; }

  // What the ops act on, as a value (for snapshots and tests).
  QueueState state() const;

 private:
  using Entry = QueueEntry;
  static constexpr TimePoint kNever = QueueEntry::kNever;

  // The one place the entries, counts, next_seq_ and closed_ change
  // (queue_apply.cpp): one overload per op, so that the hot paths build no
  // QueueOp unless a log listens. A removal hands the entry it removed to
  // `removed`, if given. False, and nothing recorded, when the op cannot
  // act: its seq is not where it says, or is taken already (Enqueue, Park).
  bool apply(QueueOp op);
  bool apply(ops::Enqueue o);
  bool apply(ops::Acquire o);
  bool apply(ops::Remove o, std::optional<Entry>* removed = nullptr);
  bool apply(ops::Requeue o);
  bool apply(ops::Park o);
  bool apply(ops::Purge o);
  bool apply(ops::Close o);
  template <class Op>
  void record(const Op& o, const Message* msg) {
    if (log_) log_->record(*this, QueueOp(o), msg);
  }
  // A priority level's ready entries, in seq order: `head` in memory,
  // then `paged` (only in the log), then `tail`, in memory again (newer
  // ones, kept out of `head` while anything before them is paged or
  // waits to be). Only head entries are delivered, expire or are dropped.
  struct Lane {
    std::deque<Entry> head;
    std::deque<PagedEntry> paged;
    std::deque<Entry> tail;
    uint64_t head_bytes = 0, tail_bytes = 0;
    uint64_t reading_to = 0;  // a read back of the paged up to this seq is out (0: none)
  };
  // apply's helpers. Hands ready entry `seq` to `take` (as an Entry&&) and
  // erases its place; false when it is not ready in memory.
  template <class Take>
  bool take_ready(uint64_t seq, Take&& take);
  void clear_ready();
  Lane& lane(uint8_t priority);

  // The first ready entry in memory of the highest lane that has any;
  // null when none, or when that lane's next ones are paged (asked for).
  Entry* peek_ready();
  // The lane's first entry in memory: its tail moves up when nothing is
  // paged before it. Null: empty, or paged.
  Entry* lane_front(Lane& l);
  // Asks the pager for what lanes short of their window need (paging.cpp).
  void want_pages();
  // Reads a lane's first paged entry now (basic.get). False: unreadable.
  bool page_in_now(Lane& l, TimePoint now);
  bool pageable(const Entry& e) const;

  void dispatch(TimePoint now);
  void drop_expired(TimePoint now);
  void enforce_limits(TimePoint now);
  bool over_limit(size_t extra_bytes, size_t extra_count) const;
  // Removes entry `seq` for `why`, dead-lettering it when the queue has a DLX.
  void drop(uint64_t seq, Removal why, TimePoint now);
  void dead_letter(MessagePtr msg, DeadReason why, TimePoint now);
  TimePoint expiry_for(const Message& m, TimePoint now) const;  // kNever: no TTL
  ConsumerSlot* next_consumer();
  // Drops `c` from the consumers, keeping the round robin's place; its
  // index, or nothing when it was not there.
  std::optional<size_t> erase_consumer(Consumer* c);
  void report_unused();
  // Queues `e` for the consumer of `slot`, counting it against its credit.
  // `self` is made on first use and shared by a dispatch's deliveries.
  void push_delivery(ConsumerSlot& slot, QueueEntry&& entry, bool settled, std::shared_ptr<Queue>& self);
  // From the outbox: hands `d` over and applies what follows from the
  // consumer's answer (settled on receipt; kept unsent: parked).
  friend class Outbox;
  friend class LockQueue;
  void hand_over(effects::Deliver& d);
  // A delivery withdrawn from the outbox (its consumer left first) goes
  // back among the ready, marked redelivered.
  void take_back(effects::Deliver& d);
  // Every public call is one: an operation of the core (its effects run
  // when the outermost ends), and the host hears where next_deadline()
  // went when it ends.
  class Op {
   public:
    explicit Op(Queue& q) : q_(q), op_(q.outbox_) {}
    ~Op() {
      if (q_.paged_count_) q_.want_pages();
      q_.report_deadline();
    }
    Op(const Op&) = delete;
    Op& operator=(const Op&) = delete;

   private:
    Queue& q_;
    Outbox::Operation op_;  // destroyed after ~Op's body: the deadline is told first
  };
  void report_deadline();

  Options opts_;
  QueueHost& host_;
  std::unique_ptr<LockQueue> lock_;  // set for a lock queue, whose calls go to it
  Outbox& outbox_;
  QueueLog* log_ = nullptr;
  uint64_t log_id_ = 0;
  // The state ops act on (QueueState); only apply() changes it.
  bool closed_ = false;
  std::optional<QueueArgs> declared_args_;  // before any policy (opts_.args: in effect); set by the first
  std::string policy_name_;
  uint64_t next_seq_ = 1;
  std::vector<Lane> lanes_;  // one per priority level, highest last
  uint64_t ready_count_ = 0;
  uint64_t ready_bytes_ = 0;
  std::map<uint64_t, Entry> unacked_;
  uint64_t paged_count_ = 0;  // of the ready, only in the log
  MessageCounts counts_;
  Pager* pager_ = nullptr;
  PageWindow window_;
  // Bookkeeping of this process, not ops: consumers are connections here.
  std::vector<ConsumerSlot> consumers_;
  size_t round_robin_ = 0;
  TimePoint last_used_;
  bool unused_reported_ = false;  // queue_unused() told once
  std::optional<TimePoint> reported_deadline_;
  // The message publish() is placing: with a TTL of 0 it may still go to
  // a consumer that can take it at once, but never waits in the queue.
  uint64_t fresh_seq_ = 0;
};

using QueuePtr = std::shared_ptr<Queue>;

}  // namespace warren::broker
