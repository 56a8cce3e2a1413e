#pragma once
// A vhost's durable state: its durable definitions and the persistent
// messages in its durable queues, in one log (docs/storage.md).
//
// The store listens to the core — DefinitionLog for definitions, QueueLog
// for each durable queue's ops, Durability for which publisher outcomes
// wait — and frames records into a batch as the core works. It does no
// I/O itself: the driver takes a batch (take_batch), has it written and
// synced on whatever thread owns the log (Log::write), and reports back
// (batch_done); then the publishers waiting on that batch hear their
// outcomes. One batch is in flight at a time, so whatever the core does
// while the disk syncs goes into the next one: group commit.
//
// Within a batch, records that add (definitions, messages, enqueues) come
// before records that remove (settlements, purges): a torn write may keep
// a prefix of a batch, and a dead letter's enqueue must never be lost
// while its removal from the queue it left is kept.
//
// After a write or sync fails the store stops for good (fail-stop; see
// File::sync): everything waiting and every later publish to a durable
// queue is refused.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/vhost.hpp"
#include "broker/pager.hpp"
#include "store/log.hpp"
#include "store/page_reader.hpp"
#include "store/records.hpp"

namespace warren::store {

struct StoreOptions {
  std::string dir;                      // the vhost's log directory
  uint64_t segment_bytes = 64u << 20;   // a segment is closed past this
  // The front ends' property codecs, for messages to come back in their
  // own format (PropertyCodec::store_id).
  std::vector<const broker::PropertyCodec*> codecs;
  // Called when records start to wait (the first since a batch was
  // taken), or reads back: the driver's cue to take them at the end of
  // its turn.
  std::function<void()> on_records;
  // Paging (broker/pager.hpp): above this many bytes of messages in memory
  // (broker::MemoryAccount), durable queues keep only their window of
  // persistent messages in memory. 0: never page.
  uint64_t memory_budget = 0;
  broker::PageWindow window;
  // A paged message could not be read back (it is lost): for the log.
  std::function<void(const Damage&)> on_damage;
  // Recovery reads sealed segments' indexes instead of the segments
  // (segment_index.hpp). False: every segment is read whole (tests).
  bool read_indexes = true;
  // LogOptions::defer_indexes: the driver calls log().write_sealed_index()
  // after each batch it reports.
  bool defer_indexes = false;
};

// Paged messages to read back for a queue, on the driver's reader thread
// (read()), then handed to the queue on the loop (reads_done).
struct ReadJob {
  std::weak_ptr<broker::Queue> queue;
  broker::PageRequest req;
  std::vector<broker::MessagePtr> msgs;
  std::vector<Damage> damage;
  bool compaction = false;  // for the store (its paged entries move), not the queue
  std::vector<TimePoint> expires;  // compaction: each entry's
  uint64_t first_segment = 0;  // the log's oldest segment when it was taken

