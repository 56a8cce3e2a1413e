// lock_bench: what one lock cycle (acquire, then release) costs over AMQP,
// for Warren's native lock queues and each amqp-locks recipe, beside the
// floor: a plain publish + consume round trip on one connection.
//
//   lock_bench --port P --recipe native --clients 1,64 --seconds 5
//   lock_bench --port P --baseline
//
// Each client is its own thread and connection, cycling on one lock as fast
// as it can: with C clients on a mutex, C-1 wait in line, so cycles/s is
// the lock's throughput and a cycle's latency includes the wait. Output: one
// markdown row per run (--json: one JSON object per line).
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "recipes/amqp_conn.hpp"
#include "recipes/lock_client.hpp"

using namespace warren::recipes;
using Clock = std::chrono::steady_clock;

namespace {

struct Result {
  uint64_t cycles = 0;
  double seconds = 0;
  double p50_ms = 0, p99_ms = 0;
  uint64_t errors = 0;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, size_t(p * double(v.size())));
  std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(i), v.end());
  return v[i];
}

Result run_locks(const Endpoint& ep, const std::string& recipe, bool fence, int clients, double seconds, int run) {
  const std::string lock = fmt::format("bench-{}-{}-{}", recipe, clients, run);
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::vector<double>> lat(static_cast<size_t>(clients));
  std::atomic<uint64_t> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      Options o;
      o.permits = 1;
      o.fence = fence;
      auto c = make_lock_client(recipe, ep, lock, o);
      try {
        c->acquire(std::chrono::seconds(30));  // connects, declares
        c->release();
      } catch (const std::exception&) {
      }
      while (!go) std::this_thread::yield();
      while (!stop) {
        auto t0 = Clock::now();
        try {
          if (!c->acquire(std::chrono::seconds(30))) {
            ++errors;
            continue;
          }
          c->release();
        } catch (const std::exception& e) {
          ++errors;
          continue;
        }
        lat[size_t(i)].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      c->disconnect();
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all connected
  auto t0 = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  Result r;
  r.cycles = all.size();
  r.seconds = took;
  r.p50_ms = percentile(all, 0.50);
  r.p99_ms = percentile(all, 0.99);
  r.errors = errors;
  return r;
}

// The floor: publish one message to a queue and consume it, in a loop.
Result run_baseline(const Endpoint& ep, double seconds) {
  amqp::Connection c(ep, std::chrono::seconds(10));
  const uint16_t ch = c.open_channel();
  const std::string q = "bench-baseline";
  c.declare(ch, q, {});
  c.qos(ch, 1);
  std::string tag;
  c.consume(ch, q, false, false, {}, &tag);
  std::vector<double> lat;
  const auto end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  auto t0 = Clock::now();
  while (Clock::now() < end) {
    auto s = Clock::now();
    c.publish(ch, q, "x", {});
    auto d = c.next_delivery(ch, Clock::now() + std::chrono::seconds(10));
    if (!d) break;
    c.ack(ch, d->tag);
    lat.push_back(std::chrono::duration<double, std::milli>(Clock::now() - s).count());
  }
  Result r;
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  r.cycles = lat.size();
  r.p50_ms = percentile(lat, 0.5);
  r.p99_ms = percentile(lat, 0.99);
  return r;
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string x; std::getline(in, x, ',');) out.push_back(std::stoi(x));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Endpoint ep;
  std::string recipe = "native", broker = "warren", client_list = "1,64";
  double seconds = 5;
  bool baseline = false, json = false, fence = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--host") ep.host = next();
    else if (a == "--port") ep.port = std::stoi(next());
    else if (a == "--recipe") recipe = next();
    else if (a == "--clients") client_list = next();
    else if (a == "--seconds") seconds = std::stod(next());
    else if (a == "--broker") broker = next();
    else if (a == "--baseline") baseline = true;
    else if (a == "--json") json = true;
    else if (a == "--no-fence") fence = false;
    else {
      std::cerr << "usage: lock_bench --port P [--host H] [--broker NAME] (--recipe NAME [--clients 1,64] [--no-fence] | --baseline) "
                   "[--seconds S] [--json]\n";
      return 2;
    }
  }
  auto print = [&](const std::string& what, int clients, const Result& r) {
    const double rate = r.seconds > 0 ? double(r.cycles) / r.seconds : 0;
    if (json)
      std::cout << fmt::format(
          R"({{"broker":"{}","what":"{}","clients":{},"cycles_per_s":{:.0f},"p50_ms":{:.3f},"p99_ms":{:.3f},"errors":{}}})",
          broker, what, clients, rate, r.p50_ms, r.p99_ms, r.errors)
                << std::endl;
    else
      std::cout << fmt::format("| {} | {} | {} | {:.0f} | {:.3f} | {:.3f} | {} |\n", broker, what, clients, rate,
                               r.p50_ms, r.p99_ms, r.errors)
                << std::flush;
  };
  if (baseline) {
    print("publish+consume round trip", 1, run_baseline(ep, seconds));
    return 0;
  }
  int run = 0;
  const std::string what = fence || recipe.starts_with("native") ? recipe : recipe + " (no fence)";
  for (int c : parse_list(client_list)) print(what, c, run_locks(ep, recipe, fence, c, seconds, run++));
  return 0;
}
