#include "mgmt/prometheus.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "mgmt/format.hpp"

namespace warren::mgmt {

namespace {

const auto kStarted = std::chrono::steady_clock::now();

class Writer {
 public:
  // One metric family: its HELP and TYPE lines.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, uint64_t v, std::string_view labels = {}) {
    if (labels.empty())
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, v);
    else
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, v);
  }
  void sample_double(std::string_view name, double v, std::string_view labels = {}) {
    if (labels.empty())
      fmt::format_to(std::back_inserter(out_), "{} {}\n", name, v);
    else
      fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, v);
  }
  // A family with one unlabelled sample.
  void one(std::string_view name, std::string_view type, std::string_view help, uint64_t v) {
    family(name, type, help);
    sample(name, v);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string queue_labels(const QueueInfo& q) {
  return fmt::format("vhost=\"{}\",queue=\"{}\"", escape_label(q.vhost), escape_label(q.name));
}

}  // namespace

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

ProcessInfo process_info(const std::string& data_dir) {
  ProcessInfo p;
  std::ifstream statm("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  if (statm >> size >> resident) p.resident_memory = resident * uint64_t(sysconf(_SC_PAGESIZE));
  struct statvfs fs {};
  if (!data_dir.empty() && statvfs(data_dir.c_str(), &fs) == 0) p.disk_free = uint64_t(fs.f_bavail) * fs.f_frsize;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec); !ec && it != std::filesystem::end(it);
       it.increment(ec))
    ++p.open_fds;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) p.max_fds = rl.rlim_cur;
  p.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - kStarted).count();
  return p;
}

