#include "socketlock/server.hpp"

#include <fmt/format.h>

namespace warren::socketlock {

using locks::Event;
using locks::Failure;
using locks::Mode;
using locks::Token;

namespace {
constexpr std::string_view kNoId = "-";  // stands for the client id before we know it
}

Server::Server(ServerOptions opts, Token first_token, SessionIo& io, ServerLog log)
    : opts_(opts), io_(io), log_(std::move(log)), lock_(opts.lock, first_token) {}

void Server::open(SessionId s, TimePoint now) {
  Session& ss = sessions_.try_emplace(s, opts_.max_line).first->second;
  ss.opened = now;
}

void Server::feed(SessionId s, std::string_view bytes, TimePoint now) {
  auto it = sessions_.find(s);
  if (it == sessions_.end()) return;
  Session& ss = it->second;
  ss.reader.append(bytes);
  while (auto line = ss.reader.next()) {
    handle_line(s, ss, *line, now);
    if (!sessions_.contains(s)) break;  // EOL or a fatal error dropped it
  }
  if (sessions_.contains(s) && ss.reader.overflow()) {
    fail(s, ss, fmt::format("line too long (max {} bytes)", opts_.max_line));
    drop(s, now);
  }
  dispatch_events();
}

void Server::closed(SessionId s, TimePoint now) {
  if (!sessions_.contains(s)) return;
  auto it = sessions_.find(s);
  if (!it->second.client_id.empty()) log(fmt::format("client {} disconnected", it->second.client_id));
  sessions_.erase(it);
  lock_.disconnect(s, now);
  dispatch_events();
}

void Server::drop(SessionId s, TimePoint now) {
  sessions_.erase(s);
  lock_.disconnect(s, now);
  io_.close(s);
}

void Server::advance(TimePoint now) {
  lock_.advance(now);
  std::vector<SessionId> silent;
  for (const auto& [s, ss] : sessions_)
    if (ss.client_id.empty() && now - ss.opened >= opts_.hello_timeout) silent.push_back(s);
  for (SessionId s : silent) {
    fail(s, sessions_.at(s), "hello timeout");
    drop(s, now);
  }
  dispatch_events();
}

std::optional<TimePoint> Server::next_deadline() const {
  std::optional<TimePoint> d = lock_.next_deadline();
  for (const auto& [s, ss] : sessions_)
    if (ss.client_id.empty()) {
      TimePoint t = ss.opened + opts_.hello_timeout;
      if (!d || t < *d) d = t;
    }
  return d;
}

void Server::handle_line(SessionId s, Session& ss, std::string_view line, TimePoint now) {
  Words w = split_words(line);
  if (w.empty()) return;
  if (w.size() == 1 && w[0] == kHello) {  // Go dialect: the server names the client
    if (ss.client_id.empty()) {
      ss.client_id = fmt::format("c{:x}-{}", lock_.next_token() >> 32, s);
      ss.dialect = Dialect::Go;
      log(fmt::format("client {} connected (go dialect)", ss.client_id));
    }
    io_.send(s, fmt::format("{} {}\n", kConnected, ss.client_id));
    return;
  }
  if (w.size() < 2) {
    line_ = fmt::format("{} {} malformed command\n", kNoId, kReqFail);
    io_.send(s, line_);
    return;
  }
  std::string_view id = w[0], cmd = w[1];
  auto reply_to = [&](std::string_view word, std::string_view arg) { send_line(s, id, word, arg); };
  if (cmd == kHello && w.size() == 2) {
    if (ss.client_id.empty()) {
      if (id.size() > kMaxClientId) return reply_to(kReqFail, "client id too long");
      ss.client_id = std::string(id);
      ss.dialect = Dialect::Seed;
      log(fmt::format("client {} connected", ss.client_id));
    } else if (id != ss.client_id) {
      return reply_to(kReqFail, "client id mismatch");
    }
    return reply_to(kConnected, {});
  }
  if (ss.client_id.empty()) return reply_to(kReqFail, "hello required");
  if (id != ss.client_id) return reply_to(kReqFail, "client id mismatch");

  std::span<const std::string_view> args(w.begin() + 2, w.end());
  if (cmd == kReqRead || cmd == kReqWrite)
    return handle_request(s, ss, cmd == kReqRead ? Mode::Shared : Mode::Exclusive, args, now);
  if (cmd == kPing) return reply(s, ss, kPong);
  if (cmd == kEol) {
    log(fmt::format("client {} said EOL", ss.client_id));
    return drop(s, now);
  }
  if (cmd == kCancel) {
    lock_.cancel(s, now);
    ss.pending_name.clear();
    return reply(s, ss, kCancelled);
  }
  if (cmd == kShow) return handle_show(s, ss, now);
  if (cmd == kConfirm || cmd == kReject || cmd == kRelease || cmd == kStatus) {
    if (args.size() != 1) return fail(s, ss, "invalid lock id");
    return handle_with_id(s, ss, cmd, args[0], now);
  }
  fail(s, ss, "unknown command");
}

void Server::handle_request(SessionId s, Session& ss, Mode mode, std::span<const std::string_view> args,
                            TimePoint now) {
  // Seed dialect ("<id> HELLO"): REQREAD [ttl]; whatever follows the verb
  // must be the TTL. Go dialect (bare HELLO): REQREAD <name> [ttl]; only Go
  // clients choose their lock names.
  std::string_view name, ttl_text;
  if (ss.dialect == Dialect::Go) {
    if (args.size() > 2) return fail(s, ss, to_string(Failure::InvalidTtl));
    if (!args.empty()) name = args[0];
    if (args.size() == 2) ttl_text = args[1];
  } else {
    if (args.size() > 1) return fail(s, ss, to_string(Failure::InvalidTtl));
    if (args.size() == 1) ttl_text = args[0];
  }
  if (name.size() > kMaxLockName || (!name.empty() && ss.names.contains(name)))
    return fail(s, ss, "invalid lock id");
  std::optional<Duration> ttl;
  if (!ttl_text.empty()) {
    // A whole positive number of seconds, digits only: "-5", "1.5", "5s" and
    // numbers past 64 bits are invalid; a number too large for a lease is
    // too long.
    std::optional<uint64_t> secs = parse_u64(ttl_text);
    if (!secs || *secs == 0) return fail(s, ss, to_string(Failure::InvalidTtl));
    if (*secs > 100ull * 365 * 24 * 3600) return fail(s, ss, to_string(Failure::TimeoutTooLong));
    ttl = std::chrono::seconds(*secs);
  }
  Failure f = lock_.request(s, mode, ttl, now);
  if (f != Failure::None) return fail(s, ss, to_string(f));
  ss.pending_name = std::string(name);
}

void Server::handle_with_id(SessionId s, Session& ss, std::string_view cmd, std::string_view id, TimePoint now) {
  bool named = ss.names.contains(id);
  // REJECT of a Go request that was never offered: withdraw it.
  if (cmd == kReject && !named && !ss.pending_name.empty() && ss.pending_name == id) {
    lock_.cancel(s, now);
    ss.pending_name.clear();
    return fail(s, ss, to_string(Failure::OfferRejected));
  }
  Token token = resolve(ss, id);
  if (token == 0) {
    // Go clients poll STATUS for names we have forgotten: that lock is over.
    if (cmd == kStatus && ss.dialect == Dialect::Go) return reply(s, ss, kLockTimeout, id);
    return fail(s, ss, to_string(Failure::InvalidLockId));
  }
  if (cmd == kConfirm) {
    Failure f = lock_.confirm(s, token, now);
    if (f != Failure::None) return fail(s, ss, to_string(f));
    if (!named) reply(s, ss, kLockOk, id);  // Go servers are silent here; seed clients learn the lock is active
    return;
  }
  if (cmd == kReject) {
    Failure f = lock_.reject(s, token, now);
    if (f == Failure::None) forget_name(ss, token);
    return fail(s, ss, to_string(f == Failure::None ? Failure::OfferRejected : f));
  }
  if (cmd == kRelease) {
    Failure f = lock_.release(s, token, now);
    if (f == Failure::None) {
      forget_name(ss, token);
      if (!named) reply(s, ss, kReleased, id);
      return;
    }
    // Releasing a lock that already ended (TTL) is not an error: say it is over.
    if (lock_.status(s, token, now) == locks::Status::Ended) {
      forget_name(ss, token);
      return reply(s, ss, kLockTimeout, id);
    }
    return fail(s, ss, to_string(f));
  }
  // STATUS
  switch (lock_.status(s, token, now)) {
    case locks::Status::Active: return reply(s, ss, kLockOk, id);
    case locks::Status::Ended:
      reply(s, ss, kLockTimeout, id);
      return forget_name(ss, token);  // the client now knows; its name may be reused
    case locks::Status::Unknown: return fail(s, ss, to_string(Failure::InvalidLockId));
  }
}

void Server::handle_show(SessionId s, Session& ss, TimePoint now) {
  auto who = [&](locks::OwnerId o) -> std::string_view {
    auto it = sessions_.find(o);
    return it == sessions_.end() ? kNoId : std::string_view(it->second.client_id);
  };
  auto ms = [&](TimePoint t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t - now).count(); };
  locks::Snapshot snap = lock_.snapshot();
  for (const auto& h : snap.holders)
    reply(s, ss, kHolder,
          fmt::format("{} {} {} {} {}", h.token, to_string(h.mode), who(h.owner), -ms(h.since),
                      h.expires ? fmt::format("{}", ms(*h.expires)) : "-"));
  if (snap.offer)
    reply(s, ss, kOffer,
          fmt::format("{} {} {} {}", snap.offer->token, to_string(snap.offer->mode), who(snap.offer->owner),
                      ms(snap.offer->deadline)));
  for (const auto& wt : snap.waiters)
    reply(s, ss, kWaiter, fmt::format("{} {} {} {}", to_string(wt.mode), who(wt.owner), -ms(wt.since), ms(wt.deadline)));
  reply(s, ss, kShowEnd, fmt::format("{} {}", snap.next_token, to_string(lock_.options().policy)));
}

