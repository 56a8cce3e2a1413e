#include "net/socket.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <system_error>

#include "net/tls.hpp"

namespace warren::net {
namespace {

// One read buffer per thread is enough: on_data runs synchronously and the
// view it gets is only valid during the call, so connections can share it.
char* read_scratch() {
  thread_local std::unique_ptr<char[]> buf(new char[Socket::kReadBudget]);
  return buf.get();
}

// Plaintext of one turn's ciphertext: at most a read's worth plus the
// rest of a record begun in an earlier read, so one view nearly always.
constexpr size_t kPlainScratch = Socket::kReadBudget + 32 * 1024;
char* plain_scratch() {
  thread_local std::unique_ptr<char[]> buf(new char[kPlainScratch]);
  return buf.get();
}

// Runs a handler callback; returns false if the callback destroyed the connection.
template <typename F>
bool guarded(bool*& destroyed, F&& call) {
  bool dead = false;
  bool* outer = destroyed;  // callbacks can nest (close() inside on_data...)
  destroyed = &dead;
  call();
  if (dead) {
    if (outer != nullptr) *outer = true;
    return false;
  }
  destroyed = outer;
  return true;
}

int close_keep_errno(int fd) {
  int e = errno;
  ::close(fd);
  errno = e;
  return -1;
}

}  // namespace

std::unique_ptr<Socket> Socket::adopt(EventLoop& loop, int fd, Handler* handler) {
  if (fd < 0) throw std::system_error(EBADF, std::generic_category(), "Socket::adopt");
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    int e = errno;
    ::close(fd);  // we own it even when we fail
    throw std::system_error(e, std::generic_category(), "Socket::adopt: O_NONBLOCK");
  }
  // We batch writes ourselves at end of turn; Nagle would only add latency.
  // (Fails harmlessly with EOPNOTSUPP on Unix sockets.)
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  try {
    return std::unique_ptr<Socket>(new Socket(loop, fd, handler));
  } catch (...) {  // epoll refused the fd
    ::close(fd);
    throw;
  }
}

Socket::Socket(EventLoop& loop, int fd, Handler* handler)
    : loop_(loop), fd_(fd), handler_(handler) {
  update_interest();
}

Socket::~Socket() {
  if (destroyed_ != nullptr) *destroyed_ = true;
  loop_.cancel_flush(this);
  if (registered_) loop_.unwatch(fd_);
  close_fd();
}

void Socket::close_fd() {
  if (fd_ < 0) return;
  if (external_reader_) ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
  fd_ = -1;
}

void Socket::set_external_reader() {
  // The reader would need the session's keys and state on its thread,
  // beside this one's writes: TLS sockets are read here.
  if (tls_) throw std::logic_error("Socket::set_external_reader on a TLS socket");
  external_reader_ = true;
  update_interest();
}

void Socket::input_ended(int error) {
  if (closed_) return;
  if (error != 0) {
    finish(error);
    return;
  }
  // Peer EOF: like close(), answers already queued still go out first.
  closing_ = true;
  peer_eof_ = true;
  if (out_.empty()) {
    finish(0);
    return;
  }
  update_interest();
  loop_.schedule_flush(this);
}

int Socket::connect_unix(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return close_keep_errno(fd);
  return fd;
}

int Socket::connect_tcp(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) {
    if (rc != EAI_SYSTEM) errno = EHOSTUNREACH;  // name did not resolve
    return -1;
  }
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    fd = close_keep_errno(fd);
  }
  int e = errno;
  freeaddrinfo(res);
  errno = e;
  return fd;
}

size_t Socket::output_bytes() const { return out_.size() + (tls_ ? tls_->plain().size() : 0); }

void Socket::start_tls(const TlsContext& ctx, std::string_view already) {
  if (external_reader_) throw std::logic_error("Socket::start_tls with an external reader");
  if (closed_ || closing_) return;
  tls_ = std::make_unique<TlsSession>(ctx, out_);
  if (!already.empty()) {
    // Ciphertext right behind a plaintext preamble. Nothing in it can
    // decrypt to data before our first flight (no early data), so there is
    // nothing to hand the handler from inside its own on_data.
    tls_->set_input(already);
    const ptrdiff_t r = tls_->read(plain_scratch(), kPlainScratch);
    tls_->set_input({});
    if (r != TlsSession::kWouldBlock) {
      tls_failed_ = true;
      closing_ = true;
      update_interest();
    }
  }
  if ((!out_.empty() || closing_) && !want_write_) loop_.schedule_flush(this);
}

