#pragma once
// Runs a warren-perf test: declares the topology, starts one thread per
// consumer and per producer connection, prints a line per second, and
// gathers the results. Protocol-agnostic: it drives a ProtocolImpl.
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "histogram.hpp"
#include "options.hpp"
#include "protocol.hpp"

namespace warren::perf {

struct Results {
  double seconds = 0;          // wall time from the first publish to the end of the run
  double send_seconds = 0;     // ... to the last producer's end
  double receive_seconds = 0;  // ... to the last delivery
  uint64_t sent = 0, confirmed = 0, nacked = 0, returned = 0, received = 0;
  Histogram latency;          // consumer latency, ns
  Histogram confirm_latency;  // publish to confirm, ns
  bool verified = false;      // loss/dup checked (needs -C)
  uint64_t lost = 0, duplicated = 0;
  double cpu_user = 0, cpu_system = 0;  // seconds of this process
  std::vector<std::string> errors;      // client failures
  std::string routing_key;

  double send_rate() const { return send_seconds > 0 ? double(sent) / send_seconds : 0; }
  double receive_rate() const { return receive_seconds > 0 ? double(received) / receive_seconds : 0; }
  double cpu_percent() const { return seconds > 0 ? 100.0 * (cpu_user + cpu_system) / seconds : 0; }
};

// Asks a running test to stop (from a signal handler: it only sets a flag).
void request_stop();

Results run(const Options& o, const ProtocolImpl& protocol);

std::string summary_text(const Options& o, const Results& r);
std::string summary_json(const Options& o, const Results& r);
std::string random_uuid();

}  // namespace warren::perf
