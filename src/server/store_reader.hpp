#pragma once
// Reads paged-out messages back (broker/pager.hpp) on a thread of its own,
// so that neither the event loop nor the writer's syncs wait for them: the
// loop hands over the store's read jobs at the end of a turn, the thread
// reads and decodes them, and the loop gives each queue its messages.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "net/event_loop.hpp"
#include "net/mailbox.hpp"
#include "store/vhost_store.hpp"

namespace warren::server {

class StoreReader {
 public:
  explicit StoreReader(net::EventLoop& loop);
  ~StoreReader();  // reads still out are dropped: their queues ask again
  StoreReader(const StoreReader&) = delete;
  StoreReader& operator=(const StoreReader&) = delete;

  void start(store::VHostStore& store);
  // Takes the store's read jobs (the loop's thread).
  void take();

 private:
  void run();
  void done(std::vector<store::ReadJob>& jobs);

  net::EventLoop& loop_;
  store::VHostStore* store_ = nullptr;
  std::unique_ptr<store::PageReader> reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<store::ReadJob> todo_;
  bool stop_ = false;
  net::Mailbox<store::ReadJob> results_;
  std::thread thread_;
};

}  // namespace warren::server
