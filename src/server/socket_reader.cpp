#include "server/socket_reader.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace warren::server {

// One socket, read on the reader's thread.
class SocketReader::Source final : public net::Pollable {
 public:
  Source(SocketReader& r, const Command& add)
      : r_(r), conn_(add.conn), fd_(add.fd), cutter_(std::move(*add.cutter)), paused_(add.paused) {
    update();
  }
  ~Source() override { close_fd(); }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  void on_events(uint32_t events) override {
    if (events_ & EPOLLIN) return read();
    // Not reading (paused, or batches in flight): errors still end the
    // connection at once, as a paused socket's do on the main loop; a
    // hang-up waits for reading to resume, as it does there.
    if (events & EPOLLERR) {
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
      return end(err);
    }
    if (events & EPOLLHUP) {
      hung_up_ = true;
      update();
    }
  }
  void returned() {
    --in_flight_;
    update();
  }
  void set_paused(bool paused) {
    paused_ = paused;
    update();
  }

 private:
  void update() {
    if (fd_ < 0) return;
    const bool reading = !paused_ && in_flight_ < kMaxInFlight;
    if (reading) hung_up_ = false;
    const uint32_t events = reading ? EPOLLIN : 0u;
    if (!reading && hung_up_) {  // level-triggered: a hang-up would fire every turn
      if (watched_) r_.loop_.unwatch(fd_);
      watched_ = false;
      return;
    }
    try {
      if (!watched_)
        r_.loop_.watch(fd_, events, this);
      else if (events != events_)
        r_.loop_.modify(fd_, events, this);
      watched_ = true;
      events_ = events;
    } catch (const std::system_error& e) {  // epoll refused it (ENOMEM, max_user_watches)
      end(e.code().value());
    }
  }

  // The socket is done for us: the broker hears it as a read error.
  void end(int error) {
    ReadBatch b = r_.take_buffer(conn_, false);
    b.end = true;
    b.error = error != 0 ? error : EIO;
    close_fd();
    ++in_flight_;
    r_.to_core_.push(std::move(b));
  }
  void close_fd() {
    if (watched_) r_.loop_.unwatch(fd_);
    watched_ = false;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Up to kReadBudget octets: into the batch's buffer, or, for the payload
  // of a large body's frame, straight into the body's string where the
  // cutter places it (FrameCutter::plan_read), with the end octet and the
  // next frame's head behind it in the same readv.
  void read() {
    ReadBatch b = r_.take_buffer(conn_, true);
    size_t size = 0;   // in the buffer
    size_t total = 0;  // read, the bodies' octets too
    const size_t limit = kReadBudget;
    bool end = false;
    int error = 0;
    while (size < limit && total < kBodyBudget) {
      const amqp091::FrameCutter::ReadPlan plan = cutter_.plan_read();
      const size_t room = std::min(limit - size, plan.then);
      iovec iov[2];
      int parts = 0;
      if (!plan.direct.empty()) iov[parts++] = {plan.direct.data(), plan.direct.size()};
      iov[parts++] = {b.buffer.get() + size, room};
      const size_t want = plan.direct.size() + room;
      ssize_t n = parts == 1 ? ::read(fd_, iov[0].iov_base, room) : ::readv(fd_, iov, parts);
      if (n > 0) {
        const size_t direct = std::min(size_t(n), plan.direct.size());
        cutter_.cut_more({b.buffer.get() + size, size_t(n) - direct}, b.cut, direct);
        size += size_t(n) - direct;
        total += size_t(n);
        if (size_t(n) < want) break;  // drained: save the EAGAIN call
      } else if (n == 0) {
        end = true;
        break;
      } else if (errno != EINTR) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          error = errno;
          end = true;
        }
        break;
      }
    }
    if (end) {
      b.end = true;
      b.error = error;
      close_fd();
    }
    if (b.cut.empty() && !b.end) {  // nothing whole yet
      if (r_.spare_.size() < kMaxSpare) r_.spare_.push_back(std::move(b));
      return;
    }
    ++in_flight_;
    r_.to_core_.push(std::move(b));
    update();
  }

  SocketReader& r_;
  const uint64_t conn_;
  int fd_;
  amqp091::FrameCutter cutter_;  // keeps an incomplete frame for the next read
  unsigned in_flight_ = 0;
  bool paused_ = false;
  bool watched_ = false;
  bool hung_up_ = false;  // EPOLLHUP while not reading
  uint32_t events_ = 0;   // registered with the loop
};

SocketReader::SocketReader(net::EventLoop& core, Deliver deliver)
    : core_(core),
      to_core_(core, std::move(deliver)),
      commands_(loop_, [this](std::vector<Command>& c) { run_commands(c); }),
      returned_(loop_, [this](std::vector<ReadBatch>& b) { take_back(b); }) {
  thread_ = std::thread([this] { loop_.run(); });
}

SocketReader::~SocketReader() {
  loop_.stop();
  thread_.join();
  sources_.clear();  // the thread is gone: safe here
  for (const Command& c : commands_.take_left())  // never run: their fds are still ours
    if (c.kind == Command::Add) ::close(c.fd);
}

// A spare buffer, else a new one when it is for reading (an EOF or error
// batch needs none).
ReadBatch SocketReader::take_buffer(uint64_t conn, bool for_reading) {
  ReadBatch b;
  if (!spare_.empty()) {
    b = std::move(spare_.back());
    spare_.pop_back();
  } else if (for_reading) {
    b.buffer.reset(new uint8_t[kReadBudget]);  // uninitialized: read() fills it
  }
  b.conn = conn;
  b.end = false;
  b.error = 0;
  b.cut.clear();
  return b;
}

void SocketReader::add(uint64_t conn, int fd, amqp091::FrameCutter cutter, bool paused) {
  commands_.push({Command::Add, conn, fd, std::move(cutter), paused});
}
void SocketReader::remove(uint64_t conn) { commands_.push({Command::Remove, conn}); }
void SocketReader::set_paused(uint64_t conn, bool paused) {
  commands_.push({paused ? Command::Pause : Command::Resume, conn});
}

void SocketReader::done(ReadBatch batch) { returned_.push(std::move(batch)); }

void SocketReader::run_commands(std::vector<Command>& commands) {
  for (const Command& c : commands) {
    switch (c.kind) {
      case Command::Add: sources_.emplace(c.conn, std::make_unique<Source>(*this, c)); break;
      case Command::Remove: sources_.erase(c.conn); break;
      case Command::Pause:
      case Command::Resume:
        if (auto it = sources_.find(c.conn); it != sources_.end()) it->second->set_paused(c.kind == Command::Pause);
        break;
    }
  }
}

// A batch comes back only for a connection whose Add ran before it was read.
void SocketReader::take_back(std::vector<ReadBatch>& returned) {
  for (ReadBatch& b : returned) {
    b.cut.clear();  // here, not on the broker's thread: it lets go of the bodies it kept
    if (auto it = sources_.find(b.conn); it != sources_.end()) it->second->returned();
    if (spare_.size() < kMaxSpare && b.buffer) spare_.push_back(std::move(b));
  }
}

}  // namespace warren::server
