// VHostStore::open: replaying a vhost's log into it. Definitions are
// applied to the vhost as their records come (through its ordinary calls);
// queue entries are gathered per queue and handed to the queues at the
// end, in seq order, each message decoded once however many queues hold it.
#include <fmt/format.h>

#include <algorithm>
#include <deque>

#include "store/vhost_store.hpp"

namespace warren::store {

using broker::MessagePtr;

class VHostStore::Recovery {
 public:
  Recovery(VHostStore& store, RecoveryReport& report, TimePoint now)
      : s_(store), vhost_(store.vhost_), report_(report), now_(now) {}

  void on_record(Position at, uint8_t type, std::span<const uint8_t> p) {
    at_ = at;
    // Positions are kept in 32 bits each (Message::Stored): a log reaches
    // neither limit (4 billion segments; segments of 4 GiB), damage can.
    if (at.segment > UINT32_MAX || at.offset > UINT32_MAX) return bad("out-of-range position");
    switch (RecordType(type)) {
      case RecordType::Exchange: return exchange(p);
      case RecordType::ExchangeDeleted: {
        In in(p);
        const std::string name(in.bytes());
        if (!in.ok() || !in.done()) return bad("exchange deletion");
        vhost_.delete_exchange(name, false);
        return;
      }
      case RecordType::Queue: return queue(p);
      case RecordType::QueueDeleted: {
        In in(p);
        const uint64_t id = in.varint();
        if (!in.ok() || !in.done()) return bad("queue deletion");
        return drop_queue(id);
      }
      case RecordType::Binding:
      case RecordType::Unbinding: return binding(p, RecordType(type) == RecordType::Binding);
      case RecordType::Message: {
        // Only what its queues need to know of it now: the message itself
        // is read at the end if it is in a queue's window, else paged.
        if (!parse_message(p, head_)) return bad("message");
        return logged(at, head_.body.size(), head_.essentials.priority);
      }
      case RecordType::Enqueue: return enqueue(p);
      case RecordType::Remove: {
        RemoveRecord r;
        if (!decode(p, r)) return bad("removal");
        if (auto q = queues_.find(r.queue); q != queues_.end())
          if (Entry* e = find(q->second, r.seq)) clear(*e);
        return;
      }
      case RecordType::Purge: {
        PurgeRecord r;
        if (!decode(p, r)) return bad("purge");
        auto q = queues_.find(r.queue);
        if (q == queues_.end()) return;
        std::sort(r.kept.begin(), r.kept.end());
        for (Entry& e : q->second.entries)
          if (e.seq < r.before_seq && !std::binary_search(r.kept.begin(), r.kept.end(), e.seq)) clear(e);
        return;
      }
    }
    bad(fmt::format("record of unknown type {}", type));
  }

  // About this many records are coming from indexes: the message table
  // is sized once (pages not written to cost nothing), not grown by
  // copies into fresh pages.
  void expect(uint64_t records) { messages_.reserve(size_t(std::min<uint64_t>(records, uint64_t(1) << 32))); }

  // A record a segment's index summarized: a message, as on_record takes
  // it (what recovery needs of one is all in its summary).
  void on_summary(Position at, uint8_t type, std::span<const uint8_t> summary) {
    at_ = at;
    if (at.segment > UINT32_MAX || at.offset > UINT32_MAX) return bad("out-of-range position");
    MessageSummary m;
    if (RecordType(type) != RecordType::Message || !decode_summary(summary, m)) return bad("index entry");
    logged(at, m.body_size, m.priority);
  }

