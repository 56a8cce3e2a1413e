#include "service/notify.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

using namespace warren;
using namespace std::chrono_literals;

namespace {

// A datagram socket standing in for systemd's notification socket; set as
// NOTIFY_SOCKET while it lives.
class FakeManager {
 public:
  FakeManager() {
    dir_ = std::filesystem::temp_directory_path() / ("warren-notify-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "notify").string();
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path_.copy(a.sun_path, sizeof a.sun_path - 1);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ::setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~FakeManager() {
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  // Every message received so far.
  std::vector<std::string> take() {
    std::vector<std::string> out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd_, buf, sizeof buf, 0)) > 0;) out.emplace_back(buf, size_t(n));
    return out;
  }

 private:
  std::filesystem::path dir_;
  std::string path_;
  int fd_ = -1;
};

// Runs `loop` on this thread for `d`.
void run_for(net::EventLoop& loop, std::chrono::milliseconds d) {
  loop.add_timer(Clock::now() + d, [&] { loop.stop(); });
  loop.run();
}

}  // namespace

TEST(Notify, StatesReachTheManager) {
  FakeManager m;
  EXPECT_TRUE(service::notify_enabled());
  service::notify_ready("serving AMQP on 127.0.0.1:5672\nand more");
  service::notify_reloading("reloading /etc/warren/warrend.toml");
  service::notify_stopping("stopping");
  const std::vector<std::string> got = m.take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "READY=1\nSTATUS=serving AMQP on 127.0.0.1:5672 and more");
  EXPECT_EQ(got[1].rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u) << got[1];
  EXPECT_NE(got[1].find("\nSTATUS=reloading /etc/warren/warrend.toml"), std::string::npos) << got[1];
  EXPECT_EQ(got[2], "STOPPING=1\nSTATUS=stopping");
}

TEST(Notify, NoManagerNoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(service::notify_enabled());
  service::notify_ready("nobody listens");
  service::notify_stopping("nobody listens");
}

TEST(Notify, WatchdogIntervalIsOursOnly) {
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  EXPECT_EQ(service::watchdog_interval(), 3s);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);  // a parent's, inherited
  EXPECT_EQ(service::watchdog_interval(), 0s);
  ::unsetenv("WATCHDOG_PID");
  ::unsetenv("WATCHDOG_USEC");
  EXPECT_EQ(service::watchdog_interval(), 0s);
}

TEST(Notify, WatchdogPingsOnlyWhileEveryLoopTurns) {
  FakeManager m;
  net::EventLoop main_loop, other;
  auto pings = [&] {
    size_t n = 0;
    for (const std::string& s : m.take()) n += s == "WATCHDOG=1";
    return n;
  };
  // Runs the main loop in slices until `done`, for 5 s at most (a loaded
  // machine may run fewer ticks than the clock allows).
  auto run_until = [&](auto done) {
    const auto deadline = Clock::now() + 5s;
    while (!done() && Clock::now() < deadline) run_for(main_loop, 20ms);
  };
  {
    // 60 ms: a tick every 20 ms. The other loop does not run: after the
    // first tick's ping, nothing, however many ticks pass.
    service::Watchdog w(main_loop, 60ms, {&other});
    run_until([&] { return w.skipped() >= 5; });
    EXPECT_EQ(w.pings(), 1u);
    EXPECT_GE(w.skipped(), 5u);
    EXPECT_EQ(pings(), 1u);

    // It turns again: pings again.
    std::thread t([&] { other.run(); });
    run_until([&] { return w.pings() >= 4; });
    other.stop();
    t.join();
    EXPECT_GE(w.pings(), 4u);
    EXPECT_EQ(pings(), w.pings() - 1);
  }
  // Destroyed: its timer is gone.
  run_for(main_loop, 50ms);
  EXPECT_EQ(pings(), 0u);
}
