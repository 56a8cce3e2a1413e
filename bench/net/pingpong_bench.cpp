// Ping-pong over a Unix socket pair between two threads.
//
//   ping:  1 byte there and back, one outstanding: round trips/s and latency.
//   burst: 64 x 16-byte requests in one write, the server answers each with
//          its own 16-byte reply, the client waits for all 64. This is the
//          shape of a broker turn (many small replies per read) and shows
//          what end-of-turn batching buys.
//
// Variants: our EventLoop, standalone Asio (async_read_some / async_write),
// and blocking read/write as the floor.
// Usage: net_pingpong_bench [round_trips [variant|all [same|split]]]
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <asio.hpp>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "net/socket.hpp"
#include "net/event_loop.hpp"

using namespace warren::net;
using warren::Clock;
using Ns = std::chrono::nanoseconds;

namespace {

constexpr size_t kBurst = 64, kMsg = 16;
size_t g_iters = 200000;
size_t g_warmup = 10000;
std::string g_pin;  // "", "same" (both threads on CPU 0) or "split" (CPU 0 and 1)

// Cross-core wake-ups cost far more than same-core ones, so placement decides
// the result as much as the I/O code does; pinning makes runs comparable.
void pin(bool server) {
  if (g_pin.empty()) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(g_pin == "split" && server ? 1 : 0, &set);
  pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

struct Stats {
  std::vector<int64_t> lat_ns;
  double seconds = 0;
  void print(const char* name, size_t round_trips) {
    std::sort(lat_ns.begin(), lat_ns.end());
    auto pct = [&](double p) { return lat_ns[static_cast<size_t>(p * (lat_ns.size() - 1))] / 1000.0; };
    std::printf("%-34s %10.0f rt/s   p50 %6.1f us   p99 %6.1f us\n", name, round_trips / seconds, pct(0.50),
                pct(0.99));
  }
};

// Times `total` round trips; `one(i)` performs (or schedules) round trip i.
struct Timer {
  explicit Timer(Stats& s) : st(s) {}
  Stats& st;
  size_t done = 0;
  Clock::time_point start, sent;
  // Called when a round trip completes; returns true when all are done.
  bool complete() {
    auto t = Clock::now();
    if (done == g_warmup) start = t;  // throughput counts from here
    if (done >= g_warmup) st.lat_ns.push_back(std::chrono::duration_cast<Ns>(t - sent).count());
    if (++done == g_warmup + g_iters) {
      st.seconds = std::chrono::duration<double>(t - start).count();
      return true;
    }
    sent = Clock::now();
    return false;
  }
};

void socket_pair(int fd[2]) {
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) != 0) std::abort();
}

// ---------------------------------------------------------------- EventLoop
struct LoopServer : Socket::Handler {
  bool burst;
  size_t partial = 0;
  void on_data(Socket& c, std::string_view b) override {
    if (!burst) return c.send(b);
    partial += b.size();
    for (; partial >= kMsg; partial -= kMsg) c.send("reply-0123456789");  // each its own send
  }
  void on_close(Socket&, int) override {}
};

struct LoopClient : Socket::Handler {
  EventLoop& loop;
  Timer t;
  bool burst;
  size_t got = 0;
  std::string batch = std::string(kBurst * kMsg, 'q');
  LoopClient(EventLoop& l, Stats& s, bool b) : loop(l), t(s), burst(b) {}
  void kick(Socket& c) {
    t.sent = Clock::now();
    burst ? c.send(batch) : c.send("x");
  }
  void on_data(Socket& c, std::string_view b) override {
    got += b.size();
    if (got < (burst ? kBurst * kMsg : 1)) return;
    got = 0;
    if (t.complete()) return loop.stop();
    burst ? c.send(batch) : c.send("x");
  }
  void on_close(Socket&, int) override {}
};

Stats bench_loop(bool burst) {
  int fd[2];
  socket_pair(fd);
  Stats st;
  st.lat_ns.reserve(g_iters);
  EventLoop server_loop;
  LoopServer sh;
  sh.burst = burst;
  auto server = Socket::adopt(server_loop, fd[1], &sh);
  std::thread srv([&] {
    pin(true);
    server_loop.run();
  });

  EventLoop loop;
  LoopClient ch(loop, st, burst);
  auto client = Socket::adopt(loop, fd[0], &ch);
  loop.post([&] { ch.kick(*client); });
  loop.run();
  server_loop.stop();
  srv.join();
  return st;
}

// ---------------------------------------------------------------- Asio
using asio::local::stream_protocol;

struct AsioServer {
  AsioServer(asio::io_context& ctx, bool b, bool per_reply) : s(ctx), burst(b), per_reply_writes(per_reply) {}
  stream_protocol::socket s;
  bool burst, per_reply_writes;
  char in[65536];
  size_t partial = 0;
  std::deque<std::string> queue;  // per-reply mode: one async_write per reply
  std::string out, writing;       // batched mode: replies gathered per read
  bool write_busy = false;

