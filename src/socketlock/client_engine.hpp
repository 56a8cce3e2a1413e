#pragma once
// The client side of socketlock as a sans-I/O state machine: one connection,
// one lock at a time. It speaks the seed dialect and falls back to the Go
// dialect when the server stays silent to "<id> HELLO". It confirms offers,
// polls STATUS while a lock is held, sends PING when idle, and tracks a
// lock's TTL locally so that a holder learns of expiry even when it was
// stopped and the server never said a word.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "locks/rw_lock.hpp"
#include "socketlock/protocol.hpp"

namespace warren::socketlock {


struct ClientOptions {
  std::string client_id;
  Duration hello_timeout = std::chrono::seconds(2);  // silence before trying the Go dialect
  Duration status_interval = std::chrono::seconds(10);
  Duration heartbeat = std::chrono::seconds(30);
};

struct ClientEvent {
  enum class Kind : uint8_t {
    Ready,          // the server answered HELLO
    Acquired,       // the lock is active: `lock_id`, `token` (0 in the Go dialect), `mode`
    AcquireFailed,  // `text` is the server's REQFAIL reason
    Cancelled,      // the acquire in flight was withdrawn
    Lost,           // the held lock ended without release: `text` says why
    Show,           // one line of a SHOW answer, `text` without the client id
    ShowEnd,
    Broken,         // protocol failure: `text`; the driver should close the connection
  };
  Kind kind = Kind::Ready;
  std::string lock_id;
  locks::Token token = 0;
  locks::Mode mode = locks::Mode::Shared;
  std::optional<TimePoint> expires;  // Acquired with a TTL: when it ends, on our clock
  std::string text;
};

class ClientEngine {
 public:
  explicit ClientEngine(ClientOptions opts);

  void start(TimePoint now);  // sends HELLO
  void feed(std::string_view bytes, TimePoint now);
  void advance(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

  // Bytes to write; the caller sends them and clears the string.
  std::string& output() { return out_; }
  void take_events(std::vector<ClientEvent>& out);

  // False when not ready, or an acquire is in flight, or a lock is held.
  bool acquire(locks::Mode mode, std::optional<std::chrono::seconds> ttl, TimePoint now);
  // Withdraws the acquire in flight (CANCEL). False in the Go dialect, which
  // has no way to: the caller must drop the connection instead.
  bool cancel(TimePoint now);
  // Releases the held lock, if any.
  void release(TimePoint now);
  bool show(TimePoint now);
  void eol(TimePoint now);

  bool ready() const { return phase_ == Phase::Ready; }
  bool go_dialect() const { return go_; }
  bool busy() const { return acq_ != Acq::None; }
  bool holding() const { return held_.has_value(); }
  std::string_view held_id() const { return held_ ? std::string_view(held_->id) : std::string_view{}; }
  const std::string& client_id() const { return id_; }

 private:
  enum class Phase : uint8_t { Idle, Hello, Ready, Broken };
  enum class Acq : uint8_t { None, Requested, Confirming, Cancelling };
  struct Held {
    std::string id;
    locks::Token token;
    locks::Mode mode;
    std::optional<TimePoint> expires;  // local, conservative: counted from sending CONFIRM
    TimePoint next_status;
  };

  void handle_line(std::string_view line, TimePoint now);
  void send(TimePoint now, std::string_view verb, std::string_view arg = {});
  void become_held(std::string id, TimePoint now);
  void lose(std::string_view why, TimePoint now);
  void emit(ClientEvent::Kind k, std::string text = {});
  void broken(std::string_view why);

  ClientOptions opts_;
  std::string id_;
  Phase phase_ = Phase::Idle;
  bool go_ = false;
  TimePoint hello_sent_{};
  TimePoint last_sent_{};
  TimePoint last_received_{};
  std::optional<TimePoint> ping_sent_;

  Acq acq_ = Acq::None;
  locks::Mode acq_mode_ = locks::Mode::Shared;
  std::optional<std::chrono::seconds> acq_ttl_;
  std::string acq_name_;    // Go dialect: our name for the lock
  std::string acq_offer_;   // seed dialect: the offered token, while confirming
  TimePoint confirm_sent_{};
  uint64_t name_seq_ = 0;

  std::optional<Held> held_;
  LineReader reader_;
  std::string out_;
  std::vector<ClientEvent> events_;
};

}  // namespace warren::socketlock
