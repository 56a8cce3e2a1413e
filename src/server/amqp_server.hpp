#pragma once
// The AMQP listener of warrend: accepts TCP connections, reads the 8-byte
// protocol header to pick the engine (AMQP 0-9-1 or AMQP 1.0, on the same
// port), and pumps bytes and time between sockets and engines.
// Also drives the broker's own timers (TTL, x-expires). The broker and the
// engines run on one event loop, the main thread's; the sockets of busy
// 0-9-1 publishers are read and their frames cut on reader threads
// (SocketReader), when there are any (docs/architecture.md#threads).
// With TLS configured, a second listener serves AMQPS (both protocols,
// sniffed after the handshake), and AMQP 1.0's TLS header upgrades a
// connection on the plain port (net/tls.hpp does the TLS).
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "amqp091/connection.hpp"
#include "amqp10/connection.hpp"
#include "broker/broker.hpp"
#include "net/socket.hpp"
#include "net/deadline_timer.hpp"
#include "net/listener.hpp"
#include "net/tls.hpp"
#include "server/socket_reader.hpp"

namespace warren::server {

struct AmqpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 5672;
  amqp091::ServerOptions amqp091;
  amqp10::ServerOptions amqp10;  // its directory is amqp091's (one for both)
  uint64_t memory_high_watermark = 0;  // bytes of live messages; 0: 40% of RAM
  // Publishers are blocked while the file system of `data_dir` has fewer
  // free bytes than this (RabbitMQ's disk alarm). Empty dir: not watched.
  std::string data_dir;
  uint64_t disk_free_limit = 50'000'000;
  // Threads that read busy publishers' sockets and cut their frames beside
  // the broker's loop; 0: the loop reads every socket itself.
  unsigned reader_threads = 0;
  // AMQPS: a listener on tls_host:tls_port whose connections are TLS from
  // the first byte; also what AMQP 1.0's TLS header gets on the plain port.
  std::optional<net::TlsOptions> tls;
  std::string tls_host = "127.0.0.1";
  uint16_t tls_port = 5671;
};

// One connection as the management API shows it (src/mgmt), taken on the
// broker's thread.
struct ConnectionSummary {
  uint64_t id = 0;
  std::string name;  // RabbitMQ's: "127.0.0.1:54321 -> 127.0.0.1:5672"
  std::string peer_host, host;
  uint16_t peer_port = 0, port = 0;
  int64_t connected_at = 0;  // ms since the epoch
  uint64_t recv_oct = 0, send_oct = 0;
  bool ssl = false;  // TLS (AMQPS, or AMQP 1.0's TLS header)
  std::string user, vhost;
  engine::ConnectionInfo info;
};

class AmqpServer {
 public:
  // Binds and listens; throws std::system_error when the port is taken.
  AmqpServer(net::EventLoop& loop, broker::Broker& broker, AmqpServerOptions opts);
  ~AmqpServer();

  uint16_t port() const { return listener_->port(); }
  uint16_t tls_port() const { return tls_listener_ ? tls_listener_->port() : 0; }
  size_t connections() const { return conns_.size(); }
  // Closes every connection whose engine `which` picks with `text` (320
  // CONNECTION_FORCED); how many.
  size_t close_connections(const std::function<bool(const engine::ServerEngine&)>& which, std::string_view text);
  // For the management API: the resource alarms and their limits.
  engine::Alarms alarms() const { return alarms_; }
  uint64_t memory_high_watermark() const { return opts_.memory_high_watermark; }
  uint64_t disk_free_limit() const { return opts_.disk_free_limit; }
  const std::string& host() const { return opts_.host; }
  // A reload (SIGHUP): AMQPS connections accepted from now on, and AMQP
  // 1.0 TLS upgrades, use a context made from `tls`; those already up keep
  // the one they began with (each session holds its own reference to it).
  // Throws as TlsContext::server does (a file that does not load), keeping
  // the old context. False when AMQPS was not configured at start.
  bool replace_tls(const net::TlsOptions& tls);
  // A reload: the resource alarms' thresholds, checked from the next tick
  // (0.1 s). memory_high_watermark 0: 40% of RAM.
  void set_resource_limits(uint64_t memory_high_watermark, uint64_t disk_free_limit);
  // Every connection, for the management API.
  void describe_connections(std::vector<ConnectionSummary>& out) const;
  // Closes the connection of that summary's name with `text` (320
  // CONNECTION_FORCED); false when there is none.
  bool close_connection(std::string_view name, std::string_view text);

  class Conn;  // one accepted socket and its engine

 private:
  friend class Conn;
  void accept(int fd, bool tls);
  void remove(uint64_t id);
  void rearm_broker();
  void check_resources();
  void deliver(size_t reader, std::vector<ReadBatch>& batches);

  net::EventLoop& loop_;
  broker::Broker& broker_;
  AmqpServerOptions opts_;
  std::unique_ptr<net::Listener> listener_;
  std::shared_ptr<net::TlsContext> tls_;  // null: no TLS configured
  std::unique_ptr<net::Listener> tls_listener_;
  std::vector<std::unique_ptr<SocketReader>> readers_;  // before conns_: outlive them
  amqp091::FrameBatch cut_;  // a 0-9-1 read on this loop, cut (one at a time)
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
  uint64_t next_id_ = 1;
  net::DeadlineTimer broker_timer_;  // at broker_.next_deadline()
  net::TimerId resource_timer_ = 0;
  engine::Alarms alarms_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // for tasks posted to the loop
};

}  // namespace warren::server
