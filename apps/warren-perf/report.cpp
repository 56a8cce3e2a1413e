// warren-perf's final summary: text for people, one JSON line for scripts.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "driver.hpp"

namespace warren::perf {
namespace {

struct Percentile {
  const char* name;
  double p;
};
constexpr Percentile kPercentiles[] = {{"p50", 50}, {"p75", 75}, {"p95", 95}, {"p99", 99}, {"p99.9", 99.9}};

double micros(uint64_t ns) { return double(ns) / 1000.0; }

std::string histogram_line(const Histogram& h) {
  if (h.count() == 0) return "none";
  std::string s;
  char b[64];
  std::snprintf(b, sizeof b, "min %.1f", micros(h.min()));
  s += b;
  for (const auto& p : kPercentiles) {
    std::snprintf(b, sizeof b, ", %s %.1f", p.name, micros(h.percentile(p.p)));
    s += b;
  }
  std::snprintf(b, sizeof b, ", max %.1f µs (%llu samples)", micros(h.max()), (unsigned long long)h.count());
  return s + b;
}

nlohmann::json histogram_json(const Histogram& h) {
  nlohmann::json j = {{"count", h.count()}, {"min", micros(h.min())}, {"max", micros(h.max())}, {"mean", h.mean() / 1000.0}};
  for (const auto& p : kPercentiles) j[p.name] = micros(h.percentile(p.p));
  return j;
}

}  // namespace

std::string summary_text(const Options& o, const Results& r) {
  std::string s;
  char b[512];
  std::snprintf(b, sizeof b, "summary: %d producer(s), %d consumer(s), %zu B bodies, %s, %.2f s\n", o.producers,
                o.consumers, o.body_size, o.protocol == Protocol::Amqp10 ? "amqp10" : "amqp091", r.seconds);
  s += b;
  std::snprintf(b, sizeof b, "sending rate avg: %.0f msg/s\nreceiving rate avg: %.0f msg/s\n", r.send_rate(),
                r.receive_rate());
  s += b;
  std::snprintf(b, sizeof b, "messages: sent %llu, confirmed %llu, nacked %llu, returned %llu, received %llu\n",
                (unsigned long long)r.sent, (unsigned long long)r.confirmed, (unsigned long long)r.nacked,
                (unsigned long long)r.returned, (unsigned long long)r.received);
  s += b;
  s += "consumer latency: " + histogram_line(r.latency) + "\n";
  if (o.confirms()) s += "confirm latency: " + histogram_line(r.confirm_latency) + "\n";
  if (r.verified)
    std::snprintf(b, sizeof b, "verification: lost %llu, duplicated %llu\n", (unsigned long long)r.lost,
                  (unsigned long long)r.duplicated);
  else
    std::snprintf(b, sizeof b, "verification: not done (needs -C, consumers and a run without errors)\n");
  s += b;
  std::snprintf(b, sizeof b, "warren-perf CPU: user %.2f s, system %.2f s, %.0f%% of one core\n", r.cpu_user,
                r.cpu_system, r.cpu_percent());
  s += b;
  for (const auto& e : r.errors) s += "error: " + e + "\n";
  return s;
}

std::string summary_json(const Options& o, const Results& r) {
  nlohmann::json j = {
      {"protocol", o.protocol == Protocol::Amqp10 ? "amqp10" : "amqp091"},
      {"producers", o.producers},
      {"consumers", o.consumers},
      {"size", o.body_size},
      {"confirm", o.confirm},
      {"rate", o.rate},
      {"seconds", r.seconds},
      {"sent", r.sent},
      {"confirmed", r.confirmed},
      {"nacked", r.nacked},
      {"returned", r.returned},
      {"received", r.received},
      {"send_rate", r.send_rate()},
      {"receive_rate", r.receive_rate()},
      {"latency_us", histogram_json(r.latency)},
      {"confirm_latency_us", histogram_json(r.confirm_latency)},
      {"verified", r.verified},
      {"lost", r.lost},
      {"duplicated", r.duplicated},
      {"cpu", {{"user_s", r.cpu_user}, {"system_s", r.cpu_system}, {"percent", r.cpu_percent()}}},
      {"errors", r.errors},
  };
  return j.dump();
}

}  // namespace warren::perf
