#pragma once
// The single-threaded driver: the owner's thread does the I/O in poll(),
// and callbacks run there (rabbitmq-c's model, where Connection is
// pika's). For programs that already run one loop per connection, or run
// thousands of connections (warren-perf): no thread, no lock. Not
// thread-safe: one thread owns it and its Session.
//
//   auto conn = PolledConnection::open(options_from_uri("amqp://localhost"));
//   uint16_t ch = conn->open_channel();
//   conn->call([&](DoneCallback cb) { conn->session().confirm_select(ch, cb); });
//   conn->session().publish(ch, {.routing_key = "q", .body = "hi"}, [](Outcome) {});
//   conn->poll(std::chrono::milliseconds(100));  // writes it, reads the ack, runs the callback
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "client/connection.hpp"
#include "client/output_queue.hpp"

namespace warren::client {

class PolledConnection {
 public:
  // Connects and opens, polling until open. Throws ClientError.
  static std::unique_ptr<PolledConnection> open(ConnectionOptions opts);
  ~PolledConnection();
  PolledConnection(const PolledConnection&) = delete;
  PolledConnection& operator=(const PolledConnection&) = delete;

  Session& session() { return session_; }

  // One turn: reconnect if the session wants to, write what is pending,
  // wait up to `timeout` for input (0: just look), feed it, run timers, run
  // ready callbacks.
  void poll(milliseconds timeout);
  // Polls until done() holds; false at the timeout.
  bool poll_until(const std::function<bool()>& done, milliseconds timeout);
  // Polls until everything pending is written (callbacks run meanwhile).
  void flush();
  size_t unsent() const { return out_.size() + session_.output_size(); }

  // Blocking conveniences over the session's calls: issue(callback), then
  // poll until the callback ran. Throw ClientError on an error or timeout.
  uint16_t open_channel(ChannelEvents events = {});
  void call(const std::function<void(DoneCallback)>& issue, milliseconds timeout = std::chrono::seconds(30));
  template <class T>
  T call_result(const std::function<void(ResultCallback<T>)>& issue, milliseconds timeout = std::chrono::seconds(30)) {
    std::optional<std::optional<Error>> err;
    T value{};
    issue([&](const std::optional<Error>& e, T&& v) {
      err = e;
      value = std::move(v);
    });
    if (!poll_until([&] { return err.has_value(); }, timeout)) throw ClientError({0, "no reply within the timeout"});
    if (*err) throw ClientError(**err);
    return value;
  }

  // connection.close, polling for close-ok up to 5 s.
  void close();
  // Closes the socket without connection.close, as a process that dies
  // would: the broker sees a dead peer. Ends the epoch (pending confirms
  // complete as Unknown at the next poll); with session.recover the session
  // then reconnects, otherwise it is closed for good.
  void drop_transport();

 private:
  explicit PolledConnection(ConnectionOptions opts);
  void cut(Error why);
  void write_some();
  void read_some();

  ConnectionOptions opts_;
  Session session_;
  int fd_ = -1;
  OutputQueue out_;
  std::vector<uint8_t> rbuf_;
  std::vector<ReadyItem> ready_;
  std::vector<std::unique_ptr<Delivery>> spent_;
};

}  // namespace warren::client
