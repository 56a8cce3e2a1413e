#pragma once
// The socketlock server as a sans-I/O state machine: sessions feed it bytes
// and the time; it answers through a SessionIo and drives one RwLock.
// It speaks both dialects (docs/socketlock.md):
//   seed:  "<id> HELLO" -> "<id> CONNECTED"; "<id> REQREAD [ttl]" -> "<id> READLOCK <token>"
//   Go:    "HELLO" -> "CONNECTED <assigned-id>"; "<id> REQREAD <name> [ttl]" -> "<id> READLOCK <name>"
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "locks/rw_lock.hpp"
#include "socketlock/protocol.hpp"

namespace warren::socketlock {

using SessionId = uint64_t;

// Where the server's bytes for each session go. The I/O layer implements it over sockets,
// tests over strings.
class SessionIo {
 public:
  virtual ~SessionIo() = default;
  virtual void send(SessionId s, std::string_view bytes) = 0;
  // Flush what was sent, then close. The server forgets the session first.
  virtual void close(SessionId s) = 0;
};

struct ServerOptions {
  locks::Options lock;
  Duration hello_timeout = std::chrono::seconds(10);  // a silent connection is closed
  size_t max_line = kMaxLine;
};

// One line per notable event, for the log. Optional.
using ServerLog = std::function<void(std::string_view)>;

class Server {
 public:
  Server(ServerOptions opts, locks::Token first_token, SessionIo& io, ServerLog log = {});

  void open(SessionId s, TimePoint now);
  void feed(SessionId s, std::string_view bytes, TimePoint now);
  // The peer is gone (EOF, reset, or after the server asked to close).
  void closed(SessionId s, TimePoint now);
  void advance(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

  const locks::RwLock& lock() const { return lock_; }
  size_t sessions() const { return sessions_.size(); }

 private:
  enum class Dialect : uint8_t { Unknown, Seed, Go };
  struct Session {
    explicit Session(size_t max_line) : reader(max_line) {}
    LineReader reader;
    std::string client_id;  // empty until HELLO
    Dialect dialect = Dialect::Unknown;
    TimePoint opened;
    // Go dialect: the client's names for its locks.
    std::string pending_name;                      // name of the queued request
    std::unordered_map<std::string, locks::Token, StringHash, std::equal_to<>> names;
    std::unordered_map<locks::Token, std::string> token_names;
  };

  void handle_line(SessionId s, Session& ss, std::string_view line, TimePoint now);
  void handle_request(SessionId s, Session& ss, locks::Mode mode, std::span<const std::string_view> args, TimePoint now);
  void handle_with_id(SessionId s, Session& ss, std::string_view cmd, std::string_view id, TimePoint now);
  void handle_show(SessionId s, Session& ss, TimePoint now);
  // Resolves a lock id as the client wrote it; 0 when it names nothing.
  locks::Token resolve(const Session& ss, std::string_view id) const;
  // The id to show this session for `token`: its own name, or the token.
  std::string display(const Session& ss, locks::Token token) const;
  void forget_name(Session& ss, locks::Token token);
  void reply(SessionId s, const Session& ss, std::string_view word, std::string_view arg = {});
  void fail(SessionId s, const Session& ss, std::string_view reason);
  void send_line(SessionId s, std::string_view id, std::string_view word, std::string_view arg);
  void drop(SessionId s, TimePoint now);
  void dispatch_events();
  void log(std::string_view line) { if (log_) log_(line); }

  ServerOptions opts_;
  SessionIo& io_;
  ServerLog log_;
  locks::RwLock lock_;
  std::unordered_map<SessionId, Session> sessions_;
  std::vector<locks::Event> events_;
  std::string line_;  // scratch for building replies
};

}  // namespace warren::socketlock
