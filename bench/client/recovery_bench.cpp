// How long src/client takes to recover once the broker is reachable again
// (issue 14: within 100 ms). Starts its own warrend, connects with the
// client's default backoff (5 ms doubling to 50 ms), declares a durable
// queue, consumes from it and publishes persistent messages to it in
// confirm mode; then, each round, kill -9s warrend, starts it again on the
// same port and data dir, and measures from the moment the new process
// accepts a TCP connection (a probe connect() every 100 us) to
//   opened:      ConnectionEvents.opened of the new epoch (the connection is
//                open again, the topology re-declared and every channel
//                reopened with its qos, confirm mode and consumer);
//   first ack:   the first publish of the new epoch acked by the broker;
//   first deliv: the first delivery of the new epoch to the consumer.
//
//   recovery_bench --warrend build/release/apps/warrend/warrend [--rounds 20] [--json]
//
// One line per round, then median / p90 / max (with --json, JSON lines for
// bench/client/run.py).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "client/blocking.hpp"

using namespace warren::client;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("bind");
    std::exit(1);
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// True once 127.0.0.1:port completes a TCP handshake.
bool accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

struct Broker {
  std::string warrend, dir;
  uint16_t port = 0;
  pid_t pid = -1;

  void start() {
    std::string log = dir + "/warrend.log", port_s = std::to_string(port), sl = dir + "/sl.sock";
    pid = ::fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1), ::dup2(fd, 2);
      ::execl(warrend.c_str(), warrend.c_str(), "--data-dir", dir.c_str(), "--amqp-port", port_s.c_str(),
              "--socketlock-path", sl.c_str(), "--log-level", "warn", static_cast<char*>(nullptr));
      std::_Exit(127);
    }
  }
  // Polls until the new process accepts a connection; the time it first did.
  Clock::time_point wait_accepting(std::chrono::seconds limit) {
    auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      if (accepts(port)) return Clock::now();
      int status;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        std::fprintf(stderr, "recovery_bench: warrend exited (see %s/warrend.log)\n", dir.c_str());
        std::exit(1);
      }
      std::this_thread::sleep_for(100us);
    }
    std::fprintf(stderr, "recovery_bench: warrend did not accept within %lld s\n", (long long)limit.count());
    kill9();
    std::exit(1);
  }
  void kill9() {
    ::kill(pid, SIGKILL);
    int status;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
  void stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    int status;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
};

