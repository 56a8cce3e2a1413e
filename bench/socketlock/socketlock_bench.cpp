// socketlock_bench: what one socketlock lock cycle costs, next to two floors.
//
//   socketlock read   C clients (each its own Client connection and thread)
//                     loop acquire_read() -> release(). Shared mode: the
//                     clients never wait for each other, so this measures the
//                     client library and the primary.
//   socketlock write  the same with acquire_write(); under the lock a shared
//                     counter is incremented, and at the end it must equal the
//                     number of cycles (mutual exclusion held).
//   flock LOCK_SH     flock(2) on one file, each thread its own open file
//   flock LOCK_EX     description; LOCK_EX also checks the counter.
//   raw unix 2xRT     the round trips a socketlock cycle needs and nothing
//                     else: two request/answer exchanges of a line as long as
//                     a socketlock request, against an epoll echo server.
//
// A socketlock cycle is REQ -> offer, CONFIRM -> LOCKOK, then RELEASE sent
// without waiting (the primary's RELEASED is read by the client's I/O thread,
// nobody waits for it): two round trips, which is what the raw row does.
//
// The primary is warrend when --warrend PATH is given (a separate process,
// as in production); otherwise a Primary on an EventLoop thread in this
// process. The echo server lives where the primary does: a forked child
// process in the first case, a thread in the second.
//
// Usage: socketlock_bench [--seconds N] [--warmup S] [--clients 1,2,8,64] [--repeat N]
//                         [--warrend PATH] [--only read,write,flock-sh,flock-ex,raw] [--json]
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "net/event_loop.hpp"
#include "socketlock/client.hpp"
#include "socketlock/primary.hpp"

namespace sl = warren::socketlock;
using Clock = std::chrono::steady_clock;

namespace {

// ------------------------------------------------------------------ options

struct Options {
  double seconds = 3;
  double warmup = 0.5;
  int repeat = 1;  // measurements per row; the median (by cycles/s) is kept
  std::vector<int> clients{1, 2, 8, 64};
  bool json = false;
  std::string warrend;
  std::vector<std::string> only;  // empty: every scenario
};

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: socketlock_bench [--seconds N] [--warmup S] [--clients 1,2,8,64] [--repeat N]\n"
               "                        [--warrend PATH] [--only read,write,flock-sh,flock-ex,raw] [--json]\n");
  std::exit(code);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(2);
      return argv[++i];
    };
    try {
      if (a == "--seconds") o.seconds = std::stod(value());
      else if (a == "--warmup") o.warmup = std::stod(value());
      else if (a == "--repeat") o.repeat = std::stoi(value());
      else if (a == "--clients") {
        o.clients.clear();
        for (const auto& c : split_list(value())) o.clients.push_back(std::stoi(c));
      } else if (a == "--json") o.json = true;
      else if (a == "--warrend") o.warrend = value();
      else if (a == "--only") o.only = split_list(value());
      else if (a == "-h" || a == "--help") usage(0);
      else usage(2);
    } catch (const std::logic_error&) {
      usage(2);
    }
  }
  if (o.seconds <= 0 || o.warmup < 0 || o.repeat < 1 || o.clients.empty()) usage(2);
  for (int c : o.clients)
    if (c < 1) usage(2);
  return o;
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "socketlock_bench: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void die_errno(const std::string& what) { die(what + ": " + std::strerror(errno)); }

// ---------------------------------------------------------------- histogram

