#pragma once
// Session's private parts, shared by session.cpp, session_channel.cpp and
// session_recovery.cpp.
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "amqp091/frame.hpp"
#include "client/session.hpp"

namespace warren::client {

inline constexpr uint32_t method_key(uint16_t class_id, uint16_t method_id) {
  return uint32_t(class_id) << 16 | method_id;
}
template <class M>
constexpr uint32_t key_of() {
  return method_key(M::kClassId, M::kMethodId);
}

// A synchronous method in flight (or waiting its turn), or frames that must
// go out behind one (reply 0).
struct Session::Rpc {
  std::string frame;
  uint32_t reply = 0, alt_reply = 0;
  std::function<void(const amqp091::Method&)> ok;  // runs under the lock; queues user callbacks
  std::function<void(const Error&)> fail;
  ResultCallback<std::optional<Delivery>> get_done;  // basic.get: completed by get-ok's content
  bool sent = false;
};

// A message arriving as method, header and body frames.
struct Session::Incoming {
  enum Kind { None, Deliver, Return, GetOk } kind = None;
  std::unique_ptr<Delivery> delivery;  // Deliver, GetOk: its body fills as frames come
  Returned returned;
  ResultCallback<std::optional<Delivery>> get_done;
  uint64_t body_size = 0;
  bool have_header = false;
  Message& message() { return kind == Return ? returned.message : delivery->message; }
};

struct Consumer {
  ConsumeSpec spec;  // spec.tag: the tag the broker confirmed
  std::shared_ptr<DeliveryCallback> delivery;
  std::function<void()> cancelled;
};

struct Session::Channel {
  enum class State {
    Opening,  // channel.open (and, on recovery, its modes and consumers) in flight
    Open,     // calls and publishes go out
    Closing,  // channel.close sent by the application
    Closed,   // for good: kept until the application lets go of it
    Down,     // waiting for the next epoch to be reopened
  };
  uint16_t id = 0;
  State state = State::Down;
  bool internal = false;  // recovery's own channel
  bool released = false;  // the application let go: forget it once closed
  ChannelEvents events;
  DoneCallback opened;  // the first open only
  DoneCallback close_done;
  std::optional<Error> closed_by;
  bool confirm = false;
  bool tx = false;
  std::optional<uint16_t> prefetch;
  ConfirmTracker confirms;
  std::deque<Rpc> calls;
  Incoming in;
  std::map<std::string, Consumer> consumers;
};

template <class M>
void Session::send_method(uint16_t channel, const M& m) {
  amqp091::append_method_frame(out_, channel, m);
}

template <class M>
std::string Session::frame_of(const Channel& c, const M& m) {
  std::string f;
  if (!append_method_frame(f, c.id, m)) throw ClientError({0, std::string(M::kName) + ": a name longer than 255 octets"});
  return f;
}

}  // namespace warren::client
