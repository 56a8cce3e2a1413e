#include "run.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <stdexcept>
#include <thread>

#include "broker.hpp"
#include "client.hpp"
#include "ledger.hpp"
#include "proxy.hpp"
#include "recipes/lock_client.hpp"

namespace warren::prover {

namespace {

using namespace std::chrono;

struct Shared {
  std::mutex mu;
  History history;
  Ledger ledger{true};
  int64_t epoch_us = 0;
  void record(Op op) {
    std::lock_guard lock(mu);
    history.push_back(std::move(op));
  }
};

// A client process and the thread that serves its lines.
class ClientProcess {
 public:
  ClientProcess(int id, std::vector<std::string> argv, std::string log, Shared& shared)
      : id_(id), argv_(std::move(argv)), log_(std::move(log)), shared_(shared) {}
  ~ClientProcess() { kill9(); }

  void start() {
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::dup2(to_child[0], 0);
      ::dup2(from_child[1], 1);
      int log = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(log, 2);
      std::vector<char*> args;
      for (const std::string& a : argv_) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    in_ = to_child[1];
    reader_ = std::thread([this, fd = from_child[0]] { serve(fd); });
  }

  void kill9() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (reader_.joinable()) reader_.join();
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Waits for it to exit by itself, up to `limit`; false: it did not.
  bool wait_exit(std::chrono::milliseconds limit) {
    const auto end = steady_clock::now() + limit;
    while (steady_clock::now() < end) {
      if (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        kill9();
        return true;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    return false;
  }

 private:
  void serve(int fd) {
    FILE* f = ::fdopen(fd, "r");
    char* line = nullptr;
    size_t cap = 0;
    ssize_t n;
    while ((n = ::getline(&line, &cap, f)) > 0) {
      std::string_view l(line, size_t(n));
      while (!l.empty() && l.back() == '\n') l.remove_suffix(1);
      if (l.starts_with("op ")) {
        if (auto op = from_json_line(l.substr(3))) shared_.record(*op);
      } else if (l.starts_with("write ")) {
        // "write TOKEN PERMIT WHAT"
        const std::string args(l.substr(6));
        char* rest = nullptr;
        const uint64_t token = std::strtoull(args.c_str(), &rest, 10);
        const uint32_t permit = uint32_t(std::strtoul(rest, nullptr, 10));
        std::string what(l.substr(l.rfind(' ') + 1));
        bool ok;
        {
          std::lock_guard lock(shared_.mu);
          ok = shared_.ledger.write(token, permit);
          shared_.history.push_back(
              Op{monotonic_us() - shared_.epoch_us, id_, ok ? Type::Ok : Type::Fail, Fn::Write, token, what, permit});
        }
        const char* answer = ok ? "ok\n" : "refused\n";
        if (::write(in_, answer, std::strlen(answer)) < 0) break;
      }
    }
    ::free(line);
    ::fclose(f);
  }

  int id_;
  std::vector<std::string> argv_;
  std::string log_;
  Shared& shared_;
  pid_t pid_ = -1;
  int in_ = -1;
  std::thread reader_;
};

}  // namespace

// A dead holder is noticed within 2-3 heartbeats; a client asking then waits
// at most one acquire timeout (5 s) plus its turn behind the others.
int64_t liveness_bound_us(const RunOptions& o) {
  return (3 * int64_t(o.heartbeat_s) + 7) * 1'000'000 + int64_t(o.clients) * 60'000;
}

Target parse_target(const std::string& name) {
  Target t;
  if (name == "warren-native") {
    t.recipe = "native";
  } else if (name == "socketlock") {
    t.recipe = "socketlock";
  } else if (name.starts_with("warren-recipe-")) {
    t.recipe = name.substr(14);
  } else if (name.starts_with("rabbitmq-recipe-")) {
    t.recipe = name.substr(16);
    t.rabbitmq = true;
  } else {
    throw std::invalid_argument("unknown target '" + name + "' (see `warren-prover list`)");
  }
  if (t.recipe != "socketlock") {
    auto names = recipes::recipe_names();
    if (std::find(names.begin(), names.end(), t.recipe) == names.end())
      throw std::invalid_argument("unknown recipe '" + t.recipe + "' (see `warren-prover list`)");
    if (t.rabbitmq && recipes::recipe_needs_warren(t.recipe))
      throw std::invalid_argument("recipe '" + t.recipe + "' needs Warren's lock queues");
    if (recipes::recipe_is_semaphore(t.recipe)) t.permits = 2;
  }
  return t;
}

std::vector<std::string> target_names() {
  std::vector<std::string> out = {"warren-native", "socketlock"};
  for (const std::string& r : recipes::recipe_names()) {
    if (r == "native") continue;
    out.push_back("warren-recipe-" + r);
  }
  for (const std::string& r : recipes::recipe_names())
    if (!recipes::recipe_needs_warren(r)) out.push_back("rabbitmq-recipe-" + r);
  return out;
}

std::vector<Fault> schedule(const RunOptions& o, int64_t quiet_tail_us) {
  std::vector<Fault> out;
  if (o.faults.empty()) return out;
  std::mt19937_64 rng(o.seed);
  auto between = [&](double lo, double hi) {
    return int64_t(std::uniform_real_distribution<double>(lo, hi)(rng) * 1e6);
  };
  const int64_t last = int64_t(o.seconds) * 1'000'000 - quiet_tail_us;
  const double hb = o.heartbeat_s;
  for (int64_t t = 1'000'000;;) {
    Fault f;
    f.at_us = t;
    f.kind = o.faults[rng() % o.faults.size()];
    f.client = f.kind == "restart" ? -1 : int(rng() % uint64_t(std::max(o.clients, 1)));
    if (f.kind != "restart" && f.kind != "delay" && (o.harsh || rng() % 2)) f.client = kHolder;
    f.duration_us = 0;
    if (f.kind == "stop" || f.kind == "blackhole")  // half too short for the broker to notice, half past its heartbeat
      f.duration_us = !o.harsh && rng() % 2 ? between(0.2, std::max(0.3, hb * 0.8)) : between(2 * hb + 1, 2 * hb + 3);
    if (f.kind == "delay") f.duration_us = between(1, 3);
    if (t + f.duration_us > last) break;
    out.push_back(f);
    t += f.duration_us + between(0.5, 1.5);
  }
  return out;
}

RunResult run(const RunOptions& o, std::ostream& log) {
  const Target target = parse_target(o.target);
  const std::string& recipe = target.recipe;
  std::unique_ptr<Broker> broker = target.rabbitmq ? make_rabbitmq() : make_warrend(o.warrend, o.warrend_args);
  log << fmt::format("starting {} ...\n", target.rabbitmq ? "RabbitMQ" : "warrend");
  broker->start();
  Proxy proxy("127.0.0.1", broker->port());
  Shared shared;
  shared.ledger = Ledger(target.permits == 1);
  shared.epoch_us = monotonic_us();
  const std::string lock_name = fmt::format("prover-{}", o.seed);
  const std::string client_log = broker->dir() + "/clients.log";

  std::vector<std::unique_ptr<ClientProcess>> clients;
  for (int i = 0; i < o.clients; ++i) {
    const int port = proxy.add_route();
    std::vector<std::string> argv = {o.self, "client", "--id", std::to_string(i), "--target", recipe,
                                     "--port", std::to_string(port), "--lock", lock_name,
                                     "--permits", std::to_string(target.permits), "--heartbeat",
                                     std::to_string(o.heartbeat_s), "--epoch-us", std::to_string(shared.epoch_us),
                                     "--seed", std::to_string(o.seed), "--socketlock-path", broker->socketlock_path()};
    if (o.workload == "queue") argv.insert(argv.end(), {"--role", i % 2 == 0 ? "producer" : "consumer"});
    if (o.unfenced) argv.push_back("--unfenced");
    if (o.no_fence) argv.push_back("--no-fence");
    clients.push_back(std::make_unique<ClientProcess>(i, argv, client_log, shared));
    clients.back()->start();
  }

  const int64_t tail = liveness_bound_us(o);
  RunResult r;
  r.faults = schedule(o, tail);
  auto now_us = [&] { return monotonic_us() - shared.epoch_us; };
  auto sleep_to = [&](int64_t t_us) {
    int64_t d = t_us - now_us();
    if (d > 0) std::this_thread::sleep_for(microseconds(d));
  };
  auto note = [&](Fn f, int who, const std::string& kind) {
    shared.record(Op{now_us(), who, Type::Info, f, 0, kind});
    log << fmt::format("{:8.3f} s  {} {} {}\n", now_us() / 1e6, f == Fn::Fault ? "fault" : "heal ",
                       kind, who < 0 ? std::string("broker") : fmt::format("client {}", who));
  };
  // The client holding the lock now, from the history so far.
  auto holder = [&]() {
    std::lock_guard lock(shared.mu);
    std::map<int, bool> holds;
    for (const Op& op : shared.history) {
      if (op.f == Fn::Acquire && op.type == Type::Ok) holds[op.process] = true;
      if ((op.f == Fn::Release && op.type == Type::Invoke) || (op.f == Fn::Fault && op.detail == "kill"))
        holds[op.process] = false;
    }
    for (auto [p, h] : holds)
      if (h) return p;
    return 0;
  };
  // Harsh faults (the selftest's) strike a holder inside its hold: the next
  // grant after the fault is due (up to 2 s later), at once. Whoever held
  // at the instant may be between its last write and its release, or no
  // one may hold, and a planted bug would then go unseen by chance.
  auto fresh_holder = [&]() {
    size_t seen;
    {
      std::lock_guard lock(shared.mu);
      seen = shared.history.size();
    }
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < give_up) {
      {
        std::lock_guard lock(shared.mu);
        for (; seen < shared.history.size(); ++seen) {
          const Op& op = shared.history[seen];
          if (op.f == Fn::Acquire && op.type == Type::Ok) return op.process;
        }
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return holder();
  };
  for (Fault& f : r.faults) {
    sleep_to(f.at_us);
    if (f.client == kHolder) f.client = o.harsh ? fresh_holder() : holder();
    const int64_t began = std::max(f.at_us, now_us());  // a fresh holder may have been awaited
    note(Fn::Fault, f.client, f.kind);
    if (f.kind == "kill") {
      clients[f.client]->kill9();
      std::this_thread::sleep_for(milliseconds(300));
      clients[f.client]->start();
      continue;
    }
    if (f.kind == "restart") {
      broker->kill9();
      broker->start();
      note(Fn::Heal, -1, f.kind);
      continue;
    }
    if (f.kind == "cut") {
      proxy.cut(size_t(f.client));
      note(Fn::Heal, f.client, f.kind);
      continue;
    }
    if (f.kind == "stop") clients[f.client]->signal(SIGSTOP);
    if (f.kind == "blackhole") proxy.set_mode(size_t(f.client), Proxy::Mode::Blackhole);
    if (f.kind == "delay") proxy.set_mode(size_t(f.client), Proxy::Mode::Delay, milliseconds(200));
    sleep_to(began + f.duration_us);
    if (f.kind == "stop") clients[f.client]->signal(SIGCONT);
    if (f.kind == "blackhole" || f.kind == "delay") proxy.set_mode(size_t(f.client), Proxy::Mode::Pass);
    note(Fn::Heal, f.client, f.kind);
  }
  sleep_to(int64_t(o.seconds) * 1'000'000);
  // The run ends here: the clients' teardown (each killed in turn, so the
  // lock passes between them meanwhile) is no part of the history.
  const int64_t stopped = now_us();
  for (auto& c : clients) c->kill9();
  if (o.workload == "queue") {
    // What is left in the queue (unacked deliveries of the consumers just
    // killed come back too) goes to one last client that takes it all.
    const int port = proxy.add_route();
    ClientProcess drain(o.clients, {o.self, "client", "--id", std::to_string(o.clients), "--role", "drain", "--port",
                                    std::to_string(port), "--lock", lock_name, "--heartbeat",
                                    std::to_string(o.heartbeat_s), "--epoch-us", std::to_string(shared.epoch_us)},
                        client_log, shared);
    drain.start();
    if (!drain.wait_exit(seconds(120))) log << "the drain did not finish within 120 s\n";
  }
  int64_t end = now_us();
  if (std::string problem = broker->stop(); !problem.empty()) log << "stopping the broker: " << problem << "\n";

  {
    std::lock_guard lock(shared.mu);
    r.history = std::move(shared.history);
  }
  std::stable_sort(r.history.begin(), r.history.end(), [](const Op& a, const Op& b) { return a.t_us < b.t_us; });
  if (o.workload != "queue") {
    std::erase_if(r.history, [&](const Op& op) { return op.t_us > stopped; });
    end = stopped;
  }
  r.verdict = o.workload == "queue" ? check_queue(r.history, QueueCheck{end})
                                    : check_locks(r.history, LockCheck{target.permits, tail, end, 2 * int64_t(o.heartbeat_s) * 1'000'000});
  return r;
}

void print_summary(std::ostream& out, const RunOptions& o, const RunResult& r) {
  const Verdict& v = r.verdict;
  out << fmt::format("target {}{}, workload {}, {} clients, {} s, seed {}, faults {}\n", o.target,
                     o.no_fence ? " (no fence)" : "", o.workload, o.clients, o.seconds, o.seed, r.faults.size());
  if (o.workload == "queue") {
    out << fmt::format("confirmed {}, delivered {} (duplicates {}), confirmed and never delivered {}\n", v.confirmed,
                       v.delivered, v.duplicates, v.lost);
  } else {
    out << fmt::format("acquired {}, timed out {}, unknown {}; writes accepted {}, refused as stale {}\n", v.acquired,
                       v.acquire_failed, v.acquire_unknown, v.writes_accepted, v.writes_fenced);
    out << fmt::format("holders' beliefs overlapping during a fault (what fencing is for): {}\n", v.belief_overlaps);
    out << fmt::format("longest wait for the lock after the last fault healed: {:.3f} s\n", v.max_wait_after_heal_us / 1e6);
  }
  for (const Violation& x : v.violations)
    out << fmt::format("VIOLATION {} at {:.3f} s: {}\n", x.kind, x.t_us / 1e6, x.text);
  out << summary_line(v) << "\n";
}

}  // namespace warren::prover
