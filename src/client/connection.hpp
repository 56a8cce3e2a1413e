#pragma once
// The client's driver: a Session (the sans-I/O engine) behind a lock, and a
// thread that owns the socket. Application threads call the API, which runs
// the engine under the lock and wakes the I/O thread; the I/O thread writes
// what the engine produced (one write per turn), feeds it what arrives,
// runs its timers, reconnects when an established connection is lost, and
// runs ready callbacks with no lock held.
//
//   auto conn = warren::client::Connection::open("amqp://guest:guest@localhost:5672/");
//   auto ch = conn->channel();            // blocking: see client/blocking.hpp
//   ch->confirm_select(nullptr);
//   ch->publish({.exchange = "", .routing_key = "jobs", .body = "hi"},
//               [](warren::client::Outcome o) { /* on the I/O thread */ });
#include <memory>
#include <optional>
#include <string>

#include "client/session.hpp"
#include "client/uri.hpp"

namespace warren::client {

struct ConnectionOptions {
  Uri uri;
  SessionOptions session;  // user, password, vhost and the URI's parameters are filled in from uri
  ConnectionEvents events;
  milliseconds connect_timeout{5000};
};
ConnectionOptions options_from_uri(std::string_view uri);

class Channel;
class ConnectionCore;  // connection.cpp

class Connection {
 public:
  // Connects and opens the connection, waiting up to connect_timeout.
  // Throws ClientError when it cannot (refused, bad credentials, no vhost).
  static std::unique_ptr<Connection> open(ConnectionOptions opts);
  static std::unique_ptr<Connection> open(std::string_view uri) { return open(options_from_uri(uri)); }
  ~Connection();  // close(), then the I/O thread stops
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A new channel, open when this returns (blocking).
  std::shared_ptr<Channel> channel(ChannelEvents events = {});
  // The same, asynchronously: `done` gets the channel once it is open.
  void channel_async(ChannelEvents events, std::function<void(const std::optional<Error>&, std::shared_ptr<Channel>)> done);

  // Closes cleanly (connection.close, waits for close-ok up to 5 s).
  // Publishes still unconfirmed complete as Unknown.
  void close();
  // Waits until the connection is open (again, after a recovery). False on
  // timeout or when it is closed for good.
  bool wait_open(milliseconds timeout);
  bool is_open() const;
  uint64_t epoch() const;  // the current incarnation: 1, then +1 per recovery
  // The engine's negotiated frame_max and heartbeat (seconds).
  uint32_t frame_max() const;
  uint16_t heartbeat() const;
  // Cuts the transport as if the network failed (tests, and the prover's
  // fault injection without a proxy). Recovery follows, if enabled.
  void drop_transport_for_test();

 private:
  explicit Connection(std::shared_ptr<ConnectionCore> core) : core_(std::move(core)) {}
  std::shared_ptr<ConnectionCore> core_;
};

// A channel handle. Its calls are asynchronous: they queue the request and
// return; the callback runs on the I/O thread. Calls on a channel that is not
// open (closed, or waiting for the connection to recover) throw ClientError
// and send nothing. Destroying the handle closes the channel.
class Channel {
 public:
  Channel(std::shared_ptr<ConnectionCore> core, uint16_t id) : core_(std::move(core)), id_(id) {}
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  uint16_t id() const { return id_; }
  bool is_open() const;
  bool closed_for_good() const;  // by the broker or the application: recovery will not bring it back
  uint64_t epoch() const;
  // Confirm state, for the pool and tests.
  uint64_t next_publish_seq() const;
  bool confirm_mode() const;
  size_t pending_confirms() const;

  void confirm_select(DoneCallback done);
  void tx_select(DoneCallback done);
  void tx_commit(DoneCallback done);
  void tx_rollback(DoneCallback done);
  void qos(uint16_t prefetch_count, DoneCallback done);
  void exchange_declare(const ExchangeSpec& e, DoneCallback done, bool passive = false);
  void exchange_delete(const std::string& name, DoneCallback done, bool if_unused = false);
  void queue_declare(const QueueSpec& q, ResultCallback<QueueInfo> done, bool passive = false);
  void queue_delete(const std::string& name, ResultCallback<uint32_t> done, bool if_unused = false, bool if_empty = false);
  void queue_purge(const std::string& name, ResultCallback<uint32_t> done);
  void bind(const BindingSpec& b, DoneCallback done);
  void unbind(const BindingSpec& b, DoneCallback done);
  void consume(const ConsumeSpec& c, ConsumerEvents events, ResultCallback<std::string> done);
  void cancel(const std::string& tag, DoneCallback done);
  void get(const std::string& queue, bool no_ack, ResultCallback<std::optional<Delivery>> done);
  // In confirm mode `confirmed` completes exactly once (Outcome); otherwise
  // it is never called. Returns the publish's sequence number in this epoch
  // (0 outside confirm mode). Throws ClientError, having sent nothing,
  // unless the channel is open.
  uint64_t publish(const PublishSpec& p, ConfirmCallback confirmed = nullptr);
  // False (nothing sent) for a delivery of an earlier epoch: the broker has
  // already requeued it, and will deliver it again.
  bool ack(const Delivery& d, bool multiple = false);
  bool nack(const Delivery& d, bool multiple = false, bool requeue = true);
  bool reject(const Delivery& d, bool requeue = true);
  void close(DoneCallback done);

  ConnectionCore& core() const { return *core_; }

 private:
  std::shared_ptr<ConnectionCore> core_;
  uint16_t id_;
};

}  // namespace warren::client
