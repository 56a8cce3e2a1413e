#include "client/output_queue.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

namespace warren::client {

namespace {
constexpr size_t kMaxSpares = 4;
constexpr size_t kMaxSpareCapacity = 4u << 20;  // a burst's buffers are not held for good
constexpr int kMaxIov = 64;
}  // namespace

bool OutputQueue::take(Session& s, TimePoint now) {
  std::string b;
  if (!spare_.empty()) {
    b = std::move(spare_.back());
    spare_.pop_back();
  }
  if (!s.take_output(b, now)) {  // `b` is empty: take_output swaps it for the session's buffer
    recycle(std::move(b));
    return false;
  }
  bytes_ += b.size();
  bufs_.push_back(std::move(b));
  return true;
}

bool OutputQueue::write(int fd) {
  while (bytes_ > 0) {
    iovec iov[kMaxIov];
    int n = 0;
    size_t asked = 0;
    for (auto it = bufs_.begin(); it != bufs_.end() && n < kMaxIov; ++it, ++n) {
      size_t skip = n == 0 ? off_ : 0;
      iov[n] = {.iov_base = it->data() + skip, .iov_len = it->size() - skip};
      asked += iov[n].iov_len;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = size_t(n);
    ssize_t w = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK;
    }
    bytes_ -= size_t(w);
    for (size_t left = size_t(w); left > 0;) {
      size_t in_first = bufs_.front().size() - off_;
      if (left < in_first) {
        off_ += left;
        break;
      }
      left -= in_first;
      off_ = 0;
      recycle(std::move(bufs_.front()));
      bufs_.pop_front();
    }
    if (size_t(w) < asked) break;  // the socket is full
  }
  return true;
}

void OutputQueue::clear() {
  while (!bufs_.empty()) {
    recycle(std::move(bufs_.front()));
    bufs_.pop_front();
  }
  off_ = bytes_ = 0;
}

void OutputQueue::recycle(std::string&& s) {
  if (spare_.size() >= kMaxSpares || s.capacity() > kMaxSpareCapacity) return;
  s.clear();
  spare_.push_back(std::move(s));
}

}  // namespace warren::client
