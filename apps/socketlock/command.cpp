#include "command.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>

extern char** environ;

namespace warren::socketlock_cli {

namespace {

struct ProcInfo {
  pid_t pid;
  pid_t ppid;
  char state;
};

// Every process of the system, from /proc/<pid>/stat.
std::vector<ProcInfo> all_processes() {
  std::vector<ProcInfo> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  char path[300], buf[512];
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    std::snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;  // gone meanwhile
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    // "pid (comm) state ppid ...": comm may hold anything, even ") ".
    char* close_paren = std::strrchr(buf, ')');
    if (!close_paren || close_paren[1] != ' ' || !close_paren[2]) continue;
    ProcInfo p{};
    p.pid = static_cast<pid_t>(std::strtol(buf, nullptr, 10));
    p.state = close_paren[2];
    p.ppid = static_cast<pid_t>(std::strtol(close_paren + 3, nullptr, 10));
    out.push_back(p);
  }
  ::closedir(d);
  return out;
}

// This process's live descendants, with their states.
std::vector<ProcInfo> live_tree() {
  std::vector<ProcInfo> all = all_processes(), tree;
  std::set<pid_t> below{::getpid()};
  // Parents may be listed after their children: repeat until nothing is added.
  for (bool grew = true; grew;) {
    grew = false;
    for (const ProcInfo& p : all)
      if (below.contains(p.ppid) && below.insert(p.pid).second) {
        grew = true;
        if (p.state != 'Z' && p.state != 'X') tree.push_back(p);
      }
  }
  return tree;
}

// Where execvp would look for `file`.
std::vector<std::string> exec_candidates(const std::string& file) {
  if (file.find('/') != std::string::npos) return {file};
  const char* env = std::getenv("PATH");
  std::string path = env ? env : "/bin:/usr/bin";
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    out.push_back((dir.empty() ? std::string(".") : dir) + "/" + file);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

}  // namespace

void become_subreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

pid_t spawn(const std::vector<std::string>& argv, const std::vector<int>& inherit, const sigset_t& mask,
            int* exec_errno) {
  // Everything the child needs is built before the fork: after it, in a
  // process with other threads, only async-signal-safe calls are allowed.
  std::vector<std::string> paths = exec_candidates(argv.at(0));
  std::vector<const char*> cpaths;
  for (const auto& p : paths) cpaths.push_back(p.c_str());
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int report[2];  // the child writes its exec errno here; EOF means exec worked
  if (::pipe2(report, O_CLOEXEC) != 0) {
    *exec_errno = errno;
    for (int fd : inherit) ::close(fd);
    return -1;
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Die with the thread that forked us (this one, which lives as long as
    // socketlock); if socketlock is already gone, do not start at all.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
    for (int fd : inherit) ::fcntl(fd, F_SETFD, 0);
    ::sigprocmask(SIG_SETMASK, &mask, nullptr);
    int err = ENOENT;
    bool denied = false;
    for (const char* path : cpaths) {
      ::execve(path, args.data(), environ);
      err = errno;
      if (err == EACCES) {
        denied = true;
      } else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ELOOP && err != ENAMETOOLONG) {
        denied = false;  // a real error with an existing file: report it, as execvp does
        break;
      }
    }
    if (denied) err = EACCES;
    (void)!::write(report[1], &err, sizeof err);
    ::_exit(127);
  }
  int fork_errno = errno;
  ::close(report[1]);
  for (int fd : inherit) ::close(fd);
  if (pid < 0) {
    ::close(report[0]);
    *exec_errno = fork_errno;
    return -1;
  }
  int err = 0;
  ssize_t n;
  while ((n = ::read(report[0], &err, sizeof err)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (n == static_cast<ssize_t>(sizeof err)) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    *exec_errno = err;
    return -1;
  }
  return pid;
}

std::vector<pid_t> descendants() {
  std::vector<pid_t> out;
  for (const ProcInfo& p : live_tree()) out.push_back(p.pid);
  return out;
}

void signal_descendants(int sig) {
  for (pid_t p : descendants()) ::kill(p, sig);
}

void kill_descendants() {
  // A process can fork between our reading /proc and our SIGKILL reaching
  // it; its child is below it, so the next look finds it. Look and kill
  // until a look finds nobody alive. Killed processes that do not die within
  // two seconds (uninterruptible sleep) are left to die on their own: they
  // cannot return to their own code.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (true) {
    std::vector<ProcInfo> live = live_tree();
    if (live.empty()) return;
    for (const ProcInfo& p : live) ::kill(p.pid, SIGKILL);
    if (std::chrono::steady_clock::now() >= give_up) return;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
}

}  // namespace warren::socketlock_cli