// Log-linear latency histogram in nanoseconds: exact below 64 ns, then 32
// buckets per power of two (about 3% resolution). Cheap enough to record
// every cycle, small enough to keep one per thread.
class Histogram {
 public:
  static constexpr int kSub = 32, kLinear = 2 * kSub;
  void record(uint64_t ns) {
    ++buckets_[index(ns)];
    ++count_;
  }
  void merge(const Histogram& o) {
    for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
    count_ += o.count_;
  }
  uint64_t count() const { return count_; }
  // The value below which a fraction p of the samples fall (bucket midpoint).
  double percentile_ns(double p) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(p * static_cast<double>(count_)));
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      seen += buckets_[i];
      if (seen >= rank) return midpoint(i);
    }
    return midpoint(buckets_.size() - 1);
  }

 private:
  static size_t index(uint64_t v) {
    if (v < kLinear) return v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 5;  // keep 6 significant bits: 1 + log2(kSub)
    return kLinear + static_cast<size_t>(msb - 6) * kSub + ((v >> shift) - kSub);
  }
  static double midpoint(size_t i) {
    if (i < kLinear) return static_cast<double>(i);
    int msb = static_cast<int>((i - kLinear) / kSub) + 6;
    uint64_t mant = (i - kLinear) % kSub + kSub;
    double width = std::ldexp(1.0, msb - 5);
    return static_cast<double>(mant) * width + width / 2;
  }
  std::array<uint64_t, kLinear + 58 * kSub> buckets_{};
  uint64_t count_ = 0;
};

// ------------------------------------------------------------------ runner

struct Row {
  std::string scenario;
  int clients = 0;
  uint64_t cycles = 0;      // in the measured window
  double seconds = 0;       // length of the measured window
  double p50_us = 0, p99_us = 0;
  double cpu_seconds = 0;   // client and server processes, over the measured window
  double other_pct = 0;     // CPU used by everything else on the machine meanwhile, % of all CPUs
  double cps_min = 0, cps_max = 0;  // over the repetitions (--repeat) this row is the median of
  std::string check;        // "ok", "-" or what went wrong
  double cps() const { return seconds > 0 ? static_cast<double>(cycles) / seconds : 0; }
  double cpu_us() const { return cycles > 0 ? cpu_seconds * 1e6 / static_cast<double>(cycles) : 0; }
};

// One thread's share of a scenario: `cycle()` is timed; the constructor
// (connecting, opening) is not.
struct Worker {
  virtual ~Worker() = default;
  virtual void cycle() = 0;
  Histogram hist;
  uint64_t measured = 0;
  uint64_t total = 0;  // including warm-up: what a shared counter must show
  std::string error;
};

// CPU time (user + system) used by this process, all threads.
double self_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto sec = [](timeval t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

// CPU time used by another process (all its threads), from /proc in clock ticks.
double process_cpu_seconds(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  FILE* f = std::fopen(path, "r");
  if (!f) return 0;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');  // the command name may hold spaces
  if (!p) return 0;
  unsigned long long utime = 0, stime = 0;
  // Fields after the name: state(3) ... utime(14) stime(15).
  if (std::sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2) return 0;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Busy time of all CPUs of the machine (steal included: the hypervisor's
// other guests are other load too), from /proc/stat.
double machine_busy_seconds() {
  FILE* f = std::fopen("/proc/stat", "r");
  if (!f) return 0;
  unsigned long long v[8] = {};
  int n = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                      &v[6], &v[7]);
  std::fclose(f);
  if (n < 8) return 0;
  unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];  // all but idle and iowait
  return static_cast<double>(busy) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

enum Phase : int { kWarmup, kMeasure, kStop };

// Runs every worker on its own thread: `warmup` seconds unrecorded, then
// `seconds` recorded. Cycles are recorded when they start inside the window.
// `cpu()` is the CPU time used so far by everything the scenario runs on.
Row run(const std::string& name, std::vector<std::unique_ptr<Worker>>& workers, const Options& o,
        const std::function<double()>& cpu) {
  std::atomic<int> phase{kWarmup};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  threads.reserve(workers.size());
  for (auto& wp : workers) {
    threads.emplace_back([&, w = wp.get()] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      try {
        for (;;) {
          int ph = phase.load(std::memory_order_relaxed);
          if (ph == kStop) break;
          auto t0 = Clock::now();
          w->cycle();
          auto t1 = Clock::now();
          ++w->total;
          if (ph == kMeasure) {
            auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count();
            w->hist.record(static_cast<uint64_t>(ns));
            ++w->measured;
          }
        }
      } catch (const std::exception& e) {
        w->error = e.what();
      }
    });
  }
  while (ready.load() < static_cast<int>(workers.size())) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
  double cpu0 = cpu(), busy0 = machine_busy_seconds();
  auto start = Clock::now();
  phase.store(kMeasure);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  phase.store(kStop);
  auto end = Clock::now();
  double cpu1 = cpu(), busy1 = machine_busy_seconds();
  for (auto& t : threads) t.join();

  Row r;
  r.scenario = name;
  r.clients = static_cast<int>(workers.size());
  r.seconds = std::chrono::duration<double>(end - start).count();
  r.cpu_seconds = cpu1 - cpu0;
  long ncpu = std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN));
  r.other_pct = std::max(0.0, (busy1 - busy0) - r.cpu_seconds) / (r.seconds * static_cast<double>(ncpu)) * 100;
  Histogram all;
  for (auto& w : workers) {
    all.merge(w->hist);
    r.cycles += w->measured;
    if (!w->error.empty() && r.check.empty()) r.check = "error: " + w->error;
  }
  r.p50_us = all.percentile_ns(0.50) / 1000;
  r.p99_us = all.percentile_ns(0.99) / 1000;
  return r;
}

