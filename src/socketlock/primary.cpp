#include "socketlock/primary.hpp"

namespace warren::socketlock {

std::unique_ptr<Primary> Primary::start(net::EventLoop& loop, const std::string& path, ServerOptions opts,
                                        ServerLog log) {
  auto claim = PrimaryClaim::try_acquire(path);
  if (!claim) return nullptr;
  std::unique_ptr<Primary> p(new Primary(loop, std::move(claim), opts, std::move(log)));
  p->listener_ = net::Listener::unix_socket(loop, path, [raw = p.get()](int fd) { raw->accept(fd); });
  return p;
}

Primary::Primary(net::EventLoop& loop, std::unique_ptr<PrimaryClaim> claim, ServerOptions opts, ServerLog log)
    : loop_(loop),
      claim_(std::move(claim)),
      server_(opts, claim_->first_token(), *this, std::move(log)),
      timer_(loop, [this] {
        server_.advance(loop_.now());
        rearm();
      }) {}

Primary::~Primary() {
  timer_.cancel();
  listener_.reset();
  conns_.clear();  // closes fds silently; clients see EOF and fail over
}

void Primary::accept(int fd) {
  SessionId s = next_session_++;
  auto c = net::Socket::adopt(loop_, fd, this);
  c->set_user(reinterpret_cast<void*>(static_cast<uintptr_t>(s)));
  conns_.emplace(s, std::move(c));
  server_.open(s, loop_.now());
  rearm();
}

void Primary::on_data(net::Socket& c, std::string_view bytes) {
  server_.feed(id_of(c), bytes, loop_.now());
  if (c.output_bytes() > kMaxPendingOutput) c.pause_reading();
  rearm();
}

void Primary::on_drain(net::Socket& c) { c.resume_reading(); }

void Primary::on_close(net::Socket& c, int error) {
  SessionId s = id_of(c);
  server_.closed(s, loop_.now());
  conns_.erase(s);  // destroys `c`: allowed from inside on_close
  rearm();
}

void Primary::send(SessionId s, std::string_view bytes) {
  if (auto it = conns_.find(s); it != conns_.end()) it->second->send(bytes);
}

void Primary::close(SessionId s) {
  if (auto it = conns_.find(s); it != conns_.end()) it->second->close();
}

// One loop timer at the engine's next deadline.
void Primary::rearm() { timer_.arm(server_.next_deadline()); }

}  // namespace warren::socketlock
