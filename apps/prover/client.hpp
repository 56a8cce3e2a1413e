#pragma once
// A prover client: its own process (`warren-prover client ...`), so the
// nemesis can kill -9 it or SIGSTOP it. It talks to the prover over its
// stdin/stdout, one line each way:
//   out: "op <history json line>"          an invoke / ok / fail / info of its own
//   out: "write <token> <permit> begin|end"  a write to the fenced resource
//                                          (permit: a semaphore's slot, 0: none)...
//   in:  "ok" | "refused"                  ...and the ledger's answer
// Times in its ops are CLOCK_MONOTONIC µs, minus the run's start it is given.
#include <chrono>
#include <cstdint>
#include <string>

namespace warren::prover {

struct ClientOptions {
  int id = 0;
  std::string target;  // a recipe name (src/recipes) or "socketlock"
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string lock = "prover";
  std::string socketlock_path;
  uint32_t permits = 1;
  int heartbeat_s = 2;
  int64_t epoch_us = 0;  // the run's start, on CLOCK_MONOTONIC
  std::chrono::milliseconds hold{20};
  std::chrono::milliseconds acquire_timeout{5000};
  uint64_t seed = 1;
  bool unfenced = false;  // a planted bug: the resource is shown token 0, so it cannot fence
  bool no_fence = false;  // the recipes without their counter queue: no token at all (recipes::Options::fence)
  // Queue workload: "producer" (persistent publishes with confirms),
  // "consumer" (manual acks), or "drain" (takes what is left, then exits).
  std::string role;
};

int run_client(const ClientOptions& o);
int run_queue_client(const ClientOptions& o);

// CLOCK_MONOTONIC in µs: the clock every process of a run shares.
int64_t monotonic_us();

}  // namespace warren::prover
