// semaphore-ab: amqp-locks' "persistent semaphore" (Persistent
// Semaphore.md). Slot i of semaphore N is two queues:
//
//   A[i] = "N-i-A"  durable; it exists while the slot does (administration)
//   B[i] = "N-i-B"  exclusive; it exists while a client holds slot i
//
// and "N.admin" is the administration mutex (an exclusive queue) that
// guards creating the A queues. Existence is checked with a mandatory
// publish (Prober), as the document recommends.
//
//   acquire: if A[1] does not exist, create A[1..permits] under the
//            administration mutex. Then for L = 1, 2, ...: no A[L] means
//            no free slot (wait a little, scan again); B[L] existing
//            means taken (next L); else declare B[L] exclusive. 405
//            RESOURCE_LOCKED means someone else got it first: a new
//            channel, a random pause, and back to L = 1. Success is
//            verified before it is reported, as the document recommends.
//   verify:  A[L] exists (the document's check) and our B[L] answers a
//            passive declare on the channel that declared it (ours, not
//            only the name's).
//   release: delete B[L]. Losing the connection deletes it too.
//
// An existing semaphore keeps its number of slots: Options::permits only
// matters to the client that creates it (resizing is the administrator's
// job in the document, and is not offered here).
#include "recipes/primitives.hpp"

namespace warren::recipes {

namespace {

class SemaphoreAB final : public Recipe {
 public:
  SemaphoreAB(const Endpoint& ep, const std::string& lock, const Options& o)
      : Recipe(ep, lock, o), admin_(lock + ".admin"), probe_(o.verify) {}

 private:
  std::string a(uint32_t i) const { return lock_ + "-" + std::to_string(i) + "-A"; }
  std::string b(uint32_t i) const { return lock_ + "-" + std::to_string(i) + "-B"; }

  // false: the administration mutex was not had by `deadline`.
  bool ensure_created(Clock::time_point deadline) {
    if (probe_.exists(conn(), a(1))) return true;
    if (!admin_.lock(conn(), deadline)) return false;
    uint32_t c = 0;  // the document's "maximum": the A queues in order, up to the first missing one
    while (probe_.exists(conn(), a(c + 1))) ++c;
    for (uint32_t i = c + 1; i <= opts_.permits; ++i) {
      amqp::DeclareOk ok = conn().declare(admin_.channel(), a(i), {.durable = true});
      if (!ok.status.ok()) unexpected("declare " + a(i), ok.status);
    }
    admin_.unlock(conn());
    return true;
  }

  std::optional<Held> take(Clock::time_point deadline) override {
    if (!ensure_created(deadline)) return std::nullopt;
    for (int attempt = 0;; ++attempt) {
      for (uint32_t l = 1; probe_.exists(conn(), a(l)); ++l) {
        if (probe_.exists(conn(), b(l))) continue;
        if (!conn().is_open(bch_)) bch_ = conn().open_channel();
        amqp::DeclareOk ok = conn().declare(bch_, b(l), {.exclusive = true});
        if (!ok.status.ok()) {
          bch_ = 0;  // closed by the refusal
          if (ok.status.code != amqp::kResourceLocked) unexpected("declare " + b(l), ok.status);
          break;  // lost a race: back to L = 1 after a pause
        }
        slot_ = l;
        if (still_held()) return Held{.permit = l};
        let_go();
      }
      if (!pause_before_retry(deadline, attempt)) return std::nullopt;
    }
  }

  bool still_held() override {
    if (!slot_ || !conn().is_open(bch_) || !probe_.exists(conn(), a(slot_))) return false;
    if (conn().declare(bch_, b(slot_), {.passive = true}).status.ok()) return true;
    bch_ = 0;  // the failed declare closed it
    return false;
  }

  void let_go() override {
    if (slot_ && conn().is_open(bch_)) conn().delete_queue(bch_, b(slot_));
    slot_ = 0;
  }
  void abandon() override {
    close_quietly(conn(), bch_);
    slot_ = 0;
  }
  void forget() override {
    admin_.forget();
    probe_.forget();
    bch_ = 0;
    slot_ = 0;
  }

  ExclusiveQueueMutex admin_;
  Prober probe_;
  uint16_t bch_ = 0;  // declares our B queue; its connection owns it
  uint32_t slot_ = 0;
};

}  // namespace

std::unique_ptr<LockClient> make_semaphore_ab(const Endpoint& ep, const std::string& lock, const Options& o) {
  return std::make_unique<SemaphoreAB>(ep, lock, o);
}

}  // namespace warren::recipes
