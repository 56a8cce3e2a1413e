// VHostStore: logging what the core does to durable things, batch by
// batch. Recovery is in store_recovery.cpp.
#include "store/vhost_store.hpp"

#include <algorithm>

#include "broker/memory.hpp"

namespace warren::store {

using broker::Message;
using broker::Queue;
namespace ops = broker::ops;

namespace {

bool builtin_exchange(const std::string& name) { return name.empty() || name.starts_with("amq."); }

}  // namespace

VHostStore::VHostStore(Io& io, broker::VHost& vhost, StoreOptions opts, Clocks clocks)
    : io_(io), vhost_(vhost), opts_(std::move(opts)), clocks_(clocks), reader_(new_reader()) {}

VHostStore::~VHostStore() {
  vhost_.set_durability(nullptr);
  vhost_.set_definition_log(nullptr);
  for (const auto& [_, q] : vhost_.queues())
    if (q->durable()) {
      q->set_log(nullptr);
      q->set_pager(nullptr);
    }
}

template <class R>
void VHostStore::add(Batch& to, RecordType type, const R& r) {
  scratch_.clear();
  Out o(scratch_);
  encode(o, r);
  put(to, type, scratch_);
}

Position VHostStore::put(Batch& to, RecordType type, std::span<const uint8_t> a, std::span<const uint8_t> b) {
  cue();
  return to.add(uint8_t(type), a, b);
}

void VHostStore::attach(Queue& q, uint32_t id) {
  q.set_log(this, id);
  if (opts_.memory_budget) q.set_pager(this, opts_.window);
  next_queue_id_ = std::max(next_queue_id_, id + 1);
}

// ------------------------------------------------------------- definitions

void VHostStore::exchange_declared(const broker::Exchange& x) {
  const auto& o = x.options();
  add(adds_, RecordType::Exchange,
      ExchangeRecord{o.name, std::string(broker::to_string(o.type)), o.auto_delete, o.internal, o.arguments});
}

void VHostStore::exchange_deleted(const broker::Exchange& x) {
  scratch_.clear();
  Out(scratch_).bytes(x.name());
  put(adds_, RecordType::ExchangeDeleted, scratch_);
}

void VHostStore::queue_declared(Queue& q) {
  const uint32_t id = next_queue_id_;
  attach(q, id);
  add(adds_, RecordType::Queue, QueueRecord{id, q.name(), q.options().auto_delete, q.options().arguments});
}

void VHostStore::bound(const broker::Exchange& source, const broker::Binding& b) {
  add(adds_, RecordType::Binding, BindingRecord{source.name(), b.destination, b.key, b.arguments});
}

void VHostStore::unbound(const broker::Exchange& source, const broker::Binding& b) {
  add(adds_, RecordType::Unbinding, BindingRecord{source.name(), b.destination, b.key, b.arguments});
}

// Every durable definition, again: old segments can then go without
// taking a definition with them.
void VHostStore::write_snapshot() {
  for (const auto& [name, x] : vhost_.exchanges())
    if (x->options().durable && !builtin_exchange(name)) exchange_declared(*x);
  for (const auto& [_, q] : vhost_.queues())
    if (q->durable())
      add(adds_, RecordType::Queue,
          QueueRecord{uint32_t(q->log_id()), q->name(), q->options().auto_delete, q->options().arguments});
  for (const auto& [_, x] : vhost_.exchanges()) {
    if (!x->options().durable) continue;
    for (const broker::Binding& b : x->bindings()) {
      const broker::Destination& d = b.destination;
      bool durable = false;
      if (d.is_exchange) {
        broker::ExchangePtr to = vhost_.find_exchange(d.name);
        durable = to && to->options().durable;
      } else {
        broker::QueuePtr to = vhost_.find_queue(d.name);
        durable = to && to->durable();
      }
      if (durable) bound(*x, b);
    }
  }
}

// ---------------------------------------------------------------- messages

Message::Stored VHostStore::log_message(const Message& m) {
  if (Message::Stored s = m.stored(); s && s.segment >= removed_below_) return s;
  scratch_.clear();
  Out o(scratch_);
  encode_message_head(o, m);
  // A large body is written from its own string (a Batch::Tail), not copied.
  const broker::Body shared = m.body_size() > Message::kInlineBody ? m.body() : nullptr;
  const std::string_view body = shared ? std::string_view(*shared) : m.body_view();
  const std::span<const uint8_t> octets(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  cue();
  const Position at = shared ? adds_.add(uint8_t(RecordType::Message), scratch_, octets, shared)
                             : adds_.add(uint8_t(RecordType::Message), scratch_, octets);
  const Message::Stored s{uint32_t(at.segment), uint32_t(at.offset)};
  m.set_stored(s);
  return s;
}

// Enqueues wait until the batch is taken: one settled before then (an
// auto-ack consumer's, a quick ack) is never written, nor its removal, nor
// its message if nothing else holds it, as RabbitMQ does not write a
// message that is gone before its turn. Its publisher still hears only
// after the batch is done: the order of confirms and syncs is kept.
void VHostStore::enqueued(const Queue& q, uint64_t seq, TimePoint expires, const broker::MessagePtr& m) {
  cue();
  const uint32_t id = uint32_t(q.log_id());
  pending_index_[PendingKey{id, seq}] = pending_.size();
  pending_.push_back(Pending{id, seq, m, wall_ms_of(expires)});
}

bool VHostStore::cancel_pending(uint32_t queue, uint64_t seq) {
  auto it = pending_index_.find(PendingKey{queue, seq});
  if (it == pending_index_.end()) return false;
  pending_[it->second].msg.reset();
  pending_index_.erase(it);
  return true;
}

void VHostStore::frame_pending() {
  for (Pending& p : pending_) {
    if (!p.msg) continue;
    const Message::Stored s = log_message(*p.msg);
    add(adds_, RecordType::Enqueue, EnqueueRecord{p.queue, p.seq, Position{s.segment, s.offset}, p.expires_ms});
    count(s.segment, p.msg->size());
  }
  pending_.clear();
  pending_index_.clear();
}

void VHostStore::removed(const broker::Queue& q, const Queue::EntryView& e) {
  if (!cancel_pending(uint32_t(q.log_id()), e.seq)) uncount(e.at.segment, e.size);
}

void VHostStore::uncount(uint64_t segment, uint64_t bytes) {
  auto it = live_.find(segment);
  if (it == live_.end()) return;
  if (--it->second == 0) {
    live_.erase(it);
    live_bytes_.erase(segment);
  } else {
    live_bytes_[segment] -= std::min(live_bytes_[segment], bytes + kRecordBytes);
  }
}

void VHostStore::cue() {
  if (adds_.empty() && removes_.empty() && pending_.empty() && opts_.on_records) opts_.on_records();
}

void VHostStore::wait(const Queue&, const broker::MessagePtr&, broker::OutcomeTicket ticket) {
  if (!ticket) return;
  // A failed store logs nothing, so nothing else would cue the driver to
  // come and refuse this outcome.
  if (error_ && waiting_.empty() && opts_.on_records) opts_.on_records();
  waiting_.push_back(ticket);
}

void VHostStore::record(const Queue& q, const broker::QueueOp& op, const Message* msg) {
  if (error_) return;
  const uint32_t id = uint32_t(q.log_id());
  if (const auto* e = std::get_if<ops::Enqueue>(&op)) {
    if (msg->persistent()) enqueued(q, e->seq, e->expires, e->msg);
  } else if (const auto* r = std::get_if<ops::Remove>(&op)) {
    if (!msg->persistent()) return;
    if (cancel_pending(id, r->seq)) return;  // never written: nothing to remove
    add(removes_, RecordType::Remove, RemoveRecord{id, r->seq});
    uncount(*msg);
  } else if (const auto* p = std::get_if<ops::Park>(&op)) {
    if (!msg->persistent()) return;
    if (!msg->stored() || msg->stored().segment < removed_below_) {
      // Its enqueue was cancelled, not written: it waits again.
      enqueued(q, p->entry.seq, p->entry.expires, p->entry.msg);
      return;
    }
    // Its Remove{Consumed} was logged, maybe in this very batch: the entry
    // comes back after it, among the removals.
    const Message::Stored s = log_message(*msg);
    add(removes_, RecordType::Enqueue, EnqueueRecord{id, p->entry.seq, Position{s.segment, s.offset}, 0});
    count(s.segment, msg->size());
  } else if (std::holds_alternative<ops::Purge>(op)) {
    PurgeRecord rec{id, q.next_seq(), {}};
    // A paged entry (no msg) is persistent and logged.
    q.for_each_entry([&](const Queue::EntryView& v) {
      if (v.msg && !v.msg->persistent()) return;
      if (v.unacked)
        rec.kept.push_back(v.seq);
      else
        removed(q, v);
    });
    add(removes_, RecordType::Purge, rec);
  } else if (std::holds_alternative<ops::Close>(op)) {
    q.for_each_entry([&](const Queue::EntryView& v) {
      if (!v.msg || v.msg->persistent()) removed(q, v);
    });
    scratch_.clear();
    Out(scratch_).varint(id);
    put(adds_, RecordType::QueueDeleted, scratch_);
  }
  // Acquire and Requeue are memory-only (docs/architecture.md, "Queue operations").
}

// ------------------------------------------------------------------ batches

uint64_t VHostStore::removal_floor() const {
  const uint64_t current = adds_.start.segment;
  return live_.empty() ? current : std::min(current, live_.begin()->first);
}

bool VHostStore::take_batch(Batch& out) {
  if (error_) {
    refuse_all();
    return false;
  }
  if (writing_.size() >= kMaxInFlight) return false;
  if (adds_.empty() && removes_.empty() && pending_.empty() && waiting_.empty()) return false;
  frame_pending();
  if (adds_.empty() && removes_.empty() && !rotation_due() && removal_floor() <= removed_below_) {
    settle_unwritten();
    return false;
  }
  adds_.append(removes_);
  removes_.clear();
  const uint64_t floor = removal_floor();
  out = std::move(adds_);
  Position next = out.end();
  if (next.offset >= opts_.segment_bytes && next > snapshot_end_) {  // rotation_due(), for `out`
    out.rotate = true;
    next = Position{next.segment + 1, kSegmentHeaderSize};
  }
  if (floor > removed_below_) {
    out.remove_before = removed_below_ = floor;
    reader_->forget_below(floor);
  }
  adds_ = Batch{};
  adds_.start = next;
  removes_.start = next;
  writing_.push_back(std::move(waiting_));
  writing_ends_.push_back(out.end());
  waiting_.clear();
  if (out.rotate) {
    write_snapshot();  // the next segment begins with every definition
    snapshot_end_ = adds_.end();
  }
  return true;
}

bool VHostStore::rotation_due() const {
  const Position next = adds_.end();
  return next.offset >= opts_.segment_bytes && next > snapshot_end_;
}

// Nothing to write: every message the waiting publishers sent left its
// queues before its enqueue was framed (a consumer that keeps up). Their
// outcomes need no sync of their own, only not to overtake an earlier
// one: they complete now when no batch is in flight, else with the last
// one. The writer thread is not woken for an empty batch, nor the loop
// by its answer.
void VHostStore::settle_unwritten() {
  if (waiting_.empty()) return;
  if (!writing_.empty()) {
    writing_.back().insert(writing_.back().end(), waiting_.begin(), waiting_.end());
    waiting_.clear();
    return;
  }
  broker::PendingOutcomes& outcomes = vhost_.outcomes();
  for (broker::OutcomeTicket t : waiting_) outcomes.complete(t, true);
  waiting_.clear();
  outcomes.deliver();
}

void VHostStore::batch_done(int err) {
  if (err && !error_) error_ = err;
  broker::PendingOutcomes& outcomes = vhost_.outcomes();
  if (!writing_.empty()) {
    for (broker::OutcomeTicket t : writing_.front()) outcomes.complete(t, err == 0);
    writing_.pop_front();
    if (!error_) durable_end_ = std::max(durable_end_, writing_ends_.front());
    writing_ends_.pop_front();
  }
  if (error_) refuse_all();
  outcomes.deliver();
  relieve_memory();
  repage_durable();
  maybe_compact();
}

// ------------------------------------------------------------------- paging

void VHostStore::relieve_memory() {
  if (!opts_.memory_budget || broker::MemoryAccount::used() <= int64_t(opts_.memory_budget)) return;
  for (const auto& [_, q] : vhost_.queues())
    if (q->durable()) q->page_out();
}

void VHostStore::page_in(broker::Queue& q, broker::PageRequest req) {
  ask_read(ReadJob{q.weak_from_this(), std::move(req), {}, {}});
}

void VHostStore::ask_read(ReadJob job) {
  // Cued on its own: records waiting may not be taken this turn (two
  // batches in flight), and a read must not wait for them.
  if (reads_.empty() && opts_.on_records) opts_.on_records();
  reads_.push_back(std::move(job));
}

bool VHostStore::take_reads(std::vector<ReadJob>& out) {
  if (reads_.empty()) return false;
  for (ReadJob& j : reads_) j.first_segment = removed_below_;
  out.insert(out.end(), std::make_move_iterator(reads_.begin()), std::make_move_iterator(reads_.end()));
  reads_.clear();
  return true;
}

void VHostStore::reads_done(std::vector<ReadJob>& jobs, TimePoint now) {
  for (ReadJob& j : jobs) {
    report(j.damage);
    if (j.compaction)
      compacted(j);
    else if (broker::QueuePtr q = j.queue.lock())
      q->paged_in(j.req, j.msgs, now);
  }
}

broker::MessagePtr VHostStore::read_now(Message::Stored at) {
  std::vector<Damage> damage;
  broker::MessagePtr m = reader_->read_one(at, damage);
  report(damage);
  return m;
}

std::unique_ptr<PageReader> VHostStore::new_reader() const {
  return std::make_unique<PageReader>(io_, opts_.dir, opts_.codecs);
}

// A lost message's segment stays counted: it has damage, and recovery
// will count again (and report it).
void VHostStore::report(std::vector<Damage>& damage) {
  for (const Damage& d : damage)
    if (opts_.on_damage) opts_.on_damage(d);
  damage.clear();
}

// Fail-stop: batches taken after a failed one fail too (the log refuses
// them), and nothing recorded from now on will be written.
void VHostStore::refuse_all() {
  broker::PendingOutcomes& outcomes = vhost_.outcomes();
  for (auto& batch : writing_) {
    for (broker::OutcomeTicket t : batch) outcomes.complete(t, false);
    batch.clear();  // its batch_done still comes, and finds nothing
  }
  for (broker::OutcomeTicket t : waiting_) outcomes.complete(t, false);
  waiting_.clear();
  adds_.clear();
  removes_.clear();
  pending_.clear();
  pending_index_.clear();
  outcomes.deliver();
}

}  // namespace warren::store
