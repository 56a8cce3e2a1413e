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
    : loop_(loop), results_(loop, [this](std::vector<int>& r) { done(r); }) {}

void StoreWriter::start(store::VHostStore& store) {
  store_ = &store;
  thread_ = std::thread([this] { run(); });
}

StoreWriter::~StoreWriter() {
  loop_.cancel_flush(this);
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
}

void StoreWriter::flush() {
  store_->set_clock(clocks_now(loop_));
  store::Batch b;
  if (!store_->take_batch(b)) return;
  {
    std::lock_guard lock(mu_);
    todo_ = std::move(b);
  }
  cv_.notify_one();
}

void StoreWriter::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return todo_ || stop_; });
    if (!todo_) return;  // stopping, with nothing handed over
    store::Batch b = std::move(*todo_);
    todo_.reset();
    lock.unlock();
    const int err = store_->log().write(b);
    b = store::Batch{};  // freed here, not on the loop
    results_.push(err);
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