  void read(PageReader& reader) {
    reader.forget_below(first_segment);
    reader.read(req.at, msgs, damage);
  }
};

// What recovery found.
struct RecoveryReport {
  uint64_t exchanges = 0, queues = 0, bindings = 0;
  uint64_t messages = 0;  // queue entries recovered
  std::vector<Damage> damage;
  // Sealed segments read from their index, and read whole (of which
  // without an index); indexes written for the latter; why an index was
  // not used.
  uint64_t segments_indexed = 0, segments_read = 0, indexes_missing = 0, indexes_written = 0;
  std::vector<IndexNote> index_notes;
};

// The two clocks at one moment: entries expire by the monotonic one, and
// the log keeps expiry by the wall one (monotonic time restarts at boot).
struct Clocks {
  TimePoint now;
  int64_t wall_ms = 0;  // ms since the POSIX epoch
};

class VHostStore final : public broker::Durability,
                         public broker::QueueLog,
                         public broker::DefinitionLog,
                         public broker::Pager {
 public:
  // Opens the log in opts.dir (EWOULDBLOCK: another process has it),
  // replays it into `vhost` (which must hold no durable definitions yet),
  // and from then on listens to the vhost. Every recovered message is
  // marked redelivered: without the deliveries in the log, it may have
  // been delivered before.
  static int open(Io& io, StoreOptions opts, broker::VHost& vhost, Clocks clocks, std::unique_ptr<VHostStore>& out,
                  RecoveryReport* report = nullptr);
  ~VHostStore() override;  // stops listening to the vhost and its queues
  VHostStore(const VHostStore&) = delete;
  VHostStore& operator=(const VHostStore&) = delete;

  // --- the driver's side
  // Records wait to be written and no batch is in flight.
  bool ready() const {
    return writing_.size() < kMaxInFlight &&
           (!adds_.empty() || !removes_.empty() || !pending_.empty() || !waiting_.empty());
  }
  // Takes what was recorded since the last take, to be written with
  // log().write(), in the order taken. False when there is nothing to
  // write (the publishers waiting hear now, or with the last batch in
  // flight), or kMaxInFlight batches are taken and not done.
  bool take_batch(Batch& out);
  // The oldest batch not done is written and synced (err 0), or failed:
  // its publishers' outcomes complete (vhost.outcomes().deliver() is called).
  void batch_done(int err);
  // Paged messages to read back (ReadJob::read on the driver's reader
  // thread, with a PageReader of its own). False: none.
  bool take_reads(std::vector<ReadJob>& out);
  // They are read: each queue still there takes its messages.
  void reads_done(std::vector<ReadJob>& jobs, TimePoint now);
  // A reader for the driver's thread.
  std::unique_ptr<PageReader> new_reader() const;
  // Memory is above the budget: durable queues page out what they can.
  // After each batch, and from the driver now and then.
  void relieve_memory();
  // Compaction (compaction.cpp): when the oldest segment still holding
  // messages holds few, they are copied to the end of the log so that it,
  // and the emptied segments behind it, can go. After each batch.
  void maybe_compact();
  // Kept current by the driver (once a loop turn): converts expiry times.
  void set_clock(Clocks c) { clocks_ = c; }
  // The log, for the thread that writes batches. Not to be used by others
  // while a batch is in flight.
  Log& log() { return *log_; }
  int error() const { return error_; }
  // Segments holding messages still in some queue, and how many entries.
  const std::map<uint64_t, uint64_t>& live_segments() const { return live_; }

  // --- broker::Durability
  bool must_wait(const broker::Queue& q, const broker::Message& msg) const override {
    return q.durable() && msg.persistent();
  }
  void wait(const broker::Queue& q, const broker::MessagePtr& msg, broker::OutcomeTicket ticket) override;

  // --- broker::Pager
  bool readable(const broker::Message& m) const override {
    const broker::Message::Stored s = m.stored();
    return s && s.segment >= removed_below_ && Position{s.segment, s.offset} < durable_end_;
  }
  void page_in(broker::Queue& q, broker::PageRequest req) override;
  broker::MessagePtr read_now(broker::Message::Stored at) override;

  // --- broker::QueueLog
  void record(const broker::Queue& q, const broker::QueueOp& op, const broker::Message* msg) override;

  // --- broker::DefinitionLog
  void exchange_declared(const broker::Exchange& x) override;
  void exchange_deleted(const broker::Exchange& x) override;
  void queue_declared(broker::Queue& q) override;
  void bound(const broker::Exchange& source, const broker::Binding& b) override;
  void unbound(const broker::Exchange& source, const broker::Binding& b) override;

 private:
  class Recovery;
  VHostStore(Io& io, broker::VHost& vhost, StoreOptions opts, Clocks clocks);

  template <class R>
  void add(Batch& to, RecordType type, const R& r);
  Position put(Batch& to, RecordType type, std::span<const uint8_t> a, std::span<const uint8_t> b = {});
  // The message's record, written once: its position.
  broker::Message::Stored log_message(const broker::Message& m);
  void enqueued(const broker::Queue& q, uint64_t seq, TimePoint expires, const broker::MessagePtr& m);
  // The entry left its queue: its pending enqueue is cancelled, or its
  // segment counts one entry less.
  void removed(const broker::Queue& q, const broker::Queue::EntryView& e);
  // A written entry left: its message's segment counts one entry less.
  void ask_read(ReadJob job);  // for the driver's reader thread
  void compact(uint64_t segment);
  void compacted(ReadJob& job);  // a compaction's paged messages, read
  // The message's record again, at the end of the log (once per old place).
  broker::Message::Stored relog(const broker::Message& m);
  // Entry `seq` of queue `id` holds its message at `to` from now on (its
  // Enqueue is logged again; the caller uncounts where it was).
  void relogged(uint32_t id, uint64_t seq, TimePoint expires, uint64_t bytes, broker::Message::Stored to);
  // Paged entries moved by compaction read their new place once its batch
  // is durable (until then the old one, which stays counted, so on disk).
  void repage_durable();
  struct Repage {
    std::weak_ptr<broker::Queue> queue;
    uint64_t seq;
    broker::Message::Stored from, to;
    uint64_t bytes;
  };
  std::vector<Repage> repages_;
  int64_t wall_ms_of(TimePoint expires) const;
  // An entry whose message (of `bytes`) is in `segment` is logged / gone.
  // Bytes count its records too (compaction.cpp: a generous guess, since a
  // segment of small messages is mostly records).
  static constexpr uint64_t kRecordBytes = 128;
  void count(uint64_t segment, uint64_t bytes, uint64_t entries = 1) {
    live_[segment] += entries;
    live_bytes_[segment] += bytes + entries * kRecordBytes;
  }
  void uncount(const broker::Message& m) { uncount(m.stored().segment, m.size()); }
  void uncount(uint64_t segment, uint64_t bytes);
  void report(std::vector<Damage>& damage);
  bool cancel_pending(uint32_t queue, uint64_t seq);
  void frame_pending();  // the enqueues still wanted, and their messages, into adds_
  void cue();            // StoreOptions::on_records, when work starts to wait
  void write_snapshot();
  void attach(broker::Queue& q, uint32_t id);
  void refuse_all();
  // The lowest segment an old segment's removal must stop at.
  uint64_t removal_floor() const;
  bool rotation_due() const;  // the batch being built would close its segment
  void settle_unwritten();    // take_batch() with nothing to write

  Io& io_;
  broker::VHost& vhost_;
  StoreOptions opts_;
  Clocks clocks_;
  std::unique_ptr<Log> log_;
  Batch adds_, removes_;
  std::vector<uint8_t> scratch_;  // a record's payload while it is framed
  // Two: while the writer syncs one batch, the next waits at its door,
  // so it starts the moment the sync ends instead of after a round trip
  // through the loop.
  static constexpr size_t kMaxInFlight = 2;
  // Enqueues of the batch being built, framed when it is taken (see
  // enqueued()); a null msg: cancelled.
  struct Pending {
    uint32_t queue;
    uint64_t seq;
    broker::MessagePtr msg;
    int64_t expires_ms;
  };
  struct PendingKey {
    uint32_t queue;
    uint64_t seq;
    bool operator==(const PendingKey&) const = default;
  };
  struct PendingHash {
    size_t operator()(const PendingKey& k) const { return std::hash<uint64_t>{}(k.seq * 0x9E3779B97F4A7C15ull ^ k.queue); }
  };
  std::vector<Pending> pending_;
  std::unordered_map<PendingKey, size_t, PendingHash> pending_index_;
  std::vector<broker::OutcomeTicket> waiting_;             // for records in adds_
  std::deque<std::vector<broker::OutcomeTicket>> writing_;  // per batch taken, oldest first
  std::deque<Position> writing_ends_;                        // where each ends
  Position durable_end_;  // records before this are on disk (readable back)
  std::vector<ReadJob> reads_;
  std::unique_ptr<PageReader> reader_;  // the loop's: read_now, recovery
  uint32_t next_queue_id_ = 1;
  std::map<uint64_t, uint64_t> live_;  // segment -> queue entries whose message is there
  std::map<uint64_t, uint64_t> live_bytes_;  // segment -> the sizes of those entries' messages
  size_t compaction_reads_ = 0;          // a compaction's read jobs still out
  std::unordered_map<uint64_t, broker::Message::Stored> relogged_;  // during a compaction: old place -> new
  uint64_t removed_below_ = 0;         // segments below this are gone, or going
  // Where the current segment's snapshot ends. A segment is closed only
  // once it holds more than that: one whose snapshot alone reaches
  // segment_bytes would otherwise be followed by another, for ever.
  Position snapshot_end_;
  int error_ = 0;
};

}  // namespace warren::store
