// socketlock: the command-line face of socketlock, used the way flock(1) is.
//   socketlock run --write --socket PATH -- CMD ARGS...   hold the lock while CMD runs
//   socketlock serve --socket PATH                        be the primary, in the foreground
//   socketlock status --socket PATH                       show holders, offer and waiters
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>

#include "command.hpp"

#include "config/config.hpp"
#include "net/event_loop.hpp"
#include "net/signals.hpp"
#include "socketlock/client.hpp"
#include "socketlock/primary.hpp"

using namespace warren;

namespace {

struct Common {
  std::string socket;
  std::string policy = "WriterPreferred";
  std::string request_timeout = "30s", confirm_timeout = "30s", max_ttl = "0";
  std::string client_id;
};

void add_common(CLI::App* cmd, Common& c) {
  const char* env = std::getenv("SOCKETLOCK_SOCKET");
  if (env) c.socket = env;
  auto* opt = cmd->add_option("-s,--socket", c.socket, "Unix socket path (or $SOCKETLOCK_SOCKET)");
  if (!env) opt->required();
  cmd->add_option("--policy", c.policy, "If this process becomes primary: ReaderPreferred, WriterPreferred, FIFO")
      ->capture_default_str();
  cmd->add_option("--request-timeout", c.request_timeout, "If primary: how long a request may wait")->capture_default_str();
  cmd->add_option("--confirm-timeout", c.confirm_timeout, "If primary: how long an offer waits for CONFIRM")
      ->capture_default_str();
  cmd->add_option("--max-ttl", c.max_ttl, "If primary: the largest TTL a client may ask (0: none)")->capture_default_str();
  cmd->add_option("--client-id", c.client_id, "This client's id (default: host-pid-random)");
}

std::chrono::milliseconds duration(const std::string& flag, const std::string& v) {
  auto d = config::parse_duration(v);
  if (!d) throw std::runtime_error(fmt::format("{}: not a duration: {}", flag, v));
  return *d;
}

socketlock::LockConfig lock_config(const Common& c) {
  socketlock::LockConfig cfg;
  auto p = locks::parse_policy(c.policy);
  if (!p) throw std::runtime_error("--policy: expected ReaderPreferred, WriterPreferred or FIFO");
  cfg.policy = *p;
  cfg.request_timeout = duration("--request-timeout", c.request_timeout);
  cfg.confirm_timeout = duration("--confirm-timeout", c.confirm_timeout);
  cfg.max_ttl = duration("--max-ttl", c.max_ttl);
  cfg.client_id = c.client_id;
  return cfg;
}

// While the command runs, the main thread takes these signals itself (the
// others block them): the first six are passed on to the command; SIGCHLD
// says that a process below us ended, or (sent by the client's thread) that
// the lock was lost.
constexpr int kPassedOn[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

sigset_t run_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kPassedOn) sigaddset(&set, sig);
  sigaddset(&set, SIGCHLD);
  return set;
}

// Leftovers of a command that has ended get SIGTERM, then SIGKILL after this.
constexpr auto kLeftoverGrace = std::chrono::seconds(2);
// With a TTL, the command is killed this long before the lease ends on our
// clock (which already runs ahead of the primary's), so that it is gone
// before the primary can grant the lock to anyone else.
constexpr auto kTtlMargin = std::chrono::milliseconds(100);

std::atomic<bool> lock_lost{false};
std::atomic<bool> loss_reported{false};
pthread_t main_thread;

void report_loss(locks::Token token, const std::string& why) {
  if (!loss_reported.exchange(true)) fmt::print(stderr, "socketlock: lock {} lost: {}\n", token, why);
}

// Waits for the command and ends every process it started (see
// command.hpp); returns the command's wait status.
int supervise(pid_t pid, const socketlock::Lock& lock, const sigset_t& signals) {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> lease_end;
  if (auto e = lock.expires()) lease_end = *e - kTtlMargin;
  std::optional<int> status;                   // the command's, once reaped
  std::optional<Clock::time_point> grace_end;  // leftovers were sent SIGTERM
  std::optional<Clock::time_point> killed;     // everything was sent SIGKILL
  auto kill_all = [&] {
    socketlock_cli::kill_descendants();
    killed = Clock::now();
  };
  while (true) {
    int st = 0;
    for (pid_t r; (r = ::waitpid(-1, &st, WNOHANG)) > 0;)  // the command, and orphans handed to us
      if (r == pid) status = st;
    Clock::time_point now = Clock::now();
    if (!killed && (lock_lost || (lease_end && now >= *lease_end))) {
      report_loss(lock.token(), "lock ttl expired");
      kill_all();
      continue;
    }
    std::optional<Clock::time_point> wake;  // none: sleep until a signal
    if (status || killed) {
      if (socketlock_cli::descendants().empty()) {
        if (status) return *status;
      } else if (killed && now - *killed > std::chrono::seconds(2)) {
        break;  // SIGKILLed yet not gone (uninterruptible sleep): they cannot run any more
      } else if (!killed && !grace_end) {
        socketlock_cli::signal_descendants(SIGTERM);
        grace_end = now + kLeftoverGrace;
      } else if (!killed && now >= *grace_end) {
        kill_all();
        continue;
      }
      // Processes below our children tell us nothing when they end: poll.
      wake = now + std::chrono::milliseconds(20);
    }
    if (!killed && lease_end && (!wake || *lease_end < *wake)) wake = *lease_end;
    siginfo_t si{};
    int sig;
    if (wake) {
      auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(std::max(*wake - Clock::now(), Clock::duration{}));
      timespec ts{static_cast<time_t>(left.count() / 1000000000), static_cast<long>(left.count() % 1000000000)};
      sig = ::sigtimedwait(&signals, &si, &ts);
    } else {
      sig = ::sigwaitinfo(&signals, &si);
    }
    if (sig <= 0 || sig == SIGCHLD) continue;
    // A signal from the terminal (SI_KERNEL) went to its whole foreground
    // group, the command included: do not send it twice.
    if (si.si_code == SI_KERNEL) continue;
    if (!status) {
      ::kill(pid, sig);
    } else if (!killed) {
      kill_all();  // asked again while its leftovers linger: end them now
    }
  }
  return status.value_or(SIGKILL);  // the wait status of a process killed by SIGKILL
}

