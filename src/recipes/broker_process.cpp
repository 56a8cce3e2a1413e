#include "recipes/broker_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "recipes/amqp_conn.hpp"

namespace warren::recipes::harness {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string temp_dir(const char* prefix) {
  std::string tmpl = std::string("/tmp/") + prefix + "XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

// Starts argv in a session of its own, stdout and stderr to files, with
// `env` added to this process's environment.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const fs::path& out,
            const fs::path& err) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    setsid();
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int n = open("/dev/null", O_RDONLY);
    dup2(n, 0);
    dup2(o, 1);
    dup2(e, 2);
    for (const auto& kv : env) putenv(const_cast<char*>(kv.c_str()));
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid` up to `timeout`; its exit status, or nullopt.
std::optional<int> wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return std::nullopt;
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

bool exited(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == pid; }

int free_port() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

class Warrend final : public BrokerProcess {
 public:
  Warrend() {
    const char* bin = std::getenv("WARREN_WARREND");
    if (!bin || access(bin, X_OK) != 0) throw std::runtime_error("$WARREN_WARREND must name warrend (set by CTest)");
    dir_ = temp_dir("wrecipes-");
    pid_ = spawn({bin, "--data-dir", dir_ + "/data", "--socketlock-path", dir_ + "/sl.sock", "--amqp-port", "0"}, {},
                 dir_ + "/warrend.stdout", dir_ + "/warrend.stderr");
    const std::regex listening(R"(AMQP 0-9-1 listening on ([0-9.]+):(\d+))");
    for (auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;) {
      std::smatch m;
      std::string log = read_file(dir_ + "/warrend.stdout");
      if (std::regex_search(log, m, listening)) {
        ep_.host = m[1];
        ep_.port = std::stoi(m[2]);
        return;
      }
      if (exited(pid_)) {
        pid_ = 0;
        throw std::runtime_error("warrend exited before listening: " + read_file(dir_ + "/warrend.stderr"));
      }
      std::this_thread::sleep_for(20ms);
    }
    throw std::runtime_error("warrend did not listen within 20 s");
  }
  ~Warrend() override { stop(); }

  std::string stop() override {
    if (!pid_) return "";
    kill(pid_, SIGTERM);
    std::optional<int> status = wait_for(pid_, 30s);
    std::string problem;
    if (!status) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      problem = "warrend did not exit within 30 s of SIGTERM";
    } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      problem = "warrend exited with status " + std::to_string(*status) + " after SIGTERM";
    }
    pid_ = 0;
    const std::string err = read_file(dir_ + "/warrend.stderr");
    if (std::regex_search(err, std::regex("ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:")))
      problem += "\nwarrend's stderr has a sanitizer report";
    if (!problem.empty()) return problem + "\n--- stderr:\n" + err.substr(err.size() > 6000 ? err.size() - 6000 : 0);
    fs::remove_all(dir_);
    return "";
  }

 private:
  std::string dir_;
  pid_t pid_ = 0;
};

constexpr const char* kRabbitBin = "/usr/lib/rabbitmq/bin/rabbitmq-server";

class RabbitMQ final : public BrokerProcess {
 public:
  RabbitMQ() {
    dir_ = temp_dir("wrecipes-rabbitmq-");
    const int port = free_port(), dist = free_port();
    std::ofstream(dir_ + "/enabled_plugins") << "[].\n";
    std::ofstream(dir_ + "/rabbitmq.conf") << "listeners.tcp.1 = 127.0.0.1:" << port << "\n";
    const std::string node = "wrecipes-" + std::to_string(getpid()) + "@localhost";
    env_ = {"HOME=" + dir_,
            "RABBITMQ_MNESIA_BASE=" + dir_ + "/mnesia",
            "RABBITMQ_LOG_BASE=" + dir_ + "/log",
            "RABBITMQ_NODE_PORT=" + std::to_string(port),
            "RABBITMQ_NODENAME=" + node,
            "RABBITMQ_DIST_PORT=" + std::to_string(dist),
            "RABBITMQ_ENABLED_PLUGINS_FILE=" + dir_ + "/enabled_plugins",
            "RABBITMQ_CONFIG_FILE=" + dir_ + "/rabbitmq"};
    pid_ = spawn({kRabbitBin}, env_, dir_ + "/stdout.log", dir_ + "/stderr.log");
    ep_.port = port;
    // Up when it lets us log in.
    for (auto deadline = std::chrono::steady_clock::now() + 90s; std::chrono::steady_clock::now() < deadline;) {
      try {
        amqp::Connection probe(ep_, 2s);
        return;
      } catch (const Error&) {
      }
      if (exited(pid_)) {
        pid_ = 0;
        throw std::runtime_error("rabbitmq-server exited: " + read_file(dir_ + "/stdout.log"));
      }
      std::this_thread::sleep_for(250ms);
    }
    throw std::runtime_error("RabbitMQ did not accept a login within 90 s");
  }
  ~RabbitMQ() override { stop(); }

  std::string stop() override {
    if (!pid_) return "";
    // A throwaway node: its whole session goes, at once.
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
    fs::remove_all(dir_);
    return "";
  }

 private:
  std::string dir_;
  std::vector<std::string> env_;
  pid_t pid_ = 0;
};

}  // namespace

std::unique_ptr<BrokerProcess> start_warrend() { return std::make_unique<Warrend>(); }

std::unique_ptr<BrokerProcess> start_rabbitmq() {
  if (access(kRabbitBin, X_OK) != 0) return nullptr;
  return std::make_unique<RabbitMQ>();
}

}  // namespace warren::recipes::harness
