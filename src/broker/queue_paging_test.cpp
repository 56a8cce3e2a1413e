// Queue paging (pager.hpp): entries past the window leave memory and come
// back in order, ahead of consumers, through a pager the test answers by
// hand; purges, gets, requeues and priorities while entries are out.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "broker/memory.hpp"
#include "broker/pager.hpp"
#include "broker/queue.hpp"
#include "broker/test_util.hpp"

namespace warren::broker {
namespace {

using namespace test;

// A log in memory: every persistent message with a position is readable;
// reads back wait in `asked` until the test answers them.
class FakePager : public Pager {
 public:
  // A persistent message "logged" at the next position.
  MessagePtr logged(std::string text, uint8_t priority = 0) {
    Properties p;
    p.delivery_mode = 2;
    if (priority) p.priority = priority;
    MessagePtr m = msg(std::move(text), "k", p);
    const Message::Stored at{1, next_offset_++};
    m->set_stored(at);
    log_[at.offset] = std::string(m->body_view());
    return m;
  }
  bool readable(const Message& m) const override { return bool(m.stored()) && !unreadable_.contains(m.stored().offset); }
  void page_in(Queue&, PageRequest req) override { asked.push_back(std::move(req)); }
  MessagePtr read_now(Message::Stored at) override {
    ++read_now_calls;
    return read(at);
  }
  // Answers the oldest read back.
  void answer(Queue& q, TimePoint now = t0) {
    ASSERT_FALSE(asked.empty());
    PageRequest req = std::move(asked.front());
    asked.erase(asked.begin());
    std::vector<MessagePtr> msgs;
    for (Message::Stored at : req.at) msgs.push_back(read(at));
    q.paged_in(req, msgs, now);
  }
  void answer_all(Queue& q) {
    while (!asked.empty()) answer(q);
  }
  void lose(uint32_t offset) { lost_.insert(offset); }
  void keep_in_memory(uint32_t offset) { unreadable_.insert(offset); }

  std::vector<PageRequest> asked;
  int read_now_calls = 0;