uint64_t total_cycles(const std::vector<std::unique_ptr<Worker>>& workers) {
  uint64_t n = 0;
  for (const auto& w : workers) n += w->total;
  return n;
}

// The mutual-exclusion check: relaxed atomics so that a broken lock shows
// up as lost increments rather than as undefined behaviour.
struct SharedCounter {
  std::atomic<uint64_t> v{0};
  void bump() { v.store(v.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
};

std::string counter_check(const SharedCounter& c, uint64_t cycles) {
  uint64_t v = c.v.load();
  return v == cycles ? "ok" : fmt::format("FAIL counter {} != cycles {}", v, cycles);
}

// --------------------------------------------------------------- socketlock

std::string client_id(int i) { return fmt::format("bench-{}-{}", getpid(), i); }

std::unique_ptr<sl::Client> connect_client(const std::string& path, int i) {
  sl::LockConfig cfg;
  cfg.client_id = client_id(i);
  cfg.may_become_primary = false;  // the primary is the one we started, or an error
  return sl::Client::connect(path, cfg);
}

struct SlReadWorker : Worker {
  SlReadWorker(const std::string& path, int i) : client(connect_client(path, i)) {}
  ~SlReadWorker() override { client->close(); }
  void cycle() override {
    sl::Lock lock = client->acquire_read();
    lock.release();
  }
  std::unique_ptr<sl::Client> client;
};

struct SlWriteWorker : Worker {
  SlWriteWorker(const std::string& path, int i, SharedCounter& c) : client(connect_client(path, i)), counter(c) {}
  ~SlWriteWorker() override { client->close(); }
  void cycle() override {
    sl::Lock lock = client->acquire_write();
    counter.bump();
    lock.release();
  }
  std::unique_ptr<sl::Client> client;
  SharedCounter& counter;
};

// -------------------------------------------------------------------- flock

struct FlockWorker : Worker {
  FlockWorker(const std::string& file, int op, SharedCounter* c) : op_(op), counter_(c) {
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);  // its own open file description
    if (fd_ < 0) die_errno("open " + file);
  }
  ~FlockWorker() override { ::close(fd_); }
  void cycle() override {
    if (::flock(fd_, op_) != 0) throw std::runtime_error(std::string("flock: ") + std::strerror(errno));
    if (counter_) counter_->bump();
    if (::flock(fd_, LOCK_UN) != 0) throw std::runtime_error(std::string("flock unlock: ") + std::strerror(errno));
  }
  int fd_;
  int op_;
  SharedCounter* counter_;
};

// ---------------------------------------------------------------- raw unix

int unix_connect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

int unix_listen(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) die_errno("socket");
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die_errno("bind " + path);
  if (::listen(fd, 1024) != 0) die_errno("listen");
  return fd;
}

