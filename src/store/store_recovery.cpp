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
        messages_[key(at)] = Held{uint32_t(std::min<size_t>(head_.body.size(), INT32_MAX)), head_.essentials.priority, 0};
        return;
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
      for (size_t i = 0; i < rq.entries.size(); ++i) {
        const Entry& e = rq.entries[i];
        TimePoint expires = broker::QueueEntry::kNever;
        if (e.expires_ms) expires = c.now + std::chrono::milliseconds(std::max<int64_t>(0, e.expires_ms - c.wall_ms));
        const broker::Message::Stored at{uint32_t(e.msg >> 32), uint32_t(e.msg)};
        const Held& h = messages_.at(e.msg);
        if (i < resident) {
          auto m = decoded_.find(e.msg);
          if (m == decoded_.end()) continue;  // unreadable: reported
          rq.queue->replay(broker::ops::Enqueue{e.seq, m->second, expires, /*redelivered=*/true});
        } else {
          rq.queue->restore_paged(broker::PagedEntry{e.seq, expires, at, h.size, true}, h.priority);
        }
        s_.count(at.segment, h.size);
        ++report_.messages;
      }
      s_.attach(*rq.queue, id);
    }
    decoded_.clear();
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
  // A logged message some entry holds.
  struct Held {
    uint32_t size;
    uint8_t priority;
    uint32_t entries;  // how many hold it
  };
  struct RecoveredQueue {
    broker::QueuePtr queue;
    std::deque<Entry> entries;  // by seq
  };

  static uint64_t key(Position p) { return p.segment << 32 | p.offset; }

  // How many of `es`'s first entries stay in memory: all unless the store
  // pages, else its window's worth (at least one).
  size_t in_window(const std::deque<Entry>& es) const {
    if (!s_.opts_.memory_budget) return es.size();
    const broker::PageWindow& w = s_.opts_.window;
    size_t n = 0;
    uint64_t bytes = 0;
    while (n < es.size() && n < w.entries && (n == 0 || bytes + messages_.at(es[n].msg).size <= w.bytes))
      bytes += messages_.at(es[n++].msg).size;
    return n;
  }

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
    auto m = messages_.find(key(r.message));
    if (m == messages_.end()) return bad("enqueue (its message is missing)");
    ++m->second.entries;
    std::deque<Entry>& es = q->second.entries;
    Entry e{r.seq, m->first, r.expires_ms};
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

  // The entry is gone; so is its message once no entry holds it.
  void clear(Entry& e) {
    if (!e.msg) return;
    auto it = messages_.find(e.msg);
    if (it != messages_.end() && --it->second.entries == 0) messages_.erase(it);
    e.msg = 0;
  }

  VHostStore& s_;
  broker::VHost& vhost_;
  RecoveryReport& report_;
  Position at_;
  TimePoint now_;
  std::unordered_map<uint32_t, RecoveredQueue> queues_;
  // Logged messages by position, from their record until no entry holds
  // them; a message no entry holds yet is kept (its enqueue comes later).
  std::unordered_map<uint64_t, Held> messages_;
  std::unordered_map<uint64_t, MessagePtr> decoded_;  // finish(): the queues' windows, each message once
  MessageRecord head_;
};

int VHostStore::open(Io& io, StoreOptions opts, broker::VHost& vhost, Clocks clocks,
                     std::unique_ptr<VHostStore>& out, RecoveryReport* report) {
  std::unique_ptr<VHostStore> s(new VHostStore(io, vhost, std::move(opts), clocks));
  RecoveryReport local;
  RecoveryReport& r = report ? *report : local;
  Recovery rec(*s, r, clocks.now);
  int err = Log::open(
      io, LogOptions{s->opts_.dir, s->opts_.segment_bytes},
      [&](Position at, uint8_t type, std::span<const uint8_t> p) { rec.on_record(at, type, p); },
      [&](const Damage& d) { r.damage.push_back(d); }, s->log_);
  if (err) return err;
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
