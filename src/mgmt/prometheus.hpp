#pragma once
// The Prometheus text exposition format (version 0.0.4), written by hand,
// with RabbitMQ's metric names (rabbitmq_prometheus) so that its Grafana
// dashboards read Warren unchanged, plus Warren's own (warren_*).
#include <cstdint>
#include <string>
#include <string_view>

#include "mgmt/snapshot.hpp"

namespace warren::mgmt {

// What the process and its disk say (read on the HTTP thread).
struct ProcessInfo {
  uint64_t resident_memory = 0;  // bytes (/proc/self/statm)
  uint64_t disk_free = 0;        // bytes free on the data directory's file system
  uint64_t open_fds = 0, max_fds = 0;
  double uptime_seconds = 0;
};
ProcessInfo process_info(const std::string& data_dir);

// /metrics: node-wide figures, queues aggregated (no per-queue labels).
// /metrics/per-object (`per_object`): the same, plus one series per queue
// with labels vhost and queue.
std::string prometheus_text(const Snapshot& s, const ProcessInfo& p, bool per_object);

// A label value escaped as the format requires (backslash, quote, newline).
std::string escape_label(std::string_view v);

}  // namespace warren::mgmt