  // Hands every queue its entries, marked redelivered, and the store its
  // counts; from here on the store listens. When the store pages, a queue
  // gets its window's worth of messages (read now) and the rest paged.
  void finish(Clocks c) {
    uint64_t declared = 0;
    for (auto& [id, rq] : queues_) {
      if (!rq.queue) {
        const auto n = std::count_if(rq.entries.begin(), rq.entries.end(), [](const Entry& e) { return e.msg != 0; });
        if (n) report_.damage.push_back(Damage{s_.opts_.dir, 0, 0, fmt::format("{} messages of queue {}, which is not declared", n, id)});
        continue;
      }
      ++declared;
      std::erase_if(rq.entries, [](const Entry& e) { return e.msg == 0; });
      const size_t resident = in_window(rq.entries);
      read(rq.entries, resident);
      // Each entry's place is freed as it is handed over: the queue's
      // paged entries take the memory its recovered ones leave.
      for (size_t i = 0; !rq.entries.empty(); ++i) {
        const Entry e = rq.entries.front();
        rq.entries.pop_front();
        TimePoint expires = broker::QueueEntry::kNever;
        if (e.expires_ms) expires = c.now + std::chrono::milliseconds(std::max<int64_t>(0, e.expires_ms - c.wall_ms));
        const broker::Message::Stored at{uint32_t(e.msg >> 32), uint32_t(e.msg)};
        const Held& h = *held(e.msg);
        if (i < resident) {
          auto m = decoded_.find(e.msg);
          if (m == decoded_.end()) continue;  // unreadable: reported
          rq.queue->replay(broker::ops::Enqueue{e.seq, m->second, expires, /*redelivered=*/true});
        } else {
          rq.queue->restore_paged(broker::PagedEntry{e.seq, expires, at, h.size, true}, h.priority);
        }
        counted(at.segment, h.size);
        ++report_.messages;
      }
      s_.attach(*rq.queue, id);
    }
    flush_counts();
    decoded_.clear();
    queues_.clear();
    messages_ = {};
    segments_ = {};
    for (const auto& [_, x] : vhost_.exchanges())
      if (x->options().durable && !x->name().empty() && !x->name().starts_with("amq.")) ++report_.exchanges;
    report_.queues = declared;
    for (const auto& [_, x] : vhost_.exchanges()) report_.bindings += x->options().durable ? x->bindings().size() : 0;
  }

 private:
  struct Entry {
    uint64_t seq;
    uint64_t msg;  // its message's key(); 0: removed
    int64_t expires_ms;
  };
  // A logged message, from its record on: its place in its segment, and
  // what its entries need of it. It stays known when no entry holds it
  // any more: a later Enqueue may name it again (a parked delivery), and
  // its record is still on disk then.
  struct Held {
    uint32_t offset;
    uint32_t size;
    uint8_t priority;
  };
  static_assert(sizeof(Held) == 12);
  // Where a segment's messages begin in messages_.
  struct SegmentRun {
    uint32_t segment;
    size_t first;
  };
  struct RecoveredQueue {
    broker::QueuePtr queue;
    std::deque<Entry> entries;  // by seq
  };

  static uint64_t key(Position p) { return p.segment << 32 | p.offset; }

  // How many of `es`'s first entries stay in memory: all unless the store
  // pages, else its window's worth (at least one).
  size_t in_window(const std::deque<Entry>& es) {
    if (!s_.opts_.memory_budget) return es.size();
    const broker::PageWindow& w = s_.opts_.window;
    size_t n = 0;
    uint64_t bytes = 0;
    while (n < es.size() && n < w.entries && (n == 0 || bytes + held(es[n].msg)->size <= w.bytes))
      bytes += held(es[n++].msg)->size;
    return n;
  }

  // Its segment counts one entry more (VHostStore::count), a run of them
  // at a time (two map lookups a run, not an entry).
  void counted(uint64_t segment, uint64_t bytes) {
    if (segment != run_.segment) {
      flush_counts();
      run_.segment = segment;
    }
    ++run_.entries;
    run_.bytes += bytes;
  }
  void flush_counts() {
    if (run_.entries) s_.count(run_.segment, run_.bytes, run_.entries);
    run_ = {};
  }
  struct {
    uint64_t segment = 0, bytes = 0, entries = 0;
  } run_;

  // A message's record was read (or its index entry): logged messages
  // come in order of place, segment by segment.
  void logged(Position at, uint64_t size, uint8_t priority) {
    const uint32_t segment = uint32_t(at.segment), offset = uint32_t(at.offset);
    const Held h{offset, uint32_t(std::min<uint64_t>(size, INT32_MAX)), priority};
    if (segments_.empty() || segments_.back().segment < segment) segments_.push_back({segment, messages_.size()});
    if (segments_.back().segment == segment && (messages_.size() == segments_.back().first || messages_.back().offset < offset)) {
      messages_.push_back(h);
      return;
    }
    // Out of order: never from a log this store wrote, but damage or a
    // stray file must not make recovery wrong. Keep the order by place.
    auto run = std::lower_bound(segments_.begin(), segments_.end(), segment,
                                [](const SegmentRun& r, uint32_t s) { return r.segment < s; });
    if (run == segments_.end() || run->segment != segment)
      run = segments_.insert(run, {segment, run == segments_.end() ? messages_.size() : run->first});
    const auto last = messages_.begin() + ptrdiff_t(run_end(size_t(run - segments_.begin())));
    auto it = std::lower_bound(messages_.begin() + ptrdiff_t(run->first), last, offset,
                               [](const Held& m, uint32_t o) { return m.offset < o; });
    if (it != last && it->offset == offset) {
      *it = h;
      return;
    }
    messages_.insert(it, h);
    for (auto r = run + 1; r != segments_.end(); ++r) ++r->first;
    hint_run_ = SIZE_MAX;
  }

