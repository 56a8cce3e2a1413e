#pragma once
// The I/O driver of a socketlock server: claims the socket path, listens,
// and pumps bytes and time between connections and the sans-I/O Server.
// Runs on one EventLoop; create, use and destroy it on that loop's thread.
#include <memory>
#include <string>
#include <unordered_map>

#include "net/socket.hpp"
#include "net/deadline_timer.hpp"
#include "net/listener.hpp"
#include "socketlock/election.hpp"
#include "socketlock/server.hpp"

namespace warren::socketlock {

class Primary final : public net::Socket::Handler, public SessionIo {
 public:
  // A client that does not read its replies stops being read once this much
  // output waits for it, so it cannot make the primary grow without bound.
  static constexpr size_t kMaxPendingOutput = 256 * 1024;

  // nullptr when another process is primary for `path`. Throws on I/O errors.
  static std::unique_ptr<Primary> start(net::EventLoop& loop, const std::string& path, ServerOptions opts,
                                        ServerLog log = {});
  ~Primary() override;

  uint64_t epoch() const { return claim_->epoch(); }
  const std::string& path() const { return claim_->socket_path(); }
  int claim_fd() const { return claim_->fd(); }  // see PrimaryClaim::fd()
  const Server& server() const { return server_; }

 private:
  Primary(net::EventLoop& loop, std::unique_ptr<PrimaryClaim> claim, ServerOptions opts, ServerLog log);
  void accept(int fd);
  void rearm();

  // net::Socket::Handler
  void on_data(net::Socket& c, std::string_view bytes) override;
  void on_close(net::Socket& c, int error) override;
  void on_drain(net::Socket& c) override;
  // SessionIo
  void send(SessionId s, std::string_view bytes) override;
  void close(SessionId s) override;

  static SessionId id_of(const net::Socket& c) { return reinterpret_cast<uintptr_t>(c.user()); }

  net::EventLoop& loop_;
  std::unique_ptr<PrimaryClaim> claim_;
  Server server_;
  std::unique_ptr<net::Listener> listener_;
  std::unordered_map<SessionId, std::unique_ptr<net::Socket>> conns_;
  SessionId next_session_ = 1;
  net::DeadlineTimer timer_;  // at server_.next_deadline()
};

}  // namespace warren::socketlock