// A level-triggered epoll echo server on one thread: what any single-loop
// server must do per request (wake, read, write) and nothing more. Returns
// when `stop_fd` (an eventfd, or -1) becomes readable.
void echo_serve(int listen_fd, int stop_fd) {
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die_errno("epoll_create1");
  auto add = [&](int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die_errno("epoll_ctl");
  };
  add(listen_fd);
  if (stop_fd >= 0) add(stop_fd);
  std::vector<int> conns;
  epoll_event evs[128];
  char buf[4096];
  for (;;) {
    int n = ::epoll_wait(ep, evs, 128, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == stop_fd) {
        for (int c : conns) ::close(c);
        ::close(ep);
        return;
      }
      if (fd == listen_fd) {
        int c;
        while ((c = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          add(c);
          conns.push_back(c);
        }
        continue;
      }
      ssize_t r = ::read(fd, buf, sizeof buf);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        conns.erase(std::find(conns.begin(), conns.end(), fd));
        continue;
      }
      for (ssize_t off = 0; off < r;) {  // tiny answers to a waiting client: never blocks for long
        ssize_t w = ::write(fd, buf + off, static_cast<size_t>(r - off));
        if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (w < 0) break;
        off += w;
      }
    }
  }
}

struct RawWorker : Worker {
  RawWorker(const std::string& path, int i) {
    fd_ = unix_connect(path);
    if (fd_ < 0) die_errno("connect " + path);
    // As long as the REQREAD a socketlock client of the same index sends.
    line_ = client_id(i) + " REQREAD\n";
  }
  ~RawWorker() override { ::close(fd_); }
  void cycle() override {
    for (int rt = 0; rt < 2; ++rt) {
      if (::write(fd_, line_.data(), line_.size()) != static_cast<ssize_t>(line_.size()))
        throw std::runtime_error("raw write failed");
      size_t got = 0;
      while (got < line_.size()) {
        ssize_t r = ::read(fd_, buf_ + got, sizeof buf_ - got);
        if (r <= 0) throw std::runtime_error("raw read failed");
        got += static_cast<size_t>(r);
      }
    }
  }
  int fd_;
  std::string line_;
  char buf_[256];
};

// ------------------------------------------------------------------ servers

