// socketlock: the command-line face of socketlock, used the way flock(1) is.
//   socketlock run --write --socket PATH -- CMD ARGS...   hold the lock while CMD runs
//   socketlock serve --socket PATH                        be the primary, in the foreground
//   socketlock status --socket PATH                       show holders, offer and waiters
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <cstring>
#include <sstream>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>

#include "config/config.hpp"
#include "net/event_loop.hpp"
#include "net/signals.hpp"
#include "socketlock/client.hpp"
#include "socketlock/primary.hpp"

extern char** environ;

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

std::atomic<pid_t> child_pid{0};

int run(const Common& c, bool write, const std::string& ttl, const std::string& timeout, bool kill_on_loss,
        std::vector<std::string> argv) {
  auto client = socketlock::Client::connect(c.socket, lock_config(c));
  socketlock::AcquireOptions opts;
  if (!ttl.empty()) opts.ttl = std::chrono::duration_cast<std::chrono::seconds>(duration("--ttl", ttl));
  if (!timeout.empty()) opts.timeout = duration("--timeout", timeout);
  // Registered before acquiring, so no loss can go unreported.
  client->on_lost([kill_on_loss](locks::Token token, const std::string& why) {
    fmt::print(stderr, "socketlock: lock {} lost: {}\n", token, why);
    if (kill_on_loss && child_pid.load() > 0) ::kill(child_pid.load(), SIGTERM);
  });
  socketlock::Lock lock;
  try {
    lock = write ? client->acquire_write(opts) : client->acquire_read(opts);
  } catch (const socketlock::Error& e) {
    fmt::print(stderr, "{}\n", e.what());
    client->close();
    return 1;
  }
  // The command learns its fencing token, to pass on to what it guards.
  ::setenv("SOCKETLOCK_TOKEN", std::to_string(lock.token()).c_str(), 1);
  ::setenv("SOCKETLOCK_MODE", write ? "write" : "read", 1);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) {
    fmt::print(stderr, "socketlock: cannot run {}: {}\n", argv[0], std::strerror(rc));
    lock.release();
    client->close();
    return 127;
  }
  child_pid = pid;
  // A loss reported while the command was starting found no pid to signal.
  if (kill_on_loss && !lock.valid()) ::kill(pid, SIGTERM);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  child_pid = 0;
  lock.release();
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
  run_cmd->add_flag("--kill-on-loss", kill_on_loss, "SIGTERM the command if the lock is lost while it runs");
  run_cmd->add_option("command", command, "The command and its arguments (after --)")->required();
  add_common(run_cmd, common);

  auto* serve_cmd = app.add_subcommand("serve", "Serve as the primary, in the foreground");
  add_common(serve_cmd, common);
  auto* status_cmd = app.add_subcommand("status", "Show holders, the outstanding offer and waiters");
  add_common(status_cmd, common);

  CLI11_PARSE(app, argc, argv);
  try {
    if (*run_cmd) {
      if (!read && !write) throw std::runtime_error("run: say --read or --write");
      return run(common, write, ttl, timeout, kill_on_loss, command);
    }
    if (*serve_cmd) return serve(common);
    return status(common);
  } catch (const std::exception& e) {
    fmt::print(stderr, "socketlock: {}\n", e.what());
    return 1;
  }
}
