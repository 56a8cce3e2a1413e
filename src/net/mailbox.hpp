#pragma once
// Items handed to one EventLoop's thread from other threads, in the order
// they were pushed, with one wake-up of that loop for all that pile up
// before it runs them (not one per item).
//
// push() is thread-safe. The handler runs on the loop's thread with every
// item that arrived, and may push to this or any other mailbox. The loop
// must not run after the mailbox is destroyed, or run it concurrently with
// its destruction: destroy it on the loop's thread, or after that loop's
// thread has stopped (a run posted earlier then finds it gone and does
// nothing).
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "net/event_loop.hpp"

namespace warren::net {

template <class T>
class Mailbox {
 public:
  using Handler = std::function<void(std::vector<T>&)>;

  Mailbox(EventLoop& loop, Handler handler) : loop_(loop), handler_(std::move(handler)) {}
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  void push(T item) {
    bool post;
    {
      std::lock_guard lock(mu_);
      items_.push_back(std::move(item));
      post = !posted_;
      posted_ = true;
    }
    if (post) loop_.post([this, alive = std::weak_ptr<int>(alive_)] {
      if (alive.lock()) run();
    });
  }

  // What was pushed and never run: the loop stopped first.
  std::vector<T> take_left() {
    std::lock_guard lock(mu_);
    return std::exchange(items_, {});
  }

 private:
  void run() {
    {
      std::lock_guard lock(mu_);
      running_.swap(items_);
      posted_ = false;
    }
    handler_(running_);
    running_.clear();  // keeps its capacity for the next run
  }

  EventLoop& loop_;
  Handler handler_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::mutex mu_;  // guards the two below
  std::vector<T> items_;
  bool posted_ = false;
  std::vector<T> running_;  // the loop's thread only
};

}  // namespace warren::net