void Socket::send(std::string_view bytes) {
  if (closed_ || closing_ || bytes.empty()) return;
  (tls_ ? tls_->plain() : out_).append(bytes);
  // While waiting for EPOLLOUT the socket is full; the writable event will flush.
  if (!want_write_) loop_.schedule_flush(this);
}

void Socket::send(std::shared_ptr<const std::string> bytes) {
  if (!bytes) return;
  const size_t n = bytes->size();
  send(std::move(bytes), 0, n);
}

void Socket::send(std::shared_ptr<const std::string> bytes, size_t offset, size_t length) {
  if (closed_ || closing_ || !bytes || offset >= bytes->size() || length == 0) return;
  (tls_ ? tls_->plain() : out_).append(std::move(bytes), offset, length);
  if (!want_write_) loop_.schedule_flush(this);
}

void Socket::close() {
  if (closed_ || closing_) return;
  closing_ = true;
  update_interest();
  loop_.schedule_flush(this);  // on_close is reported from flush(), never from inside close()
}

void Socket::abort() {
  if (closed_) return;
  if (registered_) loop_.unwatch(fd_);
  registered_ = false;
  close_fd();
  closed_ = true;
  out_.clear();
  close_pending_ = true;
  loop_.schedule_flush(this);
}

void Socket::pause_reading() {
  paused_ = true;
  update_interest();
}

void Socket::resume_reading() {
  paused_ = false;
  update_interest();
}

void Socket::update_interest() {
  if (closed_) return;
  uint32_t want = (!closing_ && !paused_ && !external_reader_ ? EPOLLIN : 0u) | (want_write_ ? EPOLLOUT : 0u);
  if (external_reader_ && want == 0) {
    // Not even hang-ups: the reader reports those. Watched again for EPOLLOUT.
    if (registered_) loop_.unwatch(fd_);
    registered_ = false;
    interest_ = 0;
    return;
  }
  if (!registered_) {
    loop_.watch(fd_, want, this);
    registered_ = true;
    interest_ = want;
  } else if (want != interest_) {
    loop_.modify(fd_, want, this);
    interest_ = want;
  }
}

void Socket::on_events(uint32_t events) {
  if (closed_) return;
  if (!closing_ && !paused_ && !external_reader_ && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
    if (!handle_read() || closed_) return;
  }
  if (want_write_ && (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
    flush();  // a write error surfaces from the write itself
    return;
  }
  if (!closing_ && !paused_ && !external_reader_) return;
  // Not reading, nothing to write: errors still need reporting, and a hang-up
  // would fire on every turn, so stop watching until reading resumes.
  if (events & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    finish(err != 0 ? err : EIO);
  } else if (events & EPOLLHUP) {
    loop_.unwatch(fd_);
    registered_ = false;
  }
}

bool Socket::handle_read() {
  char* buf = read_scratch();
  size_t total = 0;
  int err = 0;
  bool eof = false;
  while (total < kReadBudget) {
    size_t want = kReadBudget - total;
    ssize_t n = ::read(fd_, buf + total, want);
    if (n > 0) {
      total += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < want) break;  // short read: drained, save the EAGAIN syscall
    } else if (n == 0) {
      eof = true;
      break;
    } else if (errno != EINTR) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
  }
  if (total > 0) {
    if (tls_) {
      if (!tls_input({buf, total}, eof)) return false;
    } else if (!guarded(destroyed_, [&] {
                 if (handler_ != nullptr) handler_->on_data(*this, {buf, total});
               })) {
      return false;
    }
    if (closed_) return true;
  }
  if (err != 0) return finish(err);
  if (eof) {
    // Peer EOF: like close(), answers already queued still go out first.
    closing_ = true;
    peer_eof_ = true;
    if (output_bytes() == 0) return finish(0);
    update_interest();
    loop_.schedule_flush(this);
  }
  return true;
}

