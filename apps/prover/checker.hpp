#pragma once
// The prover's checkers: pure functions of a recorded history.
//
// Lock workload. Each client cycles: acquire, write "begin" to the fenced
// resource with its token, hold, write "end", release. The resource (the
// prover's ledger, ledger.hpp) accepts a write unless a higher token has
// been accepted before it (for a semaphore: for the same permit slot). Two
// views of mutual exclusion:
//   - as the resource saw it: the sessions it accepted whole (begin and end
//     both accepted) never overlap beyond the permits, and two of one
//     permit slot never overlap. A violation here is a real corruption:
//     fencing did not (or could not) stop it.
//   - as the holders believed it: from acquire ok to release (or death,
//     or a lost connection). Overlaps here are what fencing exists for: a
//     holder paused or cut off still believes. An overlap is a violation
//     only when no fault touched either side (then the lock itself granted
//     twice); otherwise it is counted, and explained.
// Tokens: never repeated, and in real-time order: a grant that completed
// before another was asked for has the lower token. Liveness: once the
// faults have healed, every client asking is served within the bound.
#include <cstdint>
#include <string>
#include <vector>

#include "history.hpp"

namespace warren::prover {

struct Violation {
  std::string kind;  // "resource", "double-grant", "token-order", "token-repeat", "liveness", "lost-message"
  int64_t t_us;
  std::vector<int> processes;
  std::string text;
};

struct LockCheck {
  uint32_t permits = 1;
  // Faults and their heals are in the history; after the last heal plus
  // this, every client that asks must be served before the run ends.
  int64_t liveness_bound_us = 20'000'000;
  int64_t end_us = 0;  // when the run stopped (its open intervals end here)
  // How long a fault's effects outlast its heal, for the belief check: a
  // client that wakes from SIGSTOP (or a black hole's end) first reads what
  // its socket buffered meanwhile, such as a grant the broker has since
  // taken back when it declared the client dead, and believes it until
  // its next call fails. The prover uses 2 heartbeats.
  int64_t aftermath_us = 0;
};

struct Verdict {
  uint64_t operations = 0;  // client invocations: acquires, releases, enqueues, dequeues
  std::vector<Violation> violations;
  uint64_t acquired = 0, acquire_failed = 0, acquire_unknown = 0;
  uint64_t writes_accepted = 0, writes_fenced = 0;
  uint64_t belief_overlaps = 0;  // explained by a fault: what fencing is for
  int64_t max_wait_after_heal_us = 0;
  // Queue workload.
  uint64_t confirmed = 0, delivered = 0, duplicates = 0, lost = 0;
};

Verdict check_locks(const History& h, const LockCheck& c);

struct QueueCheck {
  int64_t end_us = 0;
};
// Every confirmed message was delivered at least once; duplicates counted.
Verdict check_queue(const History& h, const QueueCheck& c);

// "N operations, M violations": the summary's last line.
std::string summary_line(const Verdict& v);

}  // namespace warren::prover
