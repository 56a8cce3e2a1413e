// Compaction: a message that stays in a queue keeps its segment, and
// (segments go oldest first) every newer one, on disk. When the oldest
// segment still counted holds only a few live entries, their messages are
// logged again at the end of the log with a new Enqueue for each entry;
// recovery takes the later Enqueue of a seq over the earlier one, so the
// old segment is no longer needed once that batch is synced, and goes with
// the emptied ones behind it. Paged entries' messages are read back on the
// reader thread first (compacted()).
#include "store/vhost_store.hpp"

namespace warren::store {

using broker::Message;

namespace {

// A segment is compacted when at most this many of its entries are live,
constexpr uint64_t kMaxLive = 4096;
// and their messages' bytes (and records', VHostStore::kRecordBytes) are
// at most a tenth of a segment: a backlog consumed slowly is left where it
// is, not copied again and again, and each segment that goes costs at
// most about a tenth of one in copies (so compaction always ends).
constexpr uint64_t kSparse = 10;

uint64_t key(Message::Stored s) { return uint64_t(s.segment) << 32 | s.offset; }

}  // namespace

int64_t VHostStore::wall_ms_of(TimePoint expires) const {
  if (expires == broker::QueueEntry::kNever) return 0;
  return std::max<int64_t>(
      1, clocks_.wall_ms + std::chrono::duration_cast<std::chrono::milliseconds>(expires - clocks_.now).count());
}

void VHostStore::maybe_compact() {
  if (error_ || compaction_reads_ || !repages_.empty() || live_.empty()) return;
  const auto [segment, live] = *live_.begin();
  // Closed a while ago: the last few fill and empty in turn.
  if (segment + 2 > adds_.start.segment) return;
  if (live > kMaxLive || live_bytes_[segment] * kSparse > opts_.segment_bytes) return;
  compact(segment);
}

void VHostStore::compact(uint64_t segment) {
  struct Resident {
    uint32_t queue;
    broker::Queue::EntryView e;
  };
  std::vector<Resident> resident;
  for (const auto& [_, q] : vhost_.queues()) {
    if (!q->durable() || !q->log_id()) continue;
    const uint32_t id = uint32_t(q->log_id());
    ReadJob job;
    job.queue = q;
    job.compaction = true;
    job.first_segment = removed_below_;
    q->for_each_entry([&](const broker::Queue::EntryView& e) {
      if (e.at.segment != segment || (e.msg && !e.msg->persistent())) return;
      if (pending_index_.contains(PendingKey{id, e.seq})) return;  // not logged yet: counted when it is
      if (e.msg) {
        resident.push_back({id, e});
      } else {
        job.req.seqs.push_back(e.seq);
        job.req.at.push_back(e.at);
        job.expires.push_back(e.expires);
      }
    });
    if (job.req.seqs.empty()) continue;
    ask_read(std::move(job));
    ++compaction_reads_;
  }
  // Collected first: relog() moves a shared message, which every entry
  // holding it would then show at its new place.
  for (const Resident& r : resident) {
    relogged(r.queue, r.e.seq, r.e.expires, r.e.size, relog(*r.e.msg));
    uncount(r.e.at.segment, r.e.size);  // its message is in memory, at its new place
  }
  if (!compaction_reads_) relogged_.clear();
}

void VHostStore::compacted(ReadJob& job) {
  --compaction_reads_;
  broker::QueuePtr q = job.queue.lock();
  for (size_t i = 0; q && !error_ && i < job.msgs.size(); ++i) {
    if (!job.msgs[i]) continue;  // unreadable: reported, and it stays counted
    const Message::Stored to = relog(*job.msgs[i]);
    const uint64_t bytes = job.msgs[i]->size();
    relogged(uint32_t(q->log_id()), job.req.seqs[i], job.expires[i], bytes, to);
    repages_.push_back(Repage{q, job.req.seqs[i], job.req.at[i], to, bytes});
  }
  if (!compaction_reads_) relogged_.clear();
}

// If the entry was read back or left meanwhile, its new place is not used
// (a removal after the new Enqueue was logged after it, too).
void VHostStore::repage_durable() {
  std::erase_if(repages_, [&](const Repage& r) {
    if (Position{r.to.segment, r.to.offset} >= durable_end_) return false;
    broker::QueuePtr q = r.queue.lock();
    if (q && q->repage(r.seq, r.from, r.to))
      uncount(r.from.segment, r.bytes);
    else
      uncount(r.to.segment, r.bytes);
    return true;
  });
}

Message::Stored VHostStore::relog(const Message& m) {
  const Message::Stored old = m.stored();
  if (auto it = relogged_.find(key(old)); it != relogged_.end()) {
    m.set_stored(it->second);
    return it->second;
  }
  m.set_stored({});  // log_message() would keep the old place
  const Message::Stored now = log_message(m);
  relogged_[key(old)] = now;
  return now;
}

void VHostStore::relogged(uint32_t id, uint64_t seq, TimePoint expires, uint64_t bytes, Message::Stored to) {
  add(adds_, RecordType::Enqueue, EnqueueRecord{id, seq, Position{to.segment, to.offset}, wall_ms_of(expires)});
  count(to.segment, bytes);
}

}  // namespace warren::store
