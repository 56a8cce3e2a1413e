#pragma once
// Writes a vhost store's batches on a thread of its own, so that the event
// loop never waits for the disk. At the end of a loop turn in which records
// were added, the store's batch goes to the thread; the thread writes and
// syncs it and posts the result back; on the loop the store then completes
// the publisher outcomes that waited on it, and the next batch, which
// piled up meanwhile, goes out: one sync covers everything that arrived
// while the last one ran (group commit).
#include <condition_variable>
#include <mutex>
#include <deque>
#include <thread>

#include "common/histogram.hpp"
#include "net/deadline_timer.hpp"
#include "net/event_loop.hpp"
#include "net/mailbox.hpp"
#include "server/store_reader.hpp"
#include "store/vhost_store.hpp"

namespace warren::server {

class StoreWriter final : public net::Flushable {
 public:
  explicit StoreWriter(net::EventLoop& loop);
  // Writes what is left, on the calling thread, before the store goes.
  ~StoreWriter() override;
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  // The store's records-waiting cue (StoreOptions::on_records).
  std::function<void()> cue() {
    return [this] { loop_.schedule_flush(this); };
  }
  // Starts serving `store` (opened with cue()); it must outlive this.
  void start(store::VHostStore& store);

  // net::Flushable: the end of a loop turn.
  void flush() override;

  // How long each batch took to write and sync (group commit: one sample
  // per sync, however many publishes it made durable). Any thread.
  const LatencyHistogram& sync_latency() const { return sync_latency_; }

 private:
  void run();  // the writer thread
  void done(std::vector<int>& results);

  net::EventLoop& loop_;
  store::VHostStore* store_ = nullptr;
  StoreReader reader_;  // paged messages back, on a thread of its own
  // Memory can pass the paging budget with no batch to follow (transient
  // messages grow): the store is asked to page now and then too.
  net::DeadlineTimer relief_;
  void relieve();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<store::Batch> todo_;  // handed to the thread, in order
  bool stop_ = false;
  net::Mailbox<int> results_;
  LatencyHistogram sync_latency_;
  std::thread thread_;
};

// ms since the POSIX epoch, and the loop's now: the store's clocks.
store::Clocks clocks_now(const net::EventLoop& loop);

}  // namespace warren::server