  // The message logged at `k` (a key()), if its record was read; null if not.
  Held* held(uint64_t k) {
    const uint32_t segment = uint32_t(k >> 32), offset = uint32_t(k);
    // Mostly the last one found, or the one after: an enqueue follows its
    // message, a queue's entries follow their messages' order.
    if (hint_run_ < segments_.size() && segments_[hint_run_].segment == segment) {
      const size_t end = run_end(hint_run_);
      for (size_t i = hint_; i < end && i <= hint_ + 1; ++i)
        if (messages_[i].offset == offset) return &messages_[hint_ = i];
    }
    auto run = std::lower_bound(segments_.begin(), segments_.end(), segment,
                                [](const SegmentRun& r, uint32_t s) { return r.segment < s; });
    if (run == segments_.end() || run->segment != segment) return nullptr;
    const size_t r = size_t(run - segments_.begin());
    const auto first = messages_.begin() + ptrdiff_t(run->first), last = messages_.begin() + ptrdiff_t(run_end(r));
    auto it = std::lower_bound(first, last, offset, [](const Held& m, uint32_t o) { return m.offset < o; });
    if (it == last || it->offset != offset) return nullptr;
    hint_run_ = r;
    hint_ = size_t(it - messages_.begin());
    return &*it;
  }
  size_t run_end(size_t r) const { return r + 1 < segments_.size() ? segments_[r + 1].first : messages_.size(); }

  // Decodes the first `n` entries' messages (each once, however many
  // entries hold it) into decoded_.
  void read(const std::deque<Entry>& es, size_t n) {
    std::vector<broker::Message::Stored> at;
    for (size_t i = 0; i < n; ++i)
      if (!decoded_.contains(es[i].msg)) at.push_back({uint32_t(es[i].msg >> 32), uint32_t(es[i].msg)});
    std::vector<MessagePtr> msgs;
    std::vector<Damage> damage;
    s_.reader_->read(at, msgs, damage);
    for (size_t i = 0; i < at.size(); ++i)
      if (msgs[i]) decoded_[key(Position{at[i].segment, at[i].offset})] = std::move(msgs[i]);
    report_.damage.insert(report_.damage.end(), damage.begin(), damage.end());
  }

  void bad(std::string what) {
    report_.damage.push_back(
        Damage{segment_path(s_.opts_.dir, at_.segment), at_.offset, 0, "unreadable " + what + " record"});
  }

  void exchange(std::span<const uint8_t> p) {
    ExchangeRecord r;
    if (!decode(p, r)) return bad("exchange");
    broker::ExchangeDeclare d{r.name, r.type, false, true, r.auto_delete, r.internal, r.arguments};
    if (broker::Error e = vhost_.declare_exchange(d)) bad("exchange (" + e.detail + ")");
  }

  void queue(std::span<const uint8_t> p) {
    QueueRecord r;
    if (!decode(p, r)) return bad("queue");
    if (auto it = queues_.find(r.id); it != queues_.end() && it->second.queue) return;  // restated by a snapshot
    // The name's previous holder was deleted in a record that is lost
    // (its segment's damage): the later declaration wins.
    for (auto& [id, q] : queues_)
      if (q.queue && q.queue->name() == r.name) {
        drop_queue(id);
        break;
      }
    broker::QueueDeclare d{r.name, false, true, false, r.auto_delete, r.arguments, 0};
    broker::QueueDeclareOk ok;
    if (broker::Error e = vhost_.declare_queue(d, now_, ok)) return bad("queue (" + e.detail + ")");
    queues_[r.id].queue = vhost_.find_queue(r.name);
    s_.next_queue_id_ = std::max(s_.next_queue_id_, r.id + 1);
  }

  void drop_queue(uint64_t id) {
    auto it = queues_.find(uint32_t(id));
    if (it == queues_.end()) return;
    for (Entry& e : it->second.entries) clear(e);
    uint64_t n = 0;
    if (it->second.queue) vhost_.delete_queue(it->second.queue->name(), false, false, 0, now_, n);
    queues_.erase(it);
  }

