// exclusive-queue: amqp-locks' "true mutex" as an exclusive, predictably
// named queue ("True Mutex.md", first form). Declaring it is taking it; a
// 405 RESOURCE_LOCKED means another connection has it (and closes our
// channel: a new one is opened for the next try). Deleting it, or losing
// the connection, lets go. verify() publishes to it (mandatory, with
// confirms or in a transaction): a return means it is gone.
#include "recipes/primitives.hpp"

namespace warren::recipes {

namespace {

class ExclusiveQueue final : public Recipe {
 public:
  ExclusiveQueue(const Endpoint& ep, const std::string& lock, const Options& o)
      : Recipe(ep, lock, o), mutex_(lock), probe_(o.verify) {}

 private:
  std::optional<Held> take(Clock::time_point deadline) override {
    if (!mutex_.lock(conn(), deadline)) return std::nullopt;
    return Held{};
  }
  bool still_held() override { return conn().is_open(mutex_.channel()) && probe_.exists(conn(), lock_); }
  void let_go() override { mutex_.unlock(conn()); }
  void abandon() override { mutex_.abandon(conn()); }
  void forget() override {
    mutex_.forget();
    probe_.forget();
  }

  ExclusiveQueueMutex mutex_;
  Prober probe_;
};

}  // namespace

std::unique_ptr<LockClient> make_exclusive_queue(const Endpoint& ep, const std::string& lock, const Options& o) {
  return std::make_unique<ExclusiveQueue>(ep, lock, o);
}

}  // namespace warren::recipes
