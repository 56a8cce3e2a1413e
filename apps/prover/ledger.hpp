#pragma once
// The fenced resource of the lock workload (docs/prover.md, "Ledger"): it
// refuses a write whose token is lower than one it accepted before, as a
// store that follows Kleppmann's fencing does.
//
// A mutex is fenced by one highest token. A semaphore's holders have
// different tokens at the same time, so one highest token would refuse
// every holder but the newest: a semaphore is fenced per permit slot (the
// x-lock-permit of Warren's grants), the highest token accepted for that
// slot. A write without a slot (permit 0) to a semaphore, from a recipe
// that has no permits, is recorded without refusal.
#include <cstdint>
#include <map>

namespace warren::prover {

class Ledger {
 public:
  // fenced: one highest token for the writes without a slot (a mutex);
  // false for a semaphore.
  explicit Ledger(bool fenced) : fenced_(fenced) {}
  // Accepted (true) or refused as stale (false).
  bool write(uint64_t token, uint32_t permit = 0);

 private:
  bool fenced_;
  std::map<uint32_t, uint64_t> highest_;  // by permit slot (0: no slot)
};

}  // namespace warren::prover
