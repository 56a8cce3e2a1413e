// socketlock_worker: a client process for the socketlock integration tests
// (tests/integration/test_socketlock*.py drive it).
//
//   mutex  --socket P --iterations M --ledger FILE [--counter FILE] [--read-ratio R] [--ttl S] [--wait-go 1]
//          M times: acquire (read with probability R, else write), append
//          "BEGIN <pid> <mode> <token> <ns>" to the ledger, touch the shared
//          counter file for a few hundred microseconds (writers increment it),
//          append "END <pid> <mode> <token> <ns>" (plus " LOST" when the lock
//          was lost meanwhile), release. Prints "READY primary=<0|1>" first
//          (then, with --wait-go, waits for a line on stdin) and "DONE" last.
//   hold   --socket P [--read]      acquire, print "HELD <token> primary=<0|1>",
//                                   hold until stdin closes (or a kill)
//   holdttl --socket P --ttl S --resource F
//          acquire write with a TTL, print "HELD <token>", write to the fenced
//          resource ("FIRSTWRITE ACCEPTED|REJECTED"), wait for a line on
//          stdin, print "VALID <0|1> TOKEN <t> REASON <why>", then write to the
//          fenced resource with that token: "WRITE ACCEPTED|REJECTED highest=<h>"
//   wait   --socket P [--hold-ms N] print "READY primary=<0|1>", acquire write,
//          print "GOT <token> <ns> primary=<0|1>", hold N ms, release, print
//          "RELEASED <ns of the release call>", then stay (possibly serving as primary) until stdin closes
//   fenced-write --resource F [--token T] [--data D]
//          one write to the fenced resource; T defaults to $SOCKETLOCK_TOKEN.
//          Prints ACCEPTED/REJECTED; exits 0 or 3.
// <ns> is CLOCK_MONOTONIC in nanoseconds (Python's time.monotonic_ns()).
// Exit status: 0 ok, 2 usage, 1 socketlock failure.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "fenced_resource.hpp"
#include "socketlock/client.hpp"

namespace sl = warren::socketlock;
using namespace std::chrono_literals;

namespace {

uint64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct Args {
  std::string mode;
  std::map<std::string, std::string> opt;
  bool has(const std::string& k) const { return opt.contains(k); }
  std::string get(const std::string& k, const std::string& def = {}) const {
    auto it = opt.find(k);
    return it == opt.end() ? def : it->second;
  }
  std::string need(const std::string& k) const {
    if (!has(k)) throw std::invalid_argument("missing --" + k);
    return get(k);
  }
};

Args parse(int argc, char** argv) {
  if (argc < 2) throw std::invalid_argument("no mode given");
  Args a;
  a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument " + k);
    k = k.substr(2);
    if (k == "read") { a.opt[k] = "1"; continue; }
    if (i + 1 >= argc) throw std::invalid_argument("--" + k + " needs a value");
    a.opt[k] = argv[++i];
  }
  return a;
}

void say(const std::string& line) {
  std::cout << line << std::endl;  // endl flushes: the test reads line by line
}

void note(const std::string& line) { std::cerr << "worker " << getpid() << ": " << line << std::endl; }

// One line, one write(2), O_APPEND: lines of concurrent workers never interleave.
void append_line(int fd, const std::string& line) {
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) throw std::runtime_error("ledger write failed");
}

std::unique_ptr<sl::Client> connect(const std::string& path) {
  for (int attempt = 1;; ++attempt) {
    try {
      return sl::Client::connect(path);
    } catch (const sl::Error& e) {
      if (attempt >= 5) throw;
      note(std::string("RETRY connect: ") + e.what());
      std::this_thread::sleep_for(100ms);
    }
  }
}

// Acquire, retrying when an acquire fails (e.g. the connection dropped while
// the request was in flight); each retry is noted on stderr for the test.
sl::Lock acquire(sl::Client& c, bool read, sl::AcquireOptions opts, int max_attempts = 20) {
  for (int attempt = 1;; ++attempt) {
    try {
      return read ? c.acquire_read(opts) : c.acquire_write(opts);
    } catch (const sl::Error& e) {
      if (attempt >= max_attempts) throw;
      note(std::string("RETRY acquire: ") + e.what());
      std::this_thread::sleep_for(50ms);
    }
  }
}

void wait_stdin_eof() {
  std::string line;
  while (std::getline(std::cin, line)) {
  }
}

std::string primary_flag(const sl::Client& c) { return c.is_primary() ? "primary=1" : "primary=0"; }

// Reads the counter, sleeps a little, and (writers) writes it back plus one:
// an unguarded read-modify-write that loses updates unless writers exclude
// each other.
void touch(const std::string& path, bool write, std::mt19937& rng) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open counter " + path);
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  long value = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
  std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(100, 600)(rng)));
  if (write) {
    std::string s = std::to_string(value + 1) + "\n";
    if (::pwrite(fd, s.data(), s.size(), 0) != static_cast<ssize_t>(s.size())) throw std::runtime_error("counter write failed");
  }
  ::close(fd);
}

