#pragma once
// The prover's TCP proxy: each client reaches the broker through its own
// listening port here, so the nemesis can fault one client's network:
//   Cut        close every connection of the route, both ways, at once
//              (new ones are let through)
//   Blackhole  stop forwarding, without FIN or RST: the sockets stay open
//              and silent, the case heartbeats exist for (new connections
//              are accepted and left silent too)
//   Delay      hold each chunk for a while before forwarding it
//   Pass       normal
// One thread polls every route.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace warren::prover {

class Proxy {
 public:
  enum class Mode : uint8_t { Pass, Blackhole, Delay };

  Proxy(std::string upstream_host, int upstream_port);
  ~Proxy();
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // A new route; returns its local port.
  int add_route();
  void set_mode(size_t route, Mode m, std::chrono::milliseconds delay = {});
  void cut(size_t route);
  // The broker moved (restarted on another port).
  void set_upstream_port(int port);

 private:
  struct Pending {
    std::chrono::steady_clock::time_point due;
    std::string bytes;
  };
  struct Pipe {
    int client = -1, server = -1;
    std::vector<Pending> to_server, to_client;  // held by Delay
  };
  struct Route {
    int listener = -1;
    int port = 0;
    Mode mode = Mode::Pass;
    std::chrono::milliseconds delay{0};
    bool cut_now = false;
    std::vector<Pipe> pipes;
  };

  void run();
  void accept_on(Route& r);
  // Moves bytes from `from` to `to` (or into `held` while delayed); false: closed.
  bool pump(int from, int to, Route& r, std::vector<Pending>& held);
  static void close_pipe(Pipe& p);

  std::string host_;
  std::atomic<int> port_;
  std::mutex mu_;  // guards routes_' modes and the list
  std::vector<std::unique_ptr<Route>> routes_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace warren::prover