  void binding(std::span<const uint8_t> p, bool add) {
    BindingRecord r;
    if (!decode(p, r)) return bad("binding");
    const broker::Destination& d = r.destination;
    broker::Error e;
    if (add)
      e = d.is_exchange ? vhost_.bind_exchange(d.name, r.source, r.key, r.arguments)
                        : vhost_.bind_queue(d.name, r.source, r.key, r.arguments, 0);
    else
      e = d.is_exchange ? vhost_.unbind_exchange(d.name, r.source, r.key, r.arguments)
                        : vhost_.unbind_queue(d.name, r.source, r.key, r.arguments, 0);
    if (e) bad("binding (" + e.detail + ")");
  }

  void enqueue(std::span<const uint8_t> p) {
    EnqueueRecord r;
    if (!decode(p, r)) return bad("enqueue");
    auto q = queues_.try_emplace(r.queue).first;  // declared later, if its declaration was damaged
    Held* m = r.message.segment <= UINT32_MAX && r.message.offset <= UINT32_MAX ? held(key(r.message)) : nullptr;
    if (!m) return bad("enqueue (its message is missing)");
    std::deque<Entry>& es = q->second.entries;
    Entry e{r.seq, key(r.message), r.expires_ms};
    if (es.empty() || es.back().seq < r.seq) {
      es.push_back(std::move(e));
      return;
    }
    // Out of order: a parked delivery coming back.
    auto it = std::lower_bound(es.begin(), es.end(), r.seq, [](const Entry& x, uint64_t s) { return x.seq < s; });
    if (it != es.end() && it->seq == r.seq) {
      clear(*it);
      *it = std::move(e);
    } else {
      es.insert(it, std::move(e));
    }
  }

  static Entry* find(RecoveredQueue& q, uint64_t seq) {
    auto& es = q.entries;
    auto it = std::lower_bound(es.begin(), es.end(), seq, [](const Entry& x, uint64_t s) { return x.seq < s; });
    return it != es.end() && it->seq == seq ? &*it : nullptr;
  }

  // The entry is gone.
  static void clear(Entry& e) { e.msg = 0; }

  VHostStore& s_;
  broker::VHost& vhost_;
  RecoveryReport& report_;
  Position at_;
  TimePoint now_;
  std::unordered_map<uint32_t, RecoveredQueue> queues_;
  // Logged messages in order of place (one array: 12 bytes a message,
  // freed whole at the end), and where each segment's begin.
  std::vector<Held> messages_;
  std::vector<SegmentRun> segments_;
  size_t hint_run_ = SIZE_MAX;  // held(): the last found, in this run,
  size_t hint_ = 0;             // at this index of messages_
  std::unordered_map<uint64_t, MessagePtr> decoded_;  // finish(): the queues' windows, each message once
  MessageRecord head_;
};

int VHostStore::open(Io& io, StoreOptions opts, broker::VHost& vhost, Clocks clocks,
                     std::unique_ptr<VHostStore>& out, RecoveryReport* report) {
  std::unique_ptr<VHostStore> s(new VHostStore(io, vhost, std::move(opts), clocks));
  RecoveryReport local;
  RecoveryReport& r = report ? *report : local;
  Recovery rec(*s, r, clocks.now);
  LogOptions lo{s->opts_.dir, s->opts_.segment_bytes, summarize_record, s->opts_.read_indexes,
                s->opts_.defer_indexes};
  Log::Replay replay{
      [&](Position at, uint8_t type, std::span<const uint8_t> p) { rec.on_record(at, type, p); },
      [&](Position at, uint8_t type, uint64_t, std::span<const uint8_t> summary) { rec.on_summary(at, type, summary); },
      [&](const Damage& d) { r.damage.push_back(d); },
      [&](const IndexNote& n) { r.index_notes.push_back(n); }};
  Log::OpenStats stats;
  replay.on_expect = [&](uint64_t records) { rec.expect(records); };
  int err = Log::open(io, lo, replay, s->log_, &stats);
  if (err) return err;
  r.segments_indexed = stats.indexed;
  r.segments_read = stats.scanned;
  r.indexes_missing = stats.missing;
  r.indexes_written = stats.indexes_written;
  rec.finish(clocks);
  // This run writes into a segment of its own that begins with every
  // definition: then no older segment is needed for them (see take_batch).
  if (s->log_->end().offset > kSegmentHeaderSize) {
    Batch rotate;
    rotate.start = s->log_->end();
    rotate.rotate = true;
    if ((err = s->log_->write(rotate))) return err;
  }
  s->adds_.start = s->removes_.start = s->durable_end_ = s->log_->end();
  s->removed_below_ = s->log_->first_segment();
  s->write_snapshot();
  s->snapshot_end_ = s->adds_.end();
  vhost.set_durability(s.get());
  vhost.set_definition_log(s.get());
  out = std::move(s);
  return 0;
}

}  // namespace warren::store