  void read() {
    s.async_read_some(asio::buffer(in), [this](std::error_code ec, size_t n) {
      if (ec) return;
      if (!burst) {
        asio::async_write(s, asio::buffer(in, n), [this](std::error_code e, size_t) {
          if (!e) read();
        });
        return;
      }
      partial += n;
      for (; partial >= kMsg; partial -= kMsg) {
        if (per_reply_writes) queue.emplace_back("reply-0123456789");
        else out += "reply-0123456789";
      }
      write();
      read();  // keep reading while writes are in flight
    });
  }
  void write() {
    if (write_busy) return;
    if (per_reply_writes) {
      if (queue.empty()) return;
      write_busy = true;
      asio::async_write(s, asio::buffer(queue.front()), [this](std::error_code ec, size_t) {
        write_busy = false;
        queue.pop_front();
        if (!ec) write();
      });
    } else {
      if (out.empty()) return;
      writing.swap(out);
      out.clear();
      write_busy = true;
      asio::async_write(s, asio::buffer(writing), [this](std::error_code ec, size_t) {
        write_busy = false;
        if (!ec) write();
      });
    }
  }
};

struct AsioClient {
  AsioClient(asio::io_context& ctx, Stats& st, bool b) : s(ctx), t(st), burst(b) {}
  stream_protocol::socket s;
  Timer t;
  bool burst;
  char in[65536];
  size_t got = 0;
  std::string batch = std::string(kBurst * kMsg, 'q');
  void send() {
    asio::const_buffer buf = burst ? asio::const_buffer(batch.data(), batch.size()) : asio::const_buffer("x", 1);
    asio::async_write(s, buf, [](std::error_code, size_t) {});
  }
  void read() {
    s.async_read_some(asio::buffer(in), [this](std::error_code ec, size_t n) {
      if (ec) return;
      got += n;
      if (got >= (burst ? kBurst * kMsg : 1)) {
        got = 0;
        if (t.complete()) return;  // no more work: run() returns
        send();
      }
      read();
    });
  }
};

Stats bench_asio(bool burst, bool per_reply_writes) {
  Stats st;
  st.lat_ns.reserve(g_iters);
  asio::io_context sctx(1), cctx(1);  // concurrency hint 1: single-threaded, fewer locks
  AsioServer server(sctx, burst, per_reply_writes);
  AsioClient client(cctx, st, burst);
  asio::local::connect_pair(server.s, client.s);
  server.read();
  std::thread srv([&] {
    pin(true);
    sctx.run();
  });
  client.t.sent = Clock::now();
  client.send();
  client.read();
  cctx.run();
  sctx.stop();
  srv.join();
  return st;
}

// ---------------------------------------------------------------- blocking
Stats bench_blocking() {
  int fd[2];
  socket_pair(fd);
  Stats st;
  st.lat_ns.reserve(g_iters);
  std::thread srv([&] {
    pin(true);
    char c;
    while (::read(fd[1], &c, 1) == 1)
      if (::write(fd[1], &c, 1) != 1) break;
  });
  Timer t(st);
  t.sent = Clock::now();
  for (;;) {
    char c = 'x';
    if (::write(fd[0], &c, 1) != 1 || ::read(fd[0], &c, 1) != 1) std::abort();
    if (t.complete()) break;
  }
  ::shutdown(fd[0], SHUT_WR);
  srv.join();
  ::close(fd[0]);
  ::close(fd[1]);
  return st;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_iters = std::strtoul(argv[1], nullptr, 10);
  std::string only = argc > 2 ? argv[2] : "";  // one variant, e.g. for strace; "all" = every one
  if (only == "all") only.clear();
  g_pin = argc > 3 ? argv[3] : "";
  pin(false);
  auto want = [&](const char* v) { return only.empty() || only == v; };
  g_warmup = std::max<size_t>(g_iters / 20, 1);
  std::printf("%zu round trips after %zu warm-up, Unix socket pair, 2 threads, pinning: %s\n\n", g_iters,
              g_warmup, g_pin.empty() ? "none" : g_pin.c_str());
  std::printf("ping: 1 byte each way\n");
  if (want("ping-loop")) bench_loop(false).print("  warren EventLoop", g_iters);
  if (want("ping-asio")) bench_asio(false, false).print("  asio async_read_some/async_write", g_iters);
  if (want("ping-blocking")) bench_blocking().print("  blocking read/write (floor)", g_iters);
  std::printf("\nburst: %zu x %zu-byte requests, one reply each\n", kBurst, kMsg);
  if (want("burst-loop")) bench_loop(true).print("  warren EventLoop (send per reply)", g_iters);
  if (want("burst-asio")) bench_asio(true, true).print("  asio, async_write per reply", g_iters);
  if (want("burst-asio-batched")) bench_asio(true, false).print("  asio, replies batched by hand", g_iters);
  return 0;
}