int run_mutex(const Args& a) {
  const std::string path = a.need("socket");
  const int iterations = std::stoi(a.need("iterations"));
  const double read_ratio = std::stod(a.get("read-ratio", "0"));
  const std::string counter = a.get("counter", a.need("ledger") + ".counter");
  sl::AcquireOptions opts{.timeout = 30s};
  if (a.has("ttl")) opts.ttl = std::chrono::seconds(std::stoi(a.get("ttl")));
  int ledger = ::open(a.need("ledger").c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (ledger < 0) throw std::runtime_error("cannot open ledger");
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  const long pid = static_cast<long>(getpid());

  auto client = connect(path);
  say("READY " + primary_flag(*client));
  if (a.has("wait-go")) {  // start together with the other workers
    std::string go;
    std::getline(std::cin, go);
  }
  for (int i = 0; i < iterations; ++i) {
    const bool read = coin(rng) < read_ratio;
    const char* mode = read ? "read" : "write";
    sl::Lock lock = acquire(*client, read, opts);
    const std::string token = std::to_string(lock.token());
    append_line(ledger, "BEGIN " + std::to_string(pid) + " " + mode + " " + token + " " + std::to_string(mono_ns()) + "\n");
    touch(counter, !read, rng);
    std::string end = "END " + std::to_string(pid) + " " + mode + " " + token + " " + std::to_string(mono_ns());
    if (!lock.valid()) {
      note("lock " + token + " lost during the critical section: " + lock.lost_reason());
      end += " LOST";
    }
    append_line(ledger, end + "\n");
    lock.release();
  }
  ::close(ledger);
  say(std::string("DONE ") + primary_flag(*client));
  client->close();
  return 0;
}

int run_hold(const Args& a) {
  auto client = connect(a.need("socket"));
  sl::Lock lock = acquire(*client, a.has("read"), {}, 1);
  say("HELD " + std::to_string(lock.token()) + " " + primary_flag(*client));
  wait_stdin_eof();
  lock.release();
  client->close();
  return 0;
}

int run_holdttl(const Args& a) {
  auto client = connect(a.need("socket"));
  const auto ttl = std::chrono::seconds(std::stoi(a.need("ttl")));
  sl::Lock lock = acquire(*client, false, {.ttl = ttl}, 1);
  const uint64_t token = lock.token();
  say("HELD " + std::to_string(token));
  warren::itest::FencedResult first = warren::itest::fenced_write(a.need("resource"), token, "first-holdttl");
  say(std::string("FIRSTWRITE ") + (first.accepted ? "ACCEPTED" : "REJECTED"));
  std::string line;
  std::getline(std::cin, line);
  // The holder was stopped; on resume it asks its Lock before writing...
  bool valid = lock.valid();
  std::string why = valid ? "-" : lock.lost_reason();
  say("VALID " + std::string(valid ? "1" : "0") + " TOKEN " + std::to_string(token) + " REASON " + why);
  // ...and even if it did not, the resource refuses the stale token.
  warren::itest::FencedResult r = warren::itest::fenced_write(a.need("resource"), token, "from-holdttl");
  say(std::string("WRITE ") + (r.accepted ? "ACCEPTED" : "REJECTED") + " highest=" + std::to_string(r.highest));
  lock.release();
  client->close();
  return 0;
}

int run_wait(const Args& a) {
  auto client = connect(a.need("socket"));
  const int hold_ms = std::stoi(a.get("hold-ms", "50"));
  say("READY " + primary_flag(*client));
  sl::Lock lock = acquire(*client, false, {.timeout = 20s});
  say("GOT " + std::to_string(lock.token()) + " " + std::to_string(mono_ns()) + " " + primary_flag(*client));
  std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
  const uint64_t releasing = mono_ns();  // before release(): the next holder may start right after it
  lock.release();
  say("RELEASED " + std::to_string(releasing));
  wait_stdin_eof();
  client->close();
  return 0;
}

int run_fenced_write(const Args& a) {
  std::string token_text = a.get("token");
  if (token_text.empty() && std::getenv("SOCKETLOCK_TOKEN")) token_text = std::getenv("SOCKETLOCK_TOKEN");
  if (token_text.empty()) throw std::invalid_argument("no --token and no $SOCKETLOCK_TOKEN");
  auto r = warren::itest::fenced_write(a.need("resource"), std::stoull(token_text), a.get("data", "x"));
  say(std::string(r.accepted ? "ACCEPTED" : "REJECTED") + " token=" + token_text + " highest=" + std::to_string(r.highest));
  return r.accepted ? 0 : 3;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  try {
    a = parse(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "usage error: " << e.what() << "\n";
    return 2;
  }
  try {
    if (a.mode == "mutex") return run_mutex(a);
    if (a.mode == "hold") return run_hold(a);
    if (a.mode == "holdttl") return run_holdttl(a);
    if (a.mode == "wait") return run_wait(a);
    if (a.mode == "fenced-write") return run_fenced_write(a);
    std::cerr << "usage error: unknown mode " << a.mode << "\n";
    return 2;
  } catch (const std::exception& e) {
    note(std::string("FAILED: ") + e.what());
    return 1;
  }
}