// Decrypts one read and hands the plaintext on, in one view unless it
// is larger than the scratch. The peer's close_notify is its EOF. A TLS
// failure stops reading; the flush writes OpenSSL's alert, then closes.
bool Socket::tls_input(std::string_view cipher, bool& eof) {
  char* plain = plain_scratch();
  tls_->set_input(cipher);
  ptrdiff_t r = 0;
  do {
    size_t n = 0;
    while (n < kPlainScratch && (r = tls_->read(plain + n, kPlainScratch - n)) > 0) n += size_t(r);
    if (n > 0) {
      if (!guarded(destroyed_, [&] {
            if (handler_ != nullptr) handler_->on_data(*this, {plain, n});
          }))
        return false;  // the session went with the socket; its view was of our scratch
      if (closed_ || closing_) break;  // the handler closed: the rest is not read
    }
  } while (r > 0);
  tls_->set_input({});
  if (r == TlsSession::kClosed) eof = true;
  if (r == TlsSession::kFailed && !closed_) {
    tls_failed_ = true;
    closing_ = true;
    update_interest();
  }
  // Handshake flights, alerts, tickets, or plaintext held for the handshake.
  if (!closed_ && (output_bytes() > 0 || tls_failed_) && !want_write_) loop_.schedule_flush(this);
  return true;
}

void Socket::tls_encrypt() {
  if (tls_failed_) {
    tls_->plain().clear();
    return;
  }
  if (!tls_->encrypt()) {  // a failed session: nothing more can go out
    tls_failed_ = true;
    closing_ = true;
    tls_->plain().clear();
    update_interest();
    return;
  }
  if (closing_ && tls_->plain().empty()) tls_->shutdown();  // close_notify, once
}

void Socket::flush() {
  if (close_pending_) {  // after abort()
    close_pending_ = false;
    guarded(destroyed_, [&] {
      if (handler_ != nullptr) handler_->on_close(*this, 0);
    });
    return;
  }
  if (closed_) return;
  if (tls_) tls_encrypt();  // the turn's plaintext becomes records: still one write
  if (!out_.empty()) {
    iovec iov[IOV_MAX];
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(out_.fill_iov(iov, IOV_MAX));
    // sendmsg is writev plus MSG_NOSIGNAL: a dead peer gives EPIPE, not SIGPIPE.
    ssize_t n;
    do {
      n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    ++writev_calls_;
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        finish(errno);
        return;
      }
    } else {
      out_.consume(static_cast<size_t>(n));
      bytes_written_ += static_cast<uint64_t>(n);
    }
  }
  if (out_.empty()) {
    bool was_blocked = want_write_;
    if (want_write_) {
      want_write_ = false;
      update_interest();
    }
    if (closing_) {
      finish(0);
      return;
    }
    // A handler that paused reading, or stopped producing, because output
    // piled up resumes here.
    if ((was_blocked || paused_ || drain_wanted_) && handler_ != nullptr) {
      drain_wanted_ = false;
      guarded(destroyed_, [&] { handler_->on_drain(*this); });
    }
    return;
  }
  if (!want_write_) {  // partial write: continue when writable
    want_write_ = true;
    update_interest();
  }
}

bool Socket::finish(int error) {
  if (registered_) loop_.unwatch(fd_);
  registered_ = false;
  if (error == 0 && closing_ && !peer_eof_ && fd_ >= 0) {
    // Our close, everything written, and the peer may still be sending: it
    // must read our last bytes, not an RST (net/linger.hpp). A reader
    // thread's dup of the fd is closed by its owner; the socket stays open
    // through this fd until the peer is done.
    loop_.close_lingering(fd_);
    fd_ = -1;
  } else {
    close_fd();
  }
  closed_ = true;
  out_.clear();
  if (tls_) tls_->plain().clear();
  loop_.cancel_flush(this);
  if (error == 0 && tls_failed_) error = EPROTO;  // the alert went out; tls()->error() says why
  return guarded(destroyed_, [&] {
    if (handler_ != nullptr) handler_->on_close(*this, error);
  });
}

}  // namespace warren::net
