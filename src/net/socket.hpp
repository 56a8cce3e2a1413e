// A non-blocking stream socket (Unix or TCP) driven by an EventLoop.
//
// Reads are delivered once per turn as one contiguous view; sends are queued
// and written with a single gather write at the end of the turn.
//
// Lifetime: a Handler may destroy the Socket from inside on_data or
// on_close; the Socket never touches itself after such a callback. A
// Socket destroyed without close()/abort() closes its fd silently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/event_loop.hpp"
#include "net/output_buffer.hpp"

namespace warren::net {

class TlsContext;
class TlsSession;

class Socket : public Pollable, public Flushable {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // Everything read this turn (up to kReadBudget). Valid only during the call.
    virtual void on_data(Socket& c, std::string_view bytes) = 0;
    // Exactly once. error 0 = orderly EOF or local close(); errno otherwise.
    virtual void on_close(Socket& c, int error) = 0;
    // The output buffer emptied after a blocked write, while reading was
    // paused, or after want_drain(): the place to resume what backpressure
    // stopped.
    virtual void on_drain(Socket& c) {}
  };

  static constexpr size_t kReadBudget = 256 * 1024;  // per connection per turn, for fairness

  // Takes ownership of a connected fd, makes it non-blocking and starts reading.
  static std::unique_ptr<Socket> adopt(EventLoop& loop, int fd, Handler* handler);
  // Blocking connects; return a CLOEXEC fd, or -1 with errno set.
  static int connect_unix(const std::string& path);
  static int connect_tcp(const std::string& host, uint16_t port);

  ~Socket() override;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  void send(std::string_view bytes);                    // copied
  void send(std::shared_ptr<const std::string> bytes);  // referenced until written
  // Bytes [offset, offset + length) of `bytes`, referenced until written.
  void send(std::shared_ptr<const std::string> bytes, size_t offset, size_t length);
  size_t output_bytes() const;

  // From now on the bytes on the wire are TLS (net/tls.hpp): the handler
  // reads and sends plaintext. `already` is ciphertext that came with the
  // last read (after a plaintext preamble such as AMQP 1.0's TLS header);
  // output queued before this call goes out as it was. A client context
  // starts the handshake. A TLS failure ends the socket as close() does,
  // its alert written, and reports on_close(EPROTO) with tls()->error().
  // Not with an external reader (set_external_reader).
  void start_tls(const TlsContext& ctx, std::string_view already = {});
  const TlsSession* tls() const { return tls_.get(); }

  // Stop reading, write queued output, then close; on_close(0) from the
  // loop. Unless the peer has already ended its input, the fd lingers past
  // on_close (net/linger.hpp): the peer reads everything, then EOF.
  void close();
  void abort();  // close the fd now, dropping output; on_close(0) at end of turn
  // Asks for one on_drain() when the output buffer next becomes empty.
  void want_drain() { drain_wanted_ = true; }
  void pause_reading();
  void resume_reading();

  // Another thread reads this socket, through a dup of the fd it owns:
  // this Socket only writes. Closing then shuts the socket down first,
  // so that the reader's copy sees the end too. Never for a TLS socket.
  void set_external_reader();
  // That reader saw the peer's EOF (error 0) or a read error: handled as
  // this Socket's own read would (queued output still goes out on EOF).
  void input_ended(int error);

  bool closed() const { return closed_; }
  int fd() const { return fd_; }  // -1 once the fd is closed
  void set_user(void* p) { user_ = p; }
  void* user() const { return user_; }
  void set_handler(Handler* h) { handler_ = h; }

  // Stats: gather-write syscalls issued and bytes they wrote.
  uint64_t writev_calls() const { return writev_calls_; }
  uint64_t bytes_written() const { return bytes_written_; }

  void on_events(uint32_t events) override;
  void flush() override;

 private:
  Socket(EventLoop& loop, int fd, Handler* handler);

  void update_interest();
  // Returns false if the handler destroyed *this: the caller must return at once.
  bool handle_read();
  // The ciphertext of one read, decrypted and handed on; same convention.
  bool tls_input(std::string_view cipher, bool& eof);
  // The plaintext of the turn into records (and close_notify when closing).
  void tls_encrypt();
  // Closes the fd and reports on_close(error); same return convention.
  bool finish(int error);
  void close_fd();

  EventLoop& loop_;
  int fd_;
  Handler* handler_;
  void* user_ = nullptr;
  OutputBuffer out_;               // what goes on the wire (ciphertext under TLS)
  std::unique_ptr<TlsSession> tls_;  // null: a plain socket
  uint32_t interest_ = 0;  // events currently registered with epoll
  bool registered_ = false;
  bool paused_ = false;
  bool external_reader_ = false;
  bool drain_wanted_ = false;
  bool want_write_ = false;  // partial write pending: EPOLLOUT registered
  bool closing_ = false;     // close() called or peer EOF: no more reads, drain output
  bool peer_eof_ = false;    // the peer ended its input: nothing to linger for
  bool closed_ = false;      // fd closed; on_close pending or delivered
  bool close_pending_ = false;  // abort(): on_close still to be delivered
  bool tls_failed_ = false;     // reported as on_close(EPROTO)
  bool* destroyed_ = nullptr;   // set by the destructor while a callback runs
  uint64_t writev_calls_ = 0;
  uint64_t bytes_written_ = 0;
};

}  // namespace warren::net
