#pragma once
// A pool of publisher channels in confirm mode (what NServiceBus's
// ConfirmsAwareChannel pool was): get() lends one, the lease returns it.
//
// The pool needs no clean-up of its own when it lends or takes back a
// channel, which is where NServiceBus went wrong (seed 003,
// models/nservicebus-pooling-*.pml): a channel's confirm state is reset by
// the engine in the same step that ends a connection epoch, so a channel
// recovered while lent out comes back with nothing stale in it. A channel
// the broker or the application closed is dropped on return and replaced
// on demand.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "client/connection.hpp"

namespace warren::client {

class ChannelPool {
 public:
  class Lease {
   public:
    Lease(ChannelPool* pool, std::shared_ptr<Channel> ch) : pool_(pool), ch_(std::move(ch)) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), ch_(std::move(o.ch_)) { o.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    Channel& operator*() const { return *ch_; }
    Channel* operator->() const { return ch_.get(); }
    const std::shared_ptr<Channel>& shared() const { return ch_; }

   private:
    ChannelPool* pool_;
    std::shared_ptr<Channel> ch_;
  };

  // At most `max_channels` channels, opened as needed.
  ChannelPool(Connection& conn, size_t max_channels, milliseconds timeout = std::chrono::seconds(30));
  ~ChannelPool();

  // A channel in confirm mode, open now (waits for a recovery to finish, or
  // for a channel to come back when all are lent). Throws ClientError at the
  // timeout or when the connection is closed for good.
  Lease get();
  size_t size() const;  // channels the pool owns, lent or idle
  size_t idle() const;

 private:
  void give_back(std::shared_ptr<Channel> ch);

  Connection& conn_;
  size_t max_;
  milliseconds timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Channel>> idle_;
  size_t owned_ = 0;
};

}  // namespace warren::client
