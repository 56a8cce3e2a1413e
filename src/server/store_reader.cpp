#include "server/store_reader.hpp"

namespace warren::server {

StoreReader::StoreReader(net::EventLoop& loop)
    : loop_(loop), results_(loop, [this](std::vector<store::ReadJob>& jobs) { done(jobs); }) {}

void StoreReader::start(store::VHostStore& store) {
  store_ = &store;
  reader_ = store.new_reader();
  thread_ = std::thread([this] { run(); });
}

StoreReader::~StoreReader() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void StoreReader::take() {
  std::vector<store::ReadJob> jobs;
  if (!store_ || !store_->take_reads(jobs)) return;
  {
    std::lock_guard lock(mu_);
    for (store::ReadJob& j : jobs) todo_.push_back(std::move(j));
  }
  cv_.notify_one();
}

void StoreReader::run() {
  std::unique_lock lock(mu_);
  std::vector<store::ReadJob> jobs;
  while (true) {
    cv_.wait(lock, [&] { return !todo_.empty() || stop_; });
    if (stop_) return;
    jobs.swap(todo_);
    lock.unlock();
    for (store::ReadJob& j : jobs) {
      j.read(*reader_);
      results_.push(std::move(j));
    }
    jobs.clear();
    lock.lock();
  }
}

void StoreReader::done(std::vector<store::ReadJob>& jobs) { store_->reads_done(jobs, loop_.now()); }

}  // namespace warren::server