Token Server::resolve(const Session& ss, std::string_view id) const {
  if (auto it = ss.names.find(id); it != ss.names.end()) return it->second;
  if (ss.dialect == Dialect::Go) return 0;
  return parse_u64(id).value_or(0);
}

std::string Server::display(const Session& ss, Token token) const {
  auto it = ss.token_names.find(token);
  return it != ss.token_names.end() ? it->second : std::to_string(token);
}

void Server::forget_name(Session& ss, Token token) {
  auto it = ss.token_names.find(token);
  if (it == ss.token_names.end()) return;
  ss.names.erase(it->second);
  ss.token_names.erase(it);
}

void Server::reply(SessionId s, const Session& ss, std::string_view word, std::string_view arg) {
  send_line(s, ss.client_id.empty() ? kNoId : std::string_view(ss.client_id), word, arg);
}

// "<id> <word>[ <arg>]\n", built in a reused buffer: the hot path allocates nothing.
void Server::send_line(SessionId s, std::string_view id, std::string_view word, std::string_view arg) {
  line_.clear();
  line_.append(id).append(" ").append(word);
  if (!arg.empty()) line_.append(" ").append(arg);
  line_.push_back('\n');
  io_.send(s, line_);
}

void Server::fail(SessionId s, const Session& ss, std::string_view reason) { reply(s, ss, kReqFail, reason); }

// Tells each owner what the lock decided: offers, failures. TTL expiry is
// not announced (the seed: clients learn it through STATUS).
void Server::dispatch_events() {
  while (lock_.has_events()) {
    lock_.take_events(events_);
    for (const Event& e : events_) {
      auto it = sessions_.find(e.owner);
      if (it == sessions_.end()) continue;
      Session& ss = it->second;
      switch (e.kind) {
        case Event::Kind::Offered: {
          if (!ss.pending_name.empty()) {
            ss.names[ss.pending_name] = e.token;
            ss.token_names[e.token] = ss.pending_name;
            ss.pending_name.clear();
          }
          reply(e.owner, ss, e.mode == Mode::Shared ? kReadLock : kWriteLock, display(ss, e.token));
          break;
        }
        case Event::Kind::Failed:
          if (e.token == 0) ss.pending_name.clear();
          fail(e.owner, ss, to_string(e.reason));
          break;
        case Event::Kind::Expired:
          log(fmt::format("lock {} of {} expired (ttl)", e.token, ss.client_id));
          break;
      }
    }
  }
}

}  // namespace warren::socketlock
