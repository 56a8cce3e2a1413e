#pragma once
// One prover run: start the target broker, a proxy route and a client
// process per client, the fenced ledger, and the nemesis with its fault
// schedule (from the seed, so a failing run replays); stop after the given
// seconds, check the history, and write the report.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "checker.hpp"
#include "history.hpp"

namespace warren::prover {

// Every fault the nemesis knows.
inline const std::vector<std::string> kAllFaults = {"kill", "stop", "cut", "blackhole", "delay", "restart"};

struct RunOptions {
  std::string target;      // warren-native, warren-recipe-NAME, rabbitmq-recipe-NAME, socketlock
  std::string workload = "lock";
  std::vector<std::string> faults;
  int seconds = 30;
  uint64_t seed = 1;
  int clients = 5;
  std::string report_dir;  // empty: no files
  std::string warrend;     // the broker binary, for warren-* and socketlock targets
  std::string self;        // this program, to start clients
  int heartbeat_s = 2;
  std::vector<std::string> warrend_args;  // extra (selftest's planted bugs)
  bool unfenced = false;                  // clients show the resource token 0 (selftest's planted bug)
  bool no_fence = false;                  // recipes as their authors wrote them, with no token
  bool harsh = false;                     // every fault at the holder, and long enough to matter (selftest)
};

// The recipe a target's clients run ("native", "exclusive-queue", ... or
// "socketlock"), and whether it needs warrend or RabbitMQ.
struct Target {
  std::string recipe;
  bool rabbitmq = false;
  uint32_t permits = 1;
};
// Throws std::invalid_argument for a target that does not exist.
Target parse_target(const std::string& name);
std::vector<std::string> target_names();

// A fault aimed at the lock's holder when it strikes (where faults hurt):
// the seed fixes the schedule, the run which client that is.
inline constexpr int kHolder = -2;

struct Fault {
  int64_t at_us;
  std::string kind;
  int client;           // -1: the broker; kHolder: whoever holds the lock then (else client 0)
  int64_t duration_us;  // 0: instant
};
// The schedule a seed gives: one fault at a time, all healed before the
// run's quiet tail (the liveness bound) begins.
int64_t liveness_bound_us(const RunOptions& o);
std::vector<Fault> schedule(const RunOptions& o, int64_t quiet_tail_us);

struct RunResult {
  History history;
  Verdict verdict;
  std::vector<Fault> faults;
};

RunResult run(const RunOptions& o, std::ostream& log);

// The summary: counts, each violation, and the last line "N operations, M violations".
void print_summary(std::ostream& out, const RunOptions& o, const RunResult& r);

// report.html: a timeline of holders and faults with violations marked.
void write_report(const std::string& dir, const RunOptions& o, const RunResult& r);

}  // namespace warren::prover