 private:
  MessagePtr read(Message::Stored at) {
    if (lost_.contains(at.offset)) return nullptr;
    Properties p;
    p.delivery_mode = 2;
    MessagePtr m = msg(log_.at(at.offset), "k", p);
    m->set_stored(at);
    return m;
  }
  uint32_t next_offset_ = 16;
  std::map<uint32_t, std::string> log_;
  std::set<uint32_t> lost_, unreadable_;
};

struct Paged {
  FakeHost host;
  FakePager pager;
  QueuePtr q;
  explicit Paged(PageWindow w = {4, 1 << 20}, Table args = {}) : q(make_queue(host, std::move(args))) {
    q->set_pager(&pager, w);
  }
  void publish(int from, int to) {
    for (int i = from; i < to; ++i) q->publish(pager.logged(std::to_string(i)), t0);
  }
  size_t in_memory() const {
    size_t n = 0;
    for (const QueueEntry& e : q->state().ready) n += e.msg != nullptr;
    return n;
  }
};

// Everything ready, through a no-ack consumer, answering reads back as
// they are asked for.
std::vector<std::string> drain_with_reads(Paged& p) {
  FakeConsumer c(UINT32_MAX, /*no_ack=*/true);
  p.q->add_consumer({&c, "drain"}, t0);
  for (int i = 0; i < 1000 && !p.pager.asked.empty(); ++i) p.pager.answer_all(*p.q);
  p.q->remove_consumer(&c, t0);
  return c.texts();
}

std::vector<std::string> numbers(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(std::to_string(i));
  return out;
}

TEST(QueuePaging, EntriesPastTheWindowLeaveMemoryAndComeBackInOrder) {
  Paged p;
  p.publish(0, 20);
  EXPECT_EQ(p.q->page_out(), 16u);
  EXPECT_EQ(p.q->ready_count(), 20u);
  EXPECT_EQ(p.q->paged_count(), 16u);
  EXPECT_EQ(p.in_memory(), 4u);
  // The state keeps its order; paged entries have no message in memory.
  auto ready = p.q->state().ready;
  for (size_t i = 0; i < ready.size(); ++i) EXPECT_EQ(ready[i].seq, i + 1);
  FakeConsumer c;
  p.q->add_consumer({&c, "c"}, t0);
  // The head went out at once, and its lane asked for the next window.
  EXPECT_EQ(c.texts(), numbers(0, 4));
  ASSERT_EQ(p.pager.asked.size(), 1u);
  EXPECT_EQ(p.pager.asked[0].seqs, (std::vector<uint64_t>{5, 6, 7, 8}));
  p.pager.answer_all(*p.q);  // each answer delivers, and asks for more
  EXPECT_EQ(c.texts(), numbers(0, 20));
  EXPECT_EQ(p.q->paged_count(), 0u);
  EXPECT_EQ(p.q->ready_count(), 0u);
}

TEST(QueuePaging, NewMessagesWaitBehindPagedOnes) {
  Paged p;
  p.publish(0, 10);
  p.q->page_out();
  p.publish(10, 13);  // in memory, behind the paged
  EXPECT_EQ(p.in_memory(), 7u);
  EXPECT_EQ(drain_with_reads(p), numbers(0, 13));
}

// basic.get on a queue whose head is out reads it at once rather than
// answer empty; a read back answered later skips what the get took.
TEST(QueuePaging, GetReadsAPagedHeadNow) {
  Paged p;
  p.publish(0, 10);
  p.q->page_out();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(text_of(p.q->get(true, t0)->message), std::to_string(i));
  ASSERT_EQ(p.pager.asked.size(), 1u);  // asked for 4..7, not answered
  EXPECT_EQ(text_of(p.q->get(true, t0)->message), "4");
  EXPECT_EQ(p.pager.read_now_calls, 1);
  p.pager.answer(*p.q);  // 4 is gone: 5..7 join the head
  std::vector<std::string> rest;
  while (auto d = p.q->get(true, t0)) {
    rest.push_back(text_of(d->message));
    p.pager.answer_all(*p.q);
  }
  EXPECT_EQ(rest, numbers(5, 10));
}

TEST(QueuePaging, APurgeMakesAReadBackStale) {
  Paged p;
  p.publish(0, 10);
  p.q->page_out();
  FakeConsumer c(4);
  p.q->add_consumer({&c, "c"}, t0);
  ASSERT_EQ(p.pager.asked.size(), 1u);
  EXPECT_EQ(p.q->purge(t0), 6u);
  EXPECT_EQ(p.q->paged_count(), 0u);
  p.pager.answer(*p.q);  // too late: nothing comes back
  EXPECT_EQ(p.q->ready_count(), 0u);
  EXPECT_EQ(c.texts(), numbers(0, 4));
  p.publish(10, 12);
  c.set_credit(10);
  p.q->credit_changed(t0);
  EXPECT_EQ(c.texts(), (std::vector<std::string>{"0", "1", "2", "3", "10", "11"}));
}

TEST(QueuePaging, AnUnreadableMessageIsDroppedAndCounted) {
  Paged p;
  p.publish(0, 8);
  p.q->page_out();
  p.pager.lose(16 + 5);  // "5"
  EXPECT_EQ(drain_with_reads(p), (std::vector<std::string>{"0", "1", "2", "3", "4", "6", "7"}));
  EXPECT_EQ(p.q->ready_count(), 0u);
  EXPECT_EQ(p.q->ready_bytes(), 0u);
}

// Only what the log can give back leaves memory: a message whose record
// is not durable yet, or one already delivered (its count would be lost).
TEST(QueuePaging, OnlyReadableNeverDeliveredEntriesLeave) {
  Paged p;
  p.publish(0, 10);
  p.pager.keep_in_memory(16 + 6);  // not yet durable: it and those after it wait
  EXPECT_EQ(p.q->page_out(), 2u);  // 4 and 5
  EXPECT_EQ(p.in_memory(), 8u);
  p.q->publish(msg("transient"), t0);
  EXPECT_EQ(drain_with_reads(p), [] {
    auto v = numbers(0, 10);
    v.push_back("transient");
    return v;
  }());
}

// A consumer's unacked deliveries requeued while entries after them are
// paged go back before them.
TEST(QueuePaging, RequeuedDeliveriesGoBackFirst) {
  Paged p;
  p.publish(0, 10);
  FakeConsumer c(3);
  p.q->add_consumer({&c, "c"}, t0);
  p.q->page_out();
  p.q->remove_consumer(&c, t0);
  for (const Delivery& d : c.got) p.q->settle(d.seq, Outcome::Released, t0);
  EXPECT_EQ(drain_with_reads(p), numbers(0, 10));
}

// A paged higher-priority lane is waited for: lower ones do not overtake it.
TEST(QueuePaging, PriorityLanesPageOnTheirOwn) {
  Paged p({2, 1 << 20}, Table{{"x-max-priority", int32_t(5)}});
  for (int i = 0; i < 5; ++i) p.q->publish(p.pager.logged("low" + std::to_string(i)), t0);
  for (int i = 0; i < 5; ++i) p.q->publish(p.pager.logged("high" + std::to_string(i), 5), t0);
  EXPECT_EQ(p.q->page_out(), 6u);
  EXPECT_EQ(drain_with_reads(p), (std::vector<std::string>{"high0", "high1", "high2", "high3", "high4", "low0",
                                                            "low1", "low2", "low3", "low4"}));
}

// The window is in bytes too: large messages keep fewer in memory.
TEST(QueuePaging, TheWindowCountsBytes) {
  Paged p({1000, 3000});
  for (int i = 0; i < 10; ++i) p.q->publish(p.pager.logged(std::string(1000, char('a' + i))), t0);
  EXPECT_EQ(p.q->page_out(), 7u);
  EXPECT_EQ(p.q->ready_bytes(), 10000u);  // x-max-length-bytes still counts them
}

// A paged message costs its queue a PagedEntry, not the message: bodies
// leave memory once no queue holds them.
TEST(QueuePaging, PagedBodiesLeaveMemory) {
  Paged p;
  const int64_t before = MemoryAccount::used();
  for (int i = 0; i < 1000; ++i) p.q->publish(p.pager.logged(std::string(1024, 'x')), t0);
  EXPECT_GE(MemoryAccount::used() - before, 1000 * 1024);
  p.q->page_out();
  EXPECT_LT(MemoryAccount::used() - before, 5 * 1024 + 1024);
  EXPECT_EQ(sizeof(PagedEntry), 32u);
}

TEST(QueuePaging, RestoredEntriesComeBackRedelivered) {
  FakeHost host;
  FakePager pager;
  QueuePtr q = make_queue(host);
  q->set_pager(&pager, {2, 1 << 20});
  for (int i = 0; i < 5; ++i) {
    MessagePtr m = pager.logged(std::to_string(i));
    EXPECT_TRUE(q->restore_paged(PagedEntry{uint64_t(i + 1), QueueEntry::kNever, m->stored(), 1, true}, 0));
  }
  EXPECT_FALSE(q->restore_paged(PagedEntry{3, QueueEntry::kNever, {1, 99}, 1, true}, 0));  // seq taken
  FakeConsumer c;
  q->add_consumer({&c, "c"}, t0);
  while (!pager.asked.empty()) pager.answer_all(*q);
  ASSERT_EQ(c.texts(), numbers(0, 5));
  for (const Delivery& d : c.got) EXPECT_TRUE(d.redelivered);
}

}  // namespace
}  // namespace warren::broker
