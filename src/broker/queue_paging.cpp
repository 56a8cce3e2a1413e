// Queue paging (pager.hpp): ready entries past a lane's window leave
// memory for the store's log when memory is short, and are read back ahead
// of the consumers. Paging moves entries between a lane's head, paged and
// tail parts; it changes no op's outcome and logs nothing (the log has them).
#include <algorithm>
#include <iterator>

#include "broker/queue.hpp"

namespace warren::broker {

namespace {

PagedEntry paged_from(const QueueEntry& e) {
  return PagedEntry{e.seq, e.expires, e.msg->stored(), uint32_t(std::min<size_t>(e.msg->size(), INT32_MAX)),
                    e.redelivered};
}

}  // namespace

// Only what the log can give back as it was: a persistent message whose
// record is durable, never delivered (a paged entry keeps no count).
bool Queue::pageable(const Entry& e) const {
  return e.delivery_count == 0 && e.msg->persistent() && pager_->readable(*e.msg);
}

size_t Queue::page_out() {
  if (!pager_ || closed_) return 0;
  size_t n = 0;
  for (Lane& l : lanes_) {
    if (l.head.size() > window_.entries || l.head_bytes > window_.bytes) {
      // The head keeps its first entries up to the window (at least one).
      size_t cut = 0;
      uint64_t kept = 0;
      while (cut < l.head.size() && cut < window_.entries &&
             (cut == 0 || kept + l.head[cut].msg->size() <= window_.bytes))
        kept += l.head[cut++].msg->size();
      if (l.paged.empty()) {
        // The rest goes before the tail: its front is the next to page.
        l.tail.insert(l.tail.begin(), std::make_move_iterator(l.head.begin() + ptrdiff_t(cut)),
                      std::make_move_iterator(l.head.end()));
        l.head.erase(l.head.begin() + ptrdiff_t(cut), l.head.end());
        l.tail_bytes += l.head_bytes - kept;
        l.head_bytes = kept;
      } else if (!l.reading_to) {  // a read back out is for the paged front
        while (l.head.size() > cut && pageable(l.head.back())) {
          l.head_bytes -= l.head.back().msg->size();
          l.paged.push_front(paged_from(l.head.back()));
          l.head.pop_back();
          ++n;
        }
      }
    }
    while (!l.tail.empty() && pageable(l.tail.front())) {
      l.tail_bytes -= l.tail.front().msg->size();
      l.paged.push_back(paged_from(l.tail.front()));
      l.tail.pop_front();
      ++n;
    }
  }
  paged_count_ += n;
  if (n) {
    // Not an op (nothing changes but where messages are), yet a lane whose
    // head is short now must ask for its next window, and the next
    // deadline may have moved out of sight (a tail front now paged).
    want_pages();
    report_deadline();
  }
  return n;
}

// A lane whose head is down to half its window asks for the paged entries
// that fill it again; one read back at a time per lane.
void Queue::want_pages() {
  if (!pager_ || closed_) return;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    Lane& l = lanes_[i];
    if (l.paged.empty() || l.reading_to) continue;
    if (!l.head.empty() && (2 * l.head.size() > window_.entries || 2 * l.head_bytes > window_.bytes)) continue;
    PageRequest req{uint8_t(i), {}, {}};
    size_t count = l.head.size();
    uint64_t bytes = l.head_bytes;
    for (const PagedEntry& p : l.paged) {
      if (!req.seqs.empty() && (count >= window_.entries || bytes + p.size > window_.bytes)) break;
      req.seqs.push_back(p.seq);
      req.at.push_back(p.at);
      ++count;
      bytes += p.size;
    }
    l.reading_to = req.seqs.back();
    pager_->page_in(*this, std::move(req));
  }
}

void Queue::paged_in(const PageRequest& req, std::vector<MessagePtr>& msgs, TimePoint now) {
  Op op(*this);
  if (closed_ || req.lane >= lanes_.size() || req.seqs.empty() || msgs.size() != req.seqs.size()) return;
  Lane& l = lanes_[req.lane];
  if (l.reading_to != req.seqs.back()) return;  // a purge came first: these are gone
  l.reading_to = 0;
  for (size_t i = 0; i < req.seqs.size() && !l.paged.empty(); ++i) {
    const PagedEntry p = l.paged.front();
    if (p.seq > req.seqs[i]) continue;  // basic.get read it meanwhile
    if (p.seq < req.seqs[i]) break;
    l.paged.pop_front();
    --paged_count_;
    if (!msgs[i]) {  // unreadable: lost (the store reports it)
      ready_count_ -= 1;
      ready_bytes_ -= p.size;
      continue;
    }
    l.head_bytes += msgs[i]->size();
    l.head.emplace_back(std::move(msgs[i]), p.seq, p.expires).redelivered = p.redelivered;
  }
  drop_expired(now);
  enforce_limits(now);
  dispatch(now);
}

bool Queue::page_in_now(Lane& l, TimePoint now) {
  (void)now;
  if (!pager_ || l.paged.empty()) return false;
  const PagedEntry p = l.paged.front();
  l.paged.pop_front();
  --paged_count_;
  MessagePtr m = pager_->read_now(p.at);
  if (!m) {
    ready_count_ -= 1;
    ready_bytes_ -= p.size;
    return true;
  }
  l.head_bytes += m->size();
  l.head.emplace_back(std::move(m), p.seq, p.expires).redelivered = p.redelivered;
  return true;
}

bool Queue::repage(uint64_t seq, Message::Stored from, Message::Stored to, TimePoint* expires) {
  for (Lane& l : lanes_) {
    auto it = std::lower_bound(l.paged.begin(), l.paged.end(), seq,
                               [](const PagedEntry& p, uint64_t s) { return p.seq < s; });
    if (it == l.paged.end() || it->seq != seq) continue;
    if (it->at != from) return false;
    it->at = to;
    if (expires) *expires = it->expires;
    return true;
  }
  return false;
}

bool Queue::restore_paged(PagedEntry e, uint8_t priority) {
  Lane& l = lane(priority);
  if (e.seq < next_seq_ || !l.tail.empty()) return false;
  next_seq_ = e.seq + 1;
  ready_count_ += 1;
  ready_bytes_ += e.size;
  ++paged_count_;
  l.paged.push_back(e);
  return true;
}

}  // namespace warren::broker
