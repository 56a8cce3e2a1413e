#include "server/store_writer.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

namespace warren::server {

store::Clocks clocks_now(const net::EventLoop& loop) {
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  return store::Clocks{loop.now(), std::chrono::duration_cast<std::chrono::milliseconds>(wall).count()};
}

StoreWriter::StoreWriter(net::EventLoop& loop)
    : loop_(loop),
      reader_(loop),
      relief_(loop, [this] { relieve(); }),
      results_(loop, [this](std::vector<int>& r) { done(r); }) {}

void StoreWriter::start(store::VHostStore& store) {
  store_ = &store;
  reader_.start(store);
  relieve();
  thread_ = std::thread([this] { run(); });
}

StoreWriter::~StoreWriter() {
  loop_.cancel_flush(this);
  relief_.cancel();
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  // The loop has stopped: what the thread answered is here, not run.
  std::vector<int> left = results_.take_left();
  done(left);
  store::Batch b;
  while (store_->take_batch(b)) store_->batch_done(store_->log().write(b));
  store_->log().write_sealed_index();
}

void StoreWriter::relieve() {
  store_->relieve_memory();
  relief_.arm(loop_.now() + std::chrono::milliseconds(250));
}

void StoreWriter::flush() {
  store_->set_clock(clocks_now(loop_));
  reader_.take();
  store::Batch b;
  bool took = false;
  while (store_->take_batch(b)) {
    took = true;
    std::lock_guard lock(mu_);
    todo_.push_back(std::move(b));
  }
  if (took) cv_.notify_one();
}

// Between batches, the next segment is prepared a step at a time (see
// Log::prepare): a step after each batch, and steps back to back while
// no batch waits.
void StoreWriter::run() {
  static constexpr size_t kPrepareStep = 256 << 10;
  std::unique_lock lock(mu_);
  bool preparing = true;
  while (true) {
    if (todo_.empty() && !stop_ && preparing) {
      lock.unlock();
      preparing = store_->log().prepare(kPrepareStep);
      lock.lock();
      continue;
    }
    cv_.wait(lock, [&] { return !todo_.empty() || stop_; });
    if (todo_.empty()) return;  // stopping, with nothing handed over
    store::Batch b = std::move(todo_.front());
    todo_.pop_front();
    lock.unlock();
    const uint64_t index_failures = store_->log().index_failures();
    const auto started = std::chrono::steady_clock::now();
    const int err = store_->log().write(b);
    sync_latency_.observe(std::chrono::steady_clock::now() - started);
    const bool rotated = b.rotate;
    b = store::Batch{};  // freed here, not on the loop
    results_.push(err);
    // A segment this batch sealed gets its index now, its publishers told.
    store_->log().write_sealed_index();
    if (store_->log().index_failures() != index_failures)
      spdlog::warn("store: the index of a sealed segment could not be written in {}: the next restart reads that "
                   "segment whole",
                   store_->log().options().dir);
    preparing = store_->log().prepare(kPrepareStep) || rotated;
    lock.lock();
  }
}

void StoreWriter::done(std::vector<int>& results) {
  for (int err : results) {
    if (err && !store_->error())
      spdlog::critical("store: writing the log failed ({}): publishes to durable queues are refused from now on; "
                       "restart warrend once the disk is fixed",
                       std::strerror(err));
    store_->batch_done(err);
  }
  if (store_->ready()) flush();
}

}  // namespace warren::server
