// Helpers shared by the net tests.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>

#include "net/socket.hpp"
#include "net/event_loop.hpp"

namespace warren::net::testing {

using namespace std::chrono_literals;

// Runs the loop until done() holds (checked every millisecond) or `limit`
// passes. Returns done().
inline bool run_until(EventLoop& loop, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::milliseconds(10000)) {
  const auto deadline = Clock::now() + limit;
  TimerId pending = 0;
  std::function<void()> tick = [&] {
    pending = 0;
    if (done() || Clock::now() >= deadline) {
      loop.stop();
    } else {
      pending = loop.add_timer(loop.now() + 1ms, tick);
    }
  };
  pending = loop.add_timer(loop.now(), tick);
  loop.run();
  if (pending != 0) loop.cancel_timer(pending);  // tick refers to this frame
  return done();
}

// Runs the loop for a fixed time (to show that something does NOT happen).
inline void run_for(EventLoop& loop, std::chrono::milliseconds d) {
  TimerId t = loop.add_timer(Clock::now() + d, [&] { loop.stop(); });
  loop.run();
  loop.cancel_timer(t);
}

// Records what a connection reports; optional hooks run inside the callbacks.
struct Recorder : Socket::Handler {
  std::string data;
  int closes = 0;
  int error = -1;
  std::function<void(Socket&, std::string_view)> on_data_hook;
  std::function<void(Socket&, int)> on_close_hook;

  void on_data(Socket& c, std::string_view b) override {
    data.append(b);
    if (on_data_hook) on_data_hook(c, b);
  }
  void on_close(Socket& c, int err) override {
    ++closes;
    error = err;
    if (on_close_hook) on_close_hook(c, err);
  }
};

// Echoes everything back.
struct Echo : Socket::Handler {
  int closes = 0;
  void on_data(Socket& c, std::string_view b) override { c.send(b); }
  void on_close(Socket&, int) override { ++closes; }
};

struct SocketPair {
  int fd[2] = {-1, -1};
  SocketPair() { ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd); }
  ~SocketPair() {
    for (int f : fd)
      if (f >= 0) ::close(f);
  }
  int take(int i) {  // hand one end to a Socket
    int f = fd[i];
    fd[i] = -1;
    return f;
  }
};

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "warren-net-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

// A deterministic byte pattern, so reordering or loss is detectable.
inline std::string pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

}  // namespace warren::net::testing
