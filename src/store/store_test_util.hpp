#pragma once
// A vhost with its store on a simulated disk, driven inline (the test is
// the writer thread): publish, consume, flush, restart, lose power.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/seeded_env.hpp"
#include "broker/vhost.hpp"
#include "store/sim_io.hpp"
#include "store/vhost_store.hpp"

namespace warren::store::test {

using namespace std::chrono_literals;

// Hears publisher outcomes: cookie -> ok.
class Outcomes final : public broker::Publisher {
 public:
  void outcomes_ready(std::span<const broker::Completion> done) override {
    for (const broker::Completion& c : done) heard[c.cookie] = c.ok;
  }
  std::map<uint64_t, bool> heard;
};

inline broker::MessagePtr persistent(const std::string& body, const std::string& key = "q",
                                     std::optional<std::string> expiration = std::nullopt) {
  broker::Properties p;
  p.delivery_mode = 2;
  p.content_type = "text/plain";
  p.expiration = std::move(expiration);
  return broker::Message::built("", key, std::move(p), std::make_shared<const std::string>(body));
}

inline broker::MessagePtr transient(const std::string& body, const std::string& key = "q") {
  return broker::Message::built("", key, {}, std::make_shared<const std::string>(body));
}

class StoreHarness {
 public:
  explicit StoreHarness(uint64_t seed = 1, uint64_t segment_bytes = 64u << 20)
      : io(seed), env(seed), segment_bytes_(segment_bytes) {}

  // Opens (recovering) a fresh vhost on the disk; 0 or an errno.
  int open() {
    store.reset();
    vhost = std::make_unique<broker::VHost>("/", env, now);
    report = RecoveryReport{};
    StoreOptions o{"data/vhost", segment_bytes_, {}, [this] { ++cues; }};
    o.memory_budget = memory_budget;
    o.window = window;
    o.on_damage = [this](const Damage& d) { damage.push_back(d); };
    int err = VHostStore::open(io, o, *vhost, Clocks{now, wall_ms}, store, &report);
    if (err == 0) publisher = vhost->outcomes().add_publisher(outcomes);
    return err;
  }
  // The writer's turn: every batch written and synced, as a driver would.
  // Returns the first error.
  // `after(err)` runs once each batch is done.
  template <class After = void (*)(int)>
  int flush(After after = [](int) {}) {
    int first = 0;
    Batch b;
    while (store->take_batch(b)) {
      const int err = store->log().write(b);
      if (prepare) store->log().prepare(1024);  // as the writer thread does after each batch
      store->batch_done(err);
      if (err && !first) first = err;
      after(err);
    }
    return first;
  }
  // The process is about to die with the next batch at stage `when` of its
  // life: 0 taken only, 1 written, 2 written and synced but not reported.
  void take_batch_to(int when) {
    Batch b;
    if (!store->take_batch(b)) return;
    if (when >= 1) {
      ASSERT_EQ(store->log().write_unsynced(b), 0);
    }
    if (when >= 2) {
      Batch rest;  // synced, not yet reported: durable, but nobody was told
      rest.start = b.end();
      ASSERT_EQ(store->log().write(rest), 0);
    }
  }
  // The reader thread's turn: every read back asked for is answered (and
  // those answers may ask for more). Returns how many were.
  size_t pump_reads() {
    if (!reader) reader = store->new_reader();
    size_t n = 0;
    std::vector<ReadJob> jobs;
    while (store->take_reads(jobs)) {
      for (ReadJob& j : jobs) j.read(*reader);
      n += jobs.size();
      store->reads_done(jobs, now);
      jobs.clear();
    }
    return n;
  }
  // The process stops (nothing more is written); the disk keeps what it has.
  void stop() {
    reader.reset();
    store.reset();
    vhost.reset();
    outcomes.heard.clear();
  }
  void restart() {
    stop();
    ASSERT_EQ(open(), 0);
  }
  // The machine loses power: unsynced bytes are lost or torn.
  void power_loss_and_restart() {
    stop();
    io.power_loss();
    ASSERT_EQ(open(), 0);
  }

  void declare_queue(const std::string& name, bool durable = true, broker::Table args = {}) {
    broker::QueueDeclareOk ok;
    broker::QueueDeclare d;
    d.name = name;
    d.durable = durable;
    d.arguments = std::move(args);
    ASSERT_FALSE(vhost->declare_queue(d, now, ok));
  }
  // Publishes through `exchange`; the cookie identifies its outcome.
  broker::PublishResult publish(const broker::MessagePtr& m, uint64_t cookie, const std::string& exchange = "") {
    broker::PublishResult r;
    EXPECT_FALSE(vhost->publish(exchange, m, now, r, broker::PublishWaiter{publisher, cookie}));
    return r;
  }
  broker::QueuePtr queue(const std::string& name) { return vhost->find_queue(name); }
  // Takes the head of `name` for an unsettled delivery.
  std::optional<broker::Delivery> get(const std::string& name) { return queue(name)->get(false, now); }
  // Bodies of the ready messages of `name`, in order, and whether each
  // is marked redelivered.
  // Paged ones are read from the log.
  std::vector<std::string> bodies(const std::string& name) {
    broker::QueuePtr q = queue(name);
    std::map<uint64_t, broker::Message::Stored> paged;
    q->for_each_entry([&](const broker::Queue::EntryView& e) {
      if (!e.msg) paged[e.seq] = e.at;
    });
    if (!reader) reader = store->new_reader();
    std::vector<std::string> out;
    for (const broker::QueueEntry& e : q->state().ready) {
      std::vector<Damage> lost;
      broker::MessagePtr m = e.msg ? e.msg : reader->read_one(paged.at(e.seq), lost);
      out.emplace_back(m ? m->body_view() : "<unreadable>");
    }
    return out;
  }

  SimIo io;
  broker::SeededEnv env;
  TimePoint now = TimePoint{} + std::chrono::hours(1);
  int64_t wall_ms = 1'700'000'000'000;
  std::unique_ptr<broker::VHost> vhost;
  std::unique_ptr<VHostStore> store;
  RecoveryReport report;
  Outcomes outcomes;
  broker::PublisherId publisher = 0;
  int cues = 0;  // StoreOptions::on_records calls
  bool prepare = false;  // flush() prepares the next segment after each batch
  // Paging: StoreOptions::memory_budget (1: always short) and window.
  uint64_t memory_budget = 0;
  broker::PageWindow window;
  std::vector<Damage> damage;  // StoreOptions::on_damage
  std::unique_ptr<PageReader> reader;

 private:
  uint64_t segment_bytes_;
};

}  // namespace warren::store::test