// When this process serves the path, the locks of other clients end with
// it (and a `run` holding one kills its command): before it goes, it serves
// on while anyone else holds the lock or is being offered it. A signal from
// kPassedOn ends the wait (the others then lose their locks).
void serve_while_others_hold(socketlock::Client& client, const std::string& path, const sigset_t& signals) {
  bool told = false;
  const std::string me = client.client_id();
  while (client.is_primary()) {
    std::vector<std::string> lines;
    try {
      lines = client.show();
    } catch (const socketlock::Error&) {
      return;
    }
    // "HOLDER <lock> <mode> <client> ..." / "OFFER <lock> <mode> <client> ..."
    size_t others = std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
      std::istringstream in(l);
      std::string kind, lock_id, mode, who;
      in >> kind >> lock_id >> mode >> who;
      return (kind == "HOLDER" || kind == "OFFER") && who != me;
    });
    if (others == 0) return;
    if (!told) {
      fmt::print(stderr, "socketlock: this process serves {}: staying until its other holders are done\n", path);
      told = true;
    }
    timespec ts{0, 100'000'000};
    siginfo_t si{};
    int sig = ::sigtimedwait(&signals, &si, &ts);
    if (sig > 0 && sig != SIGCHLD) return;
  }
}

int run(const Common& c, bool write, const std::string& ttl, const std::string& timeout,
        std::vector<std::string> argv) {
  const sigset_t signals = run_signals();
  sigset_t original;
  // Threads started from here on (the client's, an embedded primary's)
  // inherit the block, so only the main thread ever takes these signals.
  ::pthread_sigmask(SIG_BLOCK, &signals, &original);
  auto client = socketlock::Client::connect(c.socket, lock_config(c));
  // While waiting for the lock, a signal ends us as before: nothing runs yet.
  ::pthread_sigmask(SIG_SETMASK, &original, nullptr);
  socketlock::AcquireOptions opts;
  if (!ttl.empty()) opts.ttl = std::chrono::duration_cast<std::chrono::seconds>(duration("--ttl", ttl));
  if (!timeout.empty()) opts.timeout = duration("--timeout", timeout);
  // Registered before acquiring, so no loss can go unreported.
  main_thread = ::pthread_self();
  client->on_lost([](locks::Token token, const std::string& why) {
    report_loss(token, why);
    lock_lost = true;
    ::pthread_kill(main_thread, SIGCHLD);  // wakes supervise(); ignored if it has not started
  });
  socketlock::Lock lock;
  try {
    lock = write ? client->acquire_write(opts) : client->acquire_read(opts);
  } catch (const socketlock::Error& e) {
    fmt::print(stderr, "{}\n", e.what());
    ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    serve_while_others_hold(*client, c.socket, signals);
    client->close();
    return 1;
  }
  ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // The command learns its fencing token, to pass on to what it guards.
  ::setenv("SOCKETLOCK_TOKEN", std::to_string(lock.token()).c_str(), 1);
  ::setenv("SOCKETLOCK_MODE", write ? "write" : "read", 1);
  // Lost already (primary gone, or a TTL shorter than our margin)? Then the
  // command must not start at all.
  auto e = lock.expires();
  if (lock_lost || !lock.valid() || (e && std::chrono::steady_clock::now() >= *e - kTtlMargin)) {
    report_loss(lock.token(), lock_lost || !lock.valid() ? lock.lost_reason() : "lock ttl expired");
    lock.release();
    serve_while_others_hold(*client, c.socket, signals);
    client->close();
    return 1;
  }
  socketlock_cli::become_subreaper();
  int exec_errno = 0;
  pid_t pid = socketlock_cli::spawn(argv, client->lock_descriptors(), original, &exec_errno);
  if (pid < 0) {
    fmt::print(stderr, "socketlock: cannot run {}: {}\n", argv[0], std::strerror(exec_errno));
    lock.release();
    serve_while_others_hold(*client, c.socket, signals);
    client->close();
    return 127;
  }
  int status = supervise(pid, lock, signals);
  lock.release();
  serve_while_others_hold(*client, c.socket, signals);
  client->close();
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

int serve(const Common& c) {
  socketlock::LockConfig lc = lock_config(c);
  socketlock::ServerOptions opts;
  opts.lock = {lc.policy, lc.request_timeout, lc.confirm_timeout, lc.max_ttl};
  net::EventLoop loop;
  net::SignalSet signals(loop, {SIGINT, SIGTERM}, [&](int) { loop.stop(); });
  auto primary = socketlock::Primary::start(loop, c.socket, opts,
                                            [](std::string_view line) { fmt::print(stderr, "socketlock: {}\n", line); });
  if (!primary) {
    fmt::print(stderr, "socketlock: another process is already primary for {}\n", c.socket);
    return 1;
  }
  fmt::print(stderr, "socketlock: serving {} (epoch {}, policy {})\n", c.socket, primary->epoch(), c.policy);
  loop.run();
  return 0;
}

int status(const Common& c) {
  socketlock::LockConfig cfg = lock_config(c);
  cfg.may_become_primary = false;
  cfg.connect_timeout = std::chrono::seconds(2);
  auto client = socketlock::Client::connect(c.socket, cfg);
  std::vector<std::string> lines = client->show();
  client->close();
  fmt::print("{:<8} {:<22} {:<6} {:<28} {}\n", "STATE", "LOCK ID", "MODE", "CLIENT", "TIMES (ms)");
  for (const std::string& l : lines) {
    std::istringstream in(l);
    std::string kind, a, b, cl, x, y;
    in >> kind;
    if (kind == "HOLDER") {
      in >> a >> b >> cl >> x >> y;
      fmt::print("{:<8} {:<22} {:<6} {:<28} held {}, ttl left {}\n", "holder", a, b, cl, x, y);
    } else if (kind == "OFFER") {
      in >> a >> b >> cl >> x;
      fmt::print("{:<8} {:<22} {:<6} {:<28} confirm within {}\n", "offered", a, b, cl, x);
    } else if (kind == "WAITER") {
      in >> b >> cl >> x >> y;
      fmt::print("{:<8} {:<22} {:<6} {:<28} waiting {}, gives up in {}\n", "waiting", "-", b, cl, x, y);
    } else if (kind == "SHOWEND") {
      in >> a >> b;
      fmt::print("next lock id {}, policy {}\n", a, b);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"socketlock: read/write locks over a Unix socket; any process can be the server"};
  app.require_subcommand(1);
  Common common;

  auto* run_cmd = app.add_subcommand("run", "Hold a lock while a command runs; exit with its status");
  bool read = false, write = false, kill_on_loss = false;
  std::string ttl, timeout;
  std::vector<std::string> command;
  auto* r = run_cmd->add_flag("-r,--read", read, "Shared (read) lock");
  auto* w = run_cmd->add_flag("-w,--write", write, "Exclusive (write) lock");
  r->excludes(w);
  run_cmd->add_option("--ttl", ttl, "Lock TTL (e.g. 30s); the lock ends by itself after it");
  run_cmd->add_option("--timeout", timeout, "Give up if the lock is not granted in time (exit 1)");
  run_cmd->add_flag("--kill-on-loss", kill_on_loss, "Kept for compatibility: the command is always killed if the lock is lost");
  run_cmd->add_option("command", command, "The command and its arguments (after --)")->required();
  add_common(run_cmd, common);
  run_cmd->footer(
      "The command never runs without the lock. Every process it starts is ended before the lock is let go:\n"
      "when the command exits, what it left running gets SIGTERM, then SIGKILL after 2 s; if the lock is lost\n"
      "(the primary died, or the TTL passes: 100 ms before, on this clock) all of it is SIGKILLed at once.\n"
      "HUP, INT, QUIT, TERM, USR1 and USR2 sent to socketlock are passed on to the command. If socketlock\n"
      "itself is SIGKILLed, the command's first process dies with it, and the lock stays held until every\n"
      "process that inherited it (as with flock(1)) has exited. A run that serves the path itself stays after\n"
      "its command until no other client holds the lock. See docs/socketlock.md.");

  auto* serve_cmd = app.add_subcommand("serve", "Serve as the primary, in the foreground");
  add_common(serve_cmd, common);
  auto* status_cmd = app.add_subcommand("status", "Show holders, the outstanding offer and waiters");
  add_common(status_cmd, common);

  CLI11_PARSE(app, argc, argv);
  try {
    if (*run_cmd) {
      if (!read && !write) throw std::runtime_error("run: say --read or --write");
      return run(common, write, ttl, timeout, command);
    }
    if (*serve_cmd) return serve(common);
    return status(common);
  } catch (const std::exception& e) {
    fmt::print(stderr, "socketlock: {}\n", e.what());
    return 1;
  }
}
