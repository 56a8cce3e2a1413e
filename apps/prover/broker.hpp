#pragma once
// The broker a prover run targets, as a child process it can kill -9 and
// start again on the same data: a Release warrend, or a private RabbitMQ
// 3.10 node (Debian's rabbitmq-server, its own directory, ports and
// cookie, as bench/compare/brokers.py starts one). The client's fault
// tests and the recipes' tests start theirs with it too.
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace warren::prover {

class Broker {
 public:
  virtual ~Broker() = default;
  // Starts it (again, on the same data and port) and waits until it accepts connections.
  virtual void start() = 0;
  virtual void kill9() = 0;  // the whole process group, no warning
  // Cleanly, at the end: SIGTERM, then (after 30 s) SIGKILL. What went
  // wrong (warrend: a non-zero exit, a sanitizer report in its log), or "".
  virtual std::string stop() = 0;
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  std::string socketlock_path() const { return dir_ + "/sl.sock"; }
  // Where a failed start's output is.
  virtual std::string log_path() const = 0;

 protected:
  int port_ = 0;
  std::string dir_;
  pid_t pid_ = -1;
};

std::unique_ptr<Broker> make_warrend(const std::string& binary, std::vector<std::string> extra_args = {});
std::unique_ptr<Broker> make_rabbitmq();
// Whether Debian's rabbitmq-server is installed (tests skip RabbitMQ without it).
bool rabbitmq_installed();

// A TCP port nobody listens on now (bound, read, closed).
int free_port();
// Polls until something accepts on 127.0.0.1:port; false after `timeout`.
bool wait_listening(int port, std::chrono::milliseconds timeout);

}  // namespace warren::prover
