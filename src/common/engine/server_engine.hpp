#pragma once
// What every server-side protocol engine (AMQP 0-9-1, AMQP 1.0) looks like
// to the I/O layer that drives it, and what the I/O layer offers back.
// Engines are sans-I/O: bytes and the time go in; bytes go out through a
// Transport; next_deadline() says when to call advance() again.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/time.hpp"

namespace warren::engine {

// Where a connection's bytes go. The I/O layer implements it over a socket.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void send(std::string_view bytes) = 0;
  // Queued by reference, not copied (message bodies).
  virtual void send_shared(std::shared_ptr<const std::string> bytes) = 0;
  // Bytes [offset, offset + length) of a shared body, by reference too (a
  // large body cut into frames). By default a copy, for transports that
  // only test.
  virtual void send_slice(const std::shared_ptr<const std::string>& bytes, size_t offset, size_t length) {
    send(std::string_view(*bytes).substr(offset, length));
  }
  virtual size_t pending_output() const = 0;
  // Asks for ServerEngine::output_drained() once pending output is written.
  virtual void want_drain() = 0;
  // Flush what was sent, then close.
  virtual void close() = 0;
  // Stop or resume reading from the peer (memory alarm).
  virtual void set_reading(bool on) = 0;
  // On a TLS connection whose client presented a certificate that was
  // verified against the configured CA: its subject's common name (the
  // only CN; none when it has several), for SASL EXTERNAL. Known before
  // the engine's first bytes (the handshake comes first) and constant
  // after. No TLS, or no verified certificate: nullopt.
  virtual std::optional<std::string_view> peer_cert_cn() const { return std::nullopt; }
};

// RabbitMQ's resource alarms: memory above its high watermark, free disk
// space below its limit. Publishers are blocked while any is on.
struct Alarms {
  bool memory = false;
  bool disk = false;
  bool any() const { return memory || disk; }
  bool operator==(const Alarms&) const = default;
};

// What an engine tells the management API about itself (src/mgmt), asked
// on the broker's thread: plain values, copied into a snapshot.
struct ConsumerInfo {
  std::string queue;  // in the connection's vhost
  std::string tag;    // 0-9-1 consumer tag; 1.0 link name
  bool ack_required = true;
  bool exclusive = false;
  uint32_t prefetch_count = 0;  // 0-9-1 prefetch; 1.0 link credit
};
struct ChannelInfo {
  uint32_t number = 0;                    // 0-9-1 channel; 1.0 session's channel
  uint32_t prefetch_count = 0;            // basic.qos per consumer
  uint32_t global_prefetch_count = 0;     // basic.qos global
  uint64_t messages_unacknowledged = 0;
  uint64_t messages_unconfirmed = 0;
  bool confirm = false;
  bool transactional = false;
  bool closing = false;
  std::vector<ConsumerInfo> consumers;
};
struct ConnectionInfo {
  std::string_view protocol;  // "AMQP 0-9-1", "AMQP 1.0"
  // RabbitMQ's connection states: starting, tuning, opening, running,
  // blocking (a publisher under an alarm), blocked, closing, closed.
  std::string_view state = "starting";
  std::string auth_mechanism;
  uint32_t frame_max = 0;
  uint32_t channel_max = 0;
  uint32_t timeout = 0;  // heartbeat (0-9-1) or idle time-out (1.0), seconds
  // The client's own description (0-9-1 client_properties: product,
  // version, platform, connection_name...; strings only).
  std::vector<std::pair<std::string, std::string>> client_properties;
  std::vector<ChannelInfo> channels;
};

class ServerEngine {
 public:
  virtual ~ServerEngine() = default;
  virtual void feed(std::span<const uint8_t> bytes, TimePoint now) = 0;
  virtual void advance(TimePoint now) = 0;
  virtual std::optional<TimePoint> next_deadline() const = 0;
  // The socket is gone: everything the connection held is released.
  virtual void transport_closed(TimePoint now) = 0;
  // What the transport was asked to signal: room for more output.
  virtual void output_drained(TimePoint now) = 0;
  // The broker's resource alarms changed (RabbitMQ's memory and disk
  // alarms): while any is on, publishers stop being read.
  virtual void resource_alarm(Alarms on) = 0;
  // An operator (or the deletion of its vhost) ends the connection: it is
  // closed with `text` (0-9-1: 320 CONNECTION_FORCED; 1.0:
  // amqp:connection:forced) and releases everything at once.
  virtual void close_forced(std::string_view text) = 0;
  // Who logged in and which vhost it opened ("" until then).
  virtual std::string_view user_name() const = 0;
  virtual std::string_view vhost_name() const = 0;
  // For the management API; by default only the protocol is unknown.
  virtual void describe(ConnectionInfo& out) const { (void)out; }
};

// Which engine the first bytes of a connection ask for.
enum class Protocol : uint8_t { Undecided, Amqp091, Amqp10 };

// AMQP 1.0 headers are "AMQP" 0 1 0 0 (plain), 3 1 0 0 (SASL) and 2 1 0 0
// (TLS: the server's listener starts TLS when it is configured; otherwise
// the 1.0 engine refuses it with a header it supports); anything
// else, including garbage, goes to the 0-9-1 engine, which answers a wrong
// header with its own and closes, as RabbitMQ does.
inline Protocol sniff_protocol(std::span<const uint8_t> first) {
  static constexpr uint8_t kAmqp[4] = {'A', 'M', 'Q', 'P'};
  for (size_t i = 0; i < first.size() && i < 4; ++i)
    if (first[i] != kAmqp[i]) return Protocol::Amqp091;
  if (first.size() < 6) return Protocol::Undecided;
  const uint8_t id = first[4], major = first[5];
  if ((id == 0 || id == 2 || id == 3) && major == 1) return Protocol::Amqp10;
  return Protocol::Amqp091;
}

}  // namespace warren::engine
