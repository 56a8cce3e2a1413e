#include "broker.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace warren::prover {

namespace {

constexpr const char* kRabbitServer = "/usr/lib/rabbitmq/bin/rabbitmq-server";

std::string temp_dir(const char* prefix) {
  std::string t = (std::filesystem::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
  if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
  return t;
}

// Runs argv in a process group of its own (so that the whole group can be
// killed), output appended to `log`, with `env` added to ours. Both sides
// set the group: a kill of the group that comes before the child has run
// must not miss it (the prover once waited for good on a RabbitMQ it had
// "killed" as it started).
pid_t spawn(const std::vector<std::string>& argv, const std::string& log,
            const std::vector<std::pair<std::string, std::string>>& env = {}) {
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, 0);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // EACCES once it has exec'd: it has set it itself then
  return pid;
}

void kill_group(pid_t& pid, int sig) {
  if (pid <= 0) return;
  if (::kill(-pid, sig) != 0) ::kill(pid, sig);
  ::waitpid(pid, nullptr, 0);
  // The rest of the group too (RabbitMQ's beam under its shell): until the
  // last has gone, its listening socket may still accept, and a restart's
  // start() would take that for the new broker (it did: a "restart" of 10 ms).
  for (int i = 0; i < 1000 && ::kill(-pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  pid = -1;
}

// SIGTERM to the group, SIGKILL after `grace`; the exit status, or nullopt
// when it had to be killed.
std::optional<int> terminate(pid_t& pid, std::chrono::seconds grace) {
  if (pid <= 0) return 0;
  ::kill(-pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill_group(pid, SIGKILL);
  return std::nullopt;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class Warrend : public Broker {
 public:
  Warrend(std::string binary, std::vector<std::string> extra) : bin_(std::move(binary)), extra_(std::move(extra)) {
    dir_ = temp_dir("prover-warrend.");
    port_ = free_port();
  }
  ~Warrend() override {
    kill_group(pid_, SIGKILL);
    std::filesystem::remove_all(dir_);
  }
  void start() override {
    std::vector<std::string> argv = {bin_, "--data-dir", dir_ + "/data", "--socketlock-path", socketlock_path(),
                                     "--amqp-port", std::to_string(port_), "--log-level", "warn",
                                     "--no-management", "--no-prometheus"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    pid_ = spawn(argv, log_path());
    if (!wait_listening(port_, std::chrono::seconds(30)))
      throw std::runtime_error("warrend did not listen on port " + std::to_string(port_) + ": see " + log_path());
  }
  void kill9() override { kill_group(pid_, SIGKILL); }
  std::string stop() override {
    if (pid_ <= 0) return "";
    const std::optional<int> status = terminate(pid_, std::chrono::seconds(30));
    std::string problem;
    if (!status)
      problem = "warrend did not exit within 30 s of SIGTERM";
    else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
      problem = "warrend exited with status " + std::to_string(*status) + " after SIGTERM";
    const std::string log = read_file(log_path());
    for (const char* report : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"})
      if (log.find(report) != std::string::npos) problem += "\nwarrend's log has a sanitizer report";
    if (problem.empty()) return "";
    return problem + "\n--- " + log_path() + ":\n" + log.substr(log.size() > 6000 ? log.size() - 6000 : 0);
  }
  std::string log_path() const override { return dir_ + "/warrend.log"; }

 private:
  std::string bin_;
  std::vector<std::string> extra_;
};

class RabbitMQ : public Broker {
 public:
  RabbitMQ() {
    dir_ = temp_dir("prover-rabbitmq.");
    port_ = free_port();
    std::ofstream(dir_ + "/enabled_plugins") << "[].\n";
    std::ofstream(dir_ + "/rabbitmq.conf") << "listeners.tcp.1 = 127.0.0.1:" << port_ << "\n";
  }
  ~RabbitMQ() override {
    kill_group(pid_, SIGKILL);
    std::filesystem::remove_all(dir_);
  }
  void start() override {
    const std::string node = "warren-prover-" + std::to_string(port_) + "@localhost";
    pid_ = spawn({kRabbitServer}, log_path(),
                 {{"HOME", dir_},
                  {"RABBITMQ_MNESIA_BASE", dir_ + "/mnesia"},
                  {"RABBITMQ_LOG_BASE", dir_ + "/log"},
                  {"RABBITMQ_NODE_PORT", std::to_string(port_)},
                  {"RABBITMQ_NODENAME", node},
                  {"RABBITMQ_DIST_PORT", std::to_string(port_ + 20000 > 65000 ? port_ - 20000 : port_ + 20000)},
                  {"RABBITMQ_ENABLED_PLUGINS_FILE", dir_ + "/enabled_plugins"},
                  {"RABBITMQ_CONFIG_FILE", dir_ + "/rabbitmq"}});
    if (!wait_listening(port_, std::chrono::seconds(120)))
      throw std::runtime_error("RabbitMQ did not listen on port " + std::to_string(port_) + ": see " + log_path());
  }
  void kill9() override { kill_group(pid_, SIGKILL); }
  std::string stop() override {
    terminate(pid_, std::chrono::seconds(30));
    return "";
  }
  std::string log_path() const override { return dir_ + "/rabbitmq.log"; }
};

}  // namespace

std::unique_ptr<Broker> make_warrend(const std::string& binary, std::vector<std::string> extra_args) {
  return std::make_unique<Warrend>(binary, std::move(extra_args));
}

std::unique_ptr<Broker> make_rabbitmq() { return std::make_unique<RabbitMQ>(); }

bool rabbitmq_installed() { return ::access(kRabbitServer, X_OK) == 0; }

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

bool wait_listening(int port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace warren::prover