// Runs warrend as the primary, or a Primary on a loop thread here; and the
// echo server in a child process or on a thread, to match.
class Servers {
 public:
  Servers(const Options& o, const std::string& dir) : dir_(dir) {
    sl_path_ = dir + "/socketlock.sock";
    echo_path_ = dir + "/echo.sock";
    if (!o.warrend.empty()) {
      // Both children are forked before this process starts any thread.
      int lfd = unix_listen(echo_path_);
      echo_pid_ = ::fork();
      if (echo_pid_ < 0) die_errno("fork");
      if (echo_pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        echo_serve(lfd, -1);
        ::_exit(0);
      }
      ::close(lfd);
      start_warrend(o.warrend);
    } else {
      int lfd = unix_listen(echo_path_);
      stop_echo_ = ::eventfd(0, EFD_CLOEXEC);
      echo_thread_ = std::thread([lfd, this] {
        echo_serve(lfd, stop_echo_);
        ::close(lfd);
      });
      std::string err;
      std::atomic<bool> started{false};
      loop_thread_ = std::thread([&, this] {
        loop_.post([&, this] {
          try {
            primary_ = sl::Primary::start(loop_, sl_path_, sl::ServerOptions{});
            if (!primary_) err = "another primary holds " + sl_path_;
          } catch (const std::exception& e) {
            err = e.what();
          }
          started.store(true);
        });
        loop_.run();
        primary_.reset();
      });
      while (!started.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (!err.empty()) die("in-process primary: " + err);
    }
  }

  ~Servers() {
    if (warrend_pid_ > 0) {
      ::kill(warrend_pid_, SIGTERM);
      ::waitpid(warrend_pid_, nullptr, 0);
    }
    if (echo_pid_ > 0) {
      ::kill(echo_pid_, SIGTERM);
      ::waitpid(echo_pid_, nullptr, 0);
    }
    if (loop_thread_.joinable()) {
      loop_.post([this] { primary_.reset(); });  // on the loop thread, as Primary requires
      loop_.stop();
      loop_thread_.join();
    }
    if (echo_thread_.joinable()) {
      uint64_t one = 1;
      if (::write(stop_echo_, &one, sizeof one) != sizeof one) std::abort();
      echo_thread_.join();
      ::close(stop_echo_);
    }
  }

  const std::string& sl_path() const { return sl_path_; }
  const std::string& echo_path() const { return echo_path_; }
  // CPU used so far by this process and the server children.
  double cpu_seconds() const {
    double t = self_cpu_seconds();
    if (warrend_pid_ > 0) t += process_cpu_seconds(warrend_pid_);
    if (echo_pid_ > 0) t += process_cpu_seconds(echo_pid_);
    return t;
  }
  std::string where() const { return warrend_pid_ > 0 ? "warrend process" : "in-process Primary thread"; }

 private:
  void start_warrend(const std::string& bin) {
    std::string log = dir_ + "/warrend.log";
    warrend_pid_ = ::fork();
    if (warrend_pid_ < 0) die_errno("fork");
    if (warrend_pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execl(bin.c_str(), bin.c_str(), "--data-dir", dir_.c_str(), "--socketlock-path", sl_path_.c_str(),
              "--log-level", "warn", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Ready when the socket accepts a connection.
    auto deadline = Clock::now() + std::chrono::seconds(10);
    for (;;) {
      int st = 0;
      if (::waitpid(warrend_pid_, &st, WNOHANG) == warrend_pid_) {
        warrend_pid_ = 0;
        die(fmt::format("{} exited at start ({} {}); see {}", bin, WIFEXITED(st) ? "exit" : "signal",
                        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), log));
      }
      int fd = unix_connect(sl_path_);
      if (fd >= 0) {
        ::close(fd);
        return;
      }
      if (Clock::now() > deadline) die(bin + " did not listen on " + sl_path_ + " within 10 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  std::string dir_, sl_path_, echo_path_;
  pid_t warrend_pid_ = 0, echo_pid_ = 0;
  int stop_echo_ = -1;
  std::thread echo_thread_;
  warren::net::EventLoop loop_;
  std::thread loop_thread_;
  std::unique_ptr<sl::Primary> primary_;
};

// ------------------------------------------------------------------- report

const char* const kRead = "socketlock read", *const kWrite = "socketlock write", *const kFlockSh = "flock LOCK_SH",
                  *const kFlockEx = "flock LOCK_EX", *const kRaw = "raw unix 2xRT";

bool wanted(const Options& o, const std::string& key) {
  return o.only.empty() || std::find(o.only.begin(), o.only.end(), key) != o.only.end();
}

const Row* find(const std::vector<Row>& rows, const std::string& scenario, int clients) {
  for (const auto& r : rows)
    if (r.scenario == scenario && r.clients == clients) return &r;
  return nullptr;
}

struct Ratios {
  std::optional<double> p50, cps, cpu;  // socketlock over raw: how many times slower / costlier
};

Ratios ratios(const std::vector<Row>& rows, const Row& r) {
  Ratios x;
  // Uncontended rows only: every read row, and a write with a single client.
  if (r.scenario != kRead && !(r.scenario == kWrite && r.clients == 1)) return x;
  const Row* raw = find(rows, kRaw, r.clients);
  if (!raw || raw->p50_us <= 0 || r.cps() <= 0) return x;
  x.p50 = r.p50_us / raw->p50_us;
  x.cps = raw->cps() / r.cps();
  if (raw->cpu_us() > 0) x.cpu = r.cpu_us() / raw->cpu_us();
  return x;
}

std::string opt_fmt(std::optional<double> v, const char* f) { return v ? fmt::format(fmt::runtime(f), *v) : "-"; }

struct Aims {
  std::vector<std::string> lines;
  bool latency_known = false, latency_met = false;
  bool flat_known = false, flat_met = false;
};

// The aims: an uncontended cycle within 2x the raw round trips it
// needs (p50 at one client, where nothing queues), and aggregate read
// throughput flat from 1 to 64 clients (no client count below 80% of the
// one-client rate; more than 100% is fine).
Aims judge(const std::vector<Row>& rows, const Options& o) {
  Aims a;
  int c1 = *std::min_element(o.clients.begin(), o.clients.end());
  int cmax = *std::max_element(o.clients.begin(), o.clients.end());
  const Row* r1 = find(rows, kRead, c1);
  const Row* raw1 = find(rows, kRaw, c1);
  if (r1 && raw1) {
    Ratios x = ratios(rows, *r1);
    if (x.p50) {
      a.latency_known = true;
      a.latency_met = *x.p50 <= 2.0;
      a.lines.push_back(fmt::format(
          "aim 1, uncontended cycle <= 2x raw, at {} client(s): p50 {:.1f} us vs raw {:.1f} us = {:.2f}x -> {}"
          " (CPU per cycle {:.1f} vs {:.1f} us = {}x)",
          c1, r1->p50_us, raw1->p50_us, *x.p50, a.latency_met ? "MET" : "NOT MET", r1->cpu_us(), raw1->cpu_us(),
          opt_fmt(x.cpu, "{:.2f}")));
    }
  }
  // Aggregate cycles/s at each client count relative to the fewest clients.
  auto flatness = [&](const char* scenario, double& worst, int& worst_c) -> std::optional<std::string> {
    const Row* base = find(rows, scenario, c1);
    if (!base || base->cps() <= 0 || c1 == cmax) return std::nullopt;
    worst = 1e300;
    std::string series;
    for (int c : o.clients)
      if (const Row* r = find(rows, scenario, c)) {
        double rel = r->cps() / base->cps();
        series += fmt::format("{}{}: {:.0f}/s ({:.2f})", series.empty() ? "" : ", ", c, r->cps(), rel);
        if (rel < worst) worst = rel, worst_c = c;
      }
    return series;
  };
  double worst = 0;
  int worst_c = c1;
  if (auto series = flatness(kRead, worst, worst_c)) {
    a.flat_known = true;
    a.flat_met = worst >= 0.8;
    a.lines.push_back(fmt::format("aim 2, read throughput flat {}..{} clients "
                                  "(none below 0.80x the {}-client rate): {} -> {}{}",
                                  c1, cmax, c1, *series, a.flat_met ? "MET" : "NOT MET",
                                  a.flat_met ? "" : fmt::format(" (worst {:.2f} at {})", worst, worst_c)));
  }
  if (auto series = flatness(kWrite, worst, worst_c))
    a.lines.push_back(
        fmt::format("       contended write, for reference: {} -> {}", *series,
                    worst >= 0.8 ? "flat" : fmt::format("not flat (worst {:.2f} at {})", worst, worst_c)));
  return a;
}

void print_table(const std::vector<Row>& rows, const Options& o, const std::string& where) {
  std::printf("socketlock_bench: primary = %s; %.1f s per run after %.1f s warm-up, %d run(s) per row\n",
              where.c_str(), o.seconds, o.warmup, o.repeat);
  std::printf("%-18s %7s %10s %9s %9s %8s %8s %8s %8s %6s  %-17s  %s\n", "scenario", "clients", "cycles/s", "p50 us",
              "p99 us", "CPU us", "raw p50", "raw c/s", "raw CPU", "other", o.repeat > 1 ? "cycles/s range" : "",
              "check");
  std::string last;
  for (const auto& r : rows) {
    if (!last.empty() && r.scenario != last) std::printf("\n");
    last = r.scenario;
    Ratios x = ratios(rows, r);
    std::string range = o.repeat > 1 ? fmt::format("{:.0f}-{:.0f}", r.cps_min, r.cps_max) : "";
    std::printf("%-18s %7d %10.0f %9.1f %9.1f %8.2f %8s %8s %8s %5.0f%%  %-17s  %s\n", r.scenario.c_str(), r.clients,
                r.cps(), r.p50_us, r.p99_us, r.cpu_us(), opt_fmt(x.p50, "{:.2f}x").c_str(),
                opt_fmt(x.cps, "{:.2f}x").c_str(), opt_fmt(x.cpu, "{:.2f}x").c_str(), r.other_pct, range.c_str(),
                r.check.c_str());
  }
  std::printf("\nCPU us: CPU time of clients and server per cycle (user + system, all processes involved).\n"
              "other: CPU used meanwhile by the rest of the machine (steal included), %% of all CPUs: noise.\n"
              "With --repeat N each row is the median of N runs by cycles/s; the range is min-max.\n"
              "raw p50 / raw c/s / raw CPU: socketlock p50 / raw p50, raw cycles/s / socketlock cycles/s and\n"
              "socketlock CPU / raw CPU at the same client count, for the uncontended rows; a raw cycle is the\n"
              "2 round trips a socketlock cycle needs.\n");
  Aims a = judge(rows, o);
  for (const auto& l : a.lines) std::printf("%s\n", l.c_str());
}

std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", c);
      continue;
    }
    out += c;
  }
  return out + "\"";
}

void print_json(const std::vector<Row>& rows, const Options& o, const std::string& where) {
  auto num = [](std::optional<double> v) { return v ? fmt::format("{:.4f}", *v) : std::string("null"); };
  std::printf("{\n  \"primary\": %s,\n  \"seconds\": %.3f,\n  \"warmup\": %.3f,\n  \"repeat\": %d,\n  \"rows\": [\n",
              json_str(where).c_str(), o.seconds, o.warmup, o.repeat);
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    Ratios x = ratios(rows, r);
    std::printf("    {\"scenario\": %s, \"clients\": %d, \"cycles\": %llu, \"seconds\": %.4f, "
                "\"cycles_per_s\": %.1f, \"p50_us\": %.2f, \"p99_us\": %.2f, \"cpu_us_per_cycle\": %.3f, "
                "\"other_cpu_pct\": %.1f, \"cycles_per_s_min\": %.1f, \"cycles_per_s_max\": %.1f, "
                "\"ratio_p50_vs_raw\": %s, \"ratio_cps_vs_raw\": %s, \"ratio_cpu_vs_raw\": %s, \"check\": %s}%s\n",
                json_str(r.scenario).c_str(), r.clients, static_cast<unsigned long long>(r.cycles), r.seconds, r.cps(),
                r.p50_us, r.p99_us, r.cpu_us(), r.other_pct, r.cps_min, r.cps_max, num(x.p50).c_str(),
                num(x.cps).c_str(), num(x.cpu).c_str(), json_str(r.check).c_str(), i + 1 < rows.size() ? "," : "");
  }
  Aims a = judge(rows, o);
  auto tri = [](bool known, bool met) { return known ? (met ? "true" : "false") : "null"; };
  std::printf("  ],\n  \"aims\": {\"uncontended_within_2x_raw\": %s, \"throughput_flat\": %s, \"notes\": [",
              tri(a.latency_known, a.latency_met), tri(a.flat_known, a.flat_met));
  for (size_t i = 0; i < a.lines.size(); ++i)
    std::printf("%s%s", i ? ", " : "", json_str(a.lines[i]).c_str());
  std::printf("]}\n}\n");
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  ::signal(SIGPIPE, SIG_IGN);

  char tmpl[] = "/tmp/socketlock-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) die_errno("mkdtemp");
  std::string dir = tmpl;

  std::vector<Row> rows;
  std::string where;
  {
    Servers servers(o, dir);
    where = servers.where();
    std::string flock_file = dir + "/flock.file";
    auto cpu = [&] { return servers.cpu_seconds(); };
    auto failed = [](const Row& r) { return r.check != "-" && r.check != "ok"; };

    // One measurement of each scenario; the check defaults to "-" (nothing to check).
    struct Scenario {
      const char* key;
      std::function<Row(int clients)> once;
    };
    const std::vector<Scenario> scenarios{
        {"raw",
         [&](int c) {
           std::vector<std::unique_ptr<Worker>> w;
           for (int i = 0; i < c; ++i) w.push_back(std::make_unique<RawWorker>(servers.echo_path(), i));
           return run(kRaw, w, o, cpu);
         }},
        {"read",
         [&](int c) {
           std::vector<std::unique_ptr<Worker>> w;
           for (int i = 0; i < c; ++i) w.push_back(std::make_unique<SlReadWorker>(servers.sl_path(), i));
           Row r = run(kRead, w, o, cpu);
           w.clear();  // close() every client: waits until all its locks are released
           return r;
         }},
        {"write",
         [&](int c) {
           SharedCounter counter;
           std::vector<std::unique_ptr<Worker>> w;
           for (int i = 0; i < c; ++i) w.push_back(std::make_unique<SlWriteWorker>(servers.sl_path(), i, counter));
           Row r = run(kWrite, w, o, cpu);
           if (r.check.empty()) r.check = counter_check(counter, total_cycles(w));
           w.clear();
           return r;
         }},
        {"flock-sh",
         [&](int c) {
           std::vector<std::unique_ptr<Worker>> w;
           for (int i = 0; i < c; ++i) w.push_back(std::make_unique<FlockWorker>(flock_file, LOCK_SH, nullptr));
           return run(kFlockSh, w, o, cpu);
         }},
        {"flock-ex",
         [&](int c) {
           SharedCounter counter;
           std::vector<std::unique_ptr<Worker>> w;
           for (int i = 0; i < c; ++i) w.push_back(std::make_unique<FlockWorker>(flock_file, LOCK_EX, &counter));
           Row r = run(kFlockEx, w, o, cpu);
           if (r.check.empty()) r.check = counter_check(counter, total_cycles(w));
           return r;
         }},
    };

    std::fprintf(stderr, "socketlock_bench: primary = %s, scratch %s\n", where.c_str(), dir.c_str());
    // Client counts outermost, so that a scenario and its floors run close
    // together in time and see the same machine.
    for (int c : o.clients) {
      for (const Scenario& sc : scenarios) {
        if (!wanted(o, sc.key)) continue;
        // Of several repetitions keep the median by cycles/s, and the range. On
        // this kind of machine (a small VM) runs are often bimodal: whether a
        // wake-up finds its CPU idle (halted vCPU, expensive to wake) or busy
        // changes a round trip several-fold. A failed check is always kept.
        std::vector<Row> reps;
        for (int k = 0; k < o.repeat; ++k) {
          Row r = sc.once(c);
          if (r.check.empty()) r.check = std::string(1, '-');  // nothing to check
          std::fprintf(stderr,
                       "  %-18s %3d clients: %10.0f cycles/s  p50 %7.1f us  p99 %8.1f us  CPU %6.2f us"
                       "  other %3.0f%%  %s\n",
                       r.scenario.c_str(), r.clients, r.cps(), r.p50_us, r.p99_us, r.cpu_us(), r.other_pct,
                       r.check.c_str());
          reps.push_back(std::move(r));
        }
        std::sort(reps.begin(), reps.end(), [](const Row& a, const Row& b) { return a.cps() < b.cps(); });
        auto bad = std::find_if(reps.begin(), reps.end(), failed);
        Row kept = bad != reps.end() ? *bad : reps[reps.size() / 2];
        kept.cps_min = reps.front().cps();
        kept.cps_max = reps.back().cps();
        rows.push_back(std::move(kept));
      }
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);

  // Table order: scenario, then clients.
  const std::vector<std::string> order{kRead, kRaw, kWrite, kFlockSh, kFlockEx};
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    auto ia = std::find(order.begin(), order.end(), a.scenario) - order.begin();
    auto ib = std::find(order.begin(), order.end(), b.scenario) - order.begin();
    return ia != ib ? ia < ib : a.clients < b.clients;
  });
  if (o.json) print_json(rows, o, where);
  else print_table(rows, o, where);
  bool any_failed =
      std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.check != "-" && r.check != "ok"; });
  return any_failed ? 1 : 0;
}