std::string prometheus_text(const Snapshot& s, const ProcessInfo& p, bool per_object) {
  Writer w;
  const Totals& t = s.totals;
  w.family("rabbitmq_build_info", "untyped", "RabbitMQ & Erlang/OTP version info");
  w.sample("rabbitmq_build_info", 1,
           "rabbitmq_version=\"3.10.0\",prometheus_plugin_version=\"3.10.0\",prometheus_client_version=\"none\","
           "erlang_version=\"none\",product=\"Warren\",product_version=\"0.1.0\"");
  w.family("rabbitmq_identity_info", "untyped", "RabbitMQ node & cluster identity info");
  const std::string node = escape_label(node_name());
  w.sample("rabbitmq_identity_info", 1,
           fmt::format("rabbitmq_node=\"{}\",rabbitmq_cluster=\"{}\",rabbitmq_cluster_permanent_id=\"warren-{}\"",
                       node, node, node));

  w.one("rabbitmq_connections", "gauge", "Connections currently open", t.connections);
  w.one("rabbitmq_channels", "gauge", "Channels currently open (AMQP 1.0: sessions)", t.channels);
  w.one("rabbitmq_consumers", "gauge", "Consumers currently connected", t.consumers);
  w.one("rabbitmq_queues", "gauge", "Queues available", t.queues);
  w.one("rabbitmq_exchanges", "gauge", "Exchanges available (warren)", t.exchanges);

  // Queue figures: summed here; per queue under /metrics/per-object.
  struct QueueMetric {
    const char* name;
    const char* type;
    const char* help;
    uint64_t (*of)(const QueueInfo&);
    uint64_t total;
  };
  const QueueMetric qm[] = {
      {"rabbitmq_queue_messages_ready", "gauge", "Messages ready to be delivered to consumers",
       [](const QueueInfo& q) { return q.messages_ready; }, t.messages_ready},
      {"rabbitmq_queue_messages_unacked", "gauge", "Messages delivered to consumers but not yet acknowledged",
       [](const QueueInfo& q) { return q.messages_unacknowledged; }, t.messages_unacknowledged},
      {"rabbitmq_queue_messages", "gauge", "Sum of ready and unacknowledged messages - total queue depth",
       [](const QueueInfo& q) { return q.messages_ready + q.messages_unacknowledged; },
       t.messages_ready + t.messages_unacknowledged},
      {"rabbitmq_queue_consumers", "gauge", "Consumers on a queue", [](const QueueInfo& q) { return q.consumers; },
       t.queue_consumers},
      {"rabbitmq_queue_process_memory_bytes", "gauge", "Memory in bytes used by the queue (approximate)",
       [](const QueueInfo& q) { return q.memory; }, t.queue_memory},
      {"rabbitmq_queue_messages_published_total", "counter", "Messages published into a queue",
       [](const QueueInfo& q) { return q.counts.publish; }, t.counts.publish},
  };
  for (const QueueMetric& m : qm) {
    w.family(m.name, m.type, m.help);
    if (!per_object) {
      w.sample(m.name, m.total);
      continue;
    }
    for (const QueueInfo& q : s.queues) w.sample(m.name, m.of(q), queue_labels(q));
  }

  const broker::MessageCounts& c = t.counts;
  const broker::PublishCounts& pc = t.publish;
  w.one("rabbitmq_global_messages_received_total", "counter", "Total number of messages received from publishers",
        pc.received);
  w.one("rabbitmq_global_messages_routed_total", "counter", "Total number of messages routed to queues or streams",
        pc.routed);
  w.one("rabbitmq_global_messages_unroutable_dropped_total", "counter",
        "Total number of messages published as non-mandatory into an exchange and dropped as unroutable",
        pc.unroutable >= pc.returned ? pc.unroutable - pc.returned : 0);
  w.one("rabbitmq_global_messages_unroutable_returned_total", "counter",
        "Total number of messages published as mandatory into an exchange and returned to the publisher as "
        "unroutable",
        pc.returned);
  w.one("rabbitmq_global_messages_confirmed_total", "counter", "Total number of messages confirmed to publishers",
        pc.confirmed);
  w.one("rabbitmq_global_messages_delivered_total", "counter", "Total number of messages delivered to consumers",
        c.deliver_get());
  w.one("rabbitmq_global_messages_delivered_consume_manual_ack_total", "counter",
        "Total number of messages delivered to consumers using basic.consume with manual acknowledgment", c.deliver);
  w.one("rabbitmq_global_messages_delivered_consume_auto_ack_total", "counter",
        "Total number of messages delivered to consumers using basic.consume with automatic acknowledgment",
        c.deliver_no_ack);
  w.one("rabbitmq_global_messages_delivered_get_manual_ack_total", "counter",
        "Total number of messages delivered to consumers using basic.get with manual acknowledgment", c.get);
  w.one("rabbitmq_global_messages_delivered_get_auto_ack_total", "counter",
        "Total number of messages delivered to consumers using basic.get with automatic acknowledgment",
        c.get_no_ack);
  w.one("rabbitmq_global_messages_get_empty_total", "counter",
        "Total number of times basic.get operations fetched no message", c.get_empty);
  w.one("rabbitmq_global_messages_redelivered_total", "counter",
        "Total number of messages redelivered to consumers", c.redeliver);
  w.one("rabbitmq_global_messages_acknowledged_total", "counter",
        "Total number of messages acknowledged by consumers", c.ack);

  w.one("rabbitmq_process_resident_memory_bytes", "gauge", "Memory used in bytes", p.resident_memory);
  w.one("rabbitmq_resident_memory_limit_bytes", "gauge", "Memory high watermark in bytes", s.node.mem_limit);
  w.one("rabbitmq_disk_space_available_bytes", "gauge", "Disk space available in bytes", p.disk_free);
  w.one("rabbitmq_disk_space_available_limit_bytes", "gauge", "Free disk space low watermark in bytes",
        s.node.disk_free_limit);
  w.one("rabbitmq_process_open_fds", "gauge", "Open file descriptors", p.open_fds);
  w.one("rabbitmq_process_max_fds", "gauge", "Open file descriptors limit", p.max_fds);
  w.one("rabbitmq_alarms_memory_used_watermark", "untyped",
        "is set to 1 when the memory high watermark alarm is on", s.node.alarms.memory ? 1 : 0);
  w.one("rabbitmq_alarms_free_disk_space_watermark", "untyped",
        "is set to 1 when the free disk space alarm is on", s.node.alarms.disk ? 1 : 0);
  w.one("rabbitmq_alarms_file_descriptor_limit", "untyped",
        "is set to 1 when the file descriptor limit alarm is on (never, in Warren)", 0);
  w.family("rabbitmq_erlang_uptime_seconds", "gauge", "Node uptime");
  w.sample_double("rabbitmq_erlang_uptime_seconds", p.uptime_seconds);
  w.one("warren_message_memory_bytes", "gauge", "Bytes of live messages (the memory alarm's measure)",
        s.node.message_memory);

  // Warren's lock queues: who holds, who waits, one series per lock.
  w.family("warren_lock_holders", "gauge", "Holders of a lock queue's lock");
  for (const QueueInfo& q : s.queues)
    if (q.lock) w.sample("warren_lock_holders", q.lock_holders, queue_labels(q));
  w.family("warren_lock_waiters", "gauge", "Consumers waiting for a lock queue's lock (an outstanding offer counts)");
  for (const QueueInfo& q : s.queues)
    if (q.lock) w.sample("warren_lock_waiters", q.lock_waiters, queue_labels(q));

  // Storage: one sample per batch written and synced (group commit).
  w.family("warren_store_sync_seconds", "histogram",
           "Time a vhost store took to write and fdatasync a batch (one per group commit)");
  for (const StoreSync& st : s.store_sync) {
    const std::string vhost = fmt::format("vhost=\"{}\"", escape_label(st.vhost));
    uint64_t cumulative = 0;
    for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
      cumulative += st.latency.buckets[i];
      const std::string le =
          i < LatencyHistogram::kBounds.size() ? fmt::format("{}", LatencyHistogram::kBounds[i]) : "+Inf";
      w.sample("warren_store_sync_seconds_bucket", cumulative, fmt::format("{},le=\"{}\"", vhost, le));
    }
    w.sample_double("warren_store_sync_seconds_sum", st.latency.sum_seconds, vhost);
    w.sample("warren_store_sync_seconds_count", st.latency.count, vhost);
  }

  // socketlock, when this warrend is its primary.
  if (const auto& sl = s.socketlock) {
    w.one("warren_socketlock_clients", "gauge", "Clients connected to the socketlock primary", sl->clients);
    w.family("warren_socketlock_holders", "gauge", "Holders of the socketlock lock, by mode");
    w.sample("warren_socketlock_holders", sl->exclusive_holders, "mode=\"exclusive\"");
    w.sample("warren_socketlock_holders", sl->shared_holders, "mode=\"shared\"");
    w.one("warren_socketlock_waiters", "gauge", "Requests waiting for the socketlock lock (an offer counts)",
          sl->waiters);
    w.one("warren_socketlock_epoch", "gauge", "The socketlock primary's epoch (one more at each takeover)",
          sl->epoch);
    w.one("warren_socketlock_next_token", "counter",
          "The next fencing token socketlock grants (its increase is the grants made)", sl->next_token);
  }
  return w.take();
}

}  // namespace warren::mgmt