// What the callbacks saw, per epoch.
struct Observed {
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, Clock::time_point> opened, first_publish, first_ack, first_delivery;
  std::vector<double> ack_latency_ms;  // publish to ack, in steady state
  std::map<uint64_t, size_t> acks;  // per epoch
  size_t unknown = 0, nacked = 0;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  size_t i = size_t(p * double(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::string warrend;
  int rounds = 20;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--warrend") && i + 1 < argc) {
      warrend = argv[++i];
    } else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--json")) {
      json = true;
    } else {
      std::fprintf(stderr, "usage: recovery_bench --warrend PATH [--rounds N] [--json]\n");
      return 2;
    }
  }
  if (warrend.empty()) {
    std::fprintf(stderr, "recovery_bench: --warrend PATH is required\n");
    return 2;
  }
  char tmpl[] = "/tmp/recovery-bench.XXXXXX";
  Broker broker{warrend, ::mkdtemp(tmpl), free_port()};
  broker.start();
  broker.wait_accepting(30s);

  Observed obs;
  ConnectionOptions opts =
      options_from_uri("amqp://guest:guest@127.0.0.1:" + std::to_string(broker.port) + "/%2F");
  opts.session.backoff_min = 5ms;
  opts.session.backoff_max = 50ms;
  opts.events.opened = [&](uint64_t epoch) {
    auto t = Clock::now();
    std::lock_guard l(obs.mu);
    obs.opened.emplace(epoch, t);
    obs.cv.notify_all();
  };
  auto conn = Connection::open(opts);

  const std::string q = "recovery-bench";
  BlockingChannel decl(conn->channel());
  decl.queue_declare({.name = q, .durable = true});
  decl.queue_purge(q);

  // The consumer: acks each delivery.
  auto cons = conn->channel();
  BlockingChannel(cons).qos(100);
  ConsumerEvents ev;
  ev.delivery = [&](Delivery&& d) {
    auto t = Clock::now();
    cons->ack(d);
    std::lock_guard l(obs.mu);
    if (obs.first_delivery.emplace(d.epoch, t).second) obs.cv.notify_all();
  };
  cons->consume({.queue = q}, ev, nullptr);

  // The publisher: persistent messages, up to 8 in flight, one a
  // millisecond; while the channel is down (publish throws) it tries again
  // every 100 us, so its first publish of an epoch follows the reopening
  // closely. Each publish's epoch is read just after it was accepted: an
  // Acked publish cannot belong to an earlier epoch than that.
  auto pub = conn->channel();
  BlockingChannel(pub).confirm_select();
  std::atomic<bool> stop{false};
  std::mutex fmu;
  std::condition_variable fcv;
  size_t in_flight = 0;
  std::thread publisher([&] {
    BasicProperties props;
    props.delivery_mode = 2;
    std::string body(64, 'r');
    while (!stop) {
      {
        std::unique_lock l(fmu);
        if (!fcv.wait_for(l, 100ms, [&] { return in_flight < 8; })) continue;
        ++in_flight;
      }
      auto epoch = std::make_shared<std::atomic<uint64_t>>(0);
      auto t_pub = Clock::now();
      try {
        pub->publish({.exchange = "", .routing_key = q, .body = body, .properties = &props}, [&, epoch, t_pub](Outcome o) {
          auto t = Clock::now();
          {
            std::lock_guard l(fmu);
            --in_flight;
            fcv.notify_one();
          }
          std::lock_guard l(obs.mu);
          if (o == Outcome::Acked) {
            // The publisher stores the epoch right after publish() returns;
            // an ack takes a round trip, but wait for it to be safe.
            uint64_t e;
            while ((e = epoch->load()) == 0) std::this_thread::yield();
            if (++obs.acks[e] == 200) obs.cv.notify_all();  // the steady state a round waits for
            if (obs.ack_latency_ms.size() < 100000) obs.ack_latency_ms.push_back(ms_between(t_pub, t));
            if (obs.first_ack.emplace(e, t).second) obs.cv.notify_all();
          } else if (o == Outcome::Unknown) {
            ++obs.unknown;
          } else {
            ++obs.nacked;
          }
        });
        uint64_t e = conn->epoch();
        epoch->store(e);
        std::lock_guard l(obs.mu);
        obs.first_publish.emplace(e, t_pub);
      } catch (const ClientError&) {
        {
          std::lock_guard l(fmu);
          --in_flight;
        }
        std::this_thread::sleep_for(100us);
        continue;
      }
      std::this_thread::sleep_for(1ms);
    }
  });

  auto wait_for = [&](auto& m, uint64_t epoch, std::chrono::seconds limit) -> std::optional<Clock::time_point> {
    std::unique_lock l(obs.mu);
    if (!obs.cv.wait_for(l, limit, [&] { return m.count(epoch) > 0; })) return std::nullopt;
    return m.at(epoch);
  };

  std::vector<double> restart_ms, opened_ms, publish_ms, ack_ms, deliv_ms;
  int failures = 0;
  for (int r = 1; r <= rounds; ++r) {
    uint64_t epoch = conn->epoch();
    // Steady state first: 200 acks (about 0.2 s) and deliveries in this epoch.
    {
      std::unique_lock l(obs.mu);
      obs.cv.wait_for(l, 10s, [&] { return obs.acks[epoch] >= 200 && obs.first_delivery.count(epoch); });
    }
    auto t_kill = Clock::now();
    broker.kill9();
    broker.start();
    auto t_accept = broker.wait_accepting(30s);
    auto opened = wait_for(obs.opened, epoch + 1, 10s);
    auto ack = wait_for(obs.first_ack, epoch + 1, 10s);
    auto deliv = wait_for(obs.first_delivery, epoch + 1, 10s);
    auto published = wait_for(obs.first_publish, epoch + 1, 1s);
    if (!opened || !ack || !deliv || !published) {
      std::fprintf(stderr, "recovery_bench: round %d: epoch %llu did not %s within 10 s\n", r,
                   (unsigned long long)(epoch + 1),
                   !opened ? "open" : !ack ? "ack a publish" : !deliv ? "deliver" : "take a publish");
      ++failures;
      continue;
    }
    double restart = ms_between(t_kill, t_accept), o = ms_between(t_accept, *opened),
           p = ms_between(t_accept, *published), a = ms_between(t_accept, *ack), d = ms_between(t_accept, *deliv);
    restart_ms.push_back(restart), opened_ms.push_back(o), publish_ms.push_back(p), ack_ms.push_back(a),
        deliv_ms.push_back(d);
    if (json)
      std::printf("{\"round\": %d, \"epoch\": %llu, \"restart_ms\": %.2f, \"opened_ms\": %.2f, "
                  "\"first_publish_ms\": %.2f, \"first_ack_ms\": %.2f, \"first_delivery_ms\": %.2f, "
                  "\"accepting_at\": %.6f}\n",
                  r, (unsigned long long)(epoch + 1), restart, o, p, a, d,
                  // CLOCK_MONOTONIC seconds, to line up with `perf record -k CLOCK_MONOTONIC`
                  std::chrono::duration<double>(t_accept.time_since_epoch()).count());
    else
      std::printf("round %2d: epoch %llu: broker accepting %.1f ms after the kill; then opened +%.2f ms, "
                  "first publish +%.2f ms, its ack +%.2f ms, first delivery +%.2f ms\n",
                  r, (unsigned long long)(epoch + 1), restart, o, p, a, d);
    std::fflush(stdout);
  }
  stop = true;
  publisher.join();
  size_t unknown;
  std::vector<double> latency;
  {
    std::lock_guard l(obs.mu);
    unknown = obs.unknown;
    latency = obs.ack_latency_ms;
  }
  auto summary = [&](const char* name, const std::vector<double>& v) {
    double med = percentile(v, 0.5), p90 = percentile(v, 0.9), p99 = percentile(v, 0.99),
           max = v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
    if (json)
      std::printf("{\"summary\": \"%s\", \"n\": %zu, \"median\": %.2f, \"p90\": %.2f, \"p99\": %.2f, "
                  "\"max\": %.2f}\n",
                  name, v.size(), med, p90, p99, max);
    else
      std::printf("%-16s n=%zu median %.2f ms, p90 %.2f ms, max %.2f ms\n", name, v.size(), med, p90, max);
  };
  summary("restart", restart_ms);
  summary("opened", opened_ms);
  summary("first_publish", publish_ms);
  summary("first_ack", ack_ms);
  summary("first_delivery", deliv_ms);
  summary("ack_latency", latency);  // every acked publish, publish() to its ack
  if (json)
    std::printf("{\"failures\": %d, \"unknown_outcomes\": %zu}\n", failures, unknown);
  else
    std::printf("failures %d, publishes that ended Unknown (in flight at a kill) %zu\n", failures, unknown);
  std::fflush(stdout);

  conn->close();
  cons.reset(), pub.reset();
  broker.stop();
  std::filesystem::remove_all(broker.dir);
  return failures ? 1 : 0;
}
